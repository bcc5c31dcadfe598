"""Pieces every trainable shares: seeding, devices, mixed precision, the NaN guard, test hooks.

The epoch loop, checkpoints and reporting are in :mod:`trainables.loop`.
"""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from ray import tune

FAILED_MARKER = "nonfinite_loss.txt"


class NonFiniteLossError(FloatingPointError):
    """Training loss became NaN or Inf; the trial ends as an errored trial with this reason."""


def trial_threads(config: Mapping[str, Any]) -> int:
    """Intra-op threads for this trial: its CPU share, at least one."""
    return max(1, int(config.get("cpus_per_trial", 1)))


def pick_device() -> torch.device:
    """CUDA when Tune assigned this trial a GPU (it sets CUDA_VISIBLE_DEVICES), else CPU."""
    if torch.cuda.is_available() and os.environ.get("CUDA_VISIBLE_DEVICES", "") not in ("", "-1"):
        return torch.device("cuda")
    return torch.device("cpu")


def to_device(array: Any, device: torch.device) -> torch.Tensor:
    """``array`` (NumPy or tensor) as a tensor on ``device``. On CUDA the host copy goes through
    pinned (page-locked) memory and the transfer is asynchronous; on CPU it is
    ``torch.as_tensor`` as before."""
    if device.type != "cuda":
        return torch.as_tensor(array, device=device)
    return torch.as_tensor(array).pin_memory().to(device, non_blocking=True)


class Precision:
    """Mixed precision for a trial: autocast for the forward pass and, with float16, a gradient
    scaler. Off on CPU and where a model or config rules it out, so the CPU path is plain float32
    exactly as before.

    bfloat16 where the GPU supports it (no loss scaling needed), else float16 with
    :class:`torch.amp.GradScaler`. Losses and metrics are computed in float32 by the callers
    (``.float()`` on the model output), SSIM in particular, whose variance terms lose everything
    in 16 bits.
    """

    def __init__(self, device: torch.device, enabled: bool = True) -> None:
        self.dtype: torch.dtype | None = None
        self.scaler: torch.amp.GradScaler | None = None
        if device.type == "cuda" and enabled:
            self.dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
            if self.dtype == torch.float16:
                self.scaler = torch.amp.GradScaler("cuda")
        self.device_type = device.type

    def autocast(self):
        """Context for the forward pass (a no-op when mixed precision is off)."""
        if self.dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device_type, dtype=self.dtype)

    def step(self, loss: torch.Tensor, optimizer: torch.optim.Optimizer,
             clip_norm: float | None = None) -> None:
        """``zero_grad``, backward, optional gradient-norm clipping, optimizer step."""
        optimizer.zero_grad(set_to_none=True)
        params = [p for group in optimizer.param_groups for p in group["params"]]
        if self.scaler is None:
            loss.backward()
            if clip_norm is not None:
                torch.nn.utils.clip_grad_norm_(params, clip_norm)
            optimizer.step()
            return
        self.scaler.scale(loss).backward()
        if clip_norm is not None:
            self.scaler.unscale_(optimizer)  # clip the true gradients, not the scaled ones
            torch.nn.utils.clip_grad_norm_(params, clip_norm)
        self.scaler.step(optimizer)
        self.scaler.update()


def seed_generators(seed: int) -> torch.Generator:
    """Seed torch's global RNG (dropout, init) and return a generator for data sampling."""
    torch.manual_seed(seed)
    gen = torch.Generator()
    gen.manual_seed(seed + 1)
    return gen


def check_finite(loss: torch.Tensor, epoch: int, step: int) -> None:
    """Raise :class:`NonFiniteLossError` (and leave a marker) if ``loss`` is NaN or Inf.

    The marker in the trial directory makes a retried trial fail at once with the same reason
    instead of training again into the same divergence.
    """
    value = float(loss.detach())
    if math.isfinite(value):
        return
    reason = f"training loss became {value} at epoch {epoch}, step {step}"
    trial_dir = _trial_dir()
    if trial_dir is not None:
        (trial_dir / FAILED_MARKER).write_text(reason)
    raise NonFiniteLossError(reason)


def raise_if_previously_diverged() -> None:
    trial_dir = _trial_dir()
    if trial_dir is not None and (trial_dir / FAILED_MARKER).exists():
        raise NonFiniteLossError((trial_dir / FAILED_MARKER).read_text())


def _trial_dir() -> Path | None:
    try:
        return Path(tune.get_context().get_trial_dir())
    except Exception:  # outside Tune (plain function call in a benchmark or test)
        return None


def nan_injected(config: Mapping[str, Any], epoch: int) -> bool:
    """Test hook: ``_test_nan_at_epoch`` (and optionally ``_test_nan_arm``, a normalization arm
    or mixture) make the loss NaN at that epoch, to exercise the NaN guard on chosen trials."""
    if config.get("_test_nan_at_epoch") != epoch:
        return False
    arm = config.get("_test_nan_arm")
    return arm is None or arm in (config.get("norm_arm"), config.get("mixture"))


def maybe_crash_for_test(config: Mapping[str, Any], epoch: int) -> None:
    """Test hook, inert unless a test sets it in the config: with ``_test_kill_at_epoch`` the
    worker process kills itself once at that epoch, as a lost node would, so Tune must restart
    the trial from its checkpoint."""
    if config.get("_test_kill_at_epoch") == epoch:
        trial_dir = _trial_dir()
        marker = trial_dir / "killed_once" if trial_dir else None
        if marker is not None and not marker.exists():
            marker.write_text(str(epoch))
            os.kill(os.getpid(), 9)
