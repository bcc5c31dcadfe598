"""``cluster.yaml`` passes Ray's own config preparation and schema validation, offline (no cloud
credentials), and says what the README and the launcher rely on."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from study.cluster import fits, launchable_node_resources

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def config() -> dict:
    return yaml.safe_load((ROOT / "cluster.yaml").read_text())


@pytest.fixture(scope="module")
def prepared(config) -> dict:
    """The config as ``ray up`` prepares it before talking to the cloud: merged with the
    provider's defaults and validated against ``ray-schema.json``."""
    from ray.autoscaler._private.util import prepare_config, validate_config

    prepared = prepare_config(copy.deepcopy(config))
    validate_config(prepared)
    return prepared


def test_cluster_yaml_passes_rays_validation(prepared):
    assert prepared["provider"]["type"] == "aws"
    assert prepared["head_node_type"] in prepared["available_node_types"]


def test_cpu_head_and_an_autoscaling_gpu_worker_type(prepared):
    types = prepared["available_node_types"]
    head = types[prepared["head_node_type"]]
    assert head["resources"].get("GPU", 0) == 0 and head["max_workers"] == 0
    gpu = [t for t in types.values() if t["resources"].get("GPU", 0) >= 1]
    assert gpu, "no worker node type declares GPUs"
    assert all(t["max_workers"] > t["min_workers"] and t["resources"]["CPU"] >= 1 for t in gpu)
    assert prepared["max_workers"] >= max(t["max_workers"] for t in gpu)


def test_every_node_installs_the_project_at_one_revision_like_make(prepared):
    for commands in (prepared["head_setup_commands"], prepared["worker_setup_commands"]):
        text = "\n".join(commands)
        assert "git checkout --quiet --detach" in text  # a fixed tag or commit
        assert "make setup" in text  # the Makefile's venv and pinned dependencies
    for commands in (prepared["head_start_ray_commands"], prepared["worker_start_ray_commands"]):
        start = [c for c in commands if " start " in c]
        assert start and all(".venv/bin/ray start" in c and "RAY_AUTH_MODE=token" in c
                             for c in start)
    assert "~/.ray/auth_token" in prepared["file_mounts"]  # one token for every node
    for commands in (prepared["head_setup_commands"], prepared["worker_setup_commands"]):
        # restricted on the node before Ray starts: Ray writes the file 0644
        assert commands[0] == "chmod 700 ~/.ray && chmod 600 ~/.ray/auth_token"


def test_launcher_counts_the_node_types_the_autoscaler_may_launch(prepared, tmp_path):
    # the head of a `ray up` cluster holds the prepared config as ~/ray_bootstrap_config.yaml
    bootstrap = tmp_path / "ray_bootstrap_config.yaml"
    bootstrap.write_text(yaml.safe_dump(prepared))
    nodes = launchable_node_resources(bootstrap)
    assert nodes and all(n.get("GPU", 0) >= 1 for n in nodes)
    assert any(fits(n, cpus=2, gpus=0.25) for n in nodes)  # four trials share one GPU
    assert not any(fits(n, cpus=1, gpus=2) for n in nodes)
