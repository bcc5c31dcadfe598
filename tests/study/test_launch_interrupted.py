"""Interrupted and failing runs: nothing finished is lost, nothing is run twice."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from study.experiment_format import SCHEDULER_STATE_FILE
from study.results import read_trial_results, tune_trials
from study.studies import get

pytestmark = pytest.mark.slow


def test_failed_trials_and_killed_workers(tmp_path, study_cache, launcher):
    """One run for two failure paths: every group trial's loss becomes NaN at its first epoch
    (those trials error, the others finish), and every other trial kills its own worker
    process once at epoch index 1 (it resumes from its checkpoint, losing and repeating
    nothing)."""
    result = launcher(
        "smoke", "--storage", str(tmp_path), "--arms", "batch", "group", "--num-samples", "1",
        "--config", "_test_nan_at_epoch=0", "--config", '_test_nan_arm="group"',
        "--config", "_test_kill_at_epoch=1",
        cache=study_cache,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    trials = pd.read_parquet(tmp_path / "smoke" / "trials.parquet")
    failed = trials[trials["status"] == "ERROR"]
    assert set(failed["config/norm_arm"]) == {"group"} and len(failed) == 1
    assert failed["error"].str.contains("training loss became nan").all()
    assert (trials[trials["config/norm_arm"] != "group"]["status"] == "TERMINATED").all()
    # an arm whose every search trial failed has nothing to confirm; the others are confirmed
    confirmed = trials[trials["phase"] == "confirm"]
    assert set(confirmed["arm"]) == {"batch"}
    assert "group                    not confirmed" in result.stdout

    killed = [d for d in (tmp_path / "smoke").iterdir() if (d / "killed_once").exists()]
    assert killed, "no trial reached the kill point"
    for trial_dir in killed:
        rows = read_trial_results(trial_dir)
        iterations = reported_iterations(trial_dir)
        assert iterations == list(range(1, len(iterations) + 1))  # nothing repeated or lost
        # the first epoch after the restart started from the checkpoint of epoch 1
        assert [r["start_epoch"] for r in rows][1:] and rows[-1]["start_epoch"] == 2


def ended_trials(experiment: Path) -> dict[str, int]:
    """Trials whose last result in the storage is final (``max_epochs`` reached, or ASHA's
    stop recorded in the scheduler's state), with their result counts, by trial directory.
    Tune copies its results to the storage together with its snapshot of the experiment."""
    state = experiment / SCHEDULER_STATE_FILE
    try:
        stopped = set(json.loads(state.read_text())["stopped"]) if state.exists() else set()
    except json.JSONDecodeError:  # caught mid-write
        stopped = set()
    ended = {}
    for d in experiment.glob("train_*"):
        results = read_trial_results(d)
        if results and (results[-1]["epoch"] == results[-1]["config"]["max_epochs"]
                        or results[-1]["trial_id"] in stopped):
            ended[d.name] = len(results)
    return ended


def start_one_arm_driver(tmp_path: Path, study_cache: Path, repo_root: Path, **popen):
    """The smoke study's batch arm (2 search, then 2 confirm trials, one at a time) in a
    driver process; Tune snapshots every second rather than every 10 s or more, so results
    reach the storage, and a stop can come, sooner. The driver and its arguments."""
    env = {**os.environ, "MRI_STUDY_CACHE": str(study_cache), "PYTHONUNBUFFERED": "1",
           "TUNE_GLOBAL_CHECKPOINT_S": "1"}
    args = ["smoke", "--storage", str(tmp_path), "--arms", "batch", "--max-concurrent", "1",
            "--config", "steps_per_epoch=25"]
    driver = subprocess.Popen([sys.executable, "-m", "study.launch", *args], cwd=repo_root,
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True, **popen)
    return driver, args


def test_killed_driver_resumes_and_runs_every_trial_once(
    tmp_path, study_cache, launcher, repo_root
):
    """SIGKILL to the driver's whole process group: --resume finishes the study; trials that
    had ended by Tune's last snapshot are not run again, and no trial's history has a gap or a
    repeat. One arm: 2 search trials, then 2 confirm trials."""
    driver, args = start_one_arm_driver(tmp_path, study_cache, repo_root,
                                        start_new_session=True)
    experiment = tmp_path / "smoke"
    deadline = time.time() + 300
    while time.time() < deadline and len(ended_trials(experiment)) < 2:
        time.sleep(0.3)
    assert driver.poll() is None, "the study ended before it could be killed"
    os.killpg(driver.pid, signal.SIGKILL)
    driver.wait()
    before = ended_trials(experiment)
    assert len(before) >= 2, "the study did not get far enough before the deadline"

    resume_to_the_end(launcher, args, study_cache, experiment)
    for d in experiment.glob("train_*"):
        iterations = [r["training_iteration"] for r in read_trial_results(d)]
        assert iterations == list(range(1, len(iterations) + 1)), d.name
    for name, count in before.items():  # finished trials were not run again
        assert len(read_trial_results(experiment / name)) == count


def resume_to_the_end(launcher, args: list[str], study_cache: Path, experiment: Path):
    """``--resume`` the one-arm driver's study: it exits 0 with every search and confirm trial
    of the arm terminated. Returns the smoke study's budget."""
    result = launcher(*args, "--resume", cache=study_cache)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    trials = pd.read_parquet(experiment / "trials.parquet")
    budget = get("smoke").budget
    assert len(trials) == budget.num_samples + budget.confirm_seeds
    assert (trials["status"] == "TERMINATED").all()
    return budget


def reported_iterations(trial_dir: Path) -> list[int]:
    """``training_iteration`` of every line of the trial's result.json, repeats included."""
    lines = (trial_dir / "result.json").read_text().splitlines()
    return [json.loads(line)["training_iteration"] for line in lines if line.strip()]


def test_sigterm_stops_cleanly_and_resume_loses_and_repeats_nothing(
    tmp_path, study_cache, launcher, repo_root
):
    """What `ray job stop` or a preempted node sends: the run ends like Ctrl-C, says how to
    resume, exits 143; --resume then finishes without losing an epoch or running a finished
    trial again. A running trial may repeat one epoch: Tune takes its last snapshot, then
    stops the trials and still logs a result that arrives meanwhile (`runner.cleanup` after
    `runner.checkpoint(force=True)` in `tune.run`), so that epoch's checkpoint is not in the
    state the resume starts from."""
    driver, args = start_one_arm_driver(tmp_path, study_cache, repo_root)
    experiment = tmp_path / "smoke"
    deadline = time.time() + 300
    while time.time() < deadline and sum(
            bool(read_trial_results(d)) for d in experiment.glob("train_*")) < 3:
        time.sleep(0.3)
    assert driver.poll() is None, "the study ended before it could be stopped"
    driver.send_signal(signal.SIGTERM)
    out, _ = driver.communicate(timeout=180)
    assert driver.returncode == 143, out[-3000:]
    assert "INTERRUPTED" in out and "--resume" in out and "best configuration" not in out
    assert "per arm: the confirmed configuration" not in out
    # finished: what the state the resume starts from says (a trial whose last result Tune
    # logged after its final snapshot is still running there, and may repeat that epoch)
    finished = {t.path.name for t in tune_trials(experiment) if t.status == "TERMINATED"}
    budget = resume_to_the_end(launcher, args, study_cache, experiment)
    for d in experiment.glob("train_*"):
        history = [r["training_iteration"] for r in read_trial_results(d)]
        assert history == list(range(1, len(history) + 1)), d.name  # nothing lost
        reported = reported_iterations(d)
        if d.name in finished:  # a finished trial was not run again
            assert reported == history, d.name
        else:  # a running trial repeated at most the epoch Tune logged after its snapshot
            assert len(reported) - len(history) <= 1, (d.name, reported)
    # the resumed searcher went on with the Optuna study in the journal: one trial per search
    # trial, each finished, none asked twice
    import optuna

    from study.searchers import journal_storage

    found = optuna.load_study(study_name="batch",
                              storage=journal_storage(experiment / "optuna.journal")).trials
    assert [t.state for t in found] == [optuna.trial.TrialState.COMPLETE] * budget.num_samples
    # every finished trial's last checkpoint exists; older ones were pruned at the end
    for d in experiment.glob("train_*"):
        assert len(list(d.glob("checkpoint_*"))) == 1
