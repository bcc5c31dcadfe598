"""One line per event while a study runs, instead of Tune's full status tables."""

from __future__ import annotations

import time
from typing import Any

from ray import tune

from study.experiment_format import ARM_KEY, CONFIRM, PHASE_KEY


def label(config: dict[str, Any]) -> str:
    """``<arm>`` for a search trial, ``<arm> (confirm seed S)`` for a confirm trial."""
    arm = str(config.get(ARM_KEY, "-"))
    if config.get(PHASE_KEY) == CONFIRM:
        return f"{arm} (confirm seed {config.get('seed')})"
    return arm


class ProgressPrinter(tune.Callback):
    def __init__(self, metric: str, total_trials: int) -> None:
        self.metric = metric
        self.total = total_trials
        self.start = time.time()

    def _stamp(self) -> str:
        return f"[{time.time() - self.start:6.0f} s]"

    def note(self, trial_id: str, config: dict[str, Any], message: str) -> None:
        """One line about a trial from elsewhere in the driver (the scheduler's waits)."""
        print(f"{self._stamp()} {trial_id} {label(config):<30} {message}", flush=True)

    def on_trial_result(self, iteration, trials, trial, result, **info) -> None:
        value = result.get(self.metric)
        shown = f"{value:.4f}" if isinstance(value, (int, float)) else "n/a"
        print(
            f"{self._stamp()} {trial.trial_id} {label(trial.config):<30} epoch "
            f"{result.get('training_iteration')}: {self.metric} {shown}",
            flush=True,
        )

    def on_trial_complete(self, iteration, trials, trial, **info) -> None:
        iters = (trial.last_result or {}).get("training_iteration", 0)
        print(
            f"{self._stamp()} {trial.trial_id} done after {iters} epochs "
            f"({self._ended(trials, trial)}/{self.total} trials ended)",
            flush=True,
        )

    def on_trial_error(self, iteration, trials, trial, **info) -> None:
        print(
            f"{self._stamp()} {trial.trial_id} FAILED "
            f"({self._ended(trials, trial)}/{self.total} trials ended)",
            flush=True,
        )

    @staticmethod
    def _ended(trials, trial) -> int:
        """Trials that have ended, counted from Tune's list (so a resumed study counts the
        ones that ended before the interruption too), this one included."""
        return len({t.trial_id for t in trials if t.status in ("TERMINATED", "ERROR")}
                   | {trial.trial_id})
