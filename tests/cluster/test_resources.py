"""The launcher's resource check against what a cluster has and may still launch, and results
kept on an object store (offline: a ``file://`` URI through pyarrow's filesystems)."""

from __future__ import annotations

import pytest

import study.cluster as cluster
from study.cluster import describe_nodes, launchable_node_resources
from study.launch import LaunchError, check_resources

CPU_NODE = {"CPU": 2.0}
GPU_TYPE = {"CPU": 8.0, "GPU": 1.0}


@pytest.fixture
def cluster_of(monkeypatch):
    def set_nodes(alive: list[dict], launchable: list[dict]) -> None:
        monkeypatch.setattr(cluster, "alive_node_resources", lambda: alive)
        monkeypatch.setattr(cluster, "launchable_node_resources", lambda: launchable)

    return set_nodes


def test_fractional_gpus_fit_a_gpu_node_type_not_up_yet(cluster_of):
    cluster_of([CPU_NODE], [GPU_TYPE])
    check_resources(2, 0.25)
    check_resources(8, 1)


def test_a_request_no_node_could_ever_hold_is_an_error(cluster_of):
    cluster_of([CPU_NODE], [GPU_TYPE])
    with pytest.raises(LaunchError, match="1 CPU and 2 GPU for one trial") as e:
        check_resources(1, 2)
    assert "it has 1 node (2 CPU); its autoscaler may add 1 node (8 CPU + 1 GPU)" in str(e.value)
    cluster_of([CPU_NODE], [])
    with pytest.raises(LaunchError, match="0.5 GPU for one trial: it has 1 node"):
        check_resources(1, 0.5)


@pytest.mark.parametrize(("cpus", "gpus", "message"), [
    (1, 1.5, "above 1 it must be a whole number of GPUs"),
    (0, 0, "--cpus-per-trial must be > 0"),
    (1, -1, "--gpus-per-trial >= 0"),
])
def test_malformed_requests(cluster_of, cpus, gpus, message):
    cluster_of([GPU_TYPE], [])
    with pytest.raises(LaunchError, match=message):
        check_resources(cpus, gpus)


def test_no_bootstrap_config_means_no_launchable_nodes(tmp_path):
    assert launchable_node_resources(tmp_path / "missing.yaml") == []
    (tmp_path / "c.yaml").write_text("available_node_types:\n  w: {max_workers: 0, resources: "
                                     "{GPU: 1}}\n  v: {max_workers: 2, resources: {}}\n")
    assert launchable_node_resources(tmp_path / "c.yaml") == []


def test_describe_nodes():
    assert describe_nodes([{"CPU": 1.0}, {"CPU": 8.0, "GPU": 0.5}]) == \
        "2 nodes (1 CPU, 8 CPU + 0.5 GPU)"


def test_free_ports_are_all_different():
    """Picked one at a time, the OS may hand out a just-released port again (a node's GCS and
    agent once got the same one); picked together, they differ."""
    from study.cluster import free_ports

    ports = free_ports("127.0.0.1", 64)
    assert len(set(ports)) == 64 and all(p > 0 for p in ports)
