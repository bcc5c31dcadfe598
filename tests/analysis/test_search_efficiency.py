"""Offline ASHA replay on full-budget curves: Ray's bracket rule, worked by hand."""

from __future__ import annotations

import pandas as pd
import pytest

from analysis.search_efficiency import picks, replay_asha, rungs, sweep_settings

# trials in creation order; arm b's first trial starts slowly and ends best
CURVES = pd.DataFrame(
    [[0.5, 0.5, 0.5, 0.5], [0.6, 0.6, 0.6, 0.6], [0.1, 0.2, 0.9, 0.95], [0.2, 0.3, 0.4, 0.45]],
    index=["t1", "t2", "t3", "t4"], columns=[1, 2, 3, 4],
)
ARMS = {"t1": "a", "t2": "a", "t3": "b", "t4": "b"}


@pytest.mark.parametrize(("grace", "rf", "max_t", "expected"),
                         [(2, 3, 10, [2, 6]), (1, 2, 8, [1, 2, 4]), (4, 3, 10, [4]),
                          (5, 2, 5, [])])
def test_rungs_follow_ray(grace, rf, max_t, expected):
    assert rungs(grace, rf, max_t) == expected


def test_one_asha_for_all_arms_stops_the_slow_starting_arm():
    trained = replay_asha(CURVES, ARMS, grace=1, reduction_factor=2, per_arm=False,
                          concurrency=1)
    # t3 at rung 1: 0.1 < median(0.5, 0.6); t4: 0.2 < median(0.5, 0.6, 0.1) = 0.5
    assert trained == {"t1": 4, "t2": 4, "t3": 1, "t4": 1}
    result = picks(CURVES, ARMS, trained).set_index("arm")
    assert result.loc["a", "pick"] == "t2" and result.loc["a", "shortfall"] == 0
    assert result.loc["b", "pick"] == "t4" and result.loc["b", "best"] == "t3"
    assert result.loc["b", "shortfall"] == pytest.approx(0.95 - 0.45)


def test_one_asha_per_arm_keeps_each_arm_on_its_own_terms():
    trained = replay_asha(CURVES, ARMS, grace=1, reduction_factor=2, per_arm=True,
                          concurrency=1)
    assert trained == {"t1": 4, "t2": 4, "t3": 4, "t4": 4}
    assert (picks(CURVES, ARMS, trained)["shortfall"] == 0).all()


def test_minimising_objectives_flip_the_rule():
    trained = replay_asha(-CURVES, ARMS, grace=1, reduction_factor=2, per_arm=False,
                          mode="min", concurrency=1)
    assert trained == {"t1": 4, "t2": 4, "t3": 1, "t4": 1}


def test_sweep_reports_budget_share_and_pick_quality():
    table = sweep_settings(CURVES, ARMS, graces=(1,), reduction_factors=(2,),
                           concurrency=1).set_index("scope")
    assert table.loc["global", "epochs_share"] == pytest.approx(10 / 16)
    assert table.loc["per arm", "epochs_share"] == 1.0
    assert table.loc["global", "same_pick"] == 1 and table.loc["per arm", "same_pick"] == 2
    assert table.loc["global", "worst_shortfall"] == pytest.approx(0.5)
