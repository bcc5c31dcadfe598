"""Benchmark scripts for the cluster, the models, the data path and GPU packing (``--quick``).

The figures are machine-dependent and checked by nobody here (BENCHMARKS.md holds them);
these tests keep the scripts working and their output parseable.
"""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.slow


def numbers(pattern: str, text: str) -> list[float]:
    return [float(v) for v in re.findall(pattern, text)]


def test_data_vs_training(run_bench):
    out = run_bench("bench_data_vs_training.py", "--quick")
    rows = [line.split() for line in out.splitlines()
            if line.split()[:1] and line.split()[0] in ("unet", "varnet", "vit", "resnet")]
    assert len(rows) == 7  # 3 recon models x 2 presets + the classifier
    for row in rows:
        consumes, loading = float(row[3]), float(row[4])
        assert consumes > 0 and loading > 0
    assert "lowest in-trial ratio" in out


def test_gpu_packing_code_path_on_cpu(run_bench):
    out = run_bench("bench_gpu_packing.py", "--device", "cpu", "--quick", "--models", "unet")
    rows = [line for line in out.splitlines() if line.startswith("| unet |")]
    assert len(rows) == 2 and all(float(r.split("|")[4]) > 0 for r in rows)


def test_models_and_data(run_bench):
    out = run_bench("bench_models.py", "--quick", "--models", "unet", "resnet")
    assert re.search(r"\| unet \| tiny \| 64x64 \|", out)
    out = run_bench("bench_data.py", "--quick")
    assert "recon train" in out and "diagnosis" in out
    out = run_bench("bench_synth.py", "--quick")
    assert "wall time:" in out and "size on disk:" in out


def test_cluster_one_node_against_two(run_bench):
    out = run_bench("bench_cluster.py", "--quick")
    per_hour = numbers(r"(\d+) trials/hour", out)
    assert len(per_hour) == 3 and min(per_hour) > 0
    assert "2 nodes / 1 node:" in out
