"""The data a launch ships to its trials, all found and built by the driver before Ray starts:
the data directory (given, or the embedded synthetic data, generated once), checked for the
study's distributions, and the bundle of arrays every trial shares
(:mod:`trainables.data`'s types), prepared once per study from ``mri.data``. A data problem (a
missing distribution, a NaN in k-space, a bad annotation row, an empty split) stops the launch
with exit status 2, naming the file.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from mri.data.annotations import FINDINGS, Annotations, annotation_files, load_annotations
from mri.data.datasets import DiagnosisSliceDataset, ReconSliceDataset
from mri.data.distributions import UnknownDistributionError, select
from mri.data.metadata import MetadataTable, scan_directory
from mri.data.reader import DataError
from mri.data.volumes import load_volumes
from mri.fft import ifftc
from mri.masks import create_mask_for_mask_type
from study.options import LaunchError, RunOptions
from trainables.data import DiagnosisData, EvalSet, EvalSpec, ReconData, TrainGroup


def resolve_data(opts: RunOptions) -> Path:
    """The data directory (``--data``, or the embedded synthetic data, generated once), checked
    to hold every distribution the study needs with train/val/test volumes."""
    study = opts.study
    if opts.data is None:
        from mri.synth.cache import ensure_synthetic_data

        data_dir = ensure_synthetic_data(study.data_preset)
    else:
        data_dir = opts.data
        if not data_dir.is_dir():
            raise LaunchError(f"--data {data_dir}: not a directory")
    table = scan_directory(data_dir)
    if len(table.bad):
        print(f"warning: {len(table.bad)} bad file(s) in {data_dir} are left out:")
        for row in table.bad.itertuples():
            print(f"  {row.file}: {row.reason}")
    missing = []
    for name in study.distributions:
        try:
            rows = select(table, name)
        except UnknownDistributionError:
            rows = []
        if len(rows) == 0 or not {"train", "val", "test"} <= set(rows["split"]):
            missing.append(name)
    if missing:
        raise LaunchError(
            f"--data {data_dir}: study {study.name!r} needs the distributions "
            f"{', '.join(missing)} with train/val/test volumes; present: "
            f"{', '.join(sorted(table.files['distribution'].unique())) or 'none'} "
            "(python -m mri.inspect DIR lists them)"
        )
    return Path(data_dir)


def build_bundle(study, data_dir: Path, annotation_csvs: Sequence[Path] | None = None):
    """The arrays every trial shares, built before Ray starts, so a data problem (a NaN in
    k-space, a bad annotation row, an empty split) stops the launch with exit status 2."""
    try:
        bundle = study.build_data(data_dir, annotation_csvs=annotation_csvs)
    except (DataError, ValueError) as e:
        raise LaunchError(f"--data {data_dir}: {e}") from None
    for note in getattr(bundle, "notes", []):
        print(f"note: {note}")
    return bundle


def load_table(data_dir: str | Path, annotation_csvs: Sequence[str | Path] | None = None
               ) -> tuple[MetadataTable, Annotations | None]:
    """The data directory's metadata table and its annotations: ``annotation_csvs`` (e.g.
    fastMRI+'s ``knee.csv``, ``brain.csv``), else ``annotations.csv`` in it, else None."""
    table = scan_directory(data_dir)
    csvs = annotation_files(data_dir, annotation_csvs)
    return table, load_annotations(csvs, table) if csvs else None


def split_files(table: MetadataTable, distributions: Sequence[str], split: str) -> pd.DataFrame:
    """Rows of ``split`` (train/val/test) of every named distribution, in that order."""
    frames = []
    for dist in distributions:
        rows = select(table, dist)
        rows = rows[rows["split"] == split]
        if rows.empty:
            raise ValueError(f"distribution {dist!r} has no volumes in its {split} split")
        frames.append(rows)
    return pd.concat(frames)


def _stack(
    dataset, keys: Sequence[str]
) -> tuple[dict[str, np.ndarray], list[str], np.ndarray, list[list[tuple[int, int, int, int]]]]:
    """Evaluate every item of ``dataset`` once and stack the ``keys`` arrays (written straight
    into arrays of all items, so the data is held once, not also as a list of items)."""
    names = ", ".join(sorted(set(dataset.files["distribution"])))
    if len(dataset) == 0:
        raise ValueError(f"{names}: no slices to stack")
    columns: dict[str, np.ndarray] = {}
    fnames, slices, boxes = [], [], []
    for i in range(len(dataset)):
        item = dataset[i]
        for k in keys:
            value = item[k].numpy() if torch.is_tensor(item[k]) else np.asarray(item[k])
            if i == 0:
                columns[k] = np.empty((len(dataset), *value.shape), value.dtype)
            elif value.shape != columns[k].shape[1:]:
                shapes = sorted({value.shape, columns[k].shape[1:]})
                raise ValueError(
                    f"{names}: {k} comes in shapes {shapes}; split the distribution by coil "
                    "count and matrix size (a batch, and an evaluation set, has one shape)"
                )
            columns[k][i] = value
        fnames.append(str(item["fname"]))
        slices.append(int(item["slice"]))
        if "boxes" in item:
            boxes.append([tuple(int(round(v)) for v in b) for b in item["boxes"].tolist()])
    return columns, fnames, np.asarray(slices), boxes


def build_diagnosis_data(
    data_dir: str | Path,
    train_distributions: Sequence[str],
    ood_distributions: Sequence[str],
    shifts: Iterable[str],
    severities: Iterable[int],
    annotation_csvs: Sequence[str | Path] | None = None,
) -> DiagnosisData:
    """Images and labels for the diagnosis studies.

    Training: the train split of ``train_distributions``. Validation (the objective): each
    one's val split, clean, as a set of its own. Tests: each training distribution's test split
    clean and under every shift at every severity, and the test split of each
    ``ood_distributions`` entry, clean. Findings are
    the :data:`mri.data.annotations.FINDINGS` groups with at least one positive training slice.
    """
    table, annotations = load_table(data_dir, annotation_csvs)
    if annotations is None:
        raise ValueError(f"{data_dir}: diagnosis studies need fastMRI+ labels: annotations.csv "
                         "in the data directory, or --annotations CSV [CSV ...]")
    every = split_files(table, [*train_distributions, *ood_distributions], "test")
    volumes = load_volumes(
        pd.concat(
            [
                every,
                split_files(table, train_distributions, "train"),
                split_files(table, train_distributions, "val"),
            ]
        )
    )

    def image_set(dists: Sequence[str], split: str, shift: str = "none", severity: int = 0):
        ds = DiagnosisSliceDataset(
            split_files(table, dists, split),
            annotations,
            shift=None if shift == "none" else shift,
            severity=severity,
            preload=volumes,
        )
        arrays, fnames, slices, _ = _stack(ds, ("image", "labels"))
        return arrays, fnames, slices

    arrays, _, _ = image_set(train_distributions, "train")
    keep = [i for i, f in enumerate(FINDINGS) if arrays["labels"][:, i].any()]
    findings = [FINDINGS[i] for i in keep]

    def labelled(arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return {**arrays, "labels": np.ascontiguousarray(arrays["labels"][:, keep])}

    any_column = FINDINGS.index("any")
    train = TrainGroup(
        "+".join(train_distributions), labelled(arrays), arrays["labels"][:, any_column] > 0
    )
    val = []
    for dist in train_distributions:
        a, f, s = image_set([dist], "val")
        val.append(EvalSet(EvalSpec(dist, "val"), labelled(a), f, s))
    tests = []
    for dist in train_distributions:
        for shift, severity in [("none", 0)] + [(s, v) for s in shifts for v in severities]:
            a, f, s = image_set([dist], "test", shift, severity)
            tests.append(EvalSet(EvalSpec(dist, "test", shift, severity), labelled(a), f, s))
    for dist in ood_distributions:
        a, f, s = image_set([dist], "test")
        tests.append(EvalSet(EvalSpec(dist, "test"), labelled(a), f, s))
    return DiagnosisData(
        findings=findings,
        train=train,
        val=val,
        tests=tests,
        train_distributions=list(train_distributions),
        notes=[n for n in [annotations.absent_summary()] if n],
    )


RECON_EVAL_KEYS = (
    "zero_filled",
    "target",
    "maxval",
    "masked_kspace",
    "mask",
    "num_low_frequencies",
)


def build_recon_data(
    data_dir: str | Path,
    train_distributions: Sequence[str],
    test_distributions: Sequence[str],
    shifts: Iterable[str] = (),
    severities: Iterable[int] = (),
    shift_distributions: Sequence[str] = (),
    mask: dict[str, object] | None = None,
    with_kspace: bool = True,
    annotation_csvs: Sequence[str | Path] | None = None,
) -> ReconData:
    """Training k-space and fixed evaluation inputs for the reconstruction studies.

    ``mask``: ``{"type": ..., "center_fractions": [...], "accelerations": [...]}``. Evaluation
    masks are seeded per file (``mri.masks.file_seed``) so every trial sees the same ones.
    ``with_kspace=False`` drops the masked k-space of evaluation sets (U-Net and ViT only need
    the zero-filled image).
    """
    mask = mask or {"type": "equispaced_fraction", "center_fractions": [0.08], "accelerations": [4]}
    mask_func = create_mask_for_mask_type(
        mask["type"], mask["center_fractions"], mask["accelerations"]
    )
    table, annotations = load_table(data_dir, annotation_csvs)
    keys = RECON_EVAL_KEYS if with_kspace else RECON_EVAL_KEYS[:3]

    def eval_set(spec: EvalSpec) -> EvalSet:
        ds = ReconSliceDataset(
            split_files(table, [spec.distribution], spec.split),
            mask_func,
            shift=None if spec.shift == "none" else spec.shift,
            severity=spec.severity,
            annotations=annotations,
        )
        arrays, fnames, slices, boxes = _stack(ds, keys)
        return EvalSet(spec, arrays, fnames, slices, boxes if annotations is not None else [])

    train = {d: _train_group(table, annotations, d) for d in train_distributions}
    val = {d: eval_set(EvalSpec(d, "val")) for d in train_distributions}
    tests = [eval_set(EvalSpec(d)) for d in test_distributions]
    for d in shift_distributions:
        tests += [eval_set(EvalSpec(d, "test", s, v)) for s in shifts for v in severities]
    notes = [annotations.absent_summary()] if annotations is not None else []
    return ReconData(train=train, val=val, tests=tests, mask=mask, notes=[n for n in notes if n])


def _train_group(table: MetadataTable, annotations: Annotations | None, dist: str) -> TrainGroup:
    """Fully sampled training k-space of one distribution (masks are drawn per step)."""
    files = split_files(table, [dist], "train")
    # read lazily (the k-space is held once, stacked); zero-filled images are made per step
    dataset = ReconSliceDataset(files, None, zero_filled=False)
    arrays, fnames, slices, _ = _stack(dataset, ("masked_kspace", "target", "maxval"))
    kspace = arrays["masked_kspace"]
    any_column = FINDINGS.index("any")
    finding = [
        annotations is not None and annotations.slice_labels(f, int(s))[any_column] > 0
        for f, s in zip(fnames, slices, strict=True)
    ]
    return TrainGroup(
        dist,
        {
            "kspace": kspace,
            "hybrid": readout_transformed(kspace, arrays["target"].shape[-2]),
            "target": arrays["target"],
            "maxval": arrays["maxval"].astype(np.float32),
        },
        np.asarray(finding, dtype=bool),
    )


def readout_transformed(kspace: np.ndarray, rows: int, chunk: int = 64) -> np.ndarray:
    """``[N, C, H, W]`` k-space -> ``[N, C, rows, W]``: the centered inverse FFT along the
    readout (``H``), centre-cropped to the image's ``rows``.

    Trial-independent, so done once per study: a training step's zero-filled image under a
    fresh column mask is then the inverse FFT along ``W`` of ``mask * hybrid`` (see
    :func:`mri.fft.ifftc`), a quarter of the FFT work of ``ifft2c`` on the full k-space with
    2x readout oversampling.
    """
    out = np.empty((*kspace.shape[:2], rows, kspace.shape[-1]), np.complex64)
    top = (kspace.shape[-2] - rows) // 2
    for start in range(0, len(kspace), chunk):
        part = ifftc(torch.from_numpy(kspace[start : start + chunk]), dim=-2)
        out[start : start + chunk] = part[..., top : top + rows, :].numpy()
    return out
