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

Findings are drawn **larger than life** so that a radiologist could see them at the presets'
64 x 64 matrix (2.2 mm pixels over the 140 mm field of view), where true-to-scale meniscal tears
(a millimetre-wide cleft) and cartilage defects (in 2-3 mm of cartilage) would cover a pixel or
two. The structures they sit in are enlarged too: menisci about 15-20 mm wide and 10 mm high,
cartilage 5.5-6.5 mm thick, an ACL about 7 mm wide. Then:

- meniscal tear: a horizontal / oblique cleavage tear whose joint fluid replaces most of the
  meniscal body (dark in every contrast), in 60 % of tears with a parameniscal cyst of fluid
  at the meniscus' outer edge;
- cartilage defect: joint fluid replaces 80-95 % of the cartilage depth from the articular
  surface over 20-30 mm of the joint, following the curved surface; one or two sites per knee,
  each half the time with a "kissing" defect on the opposing surface;
- bone-marrow oedema: a 7-10 mm by 10-14 mm (semi-axes) subchondral region whose marrow (fat and
  water) is fully replaced by oedema in its core: darker than fatty marrow on PD, bright on
  PD-FS; also under some cartilage defects and as pivot-shift ("kissing") contusions of the
  lateral femoral condyle and tibial plateau with most ACL sprains;
- ACL sprain: the ligament swollen (1.3x wider) and oedematous, fluid-bright sprain tissue and
  fluid replacing the dark band and the fat around it.

What a slice shows is still decided by the simulator's visibility rule
(:mod:`mri.synth.visibility`): in PD without fat suppression marrow oedema is only about 25 %
darker than fatty marrow, and a fluid-filled cartilage defect spans two or three partial-volume
pixels of a moderate fluid-cartilage contrast, so both often fall below the rule, especially at
1.5 T and where the receive array is weak.
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import replace as replace_field

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
    replace,
)
from mri.synth.fields import Grid, SmoothField, ellipse_distance, soft_inside

LABELS = {
    "meniscus_tear": "Meniscus Tear",
    "cartilage_defect": "Cartilage - Partial Thickness loss/defect",
    "bone_edema": "Bone- Subchondral edema",
    "acl_sprain": "ACL High Grade Sprain",
}
LESION_TISSUES = {
    "meniscus_tear": ("fluid",),
    "cartilage_defect": ("fluid",),
    "bone_edema": ("marrow_edema",),
    "acl_sprain": ("ligament_sprain", "fluid"),
}
MENISCUS_HEIGHT = 0.15  # height of the menisci's outer edge (normalised units)
ACL_HALF_WIDTH = 0.05
ACL_Z = (-0.02, 0.3)  # centre and half-extent (z) of the ACL's passage through the notch
PCL_Z = (0.35, 0.25)


@dataclass(frozen=True)
class KneeGeometry:
    """Per-subject sizes (normalised units; 1 unit = half the 140 mm FOV)."""

    lateral: float  # +1: lateral side at +v (fibula side), -1 mirrored
    limb_width: float
    fat_thickness: float
    cond_cx: float  # distance of each condyle centre from the midline
    cond_axes: tuple[float, float]  # (vertical, horizontal) semi-axes
    notch_width: float
    cartilage: float
    plateau_width: float
    meniscus_width: float
    marrow_fat: float
    effusion: float

    @property
    def tibia_top(self) -> float:
        """``u`` of the tibial plateau's bone surface (two cartilage layers and a film below
        the condyles)."""
        return 2 * self.cartilage + 0.012

    @property
    def joint_edge(self) -> float:
        """Outer edge of the joint capsule / menisci."""
        return self.plateau_width + 0.02

    def condyle_surface(self, v: float) -> float:
        """``u`` of the femoral condyle's lower bone surface at column ``v``."""
        b, a = self.cond_axes
        t = (abs(v) - self.cond_cx) / a
        return -b + b * float(np.sqrt(max(1.0 - t * t, 0.0)))


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
        lesions = _plan_lesions(rng, geo, slice_z, finding_rate)
        return cls(
            pose=pose,
            geo=geo,
            trabecular=trabecular,
            septa=septa,
            fat_field=fat_field,
            slice_z=slice_z,
            lesions=tuple(lesions),
        )

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
            _lesion_cut(i, lesion, g, u, v, z, w, surfaces) for i, lesion in enumerate(self.lesions)
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
        spines = _section(z, -0.05, 0.35)
        if spines > 0:
            for side in (-1.0, 1.0):
                spine = ellipse_distance(u, v, (top, side * 0.05), (0.045 * spines, 0.035))
                tibia = np.minimum(tibia, spine)
        fib = _section(z, 0.35, 0.35)
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
        acl = _section(z, *ACL_Z)
        if acl > 0:
            out.append(
                (
                    "ligament",
                    soft_inside(
                        ellipse_distance(u, v, *acl_ellipse(g, acl)[:2], angle=g.lateral * 0.35), w
                    ),
                )
            )
        pcl = _section(z, *PCL_Z)
        if pcl > 0:
            out.append(
                (
                    "ligament",
                    soft_inside(
                        ellipse_distance(u, v, (-0.06, -g.lateral * 0.02), (0.08 * pcl, 0.05)), w
                    ),
                )
            )
        mcl = _section(z, 0.0, 0.45)
        if mcl > 0:
            x = -g.lateral * (g.joint_edge + 0.035)
            out.append(
                (
                    "ligament",
                    soft_inside(np.abs(v - x) - 0.016, w) * soft_inside(np.abs(u) - 0.35 * mcl, w),
                )
            )
        return out


def acl_ellipse(geo: KneeGeometry, size: float) -> tuple[tuple[float, float], tuple[float, float]]:
    """Centre and semi-axes of the ACL's oblique band in the notch at section ``size``."""
    return (geo.tibia_top / 2 - 0.09, geo.lateral * 0.012), (0.15 * size, ACL_HALF_WIDTH)


def _section(z: float, zc: float, z_radius: float) -> float:
    t = (z - zc) / z_radius
    return float(np.sqrt(max(1.0 - t * t, 0.0)))


def _plan_lesions(
    rng: np.random.Generator, geo: KneeGeometry, slice_z: np.ndarray, rate: float = 1.0
) -> list[Lesion]:
    """Findings of one knee: about 70 % of knees carry one or more, each over 2-3 slices.

    ``rate`` multiplies each finding's probability (:func:`mri.synth.anatomy.finding_chance`).
    Sizes are larger than life (see the module docstring).
    """
    lesions: list[Lesion] = []
    medial = -geo.lateral
    if rng.random() < finding_chance(0.4, rate):
        # Horizontal / oblique cleavage tear through the body of the meniscus, filled with
        # joint fluid, often with a parameniscal cyst at its outer edge.
        side = medial if rng.random() < 0.65 else geo.lateral
        zc, zr = pick_slab(rng, slice_z, 2, 3)
        floor = geo.tibia_top - geo.cartilage + 0.005
        v0 = side * (geo.joint_edge - geo.meniscus_width * float(rng.uniform(0.32, 0.45)))
        lesions.append(
            Lesion(
                kind="meniscus_tear",
                label=LABELS["meniscus_tear"],
                centre=(floor - MENISCUS_HEIGHT * float(rng.uniform(0.28, 0.36)), v0),
                axes=(
                    MENISCUS_HEIGHT * float(rng.uniform(0.35, 0.45)),
                    geo.meniscus_width * float(rng.uniform(0.45, 0.55)),
                ),
                zc=zc,
                z_radius=zr,
                angle=float(side * rng.uniform(-0.25, 0.35)),
                params={
                    "side": float(side),
                    "cyst": float(rng.random() < 0.6),
                    "cyst_u": floor - MENISCUS_HEIGHT * float(rng.uniform(0.3, 0.6)),
                    "cyst_axes_u": float(rng.uniform(0.07, 0.1)),
                    "cyst_axes_v": float(rng.uniform(0.05, 0.07)),
                },
            )
        )
    if rng.random() < finding_chance(0.35, rate):
        # one or two sites (osteoarthritis is often multifocal), each half the time with a
        # "kissing" defect on the opposing surface
        for _ in range(1 + int(rng.random() < 0.7)):
            zc, zr = pick_slab(rng, slice_z, 2, 3)
            side = float(rng.choice([-1.0, 1.0]))
            v0 = side * (geo.cond_cx + float(rng.uniform(-0.06, 0.06)))
            on_femur = rng.random() < 0.6
            surfaces = (on_femur, not on_femur) if rng.random() < 0.5 else (on_femur,)
            for femur in surfaces:
                lesions.append(
                    Lesion(
                        kind="cartilage_defect",
                        label=LABELS["cartilage_defect"],
                        centre=(geo.condyle_surface(v0) if femur else geo.tibia_top, v0),
                        # (depth as a fraction of the cartilage thickness, half-width)
                        axes=(float(rng.uniform(0.8, 0.95)), float(rng.uniform(0.14, 0.2))),
                        zc=zc,
                        z_radius=zr,
                        params={"femur": float(femur)},
                    )
                )
            if rng.random() < 0.3:  # subchondral oedema under the defect
                depth = 0.13
                u_bone = (geo.condyle_surface(v0) - depth) if on_femur else geo.tibia_top + depth
                lesions.append(_edema(rng, (u_bone, v0), zc, zr))
    if rng.random() < finding_chance(0.3, rate):
        zc, zr = pick_slab(rng, slice_z, 2, 3)
        side = float(rng.choice([-1.0, 1.0]))
        v0 = side * (geo.cond_cx + float(rng.uniform(-0.06, 0.06)))
        if rng.random() < 0.5:
            u0 = geo.condyle_surface(v0) - float(rng.uniform(0.1, 0.14))
        else:
            u0 = geo.tibia_top + float(rng.uniform(0.1, 0.14))
        lesions.append(_edema(rng, (u0, v0), zc, zr))
    acl_slices = [z for z in slice_z if _section(float(z), *ACL_Z) > 0.45]
    if acl_slices and rng.random() < finding_chance(0.3, rate):
        zc, zr = pick_slab(rng, np.asarray(acl_slices), 2, 3)
        centre, axes = acl_ellipse(geo, 1.0)
        lesions.append(
            Lesion(
                kind="acl_sprain",
                label=LABELS["acl_sprain"],
                centre=centre,
                axes=(axes[0] * 1.1, axes[1] * 1.3),
                zc=zc,
                z_radius=zr,
                angle=geo.lateral * 0.35,
            )
        )
        if rng.random() < 0.6:
            # pivot-shift ("kissing") contusions: lateral femoral condyle and tibial plateau
            zc, zr = pick_slab(rng, slice_z, 2, 3)
            v0 = geo.lateral * (geo.cond_cx + float(rng.uniform(-0.04, 0.06)))
            u_femur = geo.condyle_surface(v0) - float(rng.uniform(0.1, 0.14))
            u_tibia = geo.tibia_top + float(rng.uniform(0.1, 0.14))
            lesions.append(_edema(rng, (u_femur, v0), zc, zr))
            lesions.append(_edema(rng, (u_tibia, v0), zc, zr))
    return lesions


def _edema(rng: np.random.Generator, centre: tuple[float, float], zc: float, zr: float) -> Lesion:
    return Lesion(
        kind="bone_edema",
        label=LABELS["bone_edema"],
        centre=centre,
        axes=(float(rng.uniform(0.1, 0.14)), float(rng.uniform(0.15, 0.2))),
        zc=zc,
        z_radius=zr,
        angle=float(rng.uniform(-0.3, 0.3)),
    )


def _lesion_cut(
    index: int,
    lesion: Lesion,
    geo: KneeGeometry,
    u: np.ndarray,
    v: np.ndarray,
    z: float,
    w: float,
    surfaces: dict[str, np.ndarray],
) -> LesionCut | None:
    """``lesion`` as slice ``z`` cuts it (None if it does not); its shapes are computed here,
    once, and painted by the returned cut's ``draw``. ``surfaces`` holds the signed distances
    to the femur and the tibia (cartilage defects follow the articular surface)."""
    size = lesion.section(z)
    if size <= 0.0:
        return None
    tissues = LESION_TISSUES[lesion.kind]
    steps: list[tuple[tuple[str, ...], str, np.ndarray]] = []  # (targets, new tissue, amount)
    if lesion.kind == "meniscus_tear":
        axes = (lesion.axes[0], lesion.axes[1] * size)  # height fixed, length shrinks
        blob = soft_inside(ellipse_distance(u, v, lesion.centre, axes, lesion.angle), w)
        steps.append((("meniscus",), "fluid", blob))
        if lesion.params["cyst"]:
            p = lesion.params
            centre = (p["cyst_u"], p["side"] * (geo.joint_edge + 0.6 * p["cyst_axes_v"]))
            cyst_axes = (p["cyst_axes_u"] * size, p["cyst_axes_v"] * size)
            cyst = soft_inside(ellipse_distance(u, v, centre, cyst_axes), w)
            steps.append((("fat", "ligament", "muscle", "meniscus"), "fluid", cyst))
    elif lesion.kind == "cartilage_defect":
        # Cartilage within ``depth`` of the articular surface, over a stretch of the joint:
        # the defect follows the curved surface and is filled with joint fluid.
        depth, half_width = lesion.axes
        on_femur = bool(lesion.params["femur"])
        distance = surfaces["femur" if on_femur else "tibia"]
        joint_centre = geo.tibia_top / 2
        side = soft_inside(u - joint_centre if on_femur else joint_centre - u, w)
        blob = (
            soft_inside(geo.cartilage * (1.0 - depth) - distance, w)
            * soft_inside(np.abs(v - lesion.centre[1]) - half_width * size, w)
            * side
        )
        steps.append((("cartilage",), "fluid", blob))
    elif lesion.kind == "bone_edema":
        # Oedema replaces the marrow (fat and water) completely in its core.
        axes = (lesion.axes[0] * size, lesion.axes[1] * size)
        blob = soft_inside(ellipse_distance(u, v, lesion.centre, axes, lesion.angle), w)
        steps.append((("marrow_fat", "marrow_water"), "marrow_edema", blob))
    elif lesion.kind == "acl_sprain":
        # A swollen, oedematous ligament with fluid between its fibres replaces the dark band
        # and the fat around it.
        axes = (lesion.axes[0], lesion.axes[1] * size)
        blob = soft_inside(ellipse_distance(u, v, lesion.centre, axes, lesion.angle), w)
        steps.append((("ligament", "fat"), "ligament_sprain", 0.6 * blob))
        steps.append((("ligament", "fat"), "fluid", blob))  # the rest of the core
    else:  # pragma: no cover - kinds come from _plan_lesions
        raise ValueError(f"unknown knee lesion kind {lesion.kind!r}")

    def draw(fractions: dict[str, np.ndarray]) -> np.ndarray:
        before = sum(fractions.get(t, 0.0) for t in tissues)
        for targets, new_tissue, amount in steps:
            replace(fractions, targets, new_tissue, amount)
        after = sum(fractions.get(t, 0.0) for t in tissues)
        return np.clip(after - before, 0.0, 1.0)

    return LesionCut(index=index, kind=lesion.kind, label=lesion.label, draw=draw)
