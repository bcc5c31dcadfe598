"""Early stopping that compares each trial only with trials of its own arm, in a fixed order.

One ASHA over a whole comparison ranks every trial at a rung against every other: an arm whose
models learn more slowly early (no normalization, a harder mixture) loses its trials at the
first rung to the other arms' trials, even when it would have caught up, and its "best
configuration" then rests on two epochs of training while the other arms' rest on ten.
Measured on ``norm_sweep`` (``bench/bench_search_efficiency.py``, BENCHMARKS.md): with one
global ASHA the ``none`` arm's pick reached 0.740 validation AUROC at the full budget while the
arm's best configuration reached 0.810. ``StratifiedASHA`` keeps separate rungs per stratum
(the same strata as :class:`study.searchers.StratifiedSearcher`), so each arm is tuned, and
stopped, on its own terms. Confirm trials (``phase = confirm``) are never stopped and never
enter a rung: they are the full-budget retraining of an arm's pick, not candidates.

The rule is asynchronous successive halving (Li et al. 2020, Ray's ``ASHAScheduler``): rungs
at ``grace_period * reduction_factor**k`` epochs below ``max_t``; a trial reaching a rung goes
on when its value is at least the ``1 - 1/reduction_factor`` quantile of the values recorded
there before it. "Before it" is what made plain ASHA unrepeatable: with trials side by side,
the order in which they reach a rung depends on the machine's timing, and the same values can
stop one trial in one run and the other in the next (measured on ``mixture_sweep``,
BENCHMARKS.md). Here "before it" means *created before it* (Tune numbers trials in the order
the searcher proposes them): a trial that reaches a rung while an earlier trial of its arm
still may reach it is paused (Tune checkpoints it and frees its worker) until the earlier ones
have reported there or ended, then stopped or resumed. The decisions are a function of the
trials' values alone, so a study repeats run for run, interrupted and resumed or not (Tune
restores a paused trial as pending and would start it; one still waiting is put back to
paused before it trains); the earliest undecided trial never waits, so waiting cannot
deadlock.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
from ray.tune.experiment import Trial
from ray.tune.schedulers import FIFOScheduler, TrialScheduler

from study.experiment_format import ARM_KEY, CONFIRM, PHASE_KEY
from study.storage import storage_filesystem

_ENDED = (Trial.TERMINATED, Trial.ERROR)


def stratum_of(config: Mapping[str, Any], strata: Mapping[str, Mapping[str, Any]]) -> str:
    """The trial's arm: its ``arm`` config entry (the searcher stamps it), else the stratum
    whose fixed values ``config`` carries (trials of a replayed experiment)."""
    if config.get(ARM_KEY) in strata:
        return str(config[ARM_KEY])
    for name, fixed in strata.items():
        if all(config.get(k) == v for k, v in fixed.items()):
            return name
    raise ValueError(f"config matches none of the strata {list(strata)}: {dict(config)}")


def rung_milestones(grace_period: int, reduction_factor: int, max_t: int) -> list[int]:
    """Epochs at which a search trial can be stopped: ``grace_period * reduction_factor**k``
    below ``max_t`` (a trial at ``max_t`` has finished anyway)."""
    if grace_period < 1 or reduction_factor < 2:
        raise ValueError(f"grace_period must be >= 1 and reduction_factor >= 2, got "
                         f"{grace_period} and {reduction_factor}")
    milestones, m = [], grace_period
    while m < max_t:
        milestones.append(m)
        m *= reduction_factor
    return milestones


def creation_index(trial) -> int | None:
    """Tune's creation number of a trial: the leading integer of its experiment tag
    (``"3_lr=0.001,..."``); None when the tag has none."""
    head = str(getattr(trial, "experiment_tag", "")).split("_", 1)[0]
    return int(head) if head.isdigit() else None


def stop_idle_trial(tune_controller, trial) -> None:
    """Stop a trial that holds no worker (paused at a rung, or pending after a resume) so
    that Tune's experiment state records it as ended.

    Tune writes a trial's status into ``experiment_state-*.json`` only when the trial is
    marked for the next save, and ``stop_trial`` marks only trials with a live worker: a
    paused trial stopped after a state save stays PAUSED in the file for good, so a finished
    study reads as interrupted and ``--resume`` would restore the trial. Marking it puts the
    stop into the next save (checked in a real Tune run, tests/study/test_schedulers_tune.py).
    """
    tune_controller.stop_trial(trial)
    controller = getattr(tune_controller, "_tune_controller", tune_controller)  # unwrapped
    mark = getattr(controller, "_mark_trial_to_checkpoint", None)
    if mark is not None:
        mark(trial)


class StratifiedASHA(FIFOScheduler):
    """Asynchronous successive halving per stratum, deciding each trial against the trials of
    its stratum created before it (see the module docstring).

    With ``state_path`` (a local path or URI, e.g. ``<experiment>/scheduler_state.json``) the
    rungs' recorded values, the trials stopped early, those waiting at a rung and those ended
    are written there after every change and read back the first time a restored scheduler is
    used: Tune saves no scheduler state (ray-project/ray#30838), so without it a resumed study
    would start from empty rungs and decide differently. Rungs should count an epoch the
    trainable reports itself (``time_attr='epoch'``): a restored trial's
    ``training_iteration`` may restart.
    """

    def __init__(self, strata: Mapping[str, Mapping[str, Any]], state_path: str | None = None,
                 *, max_t: int, time_attr: str = "epoch", grace_period: int = 1,
                 reduction_factor: int = 3, metric: str | None = None,
                 mode: str | None = None,
                 announce: Callable[[str, Mapping[str, Any], str], None] | None = None) -> None:
        super().__init__()
        if not strata:
            raise ValueError("StratifiedASHA needs at least one stratum")
        self._strata = {name: dict(fixed) for name, fixed in strata.items()}
        self._time_attr, self._max_t, self._rf = time_attr, max_t, reduction_factor
        self._milestones = rung_milestones(grace_period, reduction_factor, max_t)
        self._recorded = {name: {m: {} for m in self._milestones} for name in self._strata}
        self._metric, self._sign = metric, -1.0 if mode == "min" else 1.0
        self._trials: dict[str, Any] = {}  # search trials added, by id
        self._order: dict[str, int] = {}
        self._stratum: dict[str, str] = {}
        self._stopped: set[str] = set()  # stopped early (below a rung's cut)
        self._waiting: dict[str, int] = {}  # trial -> the milestone it waits at
        self._ended: set[str] = set()
        self._state_path = state_path
        self._loaded = False
        self._announce = announce  # (trial id, config, message), e.g. ProgressPrinter.note

    def set_search_properties(self, metric: str | None, mode: str | None, **spec) -> bool:
        if self._metric is not None and metric is not None and metric != self._metric:
            return False
        self._metric = metric or self._metric
        if mode:
            self._sign = -1.0 if mode == "min" else 1.0
        return True

    # ------------------------------------------------------------------ Tune's calls
    def on_trial_add(self, tune_controller, trial) -> None:
        if _confirm(trial):
            return
        self._load_state()
        tid = trial.trial_id
        self._trials[tid] = trial
        self._stratum.setdefault(tid, stratum_of(trial.config, self._strata))
        index = creation_index(trial)
        self._order.setdefault(tid, index if index is not None else len(self._order))

    def on_trial_result(self, tune_controller, trial, result: dict) -> str:
        if _confirm(trial):
            return TrialScheduler.CONTINUE
        self._load_state()
        tid = trial.trial_id
        if tid not in self._trials:
            self.on_trial_add(tune_controller, trial)
        if tid in self._stopped:  # stopped before an interruption: stays stopped
            return TrialScheduler.STOP
        if tid in self._waiting:  # resumed while waiting (after an interruption)
            decision = self._decide_waiting(tid)
            if decision != TrialScheduler.CONTINUE:
                self._save_state()
                return decision
        if self._time_attr not in result or self._metric not in result:
            return TrialScheduler.CONTINUE
        t = result[self._time_attr]
        if t >= self._max_t:  # its horizon: finished, not stopped early
            self._end(trial)
            return TrialScheduler.STOP
        milestone = self._rung_to_record(tid, t)
        if milestone is None:
            return TrialScheduler.CONTINUE
        value = self._sign * float(result[self._metric])
        self._recorded[self._stratum[tid]][milestone][tid] = value
        self._waiting[tid] = milestone
        decision = self._decide_waiting(tid)
        if decision == TrialScheduler.PAUSE:
            self._tell(tid, f"waits at epoch {milestone} for earlier trials of its arm")
        self._save_state()
        return decision

    def choose_trial_to_run(self, tune_controller):
        """A paused trial whose rung has been decided in its favour, else FIFO's choice.
        Trials stopped early (decided against, or before an interruption when Tune's
        snapshot predates the stop) are ended here before they train another epoch; trials
        still waiting are never chosen, and one Tune restored as pending is paused again.
        ``_set_trial_status`` is among the controller calls Tune opens to schedulers."""
        self._load_state()
        trials = list(tune_controller.get_trials())
        decided = False
        for trial in trials:
            tid = trial.trial_id
            if trial.status not in (Trial.PENDING, Trial.PAUSED) or _confirm(trial):
                continue
            if tid not in self._trials:
                self.on_trial_add(tune_controller, trial)
            if tid in self._waiting:
                decision = self._decide_waiting(tid)
                decided |= decision != TrialScheduler.PAUSE
                if decision == TrialScheduler.CONTINUE:
                    self._tell(tid, "goes on: at or above the rung's cut")
                elif decision == TrialScheduler.PAUSE and trial.status == Trial.PENDING:
                    # restored after an interruption: Tune would start every pending trial
                    tune_controller._set_trial_status(trial, Trial.PAUSED)
            if tid in self._stopped:
                stop_idle_trial(tune_controller, trial)
        if decided:
            self._save_state()
        resumable = sorted((t for t in trials if t.status == Trial.PAUSED
                            and t.trial_id not in self._waiting),
                           key=lambda t: self._order.get(t.trial_id, -1))
        pending = [t for t in trials
                   if t.status == Trial.PENDING and t.trial_id not in self._waiting]
        return (resumable + pending or [None])[0]

    def on_trial_complete(self, tune_controller, trial, result: dict) -> None:
        self._end(trial)

    def on_trial_remove(self, tune_controller, trial) -> None:
        self._end(trial)

    def on_trial_error(self, tune_controller, trial) -> None:
        self._end(trial)

    # ------------------------------------------------------------------ the rule
    def _rung_to_record(self, tid: str, t: float) -> int | None:
        """The lowest milestone at or below ``t`` the trial has no value at, if any."""
        recorded = self._recorded[self._stratum[tid]]
        return next((m for m in self._milestones if m <= t and tid not in recorded[m]), None)

    def _earlier(self, tid: str) -> list[str]:
        """The trials of ``tid``'s stratum created before it."""
        stratum, order = self._stratum[tid], self._order[tid]
        return [j for j, s in self._stratum.items()
                if s == stratum and j in self._order and self._order[j] < order]

    def _ended_trial(self, tid: str) -> bool:
        """The trial will report at no further rung: ended, or stopped early."""
        trial = self._trials.get(tid)
        return (tid in self._ended or tid in self._stopped
                or getattr(trial, "status", None) in _ENDED)

    def _decide_waiting(self, tid: str) -> str:
        """PAUSE while an earlier trial of the stratum may still reach the trial's rung;
        then STOP (recorded as stopped early) or CONTINUE (no longer waiting). The caller
        saves the state."""
        milestone = self._waiting[tid]
        recorded = self._recorded[self._stratum[tid]][milestone]
        earlier = self._earlier(tid)
        if any(j not in recorded and not self._ended_trial(j) for j in earlier):
            return TrialScheduler.PAUSE
        del self._waiting[tid]
        before = [recorded[j] for j in earlier if j in recorded]
        cut = np.nanpercentile(before, (1 - 1 / self._rf) * 100) if before else None
        if cut is not None and recorded[tid] < cut:
            self._stopped.add(tid)
            decision = TrialScheduler.STOP
        else:
            decision = TrialScheduler.CONTINUE
        return decision

    def _tell(self, tid: str, message: str) -> None:
        if self._announce is not None:
            self._announce(tid, self._trials[tid].config, message)

    def _end(self, trial) -> None:
        if _confirm(trial) or trial.trial_id not in self._trials:
            return
        self._ended.add(trial.trial_id)
        self._waiting.pop(trial.trial_id, None)
        self._save_state()

    # ------------------------------------------------------------------ persistence
    def state(self) -> dict[str, Any]:
        """The rungs' recorded values per stratum (lowest milestone first, values signed so
        that higher is better), the trials stopped early, those waiting at a rung (with its
        milestone), those ended, and every search trial's arm and creation order (JSON-ready)."""
        rungs = {name: [{"milestone": m, "recorded": dict(rec[m])} for m in self._milestones]
                 for name, rec in self._recorded.items()}
        trials = {t: {"arm": self._stratum[t], "order": self._order[t]} for t in self._order}
        return {"rungs": rungs, "stopped": sorted(self._stopped), "waiting": self._waiting,
                "ended": sorted(self._ended), "trials": trials}

    def _save_state(self) -> None:
        if self._state_path is None:
            return
        filesystem, path = storage_filesystem(self._state_path)
        with filesystem.open_output_stream(path) as out:
            out.write(json.dumps(self.state()).encode())

    def _load_state(self) -> None:
        if self._loaded:
            return
        self._loaded = True
        if self._state_path is None:
            return
        from pyarrow import fs

        filesystem, path = storage_filesystem(self._state_path)
        if filesystem.get_file_info(path).type != fs.FileType.File:
            return
        with filesystem.open_input_stream(path) as src:
            state = json.loads(src.read().decode())
        for name, rungs in state["rungs"].items():
            for rung in rungs if name in self._recorded else ():
                self._recorded[name].setdefault(int(rung["milestone"]), {}).update(
                    rung["recorded"])
        self._stopped = set(state["stopped"])
        self._waiting = {t: int(m) for t, m in state.get("waiting", {}).items()}
        self._ended = set(state.get("ended", ()))
        for tid, known in state.get("trials", {}).items():
            if known["arm"] in self._strata:
                self._stratum[tid], self._order[tid] = known["arm"], int(known["order"])

    # ------------------------------------------------------------------ reporting
    def stopped(self) -> dict[str, int]:
        """Trials each stratum has stopped early so far."""
        counts = dict.fromkeys(self._strata, 0)
        for tid in self._stopped:
            if tid in self._stratum:
                counts[self._stratum[tid]] += 1
        return counts

    def debug_string(self) -> str:
        return "StratifiedASHA: " + ", ".join(
            f"{name} stopped {n}" for name, n in self.stopped().items())


def _confirm(trial) -> bool:
    return trial.config.get(PHASE_KEY) == CONFIRM
