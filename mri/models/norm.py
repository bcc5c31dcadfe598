"""One factory for every normalization layer the models use.

Kinds (``NORM_KINDS``), for a feature map ``[B, C, H, W]``:

- ``batch``: ``BatchNorm2d``, statistics per channel over the batch and space (affine). Its
  evaluation mode is a choice (``bn_eval``): ``"running"`` (default, PyTorch's usual) normalizes
  with the running statistics gathered in training; ``"batch"`` normalizes with the statistics
  of the test batch itself ("test-time batch statistics", a known remedy for input shift) and
  leaves the running statistics untouched.
- ``group``: ``GroupNorm``, statistics per sample over each group of channels and space (affine).
  The group count must divide the channel count; when the requested ``groups`` does not, the
  factory falls back to the largest divisor of ``channels`` that is at most ``groups`` (so 12
  channels with 32 groups -> 12 groups, 48 channels with 32 groups -> 24 groups). With
  ``channels <= groups`` that is one channel per group, i.e. instance norm with an affine.
- ``layer``: per sample over all channels and space, as ``GroupNorm(1, C)`` (affine) -- the
  convolutional meaning of layer norm, as in the normalization study (Madaan et al. 2023).
- ``instance``: ``InstanceNorm2d`` per sample and channel over space, ``affine=False`` and no
  running statistics, as fastMRI's U-Net uses it.
- ``none``: ``Identity``.

A model takes its normalization as one value, :class:`Norm` (kind, group count, batch norm's
evaluation mode), or as a kind name with the other two at their defaults.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

NORM_KINDS = ("batch", "group", "layer", "instance", "none")
BN_EVAL_MODES = ("running", "batch")


class BatchNorm2d(nn.BatchNorm2d):
    """``nn.BatchNorm2d`` whose evaluation can use the test batch's own statistics.

    ``eval_mode="running"`` behaves exactly like ``nn.BatchNorm2d``. With ``eval_mode="batch"``,
    in ``eval()`` the layer normalizes with the mean and (biased) variance of the current batch
    per channel, ``y = (x - mean_b) / sqrt(var_b + eps) * weight + bias``, and does not update
    the running statistics (so switching back to ``"running"`` restores the trained behaviour).
    Training mode is unaffected by ``eval_mode``.
    """

    def __init__(self, num_features: int, *, eval_mode: str = "running", **kwargs) -> None:
        super().__init__(num_features, **kwargs)
        self.eval_mode = _check_bn_eval(eval_mode)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training or self.eval_mode == "running":
            return super().forward(x)
        # running_mean/var = None with training=True: batch statistics, nothing updated.
        return F.batch_norm(x, None, None, self.weight, self.bias, True, 0.0, self.eps)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, eval_mode={self.eval_mode}"


@dataclass(frozen=True)
class Norm:
    """The normalization of every layer of a model: ``kind`` (``NORM_KINDS``), ``groups``
    (used by ``group`` only) and ``bn_eval`` (used by ``batch`` only)."""

    kind: str = "instance"
    groups: int = 32
    bn_eval: str = "running"

    def __post_init__(self) -> None:
        check_norm_kind(self.kind)
        _check_bn_eval(self.bn_eval)

    def layer(self, channels: int) -> nn.Module:
        """The layer for ``channels`` feature channels (:func:`make_norm`)."""
        return make_norm(self.kind, channels, groups=self.groups, bn_eval=self.bn_eval)


def as_norm(norm: Norm | str) -> Norm:
    """``norm`` as a :class:`Norm` (a kind name gets the default group count and mode)."""
    return norm if isinstance(norm, Norm) else Norm(norm)


def make_norm(
    kind: str, channels: int, *, groups: int = 32, bn_eval: str = "running"
) -> nn.Module:
    """Normalization layer of ``kind`` for ``channels`` feature channels ``[B, C, H, W]``.

    ``groups`` is used by ``group`` only (falls back to a divisor, see the module docstring);
    ``bn_eval`` by ``batch`` only. Unknown kinds raise ``ValueError`` listing ``NORM_KINDS``.
    """
    kind = check_norm_kind(kind)
    if channels < 1:
        raise ValueError(f"channels must be >= 1, got {channels}")
    if kind == "batch":
        return BatchNorm2d(channels, eval_mode=bn_eval)
    if kind == "group":
        return nn.GroupNorm(group_count(channels, groups), channels)
    if kind == "layer":
        return nn.GroupNorm(1, channels)
    if kind == "instance":
        return nn.InstanceNorm2d(channels, affine=False, track_running_stats=False)
    return nn.Identity()


def group_count(channels: int, groups: int) -> int:
    """Largest divisor of ``channels`` that is at most ``groups`` (``groups`` itself if it
    divides). ``group_count(64, 32) == 32``, ``group_count(12, 32) == 12``,
    ``group_count(48, 32) == 24``."""
    if groups < 1:
        raise ValueError(f"groups must be >= 1, got {groups}")
    for g in range(min(groups, channels), 0, -1):
        if channels % g == 0:
            return g
    return 1


def check_norm_kind(kind: str) -> str:
    """Return ``kind`` if it is one of ``NORM_KINDS``; else ``ValueError`` listing them."""
    if kind not in NORM_KINDS:
        raise ValueError(f"unknown normalization kind {kind!r}; choose one of {NORM_KINDS}")
    return kind


def _check_bn_eval(mode: str) -> str:
    if mode not in BN_EVAL_MODES:
        raise ValueError(f"unknown batch-norm eval mode {mode!r}; choose one of {BN_EVAL_MODES}")
    return mode


def set_batchnorm_eval_mode(model: nn.Module, mode: str) -> int:
    """Set the evaluation mode (``"running"`` or ``"batch"``) of every ``BatchNorm2d`` made by
    this factory inside ``model``; returns how many layers were set (0 for a model without
    batch norm)."""
    mode = _check_bn_eval(mode)
    layers = [m for m in model.modules() if isinstance(m, BatchNorm2d)]
    for layer in layers:
        layer.eval_mode = mode
    return len(layers)


def conv_bias(norm: Norm | str) -> bool:
    """Whether a convolution followed by a ``norm`` layer needs its own bias.

    The reference models (fastMRI's U-Net, the pre-activation ResNet) use ``bias=False`` before
    every normalization: the mean subtraction cancels a per-channel bias (batch, instance, group
    with one channel per group) or the norm's affine shift stands in for it. With ``none``
    nothing plays that role, so the convolution keeps its bias.
    """
    return as_norm(norm).kind == "none"
