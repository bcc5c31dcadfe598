"""The smoke study on a real two-node Ray cluster (head 127.0.0.2, worker 127.0.0.3), joined
with ``--address``: trials run on both nodes, and requests the cluster can never hold fail at
launch."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from study.studies import get

pytestmark = pytest.mark.slow

HEAD, WORKER = "127.0.0.2", "127.0.0.3"


@pytest.fixture(scope="module")
def two_nodes(make_cluster):
    """One CPU per node: with two trials at once, one runs on each node."""
    return make_cluster(head_cpus=1, workers=(WORKER,))


def test_smoke_study_runs_on_both_nodes(two_nodes, launch, tmp_path):
    # epochs long enough that two trials overlap and both nodes get one
    result = launch(two_nodes, "smoke", "--storage", str(tmp_path), "--max-concurrent", "2",
                    "--config", "steps_per_epoch=30")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert f"Ray cluster at {two_nodes.address}: 2 nodes (1 CPU, 1 CPU)" in result.stdout
    study = get("smoke")
    trials = pd.read_parquet(tmp_path / "smoke" / "trials.parquet")
    assert len(trials) == study.total_trials
    assert (trials["status"] == "TERMINATED").all()
    nodes = {ip for joined in trials["node_ip"] for ip in joined.split(",")}
    assert nodes == {HEAD, WORKER}, trials[["trial_id", "node_ip"]]
    # the results are complete whichever node a trial ran on
    metrics = pd.read_parquet(tmp_path / "smoke" / "metrics.parquet")
    assert set(metrics["trial_id"]) == set(trials["trial_id"])
    assert json.loads((tmp_path / "smoke" / "study.json").read_text())["study"] == "smoke"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--gpus-per-trial", "1"], "no node of this Ray cluster has 1 CPU and 1 GPU for one "
                                    "trial: it has 2 nodes (1 CPU, 1 CPU)"),
        (["--cpus-per-trial", "2"], "no node of this Ray cluster has 2 CPU and 0 GPU"),
    ],
)
def test_request_the_cluster_can_never_hold_fails_at_launch(two_nodes, launch, tmp_path, args,
                                                            message):
    # two nodes of 1 CPU hold 2 CPUs in all, but no single node holds a 2-CPU trial
    result = launch(two_nodes, "smoke", "--storage", str(tmp_path), *args, timeout=120)
    assert result.returncode == 2, result.stdout[-2000:] + result.stderr[-2000:]
    assert message in result.stderr
    assert not list(tmp_path.glob("*/train_*"))
