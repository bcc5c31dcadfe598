"""The simulated receive array: coil sensitivities (:func:`coil_maps`, a ring array for the
head, an arc for the knee: :data:`COIL_GEOMETRY`), thermal noise correlated across channels
(:func:`channel_noise`, with the factor :func:`mri.synth.scanners.noise_cholesky`), and the
emulated single coil of single-coil files (:func:`esc_weights`, :func:`esc_profile`).

Single-coil volumes emulate fastMRI's singlecoil data (Tygert & Zbontar 2018, "Simulating
single-coil MRI from the responses of multiple coils"): one virtual receiver
``y = sum_c w_c x_c`` whose complex weights ``w`` (constant over the slice) are the least-squares
fit of the combination of the noisy coil images to the RSS image in the recon window, in
expectation over the noise (:func:`esc_weights`). Being linear
and constant, the combination is the same in k-space, so the single-coil k-space is
``fft2c(y) + n`` with white noise of variance ``sigma^2 ||L^T w||^2`` (the channel noise
``L z`` combined with ``w``): the shading of the array and its noise level carry over, with the
lower SNR and residual phase of one receiver. Only the combination is transformed, so a slice
costs one FFT instead of one per coil.
"""

from __future__ import annotations

import numpy as np

from mri.coils import sensitivity_maps

COIL_GEOMETRY = {"brain": "ring", "knee": "arc"}


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


def esc_profile(
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


def channel_noise(
    rng: np.random.Generator, chol: np.ndarray, sigma: float, shape: tuple[int, ...]
) -> np.ndarray:
    """Complex Gaussian noise ``[C, H, W]`` with channel covariance ``sigma^2 L L^H``."""
    coils = shape[0]
    white = rng.standard_normal((2, coils, int(np.prod(shape[1:]))), dtype=np.float32)
    white = (white[0] + 1j * white[1]) * (sigma / np.sqrt(2.0))
    return (chol @ white).reshape(shape).astype(np.complex64)
