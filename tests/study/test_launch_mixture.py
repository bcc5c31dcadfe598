"""mixture_sweep's protocol on the tiny data, for every reconstruction model: one arm tuned,
every arm confirmed with its configuration, per-slice metrics with the zero-filled reference."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from study.experiment_format import SLICE_METRICS_FILE, ZERO_FILLED_PREFIX

pytestmark = pytest.mark.slow

ARMS = ("pool", "single:knee_pd_3T")


@pytest.mark.parametrize("model", ["varnet", "vit"])
def test_tuned_on_the_pool_and_confirmed_per_arm(model, tmp_path, study_cache, launcher,
                                                 notebook_on):
    result = launcher("mixture_sweep", "--smoke", "--arms", *ARMS, "--config", f'model="{model}"',
                      "--storage", str(tmp_path), "--name", "mix", cache=study_cache)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    path = tmp_path / "mix"
    trials = pd.read_parquet(path / "trials.parquet")
    assert (trials["status"] == "TERMINATED").all()
    assert (trials["config/model"] == model).all()
    phases = trials.groupby(["arm", "phase"]).size().to_dict()
    assert phases == {("pool", "search"): 1, ("pool", "confirm"): 1,
                      ("single:knee_pd_3T", "confirm"): 1}
    search = trials[trials["phase"] == "search"].iloc[0]
    confirm = trials[trials["phase"] == "confirm"]
    # arms differ only by their data: the pool's tuned values, each arm's own mixture
    assert (confirm["config/lr"] == search["config/lr"]).all()
    assert set(confirm["config/mixture"]) == set(ARMS)
    assert not set(confirm["config/seed"]) & {search["config/seed"]}

    slices = pd.read_parquet(path / SLICE_METRICS_FILE)
    assert set(slices["trial_id"]) == set(confirm["trial_id"])
    metrics = set(slices["metric"])
    assert {"ssim", "psnr", "nmse"} <= metrics
    assert {f"{ZERO_FILLED_PREFIX}{m}" for m in ("ssim", "psnr", "nmse")} <= metrics
    clean = slices[(slices["shift"] == "none") & (slices["metric"] == "ssim")]
    info = json.loads((path / "study.json").read_text())
    assert set(clean["distribution"]) == set(info["distributions"])
    assert clean["value"].between(-1, 1).all()
    # one row per test slice and trial: the same slices for every arm (paired comparisons)
    per_trial = clean.groupby("trial_id")[["distribution", "volume", "slice"]].apply(
        lambda f: frozenset(map(tuple, f.to_numpy())))
    assert per_trial.nunique() == 1
    # the ID/OOD curves: every clean test set is scored at every epoch of every trial
    curves = pd.read_parquet(path / "metrics.parquet")
    ssim = curves[(curves["metric"] == "ssim") & (curves["shift"] == "none")
                  & ~curves["eval_set"].str.startswith("val")]
    epochs = ssim.groupby(["trial_id", "eval_set"])["iteration"].nunique()
    assert (epochs >= info["max_epochs"]).all()
    if model == "varnet":  # the mixtures notebook, top to bottom, on the experiment (once)
        notebook, images = notebook_on("mixtures.ipynb", path, study_cache)
        drawing = [c for c in notebook.cells if "figure" in c.metadata.get("tags", [])]
        assert drawing and images >= len(drawing)
