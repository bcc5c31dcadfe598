"""Seaborn figures of the analysis tables.

Every function takes the tables the analysis modules return and gives back a
:class:`matplotlib.figure.Figure` made without pyplot's global state (so it works under the Agg
backend of the report and inline in notebooks alike). Titles say what is shown, axis labels
name the metric and its unit, legends give the number of trials per group, and intervals are
the bootstrap intervals of the tables (the caption of each figure in the report says which).
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Sequence

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from analysis.gaps import ALL_TRIALS, BEST_CONFIG
from analysis.mixtures import Comparison
from analysis.robustness import EffectiveRobustness, describe_kind
from analysis.similarity import OOD_PAIRS, SimilarityResult

METRIC_LABELS = {
    "auroc": "AUROC (mean over findings)",
    "ssim": "SSIM",
    "ssim_lesion": "SSIM inside lesion boxes",
    "psnr": "PSNR [dB]",
    "nmse": "NMSE",
}
STYLE = "whitegrid"
CONTEXT = "notebook"
DPI = 130


def metric_label(metric: str) -> str:
    """Axis label of a metric with its unit (AUROC and SSIM are unitless, in [0, 1])."""
    if metric.startswith("auroc_"):
        return f"AUROC ({metric.removeprefix('auroc_')})"
    return METRIC_LABELS.get(metric, metric)


def palette(groups: Sequence[str]) -> dict[str, tuple]:
    """A fixed colour per group (colour-blind palette, husl beyond 10 groups)."""
    groups = list(dict.fromkeys(groups))
    colours = sns.color_palette("colorblind" if len(groups) <= 10 else "husl", len(groups))
    return dict(zip(groups, colours, strict=True))


def figure_grid(
    rows: int, cols: int, width: float, height: float, **kwargs
) -> tuple[Figure, np.ndarray]:
    """A themed figure with a grid of axes (returned as a flat array)."""
    with sns.axes_style(STYLE), sns.plotting_context(CONTEXT):
        fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
        axes = fig.subplots(rows, cols, squeeze=False, **kwargs)
    return fig, axes.ravel()


def wrap(text: str, width_inches: float, fontsize: float = 10) -> str:
    """``text`` broken into lines that fit a figure ``width_inches`` wide (each existing line
    wrapped on its own)."""
    chars = max(30, int(width_inches * 120 / fontsize))
    return "\n".join(textwrap.fill(line, chars) for line in text.split("\n"))


def _best_config_handle() -> Line2D:
    """Legend entry for the hollow diamonds that mark best tuned configurations."""
    return Line2D([], [], marker="D", color="0.2", markerfacecolor="none", linestyle="none",
                  label="best tuned configuration")


def grid_shape(n: int, max_cols: int = 3) -> tuple[int, int]:
    """(rows, cols) for ``n`` panels."""
    cols = min(n, max_cols)
    return math.ceil(n / cols), cols


def _with_n(group: str, sizes: pd.Series | dict) -> str:
    """Legend label ``'<group> (n=k)'``."""
    n = sizes.get(group, 0) if hasattr(sizes, "get") else 0
    return f"{group} (n={int(n)})"


def dodged_intervals(
    ax: Axes,
    table: pd.DataFrame,
    category: str,
    hue: str,
    colours: dict[str, tuple],
    labels: dict[str, str] | None = None,
    *,
    order: list[str] | None = None,
    value: str = "mean",
    horizontal: bool = False,
    marker: str = "o",
    filled: bool = True,
    width: float = 0.7,
    legend: bool = True,
) -> None:
    """Points at ``value`` with ``[ci_low, ci_high]`` error bars, one per (category, hue), the
    hues side by side within each category (in ``order``, default: as they appear); along x,
    or along y from the top with ``horizontal``. ``legend=False`` keeps them out of the
    legend. Seaborn's point plots compute their own intervals; these come with the table."""
    labels = labels or {}
    categories = order if order is not None else list(dict.fromkeys(table[category]))
    hues = [h for h in colours if h in set(table[hue])]
    step = width / max(len(hues), 1)
    for j, h in enumerate(hues):
        sub = table[table[hue] == h].set_index(category).reindex(categories)
        pos = np.arange(len(categories)) - width / 2 + step * (j + 0.5)
        mid = sub[value].to_numpy(float)
        low = np.where(np.isfinite(sub["ci_low"]), mid - sub["ci_low"], 0.0)
        high = np.where(np.isfinite(sub["ci_high"]), sub["ci_high"] - mid, 0.0)
        xy, err = ((mid, pos), "xerr") if horizontal else ((pos, mid), "yerr")
        ax.errorbar(*xy, **{err: [low, high]}, fmt=marker, color=colours[h], capsize=3,
                    markersize=6 if filled else 8,
                    markerfacecolor=colours[h] if filled else "none",
                    label=labels.get(h, str(h)) if legend else "_nolegend_", linestyle="none")
    ticks = (np.arange(len(categories)), [str(c) for c in categories])
    if horizontal:
        ax.set_yticks(*ticks)
        ax.invert_yaxis()
    else:
        ax.set_xticks(*ticks)


# ------------------------------------------------------------------ OOD gaps
def gap_by_group(
    overall: pd.DataFrame,
    by_condition: pd.DataFrame,
    metric: str,
    group_name: str,
    sizes: pd.Series,
    interval: str,
    iteration: str = "best",
) -> Figure:
    """OOD gap per group: (left) over every OOD test set, all trials with their CI and the
    best tuned configuration; (right) per kind of shift (mean over severities)."""
    groups = list(overall["group"].drop_duplicates())
    colours = palette(groups)
    labels = {g: _with_n(g, sizes) for g in groups}
    fig, (left, right) = figure_grid(1, 2, 14, 5.2, gridspec_kw={"width_ratios": [1, 2.4]})
    everything = overall[overall["selection"] == ALL_TRIALS].assign(x="all OOD sets")
    best = overall[overall["selection"] == BEST_CONFIG].assign(x="all OOD sets")
    dodged_intervals(left, everything, "x", "group", colours, labels)
    dodged_intervals(left, best, "x", "group", colours, {}, marker="D", filled=False,
                      legend=False)
    left.set_title("Overall")
    cond = by_condition[by_condition["selection"] == ALL_TRIALS]
    dodged_intervals(right, cond, "condition", "group", colours, labels)
    right.set_title("Per shift (mean over severities; 'distribution' = other test distributions)",
                    fontsize=10)
    right.tick_params(axis="x", labelrotation=20)
    for ax in (left, right):
        ax.axhline(0, color="0.3", linewidth=0.8)
        ax.set_xlabel("")
        ax.set_ylabel(f"OOD gap: ID − OOD {metric_label(metric)}")
    handles, names = left.get_legend_handles_labels()
    keep = [(h, n) for h, n in zip(handles, names, strict=True) if not n.startswith("_")]
    keep.append((_best_config_handle(), "best tuned configuration"))
    fig.legend([h for h, _ in keep], [n for _, n in keep], title=group_name, fontsize=8,
               title_fontsize=9, loc="outside right center")
    fig.suptitle(wrap(f"OOD gap by {group_name} at each trial's {iteration} iteration "
                       f"(dots: mean over trials, bars: {interval}; hollow diamonds: best tuned "
                       "configuration)", 14, 11), fontsize=11)
    return fig


def metric_vs_severity(
    summary: pd.DataFrame, metric: str, group_name: str, sizes: pd.Series, interval: str
) -> Figure:
    """Metric against severity, one panel per shift, one line per group with its CI band.
    Severity 0 is the clean test set the shift is applied to."""
    shifts = sorted(summary["shift"].unique())
    rows, cols = grid_shape(len(shifts))
    fig, axes = figure_grid(rows, cols, 4.6 * cols, 3.6 * rows + 0.6, sharey=True)
    colours = palette(summary["group"].drop_duplicates())
    for ax, shift in zip(axes, shifts, strict=False):
        part = summary[summary["shift"] == shift]
        for group, line in part.groupby("group", sort=False):
            line = line.sort_values("severity")
            ax.plot(line["severity"], line["mean"], marker="o", color=colours[group],
                    label=_with_n(group, sizes))
            ax.fill_between(line["severity"], line["ci_low"], line["ci_high"],
                            color=colours[group], alpha=0.15, linewidth=0)
        ax.set_title(shift)
        ax.set_xlabel("severity (0 = clean)")
        ax.set_ylabel(metric_label(metric))
        ax.set_xticks(sorted(part["severity"].unique()))
    for ax in axes[len(shifts):]:
        ax.set_visible(False)
    handles, names = axes[0].get_legend_handles_labels()
    fig.legend(handles, names, title=group_name, loc="outside right center", fontsize=8)
    fig.suptitle(wrap(f"{metric_label(metric)} against shift severity (mean over trials at "
                       f"their best iteration; bands: {interval})", 4.6 * cols + 2, 11),
                 fontsize=11)
    return fig


# ------------------------------------------------------------------ effective robustness
def effective_robustness_figure(
    er: EffectiveRobustness, group_name: str, interval: str
) -> Figure:
    """OOD against ID value per trial, the fitted baseline, and y = x; the legend gives each
    group's mean effective robustness."""
    points = er.per_trial
    colours = palette(sorted(points["group"].unique()))
    summary = er.per_group.set_index("group")
    fig, (ax,) = figure_grid(1, 1, 8.5, 6.2)
    for group, part in points.groupby("group", sort=True):
        row = summary.loc[group] if group in summary.index else None
        extra = f", ER {row['mean']:+.3f}" if row is not None and np.isfinite(row["mean"]) else ""
        ax.scatter(part["id_value"], part["ood_value"], color=colours[group], s=40,
                   edgecolor="white", linewidth=0.5,
                   label=f"{group} (n={len(part)}{extra})")
    finite = points[["id_value", "ood_value"]].to_numpy(float)
    finite = finite[np.isfinite(finite).all(axis=1)]
    if len(finite):
        lo, hi = finite.min(), finite.max()
        pad = 0.05 * (hi - lo if hi > lo else 1.0)
        grid = np.linspace(lo - pad, hi + pad, 200)
        ax.plot(grid, grid, color="0.6", linestyle=":", label="y = x (no OOD loss)")
        if er.baseline is not None:
            ax.plot(grid, er.baseline.predict(grid), color="black", linewidth=1.2,
                    label="baseline fit over all trials")
    ax.set_xlabel(f"ID {metric_label(er.metric)} (clean in-distribution test sets)")
    ax.set_ylabel(f"OOD {metric_label(er.metric)}")
    ax.legend(title=group_name, fontsize=8, title_fontsize=9, loc="best")
    fit = er.baseline.describe() if er.baseline is not None else er.note
    ax.set_title(wrap(f"Effective robustness (ER = OOD minus the baseline at the same ID; "
                       f"legend: group mean, {interval} in the table)\nOOD = "
                       f"{describe_kind(er.kind)}\nbaseline: {fit}", 8.5, 9), fontsize=9)
    return fig


# ------------------------------------------------------------------ similarity
def similarity_figure(result: SimilarityResult, metric: str) -> Figure:
    """Performance against train-test similarity per (mixture, test set) pair, with the
    least-squares line and Pearson/Spearman correlations of the OOD pairs."""
    pairs = result.pairs
    fig, (ax,) = figure_grid(1, 1, 9, 6.2)
    tests = sorted(pairs["test_set"].unique())
    colours = palette(tests)
    for test_set, part in pairs.groupby("test_set", sort=True):
        for in_mix, sub in part.groupby("in_mixture"):
            ax.scatter(sub["similarity"], sub["value"], s=46, color=colours[test_set],
                       marker="o" if not in_mix else "s",
                       facecolors=colours[test_set] if not in_mix else "none",
                       label=f"{test_set} ({'ID' if in_mix else 'OOD'})")
    ood = pairs[~pairs["in_mixture"].astype(bool)]
    ood = ood[np.isfinite(ood[["similarity", "value"]].to_numpy(float)).all(axis=1)]
    title = "too few OOD pairs for a fitted line"
    if len(ood) >= 2 and np.ptp(ood["similarity"]) > 0:
        slope, intercept = np.polyfit(ood["similarity"], ood["value"], 1)
        grid = np.linspace(ood["similarity"].min(), ood["similarity"].max(), 50)
        ax.plot(grid, intercept + slope * grid, color="black", linewidth=1.2,
                label="least-squares line (OOD pairs)")
        title = "line fitted to OOD pairs"
    corr = result.correlations
    if not corr.empty:
        row = corr[corr["pairs"] == OOD_PAIRS].iloc[0]
        title = (f"OOD pairs (n={int(row['n'])}): Pearson r = {row['pearson_r']:.2f} "
                 f"[{row['pearson_ci_low']:.2f}, {row['pearson_ci_high']:.2f}], Spearman ρ = "
                 f"{row['spearman_rho']:.2f} [{row['spearman_ci_low']:.2f}, "
                 f"{row['spearman_ci_high']:.2f}]")
    ax.set_xlabel("train-test similarity: mean over test images of the max cosine similarity "
                  "to the mixture's training images", fontsize=9)
    ax.set_ylabel(f"{metric_label(metric)} on the test set (mean over the mixture's trials)")
    ax.legend(title="test set (filled: OOD, hollow: trained on)", fontsize=7, title_fontsize=8,
              loc="best")
    ax.set_title(wrap(f"Performance against train-test similarity\nencoder: {result.encoder}"
                       f"\n{title}", 9, 9), fontsize=9)
    return fig


# ------------------------------------------------------------------ overfitting
def overfitting_figure(
    curves: pd.DataFrame,
    table: pd.DataFrame,
    metric: str,
    kind: str | None,
    seed: int = 0,
    n_boot: int = 1000,
    confidence: float = 0.95,
) -> Figure:
    """ID and OOD metric against epoch, one panel per group (lines: mean over the trials that
    reached the epoch, bands: seaborn's percentile bootstrap CI of that mean at
    ``confidence``); dotted lines mark the mean epoch of the ID and OOD peaks."""
    groups = sorted(curves["group"].unique())
    rows, cols = grid_shape(len(groups), 4)
    fig, axes = figure_grid(rows, cols, 4.2 * cols, 3.3 * rows + 0.7, sharex=True, sharey=True)
    long = curves.melt(id_vars=["trial_id", "group", "iteration"],
                       value_vars=["id_value", "ood_value"], var_name="set", value_name="value")
    long["set"] = long["set"].map({"id_value": "ID", "ood_value": "OOD"})
    colours = {"ID": sns.color_palette("colorblind")[0], "OOD": sns.color_palette("colorblind")[3]}
    peaks = table.groupby("group")[["id_peak_iteration", "ood_peak_iteration"]].mean()
    for ax, group in zip(axes, groups, strict=False):
        part = long[long["group"] == group]
        sns.lineplot(data=part, x="iteration", y="value", hue="set", palette=colours, ax=ax,
                     errorbar=("ci", 100 * confidence), n_boot=n_boot, seed=seed, marker="o",
                     markersize=4, legend=ax is axes[0])
        for name, column in (("ID", "id_peak_iteration"), ("OOD", "ood_peak_iteration")):
            if group in peaks.index and np.isfinite(peaks.loc[group, column]):
                ax.axvline(peaks.loc[group, column], color=colours[name], linestyle=":")
        n = part["trial_id"].nunique()
        ax.set_title(f"{group} (n={n})", fontsize=10)
        ax.set_xlabel("epoch (Tune iteration)")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.tick_params(axis="x", labelbottom=True)
        ax.set_ylabel(metric_label(metric))
    first, last = int(curves["iteration"].min()), int(curves["iteration"].max())
    axes[0].set_xlim(first - 0.3, last + 0.3)
    for ax in axes[len(groups):]:
        ax.set_visible(False)
    fig.suptitle(wrap(f"Distributional overfitting: ID (clean in-distribution test sets) and "
                       f"OOD ({describe_kind(kind)}) {metric_label(metric)} against epoch\n"
                       f"lines: mean over trials, bands: {confidence:.0%} bootstrap CI, dotted: "
                       "mean peak epoch", 4.2 * cols, 10), fontsize=10)
    return fig


# ------------------------------------------------------------------ mixtures
def pathology_figure(comparison: Comparison, interval: str) -> Figure:
    """Difference in lesion-box SSIM between training with and without finding slices, per
    mixture and test set, with its CI."""
    table = comparison.table.assign(mean=lambda t: t["difference"])
    fig, (ax,) = figure_grid(1, 1, max(8.0, 1.5 * table["target"].nunique() + 4), 4.8)
    groups = [f"{m} / {model}" if model else m for m, model in
              zip(table["mixture"], table["model"], strict=True)]
    table = table.assign(group=groups)
    colours = palette(sorted(set(groups)))
    labels = {g: f"{g} (n={int(r.n_with)} vs {int(r.n_healthy)})"
              for g, r in zip(table["group"], table.itertuples(), strict=True)}
    dodged_intervals(ax, table, "target", "group", colours, labels)
    ax.axhline(0, color="0.3", linewidth=0.8)
    ax.set_xlabel("test set")
    ax.set_ylabel("Δ SSIM inside lesion boxes\n(with − without finding slices)")
    ax.legend(title="mixture (trials with vs without)", fontsize=8, title_fontsize=8)
    ax.set_title(f"Pathology: effect of training on slices with findings ({interval})",
                 fontsize=10)
    return fig
