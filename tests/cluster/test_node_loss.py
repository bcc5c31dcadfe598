"""A worker node is lost in the middle of a study on a real multi-node cluster: its trial is
rescheduled on a replacement node, resumes from its last checkpoint on the shared storage, and
the study ends with every trial finished, none lost, none repeated.

The head runs no trials (0 CPU, as on a ``ray up`` cluster) and the first worker has one CPU, so
the first trial runs alone there; ASHA always lets the first trial to reach a rung go on, so it
is certain to be mid-run when the node is killed after its second epoch.
"""

from __future__ import annotations

import time

import pandas as pd
import pytest

from study.cluster import running
from study.results import read_trial_results
from study.studies import get

pytestmark = pytest.mark.slow

HEAD, LOST, REPLACEMENT = "127.0.0.2", "127.0.0.3", "127.0.0.4"


def wait_for_report(experiment, node_ip: str, iteration: int, driver, timeout: float = 180):
    """The trial directory whose trial reported ``iteration`` from ``node_ip``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and driver.poll() is None:
        for trial_dir in experiment.glob("train_*"):
            rows = read_trial_results(trial_dir)
            if any(r.get("node_ip") == node_ip and r.get("training_iteration") == iteration
                   for r in rows):
                return trial_dir
        time.sleep(0.1)
    return None


def test_trials_survive_the_loss_of_a_worker_node(make_cluster, launch, tmp_path):
    cluster = make_cluster(head_cpus=0, workers=(LOST,))
    # slow epochs (several seconds each) leave time to kill the node mid-trial, even when
    # Tune writes result.json to the storage seconds after the trial reported
    driver = launch(cluster, "smoke", "--storage", str(tmp_path), "--max-concurrent", "2",
                    "--config", "steps_per_epoch=150", wait=False)
    try:
        victim = wait_for_report(tmp_path / "smoke", LOST, 2, driver)
        assert victim is not None, (cluster.root / "driver.log").read_text()[-3000:]
        lost_pids = cluster.pids(LOST)
        cluster.kill_node(LOST)
        assert lost_pids and not running(lost_pids)
        cluster.add_worker(REPLACEMENT, cpus=1)
        assert driver.wait(timeout=300) == 0, (cluster.root / "driver.log").read_text()[-3000:]
    finally:
        if driver.poll() is None:
            driver.kill()
            driver.wait()

    study = get("smoke")
    trials = pd.read_parquet(tmp_path / "smoke" / "trials.parquet")
    assert len(trials) == study.total_trials
    assert (trials["status"] == "TERMINATED").all()
    for trial_dir in (tmp_path / "smoke").glob("train_*"):  # nothing lost, nothing repeated
        iterations = [r["training_iteration"] for r in read_trial_results(trial_dir)]
        assert iterations == list(range(1, len(iterations) + 1)), trial_dir.name

    rows = read_trial_results(victim)
    before = [r for r in rows if r["node_ip"] == LOST]
    after = [r for r in rows if r["node_ip"] == REPLACEMENT]
    assert [r["training_iteration"] for r in before][:2] == [1, 2]
    assert after, "the interrupted trial did not go on on the replacement node"
    # it went on from the checkpoint of its last epoch on the lost node, not from scratch
    assert after[0]["start_epoch"] == before[-1]["training_iteration"] + 1
    assert after[-1]["training_iteration"] == study.budget.max_epochs
    assert REPLACEMENT in set(trials["node_ip"].str.split(",").explode())

