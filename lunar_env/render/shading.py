"""Terrain shading for the renderer: Lambertian hillshade under the low polar sun, cast shadows
from a mask, and a cache of shaded map chunks per zoom level.

At the lunar south pole the sun never rises more than about 1.5 deg (NASA SVS), so level ground
receives sin(1.5 deg) = 2.6% of the light a sun-facing wall does, and any slope facing away from
the sun by more than the sun's elevation is dark. The display exposure is set on level ground,
as a camera's auto-exposure would be, so level plains read mid-grey, sun-facing crater walls
bright and the far walls black.

Nothing here imports pygame: chunks are plain (rows, cols, 3) uint8 RGB arrays.
"""

from __future__ import annotations

import math
from collections import OrderedDict

import numpy as np
from numba import njit

from lunar_env.config import check_range
from lunar_env.constants import SOUTH_POLE_MAX_SUN_ELEVATION_DEG
from lunar_env.terrain.heightmap import Heightmap, TerrainTile
from lunar_env.terrain.heightmap import _cell_coords as _cell_uv  # the same edge rule as the physics

DEFAULT_SUN_AZIMUTH_DEG = 315.0
"""Sun azimuth (deg clockwise from North) used when a tile names none. The polar sun circles the
horizon, so any azimuth occurs; light from the north-west (upper left of a north-up map) is the
cartographic convention under which craters read as hollows rather than domes."""

DEFAULT_SUN_ELEVATION_DEG = SOUTH_POLE_MAX_SUN_ELEVATION_DEG
"""Sun elevation (deg) used when a tile names none: the highest the sun gets at the pole (NASA SVS)."""

FLAT_GROUND_BRIGHTNESS = 0.42
"""Display brightness in [0, 1] of level, unshadowed ground: the exposure reference."""

AMBIENT_BRIGHTNESS = 0.07
"""Display brightness of terrain without direct sun. Not physical (the shadows are nearly black);
it keeps the relief inside shadows faintly readable on screen."""

SHADOW_RGB = np.array([8.0, 11.0, 22.0], dtype=np.float32)  # colour of brightness 0: a blue-black
LIT_RGB = np.array([236.0, 232.0, 222.0], dtype=np.float32)  # colour of brightness 1: sunlit regolith
OUTSIDE_TILE_DIMMING = 0.45  # brightness factor beyond the terrain grid, where heights are held at the edge

SHADOW_EDGE_LOW, SHADOW_EDGE_HIGH = 0.3, 0.7  # interpolated mask values between which a map shadow edge ramps
SHADOW_BLEND_CELLS = 32.0  # fine cells over which the map fades the fine shadow mask into the coarse one (display only)

CHUNK_PX = 256  # side of a cached map chunk (pixels)
LEVELS_PER_OCTAVE = 2  # zoom levels per factor 2 of scale: a chunk is drawn at 71-100% of its size
MAX_CACHED_CHUNKS = 160  # least recently used chunks beyond this are dropped (about 30 MB)


# --------------------------------------------------------------------------- shading
def sun_vector(sun_azimuth_deg: float, sun_elevation_deg: float) -> np.ndarray:
    """(3,) unit vector toward the sun in East-North-Up; azimuth clockwise from North."""
    az = math.radians(sun_azimuth_deg)
    el = math.radians(sun_elevation_deg)
    return np.array([math.sin(az) * math.cos(el), math.cos(az) * math.cos(el), math.sin(el)])


def lambert_from_gradient(dz_deast, dz_dnorth, sun_azimuth_deg: float, sun_elevation_deg: float) -> np.ndarray:
    """Cosine of the sun's incidence angle on surfaces of gradient (dz/dx, dz/dy), clipped at 0.

    Returns float32 in [0, 1]: the unit normal (-dz/dx, -dz/dy, 1)/|.| dotted with the
    direction to the sun; level ground gives sin(elevation), self-shadowed faces 0.
    """
    gx = np.asarray(dz_deast, dtype=np.float64)
    gy = np.asarray(dz_dnorth, dtype=np.float64)
    sun = sun_vector(sun_azimuth_deg, sun_elevation_deg)
    dot = (-gx * sun[0] - gy * sun[1] + sun[2]) / np.sqrt(1.0 + gx * gx + gy * gy)
    return np.clip(dot, 0.0, 1.0).astype(np.float32)


def lambert(heights: np.ndarray, cell_size_m: float, sun_azimuth_deg: float, sun_elevation_deg: float) -> np.ndarray:
    """:func:`lambert_from_gradient` of a heightmap grid, float32 (rows, cols) in [0, 1].

    ``heights[row, col]`` follows the Heightmap convention (row index runs North, column East,
    spacing ``cell_size_m``); the gradient is taken by central differences.
    """
    h = np.asarray(heights, dtype=np.float64)
    if h.ndim != 2 or h.shape[0] < 2 or h.shape[1] < 2:
        raise ValueError(f"heights must be a 2-D array of at least 2x2 samples, got shape {h.shape}")
    check_range("shaded_relief", "cell_size_m", cell_size_m, 0.0, math.inf, low_open=True, high_open=True)
    dz_dnorth, dz_deast = np.gradient(h, cell_size_m)
    return lambert_from_gradient(dz_deast, dz_dnorth, sun_azimuth_deg, sun_elevation_deg)


def exposure(direct: np.ndarray, sun_elevation_deg: float, *, flat_brightness: float = FLAT_GROUND_BRIGHTNESS,
             ambient: float = AMBIENT_BRIGHTNESS) -> np.ndarray:
    """Display brightness in [0, 1] (float32) of direct light ``direct`` (a Lambert term, after shadows).

    The light is shown relative to level ground, ``r = direct / sin(elevation)``, through

        b = ambient + (1 - ambient) * (1 - exp(-k r)),  k such that level ground gives ``flat_brightness``,

    which keeps the bright sun-facing walls from saturating while unlit faces fall to ``ambient``.
    """
    check_range("shaded_relief", "sun_elevation_deg", sun_elevation_deg, 0.0, 90.0, low_open=True)
    check_range("shaded_relief", "ambient", ambient, 0.0, 1.0, high_open=True)
    check_range("shaded_relief", "flat_brightness", flat_brightness, ambient, 1.0, low_open=True, high_open=True)
    relative = np.asarray(direct, dtype=np.float32) / np.float32(math.sin(math.radians(sun_elevation_deg)))
    k = np.float32(-math.log(1.0 - (flat_brightness - ambient) / (1.0 - ambient)))
    brightness = np.float32(ambient) + np.float32(1.0 - ambient) * (np.float32(1.0) - np.exp(-k * relative))
    return np.clip(brightness, 0.0, 1.0).astype(np.float32)


def shaded_relief(heights: np.ndarray, cell_size_m: float, sun_azimuth_deg: float, sun_elevation_deg: float,
                  shadow_mask: np.ndarray | None = None, *, flat_brightness: float = FLAT_GROUND_BRIGHTNESS,
                  ambient: float = AMBIENT_BRIGHTNESS) -> np.ndarray:
    """Display brightness of a heightmap lit by a low sun: float32 (rows, cols) in [0, 1].

    The direct light is the Lambertian term ``L = max(0, n . s)`` (:func:`lambert`), times
    ``1 - shadow`` where a mask of the same shape gives the cast shadows (integers: nonzero is
    in shadow; floats in [0, 1]: the shadowed fraction, for soft edges). The result goes through
    the exposure curve of :func:`exposure`: level ground in sun shows ``flat_brightness``,
    terrain without direct sun ``ambient``.
    """
    check_range("shaded_relief", "sun_elevation_deg", sun_elevation_deg, 0.0, 90.0, low_open=True)
    direct = lambert(heights, cell_size_m, sun_azimuth_deg, sun_elevation_deg)
    if shadow_mask is not None:
        direct = direct * (np.float32(1.0) - _shadow_fraction(shadow_mask, direct.shape))
    return exposure(direct, sun_elevation_deg, flat_brightness=flat_brightness, ambient=ambient)


def _shadow_fraction(mask, shape) -> np.ndarray:
    m = np.asarray(mask)
    if m.shape != shape:
        raise ValueError(f"shadow_mask shape {m.shape} does not match heights {shape}")
    if np.issubdtype(m.dtype, np.floating):
        if not np.all((m >= 0.0) & (m <= 1.0)):
            raise ValueError("a float shadow_mask must hold shadowed fractions in [0, 1]")
        return m.astype(np.float32)
    return (m != 0).astype(np.float32)


def brightness_to_rgb(brightness: np.ndarray) -> np.ndarray:
    """Brightness in [0, 1] (rows, cols) to uint8 RGB (rows, cols, 3) on the regolith colour ramp."""
    b = np.asarray(brightness, dtype=np.float32)[..., None]
    return (SHADOW_RGB + b * (LIT_RGB - SHADOW_RGB) + 0.5).astype(np.uint8)


# --------------------------------------------------------------------------- terrain sampling
# Compiled point queries over a tile's two grids. They are this module's own (not those of
# lunar_env.terrain.heightmap) so numba's per-file cache cannot go stale here, and they give the
# physics' surface: bilinear between samples, edge values held outside, the fine grid wherever
# it covers a point (the tests check them against Heightmap.height_at). ``geo`` holds the fine
# grid's origin x, origin y and 1/cell, the coarse grid's the same, then both cells (m);
# multiplying by 1/cell rather than dividing halves the cost of a pixel.
@njit(cache=True, inline="always")
def _lerp(values, i, j, fx, fy):
    return ((values[i, j] * (1.0 - fx) + values[i, j + 1] * fx) * (1.0 - fy)
            + (values[i + 1, j] * (1.0 - fx) + values[i + 1, j + 1] * fx) * fy)


@njit(cache=True, inline="always")
def _locate(fine, coarse, geo, x, y):
    """(on the fine grid?, row, column, fractions) in the grid that answers at (x, y)."""
    u = (x - geo[0]) * geo[2]
    v = (y - geo[1]) * geo[2]
    if u >= 0.0 and v >= 0.0 and u <= fine.shape[1] - 1 and v <= fine.shape[0] - 1:
        j, fx = _cell_uv(fine.shape[1], u)
        i, fy = _cell_uv(fine.shape[0], v)
        return True, i, j, fx, fy
    i, j, fx, fy = _locate_coarse(coarse, geo, x, y)
    return False, i, j, fx, fy


@njit(cache=True, inline="always")
def _locate_coarse(coarse, geo, x, y):
    j, fx = _cell_uv(coarse.shape[1], (x - geo[3]) * geo[5])
    i, fy = _cell_uv(coarse.shape[0], (y - geo[4]) * geo[5])
    return i, j, fx, fy


@njit(cache=True, inline="always")
def _height(fine, coarse, geo, x, y):
    on_fine, i, j, fx, fy = _locate(fine, coarse, geo, x, y)
    if on_fine:
        return _lerp(fine, i, j, fx, fy)
    return _lerp(coarse, i, j, fx, fy)


@njit(cache=True)
def _sample_points(fine, coarse, geo, xs, ys, out):
    for k in range(xs.size):
        out[k] = _height(fine, coarse, geo, xs[k], ys[k])


@njit(cache=True)
def _aux_points(fine, coarse, fine_aux, coarse_aux, geo, xs, ys, out):
    """out[k] = bilinear (dz/dx, dz/dy, shadowed fraction) at (xs[k], ys[k])."""
    for k in range(xs.size):
        on_fine, i, j, fx, fy = _locate(fine, coarse, geo, xs[k], ys[k])
        aux = fine_aux if on_fine else coarse_aux
        for m in range(3):
            out[k, m] = _lerp(aux[m], i, j, fx, fy)


@njit(cache=True)
def _shade_block(fine, coarse, fine_aux, coarse_aux, geo, x_left, y_top, step, sun, direct, covered):
    """Direct sunlight (Lambert term times the lit fraction) of a block of pixels of ``step``
    metres whose top-left corner is (x_left, y_top); rows run southward.

    Where a pixel is smaller than the grid cell, the slope is the bilinear interpolation of the
    grid's node gradients (smooth shading, no facets); where it is larger, the slope is taken
    across the pixel from the heights at its corners (averaging what a pixel cannot show).
    """
    rows, cols = direct.shape
    corners = np.empty((rows + 1, cols + 1))
    if step >= geo[6]:  # pixels at least a fine cell wide exist: they need the corner heights
        for r in range(rows + 1):
            for c in range(cols + 1):
                corners[r, c] = _height(fine, coarse, geo, x_left + c * step, y_top - r * step)
    for r in range(rows):
        y = y_top - (r + 0.5) * step
        for c in range(cols):
            x = x_left + (c + 0.5) * step
            on_fine, i, j, fx, fy = _locate(fine, coarse, geo, x, y)
            aux = fine_aux if on_fine else coarse_aux
            if step >= (geo[6] if on_fine else geo[7]):
                gx = (corners[r, c + 1] + corners[r + 1, c + 1] - corners[r, c] - corners[r + 1, c]) / (2.0 * step)
                gy = (corners[r, c] + corners[r, c + 1] - corners[r + 1, c] - corners[r + 1, c + 1]) / (2.0 * step)
            else:
                gx = _lerp(aux[0], i, j, fx, fy)
                gy = _lerp(aux[1], i, j, fx, fy)
            dot = (-gx * sun[0] - gy * sun[1] + sun[2]) / np.sqrt(1.0 + gx * gx + gy * gy)
            shade = _lerp(aux[2], i, j, fx, fy)
            if on_fine:
                # Fade the fine grid's shadows into the coarse grid's across a band at its border,
                # so the two masks (of different resolution) do not meet at a straight line.
                edge = min(i + fy, fine.shape[0] - 1 - i - fy, j + fx, fine.shape[1] - 1 - j - fx)
                edge /= SHADOW_BLEND_CELLS
                if edge < 1.0:
                    ci, cj, cfx, cfy = _locate_coarse(coarse, geo, x, y)
                    shade = edge * shade + (1.0 - edge) * _lerp(coarse_aux[2], ci, cj, cfx, cfy)
            # Sharpen the interpolated mask around its 0.5 contour: crisp edges that follow a
            # smooth line instead of the staircase of the mask's cells.
            t = max(0.0, min(1.0, (shade - SHADOW_EDGE_LOW) / (SHADOW_EDGE_HIGH - SHADOW_EDGE_LOW)))
            direct[r, c] = max(0.0, min(1.0, dot)) * (1.0 - t * t * (3.0 - 2.0 * t))
            u = (x - geo[3]) * geo[5]
            v = (y - geo[4]) * geo[5]
            covered[r, c] = on_fine or (u >= 0.0 and v >= 0.0 and u <= coarse.shape[1] - 1 and v <= coarse.shape[0] - 1)


def _smoothed(mask: np.ndarray) -> np.ndarray:
    """A 0/1 mask filtered by the 3 x 3 binomial kernel (edges held). Its 0.5 contour follows the
    mask's boundary as a smooth curve, not the staircase of its cells, so shadow edges stay
    clean when the map is zoomed in past the mask's resolution."""
    m = np.pad(mask.astype(np.float64), 1, mode="edge")
    m = 0.25 * m[:-2] + 0.5 * m[1:-1] + 0.25 * m[2:]
    return 0.25 * m[:, :-2] + 0.5 * m[:, 1:-1] + 0.25 * m[:, 2:]


def _aux_grid(grid: Heightmap, mask) -> np.ndarray:
    """(3, rows, cols) float64: dz/dx and dz/dy at the samples (central differences) and the
    smoothed shadow mask."""
    dz_dnorth, dz_deast = np.gradient(grid.heights, grid.cell_size_m)
    shadow = np.zeros(grid.shape) if mask is None else _smoothed(np.asarray(mask) != 0)
    return np.ascontiguousarray(np.stack([dz_deast, dz_dnorth, shadow]))


class TerrainSampler:
    """Vectorised queries of one TerrainTile in tile coordinates (m): the fine grid where it
    covers a point, the coarse grid elsewhere, as the compiled physics queries do. Holds the
    grids' node gradients and shadow masks (about 6 MB per 513 x 513 grid), so build one per
    tile actually drawn."""

    def __init__(self, tile: TerrainTile):
        if not isinstance(tile, TerrainTile):
            raise ValueError(f"tile must be a TerrainTile, got {type(tile).__name__}")
        self.tile = tile
        for name, grid in (("shadow_fine", tile.fine), ("shadow_coarse", tile.coarse)):
            mask = getattr(tile, name)
            if mask is not None and np.shape(mask) != grid.shape:
                raise ValueError(f"TerrainTile.{name} shape {np.shape(mask)} does not match its grid {grid.shape}")
        fine, coarse = tile.fine, tile.coarse
        self._fine_aux = _aux_grid(fine, tile.shadow_fine)
        self._coarse_aux = _aux_grid(coarse, tile.shadow_coarse)
        self._geo = np.array([*fine.origin_xy, 1.0 / fine.cell_size_m, *coarse.origin_xy, 1.0 / coarse.cell_size_m,
                              fine.cell_size_m, coarse.cell_size_m])

    @staticmethod
    def _points(x, y):
        x, y = np.broadcast_arrays(np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64))
        return x.shape, np.ascontiguousarray(x).ravel(), np.ascontiguousarray(y).ravel()

    def heights(self, x, y) -> np.ndarray:
        """Surface height (m) at tile coordinates; x, y broadcast together."""
        shape, xs, ys = self._points(x, y)
        out = np.empty(xs.size)
        _sample_points(self.tile.fine.heights, self.tile.coarse.heights, self._geo, xs, ys, out)
        return out.reshape(shape)

    def _aux(self, x, y) -> tuple[tuple, np.ndarray]:
        shape, xs, ys = self._points(x, y)
        out = np.empty((xs.size, 3))
        _aux_points(self.tile.fine.heights, self.tile.coarse.heights, self._fine_aux, self._coarse_aux, self._geo,
                    xs, ys, out)
        return shape, out

    def gradient(self, x, y) -> tuple[np.ndarray, np.ndarray]:
        """(dz/dx, dz/dy) interpolated bilinearly between the grid's node gradients, which vary
        continuously where the bilinear surface's own slope jumps at cell edges."""
        shape, out = self._aux(x, y)
        return out[:, 0].reshape(shape), out[:, 1].reshape(shape)

    def shadow(self, x, y) -> np.ndarray:
        """Shadowed fraction in [0, 1] at tile coordinates: the smoothed mask interpolated
        bilinearly (1 deep inside a shadow, 0 in the sun, between near an edge); all 0 for a
        tile without masks."""
        shape, out = self._aux(x, y)
        return out[:, 2].reshape(shape)

    def direct_light(self, x_left: float, y_top: float, step: float, rows: int, cols: int,
                     sun: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Direct sunlight (float32: Lambert term times the lit fraction) of a block of pixels
        of ``step`` metres from the top-left corner (x_left, y_top), rows running South; and a
        bool mask of the pixels on the grids."""
        direct = np.empty((rows, cols), dtype=np.float32)
        covered = np.empty((rows, cols), dtype=np.bool_)
        _shade_block(self.tile.fine.heights, self.tile.coarse.heights, self._fine_aux, self._coarse_aux, self._geo,
                     float(x_left), float(y_top), float(step), np.asarray(sun, dtype=np.float64), direct, covered)
        return direct, covered


def tile_sun(tile: TerrainTile, terrain_spec=None) -> tuple[float, float]:
    """(azimuth, elevation) in degrees of the sun over a tile: the tile's own when it names one,
    else the terrain spec's, else the defaults above."""
    values = []
    defaults = (("sun_azimuth_deg", DEFAULT_SUN_AZIMUTH_DEG), ("sun_elevation_deg", DEFAULT_SUN_ELEVATION_DEG))
    for name, default in defaults:
        value = getattr(tile, name, None)
        if value is None:
            value = getattr(terrain_spec, name, None)
        values.append(float(default if value is None else value))
    return values[0], values[1]


# --------------------------------------------------------------------------- chunk cache
def level_cell_m(level: int) -> float:
    """Ground size (m) of one map pixel at zoom level ``level`` (level 0: 1 m)."""
    return 2.0 ** (level / LEVELS_PER_OCTAVE)


def level_for(metres_per_pixel: float) -> int:
    """The coarsest level whose pixels are no larger than ``metres_per_pixel``."""
    return int(math.floor(LEVELS_PER_OCTAVE * math.log2(metres_per_pixel) + 1e-9))


class ShadedTerrainCache:
    """Shaded RGB map of one tile around one target site, cut in chunks per zoom level.

    Coordinates are site-local metres (East, North). At level L a pixel is
    ``c = level_cell_m(L)`` metres; global pixel column ``gx`` covers East ``[gx c, (gx+1) c)``
    and global row ``gr`` covers North ``(-(gr+1) c, -gr c]``, so rows run southward as on
    screen. Chunks are computed on first use and kept, least recently used first out.
    """

    def __init__(
        self,
        sampler: TerrainSampler,
        site_xyz,
        sun_azimuth_deg: float,
        sun_elevation_deg: float,
        chunk_px: int = CHUNK_PX,
        max_chunks: int = MAX_CACHED_CHUNKS,
    ):
        self.sampler = sampler
        self.site = (float(site_xyz[0]), float(site_xyz[1]))
        self.sun = (float(sun_azimuth_deg), float(sun_elevation_deg))
        self.chunk_px = int(chunk_px)
        self.max_chunks = int(max_chunks)
        self._chunks: OrderedDict[tuple[int, int, int], np.ndarray] = OrderedDict()
        self.computed = 0  # chunks shaded so far (a cache-miss count)

    def chunk(self, level: int, i: int, j: int) -> np.ndarray:
        """(chunk_px, chunk_px, 3) uint8 RGB of chunk column i, row j at a level."""
        key = (level, i, j)
        hit = self._chunks.get(key)
        if hit is not None:
            self._chunks.move_to_end(key)
            return hit
        rgb = self._shade(level, i, j)
        self._chunks[key] = rgb
        self.computed += 1
        if len(self._chunks) > self.max_chunks:
            self._chunks.popitem(last=False)
        return rgb

    def _shade(self, level: int, i: int, j: int) -> np.ndarray:
        c = level_cell_m(level)
        n = self.chunk_px
        direct, covered = self.sampler.direct_light(
            i * n * c + self.site[0], -j * n * c + self.site[1], c, n, n, sun_vector(*self.sun)
        )
        bright = exposure(direct, self.sun[1])
        if not covered.all():  # beyond the grids heights are only the edge value held
            bright = np.where(covered, bright, bright * OUTSIDE_TILE_DIMMING)
        return brightness_to_rgb(bright)

    def window(self, level: int, gx0: int, gr0: int, width: int, height: int) -> np.ndarray:
        """(height, width, 3) uint8 RGB of the level pixels [gx0, gx0+width) x [gr0, gr0+height)."""
        n = self.chunk_px
        out = np.empty((height, width, 3), dtype=np.uint8)
        for j in range(gr0 // n, (gr0 + height - 1) // n + 1):
            r0 = max(gr0, j * n)
            r1 = min(gr0 + height, (j + 1) * n)
            for i in range(gx0 // n, (gx0 + width - 1) // n + 1):
                c0 = max(gx0, i * n)
                c1 = min(gx0 + width, (i + 1) * n)
                chunk = self.chunk(level, i, j)
                out[r0 - gr0 : r1 - gr0, c0 - gx0 : c1 - gx0] = chunk[r0 - j * n : r1 - j * n, c0 - i * n : c1 - i * n]
        return out
