"""A worker node is lost in the middle of a study on a real multi-node cluster: its trial is
rescheduled on a replacement node, resumes from its last checkpoint on the shared storage, and
the study ends with every trial finished, none lost, none repeated.

The head runs no trials (0 CPU, as on a ``ray up`` cluster) and the first worker has one CPU, so
trials run there one at a time until it is lost. With one search trial per arm ASHA stops no
trial early (the first trial to reach a rung always goes on), so the first trial whose second
epoch the driver takes in has at least one more to go (a search trial runs 3 epochs, a confirm
trial 4); the node is killed once that trial is training its third epoch.
"""

from __future__ import annotations

import re
import time
from dataclasses import replace
from pathlib import Path

import pandas as pd
import psutil
import pytest

from study.cluster import running
from study.results import read_trial_results
from study.studies import get

pytestmark = pytest.mark.slow

HEAD, LOST, REPLACEMENT = "127.0.0.2", "127.0.0.3", "127.0.0.4"
MAX_EPOCHS = 4


def wait_for_epoch(log: Path, epoch: int, driver, timeout: float = 180) -> str | None:
    """The id of the first trial whose ``epoch`` the driver has taken in: its progress line
    (``[  12 s] <trial id> <arm> epoch 2: ...``), printed as the result arrives; Tune brings
    the experiment's files on the storage up to date only every ten seconds or more."""
    line = re.compile(rf"^\[\s*\d+ s\] (\S+) .* epoch {epoch}: ", re.MULTILINE)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and driver.poll() is None:
        match = line.search(log.read_text(errors="replace"))
        if match:
            return match.group(1)
        time.sleep(0.02)
    return None


def wait_for_training(pids: set[int], cpu_s: float = 0.03, timeout: float = 60) -> bool:
    """Wait until the trial actors among ``pids`` (Ray titles them ``ray::ImplicitFunc...``)
    have used ``cpu_s`` more CPU seconds. After the driver takes in an epoch's result it asks
    the actor for the epoch's checkpoint (a call that takes a millisecond of CPU) and only then
    lets it train on, so this much CPU means the checkpoint is registered and the next epoch
    under way; counted in CPU time, not wall time, it holds however busy the machine is."""
    actors = []
    for pid in pids:
        try:
            process = psutil.Process(pid)
            if process.cmdline()[:1] and process.cmdline()[0].startswith("ray::ImplicitFunc"):
                actors.append(process)
        except psutil.Error:
            continue
    assert actors, "no trial actor among the node's processes"

    def used() -> float:
        return sum(sum(a.cpu_times()[:2]) for a in actors)

    start, deadline = used(), time.monotonic() + timeout
    while time.monotonic() < deadline:
        if used() - start >= cpu_s:
            return True
        time.sleep(0.005)
    return False


def test_trials_survive_the_loss_of_a_worker_node(make_cluster, launch, tmp_path):
    cluster = make_cluster(head_cpus=0, workers=(LOST,))
    log = cluster.root / "driver.log"
    # 3 search and 6 confirm trials of 4 short epochs (10 steps and a validation: about 0.25 s
    # of CPU each; the victim is killed within 0.1 s of CPU into its third)
    driver = launch(cluster, "smoke", "--storage", str(tmp_path), "--max-concurrent", "2",
                    "--num-samples", "1", "--max-epochs", str(MAX_EPOCHS),
                    "--config", "steps_per_epoch=10", wait=False)
    try:
        victim_id = wait_for_epoch(log, 2, driver)
        assert victim_id is not None, log.read_text()[-3000:]
        lost_pids = cluster.pids(LOST)
        assert wait_for_training(lost_pids), log.read_text()[-3000:]
        cluster.kill_node(LOST)
        assert lost_pids and not running(lost_pids)
        cluster.add_worker(REPLACEMENT, cpus=1)
        assert driver.wait(timeout=300) == 0, log.read_text()[-3000:]
    finally:
        if driver.poll() is None:
            driver.kill()
            driver.wait()

    smoke = get("smoke")
    study = replace(smoke, budget=replace(smoke.budget.with_max_epochs(MAX_EPOCHS), num_samples=1))
    trials = pd.read_parquet(tmp_path / "smoke" / "trials.parquet")
    assert len(trials) == study.total_trials
    assert (trials["status"] == "TERMINATED").all()
    for trial_dir in (tmp_path / "smoke").glob("train_*"):  # nothing lost, nothing repeated
        iterations = [r["training_iteration"] for r in read_trial_results(trial_dir)]
        assert iterations == list(range(1, len(iterations) + 1)), trial_dir.name

    [victim] = (tmp_path / "smoke").glob(f"train_*_{victim_id}_*")
    rows = read_trial_results(victim)
    before = [r for r in rows if r["node_ip"] == LOST]
    after = [r for r in rows if r["node_ip"] == REPLACEMENT]
    assert [r["training_iteration"] for r in before][:2] == [1, 2]
    assert after, "the interrupted trial did not go on on the replacement node"
    # it went on from the checkpoint of its last epoch on the lost node, not from scratch
    assert after[0]["start_epoch"] == before[-1]["training_iteration"] + 1
    horizon = {"search": study.budget.search_horizon, "confirm": study.budget.max_epochs}
    [phase] = trials.loc[trials["trial_id"] == victim_id, "phase"]
    assert after[-1]["training_iteration"] == horizon[phase]
    assert REPLACEMENT in set(trials["node_ip"].str.split(",").explode())
