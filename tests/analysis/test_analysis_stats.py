"""Bootstrap intervals, correlations and the logit transform."""

from __future__ import annotations

import math

import numpy as np
import pytest

from analysis.stats import (
    BootstrapSettings,
    correlation,
    difference_ci,
    expit,
    intervals_overlap,
    logit,
    mean_ci,
    summarize,
)

FAST = BootstrapSettings(n_resamples=1000)


def test_mean_ci_contains_the_mean_and_shrinks_with_n():
    rng = np.random.default_rng(0)
    widths = []
    for n in (5, 50, 500):
        values = rng.normal(0.3, 0.1, size=n)
        out = mean_ci(values, FAST)
        assert out["n"] == n and out["mean"] == pytest.approx(values.mean())
        assert out["ci_low"] < out["mean"] < out["ci_high"]
        widths.append(out["ci_high"] - out["ci_low"])
    assert widths[0] > widths[1] > widths[2]
    # the interval of the mean of 500 N(0.3, 0.1) values is about +-1.96 * 0.1 / sqrt(500)
    assert widths[2] == pytest.approx(2 * 1.96 * 0.1 / math.sqrt(500), rel=0.25)


def test_mean_ci_edge_cases():
    one = mean_ci([0.4])
    assert one["mean"] == 0.4 and math.isnan(one["ci_low"]) and "no interval" in one["note"]
    same = mean_ci([0.2, 0.2, 0.2])
    assert same["ci_low"] == same["ci_high"] == pytest.approx(0.2)
    empty = mean_ci([float("nan")])
    assert empty["n"] == 0 and math.isnan(empty["mean"])
    # NaN entries are dropped, not propagated
    assert mean_ci([0.1, float("nan"), 0.3], FAST)["mean"] == pytest.approx(0.2)


def test_mean_ci_is_reproducible():
    values = [0.1, 0.5, 0.3, 0.9]
    assert mean_ci(values, FAST) == mean_ci(values, FAST)


def test_summarize_groups_rows():
    import pandas as pd

    frame = pd.DataFrame({"g": ["a", "a", "b"], "v": [1.0, 3.0, 5.0]})
    out = summarize(frame, ["g"], "v", FAST).set_index("g")
    assert out.loc["a", "mean"] == 2.0 and out.loc["a", "n"] == 2
    assert out.loc["b", "n"] == 1 and math.isnan(out.loc["b", "ci_low"])


def test_correlation_of_a_perfect_line_is_one():
    x = np.linspace(0, 1, 10)
    out = correlation(x, 2 * x + 1, FAST)
    assert out["pearson_r"] == pytest.approx(1.0) and out["spearman_rho"] == pytest.approx(1.0)
    assert out["n"] == 10
    down = correlation(x, -3 * x, FAST)
    assert down["pearson_r"] == pytest.approx(-1.0) and down["spearman_rho"] == pytest.approx(-1)


def test_correlation_value_and_intervals_on_noisy_data():
    rng = np.random.default_rng(1)
    x = rng.normal(size=60)
    y = 0.6 * x + rng.normal(scale=0.8, size=60)
    out = correlation(x, y, FAST)
    assert out["pearson_r"] == pytest.approx(np.corrcoef(x, y)[0, 1])
    assert 0.3 < out["pearson_r"] < 0.8
    assert out["pearson_ci_low"] < out["pearson_r"] < out["pearson_ci_high"]
    assert out["spearman_ci_low"] < out["spearman_rho"] < out["spearman_ci_high"]


def test_correlation_needs_three_varying_pairs():
    assert "too few" in correlation([1, 2], [3, 4])["note"]
    assert "constant" in correlation([1, 1, 1], [1, 2, 3])["note"]
    few = correlation([1.0, 2.0, 3.5], [2.0, 1.0, 4.0], FAST)  # 3 pairs: no Pearson interval
    assert math.isfinite(few["pearson_r"]) and math.isnan(few["pearson_ci_low"])
    # non-finite pairs are dropped
    assert correlation([1, 2, 3, np.nan], [1, 2, 3, 9])["n"] == 3


def test_difference_ci():
    out = difference_ci([1.0, 1.2, 0.8, 1.0], [0.0, 0.1, -0.1, 0.0], FAST)
    assert out["difference"] == pytest.approx(1.0)
    assert out["ci_low"] < 1.0 < out["ci_high"] and out["ci_low"] > 0.5
    assert math.isnan(difference_ci([1.0], [0.0, 1.0])["ci_low"])


def test_logit_round_trip_and_clipping():
    p = np.array([0.1, 0.5, 0.9])
    assert np.allclose(expit(logit(p)), p)
    assert np.isfinite(logit(np.array([0.0, 1.0]))).all()


def test_intervals_overlap():
    assert intervals_overlap((0, 1), (0.5, 2)) is True
    assert intervals_overlap((0, 1), (1.5, 2)) is False
    assert intervals_overlap((0, float("nan")), (0, 1)) is None
