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
from study.studies import get

ROOT = Path(__file__).resolve().parents[1]  # the repository root
_SMOKE = get("smoke")
SMOKE_TRIALS = _SMOKE.total_trials


def run_smoke(env: dict[str, str], address: str | None, cache: Path,
              extra: tuple[str, ...] = ()) -> tuple[float, float]:
    """(launcher's wall time, whole process time) of one smoke study, in seconds."""
    with tempfile.TemporaryDirectory() as storage:
        cmd = [sys.executable, "-m", "study.launch", "smoke", "--storage", storage,
               "--max-concurrent", "2", *extra] + (["--address", address] if address else [])
        t0 = time.perf_counter()
        out = subprocess.run(cmd, cwd=ROOT, env={**env, "MRI_STUDY_CACHE": str(cache)},
                             capture_output=True, text=True, check=True).stdout
        total = time.perf_counter() - t0
    match = re.search(r"wall time (\d+(?:\.\d+)?) s", out)
    return float(match.group(1)) if match else float("nan"), total


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
    study = statistics.median(r[0] for r in runs)
    total = statistics.median(r[1] for r in runs)
    print(f"{name:<8} study {study:6.1f} s   process {total:6.1f} s   "
          f"{SMOKE_TRIALS * 3600 / study:6.0f} trials/hour   "
          f"(median of {repeats}; studies {[round(r[0]) for r in runs]})", flush=True)
    return {"study": study, "process": total}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--steps-per-epoch", type=int, help="longer epochs: compute over overhead")
    p.add_argument("--quick", action="store_true", help="one run of each set-up")
    args = p.parse_args()
    if args.quick:
        args.repeats = 1
    extra = ("--config", f"steps_per_epoch={args.steps_per_epoch}") if args.steps_per_epoch \
        else ()
    print(f"smoke study {' '.join(extra) or '(default budget)'}")
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory() as cache:
        run_smoke(dict(os.environ), None, Path(cache))  # generate the tiny data once, untimed
        one = measure("1 node", 0, args.repeats, Path(cache), extra)
        two = measure("2 nodes", 1, args.repeats, Path(cache), extra)
        local = measure("local", None, args.repeats, Path(cache), extra)
    print(f"2 nodes / 1 node: {two['study'] / one['study']:.2f} (acceptance <= 0.6); "
          f"2 nodes / local: {two['study'] / local['study']:.2f} (acceptance <= 1.2)")
    print(f"load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
