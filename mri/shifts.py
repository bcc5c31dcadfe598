"""Acquisition shifts: k-space artifacts and undersampling with severity levels 1..5.

Every shift acts on centered complex k-space (fastMRI convention, ``mri.fft.fft2c``), either
multi-coil ``[coils, H, W]`` or single-coil ``[H, W]``, with H the readout (frequency-encode)
axis and W the phase-encode axis: one column of k-space is one phase-encode line, acquired in
one repetition. Severity 0 is the identity; severities 1..5 follow the shift protocol of Madaan
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
``describe(name, severity)``.

Randomness comes from ``numpy.random.default_rng(seed)``: a given seed always gives the same
output. ``shift_image`` applies the same physics to a real magnitude image through its Fourier
transform and returns the magnitude, as a scanner would after reconstruction.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch

from mri.coils import rss
from mri.fft import fft2c, ifft2c
from mri.masks import EquiSpacedMaskFunc, apply_mask

SHIFTS = ("undersampling", "noise", "motion", "spikes", "ghosting", "bias_field")
SEVERITIES = (1, 2, 3, 4, 5)

# A seed is an int, an existing numpy Generator (used as is), or None (fresh entropy).
Seed = int | np.random.Generator | None

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


# --------------------------------------------------------------------------------------------
# Physics building blocks (deterministic, no randomness)
# --------------------------------------------------------------------------------------------


def centered_frequencies(n: int, *, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """Integer frequency index of each position of a centered axis of length ``n``: ``j - n//2``.

    ``fft2c`` puts the DC term at index ``n // 2``, so array index ``j`` holds frequency
    ``j - n // 2`` (cycles per field of view).
    """
    return torch.arange(n, dtype=dtype) - n // 2


def translate_kspace(kspace: torch.Tensor, dy: float, dx: float) -> torch.Tensor:
    """Translate the object by ``(dy, dx)`` pixels (H, W) via the Fourier shift theorem.

    ``k'[ky, kx] = k[ky, kx] * exp(-2 pi i (ky dy / H + kx dx / W))`` with centered integer
    frequencies ``ky, kx``. For integer shifts this is exactly ``torch.roll`` of the image by
    ``(dy, dx)``; fractional shifts are band-limited (sinc) interpolation. ``kspace`` is complex
    ``[..., H, W]``; returns the same shape and dtype.
    """
    H, W = kspace.shape[-2:]
    ky = centered_frequencies(H)[:, None] / H
    kx = centered_frequencies(W)[None, :] / W
    ramp = torch.exp(-2j * math.pi * (ky * dy + kx * dx)).to(kspace.dtype).to(kspace.device)
    return kspace * ramp


def _shift_along(image: torch.Tensor, shifts: torch.Tensor, dim: int) -> torch.Tensor:
    """Shift each line of a complex image along ``dim`` by its own amount (pixels).

    ``shifts`` broadcasts against the image with size 1 along ``dim`` (e.g. ``[H, 1]`` for one
    shift per row when ``dim=-1``). Uses a centered 1D FFT and a linear phase ramp.
    """
    n = image.shape[dim]
    spectrum = torch.fft.fftshift(
        torch.fft.fft(torch.fft.ifftshift(image, dim=dim), dim=dim, norm="ortho"), dim=dim
    )
    freq_shape = [1] * image.ndim
    freq_shape[dim] = n
    freqs = (centered_frequencies(n) / n).reshape(freq_shape)
    ramp = torch.exp(-2j * math.pi * freqs * shifts.to(torch.float64))
    spectrum = spectrum * ramp.to(image.dtype).to(image.device)
    return torch.fft.fftshift(
        torch.fft.ifft(torch.fft.ifftshift(spectrum, dim=dim), dim=dim, norm="ortho"), dim=dim
    )


def rotate_image(image: torch.Tensor, degrees: float) -> torch.Tensor:
    """Rotate a complex image ``[..., H, W]`` by ``degrees`` about pixel ``(H//2, W//2)``.

    Three-pass shear rotation (Paeth; Unser et al. 1995):
    ``R(theta) = Sx(-tan(theta/2)) Sy(sin(theta)) Sx(-tan(theta/2))``, each shear a line-wise
    Fourier shift, so the rotation interpolates with band-limited sinc kernels and keeps the
    image energy. Content shifted past an edge wraps around (periodic field of view, as in
    k-space sampling). Positive angles rotate from the +W axis towards the +H axis.
    """
    if degrees == 0:
        return image.clone()
    theta = math.radians(degrees)
    H, W = image.shape[-2:]
    rows = centered_frequencies(H)[:, None]  # y - cy, pixels
    cols = centered_frequencies(W)[None, :]  # x - cx, pixels
    a = -math.tan(theta / 2)
    b = math.sin(theta)
    # A point moves x -> x + a y, then y -> y + b x, then x -> x + a y again.
    out = _shift_along(image, a * rows, dim=-1)
    out = _shift_along(out, b * cols, dim=-2)
    return _shift_along(out, a * rows, dim=-1)


def rigid_motion(
    kspace: torch.Tensor,
    degrees: float,
    translation: tuple[float, float],
    first_moved_line: int,
) -> torch.Tensor:
    """k-space of an object that moved rigidly in-plane during the acquisition.

    Phase-encode lines (columns along W) are acquired in order ``0, 1, ..., W-1``. Lines
    ``first_moved_line`` onwards see the object rotated by ``degrees`` about the image centre
    and then translated by ``translation = (dy, dx)`` pixels; earlier lines see it in place.
    The moved k-space is ``fft2c`` of the rotated coil images times the translation's linear
    phase ramp (Fourier shift theorem). Coil sensitivities are assumed to move with the object,
    a small error because they vary slowly. ``kspace`` is complex ``[..., H, W]``.
    """
    if not 0 <= first_moved_line <= kspace.shape[-1]:
        raise ValueError(f"first_moved_line must lie in [0, {kspace.shape[-1]}]")
    moved = kspace if degrees == 0 else fft2c(rotate_image(ifft2c(kspace), degrees))
    moved = translate_kspace(moved, *translation)
    out = kspace.clone()
    out[..., first_moved_line:] = moved[..., first_moved_line:]
    return out


def add_spikes(
    kspace: torch.Tensor,
    positions: list[tuple[int, int]],
    amplitude: float,
    phases: np.ndarray,
) -> torch.Tensor:
    """Add k-space spikes (herringbone artifact): ``k[c, ky, kx] += A max|k_c| e^{i phi}``.

    ``positions`` are ``(row, column)`` indices, ``amplitude`` ``A`` is relative to each coil's
    k-space maximum, ``phases`` ``[n_coils, n_spikes]`` radians (a spike from an RF discharge
    reaches every receive coil with its own phase). Each spike adds a plane-wave stripe pattern
    of amplitude ``A max|k_c| / sqrt(H W)`` to the coil image. ``kspace`` is ``[..., H, W]``.
    """
    out = kspace.clone()
    flat = out.reshape(-1, *kspace.shape[-2:])
    peak = flat.abs().amax(dim=(-2, -1))
    for s, (r, c) in enumerate(positions):
        phase = torch.as_tensor(np.exp(1j * phases[:, s])).to(kspace.dtype).to(kspace.device)
        flat[:, r, c] += amplitude * peak * phase
    return flat.reshape(kspace.shape)


def ghost_kspace(kspace: torch.Tensor, period: int, intensity: float, offset: int) -> torch.Tensor:
    """Periodic modulation of phase-encode lines: ghosts along the phase-encode axis.

    Lines ``offset, offset + period, ...`` are scaled by ``1 - intensity`` (signal changing
    periodically during the acquisition, e.g. pulsation or breathing). The centre line
    ``W // 2`` keeps its value so the mean intensity survives. Modulating k-space with a comb of
    period ``n`` lines convolves the image with a comb of spacing ``W / n`` pixels: the image
    gains ``n - 1`` copies shifted by multiples of ``FOV / n`` along W, each with amplitude about
    ``intensity / n``. ``kspace`` is complex ``[..., H, W]``.
    """
    W = kspace.shape[-1]
    lines = torch.arange(offset % period, W, period)
    lines = lines[lines != W // 2]
    out = kspace.clone()
    out[..., lines] = out[..., lines] * (1.0 - intensity)
    return out


def bias_field(shape: tuple[int, int], coefficients: np.ndarray, order: int) -> torch.Tensor:
    """Smooth multiplicative field ``B = exp(sum_{1 <= i+j <= order} c_ij y^i x^j)``, ``[H, W]``.

    ``y`` and ``x`` run over ``[-1, 1]`` across the whole field of view (H and W).
    ``coefficients`` lists ``c_ij`` in the order ``(i, j)`` with ``i`` outer, ``j`` inner,
    ``1 <= i + j <= order``; there is no constant term, so the field varies intensity across
    the image without rescaling it globally. Polynomial log-field as in Van Leemput et al. 1999.
    Returns float64.
    """
    H, W = shape
    y = torch.linspace(-1, 1, H, dtype=torch.float64)[:, None]
    x = torch.linspace(-1, 1, W, dtype=torch.float64)[None, :]
    terms = _bias_terms(order)
    if len(coefficients) != len(terms):
        raise ValueError(f"order {order} needs {len(terms)} coefficients, got {len(coefficients)}")
    log_field = torch.zeros(H, W, dtype=torch.float64)
    for c, (i, j) in zip(coefficients, terms, strict=True):
        log_field = log_field + float(c) * y**i * x**j
    return torch.exp(log_field)


def _bias_terms(order: int) -> list[tuple[int, int]]:
    return [(i, j) for i in range(order + 1) for j in range(order + 1 - i) if i + j >= 1]


def apply_bias_field(kspace: torch.Tensor, field: torch.Tensor) -> torch.Tensor:
    """Multiply every coil image by the real ``field`` ``[H, W]`` and return to k-space.

    The receive chain sees ``B(r) rho(r) S_c(r)``: the inhomogeneity multiplies the object, hence
    each coil image alike. ``kspace`` is complex ``[..., H, W]``.
    """
    image = ifft2c(kspace) * field.to(kspace.device).to(kspace.real.dtype)
    return fft2c(image)


def image_maximum(kspace: torch.Tensor) -> float:
    """Maximum of the magnitude image: ``max RSS(ifft2c(k))`` (``max |ifft2c(k)|`` if 2D)."""
    image = ifft2c(kspace)
    magnitude = rss(image, dim=-3) if kspace.ndim >= 3 else image.abs()
    return float(magnitude.max())


def add_complex_noise(kspace: torch.Tensor, sigma: float, rng: np.random.Generator) -> torch.Tensor:
    """Add white complex Gaussian noise: real and imaginary parts each ``N(0, sigma^2)``.

    Because ``fft2c`` is unitary, white noise of std ``sigma`` in k-space is white noise of the
    same std in every coil image; on a single-coil magnitude image it is Rician with parameter
    ``sigma``, on an RSS image noncentral-chi. Noise is independent across coils.
    """
    real_dtype = np.float64 if kspace.dtype == torch.complex128 else np.float32
    draws = torch.from_numpy(rng.standard_normal((2, *kspace.shape), dtype=real_dtype))
    noise = torch.complex(draws[0], draws[1]) * sigma
    return kspace + noise.to(kspace.dtype).to(kspace.device)


def undersample(
    kspace: torch.Tensor, acceleration: int, center_fraction: float, seed: int | None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Retrospective equispaced undersampling along W (fastMRI ``EquiSpacedMaskFunc``).

    Keeps the ``round(W * center_fraction)`` centre columns plus every ``acceleration``-th
    column from a seeded random offset; the other columns become 0. Returns
    ``(masked k-space, mask [1.., 1, W] float32)``.
    """
    mask_func = EquiSpacedMaskFunc([center_fraction], [acceleration])
    masked, mask, _ = apply_mask(kspace, mask_func, seed=seed)
    return masked, mask


# --------------------------------------------------------------------------------------------
# Named shifts with severities
# --------------------------------------------------------------------------------------------


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


def _check(name: str, severity: int) -> None:
    if name not in SHIFTS:
        raise ValueError(f"unknown shift {name!r}; valid shifts: {', '.join(SHIFTS)}")
    valid = (0, *SEVERITIES)
    if isinstance(severity, bool) or not isinstance(severity, int | np.integer):
        raise ValueError(f"severity must be an int in {valid}, got {severity!r}")
    if severity not in valid:
        raise ValueError(f"severity must be one of {valid} (0 = identity), got {severity}")


def _check_kspace(kspace: torch.Tensor) -> None:
    if not torch.is_tensor(kspace) or not torch.is_complex(kspace):
        kind = kspace.dtype if torch.is_tensor(kspace) else type(kspace).__name__
        raise TypeError(f"shifts expect complex k-space [coils, H, W] or [H, W], got {kind}")
    if kspace.ndim not in (2, 3):
        raise ValueError(
            f"shifts expect k-space [coils, H, W] or [H, W], got shape {tuple(kspace.shape)}"
        )
