"""Acquisition shifts: k-space artifacts and undersampling with severity levels 1..5.

Every shift acts on centered complex k-space (fastMRI convention, ``mri.fft.fft2c``), either
multi-coil ``[coils, H, W]`` or single-coil ``[H, W]``, with H the readout (frequency-encode)
axis and W the phase-encode axis: one column of k-space is one phase-encode line, acquired in
one repetition. Severity 0 is the identity; severities 1..5 follow the shift protocol of Madaan
et al. (MIDL 2023) for ``noise``, ``motion``, ``ghosting``, ``spikes`` and ``bias_field``, plus
retrospective ``undersampling`` with rising acceleration (fastMRI equispaced masks). The
magnitude is fixed by the severity and only positions, signs, directions, offsets and timing
are random, so a seed gives the same artifact pattern at every severity and the damage grows
with severity.

Modules:

- :mod:`.severities`: the shift names, the severity table and its per-shift departures from the
  paper, ``parameters(name, severity)`` and ``describe(name, severity)``.
- :mod:`.physics`: the deterministic k-space building blocks (motion, spikes, ghosting, bias
  field, noise, undersampling).
- :mod:`.apply`: ``shift_kspace`` and ``shift_image``, which draw the random pattern from a seed.

Randomness comes from ``numpy.random.default_rng(seed)``: a given seed always gives the same
output. ``shift_image`` applies the same physics to a real magnitude image through its Fourier
transform and returns the magnitude, as a scanner would after reconstruction.
"""

from mri.shifts.apply import Seed, shift_image, shift_kspace
from mri.shifts.physics import (
    add_complex_noise,
    add_spikes,
    apply_bias_field,
    bias_field,
    centered_frequencies,
    ghost_kspace,
    image_maximum,
    rigid_motion,
    rotate_image,
    translate_kspace,
    undersample,
)
from mri.shifts.severities import (
    BIAS_COEFFICIENT_PER_LEVEL,
    BIAS_ORDER,
    GHOST_INTENSITY_PER_LEVEL,
    GHOST_PERIOD,
    MOTION_DEGREES_PER_LEVEL,
    MOTION_MOVED_FRACTION,
    MOTION_PIXELS_PER_LEVEL,
    NOISE_PERCENT_PER_LEVEL,
    NUM_SPIKES,
    SEVERITIES,
    SHIFTS,
    SPIKE_AMPLITUDE_PER_LEVEL,
    SPIKE_CENTRE_EXCLUSION,
    UNDERSAMPLING_LEVELS,
    describe,
    parameters,
)

__all__ = [
    "BIAS_COEFFICIENT_PER_LEVEL",
    "BIAS_ORDER",
    "GHOST_INTENSITY_PER_LEVEL",
    "GHOST_PERIOD",
    "MOTION_DEGREES_PER_LEVEL",
    "MOTION_MOVED_FRACTION",
    "MOTION_PIXELS_PER_LEVEL",
    "NOISE_PERCENT_PER_LEVEL",
    "NUM_SPIKES",
    "SEVERITIES",
    "SHIFTS",
    "SPIKE_AMPLITUDE_PER_LEVEL",
    "SPIKE_CENTRE_EXCLUSION",
    "UNDERSAMPLING_LEVELS",
    "Seed",
    "add_complex_noise",
    "add_spikes",
    "apply_bias_field",
    "bias_field",
    "centered_frequencies",
    "describe",
    "ghost_kspace",
    "image_maximum",
    "parameters",
    "rigid_motion",
    "rotate_image",
    "shift_image",
    "shift_kspace",
    "translate_kspace",
    "undersample",
]
