"""Tests for mri.fft (centred orthonormal FFTs) and mri.coils (RSS, cropping, sensitivities)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from mri.coils import COIL_GEOMETRIES, center_crop, complex_center_crop, rss, sensitivity_maps
from mri.fft import fft2c, ifft2c

SIZES = [(8, 8), (7, 9), (6, 5)]  # even, odd and mixed


def random_complex(shape: tuple[int, ...], seed: int = 0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, dtype=torch.complex64, generator=gen)


# --- fft --------------------------------------------------------------------------------------


@pytest.mark.parametrize("size", SIZES)
def test_round_trip(size: tuple[int, int]) -> None:
    x = random_complex((3, *size))
    torch.testing.assert_close(ifft2c(fft2c(x)), x, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(fft2c(ifft2c(x)), x, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("size", SIZES)
def test_parseval(size: tuple[int, int]) -> None:
    x = random_complex((2, 4, *size), seed=1)
    assert torch.linalg.vector_norm(fft2c(x)).item() == pytest.approx(
        torch.linalg.vector_norm(x).item(), rel=1e-5
    )


@pytest.mark.parametrize("size", SIZES)
def test_centred_delta_gives_flat_kspace(size: tuple[int, int]) -> None:
    h, w = size
    image = torch.zeros(h, w, dtype=torch.complex64)
    image[h // 2, w // 2] = 1.0  # the image centre under the fftshift convention
    kspace = fft2c(image)
    expected = torch.full((h, w), 1 / math.sqrt(h * w), dtype=torch.complex64)
    torch.testing.assert_close(kspace, expected, atol=1e-6, rtol=1e-6)  # magnitude and zero phase


def test_dc_of_constant_image_is_at_centre() -> None:
    kspace = fft2c(torch.ones(6, 8, dtype=torch.complex64))
    assert kspace.abs().argmax().item() == 3 * 8 + 4  # [H // 2, W // 2]
    assert kspace[3, 4].real.item() == pytest.approx(math.sqrt(48), rel=1e-6)


@pytest.mark.parametrize("size", SIZES)
def test_matches_numpy(size: tuple[int, int]) -> None:
    x = random_complex((2, *size), seed=2)
    xn = x.numpy()
    axes = (-2, -1)
    forward = np.fft.fftshift(np.fft.fft2(np.fft.ifftshift(xn, axes), norm="ortho"), axes)
    inverse = np.fft.fftshift(np.fft.ifft2(np.fft.ifftshift(xn, axes), norm="ortho"), axes)
    np.testing.assert_allclose(fft2c(x).numpy(), forward, atol=1e-5)
    np.testing.assert_allclose(ifft2c(x).numpy(), inverse, atol=1e-5)


@pytest.mark.parametrize("fn", [fft2c, ifft2c])
def test_real_input_rejected(fn) -> None:
    with pytest.raises(TypeError, match="complex"):
        fn(torch.ones(4, 4))
    with pytest.raises(TypeError, match="complex"):
        fn(np.ones((4, 4), dtype=np.complex64))


# --- rss and cropping -------------------------------------------------------------------------


def test_rss_known_values() -> None:
    coils = torch.tensor([3.0, 4.0]).reshape(2, 1, 1)
    assert rss(coils).item() == pytest.approx(5.0)
    complex_coils = torch.tensor([3 + 4j, 0 + 12j], dtype=torch.complex64).reshape(2, 1, 1)
    assert rss(complex_coils).item() == pytest.approx(13.0)  # sqrt(25 + 144)
    batch = torch.tensor([[3.0, 4.0], [5.0, 12.0]]).reshape(2, 2, 1, 1)  # [slices, coils, 1, 1]
    assert rss(batch).flatten().tolist() == pytest.approx([5.0, 13.0])
    assert rss(torch.tensor([[6.0, 8.0]]), dim=-1).tolist() == pytest.approx([10.0])


@pytest.mark.parametrize(
    ("size", "crop", "top", "left"),
    [
        ((6, 6), (4, 4), 1, 1),
        ((7, 7), (3, 3), 2, 2),
        ((7, 6), (4, 3), 1, 1),  # (7 - 4) // 2 = 1: odd excess goes after the crop
        ((5, 8), (5, 8), 0, 0),
    ],
)
def test_center_crop_placement(size, crop, top, left) -> None:
    h, w = size
    x = torch.arange(h * w, dtype=torch.float32).reshape(1, h, w)
    out = complex_center_crop(x, crop)
    assert out.shape == (1, *crop)
    torch.testing.assert_close(out, x[:, top : top + crop[0], left : left + crop[1]])
    assert out[0, 0, 0].item() == top * w + left


def test_center_crop_complex_and_alias() -> None:
    x = random_complex((2, 8, 10))
    assert complex_center_crop(x, (4, 4)).dtype == torch.complex64
    assert torch.equal(center_crop(x, (4, 4)), x[..., 2:6, 3:7])


@pytest.mark.parametrize("crop", [(9, 4), (4, 11), (0, 4)])
def test_center_crop_too_large(crop) -> None:
    with pytest.raises(ValueError, match="does not fit"):
        complex_center_crop(torch.zeros(8, 10), crop)


# --- sensitivity maps -------------------------------------------------------------------------


@pytest.mark.parametrize("geometry", COIL_GEOMETRIES)
def test_sensitivity_maps_basic(geometry: str) -> None:
    maps = sensitivity_maps(8, (40, 32), geometry=geometry, seed=0)
    assert maps.shape == (8, 40, 32) and maps.dtype == torch.complex64
    combined = rss(maps)
    assert combined.max().item() == pytest.approx(1.0, abs=1e-6)
    assert combined.min().item() > 0
    # coils sit on a circle of radius 1.3 (field of view [-1, 1]^2), so every coil is brightest
    # at the periphery and dark in the middle
    ys, xs = np.linspace(-1, 1, 40), np.linspace(-1, 1, 32)
    for coil in maps.abs():
        r, c = divmod(coil.argmax().item(), 32)
        assert math.hypot(ys[r], xs[c]) > 0.9
        assert coil[20, 16].item() < 0.5 * coil.max().item()


@pytest.mark.parametrize("geometry", COIL_GEOMETRIES)
def test_sensitivity_maps_deterministic_per_seed(geometry: str) -> None:
    a = sensitivity_maps(4, (16, 16), geometry=geometry, seed=3)
    b = sensitivity_maps(4, (16, 16), geometry=geometry, seed=3)
    c = sensitivity_maps(4, (16, 16), geometry=geometry, seed=4)
    assert torch.equal(a, b)
    assert not torch.allclose(a, c)


def test_ring_and_arc_differ() -> None:
    # Same seed, same draws: the arc packs coils closer, so neighbouring maps overlap more.
    ring = sensitivity_maps(6, (32, 32), geometry="ring", seed=0).abs()
    arc = sensitivity_maps(6, (32, 32), geometry="arc", seed=0).abs()
    assert not torch.allclose(ring, arc)

    def neighbour_overlap(maps: torch.Tensor) -> float:
        flat = maps.flatten(1)
        flat = flat / flat.norm(dim=1, keepdim=True)
        return float((flat[:-1] * flat[1:]).sum(dim=1).mean())

    assert neighbour_overlap(arc) > neighbour_overlap(ring)


def test_single_coil_map() -> None:
    maps = sensitivity_maps(1, (8, 8), geometry="arc", seed=0)
    assert maps.shape == (1, 8, 8)
    assert maps.abs().max().item() == pytest.approx(1.0, abs=1e-6)


def test_sensitivity_maps_errors() -> None:
    with pytest.raises(ValueError, match="num_coils"):
        sensitivity_maps(0, (8, 8))
    with pytest.raises(ValueError, match="geometry"):
        sensitivity_maps(4, (8, 8), geometry="helmet")


def test_ifft2c_is_two_centered_1d_transforms() -> None:
    from mri.fft import ifftc

    k = torch.randn(2, 9, 6, dtype=torch.complex64, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(ifftc(ifftc(k, -2), -1), ifft2c(k), rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(ifftc(ifftc(k, -1), -2), ifft2c(k), rtol=1e-5, atol=1e-6)
