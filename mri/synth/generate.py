"""Generate a preset's dataset: simulate each volume, write its file, collect annotations.

Files are independent (each draws from ``SeedSequence([seed, index])``), so they can be made
by a small process pool in any order with byte-identical arrays.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import torch

from mri.synth.presets import PRESETS, Preset, get_preset
from mri.synth.simulate import VolumeSpec, simulate_volume, volume_specs
from mri.synth.writer import annotation_rows, write_annotations, write_volume

# Bump when the generator's output changes, so cached datasets are regenerated.
GENERATOR_VERSION = 3
ANNOTATIONS_FILE = "annotations.csv"


def generate(
    out_dir: str | Path, preset: str | Preset = "default", seed: int = 0, workers: int | None = None
) -> Path:
    """Write ``preset``'s fastMRI-format ``*.h5`` files and ``annotations.csv`` into ``out_dir``.

    ``workers`` processes (default: the preset's, at most the CPU count) simulate the files;
    the result does not depend on it. Returns ``out_dir`` as a Path.
    """
    recipe = get_preset(preset) if isinstance(preset, str) else preset
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    specs = volume_specs(recipe, seed)
    n_workers = recipe.workers if workers is None else workers
    n_workers = max(1, min(n_workers, os.cpu_count() or 1, len(specs)))
    if mp.current_process().daemon:  # e.g. inside a DataLoader or Pool worker: no children
        n_workers = 1
    if n_workers == 1:
        with single_threaded():
            results = [_make_file(spec, out) for spec in specs]
    else:
        # spawn, not fork: the parent may already run torch threads (fork + OpenMP can hang).
        ctx = mp.get_context("spawn")
        with ctx.Pool(n_workers, initializer=_init_worker) as pool:
            results = pool.starmap(_make_file, [(spec, out) for spec in specs], chunksize=1)
    rows = [row for file_rows in results for row in file_rows]
    write_annotations(rows, out / ANNOTATIONS_FILE)
    return out


@contextmanager
def single_threaded() -> Iterator[None]:
    """Run torch and BLAS on one thread, then restore.

    The per-slice arrays are small (a few hundred kB): thread start-up and contention cost far
    more than they save (measured 40x slower FFTs with 2 threads on a busy 2-core machine).
    """
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl ships with scikit-learn
        limits = None
    else:
        limits = threadpool_limits(limits=1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)
        if limits is not None:
            limits.restore_original_limits()


def _init_worker() -> None:
    torch.set_num_threads(1)
    os.environ["OPENBLAS_NUM_THREADS"] = "1"
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover
        return
    threadpool_limits(limits=1)


def _make_file(spec: VolumeSpec, out: Path) -> list[dict[str, object]]:
    volume = simulate_volume(spec)
    write_volume(volume, out)
    return annotation_rows(spec.stem, volume.boxes, spec.recon_size[0])


@dataclass(frozen=True)
class Summary:
    """Counts of a generated directory."""

    files: int
    slices: int
    distributions: dict[str, int]  # label -> files
    slices_per_distribution: dict[str, int]
    annotated_slices: int
    boxes: int
    megabytes: float

    def line(self, seconds: float | None = None) -> str:
        """One-line summary for the CLI."""
        took = f", {seconds:.1f} s" if seconds is not None else ""
        return (
            f"{self.files} files, {self.slices} slices ({self.annotated_slices} with findings, "
            f"{self.boxes} boxes), {len(self.distributions)} distributions, "
            f"{self.megabytes:.1f} MB{took}"
        )


def summarize(data_dir: str | Path, preset: str | Preset = "default", seed: int = 0) -> Summary:
    """Counts of ``preset``'s files in ``data_dir`` (sizes measured on disk)."""
    import csv

    recipe = get_preset(preset) if isinstance(preset, str) else preset
    root = Path(data_dir)
    files: Counter[str] = Counter()
    slices: Counter[str] = Counter()
    for dist in recipe.distributions:
        files[dist.label] += dist.volumes
        slices[dist.label] += dist.volumes * recipe.slices
    size = sum(p.stat().st_size for p in root.iterdir() if p.is_file())
    with open(root / ANNOTATIONS_FILE, newline="") as f:
        rows = list(csv.DictReader(f))
    annotated = {(r["file"], r["slice"]) for r in rows}
    return Summary(
        files=sum(files.values()),
        slices=sum(slices.values()),
        distributions=dict(files),
        slices_per_distribution=dict(slices),
        annotated_slices=len(annotated),
        boxes=len(rows),
        megabytes=size / 1e6,
    )


def main(argv: list[str] | None = None) -> int:
    """CLI: ``python -m mri.synth [--out DIR] [--preset NAME] [--seed S] [--workers N]``.

    Without ``--out`` the dataset goes to (or is reused from) the cache,
    :func:`mri.data.cache.ensure_synthetic_data`, and its directory is printed.
    """
    parser = argparse.ArgumentParser(prog="python -m mri.synth", description=__doc__)
    parser.add_argument("--out", type=Path, default=None, help="output directory")
    parser.add_argument("--preset", default="default", choices=sorted(PRESETS))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=None)
    args = parser.parse_args(argv)
    start = time.perf_counter()
    if args.out is None:
        from mri.data.cache import ensure_synthetic_data

        out = ensure_synthetic_data(args.preset, args.seed)
    else:
        out = generate(args.out, args.preset, args.seed, workers=args.workers)
    seconds = time.perf_counter() - start
    print(f"{out}: {summarize(out, args.preset, args.seed).line(seconds)}")
    return 0
