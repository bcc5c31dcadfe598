"""Early stopping that compares each trial only with trials of its own arm.

One ASHA over a whole comparison ranks every trial at a rung against every other: an arm whose
models learn more slowly early (no normalization, a harder mixture) loses its trials at the
first rung to the other arms' trials, even when it would have caught up, and its "best
configuration" then rests on two epochs of training while the other arms' rest on ten.
Measured on ``norm_sweep`` (``bench/bench_search_efficiency.py``, BENCHMARKS.md): with one
global ASHA the ``none`` arm's pick reached 0.740 validation AUROC at the full budget while the
arm's best configuration reached 0.810. ``StratifiedASHA`` keeps one ASHA per stratum (the same
strata as :class:`study.searchers.StratifiedSearcher`), so each arm is tuned, and stopped,
on its own terms. Confirm trials (``phase = confirm``) are never stopped and never enter a
rung: they are the full-budget retraining of an arm's pick, not candidates.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ray.tune.experiment import Trial
from ray.tune.schedulers import ASHAScheduler, FIFOScheduler, TrialScheduler

from study.experiment_format import ARM_KEY, CONFIRM, PHASE_KEY


def stratum_of(config: Mapping[str, Any], strata: Mapping[str, Mapping[str, Any]]) -> str:
    """The trial's arm: its ``arm`` config entry (the searcher stamps it), else the stratum
    whose fixed values ``config`` carries (trials of a replayed experiment)."""
    if config.get(ARM_KEY) in strata:
        return str(config[ARM_KEY])
    for name, fixed in strata.items():
        if all(config.get(k) == v for k, v in fixed.items()):
            return name
    raise ValueError(f"config matches none of the strata {list(strata)}: {dict(config)}")


class StratifiedASHA(FIFOScheduler):
    """One :class:`ASHAScheduler` per stratum, built with the same arguments; each trial's
    results go to its stratum's scheduler only.

    With ``state_path`` (a local path or URI, e.g. ``<experiment>/scheduler_state.json``) the
    rungs' recorded values and the trials it stopped are written there after every decision
    and read back the first time a restored scheduler is used: Tune saves no scheduler state
    (ray-project/ray#30838), so without it a resumed study would start from empty rungs and
    decide differently. Rungs should count an epoch the trainable reports itself
    (``time_attr='epoch'``): a restored trial's ``training_iteration`` may restart.
    """

    def __init__(self, strata: Mapping[str, Mapping[str, Any]], state_path: str | None = None,
                 **asha: Any) -> None:
        super().__init__()
        if not strata:
            raise ValueError("StratifiedASHA needs at least one stratum")
        self._strata = {name: dict(fixed) for name, fixed in strata.items()}
        self._asha = {name: ASHAScheduler(**asha) for name in self._strata}
        self._trial_stratum: dict[str, str] = {}
        self._state_path = state_path
        self._stopped: set[str] = set()
        self._loaded = False

    def set_search_properties(self, metric: str | None, mode: str | None, **spec) -> bool:
        return all(s.set_search_properties(metric, mode, **spec) for s in self._asha.values())

    def _scheduler(self, trial) -> ASHAScheduler:
        self._load_state()
        if trial.trial_id not in self._trial_stratum:
            self._trial_stratum[trial.trial_id] = stratum_of(trial.config, self._strata)
        return self._asha[self._trial_stratum[trial.trial_id]]

    def on_trial_add(self, tune_controller, trial) -> None:
        if not _confirm(trial):
            self._scheduler(trial).on_trial_add(tune_controller, trial)

    def on_trial_result(self, tune_controller, trial, result: dict) -> str:
        if _confirm(trial):
            return TrialScheduler.CONTINUE
        scheduler = self._scheduler(trial)
        if trial.trial_id in self._stopped:  # stopped before an interruption: stays stopped
            return TrialScheduler.STOP
        action = scheduler.on_trial_result(tune_controller, trial, result)
        if action == TrialScheduler.STOP and result.get(scheduler._time_attr, 0) < scheduler._max_t:
            self._stopped.add(trial.trial_id)  # ASHA also says STOP at max_t: not early
        self._save_state()
        return action

    def choose_trial_to_run(self, tune_controller):
        # a trial stopped before an interruption may come back PENDING when Tune's snapshot
        # of the experiment predates the stop (it is taken every 10 s or more): end it before
        # it trains another epoch
        self._load_state()
        for trial in tune_controller.get_trials():
            if trial.status == Trial.PENDING and trial.trial_id in self._stopped:
                tune_controller.stop_trial(trial)
        return super().choose_trial_to_run(tune_controller)

    def on_trial_complete(self, tune_controller, trial, result: dict) -> None:
        if not _confirm(trial):
            self._scheduler(trial).on_trial_complete(tune_controller, trial, result)
            self._save_state()

    # ------------------------------------------------------------------ persistence
    def state(self) -> dict[str, Any]:
        """The rungs' recorded values per stratum and the trials stopped early (JSON-ready)."""
        rungs = {name: [{"milestone": float(m), "recorded": {t: float(v) for t, v in rec.items()}}
                        for m, rec in a._brackets[0]._rungs] for name, a in self._asha.items()}
        return {"rungs": rungs, "stopped": sorted(self._stopped)}

    def _save_state(self) -> None:
        if self._state_path is None:
            return
        from study.storage import storage_filesystem

        filesystem, path = storage_filesystem(self._state_path)
        with filesystem.open_output_stream(path) as out:
            out.write(json.dumps(self.state()).encode())

    def _load_state(self) -> None:
        if self._loaded or self._state_path is None:
            self._loaded = True
            return
        self._loaded = True
        from pyarrow import fs

        from study.storage import storage_filesystem

        filesystem, path = storage_filesystem(self._state_path)
        if filesystem.get_file_info(path).type != fs.FileType.File:
            return
        with filesystem.open_input_stream(path) as src:
            state = json.loads(src.read().decode())
        for name, rungs in state["rungs"].items():
            if name in self._asha:
                for (_, recorded), saved in zip(self._asha[name]._brackets[0]._rungs, rungs,
                                                strict=True):
                    recorded.update(saved["recorded"])
        self._stopped = set(state["stopped"])

    def on_trial_remove(self, tune_controller, trial) -> None:
        if not _confirm(trial):
            self._scheduler(trial).on_trial_remove(tune_controller, trial)
        self._trial_stratum.pop(trial.trial_id, None)

    def on_trial_error(self, tune_controller, trial) -> None:
        if not _confirm(trial):
            self._scheduler(trial).on_trial_error(tune_controller, trial)

    def stopped(self) -> dict[str, int]:
        """Trials each stratum's ASHA has stopped so far."""
        return {name: s._num_stopped for name, s in self._asha.items()}

    def debug_string(self) -> str:
        return "StratifiedASHA: " + ", ".join(
            f"{name} stopped {n}" for name, n in self.stopped().items())



def _confirm(trial) -> bool:
    return trial.config.get(PHASE_KEY) == CONFIRM
