"""Data-path throughput: slices per second through the project's slice datasets.

What it measures, on the default synthetic preset (``mri.synth.cache.ensure_synthetic_data``;
``--quick`` uses the tiny preset):

- ``h5 read``: k-space and reference slices read from HDF5 and nothing else. This is the floor
  of the data path on this machine: no dataset can deliver slices faster from lazy files.
- ``recon train`` / ``recon eval``: :class:`mri.data.datasets.ReconSliceDataset` with a 4x
  equispaced-fraction mask (centre fraction 0.08), random masks (train) or file-seeded masks
  (eval), each through a DataLoader with 0 and 2 workers (batch size 4), from lazy files, plus
  eval from preloaded volumes (``preload=True``) and the second pass over cached evaluation
  items (``cache=True``), which is what every epoch after the first costs an evaluation set.
- ``diagnosis``: :class:`mri.data.datasets.DiagnosisSliceDataset` (reference image / volume max,
  labels from the annotations), clean and with ``noise`` severity 3 applied in k-space.

The main process runs torch with one thread by default (``--threads``), as DataLoader workers
do: per-slice tensors are small, and intra-op threads slowed them about 3x on a 2-core VM.
Each figure is slices delivered per second over one pass (capped at ``--max-slices``), timed
from the first batch on, so worker start-up is excluded. Acceptance (``shared/DESIGN.md``):
fastMRI's ``SliceDataset`` with ``UnetDataTransform`` reads about 8 slices/s (and 45 slices/s
with ``VarNetDataTransform``) from fastMRI-sized files on a 2-core machine; the recon path must
be several times faster than that on files of the same size. The synthetic presets are smaller
than fastMRI's 15-coil 640x368 files, so compare like with like (the file shapes are printed).

Run: ``python bench/bench_data.py [--quick] [--max-slices N] [--data DIR]``.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from collections.abc import Iterable
from pathlib import Path

import torch
from torch.utils.data import DataLoader

from mri.data.annotations import load_annotations
from mri.data.datasets import DiagnosisSliceDataset, ReconSliceDataset, collate_slices
from mri.data.metadata import scan_directory
from mri.data.reader import kspace_from_handle, open_volume, target_from_handle
from mri.masks import EquispacedMaskFractionFunc


def _rate(batches: Iterable[dict], limit: int) -> tuple[float, int]:
    """Slices per second from the first batch on, over at most ``limit`` slices."""
    iterator = iter(batches)
    first = next(iterator)
    count = len(first["fname"])
    start = time.perf_counter()
    timed = 0
    for batch in iterator:
        timed += len(batch["fname"])
        if count + timed >= limit:
            break
    elapsed = time.perf_counter() - start
    return (timed / elapsed if elapsed > 0 else float("nan")), count + timed


def _h5_rate(files, limit: int) -> float:
    start, count = time.perf_counter(), 0
    for path, slices in zip(files["path"], files["slices"], strict=True):
        with open_volume(path) as hf:
            for index in range(slices):
                kspace_from_handle(hf, path, index)
                target_from_handle(hf, path, index)
                count += 1
                if count >= limit:
                    return count / (time.perf_counter() - start)
    return count / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny preset (seconds)")
    parser.add_argument("--max-slices", type=int, default=400, help="slices timed per figure")
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument(
        "--data",
        type=Path,
        help="time this directory instead of a preset "
        "(e.g. real fastMRI files, to compare with fastMRI's own loader)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch threads in the main "
        "process (DataLoader workers always use 1); 0 keeps torch's default",
    )
    args = parser.parse_args()
    if args.threads > 0:
        # Small per-slice FFTs run slower with intra-op threads than without on few cores.
        torch.set_num_threads(args.threads)

    preset = "tiny" if args.quick else "default"
    if args.data is not None:
        data_dir, preset = args.data, f"custom ({args.data.name})"
    else:
        from mri.synth.cache import ensure_synthetic_data

        data_dir = ensure_synthetic_data(preset)
    table = scan_directory(data_dir)
    files = table.files
    annotations_csv = data_dir / "annotations.csv"
    annotations = load_annotations(annotations_csv, table) if annotations_csv.is_file() else None
    shapes = sorted(set(zip(files.coils, files.kspace_h, files.kspace_w, strict=True)))
    print(
        f"machine: {platform.node()} {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} CPUs, torch {torch.__version__} ({torch.get_num_threads()} threads)"
    )
    print(
        f"data: preset {preset!r} at {data_dir}: {len(files)} volumes, {table.num_slices} "
        f"slices; k-space [coils, H, W] shapes: {shapes[:6]}{' ...' if len(shapes) > 6 else ''}"
    )
    limit = min(args.max_slices, table.num_slices)
    print(f"timing up to {limit} slices per figure, batch size {args.batch_size}\n")

    mask = EquispacedMaskFractionFunc([0.08], [4])
    rows = [("h5 read (floor)", "-", _h5_rate(files, limit))]
    for train in (True, False):
        for workers in (0, 2):
            ds = ReconSliceDataset(files, mask, train=train)
            loader = DataLoader(
                ds,
                batch_size=args.batch_size,
                shuffle=train,
                num_workers=workers,
                collate_fn=collate_slices,
            )
            rows.append((f"recon {'train' if train else 'eval'}", workers, _rate(loader, limit)[0]))
    preloaded = ReconSliceDataset(files, mask, train=False, preload=True)
    loader = DataLoader(preloaded, batch_size=args.batch_size, collate_fn=collate_slices)
    rows.append(("recon eval, preloaded", 0, _rate(loader, limit)[0]))
    cached = ReconSliceDataset(files, mask, train=False, cache=True)
    loader = DataLoader(cached, batch_size=args.batch_size, collate_fn=collate_slices)
    _rate(loader, limit)  # first pass fills the cache
    rows.append(("recon eval, cached (2nd pass)", 0, _rate(loader, limit)[0]))
    for shift, severity in ((None, 0), ("noise", 3)):
        for workers in (0, 2):
            ds = DiagnosisSliceDataset(files, annotations, shift=shift, severity=severity)
            loader = DataLoader(
                ds, batch_size=args.batch_size, num_workers=workers, collate_fn=collate_slices
            )
            name = "diagnosis" + ("" if shift is None else f", {shift} {severity} in k-space")
            rows.append((name, workers, _rate(loader, limit)[0]))

    width = max(len(name) for name, _, _ in rows)
    print(f"{'dataset':<{width}}  workers  slices/s")
    for name, workers, rate in rows:
        print(f"{name:<{width}}  {workers!s:>7}  {rate:8.1f}")


if __name__ == "__main__":
    main()
