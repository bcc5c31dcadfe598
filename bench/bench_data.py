"""Data-path throughput: slices per second through the project's slice datasets, item by item,
as :mod:`study.bundles` evaluates them once per study to build the arrays its trials share.

What it measures, on the default synthetic preset (``mri.synth.cache.ensure_synthetic_data``;
``--quick`` uses the tiny preset):

- ``h5 read``: k-space and reference slices read from HDF5 and nothing else. This is the floor
  of the data path on this machine: no dataset can deliver slices faster from lazy files.
- ``recon``: :class:`mri.data.datasets.ReconSliceDataset` with a 4x equispaced-fraction mask
  (centre fraction 0.08, seeded per file), from lazy files (how the study builds evaluation
  sets) and from preloaded volumes (``preload=``, how it builds training k-space).
- ``diagnosis``: :class:`mri.data.datasets.DiagnosisSliceDataset` (reference image / volume max,
  labels from the annotations), clean and with ``noise`` severity 3 applied in k-space.

Torch runs with one thread by default (``--threads``): per-slice tensors are small, and
intra-op threads slowed them about 3x on a 2-core VM. Each figure is slices per second over
one pass of at most ``--max-slices`` slices, after the first slice (file opening excluded).
Acceptance (``shared/DESIGN.md``): fastMRI's ``SliceDataset`` with ``UnetDataTransform`` reads
about 8 slices/s (and 45 slices/s with ``VarNetDataTransform``) from fastMRI-sized files on a
2-core machine; the recon path must be several times faster than that on files of the same
size. The synthetic presets are smaller than fastMRI's 15-coil 640x368 files, so compare like
with like (the file shapes are printed).

Run: ``python bench/bench_data.py [--quick] [--max-slices N] [--data DIR]``.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

import torch

from mri.data.annotations import load_annotations
from mri.data.datasets import DiagnosisSliceDataset, ReconSliceDataset
from mri.data.metadata import scan_directory
from mri.data.reader import kspace_from_handle, open_volume, target_from_handle
from mri.data.volumes import load_volumes
from mri.masks import EquispacedMaskFractionFunc


def _rate(dataset, limit: int) -> float:
    """Slices per second of ``dataset[i]`` from the second item on, over at most ``limit``."""
    count = min(limit, len(dataset))
    dataset[0]
    start = time.perf_counter()
    for i in range(1, count):
        dataset[i]
    elapsed = time.perf_counter() - start
    return (count - 1) / elapsed if elapsed > 0 else float("nan")


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
        help="torch threads; 0 keeps torch's default",
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
    print(f"timing up to {limit} slices per figure\n")

    mask = EquispacedMaskFractionFunc([0.08], [4])
    rows = [("h5 read (floor)", _h5_rate(files, limit))]
    rows.append(("recon, lazy files", _rate(ReconSliceDataset(files, mask), limit)))
    volumes = load_volumes(files.iloc[: _volumes_for(files, limit)])
    preloaded = ReconSliceDataset(files, mask, preload=volumes)
    rows.append(("recon, preloaded volumes", _rate(preloaded, limit)))
    for shift, severity in ((None, 0), ("noise", 3)):
        ds = DiagnosisSliceDataset(files, annotations, shift=shift, severity=severity)
        name = "diagnosis" + ("" if shift is None else f", {shift} {severity} in k-space")
        rows.append((name, _rate(ds, limit)))

    width = max(len(name) for name, _ in rows)
    print(f"{'dataset':<{width}}  slices/s")
    for name, rate in rows:
        print(f"{name:<{width}}  {rate:8.1f}")


def _volumes_for(files, limit: int) -> int:
    """How many leading rows of ``files`` hold the first ``limit`` slices."""
    return int((files["slices"].cumsum() < limit).sum()) + 1

if __name__ == "__main__":
    main()
