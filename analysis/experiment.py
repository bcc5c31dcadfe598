"""An experiment directory as the analysis sees it: tables, study settings, trial groups.

:func:`load_experiment` reads ``trials.parquet`` and ``metrics.parquet`` (the contract of
``study.results``); when they are missing, as for a running or interrupted study, it rebuilds
them in memory from Tune's own files (``experiment_state-*.json``, each trial's
``params.json`` and ``result.json``) without writing into the directory. ``study.json``, when
the launcher wrote one, gives the study's name, objective, budget, distributions and data
directory; otherwise they are inferred from the tables.

Failed and early-stopped trials stay in ``trials``: :func:`trial_overview` lists every trial
with its status, how far it ran and why it ended, and the analyses say which trials they could
not use (e.g. a trial that errored before its first report has no metric rows).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from study.experiment_format import (
    METRICS_COLUMNS,
    METRICS_FILE,
    SEARCH,
    STUDY_JSON,
    TASKS,
    TRIALS_FILE,
    Task,
    task,
)

# task -> (objective reported to Tune, evaluation metric the analysis compares)
TASK_METRICS = {name: (t.objective, t.metric) for name, t in TASKS.items()}
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
ITERATIONS = ("best", "final")
UNSET = "(unset)"


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
        FileNotFoundError: ``path`` is not a directory, or holds neither the tables nor a Tune
            experiment to rebuild them from.
    """
    path = Path(path).expanduser()
    if not path.is_dir():
        raise FileNotFoundError(f"experiment directory {path} does not exist")
    spec = read_study_json(path)
    have_tables = (path / TRIALS_FILE).is_file() and (path / METRICS_FILE).is_file()
    if have_tables and not rebuild:
        trials = pd.read_parquet(path / TRIALS_FILE)
        metrics = pd.read_parquet(path / METRICS_FILE)
    else:
        trials, metrics = rebuild_tables(path, spec)
    trials, metrics = normalise_trials(trials), normalise_metrics(metrics)
    info = study_info(path, spec, trials, metrics)
    arms = info.extra.get("arms") or ()
    chosen = tuple(group_by) if group_by else default_group_by(info.task, trials, arms)
    return Experiment(path, trials, metrics, info, rebuilt=not have_tables or rebuild,
                      group_by=chosen)


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


def mixture_members(name: str) -> list[str]:
    """Distributions a mixture string names: ``'joint:a+b'`` -> ``['a', 'b']``; the
    ``healthy:`` prefix is ignored; ``'pool'`` and ``'weights'`` name none explicitly."""
    spec = name.removeprefix("healthy:")
    _, _, rest = spec.partition(":")
    return [m for m in rest.split("+") if m]


def is_validation(eval_set: pd.Series) -> pd.Series:
    """True for validation sets: ``'val'`` or ``'val_<distribution>'``."""
    eval_set = eval_set.astype(str)
    return (eval_set == "val") | eval_set.str.startswith("val_")


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


# ------------------------------------------------------------------ rebuilding from Tune files
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
    from study import results

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
    """``val_auroc`` or ``val_ssim``, whichever a trial's ``result.json`` reports first.

    Raises:
        ValueError: no trial reported either (nothing to analyse yet).
    """
    for file in sorted(path.glob("*/result.json")):
        with file.open() as handle:
            for line in handle:
                for objective, _ in TASK_METRICS.values():
                    if f'"{objective}"' in line:
                        return objective
    raise ValueError(
        f"{path}: no trial has reported val_auroc or val_ssim yet; nothing to analyse"
    )


# ------------------------------------------------------------------ trials: overview, selection
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
