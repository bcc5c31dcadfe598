"""Tests for mri.models.varnet: end-to-end VarNet on native complex k-space."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from mri.coils import rss
from mri.fft import fft2c, ifft2c
from mri.models import NORM_KINDS, ComplexNormUnet, VarNet, VarNetBlock, build_model
from mri.models.varnet import acs_mask


class Zero(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.zeros_like(x)


class Scale(nn.Module):
    def __init__(self, factor: complex) -> None:
        super().__init__()
        self.factor = factor

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.factor * x


def kspace_and_mask(b=2, coils=4, h=32, w=30, seed=0):
    """Random multi-coil k-space and an equispaced mask (every 3rd column + 4 ACS columns)."""
    g = torch.Generator().manual_seed(seed)
    image = torch.randn(b, coils, h, w, generator=g) + 1j * torch.randn(b, coils, h, w, generator=g)
    kspace = fft2c(image.to(torch.complex64))
    mask = torch.zeros(1, 1, w)
    mask[..., ::3] = 1
    mask[..., w // 2 - 2 : w // 2 + 2] = 1
    return kspace, mask


@pytest.mark.parametrize("norm", NORM_KINDS)
@pytest.mark.parametrize("size", [(32, 30), (33, 27)])
def test_output_is_rss_image_of_full_fov(norm, size):
    torch.manual_seed(0)
    kspace, mask = kspace_and_mask(h=size[0], w=size[1])
    model = build_model("varnet", "tiny", norm=norm).eval()
    out = model(kspace * mask, mask, 4)
    assert out.shape == (2, *size) and out.dtype == torch.float32
    assert torch.isfinite(out).all() and (out >= 0).all()


def test_accepts_batched_mask_and_tensor_acs_count():
    kspace, mask = kspace_and_mask()
    model = build_model("varnet", "tiny").eval()
    a = model(kspace * mask, mask, 4)
    b = model(kspace * mask, mask.unsqueeze(0).expand(2, 1, 1, -1), torch.tensor([4, 4]))
    c = model(kspace * mask, mask)  # ACS count read from the mask
    torch.testing.assert_close(a, b)
    torch.testing.assert_close(a, c)


@pytest.mark.parametrize("norm", NORM_KINDS)
def test_chosen_norm_reaches_every_unet(norm, norm_census, expected):
    model = build_model("varnet", "tiny", norm=norm)  # 2 cascades + sensitivity net, 2 pools
    unets = [m for m in model.modules() if isinstance(m, ComplexNormUnet)]
    assert len(unets) == 3
    per_unet = 2 * 2 + 2 + 2 * 3
    for unet in unets:
        assert norm_census(unet) == expected(norm, per_unet)
    assert norm_census(model) == expected(norm, 3 * per_unet)


def test_full_mask_and_zero_regulariser_return_the_input_rss():
    torch.manual_seed(0)
    kspace, _ = kspace_and_mask()
    full = torch.ones(1, 1, kspace.shape[-1])
    model = build_model("varnet", "tiny").eval()
    for cascade in model.cascades:
        cascade.regularizer = Zero()
        nn.init.constant_(cascade.dc_weight, 0.7)
    out = model(kspace, full, 8)
    torch.testing.assert_close(out, rss(ifft2c(kspace), dim=1), rtol=1e-5, atol=1e-6)


def test_zero_regulariser_keeps_measured_data_when_undersampled():
    kspace, mask = kspace_and_mask()
    model = VarNet(num_cascades=3, sens_chans=4, sens_pools=2, chans=4, pools=2).eval()
    for cascade in model.cascades:
        cascade.regularizer = Zero()
    out = model(kspace * mask, mask, 4)
    torch.testing.assert_close(out, rss(ifft2c(kspace * mask), dim=1), rtol=1e-5, atol=1e-6)


def test_cascade_is_soft_dc_plus_regulariser_in_image_space():
    """k - w * M * (k - k0) - F(S * U(sum_c conj(S_c) F^-1(k_c))), checked term by term."""
    kspace, mask = kspace_and_mask(b=1)
    k0 = kspace * mask
    k = k0 + 0.3 * fft2c(torch.randn_like(kspace))
    sens = torch.randn_like(kspace)
    sens = sens / rss(sens, dim=1).unsqueeze(1)
    block = VarNetBlock(Scale(0.5 - 0.25j))
    nn.init.constant_(block.dc_weight, 0.8)
    mask4 = mask.unsqueeze(0) > 0
    out = block(k, k0, mask4, sens)

    reduced = (ifft2c(k) * sens.conj()).sum(1, keepdim=True)
    expected = k - 0.8 * mask * (k - k0) - fft2c(sens * (0.5 - 0.25j) * reduced)
    torch.testing.assert_close(out, expected, rtol=1e-5, atol=1e-5)


def test_sensitivity_maps_have_unit_rss_and_use_only_the_acs():
    torch.manual_seed(0)
    kspace, mask = kspace_and_mask()
    model = build_model("varnet", "tiny").eval()
    center = acs_mask(mask.unsqueeze(0) > 0, 4, 2)
    sens = model.sens_net(kspace * mask, center)
    assert sens.shape == kspace.shape and sens.is_complex()
    torch.testing.assert_close(rss(sens, dim=1), torch.ones(2, 32, 30), rtol=1e-4, atol=1e-4)
    # Changing k-space outside the ACS columns leaves the maps unchanged.
    other = kspace.clone()
    other[..., : 15 - 2] = 0
    torch.testing.assert_close(model.sens_net(other * mask, center), sens)


def test_acs_mask_columns():
    mask = torch.zeros(1, 1, 1, 20, dtype=torch.bool)
    mask[..., 7:13] = True  # 6 centre columns around 10
    mask[..., ::4] = True
    cols = lambda m: torch.nonzero(m[0, 0, 0]).flatten().tolist()  # noqa: E731
    assert cols(acs_mask(mask, None, 1)) == list(range(7, 13))
    assert cols(acs_mask(mask, 4, 1)) == list(range(8, 12))
    # Odd count: start (W - n + 1) // 2, as the mask functions place the centre block.
    assert cols(acs_mask(mask, 5, 1)) == list(range(8, 13))
    per_sample = acs_mask(mask, torch.tensor([2, 6]), 2)
    assert cols(per_sample[:1]) == [9, 10] and cols(per_sample[1:]) == list(range(7, 13))
    full = torch.ones(1, 1, 1, 20, dtype=torch.bool)
    assert cols(acs_mask(full, None, 1)) == list(range(20))


@pytest.mark.parametrize("norm", NORM_KINDS)
def test_gradients_reach_every_parameter(norm):
    torch.manual_seed(0)
    kspace, mask = kspace_and_mask()
    model = build_model("varnet", "tiny", norm=norm).train()
    model(kspace * mask, mask, 4).mean().backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
        # The first cascade starts at k = k0, where the data-consistency term is exactly zero,
        # so its weight's gradient is zero (in fastMRI too); every other parameter moves.
        if name != "cascades.0.dc_weight":
            assert p.grad.abs().sum() > 0, name


def test_rejects_real_kspace_and_bad_masks():
    kspace, mask = kspace_and_mask()
    model = build_model("varnet", "tiny")
    with pytest.raises(ValueError, match="complex"):
        model(kspace.abs(), mask)
    with pytest.raises(ValueError, match="mask"):
        model(kspace, torch.ones(1, 1, 32, 30))
