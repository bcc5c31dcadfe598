import pytest

from search_spaces.mixtures import (
    SKEW,
    MixtureName,
    mixture_names,
    parse_mixture,
    resolve_mixture,
    weight_space,
)
from search_spaces.normalization import NORM_ARMS, norm_arm_config

POOL = ["a", "b", "c"]


@pytest.mark.parametrize(
    ("name", "weights", "healthy"),
    [
        ("single:b", {"b": 1.0}, False),
        ("joint:a+c", {"a": 0.5, "c": 0.5}, False),
        ("pool", {"a": 1 / 3, "b": 1 / 3, "c": 1 / 3}, False),
        ("skewed:c+a", {"c": SKEW, "a": 1 - SKEW}, False),
        ("healthy:joint:a+b", {"a": 0.5, "b": 0.5}, True),
    ],
)
def test_resolve_named_mixtures(name, weights, healthy):
    spec = resolve_mixture({"mixture": name}, POOL)
    assert spec.weights == pytest.approx(weights)
    assert spec.healthy_only is healthy
    assert sum(spec.weights.values()) == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("name", "parts"),
    [
        ("single:b", MixtureName(False, "single", ("b",))),
        ("healthy:joint:a+b", MixtureName(True, "joint", ("a", "b"))),
        ("pool", MixtureName(False, "pool", ())),
        ("healthy:weights", MixtureName(True, "weights", ())),
        ("skewed:c+a", MixtureName(False, "skewed", ("c", "a"))),
        ("joint:", MixtureName(False, "joint", ())),
    ],
)
def test_parse_mixture_splits_the_grammar(name, parts):
    assert parse_mixture(name) == parts


def test_resolve_continuous_weights_normalises():
    spec = resolve_mixture({"mixture": "weights", "w_a": 0.2, "w_b": 0.6, "w_c": 0.2}, POOL)
    assert spec.weights == pytest.approx({"a": 0.2, "b": 0.6, "c": 0.2})


def test_unknown_distribution_lists_valid_ones():
    with pytest.raises(ValueError, match=r"typo.*valid: a, b, c"):
        resolve_mixture({"mixture": "joint:a+typo"}, POOL)


@pytest.mark.parametrize("name", ["single:", "joint:", "skewed:a", "bogus:a", "weights"])
def test_malformed_or_empty_mixtures_fail(name):
    with pytest.raises(ValueError, match="mixture"):
        resolve_mixture({"mixture": name}, POOL)


def test_mixture_names_counts():
    names = mixture_names(POOL, kinds=("single", "joint", "pool", "skewed"), healthy=True)
    # 3 single + 3 pairs + pool + 6 ordered skewed pairs, and a healthy twin of each
    assert len(names) == 2 * (3 + 3 + 1 + 6)
    assert "skewed:b+a" in names and "healthy:pool" in names
    for name in names:
        resolve_mixture({"mixture": name}, POOL)


def test_weight_space_has_one_weight_per_distribution():
    space = weight_space(POOL)
    assert space["mixture"] == "weights"
    assert {k for k in space if k.startswith("w_")} == {"w_a", "w_b", "w_c"}


def test_norm_arms():
    assert norm_arm_config("batch_stats") == {
        "norm_arm": "batch_stats",
        "norm": "batch",
        "bn_eval": "batch",
    }
    assert set(NORM_ARMS) == {"batch", "batch_stats", "group", "layer", "instance", "none"}
    with pytest.raises(ValueError, match="valid arms: batch"):
        norm_arm_config("weight")
