"""The experiment directory: the one place that says what a finished study leaves behind.

A study writes ``<storage>/<name>/``; the launcher, the trainables, the results writer and the
analysis all take names and columns from here (this module imports nothing of the project, so
any layer may use it).

Files:

- ``study.json``: the study's settings (:data:`STUDY_KEYS`), written by the launcher before
  training;
- ``trials.parquet``: one row per trial (:data:`TRIAL_COLUMNS` plus one ``config/<key>`` column
  per flattened config key and ``final/<metric>``/``best/<metric>`` columns);
- ``metrics.parquet``: one row per reported evaluation value (:data:`METRICS_COLUMNS`);
- ``optuna.journal`` (:data:`OPTUNA_JOURNAL_FILE`): the search as Optuna keeps it, one Optuna
  study per searched arm named after the arm (each search trial's parameters, its objective at
  every epoch and its last); open it with ``optuna.load_study`` or ``optuna-dashboard``;
- ``predictions.parquet`` (diagnosis) and ``slice_metrics.parquet`` (reconstruction): one row per
  confirm trial, evaluation set and slice (:data:`PREDICTIONS_COLUMNS`,
  :data:`SLICE_METRICS_COLUMNS`), at the checkpoint the analysis uses. A confirm trial writes
  its rows (without ``trial_id``) as :data:`SAMPLES_FILE` into its last checkpoint; the
  results writer gathers them.

Every trial's config carries :data:`ARM_KEY` (the arm it belongs to), :data:`PHASE_KEY`
(:data:`SEARCH` or :data:`CONFIRM`) and :data:`SEED_KEY`.

Reported evaluation values are named ``eval/<set>/<shift>/<severity>/<metric>``
(:func:`eval_key`; ``confirm/...`` for a confirm trial's final evaluation); ``<set>`` is a
distribution's name for its test split and ``val_<distribution>`` for its validation split.
"""

from __future__ import annotations

from dataclasses import dataclass

STUDY_JSON = "study.json"
TRIALS_FILE = "trials.parquet"
METRICS_FILE = "metrics.parquet"
PREDICTIONS_FILE = "predictions.parquet"
SLICE_METRICS_FILE = "slice_metrics.parquet"
SAMPLES_FILE = "samples.parquet"  # inside a confirm trial's last checkpoint
SCHEDULER_STATE_FILE = "scheduler_state.json"  # the early stopper's rungs, for --resume
OPTUNA_JOURNAL_FILE = "optuna.journal"  # Optuna's journal storage: one study per searched arm
CHECKPOINT_PREFIX = "checkpoint_"

ARM_KEY = "arm"
PHASE_KEY = "phase"
SEED_KEY = "seed"
MAX_EPOCHS_KEY = "max_epochs"  # a trial's horizon: its phase's (study.spec.Budget)
SEARCH, CONFIRM = "search", "confirm"
PHASES = (SEARCH, CONFIRM)
#: reported with a confirm trial's evaluation: the epoch whose weights produced it
EVAL_EPOCH_KEY = "eval_epoch"

TRIAL_COLUMNS = (
    "trial_id", "status", "error", "phase", "arm", "iterations", "best_iteration",
    "stopped_early", "node_ip",
)
METRICS_COLUMNS = (
    "trial_id", "iteration", "eval_set", "shift", "severity", "metric", "value",
    "in_distribution",
)
SAMPLE_KEYS = ("eval_set", "distribution", "shift", "severity", "volume", "slice")
PREDICTIONS_COLUMNS = ("trial_id", *SAMPLE_KEYS, "finding", "label", "score")
SLICE_METRICS_COLUMNS = ("trial_id", *SAMPLE_KEYS, "metric", "value")

STUDY_KEYS = (
    "study", "description", "task", "metric", "mode", "max_epochs", "search_epochs",
    "num_samples_per_arm",
    "confirm_seeds", "grace_period", "reduction_factor", "arms", "tune_on", "distributions",
    "train_pool", "data_dir", "seed", "smoke", "early_stopping",
    "replay_of",
)

VAL_PREFIX = "val_"


@dataclass(frozen=True)
class Task:
    """What a task reports and what its answer must show to count.

    ``objective``: what Tune optimises (reported each epoch; ``metrics.parquet`` keeps it as
    ``eval_set = 'val'``); ``metric``: the per-set score compared. Validity (the report's first
    panel): a trial has converged when its objective's best over the last
    :data:`CONVERGENCE_EPOCHS` epochs beats its best before them by less than
    ``converged_tolerance``; an arm is interpretable when its clean ID score is at least its
    reference (chance for diagnosis, the zero-filled image for reconstruction) plus
    ``margin``; a comparison can tell arms apart when its interval's half-width is at most
    ``resolution``.
    """

    name: str
    objective: str
    metric: str
    samples_file: str
    converged_tolerance: float
    margin: float
    resolution: float


CONVERGENCE_EPOCHS = 3
CHANCE_AUROC = 0.5
TASKS = {
    "diagnosis": Task("diagnosis", "val_auroc", "auroc", PREDICTIONS_FILE,
                      converged_tolerance=0.01, margin=0.25, resolution=0.04),
    "recon": Task("recon", "val_ssim", "ssim", SLICE_METRICS_FILE,
                  converged_tolerance=0.005, margin=0.1, resolution=0.02),
}
OBJECTIVE_SET = "val"  # metrics.parquet's eval_set of the objective
#: slice_metrics.parquet's rows of the zero-filled reconstruction (the reference) are named
#: ``zero_filled_<metric>``
ZERO_FILLED_PREFIX = "zero_filled_"


def task(name: str) -> Task:
    """The :class:`Task` called ``name``; unknown names raise ValueError."""
    if name not in TASKS:
        raise ValueError(f"unknown task {name!r}; valid tasks: {', '.join(TASKS)}")
    return TASKS[name]


EVAL_PREFIX, CONFIRM_PREFIX = "eval", "confirm"


def eval_key(eval_set: str, shift: str, severity: int, metric: str,
             prefix: str = EVAL_PREFIX) -> str:
    """Name of one reported evaluation value: ``eval/<set>/<shift>/<severity>/<metric>`` for
    an epoch's own evaluation, ``confirm/...`` for a confirm trial's evaluation at its best
    epoch (:data:`EVAL_EPOCH_KEY`)."""
    return f"{prefix}/{eval_set}/{shift}/{severity}/{metric}"


def parse_eval_key(key: str) -> tuple[str, str, int, str] | None:
    """``(set, shift, severity, metric)`` of an :func:`eval_key` name, else None."""
    parts = key.split("/")
    if len(parts) != 5 or parts[0] not in (EVAL_PREFIX, CONFIRM_PREFIX):
        return None
    return parts[1], parts[2], int(parts[3]), parts[4]


def as_confirm_key(key: str) -> str:
    """The ``confirm/`` twin of an ``eval/`` key."""
    return CONFIRM_PREFIX + key.removeprefix(EVAL_PREFIX)


def val_set(distribution: str) -> str:
    """Name of a distribution's validation set: ``val_<distribution>``."""
    return f"{VAL_PREFIX}{distribution}"


def is_val_set(eval_set: str) -> bool:
    """True for validation sets (``val`` or ``val_<distribution>``)."""
    return eval_set == "val" or eval_set.startswith(VAL_PREFIX)
