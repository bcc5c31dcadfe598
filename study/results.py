"""Turn a Tune experiment directory into the study's tidy results tables.

``trials.parquet``: one row per trial (``trial_id``, ``status``, ``error``, ``config/<key>``,
``iterations``, ``best_iteration``, ``stopped_early``, ``node_ip``, ``final/<metric>``,
``best/<metric>``). ``best`` is the row of the iteration where the study's objective peaked.

``metrics.parquet``: one row per reported evaluation value (``trial_id``, ``iteration``,
``eval_set``, ``shift``, ``severity``, ``metric``, ``value``, ``in_distribution``). A value is
in-distribution when its evaluation set is the validation set or the test split of a
distribution the trial trained on, whatever the shift; the ``shift`` column says whether an
artifact was applied.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pandas as pd

from trainables.common import parse_eval_key

SCALAR_METRICS = ("train_loss", "epoch")


def read_trial_results(trial_dir: Path) -> list[dict[str, Any]]:
    """Every result row a trial reported (``result.json``, one JSON object per line)."""
    path = Path(trial_dir) / "result.json"
    if not path.exists():
        return []
    rows = []
    for line in path.read_text().splitlines():
        if line.strip():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:  # a line cut short by a killed driver
                continue
    return rows


def flatten_config(config: dict[str, Any], prefix: str = "config/") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in config.items():
        if isinstance(value, dict):
            out.update(flatten_config(value, f"{prefix}{key}/"))
        elif isinstance(value, (list, tuple)):
            out[f"{prefix}{key}"] = json.dumps(value)
        else:
            out[f"{prefix}{key}"] = value
    return out


def trial_row(
    trial_id: str,
    status: str,
    error: str | None,
    config: dict[str, Any],
    rows: list[dict[str, Any]],
    metric: str,
    mode: str,
    max_epochs: int | None,
) -> dict[str, Any]:
    row: dict[str, Any] = {"trial_id": trial_id, "status": status, "error": error or ""}
    row.update(flatten_config({k: v for k, v in config.items() if not k.startswith("_test")}))
    row["iterations"] = max((r.get("training_iteration", 0) for r in rows), default=0)
    row["node_ip"] = ",".join(sorted({str(r["node_ip"]) for r in rows if "node_ip" in r}))
    scored = [r for r in rows if _finite(r.get(metric))]
    best = None
    if scored:
        pick = max if mode == "max" else min
        best = pick(scored, key=lambda r: r[metric])
    row["best_iteration"] = best.get("training_iteration") if best else None
    row["stopped_early"] = bool(
        status == "TERMINATED" and max_epochs is not None and row["iterations"] < max_epochs
    )
    last = rows[-1] if rows else {}
    for key in _metric_keys(rows):
        row[f"final/{key}"] = last.get(key)
        row[f"best/{key}"] = best.get(key) if best else None
    return row


def _metric_keys(rows: list[dict[str, Any]]) -> list[str]:
    keys: dict[str, None] = {}
    for r in rows:
        for k, v in r.items():
            if isinstance(v, (int, float)) and not isinstance(v, bool) and _is_metric(k):
                keys[k] = None
    return list(keys)


def _is_metric(key: str) -> bool:
    return key.startswith(("val_", "eval/")) or key in SCALAR_METRICS


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)


def metric_rows(
    trial_id: str, rows: Iterable[dict[str, Any]], in_distribution: Callable[[str], bool]
) -> list[dict[str, Any]]:
    out = []
    for r in rows:
        iteration = r.get("training_iteration")
        for key, value in r.items():
            parsed = parse_eval_key(key)
            if parsed is None or not isinstance(value, (int, float)):
                continue
            eval_set, shift, severity, metric = parsed
            out.append(
                {
                    "trial_id": trial_id,
                    "iteration": iteration,
                    "eval_set": eval_set,
                    "shift": shift,
                    "severity": severity,
                    "metric": metric,
                    "value": float(value),
                    "in_distribution": in_distribution(eval_set),
                }
            )
    return out


METRICS_COLUMNS = (
    "trial_id",
    "iteration",
    "eval_set",
    "shift",
    "severity",
    "metric",
    "value",
    "in_distribution",
)


def training_distributions(config: dict[str, Any], pool: Iterable[str]) -> set[str]:
    """The distributions a trial trained on: its ``mixture`` resolved against the study's
    training pool, or the whole pool when the trial has no mixture."""
    from search_spaces.mixtures import resolve_mixture

    pool = list(pool)
    if "mixture" in config:
        try:
            return set(resolve_mixture(config, pool).weights)
        except ValueError:
            return set()
    return set(pool)


def build_tables(
    experiment_dir: str | Path,
    metric: str,
    mode: str = "max",
    max_epochs: int | None = None,
    pool: Iterable[str] = (),
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Both tables from the experiment directory, whether the study finished or not."""
    from ray.tune import ExperimentAnalysis

    analysis = ExperimentAnalysis(str(experiment_dir))
    trials, metrics = [], []
    pool = list(pool)
    for trial in analysis.trials:
        rows = read_trial_results(Path(trial.path))
        error = None
        if trial.status == "ERROR":
            error = _error_text(trial)
        trials.append(
            trial_row(
                trial.trial_id, trial.status, error, trial.config, rows, metric, mode, max_epochs
            )
        )
        trained_on = training_distributions(trial.config, pool)

        def is_id(eval_set: str, trained_on=trained_on) -> bool:
            return eval_set == "val" or eval_set.startswith("val_") or eval_set in trained_on

        metrics += metric_rows(trial.trial_id, rows, is_id)
    trials_df = pd.DataFrame(trials)
    metrics_df = pd.DataFrame(metrics, columns=list(METRICS_COLUMNS))
    return trials_df, metrics_df


def _error_text(trial) -> str:
    try:
        text = trial.get_error() or ""
    except Exception:  # error file missing on an interrupted run
        text = ""
    text = str(text).strip()
    # Tune wraps the trainable's exception in a traceback; keep its last line, the reason.
    lines = [ln for ln in text.splitlines() if ln.strip()]
    return lines[-1] if lines else "failed (no error recorded)"


def write_tables(experiment_dir: str | Path, **kwargs: Any) -> tuple[pd.DataFrame, pd.DataFrame]:
    trials, metrics = build_tables(experiment_dir, **kwargs)
    trials.to_parquet(Path(experiment_dir) / "trials.parquet", index=False)
    metrics.to_parquet(Path(experiment_dir) / "metrics.parquet", index=False)
    return trials, metrics
