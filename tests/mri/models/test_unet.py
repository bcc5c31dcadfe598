"""Tests for mri.models.unet: fastMRI's U-Net layout with a pluggable normalization."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from mri.models import NORM_KINDS, NormUnet, Unet, build_model, num_parameters

# fastMRI's Unet(in_chans=1, out_chans=1, chans=32, num_pool_layers=4), counted by hand from
# its architecture: conv blocks 9*(c_in*c_out + c_out**2) (no bias, InstanceNorm2d without
# affine), transposed convs 4*c_in*c_out, and the final 1x1 conv 32 + 1:
#   encoder 9*(32 + 32**2 + 32*64 + 64**2 + 64*128 + 128**2 + 128*256 + 256**2) = 1_170_720
#   bottleneck 9*(256*512 + 512**2) = 3_538_944
#   decoder transposes 4*(512*256 + 256*128 + 128*64 + 64*32) = 696_320
#   decoder blocks 9*(512*256 + 256**2 + 256*128 + 128**2 + 128*64 + 64**2 + 64*32 + 32**2)
#     = 2_350_080, head 33.
FASTMRI_UNET_32_4_PARAMS = 7_756_097


def test_parameter_count_matches_fastmri_published_size():
    assert num_parameters(Unet(1, 1, chans=32, num_pool_layers=4)) == FASTMRI_UNET_32_4_PARAMS
    assert num_parameters(build_model("unet", "base")) == FASTMRI_UNET_32_4_PARAMS


@pytest.mark.parametrize("norm", NORM_KINDS)
@pytest.mark.parametrize("size", [(32, 32), (33, 35), (37, 20)])
def test_output_shape_even_and_odd(norm, size):
    torch.manual_seed(0)
    model = build_model("unet", "tiny", norm=norm).eval()
    x = torch.randn(2, 1, *size)
    y = model(x)
    assert y.shape == (2, 1, *size) and torch.isfinite(y).all()


def test_odd_size_with_four_pools():
    y = Unet(1, 2, chans=4, num_pool_layers=4)(torch.randn(1, 1, 41, 33))
    assert y.shape == (1, 2, 41, 33)


@pytest.mark.parametrize("norm", NORM_KINDS)
def test_chosen_norm_is_the_one_inside(norm, norm_census, expected):
    model = Unet(1, 1, chans=8, num_pool_layers=2, norm=norm)
    # 2 per encoder block (2) + 2 bottleneck + per decoder level 1 (transpose) + 2 (block)
    assert norm_census(model) == expected(norm, 2 * 2 + 2 + 2 * 3)
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d | nn.ConvTranspose2d)]
    # Bias only where no normalization follows (and always on the 1x1 head).
    assert all((c.bias is not None) == (norm == "none") for c in convs[:-1])
    assert convs[-1].bias is not None and convs[-1].kernel_size == (1, 1)


def test_fastmri_layout():
    model = Unet(1, 1, chans=32, num_pool_layers=4)
    assert [b[0].out_channels for b in model.down] == [32, 64, 128, 256]
    assert model.bottleneck[0].out_channels == 512
    assert [u[0].out_channels for u in model.up_transpose] == [256, 128, 64, 32]
    acts = [m for m in model.modules() if isinstance(m, nn.LeakyReLU)]
    assert acts and all(a.negative_slope == 0.2 for a in acts)
    assert len(acts) == 2 * 4 + 2 + 3 * 4
    assert sum(isinstance(m, nn.Dropout2d) for m in model.modules()) == 2 * 4 + 2 + 2 * 4
    up = model.up_transpose[0][0]
    assert isinstance(up, nn.ConvTranspose2d) and up.kernel_size == (2, 2) and up.stride == (2, 2)


@pytest.mark.parametrize("norm", NORM_KINDS)
def test_gradients_reach_every_parameter(norm):
    torch.manual_seed(0)
    model = build_model("unet", "tiny", norm=norm, drop_prob=0.1).train()
    model(torch.randn(2, 1, 24, 27)).square().mean().backward()
    for name, p in model.named_parameters():
        assert p.grad is not None, name
        assert torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0, name


def test_norm_unet_undoes_the_standardization():
    """Standardizing the input makes the wrapper equivariant to intensity scale and offset."""
    torch.manual_seed(0)
    model = NormUnet(chans=4, num_pool_layers=2).eval()
    x = torch.rand(2, 1, 20, 22)
    y = model(x)
    torch.testing.assert_close(model(3.0 * x + 0.5), 3.0 * y + 0.5, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(model(1e-4 * x), 1e-4 * y, rtol=1e-4, atol=1e-9)
    assert torch.isfinite(model(torch.ones(1, 1, 16, 16))).all()  # constant image: std clamped
