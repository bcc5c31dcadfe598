"""Fixtures shared by the model tests: a census of the normalization layers inside a model."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

import pytest
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm
from torch.nn.modules.instancenorm import _InstanceNorm


def _norm_census(model: nn.Module) -> Counter:
    """How many normalization modules of each kind ``model`` holds, by module type:
    BatchNorm -> batch, GroupNorm(1) or LayerNorm -> layer, GroupNorm(g > 1) -> group,
    InstanceNorm -> instance. Identity and everything else are not counted."""
    census: Counter = Counter()
    for m in model.modules():
        if isinstance(m, _BatchNorm):
            census["batch"] += 1
        elif isinstance(m, _InstanceNorm):
            census["instance"] += 1
        elif isinstance(m, nn.GroupNorm):
            census["layer" if m.num_groups == 1 else "group"] += 1
        elif isinstance(m, nn.LayerNorm):
            census["layer"] += 1
    return census


@pytest.fixture
def norm_census() -> Callable[[nn.Module], Counter]:
    return _norm_census


def expected_census(kind: str, count: int) -> Counter:
    """The census of a model with ``count`` normalization layers, all of ``kind``."""
    return Counter() if kind == "none" else Counter({kind: count})


@pytest.fixture
def expected() -> Callable[[str, int], Counter]:
    return expected_census
