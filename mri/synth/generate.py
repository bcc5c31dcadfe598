"""Generate a preset's dataset: simulate each volume, write its file, collect annotations.

Files are independent (each draws from ``SeedSequence([seed, index])``), so they can be made
by a small process pool in any order with byte-identical arrays.

Besides the files, a dataset holds ``annotations.csv`` (fastMRI+ boxes of the visible lesions)
and ``lesions.csv``: one row per lesion per slice it cuts, visible or not, with the measures of
the visibility rule (:mod:`mri.synth.visibility`): ``file, slice, label, finding, area_px,
effect_sd, ring_contrast_sd, visible`` (``finding`` the first of
:func:`mri.data.annotations.finding_groups`, else ``other``; ``visible`` 1 or 0). Every visible
row has exactly one annotation box and no other row has one. :func:`summarize` turns both into
per-distribution and per-finding statistics, with the data layer's train/val/test splits.
"""

from __future__ import annotations

import csv
import math
import multiprocessing as mp
import os
import statistics
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import h5py
import torch

from mri.data.annotations import finding_groups
from mri.data.metadata import assign_splits
from mri.synth.presets import Preset, get_preset
from mri.synth.simulate import SimulatedVolume, simulate_volume
from mri.synth.volume_spec import VolumeSpec, volume_specs
from mri.synth.writer import annotation_rows, write_annotations, write_csv, write_volume

# Bump when the generator's output changes, so cached datasets are regenerated.
GENERATOR_VERSION = 6
ANNOTATIONS_FILE = "annotations.csv"
LESIONS_FILE = "lesions.csv"
LESION_COLUMNS = (
    "file", "slice", "label", "finding", "area_px", "effect_sd", "ring_contrast_sd", "visible",
)  # fmt: skip
SPLIT_NAMES = ("train", "val", "test")


def generate(
    out_dir: str | Path, preset: str | Preset = "default", seed: int = 0, workers: int | None = None
) -> Path:
    """Write ``preset``'s fastMRI-format ``*.h5`` files, ``annotations.csv`` and
    ``lesions.csv`` into ``out_dir``.

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
    rows = [row for file_rows, _ in results for row in file_rows]
    write_annotations(rows, out / ANNOTATIONS_FILE)
    write_lesions([row for _, file_rows in results for row in file_rows], out / LESIONS_FILE)
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


def _make_file(
    spec: VolumeSpec, out: Path
) -> tuple[list[dict[str, object]], list[dict[str, object]]]:
    volume = simulate_volume(spec)
    write_volume(volume, out)
    return annotation_rows(spec.stem, volume.boxes, spec.preset.recon_size[0]), lesion_rows(volume)


def lesion_rows(volume: SimulatedVolume) -> list[dict[str, object]]:
    """``lesions.csv`` rows of one volume: every lesion on every slice it cuts."""

    rows = []
    for s, measures in enumerate(volume.lesions):
        for m in measures:
            rows.append(
                {
                    "file": volume.spec.stem,
                    "slice": s,
                    "label": m.label,
                    "finding": (finding_groups(m.label) or ("other",))[0],
                    "area_px": m.area_px,
                    "effect_sd": f"{m.effect_sd:.4f}",
                    "ring_contrast_sd": f"{m.ring_contrast_sd:.4f}",
                    "visible": int(m.visible),
                }
            )
    return rows


def write_lesions(rows: list[dict[str, object]], path: Path) -> Path:
    """Write ``lesions.csv`` (header row always present)."""
    return write_csv(rows, path, LESION_COLUMNS)


@dataclass(frozen=True)
class FindingStats:
    """One finding group in one distribution, from ``lesions.csv`` and ``annotations.csv``.

    ``visible`` and ``rejected`` count lesion-slices (a lesion on one slice); the medians are
    over all of them, visible or not (nan without any); ``positive_volumes`` and
    ``positive_slices`` count, per split, volumes and slices with at least one annotated box of
    the finding.
    """

    distribution: str
    finding: str
    visible: int
    rejected: int
    median_area_px: float
    median_effect_sd: float
    median_ring_contrast_sd: float
    positive_volumes: dict[str, int]
    positive_slices: dict[str, int]

    @property
    def visible_fraction(self) -> float:
        """Visible share of the lesion-slices (nan without any)."""
        total = self.visible + self.rejected
        return self.visible / total if total else math.nan


@dataclass(frozen=True)
class Summary:
    """Counts of a generated directory.

    ``split_volumes[distribution][split]`` are the volumes of each split (the data layer's
    rule, :func:`mri.data.metadata.assign_splits`); ``annotated_slices_per_distribution`` the
    slices with any finding; ``findings`` the per-finding statistics of each distribution
    (every finding group of its anatomy, plus ``other`` where such lesions occur).
    """

    files: int
    slices: int
    distributions: dict[str, int]  # label -> files
    slices_per_distribution: dict[str, int]
    annotated_slices: int
    boxes: int
    megabytes: float
    annotated_slices_per_distribution: dict[str, int] = field(default_factory=dict)
    split_volumes: dict[str, dict[str, int]] = field(default_factory=dict)
    findings: tuple[FindingStats, ...] = ()

    def line(self, seconds: float | None = None) -> str:
        """One-line summary for the CLI."""
        took = f", {seconds:.1f} s" if seconds is not None else ""
        return (
            f"{self.files} files, {self.slices} slices ({self.annotated_slices} with findings, "
            f"{self.boxes} boxes), {len(self.distributions)} distributions, "
            f"{self.megabytes:.1f} MB{took}"
        )

    def finding(self, distribution: str, finding: str) -> FindingStats | None:
        """The statistics of ``finding`` in ``distribution`` (None if not listed)."""
        for stats in self.findings:
            if (stats.distribution, stats.finding) == (distribution, finding):
                return stats
        return None

    def table(self) -> str:
        """Per-distribution and per-finding visibility table for the CLI."""
        splits = "/".join(SPLIT_NAMES)
        lines = [
            f"{'distribution':16s} {'finding':13s} {'visible':>7s} {'rejected':>8s} "
            f"{'%vis':>5s} {'area':>6s} {'effect':>6s} {'ring':>6s}  "
            f"{'positive volumes ' + splits:>28s}  {'positive slices ' + splits:>27s}"
        ]
        for dist in self.distributions:
            volumes = self.split_volumes.get(dist, {})
            counts = "/".join(str(volumes.get(s, 0)) for s in SPLIT_NAMES)
            slices = self.slices_per_distribution.get(dist, 0)
            annotated = self.annotated_slices_per_distribution.get(dist, 0)
            share = 100.0 * annotated / slices if slices else math.nan
            lines.append(
                f"{dist:16s} volumes {splits} {counts}, slices with any finding "
                f"{annotated}/{slices} ({share:.0f} %)"
            )
            for stats in self.findings:
                if stats.distribution != dist:
                    continue
                pos_v = "/".join(str(stats.positive_volumes.get(s, 0)) for s in SPLIT_NAMES)
                pos_s = "/".join(str(stats.positive_slices.get(s, 0)) for s in SPLIT_NAMES)
                lines.append(
                    f"{'':16s} {stats.finding:13s} {stats.visible:7d} {stats.rejected:8d} "
                    f"{100 * stats.visible_fraction:5.0f} {stats.median_area_px:6.1f} "
                    f"{stats.median_effect_sd:6.2f} {stats.median_ring_contrast_sd:6.2f}  "
                    f"{pos_v:>28s}  {pos_s:>27s}"
                )
        return "\n".join(lines)


ANATOMY_FINDINGS = {
    "knee": ("acl", "meniscus", "cartilage", "bone"),
    "brain": ("white_matter", "mass"),
}


def summarize(data_dir: str | Path, preset: str | Preset = "default", seed: int = 0) -> Summary:
    """Counts and per-finding statistics of ``preset``'s files in ``data_dir`` (sizes measured
    on disk; splits by the data layer's rule over the files' ``patient_id`` attributes)."""
    import pandas as pd


    recipe = get_preset(preset) if isinstance(preset, str) else preset
    root = Path(data_dir)
    files: Counter[str] = Counter()
    slices: Counter[str] = Counter()
    for dist in recipe.distributions:
        files[dist.label] += dist.volumes
        slices[dist.label] += dist.volumes * recipe.slices
    size = sum(p.stat().st_size for p in root.iterdir() if p.is_file())
    rows = _read_rows(root / ANNOTATIONS_FILE)
    annotated = {(r["file"], int(r["slice"])) for r in rows}

    # file -> distribution, split (the data layer's rule over the patients in the files)
    stems, labels, anatomies = [], [], {}
    specs = iter(volume_specs(recipe, seed))
    for dist in recipe.distributions:
        anatomies[dist.label] = dist.anatomy
        for _ in range(dist.volumes):
            stems.append(next(specs).stem)
            labels.append(dist.label)
    patients = []
    for stem in stems:
        with h5py.File(root / f"{stem}.h5", "r") as f:
            patients.append(str(f.attrs.get("patient_id", "")))
    frame = pd.DataFrame({"file": [f"{s}.h5" for s in stems], "patient_id": patients,
                          "distribution": labels})  # fmt: skip
    frame["split"] = assign_splits(frame)
    dist_of = dict(zip(stems, labels, strict=True))
    split_of = dict(zip(stems, frame["split"], strict=True))
    split_volumes = {
        d: {s: int(n) for s, n in group["split"].value_counts().items()}
        for d, group in frame.groupby("distribution", sort=False)
    }
    annotated_per_dist = Counter(dist_of[f] for f, _ in annotated if f in dist_of)

    lesion_rows = _read_rows(root / LESIONS_FILE) if (root / LESIONS_FILE).is_file() else []
    keys = [(d, g) for d in files for g in ANATOMY_FINDINGS.get(anatomies[d], ())]
    keys += sorted({(dist_of[r["file"]], r["finding"]) for r in lesion_rows} - set(keys))
    measures: dict[tuple[str, str], list[tuple[float, float, float, bool]]] = {k: [] for k in keys}
    for r in lesion_rows:
        measures[dist_of[r["file"]], r["finding"]].append(
            (float(r["area_px"]), float(r["effect_sd"]), float(r["ring_contrast_sd"]),
             r["visible"] == "1")
        )  # fmt: skip
    positive_vol: dict[tuple[str, str], set[str]] = {k: set() for k in keys}
    positive_sl: dict[tuple[str, str], set[tuple[str, int]]] = {k: set() for k in keys}
    for r in rows:
        if r["file"] not in dist_of:
            continue
        group = (finding_groups(r["label"]) or ("other",))[0]
        key = (dist_of[r["file"]], group)
        positive_vol.setdefault(key, set()).add(r["file"])
        positive_sl.setdefault(key, set()).add((r["file"], int(r["slice"])))
        measures.setdefault(key, [])

    def per_split(items) -> dict[str, int]:
        counts = Counter(split_of[item if isinstance(item, str) else item[0]] for item in items)
        return {s: counts.get(s, 0) for s in SPLIT_NAMES}

    findings = tuple(
        FindingStats(
            distribution=d,
            finding=g,
            visible=sum(m[3] for m in values),
            rejected=sum(not m[3] for m in values),
            median_area_px=_median([m[0] for m in values]),
            median_effect_sd=_median([m[1] for m in values]),
            median_ring_contrast_sd=_median([m[2] for m in values]),
            positive_volumes=per_split(positive_vol.get((d, g), ())),
            positive_slices=per_split(positive_sl.get((d, g), ())),
        )
        for (d, g), values in measures.items()
    )
    return Summary(
        files=sum(files.values()),
        slices=sum(slices.values()),
        distributions=dict(files),
        slices_per_distribution=dict(slices),
        annotated_slices=len(annotated),
        boxes=len(rows),
        megabytes=size / 1e6,
        annotated_slices_per_distribution={d: annotated_per_dist.get(d, 0) for d in files},
        split_volumes=split_volumes,
        findings=findings,
    )


def _read_rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def _median(values: list[float]) -> float:
    finite = [v for v in values if not math.isnan(v)]
    return float(statistics.median(finite)) if finite else math.nan
