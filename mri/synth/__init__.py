"""Synthetic fastMRI-format data: procedural brain and knee MRI with lesions and annotations.

The embedded default dataset of the study (real fastMRI data needs a licence). Anatomy is drawn
from smooth random tissue maps (:mod:`.brain`, :mod:`.knee` with :mod:`.knee_geometry` and
:mod:`.knee_lesions`), contrast comes from MR signal equations with field-dependent relaxation
times (:mod:`.tissues`, rendered by :mod:`.render`), acquisition adds coil sensitivities,
background phase, correlated thermal noise and phase-encode padding (:mod:`.simulate` for the
volume of a :mod:`.volume_spec`, :mod:`.coil_array`, :mod:`.scanners`), and files follow
fastMRI's HDF5 layout with fastMRI+ annotations (:mod:`.writer`), multi-coil or emulated
single-coil. A lesion is drawn and annotated on a slice only where the image shows it
(:mod:`.visibility`); every lesion-slice, with its measures, is listed in the dataset's
``lesions.csv``. Presets (:mod:`.presets`) size the dataset: ``tiny`` (tests), ``default``
(multi-coil, 9 distributions) and ``diagnosis`` (single-coil, 5 distributions of 1,600 slices
for slice classification).

Entry points: :func:`generate` (``generate(out_dir, preset="default", seed=0)``),
``PRESETS``, ``python -m mri.synth --out DIR --preset {tiny,default,diagnosis} --seed S``.
"""

from mri.synth.cli import main
from mri.synth.coil_array import esc_weights
from mri.synth.generate import GENERATOR_VERSION, FindingStats, Summary, generate, summarize
from mri.synth.presets import PRESETS, DistributionSpec, Preset, get_preset
from mri.synth.simulate import (
    Box,
    SimulatedVolume,
    reconstruction_rss,
    simulate_volume,
    tissue_maps,
)
from mri.synth.tissues import PROTOCOLS, TISSUES, tissue_signal
from mri.synth.visibility import LesionMeasure, VisibilityRule
from mri.synth.volume_spec import VolumeSpec, volume_specs

__all__ = [
    "GENERATOR_VERSION",
    "PRESETS",
    "PROTOCOLS",
    "TISSUES",
    "Box",
    "DistributionSpec",
    "FindingStats",
    "LesionMeasure",
    "Preset",
    "SimulatedVolume",
    "Summary",
    "VisibilityRule",
    "VolumeSpec",
    "esc_weights",
    "generate",
    "get_preset",
    "main",
    "reconstruction_rss",
    "simulate_volume",
    "summarize",
    "tissue_maps",
    "tissue_signal",
    "volume_specs",
]
