"""Simulated scanners: field strength, receive arrays, gain and thermal noise.

Noise model: complex white Gaussian noise per receive channel with standard deviation
``sigma = gain * NOISE_AT_1T / B0 * (8 / coils) ** 0.25 * noise_factor`` (image-domain units,
equal to k-space units for the orthonormal FFT). Signal scales with ``gain`` and noise with
``1 / B0``, so image SNR grows about linearly with field strength, as magnetisation and
induced voltage do (about B0^2) against body noise (about B0). The ``(8 / coils) ** 0.25`` term
is the modest SNR gain of denser arrays. Neighbouring channels' noise is correlated
(``rho ** ring_distance``) as mutual inductance in real arrays makes it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Per-coil noise (relative to the gain) at 1 T. Gives a T2-weighted white-matter SNR of about
# 25 at 3 T and 13 at 1.5 T in the RSS image.
NOISE_AT_1T = 0.018
NOISE_CORRELATION = 0.25
GYROMAGNETIC_MHZ_PER_T = 42.577478


@dataclass(frozen=True)
class Scanner:
    """One scanner model. ``field_strength_t`` is what its headers report (fastMRI's Siemens
    headers give 2.89362 T for the nominal 3 T systems and 1.494 T for the 1.5 T ones)."""

    model: str
    field_strength_t: float
    coils: dict[str, int]  # anatomy -> receive channels
    gain: float  # receiver scaling of the image (arbitrary, fastMRI-like magnitudes)
    noise_factor: float = 1.0
    vendor: str = "SIEMENS"
    noise_bandwidth: float = 0.793

    @property
    def nominal_field(self) -> float:
        """1.5 or 3.0 (tesla)."""
        return 3.0 if self.field_strength_t > 2.2 else 1.5

    def noise_sigma(self, coils: int) -> float:
        """Complex noise standard deviation per channel (see module docstring)."""
        return (
            self.gain * NOISE_AT_1T / self.nominal_field * (8.0 / coils) ** 0.25 * self.noise_factor
        )


SCANNERS: dict[str, Scanner] = {
    "Skyra": Scanner("Skyra", 2.89362, {"brain": 16, "knee": 15}, gain=4.0e-4),
    "Prisma_fit": Scanner(
        "Prisma_fit", 2.89362, {"brain": 16, "knee": 15}, gain=6.0e-4, noise_factor=0.9
    ),
    "Aera": Scanner("Aera", 1.494, {"brain": 8, "knee": 8}, gain=2.5e-4),
    "Avanto": Scanner("Avanto", 1.494, {"brain": 4, "knee": 8}, gain=3.0e-4, noise_factor=1.1),
}


def noise_cholesky(num_coils: int, rng: np.random.Generator) -> np.ndarray:
    """Lower Cholesky factor ``L`` ``[C, C]`` of the channel noise covariance (unit mean
    variance): ``cov_ij = s_i s_j rho^d(i, j)``, ``d`` the distance around the array and
    ``s_i`` per-channel levels within +-10 %."""
    idx = np.arange(num_coils)
    dist = np.abs(idx[:, None] - idx[None, :])
    dist = np.minimum(dist, num_coils - dist)
    levels = rng.uniform(0.9, 1.1, num_coils)
    cov = (NOISE_CORRELATION**dist) * np.outer(levels, levels)
    return np.linalg.cholesky(cov)
