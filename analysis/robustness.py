"""Effective robustness and distributional overfitting.

**OOD value of a trial** (at one iteration): the mean of its metric over its OOD sets of the
chosen ``kind`` (``'distribution'``: clean sets of distributions it did not train on; a shift
name: that shift at every severity; None: every OOD set), next to its ID reference
(:func:`analysis.gaps.id_reference`). :func:`default_ood_kind` picks natural distribution
shifts for reconstruction studies (the data-diversity question) and every OOD set for
diagnosis studies (the input-shift question).

**Effective robustness** (Taori et al., 2020): across all trials, OOD value against ID value
lies close to a baseline trend; a model is effectively robust when it lies above it. The
baseline is a least-squares line fitted to all trials' points after a logit transform of both
axes for metrics bounded in [0, 1] (AUROC, SSIM; values clipped to [1e-4, 1 - 1e-4]) and on
the raw values otherwise (PSNR, NMSE): ``T(ood) = a + b T(id)``. A trial's effective robustness
is its residual in metric units, ``ood - T^-1(a + b T(id))`` (sign flipped for lower-is-better
metrics, so positive is more robust); a group's is the mean over its trials with a bootstrap
CI. The baseline here is fitted to the study's own trials (there is no external model zoo),
so effective robustness says which groups are more robust than the study's trend at equal ID
performance.

**Distributional overfitting** (Lin and Heckel, 2024): per trial, its ID and OOD values at
every iteration; the iteration where each peaks (best value; the earliest on ties); and the
**OOD drop** ``ood(peak) - ood(final)`` (sign flipped for lower-is-better metrics): how much
OOD quality the trial lost by training past its OOD peak.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats as sps

from analysis.experiment import Experiment
from analysis.gaps import DISTRIBUTION, higher_is_better, ood_gaps
from analysis.stats import DEFAULT_BOOTSTRAP, BootstrapSettings, expit, logit, summarize
from analysis.tables import is_validation
from analysis.trials import metrics_at, with_groups

BOUNDED_PREFIXES = ("auroc", "ssim", "accuracy")


def default_ood_kind(exp: Experiment) -> str | None:
    """``'distribution'`` for reconstruction studies that evaluated other distributions,
    None (every OOD set) otherwise."""
    if exp.task == "recon":
        rows = exp.metrics
        if ((rows["shift"] == "none") & ~rows["in_distribution"]
                & ~is_validation(rows["eval_set"])).any():
            return DISTRIBUTION
    return None


def describe_kind(kind: str | None) -> str:
    """Words for captions: which OOD sets the OOD value averages."""
    if kind is None:
        return "every OOD test set, shifted or from another distribution"
    if kind == DISTRIBUTION:
        return "clean test sets of distributions not trained on"
    return f"test sets under {kind} (all severities)"


def id_ood_values(rows: pd.DataFrame, metric: str, kind: str | None) -> pd.DataFrame:
    """ID reference and mean OOD value per (trial, iteration) from metric ``rows``.

    Columns ``trial_id, iteration, id_value, ood_value, n_ood_sets``; iterations with no OOD
    set of that kind are absent.
    """
    gaps = ood_gaps(rows, metric)
    if kind is not None:
        gaps = gaps[gaps["condition"] == kind]
    columns = ["trial_id", "iteration", "id_value", "ood_value", "n_ood_sets"]
    if gaps.empty:
        return pd.DataFrame(columns=columns)
    out = gaps.groupby(["trial_id", "iteration"]).agg(
        id_value=("id_value", "first"),
        ood_value=("value", "mean"),
        n_ood_sets=("value", "size"),
    )
    return out.reset_index()[columns]


def is_bounded(metric: str) -> bool:
    """True for metrics in [0, 1] (AUROC, SSIM, accuracy), which the baseline fits in logit
    space."""
    return metric.startswith(BOUNDED_PREFIXES)


@dataclass(frozen=True)
class Baseline:
    """The fitted trend ``T(ood) = intercept + slope * T(id)`` with ``T`` logit or identity."""

    slope: float
    intercept: float
    transform: str
    n: int
    r: float

    def predict(self, id_value: np.ndarray | float) -> np.ndarray:
        """Baseline OOD value (metric units) at ``id_value``."""
        forward = logit if self.transform == "logit" else np.asarray
        inverse = expit if self.transform == "logit" else np.asarray
        return inverse(self.intercept + self.slope * forward(np.asarray(id_value, float)))

    def describe(self) -> str:
        """One line for captions and tables."""
        t = "logit" if self.transform == "logit" else ""
        return (f"{t}(OOD) = {self.intercept:.3f} + {self.slope:.3f} {t}(ID), "
                f"fitted on {self.n} trials (r = {self.r:.2f})")


def fit_baseline(id_value: np.ndarray, ood_value: np.ndarray, metric: str) -> Baseline | None:
    """Least-squares baseline over the finite (ID, OOD) pairs (see the module docstring);
    None when fewer than 3 pairs or all ID values are equal."""
    x, y = np.asarray(id_value, float), np.asarray(ood_value, float)
    keep = np.isfinite(x) & np.isfinite(y)
    x, y = x[keep], y[keep]
    if x.size < 3 or np.ptp(x) == 0:
        return None
    transform = "logit" if is_bounded(metric) else "identity"
    if transform == "logit":
        x, y = logit(x), logit(y)
        if np.ptp(x) == 0:
            return None
    fit = sps.linregress(x, y)
    r = float(fit.rvalue) if np.isfinite(fit.rvalue) else float("nan")
    return Baseline(float(fit.slope), float(fit.intercept), transform, int(x.size), r)


@dataclass
class EffectiveRobustness:
    """Result of :func:`effective_robustness`: ``per_trial`` (``trial_id, group, id_value,
    ood_value, baseline, effective_robustness``), ``per_group`` (mean with CI), the
    ``baseline`` (None when it could not be fitted) and a ``note`` on what was used."""

    per_trial: pd.DataFrame
    per_group: pd.DataFrame
    baseline: Baseline | None
    metric: str
    kind: str | None
    note: str


def effective_robustness(
    exp: Experiment,
    at: str = "best",
    metric: str | None = None,
    kind: str | None = "default",
    settings: BootstrapSettings = DEFAULT_BOOTSTRAP,
) -> EffectiveRobustness:
    """Effective robustness of every trial and group (see the module docstring).

    ``kind='default'`` uses :func:`default_ood_kind`.
    """
    metric = metric or exp.main_metric
    kind = default_ood_kind(exp) if kind == "default" else kind
    points = with_groups(exp, id_ood_values(metrics_at(exp, at), metric, kind))
    baseline = fit_baseline(points["id_value"], points["ood_value"], metric)
    sign = 1.0 if higher_is_better(metric) else -1.0
    if baseline is None:
        points["baseline"] = np.nan
        note = f"no baseline: {len(points)} trial(s) with ID and OOD values (need 3 with " \
               "different ID values)"
    else:
        points["baseline"] = baseline.predict(points["id_value"].to_numpy(float))
        note = f"baseline {baseline.describe()}; OOD = {describe_kind(kind)}"
    points["effective_robustness"] = sign * (points["ood_value"] - points["baseline"])
    per_group = summarize(points, ["group"], "effective_robustness", settings)
    return EffectiveRobustness(points, per_group, baseline, metric, kind, note)


# ------------------------------------------------------------------ distributional overfitting
def training_curves(
    exp: Experiment, metric: str | None = None, kind: str | None = "default"
) -> pd.DataFrame:
    """ID and OOD value of every trial at every iteration it reported.

    Columns ``trial_id, group, iteration, id_value, ood_value, n_ood_sets``.
    """
    metric = metric or exp.main_metric
    kind = default_ood_kind(exp) if kind == "default" else kind
    rows = exp.metrics
    rows = rows[rows["metric"] == metric]
    return with_groups(exp, id_ood_values(rows, metric, kind))


def over_epochs(curves: pd.DataFrame) -> pd.DataFrame:
    """The curves of trials with ID and OOD values at two epochs or more: a trial scored once
    (a study that evaluates its test sets only at the best epoch) has no order of peaks."""
    both = curves.dropna(subset=["id_value", "ood_value"])
    counts = both.groupby("trial_id")["iteration"].nunique()
    return curves[curves["trial_id"].isin(counts.index[counts >= 2])]


def overfitting_table(curves: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Per trial: peak iteration and value of the ID and OOD curves, final values, the OOD
    drop after the OOD peak, and whether OOD peaked before ID (see the module docstring)."""
    columns = ["trial_id", "group", "iterations", "id_peak_iteration", "id_peak", "id_final",
               "ood_peak_iteration", "ood_peak", "ood_final", "ood_drop", "ood_peaks_first",
               "ood_lead"]
    rows = []
    best = np.nanargmax if higher_is_better(metric) else np.nanargmin
    sign = 1.0 if higher_is_better(metric) else -1.0
    for (trial, group), curve in over_epochs(curves).groupby(["trial_id", "group"], sort=True):
        curve = curve.sort_values("iteration")
        it = curve["iteration"].to_numpy()
        idv, ood = curve["id_value"].to_numpy(float), curve["ood_value"].to_numpy(float)
        row = {"trial_id": trial, "group": group, "iterations": int(it.max())}
        for name, values in (("id", idv), ("ood", ood)):
            finite = np.isfinite(values)
            if finite.any():
                k = int(best(np.where(finite, values, np.nan)))
                row[f"{name}_peak_iteration"], row[f"{name}_peak"] = int(it[k]), values[k]
            else:
                row[f"{name}_peak_iteration"], row[f"{name}_peak"] = np.nan, np.nan
            row[f"{name}_final"] = values[-1]
        row["ood_drop"] = sign * (row["ood_peak"] - row["ood_final"])
        row["ood_peaks_first"] = bool(row["ood_peak_iteration"] < row["id_peak_iteration"])
        row["ood_lead"] = row["id_peak_iteration"] - row["ood_peak_iteration"]
        rows.append(row)
    return pd.DataFrame(rows, columns=columns)


def summarize_overfitting(
    table: pd.DataFrame, settings: BootstrapSettings = DEFAULT_BOOTSTRAP
) -> pd.DataFrame:
    """Per group: mean OOD drop and mean OOD lead (ID peak iteration minus OOD peak
    iteration: positive when OOD peaks first) with bootstrap CIs over trials (the confirm
    seeds, when the table holds confirm trials only), mean ID and OOD peak iterations, and the
    share of trials whose OOD value peaked before their ID value."""
    summary = summarize(table, ["group"], "ood_drop", settings)
    if summary.empty:
        return summary
    lead = summarize(table, ["group"], "ood_lead", settings)
    summary = summary.merge(lead[["group", "mean", "ci_low", "ci_high"]].rename(columns={
        "mean": "ood_lead", "ci_low": "ood_lead_ci_low", "ci_high": "ood_lead_ci_high"}),
        on="group", how="left")
    extra = table.groupby("group").agg(
        id_peak_iteration=("id_peak_iteration", "mean"),
        ood_peak_iteration=("ood_peak_iteration", "mean"),
        share_ood_peaks_first=("ood_peaks_first", "mean"),
    )
    return summary.merge(extra.reset_index(), on="group", how="left")
