"""Slice datasets for reconstruction and diagnosis over rows of the metadata table: the one
path from fastMRI-format files to the arrays a study prepares once and ships to its trials
(:mod:`study.bundles` stacks their items; trials draw training masks per step themselves).

Both datasets enumerate slices in row order of ``files`` (slice 0..slices-1 within a row).
``files`` is a frame of :class:`~mri.data.metadata.MetadataTable` rows (a split of a
distribution). Items are deterministic: the same files give the same items in any process.

Data access (:mod:`mri.data.volumes`): by default the HDF5 files are opened lazily;
``preload=True`` reads the needed arrays of every volume once
(:func:`~mri.data.volumes.load_volumes`), and a mapping returned by ``load_volumes`` may be
passed instead, so several datasets use one in-memory copy.

Reconstruction items (:class:`ReconSliceDataset`)::

    masked_kspace  complex64 [coils, H, W]   (single-coil files give coils = 1)
    mask           float32   [1, 1, W]       0/1 per phase-encode column, padding columns 0
    num_low_frequencies int                  centre block width (0: fully sampled, no mask_func)
    zero_filled    float32   [h, w]          crop(RSS(ifft2c(masked_kspace)))
    target         float32   [h, w]          reconstruction_rss slice (else RSS of full k-space)
    maxval         float                     volume max (attrs ``max``), SSIM/PSNR data range
    fname, slice   str, int
    boxes          float32   [n, 4]          (x, y, width, height) in image pixels, n may be 0

Masks are seeded with ``file_seed(fname)``: every trial and every epoch sees the same mask for
a volume.

Diagnosis items (:class:`DiagnosisSliceDataset`)::

    image   float32 [1, h, w]   magnitude / volume max (about [0, 1]) after the optional shift
    labels  float32 [len(FINDINGS)]   multi-hot, see :mod:`mri.data.annotations`
    fname, slice
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch.utils.data import Dataset

from mri.coils import center_crop, rss
from mri.data.annotations import FINDINGS, Annotations
from mri.data.volumes import SliceReader, Volume, load_volumes
from mri.fft import ifft2c

REQUIRED_COLUMNS = ("file", "path", "slices", "recon_h", "recon_w")
SHIFT_SPACES = ("kspace", "image")


class _SliceDataset(Dataset):
    """Shared slice indexing and volume access."""

    def __init__(
        self,
        files: pd.DataFrame,
        shift: str | None,
        severity: int,
        preload: bool | Mapping[str, Volume],
        need_kspace: bool,
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

    def __getitem__(self, i: int) -> dict[str, Any]:
        raise NotImplementedError

    def __len__(self) -> int:
        return len(self.examples)

    @property
    def shifted(self) -> bool:
        return self.shift is not None and self.severity > 0

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
        mask_func: a :mod:`mri.masks` mask function (seeded by ``file_seed(fname)``), or None
            for fully sampled k-space.
        shift: name of a :data:`mri.shifts.SHIFTS` entry applied to the k-space before masking
            with seed ``file_seed(fname) + slice``; ``severity`` 0 disables it.
        annotations: optional boxes for the ``boxes`` entry.
        preload: False (read lazily), True (read every volume now) or a :func:`load_volumes`
            mapping to share.
        zero_filled: False leaves the ``zero_filled`` entry out, and its inverse FFT undone
            (training k-space, whose zero-filled images a trial makes per step under fresh
            masks).
    """

    def __init__(
        self,
        files: pd.DataFrame,
        mask_func: Any,
        *,
        shift: str | None = None,
        severity: int = 0,
        annotations: Annotations | None = None,
        preload: bool | Mapping[str, Volume] = False,
        zero_filled: bool = True,
    ) -> None:
        super().__init__(files, shift, severity, preload, need_kspace=True)
        self.mask_func = mask_func
        self.annotations = annotations
        self.zero_filled = zero_filled

    def __getitem__(self, i: int) -> dict[str, Any]:
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
        maxval = row["max"] if math.isfinite(row["max"]) else float(target.max())
        item = {
            "masked_kspace": masked.to(torch.complex64),
            "mask": mask.to(torch.float32),
            "num_low_frequencies": int(num_low),
            "target": target.to(torch.float32).contiguous(),
            "maxval": float(maxval),
            "fname": row["file"],
            "slice": index,
            "boxes": self._boxes(row, index),
        }
        if self.zero_filled:
            item["zero_filled"] = rss_image(masked, crop).to(torch.float32).contiguous()
        return item

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

        seed = file_seed(row["file"])
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
    ``preload`` works as for :class:`ReconSliceDataset`.
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
    ) -> None:
        if shift_space not in SHIFT_SPACES:
            raise ValueError(f"unknown shift_space {shift_space!r}; choose one of {SHIFT_SPACES}")
        self.shift_space = shift_space
        has_target = files["has_target"].all() if "has_target" in files else True
        shifted = shift is not None and severity > 0
        need_kspace = (shifted and shift_space != "image") or not has_target
        super().__init__(files, shift, severity, preload, need_kspace=bool(need_kspace))
        self.annotations = annotations

    def __getitem__(self, i: int) -> dict[str, Any]:
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
