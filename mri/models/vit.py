"""Vision transformer for image-domain reconstruction (as used by Lin & Heckel 2024).

``VisionTransformer``: ``[B, in_chans, H, W] -> [B, out_chans, H, W]`` (real).

1. The image is zero-padded (centred) to a multiple of the patch size ``(ph, pw)``.
2. Patch embedding: a ``ph x pw`` convolution with stride ``(ph, pw)`` to ``embed_dim``
   channels, one token per patch, grid ``(H' / ph, W' / pw)``.
3. A learned positional embedding defined on the grid of an ``avg_img_size`` image is
   resized bilinearly to the actual grid and added (so any image size works).
4. ``depth`` pre-norm transformer blocks: ``x + Attn(Norm(x))`` then ``x + MLP(Norm(x))`` with
   multi-head self-attention (``num_heads``, no qkv bias) and a GELU MLP of width
   ``mlp_ratio * embed_dim``; a final norm.
5. A linear head maps each token back to its ``out_chans x ph x pw`` patch; the patches are
   reassembled and the padding cropped.

Normalization (``norm``) applies to the token features ``[B, N, D]`` (N tokens, D channels):

- ``layer`` (default): ``nn.LayerNorm(D)``, per token over its channels -- the transformer's
  own layer norm. This is not the convolutional ``layer`` of ``mri.models.norm``
  (``GroupNorm(1)`` over channels and space), which across tokens would mix every patch.
- ``batch``, ``group``, ``instance``: the layers of ``make_norm`` applied with tokens as the
  spatial axis (``[B, D, N, 1]``): batch norm per channel over batch and tokens; group norm per
  sample over channel groups and tokens; instance norm per sample and channel over tokens
  (needs more than one token).
- ``none``: identity.

The patch embedding and head are linear maps and carry no normalization for any kind.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from mri.models.norm import Norm, as_norm
from mri.models.unet import centred_pad, standardize


class TokenNorm(nn.Module):
    """Applies a channel normalization ``[B, D, H, W]`` to tokens ``[B, N, D]``."""

    def __init__(self, norm: nn.Module) -> None:
        super().__init__()
        self.norm = norm

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(x.transpose(1, 2).unsqueeze(-1)).squeeze(-1).transpose(1, 2)


def make_token_norm(norm: Norm | str, dim: int) -> nn.Module:
    """Normalization ``norm`` for tokens ``[B, N, dim]`` (see the module docstring)."""
    norm = as_norm(norm)
    if norm.kind == "layer":
        return nn.LayerNorm(dim)
    if norm.kind == "none":
        return nn.Identity()
    return TokenNorm(norm.layer(dim))


class Attention(nn.Module):
    """Multi-head self-attention: ``[B, N, D] -> [B, N, D]``,
    ``softmax(Q K^T / sqrt(D / heads)) V`` per head, then a linear projection."""

    def __init__(self, dim: int, num_heads: int, *, qkv_bias: bool = False, drop: float = 0.0):
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"embed_dim {dim} is not divisible by num_heads {num_heads}")
        self.num_heads = num_heads
        self.qkv = nn.Linear(dim, 3 * dim, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)
        self.drop = drop

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, d = x.shape
        qkv = self.qkv(x).reshape(b, n, 3, self.num_heads, d // self.num_heads)
        q, k, v = qkv.permute(2, 0, 3, 1, 4)  # each [B, heads, N, D / heads]
        out = F.scaled_dot_product_attention(q, k, v, dropout_p=self.drop if self.training else 0)
        return self.proj(out.transpose(1, 2).reshape(b, n, d))


class Block(nn.Module):
    """Pre-norm transformer block: ``x + Attn(N1(x))``, then ``x + MLP(N2(x))``."""

    def __init__(
        self,
        dim: int,
        num_heads: int,
        mlp_ratio: float = 4.0,
        *,
        qkv_bias: bool = False,
        drop: float = 0.0,
        norm: Norm | str = "layer",
    ) -> None:
        super().__init__()
        hidden = int(dim * mlp_ratio)
        self.norm1 = make_token_norm(norm, dim)
        self.attn = Attention(dim, num_heads, qkv_bias=qkv_bias, drop=drop)
        self.norm2 = make_token_norm(norm, dim)
        self.mlp = nn.Sequential(
            nn.Linear(dim, hidden), nn.GELU(), nn.Dropout(drop), nn.Linear(hidden, dim),
            nn.Dropout(drop),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class VisionTransformer(nn.Module):
    """ViT for reconstruction (see the module docstring).

    Args:
        in_chans, out_chans: image channels in and out.
        patch_size: int or ``(ph, pw)`` (Lin & Heckel: 10).
        embed_dim, depth, num_heads, mlp_ratio: transformer size (their small ViT: 396, 4, 9, 4).
        avg_img_size: image size the positional-embedding grid is defined for (320).
        qkv_bias, drop: attention bias and dropout probability.
        norm: token normalization, a :class:`mri.models.norm.Norm` or a kind (default
            ``layer``).
    """

    def __init__(
        self,
        in_chans: int = 1,
        out_chans: int = 1,
        patch_size: int | tuple[int, int] = 10,
        embed_dim: int = 396,
        depth: int = 4,
        num_heads: int = 9,
        mlp_ratio: float = 4.0,
        avg_img_size: int | tuple[int, int] = 320,
        *,
        qkv_bias: bool = False,
        drop: float = 0.0,
        norm: Norm | str = "layer",
    ) -> None:
        super().__init__()
        self.patch_size = _pair(patch_size)
        self.out_chans, self.norm = out_chans, as_norm(norm).kind
        ph, pw = self.patch_size
        img_h, img_w = _pair(avg_img_size)
        self.patch_embed = nn.Conv2d(in_chans, embed_dim, kernel_size=(ph, pw), stride=(ph, pw))
        grid = (max(img_h // ph, 1), max(img_w // pw, 1))
        self.pos_embed = nn.Parameter(torch.zeros(1, embed_dim, *grid))
        self.pos_drop = nn.Dropout(drop)
        self.blocks = nn.ModuleList(
            Block(
                embed_dim, num_heads, mlp_ratio, qkv_bias=qkv_bias, drop=drop,
                norm=norm,
            )
            for _ in range(depth)
        )
        self.final_norm = make_token_norm(norm, embed_dim)
        self.head = nn.Linear(embed_dim, out_chans * ph * pw)
        self._init_weights()

    def _init_weights(self) -> None:
        # ViT convention (timm, and the authors' code): truncated normal(0.02) for linear
        # weights and the positional embedding, zero biases, unit LayerNorm.
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.trunc_normal_(m.weight, std=0.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.LayerNorm):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, _, h, w = x.shape
        ph, pw = self.patch_size
        pad_h, pad_w = centred_pad(h, ph), centred_pad(w, pw)
        x = F.pad(x, [*pad_w, *pad_h])

        tokens = self.patch_embed(x)  # [B, D, gh, gw]
        gh, gw = tokens.shape[-2:]
        pos = F.interpolate(self.pos_embed, size=(gh, gw), mode="bilinear", align_corners=False)
        tokens = self.pos_drop((tokens + pos).flatten(2).transpose(1, 2))  # [B, N, D]
        for block in self.blocks:
            tokens = block(tokens)
        patches = self.head(self.final_norm(tokens))  # [B, N, out * ph * pw]

        out = patches.reshape(b, gh, gw, self.out_chans, ph, pw)
        out = out.permute(0, 3, 1, 4, 2, 5).reshape(b, self.out_chans, gh * ph, gw * pw)
        return out[..., pad_h[0] : pad_h[0] + h, pad_w[0] : pad_w[0] + w]


class NormViT(nn.Module):
    """``VisionTransformer`` on a per-image standardized input, output mapped back to the input's
    scale (``y * sigma + mu``), as ``NormUnet``: ``[B, C, H, W] -> [B, out_chans, H, W]``.
    Keyword arguments go to ``VisionTransformer``."""

    def __init__(self, in_chans: int = 1, out_chans: int = 1, *, eps: float = 1e-12, **kwargs):
        super().__init__()
        self.vit = VisionTransformer(in_chans, out_chans, **kwargs)
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x, mean, std = standardize(x, self.eps)
        return self.vit(x) * std + mean


def _pair(v: int | tuple[int, int]) -> tuple[int, int]:
    return (int(v), int(v)) if isinstance(v, int) else (int(v[0]), int(v[1]))
