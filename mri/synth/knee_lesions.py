"""Findings of the procedural knee (:mod:`mri.synth.knee`): their labels and tissues, how
many a knee gets and where (:func:`plan_lesions`), and how a slice cuts and paints each
(:func:`lesion_cut`): meniscal tears, partial-thickness cartilage defects, subchondral
bone-marrow oedema and ACL sprains.

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

import numpy as np

from mri.synth.anatomy import Lesion, LesionCut, finding_chance, pick_slab
from mri.synth.fields import ellipse_distance, soft_inside
from mri.synth.knee_geometry import ACL_Z, MENISCUS_HEIGHT, KneeGeometry, acl_ellipse, section

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


def plan_lesions(
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
    acl_slices = [z for z in slice_z if section(float(z), *ACL_Z) > 0.45]
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


def lesion_cut(
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
    else:  # pragma: no cover - kinds come from plan_lesions
        raise ValueError(f"unknown knee lesion kind {lesion.kind!r}")

    return LesionCut.from_steps(index, lesion, tissues, steps)
