"""Training-data mixtures as searchable config values.

A mixture travels through Tune as a short string, so Optuna can treat it as a category and the
results table keeps it readable:

- ``single:D``          one distribution (a "separate" / specialised model)
- ``joint:D1+D2+...``   equal weights over the listed distributions
- ``pool``              equal weights over every training distribution of the study
- ``skewed:P+Q``        90 % P, 10 % Q (the data-diversity paper's skewed pairs)
- ``weights``           continuous weights read from the config keys ``w_<D>`` (Optuna tunes them)
- ``healthy:<any of the above>``  the same, leaving out every slice that has a finding

Weights are relative sampling probabilities of *distributions*, not of slices: a batch draws a
distribution by weight, then slices uniformly within it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from itertools import combinations
from typing import Any

MIXTURE_KINDS = ("single", "joint", "pool", "skewed", "weights")
SKEW = 0.9
HEALTHY = "healthy:"


@dataclass(frozen=True)
class MixtureName:
    """The parts of a mixture string: ``healthy:joint:a+b`` is healthy, kind ``joint``,
    members ``('a', 'b')``; ``pool`` and ``weights`` name no members."""

    healthy: bool
    kind: str
    members: tuple[str, ...]


def parse_mixture(name: str) -> MixtureName:
    """Split a mixture string into its parts (the one reader of the grammar above; whether
    the parts make a valid mixture is :func:`resolve_mixture`'s to check)."""
    kind, _, rest = name.removeprefix(HEALTHY).partition(":")
    return MixtureName(name.startswith(HEALTHY), kind, tuple(m for m in rest.split("+") if m))


@dataclass(frozen=True)
class MixtureSpec:
    name: str
    weights: dict[str, float]
    healthy_only: bool = False


def mixture_names(
    distributions: Iterable[str],
    kinds: Iterable[str] = ("single", "joint", "pool"),
    healthy: bool = False,
) -> list[str]:
    """Named mixtures over ``distributions``: each single one, every pair joint, the pool,
    every ordered skewed pair; optionally the healthy-only twin of each."""
    dists = list(distributions)
    names: list[str] = []
    for kind in kinds:
        if kind == "single":
            names += [f"single:{d}" for d in dists]
        elif kind == "joint":
            names += [f"joint:{a}+{b}" for a, b in combinations(dists, 2)]
        elif kind == "pool":
            names.append("pool")
        elif kind == "skewed":
            names += [f"skewed:{p}+{q}" for p in dists for q in dists if p != q]
        else:
            raise ValueError(
                f"unknown mixture kind {kind!r}; valid kinds: {', '.join(MIXTURE_KINDS)}"
            )
    if healthy:
        names += [f"{HEALTHY}{n}" for n in names]
    return names


def weight_space(distributions: Iterable[str]) -> dict[str, Any]:
    """Continuous mixture weights for Optuna: ``mixture='weights'`` and one ``w_<D>`` per
    distribution in [0.05, 1] (the lower bound keeps every mixture non-empty)."""
    from ray import tune

    space: dict[str, Any] = {"mixture": "weights"}
    for d in distributions:
        space[f"w_{d}"] = tune.uniform(0.05, 1.0)
    return space


def resolve_mixture(config: Mapping[str, Any], pool: Iterable[str]) -> MixtureSpec:
    """Turn a trial's ``config['mixture']`` into normalised distribution weights.

    ``pool`` is the study's list of training distributions; every named distribution must be in
    it, so a typo fails before training with the valid names listed.
    """
    pool = list(pool)
    name = str(config.get("mixture", "pool"))
    parts = parse_mixture(name)
    healthy, kind, members = parts.healthy, parts.kind, parts.members
    if kind == "single" and len(members) == 1:
        weights = {members[0]: 1.0}
    elif kind == "joint" and members:
        weights = {m: 1.0 for m in members}
    elif kind == "pool" and not members:
        weights = {m: 1.0 for m in pool}
    elif kind == "skewed" and len(members) == 2:
        weights = {members[0]: SKEW, members[1]: 1.0 - SKEW}
    elif kind == "weights" and not members:
        weights = {m: float(config[f"w_{m}"]) for m in pool if f"w_{m}" in config}
    else:
        raise ValueError(
            f"mixture {name!r} is not of the form single:D, joint:D1+D2, pool, skewed:P+Q, "
            "weights, or healthy:<one of those>"
        )
    unknown = [m for m in weights if m not in pool]
    if unknown:
        raise ValueError(
            f"mixture {name!r} names {', '.join(unknown)}, not a training distribution of this "
            f"study; valid: {', '.join(pool)}"
        )
    total = sum(weights.values())
    if not weights or total <= 0:
        raise ValueError(f"mixture {name!r} is empty: it has no distribution with positive weight")
    return MixtureSpec(name, {m: w / total for m, w in weights.items()}, healthy)
