"""The hierarchical bootstrap: weighted AUROC, resampling, and coverage on a known case."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from analysis.bootstrap import (
    interval,
    make_resampling,
    weighted_auroc,
    weighted_mean,
)


def test_weighted_auroc_matches_sklearn_with_ties_and_weights():
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 2, 60)
    scores = np.round(rng.random(60) + 0.3 * labels, 1)  # rounding makes ties
    weights = rng.integers(0, 4, (5, 60)).astype(float)
    got = weighted_auroc(labels, scores, np.vstack([np.ones(60), weights]))
    assert got[0] == pytest.approx(roc_auc_score(labels, scores))
    for row, w in zip(got[1:], weights, strict=True):
        assert row == pytest.approx(roc_auc_score(labels, scores, sample_weight=w))


def test_weighted_auroc_is_nan_without_a_weighted_class():
    labels, scores = np.array([0, 1, 0, 1]), np.array([0.1, 0.9, 0.2, 0.8])
    assert np.isnan(weighted_auroc(labels, scores, np.array([[1.0, 0, 1, 0]])))[0]


def test_replicate_zero_is_the_data_as_observed():
    res = make_resampling({"d": ["v1", "v2", "v3"]}, {"a": ["t1", "t2"]}, n_boot=50, seed=3)
    assert res.replicates == 51
    np.testing.assert_array_equal(res.volume_weights["d"][0], [1, 1, 1])
    np.testing.assert_array_equal(res.seed_picks["a"][0], [0, 1])
    assert (res.volume_weights["d"][1:].sum(axis=1) == 3).all()  # each draw keeps n volumes
    w = res.slice_weights("d", ["v3", "v3", "v1"])
    np.testing.assert_array_equal(w[:, 0], res.volume_weights["d"][:, 2])
    values = {"t1": np.full(51, 1.0), "t2": np.full(51, 3.0)}
    mean = res.arm_mean("a", values)
    assert mean[0] == 2.0 and set(np.unique(mean)) <= {1.0, 2.0, 3.0}


def _simulated_difference(rng, n_boot, seeds=8, volumes=30, slices=5, delta=0.05):
    """Per-slice values of two arms on the same volumes: arm effect + seed effect + volume
    effect shared by both arms + arm-by-volume interaction + slice noise; returns the interval
    of the arm difference (true value ``delta``)."""
    vol = rng.normal(0, 0.08, volumes)
    ids = [f"v{i}" for i in range(volumes)]
    trials = {"a": [f"a{i}" for i in range(seeds)], "b": [f"b{i}" for i in range(seeds)]}
    res = make_resampling({"d": ids}, trials, n_boot=n_boot, seed=int(rng.integers(1 << 30)))
    per_trial = {}
    for arm, mu in (("a", delta), ("b", 0.0)):
        inter = rng.normal(0, 0.03, volumes)
        for t in trials[arm]:
            seed_effect = rng.normal(0, 0.02)
            y = mu + seed_effect + vol + inter + rng.normal(0, 0.05, (slices, volumes))
            per_trial[t] = weighted_mean(y.mean(axis=0), res.volume_weights["d"])
    diff = res.arm_mean("a", per_trial) - res.arm_mean("b", per_trial)
    return interval(diff)


def test_the_interval_covers_a_known_difference_about_95_percent_of_the_time():
    rng = np.random.default_rng(7)
    runs = [_simulated_difference(rng, n_boot=300) for _ in range(150)]
    covered = np.mean([r["ci_low"] <= 0.05 <= r["ci_high"] for r in runs])
    assert 0.88 <= covered <= 0.99
    # and it resolves the difference: the interval excludes 0 in most runs
    assert np.mean([r["ci_low"] > 0 for r in runs]) > 0.8
