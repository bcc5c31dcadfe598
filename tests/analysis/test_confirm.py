"""The confirm-trial answer: scores from per-sample rows, OOD gaps, paired comparisons and
the validity checks, on constructed predictions with known properties."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.confirm import (
    ALL,
    arm_table,
    comparisons,
    confirm_scores,
    gap_targets,
    id_scores,
)
from analysis.validity import convergence, last_improvement, validity_table, verdict
from mri.metrics import diagnosis_score, finding_aurocs
from study.experiment_format import TASKS

TASK = TASKS["diagnosis"]
TRAIN = ["knee_a_3T", "brain_b_3T"]
FINDINGS = {"knee_a_3T": "acl", "brain_b_3T": "mass", "knee_c_1.5T": "acl"}


def _rows(trial, dist, shift, severity, labels, scores, volumes):
    n = len(labels)
    frame = pd.DataFrame({"trial_id": trial, "eval_set": dist, "distribution": dist,
                          "shift": shift, "severity": severity, "volume": volumes,
                          "slice": np.arange(n) % 4, "finding": FINDINGS[dist],
                          "label": labels, "score": scores})
    anything = frame.assign(finding="any", score=scores * 0.5)  # never part of the score
    return [frame, anything]


def constructed(seeds=3, volumes=12):
    """Two arms; ``group`` scores every shifted slice exactly as the clean one (gap 0),
    ``batch`` loses signal under the shift; both equal on the other distribution."""
    rng = np.random.default_rng(0)
    frames, trials = [], []
    for arm in ("batch", "group"):
        for k in range(seeds):
            trial = f"{arm}{k}"
            trials.append({"trial_id": trial, "phase": "confirm", "arm": arm,
                           "status": "TERMINATED"})
            for dist in FINDINGS:
                vols = np.repeat([f"{dist}-v{i}" for i in range(volumes)], 4)
                labels = (rng.random(len(vols)) < 0.4).astype(int)
                clean = labels + rng.normal(0, 0.7, len(vols))
                frames += _rows(trial, dist, "none", 0, labels, clean, vols)
                if dist in TRAIN:
                    for sev in (1, 2):
                        shifted = clean if arm == "group" else (
                            0.2 * labels + rng.normal(0, 0.7, len(vols)))
                        frames += _rows(trial, dist, "noise", sev, labels, shifted, vols)
    trials.append({"trial_id": "s0", "phase": "search", "arm": "batch", "status": "TERMINATED"})
    return pd.DataFrame(trials), pd.concat(frames, ignore_index=True)


@pytest.fixture(scope="module")
def scores():
    trials, samples = constructed()
    return confirm_scores(TASK, trials, samples, n_boot=400, seed=1)


def test_observed_scores_are_the_diagnosis_score_of_each_set(scores):
    _, samples = constructed()
    row = scores.sets[(scores.sets["trial_id"] == "batch1") & (scores.sets["shift"] == "none")
                      & (scores.sets["distribution"] == "knee_a_3T")].index[0]
    part = samples[(samples["trial_id"] == "batch1") & (samples["shift"] == "none")
                   & (samples["distribution"] == "knee_a_3T") & (samples["finding"] == "acl")]
    direct = diagnosis_score(finding_aurocs(part[["label"]].to_numpy(),
                                            part[["score"]].to_numpy(), ["acl"]))
    assert scores.values[row, 0] == pytest.approx(direct)
    assert set(scores.sets["trial_id"]) == {f"{a}{k}" for a in ("batch", "group")
                                            for k in range(3)}  # search trials left out


def test_paired_gaps_are_exact_where_the_shift_changes_nothing(scores):
    targets, cells = gap_targets(scores, TRAIN)
    assert set(targets) == {"noise", "knee_c_1.5T", ALL}
    assert set(cells) == {"noise@1", "noise@2"}
    for trial in ("group0", "group1", "group2"):
        np.testing.assert_allclose(targets["noise"][trial], 0.0, atol=1e-12)  # every replicate
    table = arm_table(scores, "ood_gap", targets, TRAIN)
    group = table[(table["arm"] == "group") & (table["target"] == "noise")].iloc[0]
    assert group["estimate"] == group["ci_low"] == group["ci_high"] == pytest.approx(0.0)
    batch = table[(table["arm"] == "batch") & (table["target"] == "noise")].iloc[0]
    assert batch["ci_low"] > 0.1
    assert (table["n_seeds"] == 3).all() and (table["n_volumes"] == 12).all()


def test_comparisons_resolve_the_constructed_difference(scores):
    targets, _ = gap_targets(scores, TRAIN)
    head = comparisons(scores, "ood_gap", targets, [("batch", "group")], TRAIN)
    noise = head[head["target"] == "noise"].iloc[0]
    assert noise["comparison"] == "batch - group" and noise["ci_low"] > 0.1
    other = head[head["target"] == "knee_c_1.5T"].iloc[0]
    assert other["ci_low"] < other["estimate"] < other["ci_high"]  # no built-in difference
    overall = head[head["target"] == ALL].iloc[0]
    assert overall["estimate"] == pytest.approx(
        (noise["estimate"] + other["estimate"]) / 2)


def test_validity_marks_weak_arms_and_unconverged_trials(scores):
    ids = arm_table(scores, "id_score", {ALL: id_scores(scores, TRAIN)}, TRAIN)
    assert (ids["estimate"] > 0.75).all()
    metrics = pd.DataFrame([
        {"trial_id": t, "iteration": i + 1, "eval_set": "val", "metric": "val_auroc",
         "value": v}
        for t, curve in {"batch0": [0.6, 0.8, 0.85, 0.85, 0.851, 0.852],
                         "group0": [0.6, 0.7, 0.75, 0.8, 0.85, 0.9]}.items()
        for i, v in enumerate(curve)])
    trials = pd.DataFrame({"trial_id": ["batch0", "group0"], "phase": "confirm",
                           "arm": ["batch", "group"]})
    conv = convergence(trials, metrics, TASK)
    assert conv.set_index("trial_id")["converged"].to_dict() == {"batch0": True,
                                                                  "group0": False}
    table = validity_table(ids, conv, {"batch": 0.5, "group": 0.5}, TASK)
    assert table.set_index("group")["converged"].to_dict() == {"batch": True, "group": False}
    assert table["interpretable"].all()
    sentence = verdict(table, pd.DataFrame(columns=["target", "ci_low", "ci_high"]), TASK)
    assert sentence.startswith("The study cannot fully answer") and "group" in sentence
    weak = table.assign(id_score=[0.6, 0.9], interpretable=[False, True], converged=True)
    assert "batch (0.600)" in verdict(weak, pd.DataFrame(columns=["target"]), TASK)


def test_last_improvement_needs_more_epochs_than_the_window():
    assert np.isnan(last_improvement(np.array([0.5, 0.6, 0.7])))
    assert last_improvement(np.array([0.5, 0.8, 0.7, 0.75, 0.79])) == pytest.approx(-0.01)
