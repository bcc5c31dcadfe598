"""What determines one simulated file (:class:`VolumeSpec`) and the files of a preset
(:func:`volume_specs`): acquisition, scanner, coils, matrix, slices and the preset's
finding rate, visibility thresholds and noise scale. :func:`mri.synth.simulate.simulate_volume`
turns a spec into a volume.
"""

from __future__ import annotations

from dataclasses import dataclass

from mri.synth.presets import DistributionSpec, Preset
from mri.synth.tissues import PROTOCOLS
from mri.synth.visibility import MIN_AREA_PX, MIN_EFFECT_SD


@dataclass(frozen=True)
class VolumeSpec:
    """Everything that determines one file (with the dataset seed)."""

    index: int
    seed: int
    acquisition: str
    scanner: str
    coils: int
    recon_size: tuple[int, int]
    slices: int
    supersample: int = 3
    padding: bool = False
    single_coil: bool = False
    finding_rate: float = 1.0
    min_lesion_area_px: float = MIN_AREA_PX
    min_lesion_effect_sd: float = MIN_EFFECT_SD
    noise_scale: float = 1.0

    @property
    def anatomy(self) -> str:
        """``'brain'`` or ``'knee'``."""
        return PROTOCOLS[self.acquisition].anatomy

    @property
    def file_coils(self) -> int:
        """Receive channels in the file: 1 for single-coil, else ``coils``."""
        return 1 if self.single_coil else self.coils

    @property
    def kspace_size(self) -> tuple[int, int]:
        """``(H, W)``: readout oversampled 2x."""
        return 2 * self.recon_size[0], self.recon_size[1]

    @property
    def stem(self) -> str:
        """File name without ``.h5``: ``file_<anatomy>_<acquisition>_<scanner>_<NNNN>``."""
        return f"file_{self.anatomy}_{self.acquisition}_{self.scanner}_{self.index:04d}"


def volume_specs(preset: Preset, seed: int) -> list[VolumeSpec]:
    """The files of ``preset`` in order; file indices run over the whole preset."""
    specs: list[VolumeSpec] = []
    for dist in preset.distributions:
        specs.extend(_specs_for(dist, preset, seed, len(specs)))
    return specs


def _specs_for(dist: DistributionSpec, preset: Preset, seed: int, start: int) -> list[VolumeSpec]:
    return [
        VolumeSpec(
            index=start + i,
            seed=seed,
            acquisition=dist.acquisition,
            scanner=dist.scanner,
            coils=dist.num_coils,
            recon_size=preset.recon_size,
            slices=preset.slices,
            supersample=preset.supersample,
            padding=dist.padding,
            single_coil=dist.single_coil,
            finding_rate=dist.finding_rate,
            min_lesion_area_px=preset.min_lesion_area_px,
            min_lesion_effect_sd=preset.min_lesion_effect_sd,
            noise_scale=preset.noise_scale,
        )
        for i in range(dist.volumes)
    ]
