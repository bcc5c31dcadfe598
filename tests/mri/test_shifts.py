"""Tests of mri.shifts on a smooth synthetic phantom seen by a 4-coil array."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from mri import shifts
from mri.coils import rss, sensitivity_maps
from mri.fft import fft2c, ifft2c
from mri.masks import EquiSpacedMaskFunc

H, W = 96, 70  # readout x phase encode; W is a multiple of the ghost period 7
SEEDS = (0, 1, 2)


def _phantom(h: int = H, w: int = W) -> torch.Tensor:
    """Smooth ellipse with a bright and a dark inclusion, float64 [h, w], zero background."""
    y = torch.linspace(-1, 1, h, dtype=torch.float64)[:, None]
    x = torch.linspace(-1, 1, w, dtype=torch.float64)[None, :]

    def blob(cy: float, cx: float, ry: float, rx: float) -> torch.Tensor:
        return torch.sigmoid((1 - ((y - cy) / ry) ** 2 - ((x - cx) / rx) ** 2) * 15)

    image = blob(0, 0, 0.45, 0.7)
    image = image + 0.6 * blob(0.1, -0.25, 0.12, 0.15) - 0.5 * blob(-0.1, 0.3, 0.1, 0.2)
    return image * (image > 1e-3)


@pytest.fixture(scope="module")
def image() -> torch.Tensor:
    return _phantom()


@pytest.fixture(scope="module")
def kspace(image: torch.Tensor) -> torch.Tensor:
    """Multi-coil k-space complex64 [4, H, W] of the phantom."""
    maps = sensitivity_maps(4, (H, W), seed=0)
    return fft2c(image.to(torch.complex64) * maps)


def _nmse(gt: torch.Tensor, pred: torch.Tensor) -> float:
    return float(((gt - pred) ** 2).sum() / (gt**2).sum())


def _rss_nmse(clean: torch.Tensor, shifted: torch.Tensor) -> float:
    return _nmse(rss(ifft2c(clean)), rss(ifft2c(shifted)))


# --- API ---------------------------------------------------------------------------------------


def test_names_and_severities() -> None:
    assert shifts.SHIFTS == ("undersampling", "noise", "motion", "spikes", "ghosting", "bias_field")
    assert shifts.SEVERITIES == (1, 2, 3, 4, 5)


@pytest.mark.parametrize("name", shifts.SHIFTS)
def test_severity_zero_is_identity(name: str, kspace: torch.Tensor, image: torch.Tensor) -> None:
    out = shifts.shift_kspace(name, 0, kspace, seed=3)
    assert torch.equal(out, kspace) and out is not kspace
    assert torch.equal(shifts.shift_image(name, 0, image, seed=3), image)


@pytest.mark.parametrize("name", shifts.SHIFTS)
def test_deterministic_per_seed(name: str, kspace: torch.Tensor) -> None:
    first = shifts.shift_kspace(name, 3, kspace, seed=7)
    again = shifts.shift_kspace(name, 3, kspace, seed=7)
    assert torch.equal(first, again)
    assert not torch.equal(first, kspace)
    if name in ("noise", "motion", "spikes", "bias_field"):
        assert not torch.equal(first, shifts.shift_kspace(name, 3, kspace, seed=8))


def test_generator_seed_gives_the_same_stream_as_its_int_seed(kspace: torch.Tensor) -> None:
    from_int = shifts.shift_kspace("noise", 2, kspace, seed=5)
    from_rng = shifts.shift_kspace("noise", 2, kspace, seed=np.random.default_rng(5))
    assert torch.equal(from_int, from_rng)


@pytest.mark.parametrize("name", shifts.SHIFTS)
@pytest.mark.parametrize("dtype", [torch.complex64, torch.complex128])
@pytest.mark.parametrize("single_coil", [False, True])
def test_shape_and_dtype_preserved(
    name: str, dtype: torch.dtype, single_coil: bool, kspace: torch.Tensor
) -> None:
    k = (kspace[0] if single_coil else kspace).to(dtype)
    out = shifts.shift_kspace(name, 4, k, seed=0)
    assert out.shape == k.shape and out.dtype == dtype
    assert torch.isfinite(torch.view_as_real(out)).all()


@pytest.mark.parametrize("name", shifts.SHIFTS)
def test_error_grows_strictly_with_severity(name: str, kspace: torch.Tensor) -> None:
    errors = [
        np.mean([_rss_nmse(kspace, shifts.shift_kspace(name, p, kspace, s)) for s in SEEDS])
        for p in (0, *shifts.SEVERITIES)
    ]
    assert errors[0] == 0.0
    assert all(b > a for a, b in zip(errors, errors[1:], strict=False)), errors


@pytest.mark.parametrize("name", shifts.SHIFTS)
def test_shift_image_is_real_and_error_grows(name: str, image: torch.Tensor) -> None:
    img = image.float()
    errors = []
    for p in (0, *shifts.SEVERITIES):
        outs = [shifts.shift_image(name, p, img, s) for s in SEEDS]
        for out in outs:
            assert out.shape == img.shape and out.dtype == torch.float32
            assert (out >= 0).all()
        errors.append(np.mean([_nmse(img, out) for out in outs]))
    assert errors[0] == 0.0
    assert all(b > a for a, b in zip(errors, errors[1:], strict=False)), errors


def test_errors(kspace: torch.Tensor, image: torch.Tensor) -> None:
    with pytest.raises(ValueError, match="undersampling, noise, motion, spikes, ghosting"):
        shifts.shift_kspace("blur", 1, kspace, 0)
    for bad in (-1, 6, 2.5):
        with pytest.raises(ValueError, match=r"\(0, 1, 2, 3, 4, 5\)"):
            shifts.shift_kspace("noise", bad, kspace, 0)
    with pytest.raises(TypeError, match="complex"):
        shifts.shift_kspace("noise", 1, kspace.real, 0)
    with pytest.raises(TypeError, match="complex"):
        shifts.shift_kspace("noise", 1, kspace.numpy(), 0)
    with pytest.raises(ValueError, match="shape"):
        shifts.shift_kspace("noise", 1, kspace[None], 0)
    with pytest.raises(TypeError):
        shifts.shift_image("noise", 1, image.to(torch.complex64), 0)
    with pytest.raises(ValueError, match="shape"):
        shifts.shift_image("noise", 1, image[None], 0)
    with pytest.raises(ValueError, match="valid shifts"):
        shifts.describe("blur", 1)
    with pytest.raises(ValueError):
        shifts.describe("motion", 7)


def test_describe_gives_physical_units() -> None:
    assert shifts.describe("motion", 2).startswith("motion: 10.0 deg rotation, 4.0 px translation")
    assert "3.0% of image max" in shifts.describe("noise", 3)
    assert "8x equispaced, 4% centre" in shifts.describe("undersampling", 4)
    assert "scaled by -1.0 (ghosts every FOV/7, intensity 2.0)" in shifts.describe("ghosting", 2)
    assert shifts.describe("spikes", 0) == "spikes: none (severity 0)"
    for name in shifts.SHIFTS:
        labels = [shifts.describe(name, p) for p in shifts.SEVERITIES]
        assert all(label.startswith(f"{name}: ") for label in labels)
        assert len(set(labels)) == len(labels)  # every severity is distinguishable


# --- physics -------------------------------------------------------------------------------------


def test_pure_translation_of_all_lines_is_a_circular_shift(kspace: torch.Tensor) -> None:
    moved = shifts.rigid_motion(kspace, 0.0, (3, -5), first_moved_line=0)
    expected = fft2c(torch.roll(ifft2c(kspace), shifts=(3, -5), dims=(-2, -1)))
    torch.testing.assert_close(moved, expected, atol=1e-4, rtol=1e-4)


def test_rotation_moves_a_blob_to_the_rotated_position_and_keeps_energy() -> None:
    y = torch.arange(64, dtype=torch.float64)[:, None] - 32
    x = torch.arange(48, dtype=torch.float64)[None, :] - 24
    blob = torch.exp(-(y**2 + (x - 12) ** 2) / 4).to(torch.complex128)
    for degrees in (20.0, -35.0):
        rotated = shifts.rotate_image(blob, degrees)
        row, col = divmod(int(rotated.abs().argmax()), 48)
        theta = math.radians(degrees)
        assert row - 32 == round(12 * math.sin(theta))
        assert col - 24 == round(12 * math.cos(theta))
        energy = float((rotated.abs() ** 2).sum() / (blob.abs() ** 2).sum())
        assert energy == pytest.approx(1.0, abs=1e-9)


def test_motion_keeps_the_lines_acquired_before_the_movement(kspace: torch.Tensor) -> None:
    out = shifts.shift_kspace("motion", 3, kspace, seed=0)
    changed = (out != kspace).any(dim=(0, 1))
    first = int(torch.nonzero(changed)[0])
    assert first > W // 2  # the k-space centre stays in the reference pose
    lo, hi = shifts.MOTION_MOVED_FRACTION
    assert lo * W - 1 <= W - first <= hi * W + 1
    assert changed[first:].all()


@pytest.mark.parametrize("severity", [1, 4])
def test_noise_has_the_requested_sigma(severity: int, kspace: torch.Tensor) -> None:
    sigma = severity / 100 * float(rss(ifft2c(kspace)).max())
    noise = shifts.shift_kspace("noise", severity, kspace, seed=11) - kspace
    assert float(noise.real.std()) == pytest.approx(sigma, rel=0.03)
    assert float(noise.imag.std()) == pytest.approx(sigma, rel=0.03)
    assert abs(float(noise.real.mean())) < 0.05 * sigma


def test_noise_on_a_magnitude_image_is_rician(image: torch.Tensor) -> None:
    noisy = shifts.shift_image("noise", 5, image, seed=0)
    sigma = 0.05 * float(image.max())
    background = noisy[image == 0]
    assert background.numel() > 1000
    # Where the signal is zero, Rician noise is Rayleigh: mean sigma sqrt(pi / 2).
    assert float(background.mean()) == pytest.approx(sigma * math.sqrt(math.pi / 2), rel=0.05)


def test_spikes_change_only_a_few_samples(kspace: torch.Tensor) -> None:
    severity = 3
    out = shifts.shift_kspace("spikes", severity, kspace, seed=4)
    changed = out != kspace
    assert int(changed.sum()) == shifts.NUM_SPIKES * kspace.shape[0]
    positions = torch.nonzero(changed[0])
    assert torch.equal(changed, changed[:1].expand_as(changed))  # same samples in every coil
    # Spikes sit outside the central 10% band of each axis (herringbone stripes, not shading).
    assert ((positions[:, 0] - H // 2).abs() >= 0.05 * H - 1).all()
    assert ((positions[:, 1] - W // 2).abs() >= 0.05 * W - 1).all()
    amplitude = shifts.SPIKE_AMPLITUDE_PER_LEVEL * severity
    for c in range(kspace.shape[0]):
        added = (out[c] - kspace[c])[changed[c]].abs()
        expected = amplitude * float(kspace[c].abs().max())
        torch.testing.assert_close(added, torch.full_like(added, expected), rtol=1e-4, atol=0)


def test_ghosts_appear_at_fov_over_period_along_phase_encode() -> None:
    y = torch.arange(H, dtype=torch.float64)[:, None] - H // 2
    x = torch.arange(W, dtype=torch.float64)[None, :] - W // 2
    dot = torch.exp(-(y**2 + x**2) / 2)  # small object at the centre
    intensity, period = 2.0, shifts.GHOST_PERIOD
    ghosted = ifft2c(shifts.ghost_kspace(fft2c(dot.to(torch.complex128)), period, intensity, 3))
    profile = ghosted[H // 2].abs()  # the row through the object, along W
    spacing = W // period  # FOV / n = 10 pixels
    for m in range(1, period):
        ghost = float(profile[(W // 2 + m * spacing) % W])
        assert ghost == pytest.approx(intensity / period, rel=0.1)
        between = float(profile[(W // 2 + m * spacing + spacing // 2) % W])
        assert between < 0.02 * ghost
    # Nothing moves along the readout: away from the object's row the image stays empty.
    assert float(ghosted[H // 2 + 15].abs().max()) < 1e-3


def test_bias_field_of_a_uniform_image_has_only_low_frequencies() -> None:
    # A uniform object tapered to zero at the FOV edges (its k-space is the 3x3 centre only):
    # without the taper the field's jump across the periodic FOV boundary adds a 1/k^2 tail.
    taper_h = torch.sin(math.pi * torch.arange(H, dtype=torch.float64) / H) ** 2
    taper_w = torch.sin(math.pi * torch.arange(W, dtype=torch.float64) / W) ** 2
    uniform = (taper_h[:, None] * taper_w[None, :]).to(torch.complex128)
    ky = (torch.arange(H)[:, None] - H // 2).abs()
    kx = (torch.arange(W)[None, :] - W // 2).abs()
    low = (ky <= 4) & (kx <= 4)
    for seed in range(4):
        out = shifts.shift_kspace("bias_field", 5, fft2c(uniform), seed=seed)
        energy = out.abs() ** 2
        assert float(energy[low].sum() / energy.sum()) > 0.999
        field = ifft2c(out).real[H // 4 : -H // 4, W // 4 : -W // 4]
        field = field / uniform.real[H // 4 : -H // 4, W // 4 : -W // 4]
        assert float(field.min()) > 0 and float(field.max() / field.min()) > 1.3  # not uniform


def test_bias_field_is_exp_of_the_polynomial() -> None:
    # Order 3 without the constant, (i, j) = (0,1),(0,2),(0,3),(1,0),(1,1),(1,2),(2,0),(2,1),(3,0).
    coefficients = np.zeros(9)
    coefficients[3] = 0.5  # the term y^1 x^0
    field = shifts.bias_field((5, 3), coefficients, order=3)
    expected = torch.exp(0.5 * torch.linspace(-1, 1, 5, dtype=torch.float64))[:, None].expand(5, 3)
    torch.testing.assert_close(field, expected)
    with pytest.raises(ValueError, match="needs 9 coefficients"):
        shifts.bias_field((5, 3), np.zeros(4), order=3)


@pytest.mark.parametrize("severity", shifts.SEVERITIES)
def test_undersampling_keeps_exactly_the_mask_columns(severity: int, kspace: torch.Tensor) -> None:
    seed = 123
    out = shifts.shift_kspace("undersampling", severity, kspace, seed=seed)
    acceleration, centre_fraction = shifts.UNDERSAMPLING_LEVELS[severity]
    mask, num_low = EquiSpacedMaskFunc([centre_fraction], [acceleration])((1, H, W, 1), seed=seed)
    keep = mask.reshape(W).bool()
    assert torch.equal(out[..., keep], kspace[..., keep])
    assert int(torch.count_nonzero(out[..., ~keep])) == 0
    # The kept set is the centre block plus every acceleration-th line.
    start = (W - num_low + 1) // 2
    assert keep[start : start + num_low].all()
    outer = keep.clone()
    outer[start : start + num_low] = False
    kept_outer = torch.nonzero(outer).flatten()
    assert (torch.diff(kept_outer) % acceleration == 0).all()
    assert int(keep.sum()) < W / acceleration + num_low + 1
