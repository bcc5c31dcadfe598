"""The settings of the study behind an experiment: :class:`StudyInfo`.

``study.json``, when the launcher wrote one, gives the study's name, task, objective, budget,
distributions and data directory (:func:`read_study_json`); :func:`study_info` takes them from
there and infers what is missing from the tables (the task from the metrics they carry, the
budget from the trials' configs, the distributions from the trials' mixtures or the
in-distribution evaluation sets).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from analysis.tables import is_validation, mixture_members
from study.experiment_format import STUDY_JSON, TASKS

# task -> (objective reported to Tune, evaluation metric the analysis compares)
TASK_METRICS = {name: (t.objective, t.metric) for name, t in TASKS.items()}


@dataclass(frozen=True)
class StudyInfo:
    """Settings of the study behind an experiment (from ``study.json`` or inferred).

    ``task``: ``'diagnosis'`` or ``'recon'``; ``metric``/``mode``: Tune's objective;
    ``distributions``: the distributions the study evaluates; ``train_pool``: those a trial
    may train on (the mixture pool); ``source`` says where the settings came from; ``extra``:
    any other ``study.json`` entries (e.g. ``arms``).
    """

    study: str
    task: str
    metric: str
    mode: str = "max"
    max_epochs: int | None = None
    distributions: tuple[str, ...] = ()
    train_pool: tuple[str, ...] = ()
    data_dir: Path | None = None
    source: str = "inferred"
    extra: dict[str, Any] = field(default_factory=dict)


def read_study_json(path: Path) -> dict[str, Any]:
    """``study.json`` of the experiment as a dict (empty when absent).

    Raises:
        ValueError: the file exists but is not a JSON object.
    """
    file = Path(path) / STUDY_JSON
    if not file.is_file():
        return {}
    try:
        spec = json.loads(file.read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f"{file}: not valid JSON ({err})") from None
    if not isinstance(spec, dict):
        raise ValueError(f"{file}: expected a JSON object, got {type(spec).__name__}")
    return spec


def infer_task(trials: pd.DataFrame, metrics: pd.DataFrame) -> str:
    """``'diagnosis'`` when the tables carry ``val_auroc``/``auroc``, ``'recon'`` for
    ``val_ssim``/``ssim``.

    Raises:
        ValueError: neither objective nor metric is present.
    """
    for name, (objective, _) in TASK_METRICS.items():
        if f"best/{objective}" in trials or f"final/{objective}" in trials:
            return name
    names = set(metrics["metric"]) if len(metrics) else set()
    for name, (_, metric) in TASK_METRICS.items():
        if metric in names:
            return name
    raise ValueError(
        "cannot tell the study's task: the tables have neither val_auroc/auroc (diagnosis) nor "
        "val_ssim/ssim (reconstruction); write study.json with a 'task' entry"
    )


def study_info(
    path: Path, spec: dict[str, Any], trials: pd.DataFrame, metrics: pd.DataFrame
) -> StudyInfo:
    """Settings from ``study.json`` where given, inferred from the tables otherwise.

    ``max_epochs`` falls back to the trials' ``config/max_epochs``; ``distributions`` to the
    names of the distributions in the trials' mixtures (reconstruction) or the in-distribution
    evaluation sets.
    """
    task_name = spec.get("task") or infer_task(trials, metrics)
    if task_name not in TASK_METRICS:
        raise ValueError(f"{path / STUDY_JSON}: task {task_name!r} is not one of "
                         f"{list(TASK_METRICS)}")
    max_epochs = spec.get("max_epochs")
    configured = pd.to_numeric(trials.get("config/max_epochs", pd.Series(dtype=float)),
                               errors="coerce")
    if max_epochs is None and configured.notna().any():
        max_epochs = int(configured.max())
    distributions = spec.get("distributions") or _distributions_from_tables(trials, metrics)
    data_dir = spec.get("data_dir")
    known = {"study", "task", "metric", "mode", "max_epochs", "distributions", "train_pool",
             "data_dir"}
    return StudyInfo(
        study=str(spec.get("study") or path.name),
        task=task_name,
        metric=str(spec.get("metric") or TASK_METRICS[task_name][0]),
        mode=str(spec.get("mode") or "max"),
        max_epochs=None if max_epochs is None else int(max_epochs),
        distributions=tuple(distributions),
        train_pool=tuple(spec.get("train_pool") or distributions),
        data_dir=Path(data_dir) if data_dir else None,
        source=STUDY_JSON if spec else "inferred from the tables",
        extra={k: v for k, v in spec.items() if k not in known},
    )


def _distributions_from_tables(trials: pd.DataFrame, metrics: pd.DataFrame) -> list[str]:
    """Distribution names in the trials' mixtures, else in-distribution test set names."""
    names: set[str] = set()
    if "config/mixture" in trials:
        for mixture in trials["config/mixture"].dropna():
            names |= set(mixture_members(str(mixture)))
    if not names and len(metrics):
        ids = metrics[metrics["in_distribution"] & ~is_validation(metrics["eval_set"])]
        names = set(ids["eval_set"])
    return sorted(names)
