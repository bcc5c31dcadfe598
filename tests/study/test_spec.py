"""A study's budget: search and confirm horizons, and how the launcher's options change them."""

from __future__ import annotations

import pytest

from study.options import parse_args, resolve_study
from study.spec import Budget


def test_search_trials_run_the_full_horizon_unless_told_otherwise():
    assert Budget(num_samples=2, max_epochs=6).search_horizon == 6
    assert Budget(num_samples=2, max_epochs=6, search_epochs=2).search_horizon == 2


@pytest.mark.parametrize("search_epochs", [0, 7])
def test_a_search_longer_than_the_confirm_trials_or_empty_is_refused(search_epochs):
    with pytest.raises(ValueError, match="search_epochs must be in"):
        Budget(num_samples=2, max_epochs=6, search_epochs=search_epochs)


@pytest.mark.parametrize(("max_epochs", "expected"),
                         [(3, (3, 3, 2)), (1, (1, 1, 1)), (20, (20, 4, 2))])
def test_max_epochs_sets_the_confirm_horizon_and_caps_the_search(max_epochs, expected):
    study = resolve_study(parse_args(["norm_sweep", "--max-epochs", str(max_epochs)]))
    budget = study.budget
    assert (budget.max_epochs, budget.search_horizon, budget.grace_period) == expected
