"""Turn a Tune experiment directory into the study's tidy results tables
(names and columns: :mod:`study.experiment_format`).

``trials.parquet``: one row per trial (``trial_id``, ``status``, ``error``, ``phase``, ``arm``,
``config/<key>``, ``iterations``, ``best_iteration``, ``stopped_early``, ``node_ip``,
``final/<metric>``, ``best/<metric>``). ``best`` is the row of the iteration where the study's
objective peaked.

``metrics.parquet``: one row per reported evaluation value. ``iteration`` is the epoch whose
weights produced the value: for a confirm trial's test sets, evaluated once at its best epoch,
that epoch (``eval_epoch``). A value is in-distribution when its evaluation set is a
validation set or the test split of a distribution the trial trained on, whatever the shift;
the ``shift`` column says whether an artifact was applied.

``predictions.parquet`` / ``slice_metrics.parquet``: the per-sample rows each confirm trial left
in its last checkpoint, with its ``trial_id``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from study.experiment_format import (
    ARM_KEY,
    CHECKPOINT_PREFIX,
    CONFIRM_PREFIX,
    EVAL_EPOCH_KEY,
    MAX_EPOCHS_KEY,
    METRICS_COLUMNS,
    METRICS_FILE,
    OBJECTIVE_SET,
    PHASE_KEY,
    SAMPLES_FILE,
    SEARCH,
    TRIALS_FILE,
    is_val_set,
    parse_eval_key,
    task,
)
from study.storage import is_uri

SCALAR_METRICS = ("train_loss", "epoch")


def read_trial_results(trial_dir: Path) -> list[dict[str, Any]]:
    """Every result row of the trial's surviving history (``result.json``, one JSON object per
    line). A driver killed between Tune's snapshots resumes a trial from an older checkpoint,
    which then reports some iterations again: the repeated rows replace the earlier ones."""
    path = Path(trial_dir) / "result.json"
    if not path.exists():
        return []
    rows: list[dict[str, Any]] = []
    for line in path.read_text().splitlines():
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError:  # a line cut short by a killed driver
            continue
        iteration = row.get("training_iteration")
        while iteration is not None and rows and rows[-1].get("training_iteration", 0) >= iteration:
            rows.pop()
        rows.append(row)
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
    row: dict[str, Any] = {"trial_id": trial_id, "status": status, "error": error or "",
                           "phase": config.get(PHASE_KEY, SEARCH),
                           "arm": str(config.get(ARM_KEY, ""))}
    row.update(flatten_config({k: v for k, v in config.items() if not k.startswith("_test")}))
    row["iterations"] = max((r.get("training_iteration", 0) for r in rows), default=0)
    row["node_ip"] = ",".join(sorted({str(r["node_ip"]) for r in rows if "node_ip" in r}))
    scored = [r for r in rows if _finite(r.get(metric))]
    best = None
    if scored:
        pick = max if mode == "max" else min
        best = pick(scored, key=lambda r: r[metric])
    row["best_iteration"] = best.get("training_iteration") if best else None
    horizon = config.get(MAX_EPOCHS_KEY, max_epochs)  # the trial's own: its phase's horizon
    row["stopped_early"] = bool(
        status == "TERMINATED" and horizon is not None and row["iterations"] < int(horizon)
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
    trial_id: str, rows: Iterable[dict[str, Any]], in_distribution: Callable[[str], bool],
    objective: str | None = None,
) -> list[dict[str, Any]]:
    """One row per reported evaluation value (and per reported ``objective``, as the set
    ``'val'``). A ``confirm/`` value belongs to the epoch whose weights produced it; where that
    epoch reported the same value itself, one row is kept."""
    out: dict[tuple, dict[str, Any]] = {}
    for r in rows:
        epoch = r.get("training_iteration")
        values = [(parse_eval_key(k), k, v) for k, v in r.items()]
        if objective is not None and objective in r:
            values.append(((OBJECTIVE_SET, "none", 0, objective), objective, r[objective]))
        for parsed, key, value in values:
            if parsed is None or not isinstance(value, (int, float)):
                continue
            confirm = key.startswith(CONFIRM_PREFIX)
            iteration = r.get(EVAL_EPOCH_KEY, epoch) if confirm else epoch
            eval_set, shift, severity, metric = parsed
            out[(iteration, eval_set, shift, severity, metric)] = {
                "trial_id": trial_id, "iteration": iteration, "eval_set": eval_set,
                "shift": shift, "severity": severity, "metric": metric, "value": float(value),
                "in_distribution": in_distribution(eval_set),
            }
    return list(out.values())




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


@dataclass(frozen=True)
class TuneTrial:
    """One trial as Tune's experiment state records it, read as JSON only."""

    trial_id: str
    status: str
    path: Path
    config: dict[str, Any]
    error: str | None


def tune_trials(experiment_dir: str | Path) -> list[TuneTrial]:
    """The trials of the newest ``experiment_state-*.json`` of an experiment directory.

    Only JSON is read: each trial's id, status and directory from the state file, its config
    from ``params.json`` and its error from ``error.txt``. Tune's own pickled objects in the
    state file and ``*.pkl`` files are never loaded, so a results directory on shared storage
    cannot run code in whoever opens it. Trial directories the state does not name (left over
    by an interrupted run) are ignored.
    """
    root = Path(experiment_dir)
    states = sorted(root.glob("experiment_state-*.json"))
    if not states:
        raise FileNotFoundError(f"{root}: no Tune experiment state (experiment_state-*.json)")
    out = []
    for entry in json.loads(states[-1].read_text())["trial_data"]:
        meta, runtime = json.loads(entry[0]), json.loads(entry[1])
        path = root / meta["relative_logdir"]
        params = path / "params.json"
        config = json.loads(params.read_text()) if params.is_file() else {}
        error = None
        if meta["status"] == "ERROR":
            error = _error_text(path / "error.txt", runtime.get("error_filename"))
        out.append(TuneTrial(str(meta["trial_id"]), str(meta["status"]), path, config, error))
    return out


def build_tables(
    experiment_dir: str | Path,
    metric: str,
    mode: str = "max",
    max_epochs: int | None = None,
    pool: Iterable[str] = (),
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Both tables from the experiment directory, whether the study finished or not."""
    trials, metrics = [], []
    pool = list(pool)
    for trial in tune_trials(experiment_dir):
        rows = read_trial_results(trial.path)
        trials.append(trial_row(trial.trial_id, trial.status, trial.error, trial.config, rows,
                                metric, mode, max_epochs))
        trained_on = training_distributions(trial.config, pool)

        def is_id(eval_set: str, trained_on=trained_on) -> bool:
            return is_val_set(eval_set) or eval_set in trained_on

        metrics += metric_rows(trial.trial_id, rows, is_id, metric)
    return pd.DataFrame(trials), pd.DataFrame(metrics, columns=list(METRICS_COLUMNS))


def _error_text(path: Path, named: str | None) -> str:
    """The last non-empty line of a trial's error file (Tune wraps the trainable's exception
    in a traceback; its last line is the reason)."""
    for candidate in (path, path.parent / named if named else None):
        if candidate is not None and candidate.is_file():
            lines = [ln for ln in candidate.read_text(errors="replace").splitlines()
                     if ln.strip()]
            if lines:
                return lines[-1].strip()
    return "failed (no error recorded)"


def trial_samples(trial_dir: Path) -> pd.DataFrame | None:
    """The per-sample rows a confirm trial left in its newest checkpoint holding them."""
    folders = sorted(Path(trial_dir).glob(f"{CHECKPOINT_PREFIX}*/{SAMPLES_FILE}"))
    return pd.read_parquet(folders[-1]) if folders else None


def gather_samples(experiment_dir: str | Path, trials: pd.DataFrame) -> pd.DataFrame | None:
    """Every confirm trial's per-sample rows with its ``trial_id`` in front (None if none)."""
    root = Path(experiment_dir)
    frames = []
    for trial_id in trials.loc[trials["phase"] != SEARCH, "trial_id"] if len(trials) else []:
        folder = next(iter(root.glob(f"*{trial_id}*/")), None)
        rows = trial_samples(folder) if folder is not None else None
        if rows is not None:
            frames.append(rows.assign(trial_id=trial_id))
    if not frames:
        return None
    out = pd.concat(frames, ignore_index=True)
    return out[["trial_id", *[c for c in out.columns if c != "trial_id"]]]


def write_tables(experiment_dir: str | Path, task_name: str | None = None,
                 **kwargs: Any) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Build and write ``trials.parquet``, ``metrics.parquet`` and, for a ``task_name`` with
    confirm trials, its per-sample table; returns the first two."""
    trials, metrics = build_tables(experiment_dir, **kwargs)
    root = Path(experiment_dir)
    trials.to_parquet(root / TRIALS_FILE, index=False)
    metrics.to_parquet(root / METRICS_FILE, index=False)
    samples = gather_samples(root, trials) if task_name else None
    if samples is not None:
        samples.to_parquet(root / task(task_name).samples_file, index=False)
    return trials, metrics


def prune_checkpoints(path: str) -> None:
    """Keep only the newest checkpoint of every ended trial (local or shared storage; an
    object store keeps them all)."""
    if is_uri(path):
        return
    import shutil

    for trial in tune_trials(path):
        if trial.status not in ("TERMINATED", "ERROR"):
            continue
        folders = sorted(trial.path.glob(f"{CHECKPOINT_PREFIX}*"))
        for folder in folders[:-1]:
            shutil.rmtree(folder, ignore_errors=True)
