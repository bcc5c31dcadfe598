"""Every benchmark script runs in its ``--quick`` mode from the repository and prints its figures.

One module, so one pytest worker runs them one after another: several at once on two cores
would measure each other.

The figures are machine-dependent and checked by nobody here (BENCHMARKS.md holds them);
these tests keep the scripts working and their output parseable.
"""

from __future__ import annotations

import os
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
    rates = numbers(r"\s(\d+\.\d)\n", out + "\n")
    assert "recon, preloaded volumes" in out and "diagnosis, noise 3" in out
    assert len(rates) == 5 and min(rates) > 0
    out = run_bench("bench_synth.py", "--quick")
    assert "wall time:" in out and "size on disk:" in out


def test_cluster_one_node_against_two(run_bench):
    out = run_bench("bench_cluster.py", "--quick")
    per_hour = numbers(r"(\d+) trials/hour", out)
    assert len(per_hour) == 3 and min(per_hour) > 0
    assert "2 nodes / 1 node:" in out


def test_tune_overhead(run_bench):
    out = run_bench("bench_tune_overhead.py", "--quick")
    ratios = numbers(r"Tune adds ([+-]?\d+\.\d) %", out)
    assert len(ratios) == 2  # one trial, two at once
    assert "reuse_actors=True" in out and "reuse_actors=False" in out
    share = numbers(r"Tune's own processes took (\d+\.\d) %", out)
    assert len(share) == 1 and 0 < share[0] < 100
    # the trial workers' CPU is booked to the trials even after the workers go back to
    # ray::IDLE (booked to Ray instead, Ray's share once read 52 % with trials 11.6 s, Ray 12.9 s)
    [(trials, ray_other)] = re.findall(
        r"two trials ran .*: trials (\d+\.\d) s, Ray's other processes (\d+\.\d) s", out)
    assert float(trials) > 3 * float(ray_other)
    if len(os.sched_getaffinity(0)) < 2:
        assert "side by side: needs two cores, skipped" in out
        return
    # side by side: Ray (driver, raylet, GCS, trial worker) pinned to one core, bare on the other
    assert re.search(r"Tune \+ every Ray process on core\(s\) \[\d\], bare on core \d", out)
    assert len(numbers(r"Tune costs ([+-]?\d+\.\d) %", out)) == 1


def test_search_efficiency(run_bench, tmp_path):
    out = run_bench("bench_search_efficiency.py", "--quick", "--storage", str(tmp_path))
    fraction = numbers(r"ASHA spends (\d+)% of the full budget", out)
    assert len(fraction) == 1 and 0 < fraction[0] <= 100
    assert "same best configuration:" in out


def test_memory(run_bench):
    out = run_bench("bench_memory.py", "--quick")
    rows = [line.split() for line in out.splitlines() if re.match(r"\s+[12]\s+\d", line)]
    assert [int(r[0]) for r in rows] == [1, 2]
    two = rows[1]
    assert int(two[1]) == 2, "two trials did not run at once"
    uss, rss = float(two[2]), float(two[3])
    assert 0 < uss <= rss


def test_pilot_diagnosis(run_bench):
    out = run_bench("pilot_diagnosis.py", "--quick", "--norm", "group", "--seeds", "0", "1")
    curves = [[float(v) for v in line.split(": ")[1].split()] for line in out.splitlines()
              if line.startswith("group lr 0.003 seed")]
    assert len(curves) == 2 and all(len(c) == 4 for c in curves)  # 2 seeds x 4 epochs
    assert all(0.0 <= v <= 1.0 for c in curves for v in c)
    rows = [[cell.strip() for cell in line.split("|")[1:-1]] for line in out.splitlines()
            if line.startswith("| group | 0.003 |")]
    assert "| epoch 4 | best | last-3 gain | converged (gain < 0.01) |" in out
    for row, curve in zip(rows, curves, strict=True):
        gain = max(curve[1:]) - curve[0]  # the report's measure: last 3 epochs against before
        assert float(row[3]) == curve[3] and float(row[4]) == max(curve)
        assert float(row[5]) == pytest.approx(gain, abs=1e-3)
        assert row[6] == ("yes" if float(row[5]) < 0.01 else "no")
