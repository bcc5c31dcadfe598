"""Optimisation hyperparameters: learning rate, weight decay, batch size, epoch budget."""

from __future__ import annotations

from typing import Any

from ray import tune


def optimizer_space(
    lr: tuple[float, float] = (1e-4, 3e-2),
    weight_decay: tuple[float, float] = (1e-6, 1e-1),
    batch_sizes: tuple[int, ...] = (8, 16),
    steps_per_epoch: int = 50,
) -> dict[str, Any]:
    """AdamW with log-uniform learning rate and weight decay.

    ``steps_per_epoch`` is fixed, not tuned: one Tune iteration is that many optimisation steps
    whatever the mixture, so budgets compare across training sets of different sizes.
    """
    return {
        "lr": tune.loguniform(*lr),
        "weight_decay": tune.loguniform(*weight_decay),
        "batch_size": tune.choice(list(batch_sizes)),
        "steps_per_epoch": steps_per_epoch,
    }
