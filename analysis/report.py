"""The study's report: ``python -m analysis.report EXPERIMENT_DIR [--out DIR] [--data DIR]
[--clip PATH]``.

Writes, under ``--out`` (default ``EXPERIMENT_DIR/report``): ``figures/*.png`` (seaborn),
``tables/*.csv`` and ``tables/*.md``, and ``index.html``, which shows the study's settings
(from ``study.json`` and the trials table: budget, groups, trials per status with early stops
and errors and their reasons), a short answer computed from the data, and every figure with a
caption saying what it shows, with which definitions and intervals. Analyses that do not apply
to the study (e.g. joint versus separate training in a diagnosis study) are skipped with a
note instead of an empty figure. Prints where ``index.html`` is.

Train-test similarity needs the images: the data directory comes from ``--data`` or
``study.json``; the encoder from ``--clip``/``$MRI_STUDY_CLIP`` (a local CLIP directory), else
the weight-free fallback, named as such in the report.
"""

from __future__ import annotations

import argparse
import datetime
import html
import sys
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from analysis import figures
from analysis.embeddings import ImageEncoder, resolve_encoder
from analysis.experiment import (
    Experiment,
    best_trials,
    group_sizes,
    load_experiment,
    status_counts,
    trial_overview,
)
from analysis.gaps import (
    ALL_TRIALS,
    BEST_CONFIG,
    severity_curves,
    summarize_curves,
    summarize_gaps,
    trial_gaps,
)
from analysis.mixtures import joint_vs_separate, pathology
from analysis.robustness import (
    describe_kind,
    effective_robustness,
    overfitting_table,
    summarize_overfitting,
    training_curves,
)
from analysis.similarity import OOD_PAIRS, train_test_similarity
from analysis.stats import DEFAULT_BOOTSTRAP, BootstrapSettings, intervals_overlap

INLINE_ROWS = 30
FEW_TRIALS = 5


@dataclass
class Table:
    """A table of the report: file stem, caption, frame."""

    name: str
    caption: str
    frame: pd.DataFrame


@dataclass
class Section:
    """One part of the report: a figure with its caption, tables, or a note saying why it was
    skipped. ``name`` is the figure's file stem (``figures/<name>.png`` once saved)."""

    key: str
    title: str
    fig: Figure | None = None
    name: str = ""
    caption: str = ""
    tables: list[Table] = field(default_factory=list)
    note: str = ""

    @property
    def figure(self) -> str | None:
        """Path of the figure relative to the report directory (None without a figure)."""
        return f"figures/{self.name}.png" if self.fig is not None else None


@dataclass
class ReportContext:
    """What every section builder needs."""

    exp: Experiment
    settings: BootstrapSettings
    data_dir: Path | None
    encoder: ImageEncoder | None
    max_slices: int | None = None
    results: dict = field(default_factory=dict)

    @property
    def interval(self) -> str:
        """Words for the interval method, for captions."""
        return self.settings.describe()


# ------------------------------------------------------------------ sections
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


def gap_section(ctx: ReportContext) -> Section:
    """OOD gaps per group: overall, per shift and severity, per test distribution."""
    exp, metric = ctx.exp, ctx.exp.main_metric
    frames, overall, by_condition, cells, by_set = [], [], [], [], []
    for at in ("best", "final"):
        gaps = trial_gaps(exp, at)
        frames.append(gaps.assign(at=at))
        overall.append(summarize_gaps(exp, gaps, (), ctx.settings).assign(at=at))
        by_condition.append(summarize_gaps(exp, gaps, ("condition",), ctx.settings).assign(at=at))
        cells.append(summarize_gaps(exp, gaps, ("condition", "severity"), ctx.settings)
                     .assign(at=at))
        dist = gaps[gaps["condition"] == "distribution"]
        by_set.append(summarize_gaps(exp, dist, ("eval_set",), ctx.settings).assign(at=at))
    tables = [
        Table("gap_overall", "Each group's OOD gap over every OOD test set", _cat(overall)),
        Table("gap_by_shift", "OOD gap per kind of shift (mean over severities)",
              _cat(by_condition)),
        Table("gap_by_shift_severity", "OOD gap per shift and severity", _cat(cells)),
        Table("gap_by_distribution", "OOD gap per other test distribution", _cat(by_set)),
        Table("gap_per_trial", "OOD gap of every trial and OOD test set", _cat(frames)),
    ]
    ctx.results["gap_overall"] = _cat(overall)
    ctx.results["gap_by_shift_severity"] = _cat(cells)
    section = Section("gaps", "OOD gap per group", tables=tables)
    best_overall = overall[0]
    if best_overall.empty:
        section.note = "no trial has both an ID reference and an OOD test set: no gaps"
        return section
    sizes = group_sizes(exp, frames[0]["trial_id"].unique())
    shown = by_condition[0][np.isfinite(by_condition[0]["mean"].astype(float))]
    missing = sorted(set(by_condition[0]["condition"]) - set(shown["condition"]))
    if missing:
        section.note = (f"no finite {metric} values for: {', '.join(missing)} (e.g. AUROC is "
                        "undefined on a test set whose slices are all of one class); left out "
                        "of the figure")
    fig = figures.gap_by_group(best_overall, shown, metric, exp.group_name, sizes,
                               ctx.interval)
    section.fig, section.name = fig, "ood_gap_by_group"
    section.caption = (
        f"OOD gap = ID {figures.metric_label(metric)} − OOD {figures.metric_label(metric)} "
        "(positive: worse out of distribution), per trial at the iteration where its validation "
        "objective peaked; ID = mean over the clean in-distribution test sets; OOD sets = "
        "shifted test sets and clean test sets of other distributions. Each trial's gaps are "
        f"averaged first; dots are means over trials with a {ctx.interval} over trials; hollow "
        "diamonds are each group's best tuned configuration (its trial with the best validation "
        "objective, one trial, no interval). n = trials per group with results."
    )
    return section


def severity_section(ctx: ReportContext) -> Section:
    """Metric against severity per shift and group."""
    exp, metric = ctx.exp, ctx.exp.main_metric
    curves = severity_curves(exp, "best")
    section = Section("severity", "Metric against shift severity")
    if curves.empty:
        section.note = "no shifted test sets were evaluated in this study"
        return section
    summary = summarize_curves(curves, settings=ctx.settings)
    section.tables = [Table("severity_curves", "Mean metric per group, shift and severity",
                            summary)]
    sizes = group_sizes(exp, curves["trial_id"].unique())
    fig = figures.metric_vs_severity(summary, metric, exp.group_name, sizes, ctx.interval)
    section.fig, section.name = fig, "metric_vs_severity"
    section.caption = (
        f"{figures.metric_label(metric)} on the shifted test sets against severity (1-5), one "
        "panel per shift; severity 0 is the same test sets clean. Lines: mean over trials at "
        f"their best iteration; bands: {ctx.interval} over trials."
    )
    return section


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


# ------------------------------------------------------------------ the answer
def answer_lines(ctx: ReportContext) -> list[str]:
    """Short answers to the study's question, computed from the result tables."""
    lines = _gap_answer(ctx)
    er = ctx.results.get("er")
    if er is not None and not er.per_group.empty and er.per_group["mean"].notna().any():
        top = er.per_group.loc[er.per_group["mean"].idxmax()]
        lines.append(f"Highest effective robustness: {top['group']} "
                     f"({_fmt_ci(top)}) above the baseline fitted over all trials.")
    lines += _overfitting_answer(ctx) + _joint_answer(ctx) + _similarity_answer(ctx)
    return lines or ["No trial reported both in-distribution and OOD results yet."]


def _gap_answer(ctx: ReportContext) -> list[str]:
    """Largest and smallest mean OOD gap across groups, with whether their CIs overlap."""
    overall = ctx.results.get("gap_overall")
    if overall is None or overall.empty:
        return []
    metric = figures.metric_label(ctx.exp.main_metric)
    lines = []
    for selection in (ALL_TRIALS, BEST_CONFIG):
        part = overall[(overall["selection"] == selection) & (overall["at"] == "best")]
        part = part[part["mean"].notna()].sort_values("mean", ascending=False)
        if part.empty:
            continue
        high, low = part.iloc[0], part.iloc[-1]
        where = "over all trials" if selection == ALL_TRIALS else "at each group's best tuned " \
            "configuration"
        text = (f"Largest mean OOD gap ({metric}, {where}): {high['group']} ({_fmt_ci(high)}); "
                f"smallest: {low['group']} ({_fmt_ci(low)}).")
        if selection == ALL_TRIALS and len(part) > 1:
            overlap = intervals_overlap((high["ci_low"], high["ci_high"]),
                                        (low["ci_low"], low["ci_high"]))
            text += {True: " Their intervals overlap: the difference is not clear at this "
                     "number of trials.",
                     False: " Their intervals do not overlap.",
                     None: " At least one has no interval (a single trial)."}[overlap]
            if min(high["n"], low["n"]) < FEW_TRIALS:
                text += (f" With fewer than {FEW_TRIALS} trials in a group a bootstrap "
                         "interval understates the uncertainty; treat it as rough.")
        lines.append(text)
    lines += _per_shift_answer(ctx)
    return lines


def _per_shift_answer(ctx: ReportContext) -> list[str]:
    """For each shift at its highest severity, the group with the largest mean gap."""
    cells = ctx.results.get("gap_by_shift_severity")
    if cells is None or cells.empty:
        return []
    cells = cells[(cells["selection"] == ALL_TRIALS) & (cells["at"] == "best")
                  & cells["mean"].notna()]
    parts = []
    for shift, part in cells.groupby("condition", sort=True):
        top = part[part["severity"] == part["severity"].max()]
        worst = top.loc[top["mean"].idxmax()]
        parts.append(f"{shift} (severity {int(worst['severity'])}): {worst['group']} "
                     f"{worst['mean']:.3f}")
    return ["Largest gap per shift at its highest severity: " + "; ".join(parts) + "."] \
        if parts else []


def _overfitting_answer(ctx: ReportContext) -> list[str]:
    """Share of trials whose OOD value peaked before the ID value, and the mean OOD drop."""
    table = ctx.results.get("overfitting_trials")
    if table is None or table.empty:
        return []
    share = float(table["ood_peaks_first"].mean())
    drop = float(np.nanmean(table["ood_drop"])) if table["ood_drop"].notna().any() else np.nan
    return [f"Distributional overfitting: in {share:.0%} of {len(table)} trials the OOD metric "
            f"peaked before the ID metric; mean OOD drop after the OOD peak {drop:.3f}."]


def _joint_answer(ctx: ReportContext) -> list[str]:
    """Mean difference of mixtures' best configurations against the best separate model,
    in and out of distribution."""
    comparison = ctx.results.get("joint")
    if comparison is None or not comparison.applies:
        return []
    lines = []
    table = comparison.table
    for flag, words in ((True, "targets they trained on"), (False, "targets they did not")):
        part = table[table["in_mixture"] == flag]
        if len(part):
            better = int((part["difference"] >= 0).sum())
            lines.append(f"Joint versus separate on {words}: the mixture's best configuration "
                         f"matched or beat the best single-distribution model in {better} of "
                         f"{len(part)} (mixture, target) pairs; mean difference "
                         f"{np.nanmean(part['difference']):+.3f}.")
    return lines


def _similarity_answer(ctx: ReportContext) -> list[str]:
    """Correlation of train-test similarity and OOD performance."""
    result = ctx.results.get("similarity")
    if result is None or result.correlations.empty:
        return []
    row = result.correlations[result.correlations["pairs"] == OOD_PAIRS].iloc[0]
    return [f"Train-test similarity ({result.encoder}) against OOD performance over "
            f"{int(row['n'])} OOD pairs: Pearson r = {row['pearson_r']:.2f} "
            f"[{row['pearson_ci_low']:.2f}, {row['pearson_ci_high']:.2f}], Spearman ρ = "
            f"{row['spearman_rho']:.2f} [{row['spearman_ci_low']:.2f}, "
            f"{row['spearman_ci_high']:.2f}]" + (f" ({row['note']})" if row["note"] else "") + "."]


def _fmt_ci(row: pd.Series) -> str:
    """``'0.123 [0.100, 0.150], n=4'`` (interval left out when NaN)."""
    text = f"{row['mean']:.3f}"
    if np.isfinite(row["ci_low"]):
        text += f" [{row['ci_low']:.3f}, {row['ci_high']:.3f}]"
    return f"{text}, n={int(row['n'])}"


# ------------------------------------------------------------------ writing
def report_context(
    experiment_dir: str | Path,
    data_dir: str | Path | None = None,
    clip: str | Path | None = None,
    settings: BootstrapSettings = DEFAULT_BOOTSTRAP,
    max_slices: int | None = None,
) -> ReportContext:
    """Open an experiment for the report or a notebook: its tables, the data directory
    (``data_dir``, else ``study.json``'s) and, for mixture studies, the image encoder
    (:func:`analysis.embeddings.resolve_encoder` of ``clip``)."""
    exp = load_experiment(experiment_dir)
    needs_images = exp.task == "recon" and "config/mixture" in exp.trials
    encoder = resolve_encoder(clip) if needs_images else None
    data = Path(data_dir) if data_dir else exp.info.data_dir
    return ReportContext(exp, settings, data, encoder, max_slices)


def build_sections(ctx: ReportContext, strict: bool = False) -> list[Section]:
    """Every section of the report, in order (see :data:`SECTIONS`)."""
    return [_run_section(builder, ctx, strict) for builder in SECTIONS]


def build_report(
    experiment_dir: str | Path,
    out: str | Path | None = None,
    data_dir: str | Path | None = None,
    clip: str | Path | None = None,
    settings: BootstrapSettings = DEFAULT_BOOTSTRAP,
    max_slices: int | None = None,
    strict: bool = False,
) -> Path:
    """Write the report of an experiment and return the path of its ``index.html``.

    ``strict=True`` re-raises an error in any section instead of noting it in the report
    (tests use it; a researcher's run keeps every other section).
    """
    ctx = report_context(experiment_dir, data_dir, clip, settings, max_slices)
    out = Path(out) if out else ctx.exp.path / "report"
    (out / "figures").mkdir(parents=True, exist_ok=True)
    (out / "tables").mkdir(parents=True, exist_ok=True)
    sections = build_sections(ctx, strict)
    for section in sections:
        if section.fig is not None:
            section.fig.savefig(out / section.figure, dpi=figures.DPI)
        for table in section.tables:
            write_table(table.frame, out / "tables" / table.name)
    index = out / "index.html"
    index.write_text(render_html(ctx, sections, answer_lines(ctx)))
    return index


def _run_section(builder: Callable[[ReportContext], Section], ctx: ReportContext,
                 strict: bool) -> Section:
    """Build one section; an error becomes a note (and a warning on stderr) unless strict."""
    try:
        return builder(ctx)
    except Exception as err:
        if strict:
            raise
        name = builder.__name__.removesuffix("_section")
        print(f"warning: report section {name!r} failed: {err}", file=sys.stderr)
        traceback.print_exc(file=sys.stderr)
        return Section(name, name.replace("_", " ").capitalize(),
                       note=f"this section failed: {type(err).__name__}: {err}")


def _cat(frames: Sequence[pd.DataFrame]) -> pd.DataFrame:
    """Concatenate non-empty frames (an empty frame when all are empty)."""
    frames = [f for f in frames if not f.empty]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def write_table(frame: pd.DataFrame, stem: Path) -> None:
    """``<stem>.csv`` and ``<stem>.md``."""
    frame.to_csv(stem.with_suffix(".csv"), index=False)
    stem.with_suffix(".md").write_text(markdown_table(frame) + "\n")


def _cell(value: object) -> str:
    """A table cell as text: floats to 4 significant digits, NaN as an empty cell."""
    if isinstance(value, float | np.floating):
        return "" if not np.isfinite(value) else f"{value:.4g}"
    if value is None or value is pd.NA:
        return ""
    return str(value)


def markdown_table(frame: pd.DataFrame) -> str:
    """A GitHub-flavoured markdown table of ``frame`` (``|`` in cells escaped)."""
    if frame.empty and not len(frame.columns):
        return "(no rows)"
    header = [str(c) for c in frame.columns]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    for row in frame.itertuples(index=False):
        cells = [_cell(v).replace("|", "\\|").replace("\n", " ") for v in row]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


# ------------------------------------------------------------------ HTML
CSS = """
body { font-family: system-ui, sans-serif; max-width: 1200px; margin: 2em auto; color: #222;
       line-height: 1.45; padding: 0 1em; }
table { border-collapse: collapse; font-size: 0.82em; margin: 0.5em 0 1em; }
td, th { border: 1px solid #ccc; padding: 2px 6px; text-align: left; }
th { background: #f2f2f2; }
figure { margin: 1em 0; } figure img { max-width: 100%; border: 1px solid #ddd; }
figcaption { font-size: 0.9em; color: #444; }
.note { background: #fff8e1; border-left: 4px solid #f0b400; padding: 0.4em 0.8em; }
.answer { background: #eef6ee; border-left: 4px solid #3a3; padding: 0.4em 1em; }
details { margin: 0.3em 0 1em; }
"""


def render_html(ctx: ReportContext, sections: Sequence[Section], answers: Sequence[str]) -> str:
    """The whole ``index.html``."""
    exp = ctx.exp
    title = f"Study report: {exp.info.study}"
    body = [f"<h1>{_e(title)}</h1>", _settings_html(ctx),
            "<h2>Answer</h2><div class='answer'><ul>"
            + "".join(f"<li>{_e(line)}</li>" for line in answers) + "</ul></div>",
            _contents_html(sections)]
    body += [_section_html(section) for section in sections]
    return ("<!DOCTYPE html><html><head><meta charset='utf-8'>"
            f"<title>{_e(title)}</title><style>{CSS}</style></head><body>"
            + "\n".join(body) + "</body></html>\n")


def _settings_html(ctx: ReportContext) -> str:
    """The study's settings as a definition table."""
    exp, info = ctx.exp, ctx.exp.info
    trials = exp.trials
    statuses = trials["status"].value_counts().to_dict() if len(trials) else {}
    groups = group_sizes(exp)
    best = best_trials(exp)
    rows = {
        "experiment": str(exp.path),
        "study": f"{info.study} ({info.task}; settings from {info.source})",
        "objective": f"{info.metric} ({info.mode})",
        "evaluation metric": figures.metric_label(exp.main_metric),
        "budget": f"max {info.max_epochs} epochs per trial; {len(trials)} trials",
        "groups": f"{exp.group_name}: " + ", ".join(f"{g} ({n})" for g, n in groups.items()),
        "trials per status": ", ".join(f"{s}: {n}" for s, n in statuses.items()) or "none",
        "stopped early by ASHA": str(int(trials["stopped_early"].sum())) if len(trials) else "0",
        "errored": str(int((trials["status"] == "ERROR").sum())) if len(trials) else "0",
        "best trial per group": ", ".join(f"{r.group}: {r.trial_id} ({r.objective:.4f})"
                                          for r in best.itertuples()) or "none",
        "distributions": ", ".join(info.distributions) or "unknown",
        "data directory": str(ctx.data_dir) if ctx.data_dir else "not given",
        "image encoder": ctx.encoder.name if ctx.encoder is not None else "not used",
        "intervals": ctx.interval + " (over trials unless a caption says otherwise)",
        "tables": "rebuilt from Tune's files (study unfinished?)" if exp.rebuilt
        else "trials.parquet, metrics.parquet",
        "generated": datetime.datetime.now().isoformat(timespec="seconds"),
    }
    rows.update({k: str(v) for k, v in info.extra.items()})
    cells = "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in rows.items())
    return f"<h2>Study settings</h2><table>{cells}</table>"


def _contents_html(sections: Sequence[Section]) -> str:
    """Links to each section."""
    items = "".join(f"<li><a href='#{s.key}'>{_e(s.title)}</a>"
                    + (" (skipped)" if s.figure is None and s.note else "") + "</li>"
                    for s in sections)
    return f"<h2>Contents</h2><ul>{items}</ul>"


def _section_html(section: Section) -> str:
    """A section: note, figure with caption, tables (small ones inline, all linked)."""
    parts = [f"<h2 id='{section.key}'>{_e(section.title)}</h2>"]
    if section.note:
        parts.append(f"<p class='note'>{_e(section.note)}</p>")
    if section.figure:
        parts.append(f"<figure><a href='{section.figure}'><img src='{section.figure}' "
                     f"alt='{_e(section.title)}'></a><figcaption>{_e(section.caption)}"
                     "</figcaption></figure>")
    for table in section.tables:
        links = (f"<a href='tables/{table.name}.csv'>CSV</a>, "
                 f"<a href='tables/{table.name}.md'>markdown</a>")
        parts.append(f"<p><b>{_e(table.caption)}</b> ({len(table.frame)} rows; {links})</p>")
        if 0 < len(table.frame) <= INLINE_ROWS:
            parts.append(table.frame.to_html(index=False, na_rep="", border=0,
                                             float_format=lambda v: f"{v:.4g}"))
        elif len(table.frame):
            parts.append("<details><summary>show the first rows</summary>"
                         + table.frame.head(INLINE_ROWS).to_html(
                             index=False, na_rep="", border=0, float_format=lambda v: f"{v:.4g}")
                         + "</details>")
    return "\n".join(parts)


def _e(text: object) -> str:
    """HTML-escaped text."""
    return html.escape(str(text), quote=True)


# ------------------------------------------------------------------ command line
def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Command-line options (see the module docstring)."""
    p = argparse.ArgumentParser(prog="python -m analysis.report", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("experiment", type=Path, help="experiment directory (<storage>/<name>)")
    p.add_argument("--out", type=Path, help="report directory (default EXPERIMENT/report)")
    p.add_argument("--data", type=Path, help="data directory for train-test similarity "
                   "(default: data_dir in study.json)")
    p.add_argument("--clip", type=Path, help="local CLIP model directory (default: "
                   "$MRI_STUDY_CLIP, else a weight-free encoder)")
    p.add_argument("--n-resamples", type=int, default=DEFAULT_BOOTSTRAP.n_resamples,
                   help="bootstrap resamples per interval")
    p.add_argument("--confidence", type=float, default=DEFAULT_BOOTSTRAP.confidence,
                   help="confidence level of the intervals")
    p.add_argument("--max-slices", type=int, help="central slices per volume used for "
                   "embeddings (default: all)")
    p.add_argument("--strict", action="store_true", help="stop at the first failing section")
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: build the report, print where ``index.html`` is. Exit status 2 on a bad
    experiment directory or encoder path."""
    import matplotlib

    matplotlib.use("Agg")
    args = parse_args(argv)
    settings = BootstrapSettings(confidence=args.confidence, n_resamples=args.n_resamples)
    try:
        index = build_report(args.experiment, args.out, args.data, args.clip, settings,
                             args.max_slices, args.strict)
    except (FileNotFoundError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"report: {index.resolve()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
