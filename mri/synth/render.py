"""Noise-free magnitude of a slice from its tissue fractions (:class:`Renderer`): each
tissue's signal for the protocol (:func:`mri.synth.tissues.tissue_signal`), a smooth PD/receive
texture and, with fat suppression, a spatially varying fat residual; and the per-volume smooth
fields these use, with the background phase (:class:`Appearance`).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from mri.synth.fields import Grid, SmoothField, downsample
from mri.synth.scanners import Scanner
from mri.synth.tissues import PROTOCOLS, TISSUES, fat_residual, tissue_signal
from mri.synth.volume_spec import VolumeSpec


@dataclass(frozen=True)
class Appearance:
    """Per-volume smooth fields: PD/receive texture, background phase, fat-sat residual."""

    texture: SmoothField
    phase_field: SmoothField
    ramp: tuple[float, float, float]
    fat_field: SmoothField

    @classmethod
    def random(cls, rng: np.random.Generator) -> Appearance:
        return cls(
            texture=SmoothField.random(rng, cycles=2.0, std=1.0, n_modes=12),
            phase_field=SmoothField.random(rng, cycles=0.4, std=0.8, n_modes=8),
            ramp=(
                float(rng.uniform(-np.pi, np.pi)),
                float(rng.normal(0, 0.5)),
                float(rng.normal(0, 0.5)),
            ),
            fat_field=SmoothField.random(rng, cycles=0.5, std=0.6, n_modes=8),
        )

    def phase(self, grid: Grid, z: float) -> np.ndarray:
        """Background phase (rad): constant + linear ramp + smooth B0-like term."""
        y, x = grid.mesh()
        return (
            self.ramp[0] + self.ramp[1] * y + self.ramp[2] * x + self.phase_field.on_grid(grid, z)
        )


class Renderer:
    """Noise-free magnitude ``[H, W]`` of a slice's fractions (relative units, before the
    gain): ``(1 + 0.03 n) * downsample(sum_t f_t s_t)``, with the fat of fat-suppressed
    protocols scaled by a spatially varying residual (incomplete suppression where B0 is
    off-resonance).

    Linear in the fractions, so ``render(f, reference=f0)`` renders only the tissues whose
    arrays differ from ``f0``'s, as ``f - f0``: the change a lesion makes.
    """

    def __init__(
        self, spec: VolumeSpec, scanner: Scanner, appearance: Appearance, grid: Grid, z: float
    ) -> None:
        self.acquisition = spec.dist.acquisition
        self.field = scanner.nominal_field
        self.supersample = spec.preset.supersample
        self.fat_scale = None
        if PROTOCOLS[spec.dist.acquisition].fat_suppressed:
            residual = fat_residual(self.field)
            self.fat_scale = np.clip(
                residual * (1.0 + 0.8 * np.abs(appearance.fat_field.on_grid(grid, z))), 0.0, 0.3
            )
        self.texture = 1.0 + 0.03 * appearance.texture.on_grid(grid, z)

    def __call__(
        self, fractions: dict[str, np.ndarray], reference: dict[str, np.ndarray] | None = None
    ) -> np.ndarray:
        water: np.ndarray | float = 0.0
        fat: np.ndarray | float = 0.0
        for tissue, fraction in fractions.items():
            if reference is not None:
                before = reference.get(tissue)
                if fraction is before:
                    continue
                if before is not None:
                    fraction = fraction - before
            signal = _signal(tissue, self.acquisition, self.field)
            if self.fat_scale is not None and TISSUES[tissue].is_fat:
                fat = fat + fraction * signal
            else:
                water = water + fraction * signal
        magnitude = _low(water, self.supersample)
        if self.fat_scale is not None:
            magnitude = magnitude + _low(fat, self.supersample) * self.fat_scale
        return np.asarray(magnitude * self.texture, dtype=np.float64)


def _low(image: np.ndarray | float, supersample: int) -> np.ndarray | float:
    return downsample(image, supersample) if isinstance(image, np.ndarray) else image


@functools.lru_cache(maxsize=512)
def _signal(tissue: str, acquisition: str, field: float) -> float:
    return tissue_signal(tissue, acquisition, field, fat_suppression=False)
