"""Trials of an experiment: the overview of every trial with why it ended (failures and early
stops included), and the selections the analyses use (each trial's evaluation iteration, its
metric rows there, each group's best trial, group sizes).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from analysis.experiment import Experiment

ITERATIONS = ("best", "final")


def trial_overview(exp: Experiment) -> pd.DataFrame:
    """One row per trial, failures and early stops included, with why each ended.

    Columns: ``trial_id, group, status, iterations, best_iteration, stopped_early, objective``
    (the trial's best objective), ``metric_rows`` (rows in ``metrics``), ``error`` and
    ``note``: 'errored: <reason>', 'stopped early by ASHA after k iterations', 'no results
    reported', 'objective never finite', or 'finished'.
    """
    trials = exp.trials
    columns = ["trial_id", "group", "status", "iterations", "best_iteration", "stopped_early",
               "objective", "metric_rows", "error", "note"]
    if not len(trials):
        return pd.DataFrame(columns=columns)
    counts = exp.metrics.groupby("trial_id").size()
    out = pd.DataFrame({
        "trial_id": trials["trial_id"],
        "group": exp.trial_groups().to_numpy(),
        "status": trials["status"].astype(str),
        "iterations": trials["iterations"].astype(int),
        "best_iteration": trials["best_iteration"],
        "stopped_early": trials["stopped_early"],
        "objective": _objective_values(exp),
        "metric_rows": trials["trial_id"].map(counts).fillna(0).astype(int),
        "error": trials["error"],
    })
    out["note"] = [_trial_note(row) for row in out.itertuples()]
    return out[columns]


def _objective_values(exp: Experiment) -> pd.Series:
    """Each trial's best objective (NaN when never reported)."""
    column = exp.objective_column
    if column not in exp.trials:
        return pd.Series(np.nan, index=exp.trials.index)
    return pd.to_numeric(exp.trials[column], errors="coerce")


def _trial_note(row: Any) -> str:
    """Why a trial ended, for :func:`trial_overview`."""
    if row.status == "ERROR":
        return f"errored: {row.error or 'no reason recorded'}"
    if row.metric_rows == 0:
        return f"no results reported (status {row.status})"
    if not np.isfinite(row.objective):
        return "objective never finite"
    if row.stopped_early:
        return f"stopped early by ASHA after {row.iterations} iterations"
    if row.status != "TERMINATED":
        return f"unfinished (status {row.status}) after {row.iterations} iterations"
    return "finished"


def status_counts(exp: Experiment) -> pd.DataFrame:
    """Trials per group: total, per Tune status, stopped early, errored, without results."""
    overview = trial_overview(exp)
    if overview.empty:
        return pd.DataFrame(columns=["group", "trials"])
    table = pd.crosstab(overview["group"], overview["status"])
    table.columns.name = None
    table.insert(0, "trials", table.sum(axis=1))
    table["stopped_early"] = overview.groupby("group")["stopped_early"].sum()
    table["no_results"] = overview.groupby("group")["metric_rows"].apply(lambda s: (s == 0).sum())
    return table.reset_index()


def evaluation_iterations(exp: Experiment, at: str = "best") -> pd.Series:
    """The iteration each trial is evaluated at (index ``trial_id``).

    ``'best'``: the iteration where the trial's objective peaked (``best_iteration``);
    ``'final'``: the last iteration it reported. Trials without one are left out.
    """
    if at not in ITERATIONS:
        raise ValueError(f"at must be one of {ITERATIONS}, got {at!r}")
    if at == "best":
        best = exp.trials.set_index("trial_id")["best_iteration"].dropna()
        return best.astype(np.int64).rename("iteration")
    return exp.metrics.groupby("trial_id")["iteration"].max().rename("iteration")


def metrics_at(exp: Experiment, at: str = "best") -> pd.DataFrame:
    """Metric rows of every trial at its evaluation iteration (:func:`evaluation_iterations`),
    with the trial's ``group`` added."""
    iterations = evaluation_iterations(exp, at)
    keyed = exp.metrics.merge(
        iterations.reset_index(), on=["trial_id", "iteration"], how="inner"
    )
    keyed["group"] = keyed["trial_id"].map(exp.trial_groups())
    return keyed


def with_groups(exp: Experiment, frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` (with a ``trial_id`` column) plus each trial's ``group``."""
    frame = frame.copy()
    frame["group"] = frame["trial_id"].map(exp.trial_groups())
    return frame


def best_trials(exp: Experiment) -> pd.DataFrame:
    """Each group's best tuned configuration: the trial with the best objective in the group
    (max or min by the study's mode). Groups where no trial reported a finite objective are
    absent. Columns ``group, trial_id, objective, best_iteration``."""
    columns = ["group", "trial_id", "objective", "best_iteration"]
    frame = pd.DataFrame({
        "group": exp.trial_groups().to_numpy(),
        "trial_id": exp.trials["trial_id"].to_numpy(),
        "objective": _objective_values(exp).to_numpy(),
        "best_iteration": exp.trials["best_iteration"].to_numpy(),
    })
    frame = frame[np.isfinite(frame["objective"])]
    if frame.empty:
        return pd.DataFrame(columns=columns)
    ascending = exp.info.mode != "max"
    frame = frame.sort_values(["group", "objective"], ascending=[True, ascending], kind="stable")
    return frame.groupby("group", sort=True).head(1).reset_index(drop=True)[columns]


def group_sizes(exp: Experiment, trial_ids: Sequence[str] | None = None) -> pd.Series:
    """Number of trials per group (optionally among ``trial_ids`` only)."""
    groups = exp.trial_groups()
    if trial_ids is not None:
        groups = groups[groups.index.isin(list(trial_ids))]
    return groups.value_counts().sort_index()
