"""Ray Tune trainable for the diagnosis classifier (the normalization study).

One Tune iteration = ``steps_per_epoch`` AdamW steps on class-balanced batches, then the
in-distribution validation AUROC (the objective, ``val_auroc``) and every test set, clean and
shifted, each reported as ``eval/<set>/<shift>/<severity>/<metric>``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from torch import nn

from mri.metrics import auroc
from mri.models import build_model
from mri.models.norm import set_batchnorm_eval_mode
from trainables.common import (
    Precision,
    check_finite,
    eval_key,
    maybe_crash_for_test,
    nan_injected,
    pick_device,
    raise_if_previously_diverged,
    report,
    restore_training_state,
    seed_generators,
    to_device,
    training_state,
    trial_threads,
)
from trainables.data import DiagnosisData, EvalSet


def balanced_sampling_weights(has_finding: np.ndarray) -> torch.Tensor:
    """Per-slice sampling weights proportional to the inverse frequency of its class
    (any finding / none), so batches are balanced in expectation."""
    has_finding = has_finding.astype(bool)
    n_pos = max(int(has_finding.sum()), 1)
    n_neg = max(int((~has_finding).sum()), 1)
    return torch.as_tensor(np.where(has_finding, 1.0 / n_pos, 1.0 / n_neg), dtype=torch.double)


@torch.no_grad()
def predict(model: nn.Module, images: np.ndarray, device: torch.device, batch: int = 64):
    model.eval()
    scores = []
    for start in range(0, len(images), batch):
        x = to_device(images[start : start + batch], device)
        scores.append(torch.sigmoid(model(x)).float().cpu().numpy())
    return np.concatenate(scores)


def evaluate_set(model: nn.Module, data: EvalSet, findings: list[str], device) -> dict[str, float]:
    """Per-finding AUROC and their mean (findings with one class only in this set are NaN and
    left out of the mean)."""
    scores = predict(model, data.arrays["image"], device)
    per_finding = np.atleast_1d(auroc(data.arrays["labels"], scores))
    out = {f"auroc_{f}": float(a) for f, a in zip(findings, per_finding, strict=False)}
    valid = per_finding[np.isfinite(per_finding)]
    out["auroc"] = float(valid.mean()) if valid.size else float("nan")
    return out


def train_diagnosis(config: Mapping[str, Any], data: DiagnosisData) -> None:
    raise_if_previously_diverged()
    torch.set_num_threads(trial_threads(config))
    device = pick_device()
    precision = Precision(device, enabled=bool(config.get("amp", True)))
    sampler = seed_generators(int(config.get("seed", 0)))
    model = build_model(
        "resnet",
        config.get("preset", "tiny"),
        norm=config["norm"],
        groups=int(config.get("groups", 32)),
        num_findings=len(data.findings),
    ).to(device)
    set_batchnorm_eval_mode(model, config.get("bn_eval", "running"))
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=float(config["lr"]), weight_decay=float(config["weight_decay"])
    )
    start = restore_training_state(model, optimizer, None, sampler)
    weights = balanced_sampling_weights(data.train.has_finding)
    images, labels = data.train.arrays["image"], data.train.arrays["labels"]
    loss_fn = nn.BCEWithLogitsLoss(reduction="none")
    batch = int(config["batch_size"])
    for epoch in range(start, int(config["max_epochs"])):
        maybe_crash_for_test(config, epoch)
        model.train()
        total = 0.0
        for step in range(int(config["steps_per_epoch"])):
            idx = torch.multinomial(weights, batch, replacement=True, generator=sampler).numpy()
            x, y = to_device(images[idx], device), to_device(labels[idx], device)
            with precision.autocast():
                logits = model(x)
            # sum of per-finding cross-entropies, averaged over the batch (in float32)
            loss = loss_fn(logits.float(), y).sum(dim=1).mean()
            if nan_injected(config, epoch):
                loss = loss * float("nan")
            check_finite(loss, epoch, step)
            precision.step(loss, optimizer)
            total += float(loss.detach())
        metrics: dict[str, Any] = {
            "epoch": epoch + 1,
            "train_loss": total / int(config["steps_per_epoch"]),
            "start_epoch": start + 1,
        }
        val = evaluate_set(model, data.val, data.findings, device)
        metrics["val_auroc"] = val["auroc"]
        for name, value in val.items():
            metrics[eval_key("val", "none", 0, name)] = value
        for test in data.tests:
            for name, value in evaluate_set(model, test, data.findings, device).items():
                metrics[eval_key(test.spec.name, test.spec.shift, test.spec.severity, name)] = value
        report(metrics, training_state(model, optimizer, None, epoch, sampler))
