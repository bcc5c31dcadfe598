"""The study's answer as typed results: validity first, then the headline comparisons.

:func:`answer` runs the confirm-trial analysis of :mod:`analysis.confirm` once and returns an
:class:`Answer` that the report's sections, the answer text and the notebooks all read.
Diagnosis: ``headline`` holds ``ood_gap`` differences of every arm against the reference arm
(``batch`` when the study has it), per shift kind, per other distribution and ``all``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from analysis.confirm import (
    ALL,
    ConfirmScores,
    against,
    arm_table,
    comparisons,
    confirm_scores,
    gap_targets,
    id_scores,
)
from analysis.experiment import Experiment
from analysis.stats import DEFAULT_BOOTSTRAP, BootstrapSettings
from analysis.validity import convergence, validity_table, verdict
from study.experiment_format import CHANCE_AUROC

REFERENCE_ARM = "batch"
HEADLINE_COLUMNS = ["comparison", "quantity", "target", "estimate", "ci_low", "ci_high",
                    "n_seeds", "n_volumes"]


@dataclass
class Answer:
    """Everything the answer rests on. Tables are empty (and ``scores`` None) when the
    experiment has no finished confirm trial with per-sample rows."""

    scores: ConfirmScores | None
    validity: pd.DataFrame
    verdict: str
    headline: pd.DataFrame
    id_scores: pd.DataFrame = field(default_factory=pd.DataFrame)
    arm_gaps: pd.DataFrame = field(default_factory=pd.DataFrame)
    severity_gaps: pd.DataFrame = field(default_factory=pd.DataFrame)
    convergence: pd.DataFrame = field(default_factory=pd.DataFrame)
    reference_arm: str = ""

    @property
    def available(self) -> bool:
        return self.scores is not None


def answer(exp: Experiment, settings: BootstrapSettings = DEFAULT_BOOTSTRAP) -> Answer:
    """The confirm-trial answer of ``exp`` (diagnosis studies)."""
    task = exp.task_info
    converged = convergence(exp.trials, exp.metrics, task)
    scores = confirm_scores(task, exp.trials, exp.samples, settings.n_resamples, settings.seed)
    if scores is None or exp.task != "diagnosis":
        empty = pd.DataFrame(columns=HEADLINE_COLUMNS)
        return Answer(None, validity_table(pd.DataFrame(columns=["arm", "estimate", "ci_low",
                                                                  "ci_high", "n_seeds"]),
                                           converged, {}, task),
                      verdict(pd.DataFrame(), empty, task), empty, convergence=converged)
    train = list(exp.info.train_pool)
    arms = list(scores.n_seeds)
    reference = REFERENCE_ARM if REFERENCE_ARM in arms else arms[0]
    confidence = settings.confidence
    ids = arm_table(scores, "id_score", {ALL: id_scores(scores, train)}, train, confidence)
    targets, cells = gap_targets(scores, train)
    headline = comparisons(scores, "ood_gap", targets, against(reference, arms), train,
                           confidence)
    validity = validity_table(ids, converged, {a: CHANCE_AUROC for a in arms}, task)
    return Answer(
        scores=scores, validity=validity, verdict=verdict(validity, headline, task),
        headline=headline, id_scores=ids,
        arm_gaps=arm_table(scores, "ood_gap", targets, train, confidence),
        severity_gaps=_split_cells(arm_table(scores, "ood_gap", cells, train, confidence)),
        convergence=converged, reference_arm=reference,
    )


def _split_cells(table: pd.DataFrame) -> pd.DataFrame:
    """``target = '<shift>@<severity>'`` -> ``shift`` and ``severity`` columns."""
    if table.empty:
        return table
    parts = table["target"].str.split("@", expand=True)
    return table.drop(columns="target").assign(shift=parts[0], severity=parts[1].astype(int))
