"""Benchmark: generating the embedded default dataset (``mri.synth``, preset ``default``).

Measures the wall time of ``mri.synth.generate(tmp, "default", seed=0)`` (simulation of every
volume, FFTs, noise, HDF5 and CSV writing, with the preset's process pool), the total size on
disk, and the file and slice counts per distribution, plus the fraction of slices carrying a
finding (for the diagnosis tasks).

Acceptance: under 60 s and under 500 MB on a 2-core machine. Theoretical minimum: the time to
write the bytes (a few hundred MB at disk speed, about 1-2 s) plus the FFTs (milliseconds per
slice); the rest is the procedural anatomy, which is O(slices x pixels).

Usage: ``python bench/bench_synth.py [--preset default] [--seed 0] [--workers N]``
"""

from __future__ import annotations

import argparse
import csv
import os
import platform
import tempfile
import time
from collections import Counter
from pathlib import Path

from mri.synth import PRESETS, generate, summarize


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="default", choices=sorted(PRESETS))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--quick", action="store_true", help="the tiny preset")
    args = parser.parse_args()
    preset = PRESETS["tiny" if args.quick else args.preset]
    with tempfile.TemporaryDirectory(prefix="bench_synth_") as tmp:
        start = time.perf_counter()
        out = generate(Path(tmp), preset, args.seed, workers=args.workers)
        seconds = time.perf_counter() - start
        summary = summarize(out, preset, args.seed)
        with open(out / "annotations.csv", newline="") as f:
            rows = list(csv.DictReader(f))
    stem_to_label = {}
    start_index = 0
    for dist in preset.distributions:
        for i in range(dist.volumes):
            stem_to_label[f"_{start_index + i:04d}"] = dist.label
        start_index += dist.volumes
    positive: Counter[str] = Counter()
    for file, _slice in {(r["file"], r["slice"]) for r in rows}:
        positive[stem_to_label[file[-5:]]] += 1
    labels = Counter(r["label"] for r in rows)

    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"python {platform.python_version()}"
    )
    print(
        f"preset {preset.name}: recon {preset.recon_size[0]}x{preset.recon_size[1]}, "
        f"k-space {preset.kspace_size[0]}x{preset.kspace_size[1]}, {preset.slices} slices/volume"
    )
    print(f"wall time: {seconds:.1f} s   (acceptance < 60 s)")
    print(f"size on disk: {summary.megabytes:.1f} MB   (acceptance < 500 MB)")
    print(
        f"files: {summary.files}, slices: {summary.slices}, distributions: "
        f"{len(summary.distributions)}, slices with findings: {summary.annotated_slices} "
        f"({100 * summary.annotated_slices / summary.slices:.0f} %), boxes: {summary.boxes}"
    )
    print(
        f"{'distribution':<20} {'scanner':<11} {'coils':>5} {'files':>5} {'slices':>6} "
        f"{'with findings':>13}"
    )
    for dist in preset.distributions:
        n_slices = dist.volumes * preset.slices
        pos = positive[dist.label]
        print(
            f"{dist.label:<20} {dist.scanner:<11} {dist.num_coils:>5} {dist.volumes:>5} "
            f"{n_slices:>6} {pos:>7} ({100 * pos / n_slices:.0f} %)"
        )
    print("boxes per label: " + ", ".join(f"{k}: {v}" for k, v in sorted(labels.items())))


if __name__ == "__main__":
    main()
