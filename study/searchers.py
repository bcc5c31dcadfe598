"""A searcher that gives every arm of a comparison the same number of trials and its own tuning.

Optuna alone would learn that one normalization kind (or one mixture) scores better and stop
proposing the others, so the comparison would rest on unequal tuning. ``StratifiedSearcher``
keeps one seeded Optuna study per *stratum* (an arm: a fixed set of config values), hands out
trials round-robin over the strata, and merges the stratum's fixed values into each suggestion.
"""

from __future__ import annotations

import pickle
from collections.abc import Mapping
from typing import Any

from optuna.samplers import TPESampler
from ray.tune.search import Searcher
from ray.tune.search.optuna import OptunaSearch


class StratifiedSearcher(Searcher):
    def __init__(
        self,
        strata: Mapping[str, Mapping[str, Any]],
        metric: str | None = None,
        mode: str | None = None,
        seed: int = 0,
        n_startup_trials: int = 3,
    ):
        if not strata:
            raise ValueError("StratifiedSearcher needs at least one stratum")
        super().__init__(metric=metric, mode=mode)
        self._strata = {name: dict(fixed) for name, fixed in strata.items()}
        self._searchers = {
            name: OptunaSearch(
                metric=metric,
                mode=mode,
                sampler=TPESampler(seed=seed + i, n_startup_trials=n_startup_trials),
            )
            for i, name in enumerate(self._strata)
        }
        self._suggested = {name: 0 for name in self._strata}
        self._trial_stratum: dict[str, str] = {}

    def set_search_properties(self, metric, mode, config, **spec) -> bool:
        tuned = {k: v for k, v in config.items() if not _is_fixed_by_strata(k, self._strata)}
        for searcher in self._searchers.values():
            searcher.set_search_properties(metric, mode, tuned, **spec)
        self._metric = metric or self._metric
        self._mode = mode or self._mode
        return True

    def suggest(self, trial_id: str) -> dict[str, Any] | None:
        name = min(self._suggested, key=lambda s: self._suggested[s])
        config = self._searchers[name].suggest(trial_id)
        if config is None or config == Searcher.FINISHED:
            return config
        self._suggested[name] += 1
        self._trial_stratum[trial_id] = name
        return {**config, **self._strata[name]}

    def on_trial_result(self, trial_id: str, result: dict) -> None:
        if trial_id in self._trial_stratum:
            self._searchers[self._trial_stratum[trial_id]].on_trial_result(trial_id, result)

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False):
        if trial_id in self._trial_stratum:
            self._searchers[self._trial_stratum[trial_id]].on_trial_complete(
                trial_id, result, error
            )

    @property
    def suggested_per_stratum(self) -> dict[str, int]:
        return dict(self._suggested)

    def save(self, checkpoint_path: str) -> None:
        with open(checkpoint_path, "wb") as f:
            pickle.dump(self.__dict__, f)

    def restore(self, checkpoint_path: str) -> None:
        with open(checkpoint_path, "rb") as f:
            self.__dict__.update(pickle.load(f))


def _is_fixed_by_strata(key: str, strata: Mapping[str, Mapping[str, Any]]) -> bool:
    return any(key in fixed for fixed in strata.values())
