"""Normalization arms of the study.

An *arm* is what the study compares: a normalization kind plus, for batch norm, how it behaves
at evaluation. ``batch`` evaluates with running statistics (PyTorch's default); ``batch_stats``
evaluates with the statistics of the test batch itself, a known remedy for input shift, so the
study can measure it as an arm of its own.
"""

from __future__ import annotations

from typing import Any

from ray import tune

NORM_ARMS: dict[str, dict[str, str]] = {
    "batch": {"norm": "batch", "bn_eval": "running"},
    "batch_stats": {"norm": "batch", "bn_eval": "batch"},
    "group": {"norm": "group", "bn_eval": "running"},
    "layer": {"norm": "layer", "bn_eval": "running"},
    "instance": {"norm": "instance", "bn_eval": "running"},
    "none": {"norm": "none", "bn_eval": "running"},
}


def norm_arm_config(arm: str) -> dict[str, str]:
    """The fixed config keys of one arm (``norm_arm``, ``norm``, ``bn_eval``)."""
    if arm not in NORM_ARMS:
        raise ValueError(f"unknown normalization arm {arm!r}; valid arms: {', '.join(NORM_ARMS)}")
    return {"norm_arm": arm, **NORM_ARMS[arm]}


def norm_space(group_counts: tuple[int, ...] = (4, 8, 16, 32)) -> dict[str, Any]:
    """Tuned normalization hyperparameters shared by every arm.

    ``groups`` only matters for the ``group`` arm; the models fall back to a divisor of the
    channel count when a layer has fewer channels than groups.
    """
    return {"groups": tune.choice(list(group_counts))}
