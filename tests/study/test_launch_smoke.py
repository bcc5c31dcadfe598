"""The smoke study end to end, and the failure paths that must not lose finished work."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from study.experiment_format import SCHEDULER_STATE_FILE
from study.results import read_trial_results
from study.studies import get

pytestmark = pytest.mark.slow


def test_smoke_study_end_to_end(smoke_run):
    study = get("smoke")
    trials, metrics = smoke_run["trials"], smoke_run["metrics"]
    budget, arms = study.budget, list(study.strata)
    assert len(trials) == study.total_trials == (budget.num_samples + budget.confirm_seeds) * 3
    assert (trials["status"] == "TERMINATED").all()
    assert (trials["arm"] == trials["config/norm_arm"]).all()
    phases = trials.groupby(["arm", "phase"]).size().to_dict()
    assert phases == {**{(a, "search"): budget.num_samples for a in arms},
                      **{(a, "confirm"): budget.confirm_seeds for a in arms}}
    search, confirm = trials[trials["phase"] == "search"], trials[trials["phase"] == "confirm"]
    _assert_asha_stopped_the_weaker_trials(smoke_run["path"], search)
    assert (confirm["iterations"] == budget.max_epochs).all()
    assert not confirm["stopped_early"].any()
    assert trials["best/val_auroc"].between(0, 1).all()
    tuned = ["config/lr", "config/weight_decay", "config/batch_size", "config/groups"]
    for arm, mine in confirm.groupby("arm"):
        # each arm's confirm trials retrain its best search trial, each with a new seed
        arm_search = search[search["arm"] == arm]
        top = arm_search[arm_search["best/val_auroc"] == arm_search["best/val_auroc"].max()]
        picked = {tuple(r) for r in mine[tuned].astype(str).to_numpy()}
        assert len(picked) == 1 and picked <= {tuple(r) for r in top[tuned].astype(str)
                                               .to_numpy()}
        assert mine["config/seed"].nunique() == budget.confirm_seeds
        assert not set(mine["config/seed"]) & set(arm_search["config/seed"])
    # search trials only validate; confirm trials evaluate every set at their best epoch
    tests = metrics[~metrics["eval_set"].str.startswith("val")]
    assert set(tests["trial_id"]) == set(confirm["trial_id"])
    at = tests.groupby("trial_id")["iteration"].unique().map(lambda v: int(v[0]))
    assert at.to_dict() == confirm.set_index("trial_id")["best_iteration"].astype(int).to_dict()
    sets = tests.groupby(["eval_set", "shift", "severity"]).size().index
    assert ("knee_pd_3T", "noise", 3) in sets and ("brain_t2_3T", "motion", 1) in sets
    assert ("knee_pd_1.5T", "none", 0) in sets
    assert not tests[tests["eval_set"] == "knee_pd_1.5T"]["in_distribution"].any()
    assert tests[tests["eval_set"] == "knee_pd_3T"]["in_distribution"].all()
    objective = metrics[(metrics["eval_set"] == "val") & (metrics["metric"] == "val_auroc")]
    assert len(objective) == trials["iterations"].sum()
    assert not metrics.duplicated(
        ["trial_id", "iteration", "eval_set", "shift", "severity", "metric"]
    ).any()
    out = smoke_run["result"].stdout
    assert "per arm: the confirmed configuration" in out and "stopped early by ASHA" in out
    # where to look next: commands on the experiment directory, not Ray's temporary one
    path = smoke_run["path"]
    assert f"-m analysis.report {path}" in out and f"--logdir {path}" in out
    assert f"EXPERIMENT_DIR={path}" in out and "driver_artifacts" not in out
    info = json.loads((smoke_run["path"] / "study.json").read_text())
    assert info["study"] == "smoke" and info["metric"] == "val_auroc"
    assert info["task"] == "diagnosis" and info["confirm_seeds"] == budget.confirm_seeds


def _assert_asha_stopped_the_weaker_trials(experiment, search: pd.DataFrame) -> None:
    """With two search trials per arm and a first rung at epoch 1, ASHA (reduction factor 2)
    stops the trial that reaches the rung second if it scored below the first, and only then;
    which one arrives second depends on scheduling, so the test checks the rule, not a count."""
    state = json.loads((experiment / "scheduler_state.json").read_text())
    stopped = set(search.loc[search["stopped_early"], "trial_id"])
    assert stopped == set(state["stopped"])
    assert (search.loc[search["stopped_early"], "iterations"] < search["iterations"].max()).all()
    for arm, rungs in state["rungs"].items():
        first = rungs[-1]["recorded"]  # Ray lists rungs from the last milestone down
        assert set(first) == set(search.loc[search["arm"] == arm, "trial_id"]), arm
        for trial in stopped & set(first):  # below another trial at the rung it stopped at
            assert any(trial in r["recorded"] and r["recorded"][trial]
                       < max(r["recorded"].values()) for r in rungs), (arm, rungs)
        if len(set(first.values())) == 1 and all(len(r["recorded"]) < 2 for r in rungs[:-1]):
            assert not stopped & set(first), (arm, rungs)


def test_predictions_of_the_confirm_trials(smoke_run):
    from study.experiment_format import PREDICTIONS_COLUMNS

    trials, metrics = smoke_run["trials"], smoke_run["metrics"]
    pred = pd.read_parquet(smoke_run["path"] / "predictions.parquet")
    assert tuple(pred.columns) == PREDICTIONS_COLUMNS
    confirm = trials[trials["phase"] == "confirm"]
    assert set(pred["trial_id"]) == set(confirm["trial_id"])
    tests = metrics[~metrics["eval_set"].str.startswith("val")]
    assert set(map(tuple, pred[["eval_set", "shift", "severity"]].drop_duplicates()
                   .to_numpy())) == set(map(tuple, tests[["eval_set", "shift", "severity"]]
                                            .drop_duplicates().to_numpy()))
    assert pred["score"].between(0, 1).all() and set(pred["label"]) <= {0, 1}
    # one row per trial, set, slice and finding; every trial scored the same slices and labels
    key = ["trial_id", "eval_set", "shift", "severity", "volume", "slice", "finding"]
    assert not pred.duplicated(key).any()
    per_trial = [g.drop(columns=["trial_id", "score"]).sort_values(key[1:])
                 .reset_index(drop=True) for _, g in pred.groupby("trial_id")]
    for other in per_trial[1:]:
        pd.testing.assert_frame_equal(per_trial[0], other)
    # the reported per-set scores are the ones the predictions give (NaN where a set holds
    # one class only, as the tiny data's single test volume often does)
    from mri.metrics import diagnosis_score, finding_aurocs

    trial = confirm["trial_id"].iloc[0]
    reported = tests[(tests["trial_id"] == trial) & (tests["metric"] == "auroc")]
    for row in reported.itertuples():
        part = pred[(pred["trial_id"] == trial) & (pred["eval_set"] == row.eval_set)
                    & (pred["shift"] == row.shift) & (pred["severity"] == row.severity)]
        wide = part.pivot_table(index=["volume", "slice"], columns="finding",
                                values=["label", "score"])
        expected = diagnosis_score(finding_aurocs(
            wide["label"].to_numpy(), wide["score"].to_numpy(), list(wide["label"].columns)))
        assert row.value == pytest.approx(expected, abs=1e-6, nan_ok=True)


def test_failed_trials_and_killed_workers(tmp_path, study_cache, launcher):
    """One run for two failure paths: every group trial's loss becomes NaN at its first epoch
    (those trials error, the others finish), and every other trial kills its own worker
    process once at epoch index 1 (it resumes from its checkpoint, losing and repeating
    nothing)."""
    result = launcher(
        "smoke", "--storage", str(tmp_path), "--arms", "batch", "group",
        "--config", "_test_nan_at_epoch=0", "--config", '_test_nan_arm="group"',
        "--config", "_test_kill_at_epoch=1",
        cache=study_cache,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    trials = pd.read_parquet(tmp_path / "smoke" / "trials.parquet")
    failed = trials[trials["status"] == "ERROR"]
    assert set(failed["config/norm_arm"]) == {"group"} and len(failed) == 2
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


def test_killed_driver_resumes_and_runs_every_trial_once(
    tmp_path, study_cache, launcher, repo_root
):
    """SIGKILL to the driver's whole process group: --resume finishes the study; trials that
    had ended by Tune's last snapshot are not run again, and no trial's history has a gap or a
    repeat. One arm: 2 search trials, then 2 confirm trials."""
    # a snapshot every second rather than every 10 s or more: the kill comes sooner
    env = {**os.environ, "MRI_STUDY_CACHE": str(study_cache), "PYTHONUNBUFFERED": "1",
           "TUNE_GLOBAL_CHECKPOINT_S": "1"}
    args = ["smoke", "--storage", str(tmp_path), "--arms", "batch", "--max-concurrent", "1",
            "--config", "steps_per_epoch=25"]
    driver = subprocess.Popen([sys.executable, "-m", "study.launch", *args], cwd=repo_root,
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True, start_new_session=True)
    experiment = tmp_path / "smoke"
    deadline = time.time() + 300
    while time.time() < deadline and len(ended_trials(experiment)) < 2:
        time.sleep(0.3)
    assert driver.poll() is None, "the study ended before it could be killed"
    os.killpg(driver.pid, signal.SIGKILL)
    driver.wait()
    before = ended_trials(experiment)
    assert len(before) >= 2, "the study did not get far enough before the deadline"

    result = launcher(*args, "--resume", cache=study_cache)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    trials = pd.read_parquet(experiment / "trials.parquet")
    budget = get("smoke").budget
    assert len(trials) == budget.num_samples + budget.confirm_seeds
    assert (trials["status"] == "TERMINATED").all()
    for d in experiment.glob("train_*"):
        iterations = [r["training_iteration"] for r in read_trial_results(d)]
        assert iterations == list(range(1, len(iterations) + 1)), d.name
    for name, count in before.items():  # finished trials were not run again
        assert len(read_trial_results(experiment / name)) == count


def reported_iterations(trial_dir: Path) -> list[int]:
    """``training_iteration`` of every line of the trial's result.json, repeats included."""
    lines = (trial_dir / "result.json").read_text().splitlines()
    return [json.loads(line)["training_iteration"] for line in lines if line.strip()]


def test_sigterm_stops_cleanly_and_resume_loses_and_repeats_nothing(
    tmp_path, study_cache, launcher, repo_root
):
    """What `ray job stop` or a preempted node sends: the run ends like Ctrl-C, says how to
    resume, exits 143; --resume then finishes without losing or repeating an epoch."""
    # results reach the storage with Tune's snapshots: every second rather than 10 s or more
    env = {**os.environ, "MRI_STUDY_CACHE": str(study_cache), "PYTHONUNBUFFERED": "1",
           "TUNE_GLOBAL_CHECKPOINT_S": "1"}
    args = ["smoke", "--storage", str(tmp_path), "--arms", "batch", "--max-concurrent", "1",
            "--config", "steps_per_epoch=25"]
    driver = subprocess.Popen([sys.executable, "-m", "study.launch", *args], cwd=repo_root,
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True)
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
    before = {d.name: len(read_trial_results(d)) for d in experiment.glob("train_*")}
    result = launcher(*args, "--resume", cache=study_cache)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    trials = pd.read_parquet(experiment / "trials.parquet")
    budget = get("smoke").budget
    assert len(trials) == budget.num_samples + budget.confirm_seeds
    assert (trials["status"] == "TERMINATED").all()
    for d in experiment.glob("train_*"):
        iterations = reported_iterations(d)
        assert iterations == list(range(1, len(iterations) + 1)), d.name
        assert len(iterations) >= before.get(d.name, 0)
    # every finished trial's last checkpoint exists; older ones were pruned at the end
    for d in experiment.glob("train_*"):
        assert len(list(d.glob("checkpoint_*"))) == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["no_such_study"], "valid studies: mixture_sweep"),
        (["smoke", "--resume", "--name", "never_ran"], "no experiment to resume"),
        (["mixture_sweep", "--smoke", "--config", 'mixture="joint:knee_pd_3T+nope"'],
         "--config mixture: it defines the arms"),
        (["smoke", "--num-samples", "0"], "--num-samples must be >= 1"),
        (["smoke", "--config", "lrr=0.1"], "--config lrr: not a config key of smoke"),
        (["smoke", "--config", 'norm="bogus"'], "--config norm: it defines the arms"),
        (["smoke", "--config", "lr=abc"], "--config lr='abc': expected a number"),
        (["smoke", "--config", "batch_size=-1"], "--config batch_size=-1: must be > 0"),
        (["smoke", "--config", "model=3"], "--config model=3: expected a value like 'resnet'"),
        (["smoke", "--cpus-per-trial", "0"], "--cpus-per-trial must be > 0"),
        (["smoke", "--arms", "batch", "nope"], "--arms: nope not an arm of smoke"),
        (["mixture_sweep", "--smoke", "--arms", "single:knee_pd_3T"], "--arms must include 'pool'"),
    ],
)
def test_bad_option_exits_2_before_ray(tmp_path, study_cache, monkeypatch, capsys, args,
                                       message):
    """In-process: these are refused before the data is built or Ray starts."""
    from study.launch import main

    monkeypatch.setenv("MRI_STUDY_CACHE", str(study_cache))
    assert main([*args, "--storage", str(tmp_path)]) == 2
    assert message in capsys.readouterr().err
    assert not list(tmp_path.glob("*/train_*"))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["smoke", "--cpus-per-trial", "64"], "no node of this Ray cluster has 64 CPU"),
        (["smoke", "--address", "127.0.0.1:1"], "--address 127.0.0.1:1: nothing answers"),
    ],
)
def test_bad_cluster_request_exits_2_before_training(tmp_path, study_cache, launcher, args,
                                                     message):
    result = launcher(*args, "--storage", str(tmp_path), cache=study_cache, timeout=120)
    assert result.returncode == 2, result.stdout + result.stderr
    assert message in result.stderr
    assert not list(tmp_path.glob("*/train_*"))


def test_storage_that_is_a_file_exits_2(tmp_path, study_cache, launcher):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    result = launcher("smoke", "--storage", str(blocker), cache=study_cache, timeout=120)
    assert result.returncode == 2 and "--storage" in result.stderr
    assert "cannot write the experiment directory" in result.stderr


def _tiny_copy(tmp_path):
    import shutil

    from mri.synth import generate

    data = generate(tmp_path / "data", preset="tiny", seed=1)
    return shutil.copytree(data, tmp_path / "copy")


def test_nan_kspace_exits_2_before_ray_naming_the_file(tmp_path, study_cache, launcher):
    import h5py

    data = _tiny_copy(tmp_path)
    victim = sorted(data.glob("*CORPD_FBK_Skyra*.h5"))[0]
    with h5py.File(victim, "r+") as f:
        k = f["kspace"][()]
        k[0, 0, 0, 0] = np.nan
        f["kspace"][...] = k
    result = launcher("smoke", "--data", str(data), "--storage", str(tmp_path / "runs"),
                      cache=study_cache, timeout=120)
    assert result.returncode == 2, result.stdout[-2000:] + result.stderr[-2000:]
    assert victim.name in result.stderr and "NaN" in result.stderr
    assert "Started a local Ray instance" not in result.stdout + result.stderr


def test_a_bad_annotation_row_exits_2_and_rows_for_absent_files_do_not(tmp_path, study_cache,
                                                                        launcher):
    from trainables.data import build_diagnosis_data

    data = _tiny_copy(tmp_path)
    csv = data / "annotations.csv"
    good = csv.read_text()
    csv.write_text(good + "file_not_here,0,No,1,1,2,2,Mass\n")
    bundle = build_diagnosis_data(data, ["knee_pd_3T", "brain_t2_3T"], [], (), ())
    assert bundle.notes and "1 annotation rows name 1 files that are not in" in bundle.notes[0]
    stem = sorted(data.glob("*CORPD_FBK_Skyra*.h5"))[0].stem
    csv.write_text(good + f"{stem},0,No,30,0,9,2,Mass\n")  # leaves the 32x32 image
    result = launcher("smoke", "--data", str(data), "--storage", str(tmp_path / "runs"),
                      cache=study_cache, timeout=120)
    assert result.returncode == 2 and "outside the 32x32 image" in result.stderr


def test_annotations_as_published_in_several_files(tmp_path, study_cache, monkeypatch, capsys):
    """--annotations knee.csv brain.csv instead of annotations.csv in the data directory:
    the same labels; a bad row is reported with its file, before Ray starts."""
    from study.launch import main
    from trainables.data import build_diagnosis_data

    data = _tiny_copy(tmp_path)
    rows = pd.read_csv(data / "annotations.csv", dtype=str, keep_default_na=False)
    knee, brain = tmp_path / "knee.csv", tmp_path / "brain.csv"
    is_brain = rows["file"].str.contains("AXT2")
    rows[~is_brain].to_csv(knee, index=False)
    rows[is_brain].to_csv(brain, index=False)
    dists = (["knee_pd_3T", "brain_t2_3T"], [], (), ())
    default = build_diagnosis_data(data, *dists)
    (data / "annotations.csv").unlink()
    given = build_diagnosis_data(data, *dists, annotation_csvs=[knee, brain])
    assert given.findings == default.findings
    assert np.array_equal(given.train.arrays["labels"], default.train.arrays["labels"])
    for a, b in zip(given.tests, default.tests, strict=True):
        assert np.array_equal(a.arrays["labels"], b.arrays["labels"])
    stem = rows.loc[is_brain, "file"].iloc[0]
    with open(brain, "a") as f:
        f.write(f"{stem},0,No,30,0,9,2,Mass\n")
    monkeypatch.setenv("MRI_STUDY_CACHE", str(study_cache))
    runs = tmp_path / "runs"
    assert main(["smoke", "--data", str(data), "--annotations", str(knee), str(brain),
                 "--storage", str(runs)]) == 2
    err = capsys.readouterr().err
    assert "brain.csv: line" in err and "outside the 32x32 image" in err
    assert main(["smoke", "--annotations", str(tmp_path / "nope.csv"), "--storage",
                 str(runs)]) == 2
    assert "--annotations " in capsys.readouterr().err


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
    for figure in ("validity.png", "headline.png", "ood_gap_by_arm.png", "gap_vs_severity.png",
                   "effective_robustness.png", "id_ood_vs_epoch.png"):
        assert (tmp_path / "report" / "figures" / figure).stat().st_size > 10_000, figure
        assert figure in html
    validity = pd.read_csv(tmp_path / "report" / "tables" / "validity.csv")
    assert set(validity["group"]) == set(get("smoke").strata)
    headline = pd.read_csv(tmp_path / "report" / "tables" / "headline.csv")
    assert set(headline["comparison"]) == {"batch - group", "batch - layer"}


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
    asha = smoke_run["trials"][smoke_run["trials"]["phase"] == "search"]
    keys = ["config/norm_arm", "config/lr", "config/weight_decay", "config/batch_size",
            "config/groups"]
    assert sorted(map(tuple, full[keys].astype(str).to_numpy())) == sorted(
        map(tuple, asha[keys].astype(str).to_numpy()))
    max_epochs = get("smoke").budget.max_epochs
    assert (full["iterations"] == max_epochs).all() and not full["stopped_early"].any()
    # same seed and configuration: a replayed trial repeats its (early-stopped) twin's epochs
    twin = asha.sort_values("stopped_early", ascending=False).iloc[0]
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
    assert result.returncode == 2 and "no search trials (no */params.json)" in result.stderr
