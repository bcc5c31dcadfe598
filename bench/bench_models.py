"""Time one training step of every model of the study at every size preset.

What it measures: the wall-clock time of one optimisation step -- ``zero_grad``, forward, loss,
backward, ``Adam.step`` -- for the U-Net, the end-to-end VarNet, the ViT and the
pre-activation ResNet classifier at each size preset (``mri.models.MODEL_PRESETS``), with each
model's default normalization. The figure is the median over the timed steps after one
untimed warm-up step, in milliseconds, with the fastest step and the median CPU time of the
process per step (summed over threads) beside it -- on a shared machine other processes inflate
wall-clock times, much less the CPU time -- and the parameter count. By default it runs on
the CPU with ``torch.set_num_threads(2)`` (the laptop / CI machine); ``--device cuda`` times a GPU.

Inputs (random data through the real forward model: coil-weighted phantom, equispaced 4x
mask with 8 % centre, zero-filled RSS):

- tiny and small: 64x64 images (VarNet: 4 coils of 64x64 k-space);
- base, the published sizes: 320x320 images for the U-Net, ViT and classifier; for the VarNet
  fastMRI knee k-space, 15 coils of 640x368, output cropped to 320x320.

Batch 1 for reconstruction (as fastMRI trains), 8 for the classifier. Loss: ``1 - SSIM``
(``mri.metrics.SSIMLoss``, data range = target maximum) for reconstruction, binary
cross-entropy with logits over 4 findings for the classifier.

There is no acceptance figure: these are reference costs for planning (``BENCHMARKS.md``). The
theoretical minimum is the FLOP count over the machine's throughput; on a 2-thread CPU the
published sizes are seconds per step, so a configuration stops after ``--budget-s`` seconds of
timed steps (at least one), and ``--skip MODEL:PRESET`` leaves a configuration out (it is
listed as skipped). ``--quick`` runs tiny and small only, with 3 timed steps.

    python bench/bench_models.py [--quick] [--models unet vit] [--presets tiny base]
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from mri.coils import center_crop, rss, sensitivity_maps
from mri.fft import fft2c, ifft2c
from mri.masks import EquiSpacedMaskFunc, apply_mask
from mri.metrics import SSIMLoss
from mri.models import MODEL_KINDS, build_model, num_parameters

PRESETS = ("tiny", "small", "base")
SMALL_IMAGE = 64
RECON_SIZE = 320
VARNET_BASE_KSPACE = (15, 640, 368)
VARNET_SMALL_COILS = 4
CLASSIFIER_BATCH = 8
NUM_FINDINGS = 4


@dataclass
class Result:
    model: str
    preset: str
    shape: str
    batch: int
    params: int | None
    ms: float | None
    min_ms: float | None
    cpu_ms: float | None
    steps: int
    note: str = ""


def phantom_kspace(coils: int, h: int, w: int, seed: int = 0) -> torch.Tensor:
    """Multi-coil k-space ``[coils, h, w]`` of a smooth random phantom (sum of Gaussian blobs)."""
    g = torch.Generator().manual_seed(seed)
    y, x = torch.meshgrid(torch.linspace(-1, 1, h), torch.linspace(-1, 1, w), indexing="ij")
    image = torch.zeros(h, w)
    for _ in range(12):
        cy, cx = (torch.rand(2, generator=g) - 0.5) * 1.2
        s = 0.05 + 0.3 * torch.rand(1, generator=g)
        image += torch.rand(1, generator=g) * torch.exp(-((y - cy) ** 2 + (x - cx) ** 2) / s**2)
    maps = sensitivity_maps(coils, (h, w), seed=seed)
    return fft2c(maps * image.to(torch.complex64))


def undersample(kspace: torch.Tensor, seed: int = 0):
    """Equispaced 4x mask with 8 % centre: ``(masked [coils, H, W], mask [1, 1, W], num_low)``."""
    return apply_mask(kspace, EquiSpacedMaskFunc([0.08], [4]), seed=seed)


def recon_batch(coils: int, kh: int, kw: int, crop: int, batch: int):
    """Zero-filled RSS input and RSS target, both ``[batch, 1, crop, crop]``, plus k-space."""
    kspaces, masked, zero_filled, targets = [], [], [], []
    for i in range(batch):
        k = phantom_kspace(coils, kh, kw, seed=i)
        mk, mask, num_low = undersample(k, seed=i)
        kspaces.append(k)
        masked.append(mk)
        zero_filled.append(center_crop(rss(ifft2c(mk)), (crop, crop)))
        targets.append(center_crop(rss(ifft2c(k)), (crop, crop)))
    return (
        torch.stack(masked),
        mask,
        num_low,
        torch.stack(zero_filled).unsqueeze(1),
        torch.stack(targets).unsqueeze(1),
    )


def make_step(kind: str, preset: str, device: torch.device):
    """Model, a zero-argument training step, and a description of the input."""
    torch.manual_seed(0)
    model = build_model(kind, preset).to(device).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    base = preset == "base"

    if kind == "resnet":
        size = RECON_SIZE if base else SMALL_IMAGE
        images = torch.rand(CLASSIFIER_BATCH, 1, size, size, device=device)
        labels = (torch.rand(CLASSIFIER_BATCH, NUM_FINDINGS, device=device) > 0.7).float()

        def loss_fn():
            return F.binary_cross_entropy_with_logits(model(images), labels)

        return model, _stepper(model, optimizer, loss_fn), f"{size}x{size}", CLASSIFIER_BATCH

    ssim = SSIMLoss().to(device)
    if kind == "varnet":
        coils, kh, kw = VARNET_BASE_KSPACE if base else (VARNET_SMALL_COILS, 64, 64)
        crop = RECON_SIZE if base else SMALL_IMAGE
        masked, mask, num_low, _, target = recon_batch(coils, kh, kw, crop, 1)
        masked, mask, target = masked.to(device), mask.to(device), target.to(device)
        data_range = target.amax(dim=(1, 2, 3))

        def loss_fn():
            out = center_crop(model(masked, mask, num_low), (crop, crop)).unsqueeze(1)
            return ssim(out, target, data_range)

        return model, _stepper(model, optimizer, loss_fn), f"{coils}x{kh}x{kw} k", 1

    size = RECON_SIZE if base else SMALL_IMAGE
    coils = VARNET_BASE_KSPACE[0] if base else VARNET_SMALL_COILS
    _, _, _, inputs, target = recon_batch(coils, size, size, size, 1)
    inputs, target = inputs.to(device), target.to(device)
    data_range = target.amax(dim=(1, 2, 3))

    def loss_fn():
        return ssim(model(inputs), target, data_range)

    return model, _stepper(model, optimizer, loss_fn), f"{size}x{size}", 1


def _stepper(model, optimizer, loss_fn: Callable[[], torch.Tensor]) -> Callable[[], float]:
    def step() -> float:
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn()
        loss.backward()
        optimizer.step()
        return float(loss.detach())

    return step


def time_config(kind, preset, device, steps: int, budget_s: float) -> Result:
    model, step, shape, batch = make_step(kind, preset, device)
    params = num_parameters(model)
    loss = step()  # warm-up: allocator, kernels, Adam state
    if not math.isfinite(loss):
        note = f"non-finite loss {loss}"
        return Result(kind, preset, shape, batch, params, None, None, None, 0, note)
    times: list[float] = []
    cpu_times: list[float] = []
    start = time.perf_counter()
    while len(times) < steps and (not times or time.perf_counter() - start < budget_s):
        _sync(device)
        t0, c0 = time.perf_counter(), time.process_time()
        step()
        _sync(device)
        times.append(time.perf_counter() - t0)
        cpu_times.append(time.process_time() - c0)
    median, best = 1000 * statistics.median(times), 1000 * min(times)
    cpu = 1000 * statistics.median(cpu_times)
    return Result(kind, preset, shape, batch, params, median, best, cpu, len(times))


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def print_table(results: list[Result]) -> None:
    print("| model | preset | input | batch | params | ms/step median | ms/step min "
          "| CPU ms/step | steps | note |")
    print("|---|---|---|---:|---:|---:|---:|---:|---:|---|")
    for r in results:
        params = f"{r.params:,}" if r.params is not None else "-"
        ms = f"{r.ms:,.1f}" if r.ms is not None else "-"
        best = f"{r.min_ms:,.1f}" if r.min_ms is not None else "-"
        cpu = f"{r.cpu_ms:,.1f}" if r.cpu_ms is not None else "-"
        print(
            f"| {r.model} | {r.preset} | {r.shape} | {r.batch} | {params} | {ms} | {best} "
            f"| {cpu} | {r.steps} | {r.note} |"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny and small only, 3 steps")
    parser.add_argument("--models", nargs="+", choices=MODEL_KINDS, default=list(MODEL_KINDS))
    parser.add_argument("--presets", nargs="+", choices=PRESETS, default=list(PRESETS))
    parser.add_argument("--steps", type=int, default=None,
                        help="timed steps per configuration (default 5; 3 with --quick)")
    parser.add_argument(
        "--budget-s",
        type=float,
        default=60.0,
        help="stop timing a configuration after this long (>= 1 step)",
    )
    parser.add_argument("--skip", nargs="*", default=[], metavar="MODEL:PRESET")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args(argv)

    torch.set_num_threads(args.threads)
    presets = [p for p in args.presets if not (args.quick and p == "base")]
    steps = args.steps or (3 if args.quick else 5)
    device = torch.device(args.device)
    print(
        f"# bench_models: torch {torch.__version__}, device {device}, "
        f"{torch.get_num_threads()} threads, {platform.processor() or platform.machine()}, "
        f"python {sys.version.split()[0]}, load average {_load()}"
    )
    results = []
    for kind in args.models:
        for preset in presets:
            if f"{kind}:{preset}" in args.skip:
                results.append(
                    Result(kind, preset, "-", 0, None, None, None, None, 0, "skipped (--skip)")
                )
                continue
            result = time_config(kind, preset, device, steps, args.budget_s)
            print(f"# {kind} {preset}: median {result.ms} ms", flush=True)
            results.append(result)
    print_table(results)
    # Other processes on the machine inflate the figures; the load average says how much.
    print(f"# load average at the end: {_load()}")
    return 0


def _load() -> str:
    try:
        return " ".join(f"{v:.2f}" for v in os.getloadavg())
    except OSError:  # not available on every platform
        return "n/a"



if __name__ == "__main__":
    raise SystemExit(main())
