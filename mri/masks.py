"""Cartesian undersampling masks with fastMRI's semantics.

A mask keeps whole phase-encode columns. Following fastMRI, a mask function is called with a
``shape`` whose second-to-last entry is the number of columns ``N`` and returns a float32 mask
of shape ``[1, ..., 1, N, 1]`` (same rank as ``shape``) plus the number of fully sampled
low-frequency columns. Every mask keeps a centre block of ``num_low = round(N * centre_fraction)``
columns starting at column ``(N - num_low + 1) // 2`` and adds high-frequency columns:

- ``RandomMaskFunc``: each column independently with probability
  ``(N / acceleration - num_low) / (N - num_low)``, so the expected number of kept columns is
  ``N / acceleration``.
- ``EquiSpacedMaskFunc``: columns ``offset, offset + acceleration, ...`` (offset drawn from
  ``[0, acceleration)`` unless given). The centre block adds columns on top, so the effective
  acceleration is below the nominal one.
- ``EquispacedMaskFractionFunc``: columns ``round(offset + i * a)`` for ``offset + i * a < N - 1``
  with the spacing stretched to ``a = acceleration * (num_low - N) / (num_low * acceleration - N)``
  so that centre plus equispaced columns come to about ``N / acceleration`` in total.

Random draws use a ``numpy.random.RandomState`` and consume it in the same order as fastMRI
(one integer to pick the (centre fraction, acceleration) pair, then the column draws), so the
same seeds give the same masks as fastMRI's mask functions.

``apply_mask`` adapts this to the project's complex ``[..., H, W]`` k-space layout.
"""

from __future__ import annotations

import contextlib
import zlib
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import torch

# A per-call seed may be an int or, like fastMRI's file seeds, a tuple of ints.
Seed = int | tuple[int, ...] | None

MASK_TYPES = ("random", "equispaced", "equispaced_fraction")


@contextlib.contextmanager
def _temporary_seed(rng: np.random.RandomState, seed: Seed) -> Iterator[None]:
    """Reseed ``rng`` for the duration of the block, then restore its previous state.

    Restoring keeps a seeded evaluation mask from perturbing the stream of training masks.
    """
    if seed is None:
        yield
        return
    state = rng.get_state()
    rng.seed(seed)
    try:
        yield
    finally:
        rng.set_state(state)


def center_mask(num_cols: int, num_low: int) -> np.ndarray:
    """1-D float32 mask ``[num_cols]`` with the ``num_low`` central columns set to 1.

    The block starts at ``(num_cols - num_low + 1) // 2``: for even ``num_cols`` and odd
    ``num_low`` the extra column goes to the right of the DC column ``num_cols // 2``.
    """
    mask = np.zeros(num_cols, dtype=np.float32)
    start = (num_cols - num_low + 1) // 2
    mask[start : start + num_low] = 1.0
    return mask


class MaskFunc:
    """Base class: picks a (centre fraction, acceleration) pair and builds the mask.

    Args:
        center_fractions: fractions of columns in the fully sampled centre, each in (0, 1).
        accelerations: nominal acceleration factors (>= 1), one per centre fraction. On each
            call one index is drawn uniformly and the pair at that index is used.
        seed: seed of the mask function's own random state (``None``: seeded from the OS).
    """

    def __init__(
        self,
        center_fractions: Sequence[float],
        accelerations: Sequence[float],
        seed: int | None = None,
    ) -> None:
        center_fractions = list(center_fractions)
        accelerations = list(accelerations)
        if not center_fractions or len(center_fractions) != len(accelerations):
            raise ValueError(
                "center_fractions and accelerations must be non-empty and of equal length, got "
                f"{len(center_fractions)} centre fractions and {len(accelerations)} accelerations"
            )
        for cf in center_fractions:
            if not 0.0 < cf < 1.0:
                raise ValueError(f"centre fraction must lie in (0, 1), got {cf}")
        for acc in accelerations:
            if not acc >= 1:
                raise ValueError(f"acceleration must be >= 1, got {acc}")
        self.center_fractions = center_fractions
        self.accelerations = self.checked_accelerations(accelerations)
        self.rng = np.random.RandomState(seed)

    def checked_accelerations(self, accelerations: list[float]) -> list[float]:
        """The accelerations as this kind of mask uses them (a subclass's further rules)."""
        return accelerations

    def __call__(
        self, shape: Sequence[int], offset: int | None = None, seed: Seed = None
    ) -> tuple[torch.Tensor, int]:
        """Sample a mask for k-space of ``shape`` (columns along ``shape[-2]``).

        Args:
            shape: at least 3 entries; only ``len(shape)`` and ``shape[-2]`` matter.
            offset: first equispaced column (equispaced masks only; drawn at random if None).
            seed: if given, the mask is drawn from a generator reseeded with it, so the same
                seed always gives the same mask; the function's own stream is left untouched.

        Returns:
            ``(mask, num_low_frequencies)``: float32 tensor ``[1, ..., 1, N, 1]`` of 0/1 and
            the length of the centre block.
        """
        if len(shape) < 3:
            raise ValueError(f"shape must have at least 3 dimensions, got {tuple(shape)}")
        if offset is not None and offset < 0:
            raise ValueError(f"offset must be >= 0, got {offset}")
        num_cols = int(shape[-2])
        with _temporary_seed(self.rng, seed):
            center_fraction, acceleration = self.choose_acceleration()
            num_low = round(num_cols * center_fraction)
            center = center_mask(num_cols, num_low)
            outer = self.acceleration_mask(num_cols, acceleration, offset, num_low)
        mask = np.maximum(center, outer.astype(np.float32))
        mask_shape = [1] * len(shape)
        mask_shape[-2] = num_cols
        return torch.from_numpy(mask.reshape(mask_shape)), num_low

    def choose_acceleration(self) -> tuple[float, float]:
        """Draw one (centre fraction, acceleration) pair uniformly from the configured lists."""
        choice = self.rng.randint(len(self.accelerations))
        return self.center_fractions[choice], self.accelerations[choice]

    def acceleration_mask(
        self, num_cols: int, acceleration: float, offset: int | None, num_low: int
    ) -> np.ndarray:
        """1-D mask ``[num_cols]`` of the high-frequency columns (the centre is added later)."""
        raise NotImplementedError


class RandomMaskFunc(MaskFunc):
    """Centre block plus columns kept independently at random (``offset`` is ignored).

    Each column is kept with probability ``p = (N / acceleration - num_low) / (N - num_low)``;
    columns inside the centre are kept anyway, so the expected total is ``N / acceleration``
    (when ``p >= 0``; if the centre alone exceeds ``N / acceleration`` only the centre is kept).
    """

    def acceleration_mask(
        self, num_cols: int, acceleration: float, offset: int | None, num_low: int
    ) -> np.ndarray:
        draws = self.rng.uniform(size=num_cols)
        if num_low >= num_cols:  # the centre already covers everything; avoid dividing by 0
            return np.zeros(num_cols, dtype=np.float32)
        prob = (num_cols / acceleration - num_low) / (num_cols - num_low)
        return (draws < prob).astype(np.float32)


class EquiSpacedMaskFunc(MaskFunc):
    """Centre block plus every ``acceleration``-th column starting at ``offset``.

    Accelerations must be whole numbers. The kept columns are ``offset::acceleration`` with
    ``offset`` drawn uniformly from ``[0, acceleration)`` when not given; because the centre
    block is added on top, more than ``N / acceleration`` columns are kept.
    """

    def checked_accelerations(self, accelerations: list[float]) -> list[float]:
        for acc in accelerations:
            if int(acc) != acc:
                raise ValueError(f"equispaced masks need whole-number accelerations, got {acc}")
        return [int(acc) for acc in accelerations]

    def acceleration_mask(
        self, num_cols: int, acceleration: float, offset: int | None, num_low: int
    ) -> np.ndarray:
        step = int(acceleration)
        if offset is None:
            offset = int(self.rng.randint(0, high=step))
        mask = np.zeros(num_cols, dtype=np.float32)
        mask[offset::step] = 1.0
        return mask


class EquispacedMaskFractionFunc(MaskFunc):
    """Centre block plus columns at a stretched spacing so the total is about ``N / accel``.

    With ``a = accel * (num_low - N) / (num_low * accel - N)`` the outer columns are
    ``round(offset + i * a)`` for every ``i`` with ``offset + i * a < N - 1`` (NumPy rounding,
    halves to even; the ``N - 1`` bound is fastMRI's). ``offset`` is drawn uniformly from
    ``[0, round(a))`` unless given. Columns are therefore not exactly equispaced (fastMRI issue
    #54); this matches the masks of fastMRI's public multi-coil data.
    """

    def acceleration_mask(
        self, num_cols: int, acceleration: float, offset: int | None, num_low: int
    ) -> np.ndarray:
        if num_low * acceleration >= num_cols:
            raise ValueError(
                f"centre of {num_low} of {num_cols} columns already reaches acceleration "
                f"{acceleration}; use a smaller centre fraction"
            )
        spacing = acceleration * (num_low - num_cols) / (num_low * acceleration - num_cols)
        if offset is None:
            offset = int(self.rng.randint(0, high=round(spacing)))
        positions = np.around(np.arange(offset, num_cols - 1, spacing)).astype(np.int64)
        mask = np.zeros(num_cols, dtype=np.float32)
        mask[positions] = 1.0
        return mask


_MASK_CLASSES: dict[str, type[MaskFunc]] = {
    "random": RandomMaskFunc,
    "equispaced": EquiSpacedMaskFunc,
    "equispaced_fraction": EquispacedMaskFractionFunc,
}


def create_mask_for_mask_type(
    mask_type: str,
    center_fractions: Sequence[float],
    accelerations: Sequence[float],
    seed: int | None = None,
) -> MaskFunc:
    """Build a mask function by name: one of ``MASK_TYPES``."""
    if mask_type not in _MASK_CLASSES:
        raise ValueError(f"unknown mask type {mask_type!r}; choose one of {MASK_TYPES}")
    return _MASK_CLASSES[mask_type](center_fractions, accelerations, seed=seed)


def apply_mask(
    kspace: torch.Tensor,
    mask_func: MaskFunc,
    seed: Seed = None,
    offset: int | None = None,
    padding: tuple[int, int] | None = None,
) -> tuple[torch.Tensor, torch.Tensor, int]:
    """Undersample complex k-space ``[..., H, W]`` along W (phase encode).

    Args:
        kspace: complex tensor ``[..., H, W]`` (e.g. ``[coils, H, W]`` or ``[H, W]``).
        mask_func: a ``MaskFunc``; it sees the fastMRI-style shape ``[1, ..., 1, H, W, 1]``.
        seed: per-call seed (e.g. ``file_seed(fname)`` for evaluation), see ``MaskFunc``.
        offset: equispaced offset, see ``MaskFunc``.
        padding: optional ``(left, right)``: columns outside ``[left, right)`` (zero-padded in
            the acquisition, fastMRI's ``padding_left/right``) are removed from the mask.

    Returns:
        ``(masked_kspace, mask, num_low_frequencies)`` with ``mask`` float32 of shape
        ``[1, ..., 1, W]`` (same rank as ``kspace``), broadcastable against it.
    """
    if not torch.is_tensor(kspace) or not torch.is_complex(kspace) or kspace.ndim < 2:
        raise TypeError("apply_mask expects complex k-space [..., H, W]")
    shape = (1,) * (kspace.ndim - 2) + (kspace.shape[-2], kspace.shape[-1], 1)
    mask, num_low = mask_func(shape, offset=offset, seed=seed)
    mask = mask[..., 0].to(kspace.device)
    if padding is not None:
        left, right = padding
        mask[..., :left] = 0.0
        mask[..., right:] = 0.0
    # "+ 0.0" turns the -0.0 produced by multiplying negative values by 0 into +0.0.
    masked = kspace * mask + 0.0
    return masked, mask, num_low


def file_seed(fname: str | Path) -> int:
    """Deterministic mask seed for a file, identical across processes and machines.

    Uses CRC-32 of the UTF-8 file name without directory and without a trailing ``.h5``, so
    ``"/data/file_x.h5"`` and ``"file_x"`` give the same seed. Python's ``hash()`` is salted
    per process and would give different evaluation masks in different workers. (fastMRI
    itself seeds with ``tuple(map(ord, name))``; ``MaskFunc`` accepts such tuples too.)
    """
    name = Path(str(fname)).name
    if name.endswith(".h5"):
        name = name[: -len(".h5")]
    return zlib.crc32(name.encode("utf-8"))
