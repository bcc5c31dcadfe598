"""Models of the study, each with a pluggable normalization kind (no Ray here).

- ``norm``: ``Norm`` (the one value every model takes: kind, groups, batch norm's evaluation
  mode), ``make_norm`` (``NORM_KINDS``), ``set_batchnorm_eval_mode``.
- ``unet``: fastMRI-layout ``Unet`` and the standardizing ``NormUnet``.
- ``varnet``: end-to-end ``VarNet`` on native complex k-space.
- ``vit``: ``VisionTransformer`` for reconstruction and the standardizing ``NormViT``.
- ``classifier``: pre-activation ``PreActResNet`` for multi-label diagnosis.
- ``presets``: ``build_model(kind, preset, norm, **overrides)`` and ``MODEL_PRESETS``.
"""

from mri.models.classifier import PreActBlock, PreActResNet
from mri.models.norm import (
    BN_EVAL_MODES,
    NORM_KINDS,
    BatchNorm2d,
    Norm,
    as_norm,
    group_count,
    make_norm,
    set_batchnorm_eval_mode,
)
from mri.models.presets import (
    DEFAULT_NORM,
    MODEL_KINDS,
    MODEL_PRESETS,
    build_model,
    num_parameters,
)
from mri.models.unet import NormUnet, Unet
from mri.models.varnet import ComplexNormUnet, SensitivityModel, VarNet, VarNetBlock
from mri.models.vit import NormViT, VisionTransformer

__all__ = [
    "BN_EVAL_MODES",
    "DEFAULT_NORM",
    "MODEL_KINDS",
    "MODEL_PRESETS",
    "NORM_KINDS",
    "BatchNorm2d",
    "Norm",
    "ComplexNormUnet",
    "NormUnet",
    "NormViT",
    "PreActBlock",
    "PreActResNet",
    "SensitivityModel",
    "Unet",
    "VarNet",
    "VarNetBlock",
    "VisionTransformer",
    "as_norm",
    "build_model",
    "group_count",
    "make_norm",
    "num_parameters",
    "set_batchnorm_eval_mode",
]
