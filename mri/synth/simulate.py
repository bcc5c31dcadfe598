"""From tissue maps to multi-coil k-space: contrast, phase, coils, FFT, noise, padding.

This module runs the per-slice pipeline (:func:`simulate_volume`) and holds its output
(:class:`SimulatedVolume`, :class:`Box`); the spec of a volume is in
:mod:`mri.synth.volume_spec`, the rendering of tissue fractions in :mod:`mri.synth.render`
and the receive array (coils, channel noise, emulated single coil) in
:mod:`mri.synth.coil_array`.

Per slice:

1. tissue fractions ``f_t`` (partial-volume, from the phantom) and the protocol's signal
   ``s_t`` (:func:`mri.synth.tissues.tissue_signal`) give the magnitude
   ``m = (1 + 0.03 n) * sum_t f_t s_t`` (``n`` a smooth field: receive/PD inhomogeneity);
   with fat suppression the fat residual varies smoothly in space (B0 inhomogeneity)
   (:mod:`mri.synth.render`);
2. the complex image is ``x = gain * m * exp(i phi)`` with a smooth background phase ``phi``;
3. coil images ``x_c = S_c x`` with simulated sensitivities ``S_c`` (ring array for the head,
   arc for the knee), fixed per volume (:mod:`mri.synth.coil_array`);
4. k-space ``k_c = fft2c(x_c) + n_c``, ``n_c`` complex Gaussian noise, correlated across
   channels (:mod:`mri.synth.scanners`);
5. optional unacquired phase-encode columns at both edges are set to zero.

The target is fastMRI's ``reconstruction_rss``: ``crop(rss(ifft2c(k)))`` to the recon matrix.
The readout is oversampled 2x (``H = 2 h``); the recon window is the middle of the FOV.

Single-coil volumes emulate fastMRI's singlecoil data: one virtual receiver, a fixed linear
combination of the coils fitted to the RSS image (:mod:`mri.synth.coil_array`); its k-space
is the combination's FFT plus white noise. The target is ``crop(|ifft2c(k)|)``. The weights are
fitted to the slice without its lesions and used for the final slice too (lesions change them
negligibly), which keeps the clean image linear in the drawn tissue.

Lesions: each lesion a slice cuts is first drawn alone on the lesion-free slice and measured on
the noise-free image the file holds (:mod:`mri.synth.visibility`); only those that pass the
preset's visibility rule are drawn in the final slice and annotated, so every box marks a
finding the image shows. The measures of all of them are kept (``SimulatedVolume.lesions``).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np
import torch

from mri.coils import complex_center_crop, rss
from mri.fft import fft2c, ifft2c
from mri.synth.brain import BrainPhantom
from mri.synth.coil_array import COIL_GEOMETRY, channel_noise, coil_maps, esc_profile
from mri.synth.fields import Grid, downsample
from mri.synth.knee import KneePhantom
from mri.synth.render import Appearance, Renderer
from mri.synth.scanners import SCANNERS, Scanner, noise_cholesky
from mri.synth.visibility import (
    LesionMeasure,
    VisibilityRule,
    lesion_mask,
    magnitude_sigma,
    measure,
)
from mri.synth.volume_spec import VolumeSpec

BOX_MARGIN = 1  # pixels around the lesion, as annotators draw boxes


@dataclass(frozen=True)
class Box:
    """A finding's box in *image* coordinates of the recon matrix (row 0 at the top)."""

    slice: int
    label: str
    x: int
    y: int
    width: int
    height: int


@dataclass
class SimulatedVolume:
    """One simulated volume and what the tests and the writer need to know about it.

    ``kspace`` complex64 ``[slices, coils, H, W]`` (single-coil: ``[slices, H, W]``);
    ``target`` float32 ``[slices, h, w]``; ``clean`` float32 ``[slices, h, w]`` is the noise-free
    RSS image (single-coil: the noise-free magnitude of the combined image); ``lesion_masks[s]``
    lists ``(label, bool mask [h, w])`` per drawn (visible) finding, ``lesions[s]`` the
    :class:`~mri.synth.visibility.LesionMeasure` of every lesion slice ``s`` cuts;
    ``padding = (left, right)`` zero columns; ``noise_sigma`` is the complex noise standard
    deviation per k-space sample of the file (per channel for multi-coil, of the combination for
    single-coil).
    """

    spec: VolumeSpec
    kspace: np.ndarray
    target: np.ndarray
    clean: np.ndarray
    boxes: list[Box]
    lesion_masks: list[list[tuple[str, np.ndarray]]]
    padding: tuple[int, int]
    noise_sigma: float
    patient_id: str
    slice_z: np.ndarray
    extras: dict[str, float] = field(default_factory=dict)
    slice_noise_sigma: np.ndarray | None = None  # single-coil: noise std per slice [slices]
    lesions: list[list[LesionMeasure]] = field(default_factory=list)


def simulate_volume(spec: VolumeSpec) -> SimulatedVolume:
    """Simulate one volume. Deterministic in ``(spec.seed, spec.index)``: the anatomy, the
    coils, the noise and the rest draw from independent child streams of
    ``SeedSequence([seed, index])``, so e.g. the same subject can be "scanned" on another
    scanner by changing only ``spec.dist.scanner``.

    Each lesion a slice cuts is measured on the slice's clean image
    (:mod:`mri.synth.visibility`); only the visible ones are drawn and annotated there.
    """
    vol = _Volume.build(spec)
    H, W = spec.preset.kspace_size
    h, w = spec.preset.recon_size
    n = spec.preset.slices
    shape = (n, H, W) if spec.dist.single_coil else (n, spec.dist.num_coils, H, W)
    kspace = np.empty(shape, dtype=np.complex64)
    clean = np.empty((n, h, w), dtype=np.float32)
    slice_sigma = np.full(n, vol.sigma)
    boxes: list[Box] = []
    lesion_masks: list[list[tuple[str, np.ndarray]]] = []
    lesions: list[list[LesionMeasure]] = []
    for s in range(n):
        scene = _scene(vol, s)
        if spec.dist.single_coil:
            combined = (scene.profile * scene.image).astype(np.complex64)
            k = fft2c(torch.from_numpy(combined)).numpy()
            white = vol.rng_noise.standard_normal((2, *k.shape), dtype=np.float32)
            scale = scene.noise_sigma / np.sqrt(2.0)
            k = k + ((white[0] + 1j * white[1]) * scale).astype(np.complex64)
            magnitude = np.abs(combined)
            slice_sigma[s] = scene.noise_sigma
        else:
            coil_images = torch.from_numpy((vol.maps * scene.image).astype(np.complex64))
            k = fft2c(coil_images).numpy()
            k = k + channel_noise(vol.rng_noise, vol.chol, vol.sigma, k.shape)
            magnitude = rss(coil_images).numpy()
        if vol.padding != (0, 0):
            k[..., : vol.padding[0]] = 0
            k[..., W - vol.padding[1] :] = 0
        kspace[s] = k
        clean[s] = _crop(magnitude, (h, w))
        masks = [(m.label, m.mask) for m in scene.lesions if m.visible]
        lesion_masks.append(masks)
        lesions.append(scene.lesions)
        boxes.extend(_boxes(s, masks))
    target = reconstruction_rss(kspace, (h, w))
    return SimulatedVolume(
        spec=spec,
        kspace=kspace,
        target=target,
        clean=clean,
        boxes=boxes,
        lesion_masks=lesion_masks,
        padding=vol.padding,
        noise_sigma=float(np.sqrt(np.mean(slice_sigma**2))) if spec.dist.single_coil else vol.sigma,
        patient_id=vol.patient_id,
        slice_z=np.asarray(vol.phantom.slice_z, dtype=np.float64),
        extras={"gain": vol.gain},
        slice_noise_sigma=slice_sigma if spec.dist.single_coil else None,
        lesions=lesions,
    )


@dataclass
class _Volume:
    """What one volume draws before its slices (the streams used in a fixed order)."""

    spec: VolumeSpec
    scanner: Scanner
    phantom: BrainPhantom | KneePhantom
    grid: Grid
    low_grid: Grid
    maps: np.ndarray  # [C, H, W] complex64
    chol: np.ndarray
    sigma: float  # complex noise std per channel
    gain: float
    appearance: Appearance
    padding: tuple[int, int]
    patient_id: str
    rng_noise: np.random.Generator

    @functools.cached_property
    def rss_maps(self) -> np.ndarray:
        """``sqrt(sum_c |S_c|^2)`` ``[H, W]``: the multi-coil (RSS) shading."""
        return np.sqrt((np.abs(self.maps) ** 2).sum(axis=0))

    @classmethod
    def build(cls, spec: VolumeSpec) -> _Volume:
        rng_anat, rng_coil, rng_noise, rng_misc = _streams(spec)
        scanner = SCANNERS[spec.dist.scanner]
        phantom = _phantom(spec, rng_anat)
        H, W = spec.preset.kspace_size
        w = spec.preset.recon_size[1]
        maps = coil_maps(spec.dist.num_coils, (H, W), w, COIL_GEOMETRY[spec.dist.anatomy], rng_coil)
        chol = noise_cholesky(spec.dist.num_coils, rng_coil)
        gain = scanner.gain * float(rng_misc.uniform(0.8, 1.25))
        appearance = Appearance.random(rng_misc)
        padding = _padding(rng_misc, W) if spec.dist.padding else (0, 0)
        return cls(
            spec=spec,
            scanner=scanner,
            phantom=phantom,
            grid=Grid.for_matrix((H, W), w, spec.preset.supersample),
            low_grid=Grid.for_matrix((H, W), w, 1),
            maps=maps,
            chol=chol,
            sigma=scanner.noise_sigma(spec.dist.num_coils) * spec.preset.noise_scale,
            gain=gain,
            appearance=appearance,
            padding=padding,
            patient_id=rng_misc.bytes(32).hex(),
            rng_noise=rng_noise,
        )


@dataclass
class _Scene:
    """One slice, noise-free: final supersampled fractions, the complex object image
    ``[H, W]`` (before coils), the single-coil combination profile ``sum_c w_c S_c`` (None for
    multi-coil), the file's complex noise std and the measured lesions."""

    fractions: dict[str, np.ndarray]
    image: np.ndarray
    profile: np.ndarray | None
    noise_sigma: float
    lesions: list[LesionMeasure]


def _scene(vol: _Volume, s: int) -> _Scene:
    """Slice ``s``: measure each lesion alone on the lesion-free slice, keep the visible ones.

    The clean image is linear in the rendered magnitude ``m`` with a fixed shading: single
    coil ``gain * m * |sum_c w_c S_c|`` (ESC weights ``w`` fitted to the lesion-free slice and
    used for the final one too), multi-coil ``gain * m * sqrt(sum_c |S_c|^2)``; so the images
    with and without a lesion differ by the lesion's rendered change times the shading.
    """
    spec = vol.spec
    recon = spec.preset.recon_size
    z = float(vol.phantom.slice_z[s])
    cut = vol.phantom.cut(vol.grid, s)
    render = Renderer(spec, vol.scanner, vol.appearance, vol.low_grid, z)
    base = render(cut.base)
    phase = np.exp(1j * vol.appearance.phase(vol.low_grid, z))
    if spec.dist.single_coil:
        profile, noise_sigma = esc_profile(
            vol.gain * base * phase, vol.maps, vol.chol, vol.sigma, recon
        )
        shading = _crop(vol.gain * np.abs(profile), recon)
    else:
        profile, noise_sigma = None, vol.sigma
        shading = _crop(vol.gain * vol.rss_maps, recon)
    sigma_mag = magnitude_sigma(noise_sigma)
    rule = VisibilityRule(spec.preset.min_lesion_area_px, spec.preset.min_lesion_effect_sd)
    without = _crop(base, recon) * shading
    measures = []
    for lesion in cut.lesions:
        fractions = dict(cut.base)
        fraction = lesion.draw(fractions)
        change = _crop(render(fractions, reference=cut.base), recon) * shading
        mask = lesion_mask(_crop(downsample(fraction, spec.preset.supersample), recon))
        area, effect, ring = measure(mask, without + change, without, sigma_mag)
        measures.append(
            LesionMeasure(
                index=lesion.index,
                label=lesion.label,
                area_px=area,
                effect_sd=effect,
                ring_contrast_sd=ring,
                visible=rule.visible(area, effect),
                mask=mask,
            )
        )
    visible = {m.index for m in measures if m.visible}
    final = cut.draw(visible).fractions
    magnitude = base + render(final, reference=cut.base) if visible else base
    return _Scene(
        fractions=final,
        image=vol.gain * magnitude * phase,
        profile=profile,
        noise_sigma=float(noise_sigma),
        lesions=measures,
    )


def _crop(image: np.ndarray, recon_size: tuple[int, int]) -> np.ndarray:
    """Centre crop of the last two axes (fastMRI's placement, as complex_center_crop)."""
    h, w = recon_size
    top, left = (image.shape[-2] - h) // 2, (image.shape[-1] - w) // 2
    return image[..., top : top + h, left : left + w]


def tissue_maps(spec: VolumeSpec, slice_index: int) -> dict[str, np.ndarray]:
    """Ground-truth tissue fractions ``[h, w]`` of one slice of ``spec``'s volume, cropped to
    the recon window: the same phantom :func:`simulate_volume` images, with the lesions drawn
    there (the visible ones)."""
    scene = _scene(_Volume.build(spec), slice_index)
    return {
        name: _crop(downsample(frac, spec.preset.supersample), spec.preset.recon_size)
        for name, frac in scene.fractions.items()
    }


def _streams(spec: VolumeSpec) -> list[np.random.Generator]:
    """Independent generators (anatomy, coils, noise, misc) from ``SeedSequence([seed, idx])``."""
    children = np.random.SeedSequence([spec.seed, spec.index]).spawn(4)
    return [np.random.default_rng(child) for child in children]


def _phantom(spec: VolumeSpec, rng: np.random.Generator) -> BrainPhantom | KneePhantom:
    phantom_cls = BrainPhantom if spec.dist.anatomy == "brain" else KneePhantom
    dist = spec.dist
    return phantom_cls.random(rng, spec.preset.slices, dist.acquisition, dist.finding_rate)


def reconstruction_rss(kspace: np.ndarray, recon_size: tuple[int, int]) -> np.ndarray:
    """fastMRI's target: ``crop(rss(ifft2c(kspace)))`` float32 ``[slices, h, w]`` for
    multi-coil k-space ``[slices, coils, H, W]``; ``crop(|ifft2c(kspace)|)`` (the RSS of one
    coil) for single-coil k-space ``[slices, H, W]``."""
    images = ifft2c(torch.from_numpy(kspace))
    combined = images.abs() if kspace.ndim == 3 else rss(images, dim=-3)
    return complex_center_crop(combined, recon_size).numpy().astype(np.float32)


def _padding(rng: np.random.Generator, width: int) -> tuple[int, int]:
    """Unacquired phase-encode columns ``(left, right)``, 0-5 % of the width each side."""
    most = max(1, int(round(0.05 * width)))
    return int(rng.integers(0, most + 1)), int(rng.integers(1, most + 1))


def _boxes(slice_index: int, masks: list[tuple[str, np.ndarray]]) -> list[Box]:
    """Bounding boxes (with a margin, clipped to the image) of each lesion mask."""
    boxes = []
    for label, mask in masks:
        rows = np.flatnonzero(mask.any(axis=1))
        cols = np.flatnonzero(mask.any(axis=0))
        h, w = mask.shape
        y0, y1 = max(rows[0] - BOX_MARGIN, 0), min(rows[-1] + BOX_MARGIN, h - 1)
        x0, x1 = max(cols[0] - BOX_MARGIN, 0), min(cols[-1] + BOX_MARGIN, w - 1)
        boxes.append(Box(slice_index, label, int(x0), int(y0), int(x1 - x0 + 1), int(y1 - y0 + 1)))
    return boxes
