"""Shared machinery of the procedural phantoms: pose, tissue painting, lesions.

A phantom is drawn in its own *local* frame ``(u, v)`` (``u`` along the image rows, ``v`` along
the columns, normalised units, see :mod:`mri.synth.fields`). A :class:`Pose` maps the image grid
into that frame: a smooth random displacement field (individual anatomy), then rotation, scale
and translation (patient size and position). Lesions are defined in the local frame, so they
move with the anatomy from slice to slice.

Tissue fractions are *painted*: layers are applied in priority order, each taking its soft
membership of whatever fraction is still unassigned, so fractions are non-negative and sum to at
most 1 (the rest is air).

A phantom's :meth:`cut` of a slice gives the lesion-free fractions and, for each lesion the
slice cuts, a :class:`LesionCut` that paints it into a copy of them: the simulator draws each
lesion alone to measure it, then the final slice with the lesions it keeps
(:mod:`mri.synth.visibility`).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field

import numpy as np

from mri.synth.fields import Grid, SmoothField


@dataclass(frozen=True)
class Pose:
    """Image grid -> local anatomical frame: warp, then inverse similarity transform."""

    scale: float
    angle: float  # radians
    shift: tuple[float, float]  # (dy, dx) normalised units
    warp_y: SmoothField
    warp_x: SmoothField

    @classmethod
    def random(
        cls,
        rng: np.random.Generator,
        scale: tuple[float, float],
        max_angle_deg: float,
        max_shift: float,
        warp_std: float,
    ) -> Pose:
        """Random pose: uniform scale/angle/shift ranges, warp fields of ``warp_std`` units."""
        return cls(
            scale=float(rng.uniform(*scale)),
            angle=float(np.deg2rad(rng.uniform(-max_angle_deg, max_angle_deg))),
            shift=(
                float(rng.uniform(-max_shift, max_shift)),
                float(rng.uniform(-max_shift, max_shift)),
            ),
            warp_y=SmoothField.random(rng, cycles=0.6, std=warp_std, n_modes=8),
            warp_x=SmoothField.random(rng, cycles=0.6, std=warp_std, n_modes=8),
        )

    def local(self, grid: Grid, z: float) -> tuple[np.ndarray, np.ndarray]:
        """Local coordinates ``(u, v)`` ``[H * ss, W * ss]`` of every grid point at slice ``z``."""
        y, x = grid.mesh()
        y = y + self.warp_y.on_grid(grid, z) - self.shift[0]
        x = x + self.warp_x.on_grid(grid, z) - self.shift[1]
        c, s = float(np.cos(self.angle)) / self.scale, float(np.sin(self.angle)) / self.scale
        return c * y + s * x, c * x - s * y


def paint(layers: Sequence[tuple[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Tissue fractions from ``(tissue, membership)`` layers in priority order (first wins).

    Memberships must lie in [0, 1] (products of :func:`mri.synth.fields.soft_inside` and
    factors in [0, 1] do).
    """
    remaining: np.ndarray | None = None
    fractions: dict[str, np.ndarray] = {}
    for tissue, membership in layers:
        if remaining is None:
            taken = np.array(membership)
            remaining = 1.0 - taken
        else:
            taken = remaining * membership
            remaining -= taken
        if tissue in fractions:
            fractions[tissue] += taken
        else:
            fractions[tissue] = taken
    return fractions


def replace(
    fractions: dict[str, np.ndarray],
    targets: Sequence[str],
    new_tissue: str,
    amount: np.ndarray,
) -> np.ndarray:
    """Move ``amount`` (in [0, 1], per pixel) of each target tissue into ``new_tissue``.

    Returns the fraction moved, i.e. the lesion's own fraction map.
    """
    amount = np.clip(amount, 0.0, 1.0)
    moved_total = np.zeros_like(amount)
    for name in targets:
        if name in fractions:
            moved = fractions[name] * amount
            fractions[name] = fractions[name] - moved
            moved_total = moved_total + moved
    fractions[new_tissue] = fractions.get(new_tissue, 0.0) + moved_total
    return moved_total


@dataclass(frozen=True)
class Lesion:
    """A finding: an ellipsoid in the local frame, spanning ``zc +- z_radius`` across slices.

    ``label`` is the fastMRI+ label written to the annotations; ``kind`` selects how the
    phantom draws it; ``params`` holds kind-specific numbers (e.g. which meniscus).
    """

    kind: str
    label: str
    centre: tuple[float, float]  # (u, v)
    axes: tuple[float, float]  # (au, av) semi-axes at the lesion's middle slice
    zc: float
    z_radius: float
    angle: float = 0.0
    params: dict[str, float] = field(default_factory=dict)

    def section(self, z: float) -> float:
        """In-plane size factor at slice ``z`` (0 outside the lesion's slab)."""
        t = (z - self.zc) / self.z_radius
        return float(np.sqrt(max(1.0 - t * t, 0.0)))


@dataclass
class SliceAnatomy:
    """One slice of a phantom: supersampled tissue fractions and the lesions drawn in it.

    ``lesions`` pairs each lesion's label with its supersampled fraction map.
    """

    fractions: dict[str, np.ndarray]
    lesions: list[tuple[str, np.ndarray]]


@dataclass(frozen=True)
class LesionCut:
    """A lesion as one slice cuts it. ``draw(fractions)`` paints it into a fractions dict in
    place (replacing entries, never writing into the arrays, so a shallow copy of a dict is
    safe to draw on) and returns the lesion's fraction map: what its own tissues gained."""

    index: int  # position in the phantom's ``lesions``
    kind: str
    label: str
    draw: Callable[[dict[str, np.ndarray]], np.ndarray]

    @classmethod
    def from_steps(cls, index: int, lesion: Lesion, tissues: Sequence[str],
                   steps: Sequence[tuple[Sequence[str], str, np.ndarray]]) -> LesionCut:
        """The cut that applies ``steps`` (targets, new tissue, amount: see :func:`replace`)
        in order; the lesion's fraction map is what ``tissues`` (its own) gained."""

        def draw(fractions: dict[str, np.ndarray]) -> np.ndarray:
            before = sum(fractions.get(t, 0.0) for t in tissues)
            for targets, new_tissue, amount in steps:
                replace(fractions, targets, new_tissue, amount)
            after = sum(fractions.get(t, 0.0) for t in tissues)
            return np.clip(after - before, 0.0, 1.0)

        return cls(index=index, kind=lesion.kind, label=lesion.label, draw=draw)


@dataclass
class SliceCut:
    """One slice before its lesions: lesion-free supersampled fractions and the lesions cut."""

    base: dict[str, np.ndarray]
    lesions: list[LesionCut]

    def draw(self, which: Collection[int] | None = None) -> SliceAnatomy:
        """The slice with the lesions whose ``index`` is in ``which`` (None: all), drawn in
        the phantom's order on a copy of ``base``."""
        fractions = dict(self.base)
        drawn = [
            (cut.label, cut.draw(fractions))
            for cut in self.lesions
            if which is None or cut.index in which
        ]
        return SliceAnatomy(fractions=fractions, lesions=drawn)


def finding_chance(base: float, rate: float) -> float:
    """Probability of a finding: ``base * rate``, capped at 0.95 (``rate = 1`` gives ``base``
    exactly, so the default presets draw the same findings)."""
    return min(base * rate, 0.95) if rate != 1.0 else base


def pick_slab(
    rng: np.random.Generator, slice_z: np.ndarray, min_slices: int, max_slices: int
) -> tuple[float, float]:
    """Centre and half-thickness of a lesion covering ``min..max`` consecutive slices."""
    n = len(slice_z)
    count = int(rng.integers(min_slices, max_slices + 1))
    count = max(1, min(count, n))
    first = int(rng.integers(0, n - count + 1))
    dz = float(slice_z[1] - slice_z[0]) if n > 1 else 0.2
    zc = float(np.mean(slice_z[first : first + count]))
    # Half a slice gap beyond the outer covered slices: they cut the lesion well inside its edge.
    z_radius = (count - 1) / 2 * dz + 0.6 * dz
    return zc, z_radius
