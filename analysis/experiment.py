"""An experiment directory as the analysis sees it: tables, study settings, trial groups.

:func:`load_experiment` reads ``trials.parquet`` and ``metrics.parquet`` (the contract of
``study.results``); when they are missing, as for a running or interrupted study, it rebuilds
them in memory from Tune's own files (:mod:`analysis.rebuild`) without writing into the
directory. ``study.json``, which the launcher writes before any trial runs, gives the study's
name, task, objective, budget, distributions and data directory
(:mod:`analysis.study_settings`). :class:`Experiment` holds the tables (typed by
:mod:`analysis.tables`), the settings and the grouping of the trials the analyses compare.

Failed and early-stopped trials stay in ``trials``: :func:`analysis.trials.trial_overview` lists
every trial with its status, how far it ran and why it ended, and the analyses say which trials
they could not use (e.g. a trial that errored before its first report has no metric rows).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from analysis.rebuild import rebuild_tables
from analysis.study_settings import TASK_METRICS, StudyInfo, read_study_json, study_info
from analysis.tables import in_study_order, normalise_metrics, normalise_trials
from study.experiment_format import METRICS_FILE, TRIALS_FILE, Task, task

GROUP_CANDIDATES = ("config/arm", "config/norm_arm", "config/mixture", "config/norm",
                    "config/model")
TASK_GROUP = {"diagnosis": "config/arm", "recon": "config/arm"}
GROUP_NAMES = {
    "config/arm": "arm",
    "config/norm_arm": "normalization arm",
    "config/norm": "normalization",
    "config/mixture": "training mixture",
    "config/model": "model",
}
UNSET = "(unset)"


@dataclass
class Experiment:
    """Tables and settings of one experiment directory (see :func:`load_experiment`)."""

    path: Path
    trials: pd.DataFrame
    metrics: pd.DataFrame
    info: StudyInfo
    rebuilt: bool = False
    group_by: tuple[str, ...] = ()
    _samples: pd.DataFrame | None = field(default=None, repr=False)

    @property
    def task(self) -> str:
        """``'diagnosis'`` or ``'recon'``."""
        return self.info.task

    @property
    def task_info(self) -> Task:
        """What the task reports and needs (``study.experiment_format.TASKS``)."""
        return task(self.task)

    @property
    def samples(self) -> pd.DataFrame | None:
        """The confirm trials' per-sample rows (``predictions.parquet`` for diagnosis,
        ``slice_metrics.parquet`` for reconstruction), read on first use; None when absent."""
        if self._samples is None:
            file = self.path / self.task_info.samples_file
            if file.is_file():
                self._samples = pd.read_parquet(file)
        return self._samples

    @property
    def main_metric(self) -> str:
        """The evaluation metric compared across groups: ``auroc`` or ``ssim``."""
        return TASK_METRICS[self.task][1]

    @property
    def objective_column(self) -> str:
        """Column of ``trials`` with each trial's best objective value, ``best/<metric>``."""
        return f"best/{self.info.metric}"

    @property
    def group_name(self) -> str:
        """Human name of the grouping, e.g. ``'normalization arm'``."""
        return " / ".join(GROUP_NAMES.get(c, c.removeprefix("config/")) for c in self.group_by)

    def trial_groups(self) -> pd.Series:
        """Group label of every trial (index ``trial_id``): the values of the ``group_by``
        config columns joined with ``' / '``; a missing value reads ``'(unset)'``."""
        if not len(self.trials):
            return pd.Series(dtype=object, name="group")
        parts = [
            self.trials[c].map(_label) if c in self.trials
            else pd.Series(UNSET, index=self.trials.index)
            for c in self.group_by
        ]
        labels = parts[0] if len(parts) == 1 else pd.concat(parts, axis=1).agg(" / ".join, axis=1)
        return pd.Series(labels.to_numpy(), index=self.trials["trial_id"], name="group")


def _label(value: Any) -> str:
    """A config value as a group label (NaN/None -> ``'(unset)'``)."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return UNSET
    return str(value)


def load_experiment(
    path: str | Path, group_by: Sequence[str] | None = None, rebuild: bool = False
) -> Experiment:
    """Open an experiment directory.

    Args:
        path: the experiment directory (``<storage>/<name>``).
        group_by: config columns that define the compared groups (e.g.
            ``['config/norm_arm']``); default :func:`default_group_by`.
        rebuild: rebuild the tables from Tune's files even when the parquet files exist.

    Raises:
        FileNotFoundError: ``path`` is not a directory, has no ``study.json``, or holds
            neither the tables nor a Tune experiment to rebuild them from.
    """
    path = Path(path).expanduser()
    if not path.is_dir():
        raise FileNotFoundError(f"experiment directory {path} does not exist")
    info = study_info(path, read_study_json(path))
    have_tables = (path / TRIALS_FILE).is_file() and (path / METRICS_FILE).is_file()
    if have_tables and not rebuild:
        trials = pd.read_parquet(path / TRIALS_FILE)
        metrics = pd.read_parquet(path / METRICS_FILE)
    else:
        trials, metrics = rebuild_tables(path, info)
    arms = info.extra.get("arms") or ()
    trials = in_study_order(normalise_trials(trials), arms)
    metrics = normalise_metrics(metrics)
    chosen = tuple(group_by) if group_by else default_group_by(info.task, trials, arms)
    return Experiment(path, trials, metrics, info, rebuilt=not have_tables or rebuild,
                      group_by=chosen)


def default_group_by(
    task: str, trials: pd.DataFrame, arms: Sequence[str] = ()
) -> tuple[str, ...]:
    """Config columns that define the compared groups.

    The study's arms (``study.json``'s ``arms``) name the values of one config column
    (``norm_arm`` for the normalization studies, ``mixture`` for the mixture studies); that
    column is the grouping. Without arms: the first of ``config/norm_arm``, ``config/mixture``,
    ``config/norm``, ``config/model`` whose value varies across trials, else the task's usual
    column. Reconstruction studies that ran several models group by ``'<arm> / <model>'``.
    """
    present = [c for c in GROUP_CANDIDATES if c in trials]
    arm_set = {str(a) for a in arms}
    primary = None
    if arm_set:
        primary = next((c for c in present if len(trials[c].dropna())
                        and set(trials[c].dropna().astype(str)) <= arm_set), None)
    if primary is None:
        primary = next((c for c in present if trials[c].nunique(dropna=False) > 1), None)
    if primary is None:
        primary = TASK_GROUP[task]
    model = "config/model"
    if task == "recon" and primary != model and model in trials and trials[model].nunique() > 1:
        return (primary, model)
    return (primary,)
