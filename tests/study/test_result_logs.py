"""Tune's result logs keep the driver's rows when a trial restarts after its worker died."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pyarrow.fs
from ray.tune.logger import JsonLoggerCallback

from study.result_logs import JsonResults


class FakeTrial(SimpleNamespace):
    __hash__ = object.__hash__  # Tune keys its open files by trial


def restarted_trial(tmp_path: Path) -> FakeTrial:
    """A trial restarted from a checkpoint whose storage copy of result.json is one sync behind
    the driver's staging copy: the storage has no row yet, the driver has epoch 1's."""
    staging, storage = tmp_path / "staging", tmp_path / "storage"
    staging.mkdir()
    storage.mkdir()
    (storage / "result.json").write_text("")
    (staging / "result.json").write_text(json.dumps({"training_iteration": 1}) + "\n")
    return FakeTrial(
        checkpoint=object(), local_path=str(staging), config={}, init_local_path=lambda: None,
        storage=SimpleNamespace(trial_fs_path=str(storage),
                                storage_filesystem=pyarrow.fs.LocalFileSystem()))


def rows_after_restart_and_one_result(logger, trial) -> list[int]:
    logger.log_trial_start(trial)
    logger.log_trial_result(2, trial, {"training_iteration": 2})
    logger.log_trial_end(trial)
    lines = Path(trial.local_path, "result.json").read_text().splitlines()
    return [json.loads(line)["training_iteration"] for line in lines]


def test_tunes_own_logger_loses_the_rows_the_storage_has_not_seen(tmp_path):
    # the behaviour the project's logger exists for; if Tune fixes it, this test says so
    trial = restarted_trial(tmp_path)
    assert rows_after_restart_and_one_result(JsonLoggerCallback(), trial) == [2]


def test_the_driver_copy_is_kept_on_restart(tmp_path):
    trial = restarted_trial(tmp_path)
    assert rows_after_restart_and_one_result(JsonResults(), trial) == [1, 2]


def test_a_driver_without_a_copy_takes_the_storages(tmp_path):
    trial = restarted_trial(tmp_path)
    Path(trial.local_path, "result.json").unlink()
    Path(trial.storage.trial_fs_path, "result.json").write_text('{"training_iteration": 1}\n')
    assert rows_after_restart_and_one_result(JsonResults(), trial) == [1, 2]
