"""Per-subject sizes of the procedural knee (:class:`KneeGeometry`) and the anatomy both the
phantom (:mod:`mri.synth.knee`) and its findings (:mod:`mri.synth.knee_lesions`) place by them:
the menisci's height, the ACL's band and the ``z`` ranges of the cruciate ligaments.

Local frame (see :mod:`mri.synth.knee`): ``u`` runs superior -> inferior, ``v`` across the knee,
the joint line at ``u = 0``; ``z`` runs anterior (negative) to posterior (positive).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

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


def acl_ellipse(geo: KneeGeometry, size: float) -> tuple[tuple[float, float], tuple[float, float]]:
    """Centre and semi-axes of the ACL's oblique band in the notch at section ``size``."""
    return (geo.tibia_top / 2 - 0.09, geo.lateral * 0.012), (0.15 * size, ACL_HALF_WIDTH)


def section(z: float, zc: float, z_radius: float) -> float:
    """Relative size (0-1) of the section at ``z`` of a structure centred at ``zc`` with
    half-extent ``z_radius`` (an ellipsoid's profile; 0 outside)."""
    t = (z - zc) / z_radius
    return float(np.sqrt(max(1.0 - t * t, 0.0)))
