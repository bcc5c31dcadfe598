"""Named model sizes and the one entry point that builds any model of the study.

Presets: ``tiny`` runs the tests in seconds, ``small`` the laptop demo in minutes, ``base`` is
the published size of each model, ``large`` (where the papers had one) their larger variant.

- ``unet`` -> ``NormUnet`` (input and output ``[B, 1, h, w]``, the zero-filled image in):
  small = Lin & Heckel's smallest U-Net (10 channels); base = fastMRI's baseline (32 channels,
  4 pools; Lin & Heckel's "small"); large = 128 channels (their "large").
- ``varnet`` -> ``VarNet`` (masked k-space in, ``[B, H, W]`` RSS out): small = Lin & Heckel's
  small VarNet (8 cascades of 12 channels); base = fastMRI's (12 cascades of 18 channels,
  sensitivity U-Net 8 channels and 4 pools).
- ``vit`` -> ``NormViT`` (as ``unet``): base = Lin & Heckel's small ViT (10x10 patches,
  embed 396, depth 4, 9 heads); large = their large ViT (embed 1024, depth 10, 16 heads).
- ``resnet`` -> ``PreActResNet`` (``[B, 1, h, w]`` magnitude in, ``[B, num_findings]`` logits
  out): base = pre-activation ResNet-18 (width 64, blocks 2-2-2-2) of Madaan et al.
"""

from __future__ import annotations

from typing import Any

from torch import nn

from mri.models.classifier import PreActResNet
from mri.models.norm import Norm
from mri.models.unet import NormUnet
from mri.models.varnet import VarNet
from mri.models.vit import NormViT

MODEL_KINDS = ("unet", "varnet", "vit", "resnet")

MODEL_PRESETS: dict[str, dict[str, dict[str, Any]]] = {
    "unet": {
        "tiny": dict(chans=8, num_pool_layers=2),
        "small": dict(chans=10, num_pool_layers=4),
        "base": dict(chans=32, num_pool_layers=4),
        "large": dict(chans=128, num_pool_layers=4),
    },
    "varnet": {
        "tiny": dict(num_cascades=2, sens_chans=4, sens_pools=2, chans=4, pools=2),
        "small": dict(num_cascades=8, sens_chans=8, sens_pools=4, chans=12, pools=4),
        "base": dict(num_cascades=12, sens_chans=8, sens_pools=4, chans=18, pools=4),
    },
    "vit": {
        "tiny": dict(patch_size=4, embed_dim=32, depth=1, num_heads=2, avg_img_size=64),
        "small": dict(patch_size=8, embed_dim=128, depth=4, num_heads=4, avg_img_size=320),
        "base": dict(patch_size=10, embed_dim=396, depth=4, num_heads=9, avg_img_size=320),
        "large": dict(patch_size=10, embed_dim=1024, depth=10, num_heads=16, avg_img_size=320),
    },
    "resnet": {
        "tiny": dict(width=8, blocks=(1, 1, 1, 1)),
        "small": dict(width=16, blocks=(2, 2, 2, 2)),
        "base": dict(width=64, blocks=(2, 2, 2, 2)),
    },
}

#: Normalization each model uses when ``build_model`` is given none: the reference models'.
DEFAULT_NORM = {"unet": "instance", "varnet": "instance", "vit": "layer", "resnet": "batch"}

_BUILDERS: dict[str, type[nn.Module]] = {
    "unet": NormUnet,
    "varnet": VarNet,
    "vit": NormViT,
    "resnet": PreActResNet,
}


def build_model(
    kind: str, preset: str = "base", norm: str | None = None, **overrides: Any
) -> nn.Module:
    """Build model ``kind`` (one of ``MODEL_KINDS``) at size ``preset`` with normalization
    ``norm`` (a ``NORM_KINDS`` entry; ``None`` = the model's ``DEFAULT_NORM``).

    ``overrides`` replace or extend the preset's constructor arguments (e.g. ``chans=16``,
    ``drop_prob=0.1``, ``groups=8``, ``bn_eval="batch"``, ``num_findings=3``). Unknown kinds or
    presets raise ``ValueError`` listing the valid ones.
    """
    if kind not in MODEL_PRESETS:
        raise ValueError(f"unknown model kind {kind!r}; choose one of {MODEL_KINDS}")
    presets = MODEL_PRESETS[kind]
    if preset not in presets:
        raise ValueError(
            f"unknown preset {preset!r} for model {kind!r}; choose one of {tuple(presets)}"
        )
    kwargs = {**presets[preset], **overrides}
    kwargs["norm"] = Norm(DEFAULT_NORM[kind] if norm is None else norm,
                          groups=kwargs.pop("groups", 32), bn_eval=kwargs.pop("bn_eval", "running"))
    return _BUILDERS[kind](**kwargs)


def num_parameters(model: nn.Module, trainable_only: bool = True) -> int:
    """Number of (trainable) parameters of ``model``."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)
