"""Which lesions a slice shows: one visibility rule for every finding, anatomy and scanner.

A finding is annotated only where a reader could see it in the image the classifier gets; a
box around something the image does not show is label noise. The rule is measured per lesion
and slice on the file's *noise-free* reconstruction (single-coil: ``|ESC combination|``;
multi-coil: RSS), cropped to the recon matrix, at the recon resolution:

- ``area_px``: pixels of the lesion's mask, its fraction map block-averaged to the recon
  resolution and thresholded at ``fraction > LESION_THRESHOLD`` (:func:`lesion_mask`);
- ``effect_sd``: the mean over the mask of ``|I_lesion - I_none|`` divided by the magnitude
  noise ``sigma_mag``, where ``I_lesion`` is the clean image with this lesion drawn (alone) and
  ``I_none`` the same slice without any lesion: how far, per pixel, the lesion moves the image
  from the anatomy it replaces, in noise units;
- ``ring_contrast_sd``: ``(mean of I_lesion on the mask - mean on the RING_PX-pixel ring
  around it) / sigma_mag``, the classic lesion-to-background contrast, reported for comparison
  (it mixes in whatever anatomy borders the lesion, so it can be near 0 for a conspicuous
  lesion between a brighter and a darker tissue).

``sigma_mag = sigma_complex / sqrt(2)``: ``sigma_complex`` is the per-sample complex noise
standard deviation of the file's k-space, which under the orthonormal FFT is also the per-pixel
complex noise of the image; each of the real and imaginary parts has ``sigma_complex / sqrt(2)``,
and so does a magnitude image at high SNR (the noise along the signal's phase). For single-coil
files this is the slice's combined-receiver noise; for multi-coil files the per-channel sigma,
which is about the noise of the RSS image at high SNR too (there the RSS noise is the real part
of ``sum_c conj(S_c) n_c / sqrt(sum_c |S_c|^2)``, of variance ``sigma^2 / 2`` for uncorrelated
channels of equal noise; the simulated channels are mildly correlated).

A lesion is **visible** iff ``area_px >= min_area_px`` and ``effect_sd >= min_effect_sd``
(defaults 12 px and 3 SD; presets set them, :class:`mri.synth.presets.Preset`). Why: by the
Rose criterion (Rose 1948) an object of known location and size is detectable when its
contrast-to-noise ratio integrated over its area, ``C / sigma * sqrt(A)``, reaches about 5.
Requiring 3 SD per pixel over at least 12 pixels gives ``3 * sqrt(12) ~ 10``, twice Rose's
``k``: the classifier does not know where to look, and anatomy adds structured clutter that
white noise does not. Twelve pixels at the knee's 2.2 mm (140 mm / 64) are about 58 mm^2,
about 8.6 mm across: a lesion a radiologist would report; at the brain's 3.4 mm pixels more.

The simulator draws each lesion the slice cuts alone on the lesion-free slice, measures it,
and then draws the final slice with the visible lesions only; an invisible lesion is neither
drawn on that slice nor annotated there (:mod:`mri.synth.simulate`). Every lesion-slice, visible
or not, is listed in the generator's ``lesions.csv`` (:mod:`mri.synth.generate`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

# Lesion pixels: block-averaged fraction above this at the recon resolution.
LESION_THRESHOLD = 0.2
MIN_AREA_PX = 12.0
MIN_EFFECT_SD = 3.0
RING_PX = 2  # width of the background ring for ring_contrast_sd


@dataclass(frozen=True)
class VisibilityRule:
    """The two thresholds of the rule (see the module docstring)."""

    min_area_px: float = MIN_AREA_PX
    min_effect_sd: float = MIN_EFFECT_SD

    def visible(self, area_px: float, effect_sd: float) -> bool:
        """Whether a lesion of ``area_px`` pixels and mean effect ``effect_sd`` is visible."""
        return bool(area_px >= self.min_area_px and effect_sd >= self.min_effect_sd)


@dataclass(frozen=True)
class LesionMeasure:
    """One lesion on one slice: its label, measures, verdict and mask ``[h, w]`` (bool)."""

    index: int  # position in the phantom's lesions
    label: str
    area_px: int
    effect_sd: float
    ring_contrast_sd: float
    visible: bool
    mask: np.ndarray


def lesion_mask(fraction: np.ndarray) -> np.ndarray:
    """Pixels of a lesion from its fraction map at the recon resolution."""
    return fraction > LESION_THRESHOLD


def magnitude_sigma(sigma_complex: float) -> float:
    """Noise SD of a magnitude image (high SNR) from the complex noise SD per sample."""
    return float(sigma_complex) / math.sqrt(2.0)


def measure(
    mask: np.ndarray, with_lesion: np.ndarray, without: np.ndarray, sigma_mag: float
) -> tuple[int, float, float]:
    """``(area_px, effect_sd, ring_contrast_sd)`` of a lesion with pixels ``mask`` in the
    clean image ``with_lesion`` against the lesion-free ``without`` (both ``[h, w]``).

    An empty mask gives ``(0, 0.0, nan)``; a mask without a ring around it (filling the image)
    gives a nan ring contrast.
    """
    area = int(mask.sum())
    if area == 0:
        return 0, 0.0, math.nan
    effect = float(np.abs(with_lesion[mask] - without[mask]).mean()) / sigma_mag
    ring = ndimage.binary_dilation(mask, iterations=RING_PX) & ~mask
    if not ring.any():
        return area, effect, math.nan
    contrast = float(with_lesion[mask].mean() - with_lesion[ring].mean()) / sigma_mag
    return area, effect, contrast
