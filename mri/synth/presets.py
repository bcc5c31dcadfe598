"""Dataset presets: which distributions, how many volumes and slices, image size.

A distribution is (anatomy, contrast, field strength); each preset entry also fixes the scanner
model, and so the coil count, coil geometry and noise. Presets keep images small because CPU
models train on them: the default has a 64 x 64 reconstruction matrix (k-space 128 x 64 with
the readout oversampled 2x, as fastMRI's 640 x 368 for 320 x 320).
"""

from __future__ import annotations

from dataclasses import dataclass

from mri.synth.scanners import SCANNERS
from mri.synth.tissues import PROTOCOLS

CONTRAST_NAMES = {
    "CORPD_FBK": "pd",
    "CORPDFS_FBK": "pdfs",
    "AXT1": "t1",
    "AXT1POST": "t1post",
    "AXT2": "t2",
    "AXFLAIR": "flair",
}


@dataclass(frozen=True)
class DistributionSpec:
    """Volumes of one protocol on one scanner.

    ``coils`` None uses the scanner's array for the anatomy. ``padding`` leaves a few
    phase-encode columns unacquired (zero) at the edges, as fastMRI's knee files do.
    """

    acquisition: str
    scanner: str
    volumes: int
    coils: int | None = None
    padding: bool = False

    @property
    def anatomy(self) -> str:
        """``'brain'`` or ``'knee'`` (from the protocol)."""
        return PROTOCOLS[self.acquisition].anatomy

    @property
    def num_coils(self) -> int:
        """Receive channels written to the files."""
        return self.coils if self.coils is not None else SCANNERS[self.scanner].coils[self.anatomy]

    @property
    def label(self) -> str:
        """``<anatomy>_<contrast>_<field>``, e.g. ``knee_pd_3T`` (as mri.data names it)."""
        field = SCANNERS[self.scanner].nominal_field
        return f"{self.anatomy}_{CONTRAST_NAMES[self.acquisition]}_{field:g}T"


@dataclass(frozen=True)
class Preset:
    """A dataset recipe. ``recon_size`` is ``(h, w)``; k-space is ``(2 h, w)``."""

    name: str
    recon_size: tuple[int, int]
    slices: int
    distributions: tuple[DistributionSpec, ...]
    supersample: int = 3
    workers: int = 1

    @property
    def kspace_size(self) -> tuple[int, int]:
        """``(H, W)`` of each coil's k-space: readout oversampled 2x, phase encode = recon."""
        return 2 * self.recon_size[0], self.recon_size[1]


PRESETS: dict[str, Preset] = {
    "tiny": Preset(
        name="tiny",
        recon_size=(32, 32),
        slices=3,
        distributions=(
            # the same distribution names as the default preset, so every study runs on both
            DistributionSpec("CORPD_FBK", "Skyra", 4, coils=4, padding=True),
            DistributionSpec("CORPD_FBK", "Aera", 4, coils=2, padding=True),
            DistributionSpec("CORPDFS_FBK", "Skyra", 4, coils=4, padding=True),
            DistributionSpec("AXT2", "Skyra", 4, coils=4),
            DistributionSpec("AXT2", "Aera", 4, coils=2),
        ),
    ),
    "default": Preset(
        name="default",
        recon_size=(64, 64),
        slices=5,
        distributions=(
            DistributionSpec("CORPD_FBK", "Skyra", 12, padding=True),
            DistributionSpec("CORPDFS_FBK", "Skyra", 12, padding=True),
            DistributionSpec("CORPD_FBK", "Aera", 12, padding=True),
            DistributionSpec("CORPDFS_FBK", "Aera", 12, padding=True),
            DistributionSpec("AXT2", "Skyra", 12),
            DistributionSpec("AXT2", "Aera", 12, padding=True),
            DistributionSpec("AXT1POST", "Prisma_fit", 12),
            DistributionSpec("AXT1", "Avanto", 12),
            DistributionSpec("AXFLAIR", "Avanto", 12),
        ),
        workers=2,
    ),
}


def get_preset(name: str) -> Preset:
    """The preset called ``name``; unknown names raise ValueError listing the valid ones."""
    try:
        return PRESETS[name]
    except KeyError:
        raise ValueError(f"unknown preset {name!r}; choose one of {sorted(PRESETS)}") from None
