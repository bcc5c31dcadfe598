"""Evaluation metrics: reconstruction quality (fastMRI definitions) and diagnosis metrics.

Reconstruction metrics take NumPy volumes ``[slices, H, W]`` (magnitude images) and follow
fastMRI's evaluation code: NMSE = ||gt - pred||^2 / ||gt||^2, PSNR and SSIM from scikit-image
with ``data_range = maxval`` (default ``gt.max()``, the volume maximum), SSIM computed per slice
and averaged. ``SSIMLoss`` is the differentiable training loss (7x7 uniform window).

Diagnosis metrics take labels ``[n]`` or ``[n, findings]`` (0/1) and scores of the same shape;
2-D inputs are evaluated per column (per finding).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from skimage.metrics import peak_signal_noise_ratio, structural_similarity
from sklearn.metrics import roc_auc_score, roc_curve
from torch import nn

# ---------------------------------------------------------------------------------------------
# Reconstruction


def _pair(gt: np.ndarray, pred: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    gt, pred = np.asarray(gt), np.asarray(pred)
    if gt.shape != pred.shape:
        raise ValueError(f"gt and pred shapes differ: {gt.shape} vs {pred.shape}")
    return gt, pred


def nmse(gt: np.ndarray, pred: np.ndarray) -> float:
    """Normalised mean squared error ``||gt - pred||^2 / ||gt||^2`` (any shape, computed in f64)."""
    gt, pred = _pair(gt, pred)
    gt64, pred64 = gt.astype(np.float64), pred.astype(np.float64)
    return float(np.sum((gt64 - pred64) ** 2) / np.sum(gt64**2))


def psnr(gt: np.ndarray, pred: np.ndarray, maxval: float | None = None) -> float:
    """Peak signal-to-noise ratio in dB: ``10 log10(maxval^2 / mean((gt - pred)^2))``.

    ``maxval`` defaults to ``gt.max()`` (fastMRI); inf when ``pred == gt``.
    """
    gt, pred = _pair(gt, pred)
    maxval = float(gt.max()) if maxval is None else float(maxval)
    return float(peak_signal_noise_ratio(gt, pred, data_range=maxval))


def ssim(gt: np.ndarray, pred: np.ndarray, maxval: float | None = None) -> float:
    """Mean over slices of scikit-image's SSIM (7x7 uniform window, sample covariance).

    ``gt`` and ``pred`` are ``[slices, H, W]`` (a single ``[H, W]`` image counts as one slice);
    ``maxval`` (the data range) defaults to the volume maximum ``gt.max()``.
    """
    gt, pred = _pair(gt, pred)
    if gt.ndim == 2:
        gt, pred = gt[None], pred[None]
    if gt.ndim != 3:
        raise ValueError(f"ssim expects volumes [slices, H, W], got shape {gt.shape}")
    maxval = float(gt.max()) if maxval is None else float(maxval)
    values = [structural_similarity(g, p, data_range=maxval) for g, p in zip(gt, pred, strict=True)]
    return float(np.mean(values))


class SSIMLoss(nn.Module):
    """``1 - mean SSIM`` between image batches, as fastMRI's training loss.

    Local statistics use a ``win_size x win_size`` uniform window without padding (only windows
    fully inside the image, like scikit-image after its border crop). Variances and covariance
    get the sample-covariance factor ``NP / (NP - 1)`` with ``NP = win_size^2``; constants are
    ``C1 = (k1 * L)^2`` and ``C2 = (k2 * L)^2`` with ``L`` the per-image data range.
    """

    def __init__(self, win_size: int = 7, k1: float = 0.01, k2: float = 0.03) -> None:
        super().__init__()
        self.win_size, self.k1, self.k2 = win_size, k1, k2
        self.register_buffer("window", torch.full((1, 1, win_size, win_size), 1.0 / win_size**2))
        num_pixels = win_size**2
        self.cov_norm = num_pixels / (num_pixels - 1)

    def forward(
        self,
        pred: torch.Tensor,
        target: torch.Tensor,
        data_range: torch.Tensor | float,
        reduced: bool = True,
    ) -> torch.Tensor:
        """``pred``, ``target``: ``[B, 1, H, W]``; ``data_range``: ``[B]`` (or a scalar).

        Returns the scalar ``1 - mean(SSIM map)``, or the map ``1 - SSIM``
        ``[B, 1, H - win + 1, W - win + 1]`` when ``reduced`` is False.
        """
        if pred.shape != target.shape or pred.ndim != 4 or pred.shape[1] != 1:
            raise ValueError(
                f"SSIMLoss expects pred and target [B, 1, H, W], got {tuple(pred.shape)} and "
                f"{tuple(target.shape)}"
            )
        window = self.window.to(dtype=pred.dtype)
        data_range = torch.as_tensor(data_range, dtype=pred.dtype, device=pred.device)
        data_range = data_range.reshape(-1, 1, 1, 1)
        c1 = (self.k1 * data_range) ** 2
        c2 = (self.k2 * data_range) ** 2

        mu_x, mu_y = F.conv2d(pred, window), F.conv2d(target, window)
        var_x = self.cov_norm * (F.conv2d(pred * pred, window) - mu_x * mu_x)
        var_y = self.cov_norm * (F.conv2d(target * target, window) - mu_y * mu_y)
        cov_xy = self.cov_norm * (F.conv2d(pred * target, window) - mu_x * mu_y)

        numerator = (2 * mu_x * mu_y + c1) * (2 * cov_xy + c2)
        denominator = (mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2)
        ssim_map = numerator / denominator
        return 1 - ssim_map.mean() if reduced else 1 - ssim_map


# ---------------------------------------------------------------------------------------------
# Diagnosis


def _check_labels(labels: np.ndarray, other: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    labels, other = np.asarray(labels), np.asarray(other)
    if labels.shape != other.shape or labels.ndim not in (1, 2):
        raise ValueError(
            f"labels and scores must have the same shape [n] or [n, findings], got "
            f"{labels.shape} and {other.shape}"
        )
    return labels, other


def _columnwise(
    fn: Callable[[np.ndarray, np.ndarray], float], labels: np.ndarray, other: np.ndarray
) -> float | np.ndarray:
    """Apply ``fn`` to 1-D inputs, or to each column of 2-D ``[n, findings]`` inputs."""
    labels, other = _check_labels(labels, other)
    if labels.ndim == 1:
        return fn(labels, other)
    return np.array([fn(labels[:, j], other[:, j]) for j in range(labels.shape[1])])


def _has_both_classes(labels: np.ndarray) -> bool:
    return np.unique(labels).size == 2


def _auroc_1d(labels: np.ndarray, scores: np.ndarray) -> float:
    # AUROC is the probability that a random positive outscores a random negative; with one
    # class only there are no such pairs and it is undefined, so nan (sklearn would raise).
    if not _has_both_classes(labels):
        return float("nan")
    return float(roc_auc_score(labels, scores))


def auroc(labels: np.ndarray, scores: np.ndarray) -> float | np.ndarray:
    """Area under the ROC curve: a float for ``[n]``, an array ``[findings]`` for 2-D input.

    nan where the labels contain a single class (see ``_auroc_1d``).
    """
    return _columnwise(_auroc_1d, labels, scores)


#: the finding that means "any finding on the slice": reported apart, never in the score
ANY_FINDING = "any"


def finding_aurocs(
    labels: np.ndarray, scores: np.ndarray, findings: Sequence[str]
) -> dict[str, float]:
    """Per-finding AUROC ``{finding: value}`` of ``[n, findings]`` labels and scores; nan for
    a finding with one class only in this set (absent, or on every slice)."""
    values = np.atleast_1d(auroc(labels, scores))
    if len(values) != len(findings):
        raise ValueError(f"{len(findings)} finding names for {len(values)} columns")
    return {f: float(v) for f, v in zip(findings, values, strict=True)}


def diagnosis_score(per_finding: Mapping[str, float]) -> float:
    """The study's one diagnosis score of an evaluation set of one distribution.

    The mean, over that set's own findings, of per-finding AUROC: findings absent from the set
    (nan, one class only) are left out, and ``any`` is never averaged in (it is reported on its
    own). Used for the objective (averaged over the training distributions, each on its own
    validation split), the in-distribution reference, the best checkpoint and every test set,
    so a model that only tells the anatomy apart scores 0.5 on every set. nan when no finding
    of the set has both classes.
    """
    values = [v for f, v in per_finding.items() if f != ANY_FINDING and np.isfinite(v)]
    return float(np.mean(values)) if values else float("nan")


def accuracy(labels: np.ndarray, scores: np.ndarray, threshold: float = 0.5) -> float | np.ndarray:
    """Fraction of samples where ``(scores >= threshold) == labels`` (per column for 2-D)."""

    def _acc(lab: np.ndarray, sc: np.ndarray) -> float:
        return float(np.mean((sc >= threshold) == (lab > 0.5)))

    return _columnwise(_acc, labels, scores)


def threshold_at_sensitivity(
    labels: np.ndarray, scores: np.ndarray, min_sensitivity: float = 0.9
) -> float | np.ndarray:
    """Operating threshold: the first ROC point whose false-negative rate is below
    ``1 - min_sensitivity`` (Madaan et al.; choose it on validation data).

    ROC points come from ``sklearn.metrics.roc_curve`` (default ``drop_intermediate``, as the
    authors) in order of decreasing threshold, so this is the highest such threshold whose
    sensitivity exceeds ``min_sensitivity`` (or equals it, see the 0.9 note below). Apply it as
    ``scores >= threshold`` to reproduce that ROC point (the authors' code used ``>``, which
    drops the samples scoring exactly the threshold). nan for a column with one class only.
    """
    if not 0.0 <= min_sensitivity < 1.0:
        raise ValueError(f"min_sensitivity must lie in [0, 1), got {min_sensitivity}")
    # The reference tests "1 - tpr < 0.1" with a literal 0.1. 1 - 0.9 evaluates to
    # 0.09999999999999998, so there a sensitivity of exactly 0.9 passes. Rounding keeps the
    # bound at the literal 0.1 (not 0.0999...98) so the default reproduces that behaviour.
    max_fnr = round(1.0 - min_sensitivity, 12)

    def _threshold(lab: np.ndarray, sc: np.ndarray) -> float:
        if not _has_both_classes(lab):
            return float("nan")
        _, tpr, thresholds = roc_curve(lab, sc)
        return float(thresholds[(1.0 - tpr) < max_fnr][0])

    return _columnwise(_threshold, labels, scores)


def _sens_spec_1d(labels: np.ndarray, preds: np.ndarray) -> tuple[float, float]:
    pos, pred_pos = labels > 0.5, preds > 0.5
    n_pos, n_neg = int(pos.sum()), int((~pos).sum())
    # nan rather than sklearn's 0 when a class is absent: the rate is undefined, not zero.
    sens = float((pos & pred_pos).sum() / n_pos) if n_pos else float("nan")
    spec = float((~pos & ~pred_pos).sum() / n_neg) if n_neg else float("nan")
    return sens, spec


def sensitivity_specificity(
    labels: np.ndarray, preds: np.ndarray
) -> tuple[float, float] | tuple[np.ndarray, np.ndarray]:
    """``(TP / (TP + FN), TN / (TN + FP))`` from 0/1 labels and 0/1 predictions.

    For 2-D inputs returns two arrays ``[findings]``; nan where a class is absent.
    """
    labels, preds = _check_labels(labels, preds)
    if labels.ndim == 1:
        return _sens_spec_1d(labels, preds)
    pairs = [_sens_spec_1d(labels[:, j], preds[:, j]) for j in range(labels.shape[1])]
    return np.array([p[0] for p in pairs]), np.array([p[1] for p in pairs])


def balanced_accuracy(labels: np.ndarray, preds: np.ndarray) -> float | np.ndarray:
    """Mean of sensitivity and specificity (per column for 2-D inputs)."""
    sens, spec = sensitivity_specificity(labels, preds)
    result = (np.asarray(sens) + np.asarray(spec)) / 2
    return float(result) if result.ndim == 0 else result
