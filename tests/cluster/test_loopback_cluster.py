"""The smoke study on a real two-node Ray cluster (head 127.0.0.2, worker 127.0.0.3), joined
with ``--address``: trials run on both nodes, and requests the cluster can never hold fail at
launch."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest

from study.studies import get

pytestmark = pytest.mark.slow

HEAD, WORKER = "127.0.0.2", "127.0.0.3"
ROOT = Path(__file__).resolve().parents[2]

# Requests no node of the cluster can hold, with the start of the launcher's error message.
NEVER_FITS = {
    ("--gpus-per-trial", "1"): "no node of this Ray cluster has 1 CPU and 1 GPU for one trial: "
                               "it has 2 nodes (1 CPU, 1 CPU)",
    ("--cpus-per-trial", "2"): "no node of this Ray cluster has 2 CPU and 0 GPU",
}


@pytest.fixture(scope="module")
def two_nodes(make_cluster):
    """One CPU per node: with two trials at once, one runs on each node."""
    return make_cluster(head_cpus=1, workers=(WORKER,))


def test_smoke_study_runs_on_both_nodes(two_nodes, launch, tmp_path):
    # One search trial per arm, 9 trials of two epochs. The first two trials start an actor
    # on each node at once; a trial whose actor is not up yet when the other node's trial
    # ends is handed that node's idle actor, so a trial must outlast the lag between the two
    # (80 steps; on a loaded 2-core machine the lag was 0.4-2.7 s and a trial took 4-6 s).
    result = launch(two_nodes, "smoke", "--storage", str(tmp_path), "--max-concurrent", "2",
                    "--num-samples", "1", "--max-epochs", "2",
                    "--config", "steps_per_epoch=40")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert f"Ray cluster at {two_nodes.address}: 2 nodes (1 CPU, 1 CPU)" in result.stdout
    smoke = get("smoke")
    study = replace(smoke, budget=replace(smoke.budget.with_max_epochs(2), num_samples=1))
    info = json.loads((tmp_path / "smoke" / "study.json").read_text())
    assert info["study"] == "smoke"
    assert (info["num_samples_per_arm"], info["max_epochs"]) == (1, 2)
    trials = pd.read_parquet(tmp_path / "smoke" / "trials.parquet")
    assert len(trials) == study.total_trials
    assert (trials["status"] == "TERMINATED").all()
    nodes = {ip for joined in trials["node_ip"] for ip in joined.split(",")}
    assert nodes == {HEAD, WORKER}, trials[["trial_id", "node_ip"]]
    # the results are complete whichever node a trial ran on
    metrics = pd.read_parquet(tmp_path / "smoke" / "metrics.parquet")
    assert set(metrics["trial_id"]) == set(trials["trial_id"])


@pytest.fixture(scope="module")
def never_fits(two_nodes, launch_together, tmp_path_factory):
    """Each request of ``NEVER_FITS`` launched on the two nodes, all at once:
    ``{request: (storage, completed process)}``."""
    storages = {args: tmp_path_factory.mktemp("never_fits") for args in NEVER_FITS}
    runs = [("smoke", "--storage", str(storages[args]), *args) for args in NEVER_FITS]
    results = launch_together(two_nodes, runs, timeout=120)
    return {args: (storages[args], result) for args, result in zip(NEVER_FITS, results,
                                                                   strict=True)}


@pytest.mark.parametrize("args", list(NEVER_FITS), ids=["gpu", "cpus"])
def test_request_the_cluster_can_never_hold_fails_at_launch(never_fits, args):
    # two nodes of 1 CPU hold 2 CPUs in all, but no single node holds a 2-CPU trial
    storage, result = never_fits[args]
    assert result.returncode == 2, result.stdout[-2000:] + result.stderr[-2000:]
    assert NEVER_FITS[args] in result.stderr
    assert not list(storage.glob("*/train_*"))


def test_without_address_a_study_runs_on_a_ray_of_its_own_beside_a_running_cluster(
    two_nodes, cluster_cache, tmp_path
):
    # RAY_ADDRESS names the running cluster, as a `ray start` on this host leaves it for Ray to
    # find; a launch without --address must not join it (Ray refused num_cpus for a cluster it
    # joins: a ValueError traceback) but start a local Ray of its own
    env = {**two_nodes.env(), "RAY_ADDRESS": two_nodes.address,
           "MRI_STUDY_CACHE": str(cluster_cache)}
    result = subprocess.run(
        [sys.executable, "-m", "study.launch", "smoke", "--storage", str(tmp_path),
         "--arms", "batch", "--num-samples", "1", "--max-epochs", "1"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "Ray cluster at" not in result.stdout
    trials = pd.read_parquet(tmp_path / "smoke" / "trials.parquet")
    assert not {ip for joined in trials["node_ip"] for ip in joined.split(",")} & {HEAD, WORKER}
