"""The report's sections. Each builder takes the :class:`ReportContext` and returns a
:class:`Section`; the first four read the confirm-trial answer (:mod:`analysis.answer`), the
others the trials and metrics tables."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from analysis import answer_figures, figures
from analysis.experiment import status_counts, trial_overview
from analysis.mixtures import joint_vs_separate, pathology
from analysis.report.context import ReportContext, Section, Table
from analysis.robustness import (
    describe_kind,
    effective_robustness,
    overfitting_table,
    summarize_overfitting,
    training_curves,
)
from analysis.similarity import train_test_similarity

INTERVALS = "95% CI, hierarchical bootstrap over confirm seeds and test volumes (patients)"


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
    fig = answer_figures.validity_figure(ans.validity, task, "chance (AUROC 0.5)")
    section.fig, section.name = fig, "validity"
    section.caption = (
        f"Clean in-distribution {figures.metric_label(task.metric)} of each arm's confirm "
        "trials (its chosen configuration retrained with fresh seeds), the mean over the "
        "training distributions, each scored on its own test split; bars: "
        f"{INTERVALS}. Dashed: chance; dotted: the threshold from which an arm's gaps are "
        f"interpreted (chance + {task.margin:g}). Converged: the validation objective's best "
        f"over the last epochs beat the earlier best by less than {task.converged_tolerance:g}."
    )
    return section


def headline_section(ctx: ReportContext) -> Section:
    """The paired comparisons between arms that answer the question."""
    ans, task = ctx.answer, ctx.exp.task_info
    section = Section("headline", "Headline: paired comparisons between arms", tables=[
        Table("headline", "Each arm against the reference arm, per target, paired on the "
              "same test slices", ans.headline)])
    if not ans.available or ans.headline.empty:
        section.note = "no finished confirm trials with per-sample results: nothing to compare"
        return section
    fig = answer_figures.comparison_figure(ans.headline, task)
    section.fig, section.name = fig, "headline"
    section.caption = (
        f"OOD gap of the reference arm ({ans.reference_arm}) minus that of each other arm, "
        "per target: a shift kind (mean over severities 1-5 and the training distributions), "
        "another distribution (clean), or 'all' (the mean over those targets). OOD gap = "
        "clean score minus shifted score on the same slices (for another distribution: the "
        "same anatomy's training distribution's clean score minus its score). Positive: "
        f"{ans.reference_arm} loses more. Both arms are scored on identical test slices and "
        f"every confirm seed; bars: {INTERVALS}; grey band: the ±{task.resolution:g} a "
        "comparison must resolve."
    )
    return section


def gap_section(ctx: ReportContext) -> Section:
    """Each arm's OOD gap per target."""
    ans, task = ctx.answer, ctx.exp.task_info
    section = Section("gaps", "OOD gap per arm", tables=[
        Table("arm_gaps", "Each arm's OOD gap per target", ans.arm_gaps),
        Table("id_scores", "Each arm's clean in-distribution score", ans.id_scores)])
    if not ans.available or ans.arm_gaps.empty:
        section.note = "no finished confirm trials with per-sample results: no gaps"
        return section
    fig = answer_figures.arm_gap_figure(ans.arm_gaps, task)
    section.fig, section.name = fig, "ood_gap_by_arm"
    section.caption = (
        "OOD gap of each arm per target (see the headline's definition), mean over its "
        f"confirm seeds; bars: {INTERVALS}."
    )
    return section


def severity_section(ctx: ReportContext) -> Section:
    """OOD gap against severity per shift and arm."""
    ans, task = ctx.answer, ctx.exp.task_info
    section = Section("severity", "OOD gap against shift severity", tables=[
        Table("severity_gaps", "Each arm's OOD gap per shift and severity",
              ans.severity_gaps)])
    if not ans.available or ans.severity_gaps.empty:
        section.note = "no shifted test sets were evaluated in this study"
        return section
    fig = answer_figures.severity_figure(ans.severity_gaps, task)
    section.fig, section.name = fig, "gap_vs_severity"
    section.caption = (
        "Clean score minus shifted score on the same test slices, per shift and severity, "
        f"mean over the training distributions and confirm seeds; bands: {INTERVALS}."
    )
    return section


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
    er = effective_robustness(ctx.exp, "best", settings=ctx.settings)
    ctx.results["er"] = er
    section = Section("robustness", "Effective robustness", tables=[
        Table("effective_robustness", "Mean effective robustness per group", er.per_group),
        Table("effective_robustness_per_trial", "ID, OOD, baseline and residual per trial",
              er.per_trial),
    ])
    if er.per_trial.empty:
        section.note = "no trial has both an ID reference and an OOD value"
        return section
    fig = figures.effective_robustness_figure(er, ctx.exp.group_name, ctx.interval)
    section.fig, section.name = fig, "effective_robustness"
    section.caption = (
        f"Each dot is a trial at its best iteration: ID {figures.metric_label(er.metric)} "
        f"(clean in-distribution test sets) against OOD (mean over {describe_kind(er.kind)}). "
        "Black line: least-squares baseline over all trials, fitted in logit space for metrics "
        "in [0, 1] (Taori et al., 2020); dotted: y = x. Effective robustness (ER) = a trial's "
        f"OOD value minus the baseline at its ID value; legend: group mean ER ({ctx.interval} "
        f"in the table). {er.note}."
    )
    return section


def overfitting_section(ctx: ReportContext) -> Section:
    """ID and OOD metric against epoch, and the peaks."""
    exp, metric = ctx.exp, ctx.exp.main_metric
    curves = training_curves(exp)
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
        section.note = "no trial has both ID and OOD values over epochs"
        return section
    fig = figures.overfitting_figure(curves, table, metric, kind, ctx.settings.seed,
                                     ctx.settings.n_resamples, ctx.settings.confidence)
    section.fig, section.name = fig, "id_ood_vs_epoch"
    section.caption = (
        f"ID (clean in-distribution test sets) and OOD ({describe_kind(kind)}) "
        f"{figures.metric_label(metric)} against epoch, one panel per group; lines are means "
        "over the trials that reached each epoch (ASHA stops weak trials early, so later "
        "epochs average fewer, better trials); bands: seaborn's "
        f"{ctx.settings.confidence:.0%} percentile bootstrap CI of the mean; "
        "dotted lines: the group's mean epoch of the ID and OOD peaks. OOD drop = OOD value at "
        "its peak − final OOD value."
    )
    return section


def joint_section(ctx: ReportContext) -> Section:
    """Joint versus separate training per target distribution."""
    comparison = joint_vs_separate(ctx.exp, "best", settings=ctx.settings)
    ctx.results["joint"] = comparison
    section = Section("joint", "Joint versus separate training")
    if not comparison.applies:
        section.note = comparison.note
        return section
    metric = ctx.exp.main_metric
    section.tables = [Table("joint_vs_separate", "Each mixture against the best "
                            "single-distribution model per target", comparison.table)]
    fig = figures.joint_vs_separate_figure(comparison, metric, ctx.interval)
    section.fig, section.name = fig, "joint_vs_separate"
    section.caption = (
        f"{figures.metric_label(metric)} on each target distribution's clean test set. Black "
        "bar: the best model trained on a single distribution (the best single:D trial on that "
        f"target at its best iteration). Dots: each mixture's mean over its trials with a "
        f"{ctx.interval}; hollow diamonds: the mixture's best tuned configuration. The table's "
        "in_mixture column says whether the mixture trained on the target."
    )
    return section


def pathology_section(ctx: ReportContext) -> Section:
    """Lesion-box SSIM with and without finding slices in training."""
    comparison = pathology(ctx.exp, "best", settings=ctx.settings)
    section = Section("pathology", "Pathology: quality inside lesion boxes")
    if not comparison.applies:
        section.note = comparison.note
        return section
    section.tables = [Table("pathology", "Lesion-box SSIM with minus without finding slices",
                            comparison.table)]
    fig = figures.pathology_figure(comparison, ctx.interval)
    section.fig, section.name = fig, "pathology_lesion_ssim"
    section.caption = (
        "SSIM inside annotated lesion boxes of models trained with the finding slices of a "
        "mixture minus models trained on its healthy slices only (healthy:M), per test set, at "
        f"each trial's best iteration; bars: {ctx.interval} of the difference (trials of each "
        "side resampled independently)."
    )
    return section


def similarity_section(ctx: ReportContext) -> Section:
    """Train-test similarity against OOD performance."""
    section = Section("similarity", "Train-test similarity")
    if ctx.exp.task != "recon" or "config/mixture" not in ctx.exp.trials:
        section.note = ("train-test similarity compares training mixtures; every arm of this "
                        "study trains on the same data")
        return section
    if ctx.data_dir is None or not Path(ctx.data_dir).is_dir():
        where = ctx.data_dir or "none given"
        section.note = (f"data directory not available ({where}): pass --data DIR or write "
                        "data_dir in study.json to compute image embeddings")
        return section
    result = train_test_similarity(ctx.exp, ctx.data_dir, ctx.encoder, "best",
                                   settings=ctx.settings, max_slices=ctx.max_slices)
    ctx.results["similarity"] = result
    section.tables = [
        Table("similarity_pairs", f"Similarity and performance per (mixture, test set); "
              f"encoder: {result.encoder}", result.pairs),
        Table("similarity_correlation", "Correlation of similarity and performance",
              result.correlations),
    ]
    if not result.applies:
        section.note = "; ".join(result.notes) or "no (mixture, test set) pair could be computed"
        return section
    metric = ctx.exp.main_metric
    fig = figures.similarity_figure(result, metric)
    section.fig, section.name = fig, "similarity_vs_ood"
    section.caption = (
        f"Each point is a (mixture, test set) pair. x: for each test image, the largest cosine "
        f"similarity of its embedding to any training image of the mixture, averaged over the "
        f"test set; y: {figures.metric_label(metric)} on that test set, mean over the mixture's "
        "trials at their best iteration. Filled: OOD pairs (test distribution not in the "
        "mixture), hollow: in-distribution. Line and correlations over the OOD pairs: Pearson "
        f"r with its Fisher-z interval, Spearman ρ with a paired {ctx.interval}. Encoder: "
        f"{result.encoder}."
    )
    if result.notes:
        section.note = "; ".join(result.notes)
    return section


SECTION_BUILDERS: dict[str, Callable[[ReportContext], Section]] = {
    "validity": validity_section,
    "headline": headline_section,
    "settings": settings_section,
    "gaps": gap_section,
    "severity": severity_section,
    "robustness": robustness_section,
    "overfitting": overfitting_section,
    "joint": joint_section,
    "pathology": pathology_section,
    "similarity": similarity_section,
}
SECTIONS = tuple(SECTION_BUILDERS.values())
