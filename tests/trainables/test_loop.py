"""The learning-rate schedule every diagnosis trial runs: linear warm-up, then cosine to 0."""

from __future__ import annotations

import math
import warnings

import pandas as pd
import pytest
import torch

from trainables.common import Precision
from trainables.loop import TrialParts, run_epochs, warmup_cosine


def learning_rates(total: int, warmup: float, lr: float = 1.0) -> list[float]:
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=lr)
    schedule = warmup_cosine(optimizer, total, warmup)
    rates = []
    for _ in range(total):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        schedule.step()
    rates.append(optimizer.param_groups[0]["lr"])  # after the last step
    return rates


@pytest.mark.parametrize("warmup", [0.05, 0.2])
def test_warm_up_is_linear_then_the_cosine_reaches_zero_at_the_last_step(warmup):
    total = 100
    ramp = int(warmup * total)
    rates = learning_rates(total, warmup, lr=3e-3)
    # step k of the ramp runs at (k + 1) / ramp of the peak
    assert rates[:ramp] == pytest.approx([3e-3 * (k + 1) / ramp for k in range(ramp)])
    # then 0.5 (1 + cos(pi t)) with t the fraction of the decay done
    for k in (ramp, (ramp + total) // 2, total - 1):
        t = (k - ramp) / (total - ramp)
        assert rates[k] == pytest.approx(3e-3 * 0.5 * (1 + math.cos(math.pi * t)))
    assert rates[total] == pytest.approx(0.0, abs=1e-12)
    assert max(rates) == pytest.approx(3e-3)


def test_a_direct_run_outside_tune_hands_every_epochs_metrics_to_on_epoch():
    """Outside a Tune session the loop trains all epochs and ``on_epoch`` sees each epoch's
    metrics in order (the pilot's path: bench/pilot_diagnosis.py)."""
    torch.manual_seed(0)
    model = torch.nn.Linear(1, 1, bias=False)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    target = torch.tensor([[2.0]])

    def train_step() -> torch.Tensor:
        return ((model(torch.ones(1, 1)) - target) ** 2).mean()

    def validate() -> dict[str, float]:
        return {"score": -abs(float(model.weight) - 2.0)}

    parts = TrialParts(model, optimizer, None, train_step, validate,
                       lambda: ({}, pd.DataFrame()), "score")
    seen: list[dict] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # Tune: report outside a session
        run_epochs({"steps_per_epoch": 3, "max_epochs": 4}, parts, torch.Generator(),
                   Precision(torch.device("cpu")), on_epoch=seen.append)
    assert [m["epoch"] for m in seen] == [1, 2, 3, 4]
    # gradient descent on (w - 2)^2 with step 0.1: the distance shrinks by 0.8 per step
    scores = [m["score"] for m in seen]
    ratios = [b / a for a, b in zip(scores[:-1], scores[1:], strict=True)]
    assert ratios == pytest.approx([0.8**3] * 3, rel=1e-4)
