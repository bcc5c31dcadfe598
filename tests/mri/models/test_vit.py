"""Tests for mri.models.vit: the reconstruction ViT and its normalization kinds."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from mri.models import NORM_KINDS, NormViT, VisionTransformer, build_model


@pytest.mark.parametrize("norm", NORM_KINDS)
@pytest.mark.parametrize("size", [(32, 32), (33, 35), (21, 18)])
def test_output_shape_even_and_odd(norm, size):
    torch.manual_seed(0)
    model = build_model("vit", "tiny", norm=norm).eval()
    y = model(torch.randn(2, 1, *size))
    assert y.shape == (2, 1, *size) and torch.isfinite(y).all()


def _identity_vit(patch: tuple[int, int]) -> VisionTransformer:
    """A ViT with no blocks whose embedding and head are exact inverses: output == input."""
    ph, pw = patch
    d = ph * pw
    vit = VisionTransformer(1, 1, patch, embed_dim=d, depth=0, num_heads=1, avg_img_size=20,
                            norm="none")
    with torch.no_grad():
        vit.patch_embed.weight.copy_(torch.eye(d).reshape(d, 1, ph, pw))
        vit.patch_embed.bias.zero_()
        vit.pos_embed.zero_()
        vit.head.weight.copy_(torch.eye(d))
        vit.head.bias.zero_()
    return vit


@pytest.mark.parametrize("size", [(20, 20), (23, 17), (9, 31)])
def test_patches_are_reassembled_in_place_and_padding_is_removed(size):
    vit = _identity_vit((4, 5))
    x = torch.randn(2, 1, *size)
    torch.testing.assert_close(vit(x), x)


def test_pads_to_a_multiple_of_the_patch_size():
    vit = build_model("vit", "tiny").vit  # 4x4 patches
    seen = {}
    vit.patch_embed.register_forward_hook(lambda m, i, o: seen.update(inp=i[0].shape, out=o.shape))
    vit(torch.randn(1, 1, 33, 30))
    assert seen["inp"][-2:] == (36, 32) and seen["out"][-2:] == (9, 8)


@pytest.mark.parametrize("norm", NORM_KINDS)
def test_chosen_norm_is_the_one_inside(norm, norm_census, expected):
    model = build_model("vit", "tiny", norm=norm, depth=3)
    assert norm_census(model) == expected(norm, 2 * 3 + 1)
    if norm == "layer":  # the transformer's own LayerNorm over each token's channels
        assert sum(isinstance(m, nn.LayerNorm) for m in model.modules()) == 7


def test_token_norms_normalize_the_intended_axes():
    torch.manual_seed(0)
    tokens = torch.randn(2, 10, 32) * 4 + 3  # [B, N, D]
    layer = build_model("vit", "tiny", norm="layer").vit.blocks[0].norm1
    instance = build_model("vit", "tiny", norm="instance").vit.blocks[0].norm1
    y = layer(tokens)  # per token over channels
    torch.testing.assert_close(y.mean(-1), torch.zeros(2, 10), atol=1e-5, rtol=0)
    y = instance(tokens)  # per sample and channel over tokens
    torch.testing.assert_close(y.mean(1), torch.zeros(2, 32), atol=1e-5, rtol=0)


def test_published_small_vit_is_the_base_preset():
    vit = build_model("vit", "base").vit
    assert vit.patch_size == (10, 10) and vit.patch_embed.out_channels == 396
    assert len(vit.blocks) == 4 and vit.blocks[0].attn.num_heads == 9
    assert vit.blocks[0].mlp[0].out_features == 4 * 396
    assert vit.head.out_features == 100 and tuple(vit.pos_embed.shape) == (1, 396, 32, 32)


@pytest.mark.parametrize("norm", NORM_KINDS)
def test_gradients_reach_every_parameter(norm):
    torch.manual_seed(0)
    model = build_model("vit", "tiny", norm=norm).train()
    model(torch.randn(2, 1, 23, 30)).square().mean().backward()
    for name, p in model.named_parameters():
        assert p.grad is not None, name
        assert torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0, name


def test_norm_vit_undoes_the_standardization():
    torch.manual_seed(0)
    model = NormViT(patch_size=4, embed_dim=16, depth=1, num_heads=2, avg_img_size=16).eval()
    x = torch.rand(1, 1, 18, 14)
    torch.testing.assert_close(model(2.0 * x - 1.0), 2.0 * model(x) - 1.0, rtol=1e-4, atol=1e-5)
