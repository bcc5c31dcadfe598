"""Hierarchical bootstrap over seeds and test volumes (patients), paired across arms.

A confirm trial's score on a test set varies with two things the study did not fix: the seed
it trained with and the patients that happened to be in the test split. Both are resampled
(Saravanan, Berman and Sober 2020), as a crossed design, since every seed of every arm is
evaluated on the same volumes:

- **volumes**: for each test distribution, each replicate draws its volumes with replacement
  (a multinomial count per volume); every slice of a volume carries its volume's count as its
  weight. The same draw serves every arm, seed, shift and severity, so differences between
  arms, and between a clean set and its shifted copies, are paired on identical slices;
- **seeds**: for each arm, each replicate draws its confirm trials with replacement, and an
  arm's value is the mean over the drawn trials.

Replicate 0 is the data as observed (every weight 1, every trial once), so one code path gives
the estimate (row 0) and the interval (percentiles of rows 1..B). With k seeds the seed level
is resampled from k values only: with k = 3 the interval understates seed-to-seed spread
somewhat (a bootstrap of n values has variance (n - 1)/n of the sample's).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd


def nanmean(values, axis: int = 0) -> np.ndarray:
    """``np.nanmean`` that returns NaN quietly where every value is NaN."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(np.asarray(values, dtype=np.float64), axis=axis)


@dataclass(frozen=True)
class Resampling:
    """``n_boot`` replicates plus the observed data (row 0).

    ``volumes[d]``: the volume ids of test distribution ``d`` (column order of
    ``volume_weights[d]``, ``[n_boot + 1, V_d]``); ``arm_trials[a]``: arm ``a``'s trial ids (the
    column order of ``seed_picks[a]``, ``[n_boot + 1, k_a]`` indices into that list).
    """

    volumes: Mapping[str, Sequence[str]]
    volume_weights: Mapping[str, np.ndarray]
    arm_trials: Mapping[str, Sequence[str]]
    seed_picks: Mapping[str, np.ndarray]

    @property
    def replicates(self) -> int:
        """Rows of every array: the observed data and the bootstrap replicates."""
        return next(iter(self.volume_weights.values())).shape[0]

    def slice_weights(self, distribution: str, volume_ids: Sequence[str]) -> np.ndarray:
        """``[replicates, n]`` weight of each of ``n`` slices (its volume's count)."""
        index = {v: i for i, v in enumerate(self.volumes[distribution])}
        columns = np.fromiter((index[v] for v in volume_ids), dtype=np.int64,
                              count=len(volume_ids))
        return self.volume_weights[distribution][:, columns]

    def arm_mean(self, arm: str, per_trial: Mapping[str, np.ndarray]) -> np.ndarray:
        """``[replicates]``: the mean over the arm's drawn trials of each trial's value in that
        replicate (``per_trial[trial_id]`` is ``[replicates]``; NaN where a drawn trial has
        none)."""
        stacked = np.stack([per_trial[t] for t in self.arm_trials[arm]])  # [k, R]
        picks = self.seed_picks[arm]  # [R, k]
        drawn = stacked[picks, np.arange(stacked.shape[1])[:, None]]  # [R, k]
        return nanmean(np.where(np.isfinite(drawn), drawn, np.nan), axis=1)


def make_resampling(volumes: Mapping[str, Sequence[str]], arm_trials: Mapping[str, Sequence[str]],
                    n_boot: int = 1000, seed: int = 0) -> Resampling:
    """Draw ``n_boot`` replicates of volumes (per test distribution) and seeds (per arm)."""
    rng = np.random.default_rng(seed)
    weights, picks = {}, {}
    for dist in sorted(volumes):
        n = len(volumes[dist])
        draws = rng.multinomial(n, np.full(n, 1.0 / n), size=n_boot).astype(np.float64)
        weights[dist] = np.vstack([np.ones((1, n)), draws])
    for arm in sorted(arm_trials):
        k = len(arm_trials[arm])
        picks[arm] = np.vstack([np.arange(k)[None, :], rng.integers(0, k, size=(n_boot, k))])
    return Resampling({d: list(v) for d, v in volumes.items()}, weights,
                      {a: list(t) for a, t in arm_trials.items()}, picks)


def weighted_auroc(labels: np.ndarray, scores: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """AUROC of ``[n]`` labels (0/1) and scores under each row of ``weights`` ``[R, n]``:
    the weighted probability that a positive outscores a negative, ties counting one half.
    NaN in a row whose positives or negatives all have weight 0. With unit weights it is the
    usual AUROC (``sklearn.metrics.roc_auc_score``)."""
    order = np.argsort(scores, kind="mergesort")
    ranked = np.asarray(scores)[order]
    positive = np.asarray(labels)[order].astype(bool)
    w = np.asarray(weights, dtype=np.float64)[:, order]
    starts = np.flatnonzero(np.r_[True, ranked[1:] != ranked[:-1]])  # groups of tied scores
    pos = np.add.reduceat(np.where(positive, w, 0.0), starts, axis=1)
    neg = np.add.reduceat(np.where(positive, 0.0, w), starts, axis=1)
    below = np.cumsum(neg, axis=1) - neg
    pairs = pos.sum(axis=1) * neg.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(pairs > 0, (pos * (below + 0.5 * neg)).sum(axis=1) / pairs, np.nan)


def weighted_mean(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """``[R]`` weighted mean of ``[n]`` values under ``[R, n]`` weights."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return weights @ np.asarray(values, dtype=np.float64) / weights.sum(axis=1)


def interval(replicates: np.ndarray, confidence: float = 0.95) -> dict[str, float]:
    """``{'estimate', 'ci_low', 'ci_high'}`` of a ``[R]`` array: row 0 and the percentile
    interval of the finite rows 1.. (NaN when fewer than 10 are finite)."""
    estimate = float(replicates[0])
    boot = replicates[1:][np.isfinite(replicates[1:])]
    if boot.size < 10:
        return {"estimate": estimate, "ci_low": np.nan, "ci_high": np.nan}
    alpha = (1.0 - confidence) / 2.0
    low, high = np.quantile(boot, [alpha, 1.0 - alpha])
    return {"estimate": estimate, "ci_low": float(low), "ci_high": float(high)}


def volume_table(samples: pd.DataFrame) -> dict[str, list[str]]:
    """Test distribution -> its volume ids, from per-sample rows (``distribution``,
    ``volume``)."""
    pairs = samples[["distribution", "volume"]].drop_duplicates()
    return {str(d): sorted(map(str, g["volume"])) for d, g in pairs.groupby("distribution")}
