"""Digital elevation models (DEMs) as heightmaps and terrain tiles.

Real lunar terrain comes from the Lunar Orbiter Laser Altimeter (LOLA) products of NASA's
Planetary Geodesy Data Archive (PGDA):

- PGDA product 78: site DEMs of south-pole landing regions at 5 m/px (RMS height error about
  0.3-0.5 m, slope error 1.5-2.5 deg), GeoTIFF, polar stereographic.
- PGDA product 90: the 80-90 S polar DEM at 20 m/px, with slope and permanent-shadow layers,
  GeoTIFF, polar stereographic.

Both are float GeoTIFFs whose ModelPixelScale tag gives the pixel size in metres and whose
ModelTiepoint tag gives the map position of the first pixel, in the south polar stereographic
projection of the 1737.4 km sphere (true scale at the pole). :func:`load_dem` reads them into a
:class:`~lunar_env.terrain.heightmap.Heightmap` whose x/y are the projection's grid axes (x
toward 90 E, y toward 0 E), which near a site serve as the local East/North of the physics
frame (a rotation by the site's longitude from geographic East/North; over 20 km the
projection's scale error is below 0.1%). :func:`south_polar_stereographic_xy` turns a latitude
and longitude into those coordinates, and :func:`tile_from_dem` cuts a fine grid around a site
and block-averages a coarse grid. A 20 m/px product-90 mosaic is several gigabytes: pass
``bounds_xy`` to keep only the part you need (it is read through a memory map).

Example::

    dem = load_dem("Site01_5mpp_surf.tif")            # 5 m/px from the GeoTIFF tags
    x, y = south_polar_stereographic_xy(-89.45, 222.7)  # a site's latitude and longitude
    tile = tile_from_dem(dem, (x, y), fine_size_m=500.0, coarse_factor=8, sun_azimuth_deg=120.0)
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

import numpy as np

from lunar_env.checks import check_int
from lunar_env.constants import LUNAR_MEAN_RADIUS_M, SOUTH_POLE_MAX_SUN_ELEVATION_DEG
from lunar_env.terrain.heightmap import Heightmap, TerrainTile
from lunar_env.terrain.illumination import with_shadows

TAG_MODEL_PIXEL_SCALE = 33550
"""GeoTIFF ModelPixelScaleTag: (x, y, z) size of a pixel in model units."""
TAG_MODEL_TIEPOINT = 33922
"""GeoTIFF ModelTiepointTag: (i, j, k, X, Y, Z): raster point (i, j) sits at model point (X, Y)."""
TAG_GEO_KEY_DIRECTORY = 34735
"""GeoTIFF GeoKeyDirectoryTag."""
TAG_GDAL_NODATA = 42113
"""GDAL's no-data value tag (ASCII)."""

GEOKEY_MODEL_TYPE = 1024
"""GTModelTypeGeoKey: 1 projected, 2 geographic (degrees), 3 geocentric."""
GEOKEY_RASTER_TYPE = 1025
"""GTRasterTypeGeoKey: 1 PixelIsArea (tiepoints name pixel corners), 2 PixelIsPoint."""
GEOKEY_PROJ_LINEAR_UNITS = 3076
"""ProjLinearUnitsGeoKey: 9001 is the metre (EPSG)."""
MODEL_TYPE_GEOGRAPHIC = 2
RASTER_PIXEL_IS_AREA = 1
EPSG_METRE = 9001

PIXEL_SCALE_TOLERANCE = 1e-6
"""Relative tolerance for square pixels and for agreement of a given cell size with the tags."""

MEMMAP_THRESHOLD_BYTES = 256 * 2**20
"""GeoTIFFs larger than this are read through a memory map when ``bounds_xy`` crops them."""

DEM_SUFFIXES = (".tif", ".tiff", ".npy")


@dataclass(frozen=True)
class _Raster:
    data: np.ndarray  # rows as stored (first row = north edge for GeoTIFF)
    cell: float | None
    corner_xy: tuple[float, float] | None  # map position of the centre of the first stored sample


def south_polar_stereographic_xy(lat_deg, lon_deg, radius_m: float = LUNAR_MEAN_RADIUS_M):
    """Map coordinates (m) of the south polar stereographic projection, true scale at the pole.

    x = 2 R tan(45 deg + lat / 2) sin(lon), y = 2 R tan(45 deg + lat / 2) cos(lon), for
    latitude ``lat_deg`` (negative south) and east longitude ``lon_deg``; the pole is (0, 0).
    Accepts scalars or arrays; returns a pair of the same kind.
    """
    lat = np.radians(np.asarray(lat_deg, dtype=np.float64))
    lon = np.radians(np.asarray(lon_deg, dtype=np.float64))
    if np.any(np.abs(lat) > np.pi / 2) or np.any(lat >= 0.0):
        raise ValueError(f"latitude must be in [-90, 0) deg for the south polar projection, got {lat_deg!r}")
    rho = 2.0 * radius_m * np.tan(np.pi / 4.0 + lat / 2.0)
    x = rho * np.sin(lon)
    y = rho * np.cos(lon)
    if np.ndim(x) == 0:
        return float(x), float(y)
    return x, y


def _geokeys(tags) -> dict[int, int]:
    """Short (inline) GeoKeys of a GeoKeyDirectoryTag."""
    tag = tags.get(TAG_GEO_KEY_DIRECTORY)
    if tag is None:
        return {}
    values = list(tag.value)
    if len(values) < 4:
        return {}
    count = int(values[3])
    keys = {}
    for k in range(count):
        entry = values[4 + 4 * k: 8 + 4 * k]
        if len(entry) == 4 and entry[1] == 0:  # location 0: the value is stored inline
            keys[int(entry[0])] = int(entry[3])
    return keys


def _read_geotiff(path: str, bounds_xy) -> _Raster:
    try:
        import tifffile
    except ImportError as exc:  # pragma: no cover - tifffile is in the dem extra
        raise ImportError("reading GeoTIFF DEMs needs tifffile: pip install 'lunar-env[dem]'") from exc
    try:
        with tifffile.TiffFile(path) as tif:
            page = tif.pages[0]
            tags = page.tags
            big = int(np.prod(page.shape)) * page.dtype.itemsize > MEMMAP_THRESHOLD_BYTES
            if big and bounds_xy is not None:
                # Map the file itself when its pixels are stored plainly, else decode to a temporary map.
                data = tifffile.memmap(path, mode="r") if page.is_memmappable else page.asarray(out="memmap")
            else:
                data = page.asarray()
            scale = tags.get(TAG_MODEL_PIXEL_SCALE)
            tie = tags.get(TAG_MODEL_TIEPOINT)
            nodata = tags.get(TAG_GDAL_NODATA)
            keys = _geokeys(tags)
            scale = tuple(float(v) for v in scale.value) if scale is not None else None
            tie = tuple(float(v) for v in tie.value) if tie is not None else None
            nodata = nodata.value if nodata is not None else None
    except (OSError, ValueError, KeyError, IndexError) as exc:
        if isinstance(exc, FileNotFoundError):
            raise
        raise ValueError(f"{path}: not a readable TIFF ({exc})") from exc
    except Exception as exc:  # tifffile raises its own TiffFileError for malformed files
        if type(exc).__name__ == "TiffFileError":
            raise ValueError(f"{path}: not a readable TIFF ({exc})") from exc
        raise
    data = _single_band(path, data)
    cell = None
    if scale is not None:
        if keys.get(GEOKEY_MODEL_TYPE) == MODEL_TYPE_GEOGRAPHIC:
            raise ValueError(f"{path}: the GeoTIFF is in geographic coordinates (degrees); reproject it to a polar "
                             "stereographic grid in metres (LOLA PGDA products already are)")
        units = keys.get(GEOKEY_PROJ_LINEAR_UNITS, EPSG_METRE)
        if units != EPSG_METRE:
            raise ValueError(
                f"{path}: projected units are EPSG {units}, not metres (9001); pass cell_size_m explicitly"
            )
        if len(scale) < 2 or not all(math.isfinite(v) and v > 0 for v in scale[:2]):
            raise ValueError(f"{path}: ModelPixelScale {scale} must hold two positive pixel sizes")
        sx, sy = scale[0], scale[1]
        if abs(sx - sy) > PIXEL_SCALE_TOLERANCE * sx:
            raise ValueError(f"{path}: pixels are not square ({sx} x {sy} m); resample to square pixels first")
        cell = sx
    corner = None
    if tie is not None and len(tie) >= 6 and cell is not None:
        i, j, x, y = tie[0], tie[1], tie[3], tie[4]
        # PixelIsArea tiepoints name the pixel's outer corner: its centre is half a pixel in.
        half = 0.5 if keys.get(GEOKEY_RASTER_TYPE, RASTER_PIXEL_IS_AREA) == RASTER_PIXEL_IS_AREA else 0.0
        corner = (x + (half - i) * cell, y - (half - j) * cell)
    if nodata is not None:
        try:
            value = float(str(nodata).strip().strip("\x00"))
        except ValueError:
            value = None
        if value is not None and not math.isnan(value):
            bad = int(np.count_nonzero(data == value))
            if bad:
                raise ValueError(
                    f"{path}: {bad} of {data.size} samples are no-data ({value:g}); crop to the "
                    "valid area (bounds_xy) or fill the gaps before loading"
                )
    return _Raster(data=data, cell=cell, corner_xy=corner)


def _single_band(path: str, data: np.ndarray) -> np.ndarray:
    if data.ndim == 3 and 1 in (data.shape[0], data.shape[-1]):
        data = data.reshape(data.shape[1:] if data.shape[0] == 1 else data.shape[:-1])
    if data.ndim != 2:
        raise ValueError(f"{path}: a DEM must be one 2-D band of heights, got an array of shape {data.shape}")
    if data.dtype.kind not in "iuf":
        raise ValueError(f"{path}: DEM heights must be real numbers, got dtype {data.dtype}")
    if data.shape[0] < 2 or data.shape[1] < 2:
        raise ValueError(f"{path}: a DEM needs at least 2 x 2 samples, got {data.shape}")
    return data


def load_dem(
    path: str | os.PathLike,
    cell_size_m: float | None = None,
    *,
    origin_xy: tuple[float, float] | None = None,
    north_up: bool = True,
    height_scale: float = 1.0,
    bounds_xy: tuple[float, float, float, float] | None = None,
) -> Heightmap:
    """Read a DEM into a Heightmap (heights in metres, rows running North).

    Args:
        path: a GeoTIFF (``.tif``/``.tiff``, read with tifffile) or a NumPy ``.npy`` array.
        cell_size_m: sample spacing (m). Required for ``.npy``; for a GeoTIFF it is read from
            the ModelPixelScale tag, and a value given here must agree with the tag.
        origin_xy: position (m) of the south-west sample. Default: the map position from the
            GeoTIFF tiepoint when present, else the DEM is centred on (0, 0).
        north_up: the first stored row is the northern edge (GeoTIFF's order, and that of an
            array read from one). False for arrays already in Heightmap order (row 0 south).
        height_scale: factor turning stored values into metres (1000 for kilometres).
        bounds_xy: optional (x_min, x_max, y_min, y_max) (m, same frame as the result) to keep.
    Raises:
        FileNotFoundError: no such file.
        ValueError: unknown suffix, not one 2-D band, non-numeric, NaN/inf or no-data samples,
            missing or non-square resolution, degrees instead of metres, a cell size that
            disagrees with the tags, or bounds holding fewer than 2 x 2 samples.
    """
    path = os.fspath(path)
    suffix = os.path.splitext(path)[1].lower()
    if suffix not in DEM_SUFFIXES:
        raise ValueError(f"{path}: unknown DEM format {suffix!r}; use one of {DEM_SUFFIXES}")
    if not os.path.exists(path):
        raise FileNotFoundError(path)
    if cell_size_m is not None:
        cell_size_m = float(cell_size_m)
        if not (math.isfinite(cell_size_m) and cell_size_m > 0.0):
            raise ValueError(f"cell_size_m must be a positive number of metres, got {cell_size_m!r}")
    scale = float(height_scale)
    if not (math.isfinite(scale) and scale != 0.0):
        raise ValueError(f"height_scale must be a finite non-zero number, got {height_scale!r}")

    if suffix == ".npy":
        try:
            data = np.load(path, allow_pickle=False, mmap_mode="r")
        except ValueError as exc:
            raise ValueError(f"{path}: not a readable .npy array ({exc})") from exc
        raster = _Raster(data=_single_band(path, data), cell=None, corner_xy=None)
    else:
        raster = _read_geotiff(path, bounds_xy)

    cell = raster.cell
    if cell is None:
        if cell_size_m is None:
            raise ValueError(f"{path}: the DEM has no resolution (no GeoTIFF ModelPixelScale tag); pass cell_size_m")
        cell = cell_size_m
    elif cell_size_m is not None and abs(cell_size_m - cell) > PIXEL_SCALE_TOLERANCE * cell:
        raise ValueError(f"{path}: cell_size_m={cell_size_m} disagrees with the GeoTIFF pixel scale {cell} m")

    data = raster.data[::-1] if north_up else raster.data  # Heightmap rows run North
    rows, cols = data.shape
    if origin_xy is not None:
        x0, y0 = (float(v) for v in origin_xy)
    elif raster.corner_xy is not None and north_up:
        # The stored first row is the north edge: its sample centre is corner_xy.
        x0 = raster.corner_xy[0]
        y0 = raster.corner_xy[1] - (rows - 1) * cell
    else:
        x0 = -(cols - 1) * cell / 2.0
        y0 = -(rows - 1) * cell / 2.0

    if bounds_xy is not None:
        bx0, bx1, by0, by1 = (float(v) for v in bounds_xy)
        j0 = max(0, int(math.ceil((bx0 - x0) / cell - 1e-9)))
        j1 = min(cols - 1, int(math.floor((bx1 - x0) / cell + 1e-9)))
        i0 = max(0, int(math.ceil((by0 - y0) / cell - 1e-9)))
        i1 = min(rows - 1, int(math.floor((by1 - y0) / cell + 1e-9)))
        if j1 - j0 < 1 or i1 - i0 < 1:
            raise ValueError(f"{path}: bounds_xy {bounds_xy} hold fewer than 2 x 2 samples of the DEM")
        data = data[i0 : i1 + 1, j0 : j1 + 1]
        x0 += j0 * cell
        y0 += i0 * cell

    heights = np.array(data, dtype=np.float64) * scale
    finite = np.isfinite(heights)
    if not finite.all():
        bad = int(heights.size - np.count_nonzero(finite))
        raise ValueError(
            f"{path}: {bad} of {heights.size} DEM samples are NaN or infinite; crop to the valid area "
            "(bounds_xy) or fill the gaps before loading"
        )
    return Heightmap(heights, (x0, y0), cell)


def block_average(grid: Heightmap, factor: int) -> Heightmap:
    """A coarser grid whose samples are the means of ``factor`` x ``factor`` blocks of ``grid``.

    A block's mean sits at the block's centre, (factor - 1) / 2 samples in from its corner;
    trailing rows and columns that do not fill a block are dropped.
    """
    check_int("downsample", "factor", factor, 1)
    rows, cols = grid.shape
    br, bc = rows // factor, cols // factor
    if br < 2 or bc < 2:
        raise ValueError(f"a {rows} x {cols} grid holds fewer than 2 x 2 blocks of {factor} samples")
    h = grid.heights[: br * factor, : bc * factor].reshape(br, factor, bc, factor).mean(axis=(1, 3))
    shift = (factor - 1) / 2.0 * grid.cell_size_m
    return Heightmap(h, (grid.origin_xy[0] + shift, grid.origin_xy[1] + shift), grid.cell_size_m * factor)


def tile_from_dem(
    dem: Heightmap,
    site_xy: tuple[float, float] | None = None,
    *,
    fine_size_m: float = 500.0,
    coarse_factor: int = 8,
    region_size_m: float | None = None,
    sun_azimuth_deg: float | None = None,
    sun_elevation_deg: float = SOUTH_POLE_MAX_SUN_ELEVATION_DEG,
) -> TerrainTile:
    """A terrain tile around a site of a DEM.

    Args:
        dem: the full-resolution heights (e.g. from :func:`load_dem`).
        site_xy: the target site (m, the DEM's frame); default the DEM's centre. It is moved to
            the nearest DEM sample, which becomes the centre of the fine grid.
        fine_size_m: side of the fine grid (m), a crop of the DEM at its own resolution.
        coarse_factor: the coarse grid's cell is this many DEM cells; its heights are block means.
        region_size_m: side of the square region the coarse grid covers, centred on the site
            (m); default the whole DEM.
        sun_azimuth_deg, sun_elevation_deg: when an azimuth is given, both shadow masks are
            computed for that sun.
    Raises:
        ValueError: the site or the fine grid does not fit inside the DEM.
    """
    cell = dem.cell_size_m
    rows, cols = dem.shape
    x_min, x_max, y_min, y_max = dem.extent_xy
    sx, sy = (
        ((x_min + x_max) / 2.0, (y_min + y_max) / 2.0) if site_xy is None else (float(site_xy[0]), float(site_xy[1]))
    )
    col = int(round((sx - dem.origin_xy[0]) / cell))
    row = int(round((sy - dem.origin_xy[1]) / cell))
    if not (0 <= col < cols and 0 <= row < rows):
        raise ValueError(f"site {site_xy} lies outside the DEM ({x_min:.1f}..{x_max:.1f}, {y_min:.1f}..{y_max:.1f} m)")
    half = int(round(float(fine_size_m) / (2.0 * cell)))
    if half < 1:
        raise ValueError(f"fine_size_m={fine_size_m} is smaller than two DEM cells ({cell} m)")
    room = min(col, row, cols - 1 - col, rows - 1 - row)
    if room < half:
        raise ValueError(
            f"the fine grid of {fine_size_m} m needs {half} samples on each side of the site, but the DEM "
            f"has only {room}; move the site inward or use a smaller fine_size_m"
        )
    fine = Heightmap(
        dem.heights[row - half : row + half + 1, col - half : col + half + 1],
        (dem.origin_xy[0] + (col - half) * cell, dem.origin_xy[1] + (row - half) * cell),
        cell,
    )
    site = (dem.origin_xy[0] + col * cell, dem.origin_xy[1] + row * cell)
    region = dem
    if region_size_m is not None:
        r = int(round(float(region_size_m) / (2.0 * cell)))
        i0, i1 = max(0, row - r), min(rows - 1, row + r)
        j0, j1 = max(0, col - r), min(cols - 1, col + r)
        region = Heightmap(
            dem.heights[i0 : i1 + 1, j0 : j1 + 1], (dem.origin_xy[0] + j0 * cell, dem.origin_xy[1] + i0 * cell), cell
        )
    coarse = block_average(region, int(coarse_factor))
    tile = TerrainTile(fine=fine, coarse=coarse, site_xyz=(site[0], site[1], float(dem.heights[row, col])))
    if sun_azimuth_deg is not None:
        tile = with_shadows(tile, sun_azimuth_deg, sun_elevation_deg)
    return tile


@dataclass(frozen=True)
class DemTerrainSpec:
    """A terrain pool cut from one DEM: one tile per site, for ``Scenario.terrain``.

    All tiles share the DEM, so their grids have identical shapes as a pool needs. The seed of
    ``make_pool`` is accepted and ignored: the terrain is the measured one.
    """

    path: str
    sites_xy: tuple[tuple[float, float], ...] = ((math.nan, math.nan),)
    cell_size_m: float | None = None
    fine_size_m: float = 500.0
    coarse_factor: int = 8
    region_size_m: float | None = None
    sun_azimuth_deg: float | None = 120.0
    sun_elevation_deg: float = SOUTH_POLE_MAX_SUN_ELEVATION_DEG

    def __post_init__(self) -> None:
        if not isinstance(self.path, (str, os.PathLike)):
            raise ValueError(f"DemTerrainSpec.path must be a file path, got {self.path!r}")
        sites = tuple((float(x), float(y)) for x, y in self.sites_xy)
        if not sites:
            raise ValueError("DemTerrainSpec.sites_xy must hold at least one site")
        object.__setattr__(self, "sites_xy", sites)

    def make_pool(self, seed: int = 0) -> list[TerrainTile]:
        dem = load_dem(self.path, self.cell_size_m)
        tiles = []
        for x, y in self.sites_xy:
            site = None if math.isnan(x) or math.isnan(y) else (x, y)
            tiles.append(
                tile_from_dem(
                    dem,
                    site,
                    fine_size_m=self.fine_size_m,
                    coarse_factor=self.coarse_factor,
                    region_size_m=self.region_size_m,
                    sun_azimuth_deg=self.sun_azimuth_deg,
                    sun_elevation_deg=self.sun_elevation_deg,
                )
            )
        shapes = {(t.fine.shape, t.coarse.shape) for t in tiles}
        if len(shapes) > 1:
            raise ValueError(
                "DemTerrainSpec: the sites' grids differ in shape (a site near the DEM edge clips the "
                "region); set region_size_m small enough for every site"
            )
        return tiles


__all__ = ["DemTerrainSpec", "block_average", "load_dem", "south_polar_stereographic_xy", "tile_from_dem"]
