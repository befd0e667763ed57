"""Geometry of the top-down map, without pygame: its zoom, its world-to-screen transform, the
1-2-5 steps of its grid and scale bars, arrow heads, and the clipping of long polylines.

The map is north-up and centred on the lander; its half-width is ``VIEW_ALTITUDE_FACTOR`` times
the altitude, clamped to [``MIN_VIEW_HALF_WIDTH_M``, ``MAX_VIEW_HALF_WIDTH_M``], so the last
metres fill the screen.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

VIEW_ALTITUDE_FACTOR = 1.2  # map half-width (m) per metre of altitude above the terrain
MIN_VIEW_HALF_WIDTH_M = 30.0  # closest zoom: the legs and last metres stay readable
MAX_VIEW_HALF_WIDTH_M = 4000.0  # widest zoom
GRID_STEPS_PER_WIDTH = 3.0  # about this many grid steps (scale-bar lengths) across the map's width
NICE_MANTISSAS = (5.0, 2.0, 1.0)  # a "nice" length is one of these times a power of ten


def view_half_width(altitude_m: float) -> float:
    """Half-width (m) of the map's shorter side at an altitude."""
    return min(MAX_VIEW_HALF_WIDTH_M, max(MIN_VIEW_HALF_WIDTH_M, VIEW_ALTITUDE_FACTOR * max(0.0, altitude_m)))


def arrow_head(tip, direction, length: float, half_width: float) -> list[tuple[float, float]]:
    """Triangle (screen points) of an arrow head at ``tip`` pointing along the unit ``direction``."""
    (tx, ty), (ux, uy) = tip, direction
    bx, by = tx - length * ux, ty - length * uy
    return [(tx, ty), (bx - half_width * uy, by + half_width * ux), (bx + half_width * uy, by - half_width * ux)]


def nice_length(limit: float) -> float:
    """The largest 1, 2 or 5 times a power of ten not above ``limit`` (> 0)."""
    power = 10.0 ** math.floor(math.log10(limit))
    for step in NICE_MANTISSAS:
        if step * power <= limit:
            return step * power
    return power


def format_length(metres: float) -> str:
    """A length for a label: '2 km', '1.5 km', '50 m', '0.5 m'."""
    if metres >= 1000.0:
        km = metres / 1000.0
        return f"{km:.0f} km" if km == round(km) else f"{km:.1f} km"
    return f"{metres:.0f} m" if metres >= 1.0 else f"{metres:.1f} m"


@dataclass(frozen=True)
class MapView:
    """The map's world-to-screen transform of the last frame drawn."""

    rect: tuple[int, int, int, int]  # x, y, w, h (px)
    x_left: float  # m East at the left edge
    y_top: float  # m North at the top edge
    px_per_m_x: float
    px_per_m_y: float
    level: int  # terrain zoom level used

    @property
    def metres_per_px(self) -> float:
        return 1.0 / self.px_per_m_x

    def to_screen(self, east, north) -> tuple[np.ndarray, np.ndarray]:
        """Screen pixel coordinates (x right, y down; floats) of site-local points."""
        sx = self.rect[0] + (np.asarray(east, dtype=np.float64) - self.x_left) * self.px_per_m_x
        sy = self.rect[1] + (self.y_top - np.asarray(north, dtype=np.float64)) * self.px_per_m_y
        return sx, sy


def grid_step(view: MapView) -> float:
    """Spacing (m) of the map grid and length of its scale bar: a 1-2-5 step, about a third of the width."""
    return nice_length(view.rect[2] / view.px_per_m_x / GRID_STEPS_PER_WIDTH)


def clipped_runs(points: np.ndarray, limit: float) -> list[np.ndarray]:
    """Split a polyline (k, 2) into runs clipped to the box |x|, |y| <= limit (Liang-Barsky)."""
    if len(points) < 2:
        return []
    if np.all(np.abs(points) <= limit):
        return [points]
    p0, d = points[:-1], points[1:] - points[:-1]
    t0 = np.zeros(len(d))
    t1 = np.ones(len(d))
    hidden = np.zeros(len(d), dtype=bool)
    with np.errstate(divide="ignore", invalid="ignore"):
        for axis in (0, 1):
            for sign in (-1.0, 1.0):
                p = sign * d[:, axis]
                q = limit - sign * p0[:, axis]
                hidden |= (p == 0) & (q < 0)
                r = q / p
                t1 = np.where(p > 0, np.minimum(t1, r), t1)
                t0 = np.where(p < 0, np.maximum(t0, r), t0)
    visible = ~hidden & (t0 <= t1)
    start = p0 + t0[:, None] * d
    end = p0 + t1[:, None] * d
    runs = []
    run: list[np.ndarray] = []
    for k in np.flatnonzero(visible):
        if run and not (t0[k] == 0.0 and t1[k - 1] == 1.0 and visible[k - 1]):
            runs.append(np.array(run))
            run = []
        if not run:
            run.append(start[k])
        run.append(end[k])
    if run:
        runs.append(np.array(run))
    return runs
