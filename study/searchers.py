"""Search, then confirm: the same tuning for every arm, then fresh seeds of each arm's pick.

Optuna alone would learn that one normalization kind (or one mixture) scores better and stop
proposing the others, so the comparison would rest on unequal tuning. ``StratifiedSearcher``
keeps one seeded Optuna study per *stratum* (an arm: a fixed set of config values) and hands
out ``search_trials`` trials per arm round-robin (``phase = search``), all of them before any
confirm trial. When every search trial of an arm has ended, the arm's best configuration (the
highest objective any of its search trials reached) is trained again with ``confirm_seeds`` new
seeds (``phase = confirm``): the maximum over noisy search trials is biased upwards
(Bouthillier et al. 2021), so claims come from the confirm trials only. With ``tune_on=ARM``
only that arm is searched and every arm is confirmed with its best configuration (its own fixed
values on top): arms then differ only by what defines them (the mixture studies' training
data). Every suggestion carries its arm, phase and seed (``study.experiment_format``), so
nothing downstream has to work out which arm a trial is; with ``epochs`` (phase -> epochs) it
carries its phase's horizon too, so search trials can be shorter than confirm trials.

The Optuna studies live in a journal file (``journal``, the experiment's
``study.experiment_format.OPTUNA_JOURNAL_FILE``) rather than in memory: a researcher opens the
search with ``optuna.load_study`` or ``optuna-dashboard``, and ``--resume`` continues from it.
A journal, not SQLite: Optuna's journal file is append-only and locks with a symlink, which
works on NFS/EFS, where a cluster's experiment directory lives; SQLite's locking does not.
The searcher's own state is saved as JSON beside Tune's snapshot (nothing of a results
directory is unpickled by this code). Each suggestion's sampler is seeded from the study seed,
the arm and the arm's suggestion count, so a resumed search proposes what an uninterrupted one
would have.
"""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import optuna
from optuna.distributions import distribution_to_json, json_to_distribution
from optuna.samplers import TPESampler
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend
from optuna.trial import TrialState
from ray.tune.result import TRAINING_ITERATION
from ray.tune.search import Searcher
from ray.tune.search.optuna import OptunaSearch

from study.experiment_format import ARM_KEY, CONFIRM, MAX_EPOCHS_KEY, PHASE_KEY, SEARCH, SEED_KEY

CONFIRM_SEED_OFFSET = 1000  # confirm seeds are seed + 1000 + j, apart from the search's seed


def confirm_seed(seed: int, j: int) -> int:
    """Seed of an arm's ``j``-th confirm trial (0-based) for the study seed ``seed``."""
    return seed + CONFIRM_SEED_OFFSET + j


def journal_storage(path: str | Path) -> JournalStorage:
    """Optuna's journal storage in the file ``path`` (its folder made if missing)."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    return JournalStorage(JournalFileBackend(str(path)))


class StratifiedSearcher(Searcher):
    CKPT_FILE_TMPL = "searcher-state-{}.json"

    def __init__(
        self,
        strata: Mapping[str, Mapping[str, Any]],
        metric: str | None = None,
        mode: str | None = None,
        seed: int = 0,
        n_startup_trials: int = 3,
        search_trials: int | None = None,
        confirm_seeds: int = 0,
        tune_on: str | None = None,
        journal: str | Path | None = None,
        epochs: Mapping[str, int] | None = None,
    ):
        if not strata:
            raise ValueError("StratifiedSearcher needs at least one stratum")
        if tune_on is not None and tune_on not in strata:
            raise ValueError(f"tune_on {tune_on!r} is not one of the strata {list(strata)}")
        super().__init__(metric=metric, mode=mode)
        self._strata = {name: dict(fixed) for name, fixed in strata.items()}
        searched = [tune_on] if tune_on is not None else list(self._strata)
        self._tuned_by = {name: tune_on or name for name in self._strata}
        self._storage = journal_storage(journal) if journal is not None else None
        self._n_startup_trials = n_startup_trials
        self._searchers = {
            name: OptunaSearch(metric=metric, mode=mode, study_name=name, storage=self._storage,
                               sampler=TPESampler(seed=seed, n_startup_trials=n_startup_trials))
            for name in searched
        }
        self._seed = seed
        self._epochs = dict(epochs or {})
        self._search_trials = search_trials
        self._confirm_seeds = confirm_seeds
        self._suggested = {name: 0 for name in self._searchers}
        self._confirmed = {name: 0 for name in self._strata}
        self._trial_stratum: dict[str, str] = {}
        self._search_configs: dict[str, dict[str, Any]] = {}
        self._best: dict[str, float] = {}
        self._last: dict[str, dict[str, float]] = {}  # trial -> objective and iteration
        self._ended: set[str] = set()

    def set_search_properties(self, metric, mode, config, **spec) -> bool:
        fixed = {ARM_KEY, PHASE_KEY}
        tuned = {k: v for k, v in config.items()
                 if k not in fixed and not _is_fixed_by_strata(k, self._strata)}
        for searcher in self._searchers.values():
            searcher.set_search_properties(metric, mode, tuned, **spec)
        self._metric = metric or self._metric
        self._mode = mode or self._mode
        return True

    # --------------------------------------------------------------------------- suggestions
    def suggest(self, trial_id: str) -> dict[str, Any] | None:
        # Search trials first: the confirm trials of every arm then share the workers to the
        # end, instead of the last arm's confirm trials running alone on a busy-at-first cluster.
        open_strata = [s for s in self._searchers if self._search_open(s)]
        if open_strata:
            return self._suggest_search(trial_id, min(open_strata, key=self._suggested.get))
        ready = [s for s in self._strata if self._confirm_ready(s)]
        if ready:
            return self._suggest_confirm(trial_id, min(ready, key=self._confirmed.get))
        return Searcher.FINISHED if self.is_finished() else None

    def _search_open(self, stratum: str) -> bool:
        return self._search_trials is None or self._suggested[stratum] < self._search_trials

    def _search_done(self, stratum: str) -> bool:
        """Every search trial of ``stratum`` was suggested and has ended."""
        if self._search_open(stratum):
            return False
        return all(t in self._ended for t, s in self._trial_stratum.items()
                   if s == stratum and t in self._search_configs)

    def _confirm_ready(self, stratum: str) -> bool:
        tuned_by = self._tuned_by[stratum]
        return (self._confirmed[stratum] < self._confirm_seeds and self._search_done(tuned_by)
                and self.best_search_trial(tuned_by) is not None)

    def is_finished(self) -> bool:
        """Every search trial suggested and ended, and every possible confirm trial suggested
        (an arm whose search trials all failed has nothing to confirm)."""
        return all(self._search_done(s) for s in self._searchers) and all(
            self._confirmed[s] >= self._confirm_seeds
            or self.best_search_trial(self._tuned_by[s]) is None for s in self._strata)

    def _suggest_search(self, trial_id: str, stratum: str) -> dict[str, Any] | None:
        searcher = self._searchers[stratum]
        # TPE keeps nothing but its random state: a sampler seeded per suggestion makes the
        # proposal a function of the study seed, the arm and the arm's history alone
        index = list(self._searchers).index(stratum)
        seed = np.random.SeedSequence([self._seed, index, self._suggested[stratum]])
        searcher._ot_study.sampler = TPESampler(seed=int(seed.generate_state(1)[0]),
                                                n_startup_trials=self._n_startup_trials)
        config = searcher.suggest(trial_id)
        if config is None or config == Searcher.FINISHED:
            return config
        self._suggested[stratum] += 1
        self._trial_stratum[trial_id] = stratum
        config = {**config, **self._strata[stratum], ARM_KEY: stratum, PHASE_KEY: SEARCH,
                  **self._horizon(SEARCH)}
        self._search_configs[trial_id] = config
        return config

    def _horizon(self, phase: str) -> dict[str, int]:
        return {MAX_EPOCHS_KEY: self._epochs[phase]} if phase in self._epochs else {}

    def _suggest_confirm(self, trial_id: str, stratum: str) -> dict[str, Any]:
        best = self.best_search_trial(self._tuned_by[stratum])
        j = self._confirmed[stratum]
        self._confirmed[stratum] += 1
        self._trial_stratum[trial_id] = stratum
        return {**self._search_configs[best], **self._strata[stratum], ARM_KEY: stratum,
                PHASE_KEY: CONFIRM, SEED_KEY: confirm_seed(self._seed, j), **self._horizon(CONFIRM)}

    def best_search_trial(self, stratum: str) -> str | None:
        """The search trial of ``stratum`` with the highest objective it reached (lowest for
        ``mode='min'``); None when none of them reported a finite objective."""
        sign = -1.0 if self._mode == "min" else 1.0
        scored = [(sign * self._best[t], t) for t, s in self._trial_stratum.items()
                  if s == stratum and t in self._best and t in self._search_configs]
        return max(scored)[1] if scored else None

    # --------------------------------------------------------------------------- results
    def on_trial_result(self, trial_id: str, result: dict) -> None:
        if trial_id not in self._search_configs:
            return
        self._record(trial_id, result)
        self._last[trial_id] = {k: result[k] for k in (self._metric, TRAINING_ITERATION)
                                if k in result}
        searcher = self._searchers[self._trial_stratum[trial_id]]
        if trial_id in searcher._ot_trials:  # not so after a resume without a journal
            searcher.on_trial_result(trial_id, result)

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False):
        self._ended.add(trial_id)
        if trial_id not in self._search_configs:
            return
        if not result and not error:
            # stopped while paused at a rung (study.schedulers): Tune hands no result; its
            # last one ends the Optuna trial as a stop of a running trial would
            result = self._last.get(trial_id)
        if result and not error:
            self._record(trial_id, result)
        searcher = self._searchers[self._trial_stratum[trial_id]]
        if trial_id in searcher._ot_trials:
            if result and not error and TRAINING_ITERATION in result:
                # Tune hands a trial's last result (ASHA's stop, or max_t) to on_trial_complete
                # only: it is the last of the Optuna trial's per-epoch values too. A restored
                # trial may repeat a step Optuna has; Optuna then keeps the first and warns.
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    searcher.on_trial_result(trial_id, result)
            searcher.on_trial_complete(trial_id, result, error)

    def _record(self, trial_id: str, result: dict) -> None:
        value = result.get(self._metric)
        if not isinstance(value, (int, float)) or not math.isfinite(value):
            return
        previous = self._best.get(trial_id)
        better = max if self._mode != "min" else min
        self._best[trial_id] = value if previous is None else better(previous, value)

    @property
    def suggested_per_stratum(self) -> dict[str, int]:
        return dict(self._suggested)

    # --------------------------------------------------------------------------- persistence
    def state(self) -> dict[str, Any]:
        """Everything but the Optuna studies (those are in the journal), JSON-ready: which
        trial is whose, the arms' counts and best values, and each search trial's number in
        its arm's Optuna study."""
        return {
            "metric": self._metric,
            "mode": self._mode,
            # Tune restores a searcher from its pickled Tuner, made before the search space
            # was set, and does not set it again: the space travels with the state
            "spaces": {name: {k: distribution_to_json(d) for k, d in s._space.items()}
                       for name, s in self._searchers.items() if s._space},
            "seed": self._seed,
            "suggested": self._suggested,
            "confirmed": self._confirmed,
            "trial_stratum": self._trial_stratum,
            "search_configs": self._search_configs,
            "best": self._best,
            "last": self._last,
            "ended": sorted(self._ended),
            "optuna_numbers": {name: {t: trial.number for t, trial in s._ot_trials.items()}
                               for name, s in self._searchers.items()},
            "optuna_told": {name: sorted(s._completed_trials)
                            for name, s in self._searchers.items()},
        }

    def save(self, checkpoint_path: str) -> None:
        Path(checkpoint_path).write_text(json.dumps(self.state()))

    def restore(self, checkpoint_path: str) -> None:
        state = json.loads(Path(checkpoint_path).read_text())
        self._metric, self._mode = state["metric"], state["mode"]
        for name, space in state["spaces"].items():
            searcher = self._searchers[name]
            if searcher._ot_study is None:
                searcher._space = {k: json_to_distribution(v) for k, v in space.items()}
                searcher._metric, searcher._mode = self._metric, self._mode
                searcher._setup_study(self._mode)
        self._seed = state["seed"]
        self._suggested.update(state["suggested"])
        self._confirmed.update(state["confirmed"])
        self._trial_stratum = state["trial_stratum"]
        self._search_configs = state["search_configs"]
        self._best = state["best"]
        self._last = state.get("last", {})
        self._ended = set(state["ended"])
        if self._storage is not None:
            for name, searcher in self._searchers.items():
                reattach(searcher, self._storage, state["optuna_numbers"].get(name, {}),
                         state["optuna_told"].get(name, []))


def reattach(searcher: OptunaSearch, storage: JournalStorage, numbers: Mapping[str, int],
             told: list[str]) -> None:
    """Point a restored ``OptunaSearch`` at its trials in the journal, so trials resumed by
    Tune report to the Optuna trial they began; trials asked after the last snapshot (no Tune
    trial knows them) are marked failed."""
    study = searcher._ot_study
    study_id = storage.get_study_id_from_name(study.study_name)
    searcher._ot_trials = {
        t: optuna.trial.Trial(study, storage.get_trial_id_from_study_id_trial_number(study_id, n))
        for t, n in numbers.items()}
    searcher._completed_trials = set(told)
    known = set(numbers.values())
    for frozen in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        if frozen.number not in known:
            orphan = storage.get_trial_id_from_study_id_trial_number(study_id, frozen.number)
            storage.set_trial_state_values(orphan, TrialState.FAIL)


def _is_fixed_by_strata(key: str, strata: Mapping[str, Mapping[str, Any]]) -> bool:
    return any(key in fixed for fixed in strata.values())
