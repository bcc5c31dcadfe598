"""OOD gaps on constructed tables: exact values, intervals, best configuration, loading."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from analysis_fixtures import (
    ARMS,
    DIST_DROP,
    DROP,
    FACTOR,
    SEVERITIES,
    dist_gap,
    id_auroc,
    shift_gap,
    write_diagnosis_experiment,
)

from analysis.experiment import Experiment, load_experiment
from analysis.gaps import (
    ALL_TRIALS,
    BEST_CONFIG,
    id_reference,
    ood_gaps,
    severity_curves,
    summarize_gaps,
    trial_gaps,
)
from analysis.stats import BootstrapSettings
from analysis.study_settings import StudyInfo
from analysis.tables import normalise_metrics, normalise_trials
from analysis.trials import best_trials, evaluation_iterations, status_counts, trial_overview

FAST = BootstrapSettings(n_resamples=500)


def _row(trial, it, eval_set, shift, sev, value, in_dist, metric="auroc"):
    return dict(trial_id=trial, iteration=it, eval_set=eval_set, shift=shift, severity=sev,
                metric=metric, value=value, in_distribution=in_dist)


def small_experiment() -> Experiment:
    """Two trials of arm 'a', one of arm 'b'; values chosen so every gap is known."""
    rows = []
    table = {"t1": (0.9, 0.7, 0.6), "t2": (0.8, 0.7, 0.4), "t3": (0.7, 0.65, 0.7)}
    for trial, (idv, noisy, other) in table.items():
        for it, shift_by in ((1, 0.0), (2, 0.05)):  # iteration 2 = final: 0.05 lower OOD
            rows += [
                _row(trial, it, "val", "none", 0, idv, True),
                _row(trial, it, "d", "none", 0, idv, True),
                _row(trial, it, "d", "noise", 1, noisy - shift_by, True),
                _row(trial, it, "e", "none", 0, other - shift_by, False),
            ]
    trials = pd.DataFrame({
        "trial_id": ["t1", "t2", "t3"], "status": "TERMINATED", "iterations": 2,
        "best_iteration": [1, 1, 1], "config/norm_arm": ["a", "a", "b"],
        "best/val_auroc": [0.9, 0.8, 0.7],
    })
    return Experiment(Path("small"), normalise_trials(trials),
                      normalise_metrics(pd.DataFrame(rows)),
                      StudyInfo("small", "diagnosis", "val_auroc"), group_by=("config/norm_arm",))


def test_gaps_per_trial_are_exact():
    gaps = trial_gaps(small_experiment(), "best").set_index(["trial_id", "condition"])
    assert gaps.loc[("t1", "noise"), "gap"] == pytest.approx(0.2)
    assert gaps.loc[("t1", "distribution"), "gap"] == pytest.approx(0.3)
    assert gaps.loc[("t2", "distribution"), "gap"] == pytest.approx(0.4)
    assert gaps.loc[("t3", "distribution"), "gap"] == pytest.approx(0.0)
    assert (gaps["id_source"] == "test").all() and (gaps["iteration"] == 1).all()
    final = trial_gaps(small_experiment(), "final").set_index(["trial_id", "condition"])
    assert final.loc[("t1", "noise"), "gap"] == pytest.approx(0.25)
    assert (final["iteration"] == 2).all()


def test_group_summary_and_best_configuration():
    exp = small_experiment()
    summary = summarize_gaps(exp, trial_gaps(exp), ("condition",), FAST)
    a = summary[(summary["group"] == "a") & (summary["condition"] == "distribution")]
    everything = a[a["selection"] == ALL_TRIALS].iloc[0]
    assert everything["mean"] == pytest.approx(0.35) and everything["n"] == 2
    assert everything["ci_low"] <= 0.35 <= everything["ci_high"]
    best = a[a["selection"] == BEST_CONFIG].iloc[0]
    assert best["trial_id"] == "t1" and best["mean"] == pytest.approx(0.3)
    assert math.isnan(best["ci_low"])
    b = summary[(summary["group"] == "b") & (summary["selection"] == ALL_TRIALS)]
    assert (b["n"] == 1).all() and b["ci_low"].isna().all() and b["note"].str.contains(
        "single value").all()
    overall = summarize_gaps(exp, trial_gaps(exp), (), FAST).set_index(["group", "selection"])
    # per trial: mean of its noise and distribution gaps; then the mean over trials
    expected = ((0.2 + 0.3) / 2 + (0.1 + 0.4) / 2) / 2
    assert overall.loc[("a", ALL_TRIALS), "mean"] == pytest.approx(expected)


def test_lower_is_better_metrics_flip_the_sign():
    rows = pd.DataFrame([_row("t", 1, "d", "none", 0, 0.1, True, "nmse"),
                         _row("t", 1, "e", "none", 0, 0.3, False, "nmse")])
    gaps = ood_gaps(normalise_metrics(rows), "nmse")
    assert gaps["gap"].iloc[0] == pytest.approx(0.2)  # worse OOD -> positive gap


def test_id_reference_falls_back_to_validation_sets():
    rows = pd.DataFrame([_row("t", 1, "val_d", "none", 0, 0.8, True, "ssim"),
                         _row("t", 1, "val_f", "none", 0, 0.6, True, "ssim"),
                         _row("t", 1, "e", "none", 0, 0.5, False, "ssim")])
    ref = id_reference(normalise_metrics(rows), "ssim").iloc[0]
    assert ref["id_value"] == pytest.approx(0.7) and ref["id_source"] == "val"


def test_constructed_study_gaps_match_the_formulas(diagnosis_dir):
    exp = load_experiment(diagnosis_dir)
    gaps = trial_gaps(exp, "best")
    summary = summarize_gaps(exp, gaps, ("condition", "severity"), FAST)
    summary = summary[summary["selection"] == ALL_TRIALS].set_index(
        ["group", "condition", "severity"])
    for arm in ARMS:
        for shift in FACTOR:
            for sev in SEVERITIES:
                expected = np.mean([shift_gap(arm, j, shift, sev) for j in range(2)])
                assert summary.loc[(arm, shift, sev), "mean"] == pytest.approx(expected)
        expected = np.mean([dist_gap(arm, j) for j in range(2)])
        assert summary.loc[(arm, "distribution", 0), "mean"] == pytest.approx(expected)
    # the ordering the constructed data builds in: batch loses most, group least
    overall = summarize_gaps(exp, gaps, (), FAST)
    overall = overall[overall["selection"] == ALL_TRIALS].set_index("group")["mean"]
    assert overall["batch"] > overall["layer"] > overall["group"]
    # the errored trial has no rows and does not count; n is 2 per arm
    assert set(gaps["trial_id"]) == {f"{a}_{j}" for a in ARMS for j in range(2)}
    assert DROP and DIST_DROP  # formulas imported from the fixture module


def test_severity_curves_start_at_the_clean_value(diagnosis_dir):
    exp = load_experiment(diagnosis_dir)
    curves = severity_curves(exp, "best").set_index(["trial_id", "shift", "severity"])["value"]
    assert curves[("batch_0", "noise", 0)] == pytest.approx(id_auroc("batch", 0, 4))
    assert curves[("batch_0", "motion", 2)] == pytest.approx(
        id_auroc("batch", 0, 4) - shift_gap("batch", 0, "motion", 2))
    # the trial stopped early is evaluated at its own best iteration
    assert curves[("layer_1", "noise", 0)] == pytest.approx(id_auroc("layer", 1, 2))


def test_loading_keeps_failed_and_stopped_trials(diagnosis_dir):
    exp = load_experiment(diagnosis_dir)
    assert exp.task == "diagnosis" and exp.main_metric == "auroc"
    assert exp.group_by == ("config/norm_arm",) and exp.info.study == "constructed_norm"
    overview = trial_overview(exp).set_index("trial_id")
    assert overview.loc["group_err", "note"].startswith("errored: NonFiniteLossError")
    assert overview.loc["layer_1", "note"] == "stopped early by ASHA after 2 iterations"
    assert overview.loc["batch_0", "note"] == "finished"
    counts = status_counts(exp).set_index("group")
    assert counts.loc["group", "trials"] == 3 and counts.loc["group", "ERROR"] == 1
    assert counts.loc["group", "no_results"] == 1 and counts.loc["layer", "stopped_early"] == 1
    best = best_trials(exp).set_index("group")["trial_id"]
    assert best.to_dict() == {"batch": "batch_1", "group": "group_1", "layer": "layer_0"}
    assert "group_err" not in evaluation_iterations(exp, "best").index


def test_without_study_json_nothing_is_guessed(tmp_path):
    path = write_diagnosis_experiment(tmp_path / "e", with_study_json=False)
    with pytest.raises(FileNotFoundError, match="study.json is missing.*'task'"):
        load_experiment(path)
    (path / "study.json").write_text(json.dumps({"task": "detection"}))
    with pytest.raises(ValueError, match="task 'detection' is not one of"):
        load_experiment(path)
    # the task alone is enough: the objective is the task's
    (path / "study.json").write_text(json.dumps({"task": "diagnosis"}))
    exp = load_experiment(path)
    assert exp.info.metric == "val_auroc" and exp.group_by == ("config/norm_arm",)


def test_missing_directory_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_experiment(tmp_path / "nope")
    (tmp_path / "study.json").write_text(json.dumps({"task": "diagnosis"}))
    with pytest.raises(FileNotFoundError, match="experiment_state"):
        load_experiment(tmp_path)
