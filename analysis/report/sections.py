"""The report's sections. Each builder takes the :class:`ReportContext` and returns a
:class:`Section`; the first four read the confirm-trial answer (:mod:`analysis.answer`), the
others the trials and metrics tables."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure

from analysis import answer_figures, figures
from analysis.mixture_answer import similarity_correlation
from analysis.mixtures import pathology
from analysis.report.context import ReportContext, Section, Table
from analysis.robustness import (
    describe_kind,
    effective_robustness,
    over_epochs,
    overfitting_table,
    summarize_overfitting,
    training_curves,
)
from analysis.similarity import train_test_similarity
from analysis.trials import status_counts, trial_overview
from study.experiment_format import Task

INTERVALS = "95% CI, hierarchical bootstrap over confirm seeds and test volumes (patients)"
REFERENCE_LABEL = {"diagnosis": "chance level (AUROC 0.5)",
                   "recon": "zero-filled reconstruction"}


# ------------------------------------------------------------------ the answer
def validity_section(ctx: ReportContext) -> Section:
    """Can the study answer its question: ID score against the reference, convergence,
    interval widths, and one sentence."""
    ans, task = ctx.answer, ctx.exp.task_info
    section = Section("validity", "Can this study answer its question?", note=ans.verdict,
                      tables=[
                          Table("validity", "Per arm: clean in-distribution score of the "
                                "confirm trials with its interval, the reference, whether "
                                "every confirm seed converged, whether its comparisons can be "
                                "interpreted", ans.validity),
                          Table("convergence", "Per confirm trial: how much its objective "
                                "still improved over its last epochs", ans.convergence),
                      ])
    if not ans.available:
        return section
    reference = REFERENCE_LABEL[task.name]
    fig = answer_figures.validity_figure(ans.validity, task, reference)
    return section.with_figure(fig, "validity", (
        f"Clean in-distribution {figures.metric_label(task.metric)} of each arm's confirm "
        "trials (its chosen configuration retrained with fresh seeds), the mean over the "
        "arm's training distributions, each scored on its own test split; bars: "
        f"{INTERVALS}. Reference: the {reference}; an arm's comparisons are interpreted from "
        f"the reference + {task.margin:g}. Converged: the validation objective's best over "
        f"the last epochs beat the earlier best by less than {task.converged_tolerance:g}."
    ))


def headline_section(ctx: ReportContext) -> Section:
    """The paired comparisons between arms that answer the question."""
    ans, task = ctx.answer, ctx.exp.task_info
    section = Section("headline", "Headline: paired comparisons between arms", tables=[
        Table("headline", "Each arm against the reference arm, per target, paired on the "
              "same test slices", ans.headline)])
    if not ans.available or ans.headline.empty:
        return section.skipped("no finished confirm trials with per-sample results: nothing "
                               "to compare")
    fig = answer_figures.comparison_figure(ans.headline, task,
                                           by_first_arm=ans.design == "mixtures")
    if ans.design == "mixtures":
        return section.with_figure(fig, "headline", (
            "SSIM of each mixture arm (colour) minus a single-distribution arm on each target "
            "distribution's clean test slices: on a target in the mixture, the arm trained on "
            "that target alone; on a target outside it, the best on the target of the arms "
            "trained on one of the mixture's own distributions (they never saw the target "
            "either). 'in-mixture' and 'out-of-mixture' average the pairs whose target the "
            "mixture did or did not train on; headline.csv names both arms of every pair. "
            "Positive: "
            f"the mixture is better. Paired on identical slices; bars: {INTERVALS}; grey band: "
            f"±{task.resolution:g}."
        ))
    return section.with_figure(fig, "headline", (
        f"OOD gap of the reference arm ({ans.reference_arm}) minus that of each other arm, "
        "per target: a shift kind (mean over severities 1-5 and the training distributions), "
        "another distribution (clean), or 'all' (the mean over those targets). OOD gap = "
        "clean score minus shifted score on the same slices (for another distribution: the "
        "same anatomy's training distribution's clean score minus its score). Positive: "
        f"{ans.reference_arm} loses more. Both arms are scored on identical test slices and "
        f"every confirm seed; bars: {INTERVALS}; grey band: the ±{task.resolution:g} a "
        "comparison must resolve."
    ))


def gap_section(ctx: ReportContext) -> Section:
    """Each arm's OOD gap per target (or, in a mixture study, its SSIM per target)."""
    ans = ctx.answer
    if ans.design == "mixtures":
        return arm_score_section(ctx)
    section = Section("gaps", "OOD gap per arm", tables=[
        Table("arm_gaps", "Each arm's OOD gap per target", ans.arm_gaps),
        Table("id_scores", "Each arm's clean in-distribution score", ans.id_scores)])
    return _drawn_if(ctx, ans.arm_gaps, section, answer_figures.arm_gap_figure, "ood_gap_by_arm",
                     "no finished confirm trials with per-sample results: no gaps", (
        "OOD gap of each arm per target (see the headline's definition), mean over its "
        f"confirm seeds; bars: {INTERVALS}."
    ))


def _drawn_if(ctx: ReportContext, frame: pd.DataFrame, section: Section,
              draw: Callable[[pd.DataFrame, Task], Figure], name: str, empty: str,
              caption: str) -> Section:
    """``section`` with ``draw(frame, task)`` when the confirm trials gave ``frame`` rows, else
    with the note ``empty``."""
    if not ctx.answer.available or frame.empty:
        return section.skipped(empty)
    return section.with_figure(draw(frame, ctx.exp.task_info), name, caption)


def arm_score_section(ctx: ReportContext) -> Section:
    """Each arm's SSIM per target distribution against the zero-filled reference."""
    ans, task = ctx.answer, ctx.exp.task_info
    references = pd.DataFrame({"target": list(ans.references),
                               "zero_filled": list(ans.references.values())})
    section = Section("gaps", "SSIM per arm and target distribution", tables=[
        Table("arm_scores", "Each arm's SSIM per clean test distribution", ans.arm_scores),
        Table("zero_filled", "The zero-filled reconstruction's SSIM per test distribution",
              references)])
    fig = answer_figures.arm_score_figure(ans.arm_scores, ans.references, task)
    return section.with_figure(fig, "ssim_by_arm", (
        "SSIM of each arm's confirm trials on each clean test distribution (per slice, "
        f"averaged per volume, then over the volumes); bars: {INTERVALS}; black ticks: the "
        "zero-filled reconstruction of the same slices."
    ))


def severity_section(ctx: ReportContext) -> Section:
    """OOD gap against severity per shift and arm."""
    ans = ctx.answer
    section = Section("severity", "OOD gap against shift severity", tables=[
        Table("severity_gaps", "Each arm's OOD gap per shift and severity",
              ans.severity_gaps)])
    return _drawn_if(ctx, ans.severity_gaps, section, answer_figures.severity_figure,
                     "gap_vs_severity", "no shifted test sets were evaluated in this study", (
        "Clean score minus shifted score on the same test slices, per shift and severity, "
        f"mean over the training distributions and confirm seeds; bands: {INTERVALS}."
    ))


# ------------------------------------------------------------------ trials and the rest
def settings_section(ctx: ReportContext) -> Section:
    """Trial overview and counts per status (failures and early stops included)."""
    overview = trial_overview(ctx.exp)
    counts = status_counts(ctx.exp)
    failed = overview[overview["note"] != "finished"]
    tables = [
        Table("trial_counts", f"Trials per {ctx.exp.group_name} and status", counts),
        Table("trials_not_finished", "Trials that errored, stopped early, reported nothing or "
              "are unfinished, with the reason", failed),
        Table("trials", "Every trial: status, iterations, best iteration and objective",
              overview),
    ]
    return Section("settings", "Trials", tables=tables)


def robustness_section(ctx: ReportContext) -> Section:
    """Effective robustness: OOD against ID across trials with the fitted baseline."""
    er = effective_robustness(ctx.confirmed, "best", settings=ctx.settings)
    ctx.results["er"] = er
    section = Section("robustness", "Effective robustness", tables=[
        Table("effective_robustness", "Mean effective robustness per group", er.per_group),
        Table("effective_robustness_per_trial", "ID, OOD, baseline and residual per trial",
              er.per_trial),
    ])
    if er.per_trial.empty:
        return section.skipped("no trial has both an ID reference and an OOD value")
    fig = figures.effective_robustness_figure(er, ctx.exp.group_name, ctx.interval)
    return section.with_figure(fig, "effective_robustness", (
        f"Each dot is a trial at its best iteration: ID {figures.metric_label(er.metric)} "
        f"(clean in-distribution test sets) against OOD (mean over {describe_kind(er.kind)}). "
        "Black line: least-squares baseline over all trials, fitted in logit space for metrics "
        "in [0, 1] (Taori et al., 2020); dotted: y = x. Effective robustness (ER) = a trial's "
        f"OOD value minus the baseline at its ID value; legend: group mean ER ({ctx.interval} "
        f"in the table). {er.note}."
    ))


def overfitting_section(ctx: ReportContext) -> Section:
    """ID and OOD metric against epoch, and the peaks."""
    exp, metric = ctx.confirmed, ctx.exp.main_metric
    curves = over_epochs(training_curves(exp))
    table = overfitting_table(curves, metric)
    summary = summarize_overfitting(table, ctx.settings)
    ctx.results["overfitting"] = summary
    ctx.results["overfitting_trials"] = table
    kind = ctx.results["er"].kind if "er" in ctx.results else None
    section = Section("overfitting", "Distributional overfitting", tables=[
        Table("overfitting", "Per group: mean OOD drop after the OOD peak, mean peak epochs",
              summary),
        Table("overfitting_per_trial", "Per trial: ID and OOD peak epoch and value, final "
              "values, OOD drop", table),
    ])
    if curves.empty:
        return section.skipped("no trial has ID and OOD values at two epochs or more (a "
                               "study that scores its test sets once, at the best epoch, "
                               "cannot show when OOD quality peaks)")
    fig = figures.overfitting_figure(curves, table, metric, kind, ctx.settings.seed,
                                     ctx.settings.n_resamples, ctx.settings.confidence)
    return section.with_figure(fig, "id_ood_vs_epoch", (
        f"ID (clean in-distribution test sets) and OOD ({describe_kind(kind)}) "
        f"{figures.metric_label(metric)} against epoch, one panel per group; lines are means "
        "over the trials that reached each epoch (ASHA stops weak trials early, so later "
        "epochs average fewer, better trials); bands: seaborn's "
        f"{ctx.settings.confidence:.0%} percentile bootstrap CI of the mean; "
        "dotted lines: the group's mean epoch of the ID and OOD peaks. OOD drop = OOD value at "
        "its peak − final OOD value."
    ))


def pathology_section(ctx: ReportContext) -> Section:
    """Lesion-box SSIM with and without finding slices in training."""
    comparison = pathology(ctx.exp, "best", settings=ctx.settings)
    section = Section("pathology", "Pathology: quality inside lesion boxes")
    if not comparison.applies:
        return section.skipped(comparison.note)
    section.tables = [Table("pathology", "Lesion-box SSIM with minus without finding slices",
                            comparison.table)]
    fig = figures.pathology_figure(comparison, ctx.interval)
    return section.with_figure(fig, "pathology_lesion_ssim", (
        "SSIM inside annotated lesion boxes of models trained with the finding slices of a "
        "mixture minus models trained on its healthy slices only (healthy:M), per test set, at "
        f"each trial's best iteration; bars: {ctx.interval} of the difference (trials of each "
        "side resampled independently)."
    ))


def similarity_section(ctx: ReportContext) -> Section:
    """Train-test similarity against OOD performance."""
    section = Section("similarity", "Train-test similarity")
    if ctx.exp.task != "recon" or "config/mixture" not in ctx.exp.trials:
        return section.skipped("train-test similarity compares training mixtures; every arm "
                               "of this study trains on the same data")
    if ctx.data_dir is None or not Path(ctx.data_dir).is_dir():
        where = ctx.data_dir or "none given"
        return section.skipped(f"data directory not available ({where}): pass --data DIR or "
                               "write data_dir in study.json to compute image embeddings")
    result = train_test_similarity(ctx.confirmed, ctx.data_dir, ctx.encoder, "best",
                                   settings=ctx.settings, max_slices=ctx.max_slices,
                                   annotation_csvs=ctx.annotation_csvs)
    if ctx.answer.design == "mixtures":
        seeded = similarity_correlation(result.pairs, ctx.answer.scores, ctx.answer.targets,
                                        ctx.settings.confidence)
        ctx.results["similarity_seeded"] = seeded
    ctx.results["similarity"] = result
    section.tables = [
        Table("similarity_pairs", f"Similarity and performance per (mixture, test set); "
              f"encoder: {result.encoder}", result.pairs),
        Table("similarity_correlation", "Correlation of similarity and performance",
              result.correlations),
    ]
    seeded = ctx.results.get("similarity_seeded")
    if seeded is not None:
        section.tables.append(Table(
            "similarity_correlation_seeded", "Correlation over the OOD pairs with its 95% CI "
            "over confirm seeds and test volumes (each pair's SSIM resampled, its similarity "
            "fixed)", seeded))
    if not result.applies:
        return section.skipped("; ".join(result.notes)
                               or "no (mixture, test set) pair could be computed")
    metric = ctx.exp.main_metric
    fig = figures.similarity_figure(result, metric)
    section.note = "; ".join(result.notes)  # what could not be computed, beside the figure
    return section.with_figure(fig, "similarity_vs_ood", (
        f"Each point is a (mixture, test set) pair. x: for each test image, the largest cosine "
        f"similarity of its embedding to any training image of the mixture, averaged over the "
        f"test set; y: {figures.metric_label(metric)} on that test set, mean over the mixture's "
        "trials at their best iteration. Filled: OOD pairs (test distribution not in the "
        "mixture), hollow: in-distribution. Line and correlations over the OOD pairs: Pearson "
        f"r with its Fisher-z interval, Spearman ρ with a paired {ctx.interval}. Encoder: "
        f"{result.encoder}."
    ))


SECTION_BUILDERS: dict[str, Callable[[ReportContext], Section]] = {
    "validity": validity_section,
    "headline": headline_section,
    "settings": settings_section,
    "gaps": gap_section,
    "severity": severity_section,
    "robustness": robustness_section,
    "overfitting": overfitting_section,
    "pathology": pathology_section,
    "similarity": similarity_section,
}
SECTIONS = tuple(SECTION_BUILDERS.values())
