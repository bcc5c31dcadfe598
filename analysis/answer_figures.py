"""Figures of the study's answer (:mod:`analysis.answer`): validity, the paired comparisons,
each arm's OOD gaps and their growth with severity. Every interval drawn is the hierarchical
bootstrap interval of the table it comes from (over seeds and test volumes)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from analysis.figures import dodged_intervals, figure_grid, grid_shape, metric_label, palette, wrap
from study.experiment_format import Task


def _points(ax, table: pd.DataFrame, y: str, hue: str, colours: dict, order: list[str]) -> None:
    """Horizontal point-ranges at ``estimate`` with ``[ci_low, ci_high]``, hues dodged within
    each ``y`` category (listed top to bottom in ``order``)."""
    dodged_intervals(ax, table, y, hue, colours, order=order, value="estimate",
                     horizontal=True)


def _targets(table: pd.DataFrame) -> list[str]:
    """Targets with ``all`` first."""
    names = list(dict.fromkeys(table["target"]))
    return (["all"] if "all" in names else []) + [t for t in names if t != "all"]


def validity_figure(validity: pd.DataFrame, task: Task, reference_label: str) -> Figure:
    """Each arm's clean ID score with its interval against the reference and the
    interpretability threshold."""
    fig, (ax,) = figure_grid(1, 1, 7.5, 0.5 * len(validity) + 1.8)
    table = validity.rename(columns={"id_score": "estimate"}).assign(target="ID score")
    colours = palette(table["group"])
    _points(ax, table.assign(y=table["group"]), "y", "group", colours, list(table["group"]))
    refs = validity["reference"].to_numpy(float)
    if len(refs) and np.isfinite(refs).all() and np.ptp(refs) == 0:
        ax.axvline(refs[0], color="0.3", linestyle="--", linewidth=1, label=reference_label)
        ax.axvline(refs[0] + task.margin, color="0.5", linestyle=":", linewidth=1,
                   label=f"interpretable from {refs[0] + task.margin:.2f}")
    elif len(refs):  # one reference per arm (its own training distributions)
        rows = np.arange(len(refs))
        ax.plot(refs, rows, "x", color="0.2", markersize=8, label=reference_label)
        ax.plot(refs + task.margin, rows, "|", color="0.4", markersize=14,
                label=f"interpretable from reference + {task.margin:g}")
    ax.set_xlabel(f"clean in-distribution {metric_label(task.metric)} (confirm trials)")
    handles, labels = ax.get_legend_handles_labels()
    fig.legend(handles, labels, fontsize=8, loc="outside right center")
    ax.set_title(wrap("In-distribution score per arm: mean over confirm seeds and training "
                      "distributions (bars: 95% CI over seeds and test volumes)", 7.5, 10),
                 fontsize=10)
    return fig


def comparison_figure(headline: pd.DataFrame, task: Task, by_first_arm: bool = False) -> Figure:
    """Forest plot of the paired comparisons: one row per target, one colour per comparison
    (``by_first_arm``: per its first arm, for the mixture studies, whose second arm depends on
    the target), a line at 0 and a band of ±resolution."""
    order = _targets(headline)
    hue = "first arm" if by_first_arm else "comparison"
    table = headline.assign(**{"first arm": headline["comparison"].str.split(" - ").str[0]})
    fig, (ax,) = figure_grid(1, 1, 8.5, 0.45 * len(order) * max(1, table[hue]
                                                                  .nunique()) ** 0.5 + 2)
    _points(ax, table, "target", hue, palette(table[hue]), order)
    ax.axvline(0, color="0.2", linewidth=0.9)
    ax.axvspan(-task.resolution, task.resolution, color="0.85", alpha=0.5, linewidth=0,
               label=f"±{task.resolution:g} (difference the study must resolve)")
    quantity = headline["quantity"].iloc[0] if len(headline) else ""
    sign = ("the first arm loses more" if quantity == "ood_gap"
            else f"the first arm has the higher {quantity}")
    ax.set_xlabel(f"difference of {quantity.replace('_', ' ')} ({metric_label(task.metric)}); "
                  f"positive: {sign}")
    ax.legend(fontsize=8, loc="best", title=hue if by_first_arm else None)
    ax.set_title(wrap("Paired differences between arms on identical test slices (dots: "
                      "estimate; bars: 95% CI, hierarchical bootstrap over seeds and test "
                      "volumes)", 8.5, 10), fontsize=10)
    return fig


def arm_gap_figure(arm_gaps: pd.DataFrame, task: Task) -> Figure:
    """Each arm's OOD gap per target with its interval."""
    order = _targets(arm_gaps)
    fig, (ax,) = figure_grid(1, 1, 8.5, 0.5 * len(order) + 2)
    colours = palette(arm_gaps["arm"])
    _points(ax, arm_gaps, "target", "arm", colours, order)
    ax.axvline(0, color="0.2", linewidth=0.9)
    ax.set_xlabel(f"OOD gap: ID − OOD {metric_label(task.metric)} (positive: worse OOD)")
    ax.legend(fontsize=8, title="arm", loc="best")
    ax.set_title(wrap("OOD gap per arm (mean over confirm seeds; bars: 95% CI over seeds and "
                      "test volumes); 'all' = mean over the targets", 8.5, 10), fontsize=10)
    return fig


def severity_figure(cells: pd.DataFrame, task: Task) -> Figure:
    """OOD gap against severity, one panel per shift, one line per arm with its band."""
    shifts = sorted(cells["shift"].unique())
    rows, cols = grid_shape(len(shifts))
    fig, axes = figure_grid(rows, cols, 4.4 * cols + 1.5, 3.4 * rows + 1.0, sharey=True)
    colours = palette(cells["arm"])
    for ax, shift in zip(axes, shifts, strict=False):
        for arm, line in cells[cells["shift"] == shift].groupby("arm", sort=False):
            line = line.sort_values("severity")
            ax.plot(line["severity"], line["estimate"], marker="o", color=colours[arm],
                    label=arm)
            ax.fill_between(line["severity"], line["ci_low"], line["ci_high"],
                            color=colours[arm], alpha=0.15, linewidth=0)
        ax.axhline(0, color="0.3", linewidth=0.8)
        ax.set_title(shift)
        ax.set_xlabel("severity")
        ax.set_xticks(sorted(cells["severity"].unique()))
        ax.set_ylabel(f"OOD gap ({task.metric.upper()})")
    for ax in axes[len(shifts):]:
        ax.set_visible(False)
    handles, names = axes[0].get_legend_handles_labels()
    fig.legend(handles, names, title="arm", loc="outside right center", fontsize=8)
    fig.suptitle(wrap("OOD gap against shift severity (clean score minus shifted score on the "
                      "same slices, mean over training distributions and confirm seeds; bands: "
                      "95% CI over seeds and test volumes)", 4.4 * cols, 11), fontsize=11)
    return fig


def arm_score_figure(arm_scores: pd.DataFrame, references: dict[str, float],
                     task: Task) -> Figure:
    """Each arm's score per target distribution with its interval, and the reference (the
    zero-filled reconstruction) of each target."""
    order = sorted(arm_scores["target"].unique())
    fig, (ax,) = figure_grid(1, 1, 9, 0.75 * len(order) + 2)
    colours = palette(arm_scores["arm"])
    _points(ax, arm_scores, "target", "arm", colours, order)
    refs = [references.get(t, np.nan) for t in order]
    ax.plot(refs, np.arange(len(order)), "|", color="0.1", markersize=22, markeredgewidth=2,
            label="zero-filled")
    ax.set_xlabel(f"{metric_label(task.metric)} on the clean test set")
    handles, labels = ax.get_legend_handles_labels()
    fig.legend(handles, labels, fontsize=8, title="arm", loc="outside right center")
    ax.set_title(wrap("Each arm on each test distribution (mean over confirm seeds; bars: 95% "
                      "CI over seeds and test volumes; black: zero-filled reconstruction)", 9,
                      10), fontsize=10)
    return fig
