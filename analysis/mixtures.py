"""Training-mixture comparisons for reconstruction studies.

**Joint versus separate** (Lin and Heckel, 2024): for each target distribution ``T`` (a clean
test set) and each model architecture, the *separate* reference is the best
single-distribution model on ``T``: over every trial trained on one distribution
(``single:D``, any ``D``), the one with the best metric on ``T`` at its best iteration. Each
other mixture ``M`` is compared with it twice: its best tuned configuration (the trial of
``M`` with the best objective) and the mean over all its trials with a bootstrap CI. The
``difference`` is mixture minus separate (sign flipped for lower-is-better metrics, so
positive means the mixture is better); ``in_mixture`` says whether ``M`` trained on ``T``
(an in-distribution comparison) or not (out of distribution).

**Pathology**: a mixture ``healthy:M`` trains on the slices of ``M`` that have no annotated
finding. For each pair ``(M, healthy:M)``, model and clean test set, the mean reconstruction
quality inside lesion boxes (``ssim_lesion``: SSIM over each annotated box) of the trials
trained with finding slices minus that of the trials trained without, with a bootstrap CI of
the difference (the two sets of trials resampled independently).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.experiment import Experiment, is_validation, metrics_at
from analysis.gaps import higher_is_better
from analysis.stats import DEFAULT_BOOTSTRAP, BootstrapSettings, difference_ci, mean_ci

HEALTHY = "healthy:"
MIXTURE = "config/mixture"
MODEL = "config/model"
LESION_METRIC = "ssim_lesion"


@dataclass
class Comparison:
    """A comparison table and a note (empty when the comparison applies)."""

    table: pd.DataFrame
    note: str = ""

    @property
    def applies(self) -> bool:
        """True when the table has rows."""
        return not self.table.empty


def mixture_kind(name: str) -> str:
    """``'single'``, ``'joint'``, ``'pool'``, ``'skewed'`` or ``'weights'`` of a mixture string,
    prefixed ``'healthy:'`` for healthy-only mixtures."""
    healthy = name.startswith(HEALTHY)
    kind = name.removeprefix(HEALTHY).partition(":")[0]
    return f"{HEALTHY}{kind}" if healthy else kind


def trained_distributions(exp: Experiment) -> dict[str, set[str]]:
    """Distributions each trial trained on, from its evaluation rows: ``val_<D>`` sets and
    in-distribution test sets."""
    out: dict[str, set[str]] = {}
    rows = exp.metrics[["trial_id", "eval_set", "in_distribution"]].drop_duplicates()
    for trial, group in rows.groupby("trial_id"):
        names = {e[4:] for e in group["eval_set"] if e.startswith("val_")}
        names |= set(group.loc[group["in_distribution"] & ~is_validation(group["eval_set"]),
                               "eval_set"])
        out[str(trial)] = names
    return out


def target_values(exp: Experiment, at: str = "best", metric: str | None = None) -> pd.DataFrame:
    """Each trial's metric on each clean test set at its ``at`` iteration, with its mixture and
    model. Columns ``trial_id, mixture, model, target, value, objective``."""
    metric = metric or exp.main_metric
    rows = metrics_at(exp, at)
    rows = rows[(rows["metric"] == metric) & (rows["shift"] == "none")
                & ~is_validation(rows["eval_set"])]
    rows = rows.groupby(["trial_id", "eval_set"])["value"].mean().reset_index()
    trials = exp.trials.set_index("trial_id")
    rows["mixture"] = rows["trial_id"].map(trials[MIXTURE].astype(str))
    rows["model"] = rows["trial_id"].map(trials[MODEL].astype(str)) if MODEL in trials else ""
    objective = pd.to_numeric(trials.get(exp.objective_column), errors="coerce")
    rows["objective"] = rows["trial_id"].map(objective) if objective is not None else np.nan
    rows = rows.rename(columns={"eval_set": "target"})
    return rows[["trial_id", "mixture", "model", "target", "value", "objective"]]


def joint_vs_separate(
    exp: Experiment,
    at: str = "best",
    metric: str | None = None,
    settings: BootstrapSettings = DEFAULT_BOOTSTRAP,
) -> Comparison:
    """Every mixture against the best single-distribution model per target and model (see
    the module docstring). Columns ``model, target, mixture, in_mixture, n, mean, ci_low,
    ci_high, best_config_value, best_config_trial, separate_value, separate_mixture,
    separate_trial, difference, difference_mean``."""
    metric = metric or exp.main_metric
    if MIXTURE not in exp.trials:
        return Comparison(pd.DataFrame(), "no training mixtures in this study (no "
                          "config/mixture): joint versus separate does not apply")
    values = target_values(exp, at, metric)
    single = values["mixture"].map(mixture_kind) == "single"
    if not single.any():
        return Comparison(pd.DataFrame(), "no single-distribution (single:D) trials reported "
                          "test results: nothing to compare the mixtures with")
    if single.all():
        return Comparison(pd.DataFrame(), "only single-distribution trials: no mixture to "
                          "compare")
    trained = trained_distributions(exp)
    rows = []
    for (model, target), cell in values.groupby(["model", "target"], sort=True):
        singles = cell[cell["mixture"].map(mixture_kind) == "single"]
        separate = _best_row(singles, "value", maximize=higher_is_better(metric))
        if separate is None:
            continue
        for mixture, trials in cell[cell["mixture"].map(mixture_kind) != "single"].groupby(
                "mixture", sort=True):
            rows.append(_comparison_row(model, target, mixture, trials, separate, trained,
                                        metric, exp.info.mode, settings))
    return Comparison(pd.DataFrame(rows))


def _best_row(frame: pd.DataFrame, column: str, maximize: bool) -> pd.Series | None:
    """Row of ``frame`` with the largest (``maximize``) or smallest finite ``column``."""
    frame = frame[np.isfinite(frame[column].astype(float))]
    if frame.empty:
        return None
    index = frame[column].idxmax() if maximize else frame[column].idxmin()
    return frame.loc[index]


def _comparison_row(
    model: str,
    target: str,
    mixture: str,
    trials: pd.DataFrame,
    separate: pd.Series,
    trained: dict[str, set[str]],
    metric: str,
    mode: str,
    settings: BootstrapSettings,
) -> dict:
    """One (model, target, mixture) row of :func:`joint_vs_separate`."""
    sign = 1.0 if higher_is_better(metric) else -1.0
    stats = mean_ci(trials["value"], settings)
    best = _best_row(trials, "objective", maximize=mode == "max")
    best_value = float(best["value"]) if best is not None else np.nan
    in_mixture = any(target in trained.get(t, set()) for t in trials["trial_id"])
    return {
        "model": model, "target": target, "mixture": mixture, "in_mixture": in_mixture,
        "n": stats["n"], "mean": stats["mean"], "ci_low": stats["ci_low"],
        "ci_high": stats["ci_high"], "best_config_value": best_value,
        "best_config_trial": best["trial_id"] if best is not None else "",
        "separate_value": float(separate["value"]), "separate_mixture": separate["mixture"],
        "separate_trial": separate["trial_id"],
        "difference": sign * (best_value - float(separate["value"])),
        "difference_mean": sign * (stats["mean"] - float(separate["value"])),
    }


def pathology(
    exp: Experiment,
    at: str = "best",
    metric: str = LESION_METRIC,
    settings: BootstrapSettings = DEFAULT_BOOTSTRAP,
) -> Comparison:
    """Lesion-box quality with and without finding slices in training (see the module
    docstring). Columns ``model, mixture, target, n_with, n_healthy, with_findings,
    healthy_only, difference, ci_low, ci_high, note``."""
    if MIXTURE not in exp.trials:
        return Comparison(pd.DataFrame(), "no training mixtures in this study: the pathology "
                          "comparison needs mixtures with and without finding slices")
    values = target_values(exp, at, metric)
    values = values[np.isfinite(values["value"].astype(float))]
    if values.empty:
        return Comparison(pd.DataFrame(), f"no finite {metric} values (no test set has "
                          "annotated lesion boxes, or no trial reported them)")
    healthy = values[values["mixture"].str.startswith(HEALTHY)]
    if healthy.empty:
        return Comparison(pd.DataFrame(), "no healthy-only mixtures (healthy:M) in this study")
    rows = []
    for (model, mixture, target), cell in healthy.groupby(["model", "mixture", "target"]):
        base = mixture.removeprefix(HEALTHY)
        full = values[(values["model"] == model) & (values["mixture"] == base)
                      & (values["target"] == target)]
        if full.empty:
            continue
        diff = difference_ci(full["value"], cell["value"], settings)
        rows.append({
            "model": model, "mixture": base, "target": target, "n_with": diff["n_a"],
            "n_healthy": diff["n_b"], "with_findings": float(full["value"].mean()),
            "healthy_only": float(cell["value"].mean()), "difference": diff["difference"],
            "ci_low": diff["ci_low"], "ci_high": diff["ci_high"], "note": diff["note"],
        })
    note = "" if rows else "no mixture was run both with and without finding slices"
    return Comparison(pd.DataFrame(rows), note)
