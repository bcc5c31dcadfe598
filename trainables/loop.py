"""The epoch loop every trainable runs.

One Tune iteration is one epoch: ``steps_per_epoch`` optimisation steps, then the task's
per-epoch validation, whose ``objective`` (the mean over the training distributions of each
one's validation score) is what ASHA and Optuna see. The weights of the epoch with the best
objective are kept: they are "the checkpoint the analysis uses". A confirm trial
(``phase = confirm``) ends by evaluating every test set, clean and shifted, with those weights,
and leaves its per-sample rows (:data:`study.experiment_format.SAMPLES_FILE`) in its last
checkpoint; search trials only validate, so a search spends its budget on training.

Checkpoints (``state.pt``, ``torch.save``, read back with ``torch.load(weights_only=True)``)
hold everything a restarted trial needs to continue as if it had never stopped: model,
optimiser and learning-rate schedule, the epoch, the best weights so far with their epoch and
objective, and the state of every random generator.
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from ray import tune
from torch import nn

from study.experiment_format import (
    CONFIRM,
    EVAL_EPOCH_KEY,
    PHASE_KEY,
    SAMPLES_FILE,
    as_confirm_key,
)
from trainables.common import (
    Precision,
    check_finite,
    maybe_crash_for_test,
    nan_injected,
    raise_if_previously_diverged,
)

CHECKPOINT_FILE = "state.pt"


@dataclass
class TrialParts:
    """What a task hands the loop.

    ``train_step()`` draws one batch and returns its loss (a float32 scalar tensor);
    ``validate()`` returns the epoch's metrics, ``objective`` among them; ``evaluate()`` returns
    the confirm evaluation's summary metrics and its per-sample rows. ``scheduler`` (may be
    None) steps once per optimisation step.
    """

    model: nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: Any
    train_step: Callable[[], torch.Tensor]
    validate: Callable[[], dict[str, float]]
    evaluate: Callable[[], tuple[dict[str, float], pd.DataFrame]]
    objective: str
    clip_norm: float | None = None


@dataclass
class Best:
    """The best epoch so far (1-based), its objective and a copy of its weights."""

    epoch: int = 0
    score: float = -math.inf
    weights: dict[str, torch.Tensor] | None = None

    def update(self, epoch: int, score: float, model: nn.Module) -> None:
        if math.isfinite(score) and score > self.score:
            self.epoch, self.score = epoch, score
            self.weights = {k: v.detach().clone() for k, v in model.state_dict().items()}


def warmup_cosine(optimizer: torch.optim.Optimizer, total_steps: int,
                  warmup: float = 0.05) -> torch.optim.lr_scheduler.LambdaLR:
    """Per-step learning-rate factor: linear warm-up over the first ``warmup`` fraction of
    ``total_steps``, then a cosine decay to 0 at the last step, so a full-budget run ends
    converged and seeds of one configuration end close together."""
    ramp = max(1, int(warmup * total_steps))

    def factor(step: int) -> float:
        if step < ramp:
            return (step + 1) / ramp
        t = min(1.0, (step - ramp) / max(1, total_steps - ramp))
        return 0.5 * (1.0 + math.cos(math.pi * t))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def run_epochs(config: Mapping[str, Any], parts: TrialParts, sampler: torch.Generator,
               precision: Precision,
               on_epoch: Callable[[dict[str, Any]], None] | None = None) -> None:
    """Train ``config['max_epochs']`` epochs of ``config['steps_per_epoch']`` steps, reporting
    each epoch to Tune with a checkpoint; resume from Tune's checkpoint if there is one.
    ``on_epoch`` also gets each epoch's metrics (a direct run outside Tune, where Tune's
    reporting does nothing, reads them there)."""
    raise_if_previously_diverged()
    steps, epochs = int(config["steps_per_epoch"]), int(config["max_epochs"])
    start, best = restore(parts, sampler)
    confirm = config.get(PHASE_KEY) == CONFIRM
    for epoch in range(start, epochs):
        maybe_crash_for_test(config, epoch)
        parts.model.train()
        total = 0.0
        for step in range(steps):
            loss = parts.train_step()
            if nan_injected(config, epoch):
                loss = loss * float("nan")
            check_finite(loss, epoch, step)
            precision.step(loss, parts.optimizer, clip_norm=parts.clip_norm)
            if parts.scheduler is not None:
                parts.scheduler.step()
            total += float(loss.detach())
        metrics: dict[str, Any] = {
            "epoch": epoch + 1, "train_loss": total / steps, "start_epoch": start + 1,
            **parts.validate(),
        }
        best.update(epoch + 1, float(metrics[parts.objective]), parts.model)
        samples = None
        if confirm and epoch == epochs - 1:
            summary, samples = evaluate_best(parts, best)
            metrics.update({as_confirm_key(k): v for k, v in summary.items()})
            metrics[EVAL_EPOCH_KEY] = best.epoch or epoch + 1
        if on_epoch is not None:
            on_epoch(metrics)
        report(metrics, checkpoint_state(parts, epoch, sampler, best), samples)


def evaluate_best(parts: TrialParts, best: Best) -> tuple[dict[str, float], pd.DataFrame]:
    """The confirm evaluation with the best epoch's weights (the last epoch's when no epoch
    had a finite objective)."""
    if best.weights is not None:
        parts.model.load_state_dict(best.weights)
    parts.model.eval()
    return parts.evaluate()


def checkpoint_state(parts: TrialParts, epoch: int, sampler: torch.Generator,
                     best: Best) -> dict[str, Any]:
    return {
        "model": parts.model.state_dict(),
        "optimizer": parts.optimizer.state_dict(),
        "scheduler": parts.scheduler.state_dict() if parts.scheduler is not None else {},
        "epoch": epoch,
        "best_epoch": best.epoch,
        "best_score": best.score,
        "best_weights": best.weights or {},
        "torch_rng": torch.get_rng_state(),
        "sampler_rng": sampler.get_state(),
    }


def restore(parts: TrialParts, sampler: torch.Generator) -> tuple[int, Best]:
    """Load Tune's latest checkpoint for this trial, if any: the next epoch (0-based) and the
    best epoch so far."""
    checkpoint = tune.get_checkpoint()
    if checkpoint is None:
        return 0, Best()
    with checkpoint.as_directory() as folder:
        state = torch.load(Path(folder) / CHECKPOINT_FILE, map_location="cpu", weights_only=True)
    parts.model.load_state_dict(state["model"])
    parts.optimizer.load_state_dict(state["optimizer"])
    if parts.scheduler is not None and state["scheduler"]:
        parts.scheduler.load_state_dict(state["scheduler"])
    torch.set_rng_state(state["torch_rng"])
    sampler.set_state(state["sampler_rng"])
    best = Best(int(state["best_epoch"]), float(state["best_score"]),
                state["best_weights"] or None)
    return int(state["epoch"]) + 1, best


def report(metrics: dict[str, Any], state: dict[str, Any],
           samples: pd.DataFrame | None = None) -> None:
    """Report one epoch's metrics to Tune with a checkpoint of ``state`` (and, for a confirm
    trial's last epoch, its per-sample rows)."""
    with tempfile.TemporaryDirectory() as folder:
        torch.save(state, Path(folder) / CHECKPOINT_FILE)
        if samples is not None:
            samples.to_parquet(Path(folder) / SAMPLES_FILE, index=False)
        tune.report(metrics, checkpoint=tune.Checkpoint.from_directory(folder))
