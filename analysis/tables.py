"""The two tables as the analysis reads them: ``trials`` and ``metrics`` with the contract's
columns present and typed (``study.experiment_format``), the trials in the study's order, and
which evaluation sets are validation sets.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from study.experiment_format import METRICS_COLUMNS, PHASES, SEARCH, SEED_KEY, is_val_set


def normalise_trials(trials: pd.DataFrame) -> pd.DataFrame:
    """``trials`` with the contract's columns present and typed (missing ones filled:
    ``status`` 'UNKNOWN', ``error`` '', ``iterations`` 0, ``best_iteration`` NaN,
    ``stopped_early`` False)."""
    trials = trials.copy()
    defaults = {"status": "UNKNOWN", "error": "", "iterations": 0, "best_iteration": np.nan,
                "stopped_early": False, "node_ip": "", "phase": SEARCH, "arm": ""}
    if "trial_id" not in trials:
        trials["trial_id"] = pd.Series(dtype=str)
    for column, default in defaults.items():
        if column not in trials:
            trials[column] = default
    trials["trial_id"] = trials["trial_id"].astype(str)
    trials["error"] = trials["error"].fillna("").astype(str)
    trials["stopped_early"] = trials["stopped_early"].fillna(False).astype(bool)
    trials["best_iteration"] = pd.to_numeric(trials["best_iteration"], errors="coerce")
    trials["iterations"] = pd.to_numeric(trials["iterations"], errors="coerce").fillna(0)
    return trials.reset_index(drop=True)


def in_study_order(trials: pd.DataFrame, arms: Sequence[str] = ()) -> pd.DataFrame:
    """``trials`` ordered by arm (as the study lists them; others after, by name), phase
    (search, then confirm), seed and trial id, so that every table and figure lists arms and
    trials in the same order however the trials happened to finish."""
    position = {str(a): k for k, a in enumerate(arms)}
    seed = f"config/{SEED_KEY}"
    keys = pd.DataFrame({
        "arm_position": trials["arm"].astype(str).map(position).fillna(len(position)),
        "arm": trials["arm"].astype(str),
        "phase": trials["phase"].map({p: k for k, p in enumerate(PHASES)}).fillna(len(PHASES)),
        "seed": pd.to_numeric(trials[seed], errors="coerce") if seed in trials else 0,
        "trial_id": trials["trial_id"],
    }, index=trials.index)
    order = keys.sort_values(list(keys.columns), kind="stable").index
    return trials.loc[order].reset_index(drop=True)


def normalise_metrics(metrics: pd.DataFrame) -> pd.DataFrame:
    """``metrics`` with exactly the contract's columns, typed (``severity``/``iteration`` int,
    ``value`` float with NaN kept, ``in_distribution`` bool)."""
    metrics = metrics.copy()
    for column in METRICS_COLUMNS:
        if column not in metrics:
            metrics[column] = pd.Series(dtype=object)
    metrics["trial_id"] = metrics["trial_id"].astype(str)
    metrics["iteration"] = pd.to_numeric(metrics["iteration"], errors="coerce")
    metrics = metrics[metrics["iteration"].notna()].copy()
    metrics["iteration"] = metrics["iteration"].astype(np.int64)
    metrics["severity"] = pd.to_numeric(metrics["severity"], errors="coerce").fillna(0)
    metrics["severity"] = metrics["severity"].astype(np.int64)
    metrics["value"] = pd.to_numeric(metrics["value"], errors="coerce").astype(float)
    metrics["in_distribution"] = metrics["in_distribution"].fillna(False).astype(bool)
    for column in ("eval_set", "shift", "metric"):
        metrics[column] = metrics[column].astype(str)
    return metrics.reset_index(drop=True)


def is_validation(eval_set: pd.Series) -> pd.Series:
    """True for validation sets (:func:`study.experiment_format.is_val_set`), per row."""
    return eval_set.astype(str).map(is_val_set).astype(bool)
