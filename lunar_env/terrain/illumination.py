"""Sun direction and cast shadows on terrain tiles.

At the lunar south pole the sun never rises more than about 1.5 deg (NASA SVS), so a hill of
height h casts a shadow h / tan(1.5 deg), about 38 h, long, and peaks tens of kilometres away
shade a landing site. A sample is in shadow when the surface anywhere toward the sun rises
above the ray from the sample to the sun.

Two compiled methods compute the same mask:

- :func:`shadow_masks` (used by the generator) propagates a *shadow surface* across the grid in
  one sweep away from the sun. Walking from each sample one grid line toward the sun reaches a
  point whose shadow surface S is already known; then S(p) = max(h(p), S(upsun) - step tan e)
  and p is shadowed when S(upsun) - step tan e > h(p). This is the ray march of every sample
  done at once, in O(samples) time; linear interpolation between the grid line's samples blurs
  oblique shadow edges by about a cell.
- :func:`march_shadow_mask` marches a ray from each sample toward the sun over the bilinear
  surface, sample by sample: slower, exact up to the step, used to check the sweep.

The fine grid is shadowed by distant relief too: its sweep starts, at the fine grid's edges,
from the shadow surface of the coarse grid, which carries the shadows of everything upsun.
Relief beyond the coarse grid is not modelled.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
from numba import njit

from lunar_env.terrain.heightmap import Heightmap, TerrainTile

SHADOW_TOLERANCE_M = 1e-9
"""A sample counts as shadowed only when the shadow surface passes this far above it (m)."""

MARCH_STEP_FRACTION = 0.5
"""Ray-march step as a fraction of the cell of the grid being marched over."""


def sun_direction(azimuth_deg: float, elevation_deg: float) -> np.ndarray:
    """Unit vector (East, North, Up) pointing toward the sun.

    Args:
        azimuth_deg: direction of the sun clockwise from North (deg).
        elevation_deg: angle of the sun above the local horizontal (deg).
    Returns:
        (3,) float64.
    """
    az = math.radians(float(azimuth_deg))
    el = math.radians(float(elevation_deg))
    return np.array([math.cos(el) * math.sin(az), math.cos(el) * math.cos(az), math.sin(el)])


def _check_sun(azimuth_deg: float, elevation_deg: float) -> tuple[float, float]:
    az = float(azimuth_deg)
    el = float(elevation_deg)
    if not math.isfinite(az):
        raise ValueError(f"sun azimuth_deg must be finite, got {azimuth_deg!r}")
    if not (math.isfinite(el) and 0.0 < el <= 90.0):
        raise ValueError(f"sun elevation_deg must be in (0, 90], got {elevation_deg!r}")
    return az, el


# --------------------------------------------------------------------------- sweep


@njit(cache=True, inline="always")
def _bilinear(h, ox, oy, cell, x, y):
    """Bilinear value of grid h at (x, y); -inf outside the grid."""
    rows, cols = h.shape
    u = (x - ox) / cell
    v = (y - oy) / cell
    if u < 0.0 or v < 0.0 or u > cols - 1 or v > rows - 1:
        return -np.inf
    j = min(int(u), cols - 2)
    i = min(int(v), rows - 2)
    fx = u - j
    fy = v - i
    return ((h[i, j] * (1.0 - fx) + h[i, j + 1] * fx) * (1.0 - fy)
            + (h[i + 1, j] * (1.0 - fx) + h[i + 1, j + 1] * fx) * fy)


@njit(cache=True, nogil=True)
def sweep_shadow(heights, origin_x, origin_y, cell, ux, uy, tan_e, outer, outer_x, outer_y, outer_cell, shade, mask):
    """Fill ``shade`` (shadow-surface heights, m) and ``mask`` (1 = shadowed) for one grid.

    (ux, uy) is the horizontal unit vector toward the sun, tan_e the tangent of its elevation.
    Upsun points that fall off the grid take the shadow surface ``outer`` (another grid, e.g. the
    coarse one, origin outer_x/outer_y, cell outer_cell; -inf where it has no value). Pass a
    2x2 array of -inf for no outer grid.
    """
    rows, cols = heights.shape
    transpose = abs(uy) > abs(ux)
    # Work along the major axis of the sun direction: one step there is one grid line.
    if transpose:
        major = rows
        minor = cols
        step_dir = 1 if uy > 0.0 else -1
        shift = ux / abs(uy)
        dist = cell / abs(uy)
    else:
        major = cols
        minor = rows
        step_dir = 1 if ux > 0.0 else -1
        shift = uy / abs(ux)
        dist = cell / abs(ux)
    drop = dist * tan_e
    for a in range(major):
        line = major - 1 - a if step_dir > 0 else a  # lines nearest the sun first
        prev = line + step_dir
        for b in range(minor):
            if transpose:
                h = heights[line, b]
            else:
                h = heights[b, line]
            pos = b + shift  # position of the upsun point along the previous line
            if -1e-9 < pos < 0.0:  # rounding of an axis-aligned sun direction
                pos = 0.0
            elif minor - 1 < pos < minor - 1 + 1e-9:
                pos = minor - 1.0
            if prev < 0 or prev >= major or pos < 0.0 or pos > minor - 1:
                if transpose:
                    px = origin_x + pos * cell
                    py = origin_y + prev * cell
                else:
                    px = origin_x + prev * cell
                    py = origin_y + pos * cell
                upsun = _bilinear(outer, outer_x, outer_y, outer_cell, px, py)
            else:
                k = min(int(pos), minor - 2)
                f = pos - k
                if transpose:
                    upsun = shade[prev, k] * (1.0 - f) + shade[prev, k + 1] * f
                else:
                    upsun = shade[k, prev] * (1.0 - f) + shade[k + 1, prev] * f
            ray = upsun - drop
            shadowed = ray > h + SHADOW_TOLERANCE_M
            value = ray if shadowed else h
            if transpose:
                shade[line, b] = value
                mask[line, b] = 1 if shadowed else 0
            else:
                shade[b, line] = value
                mask[b, line] = 1 if shadowed else 0


_NO_OUTER = np.full((2, 2), -np.inf)


def shadow_field(grid: Heightmap, azimuth_deg: float, elevation_deg: float,
                 outer: tuple[np.ndarray, tuple[float, float], float] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Shadow mask and shadow-surface heights of one grid by the sweep.

    Args:
        grid: the heights to shade.
        azimuth_deg, elevation_deg: the sun (deg, azimuth clockwise from North).
        outer: optional (shade heights, origin_xy, cell) of an enclosing grid's shadow surface,
            used where the grid's own upsun neighbours run out.
    Returns:
        mask (rows, cols) uint8 (1 = shadowed) and shade (rows, cols) float64 (m).
    """
    az, el = _check_sun(azimuth_deg, elevation_deg)
    sun = sun_direction(az, el)
    horiz = math.hypot(sun[0], sun[1])
    shade = np.empty(grid.shape, dtype=np.float64)
    mask = np.zeros(grid.shape, dtype=np.uint8)
    if horiz < 1e-12:  # sun at the zenith: nothing casts a shadow
        shade[:] = grid.heights
        return mask, shade
    ux, uy = sun[0] / horiz, sun[1] / horiz
    if outer is None:
        outer_h, (outer_x, outer_y), outer_cell = _NO_OUTER, (0.0, 0.0), 1.0
    else:
        outer_h, (outer_x, outer_y), outer_cell = outer
    sweep_shadow(grid.heights, grid.origin_xy[0], grid.origin_xy[1], grid.cell_size_m, ux, uy,
                 math.tan(math.radians(el)), np.ascontiguousarray(outer_h, dtype=np.float64), float(outer_x),
                 float(outer_y), float(outer_cell), shade, mask)
    return mask, shade


def shadow_masks(
    fine: Heightmap, coarse: Heightmap, azimuth_deg: float, elevation_deg: float
) -> tuple[np.ndarray, np.ndarray]:
    """(shadow_fine, shadow_coarse) uint8 masks; the fine grid is shadowed by coarse relief too."""
    coarse_mask, coarse_shade = shadow_field(coarse, azimuth_deg, elevation_deg)
    fine_mask, _ = shadow_field(
        fine, azimuth_deg, elevation_deg, outer=(coarse_shade, coarse.origin_xy, coarse.cell_size_m)
    )
    return fine_mask, coarse_mask


def with_shadows(tile: TerrainTile, azimuth_deg: float, elevation_deg: float) -> TerrainTile:
    """A copy of ``tile`` with both shadow masks computed for the given sun."""
    fine_mask, coarse_mask = shadow_masks(tile.fine, tile.coarse, azimuth_deg, elevation_deg)
    return dataclasses.replace(tile, shadow_fine=fine_mask, shadow_coarse=coarse_mask)


# --------------------------------------------------------------------------- reference ray march


@njit(cache=True)
def _two_grid_height(fine, fx0, fy0, fcell, coarse, cx0, cy0, ccell, x, y):
    v = _bilinear(fine, fx0, fy0, fcell, x, y)
    if v > -np.inf:
        return v
    rows, cols = coarse.shape
    # Outside the coarse grid the edge value is held, as the physics queries do.
    u = min(max((x - cx0) / ccell, 0.0), cols - 1.0)
    w = min(max((y - cy0) / ccell, 0.0), rows - 1.0)
    return _bilinear(coarse, cx0, cy0, ccell, cx0 + u * ccell, cy0 + w * ccell)


@njit(cache=True, nogil=True)
def march_grid(
    target, tx0, ty0, tcell, fine, fx0, fy0, fcell, coarse, cx0, cy0, ccell, ux, uy, tan_e, max_distance, top, mask
):
    """Ray-march from every sample of ``target`` toward the sun over the two-grid surface.

    The step is MARCH_STEP_FRACTION of the fine cell within the fine grid and of the coarse
    cell beyond it; a ray stops once it is above ``top`` (the highest surface) or has gone
    ``max_distance`` metres.
    """
    rows, cols = target.shape
    for i in range(rows):
        for j in range(cols):
            x = tx0 + j * tcell
            y = ty0 + i * tcell
            h = target[i, j]
            s = 0.0
            shadowed = 0
            while s < max_distance:
                px = x + ux * s
                py = y + uy * s
                in_fine = _bilinear(fine, fx0, fy0, fcell, px, py) > -np.inf
                s += MARCH_STEP_FRACTION * (fcell if in_fine else ccell)
                ray = h + s * tan_e
                if ray > top:
                    break
                ground = _two_grid_height(fine, fx0, fy0, fcell, coarse, cx0, cy0, ccell, x + ux * s, y + uy * s)
                if ground > ray + SHADOW_TOLERANCE_M:
                    shadowed = 1
                    break
            mask[i, j] = shadowed


def march_shadow_mask(
    tile: TerrainTile, azimuth_deg: float, elevation_deg: float, grid: str = "fine", max_distance_m: float | None = None
) -> np.ndarray:
    """Reference shadow mask of one of the tile's grids by marching every sample's ray to the sun.

    Args:
        grid: ``"fine"`` or ``"coarse"``.
        max_distance_m: longest ray (m); default the coarse grid's diagonal.
    Returns:
        (rows, cols) uint8, 1 = shadowed.
    """
    az, el = _check_sun(azimuth_deg, elevation_deg)
    if grid not in ("fine", "coarse"):
        raise ValueError(f"grid must be 'fine' or 'coarse', got {grid!r}")
    sun = sun_direction(az, el)
    horiz = math.hypot(sun[0], sun[1])
    target = tile.fine if grid == "fine" else tile.coarse
    mask = np.zeros(target.shape, dtype=np.uint8)
    if horiz < 1e-12:
        return mask
    x0, x1, y0, y1 = tile.coarse.extent_xy
    if max_distance_m is None:
        max_distance_m = math.hypot(x1 - x0, y1 - y0)
    top = max(float(tile.fine.heights.max()), float(tile.coarse.heights.max()))
    f, c = tile.fine, tile.coarse
    march_grid(
        target.heights,
        target.origin_xy[0],
        target.origin_xy[1],
        target.cell_size_m,
        f.heights,
        f.origin_xy[0],
        f.origin_xy[1],
        f.cell_size_m,
        c.heights,
        c.origin_xy[0],
        c.origin_xy[1],
        c.cell_size_m,
        sun[0] / horiz,
        sun[1] / horiz,
        math.tan(math.radians(el)),
        float(max_distance_m),
        top,
        mask,
    )
    return mask


# --------------------------------------------------------------------------- site statistics


def site_shadow_fraction(tile: TerrainTile, radius_m: float) -> float:
    """Fraction of the fine-grid samples within ``radius_m`` of the tile's site that are shadowed.

    Raises ValueError when the tile has no fine shadow mask or the radius is not positive.
    """
    if tile.shadow_fine is None:
        raise ValueError("tile has no fine shadow mask; compute one with with_shadows(tile, azimuth, elevation)")
    r = float(radius_m)
    if not (math.isfinite(r) and r > 0.0):
        raise ValueError(f"radius_m must be a positive number, got {radius_m!r}")
    fine = tile.fine
    rows, cols = fine.shape
    xs = fine.origin_xy[0] + fine.cell_size_m * np.arange(cols) - tile.site_xyz[0]
    ys = fine.origin_xy[1] + fine.cell_size_m * np.arange(rows) - tile.site_xyz[1]
    inside = xs[None, :] ** 2 + ys[:, None] ** 2 <= r * r
    if not inside.any():
        raise ValueError(f"no fine-grid sample lies within {r} m of the site")
    return float(np.asarray(tile.shadow_fine)[inside].mean())
