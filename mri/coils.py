"""Coil combination, cropping and simulated receive-coil sensitivities."""

from __future__ import annotations

import math

import numpy as np
import torch

COIL_GEOMETRIES = ("ring", "arc")


def rss(x: torch.Tensor, dim: int = -3) -> torch.Tensor:
    """Root-sum-of-squares over the coil dimension: ``sqrt(sum_c |x_c|^2)``.

    ``x`` is complex or real, coils along ``dim`` (``[..., coils, H, W]`` by default).
    """
    return torch.sqrt((x.abs() ** 2).sum(dim=dim))


def complex_center_crop(x: torch.Tensor, shape: tuple[int, int]) -> torch.Tensor:
    """Crop the last two dims of a (complex or real) tensor to ``shape`` around the centre.

    Uses fastMRI's placement: the crop starts at ``(N - n) // 2``.
    """
    h, w = int(shape[0]), int(shape[1])
    H, W = x.shape[-2], x.shape[-1]
    if not (0 < h <= H and 0 < w <= W):
        raise ValueError(f"crop {h}x{w} does not fit inside {H}x{W}")
    top, left = (H - h) // 2, (W - w) // 2
    return x[..., top : top + h, left : left + w]


center_crop = complex_center_crop


def sensitivity_maps(
    num_coils: int,
    shape: tuple[int, int],
    geometry: str = "ring",
    coil_radius: float = 1.3,
    coil_width: float = 0.7,
    seed: int | None = None,
) -> torch.Tensor:
    """Simulated receive sensitivities ``[num_coils, H, W]`` (complex64).

    Each coil is a small loop at distance ``coil_radius`` from the centre (field of view spans
    [-1, 1] on both axes). Its magnitude falls off with distance ``d`` from the loop as
    ``1 / (1 + (d / coil_width)^2)^(3/2)`` (the on-axis Biot-Savart fall-off of a loop of radius
    ``coil_width``), and its phase grows linearly with distance plus a per-coil offset, as
    receive fields do. ``ring`` spreads coils evenly around the object (head coils); ``arc``
    packs them over a 200 degree arc (flexible surface arrays such as knee coils). Maps are
    scaled so the largest root-sum-of-squares value is 1: the combined image keeps the coil
    shading that real RSS images have.
    """
    if num_coils < 1:
        raise ValueError(f"num_coils must be >= 1, got {num_coils}")
    if geometry not in COIL_GEOMETRIES:
        raise ValueError(f"unknown coil geometry {geometry!r}; choose one of {COIL_GEOMETRIES}")
    rng = np.random.default_rng(seed)
    H, W = shape
    y, x = np.meshgrid(np.linspace(-1, 1, H), np.linspace(-1, 1, W), indexing="ij")
    span = 2 * math.pi if geometry == "ring" else math.radians(200)
    start = rng.uniform(0, 2 * math.pi)
    step = span / num_coils if geometry == "ring" else span / max(num_coils - 1, 1)
    maps = np.empty((num_coils, H, W), dtype=np.complex64)
    for c in range(num_coils):
        angle = start + c * step + rng.normal(0, 0.05)
        cy, cx = coil_radius * math.sin(angle), coil_radius * math.cos(angle)
        dist = np.hypot(y - cy, x - cx)
        magnitude = 1.0 / (1.0 + (dist / coil_width) ** 2) ** 1.5
        phase = rng.uniform(-math.pi, math.pi) + 1.5 * dist
        maps[c] = magnitude * np.exp(1j * phase)
    maps /= np.sqrt((np.abs(maps) ** 2).sum(axis=0)).max()
    return torch.from_numpy(maps)
