"""Ray Tune trainable for the diagnosis classifier (the normalization study).

One Tune iteration = ``steps_per_epoch`` AdamW steps on class-balanced batches (learning rate
warmed up linearly over the first ``warmup`` fraction of the trial's steps, default
:data:`WARMUP`, then cosine-decayed to 0 at its last step; with ``augment``, random left-right
mirroring and small shifts), then each training distribution's
validation score. Every score is :func:`mri.metrics.diagnosis_score` of one distribution's set
(the mean over that distribution's own findings of per-finding AUROC, ``any`` apart); the
objective ``val_auroc`` is its mean over the training distributions. A confirm trial ends with
every test set, clean and shifted, scored at its best epoch, and its per-slice, per-finding
predictions (``study.experiment_format.PREDICTIONS_COLUMNS``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from mri.metrics import diagnosis_score, finding_aurocs
from mri.models import build_model
from mri.models.norm import set_batchnorm_eval_mode
from study.experiment_format import eval_key
from trainables.common import Precision, pick_device, seed_generators, to_device, trial_threads
from trainables.data import DiagnosisData, EvalSet
from trainables.loop import TrialParts, run_epochs, warmup_cosine

OBJECTIVE = "val_auroc"
# Per-sample normalizations stall on some seeds after a short warm-up: with 5 % of 1,100 steps,
# group norm at lr 4.8e-3 ended at validation AUROC 0.60 and layer norm at 2.5e-3 at 0.68;
# with 20 %, the same seeds reached 0.98 and 0.96 (direct runs, norm_sweep's data).
WARMUP = 0.2


def balanced_sampling_weights(has_finding: np.ndarray) -> torch.Tensor:
    """Per-slice sampling weights proportional to the inverse frequency of its class
    (any finding / none), so batches are balanced in expectation."""
    has_finding = has_finding.astype(bool)
    n_pos = max(int(has_finding.sum()), 1)
    n_neg = max(int((~has_finding).sum()), 1)
    return torch.as_tensor(np.where(has_finding, 1.0 / n_pos, 1.0 / n_neg), dtype=torch.double)


@torch.no_grad()
def predict(model: nn.Module, images: np.ndarray, device: torch.device,
            batch: int = 64) -> np.ndarray:
    """Sigmoid scores ``[n, findings]`` of ``[n, 1, h, w]`` images."""
    model.eval()
    scores = []
    for start in range(0, len(images), batch):
        x = to_device(images[start : start + batch], device)
        scores.append(torch.sigmoid(model(x)).float().cpu().numpy())
    return np.concatenate(scores)


def set_metrics(labels: np.ndarray, scores: np.ndarray, findings: list[str]) -> dict[str, float]:
    """``auroc`` (the diagnosis score) and ``auroc_<finding>`` of one evaluation set."""
    per_finding = finding_aurocs(labels, scores, findings)
    return {"auroc": diagnosis_score(per_finding),
            **{f"auroc_{f}": v for f, v in per_finding.items()}}


def set_predictions(data: EvalSet, scores: np.ndarray, findings: list[str]) -> pd.DataFrame:
    """One row per slice and finding of an evaluation set (``PREDICTIONS_COLUMNS`` without
    ``trial_id``)."""
    n, k = scores.shape
    spec = data.spec
    return pd.DataFrame({
        "eval_set": spec.name, "distribution": spec.distribution, "shift": spec.shift,
        "severity": spec.severity, "volume": np.repeat(data.fnames, k),
        "slice": np.repeat(data.slices, k), "finding": np.tile(findings, n),
        "label": data.arrays["labels"].reshape(-1).astype(np.int8),
        "score": scores.reshape(-1).astype(np.float32),
    })


def augment(x: torch.Tensor, generator: torch.Generator, shift: int = 3) -> torch.Tensor:
    """A training batch ``[B, 1, h, w]`` with each image mirrored left-right with probability
    1/2 and the batch shifted by up to ``shift`` pixels each way (circularly): findings and
    anatomy vary in side and position, labels do not."""
    flip = torch.rand(len(x), generator=generator) < 0.5
    x = torch.where(flip.to(x.device)[:, None, None, None], x.flip(-1), x)
    dy, dx = torch.randint(-shift, shift + 1, (2,), generator=generator).tolist()
    return torch.roll(x, (dy, dx), dims=(-2, -1))


def build_classifier(config: Mapping[str, Any], num_findings: int) -> nn.Module:
    model = build_model(
        "resnet",
        config.get("preset", "tiny"),
        norm=config["norm"],
        groups=int(config.get("groups", 32)),
        num_findings=num_findings,
        pool=str(config.get("pool", "avg")),
    )
    set_batchnorm_eval_mode(model, config.get("bn_eval", "running"))
    return model


def train_diagnosis(config: Mapping[str, Any], data: DiagnosisData,
                    on_epoch: Callable[[dict[str, Any]], None] | None = None) -> None:
    """One trial (a Tune trainable; ``on_epoch`` as in :func:`trainables.loop.run_epochs`)."""
    torch.set_num_threads(trial_threads(config))
    device = pick_device()
    sampler = seed_generators(int(config.get("seed", 0)))
    findings = data.findings
    model = build_classifier(config, len(findings)).to(device)
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=float(config["lr"]), weight_decay=float(config["weight_decay"])
    )
    total_steps = int(config["steps_per_epoch"]) * int(config["max_epochs"])
    weights = balanced_sampling_weights(data.train.has_finding)
    images, labels = data.train.arrays["image"], data.train.arrays["labels"]
    batch = int(config["batch_size"])
    loss_fn = nn.BCEWithLogitsLoss(reduction="none")
    precision = Precision(device, enabled=bool(config.get("amp", True)))

    def train_step() -> torch.Tensor:
        idx = torch.multinomial(weights, batch, replacement=True, generator=sampler).numpy()
        x, y = to_device(images[idx], device), to_device(labels[idx], device)
        if config.get("augment", False):
            x = augment(x, sampler)
        with precision.autocast():
            logits = model(x)
        # sum of per-finding cross-entropies, averaged over the batch (in float32)
        return loss_fn(logits.float(), y).sum(dim=1).mean()

    def validate() -> dict[str, float]:
        out: dict[str, float] = {}
        for val in data.val:
            values = set_metrics(val.arrays["labels"], predict(model, val.arrays["image"],
                                                               device), findings)
            out.update({eval_key(val.spec.name, "none", 0, k): v for k, v in values.items()})
        out[OBJECTIVE] = float(np.nanmean([out[eval_key(v.spec.name, "none", 0, "auroc")]
                                           for v in data.val]))
        return out

    def evaluate() -> tuple[dict[str, float], pd.DataFrame]:
        summary, frames = {}, []
        for test in data.tests:
            scores = predict(model, test.arrays["image"], device)
            spec = test.spec
            for name, value in set_metrics(test.arrays["labels"], scores, findings).items():
                summary[eval_key(spec.name, spec.shift, spec.severity, name)] = value
            frames.append(set_predictions(test, scores, findings))
        return summary, pd.concat(frames, ignore_index=True)

    schedule = warmup_cosine(optimizer, total_steps, float(config.get("warmup", WARMUP)))
    parts = TrialParts(model, optimizer, schedule, train_step, validate, evaluate, OBJECTIVE)
    run_epochs(config, parts, sampler, precision, on_epoch)
