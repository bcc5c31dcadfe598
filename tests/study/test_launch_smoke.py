"""The smoke study end to end, and the failure paths that must not lose finished work."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest

from study.results import read_trial_results
from study.studies import get

pytestmark = pytest.mark.slow


def test_smoke_study_end_to_end(smoke_run):
    study = get("smoke")
    trials, metrics = smoke_run["trials"], smoke_run["metrics"]
    n = study.budget.num_samples * len(study.strata)
    assert len(trials) == n
    assert (trials["status"] == "TERMINATED").all()
    assert trials["config/norm_arm"].value_counts().to_dict() == {
        arm: study.budget.num_samples for arm in study.strata
    }
    assert trials["stopped_early"].any(), "ASHA stopped no trial"
    assert (trials["iterations"] == study.budget.max_epochs).any()
    assert trials["best/val_auroc"].between(0, 1).all()
    # every evaluation set is in the long table: clean, shifted and the other scanner
    sets = metrics.groupby(["eval_set", "shift", "severity"]).size().index
    assert ("knee_pd_3T", "noise", 3) in sets and ("brain_t2_3T", "motion", 1) in sets
    assert ("knee_pd_1.5T", "none", 0) in sets
    ood = metrics[metrics["eval_set"] == "knee_pd_1.5T"]
    assert not ood["in_distribution"].any()
    assert metrics[metrics["eval_set"] == "knee_pd_3T"]["in_distribution"].all()
    # one metric row per trial, iteration and value reported
    assert not metrics.duplicated(
        ["trial_id", "iteration", "eval_set", "shift", "severity", "metric"]
    ).any()
    out = smoke_run["result"].stdout
    assert "best configuration:" in out and "stopped early by ASHA" in out
    info = json.loads((smoke_run["path"] / "study.json").read_text())
    assert info["study"] == "smoke" and info["metric"] == "val_auroc"


def test_nan_trial_errors_and_the_others_finish(tmp_path, study_cache, launcher):
    result = launcher(
        "smoke",
        "--storage",
        str(tmp_path),
        "--config",
        "_test_nan_at_epoch=0",
        "--config",
        '_test_nan_arm="group"',
        cache=study_cache,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    trials = pd.read_parquet(tmp_path / "smoke" / "trials.parquet")
    failed = trials[trials["status"] == "ERROR"]
    assert set(failed["config/norm_arm"]) == {"group"} and len(failed) == 2
    assert failed["error"].str.contains("training loss became nan").all()
    assert (trials[trials["config/norm_arm"] != "group"]["status"] == "TERMINATED").all()


def test_trial_resumes_from_its_checkpoint_after_its_worker_dies(tmp_path, study_cache, launcher):
    # every trial that reaches epoch index 1 kills its own worker process there once
    result = launcher(
        "smoke", "--storage", str(tmp_path), "--config", "_test_kill_at_epoch=1", cache=study_cache
    )
    assert result.returncode == 0, result.stderr[-3000:]
    trials = pd.read_parquet(tmp_path / "smoke" / "trials.parquet")
    assert (trials["status"] == "TERMINATED").all()
    killed = [d for d in (tmp_path / "smoke").iterdir() if (d / "killed_once").exists()]
    assert killed, "no trial reached the kill point"
    for trial_dir in killed:
        rows = read_trial_results(trial_dir)
        iterations = [r["training_iteration"] for r in rows]
        assert iterations == list(range(1, len(iterations) + 1))  # nothing repeated or lost
        # the first epoch after the restart started from the checkpoint of epoch 1
        assert [r["start_epoch"] for r in rows][1:] and rows[-1]["start_epoch"] == 2


def test_killed_driver_resumes_and_runs_every_trial_once(
    tmp_path, study_cache, launcher, repo_root
):
    env = {**os.environ, "MRI_STUDY_CACHE": str(study_cache), "PYTHONUNBUFFERED": "1"}
    args = [
        sys.executable,
        "-m",
        "study.launch",
        "smoke",
        "--storage",
        str(tmp_path),
        "--max-concurrent",
        "1",
        "--config",
        "steps_per_epoch=25",
    ]
    driver = subprocess.Popen(
        args,
        cwd=repo_root,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    experiment = tmp_path / "smoke"
    # one trial at a time: once a third trial has reported, the first two have ended
    deadline = time.time() + 300
    started: list = []
    while time.time() < deadline and len(started) < 3:
        started = sorted(
            (d for d in experiment.glob("train_*") if read_trial_results(d)),
            key=lambda d: d.stat().st_ctime,
        )
        time.sleep(0.3)
    os.killpg(driver.pid, signal.SIGKILL)
    driver.wait()
    assert len(started) >= 3, "the study did not get far enough before the deadline"
    before = {d.name: len(read_trial_results(d)) for d in started[:-1]}

    result = launcher("smoke", "--storage", str(tmp_path), "--resume", cache=study_cache)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    trials = pd.read_parquet(experiment / "trials.parquet")
    study = get("smoke")
    assert len(trials) == study.budget.num_samples * len(study.strata)
    assert (trials["status"] == "TERMINATED").all()
    for d in experiment.glob("train_*"):
        iterations = [r["training_iteration"] for r in read_trial_results(d)]
        assert iterations == list(range(1, len(iterations) + 1)), d.name
    for name, count in before.items():  # finished trials were not run again
        assert len(read_trial_results(experiment / name)) == count


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["no_such_study"], "valid studies: mixture_sweep"),
        (["smoke", "--cpus-per-trial", "64"], "no node of this Ray cluster has 64 CPU"),
        (["smoke", "--resume", "--name", "never_ran"], "no experiment to resume"),
        (
            ["mixture_sweep", "--smoke", "--config", 'mixture="joint:knee_pd_3T+nope"'],
            "nope, not a training distribution",
        ),
        (["smoke", "--num-samples", "0"], "--num-samples must be >= 1"),
    ],
)
def test_bad_input_exits_2_before_training(tmp_path, study_cache, launcher, args, message):
    result = launcher(*args, "--storage", str(tmp_path), cache=study_cache, timeout=120)
    assert result.returncode == 2, result.stdout + result.stderr
    assert message in result.stderr
    assert not list(tmp_path.glob("*/train_*"))


def test_data_without_the_study_distributions(tmp_path, study_cache, launcher):
    from mri.synth import generate

    data = generate(tmp_path / "data", preset="tiny", seed=1)
    for f in data.glob("*brain*"):
        f.unlink()
    result = launcher(
        "smoke", "--data", str(data), "--storage", str(tmp_path), cache=study_cache, timeout=120
    )
    assert result.returncode == 2
    assert "needs the distributions brain_t2_3T" in result.stderr


def test_report_from_the_smoke_study(smoke_run, tmp_path):
    from analysis.report import build_report

    index = build_report(smoke_run["path"], out=tmp_path / "report", strict=True)
    html = index.read_text()
    for figure in ("ood_gap_by_group.png", "metric_vs_severity.png",
                   "effective_robustness.png", "id_ood_vs_epoch.png"):
        assert (tmp_path / "report" / "figures" / figure).stat().st_size > 10_000, figure
        assert figure in html


def test_an_existing_experiment_is_not_overwritten(smoke_run, study_cache, launcher):
    before = (smoke_run["path"] / "trials.parquet").read_bytes()
    result = launcher("smoke", "--storage", str(smoke_run["path"].parent), cache=study_cache,
                      timeout=120)
    assert result.returncode == 2 and "already exists" in result.stderr
    assert (smoke_run["path"] / "trials.parquet").read_bytes() == before


def test_replay_without_early_stopping_trains_the_same_configurations_fully(
    smoke_run, tmp_path, study_cache, launcher
):
    result = launcher("smoke", "--storage", str(tmp_path), "--name", "full",
                      "--no-early-stopping", "--replay", str(smoke_run["path"]),
                      cache=study_cache)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    full = pd.read_parquet(tmp_path / "full" / "trials.parquet")
    asha = smoke_run["trials"]
    keys = ["config/norm_arm", "config/lr", "config/weight_decay", "config/batch_size",
            "config/groups"]
    assert sorted(map(tuple, full[keys].astype(str).to_numpy())) == sorted(
        map(tuple, asha[keys].astype(str).to_numpy()))
    max_epochs = get("smoke").budget.max_epochs
    assert (full["iterations"] == max_epochs).all() and not full["stopped_early"].any()
    # same seed and configuration: a replayed trial repeats its early-stopped twin's epochs
    twin = asha[asha["stopped_early"]].iloc[0]
    match = full[(full[keys].astype(str) == twin[keys].astype(str)).all(axis=1)].iloc[0]
    a = read_trial_results(next(smoke_run["path"].glob(f"*{twin['trial_id']}*")))
    f = read_trial_results(next((tmp_path / "full").glob(f"*{match['trial_id']}*")))
    for ra, rf in zip(a, f[: len(a)], strict=True):
        assert rf["val_auroc"] == pytest.approx(ra["val_auroc"], abs=1e-6)
    info = json.loads((tmp_path / "full" / "study.json").read_text())
    assert info["early_stopping"] is False and info["replay_of"] == str(smoke_run["path"])


def test_replay_of_a_folder_without_trials_exits_2(tmp_path, study_cache, launcher):
    result = launcher("smoke", "--storage", str(tmp_path), "--replay", str(tmp_path),
                      cache=study_cache, timeout=120)
    assert result.returncode == 2 and "no trials (no */params.json)" in result.stderr
