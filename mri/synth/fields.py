"""Sampling grids, smooth random fields and soft shapes for the procedural phantoms.

Coordinates are normalised so that the reconstruction field of view spans ``[-1, 1]`` along the
phase-encode axis ``x`` (columns); pixels are square, so the 2x oversampled readout axis ``y``
(rows, increasing downwards) spans ``[-H / recon_w, H / recon_w]``. The phantom is drawn on a
grid ``supersample`` times finer than the acquisition matrix and block-averaged, which gives
partial-volume edges instead of staircase ones.

The supersampled arrays are float32 (coordinates of order 1, memberships in [0, 1]: single
precision is ample) and the per-pixel work is kept to few array passes, because drawing the
phantoms is most of the cost of generating a dataset.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import torch


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
        """``(Y, X)`` 2-D float32 coordinate arrays ``[H * ss, W * ss]`` (shared: read-only)."""
        return self._mesh

    def plane_wave_basis(self, field: SmoothField) -> tuple[np.ndarray, np.ndarray]:
        """``field``'s z-independent factors on this grid (cached per field): row phases
        ``y k_y`` ``[H, n]`` and the column basis ``[cos(x k_x), sin(x k_x)]`` ``[W, 2n]``."""
        hit = self._bases.get(id(field))
        if hit is None or hit[0] is not field:  # the cache holds the field: ids stay unique
            rows = np.outer(self.y, field.k[:, 1])
            ax = np.outer(self.x, field.k[:, 0])
            cols = np.concatenate([np.cos(ax), np.sin(ax)], axis=1).astype(np.float32)
            hit = self._bases[id(field)] = (field, rows, np.ascontiguousarray(cols.T))
        return hit[1], hit[2]

    @cached_property
    def _bases(self) -> dict[int, tuple[SmoothField, np.ndarray, np.ndarray]]:
        return {}

    @cached_property
    def _mesh(self) -> tuple[np.ndarray, np.ndarray]:
        y, x = np.meshgrid(self.y, self.x, indexing="ij")
        y, x = y.astype(np.float32), x.astype(np.float32)
        y.flags.writeable = False
        x.flags.writeable = False
        return y, x

    @property
    def pixel(self) -> float:
        """Size of one supersampled pixel in normalised units."""
        return float(self.x[1] - self.x[0])


def downsample(image: np.ndarray, factor: int) -> np.ndarray:
    """Block mean ``[..., H * f, W * f] -> [..., H, W]`` (area-weighted partial volume).

    Summed as ``f`` strided column views, then ``f`` row views: an order of magnitude faster
    than a reduction over a reshaped array for the small factors used here.
    """
    if factor == 1:
        return image
    cols = image[..., 0::factor]
    for j in range(1, factor):
        cols = cols + image[..., j::factor]
    out = cols[..., 0::factor, :]
    for i in range(1, factor):
        out = out + cols[..., i::factor, :]
    return out * (1.0 / (factor * factor))


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
        """Values (float32) on the regular grid ``[len(grid.y), len(grid.x)]`` at slice ``z``."""
        rows, cols = grid.plane_wave_basis(self)
        # row phases reduced mod 2 pi in double precision, then cos/sin in single precision
        ay = np.remainder(rows + (self.phase + self.k[:, 2] * z), 2 * np.pi).astype(np.float32)
        amp = self.amp.astype(np.float32)
        # Both products as one: [cos ay, -sin ay] @ [cos ax, sin ax]^T.
        left = np.concatenate([np.cos(ay) * amp, np.sin(ay) * -amp], axis=1)
        return left @ cols

    def at(self, y: np.ndarray, x: np.ndarray, z: float) -> np.ndarray:
        """Values at arbitrary points (same-shaped ``y``, ``x``); use for few points only."""
        arg = x[..., None] * self.k[:, 0] + y[..., None] * self.k[:, 1] + self.k[:, 2] * z
        return (np.cos(arg + self.phase) * self.amp).sum(axis=-1)


def soft_inside(signed_distance: np.ndarray, width: float) -> np.ndarray:
    """Membership in [0, 1] of a region given a signed distance (negative inside).

    A logistic ramp ``1 / (1 + exp(d / width)) = sigmoid(-d / width)`` (equal to
    ``0.5 - 0.5 tanh(d / (2 width))``); ``width`` about a supersampled pixel keeps edges sharp
    but free of aliasing. Evaluated with torch's sigmoid, several times faster than numpy's
    ``tanh``; the result has the input's dtype.
    """
    scaled = torch.from_numpy(np.ascontiguousarray(signed_distance)) * (-1.0 / width)
    return torch.sigmoid_(scaled).numpy()


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
    cy, cx = float(centre[0]), float(centre[1])
    dy, dx = y - cy, x - cx
    if angle:
        c, s = float(np.cos(angle)), float(np.sin(angle))
        dy, dx = c * dy - s * dx, s * dy + c * dx
    ay, ax = max(float(axes[0]), 1e-6), max(float(axes[1]), 1e-6)
    ty, tx = dy * (1.0 / ay), dx * (1.0 / ax)
    ty2, tx2 = ty * ty, tx * tx
    if power == 2.0:  # the common case, in few array passes
        rho = np.sqrt(ty2 + tx2)
        # |grad rho| = |(ty / ay, tx / ax)| / rho
        grad = np.sqrt(ty2 * (1.0 / (ay * ay)) + tx2 * (1.0 / (ax * ax))) / np.maximum(rho, 1e-6)
    else:
        py, px = np.abs(ty), np.abs(tx)
        rho = _root(_even_power(ty2, power) + _even_power(tx2, power), power)
        rho_safe = np.maximum(rho, 1e-6)
        gy = _odd_power(py / rho_safe, power - 1) * (1.0 / ay)
        gx = _odd_power(px / rho_safe, power - 1) * (1.0 / ax)
        grad = np.sqrt(gy * gy + gx * gx)
    grad = np.maximum(grad, 1.0 / max(ay, ax))
    return (rho - 1.0) / grad


def _even_power(square: np.ndarray, power: float) -> np.ndarray:
    """``|t|^power`` from ``t^2`` (integer even powers by multiplication, else ``**``)."""
    if power == 4.0:
        return square * square
    if power == 6.0:
        return square * square * square
    return square ** (power / 2.0)


def _root(value: np.ndarray, power: float) -> np.ndarray:
    """``value^(1 / power)`` (square and cube roots for powers 4 and 6)."""
    if power == 4.0:
        return np.sqrt(np.sqrt(value))
    if power == 6.0:
        return np.cbrt(np.sqrt(value))
    return value ** (1.0 / power)


def _odd_power(t: np.ndarray, exponent: float) -> np.ndarray:
    """``t^exponent`` for ``t >= 0`` (3 and 5 by multiplication, else ``**``)."""
    if exponent == 3.0:
        return t * t * t
    if exponent == 5.0:
        t2 = t * t
        return t2 * t2 * t
    return t**exponent


def ellipsoid_section(radius: float, z: float, zc: float, z_radius: float) -> float:
    """In-plane radius factor of an ellipsoid cut at ``z``: ``sqrt(1 - ((z - zc)/rz)^2)``."""
    t = (z - zc) / z_radius
    return float(np.sqrt(max(1.0 - t * t, 0.0))) * radius
