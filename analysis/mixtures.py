"""Training-mixture helpers and the pathology comparison for reconstruction studies (joint
versus separate training, from the confirm trials, is in :mod:`analysis.mixture_answer`).

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

from analysis.experiment import Experiment
from analysis.stats import DEFAULT_BOOTSTRAP, BootstrapSettings, difference_ci
from analysis.tables import is_validation
from analysis.trials import metrics_at
from search_spaces.mixtures import HEALTHY, parse_mixture
from study.experiment_format import VAL_PREFIX

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
    parts = parse_mixture(name)
    return f"{HEALTHY}{parts.kind}" if parts.healthy else parts.kind


def trained_distributions(exp: Experiment) -> dict[str, set[str]]:
    """Distributions each trial trained on, from its evaluation rows: ``val_<D>`` sets and
    in-distribution test sets."""
    out: dict[str, set[str]] = {}
    rows = exp.metrics[["trial_id", "eval_set", "in_distribution"]].drop_duplicates()
    for trial, group in rows.groupby("trial_id"):
        names = {e.removeprefix(VAL_PREFIX) for e in group["eval_set"] if e.startswith(VAL_PREFIX)}
        names |= set(group.loc[group["in_distribution"] & ~is_validation(group["eval_set"]),
                               "eval_set"])
        out[str(trial)] = names
    return out


def target_values(exp: Experiment, at: str = "best", metric: str | None = None) -> pd.DataFrame:
    """Each trial's metric on each clean test set at its ``at`` iteration, with its mixture and
    model. Columns ``trial_id, mixture, model, target, value``."""
    metric = metric or exp.main_metric
    rows = metrics_at(exp, at)
    rows = rows[(rows["metric"] == metric) & (rows["shift"] == "none")
                & ~is_validation(rows["eval_set"])]
    rows = rows.groupby(["trial_id", "eval_set"])["value"].mean().reset_index()
    trials = exp.trials.set_index("trial_id")
    rows["mixture"] = rows["trial_id"].map(trials[MIXTURE].astype(str))
    rows["model"] = rows["trial_id"].map(trials[MODEL].astype(str)) if MODEL in trials else ""
    return rows.rename(columns={"eval_set": "target"})[
        ["trial_id", "mixture", "model", "target", "value"]]


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
