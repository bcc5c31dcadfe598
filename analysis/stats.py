"""Statistics the analysis shares: bootstrap intervals of a mean, logit, correlations.

Every interval is a bootstrap interval from :func:`scipy.stats.bootstrap` over the unit the
question is about (trials for OOD gaps, (mixture, test set) pairs for correlations), with the
settings in :class:`BootstrapSettings`, so a report states one method for all its intervals.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import special, stats

LOGIT_EPS = 1e-4


@dataclass(frozen=True)
class BootstrapSettings:
    """How intervals are computed: ``confidence`` level, ``n_resamples`` bootstrap samples,
    ``method`` (``'percentile'``, ``'basic'`` or ``'BCa'``, as :func:`scipy.stats.bootstrap`)
    and ``seed`` of the resampling (fixed, so a report is reproducible)."""

    confidence: float = 0.95
    n_resamples: int = 2000
    method: str = "percentile"
    seed: int = 0

    def describe(self) -> str:
        """One line for captions: ``'95% percentile bootstrap CI (2000 resamples)'``."""
        return (
            f"{self.confidence:.0%} {self.method} bootstrap CI ({self.n_resamples} resamples)"
        )


DEFAULT_BOOTSTRAP = BootstrapSettings()


def finite(values: Iterable[float]) -> np.ndarray:
    """The finite entries of ``values`` as a float array (NaN and Inf dropped)."""
    array = np.asarray(list(values) if not isinstance(values, np.ndarray) else values, float)
    return array[np.isfinite(array)]


def mean_ci(values: Iterable[float], settings: BootstrapSettings = DEFAULT_BOOTSTRAP) -> dict:
    """Mean of the finite ``values`` with a bootstrap confidence interval of the mean.

    Returns ``{'mean', 'ci_low', 'ci_high', 'n', 'note'}`` where ``n`` counts the finite values.
    With no values every number is NaN; with one value the interval is NaN and ``note`` says
    so (one trial cannot show its spread); when all values are equal the interval is that
    value (every resample has the same mean).
    """
    x = finite(values)
    n = int(x.size)
    if n == 0:
        return {"mean": np.nan, "ci_low": np.nan, "ci_high": np.nan, "n": 0, "note": "no values"}
    mean = float(x.mean())
    if n == 1:
        note = "single value: no interval"
        return {"mean": mean, "ci_low": np.nan, "ci_high": np.nan, "n": 1, "note": note}
    if np.ptp(x) == 0:
        return {"mean": mean, "ci_low": mean, "ci_high": mean, "n": n, "note": "all values equal"}
    low, high = _bootstrap_interval((x,), _mean_statistic, settings, paired=False)
    note = "" if np.isfinite(low) else "interval undefined"
    return {"mean": mean, "ci_low": low, "ci_high": high, "n": n, "note": note}


def _mean_statistic(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """Vectorised mean for :func:`scipy.stats.bootstrap`."""
    return np.mean(x, axis=axis)


def _bootstrap_interval(
    data: tuple[np.ndarray, ...],
    statistic,
    settings: BootstrapSettings,
    paired: bool,
    vectorized: bool = True,
) -> tuple[float, float]:
    """(low, high) of :func:`scipy.stats.bootstrap`; warnings about degenerate resamples are
    silenced (the caller reports NaN intervals itself)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = stats.bootstrap(
            data,
            statistic,
            n_resamples=settings.n_resamples,
            confidence_level=settings.confidence,
            method=settings.method,
            paired=paired,
            vectorized=vectorized,
            rng=np.random.default_rng(settings.seed),
        )
    return float(result.confidence_interval.low), float(result.confidence_interval.high)


def summarize(
    frame: pd.DataFrame,
    by: Sequence[str],
    value: str,
    settings: BootstrapSettings = DEFAULT_BOOTSTRAP,
) -> pd.DataFrame:
    """Per group of ``by``: :func:`mean_ci` of column ``value`` (one row per group).

    Each row of ``frame`` is one unit of the bootstrap (e.g. one trial), so callers aggregate
    to that unit first.
    """
    columns = [*by, "mean", "ci_low", "ci_high", "n", "note"]
    if frame.empty:
        return pd.DataFrame(columns=columns)
    rows = []
    for key, group in frame.groupby(list(by), sort=True, dropna=False):
        key = key if isinstance(key, tuple) else (key,)
        rows.append({**dict(zip(by, key, strict=True)), **mean_ci(group[value], settings)})
    return pd.DataFrame(rows, columns=columns)


def logit(p: np.ndarray | float, eps: float = LOGIT_EPS) -> np.ndarray:
    """``log(p / (1 - p))`` with ``p`` clipped to ``[eps, 1 - eps]`` (so 0 and 1 stay finite)."""
    return special.logit(np.clip(np.asarray(p, float), eps, 1.0 - eps))


def expit(z: np.ndarray | float) -> np.ndarray:
    """Inverse of :func:`logit`: ``1 / (1 + exp(-z))``."""
    return special.expit(np.asarray(z, float))


def correlation(
    x: Iterable[float], y: Iterable[float], settings: BootstrapSettings = DEFAULT_BOOTSTRAP
) -> dict:
    """Pearson and Spearman correlation of paired values, with confidence intervals.

    Pairs with a non-finite member are dropped. Pearson's ``r`` comes with the interval of
    :meth:`scipy.stats.PearsonRResult.confidence_interval` (Fisher's z transform, needs
    n >= 4); Spearman's ``rho`` (Pearson's r of the ranks) with a paired bootstrap interval.
    Fewer than 3 pairs, or a constant variable, give NaN and a ``note`` saying why.
    """
    xa, ya = np.asarray(list(x), float), np.asarray(list(y), float)
    keep = np.isfinite(xa) & np.isfinite(ya)
    xa, ya = xa[keep], ya[keep]
    n = int(xa.size)
    out = {
        "n": n,
        "pearson_r": np.nan, "pearson_p": np.nan, "pearson_ci_low": np.nan,
        "pearson_ci_high": np.nan, "spearman_rho": np.nan, "spearman_p": np.nan,
        "spearman_ci_low": np.nan, "spearman_ci_high": np.nan, "note": "",
    }
    if n < 3:
        out["note"] = f"{n} pair(s): too few for a correlation (need 3)"
        return out
    if np.ptp(xa) == 0 or np.ptp(ya) == 0:
        out["note"] = "a variable is constant: correlation undefined"
        return out
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pearson = stats.pearsonr(xa, ya)
        spearman = stats.spearmanr(xa, ya)
    out.update(pearson_r=float(pearson.statistic), pearson_p=float(pearson.pvalue),
               spearman_rho=float(spearman.statistic), spearman_p=float(spearman.pvalue))
    notes = []
    if n >= 4:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ci = pearson.confidence_interval(confidence_level=settings.confidence)
        out.update(pearson_ci_low=float(ci.low), pearson_ci_high=float(ci.high))
    else:
        notes.append("Pearson interval needs n >= 4")
    low, high = _bootstrap_interval(
        (xa, ya), _spearman_statistic, settings, paired=True, vectorized=True
    )
    out.update(spearman_ci_low=low, spearman_ci_high=high)
    if not np.isfinite(low):
        notes.append("Spearman interval undefined (degenerate resamples)")
    out["note"] = "; ".join(notes)
    return out


def _spearman_statistic(x: np.ndarray, y: np.ndarray, axis: int = -1) -> np.ndarray:
    """Spearman's rho along ``axis``: Pearson's r of average ranks (NaN for a constant
    resample), vectorised over the leading axes for :func:`scipy.stats.bootstrap`."""
    rx = stats.rankdata(x, axis=axis)
    ry = stats.rankdata(y, axis=axis)
    rx = rx - rx.mean(axis=axis, keepdims=True)
    ry = ry - ry.mean(axis=axis, keepdims=True)
    num = (rx * ry).sum(axis=axis)
    den = np.sqrt((rx * rx).sum(axis=axis) * (ry * ry).sum(axis=axis))
    with np.errstate(invalid="ignore", divide="ignore"):
        return num / den


def intervals_overlap(a: tuple[float, float], b: tuple[float, float]) -> bool | None:
    """True when the closed intervals ``a`` and ``b`` share a point; None if either is NaN."""
    if not all(np.isfinite(v) for v in (*a, *b)):
        return None
    return bool(a[0] <= b[1] and b[0] <= a[1])


def difference_ci(
    a: Iterable[float], b: Iterable[float], settings: BootstrapSettings = DEFAULT_BOOTSTRAP
) -> dict:
    """``mean(a) - mean(b)`` of two independent samples with a bootstrap CI (each sample
    resampled on its own). Returns ``{'difference', 'ci_low', 'ci_high', 'n_a', 'n_b',
    'note'}``; the interval is NaN when a sample has fewer than 2 finite values."""
    xa, xb = finite(a), finite(b)
    out = {"difference": np.nan, "ci_low": np.nan, "ci_high": np.nan,
           "n_a": int(xa.size), "n_b": int(xb.size), "note": ""}
    if xa.size == 0 or xb.size == 0:
        out["note"] = "a side has no values"
        return out
    out["difference"] = float(xa.mean() - xb.mean())
    if xa.size < 2 or xb.size < 2:
        out["note"] = "a side has a single value: no interval"
        return out
    if np.ptp(xa) == 0 and np.ptp(xb) == 0:
        out.update(ci_low=out["difference"], ci_high=out["difference"], note="all values equal")
        return out
    low, high = _bootstrap_interval((xa, xb), _difference_statistic, settings, paired=False)
    out.update(ci_low=low, ci_high=high)
    return out


def _difference_statistic(a: np.ndarray, b: np.ndarray, axis: int = -1) -> np.ndarray:
    """Vectorised ``mean(a) - mean(b)`` for :func:`scipy.stats.bootstrap`."""
    return np.mean(a, axis=axis) - np.mean(b, axis=axis)
