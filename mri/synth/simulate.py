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
costs one FFT instead of one per coil. The target is ``crop(|ifft2c(k)|)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from mri.coils import complex_center_crop, rss, sensitivity_maps
from mri.fft import fft2c, ifft2c
from mri.synth.anatomy import SliceAnatomy
from mri.synth.brain import BrainPhantom
from mri.synth.fields import Grid, SmoothField, downsample
from mri.synth.knee import KneePhantom
from mri.synth.presets import DistributionSpec, Preset
from mri.synth.scanners import SCANNERS, Scanner, noise_cholesky
from mri.synth.tissues import PROTOCOLS, TISSUES, fat_residual, tissue_signal

COIL_GEOMETRY = {"brain": "ring", "knee": "arc"}
# Lesion pixels: fraction above this at the recon resolution; a finding is annotated on a
# slice when its lesion covers at least MIN_LESION_AREA pixels there.
LESION_THRESHOLD = 0.2
MIN_LESION_AREA = 2.0
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
    lists ``(label, bool mask [h, w])`` per drawn finding; ``padding = (left, right)`` zero
    columns; ``noise_sigma`` is the complex noise standard deviation per k-space sample of the
    file (per channel for multi-coil, of the combination for single-coil).
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
        )
        for i in range(dist.volumes)
    ]


def simulate_volume(spec: VolumeSpec) -> SimulatedVolume:
    """Simulate one volume. Deterministic in ``(spec.seed, spec.index)``: the anatomy, the
    coils, the noise and the rest draw from independent child streams of
    ``SeedSequence([seed, index])``, so e.g. the same subject can be "scanned" on another
    scanner by changing only ``spec.scanner``."""
    rng_anat, rng_coil, rng_noise, rng_misc = _streams(spec)
    scanner = SCANNERS[spec.scanner]
    phantom = _phantom(spec, rng_anat)
    H, W = spec.kspace_size
    h, w = spec.recon_size
    grid = Grid.for_matrix((H, W), w, spec.supersample)
    low_grid = Grid.for_matrix((H, W), w, 1)
    maps = coil_maps(spec.coils, (H, W), w, COIL_GEOMETRY[spec.anatomy], rng_coil)
    chol = noise_cholesky(spec.coils, rng_coil)
    sigma = scanner.noise_sigma(spec.coils)
    gain = scanner.gain * float(rng_misc.uniform(0.8, 1.25))
    appearance = _Appearance.random(rng_misc)
    padding = _padding(rng_misc, W) if spec.padding else (0, 0)
    patient_id = rng_misc.bytes(32).hex()

    shape = (spec.slices, H, W) if spec.single_coil else (spec.slices, spec.coils, H, W)
    kspace = np.empty(shape, dtype=np.complex64)
    clean = np.empty((spec.slices, h, w), dtype=np.float32)
    slice_sigma = np.full(spec.slices, sigma)
    boxes: list[Box] = []
    lesion_masks: list[list[tuple[str, np.ndarray]]] = []
    for s in range(spec.slices):
        anatomy = phantom.slice(grid, s)
        z = float(phantom.slice_z[s])
        magnitude = render_magnitude(
            anatomy, spec.acquisition, scanner, spec.supersample, appearance, low_grid, z
        )
        image = gain * magnitude * np.exp(1j * appearance.phase(low_grid, z))
        if spec.single_coil:
            k, combined, slice_sigma[s] = _single_coil_slice(
                image, maps, chol, sigma, (h, w), rng_noise
            )
        else:
            coil_images = torch.from_numpy((maps * image).astype(np.complex64))
            k = fft2c(coil_images).numpy()
            k = k + _noise(rng_noise, chol, sigma, k.shape)
            combined = rss(coil_images)
        if padding != (0, 0):
            k[..., : padding[0]] = 0
            k[..., W - padding[1] :] = 0
        kspace[s] = k
        clean[s] = complex_center_crop(combined, (h, w)).numpy()
        masks = _lesion_masks(anatomy, spec.supersample, (h, w))
        lesion_masks.append(masks)
        boxes.extend(_boxes(s, masks))
    target = reconstruction_rss(kspace, (h, w))
    return SimulatedVolume(
        spec=spec,
        kspace=kspace,
        target=target,
        clean=clean,
        boxes=boxes,
        lesion_masks=lesion_masks,
        padding=padding,
        noise_sigma=float(np.sqrt(np.mean(slice_sigma**2))) if spec.single_coil else sigma,
        patient_id=patient_id,
        slice_z=np.asarray(phantom.slice_z, dtype=np.float64),
        extras={"gain": gain},
        slice_noise_sigma=slice_sigma if spec.single_coil else None,
    )


def _single_coil_slice(
    image: np.ndarray,
    maps: np.ndarray,
    chol: np.ndarray,
    sigma: float,
    recon_size: tuple[int, int],
    rng: np.random.Generator,
) -> tuple[np.ndarray, torch.Tensor, float]:
    """Emulated single-coil k-space of one slice (see the module docstring).

    ``image`` complex ``[H, W]`` (noise-free object), ``maps`` ``[C, H, W]``, ``chol`` the
    channel-noise factor ``L`` ``[C, C]``, ``sigma`` the per-channel noise std. Returns
    ``(k complex64 [H, W], |y| float32 tensor [H, W] noise-free, noise std of k)``.
    """
    coil_images = maps * image
    covariance = sigma**2 * (chol @ chol.T)
    weights = esc_weights(coil_images, recon_size, covariance)
    combined = np.tensordot(weights, coil_images, axes=1).astype(np.complex64)
    # Channel noise L z combined with w: w^T L z, white with variance sigma^2 ||L^T w||^2.
    noise_sigma = float(sigma * np.linalg.norm(chol.T @ weights))
    k = fft2c(torch.from_numpy(combined)).numpy()
    white = rng.standard_normal((2, *k.shape), dtype=np.float32)
    k = k + ((white[0] + 1j * white[1]) * (noise_sigma / np.sqrt(2.0))).astype(np.complex64)
    return k, torch.from_numpy(np.abs(combined)), noise_sigma


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
    the recon window (the same phantom :func:`simulate_volume` images, lesions included)."""
    phantom = _phantom(spec, _streams(spec)[0])
    H, W = spec.kspace_size
    h, w = spec.recon_size
    grid = Grid.for_matrix((H, W), w, spec.supersample)
    anatomy = phantom.slice(grid, slice_index)
    top, left = (H - h) // 2, (W - w) // 2
    return {
        name: downsample(frac, spec.supersample)[top : top + h, left : left + w]
        for name, frac in anatomy.fractions.items()
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


def render_magnitude(
    anatomy: SliceAnatomy,
    acquisition: str,
    scanner: Scanner,
    supersample: int,
    appearance: _Appearance,
    grid: Grid,
    z: float,
) -> np.ndarray:
    """Noise-free magnitude ``[H, W]`` of one slice (relative units, before the gain)."""
    field = scanner.nominal_field
    protocol = PROTOCOLS[acquisition]
    magnitude = np.zeros((len(grid.y), len(grid.x)))
    fat_scale = None
    if protocol.fat_suppressed:
        # Incomplete, spatially varying suppression where B0 is off-resonance.
        fat_scale = np.clip(
            fat_residual(field) * (1.0 + 0.8 * np.abs(appearance.fat_field.on_grid(grid, z))),
            0.0,
            0.3,
        )
    for tissue, fraction in anatomy.fractions.items():
        low = downsample(fraction, supersample)
        signal = tissue_signal(tissue, acquisition, field, fat_suppression=False)
        if fat_scale is not None and TISSUES[tissue].is_fat:
            magnitude += low * signal * fat_scale
        else:
            magnitude += low * signal
    return magnitude * (1.0 + 0.03 * appearance.texture.on_grid(grid, z))


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


def _lesion_masks(
    anatomy: SliceAnatomy, supersample: int, recon_size: tuple[int, int]
) -> list[tuple[str, np.ndarray]]:
    """Each drawn lesion's pixels in the recon window (fraction above LESION_THRESHOLD)."""
    out = []
    h, w = recon_size
    for label, fraction in anatomy.lesions:
        low = downsample(fraction, supersample)
        top, left = (low.shape[0] - h) // 2, (low.shape[1] - w) // 2
        crop = low[top : top + h, left : left + w]
        mask = crop > LESION_THRESHOLD
        if crop[mask].sum() >= MIN_LESION_AREA * 0.5 and mask.sum() >= MIN_LESION_AREA:
            out.append((label, mask))
    return out


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
