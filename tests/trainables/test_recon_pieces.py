import numpy as np
import pytest
import torch

from mri.coils import complex_center_crop, rss
from mri.fft import ifft2c
from trainables.data import EvalSet, EvalSpec
from trainables.diagnosis import balanced_sampling_weights
from trainables.recon import _grown, lesion_ssim, volume_metrics, zero_filled


def test_zero_filled_of_full_kspace_is_the_rss_image():
    g = torch.Generator().manual_seed(0)
    k = torch.randn(2, 3, 16, 12, dtype=torch.complex64, generator=g)
    expected = complex_center_crop(rss(ifft2c(k), dim=1), (8, 8))
    assert torch.allclose(zero_filled(k, (8, 8))[:, 0], expected)
    assert zero_filled(k, (8, 8)).shape == (2, 1, 8, 8)


def eval_set(target, boxes=()):
    n = len(target)
    return EvalSet(
        EvalSpec("d"),
        {"target": target, "maxval": np.full(n, target.max(), np.float32)},
        fnames=["v0"] * (n // 2) + ["v1"] * (n - n // 2),
        slices=np.arange(n),
        boxes=list(boxes),
    )


def test_perfect_reconstruction_scores():
    rng = np.random.default_rng(0)
    target = rng.random((4, 16, 16)).astype(np.float32)
    values = volume_metrics(eval_set(target), target.copy())
    assert values["ssim"] == pytest.approx(1.0)
    assert values["nmse"] == pytest.approx(0.0)
    assert np.isnan(values["ssim_lesion"])  # no boxes in this set


def test_lesion_ssim_only_looks_inside_boxes():
    rng = np.random.default_rng(1)
    target = rng.random((2, 32, 32)).astype(np.float32)
    pred = target.copy()
    pred[:, 20:, 20:] = 0  # damage outside the boxes only
    boxes = [[(2, 3, 8, 8)], [(4, 4, 10, 6)]]
    assert lesion_ssim(eval_set(target, boxes), pred) == pytest.approx(1.0)
    pred[0, 3:11, 2:10] = 0
    assert lesion_ssim(eval_set(target, boxes), pred) < 0.9


@pytest.mark.parametrize(
    ("start", "size", "limit", "expected"),
    [
        (10, 3, 32, slice(8, 15)),
        (0, 2, 32, slice(0, 7)),
        (30, 2, 32, slice(25, 32)),
        (5, 12, 32, slice(5, 17)),
    ],
)
def test_boxes_grow_to_the_ssim_window(start, size, limit, expected):
    assert _grown(start, size, limit) == expected


def test_balanced_sampling_weights_balance_the_classes():
    has = np.array([True, False, False, False])
    w = balanced_sampling_weights(has)
    assert w[has].sum() == pytest.approx(w[~has].sum())


@pytest.mark.parametrize(("shape", "crop"), [((3, 16, 12), (8, 8)), ((2, 15, 9), (7, 5))])
def test_masked_zero_filled_from_the_readout_transform_equals_the_2d_path(shape, crop):
    from study.bundles import readout_transformed
    from trainables.recon import zero_filled_hybrid

    g = torch.Generator().manual_seed(1)
    k = torch.randn(4, *shape, dtype=torch.complex64, generator=g)
    mask = (torch.rand(4, 1, 1, shape[-1], generator=g) > 0.5).float()
    hybrid = torch.from_numpy(readout_transformed(k.numpy(), crop[0], chunk=3))
    assert hybrid.shape == (4, shape[0], crop[0], shape[-1])
    fast = zero_filled_hybrid(hybrid, mask, crop)
    assert fast.shape == (4, 1, *crop)
    torch.testing.assert_close(fast, zero_filled(k * mask, crop), rtol=1e-5, atol=1e-6)


def test_training_batches_hold_what_each_model_reads():
    from mri.masks import create_mask_for_mask_type
    from study.bundles import readout_transformed
    from trainables.data import TrainGroup
    from trainables.recon import sample_batch

    g = torch.Generator().manual_seed(2)
    k = torch.randn(6, 2, 16, 12, dtype=torch.complex64, generator=g).numpy()
    target = complex_center_crop(rss(ifft2c(torch.from_numpy(k)), dim=1), (8, 8)).numpy()
    group = TrainGroup("d", {"kspace": k, "hybrid": readout_transformed(k, 8), "target": target,
                             "maxval": np.ones(6, np.float32)}, np.zeros(6, bool))
    mask_func = create_mask_for_mask_type("equispaced_fraction", [0.25], [2])
    cpu = torch.device("cpu")
    image = sample_batch(group, np.arange(6), 3, mask_func, torch.Generator().manual_seed(0), cpu)
    kspace = sample_batch(group, np.arange(6), 3, mask_func, torch.Generator().manual_seed(0),
                          cpu, kind="varnet")
    assert set(image) == {"zero_filled", "target", "maxval"}
    assert set(kspace) == {"masked_kspace", "mask", "num_low", "target", "maxval"}
    # same generator state: the same slices and masks, so the two views agree
    torch.testing.assert_close(image["target"], kspace["target"])
    torch.testing.assert_close(image["zero_filled"], zero_filled(kspace["masked_kspace"], (8, 8)),
                               rtol=1e-5, atol=1e-6)
    assert set(kspace["mask"].unique().tolist()) <= {0.0, 1.0}
