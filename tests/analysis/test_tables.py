"""The trials table as the analysis reads it: the order its rows come in."""

from __future__ import annotations

import pandas as pd

from analysis.tables import in_study_order, normalise_trials


def test_trials_come_in_the_study_order_however_they_finished():
    rows = [("t1", "layer", "confirm", 1001), ("t2", "batch", "confirm", 1000),
            ("t3", "extra", "search", 0), ("t4", "layer", "search", 0),
            ("t5", "batch", "confirm", 1001), ("t6", "batch", "search", 0)]
    trials = normalise_trials(pd.DataFrame(rows, columns=["trial_id", "arm", "phase",
                                                          "config/seed"]))
    expected = ["t6", "t2", "t5", "t4", "t1", "t3"]  # batch, layer, then arms not declared
    assert list(in_study_order(trials, ("batch", "layer"))["trial_id"]) == expected
    shuffled = trials.sample(frac=1.0, random_state=3)
    assert list(in_study_order(shuffled, ("batch", "layer"))["trial_id"]) == expected
    assert list(in_study_order(trials)["trial_id"]) == ["t6", "t2", "t5", "t3", "t4", "t1"]
