"""What determines one simulated file (:class:`VolumeSpec`) and the files of a preset
(:func:`volume_specs`): the file's index and the dataset seed, its distribution (acquisition,
scanner, coils, finding rate) and its preset (matrix, slices, visibility thresholds, noise
scale). :func:`mri.synth.simulate.simulate_volume` turns a spec into a volume.
"""

from __future__ import annotations

from dataclasses import dataclass

from mri.synth.presets import DistributionSpec, Preset


@dataclass(frozen=True)
class VolumeSpec:
    """Everything that determines one file: ``dist`` says what is scanned and how, ``preset``
    the image geometry and the rules every file of the dataset shares."""

    index: int
    seed: int
    dist: DistributionSpec
    preset: Preset

    @property
    def file_coils(self) -> int:
        """Receive channels in the file: 1 for single-coil, else the simulated coils."""
        return 1 if self.dist.single_coil else self.dist.num_coils

    @property
    def stem(self) -> str:
        """File name without ``.h5``: ``file_<anatomy>_<acquisition>_<scanner>_<NNNN>``."""
        dist = self.dist
        return f"file_{dist.anatomy}_{dist.acquisition}_{dist.scanner}_{self.index:04d}"


def volume_specs(preset: Preset, seed: int) -> list[VolumeSpec]:
    """The files of ``preset`` in order; file indices run over the whole preset."""
    dists = [dist for dist in preset.distributions for _ in range(dist.volumes)]
    return [VolumeSpec(index, seed, dist, preset) for index, dist in enumerate(dists)]
