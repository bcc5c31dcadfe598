"""The report: every figure written and linked, skipped analyses noted, robust edges, CLI."""

from __future__ import annotations

import contextlib
import io
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from analysis_fixtures import ARMS, diagnosis_tables, write_diagnosis_study_json

from analysis.report import build_report, main, markdown_table
from analysis.stats import BootstrapSettings

FAST = BootstrapSettings(n_resamples=300)
TABLE_FIGURES = {"effective_robustness", "id_ood_vs_epoch"}  # from the metrics table
ANSWER_FIGURES = {"validity", "headline", "ood_gap_by_arm", "gap_vs_severity"}
DIAGNOSIS_FIGURES = TABLE_FIGURES | ANSWER_FIGURES
RECON_FIGURES = TABLE_FIGURES | {"validity", "headline", "ssim_by_arm", "pathology_lesion_ssim",
                                 "similarity_vs_ood"}


def linked_images(index: Path) -> set[str]:
    """Figure stems that index.html shows."""
    return set(re.findall(r"<img src='figures/([a-z_]+)\.png'", index.read_text()))


def check_written(index: Path, expected: set[str]) -> str:
    """Every expected figure exists, is a PNG, and is linked; every linked table exists."""
    out = index.parent
    written = {p.stem for p in (out / "figures").glob("*.png")}
    assert written == expected and linked_images(index) == expected
    for stem in expected:
        assert (out / "figures" / f"{stem}.png").read_bytes()[:4] == b"\x89PNG"
    html = index.read_text()
    for name in re.findall(r"href='tables/([a-z_]+)\.csv'", html):
        assert (out / "tables" / f"{name}.csv").is_file()
        assert (out / "tables" / f"{name}.md").is_file()
    return html


@pytest.fixture(scope="module")
def diagnosis_report(diagnosis_dir, tmp_path_factory) -> tuple[Path, str]:
    """The constructed normalization study's report, made through the command line."""
    out = tmp_path_factory.mktemp("cli") / "report"
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        code = main([str(diagnosis_dir), "--out", str(out), "--n-resamples", "300", "--strict"])
    assert code == 0
    return out / "index.html", printed.getvalue()


def test_command_line_prints_where_the_report_is(diagnosis_report, tmp_path, capsys):
    index, printed = diagnosis_report
    assert f"report: {index.resolve()}" in printed
    assert main([str(tmp_path / "missing")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_diagnosis_report(diagnosis_report, tmp_path):
    index, _ = diagnosis_report
    html = check_written(index, DIAGNOSIS_FIGURES)
    assert html.index("Can this study answer its question?") < html.index("Headline")
    assert "batch - group, ood gap over all targets" in html
    assert "every arm of this study trains on the same data" in html
    assert "errored: NonFiniteLossError" in html and "stopped early by ASHA" in html
    tables = index.parent / "tables"
    validity = pd.read_csv(tables / "validity.csv")
    assert {"group", "id_score", "reference", "converged", "interpretable"} <= set(validity)
    assert set(validity["group"]) == {"batch", "group", "layer"}
    assert (validity["reference"] == 0.5).all()
    headline = pd.read_csv(tables / "headline.csv")
    assert list(headline.columns) == ["comparison", "quantity", "target", "estimate", "ci_low",
                                      "ci_high", "n_seeds", "n_volumes"]
    assert set(headline["comparison"]) == {"batch - group", "batch - layer"}
    assert set(headline["target"]) == {"noise", "motion", "knee_pd_1.5T", "all"}
    # the constructed batch arm loses 5x group's signal under a shift: resolved
    row = headline[(headline["comparison"] == "batch - group") & (headline["target"] == "motion")]
    assert row["ci_low"].iloc[0] > 0
    assert (headline["n_volumes"] == 10).all() and set(headline["n_seeds"]) == {2}


def test_mixture_report_names_the_encoder(recon_dir, tmp_path):
    index = build_report(recon_dir, tmp_path / "report", settings=FAST, strict=True)
    html = check_written(index, RECON_FIGURES)
    assert "weight-free: 16x16 downsampled image" in html
    assert "mixtures - separate, ssim (in-mixture targets)" in html
    assert "over confirm seeds and test volumes, Pearson r" in html
    pairs = pd.read_csv(tmp_path / "report" / "tables" / "similarity_pairs.csv")
    assert len(pairs) == 20


@pytest.mark.slow
def test_mixture_report_without_data_skips_similarity(recon_dir, tmp_path):
    copy = tmp_path / "exp"
    copy.mkdir()
    for name in ("trials.parquet", "metrics.parquet", "slice_metrics.parquet"):
        (copy / name).write_bytes((recon_dir / name).read_bytes())
    info = json.loads((recon_dir / "study.json").read_text())
    info["data_dir"] = str(tmp_path / "gone")
    (copy / "study.json").write_text(json.dumps(info))
    index = build_report(copy, settings=FAST, strict=True)
    assert index == copy / "report" / "index.html"
    check_written(index, RECON_FIGURES - {"similarity_vs_ood"})
    assert "data directory not available" in index.read_text()


def test_report_survives_nan_values_single_trials_and_failures(tmp_path):
    trials, metrics = diagnosis_tables()
    # NaN metrics (an AUROC undefined on a one-class set), one arm down to a single trial,
    # and an arm whose only trial errored before reporting anything
    metrics.loc[metrics.index % 7 == 0, "value"] = np.nan
    keep = ~metrics["trial_id"].isin(["layer_1"])
    metrics = metrics[keep]
    trials = trials[trials["trial_id"] != "layer_1"]
    trials = pd.concat([trials, pd.DataFrame([{
        "trial_id": "none_0", "status": "ERROR", "error": "RuntimeError: boom",
        "iterations": 0, "config/norm_arm": "none"}])], ignore_index=True)
    path = tmp_path / "exp"
    path.mkdir()
    trials.to_parquet(path / "trials.parquet", index=False)
    metrics.to_parquet(path / "metrics.parquet", index=False)
    write_diagnosis_study_json(path, arms=(*ARMS, "none"))
    index = build_report(path, settings=FAST, strict=True)
    html = check_written(index, TABLE_FIGURES)  # no predictions: no confirm-trial answer
    assert "RuntimeError: boom" in html and "none (1)" in html
    assert "no confirm trial finished" in html


def test_report_of_a_study_where_every_trial_failed(tmp_path):
    trials = pd.DataFrame({"trial_id": ["a", "b"], "status": "ERROR", "error": "x",
                           "config/norm_arm": ["batch", "group"], "best/val_auroc": np.nan})
    path = tmp_path / "exp"
    path.mkdir()
    trials.to_parquet(path / "trials.parquet", index=False)
    pd.DataFrame(columns=["trial_id", "iteration", "eval_set", "shift", "severity", "metric",
                          "value", "in_distribution"]).to_parquet(path / "metrics.parquet")
    write_diagnosis_study_json(path)
    index = build_report(path, settings=FAST, strict=True)
    html = check_written(index, set())
    assert "The study cannot answer its question yet" in html


def test_markdown_table():
    text = markdown_table(pd.DataFrame({"a": [1.23456789, np.nan], "b": ["x|y", "z"]}))
    assert text.splitlines() == ["| a | b |", "|---|---|", "| 1.235 | x\\|y |", "|  | z |"]
