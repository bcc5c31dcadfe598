"""Tests for mri.models.presets: build_model and the size presets."""

from __future__ import annotations

import pytest
import torch

from mri.models import (
    DEFAULT_NORM,
    MODEL_KINDS,
    MODEL_PRESETS,
    NormUnet,
    NormViT,
    PreActResNet,
    VarNet,
    build_model,
    num_parameters,
)


def test_every_kind_has_tiny_small_base():
    assert set(MODEL_KINDS) == set(MODEL_PRESETS)
    for kind in MODEL_KINDS:
        assert {"tiny", "small", "base"} <= set(MODEL_PRESETS[kind])


@pytest.mark.parametrize("kind", MODEL_KINDS)
def test_presets_grow(kind):
    sizes = [num_parameters(build_model(kind, p)) for p in ("tiny", "small", "base")]
    assert sizes == sorted(sizes) and sizes[0] < 100_000


def test_builds_the_right_classes_with_default_norms():
    classes = {"unet": NormUnet, "varnet": VarNet, "vit": NormViT, "resnet": PreActResNet}
    for kind, cls in classes.items():
        model = build_model(kind, "tiny")
        assert isinstance(model, cls)
    assert DEFAULT_NORM == {"unet": "instance", "varnet": "instance", "vit": "layer",
                            "resnet": "batch"}
    assert build_model("unet", "tiny").unet.norm == "instance"
    assert build_model("unet", "tiny", norm="group").unet.norm == "group"


def test_published_sizes():
    unet = build_model("unet", "base").unet
    assert (unet.chans, unet.num_pool_layers) == (32, 4)
    varnet = build_model("varnet", "base")
    assert len(varnet.cascades) == 12
    assert varnet.cascades[0].regularizer.unet.chans == 18
    assert varnet.cascades[0].regularizer.unet.num_pool_layers == 4
    assert varnet.sens_net.norm_unet.unet.chans == 8
    assert 29_000_000 < num_parameters(varnet) < 31_000_000  # fastMRI's VarNet is ~30 M


def test_overrides_and_errors():
    model = build_model("unet", "tiny", chans=6, drop_prob=0.2)
    assert model.unet.chans == 6 and model.unet.drop_prob == 0.2
    assert build_model("resnet", "tiny", num_findings=7).head.out_features == 7
    assert build_model("resnet", "tiny", norm="group", groups=2).stages[0][0].norm1.num_groups == 2
    with pytest.raises(ValueError, match="unknown model kind 'cnn'.*unet"):
        build_model("cnn", "tiny")
    with pytest.raises(ValueError, match="unknown preset 'huge'.*tiny"):
        build_model("unet", "huge")


def test_reconstruction_models_map_zero_filled_to_image():
    x = torch.rand(2, 1, 40, 36)
    for kind in ("unet", "vit"):
        assert build_model(kind, "tiny").eval()(x).shape == (2, 1, 40, 36)
