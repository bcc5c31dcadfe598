"""Smoke study wall time on one node against two nodes of a real loopback Ray cluster.

Measures: the wall time of ``python -m study.launch smoke --max-concurrent 2`` (its own
``wall time`` line, i.e. tuner set-up to tables written, and the whole process) on
  - ``1 node``: a loopback cluster with one 1-CPU node (the head), so trials run one at a time;
  - ``2 nodes``: head and worker with 1 CPU each, so two trials run at once, one per node;
  - ``local``: the launcher's own local Ray with every core of this machine on one node.
Theoretical minimum for ``2 nodes``: half of ``1 node``'s training time (six independent
trials, two at a time), plus the same fixed start-up. Acceptance: ``2 nodes`` at most 0.6x
``1 node``, and within 20% of ``local`` (the same CPUs on one node: the cost of going
multi-node). Trials per hour = the smoke study's trials over the study's wall time.
Run from the repository root: ``python bench/bench_cluster.py [--repeats N]``.

``--quick`` (what the tests run) keeps the three set-ups but does each once, on a smaller
study (one search trial per arm, two epochs: ``--num-samples 1 --max-epochs 2``; trials per
hour counts the trials the launcher reports), and starts one loopback cluster instead of two:
the head alone is ``1 node``, then a worker joins it for ``2 nodes``. There is no untimed study
first: the data cache is ``$MRI_STUDY_CACHE`` when set (the tests' cache, which holds the tiny
data already), and if it lacks the data the first run makes it, before its study's wall time
starts (in its process time).
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from study.cluster import LoopbackCluster

ROOT = Path(__file__).resolve().parents[1]  # the repository root


def smoke_trials() -> int:
    """Trials of the smoke study at its own budget (imported here: the study modules import
    torch, which ``--quick`` never needs in this process)."""
    from study.studies import get

    return get("smoke").total_trials


def run_smoke(env: dict[str, str], address: str | None, cache: Path,
              extra: tuple[str, ...] = ()) -> tuple[float, float, int]:
    """(launcher's wall time, whole process time, in seconds; trials the launcher reports)
    of one smoke study."""
    with tempfile.TemporaryDirectory() as storage:
        cmd = [sys.executable, "-m", "study.launch", "smoke", "--storage", storage,
               "--max-concurrent", "2", *extra] + (["--address", address] if address else [])
        t0 = time.perf_counter()
        out = subprocess.run(cmd, cwd=ROOT, env={**env, "MRI_STUDY_CACHE": str(cache)},
                             capture_output=True, text=True, check=True).stdout
        total = time.perf_counter() - t0
    match = re.search(r"wall time (\d+(?:\.\d+)?) s", out)
    trials = re.search(r"== smoke: (\d+) trials", out)
    return (float(match.group(1)) if match else float("nan"), total,
            int(trials.group(1)) if trials else 0)


def measure(name: str, workers: int | None, repeats: int, cache: Path,
            extra: tuple[str, ...]) -> dict[str, float]:
    """Median figures over ``repeats`` runs on a fresh cluster (``workers=None``: local Ray)."""
    runs = []
    if workers is None:
        runs = [run_smoke(dict(os.environ), None, cache, extra) for _ in range(repeats)]
    else:
        with LoopbackCluster() as cluster:
            address = cluster.start_head(cpus=1)
            for i in range(workers):
                cluster.add_worker(f"127.0.0.{3 + i}", cpus=1)
            runs = [run_smoke(cluster.env(), address, cache, extra) for _ in range(repeats)]
    return summarize(name, runs, smoke_trials())


def summarize(name: str, runs: list[tuple[float, float, int]], trials: int) -> dict[str, float]:
    """Print and return the median figures of ``runs`` of a study of ``trials`` trials."""
    study = statistics.median(r[0] for r in runs)
    total = statistics.median(r[1] for r in runs)
    print(f"{name:<8} study {study:6.1f} s   process {total:6.1f} s   "
          f"{trials * 3600 / study:6.0f} trials/hour   "
          f"(median of {len(runs)}; studies {[round(r[0]) for r in runs]})", flush=True)
    return {"study": study, "process": total}


def measure_quick(cache: Path, extra: tuple[str, ...]) -> tuple[dict, dict, dict]:
    """``--quick``: one run of each set-up on one loopback cluster, ``1 node`` on the head
    alone, then ``2 nodes`` once a worker has joined; then the launcher's local Ray."""
    def once(name: str, env: dict[str, str], address: str | None) -> dict[str, float]:
        run = run_smoke(env, address, cache, extra)
        return summarize(name, [run], run[2])

    with LoopbackCluster() as cluster:
        address = cluster.start_head(cpus=1)
        one = once("1 node", cluster.env(), address)
        cluster.add_worker("127.0.0.3", cpus=1)
        two = once("2 nodes", cluster.env(), address)
    local = once("local", dict(os.environ), None)
    return one, two, local


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--steps-per-epoch", type=int, help="longer epochs: compute over overhead")
    p.add_argument("--quick", action="store_true", help="one run of each set-up, a smaller "
                   "study, one cluster (see the docstring)")
    args = p.parse_args()
    if args.quick:
        args.repeats = 1
    extra = ("--config", f"steps_per_epoch={args.steps_per_epoch}") if args.steps_per_epoch \
        else ()
    if args.quick:
        extra = ("--num-samples", "1", "--max-epochs", "2", *extra)
    print(f"smoke study {' '.join(extra) or '(default budget)'}")
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory() as tmp:
        if args.quick:
            one, two, local = measure_quick(Path(os.environ.get("MRI_STUDY_CACHE") or tmp),
                                            extra)
        else:
            cache = Path(tmp)
            run_smoke(dict(os.environ), None, cache)  # generate the tiny data once, untimed
            one = measure("1 node", 0, args.repeats, cache, extra)
            two = measure("2 nodes", 1, args.repeats, cache, extra)
            local = measure("local", None, args.repeats, cache, extra)
    print(f"2 nodes / 1 node: {two['study'] / one['study']:.2f} (acceptance <= 0.6); "
          f"2 nodes / local: {two['study'] / local['study']:.2f} (acceptance <= 1.2)")
    print(f"load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
