"""End-to-end variational network (Sriram et al. 2020) on native complex k-space.

Shapes: multi-coil k-space ``[B, coils, H, W]`` complex64 (H = readout, W = phase encode),
masks ``[B, 1, 1, W]`` or ``[1, 1, W]`` (1 = sampled column), coil sensitivities ``[B, coils,
H, W]`` complex. ``E`` (expand) maps an image to coil k-space, ``E(x) = F(S * x)``; ``R``
(reduce) is its adjoint, ``R(k) = sum_c conj(S_c) * F^-1(k_c)``, with F the centered
orthonormal FFT of ``mri.fft``.

- ``SensitivityModel``: the sampled low-frequency (ACS) columns around the k-space centre are
  kept, transformed to coil images, refined coil by coil with a U-Net on (real, imag) channels,
  and divided by their root-sum-of-squares over coils, so ``sum_c |S_c|^2 = 1``.
- ``VarNetBlock`` (one cascade): ``k <- k - w * M * (k - k0) - E(U(R(k)))`` with the learned
  soft data-consistency weight ``w`` (initialised to 1), the mask ``M``, the measured k-space
  ``k0`` and the regulariser ``U``, a U-Net in image space.
- ``VarNet``: sensitivity estimation, then ``num_cascades`` blocks starting from ``k = k0``;
  the output is the RSS over coils of the final k-space's coil images, ``[B, H, W]``, over the
  full field of view (the caller crops to the reconstruction matrix).

The normalization kind reaches every U-Net inside (sensitivity net and all cascades).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from mri.coils import rss
from mri.fft import fft2c, ifft2c
from mri.models.norm import Norm, as_norm
from mri.models.unet import Unet, centred_pad


class ComplexNormUnet(nn.Module):
    """U-Net on complex images ``[B, c, H, W] -> [B, c_out, H, W]`` (complex).

    The complex channels become ``2c`` real channels (all real parts, then all imaginary parts).
    Each sample's real parts and imaginary parts are standardized separately with their own
    mean and (unbiased) standard deviation over channels and pixels, as fastMRI's VarNet does;
    the image is zero-padded (centred) to a multiple of ``2**num_pools`` so every pooling is
    exact, and the U-Net output is cropped back and un-standardized.
    """

    def __init__(
        self,
        chans: int,
        num_pools: int,
        in_chans: int = 1,
        out_chans: int = 1,
        drop_prob: float = 0.0,
        *,
        norm: Norm | str = "instance",
        eps: float = 1e-12,
    ) -> None:
        super().__init__()
        self.unet = Unet(
            2 * in_chans, 2 * out_chans, chans, num_pools, drop_prob,
            norm=norm,
        )
        self.multiple = 2**num_pools
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, _, h, w = x.shape
        real = torch.cat([x.real, x.imag], dim=1)
        parts = real.reshape(b, 2, -1)
        mean = parts.mean(dim=2).reshape(b, 2, 1, 1, 1)
        std = parts.std(dim=2).clamp_min(self.eps).reshape(b, 2, 1, 1, 1)
        real = ((real.reshape(b, 2, -1, h, w) - mean) / std).reshape(b, -1, h, w)

        pad_h, pad_w = centred_pad(h, self.multiple), centred_pad(w, self.multiple)
        out = self.unet(F.pad(real, [*pad_w, *pad_h]))
        out = out[..., pad_h[0] : pad_h[0] + h, pad_w[0] : pad_w[0] + w]

        out = out.reshape(b, 2, -1, h, w) * std + mean
        return torch.complex(out[:, 0], out[:, 1])


class SensitivityModel(nn.Module):
    """Coil sensitivities from the ACS centre of k-space.

    ``forward(masked_kspace [B, C, H, W] complex, center_mask [B or 1, 1, 1, W] bool)
    -> maps [B, C, H, W] complex`` with ``sum_c |S_c|^2 = 1`` at every pixel (RSS clamped at
    ``eps`` so an empty pixel gives zeros, not NaN). The U-Net sees each coil as its own
    sample (coils folded into the batch).
    """

    def __init__(
        self,
        chans: int = 8,
        num_pools: int = 4,
        drop_prob: float = 0.0,
        *,
        norm: Norm | str = "instance",
        eps: float = 1e-12,
    ) -> None:
        super().__init__()
        self.norm_unet = ComplexNormUnet(
            chans, num_pools, 1, 1, drop_prob, norm=norm
        )
        self.eps = eps

    def forward(self, masked_kspace: torch.Tensor, center_mask: torch.Tensor) -> torch.Tensor:
        b, c, h, w = masked_kspace.shape
        images = ifft2c(masked_kspace * center_mask)
        maps = self.norm_unet(images.reshape(b * c, 1, h, w)).reshape(b, c, h, w)
        return maps / rss(maps, dim=1).unsqueeze(1).clamp_min(self.eps)


class VarNetBlock(nn.Module):
    """One cascade: ``k - w * M * (k - k0) - E(U(R(k)))``.

    ``forward(current [B, C, H, W], ref [B, C, H, W], mask [B or 1, 1, 1, W], sens [B, C, H, W])``
    (all complex but the mask) ``-> [B, C, H, W]``. ``regularizer`` maps a complex image
    ``[B, 1, H, W]`` to one of the same shape.
    """

    def __init__(self, regularizer: nn.Module) -> None:
        super().__init__()
        self.regularizer = regularizer
        self.dc_weight = nn.Parameter(torch.ones(1))

    def forward(
        self,
        current: torch.Tensor,
        ref: torch.Tensor,
        mask: torch.Tensor,
        sens: torch.Tensor,
    ) -> torch.Tensor:
        soft_dc = (current - ref) * mask * self.dc_weight
        reduced = (ifft2c(current) * sens.conj()).sum(dim=1, keepdim=True)
        expanded = fft2c(self.regularizer(reduced) * sens)
        return current - soft_dc - expanded


class VarNet(nn.Module):
    """End-to-end VarNet: ``forward(masked_kspace, mask, num_low_frequencies=None) -> [B, H, W]``.

    Args:
        num_cascades: number of ``VarNetBlock`` (fastMRI: 12).
        sens_chans, sens_pools: U-Net size of the sensitivity model (fastMRI: 8, 4).
        chans, pools: U-Net size of every cascade (fastMRI: 18, 4).
        drop_prob: dropout in every U-Net.
        norm: normalization of every U-Net, a :class:`mri.models.norm.Norm` or a kind
            (default ``instance``, as fastMRI).

    Forward:
        masked_kspace: ``[B, C, H, W]`` complex, zeros where not sampled.
        mask: ``[B, 1, 1, W]`` or ``[1, 1, W]`` (float or bool; > 0 means sampled).
        num_low_frequencies: number of fully sampled centre columns (ACS) per sample: an int, a
            tensor ``[B]`` (or scalar), or ``None``/0 to read it from the mask as the contiguous
            sampled run around column ``W // 2`` (``2 * min(left run, right run)``, at least 1).
            The ACS block is columns ``[p, p + n)`` with ``p = (W - n + 1) // 2``, the placement
            of ``mri.masks``.
    """

    def __init__(
        self,
        num_cascades: int = 12,
        sens_chans: int = 8,
        sens_pools: int = 4,
        chans: int = 18,
        pools: int = 4,
        drop_prob: float = 0.0,
        *,
        norm: Norm | str = "instance",
    ) -> None:
        super().__init__()
        self.norm = as_norm(norm).kind
        self.sens_net = SensitivityModel(sens_chans, sens_pools, drop_prob, norm=norm)
        self.cascades = nn.ModuleList(
            VarNetBlock(ComplexNormUnet(chans, pools, 1, 1, drop_prob, norm=norm))
            for _ in range(num_cascades)
        )

    def forward(
        self,
        masked_kspace: torch.Tensor,
        mask: torch.Tensor,
        num_low_frequencies: int | torch.Tensor | None = None,
    ) -> torch.Tensor:
        if not torch.is_complex(masked_kspace) or masked_kspace.dim() != 4:
            raise ValueError(
                "VarNet expects complex masked k-space [B, coils, H, W], got "
                f"{masked_kspace.dtype} {tuple(masked_kspace.shape)}"
            )
        mask = _as_column_mask(mask, masked_kspace.shape[-1])
        center = acs_mask(mask, num_low_frequencies, masked_kspace.shape[0])
        sens = self.sens_net(masked_kspace, center)
        kspace = masked_kspace
        for cascade in self.cascades:
            kspace = cascade(kspace, masked_kspace, mask, sens)
        return rss(ifft2c(kspace), dim=1)


def _as_column_mask(mask: torch.Tensor, width: int) -> torch.Tensor:
    """``[B, 1, 1, W]`` / ``[1, 1, W]`` mask -> bool ``[B or 1, 1, 1, W]``."""
    if mask.dim() == 3:
        mask = mask.unsqueeze(0)
    if mask.dim() != 4 or mask.shape[1] != 1 or mask.shape[2] != 1 or mask.shape[3] != width:
        raise ValueError(
            f"mask must be [B, 1, 1, {width}] or [1, 1, {width}] (columns along W), "
            f"got {tuple(mask.shape)}"
        )
    return mask > 0 if mask.dtype != torch.bool else mask


def acs_mask(
    mask: torch.Tensor,
    num_low_frequencies: int | torch.Tensor | None,
    batch_size: int,
) -> torch.Tensor:
    """Bool ``[B, 1, 1, W]`` selecting each sample's ``num_low_frequencies`` centre columns.

    ``mask`` is a bool column mask ``[B or 1, 1, 1, W]``; see ``VarNet`` for the conventions.
    """
    width = mask.shape[-1]
    cols = mask.reshape(mask.shape[0], width).expand(batch_size, width)
    if num_low_frequencies is None or (
        not torch.is_tensor(num_low_frequencies) and num_low_frequencies == 0
    ):
        num_low = _centre_run(cols)
    else:
        num_low = torch.as_tensor(num_low_frequencies, device=mask.device).reshape(-1)
        num_low = num_low.to(torch.long).expand(batch_size)
    start = (width - num_low + 1) // 2
    idx = torch.arange(width, device=mask.device)
    center = (idx >= start[:, None]) & (idx < (start + num_low)[:, None])
    return center.reshape(batch_size, 1, 1, width)


def _centre_run(cols: torch.Tensor) -> torch.Tensor:
    """Per row of a bool ``[B, W]`` mask, ``max(2 * min(left, right), 1)`` where ``left`` counts
    the sampled columns directly left of ``W // 2`` and ``right`` those from ``W // 2`` on."""
    centre = cols.shape[-1] // 2
    left = torch.cumprod(cols[:, :centre].flip(1).long(), dim=1).sum(dim=1)
    right = torch.cumprod(cols[:, centre:].long(), dim=1).sum(dim=1)
    return (2 * torch.minimum(left, right)).clamp_min(1)
