"""The trainables' device handling: on CPU nothing changes (plain float32, the same tensors);
the mixed-precision step is checked here with CPU autocast standing in for CUDA, since no GPU
is needed to run the suite."""

from __future__ import annotations

import numpy as np
import torch

from mri.models import build_model
from trainables.common import Precision, to_device

CPU = torch.device("cpu")


def tiny_step(precision: Precision, clip: float | None = None) -> list[torch.Tensor]:
    torch.manual_seed(0)
    model = build_model("resnet", "tiny", norm="group", groups=4, num_findings=2)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    x = torch.randn(4, 1, 32, 32, generator=torch.Generator().manual_seed(1))
    with precision.autocast():
        logits = model(x)
    loss = logits.float().square().mean()
    precision.step(loss, optimizer, clip_norm=clip)
    return [p.detach().clone() for p in model.parameters()]


def plain_step(clip: float | None = None) -> list[torch.Tensor]:
    """The trainables' step before mixed precision existed."""
    torch.manual_seed(0)
    model = build_model("resnet", "tiny", norm="group", groups=4, num_findings=2)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    x = torch.randn(4, 1, 32, 32, generator=torch.Generator().manual_seed(1))
    loss = model(x).square().mean()
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    if clip is not None:
        torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
    optimizer.step()
    return [p.detach().clone() for p in model.parameters()]


def test_precision_on_cpu_is_off_and_the_step_is_unchanged():
    precision = Precision(CPU)
    assert precision.dtype is None and precision.scaler is None
    for clip in (None, 1.0):
        for a, b in zip(tiny_step(precision, clip), plain_step(clip), strict=True):
            assert torch.equal(a, b)


def test_to_device_on_cpu_is_as_tensor():
    array = np.arange(6, dtype=np.float32).reshape(2, 3)
    tensor = to_device(array, CPU)
    assert tensor.dtype == torch.float32 and np.shares_memory(tensor.numpy(), array)


def test_mixed_precision_step_trains(monkeypatch):
    # CPU autocast in bfloat16 stands in for CUDA: the forward runs in 16 bits, the loss in 32
    precision = Precision(CPU)
    precision.dtype = torch.bfloat16
    with precision.autocast():
        out = build_model("resnet", "tiny", norm="layer", num_findings=2)(torch.randn(2, 1, 32, 32))
    assert out.dtype == torch.bfloat16
    after = tiny_step(precision, clip=1.0)
    before = plain_step(clip=None)
    assert all(torch.isfinite(p).all() for p in after)
    assert any(not torch.equal(a, b) for a, b in zip(after, before, strict=True))


def test_float16_step_unscales_before_clipping():
    precision = Precision(CPU)
    precision.scaler = torch.amp.GradScaler("cpu", init_scale=2.0**10)
    scaled = tiny_step(precision, clip=1.0)  # float32 forward, scaled backward
    plain = plain_step(clip=1.0)
    for a, b in zip(scaled, plain, strict=True):
        assert torch.allclose(a, b, atol=1e-6)
