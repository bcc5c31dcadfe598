"""The study's answer as typed results: validity first, then the headline comparisons.

:func:`answer` runs the confirm-trial analysis of :mod:`analysis.confirm` once and returns an
:class:`Answer` that the report's sections, the answer text and the notebooks all read.
Diagnosis: ``headline`` holds ``ood_gap`` differences of every arm against the reference arm
(``batch`` when the study has it), per shift kind, per other distribution and ``all``; the
reference of the validity panel is chance (AUROC 0.5). Reconstruction (mixture studies):
``headline`` holds each mixture's SSIM minus the separate model's per target distribution and
the in-/out-of-mixture averages (:mod:`analysis.mixture_answer`); the reference is the
zero-filled reconstruction.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from analysis import mixture_answer
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
from study.experiment_format import CHANCE_AUROC, CONFIRM

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
    design: str = "gaps"  # 'gaps' (arms share their data) or 'mixtures' (arms are the data)
    arm_scores: pd.DataFrame = field(default_factory=pd.DataFrame)
    references: dict[str, float] = field(default_factory=dict)
    targets: dict = field(default_factory=dict, repr=False)

    @property
    def available(self) -> bool:
        return self.scores is not None


def answer(exp: Experiment, settings: BootstrapSettings = DEFAULT_BOOTSTRAP) -> Answer:
    """The confirm-trial answer of ``exp``."""
    task = exp.task_info
    converged = convergence(exp.trials, exp.metrics, task)
    scores = confirm_scores(task, exp.trials, exp.samples, settings.n_resamples, settings.seed)
    if scores is None:
        empty = pd.DataFrame(columns=HEADLINE_COLUMNS)
        return Answer(None, validity_table(pd.DataFrame(columns=["arm", "estimate", "ci_low",
                                                                  "ci_high", "n_seeds"]),
                                           converged, {}, task),
                      verdict(pd.DataFrame(), empty, task), empty, convergence=converged)
    if arms_differ_by_data(exp.trials):
        return _mixture_answer(exp, scores, converged, settings)
    return _gap_answer(exp, scores, converged, settings)


def arms_differ_by_data(trials: pd.DataFrame) -> bool:
    """True when the confirm trials' arms train on different mixtures (a mixture study);
    False when they share the training data and differ otherwise (normalization studies)."""
    confirm = trials[trials["phase"] == CONFIRM]
    return "config/mixture" in confirm and confirm["config/mixture"].nunique() > 1


def _gap_answer(exp: Experiment, scores: ConfirmScores, converged: pd.DataFrame,
                settings: BootstrapSettings) -> Answer:
    """Arms that share their training data: OOD gaps and paired gap differences."""
    task, confidence = exp.task_info, settings.confidence
    train = list(exp.info.train_pool)
    arms = list(scores.n_seeds)
    reference = REFERENCE_ARM if REFERENCE_ARM in arms else arms[0]
    ids = arm_table(scores, "id_score", {ALL: id_scores(scores, train)}, train, confidence)
    targets, cells = gap_targets(scores, train)
    headline = comparisons(scores, "ood_gap", targets, against(reference, arms), train,
                           confidence)
    if exp.task == "diagnosis":
        floor = CHANCE_AUROC
    else:
        zero = mixture_answer.zero_filled(exp.samples, scores)
        floor = float(np.mean([zero[d] for d in train if d in zero])) if zero else np.nan
    validity = validity_table(ids, converged, {a: floor for a in arms}, task)
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


def _mixture_answer(exp: Experiment, scores: ConfirmScores, converged: pd.DataFrame,
                    settings: BootstrapSettings) -> Answer:
    task, confidence = exp.task_info, settings.confidence
    members = mixture_answer.arm_members(exp.trials, exp.info.train_pool)
    targets = mixture_answer.clean_targets(scores)
    train = sorted({d for m in members.values() for d in m})
    ids = arm_table(scores, "id_score", {ALL: mixture_answer.id_scores(targets, scores,
                                                                        members)},
                    train, confidence)
    references = mixture_answer.zero_filled(exp.samples, scores)
    per_arm = {a: float(np.mean([references[d] for d in m if d in references]))
               if any(d in references for d in m) else np.nan for a, m in members.items()}
    validity = validity_table(ids, converged, per_arm, task)
    headline = mixture_answer.joint_vs_separate(scores, targets, members, confidence)
    overall = (mixture_answer.IN_MIXTURE, mixture_answer.OUT_OF_MIXTURE)
    return Answer(
        scores=scores, validity=validity, headline=headline, id_scores=ids,
        verdict=verdict(validity, headline, task, overall),
        arm_scores=arm_table(scores, "ssim", targets, train, confidence),
        references=references, convergence=converged, design="mixtures", targets=targets,
    )


def confirmed(exp: Experiment) -> Experiment:
    """The experiment restricted to its confirm trials (itself when it has none, e.g. an
    experiment from before search-then-confirm): what every answer-bearing number uses."""
    keep = exp.trials["phase"] == CONFIRM
    if not keep.any():
        return exp
    ids = set(exp.trials.loc[keep, "trial_id"])
    return replace(exp, trials=exp.trials[keep].reset_index(drop=True),
                   metrics=exp.metrics[exp.metrics["trial_id"].isin(ids)].reset_index(drop=True))
