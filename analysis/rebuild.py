"""The tables rebuilt from Tune's own files, for a study that has not written them (running or
interrupted): ``experiment_state-*.json``, each trial's ``params.json`` and ``result.json``, read
without a running Ray and without writing into the experiment directory.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from analysis.study_settings import TASK_METRICS
from analysis.tables import mixture_members
from study import results
from study.experiment_format import METRICS_FILE, TRIALS_FILE


def rebuild_tables(path: Path, spec: dict[str, Any]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Both tables built from Tune's files, as ``study.results.build_tables`` builds them.

    Objective, mode, budget and distribution pool come from ``study.json`` when present;
    otherwise the objective is whichever of ``val_auroc``/``val_ssim`` the trials reported,
    ``max_epochs`` the trials' config value and the pool the distributions their mixtures name.
    Works without a running Ray (each trial is read from its directory under ``path``).

    Raises:
        FileNotFoundError: the directory holds no Tune experiment.
    """
    if not list(path.glob("experiment_state-*.json")):
        raise FileNotFoundError(
            f"{path}: neither {TRIALS_FILE}/{METRICS_FILE} nor a Tune experiment "
            "(experiment_state-*.json) to rebuild them from"
        )
    params = _trial_params(path)
    metric = spec.get("metric") or _objective_from_results(path)
    max_epochs = spec.get("max_epochs") or _max_epochs(params)
    pool = spec.get("train_pool") or spec.get("distributions") or sorted(
        {m for p in params for m in _members_of_params(p)}
    )
    return _tables_from_tune(path, metric, spec.get("mode", "max"), max_epochs, pool)


def _tables_from_tune(
    path: Path, metric: str, mode: str, max_epochs: int | None, pool: Sequence[str]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``study.results``' tables built from Tune's own files (no Ray session needed)."""
    return results.build_tables(path, metric=metric, mode=mode, max_epochs=max_epochs, pool=pool)


def _trial_params(path: Path) -> list[dict[str, Any]]:
    """Every readable trial ``params.json`` under the experiment directory."""
    out = []
    for file in sorted(path.glob("*/params.json")):
        try:
            value = json.loads(file.read_text())
        except (OSError, json.JSONDecodeError):
            continue
        if isinstance(value, dict):
            out.append(value)
    return out


def _members_of_params(params: dict[str, Any]) -> list[str]:
    """Distributions named by a trial's mixture string or ``w_<D>`` weight keys."""
    names = mixture_members(str(params["mixture"])) if "mixture" in params else []
    return names + [k[2:] for k in params if k.startswith("w_")]


def _max_epochs(params: list[dict[str, Any]]) -> int | None:
    """Largest ``max_epochs`` in the trials' configs (None when no trial has one)."""
    values = [int(p["max_epochs"]) for p in params if isinstance(p.get("max_epochs"), int)]
    return max(values) if values else None


def _objective_from_results(path: Path) -> str:
    """``val_auroc`` or ``val_ssim``, whichever a trial's ``result.json`` reports first (a key
    of one of its result rows, as ``study.results.read_trial_results`` reads them).

    Raises:
        ValueError: no trial reported either (nothing to analyse yet).
    """
    for file in sorted(path.glob("*/result.json")):
        for row in results.read_trial_results(file.parent):
            for objective, _ in TASK_METRICS.values():
                if objective in row:
                    return objective
    raise ValueError(
        f"{path}: no trial has reported val_auroc or val_ssim yet; nothing to analyse"
    )
