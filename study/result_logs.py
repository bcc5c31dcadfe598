"""Tune's per-trial result logs (``result.json``, ``progress.csv``) without a lost first epoch.

Tune's loggers write on the driver, in a staging copy of the experiment that is synced to the
storage every so often. When a trial is restarted after its worker died (a lost node, a killed
process), the loggers copy the trial's file back from the storage over the staging copy. If the
last sync came before the trial's first results, that copy is stale and those results are
lost from ``result.json`` for good (seen: a trial killed in its second epoch ended with rows
for epochs 2-4 only). The driver's own copy is never older than the storage's, so it is kept
when it exists; only a driver that starts afresh (``--resume`` after the driver itself
stopped) has no copy and fetches the storage's.
"""

from __future__ import annotations

from pathlib import Path

from ray.tune.logger import CSVLoggerCallback, JsonLoggerCallback


class _KeepDriverCopy:
    def _restore_from_remote(self, file_name: str, trial) -> None:
        if trial.local_path and Path(trial.local_path, file_name).exists():
            return
        super()._restore_from_remote(file_name, trial)  # type: ignore[misc]


class JsonResults(_KeepDriverCopy, JsonLoggerCallback):
    """``result.json``, with the driver's copy kept when a trial restarts (see above)."""


class CsvResults(_KeepDriverCopy, CSVLoggerCallback):
    """``progress.csv``, with the driver's copy kept when a trial restarts (see above)."""


def result_loggers() -> list:
    """The loggers that replace Tune's JSON and CSV defaults."""
    return [JsonResults(), CsvResults()]
