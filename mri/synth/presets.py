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
from mri.synth.visibility import MIN_AREA_PX, MIN_EFFECT_SD

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
    ``single_coil`` writes emulated single-coil k-space ``[slices, H, W]`` (fastMRI's singlecoil
    layout): the ``coils``-channel acquisition combined into one virtual receiver, see
    :func:`mri.synth.coil_array.esc_weights`. ``finding_rate`` multiplies each finding's
    probability per subject (capped at 0.95); 1 gives the rates of :mod:`mri.synth.knee_lesions`
    and :mod:`mri.synth.brain`, which suit 5-slice volumes.
    """

    acquisition: str
    scanner: str
    volumes: int
    coils: int | None = None
    padding: bool = False
    single_coil: bool = False
    finding_rate: float = 1.0

    @property
    def anatomy(self) -> str:
        """``'brain'`` or ``'knee'`` (from the protocol)."""
        return PROTOCOLS[self.acquisition].anatomy

    @property
    def num_coils(self) -> int:
        """Receive channels simulated (a single-coil file combines them into one)."""
        return self.coils if self.coils is not None else SCANNERS[self.scanner].coils[self.anatomy]

    @property
    def label(self) -> str:
        """``<anatomy>_<contrast>_<field>``, e.g. ``knee_pd_3T`` (as mri.data names it)."""
        field = SCANNERS[self.scanner].nominal_field
        return f"{self.anatomy}_{CONTRAST_NAMES[self.acquisition]}_{field:g}T"


@dataclass(frozen=True)
class Preset:
    """A dataset recipe. ``recon_size`` is ``(h, w)``; k-space is ``(2 h, w)``.

    ``supersample`` is the phantom's sub-pixel factor per axis (partial-volume edges; the cost
    of a slice grows with its square). ``min_lesion_area_px`` and ``min_lesion_effect_sd`` are
    the thresholds of the visibility rule (:mod:`mri.synth.visibility`): a lesion is drawn and
    annotated on a slice only if it covers that many recon pixels and changes them by that
    many noise SDs on average. ``noise_scale`` multiplies every scanner's thermal noise
    (:mod:`mri.synth.scanners`, calibrated on fastMRI-resolution images); the ratios between
    scanners and field strengths stay as they are.
    """

    name: str
    recon_size: tuple[int, int]
    slices: int
    distributions: tuple[DistributionSpec, ...]
    supersample: int = 3
    workers: int = 1
    min_lesion_area_px: float = MIN_AREA_PX
    min_lesion_effect_sd: float = MIN_EFFECT_SD
    noise_scale: float = 1.0

    @property
    def kspace_size(self) -> tuple[int, int]:
        """``(H, W)`` of each coil's k-space: readout oversampled 2x, phase encode = recon."""
        return 2 * self.recon_size[0], self.recon_size[1]


def _diagnosis(
    acquisition: str, scanner: str, rate: float, padding: bool = False
) -> DistributionSpec:
    """A distribution of the ``diagnosis`` preset: 160 single-coil volumes (24 test volumes in
    the 70/15/15 split), finding rates raised for 10-slice volumes so that every finding group
    of the anatomy is visible in about half of the volumes or more, with findings on roughly
    35-55 % of the slices."""
    return DistributionSpec(
        acquisition, scanner, 160, padding=padding, single_coil=True, finding_rate=rate
    )


PRESETS: dict[str, Preset] = {
    "tiny": Preset(
        name="tiny",
        recon_size=(32, 32),
        slices=3,
        # 32 x 32 pixels are 4x larger: a quarter of the area (the preset tests machinery)
        min_lesion_area_px=4.0,
        distributions=(
            # the distribution names of the other presets, so every study runs on it too
            DistributionSpec("CORPD_FBK", "Skyra", 4, coils=4, padding=True),
            DistributionSpec("CORPD_FBK", "Aera", 4, coils=2, padding=True),
            DistributionSpec("CORPDFS_FBK", "Skyra", 4, coils=4, padding=True),
            DistributionSpec("CORPDFS_FBK", "Aera", 4, coils=2, padding=True),
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
    # Training-data diversity (Lin and Heckel): the five distributions of mixture_sweep with 80
    # volumes each, so every test split holds 12 volumes (patients) for intervals over
    # patients. Four receive channels per file keep the training k-space of the four training
    # distributions (about 440 MB with its readout transform) inside one node's object store.
    "mixture": Preset(
        name="mixture",
        recon_size=(64, 64),
        slices=5,
        distributions=(
            DistributionSpec("CORPD_FBK", "Skyra", 80, coils=4, padding=True),
            DistributionSpec("CORPDFS_FBK", "Skyra", 80, coils=4, padding=True),
            DistributionSpec("AXT2", "Skyra", 80, coils=4),
            DistributionSpec("AXT2", "Aera", 80, coils=4, padding=True),
            DistributionSpec("CORPD_FBK", "Aera", 80, coils=4, padding=True),
        ),
        workers=2,
    ),
    # Slice classification (fastMRI+ labels on fastMRI's single-coil knee data, as in Madaan et
    # al.): the knee in both fastMRI contrasts on a 3 T and a 1.5 T scanner. Single-coil files
    # are 5x smaller than 15-coil ones, so many more slices fit. 160 volumes give 112/24/24
    # volumes in the 70/15/15 splits: 1120 train and 240 test slices per distribution, and each
    # finding group visible in at least 10 test volumes. Finding rates differ because
    # visibility does: PD (no fat suppression) hides more of the findings than PD-FS, so it
    # needs more lesions for as many visible ones.
    "diagnosis": Preset(
        name="diagnosis",
        recon_size=(64, 64),
        slices=10,
        distributions=(
            _diagnosis("CORPDFS_FBK", "Skyra", 1.9, padding=True),
            _diagnosis("CORPDFS_FBK", "Aera", 1.9, padding=True),
            _diagnosis("CORPD_FBK", "Skyra", 3.0, padding=True),
            _diagnosis("CORPD_FBK", "Aera", 3.0, padding=True),
        ),
        supersample=2,  # 2.25x cheaper phantoms than 3; edges still partial-volume
        workers=2,
        # The scanners' noise is calibrated on fastMRI's 320x320 images (white-matter SNR
        # about 25 at 3 T); a 64x64 matrix over the same field of view has 25x larger pixels,
        # which alone would raise SNR 25-fold. Halving the noise keeps it plainly visible while
        # PD knee findings (marrow oedema is only ~23 % darker than marrow without fat
        # suppression) stand out at 3 T and most do at 1.5 T, as radiologists see them.
        noise_scale=0.5,
    ),
}


def get_preset(name: str) -> Preset:
    """The preset called ``name``; unknown names raise ValueError listing the valid ones."""
    try:
        return PRESETS[name]
    except KeyError:
        raise ValueError(f"unknown preset {name!r}; choose one of {sorted(PRESETS)}") from None
