"""Applying a named shift at a severity to k-space or to a magnitude image, from a seed.

``shift_kspace`` validates the input, looks up the severity's fixed parameters
(:func:`mri.shifts.severities.parameters`), draws the random pattern (positions, signs,
directions, offsets, timing, noise) from ``numpy.random.default_rng(seed)`` and applies the
physics of :mod:`mri.shifts.physics`. The random draws do not depend on the severity, so a seed
gives the same artifact pattern at every severity. ``shift_image`` runs the same on a real
magnitude image through its Fourier transform and returns the magnitude.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch

from mri.fft import fft2c, ifft2c
from mri.shifts.physics import (
    _bias_terms,
    add_complex_noise,
    add_spikes,
    apply_bias_field,
    bias_field,
    ghost_kspace,
    image_maximum,
    rigid_motion,
    undersample,
)
from mri.shifts.severities import SPIKE_CENTRE_EXCLUSION, _check, parameters

# A seed is an int, an existing numpy Generator (used as is), or None (fresh entropy).
Seed = int | np.random.Generator | None


def shift_kspace(name: str, severity: int, kspace: torch.Tensor, seed: Seed = None) -> torch.Tensor:
    """Apply shift ``name`` at ``severity`` (0..5) to complex k-space ``[coils, H, W]``/``[H, W]``.

    Returns a new complex tensor of the same shape, dtype and device (severity 0: a copy).
    The same ``seed`` gives the same output; the random pattern (positions, signs, timing,
    noise realisation) does not depend on the severity, only its magnitude does.

    Raises:
        ValueError: unknown ``name`` or ``severity`` outside 0..5, or wrong rank.
        TypeError: ``kspace`` is not a complex torch tensor.
    """
    _check(name, severity)
    _check_kspace(kspace)
    if severity == 0:
        return kspace.clone()
    prm = parameters(name, severity)
    return _SHIFT_FUNCTIONS[name](kspace, prm, seed)


def shift_image(name: str, severity: int, image: torch.Tensor, seed: Seed = None) -> torch.Tensor:
    """Apply shift ``name`` to a real magnitude image ``[H, W]``; returns a real ``[H, W]``.

    The image is treated as a single-coil complex image with zero phase: ``fft2c`` -> the same
    k-space shift as ``shift_kspace`` -> magnitude of ``ifft2c``. Noise therefore becomes
    Rician with sigma = p % of the image maximum (the paper's protocol). Same dtype and device
    as ``image``; severity 0 returns a copy.
    """
    _check(name, severity)
    if not torch.is_tensor(image) or image.is_complex() or not image.is_floating_point():
        kind = image.dtype if torch.is_tensor(image) else type(image).__name__
        raise TypeError(f"shift_image expects a real floating-point tensor [H, W], got {kind}")
    if image.ndim != 2:
        raise ValueError(f"shift_image expects an image [H, W], got shape {tuple(image.shape)}")
    if severity == 0:
        return image.clone()
    complex_dtype = torch.complex128 if image.dtype == torch.float64 else torch.complex64
    kspace = fft2c(image.to(complex_dtype))
    shifted = shift_kspace(name, severity, kspace, seed)
    return ifft2c(shifted).abs().to(image.dtype)


def _undersampling(kspace: torch.Tensor, prm: dict, seed: Seed) -> torch.Tensor:
    if isinstance(seed, np.random.Generator):
        seed = int(seed.integers(2**31))
    masked, _ = undersample(kspace, int(prm["acceleration"]), prm["center_fraction"], seed)
    return masked


def _noise(kspace: torch.Tensor, prm: dict, seed: Seed) -> torch.Tensor:
    sigma = prm["sigma_percent"] / 100.0 * image_maximum(kspace)
    return add_complex_noise(kspace, sigma, np.random.default_rng(seed))


def _motion(kspace: torch.Tensor, prm: dict, seed: Seed) -> torch.Tensor:
    rng = np.random.default_rng(seed)
    W = kspace.shape[-1]
    sign = rng.choice((-1.0, 1.0))
    direction = rng.uniform(0, 2 * math.pi)
    moved = rng.uniform(prm["moved_fraction_min"], prm["moved_fraction_max"])
    # The k-space centre (line W // 2) stays unmoved: the image keeps the reference pose and
    # the motion shows as ghosting and blurring, as when motion happens late in the scan.
    first = max(W - int(round(moved * W)), W // 2 + 1)
    shift = (prm["pixels"] * math.sin(direction), prm["pixels"] * math.cos(direction))
    return rigid_motion(kspace, sign * prm["degrees"], shift, first)


def _spikes(kspace: torch.Tensor, prm: dict, seed: Seed) -> torch.Tensor:
    rng = np.random.default_rng(seed)
    H, W = kspace.shape[-2:]
    n = int(prm["num_spikes"])
    positions = [(_off_centre_index(rng, H), _off_centre_index(rng, W)) for _ in range(n)]
    coils = kspace.shape[0] if kspace.ndim == 3 else 1
    phases = rng.uniform(-math.pi, math.pi, size=(coils, n))
    return add_spikes(kspace, positions, prm["amplitude"], phases)


def _off_centre_index(rng: np.random.Generator, n: int) -> int:
    """Uniform index along an axis of length ``n`` outside its central exclusion band."""
    half_band = max(1, int(round(SPIKE_CENTRE_EXCLUSION * n / 2)))
    allowed = np.abs(np.arange(n) - n // 2) >= half_band
    return int(rng.choice(np.flatnonzero(allowed)))


def _ghosting(kspace: torch.Tensor, prm: dict, seed: Seed) -> torch.Tensor:
    rng = np.random.default_rng(seed)
    period = int(prm["period"])
    offset = int(rng.integers(period))
    return ghost_kspace(kspace, period, prm["intensity"], offset)


def _bias_field(kspace: torch.Tensor, prm: dict, seed: Seed) -> torch.Tensor:
    rng = np.random.default_rng(seed)
    order = int(prm["order"])
    unit = rng.uniform(-1.0, 1.0, size=len(_bias_terms(order)))
    field = bias_field(tuple(kspace.shape[-2:]), prm["coefficient"] * unit, order)
    return apply_bias_field(kspace, field)


_SHIFT_FUNCTIONS: dict[str, Callable[[torch.Tensor, dict, Seed], torch.Tensor]] = {
    "undersampling": _undersampling,
    "noise": _noise,
    "motion": _motion,
    "spikes": _spikes,
    "ghosting": _ghosting,
    "bias_field": _bias_field,
}


def _check_kspace(kspace: torch.Tensor) -> None:
    if not torch.is_tensor(kspace) or not torch.is_complex(kspace):
        kind = kspace.dtype if torch.is_tensor(kspace) else type(kspace).__name__
        raise TypeError(f"shifts expect complex k-space [coils, H, W] or [H, W], got {kind}")
    if kspace.ndim not in (2, 3):
        raise ValueError(
            f"shifts expect k-space [coils, H, W] or [H, W], got shape {tuple(kspace.shape)}"
        )
