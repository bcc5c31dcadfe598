"""Tests for mri.masks: fastMRI mask semantics, seeding and application to complex k-space."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mri.masks import (
    EquispacedMaskFractionFunc,
    EquiSpacedMaskFunc,
    RandomMaskFunc,
    apply_mask,
    center_mask,
    create_mask_for_mask_type,
    file_seed,
)


def columns(mask: torch.Tensor) -> list[int]:
    """Indices of the kept columns of a mask of any rank."""
    return torch.nonzero(mask.flatten()).flatten().tolist()


# --- centre block -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("num_cols", "num_low", "expected"),
    [
        (16, 4, [6, 7, 8, 9]),  # even N, even block: DC column 8 is right of the middle
        (16, 3, [7, 8, 9]),  # even N, odd block: centred on DC column 8
        (15, 3, [6, 7, 8]),  # odd N, odd block: centred on DC column 7
        (15, 4, [6, 7, 8, 9]),  # odd N, even block: start (15 - 4 + 1) // 2 = 6
        (16, 0, []),
    ],
)
def test_center_block_placement(num_cols: int, num_low: int, expected: list[int]) -> None:
    assert np.flatnonzero(center_mask(num_cols, num_low)).tolist() == expected


@pytest.mark.parametrize("mask_cls", [RandomMaskFunc, EquiSpacedMaskFunc])
@pytest.mark.parametrize(
    ("num_cols", "cf", "num_low", "start"),
    [(16, 0.25, 4, 6), (16, 0.2, 3, 7), (15, 0.2, 3, 6), (15, 0.25, 4, 6), (368, 0.08, 29, 170)],
)
def test_center_block_in_every_mask(mask_cls, num_cols, cf, num_low, start) -> None:
    mask_func = mask_cls([cf], [4], seed=0)
    for seed in range(5):
        mask, got_low = mask_func((1, num_cols, 1), seed=seed)
        assert got_low == num_low == round(num_cols * cf)
        assert mask.flatten()[start : start + num_low].eq(1).all()


# --- shapes and dtype -------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(1, 16, 1), (2, 7, 16, 2), (1, 1, 1, 16, 1)])
def test_mask_shape_and_dtype(shape: tuple[int, ...]) -> None:
    mask, _ = RandomMaskFunc([0.25], [4], seed=0)(shape)
    expected = [1] * len(shape)
    expected[-2] = shape[-2]
    assert list(mask.shape) == expected
    assert mask.dtype == torch.float32
    assert set(mask.unique().tolist()) <= {0.0, 1.0}


def test_shape_needs_three_dims() -> None:
    with pytest.raises(ValueError, match="3 dimensions"):
        RandomMaskFunc([0.08], [4])((16, 1))


# --- seeding ----------------------------------------------------------------------------------


def test_same_seed_same_mask_different_seeds_differ() -> None:
    mask_func = RandomMaskFunc([0.08, 0.04], [4, 8])
    shape = (1, 368, 1)
    first, _ = mask_func(shape, seed=7)
    mask_func(shape)  # advancing the internal stream must not matter for a seeded call
    again, _ = mask_func(shape, seed=7)
    assert torch.equal(first, again)
    masks = {tuple(columns(mask_func(shape, seed=s)[0])) for s in range(20)}
    assert len(masks) == 20


def test_constructor_seed_reproducible_and_per_call_seed_restores_stream() -> None:
    shape = (1, 64, 1)
    a, b = RandomMaskFunc([0.08], [4], seed=3), RandomMaskFunc([0.08], [4], seed=3)
    a_first, b_first = a(shape)[0], b(shape)[0]
    assert torch.equal(a_first, b_first)
    b(shape, seed=99)  # a seeded call in between leaves b's own stream where it was
    assert torch.equal(a(shape)[0], b(shape)[0])


def test_masks_match_fastmri_random_stream() -> None:
    """Pinned masks: numbers drawn in fastMRI's order from a RandomState (checked against
    fastMRI's RandomMaskFunc when written)."""
    mask, num_low = RandomMaskFunc([0.125], [2], seed=0)((1, 16, 1))
    assert (columns(mask), num_low) == ([4, 7, 8, 9, 14, 15], 2)
    mask, num_low = RandomMaskFunc([0.125, 0.25], [2, 4])((1, 16, 1), seed=123)
    assert (columns(mask), num_low) == ([1, 6, 7, 8, 9, 11, 12], 2)
    mask, _ = EquiSpacedMaskFunc([0.25], [4])((1, 16, 1), seed=5)
    assert columns(mask) == [3, 6, 7, 8, 9, 11, 15]  # offset 3 drawn


def test_choice_between_pairs_uses_both() -> None:
    mask_func = RandomMaskFunc([0.08, 0.04], [4, 8], seed=0)
    lows = {mask_func((1, 368, 1))[1] for _ in range(50)}
    assert lows == {round(368 * 0.08), round(368 * 0.04)}  # 29 and 15


# --- acceleration -----------------------------------------------------------------------------


@pytest.mark.parametrize(("cf", "accel"), [(0.08, 4), (0.04, 8)])
def test_random_mask_effective_acceleration(cf: float, accel: int) -> None:
    num_cols = 368
    mask_func = RandomMaskFunc([cf], [accel])
    counts = [mask_func((1, num_cols, 1), seed=s)[0].sum().item() for s in range(500)]
    assert np.mean(counts) == pytest.approx(num_cols / accel, rel=0.02)


def test_equispaced_hand_computed_example() -> None:
    # N = 16, acceleration 4, centre fraction 0.25: num_low = 4, centre starts at
    # (16 - 4 + 1) // 2 = 6 -> {6, 7, 8, 9}; offset 1 -> {1, 5, 9, 13}.
    mask, num_low = EquiSpacedMaskFunc([0.25], [4])((1, 16, 1), offset=1)
    assert num_low == 4
    assert columns(mask) == [1, 5, 6, 7, 8, 9, 13]


@pytest.mark.parametrize("num_cols", [368, 372, 15])
@pytest.mark.parametrize("offset", [0, 1, 3])
def test_equispaced_count_exact(num_cols: int, offset: int) -> None:
    cf, accel = 0.08, 4
    mask, num_low = EquiSpacedMaskFunc([cf], [accel])((1, num_cols, 1), offset=offset)
    start = (num_cols - num_low + 1) // 2
    expected = set(range(offset, num_cols, accel)) | set(range(start, start + num_low))
    assert columns(mask) == sorted(expected)


def test_equispaced_random_offset_in_range() -> None:
    mask_func = EquiSpacedMaskFunc([0.08], [4], seed=0)
    offsets = set()
    for _ in range(40):
        cols = columns(mask_func((1, 368, 1))[0])
        offsets.add(cols[0])  # column 0..3 is the first equispaced one (centre is far away)
    assert offsets == {0, 1, 2, 3}


def test_equispaced_fraction_hand_computed_example() -> None:
    # N = 12, acceleration 2, centre fraction 1/6: num_low = 2, centre {5, 6};
    # spacing 2 * (2 - 12) / (2 * 2 - 12) = 2.5; offset 0 -> 0, 2.5, 5, 7.5, 10, rounded half to
    # even -> {0, 2, 5, 8, 10}; union has 6 = 12 / 2 columns.
    mask_func = EquispacedMaskFractionFunc([1 / 6], [2])
    mask, num_low = mask_func((1, 12, 1), offset=0)
    assert num_low == 2
    assert columns(mask) == [0, 2, 5, 6, 8, 10]
    # offset 1 -> 1, 3.5, 6, 8.5 -> {1, 4, 6, 8}
    assert columns(mask_func((1, 12, 1), offset=1)[0]) == [1, 4, 5, 6, 8]


@pytest.mark.parametrize(("cf", "accel"), [(0.08, 4), (0.04, 8)])
@pytest.mark.parametrize("num_cols", [320, 368, 372])
def test_equispaced_fraction_reaches_acceleration(cf: float, accel: int, num_cols: int) -> None:
    mask_func = EquispacedMaskFractionFunc([cf], [accel])
    for seed in range(5):
        count = mask_func((1, num_cols, 1), seed=seed)[0].sum().item()
        assert abs(count - num_cols / accel) <= 2


def test_equispaced_fraction_rejects_centre_too_large() -> None:
    with pytest.raises(ValueError, match="already reaches"):
        EquispacedMaskFractionFunc([0.25], [4])((1, 16, 1))


# --- validation and factory -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cfs", "accs", "match"),
    [
        ([0.08, 0.04], [4], "equal length"),
        ([], [], "equal length"),
        ([0.0], [4], r"\(0, 1\)"),
        ([1.0], [4], r"\(0, 1\)"),
        ([0.08], [0.5], ">= 1"),
    ],
)
def test_bad_parameters(cfs, accs, match) -> None:
    with pytest.raises(ValueError, match=match):
        RandomMaskFunc(cfs, accs)


def test_equispaced_needs_whole_accelerations_and_nonnegative_offset() -> None:
    with pytest.raises(ValueError, match="whole-number"):
        EquiSpacedMaskFunc([0.08], [2.5])
    with pytest.raises(ValueError, match="offset"):
        EquiSpacedMaskFunc([0.08], [4])((1, 16, 1), offset=-1)


def test_create_mask_for_mask_type() -> None:
    assert isinstance(create_mask_for_mask_type("random", [0.08], [4]), RandomMaskFunc)
    assert isinstance(create_mask_for_mask_type("equispaced", [0.08], [4]), EquiSpacedMaskFunc)
    assert isinstance(
        create_mask_for_mask_type("equispaced_fraction", [0.08], [4]), EquispacedMaskFractionFunc
    )
    with pytest.raises(ValueError, match="equispaced_fraction"):
        create_mask_for_mask_type("poisson", [0.08], [4])


# --- apply_mask and file_seed -----------------------------------------------------------------


def test_apply_mask_zeros_exactly_unsampled_columns() -> None:
    gen = torch.Generator().manual_seed(0)
    kspace = torch.randn(3, 10, 16, dtype=torch.complex64, generator=gen)
    masked, mask, num_low = apply_mask(kspace, EquiSpacedMaskFunc([0.25], [4]), offset=1)
    assert mask.shape == (1, 1, 16) and mask.dtype == torch.float32
    assert num_low == 4
    kept = [1, 5, 6, 7, 8, 9, 13]
    dropped = [c for c in range(16) if c not in kept]
    assert columns(mask) == kept
    assert torch.equal(masked[..., kept], kspace[..., kept])
    assert torch.count_nonzero(masked[..., dropped]) == 0
    assert masked.dtype == torch.complex64


def test_apply_mask_single_coil_and_seed() -> None:
    kspace = torch.ones(8, 32, dtype=torch.complex64)
    mask_func = RandomMaskFunc([0.125], [4])
    a, mask_a, _ = apply_mask(kspace, mask_func, seed=file_seed("file_x.h5"))
    b, mask_b, _ = apply_mask(kspace, mask_func, seed=file_seed("file_x.h5"))
    assert mask_a.shape == (1, 32)
    assert torch.equal(a, b) and torch.equal(mask_a, mask_b)


def test_apply_mask_padding_removes_outer_columns() -> None:
    kspace = torch.ones(4, 16, dtype=torch.complex64)
    masked, mask, _ = apply_mask(kspace, EquiSpacedMaskFunc([0.25], [4]), offset=1, padding=(2, 14))
    assert columns(mask) == [5, 6, 7, 8, 9, 13]
    assert torch.equal(masked.real.sum(dim=0), mask.flatten() * 4)


def test_apply_mask_rejects_real_input() -> None:
    with pytest.raises(TypeError):
        apply_mask(torch.ones(4, 16), RandomMaskFunc([0.25], [4]))


def test_file_seed_stable() -> None:
    # CRC-32 of the UTF-8 name: fixed forever, independent of process and directory.
    assert file_seed("file_brain_AXT2_200_6002.h5") == 3460985779
    assert file_seed("/some/dir/file_brain_AXT2_200_6002") == 3460985779
    assert file_seed("file_knee_CORPD_FBK_A_0001.h5") != file_seed("file_knee_CORPD_FBK_A_0002.h5")
