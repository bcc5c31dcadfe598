"""Ray Tune trainable for reconstruction (U-Net, end-to-end VarNet, ViT).

Training follows the data-diversity protocol: fresh random masks for every training slice,
the SSIM loss with the volume maximum as data range, Adam with a one-cycle schedule and gradient
clipping at 1. One Tune iteration = ``steps_per_epoch`` steps; each batch comes from one
distribution drawn by the mixture's weights (one coil count per batch, as VarNet needs).

Evaluation uses fixed per-file masks prepared once by ``study.bundles``: SSIM, PSNR and NMSE
per volume (fastMRI's definitions), averaged over the volumes of each set, plus SSIM inside the
annotated lesion boxes (``ssim_lesion``). The objective ``val_ssim`` is the mixture-weighted mean
of the training distributions' validation SSIM.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from mri.coils import complex_center_crop, rss
from mri.fft import ifft2c, ifftc
from mri.masks import create_mask_for_mask_type
from mri.metrics import SSIMLoss, nmse, psnr, ssim
from mri.models import build_model
from mri.models.norm import set_batchnorm_eval_mode
from search_spaces.mixtures import resolve_mixture
from study.experiment_format import ZERO_FILLED_PREFIX, eval_key, val_set
from trainables.common import Precision, pick_device, seed_generators, to_device, trial_threads
from trainables.data import EvalSet, ReconData, TrainGroup
from trainables.loop import TrialParts, run_epochs

MIN_SSIM_WINDOW = 7
OBJECTIVE = "val_ssim"


def zero_filled(masked_kspace: torch.Tensor, crop: tuple[int, int]) -> torch.Tensor:
    """``[B, C, H, W]`` masked k-space -> ``[B, 1, h, w]`` RSS of its inverse FFT, cropped."""
    return complex_center_crop(rss(ifft2c(masked_kspace), dim=1), crop).unsqueeze(1)


def reconstruct(
    model: nn.Module, kind: str, batch: Mapping[str, torch.Tensor], crop
) -> torch.Tensor:
    """Model output ``[B, h, w]`` for a batch with ``zero_filled`` (U-Net, ViT) or
    ``masked_kspace``/``mask``/``num_low`` (VarNet)."""
    if kind == "varnet":
        image = model(batch["masked_kspace"], batch["mask"], batch["num_low"])
        return complex_center_crop(image, crop)
    return model(batch["zero_filled"]).squeeze(1)


def sample_batch(
    group: TrainGroup,
    allowed: np.ndarray,
    batch: int,
    mask_func,
    sampler: torch.Generator,
    device: torch.device,
    kind: str = "unet",
) -> dict[str, torch.Tensor]:
    """A training batch of one distribution with a fresh random mask per slice: masked k-space
    for VarNet, the zero-filled image for the image-domain models (U-Net, ViT)."""
    pick = torch.randint(len(allowed), (batch,), generator=sampler).numpy()
    idx = allowed[pick]
    shape = (*group.arrays["kspace"].shape[1:], 2)  # fastMRI's mask-function shape convention
    masks, num_low = [], []
    for _ in range(batch):
        seed = int(torch.randint(2**31 - 1, (1,), generator=sampler))
        m, n = mask_func(shape, seed=seed)
        masks.append(m.reshape(1, 1, -1))
        num_low.append(n)
    mask = torch.stack(masks).to(torch.float32)  # [B, 1, 1, W]
    target = torch.as_tensor(group.arrays["target"][idx])
    out = {
        "target": to_device(target, device),
        "maxval": to_device(group.arrays["maxval"][idx], device),
    }
    if kind == "varnet":
        out["masked_kspace"] = to_device(torch.as_tensor(group.arrays["kspace"][idx]) * mask,
                                         device)
        out["mask"] = to_device(mask, device)
        out["num_low"] = torch.as_tensor(num_low, device=device)
    else:
        hybrid = torch.as_tensor(group.arrays["hybrid"][idx])
        out["zero_filled"] = to_device(zero_filled_hybrid(hybrid, mask, target.shape[-2:]), device)
    return out


def zero_filled_hybrid(hybrid: torch.Tensor, mask: torch.Tensor, crop) -> torch.Tensor:
    """The zero-filled image from readout-transformed k-space (``study.bundles.
    readout_transformed``, ``[B, C, h, W]``) under column masks ``[B, 1, 1, W]``: equal to
    :func:`zero_filled` of the masked k-space, at a quarter of its FFT work."""
    image = ifftc(hybrid * mask, dim=-1)
    return complex_center_crop(rss(image, dim=1), crop).unsqueeze(1)


@torch.no_grad()
def predict_set(model: nn.Module, kind: str, data: EvalSet, device, batch: int = 16) -> np.ndarray:
    model.eval()
    a = data.arrays
    crop = a["target"].shape[-2:]
    out = []
    for s in range(0, len(data), batch):
        sl = slice(s, s + batch)
        b: dict[str, torch.Tensor] = {
            "zero_filled": to_device(a["zero_filled"][sl], device).unsqueeze(1)
        }
        if kind == "varnet":
            b["masked_kspace"] = to_device(a["masked_kspace"][sl], device)
            b["mask"] = to_device(a["mask"][sl], device)
            b["num_low"] = to_device(a["num_low_frequencies"][sl], device)
        out.append(reconstruct(model, kind, b, crop).float().cpu().numpy())
    return np.concatenate(out)


def volume_metrics(data: EvalSet, pred: np.ndarray) -> dict[str, float]:
    """SSIM/PSNR/NMSE per volume with the volume maximum as data range, averaged over volumes;
    and SSIM inside lesion boxes averaged over boxes (NaN when the set has none)."""
    by_volume: dict[str, list[int]] = defaultdict(list)
    for i, f in enumerate(data.fnames):
        by_volume[f].append(i)
    target, maxval = data.arrays["target"], data.arrays["maxval"]
    rows = []
    for idx in by_volume.values():
        gt, pr, mv = target[idx], pred[idx], float(maxval[idx[0]])
        rows.append((ssim(gt, pr, mv), psnr(gt, pr, mv), nmse(gt, pr)))
    ssim_v, psnr_v, nmse_v = np.mean(rows, axis=0)
    return {
        "ssim": float(ssim_v),
        "psnr": float(psnr_v),
        "nmse": float(nmse_v),
        "ssim_lesion": lesion_ssim(data, pred),
    }


def lesion_ssim(data: EvalSet, pred: np.ndarray) -> float:
    """Mean SSIM over annotated boxes, each grown to at least 7x7 (the SSIM window)."""
    if not data.boxes:
        return float("nan")
    target, maxval = data.arrays["target"], data.arrays["maxval"]
    values = []
    for i, boxes in enumerate(data.boxes):
        for x, y, w, h in boxes:
            ys, xs = _grown(y, h, target.shape[-2]), _grown(x, w, target.shape[-1])
            values.append(
                ssim(target[i : i + 1, ys, xs], pred[i : i + 1, ys, xs], float(maxval[i]))
            )
    return float(np.mean(values)) if values else float("nan")


def _grown(start: int, size: int, limit: int) -> slice:
    """The box ``[start, start + size)`` grown symmetrically to the SSIM window, kept inside
    ``[0, limit)``."""
    grown = max(size, MIN_SSIM_WINDOW)
    start = min(max(0, start - (grown - size) // 2), max(0, limit - grown))
    return slice(start, min(limit, start + grown))


def build_recon_model(config: Mapping[str, Any]) -> nn.Module:
    model = build_model(
        config["model"],
        config.get("preset", "tiny"),
        norm=config.get("norm", "instance"),
        groups=int(config.get("groups", 32)),
    )
    set_batchnorm_eval_mode(model, config.get("bn_eval", "running"))
    return model


def slice_rows(data: EvalSet, pred: np.ndarray, prefix: str = "") -> pd.DataFrame:
    """SSIM, PSNR and NMSE of every slice of a set, each with its volume's maximum as data
    range (fastMRI's per-slice quantities, before its per-volume average): one row per slice
    and metric (``SLICE_METRICS_COLUMNS`` without ``trial_id``), named ``<prefix><metric>``."""
    target, maxval = data.arrays["target"], data.arrays["maxval"]
    rows = []
    for i in range(len(data)):
        gt, pr, mv = target[i : i + 1], pred[i : i + 1], float(maxval[i])
        values = {"ssim": ssim(gt, pr, mv), "psnr": psnr(gt, pr, mv), "nmse": nmse(gt, pr)}
        rows += [(data.fnames[i], int(data.slices[i]), prefix + m, float(v))
                 for m, v in values.items()]
    frame = pd.DataFrame(rows, columns=["volume", "slice", "metric", "value"])
    spec = data.spec
    return frame.assign(eval_set=spec.name, distribution=spec.distribution, shift=spec.shift,
                        severity=spec.severity)


def train_recon(config: Mapping[str, Any], data: ReconData,
                on_epoch: Callable[[dict[str, Any]], None] | None = None) -> None:
    torch.set_num_threads(trial_threads(config))
    device = pick_device()
    sampler = seed_generators(int(config.get("seed", 0)))
    mixture = resolve_mixture(config, list(data.train))
    dists = list(mixture.weights)
    dist_weights = torch.as_tensor([mixture.weights[d] for d in dists], dtype=torch.double)
    allowed = {
        d: np.flatnonzero(
            ~data.train[d].has_finding
            if mixture.healthy_only
            else np.ones(len(data.train[d]), bool)
        )
        for d in dists
    }
    empty = [d for d, a in allowed.items() if a.size == 0]
    if empty:
        raise ValueError(f"mixture {mixture.name!r}: no training slices left in {', '.join(empty)}")
    kind = config["model"]
    model = build_recon_model(config).to(device)
    # VarNet's data consistency is complex k-space arithmetic, which autocast does not cover
    precision = Precision(device, enabled=bool(config.get("amp", True)) and kind != "varnet")
    steps, epochs = int(config["steps_per_epoch"]), int(config["max_epochs"])
    optimizer = torch.optim.Adam(
        model.parameters(),
        lr=float(config["lr"]),
        weight_decay=float(config.get("weight_decay", 0.0)),
    )
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=float(config["lr"]), total_steps=steps * epochs
    )
    mask = data.mask
    mask_func = create_mask_for_mask_type(
        mask["type"], mask["center_fractions"], mask["accelerations"]
    )
    loss_fn = SSIMLoss().to(device)
    batch = int(config["batch_size"])

    def train_step() -> torch.Tensor:
        d = dists[int(torch.multinomial(dist_weights, 1, generator=sampler))]
        b = sample_batch(data.train[d], allowed[d], batch, mask_func, sampler, device, kind)
        with precision.autocast():
            out = reconstruct(model, kind, b, b["target"].shape[-2:])
        # the SSIM loss in float32: its local variances vanish in 16 bits
        return loss_fn(out.float().unsqueeze(1), b["target"].unsqueeze(1), b["maxval"])

    def set_metrics(test: EvalSet) -> dict[str, float]:
        values = volume_metrics(test, predict_set(model, kind, test, device))
        spec = test.spec
        return {eval_key(spec.name, spec.shift, spec.severity, k): v for k, v in values.items()}

    def validate() -> dict[str, float]:
        """Validation of the training distributions (the objective: their SSIM weighted as
        the mixture weights them) and every clean test set, for the ID/OOD curves."""
        out: dict[str, float] = {}
        val_ssim = 0.0
        for d in dists:
            values = set_metrics(data.val[d])
            val_ssim += mixture.weights[d] * values[eval_key(val_set(d), "none", 0, "ssim")]
            out.update(values)
        out[OBJECTIVE] = val_ssim
        for test in data.tests:
            if test.spec.shift == "none":
                out.update(set_metrics(test))
        return out

    def evaluate() -> tuple[dict[str, float], pd.DataFrame]:
        summary, frames = {}, []
        for test in data.tests:
            pred = predict_set(model, kind, test, device)
            values = volume_metrics(test, pred)
            spec = test.spec
            summary.update({eval_key(spec.name, spec.shift, spec.severity, k): v
                            for k, v in values.items()})
            frames.append(slice_rows(test, pred))
            # the reference every figure and table shows: the zero-filled reconstruction
            frames.append(slice_rows(test, test.arrays["zero_filled"], ZERO_FILLED_PREFIX))
        return summary, pd.concat(frames, ignore_index=True)

    parts = TrialParts(model, optimizer, scheduler, train_step, validate, evaluate, OBJECTIVE,
                       clip_norm=1.0)
    run_epochs(config, parts, sampler, precision, on_epoch)
