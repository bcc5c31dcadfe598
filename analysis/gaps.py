"""Out-of-distribution gaps: per trial, per group, per shift and severity.

Definitions (all per trial, at one iteration of that trial, both sides at the same iteration):

- **ID reference** ``id_value``: the mean of the metric over the trial's clean in-distribution
  test sets (rows with ``in_distribution``, ``shift == 'none'``, not a validation set); a
  trial with no such set (e.g. only validation sets are in-distribution) uses the mean over
  its clean validation sets instead, and ``id_source`` says which.
- **OOD set**: a test set that is shifted (``shift != 'none'``, any distribution) or from a
  distribution the trial did not train on. Its ``condition`` is the shift's name, or
  ``'distribution'`` for a clean other-distribution set.
- **OOD gap** ``gap = id_value - value`` for metrics where higher is better (AUROC, SSIM,
  PSNR) and ``value - id_value`` where lower is better (NMSE), so a positive gap always means
  the model is worse out of distribution.
- **Iteration**: ``'best'`` is the iteration where the trial's objective (validation metric)
  peaked, ``'final'`` its last reported iteration.
- **Group summary**: each trial's gaps are first averaged within the cell being summarised
  (e.g. over the test sets of one shift and severity, or over every OOD set for the overall
  gap), then the trials' values are averaged with a bootstrap confidence interval over trials
  (:func:`analysis.stats.mean_ci`). The group's **best tuned configuration** is its trial with
  the best objective (:func:`analysis.trials.best_trials`); its row has one trial, so no
  interval.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from analysis.experiment import Experiment
from analysis.stats import DEFAULT_BOOTSTRAP, BootstrapSettings, mean_ci
from analysis.tables import is_validation
from analysis.trials import best_trials, metrics_at

LOWER_IS_BETTER = ("nmse", "loss")
DISTRIBUTION = "distribution"
ALL_TRIALS = "all trials"
BEST_CONFIG = "best configuration"
GAP_COLUMNS = [
    "trial_id", "group", "iteration", "eval_set", "shift", "severity", "condition", "metric",
    "id_value", "id_source", "value", "gap",
]


def higher_is_better(metric: str) -> bool:
    """False for error-like metrics (``nmse``, losses), True otherwise (AUROC, SSIM, PSNR)."""
    return not any(metric.startswith(name) or metric.endswith(name) for name in LOWER_IS_BETTER)


def is_ood(rows: pd.DataFrame) -> pd.Series:
    """True for OOD rows: test sets (not validation) that are shifted or not trained on."""
    return ~is_validation(rows["eval_set"]) & ((rows["shift"] != "none") | ~rows["in_distribution"])


def condition(rows: pd.DataFrame) -> pd.Series:
    """The shift's name for shifted rows, ``'distribution'`` for clean other-distribution rows."""
    return rows["shift"].where(rows["shift"] != "none", DISTRIBUTION)


def id_reference(rows: pd.DataFrame, metric: str) -> pd.DataFrame:
    """ID reference per (trial, iteration): ``id_value`` and ``id_source`` ('test' or 'val').

    ``id_value`` is the mean ``metric`` over the clean in-distribution test sets, or over the
    clean validation sets when the trial has none (see the module docstring).
    """
    rows = rows[(rows["metric"] == metric) & (rows["shift"] == "none")]
    val = is_validation(rows["eval_set"])
    keys = ["trial_id", "iteration"]
    test = rows[rows["in_distribution"] & ~val].groupby(keys)["value"].mean().rename("test")
    valid = rows[val].groupby(keys)["value"].mean().rename("val")
    both = pd.concat([test, valid], axis=1)
    if both.empty:
        return pd.DataFrame(columns=[*keys, "id_value", "id_source"])
    use_test = both["test"].notna()
    out = pd.DataFrame({
        "id_value": both["test"].where(use_test, both["val"]),
        "id_source": np.where(use_test, "test", "val"),
    })
    return out.reset_index()


def ood_gaps(rows: pd.DataFrame, metric: str) -> pd.DataFrame:
    """One row per (trial, iteration, OOD set) with the ID reference, the OOD value and the
    gap (see the module docstring). ``rows`` are metric rows (e.g. from
    :func:`analysis.trials.metrics_at`); a ``group`` column is carried along if present."""
    if rows.empty:
        return pd.DataFrame(columns=GAP_COLUMNS)
    reference = id_reference(rows, metric)
    ood = rows[(rows["metric"] == metric) & is_ood(rows)].copy()
    ood["condition"] = condition(ood)
    ood = ood.merge(reference, on=["trial_id", "iteration"], how="left")
    sign = 1.0 if higher_is_better(metric) else -1.0
    ood["gap"] = sign * (ood["id_value"] - ood["value"])
    if "group" not in ood:
        ood["group"] = ""
    return ood[GAP_COLUMNS].reset_index(drop=True)


def trial_gaps(exp: Experiment, at: str = "best", metric: str | None = None) -> pd.DataFrame:
    """:func:`ood_gaps` of every trial at its ``'best'`` or ``'final'`` iteration."""
    return ood_gaps(metrics_at(exp, at), metric or exp.main_metric)


def per_trial(gaps: pd.DataFrame, by: Sequence[str], value: str = "gap") -> pd.DataFrame:
    """Each trial's mean ``value`` within each cell of ``by`` (its unit for the bootstrap)."""
    keys = ["group", "trial_id", *by]
    return gaps.groupby(keys, sort=True, dropna=False)[value].mean().reset_index()


def summarize_gaps(
    exp: Experiment,
    gaps: pd.DataFrame,
    by: Sequence[str] = ("condition", "severity"),
    settings: BootstrapSettings = DEFAULT_BOOTSTRAP,
    value: str = "gap",
) -> pd.DataFrame:
    """Per group and cell of ``by``: the mean over all its trials with a bootstrap CI
    (``selection='all trials'``), and the value of its best tuned configuration
    (``selection='best configuration'``, ``trial_id`` named, no interval).

    ``by=()`` gives each group's overall gap (every OOD set of a trial averaged first).
    Columns: ``group, *by, selection, mean, ci_low, ci_high, n, note, trial_id``.
    """
    by = list(by)
    columns = ["group", *by, "selection", "mean", "ci_low", "ci_high", "n", "note", "trial_id"]
    if gaps.empty:
        return pd.DataFrame(columns=columns)
    cells = per_trial(gaps, by, value)
    rows = []
    best = best_trials(exp).set_index("group")["trial_id"]
    for key, cell in cells.groupby(["group", *by], sort=True, dropna=False):
        key = dict(zip(["group", *by], key if isinstance(key, tuple) else (key,), strict=True))
        rows.append({**key, "selection": ALL_TRIALS, **mean_ci(cell[value], settings),
                     "trial_id": ""})
        best_id = best.get(key["group"])
        chosen = cell[cell["trial_id"] == best_id]
        if best_id is not None and len(chosen):
            stats = mean_ci(chosen[value], settings)
            if stats["n"]:
                stats["note"] = "best configuration: one trial, no interval"
            rows.append({**key, "selection": BEST_CONFIG, **stats, "trial_id": best_id})
    return pd.DataFrame(rows, columns=columns)


def severity_curves(exp: Experiment, at: str = "best", metric: str | None = None) -> pd.DataFrame:
    """Metric against severity per trial and shift.

    For each shift, severity ``k >= 1`` is the trial's mean metric over the test sets with that
    shift at that severity; severity 0 is its mean clean metric over the same test sets (the
    starting point of the curve). Columns ``trial_id, group, shift, severity, value``.
    """
    metric = metric or exp.main_metric
    rows = metrics_at(exp, at)
    rows = rows[(rows["metric"] == metric) & ~is_validation(rows["eval_set"])]
    shifted = rows[rows["shift"] != "none"]
    columns = ["trial_id", "group", "shift", "severity", "value"]
    if shifted.empty:
        return pd.DataFrame(columns=columns)
    keys = ["trial_id", "group", "shift", "severity"]
    curves = shifted.groupby(keys)["value"].mean().reset_index()
    sets = shifted[["trial_id", "shift", "eval_set"]].drop_duplicates()
    clean = rows[rows["shift"] == "none"][["trial_id", "group", "eval_set", "value"]]
    start = sets.merge(clean, on=["trial_id", "eval_set"], how="inner")
    start = start.groupby(["trial_id", "group", "shift"])["value"].mean().reset_index()
    start["severity"] = 0
    return pd.concat([start[columns], curves[columns]], ignore_index=True).sort_values(
        ["group", "shift", "severity", "trial_id"], ignore_index=True
    )


def summarize_curves(
    curves: pd.DataFrame,
    by: Sequence[str] = ("group", "shift", "severity"),
    settings: BootstrapSettings = DEFAULT_BOOTSTRAP,
) -> pd.DataFrame:
    """Mean ``value`` over trials per cell of ``by`` with a bootstrap CI over trials."""
    from analysis.stats import summarize

    return summarize(curves, list(by), "value", settings)
