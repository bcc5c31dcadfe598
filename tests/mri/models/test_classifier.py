"""Tests for mri.models.classifier: the pre-activation ResNet diagnosis classifier."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from mri.models import (
    NORM_KINDS,
    PreActBlock,
    PreActResNet,
    build_model,
    num_parameters,
    set_batchnorm_eval_mode,
)


@pytest.mark.parametrize("norm", NORM_KINDS)
@pytest.mark.parametrize("size", [(32, 32), (33, 35)])
def test_one_logit_per_finding(norm, size):
    torch.manual_seed(0)
    model = build_model("resnet", "tiny", norm=norm, num_findings=3).eval()
    logits = model(torch.randn(2, 1, *size))
    assert logits.shape == (2, 3) and torch.isfinite(logits).all()


@pytest.mark.parametrize("norm", NORM_KINDS)
def test_chosen_norm_in_every_block(norm, norm_census, expected):
    model = build_model("resnet", "small", norm=norm)  # 8 blocks
    assert norm_census(model) == expected(norm, 2 * 8 + 1)
    for block in (m for m in model.modules() if isinstance(m, PreActBlock)):
        assert norm_census(block) == expected(norm, 2)


def test_group_and_layer_follow_the_study():
    """Madaan et al.: GroupNorm with 32 groups; "layer" = GroupNorm with one group."""
    group = build_model("resnet", "base", norm="group")
    layer = build_model("resnet", "base", norm="layer")
    assert {m.num_groups for m in group.modules() if isinstance(m, nn.GroupNorm)} == {32}
    assert {m.num_groups for m in layer.modules() if isinstance(m, nn.GroupNorm)} == {1}


def test_base_is_preact_resnet18_with_one_input_channel():
    model = build_model("resnet", "base")
    assert model.stem.in_channels == 1 and model.stem.kernel_size == (3, 3)
    assert model.stem.stride == (1, 1)
    assert not any(isinstance(m, nn.MaxPool2d) for m in model.modules())
    assert [len(stage) for stage in model.stages] == [2, 2, 2, 2]
    assert [stage[0].conv1.out_channels for stage in model.stages] == [64, 128, 256, 512]
    assert [stage[0].conv1.stride[0] for stage in model.stages] == [1, 2, 2, 2]
    assert model.head.in_features == 512 and model.head.out_features == 4
    # 3x3 convs: stem 9*64, then per stage 9*(c_in*c + 3*c*c); 1x1 projections at stages 2-4;
    # batch norm 2 per channel (pre-activations of each block + final), linear head 512*4 + 4.
    convs = 9 * 64 + sum(9 * (ci * c + 3 * c * c) for ci, c in
                         [(64, 64), (64, 128), (128, 256), (256, 512)])
    proj = 64 * 128 + 128 * 256 + 256 * 512
    norms = 2 * (64 + 64 + 64 + 64 + 64 + 128 + 128 + 128 + 128 + 256 + 256 + 256 + 256 + 512
                 + 512 + 512 + 512)
    assert num_parameters(model) == convs + proj + norms + 512 * 4 + 4


def test_block_is_norm_relu_conv_with_identity_skip():
    torch.manual_seed(0)
    block = PreActBlock(8, 8, norm="none").eval()
    x = torch.randn(2, 8, 6, 6)
    expected = x + block.conv2(torch.relu(block.conv1(torch.relu(x))))
    torch.testing.assert_close(block(x), expected)
    down = PreActBlock(8, 16, stride=2, norm="none")
    assert down(x).shape == (2, 16, 3, 3) and down.shortcut.stride == (2, 2)


@pytest.mark.parametrize("norm", NORM_KINDS)
def test_gradients_reach_every_parameter(norm):
    torch.manual_seed(0)
    model = build_model("resnet", "tiny", norm=norm).train()
    logits = model(torch.randn(4, 1, 32, 32))
    labels = torch.tensor([[1.0, 0, 0, 1], [0, 1, 0, 0], [0, 0, 1, 0], [1, 1, 0, 0]])
    nn.functional.binary_cross_entropy_with_logits(logits, labels).backward()
    for name, p in model.named_parameters():
        assert p.grad is not None, name
        assert torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0, name


def test_batchnorm_eval_modes_on_shifted_batch():
    torch.manual_seed(0)
    model = build_model("resnet", "tiny", norm="batch")
    model.train()
    with torch.no_grad():
        for _ in range(5):
            model(torch.randn(8, 1, 32, 32))
    model.eval()
    shifted = torch.randn(6, 1, 32, 32) * 2.0 + 3.0
    with torch.no_grad():
        running = model(shifted)
        running_alone = model(shifted[:2])
        set_batchnorm_eval_mode(model, "batch")
        batch = model(shifted)
        batch_alone = model(shifted[:2])
    torch.testing.assert_close(running_alone, running[:2])  # running stats ignore the batch
    assert (batch - running).abs().max() > 1e-2  # the two modes differ on a shift
    assert (batch_alone - batch[:2]).abs().max() > 1e-4  # batch mode depends on the batch


def test_rejects_empty_layout():
    with pytest.raises(ValueError, match="blocks"):
        PreActResNet(blocks=())
