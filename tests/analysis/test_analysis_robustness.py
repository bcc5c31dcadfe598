"""Effective robustness, distributional overfitting, joint versus separate, pathology."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis.answer import answer
from analysis.experiment import Experiment, load_experiment
from analysis.mixtures import mixture_kind, pathology, trained_distributions
from analysis.robustness import (
    effective_robustness,
    fit_baseline,
    over_epochs,
    overfitting_table,
    training_curves,
)
from analysis.stats import BootstrapSettings, expit, logit
from analysis.study_settings import StudyInfo
from analysis.tables import normalise_metrics, normalise_trials

FAST = BootstrapSettings(n_resamples=500)


def id_ood_experiment(points: dict[str, list[tuple[float, float]]]) -> Experiment:
    """One trial per (ID, OOD) point, grouped by the dict's keys."""
    rows, trials = [], []
    for group, pairs in points.items():
        for k, (idv, ood) in enumerate(pairs):
            trial = f"{group}{k}"
            for eval_set, value, inside in (("d", idv, True), ("e", ood, False)):
                rows.append(dict(trial_id=trial, iteration=1, eval_set=eval_set, shift="none",
                                 severity=0, metric="auroc", value=value,
                                 in_distribution=inside))
            trials.append({"trial_id": trial, "best_iteration": 1, "config/norm_arm": group,
                           "best/val_auroc": idv})
    return Experiment(Path("er"), normalise_trials(pd.DataFrame(trials)),
                      normalise_metrics(pd.DataFrame(rows)),
                      StudyInfo("er", "diagnosis", "val_auroc"), group_by=("config/norm_arm",))


def on_line(idv: float, shift: float = 0.0) -> float:
    """A point on logit(OOD) = -0.5 + 1.2 logit(ID), moved by ``shift`` in logit units."""
    return float(expit(-0.5 + 1.2 * logit(idv) + shift))


def test_baseline_recovers_a_logit_linear_trend():
    idv = np.array([0.6, 0.7, 0.8, 0.9])
    fit = fit_baseline(idv, [on_line(v) for v in idv], "auroc")
    assert fit.transform == "logit"
    assert fit.slope == pytest.approx(1.2) and fit.intercept == pytest.approx(-0.5)
    assert fit.predict(0.75) == pytest.approx(on_line(0.75))
    assert fit_baseline([0.6, 0.7], [0.5, 0.6], "auroc") is None
    assert fit_baseline([20, 25, 30], [18, 22, 26], "psnr").transform == "identity"


def test_effective_robustness_is_the_residual_above_the_baseline():
    exp = id_ood_experiment({
        "on": [(v, on_line(v)) for v in (0.6, 0.7, 0.8, 0.9)],
        "above": [(v, on_line(v, 0.3)) for v in (0.65, 0.85)],
        "below": [(v, on_line(v, -0.3)) for v in (0.65, 0.85)],
    })
    er = effective_robustness(exp, settings=FAST)
    per_group = er.per_group.set_index("group")["mean"]
    assert per_group["above"] > 0 > per_group["below"]
    assert abs(per_group["on"]) < 0.01
    # symmetric offsets at the same ID values leave the fitted line on the trend
    assert er.baseline.slope == pytest.approx(1.2, abs=1e-6)
    trial = er.per_trial.set_index("trial_id").loc["above0"]
    assert trial["effective_robustness"] == pytest.approx(on_line(0.65, 0.3) - on_line(0.65))


def test_effective_robustness_without_enough_trials_says_so():
    er = effective_robustness(id_ood_experiment({"a": [(0.8, 0.7)], "b": [(0.7, 0.6)]}))
    assert er.baseline is None and "no baseline" in er.note
    assert er.per_trial["effective_robustness"].isna().all()


def test_overfitting_peaks_and_drop(recon_dir):
    exp = load_experiment(recon_dir)
    table = overfitting_table(training_curves(exp), "ssim").set_index("trial_id")
    assert (table["id_peak_iteration"] == 4).all()
    assert (table["ood_peak_iteration"] == 2).all()
    # constructed OOD SSIM: +0.02 per epoch to epoch 2, then -0.015 per epoch to epoch 4
    assert np.allclose(table["ood_drop"], 0.03)
    assert table["ood_peaks_first"].all()


def test_overfitting_needs_id_and_ood_values_at_two_epochs_or_more(recon_dir):
    """A study that scores its test sets once (norm_sweep's confirm trials, at their best
    epoch) has no order of peaks to report, not a lead of 0 epochs."""
    curves = training_curves(load_experiment(recon_dir))
    once = curves[curves["iteration"] == 3]
    assert len(once) and over_epochs(once).empty
    assert overfitting_table(once, "ssim").empty
    assert over_epochs(curves).equals(curves)


def test_mixture_kinds_and_trained_distributions(recon_dir):
    assert mixture_kind("single:a") == "single" and mixture_kind("healthy:joint:a+b") == (
        "healthy:joint")
    trained = trained_distributions(load_experiment(recon_dir))
    assert trained["single_knee_pd_3T_0"] == {"knee_pd_3T"}
    assert trained["joint_knee_pd_3T_brain_t2_3T_1"] == {"knee_pd_3T", "brain_t2_3T"}


def test_joint_versus_separate_from_the_confirm_trials(recon_dir):
    exp = load_experiment(recon_dir)
    ans = answer(exp, FAST)
    assert ans.design == "mixtures" and ans.references["knee_pd_3T"] == pytest.approx(
        0.55, abs=0.02)
    head = ans.headline.set_index(["comparison", "target"])
    joint = "joint:knee_pd_3T+brain_t2_3T"
    inside = head.loc[(f"{joint} - single:knee_pd_3T", "knee_pd_3T")]
    # constructed: the joint model is 0.01 below the specialist on its own distribution
    assert inside["estimate"] == pytest.approx(-0.01, abs=0.004) and inside["ci_high"] < 0
    assert bool(inside["in_mixture"])
    outside = head.loc[(f"{joint} - single:knee_pd_3T", "knee_pd_1.5T")]  # best specialist
    assert outside["ci_low"] < 0 < outside["ci_high"] and not outside["in_mixture"]
    assert {"in-mixture", "out-of-mixture"} <= set(ans.headline["target"])
    validity = ans.validity.set_index("group")
    assert (validity["reference"] < validity["id_score"] - 0.1).all()


def test_pathology_difference(recon_dir):
    table = pathology(load_experiment(recon_dir), settings=FAST).table
    row = table[table["target"] == "knee_pd_3T"].iloc[0]
    assert row["with_findings"] == pytest.approx(0.8675)
    assert row["healthy_only"] == pytest.approx(0.82)
    assert row["difference"] == pytest.approx(0.0475)
    assert row["n_with"] == 2 and row["n_healthy"] == 1 and math.isnan(row["ci_low"])


def test_the_separate_model_in_and_out_of_the_mixture():
    from analysis.mixture_answer import separate_arm

    arms = ["single:a", "single:b", "joint:a+c"]
    # in the mixture: the target's own specialist
    assert separate_arm("a", ("a", "c"), arms, None, None) == "single:a"
    # out of the mixture: a specialist of one of the mixture's own distributions, which never
    # saw the target either; not single:b, which trained on it
    assert separate_arm("b", ("a", "c"), arms, None, None) == "single:a"
    # no specialist of the mixture's parts: any single arm that did not train on the target
    assert separate_arm("b", ("c", "d"), arms, None, None) == "single:a"
    assert separate_arm("b", ("c",), ["single:b", "joint:c+d"], None, None) is None
