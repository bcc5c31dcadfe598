"""Named acquisition shifts and their severity table: which shifts exist, what each level means.

Severity 0 is the identity; severities 1..5 follow the shift protocol of Madaan
et al. (MIDL 2023), whose severity ``p`` sets

- ``noise``: Rician noise with sigma = p % of the image maximum,
- ``motion``: rotation 5p degrees and translation 2p pixels,
- ``ghosting``: intensity p with 7 ghosts,
- ``spikes``: intensity p (relative to the k-space maximum),
- ``bias_field``: polynomial coefficient p,

plus retrospective ``undersampling`` with rising acceleration (fastMRI equispaced masks).
The paper applies TorchIO's random transforms, which draw each parameter uniformly from a range
bounded by ``p``. Here the magnitude is fixed by the severity and only positions, signs,
directions, offsets and timing are random, so a seed gives the same artifact pattern at every
severity and the damage grows with severity. Per shift, relative to the paper:

- ``noise``: as in the paper (sigma = p % of the image maximum, complex Gaussian per coil).
- ``motion``: one movement of exactly 5p degrees and 2p pixels (random sign and direction)
  during the second half of the scan; TorchIO draws two movements with angles in
  ``U(-5p, 5p)`` and translations in ``U(-2p, 2p)`` per axis.
- ``ghosting``: as in the paper (TorchIO with ``intensity=p, num_ghosts=7``): every 7th line
  scaled by ``1 - p``, the centre line kept.
- ``spikes``: two spikes of ``p/2`` times the k-space maximum each (the mean magnitude of
  TorchIO's ``U(-p, p)`` draw); TorchIO adds one spike.
- ``bias_field``: log-field coefficients within ``+/- 0.2p`` and no constant term. The paper's
  bound ``p`` (TorchIO, constant included) gives intensity factors up to ``e^(10p)`` at the
  corners, which saturates the image already at p = 2. With 0.2p the typical (median) field
  spans 0.9..1.1 over the central half of the field of view at p = 1 and 0.6..1.7 at p = 5
  (0.7..1.5 and 0.17..7 over the whole field of view, corners included).

The per-severity values are listed by ``parameters(name, severity)`` and
``describe(name, severity)``; ``_check`` validates a shift name and severity.
"""

from __future__ import annotations

import numpy as np

SHIFTS = ("undersampling", "noise", "motion", "spikes", "ghosting", "bias_field")
SEVERITIES = (1, 2, 3, 4, 5)

# Severity -> (acceleration, centre fraction) of the equispaced mask.
UNDERSAMPLING_LEVELS = {1: (2, 0.16), 2: (4, 0.08), 3: (6, 0.06), 4: (8, 0.04), 5: (12, 0.04)}
# Noise sigma in percent of the image maximum, per unit severity (paper: sigma = p %).
NOISE_PERCENT_PER_LEVEL = 1.0
# Motion per unit severity (paper: rotation 5p degrees, translation 2p).
MOTION_DEGREES_PER_LEVEL = 5.0
MOTION_PIXELS_PER_LEVEL = 2.0
# Fraction of the phase-encode lines (the last ones acquired) that see the moved object.
MOTION_MOVED_FRACTION = (0.4, 0.5)
# Spikes: count, and amplitude relative to the k-space maximum per unit severity (paper: p).
NUM_SPIKES = 2
SPIKE_AMPLITUDE_PER_LEVEL = 0.5
# Spikes avoid this central fraction of k-space along each axis (there a spike is a shading,
# not the herringbone stripes of the artifact).
SPIKE_CENTRE_EXCLUSION = 0.1
# Ghosting: modulation period in lines (paper: 7 ghosts) and intensity per unit severity.
GHOST_PERIOD = 7
GHOST_INTENSITY_PER_LEVEL = 1.0
# Bias field: polynomial order of the log-field and coefficient bound per unit severity.
BIAS_ORDER = 3
BIAS_COEFFICIENT_PER_LEVEL = 0.2


def parameters(name: str, severity: int) -> dict[str, float | int]:
    """The fixed physical parameters of a shift at a severity (empty dict at severity 0).

    Units: ``sigma_percent`` percent of the image maximum; ``degrees`` degrees; ``pixels``
    pixels; ``moved_fraction_min/max`` fraction of phase-encode lines; ``amplitude`` multiple of
    the k-space maximum; ``intensity`` the line-scaling ``1 - intensity``; ``coefficient`` bound
    of the log-field polynomial coefficients.
    """
    _check(name, severity)
    p = severity
    if p == 0:
        return {}
    if name == "undersampling":
        acc, cf = UNDERSAMPLING_LEVELS[p]
        return {"acceleration": acc, "center_fraction": cf}
    if name == "noise":
        return {"sigma_percent": NOISE_PERCENT_PER_LEVEL * p}
    if name == "motion":
        lo, hi = MOTION_MOVED_FRACTION
        return {
            "degrees": MOTION_DEGREES_PER_LEVEL * p,
            "pixels": MOTION_PIXELS_PER_LEVEL * p,
            "moved_fraction_min": lo,
            "moved_fraction_max": hi,
        }
    if name == "spikes":
        return {"num_spikes": NUM_SPIKES, "amplitude": SPIKE_AMPLITUDE_PER_LEVEL * p}
    if name == "ghosting":
        return {"period": GHOST_PERIOD, "intensity": GHOST_INTENSITY_PER_LEVEL * p}
    return {"order": BIAS_ORDER, "coefficient": BIAS_COEFFICIENT_PER_LEVEL * p}


def describe(name: str, severity: int) -> str:
    """One-line description of a shift at a severity in physical units (for figure labels)."""
    prm = parameters(name, severity)
    if not prm:
        return f"{name}: none (severity 0)"
    if name == "undersampling":
        return (
            f"undersampling: {prm['acceleration']}x equispaced, "
            f"{100 * prm['center_fraction']:.0f}% centre lines"
        )
    if name == "noise":
        return f"noise: complex Gaussian sigma = {prm['sigma_percent']:.1f}% of image max"
    if name == "motion":
        return (
            f"motion: {prm['degrees']:.1f} deg rotation, {prm['pixels']:.1f} px translation "
            f"for the last {100 * prm['moved_fraction_min']:.0f}-"
            f"{100 * prm['moved_fraction_max']:.0f}% of phase-encode lines"
        )
    if name == "spikes":
        return f"spikes: {prm['num_spikes']} k-space spikes at {prm['amplitude']:.1f}x k-space max"
    if name == "ghosting":
        return (
            f"ghosting: every {prm['period']}th phase-encode line scaled by "
            f"{1 - prm['intensity']:.1f} (ghosts every FOV/{prm['period']}, "
            f"intensity {prm['intensity']:.1f})"
        )
    return (
        f"bias_field: exp(order-{prm['order']} polynomial), "
        f"coefficients within +/-{prm['coefficient']:.2f}"
    )


def _check(name: str, severity: int) -> None:
    if name not in SHIFTS:
        raise ValueError(f"unknown shift {name!r}; valid shifts: {', '.join(SHIFTS)}")
    valid = (0, *SEVERITIES)
    if isinstance(severity, bool) or not isinstance(severity, int | np.integer):
        raise ValueError(f"severity must be an int in {valid}, got {severity!r}")
    if severity not in valid:
        raise ValueError(f"severity must be one of {valid} (0 = identity), got {severity}")
