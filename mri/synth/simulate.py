"""From tissue maps to multi-coil k-space: contrast, phase, coils, FFT, noise, padding.

Per slice:

1. tissue fractions ``f_t`` (partial-volume, from the phantom) and the protocol's signal
   ``s_t`` (:func:`mri.synth.tissues.tissue_signal`) give the magnitude
   ``m = (1 + 0.03 n) * sum_t f_t s_t`` (``n`` a smooth field: receive/PD inhomogeneity);
   with fat suppression the fat residual varies smoothly in space (B0 inhomogeneity);
2. the complex image is ``x = gain * m * exp(i phi)`` with a smooth background phase ``phi``;
3. coil images ``x_c = S_c x`` with simulated sensitivities ``S_c`` (ring array for the head,
   arc for the knee), fixed per volume;
4. k-space ``k_c = fft2c(x_c) + n_c``, ``n_c`` complex Gaussian noise, correlated across
   channels (:mod:`mri.synth.scanners`);
5. optional unacquired phase-encode columns at both edges are set to zero.

The target is fastMRI's ``reconstruction_rss``: ``crop(rss(ifft2c(k)))`` to the recon matrix.
The readout is oversampled 2x (``H = 2 h``); the recon window is the middle of the FOV.

Single-coil volumes emulate fastMRI's singlecoil data (Tygert & Zbontar 2018, "Simulating
single-coil MRI from the responses of multiple coils"): one virtual receiver
``y = sum_c w_c x_c`` whose complex weights ``w`` (constant over the slice) are the least-squares
fit of the combination of the noisy coil images to the RSS image in the recon window, in
expectation over the noise (:func:`esc_weights`). Being linear
and constant, the combination is the same in k-space, so the single-coil k-space is
``fft2c(y) + n`` with white noise of variance ``sigma^2 ||L^T w||^2`` (the channel noise
``L z`` combined with ``w``): the shading of the array and its noise level carry over, with the
lower SNR and residual phase of one receiver. Only the combination is transformed, so a slice
costs one FFT instead of one per coil. The target is ``crop(|ifft2c(k)|)``. The weights are
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

from mri.coils import complex_center_crop, rss, sensitivity_maps
from mri.fft import fft2c, ifft2c
from mri.synth.brain import BrainPhantom
from mri.synth.fields import Grid, SmoothField, downsample
from mri.synth.knee import KneePhantom
from mri.synth.presets import DistributionSpec, Preset
from mri.synth.scanners import SCANNERS, Scanner, noise_cholesky
from mri.synth.tissues import PROTOCOLS, TISSUES, fat_residual, tissue_signal
from mri.synth.visibility import LESION_THRESHOLD as LESION_THRESHOLD
from mri.synth.visibility import (
    MIN_AREA_PX,
    MIN_EFFECT_SD,
    LesionMeasure,
    VisibilityRule,
    lesion_mask,
    magnitude_sigma,
    measure,
)

COIL_GEOMETRY = {"brain": "ring", "knee": "arc"}
BOX_MARGIN = 1  # pixels around the lesion, as annotators draw boxes


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


def simulate_volume(spec: VolumeSpec) -> SimulatedVolume:
    """Simulate one volume. Deterministic in ``(spec.seed, spec.index)``: the anatomy, the
    coils, the noise and the rest draw from independent child streams of
    ``SeedSequence([seed, index])``, so e.g. the same subject can be "scanned" on another
    scanner by changing only ``spec.scanner``.

    Each lesion a slice cuts is measured on the slice's clean image
    (:mod:`mri.synth.visibility`); only the visible ones are drawn and annotated there.
    """
    vol = _Volume.build(spec)
    H, W = spec.kspace_size
    h, w = spec.recon_size
    shape = (spec.slices, H, W) if spec.single_coil else (spec.slices, spec.coils, H, W)
    kspace = np.empty(shape, dtype=np.complex64)
    clean = np.empty((spec.slices, h, w), dtype=np.float32)
    slice_sigma = np.full(spec.slices, vol.sigma)
    boxes: list[Box] = []
    lesion_masks: list[list[tuple[str, np.ndarray]]] = []
    lesions: list[list[LesionMeasure]] = []
    for s in range(spec.slices):
        scene = _scene(vol, s)
        if spec.single_coil:
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
            k = k + _noise(vol.rng_noise, vol.chol, vol.sigma, k.shape)
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
        noise_sigma=float(np.sqrt(np.mean(slice_sigma**2))) if spec.single_coil else vol.sigma,
        patient_id=vol.patient_id,
        slice_z=np.asarray(vol.phantom.slice_z, dtype=np.float64),
        extras={"gain": vol.gain},
        slice_noise_sigma=slice_sigma if spec.single_coil else None,
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
    appearance: _Appearance
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
        scanner = SCANNERS[spec.scanner]
        phantom = _phantom(spec, rng_anat)
        H, W = spec.kspace_size
        w = spec.recon_size[1]
        maps = coil_maps(spec.coils, (H, W), w, COIL_GEOMETRY[spec.anatomy], rng_coil)
        chol = noise_cholesky(spec.coils, rng_coil)
        gain = scanner.gain * float(rng_misc.uniform(0.8, 1.25))
        appearance = _Appearance.random(rng_misc)
        padding = _padding(rng_misc, W) if spec.padding else (0, 0)
        return cls(
            spec=spec,
            scanner=scanner,
            phantom=phantom,
            grid=Grid.for_matrix((H, W), w, spec.supersample),
            low_grid=Grid.for_matrix((H, W), w, 1),
            maps=maps,
            chol=chol,
            sigma=scanner.noise_sigma(spec.coils) * spec.noise_scale,
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
    recon = spec.recon_size
    z = float(vol.phantom.slice_z[s])
    cut = vol.phantom.cut(vol.grid, s)
    render = _Renderer(spec, vol.scanner, vol.appearance, vol.low_grid, z)
    base = render(cut.base)
    phase = np.exp(1j * vol.appearance.phase(vol.low_grid, z))
    if spec.single_coil:
        profile, noise_sigma = _esc_profile(
            vol.gain * base * phase, vol.maps, vol.chol, vol.sigma, recon
        )
        shading = _crop(vol.gain * np.abs(profile), recon)
    else:
        profile, noise_sigma = None, vol.sigma
        shading = _crop(vol.gain * vol.rss_maps, recon)
    sigma_mag = magnitude_sigma(noise_sigma)
    rule = VisibilityRule(spec.min_lesion_area_px, spec.min_lesion_effect_sd)
    without = _crop(base, recon) * shading
    measures = []
    for lesion in cut.lesions:
        fractions = dict(cut.base)
        fraction = lesion.draw(fractions)
        change = _crop(render(fractions, reference=cut.base), recon) * shading
        mask = lesion_mask(_crop(downsample(fraction, spec.supersample), recon))
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


def _esc_profile(
    image: np.ndarray,
    maps: np.ndarray,
    chol: np.ndarray,
    sigma: float,
    recon_size: tuple[int, int],
) -> tuple[np.ndarray, float]:
    """The emulated single coil's receive profile ``sum_c w_c S_c`` ``[H, W]`` and its white
    noise std (see the module docstring).

    ``image`` complex ``[H, W]`` (the noise-free object the weights are fitted to), ``maps``
    ``[C, H, W]``, ``chol`` the channel-noise factor ``L`` ``[C, C]``, ``sigma`` the
    per-channel noise std. The combination of the coil images ``S_c x`` is ``profile * x``.
    """
    covariance = sigma**2 * (chol @ chol.T)
    weights = esc_weights(maps * image, recon_size, covariance)
    # Channel noise L z combined with w: w^T L z, white with variance sigma^2 ||L^T w||^2.
    noise_sigma = float(sigma * np.linalg.norm(chol.T @ weights))
    return np.tensordot(weights, maps, axes=1), noise_sigma


def esc_weights(
    coil_images: np.ndarray, recon_size: tuple[int, int], noise_covariance: np.ndarray
) -> np.ndarray:
    """Complex weights ``w`` ``[C]`` of the emulated single coil for noise-free coil images
    ``[C, H, W]`` with channel noise covariance ``[C, C]`` (real, per sample).

    Tygert & Zbontar fit the combination of the *measured* (noisy) coil images to their RSS
    image by least squares over the recon window. The expected value of that objective over
    the noise is ``||A w - b||^2 + N w^H Sigma w`` (``A`` ``[N, C]`` the window's coil images,
    ``b`` their RSS, ``N`` pixels), minimised by ``(A^H A + N Sigma) w = A^H b``. The noise term
    keeps the fit from buying a closer match with large, noise-amplifying weights; the fit
    weights pixels by brightness, so the combination follows the RSS image where there is
    signal and keeps one receiver's residual phase and shading elsewhere.
    """
    num_coils = coil_images.shape[0]
    h, w = recon_size
    top, left = (coil_images.shape[-2] - h) // 2, (coil_images.shape[-1] - w) // 2
    window = coil_images[:, top : top + h, left : left + w].reshape(num_coils, -1)  # [C, N]
    target = np.sqrt((np.abs(window) ** 2).sum(axis=0))  # [N]
    gram = window.conj() @ window.T + window.shape[1] * noise_covariance
    return np.linalg.solve(gram, window.conj() @ target)


def tissue_maps(spec: VolumeSpec, slice_index: int) -> dict[str, np.ndarray]:
    """Ground-truth tissue fractions ``[h, w]`` of one slice of ``spec``'s volume, cropped to
    the recon window: the same phantom :func:`simulate_volume` images, with the lesions drawn
    there (the visible ones)."""
    scene = _scene(_Volume.build(spec), slice_index)
    return {
        name: _crop(downsample(frac, spec.supersample), spec.recon_size)
        for name, frac in scene.fractions.items()
    }


def _streams(spec: VolumeSpec) -> list[np.random.Generator]:
    """Independent generators (anatomy, coils, noise, misc) from ``SeedSequence([seed, idx])``."""
    children = np.random.SeedSequence([spec.seed, spec.index]).spawn(4)
    return [np.random.default_rng(child) for child in children]


def _phantom(spec: VolumeSpec, rng: np.random.Generator) -> BrainPhantom | KneePhantom:
    phantom_cls = BrainPhantom if spec.anatomy == "brain" else KneePhantom
    return phantom_cls.random(rng, spec.slices, spec.acquisition, spec.finding_rate)


def reconstruction_rss(kspace: np.ndarray, recon_size: tuple[int, int]) -> np.ndarray:
    """fastMRI's target: ``crop(rss(ifft2c(kspace)))`` float32 ``[slices, h, w]`` for
    multi-coil k-space ``[slices, coils, H, W]``; ``crop(|ifft2c(kspace)|)`` (the RSS of one
    coil) for single-coil k-space ``[slices, H, W]``."""
    images = ifft2c(torch.from_numpy(kspace))
    combined = images.abs() if kspace.ndim == 3 else rss(images, dim=-3)
    return complex_center_crop(combined, recon_size).numpy().astype(np.float32)


def coil_maps(
    num_coils: int, shape: tuple[int, int], recon_w: int, geometry: str, rng: np.random.Generator
) -> np.ndarray:
    """Sensitivities ``[C, H, W]`` on the (non-square) acquisition FOV.

    :func:`mri.coils.sensitivity_maps` spans ``[-1, 1]`` on both axes, so the maps are made on
    a square grid as wide as the long (readout) FOV and the phase-encode columns cut out of
    it; coil distance and size are scaled to the object (elements 1.6 recon half-widths from
    the centre, larger for smaller arrays: width ``sqrt(8 / C)`` half-widths). The RSS of the
    maps is scaled to mean 1 inside the recon window, so signal levels do not depend on the
    array.
    """
    H, W = shape
    side = max(H, W)
    half_fov = side / recon_w  # the square grid spans +-half_fov normalised units
    width = float(np.clip(np.sqrt(8.0 / num_coils), 0.45, 1.6))
    maps = sensitivity_maps(
        num_coils,
        (side, side),
        geometry=geometry,
        coil_radius=1.6 / half_fov,
        coil_width=width / half_fov,
        seed=int(rng.integers(2**31)),
    ).numpy()
    maps = maps[:, (side - H) // 2 : (side - H) // 2 + H, (side - W) // 2 : (side - W) // 2 + W]
    h = recon_w  # recon window is square in the default presets; use its rows of the FOV
    top = (H - h) // 2
    window = np.sqrt((np.abs(maps[:, top : top + h]) ** 2).sum(axis=0))
    return (maps / window.mean()).astype(np.complex64)


@dataclass(frozen=True)
class _Appearance:
    """Per-volume smooth fields: PD/receive texture, background phase, fat-sat residual."""

    texture: SmoothField
    phase_field: SmoothField
    ramp: tuple[float, float, float]
    fat_field: SmoothField

    @classmethod
    def random(cls, rng: np.random.Generator) -> _Appearance:
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


class _Renderer:
    """Noise-free magnitude ``[H, W]`` of a slice's fractions (relative units, before the
    gain): ``(1 + 0.03 n) * downsample(sum_t f_t s_t)``, with the fat of fat-suppressed
    protocols scaled by a spatially varying residual (incomplete suppression where B0 is
    off-resonance).

    Linear in the fractions, so ``render(f, reference=f0)`` renders only the tissues whose
    arrays differ from ``f0``'s, as ``f - f0``: the change a lesion makes.
    """

    def __init__(
        self, spec: VolumeSpec, scanner: Scanner, appearance: _Appearance, grid: Grid, z: float
    ) -> None:
        self.acquisition = spec.acquisition
        self.field = scanner.nominal_field
        self.supersample = spec.supersample
        self.fat_scale = None
        if PROTOCOLS[spec.acquisition].fat_suppressed:
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


def _noise(
    rng: np.random.Generator, chol: np.ndarray, sigma: float, shape: tuple[int, ...]
) -> np.ndarray:
    """Complex Gaussian noise ``[C, H, W]`` with channel covariance ``sigma^2 L L^H``."""
    coils = shape[0]
    white = rng.standard_normal((2, coils, int(np.prod(shape[1:]))), dtype=np.float32)
    white = (white[0] + 1j * white[1]) * (sigma / np.sqrt(2.0))
    return (chol @ white).reshape(shape).astype(np.complex64)


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
