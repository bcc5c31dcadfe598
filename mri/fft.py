"""Centered, orthonormal 2D Fourier transforms with fastMRI's convention.

k-space is stored with its DC term in the middle of the array, so every transform is
``ifftshift -> (i)fft2(norm="ortho") -> fftshift`` over the last two dimensions. The
orthonormal scaling makes the transform unitary: ``||fft2c(x)|| == ||x||`` (Parseval).
"""

from __future__ import annotations

import torch

_DIMS = (-2, -1)


def fft2c(image: torch.Tensor) -> torch.Tensor:
    """Image ``[..., H, W]`` (complex) -> centered k-space ``[..., H, W]`` (complex)."""
    _require_complex(image, "fft2c")
    shifted = torch.fft.ifftshift(image, dim=_DIMS)
    return torch.fft.fftshift(torch.fft.fft2(shifted, dim=_DIMS, norm="ortho"), dim=_DIMS)


def ifft2c(kspace: torch.Tensor) -> torch.Tensor:
    """Centered k-space ``[..., H, W]`` (complex) -> image ``[..., H, W]`` (complex)."""
    _require_complex(kspace, "ifft2c")
    shifted = torch.fft.ifftshift(kspace, dim=_DIMS)
    return torch.fft.fftshift(torch.fft.ifft2(shifted, dim=_DIMS, norm="ortho"), dim=_DIMS)


def ifftc(kspace: torch.Tensor, dim: int) -> torch.Tensor:
    """Centered orthonormal inverse FFT along one dimension ``dim`` (complex in and out).

    ``ifft2c`` is separable: ``ifft2c(k) == ifftc(ifftc(k, -2), -1)``. Because an
    undersampling mask selects whole phase-encode columns (constant along ``-2``), the
    transform along ``-2`` commutes with masking and can be done once per slice, before any
    mask is drawn; each fresh mask then costs only the transform along ``-1``.
    """
    _require_complex(kspace, "ifftc")
    shifted = torch.fft.ifftshift(kspace, dim=dim)
    return torch.fft.fftshift(torch.fft.ifft(shifted, dim=dim, norm="ortho"), dim=dim)


def _require_complex(x: torch.Tensor, name: str) -> None:
    if not torch.is_tensor(x) or not torch.is_complex(x):
        kind = x.dtype if torch.is_tensor(x) else type(x).__name__
        raise TypeError(f"{name} expects a complex torch tensor [..., H, W], got {kind}")
