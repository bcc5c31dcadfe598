"""Procedural axial brain: scalp, fat, skull with diploe, CSF, folded cortex, white matter,
lateral and third ventricles, deep grey nuclei, and white-matter lesions, masses and lacunes.

Slices are axial cuts at heights ``z`` (normalised, 0 near the ventricles' middle, +1 at the
vertex); the head's section, the ventricles and the deep nuclei follow ellipsoids in ``z`` and
every random field is continuous in ``z``, so consecutive slices change smoothly.

Findings are sized for the presets' 3.4 mm pixels (220 mm / 64): white-matter lesions with
7-11 mm semi-axes (up to 1.6x longer along one axis; large, confluent lesions, since small ones
would cover a few pixels), masses 24-37 mm across with surrounding oedema. What a slice shows
is decided by the simulator's visibility rule (:mod:`mri.synth.visibility`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from mri.synth.anatomy import (
    Lesion,
    LesionCut,
    Pose,
    SliceAnatomy,
    SliceCut,
    finding_chance,
    paint,
    pick_slab,
)
from mri.synth.fields import Grid, SmoothField, ellipse_distance, soft_inside

# Layer thicknesses from the skin inwards (normalised units; 1 unit = half the 220 mm FOV).
SCALP, SUBCUT_FAT, SKULL, OUTER_CSF = 0.03, 0.035, 0.055, 0.025

LABELS = {
    "wm_lesion": "Nonspecific white matter lesion",
    "mass": "Mass",
    "lacune": "Lacunar infarct",
}
# Tissues a finding puts into the slice; their added fraction is the finding's map.
LESION_TISSUES = {
    "wm_lesion": ("wm_lesion",),
    "mass": ("tumor", "necrosis", "vasogenic_edema"),
    "lacune": ("wm_lesion", "csf"),
}


@dataclass(frozen=True)
class BrainPhantom:
    """One subject's head; ``slice(grid, i)`` draws slice ``i`` at height ``slice_z[i]``."""

    pose: Pose
    head_axes: tuple[float, float]  # (AP, LR) semi-axes at z = 0
    brain_inset: float
    cortex: float
    ventricle_scale: float
    fold: SmoothField
    fold_cycles: float
    slice_z: np.ndarray
    lesions: tuple[Lesion, ...]

    @classmethod
    def random(
        cls,
        rng: np.random.Generator,
        n_slices: int,
        acquisition: str,
        finding_rate: float = 1.0,
    ) -> BrainPhantom:
        """A random head; lesion rates depend on the protocol (post-contrast: more masses)."""
        pose = Pose.random(rng, scale=(0.88, 1.06), max_angle_deg=7, max_shift=0.05, warp_std=0.012)
        fold_cycles = float(rng.uniform(2.6, 3.4))
        start = float(rng.uniform(-0.22, -0.08))
        span = float(rng.uniform(0.5, 0.65))
        slice_z = start + np.linspace(0.0, span, n_slices) if n_slices > 1 else np.array([0.1])
        phantom = cls(
            pose=pose,
            head_axes=(float(rng.uniform(0.80, 0.88)), float(rng.uniform(0.64, 0.72))),
            brain_inset=SCALP + SUBCUT_FAT + SKULL + OUTER_CSF + float(rng.uniform(-0.005, 0.02)),
            cortex=float(rng.uniform(0.075, 0.1)),
            ventricle_scale=float(rng.uniform(0.8, 1.3)),
            fold=SmoothField.random(rng, cycles=fold_cycles, std=1.0, n_modes=24),
            fold_cycles=fold_cycles,
            slice_z=slice_z,
            lesions=(),
        )
        lesions = _plan_lesions(rng, slice_z, acquisition, finding_rate)
        return cls(**{**phantom.__dict__, "lesions": tuple(lesions)})

    def head_section(self, z: float) -> float:
        """Scale of the head's outline at height ``z`` (an ellipsoid's section)."""
        return float(np.sqrt(max(1.0 - (z / 1.15) ** 2, 0.05)))

    def slice(self, grid: Grid, index: int) -> SliceAnatomy:
        """Tissue fractions (supersampled) and drawn lesions of slice ``index`` (all lesions)."""
        return self.cut(grid, index).draw()

    def cut(self, grid: Grid, index: int) -> SliceCut:
        """Lesion-free tissue fractions (supersampled) of slice ``index`` and its lesions."""
        z = float(self.slice_z[index])
        u, v = self.pose.local(grid, z)
        w = 0.6 * grid.pixel / self.pose.scale
        sec = self.head_section(z)
        # Skulls are egg-shaped in axial section: wider posteriorly (u > 0) than anteriorly.
        egg = 1.0 + 0.08 * np.clip(u / self.head_axes[0], -1.0, 1.0)
        d = ellipse_distance(
            u, v / egg, (0.0, 0.0), (self.head_axes[0] * sec, self.head_axes[1] * sec)
        )
        d_brain = -self.brain_inset
        fold = self.fold.on_grid(grid, z)
        # The cortical ribbon thickens where the fold field is high (gyri) and thins where it
        # is low; white matter fingers reach into the gyri.
        ribbon = self.cortex * np.clip(1.0 + 0.7 * fold, 0.3, 2.2)
        fold_gradient = 2 * np.pi * self.fold_cycles * 0.7
        layers = [
            *self._ventricles(u, v, z, w),
            (
                "csf",
                soft_inside(0.3 * sec - np.abs(u), w)
                * soft_inside(np.abs(v) - 0.012, w)
                * soft_inside(d - d_brain, w),
            ),
            *self._deep_grey(u, v, z, w),
            ("wm", soft_inside(d - (d_brain - ribbon), w)),
            # sulci: thin CSF lines along a level set of the fold field, within the cortex
            (
                "csf",
                soft_inside(np.abs(fold + 0.4) / fold_gradient - 0.014, w)
                * soft_inside(d - d_brain, w)
                * soft_inside(d_brain - 1.3 * self.cortex - d, w),
            ),
            ("gm", soft_inside(d - d_brain, w)),
            ("csf", soft_inside(d + SCALP + SUBCUT_FAT + SKULL, w)),
            ("fat", soft_inside(np.abs(d + SCALP + SUBCUT_FAT + 0.5 * SKULL) - 0.18 * SKULL, w)),
            ("bone", soft_inside(d + SCALP + SUBCUT_FAT, w)),
            ("fat", soft_inside(d + SCALP, w)),
            ("muscle", soft_inside(d, w)),
        ]
        cuts = [_lesion_cut(i, lesion, u, v, z, w) for i, lesion in enumerate(self.lesions)]
        return SliceCut(base=paint(layers), lesions=[c for c in cuts if c is not None])

    def _ventricles(self, u, v, z, w) -> list[tuple[str, np.ndarray]]:
        vs = self.ventricle_scale
        out = []
        lateral = _section(z, 0.12, 0.36)
        if lateral > 0:
            for side in (-1.0, 1.0):
                dist = ellipse_distance(
                    u,
                    v,
                    (-0.03, side * 0.075 * vs),
                    (0.27 * lateral, 0.05 * vs * lateral),
                    angle=-side * 0.12,
                )
                out.append(("csf", soft_inside(dist, w)))
        third = _section(z, -0.2, 0.2)
        if third > 0:
            out.append(
                (
                    "csf",
                    soft_inside(ellipse_distance(u, v, (0.03, 0.0), (0.12 * third, 0.018 * vs)), w),
                )
            )
        return out

    def _deep_grey(self, u, v, z, w) -> list[tuple[str, np.ndarray]]:
        size = _section(z, -0.1, 0.3)
        if size <= 0:
            return []
        return [
            (
                "gm",
                soft_inside(
                    ellipse_distance(
                        u, v, (0.06, side * 0.2), (0.13 * size, 0.08 * size), angle=-side * 0.3
                    ),
                    w,
                ),
            )
            for side in (-1.0, 1.0)
        ]


def _section(z: float, zc: float, z_radius: float) -> float:
    t = (z - zc) / z_radius
    return float(np.sqrt(max(1.0 - t * t, 0.0)))


def _plan_lesions(
    rng: np.random.Generator, slice_z: np.ndarray, acquisition: str, rate: float = 1.0
) -> list[Lesion]:
    """Findings of one head: about half the heads carry one or more, each over 1-4 slices.

    ``rate`` multiplies each finding's probability (:func:`mri.synth.anatomy.finding_chance`).
    """
    lesions: list[Lesion] = []
    if rng.random() < finding_chance(0.35, rate):
        for _ in range(int(rng.integers(1, 4))):
            lesions.append(_hemisphere_lesion(
                rng, "wm_lesion", slice_z, slab=(1, 3), radius=(0.065, 0.1), u=(-0.35, 0.3),
                side=(0.14, 0.32), elongation=(1.0, 1.6), tilt=0.5))
    p_mass = 0.4 if acquisition == "AXT1POST" else 0.15
    if rng.random() < finding_chance(p_mass, rate):
        mass = _hemisphere_lesion(
            rng, "mass", slice_z, slab=(2, 4), radius=(0.11, 0.17), u=(-0.3, 0.3),
            side=(0.18, 0.34), elongation=(0.85, 1.2), tilt=1.0)
        lesions.append(dataclasses.replace(mass, params={
            "necrotic": float(rng.random() < 0.6), "edema": float(rng.uniform(1.4, 1.9))}))
    if rng.random() < finding_chance(0.1, rate):
        lesions.append(_hemisphere_lesion(
            rng, "lacune", slice_z, slab=(1, 2), radius=(0.035, 0.055), u=(-0.05, 0.15),
            side=(0.14, 0.28)))
    return lesions


def _hemisphere_lesion(
    rng: np.random.Generator, kind: str, slice_z: np.ndarray, *, slab: tuple[int, int],
    radius: tuple[float, float], u: tuple[float, float], side: tuple[float, float],
    elongation: tuple[float, float] | None = None, tilt: float | None = None,
) -> Lesion:
    """An ellipse in one hemisphere: ``slab`` slices (min, max), radius, position ``u`` along
    the head and ``side`` off the midline (either side), ``elongation`` of the first axis and
    ``tilt`` (radians either way); a circle without elongation, upright without tilt. Draws
    from ``rng`` in the order the fields are listed."""
    zc, zr = pick_slab(rng, slice_z, *slab)
    r = float(rng.uniform(*radius))
    centre = (float(rng.uniform(*u)), float(rng.choice([-1, 1]) * rng.uniform(*side)))
    axes = (r * float(rng.uniform(*elongation)), r) if elongation is not None else (r, r)
    angle = float(rng.uniform(-tilt, tilt)) if tilt is not None else 0.0
    return Lesion(kind=kind, label=LABELS[kind], centre=centre, axes=axes, zc=zc, z_radius=zr,
                  angle=angle)


def _lesion_cut(
    index: int, lesion: Lesion, u: np.ndarray, v: np.ndarray, z: float, w: float
) -> LesionCut | None:
    """``lesion`` as slice ``z`` cuts it (None if it does not); its shapes are computed here,
    once, and painted by the returned cut's ``draw``."""
    size = lesion.section(z)
    if size <= 0.0:
        return None
    tissues = LESION_TISSUES[lesion.kind]
    au, av = lesion.axes[0] * size, lesion.axes[1] * size

    def blob(scale: float) -> np.ndarray:
        dist = ellipse_distance(u, v, lesion.centre, (au * scale, av * scale), lesion.angle)
        return soft_inside(dist, w)

    steps: list[tuple[tuple[str, ...], str, np.ndarray]] = []  # (targets, new tissue, amount)
    if lesion.kind == "wm_lesion":
        steps.append((("wm", "gm"), "wm_lesion", 0.95 * blob(1.0)))
    elif lesion.kind == "mass":
        steps.append((("wm",), "vasogenic_edema", 0.9 * blob(lesion.params["edema"])))
        steps.append((("wm", "gm", "csf", "vasogenic_edema"), "tumor", blob(1.0)))
        if lesion.params["necrotic"]:
            steps.append((("tumor",), "necrosis", blob(0.5)))
    elif lesion.kind == "lacune":
        steps.append((("wm", "gm"), "wm_lesion", 0.9 * blob(1.7)))
        steps.append((("wm_lesion", "wm", "gm"), "csf", blob(1.0)))
    else:  # pragma: no cover - kinds come from _plan_lesions
        raise ValueError(f"unknown brain lesion kind {lesion.kind!r}")

    return LesionCut.from_steps(index, lesion, tissues, steps)
