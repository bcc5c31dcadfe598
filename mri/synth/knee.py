"""Procedural coronal knee: femur and tibia (cortical bone around fatty marrow with trabecular
texture), fibular head, articular cartilage, menisci, cruciate and medial collateral ligaments,
joint fluid, intercondylar fat, muscle with fatty septa and subcutaneous fat; findings are
meniscal tears, partial-thickness cartilage defects, subchondral bone-marrow oedema and ACL
sprains.

Local frame: ``u`` runs superior -> inferior (image rows), ``v`` across the knee, the joint line
(bottom of the femoral condyles) is at ``u = 0``. Slices are coronal cuts at ``z`` from anterior
(negative) to posterior (positive): the intercondylar notch deepens, the ACL then the PCL pass
through the notch and the fibular head appears laterally on posterior slices. The limb runs
through the whole (2x oversampled) readout field of view, as a real leg does.

This module draws the anatomy (:class:`KneePhantom`); per-subject sizes are a
:class:`~mri.synth.knee_geometry.KneeGeometry`, and the findings (what a knee gets, how a slice
draws them) are in :mod:`mri.synth.knee_lesions`. The structures findings sit in are drawn
larger than life (menisci about 15-20 mm wide and 10 mm high, cartilage 5.5-6.5 mm thick, an
ACL about 7 mm wide), for findings a radiologist could see at the presets' 64 x 64 matrix.
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import replace as replace_field

import numpy as np

from mri.synth.anatomy import Lesion, Pose, SliceAnatomy, SliceCut, paint
from mri.synth.fields import Grid, SmoothField, ellipse_distance, soft_inside
from mri.synth.knee_geometry import (
    ACL_Z,
    MENISCUS_HEIGHT,
    PCL_Z,
    KneeGeometry,
    acl_ellipse,
    section,
)
from mri.synth.knee_lesions import lesion_cut, plan_lesions


@dataclass(frozen=True)
class KneePhantom:
    """One subject's knee; ``slice(grid, i)`` draws coronal slice ``i`` at ``slice_z[i]``."""

    pose: Pose
    geo: KneeGeometry
    trabecular: SmoothField
    septa: SmoothField
    fat_field: SmoothField
    slice_z: np.ndarray
    lesions: tuple[Lesion, ...]

    @classmethod
    def random(
        cls,
        rng: np.random.Generator,
        n_slices: int,
        acquisition: str,
        finding_rate: float = 1.0,
    ) -> KneePhantom:
        """A random knee (size, position, fat, cartilage thickness, laterality, findings)."""
        pose = Pose.random(rng, scale=(0.9, 1.08), max_angle_deg=5, max_shift=0.06, warp_std=0.02)
        pose = Pose(
            pose.scale,
            pose.angle,
            (float(rng.uniform(-0.15, 0.15)), pose.shift[1]),
            pose.warp_y,
            pose.warp_x,
        )
        geo = KneeGeometry(
            lateral=float(rng.choice([-1.0, 1.0])),
            limb_width=float(rng.uniform(0.74, 0.88)),
            fat_thickness=float(rng.uniform(0.05, 0.16)),
            cond_cx=float(rng.uniform(0.2, 0.24)),
            cond_axes=(float(rng.uniform(0.18, 0.22)), float(rng.uniform(0.19, 0.22))),
            notch_width=float(rng.uniform(0.07, 0.09)),
            cartilage=float(rng.uniform(0.08, 0.095)),
            plateau_width=0.0,
            meniscus_width=float(rng.uniform(0.22, 0.28)),
            marrow_fat=float(rng.uniform(0.78, 0.9)),
            effusion=float(rng.uniform(0.0, 1.0)),
        )
        # the tibial plateau is about as wide as the two condyles together
        geo = replace_field(
            geo, plateau_width=geo.cond_cx + geo.cond_axes[1] + float(rng.uniform(0.0, 0.03))
        )
        start = float(rng.uniform(-0.42, -0.3))
        span = float(rng.uniform(0.6, 0.75))
        slice_z = start + np.linspace(0.0, span, n_slices) if n_slices > 1 else np.array([0.0])
        trabecular = SmoothField.random(rng, cycles=7.0, std=1.0, n_modes=24)
        septa = SmoothField.random(rng, cycles=1.6, std=1.0, n_modes=10)
        fat_field = SmoothField.random(rng, cycles=0.8, std=1.0, n_modes=6)
        # Findings last: the anatomy does not depend on which findings a knee gets.
        lesions = plan_lesions(rng, geo, slice_z, finding_rate)
        return cls(pose, geo, trabecular, septa, fat_field, slice_z, tuple(lesions))

    def slice(self, grid: Grid, index: int) -> SliceAnatomy:
        """Tissue fractions (supersampled) and drawn lesions of slice ``index`` (all lesions)."""
        return self.cut(grid, index).draw()

    def cut(self, grid: Grid, index: int) -> SliceCut:
        """Lesion-free tissue fractions (supersampled) of slice ``index`` and its lesions."""
        z = float(self.slice_z[index])
        g = self.geo
        u, v = self.pose.local(grid, z)
        w = 0.6 * grid.pixel / self.pose.scale
        d_femur, d_notch = self._femur(u, v, z)
        d_tibia = self._tibia(u, v, z)
        d_bone = np.minimum(d_femur, d_tibia)
        cortex = 0.022 + 0.05 * np.clip((np.abs(u) - 0.45) / 0.5, 0.0, 1.0)
        marrow = soft_inside(d_bone + cortex, w)
        fat_fraction = np.clip(g.marrow_fat + 0.05 * self.trabecular.on_grid(grid, z), 0.0, 1.0)
        limb = np.abs(v - 0.03 * u) - g.limb_width * (1.0 + 0.07 * np.exp(-((u / 0.45) ** 2)))
        fat_depth = g.fat_thickness * (1.0 + 0.3 * self.fat_field.on_grid(grid, z))
        edge = g.joint_edge
        layers = [
            ("marrow_fat", marrow * fat_fraction),
            ("marrow_water", marrow),
            ("bone", soft_inside(d_bone, w)),
            # femoral cartilage: lower (weight-bearing) surface of the condyles, not the notch
            (
                "cartilage",
                soft_inside(d_femur - g.cartilage, w)
                * soft_inside(-0.06 - u, w)
                * soft_inside(g.cartilage - d_notch, w),
            ),
            # tibial cartilage: top of the plateau outside the spines
            (
                "cartilage",
                soft_inside(d_tibia - g.cartilage, w)
                * soft_inside(u - g.tibia_top - 0.03, w)
                * soft_inside(0.09 - np.abs(v), w)
                * soft_inside(np.abs(v) - g.plateau_width + 0.01, w),
            ),
            *self._menisci(u, v, z, w),
            *self._ligaments(u, v, z, w),
            # joint space film and (per-subject) effusion in the medial/lateral gutters
            (
                "fluid",
                soft_inside(np.abs(u - g.tibia_top / 2) - g.tibia_top / 2 - 0.01, w)
                * soft_inside(np.abs(v) - edge, w),
            ),
            (
                "fluid",
                g.effusion
                * soft_inside(np.abs(u + 0.12) - 0.14, w)
                * soft_inside(np.abs(np.abs(v) - edge - 0.02) - 0.025, w),
            ),
            ("fat", soft_inside(d_notch, w)),
            # capsule and peri-articular fat beside the joint
            (
                "fat",
                soft_inside(np.abs(u + 0.04) - 0.2, w) * soft_inside(np.abs(v) - edge - 0.06, w),
            ),
            # fatty septa between muscles: thin lines on a level set of the septa field
            (
                "fat",
                soft_inside(limb + fat_depth, w)
                * soft_inside(np.abs(self.septa.on_grid(grid, z)) / 7.0 - 0.008, w),
            ),
            ("muscle", soft_inside(limb + fat_depth, w)),
            ("fat", soft_inside(limb + 0.012, w)),
            ("muscle", soft_inside(limb, w)),
        ]
        surfaces = {"femur": d_femur, "tibia": d_tibia}
        cuts = [
            lesion_cut(i, lesion, g, u, v, z, w, surfaces) for i, lesion in enumerate(self.lesions)
        ]
        return SliceCut(base=paint(layers), lesions=[c for c in cuts if c is not None])

    def notch_depth(self, z: float) -> float:
        """Height of the intercondylar notch: shallow trochlea anteriorly, deep posteriorly."""
        return 0.03 + 0.22 / (1.0 + np.exp(-(z + 0.15) / 0.08))

    def _femur(self, u, v, z) -> tuple[np.ndarray, np.ndarray]:
        g = self.geo
        b, a = g.cond_axes
        # Shaft flaring like a trumpet into the metaphysis, down to the condyles' centres.
        flare = 0.2 + (g.cond_cx + a - 0.2) / (1.0 + np.exp(-(u + b + 0.22) / 0.08))
        shaft = np.maximum(np.abs(v) - flare, u + b)
        cond_m = ellipse_distance(u, v, (-b, -g.cond_cx), (b, a))
        cond_l = ellipse_distance(u, v, (-b, g.cond_cx), (b, a))
        femur = np.minimum(shaft, np.minimum(cond_m, cond_l))
        notch = ellipse_distance(u, v, (0.0, 0.0), (self.notch_depth(z), g.notch_width))
        return np.maximum(femur, -notch), notch

    def _tibia(self, u, v, z) -> np.ndarray:
        g = self.geo
        top = g.tibia_top
        # Flat plateau with rounded edges, tapering into the shaft below.
        taper = 0.17 + (g.plateau_width - 0.17) / (1.0 + np.exp((u - top - 0.3) / 0.09))
        plateau = ellipse_distance(u, v, (top + 0.12, 0.0), (0.12, g.plateau_width), power=4.0)
        body = np.maximum(np.abs(v) - taper, top + 0.1 - u)
        tibia = np.minimum(plateau, body)
        spines = section(z, -0.05, 0.35)
        if spines > 0:
            for side in (-1.0, 1.0):
                spine = ellipse_distance(u, v, (top, side * 0.05), (0.045 * spines, 0.035))
                tibia = np.minimum(tibia, spine)
        fib = section(z, 0.35, 0.35)
        if fib > 0:
            x = g.lateral * (g.plateau_width + 0.03)
            head = ellipse_distance(u, v, (top + 0.32, x), (0.11 * fib, 0.075 * fib))
            shaft_f = ellipse_distance(u, v, (top + 1.4, x), (1.0, 0.05 * fib), power=6.0)
            tibia = np.minimum(tibia, np.minimum(head, shaft_f))
        return tibia

    def _menisci(self, u, v, z, w) -> list[tuple[str, np.ndarray]]:
        """Triangular sections on the tibial cartilage: base (MENISCUS_HEIGHT high) at the joint
        edge, apex pointing into the joint; the condyles (painted first) shape the top."""
        g = self.geo
        edge = g.joint_edge
        floor = g.tibia_top - g.cartilage + 0.005
        height = MENISCUS_HEIGHT
        out = []
        for side in (-1.0, 1.0):
            # the medial posterior horn is the widest part of either meniscus
            grow = 1.0 + (0.3 / (1.0 + np.exp(-z / 0.15)) if side == -g.lateral else 0.0)
            width = g.meniscus_width * grow
            sv = side * v
            slope = height / width
            roof = (floor - slope * (sv - edge + width) - u) / np.sqrt(1.0 + slope * slope)
            m = (
                soft_inside(edge - width - sv, w)
                * soft_inside(sv - edge, w)
                * soft_inside(roof, w)
                * soft_inside(u - floor, w)
            )
            out.append(("meniscus", m))
        return out

    def _ligaments(self, u, v, z, w) -> list[tuple[str, np.ndarray]]:
        g = self.geo
        out = []
        acl = section(z, *ACL_Z)
        if acl > 0:
            out.append(
                (
                    "ligament",
                    soft_inside(
                        ellipse_distance(u, v, *acl_ellipse(g, acl)[:2], angle=g.lateral * 0.35), w
                    ),
                )
            )
        pcl = section(z, *PCL_Z)
        if pcl > 0:
            out.append(
                (
                    "ligament",
                    soft_inside(
                        ellipse_distance(u, v, (-0.06, -g.lateral * 0.02), (0.08 * pcl, 0.05)), w
                    ),
                )
            )
        mcl = section(z, 0.0, 0.45)
        if mcl > 0:
            x = -g.lateral * (g.joint_edge + 0.035)
            out.append(
                (
                    "ligament",
                    soft_inside(np.abs(v - x) - 0.016, w) * soft_inside(np.abs(u) - 0.35 * mcl, w),
                )
            )
        return out
