"""The settings of the study behind an experiment: :class:`StudyInfo`, read from the
``study.json`` the launcher writes before any trial runs (its keys:
``study.experiment_format.STUDY_KEYS``). Nothing is guessed from the tables: an experiment made
elsewhere needs a ``study.json`` with at least its ``task``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from study.experiment_format import STUDY_JSON, TASKS

# task -> (objective reported to Tune, evaluation metric the analysis compares)
TASK_METRICS = {name: (t.objective, t.metric) for name, t in TASKS.items()}


@dataclass(frozen=True)
class StudyInfo:
    """Settings of the study behind an experiment (from its ``study.json``).

    ``task``: ``'diagnosis'`` or ``'recon'``; ``metric``/``mode``: Tune's objective;
    ``distributions``: the distributions the study evaluates; ``train_pool``: those a trial
    may train on (the mixture pool); ``extra``: any other ``study.json`` entries (e.g.
    ``arms``).
    """

    study: str
    task: str
    metric: str
    mode: str = "max"
    max_epochs: int | None = None
    distributions: tuple[str, ...] = ()
    train_pool: tuple[str, ...] = ()
    data_dir: Path | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def read_study_json(path: Path) -> dict[str, Any]:
    """``study.json`` of the experiment as a dict (empty when absent).

    Raises:
        ValueError: the file exists but is not a JSON object.
    """
    file = Path(path) / STUDY_JSON
    if not file.is_file():
        raise FileNotFoundError(
            f"{file} is missing: the launcher writes it before any trial runs; an experiment "
            f"made elsewhere needs one with at least its 'task' ({' or '.join(TASK_METRICS)})")
    try:
        spec = json.loads(file.read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f"{file}: not valid JSON ({err})") from None
    if not isinstance(spec, dict):
        raise ValueError(f"{file}: expected a JSON object, got {type(spec).__name__}")
    return spec


def study_info(path: Path, spec: dict[str, Any]) -> StudyInfo:
    """The settings in ``spec`` (``study.json`` of the experiment at ``path``).

    Raises:
        ValueError: no task, or one that is not ``diagnosis`` or ``recon``.
    """
    task_name = spec.get("task")
    if task_name not in TASK_METRICS:
        raise ValueError(f"{path / STUDY_JSON}: task {task_name!r} is not one of "
                         f"{list(TASK_METRICS)}")
    max_epochs = spec.get("max_epochs")
    distributions = tuple(spec.get("distributions") or ())
    data_dir = spec.get("data_dir")
    known = {"study", "task", "metric", "mode", "max_epochs", "distributions", "train_pool",
             "data_dir"}
    return StudyInfo(
        study=str(spec.get("study") or path.name),
        task=task_name,
        metric=str(spec.get("metric") or TASK_METRICS[task_name][0]),
        mode=str(spec.get("mode") or "max"),
        max_epochs=None if max_epochs is None else int(max_epochs),
        distributions=distributions,
        train_pool=tuple(spec.get("train_pool") or distributions),
        data_dir=Path(data_dir) if data_dir else None,
        extra={k: v for k, v in spec.items() if k not in known},
    )
