"""The learning-rate schedule every diagnosis trial runs: linear warm-up, then cosine to 0."""

from __future__ import annotations

import math

import pytest
import torch

from trainables.loop import warmup_cosine


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
