"""Tests for mri.metrics: closed-form reconstruction metrics, SSIM loss and diagnosis metrics."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.ndimage import gaussian_filter
from skimage.metrics import structural_similarity

from mri.metrics import (
    SSIMLoss,
    accuracy,
    auroc,
    balanced_accuracy,
    diagnosis_score,
    finding_aurocs,
    nmse,
    psnr,
    sensitivity_specificity,
    ssim,
    threshold_at_sensitivity,
)


@pytest.fixture
def volume() -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.uniform(0.0, 2.0, size=(3, 32, 32)).astype(np.float32)


def smooth_pair(seed: int, size: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """A smooth image and a noisy, smoothed copy (float64, values roughly in [0, 1])."""
    rng = np.random.default_rng(seed)
    x = gaussian_filter(rng.standard_normal((size, size)), 3)
    x = (x - x.min()) / (x.max() - x.min())
    y = x + 0.3 * gaussian_filter(rng.standard_normal((size, size)), 1)
    return x, y


# --- NMSE / PSNR / SSIM -----------------------------------------------------------------------


def test_nmse_closed_forms(volume: np.ndarray) -> None:
    assert nmse(volume, np.zeros_like(volume)) == pytest.approx(1.0)
    assert nmse(volume, volume) == 0.0
    assert nmse(volume, 0.5 * volume) == pytest.approx(0.25)


def test_psnr_constant_error(volume: np.ndarray) -> None:
    error = 0.1
    expected = 20 * math.log10(volume.max()) - 10 * math.log10(error**2)
    assert psnr(volume, volume + error) == pytest.approx(expected, rel=1e-5)
    # explicit maxval overrides gt.max()
    assert psnr(volume, volume + error, maxval=1.0) == pytest.approx(20.0, rel=1e-5)


def test_ssim_identical_is_one_and_drops_with_noise(volume: np.ndarray) -> None:
    assert ssim(volume, volume) == pytest.approx(1.0)
    noise = np.random.default_rng(1).normal(0, 1, volume.shape).astype(np.float32)
    scores = [ssim(volume, volume + sigma * noise) for sigma in (0.05, 0.2, 0.5)]
    assert 1.0 > scores[0] > scores[1] > scores[2]


def test_ssim_is_mean_of_per_slice_skimage_with_volume_max(volume: np.ndarray) -> None:
    pred = volume * 0.9 + 0.05
    expected = np.mean(
        [
            structural_similarity(g, p, data_range=volume.max())
            for g, p in zip(volume, pred, strict=True)
        ]
    )
    assert ssim(volume, pred) == pytest.approx(expected, rel=1e-6)
    assert ssim(volume[0], pred[0]) == pytest.approx(
        structural_similarity(volume[0], pred[0], data_range=volume[0].max()), rel=1e-6
    )


@pytest.mark.parametrize("metric", [nmse, psnr, ssim])
def test_shape_mismatch_raises(metric, volume: np.ndarray) -> None:
    with pytest.raises(ValueError, match="shapes differ"):
        metric(volume, volume[:, :16])


# --- SSIM loss --------------------------------------------------------------------------------


def test_ssim_loss_identical_is_zero() -> None:
    x, _ = smooth_pair(0)
    img = torch.from_numpy(x).float()[None, None]
    loss = SSIMLoss()(img, img, torch.tensor([1.0]))
    assert loss.item() == pytest.approx(0.0, abs=1e-6)


@pytest.mark.parametrize("seed", [0, 1])
def test_ssim_loss_matches_skimage(seed: int) -> None:
    x, y = smooth_pair(seed)
    data_range = float(x.max())
    reference = structural_similarity(
        x,
        y,
        data_range=data_range,
        gaussian_weights=False,
        win_size=7,
        use_sample_covariance=True,
    )
    to_t = lambda a: torch.from_numpy(a)[None, None]  # noqa: E731
    loss = SSIMLoss()(to_t(y), to_t(x), torch.tensor([data_range], dtype=torch.float64))
    assert 1 - loss.item() == pytest.approx(reference, abs=1e-6)
    # float32, as used in training, agrees within single precision
    loss32 = SSIMLoss()(to_t(y).float(), to_t(x).float(), torch.tensor([data_range]))
    assert 1 - loss32.item() == pytest.approx(reference, abs=1e-4)


def test_ssim_loss_batch_uses_per_image_data_range() -> None:
    pairs = [smooth_pair(s) for s in (2, 3)]
    ranges = [1.0, 2.5]
    pred = torch.from_numpy(np.stack([p[1] for p in pairs]))[:, None]
    target = torch.from_numpy(np.stack([p[0] for p in pairs]))[:, None]
    maps = SSIMLoss()(pred, target, torch.tensor(ranges, dtype=torch.float64), reduced=False)
    assert maps.shape == (2, 1, 58, 58)
    for i, ((x, y), dr) in enumerate(zip(pairs, ranges, strict=True)):
        expected = structural_similarity(x, y, data_range=dr)
        assert 1 - maps[i].mean().item() == pytest.approx(expected, abs=1e-6)


def test_ssim_loss_gradients_flow() -> None:
    x, y = smooth_pair(4, size=32)
    pred = torch.from_numpy(y).float()[None, None].requires_grad_(True)
    target = torch.from_numpy(x).float()[None, None]
    loss = SSIMLoss()(pred, target, torch.tensor([1.0]))
    loss.backward()
    assert pred.grad is not None
    assert torch.isfinite(pred.grad).all() and pred.grad.abs().sum() > 0
    # a small step against the gradient lowers the loss
    with torch.no_grad():
        stepped = pred - 1e-2 * pred.grad / pred.grad.abs().max()
    assert SSIMLoss()(stepped, target, torch.tensor([1.0])) < loss


def test_ssim_loss_rejects_bad_shapes() -> None:
    with pytest.raises(ValueError, match=r"\[B, 1, H, W\]"):
        SSIMLoss()(torch.zeros(1, 2, 16, 16), torch.zeros(1, 2, 16, 16), torch.tensor([1.0]))


# --- diagnosis --------------------------------------------------------------------------------


def test_auroc_hand_example() -> None:
    # pairs (positive, negative): (0.35, 0.1) ok, (0.35, 0.4) wrong, (0.8, *) ok -> 3/4
    assert auroc(np.array([0, 0, 1, 1]), np.array([0.1, 0.4, 0.35, 0.8])) == pytest.approx(0.75)


def test_auroc_multilabel_nan_for_single_class_column() -> None:
    labels = np.array([[0, 1, 0], [0, 1, 1], [1, 1, 0], [1, 1, 1]])
    scores = np.array([[0.1, 0.2, 0.9], [0.4, 0.3, 0.6], [0.35, 0.1, 0.8], [0.8, 0.5, 0.5]])
    result = auroc(labels, scores)
    assert result.shape == (3,)
    assert result[0] == pytest.approx(0.75)
    assert math.isnan(result[1])  # every sample positive: AUROC undefined
    assert result[2] == pytest.approx(0.0)


def test_auroc_shape_mismatch() -> None:
    with pytest.raises(ValueError, match="same shape"):
        auroc(np.array([0, 1]), np.array([0.1, 0.2, 0.3]))


def test_accuracy() -> None:
    labels = np.array([0, 1, 1, 0])
    scores = np.array([0.2, 0.7, 0.4, 0.5])  # predictions at 0.5: 0, 1, 0, 1
    assert accuracy(labels, scores) == pytest.approx(0.5)
    assert accuracy(labels, scores, threshold=0.6) == pytest.approx(0.75)
    per_column = accuracy(np.stack([labels, 1 - labels], 1), np.stack([scores, scores], 1))
    np.testing.assert_allclose(per_column, [0.5, 0.5])


# 5 negatives and 10 positives; 9 positives score above every negative but 0.5 < 0.6.
NEG = [0.1, 0.2, 0.3, 0.4, 0.5]
POS = [0.35, 0.6, 0.7, 0.8, 0.9, 0.95, 0.96, 0.97, 0.98, 0.99]
LABELS = np.array([0] * 5 + [1] * 10)
SCORES = np.array(NEG + POS)


def test_threshold_at_sensitivity() -> None:
    # At 0.6 sensitivity is 9/10 and 1 - 0.9 < 0.1 in floating point (as in the reference).
    assert threshold_at_sensitivity(LABELS, SCORES) == pytest.approx(0.6)
    # Demanding more than 0.9 needs the positive at 0.35 (below two negatives).
    assert threshold_at_sensitivity(LABELS, SCORES, min_sensitivity=0.95) == pytest.approx(0.35)
    both = threshold_at_sensitivity(np.stack([LABELS, np.ones(15)], 1), np.stack([SCORES] * 2, 1))
    assert both[0] == pytest.approx(0.6) and math.isnan(both[1])
    with pytest.raises(ValueError, match="min_sensitivity"):
        threshold_at_sensitivity(LABELS, SCORES, min_sensitivity=1.0)


def test_sensitivity_specificity_and_balanced_accuracy() -> None:
    preds = (SCORES >= 0.35).astype(int)  # all positives; negatives 0.4 and 0.5 also positive
    sens, spec = sensitivity_specificity(LABELS, preds)
    assert (sens, spec) == (pytest.approx(1.0), pytest.approx(0.6))
    assert balanced_accuracy(LABELS, preds) == pytest.approx(0.8)
    preds = (SCORES >= 0.6).astype(int)
    assert sensitivity_specificity(LABELS, preds) == (pytest.approx(0.9), pytest.approx(1.0))
    assert balanced_accuracy(LABELS, preds) == pytest.approx(0.95)


def test_sensitivity_specificity_nan_when_class_absent_and_per_column() -> None:
    sens, spec = sensitivity_specificity(np.array([0, 0, 0]), np.array([0, 1, 0]))
    assert math.isnan(sens) and spec == pytest.approx(2 / 3)
    labels = np.stack([LABELS, 1 - LABELS], 1)
    preds = np.stack([SCORES >= 0.6, SCORES < 0.6], 1).astype(int)
    sens, spec = sensitivity_specificity(labels, preds)
    np.testing.assert_allclose(sens, [0.9, 1.0])
    np.testing.assert_allclose(spec, [1.0, 0.9])
    np.testing.assert_allclose(balanced_accuracy(labels, preds), [0.95, 0.95])


def test_diagnosis_score_leaves_out_absent_findings_and_any() -> None:
    labels = np.array([[1, 0, 0, 1], [0, 0, 1, 1], [0, 0, 0, 0], [1, 0, 0, 1]])
    scores = np.array([[0.9, 0.1, 0.2, 0.8], [0.2, 0.3, 0.7, 0.9], [0.1, 0.2, 0.1, 0.1],
                       [0.8, 0.4, 0.3, 0.7]])
    per = finding_aurocs(labels, scores, ["acl", "mass", "bone", "any"])
    assert per["acl"] == 1.0 and np.isnan(per["mass"])  # mass: no positive in this set
    assert per["bone"] == pytest.approx(1.0)
    per["any"] = 0.0  # reported apart: never averaged in
    assert diagnosis_score(per) == pytest.approx(1.0)
    assert np.isnan(diagnosis_score({"mass": np.nan, "any": 0.9}))


def test_an_anatomy_only_scorer_gets_exactly_chance_on_each_distribution() -> None:
    """A model that only tells knee from brain scores every knee slice alike, so within one
    distribution's set every finding's AUROC is 0.5; pooling both anatomies into one set (the
    old objective) would reward it."""
    rng = np.random.default_rng(0)
    knee = (rng.random((40, 2)) < 0.3).astype(int)  # acl, mass (mass never on a knee)
    knee[:, 1] = 0
    brain = (rng.random((40, 2)) < 0.3).astype(int)
    brain[:, 0] = 0
    knee_scores = np.tile([0.9, 0.1], (40, 1))  # "this is a knee": acl likely, mass unlikely
    brain_scores = np.tile([0.1, 0.9], (40, 1))
    names = ["acl", "mass"]
    for labels, scores in ((knee, knee_scores), (brain, brain_scores)):
        assert diagnosis_score(finding_aurocs(labels, scores, names)) == 0.5
    pooled = finding_aurocs(np.vstack([knee, brain]), np.vstack([knee_scores, brain_scores]),
                            names)
    assert diagnosis_score(pooled) > 0.75
