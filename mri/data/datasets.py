"""Slice datasets for reconstruction and diagnosis over rows of the metadata table.

Both datasets enumerate slices in row order of ``files`` (slice 0..slices-1 within a row), the
order :func:`mri.data.distributions.slice_sampling_weights` assumes. ``files`` is a frame of
:class:`~mri.data.metadata.MetadataTable` rows (a split, a distribution, a mixture selection).

Data access: by default each DataLoader worker opens the HDF5 files it needs lazily and keeps
a bounded number of handles open; handles never enter pickled state and are reopened after a
fork, so the datasets work with any number of workers and start methods. ``preload=True``
reads the needed arrays of every volume once (:func:`load_volumes`); a mapping returned by
:func:`load_volumes` may be passed instead, so several datasets (or trials on one node, through
a shared object store) use one in-memory copy.

Reconstruction items (:class:`ReconSliceDataset`)::

    masked_kspace  complex64 [coils, H, W]   (single-coil files give coils = 1)
    mask           float32   [1, 1, W]       0/1 per phase-encode column, padding columns 0
    num_low_frequencies int                  centre block width (0: fully sampled, no mask_func)
    zero_filled    float32   [h, w]          crop(RSS(ifft2c(masked_kspace)))
    target         float32   [h, w]          reconstruction_rss slice (else RSS of full k-space)
    maxval         float                     volume max (attrs ``max``), SSIM/PSNR data range
    fname, slice   str, int
    boxes          float32   [n, 4]          (x, y, width, height) in image pixels, n may be 0

Evaluation masks (``train=False``) are seeded with ``file_seed(fname)``: every trial and every
epoch sees the same mask for a volume. Training masks draw their seed from torch's generator,
which DataLoader seeds differently in each worker and epoch. Batches with boxes of different
counts, or volumes of different coil counts (a mixture of scanners), need
:func:`collate_slices`, which keeps such entries as lists.

Diagnosis items (:class:`DiagnosisSliceDataset`)::

    image   float32 [1, h, w]   magnitude / volume max (about [0, 1]) after the optional shift
    labels  float32 [len(FINDINGS)]   multi-hot, see :mod:`mri.data.annotations`
    fname, slice
"""

from __future__ import annotations

import math
import os
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pandas as pd
import torch
from torch.utils.data import Dataset, default_collate

from mri.coils import center_crop, rss
from mri.data.annotations import FINDINGS, Annotations
from mri.data.distributions import slice_sampling_weights
from mri.data.reader import (
    DataError,
    check_finite,
    kspace_from_handle,
    open_volume,
    target_from_handle,
    target_key,
)
from mri.fft import ifft2c

REQUIRED_COLUMNS = ("file", "path", "slices", "recon_h", "recon_w")
SHIFT_SPACES = ("kspace", "image")


@dataclass(frozen=True)
class Volume:
    """In-memory arrays of one volume: ``kspace`` complex64 ``[slices, (coils,) H, W]`` and
    ``target`` float32 ``[slices, h, w]``; either may be None when not loaded. ``has_target``
    tells whether the file has a reference image at all."""

    kspace: np.ndarray | None
    target: np.ndarray | None
    has_target: bool = True

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for a in (self.kspace, self.target) if a is not None)


def load_volumes(
    files: pd.DataFrame, *, kspace: bool = True, target: bool = True
) -> dict[str, Volume]:
    """Read the requested arrays of every distinct ``path`` in ``files`` into memory.

    Returns ``{path: Volume}``; arrays are checked for NaN/Inf (:class:`DataError`).
    """
    volumes: dict[str, Volume] = {}
    for path in dict.fromkeys(files["path"]):
        with open_volume(path) as hf:
            volumes[path] = _load_volume(hf, Path(path), kspace, target)
    return volumes


def _load_volume(hf: h5py.File, path: Path, kspace: bool, target: bool) -> Volume:
    arrays: dict[str, np.ndarray | None] = {"kspace": None, "target": None}
    key = target_key(hf)
    try:
        if kspace:
            arrays["kspace"] = np.asarray(hf["kspace"][()], dtype=np.complex64)
        if target and key is not None:
            arrays["target"] = np.asarray(hf[key][()], dtype=np.float32)
    except (OSError, KeyError) as err:
        raise DataError(f"{path}: cannot read volume data: {err}") from err
    for name, array in arrays.items():
        if array is not None:
            check_finite(array, path, name)
    return Volume(**arrays, has_target=key is not None)


class SliceReader:
    """Slice access to volumes, from a preloaded mapping or from lazily opened HDF5 files.

    At most ``max_open`` files stay open (least recently used closed first). Open handles are
    per process: they are dropped when pickled and reopened after a fork.
    """

    def __init__(self, volumes: Mapping[str, Volume] | None = None, max_open: int = 32) -> None:
        self.volumes = volumes
        self.max_open = max_open
        self._handles: OrderedDict[str, h5py.File] = OrderedDict()
        self._pid = os.getpid()

    def kspace(self, path: str, index: int) -> np.ndarray:
        """complex64 ``[coils, H, W]`` or ``[H, W]``."""
        volume = self.volumes.get(path) if self.volumes is not None else None
        if volume is not None and volume.kspace is not None:
            return volume.kspace[index]
        return kspace_from_handle(self._handle(path), Path(path), index)

    def target(self, path: str, index: int) -> np.ndarray | None:
        """float32 ``[h, w]`` or None when the file has no reference image."""
        volume = self.volumes.get(path) if self.volumes is not None else None
        if volume is not None:
            if volume.target is not None:
                return volume.target[index]
            if not volume.has_target:
                return None
        return target_from_handle(self._handle(path), Path(path), index)

    def _handle(self, path: str) -> h5py.File:
        if os.getpid() != self._pid:  # inherited through fork: h5py handles must not be shared
            self._handles = OrderedDict()
            self._pid = os.getpid()
        handle = self._handles.get(path)
        if handle is None:
            handle = open_volume(path)
            self._handles[path] = handle
            while len(self._handles) > self.max_open:
                _, oldest = self._handles.popitem(last=False)
                oldest.close()
        else:
            self._handles.move_to_end(path)
        return handle

    def close(self) -> None:
        """Close every open handle of this process."""
        if os.getpid() == self._pid:
            for handle in self._handles.values():
                handle.close()
        self._handles = OrderedDict()

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_handles"] = OrderedDict()
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._pid = os.getpid()


class _SliceDataset(Dataset):
    """Shared slice indexing, volume access and sampling weights."""

    def __init__(
        self,
        files: pd.DataFrame,
        shift: str | None,
        severity: int,
        preload: bool | Mapping[str, Volume],
        need_kspace: bool,
        cache: bool = False,
    ) -> None:
        missing = [c for c in REQUIRED_COLUMNS if c not in files.columns]
        if missing:
            raise ValueError(
                f"files is missing columns {missing}; pass rows of scan_directory(...).files"
            )
        self.files = files.reset_index(drop=True)
        self.rows = [_row(record) for record in self.files.to_dict("records")]
        self.examples: list[tuple[int, int]] = [
            (i, s) for i, row in enumerate(self.rows) for s in range(row["slices"])
        ]
        self.shift, self.severity = _check_shift(shift, severity)
        if isinstance(preload, Mapping):
            volumes: Mapping[str, Volume] | None = preload
        elif preload:
            volumes = load_volumes(self.files, kspace=need_kspace, target=True)
        else:
            volumes = None
        self.reader = SliceReader(volumes)
        self._items: dict[int, dict[str, Any]] | None = {} if cache else None

    def __getitem__(self, i: int) -> dict[str, Any]:
        if self._items is None:
            return self._make_item(i)
        item = self._items.get(i)
        if item is None:
            item = self._items[i] = self._make_item(i)
        # Clones: a consumer normalising a batch in place must not alter the cached item.
        return {k: v.clone() if torch.is_tensor(v) else v for k, v in item.items()}

    def _make_item(self, i: int) -> dict[str, Any]:
        raise NotImplementedError

    def __len__(self) -> int:
        return len(self.examples)

    @property
    def shifted(self) -> bool:
        return self.shift is not None and self.severity > 0

    def sampling_weights(self) -> np.ndarray:
        """Per-item weights ``[len(self)]`` for a WeightedRandomSampler (see
        :func:`mri.data.distributions.slice_sampling_weights`): a mixture selection's
        proportions, or uniform when ``files`` has no ``member``/``weight`` columns."""
        return slice_sampling_weights(self.files)

    def _kspace(self, row: dict[str, Any], index: int) -> torch.Tensor:
        """complex64 ``[coils, H, W]`` (single-coil gets coils = 1), a private copy."""
        kspace = torch.from_numpy(_owned(self.reader.kspace(row["path"], index)))
        return kspace.unsqueeze(0) if kspace.ndim == 2 else kspace

    def _target(self, row: dict[str, Any], index: int) -> torch.Tensor | None:
        target = self.reader.target(row["path"], index)
        return None if target is None else torch.from_numpy(_owned(target))

    def _shift_kspace(self, kspace: torch.Tensor, row: dict[str, Any], index: int) -> torch.Tensor:
        from mri.masks import file_seed
        from mri.shifts import shift_kspace

        return shift_kspace(self.shift, self.severity, kspace, seed=file_seed(row["file"]) + index)


class ReconSliceDataset(_SliceDataset):
    """Undersampled multi-coil k-space with its reference image, one item per slice.

    Args:
        files: metadata rows (``file``, ``path``, ``slices``, ``recon_h``, ``recon_w``, and
            ``padding_left``/``padding_right``/``max`` when known).
        mask_func: a :mod:`mri.masks` mask function, or None for fully sampled k-space.
        train: random masks per item (True) or masks seeded by ``file_seed(fname)`` (False).
        shift: name of a :data:`mri.shifts.SHIFTS` entry applied to the k-space before masking
            with seed ``file_seed(fname) + slice``; ``severity`` 0 disables it.
        annotations: optional boxes for the ``boxes`` entry.
        preload: False (read lazily), True (read every volume now) or a :func:`load_volumes`
            mapping to share.
        cache: keep every item once computed (evaluation only: its items are deterministic),
            so later epochs skip reading and transforms. Each process has its own cache: use
            it with ``num_workers=0`` or ``persistent_workers=True``.
    """

    def __init__(
        self,
        files: pd.DataFrame,
        mask_func: Any,
        *,
        train: bool,
        shift: str | None = None,
        severity: int = 0,
        annotations: Annotations | None = None,
        preload: bool | Mapping[str, Volume] = False,
        cache: bool = False,
    ) -> None:
        if cache and train:
            raise ValueError("cache=True needs train=False: training items have random masks")
        super().__init__(files, shift, severity, preload, need_kspace=True, cache=cache)
        self.mask_func = mask_func
        self.train = train
        self.annotations = annotations

    def _make_item(self, i: int) -> dict[str, Any]:
        row_index, index = self.examples[i]
        row = self.rows[row_index]
        kspace = self._kspace(row, index)
        target = self._target(row, index)
        crop = _crop_size(row, kspace.shape[-2:], target)
        if target is None:  # the clean image, before any shift
            target = rss_image(kspace, crop)
        elif tuple(target.shape) != crop:
            target = center_crop(target, crop)
        if self.shifted:
            kspace = self._shift_kspace(kspace, row, index)
        masked, mask, num_low = self._mask(kspace, row)
        zero_filled = rss_image(masked, crop)
        maxval = row["max"] if math.isfinite(row["max"]) else float(target.max())
        return {
            "masked_kspace": masked.to(torch.complex64),
            "mask": mask.to(torch.float32),
            "num_low_frequencies": int(num_low),
            "zero_filled": zero_filled.to(torch.float32).contiguous(),
            "target": target.to(torch.float32).contiguous(),
            "maxval": float(maxval),
            "fname": row["file"],
            "slice": index,
            "boxes": self._boxes(row, index),
        }

    def _mask(
        self, kspace: torch.Tensor, row: dict[str, Any]
    ) -> tuple[torch.Tensor, torch.Tensor, int]:
        width = kspace.shape[-1]
        left = min(max(row["padding_left"], 0), width)
        right = min(max(row["padding_right"], left), width)
        if self.mask_func is None:
            mask = torch.zeros(1, 1, width)
            mask[..., left:right] = 1.0
            masked = kspace if (left, right) == (0, width) else kspace * mask + 0.0
            return masked, mask, 0
        from mri.masks import apply_mask, file_seed

        seed = _training_seed() if self.train else file_seed(row["file"])
        return apply_mask(kspace, self.mask_func, seed=seed, padding=(left, right))

    def _boxes(self, row: dict[str, Any], index: int) -> torch.Tensor:
        if self.annotations is None:
            return torch.zeros(0, 4)
        boxes = self.annotations.boxes(row["file"], index)
        return torch.tensor(
            [[b.x, b.y, b.width, b.height] for b in boxes], dtype=torch.float32
        ).reshape(-1, 4)


class DiagnosisSliceDataset(_SliceDataset):
    """Magnitude images with multi-label findings, one item per slice.

    The clean image is the ``reconstruction_rss`` slice (else the RSS of the k-space, cropped).
    A shift (``shift``, ``severity`` > 0, seed ``file_seed(fname) + slice``) is applied with
    ``shift_kspace`` to the (multi-coil) k-space followed by RSS and crop when
    ``shift_space='kspace'`` (default; every fastMRI-format file has k-space), or with
    ``shift_image`` to the clean magnitude when ``shift_space='image'`` (the setting of
    Madaan et al., who only had magnitude images). Images are divided by the clean volume max
    (attrs ``max``), so clean images lie in [0, 1]. Without annotations every label is 0.
    ``preload`` and ``cache`` work as for :class:`ReconSliceDataset` (items here are always
    deterministic, so ``cache`` is always allowed).
    """

    def __init__(
        self,
        files: pd.DataFrame,
        annotations: Annotations | None,
        *,
        shift: str | None = None,
        severity: int = 0,
        shift_space: str = "kspace",
        preload: bool | Mapping[str, Volume] = False,
        cache: bool = False,
    ) -> None:
        if shift_space not in SHIFT_SPACES:
            raise ValueError(f"unknown shift_space {shift_space!r}; choose one of {SHIFT_SPACES}")
        self.shift_space = shift_space
        has_target = files["has_target"].all() if "has_target" in files else True
        shifted = shift is not None and severity > 0
        need_kspace = (shifted and shift_space != "image") or not has_target
        super().__init__(
            files, shift, severity, preload, need_kspace=bool(need_kspace), cache=cache
        )
        self.annotations = annotations

    def _make_item(self, i: int) -> dict[str, Any]:
        row_index, index = self.examples[i]
        row = self.rows[row_index]
        image = self._image(row, index)
        scale = row["max"] if math.isfinite(row["max"]) and row["max"] > 0 else None
        if scale is None:
            scale = float(image.max()) or 1.0
        if self.annotations is None:
            labels = np.zeros(len(FINDINGS), dtype=np.float32)
        else:
            labels = self.annotations.slice_labels(row["file"], index)
        return {
            "image": (image / scale).to(torch.float32).unsqueeze(0).contiguous(),
            "labels": torch.from_numpy(labels),
            "fname": row["file"],
            "slice": index,
        }

    def label_matrix(self) -> np.ndarray:
        """Labels of every item, float32 ``[len(self), len(FINDINGS)]`` (no data read), e.g. for
        class-balanced sampling by inverse frequency."""
        if self.annotations is None:
            return np.zeros((len(self), len(FINDINGS)), dtype=np.float32)
        return (
            np.stack(
                [self.annotations.slice_labels(self.rows[r]["file"], s) for r, s in self.examples]
            )
            if self.examples
            else np.zeros((0, len(FINDINGS)), dtype=np.float32)
        )

    def _image(self, row: dict[str, Any], index: int) -> torch.Tensor:
        if self.shifted and self.shift_space == "kspace":
            kspace = self._kspace(row, index)
            crop = _crop_size(row, kspace.shape[-2:], None)
            return rss_image(self._shift_kspace(kspace, row, index), crop)
        clean = self._target(row, index)
        if clean is None:
            kspace = self._kspace(row, index)
            clean = rss_image(kspace, _crop_size(row, kspace.shape[-2:], None))
        if not self.shifted:
            return clean
        from mri.masks import file_seed
        from mri.shifts import shift_image

        return shift_image(self.shift, self.severity, clean, seed=file_seed(row["file"]) + index)


def rss_image(kspace: torch.Tensor, crop: tuple[int, int]) -> torch.Tensor:
    """``crop(RSS(ifft2c(kspace)))`` for k-space ``[coils, H, W]`` -> real ``[h, w]``.

    Cropping the coil images before combining gives the same values (RSS is per pixel) and
    saves the combination work outside the recon window.
    """
    return rss(center_crop(ifft2c(kspace), crop), dim=-3)


def collate_slices(batch: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """``default_collate`` for slice items that tolerates ragged entries.

    ``boxes`` stays a list of ``[n_i, 4]`` tensors, and so does any tensor entry whose shape
    differs across the batch (``masked_kspace``/``mask`` when volumes of different coil counts
    or widths meet in one batch: a mixture of scanners); everything else is stacked as usual.
    """
    if not batch:
        return {}
    ragged = {"boxes"} | {
        key
        for key, value in batch[0].items()
        if torch.is_tensor(value) and any(item[key].shape != value.shape for item in batch[1:])
    }
    rest = [{k: v for k, v in item.items() if k not in ragged} for item in batch]
    out = default_collate(rest)
    for key in ragged:
        if key in batch[0]:
            out[key] = [item[key] for item in batch]
    return out


def _owned(array: np.ndarray) -> np.ndarray:
    """The array itself when freshly read from a file, else a private writable copy (preloaded
    volumes, possibly read-only shared memory, must never be modified through an item)."""
    return array if array.base is None and array.flags.writeable else array.copy()


def _row(record: dict[str, Any]) -> dict[str, Any]:
    """The per-volume fields items need, as plain Python values."""

    def number(key: str, default: float) -> float:
        value = record.get(key, default)
        return default if value is None or pd.isna(value) else value

    return {
        "file": str(record["file"]),
        "path": str(record["path"]),
        "slices": int(record["slices"]),
        "recon_h": int(record["recon_h"]),
        "recon_w": int(record["recon_w"]),
        "padding_left": int(number("padding_left", 0)),
        "padding_right": int(number("padding_right", 2**31 - 1)),
        "max": float(number("max", math.nan)),
    }


def _crop_size(
    row: dict[str, Any], image_shape: Sequence[int], target: torch.Tensor | None
) -> tuple[int, int]:
    """Target shape when present, else the recon matrix; never larger than the image."""
    h, w = (
        (target.shape[-2], target.shape[-1])
        if target is not None
        else (row["recon_h"], row["recon_w"])
    )
    return min(int(h), int(image_shape[-2])), min(int(w), int(image_shape[-1]))


def _check_shift(shift: str | None, severity: int) -> tuple[str | None, int]:
    if shift is None:
        if severity:
            raise ValueError(f"severity {severity} given without a shift name")
        return None, 0
    from mri.shifts import SHIFTS

    if shift not in SHIFTS:
        raise ValueError(f"unknown shift {shift!r}; choose one of {', '.join(SHIFTS)}")
    if not isinstance(severity, int | np.integer) or not 0 <= severity <= 5:
        raise ValueError(f"severity must be an integer in 0..5, got {severity!r}")
    return shift, int(severity)


def _training_seed() -> int:
    # torch's generator is seeded per DataLoader worker and epoch, unlike NumPy's in a fork.
    return int(torch.randint(0, 2**31 - 1, (1,)).item())
