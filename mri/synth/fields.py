"""Sampling grids, smooth random fields and soft shapes for the procedural phantoms.

Coordinates are normalised so that the reconstruction field of view spans ``[-1, 1]`` along the
phase-encode axis ``x`` (columns); pixels are square, so the 2x oversampled readout axis ``y``
(rows, increasing downwards) spans ``[-H / recon_w, H / recon_w]``. The phantom is drawn on a
grid ``supersample`` times finer than the acquisition matrix and block-averaged, which gives
partial-volume edges instead of staircase ones.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Grid:
    """Pixel-centre coordinates of a supersampled ``[H * ss, W * ss]`` grid (1-D axes)."""

    y: np.ndarray  # rows, shape [H * ss]
    x: np.ndarray  # columns, shape [W * ss]
    supersample: int

    @classmethod
    def for_matrix(cls, shape: tuple[int, int], recon_w: int, supersample: int) -> Grid:
        """Grid for the acquisition matrix ``shape = (H, W)``; one unit = ``recon_w / 2`` px."""
        h, w = shape
        unit = recon_w / 2.0

        def axis(n: int) -> np.ndarray:
            centres = (np.arange(n * supersample) + 0.5) / supersample
            return (centres - n / 2.0) / unit

        return cls(y=axis(h), x=axis(w), supersample=supersample)

    def mesh(self) -> tuple[np.ndarray, np.ndarray]:
        """``(Y, X)`` 2-D coordinate arrays ``[H * ss, W * ss]``."""
        return np.meshgrid(self.y, self.x, indexing="ij")

    @property
    def pixel(self) -> float:
        """Size of one supersampled pixel in normalised units."""
        return float(self.x[1] - self.x[0])


def downsample(image: np.ndarray, factor: int) -> np.ndarray:
    """Block mean ``[..., H * f, W * f] -> [..., H, W]`` (area-weighted partial volume)."""
    if factor == 1:
        return image
    *lead, hh, ww = image.shape
    blocks = image.reshape(*lead, hh // factor, factor, ww // factor, factor)
    return blocks.mean(axis=(-3, -1))


@dataclass(frozen=True)
class SmoothField:
    """Sum of random plane waves ``f(x, y, z) = sum_k a_k cos(k . r + phi_k)``.

    A band-limited random field (standard deviation ``std``) that is continuous in ``z``, so a
    volume's slices change smoothly. On a regular grid it is evaluated as two matrix products
    (``cos(a + b) = cos a cos b - sin a sin b``), which keeps it cheap.
    """

    k: np.ndarray  # [n, 3] angular wave vectors (rad per unit)
    phase: np.ndarray  # [n]
    amp: np.ndarray  # [n]

    @classmethod
    def random(
        cls,
        rng: np.random.Generator,
        cycles: float,
        std: float = 1.0,
        n_modes: int = 12,
        z_cycles: float | None = None,
    ) -> SmoothField:
        """Field with spatial frequency about ``cycles`` per unit (+-30 %) in the slice plane
        and ``z_cycles`` (default ``cycles / 2``) across slices."""
        angles = rng.uniform(0, 2 * np.pi, n_modes)
        radius = 2 * np.pi * cycles * rng.uniform(0.7, 1.3, n_modes)
        zc = cycles / 2 if z_cycles is None else z_cycles
        kz = 2 * np.pi * zc * rng.uniform(-1.0, 1.0, n_modes)
        k = np.stack([radius * np.cos(angles), radius * np.sin(angles), kz], axis=1)
        phase = rng.uniform(0, 2 * np.pi, n_modes)
        amp = np.full(n_modes, std * np.sqrt(2.0 / n_modes))
        return cls(k=k, phase=phase, amp=amp)

    def on_grid(self, grid: Grid, z: float) -> np.ndarray:
        """Values on the regular grid ``[len(grid.y), len(grid.x)]`` at slice position ``z``."""
        off = self.phase + self.k[:, 2] * z
        ay = np.outer(grid.y, self.k[:, 1]) + off  # [H, n]
        ax = np.outer(grid.x, self.k[:, 0])  # [W, n]
        return (np.cos(ay) * self.amp) @ np.cos(ax).T - (np.sin(ay) * self.amp) @ np.sin(ax).T

    def at(self, y: np.ndarray, x: np.ndarray, z: float) -> np.ndarray:
        """Values at arbitrary points (same-shaped ``y``, ``x``); use for few points only."""
        arg = x[..., None] * self.k[:, 0] + y[..., None] * self.k[:, 1] + self.k[:, 2] * z
        return (np.cos(arg + self.phase) * self.amp).sum(axis=-1)


def soft_inside(signed_distance: np.ndarray, width: float) -> np.ndarray:
    """Membership in [0, 1] of a region given a signed distance (negative inside).

    A logistic ramp ``1 / (1 + exp(d / width))``; ``width`` about a supersampled pixel keeps
    edges sharp but free of aliasing.
    """
    return 0.5 - 0.5 * np.tanh(signed_distance / (2.0 * width))


def ellipse_distance(
    y: np.ndarray,
    x: np.ndarray,
    centre: tuple[float, float],
    axes: tuple[float, float],
    angle: float = 0.0,
    power: float = 2.0,
) -> np.ndarray:
    """Approximate signed distance (normalised units) to a (super)ellipse, negative inside.

    ``centre = (cy, cx)``, ``axes = (ay, ax)`` semi-axes, rotated by ``angle`` radians;
    ``power > 2`` gives squarer ends. With ``rho`` the normalised radius
    ``(|dy/ay|^p + |dx/ax|^p)^(1/p)`` the distance is the first-order estimate
    ``(rho - 1) / |grad rho|``: exact on the boundary and close to it nearby, which is where
    layers (cortex, cartilage, skull) are measured.
    """
    cy, cx = centre
    dy, dx = y - cy, x - cx
    if angle:
        c, s = np.cos(angle), np.sin(angle)
        dy, dx = c * dy - s * dx, s * dy + c * dx
    ay, ax = max(axes[0], 1e-6), max(axes[1], 1e-6)
    py, px = np.abs(dy / ay), np.abs(dx / ax)
    if power == 2.0:  # the common case, without the slow general powers
        rho = np.sqrt(py * py + px * px)
        rho_safe = np.maximum(rho, 1e-6)
        gy, gx = py / (rho_safe * ay), px / (rho_safe * ax)
    else:
        rho = (py**power + px**power) ** (1.0 / power)
        rho_safe = np.maximum(rho, 1e-6)
        gy = (py / rho_safe) ** (power - 1) / ay
        gx = (px / rho_safe) ** (power - 1) / ax
    grad = np.maximum(np.sqrt(gy * gy + gx * gx), 1.0 / max(ay, ax))
    return (rho - 1.0) / grad


def ellipsoid_section(radius: float, z: float, zc: float, z_radius: float) -> float:
    """In-plane radius factor of an ellipsoid cut at ``z``: ``sqrt(1 - ((z - zc)/rz)^2)``."""
    t = (z - zc) / z_radius
    return float(np.sqrt(max(1.0 - t * t, 0.0))) * radius
