"""Tissue relaxation properties, pulse-sequence protocols and MR signal equations.

Relaxation times are in milliseconds and depend on the main field ``B0``: T1 lengthens with
field strength (roughly 20-40 % from 1.5 T to 3 T for most soft tissues) while T2 changes little
or shortens slightly. Values are rounded literature figures for adult brain and knee tissue;
the synthetic images need the right *ordering and ratios*, not exact numbers.

Signal equations (magnitude, arbitrary units, proton density ``PD`` in [0, 1]):

- spin echo / turbo spin echo: ``S = PD * (1 - exp(-TR/T1)) * exp(-TE/T2)``
- inversion recovery (FLAIR):  ``S = PD * |1 - 2 exp(-TI/T1) + exp(-TR/T1)| * exp(-TE/T2)``

Fat suppression (spectral saturation) multiplies the fat signal by a small residual factor.
Gadolinium (post-contrast T1) raises the longitudinal relaxation rate:
``1/T1' = 1/T1 + uptake`` with ``uptake`` in 1/ms per tissue.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

FIELDS_T = (1.5, 3.0)


@dataclass(frozen=True)
class Tissue:
    """Relaxation properties of one tissue; ``t1``/``t2`` are ``(at 1.5 T, at 3 T)`` in ms."""

    pd: float
    t1: tuple[float, float]
    t2: tuple[float, float]
    is_fat: bool = False
    gd_uptake: float = 0.0  # increase of R1 (1/ms) after a standard gadolinium dose

    def relaxation(self, field_strength: float) -> tuple[float, float]:
        """``(T1, T2)`` in ms at ``field_strength`` tesla (linear in B0 between 1.5 and 3 T)."""
        frac = min(max((field_strength - 1.5) / 1.5, 0.0), 1.0)
        t1 = self.t1[0] + frac * (self.t1[1] - self.t1[0])
        t2 = self.t2[0] + frac * (self.t2[1] - self.t2[0])
        return t1, t2


TISSUES: dict[str, Tissue] = {
    # --- brain ---
    "wm": Tissue(0.70, (700.0, 900.0), (75.0, 70.0)),
    "gm": Tissue(0.82, (1100.0, 1400.0), (95.0, 88.0)),
    "csf": Tissue(1.00, (4000.0, 4300.0), (2000.0, 1800.0)),
    "muscle": Tissue(0.72, (870.0, 1400.0), (35.0, 30.0), gd_uptake=1 / 4000),
    "fat": Tissue(0.95, (260.0, 380.0), (150.0, 130.0), is_fat=True),
    "bone": Tissue(0.05, (500.0, 600.0), (1.0, 0.8)),
    # white-matter lesion (demyelination / gliosis): more free water, longer T1 and T2
    "wm_lesion": Tissue(0.85, (1200.0, 1600.0), (150.0, 140.0)),
    # solid tumour: long T1/T2, strong enhancement where the blood-brain barrier is broken
    "tumor": Tissue(0.88, (1300.0, 1700.0), (120.0, 110.0), gd_uptake=1 / 250),
    "necrosis": Tissue(0.95, (2500.0, 3000.0), (400.0, 350.0)),
    "vasogenic_edema": Tissue(0.88, (1150.0, 1500.0), (170.0, 155.0)),
    # --- knee ---
    "marrow_fat": Tissue(0.95, (260.0, 380.0), (150.0, 130.0), is_fat=True),
    "marrow_water": Tissue(0.80, (900.0, 1100.0), (45.0, 40.0)),
    "marrow_edema": Tissue(0.90, (1000.0, 1250.0), (80.0, 72.0)),
    "cartilage": Tissue(0.78, (1050.0, 1250.0), (42.0, 37.0)),
    "meniscus": Tissue(0.60, (800.0, 1000.0), (10.0, 8.0)),
    "ligament": Tissue(0.60, (800.0, 1000.0), (12.0, 10.0)),
    "ligament_sprain": Tissue(0.85, (1200.0, 1450.0), (65.0, 58.0)),
    "fluid": Tissue(0.97, (3000.0, 3600.0), (800.0, 600.0)),
}


@dataclass(frozen=True)
class Protocol:
    """Timing of one fastMRI acquisition (ms). ``ti`` None = no inversion pulse.

    ``ti="null_csf"`` sets the inversion time that nulls CSF at the scanner's field:
    ``TI = T1_csf * ln(2 / (1 + exp(-TR/T1_csf)))``.
    """

    name: str
    anatomy: str
    tr: float
    te: float
    ti: float | str | None = None
    fat_suppressed: bool = False
    contrast_agent: bool = False
    flip_angle_deg: float = 90.0
    echo_train_length: int = 8

    def inversion_time(self, field_strength: float) -> float | None:
        """TI in ms at ``field_strength`` (rounded to 10 ms like a scanner protocol)."""
        if self.ti is None:
            return None
        if self.ti == "null_csf":
            t1_csf, _ = TISSUES["csf"].relaxation(field_strength)
            ti = t1_csf * math.log(2.0 / (1.0 + math.exp(-self.tr / t1_csf)))
            return float(round(ti, -1))
        return float(self.ti)


PROTOCOLS: dict[str, Protocol] = {
    "AXT1": Protocol("AXT1", "brain", tr=600.0, te=12.0, echo_train_length=3),
    "AXT1POST": Protocol(
        "AXT1POST", "brain", tr=600.0, te=12.0, contrast_agent=True, echo_train_length=3
    ),
    "AXT2": Protocol("AXT2", "brain", tr=5000.0, te=100.0, echo_train_length=16),
    "AXFLAIR": Protocol("AXFLAIR", "brain", tr=9000.0, te=120.0, ti="null_csf"),
    "CORPD_FBK": Protocol("CORPD_FBK", "knee", tr=2800.0, te=30.0, echo_train_length=4),
    "CORPDFS_FBK": Protocol(
        "CORPDFS_FBK", "knee", tr=2800.0, te=33.0, fat_suppressed=True, echo_train_length=4
    ),
}

# Residual fat signal after spectral fat saturation; the smaller fat-water frequency shift at
# 1.5 T (220 Hz vs 440 Hz at 3 T) makes suppression less complete there.
FAT_SUPPRESSION_RESIDUAL = {1.5: 0.10, 3.0: 0.05}


def fat_residual(field_strength: float) -> float:
    """Fraction of fat signal left after fat saturation at ``field_strength``."""
    return FAT_SUPPRESSION_RESIDUAL[1.5 if field_strength < 2.2 else 3.0]


def spin_echo(pd: float, t1: float, t2: float, tr: float, te: float) -> float:
    """``PD * (1 - exp(-TR/T1)) * exp(-TE/T2)`` (times in ms)."""
    return pd * (1.0 - math.exp(-tr / t1)) * math.exp(-te / t2)


def inversion_recovery(pd: float, t1: float, t2: float, tr: float, te: float, ti: float) -> float:
    """Magnitude IR signal ``PD * |1 - 2 exp(-TI/T1) + exp(-TR/T1)| * exp(-TE/T2)``."""
    return pd * abs(1.0 - 2.0 * math.exp(-ti / t1) + math.exp(-tr / t1)) * math.exp(-te / t2)


def tissue_signal(
    tissue: str, acquisition: str, field_strength: float, fat_suppression: bool = True
) -> float:
    """Noise-free signal of ``tissue`` in ``acquisition`` at ``field_strength`` tesla.

    Relative units (PD = 1, fully relaxed, TE = 0 gives 1); the SNR gain of higher fields is
    applied at acquisition time, not here. Fat-suppressed protocols scale fat by
    :func:`fat_residual` unless ``fat_suppression`` is False (the spatially varying residual
    is applied by the simulator).
    """
    props = TISSUES[tissue]
    proto = PROTOCOLS[acquisition]
    t1, t2 = props.relaxation(field_strength)
    if proto.contrast_agent and props.gd_uptake > 0:
        t1 = 1.0 / (1.0 / t1 + props.gd_uptake)
    ti = proto.inversion_time(field_strength)
    if ti is None:
        signal = spin_echo(props.pd, t1, t2, proto.tr, proto.te)
    else:
        signal = inversion_recovery(props.pd, t1, t2, proto.tr, proto.te, ti)
    if proto.fat_suppressed and props.is_fat and fat_suppression:
        signal *= fat_residual(field_strength)
    return signal
