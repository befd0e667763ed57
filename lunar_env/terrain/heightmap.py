"""Heightmaps and the compiled terrain queries the physics and sensors use.

A terrain *tile* has two regular grids: a fine one around the landing site and a coarse one
covering the whole flight region. A query uses the fine grid where it covers the point and the
coarse grid elsewhere, so metre-scale hazards near the target cost little memory.

A *pool* stacks K tiles of identical grid shapes into 3-D arrays, so thousands of landers share
memory: each lander holds only the index of its tile and the position of its target site.

Grid convention: ``heights[row, col]`` is the surface height (m, Up) at
``x = origin_x + col * cell_size`` (East) and ``y = origin_y + row * cell_size`` (North).
Between samples the surface is bilinear; outside a grid the edge value is held.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from numba import njit


@dataclass(frozen=True)
class Heightmap:
    """One regular grid of surface heights.

    Attributes:
        heights: (rows, cols) float64 heights in metres; row index runs North, column East.
        origin_xy: East and North coordinates (m) of ``heights[0, 0]``.
        cell_size_m: spacing of samples in both directions (m).
    """

    heights: np.ndarray
    origin_xy: tuple[float, float]
    cell_size_m: float

    def __post_init__(self) -> None:
        h = np.ascontiguousarray(self.heights, dtype=np.float64)
        if h.ndim != 2 or h.shape[0] < 2 or h.shape[1] < 2:
            raise ValueError(f"Heightmap.heights must be a 2-D array of at least 2x2 samples, got shape {h.shape}")
        if not np.all(np.isfinite(h)):
            raise ValueError("Heightmap.heights must be finite everywhere (found NaN or inf)")
        if not (np.isfinite(self.cell_size_m) and self.cell_size_m > 0):
            raise ValueError(f"Heightmap.cell_size_m must be a positive finite number, got {self.cell_size_m}")
        object.__setattr__(self, "heights", h)
        object.__setattr__(self, "origin_xy", (float(self.origin_xy[0]), float(self.origin_xy[1])))

    @property
    def shape(self) -> tuple[int, int]:
        return self.heights.shape  # type: ignore[return-value]

    @property
    def extent_xy(self) -> tuple[float, float, float, float]:
        """(x_min, x_max, y_min, y_max) in metres."""
        rows, cols = self.heights.shape
        x0, y0 = self.origin_xy
        return (x0, x0 + (cols - 1) * self.cell_size_m, y0, y0 + (rows - 1) * self.cell_size_m)

    def height_at(self, x: float, y: float) -> float:
        """Bilinear surface height (m) at one point; a convenience for Python code."""
        return float(_grid_height(self.heights, self.origin_xy[0], self.origin_xy[1], self.cell_size_m, x, y))


@dataclass(frozen=True)
class TerrainTile:
    """A fine grid around the site inside a coarse grid of the whole region.

    Attributes:
        fine: high-resolution grid near the target site.
        coarse: low-resolution grid of the whole flight region.
        site_xyz: the default target site (East, North, Up) in tile coordinates, metres.
        shadow_fine / shadow_coarse: optional uint8 masks (1 = in shadow) on the same grids.
    """

    fine: Heightmap
    coarse: Heightmap
    site_xyz: tuple[float, float, float] = (0.0, 0.0, 0.0)
    shadow_fine: np.ndarray | None = None
    shadow_coarse: np.ndarray | None = None


class TerrainArrays(NamedTuple):
    """A pool of K tiles as plain arrays, the form the compiled kernels take."""

    fine_heights: np.ndarray  # (K, rows_f, cols_f) float64, m
    fine_origin: np.ndarray  # (K, 2) float64, m
    fine_cell: float  # m
    coarse_heights: np.ndarray  # (K, rows_c, cols_c) float64, m
    coarse_origin: np.ndarray  # (K, 2) float64, m
    coarse_cell: float  # m
    fine_shadow: np.ndarray  # (K, rows_f, cols_f) uint8, 1 = shadowed
    coarse_shadow: np.ndarray  # (K, rows_c, cols_c) uint8


def flat_tile(size_m: float = 20_000.0, height_m: float = 0.0) -> TerrainTile:
    """A flat plane at ``height_m`` covering ``size_m`` x ``size_m`` centred on the site."""
    return plane_tile(0.0, 0.0, size_m=size_m, height_m=height_m)


def plane_tile(slope_east: float, slope_north: float, size_m: float = 20_000.0, height_m: float = 0.0) -> TerrainTile:
    """A tilted plane ``z = height_m + slope_east * x + slope_north * y`` (slopes are dz/dx, dz/dy).

    Bilinear interpolation reproduces a plane exactly, so a 2x2 grid suffices.
    """
    half = size_m / 2.0
    xs = np.array([-half, half])
    ys = np.array([-half, half])
    heights = height_m + slope_east * xs[None, :] + slope_north * ys[:, None]
    grid = Heightmap(heights, (-half, -half), size_m)
    return TerrainTile(fine=grid, coarse=grid, site_xyz=(0.0, 0.0, height_m))


def stack_tiles(tiles: list[TerrainTile]) -> TerrainArrays:
    """Stack tiles of identical grid shapes and cell sizes into a pool."""
    if not tiles:
        raise ValueError("a terrain pool needs at least one tile")
    first = tiles[0]
    for k, tile in enumerate(tiles):
        if tile.fine.shape != first.fine.shape or tile.coarse.shape != first.coarse.shape:
            raise ValueError(f"tile {k} grid shapes differ from tile 0; a pool needs identical shapes")
        if tile.fine.cell_size_m != first.fine.cell_size_m or tile.coarse.cell_size_m != first.coarse.cell_size_m:
            raise ValueError(f"tile {k} cell sizes differ from tile 0; a pool needs identical cell sizes")

    def shadow(mask: np.ndarray | None, shape: tuple[int, int]) -> np.ndarray:
        if mask is None:
            return np.zeros(shape, dtype=np.uint8)
        mask = np.asarray(mask)
        if mask.shape != shape:
            raise ValueError(f"shadow mask shape {mask.shape} does not match its grid {shape}")
        return mask.astype(np.uint8)

    return TerrainArrays(
        fine_heights=np.stack([t.fine.heights for t in tiles]),
        fine_origin=np.array([t.fine.origin_xy for t in tiles], dtype=np.float64),
        fine_cell=float(first.fine.cell_size_m),
        coarse_heights=np.stack([t.coarse.heights for t in tiles]),
        coarse_origin=np.array([t.coarse.origin_xy for t in tiles], dtype=np.float64),
        coarse_cell=float(first.coarse.cell_size_m),
        fine_shadow=np.stack([shadow(t.shadow_fine, t.fine.shape) for t in tiles]),
        coarse_shadow=np.stack([shadow(t.shadow_coarse, t.coarse.shape) for t in tiles]),
    )


# --------------------------------------------------------------------------- compiled queries


@njit(cache=True, inline="always")
def _cell_coords(n: int, u: float) -> tuple[int, float]:
    """Index of the lower sample and the fraction toward the next, clamped to the grid."""
    if u <= 0.0:
        return 0, 0.0
    if u >= n - 1:
        return n - 2, 1.0
    j = int(u)
    return j, u - j


@njit(cache=True, inline="always")
def _grid_height(heights, origin_x, origin_y, cell, x, y):
    rows, cols = heights.shape
    j, fx = _cell_coords(cols, (x - origin_x) / cell)
    i, fy = _cell_coords(rows, (y - origin_y) / cell)
    h00 = heights[i, j]
    h01 = heights[i, j + 1]
    h10 = heights[i + 1, j]
    h11 = heights[i + 1, j + 1]
    return (h00 * (1.0 - fx) + h01 * fx) * (1.0 - fy) + (h10 * (1.0 - fx) + h11 * fx) * fy


@njit(cache=True)
def _grid_gradient(heights, origin_x, origin_y, cell, x, y):
    """(dz/dx, dz/dy) of the bilinear surface at (x, y)."""
    rows, cols = heights.shape
    j, fx = _cell_coords(cols, (x - origin_x) / cell)
    i, fy = _cell_coords(rows, (y - origin_y) / cell)
    h00 = heights[i, j]
    h01 = heights[i, j + 1]
    h10 = heights[i + 1, j]
    h11 = heights[i + 1, j + 1]
    dzdx = ((h01 - h00) * (1.0 - fy) + (h11 - h10) * fy) / cell
    dzdy = ((h10 - h00) * (1.0 - fx) + (h11 - h01) * fx) / cell
    return dzdx, dzdy


@njit(cache=True, inline="always")
def _inside(origin, shape_rows, shape_cols, cell, x, y):
    u = (x - origin[0]) / cell
    v = (y - origin[1]) / cell
    return u >= 0.0 and v >= 0.0 and u <= shape_cols - 1 and v <= shape_rows - 1


@njit(cache=True, inline="always")
def terrain_height(terrain, k, x, y):
    """Surface height (m) of tile k at tile coordinates (x, y)."""
    fh = terrain.fine_heights[k]
    fo = terrain.fine_origin[k]
    if _inside(fo, fh.shape[0], fh.shape[1], terrain.fine_cell, x, y):
        return _grid_height(fh, fo[0], fo[1], terrain.fine_cell, x, y)
    co = terrain.coarse_origin[k]
    return _grid_height(terrain.coarse_heights[k], co[0], co[1], terrain.coarse_cell, x, y)


@njit(cache=True)
def terrain_gradient(terrain, k, x, y):
    """Surface gradient (dz/dx, dz/dy) of tile k at (x, y)."""
    fh = terrain.fine_heights[k]
    fo = terrain.fine_origin[k]
    if _inside(fo, fh.shape[0], fh.shape[1], terrain.fine_cell, x, y):
        return _grid_gradient(fh, fo[0], fo[1], terrain.fine_cell, x, y)
    co = terrain.coarse_origin[k]
    return _grid_gradient(terrain.coarse_heights[k], co[0], co[1], terrain.coarse_cell, x, y)


@njit(cache=True)
def terrain_slope(terrain, k, x, y):
    """Local surface slope (rad from horizontal) of tile k at (x, y)."""
    gx, gy = terrain_gradient(terrain, k, x, y)
    return np.arctan(np.sqrt(gx * gx + gy * gy))


@njit(cache=True)
def terrain_in_shadow(terrain, k, x, y):
    """True when the nearest sample of tile k's shadow mask at (x, y) is shadowed."""
    fh = terrain.fine_heights[k]
    fo = terrain.fine_origin[k]
    if _inside(fo, fh.shape[0], fh.shape[1], terrain.fine_cell, x, y):
        col = int((x - fo[0]) / terrain.fine_cell + 0.5)
        row = int((y - fo[1]) / terrain.fine_cell + 0.5)
        return terrain.fine_shadow[k, row, col] != 0
    co = terrain.coarse_origin[k]
    rows, cols = terrain.coarse_heights.shape[1], terrain.coarse_heights.shape[2]
    col = min(max(int((x - co[0]) / terrain.coarse_cell + 0.5), 0), cols - 1)
    row = min(max(int((y - co[1]) / terrain.coarse_cell + 0.5), 0), rows - 1)
    return terrain.coarse_shadow[k, row, col] != 0


# Ray marching: step a fraction of the fine cell, then refine the crossing by bisection.
RAY_STEP_FRACTION = 0.5  # of the fine cell size; smaller misses fewer thin features
RAY_TOLERANCE_M = 1e-6  # bisection stops when the crossing is bracketed this tightly (m)
RAY_MAX_BISECTIONS = 64  # enough for any bracket a float64 range can hold


@njit(cache=True)
def _bisect_crossing(terrain, k, ox, oy, oz, dx, dy, dz, lo, hi):
    """Refine a surface crossing known to lie between ranges lo (above) and hi (below)."""
    for _ in range(RAY_MAX_BISECTIONS):
        if hi - lo <= RAY_TOLERANCE_M:
            break
        mid = 0.5 * (lo + hi)
        if oz + dz * mid - terrain_height(terrain, k, ox + dx * mid, oy + dy * mid) > 0.0:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


@njit(cache=True)
def terrain_raycast(terrain, k, ox, oy, oz, dx, dy, dz, max_range):
    """Distance (m) along the unit ray (dx, dy, dz) from (ox, oy, oz) to the surface of tile k.

    Returns -1.0 when the surface is not hit within ``max_range`` metres or the origin is
    already below it. Steps grow with the clearance (up to a quarter of the coarse cell) so a
    long ray stays cheap while the last metres resolve the fine grid.
    """
    if oz - terrain_height(terrain, k, ox, oy) <= 0.0:
        return -1.0
    step_near = terrain.fine_cell * RAY_STEP_FRACTION
    s_prev = 0.0
    s = 0.0
    while True:
        clearance = oz + dz * s - terrain_height(terrain, k, ox + dx * s, oy + dy * s)
        if clearance <= 0.0:
            return _bisect_crossing(terrain, k, ox, oy, oz, dx, dy, dz, s_prev, s)
        if s >= max_range:
            return -1.0
        s_prev = s
        # A step of half the vertical clearance cannot pass through a surface sloping less
        # than 45 degrees; the fine-cell floor bounds what steeper features can hide.
        s = min(s + max(step_near, min(clearance * 0.5, terrain.coarse_cell * 0.25)), max_range)
