"""Tests for mri.models.norm: the normalization factory and batch norm's evaluation modes."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from mri.models import (
    NORM_KINDS,
    BatchNorm2d,
    Norm,
    PreActResNet,
    Unet,
    as_norm,
    build_model,
    group_count,
    make_norm,
    set_batchnorm_eval_mode,
)


def test_norm_kinds_are_the_five_of_the_study():
    assert NORM_KINDS == ("batch", "group", "layer", "instance", "none")


def test_each_kind_builds_its_layer():
    bn = make_norm("batch", 16)
    assert isinstance(bn, nn.BatchNorm2d) and bn.affine and bn.eval_mode == "running"
    gn = make_norm("group", 64, groups=32)
    assert isinstance(gn, nn.GroupNorm) and gn.num_groups == 32 and gn.num_channels == 64
    ln = make_norm("layer", 64)
    assert isinstance(ln, nn.GroupNorm) and ln.num_groups == 1
    inn = make_norm("instance", 16)
    assert isinstance(inn, nn.InstanceNorm2d)
    assert not inn.affine and not inn.track_running_stats  # fastMRI's U-Net setting
    assert isinstance(make_norm("none", 16), nn.Identity)


def test_unknown_kind_lists_the_kinds():
    with pytest.raises(ValueError, match="unknown normalization kind 'batchnorm'") as err:
        make_norm("batchnorm", 8)
    for kind in NORM_KINDS:
        assert kind in str(err.value)
    with pytest.raises(ValueError, match="instance"):
        build_model("unet", "tiny", norm="weight")


@pytest.mark.parametrize(
    ("channels", "groups", "expected"),
    [(64, 32, 32), (12, 32, 12), (48, 32, 24), (20, 8, 5), (18, 4, 3), (7, 4, 1), (32, 32, 32)],
)
def test_group_count_falls_back_to_largest_divisor(channels, groups, expected):
    assert group_count(channels, groups) == expected
    layer = make_norm("group", channels, groups=groups)
    assert layer.num_groups == expected and channels % layer.num_groups == 0


def test_layer_is_per_sample_over_channels_and_space():
    x = torch.randn(3, 6, 5, 7) * torch.arange(1.0, 4.0).reshape(3, 1, 1, 1) + 2.0
    flat = x.reshape(3, -1)
    manual = (flat - flat.mean(1, keepdim=True)) / torch.sqrt(flat.var(1, unbiased=False) + 1e-5)[
        :, None
    ]
    torch.testing.assert_close(make_norm("layer", 6)(x), manual.reshape(x.shape))


def test_group_normalizes_each_group_separately():
    x = torch.randn(2, 8, 4, 4)
    x[:, 4:] = x[:, 4:] * 10 + 3  # the second group has its own scale
    y = make_norm("group", 8, groups=2)(x)
    for g in (slice(0, 4), slice(4, 8)):
        part = y[:, g].reshape(2, -1)
        torch.testing.assert_close(part.mean(1), torch.zeros(2), atol=1e-5, rtol=0)
        torch.testing.assert_close(part.var(1, unbiased=False), torch.ones(2), atol=1e-3, rtol=0)


def _trained_bn(channels: int = 3) -> BatchNorm2d:
    """A batch norm whose running statistics have converged to N(0, 1) inputs."""
    torch.manual_seed(0)
    bn = make_norm("batch", channels)
    bn.momentum = None  # cumulative average: running stats = mean over the training batches
    bn.train()
    for _ in range(20):
        bn(torch.randn(16, channels, 8, 8))
    return bn.eval()


def test_batchnorm_running_mode_ignores_the_test_batch():
    bn = _trained_bn()
    shifted = torch.randn(8, 3, 8, 8) * 3.0 + 5.0
    out = bn(shifted)
    manual = (shifted - bn.running_mean[None, :, None, None]) / torch.sqrt(
        bn.running_var[None, :, None, None] + bn.eps
    )
    torch.testing.assert_close(out, manual)
    # A sample's output is the same whatever else is in the batch.
    torch.testing.assert_close(bn(shifted[:1]), out[:1])
    torch.testing.assert_close(bn(torch.cat([shifted[:1], torch.randn(4, 3, 8, 8)]))[:1], out[:1])
    # The shift goes straight through: mean about 5, not 0.
    assert out.mean().item() == pytest.approx(5.0, abs=0.3)


def test_batchnorm_batch_mode_uses_test_statistics_and_differs_on_shift():
    bn = _trained_bn()
    shifted = torch.randn(8, 3, 8, 8) * 3.0 + 5.0
    running = bn(shifted)
    assert set_batchnorm_eval_mode(bn, "batch") == 1
    batch = bn(shifted)
    assert (batch - running).abs().mean() > 1.0
    per_channel = batch.transpose(0, 1).reshape(3, -1)
    torch.testing.assert_close(per_channel.mean(1), torch.zeros(3), atol=1e-5, rtol=0)
    torch.testing.assert_close(per_channel.var(1, unbiased=False), torch.ones(3), atol=1e-3, rtol=0)
    # Now the batch matters: the same sample in another batch comes out differently.
    other = bn(torch.cat([shifted[:1], torch.randn(4, 3, 8, 8)]))[:1]
    assert (other - batch[:1]).abs().max() > 0.1
    # Switching back restores the running-statistics behaviour exactly.
    set_batchnorm_eval_mode(bn, "running")
    torch.testing.assert_close(bn(shifted), running)


def test_batchnorm_batch_mode_does_not_update_running_stats():
    bn = _trained_bn()
    bn.eval_mode = "batch"
    mean, var = bn.running_mean.clone(), bn.running_var.clone()
    tracked = bn.num_batches_tracked.clone()
    bn(torch.randn(8, 3, 8, 8) * 4 + 7)
    assert torch.equal(bn.running_mean, mean) and torch.equal(bn.running_var, var)
    assert torch.equal(bn.num_batches_tracked, tracked)


def test_batchnorm_eval_mode_does_not_change_training():
    torch.manual_seed(1)
    x = torch.randn(8, 3, 4, 4) + 2
    a, b = make_norm("batch", 3), make_norm("batch", 3, bn_eval="batch")
    torch.testing.assert_close(a.train()(x), b.train()(x))
    torch.testing.assert_close(a.running_mean, b.running_mean)


def test_set_batchnorm_eval_mode_on_a_whole_model():
    model = build_model("resnet", "tiny", norm="batch")
    n = set_batchnorm_eval_mode(model, "batch")
    layers = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    assert n == len(layers) == 9  # 2 per block x 4 blocks + the final norm
    assert all(m.eval_mode == "batch" for m in layers)
    assert set_batchnorm_eval_mode(build_model("resnet", "tiny", norm="group"), "batch") == 0
    with pytest.raises(ValueError, match="running"):
        set_batchnorm_eval_mode(model, "test")
    with pytest.raises(ValueError, match="eval mode"):
        make_norm("batch", 4, bn_eval="train")


def test_one_norm_value_reaches_every_layer_of_every_model():
    """A model takes its normalization as one value: the group count and batch norm's
    evaluation mode reach every norm layer, in blocks and heads alike."""
    grouped = PreActResNet(width=8, blocks=(1, 1), norm=Norm("group", groups=2))
    layers = [m for m in grouped.modules() if isinstance(m, nn.GroupNorm)]
    assert len(layers) == 5 and {m.num_groups for m in layers} == {2}
    unet = Unet(chans=4, num_pool_layers=2, norm=Norm("batch", bn_eval="batch"))
    modes = {m.eval_mode for m in unet.modules() if isinstance(m, BatchNorm2d)}
    assert modes == {"batch"}
    assert as_norm("layer") == Norm("layer", groups=32, bn_eval="running")
    with pytest.raises(ValueError, match="batch-norm eval mode"):
        Norm("batch", bn_eval="test")
    with pytest.raises(ValueError, match="unknown normalization kind"):
        Norm("weight")
