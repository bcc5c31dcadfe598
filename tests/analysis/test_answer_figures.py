"""The headline figure: what its colours and its axis say."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import pandas as pd  # noqa: E402

from analysis.answer_figures import comparison_figure  # noqa: E402
from study.experiment_format import task  # noqa: E402


def headline(quantity: str, comparisons: list[tuple[str, str]]) -> pd.DataFrame:
    return pd.DataFrame([{"comparison": c, "quantity": quantity, "target": t, "estimate": 0.01,
                          "ci_low": 0.0, "ci_high": 0.02} for c, t in comparisons])


def legend_and_label(fig) -> tuple[list[str], str]:
    ax = fig.axes[0]
    return [t.get_text() for t in ax.get_legend().get_texts()], ax.get_xlabel()


def test_a_mixture_headline_is_coloured_by_its_mixture_arm():
    # the separate model differs per target, so the same mixture must keep one colour
    table = headline("ssim", [("pool - single:a", "a"), ("pool - single:b", "c"),
                              ("mixtures - separate", "in-mixture")])
    labels, xlabel = legend_and_label(comparison_figure(table, task("recon"), by_first_arm=True))
    assert [t for t in labels if not t.startswith("±")] == ["pool", "mixtures"]
    assert xlabel.endswith("positive: the first arm has the higher ssim")


def test_a_gap_headline_is_coloured_by_comparison():
    table = headline("ood_gap", [("batch - group", "all"), ("batch - layer", "all")])
    labels, xlabel = legend_and_label(comparison_figure(table, task("diagnosis")))
    assert [t for t in labels if not t.startswith("±")] == ["batch - group", "batch - layer"]
    assert xlabel.endswith("positive: the first arm loses more")
