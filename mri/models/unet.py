"""U-Net in fastMRI's layout, with a pluggable normalization, and its standardizing wrapper.

Layout (Ronneberger et al. 2015 as fastMRI's baseline builds it): ``num_pool_layers`` encoder
blocks, a bottleneck block and as many decoder blocks. A conv block is two rounds of
``3x3 conv (no bias) -> norm -> LeakyReLU(0.2) -> Dropout2d``; the encoder widths are
``chans * 2**i``; downsampling is 2x2 average pooling, upsampling a 2x2 stride-2 transposed
convolution followed by norm and LeakyReLU; skip connections concatenate; a 1x1 convolution
(with bias) maps to ``out_chans``. Odd sizes work: where an upsampled map is one pixel short of
its skip, it is reflect-padded on the right/bottom. The default normalization is instance norm
without affine parameters, so ``Unet(1, 1, 32, 4)`` has fastMRI's parameter count.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from mri.models.norm import Norm, as_norm, conv_bias


class ConvBlock(nn.Sequential):
    """Two rounds of 3x3 conv -> norm -> LeakyReLU(0.2) -> Dropout2d.

    ``[B, in_chans, H, W] -> [B, out_chans, H, W]``.
    """

    def __init__(
        self,
        in_chans: int,
        out_chans: int,
        drop_prob: float = 0.0,
        *,
        norm: Norm | str = "instance",
    ) -> None:
        layers: list[nn.Module] = []
        for c_in in (in_chans, out_chans):
            layers += [
                nn.Conv2d(c_in, out_chans, kernel_size=3, padding=1, bias=conv_bias(norm)),
                as_norm(norm).layer(out_chans),
                nn.LeakyReLU(negative_slope=0.2, inplace=True),
                nn.Dropout2d(drop_prob),
            ]
        super().__init__(*layers)


class UpBlock(nn.Sequential):
    """2x2 stride-2 transposed conv -> norm -> LeakyReLU(0.2).

    ``[B, in_chans, H, W] -> [B, out_chans, 2H, 2W]``.
    """

    def __init__(
        self,
        in_chans: int,
        out_chans: int,
        *,
        norm: Norm | str = "instance",
    ) -> None:
        super().__init__(
            nn.ConvTranspose2d(in_chans, out_chans, kernel_size=2, stride=2, bias=conv_bias(norm)),
            as_norm(norm).layer(out_chans),
            nn.LeakyReLU(negative_slope=0.2, inplace=True),
        )


class Unet(nn.Module):
    """fastMRI-layout U-Net: ``[B, in_chans, H, W] -> [B, out_chans, H, W]`` (real).

    Args:
        in_chans, out_chans: input and output channels.
        chans: channels of the first block (fastMRI's baseline: 32).
        num_pool_layers: number of poolings (fastMRI: 4); H and W must be at least
            ``2**num_pool_layers``.
        drop_prob: ``Dropout2d`` probability in every conv block.
        norm: a :class:`mri.models.norm.Norm` or a kind from ``NORM_KINDS`` (default
            ``instance``, as fastMRI).
    """

    def __init__(
        self,
        in_chans: int = 1,
        out_chans: int = 1,
        chans: int = 32,
        num_pool_layers: int = 4,
        drop_prob: float = 0.0,
        *,
        norm: Norm | str = "instance",
    ) -> None:
        super().__init__()
        if num_pool_layers < 1:
            raise ValueError(f"num_pool_layers must be >= 1, got {num_pool_layers}")
        self.in_chans, self.out_chans = in_chans, out_chans
        self.chans, self.num_pool_layers, self.drop_prob = chans, num_pool_layers, drop_prob
        self.norm = as_norm(norm).kind

        widths = [chans * 2**i for i in range(num_pool_layers)]
        self.down = nn.ModuleList()
        c_in = in_chans
        for w in widths:
            self.down.append(ConvBlock(c_in, w, drop_prob, norm=norm))
            c_in = w
        self.bottleneck = ConvBlock(c_in, 2 * c_in, drop_prob, norm=norm)

        self.up_transpose = nn.ModuleList()
        self.up_conv = nn.ModuleList()
        for w in reversed(widths):
            self.up_transpose.append(UpBlock(2 * w, w, norm=norm))
            self.up_conv.append(ConvBlock(2 * w, w, drop_prob, norm=norm))
        self.head = nn.Conv2d(chans, out_chans, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        for block in self.down:
            x = block(x)
            skips.append(x)
            x = F.avg_pool2d(x, kernel_size=2, stride=2)
        x = self.bottleneck(x)
        for up, conv in zip(self.up_transpose, self.up_conv, strict=True):
            skip = skips.pop()
            x = _match_size(up(x), skip)
            x = conv(torch.cat([x, skip], dim=1))
        return self.head(x)


def _match_size(x: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    """Reflect-pad ``x`` on the right/bottom to ``ref``'s spatial size.

    Pooling floors odd sizes, so an upsampled map is at most one pixel short per dimension.
    """
    pad_w = ref.shape[-1] - x.shape[-1]
    pad_h = ref.shape[-2] - x.shape[-2]
    if pad_w or pad_h:
        x = F.pad(x, [0, pad_w, 0, pad_h], mode="reflect")
    return x


class NormUnet(nn.Module):
    """U-Net on a per-image standardized input: ``[B, C, H, W] -> [B, out_chans, H, W]``.

    Each sample is standardized with its own mean and standard deviation over all channels and
    pixels, ``x' = (x - mu) / sigma``; the U-Net output is mapped back with ``y * sigma + mu``
    (the wrapper used by Lin & Heckel 2024 for image-domain reconstruction: input the
    zero-filled RSS image, output the reconstruction at the input's scale). ``sigma`` is
    clamped at ``eps`` so a constant image does not divide by zero. Keyword arguments go to
    ``Unet``.
    """

    def __init__(self, in_chans: int = 1, out_chans: int = 1, *, eps: float = 1e-12, **kwargs):
        super().__init__()
        self.unet = Unet(in_chans, out_chans, **kwargs)
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x, mean, std = standardize(x, self.eps)
        return self.unet(x) * std + mean


def standardize(
    x: torch.Tensor, eps: float = 1e-12
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per-sample standardization of ``x [B, ...]`` over all non-batch dims.

    Returns ``((x - mean) / std, mean, std)`` with ``mean`` and ``std`` (unbiased, clamped at
    ``eps``) shaped ``[B, 1, ..., 1]`` for broadcasting.
    """
    flat = x.reshape(x.shape[0], -1)
    shape = (x.shape[0],) + (1,) * (x.dim() - 1)
    mean = flat.mean(dim=1).reshape(shape)
    std = flat.std(dim=1).clamp_min(eps).reshape(shape)
    return (x - mean) / std, mean, std


def centred_pad(n: int, multiple: int) -> tuple[int, int]:
    """(before, after) padding that brings a size ``n`` to the next multiple of ``multiple``,
    split as evenly as possible (the extra pixel after)."""
    total = -n % multiple
    return total // 2, total - total // 2
