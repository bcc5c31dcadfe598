"""Physics building blocks of the acquisition shifts: deterministic k-space operations.

Every function takes its positions, phases, offsets and coefficients as arguments
(:mod:`mri.shifts.apply` draws them from a seed); the only randomness is ``undersample``'s
mask offset, fixed by its ``seed`` argument. All act on centered complex
k-space (``mri.fft.fft2c``) ``[..., H, W]``, H the readout and W the phase-encode axis:
Fourier-shift translation and shear rotation (rigid motion during the scan), k-space spikes,
periodic line modulation (ghosting), a polynomial log bias field, white complex noise, and
equispaced retrospective undersampling, plus ``image_maximum`` which scales the noise.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from mri.coils import rss
from mri.fft import fft2c, ifft2c
from mri.masks import EquiSpacedMaskFunc, apply_mask


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
