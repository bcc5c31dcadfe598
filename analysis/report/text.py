"""The report's answer in sentences, computed from the sections' typed results: the verdict
on validity first, then the headline comparisons, whichever way they point."""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.confirm import ALL
from analysis.report.context import ReportContext
from analysis.similarity import OOD_PAIRS


def answer_lines(ctx: ReportContext) -> list[str]:
    """Short answers to the study's question."""
    lines = [ctx.answer.verdict] + comparison_lines(ctx.answer.headline)
    er = ctx.results.get("er")
    if er is not None and not er.per_group.empty and er.per_group["mean"].notna().any():
        top = er.per_group.loc[er.per_group["mean"].idxmax()]
        lines.append(f"Highest effective robustness: {top['group']} "
                     f"({_fmt_ci(top)}) above the baseline fitted over all trials.")
    lines += _overfitting_answer(ctx) + _joint_answer(ctx) + _similarity_answer(ctx)
    return lines


def comparison_lines(headline: pd.DataFrame) -> list[str]:
    """One sentence per comparison over all targets, then the targets where an interval
    excludes 0."""
    if headline.empty:
        return []
    lines = []
    overall = headline[headline["target"] == ALL]
    for row in overall.itertuples():
        first, second = row.comparison.split(" - ")
        quantity = row.quantity.replace("_", " ")
        lines.append(f"{row.comparison}, {quantity} over all targets: {row.estimate:+.3f} "
                     f"[{row.ci_low:+.3f}, {row.ci_high:+.3f}] ({row.n_seeds} seeds per arm, "
                     f"{row.n_volumes} test volumes per distribution): "
                     f"{_direction(row, first, second, quantity)}.")
    clear = headline[(headline["target"] != ALL)
                     & ((headline["ci_low"] > 0) | (headline["ci_high"] < 0))]
    if len(clear):
        parts = [f"{r.comparison} on {r.target} {r.estimate:+.3f} [{r.ci_low:+.3f}, "
                 f"{r.ci_high:+.3f}]" for r in clear.itertuples()]
        lines.append("Targets where the interval excludes 0: " + "; ".join(parts) + ".")
    elif len(headline):
        lines.append("No single target's interval excludes 0.")
    return lines


def _direction(row, first: str, second: str, quantity: str) -> str:
    if not np.isfinite(row.ci_low):
        return "no interval"
    if row.ci_low > 0:
        return f"{first} has the larger {quantity}"
    if row.ci_high < 0:
        return f"{second} has the larger {quantity}"
    return "the interval includes 0: no difference resolved"


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
