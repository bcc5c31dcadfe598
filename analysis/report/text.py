"""The report's answer in sentences, computed from the sections' typed results: the verdict
on validity first, then the headline comparisons, whichever way they point."""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.confirm import ALL
from analysis.mixture_answer import IN_MIXTURE, OUT_OF_MIXTURE
from analysis.report.context import ReportContext
from analysis.similarity import OOD_PAIRS


def answer_lines(ctx: ReportContext) -> list[str]:
    """Short answers to the study's question."""
    overall = (IN_MIXTURE, OUT_OF_MIXTURE) if ctx.answer.design == "mixtures" else (ALL,)
    lines = [ctx.answer.verdict] + comparison_lines(ctx.answer.headline, overall)
    er = ctx.results.get("er")
    if er is not None and not er.per_group.empty and er.per_group["mean"].notna().any():
        top = er.per_group.loc[er.per_group["mean"].idxmax()]
        lines.append(f"Highest effective robustness: {top['group']} "
                     f"({_fmt_ci(top)}) above the baseline fitted over all trials.")
    lines += _overfitting_answer(ctx) + _similarity_answer(ctx)
    return lines


def comparison_lines(headline: pd.DataFrame, overall: tuple[str, ...] = (ALL,)) -> list[str]:
    """One sentence per comparison over the ``overall`` targets, then the single targets
    where an interval excludes 0."""
    if headline.empty:
        return []
    lines = []
    for row in headline[headline["target"].isin(overall)].itertuples():
        first, second = row.comparison.split(" - ")
        quantity = row.quantity.replace("_", " ")
        scope = "over all targets" if row.target == ALL else f"({row.target} targets)"
        lines.append(f"{row.comparison}, {quantity} {scope}: {row.estimate:+.3f} "
                     f"[{row.ci_low:+.3f}, {row.ci_high:+.3f}] ({row.n_seeds} seeds per arm, "
                     f"{row.n_volumes} test volumes per distribution): "
                     f"{_direction(row, first, second, quantity)}.")
    clear = headline[~headline["target"].isin(overall)
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
    """Share of trials whose OOD value peaked before the ID value, and per group how many
    epochs earlier on average, with its interval over trials (seeds)."""
    table, summary = ctx.results.get("overfitting_trials"), ctx.results.get("overfitting")
    if table is None or table.empty:
        return []
    share = float(table["ood_peaks_first"].mean())
    line = (f"Distributional overfitting: in {share:.0%} of {len(table)} trials the OOD metric "
            "peaked before the ID metric")
    if summary is not None and "ood_lead" in summary:
        leads = [f"{r.group} {r.ood_lead:+.1f} [{r.ood_lead_ci_low:+.1f}, "
                 f"{r.ood_lead_ci_high:+.1f}]" for r in summary.itertuples()
                 if np.isfinite(r.ood_lead)]
        if leads:
            line += "; epochs by which the OOD peak came first, mean over seeds: " + \
                "; ".join(leads)
    return [line + "."]


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
            f"{row['spearman_ci_high']:.2f}]" + (f" ({row['note']})" if row["note"] else "")
            + _seeded(ctx) + "."]


def _seeded(ctx: ReportContext) -> str:
    """The similarity correlation's interval over confirm seeds and test volumes."""
    seeded = ctx.results.get("similarity_seeded")
    if seeded is None or seeded.empty:
        return ""
    row = seeded.set_index("statistic").loc["pearson"]
    return (f"; over confirm seeds and test volumes, Pearson r {row['estimate']:.2f} "
            f"[{row['ci_low']:.2f}, {row['ci_high']:.2f}]")


def _fmt_ci(row: pd.Series) -> str:
    """``'0.123 [0.100, 0.150], n=4'`` (interval left out when NaN)."""
    text = f"{row['mean']:.3f}"
    if np.isfinite(row["ci_low"]):
        text += f" [{row['ci_low']:.3f}, {row['ci_high']:.3f}]"
    return f"{text}, n={int(row['n'])}"
