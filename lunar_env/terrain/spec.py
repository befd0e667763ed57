"""TerrainSpec: the validated description of a pool of procedural south-pole terrain tiles.

``TerrainSpec().make_pool(seed)`` returns K :class:`~lunar_env.terrain.heightmap.TerrainTile`
objects of identical grid shapes, a pure function of (spec, seed). Each tile is drawn from its
own random stream ``numpy.random.default_rng([seed, tile_index])``, so tile k is the same
whatever K is or however many threads make the pool.

How one tile is made (docs/terrain.md gives the formulas):

1. Regional terrain on the coarse grid: a tilted plane, a massif under the site area, fractal
   relief noise and the craters the coarse grid resolves (D >= COARSE_CRATER_MIN_CELLS cells);
   its shadow mask for the tile's sun.
2. Site search: a search centre is drawn within ``site_offset_m`` of the region centre (on a
   coarse sample with the lighting asked for). Small craters and rocks are drawn around it and
   the terrain is drawn at the fine resolution on a *work* grid: the fine grid enlarged by the
   search radius on every side. Every candidate within ``site_search_radius_m`` of the centre is
   scored (slope of the plane fitted over the lander footprint, tallest rock touching it,
   shadow over it); the site policy picks one at random among those that qualify, and when none
   does a new centre is tried.
3. The fine grid is the crop of the work grid centred on the site, its border blended into the
   coarse grid so heights stay continuous where queries switch grids; its shadow mask is
   computed on that final grid (shadowed also by the coarse relief beyond it), and the site
   keeps its lighting there or the next qualified candidate is taken.

Default pool (K = 16): fine 513 x 513 samples at 1 m, coarse 501 x 501 at 40 m, float64 heights
and uint8 shadows: 4.6 MB (4.41 MiB) a tile, 74 MB (70.6 MiB) the pool
(:attr:`TerrainSpec.pool_memory_bytes`).
"""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from lunar_env.checks import check_int, check_integer
from lunar_env.config import check_interval, check_range
from lunar_env.constants import SOUTH_POLE_MAX_SUN_ELEVATION_DEG
from lunar_env.terrain import generator as gen
from lunar_env.terrain.heightmap import Heightmap, TerrainTile
from lunar_env.terrain.illumination import shadow_field, site_shadow_fraction

SITE_POLICIES = ("safe", "hazardous", "near_rim")
SITE_LIGHTING = ("lit", "shadowed", "any")

VERIFY_CANDIDATES = 8
"""Qualified candidates tried, per search area, against the final fine grid's shadow mask."""

CENTRE_DRAWS = 64
"""Random search centres drawn, per attempt, to find one whose coarse sample has the lighting asked for."""

COARSE_CRATER_MIN_CELLS = 2.5
"""Craters at least this many coarse cells wide go on the coarse grid; smaller ones only on the
fine grid (a crater narrower than about two cells would be a single-sample dimple)."""

FINE_TAPER_FRACTION = 1.0 / 16.0
"""Over this fraction of the fine grid's width at each border, the fine heights blend into the
coarse grid's bilinear surface, so the surface stays continuous where queries switch grids."""

SITE_SHADOW_RADIUS_M = 100.0
"""Radius of the landing site over which the shadow fraction is reported (m): Artemis III
candidate landing sites are about 100 m in radius (NASA)."""

MAX_TILES = 4096
"""Largest pool (tiles)."""

MAX_SITE_ATTEMPTS = 1000
"""Most search areas a tile tries before it gives up finding a landing site (count)."""

MAX_TERRAIN_SEED = 2**63 - 1
"""Largest seed of a terrain pool: seeds are non-negative int64 (numpy's SeedSequence takes any)."""

BYTES_PER_HEIGHT = 8
"""Heights are float64."""
BYTES_PER_SHADOW = 1
"""Shadow masks are uint8."""


@dataclass(frozen=True)
class SiteReport:
    """How the site of one tile was chosen and what it is like.

    Attributes:
        policy: the site policy used.
        footprint_slope_deg: slope of the plane fitted to the fine-grid samples within the
            footprint radius of the site (deg).
        rock_height_m: height of the tallest rock touching the footprint (m; 0 if none).
        footprint_shadow_fraction: fraction of the footprint's fine-grid samples in shadow.
        shadow_fraction: fraction of the fine grid within SITE_SHADOW_RADIUS_M in shadow.
        attempts: search centres tried before a qualifying candidate was found.
        candidates_qualified: fraction of the last search's candidates that qualified.
    """

    policy: str
    footprint_slope_deg: float
    rock_height_m: float
    footprint_shadow_fraction: float
    shadow_fraction: float
    attempts: int
    candidates_qualified: float


@dataclass(frozen=True)
class GeneratedTile:
    """A tile together with what it was made of (for tests, figures and site checks).

    Attributes:
        tile: the TerrainTile for the physics.
        craters: every crater drawn for the tile (regional ones, the local ones of the final
            search area and the rim crater of a near_rim site).
        rocks: the rocks drawn around the final site.
        sun_azimuth_deg, sun_elevation_deg: the sun the shadow masks were computed for.
        regional_slope_azimuth_deg: downhill direction of the regional tilt (clockwise from North).
        search_bounds: (x0, x1, y0, y1) of the area over which the local craters and rocks were
            drawn uniformly (m).
        site: the site report.
    """

    tile: TerrainTile
    craters: gen.CraterList
    rocks: gen.RockList
    sun_azimuth_deg: float
    sun_elevation_deg: float
    regional_slope_azimuth_deg: float
    search_bounds: tuple[float, float, float, float]
    site: SiteReport


def _grid_count(owner: str, size_name: str, size: float, cell_name: str, cell: float) -> int:
    """Number of cells of a grid, required to be an even integer so the centre is a sample."""
    n = size / cell
    if abs(n - round(n)) > 1e-6 * max(1.0, n) or int(round(n)) % 2:
        raise ValueError(f"{owner}.{size_name} ({size:g}) must be an even multiple of {owner}.{cell_name} ({cell:g})")
    return int(round(n))


@dataclass(frozen=True)
class TerrainSpec:
    """Procedural lunar south-pole terrain: relief, craters, rocks, sun and site selection.

    Grids:
        num_tiles: K, tiles in the pool.
        region_size_m: side of the square coarse grid (m); it must cover the flight region
            (the physics flies up to 8 km from the site): see :attr:`coverage_radius_m`.
        coarse_cell_m: coarse grid spacing (m).
        fine_size_m: side of the square fine grid centred on the site (m).
        fine_cell_m: fine grid spacing (m); 1 m resolves a 12 deg tilt across a 4 m lander.
    Relief:
        regional_slope_deg: tilt of the whole region (deg), downhill azimuth random per tile.
        relief_amplitude_m: amplitude of the largest noise octave (m): rolling highland relief.
        relief_wavelength_m: wavelength of the largest octave (m).
        relief_min_wavelength_m: shortest octave (m); metre-scale roughness comes from craters.
        relief_hurst: Hurst exponent H; octave amplitude ~ wavelength^H (est.).
        massif_height_m, massif_radius_m: a massif H exp(-(r/R)^2) centred on the region: the
            south-pole landing regions lie on massifs, ridges and rims, the high ground the low
            sun reaches (NASA's Artemis III candidate regions).
    Craters:
        crater_sfd_exponent: b in cumulative N(>D) ~ D^-b: 2.0 saturated (Minton et al. 2019),
            2.8 young surfaces at 1-100 m (Moore et al. 1980).
        crater_density_per_km2: N(>10 m) per km^2. 500 is about 3% of geometric saturation
            (1.54 D^-2, Gault 1970), the "few percent" of observed equilibrium (Minton et al. 2019).
        crater_diameter_m: (min, max) diameter (m).
        crater_depth_diameter: (most degraded, fresh) rim-to-floor depth over diameter
            (0.1-0.2: Pike 1977, Sun et al. 2018).
        crater_rim_height_ratio: fresh rim height over diameter (0.036: Pike 1977).
        crater_degraded_fraction: fraction of craters that are old and softened (est.: on a
            surface in equilibrium most craters are degraded).
    Rocks:
        rock_abundance: k, total fractional area covered by rocks (5-40%: Golombek et al. 2003);
            0 means no rocks. q = 1.79 + 0.152 / k.
        rock_diameter_m: (min, max) rock diameter drawn (m).
        rock_height_ratio: rock height over diameter (est.).
        rock_near_crater_fraction: fraction of rocks placed in fresh craters' ejecta.
    Sun:
        sun_azimuth_deg: sun azimuth clockwise from North (deg); None draws it per tile
            (uniformly, or for near_rim within 90 deg of the bearing opposite the crater, so the
            rim's shadow does not cover the site).
        sun_elevation_deg: sun elevation (deg); the pole's sun never rises above ~1.5 deg.
    Site:
        site_policy: "safe" (footprint slope <= max_site_slope_deg and rocks <= max_rock_height_m),
            "hazardous" (footprint slope >= hazard_min_slope_deg: a crater wall), or "near_rim"
            (a safe site with a fresh crater of rim_crater_diameter_m whose rim lies
            rim_distance_m from the site toward rim_bearing_deg: an approach from that side
            crosses the rim just before the site; fly approach azimuth rim_bearing_deg + 180).
        site_lighting: "lit" (the whole footprint in sunlight: optical navigation and solar
            power need it), "shadowed" (the whole footprint in shadow) or "any".
        max_site_slope_deg, footprint_radius_m, max_rock_height_m: the safe-site limits:
            10 deg leaves a margin under the 12 deg touchdown limit of the landers (ISRO); a
            2 m radius covers the Vikram-like feet at 1.8 m; 0.3 m is the rock an ALHAT-class
            hazard lidar detects (NASA).
        hazard_min_slope_deg: the least footprint slope of a hazardous site (15 deg: beyond
            the 12 deg touchdown limit).
        site_search_radius_m: candidates lie within this distance of a search centre (m).
        site_offset_m: search centres lie within this distance of the region centre (m).
        site_attempts: search centres tried before giving up.
        rim_crater_diameter_m, rim_distance_m, rim_bearing_deg: the near_rim crater.
    """

    num_tiles: int = 16
    region_size_m: float = 20_000.0
    coarse_cell_m: float = 40.0
    fine_size_m: float = 512.0
    fine_cell_m: float = 1.0
    regional_slope_deg: float = 1.0
    relief_amplitude_m: float = 250.0
    relief_wavelength_m: float = 16_000.0
    relief_min_wavelength_m: float = 16.0
    relief_hurst: float = 0.9
    massif_height_m: float = 800.0
    massif_radius_m: float = 5000.0
    crater_sfd_exponent: float = 2.0
    crater_density_per_km2: float = 500.0
    crater_diameter_m: tuple[float, float] = (2.0, 1000.0)
    crater_depth_diameter: tuple[float, float] = (0.1, 0.2)
    crater_rim_height_ratio: float = 0.036
    crater_degraded_fraction: float = 0.7
    rock_abundance: float = 0.1
    rock_diameter_m: tuple[float, float] = (0.5, 10.0)
    rock_height_ratio: float = 0.5
    rock_near_crater_fraction: float = 0.3
    sun_azimuth_deg: float | None = None
    sun_elevation_deg: float = SOUTH_POLE_MAX_SUN_ELEVATION_DEG
    site_policy: str = "safe"
    site_lighting: str = "lit"
    max_site_slope_deg: float = 10.0
    footprint_radius_m: float = 2.0
    max_rock_height_m: float = 0.3
    hazard_min_slope_deg: float = 15.0
    site_search_radius_m: float = 64.0
    site_offset_m: float = 1000.0
    site_attempts: int = 16
    rim_crater_diameter_m: float = 2000.0
    rim_distance_m: float = 300.0
    rim_bearing_deg: float = 0.0

    def __post_init__(self) -> None:
        o = "TerrainSpec"
        check_int(o, "num_tiles", self.num_tiles, 1, MAX_TILES)
        check_range(o, "region_size_m", self.region_size_m, 1000.0, 200_000.0)
        check_range(o, "coarse_cell_m", self.coarse_cell_m, 1.0, 1000.0)
        check_range(o, "fine_size_m", self.fine_size_m, 64.0, 10_000.0)
        check_range(o, "fine_cell_m", self.fine_cell_m, 0.05, 10.0)
        if self.fine_cell_m >= self.coarse_cell_m:
            raise ValueError(f"{o}.fine_cell_m ({self.fine_cell_m:g}) must be smaller than {o}.coarse_cell_m "
                             f"({self.coarse_cell_m:g})")
        _grid_count(o, "region_size_m", self.region_size_m, "coarse_cell_m", self.coarse_cell_m)
        _grid_count(o, "fine_size_m", self.fine_size_m, "fine_cell_m", self.fine_cell_m)
        check_range(o, "regional_slope_deg", self.regional_slope_deg, 0.0, 30.0)
        check_range(o, "relief_amplitude_m", self.relief_amplitude_m, 0.0, 10_000.0)
        check_range(o, "relief_wavelength_m", self.relief_wavelength_m, 1.0, 1e6)
        check_range(
            o, "relief_min_wavelength_m", self.relief_min_wavelength_m, 2.0 * self.fine_cell_m, self.relief_wavelength_m
        )
        check_range(o, "relief_hurst", self.relief_hurst, 0.0, 1.5, low_open=True)
        check_range(o, "massif_height_m", self.massif_height_m, -10_000.0, 10_000.0)
        check_range(o, "massif_radius_m", self.massif_radius_m, 100.0, 1e6)
        check_range(o, "crater_sfd_exponent", self.crater_sfd_exponent, 1.0, 4.0)
        check_range(o, "crater_density_per_km2", self.crater_density_per_km2, 0.0, 1e6)
        object.__setattr__(self, "crater_diameter_m", check_interval(
            o, "crater_diameter_m", self.crater_diameter_m, self.fine_cell_m, self.region_size_m / 4.0))
        d_min, d_max = self.crater_diameter_m
        if d_max <= d_min:
            raise ValueError(f"{o}.crater_diameter_m must have min < max, got {self.crater_diameter_m!r}")
        depth_diameter = check_interval(o, "crater_depth_diameter", self.crater_depth_diameter, 0.01, 0.5)
        object.__setattr__(self, "crater_depth_diameter", depth_diameter)
        check_range(o, "crater_rim_height_ratio", self.crater_rim_height_ratio, 0.0, 0.2)
        check_range(o, "crater_degraded_fraction", self.crater_degraded_fraction, 0.0, 1.0)
        check_range(o, "rock_abundance", self.rock_abundance, 0.0, 0.6)
        rock_diameter_m = check_interval(o, "rock_diameter_m", self.rock_diameter_m, 0.01, 100.0)
        object.__setattr__(self, "rock_diameter_m", rock_diameter_m)
        if self.rock_diameter_m[1] <= self.rock_diameter_m[0]:
            raise ValueError(f"{o}.rock_diameter_m must have min < max, got {self.rock_diameter_m!r}")
        check_range(o, "rock_height_ratio", self.rock_height_ratio, 0.0, 2.0, low_open=True)
        check_range(o, "rock_near_crater_fraction", self.rock_near_crater_fraction, 0.0, 1.0)
        if self.sun_azimuth_deg is not None:
            check_range(o, "sun_azimuth_deg", self.sun_azimuth_deg, -360.0, 720.0)
        check_range(o, "sun_elevation_deg", self.sun_elevation_deg, 0.0, 90.0, low_open=True)
        if self.site_policy not in SITE_POLICIES:
            raise ValueError(f"{o}.site_policy must be one of {SITE_POLICIES}, got {self.site_policy!r}")
        if self.site_lighting not in SITE_LIGHTING:
            raise ValueError(f"{o}.site_lighting must be one of {SITE_LIGHTING}, got {self.site_lighting!r}")
        check_range(o, "max_site_slope_deg", self.max_site_slope_deg, 0.0, 90.0, low_open=True, high_open=True)
        check_range(o, "footprint_radius_m", self.footprint_radius_m, self.fine_cell_m, self.fine_size_m / 8.0)
        check_range(o, "max_rock_height_m", self.max_rock_height_m, 0.0, 100.0)
        check_range(o, "hazard_min_slope_deg", self.hazard_min_slope_deg, self.max_site_slope_deg, 90.0, high_open=True)
        check_range(o, "site_search_radius_m", self.site_search_radius_m, 0.0, self.fine_size_m)
        check_int(o, "site_attempts", self.site_attempts, 1, MAX_SITE_ATTEMPTS)
        room = self.region_size_m / 2.0 - self.fine_size_m / 2.0 - self.site_search_radius_m
        check_range(o, "site_offset_m", self.site_offset_m, 0.0, room)
        check_range(
            o, "rim_crater_diameter_m", self.rim_crater_diameter_m, 10.0 * self.fine_cell_m, self.region_size_m / 4.0
        )
        check_range(o, "rim_distance_m", self.rim_distance_m, 0.0, self.region_size_m / 4.0)
        check_range(o, "rim_bearing_deg", self.rim_bearing_deg, -360.0, 720.0)

    # ------------------------------------------------------------------ derived sizes
    @property
    def fine_shape(self) -> tuple[int, int]:
        n = _grid_count("TerrainSpec", "fine_size_m", self.fine_size_m, "fine_cell_m", self.fine_cell_m) + 1
        return (n, n)

    @property
    def coarse_shape(self) -> tuple[int, int]:
        n = _grid_count("TerrainSpec", "region_size_m", self.region_size_m, "coarse_cell_m", self.coarse_cell_m) + 1
        return (n, n)

    @property
    def tile_memory_bytes(self) -> int:
        """Bytes of one tile's arrays: float64 heights and uint8 shadows on both grids."""
        samples = self.fine_shape[0] * self.fine_shape[1] + self.coarse_shape[0] * self.coarse_shape[1]
        return samples * (BYTES_PER_HEIGHT + BYTES_PER_SHADOW)

    @property
    def pool_memory_bytes(self) -> int:
        """Bytes of the K tiles' arrays (a stacked copy, as ``stack_tiles`` makes, costs as much again)."""
        return self.num_tiles * self.tile_memory_bytes

    @property
    def massif(self) -> tuple[float, float]:
        """(height m, radius m) of the massif under the site area."""
        return (self.massif_height_m, self.massif_radius_m)

    @property
    def coverage_radius_m(self) -> float:
        """Least distance (m) from any possible site to the edge of the coarse grid."""
        return self.region_size_m / 2.0 - self.site_offset_m - self.site_search_radius_m

    @property
    def coarse_crater_min_diameter_m(self) -> float:
        """Craters at least this wide (m) are regional: drawn over the region, on both grids."""
        smallest, largest = self.crater_diameter_m
        return min(max(smallest, COARSE_CRATER_MIN_CELLS * self.coarse_cell_m), largest)

    # ------------------------------------------------------------------ generation
    def make_pool(self, seed: int) -> list[TerrainTile]:
        """K tiles for the physics: a pure function of (spec, seed)."""
        return [g.tile for g in self.generate_pool(seed)]

    def generate_pool(self, seed: int, workers: int | None = None) -> list[GeneratedTile]:
        """K generated tiles with their crater and rock lists.

        Tiles are independent, so they are made on up to ``workers`` threads (default: the CPU
        count); the compiled kernels release the GIL. The result does not depend on ``workers``.
        """
        seed = check_terrain_seed(seed)
        if workers is None:
            import os

            workers = os.cpu_count() or 1
        workers = max(1, min(int(workers), self.num_tiles))
        if workers == 1:
            return [self.generate_tile(seed, k) for k in range(self.num_tiles)]
        with ThreadPoolExecutor(max_workers=workers) as pool:
            return list(pool.map(lambda k: self.generate_tile(seed, k), range(self.num_tiles)))

    def generate_tile(self, seed: int, index: int) -> GeneratedTile:
        """Tile ``index`` of the pool of ``seed`` (independent of num_tiles)."""
        seed = check_terrain_seed(seed)
        rng = np.random.default_rng([seed, int(index)])
        noise = gen.make_relief_noise(rng, self.relief_amplitude_m, self.relief_wavelength_m,
                                      self.relief_min_wavelength_m, self.relief_hurst)
        slope_azimuth = float(rng.uniform(0.0, 360.0))
        drawn_sun_azimuth = float(rng.uniform(0.0, 360.0))
        if self.site_policy == "near_rim":
            # Keep the site out of the rim's long shadow: the sun stands on the far side of the site.
            drawn_sun_azimuth = (self.rim_bearing_deg + 90.0 + drawn_sun_azimuth / 2.0) % 360.0
        sun_azimuth = drawn_sun_azimuth if self.sun_azimuth_deg is None else float(self.sun_azimuth_deg) % 360.0
        tilt = math.tan(math.radians(self.regional_slope_deg))
        # The regional plane falls toward slope_azimuth: its gradient points the other way.
        plane = (-tilt * math.sin(math.radians(slope_azimuth)), -tilt * math.cos(math.radians(slope_azimuth)))

        half_region = self.region_size_m / 2.0
        margin = gen.EJECTA_OUTER_RADII * self.crater_diameter_m[1] / 2.0
        reach = half_region + margin
        diameters = (self.coarse_crater_min_diameter_m, self.crater_diameter_m[1])
        regional = self._craters(rng, (-reach, reach, -reach, reach), diameters, gen.CRATER_KIND_REGIONAL)
        coarse_n = self.coarse_shape[0]
        coarse_base = Heightmap(gen.rasterize((coarse_n, coarse_n), (-half_region, -half_region), self.coarse_cell_m,
                                              noise=noise, min_wavelength_m=2.0 * self.coarse_cell_m,
                                              plane_gradient=plane, craters=regional, massif=self.massif),
                                (-half_region, -half_region), self.coarse_cell_m)
        search = _SiteSearch(self, rng, noise, plane, regional, coarse_base, sun_azimuth)
        site = search.run()

        fine = site.fine
        centre = self.fine_shape[0] // 2
        site_xyz = (site.x, site.y, float(fine.heights[centre, centre]))
        tile = TerrainTile(fine=fine, coarse=site.coarse, site_xyz=site_xyz,
                           shadow_fine=site.fine_shadow, shadow_coarse=site.coarse_shadow)
        slope, rock = self._score(fine, site.rocks, np.array([site.x]), np.array([site.y]))
        report = SiteReport(policy=self.site_policy, footprint_slope_deg=float(np.degrees(slope[0])),
                            rock_height_m=float(rock[0]),
                            footprint_shadow_fraction=site_shadow_fraction(tile, self.footprint_radius_m),
                            shadow_fraction=site_shadow_fraction(tile, SITE_SHADOW_RADIUS_M),
                            attempts=site.attempts, candidates_qualified=site.qualified)
        return GeneratedTile(tile=tile, craters=site.craters, rocks=site.rocks, sun_azimuth_deg=sun_azimuth,
                             sun_elevation_deg=float(self.sun_elevation_deg), regional_slope_azimuth_deg=slope_azimuth,
                             search_bounds=site.bounds, site=report)

    # ------------------------------------------------------------------ helpers
    def _craters(self, rng, bounds, d_range, kind) -> gen.CraterList:
        return gen.sample_craters(rng, bounds, d_range, density_per_km2=self.crater_density_per_km2,
                                  exponent=self.crater_sfd_exponent, depth_diameter=self.crater_depth_diameter,
                                  rim_height_ratio=self.crater_rim_height_ratio,
                                  degraded_fraction=self.crater_degraded_fraction, kind=kind)

    def _rim_crater(self, cx: float, cy: float) -> gen.CraterList:
        """The fresh crater of a near_rim site, its rim rim_distance_m from (cx, cy) toward rim_bearing_deg."""
        radius = self.rim_crater_diameter_m / 2.0
        bearing = math.radians(self.rim_bearing_deg)
        reach = radius + self.rim_distance_m
        return gen.make_craters([cx + reach * math.sin(bearing)], [cy + reach * math.cos(bearing)],
                                [self.rim_crater_diameter_m], [0.0], depth_diameter=self.crater_depth_diameter,
                                rim_height_ratio=self.crater_rim_height_ratio, kind=gen.CRATER_KIND_RIM)

    def _score(self, grid: Heightmap, rocks: gen.RockList, cand_x: np.ndarray, cand_y: np.ndarray):
        """(footprint slopes rad, tallest touching rock m) at candidate points on a grid."""
        slopes = gen.footprint_slopes(grid.heights, grid.origin_xy[0], grid.origin_xy[1], grid.cell_size_m,
                                      cand_x, cand_y, self.footprint_radius_m)
        reach = self.footprint_radius_m + self.rock_diameter_m[1]
        near = ((rocks.x > cand_x.min() - reach) & (rocks.x < cand_x.max() + reach)
                & (rocks.y > cand_y.min() - reach) & (rocks.y < cand_y.max() + reach))
        r = rocks.select(near)
        heights = gen.footprint_rock_heights(cand_x, cand_y, self.footprint_radius_m, r.x, r.y, r.diameter, r.height)
        return slopes, heights

    def _blend_into_coarse(
        self, fine_true: np.ndarray, fine_origin: tuple[float, float], coarse: Heightmap
    ) -> np.ndarray:
        """Fine heights whose border blends (smoothstep) into the coarse grid's bilinear surface."""
        under = np.empty_like(fine_true)
        gen.resample_bilinear(coarse.heights, coarse.origin_xy[0], coarse.origin_xy[1], coarse.cell_size_m,
                              under, fine_origin[0], fine_origin[1], self.fine_cell_m)
        n = fine_true.shape[0]
        edge = np.minimum(np.arange(n), n - 1 - np.arange(n)) * self.fine_cell_m
        t = np.clip(edge / (FINE_TAPER_FRACTION * self.fine_size_m), 0.0, 1.0)
        w1 = t * t * (3.0 - 2.0 * t)
        weight = w1[:, None] * w1[None, :]
        return under + weight * (fine_true - under)


@dataclass(frozen=True)
class _Site:
    """The outcome of a site search: the site, the features around it and its grids."""

    x: float
    y: float
    craters: gen.CraterList
    rocks: gen.RockList
    bounds: tuple[float, float, float, float]
    attempts: int
    qualified: float
    fine: Heightmap
    fine_shadow: np.ndarray
    coarse: Heightmap
    coarse_shadow: np.ndarray


class _SiteSearch:
    """Draws search areas until one holds a candidate that satisfies the site policy.

    Each search area is drawn on a *work* grid: the fine grid enlarged by the search radius on
    every side, so whichever candidate wins, the fine grid centred on it is a crop of the work
    grid, and the shadows judged during the search are the shadows the tile gets.
    """

    def __init__(self, spec: TerrainSpec, rng: np.random.Generator, noise: gen.ReliefNoise,
                 plane: tuple[float, float], regional: gen.CraterList, coarse: Heightmap, sun_azimuth: float):
        self.spec = spec
        self.rng = rng
        self.noise = noise
        self.plane = plane
        self.regional = regional
        self.coarse_base = coarse
        self.sun_azimuth = sun_azimuth
        self.base_shadow, self.base_shade = shadow_field(coarse, sun_azimuth, spec.sun_elevation_deg)
        cell = spec.fine_cell_m
        self.reach = int(math.floor(spec.site_search_radius_m / cell + 1e-9))
        step = max(1, int(round(spec.footprint_radius_m / (2.0 * cell))))  # candidate spacing (cells)
        offsets = np.arange(-self.reach, self.reach + 1, step)
        oj, oi = np.meshgrid(offsets, offsets)
        keep = (oj * cell) ** 2 + (oi * cell) ** 2 <= spec.site_search_radius_m ** 2 + 1e-9
        self.off_j = oj[keep]
        self.off_i = oi[keep]

    def _centre(self) -> tuple[float, float]:
        """A search centre within site_offset_m of the region centre, on the fine lattice.

        When a lighting is asked for, up to CENTRE_DRAWS centres are drawn and the first whose
        nearest coarse sample has that lighting is kept (else the last one drawn).
        """
        spec = self.spec
        cell = spec.fine_cell_m
        coarse = self.coarse_base
        for _ in range(CENTRE_DRAWS if spec.site_lighting != "any" else 1):
            radius = spec.site_offset_m * math.sqrt(self.rng.random())
            angle = self.rng.uniform(0.0, 2.0 * math.pi)
            cx = round(radius * math.cos(angle) / cell) * cell
            cy = round(radius * math.sin(angle) / cell) * cell
            if spec.site_lighting == "any":
                break
            col = int(round((cx - coarse.origin_xy[0]) / coarse.cell_size_m))
            row = int(round((cy - coarse.origin_xy[1]) / coarse.cell_size_m))
            if bool(self.base_shadow[row, col]) == (spec.site_lighting == "shadowed"):
                break
        return cx, cy

    def _coarse_with(self, rim: gen.CraterList):
        """The coarse grid, its shadow mask and shadow surface, with the near_rim crater if any."""
        if rim.size == 0:
            return self.coarse_base, self.base_shadow, self.base_shade
        c = self.coarse_base
        heights = c.heights.copy()
        gen.add_craters(heights, c.origin_xy[0], c.origin_xy[1], c.cell_size_m, rim.x, rim.y, rim.diameter, rim.depth,
                        rim.rim_height, rim.degradation)
        coarse = Heightmap(heights, c.origin_xy, c.cell_size_m)
        mask, shade = shadow_field(coarse, self.sun_azimuth, self.spec.sun_elevation_deg)
        return coarse, mask, shade

    def run(self) -> _Site:
        spec = self.spec
        cell = spec.fine_cell_m
        fine_n = spec.fine_shape[0]
        half_cells = fine_n // 2
        work_half = half_cells + self.reach
        work_n = 2 * work_half + 1
        d_split = spec.coarse_crater_min_diameter_m
        slope_limit = math.radians(spec.max_site_slope_deg)
        hazard_limit = math.radians(spec.hazard_min_slope_deg)
        for attempt in range(1, spec.site_attempts + 1):
            cx, cy = self._centre()
            span = work_half * cell
            bounds = (cx - span, cx + span, cy - span, cy + span)
            pad = gen.EJECTA_OUTER_RADII * d_split / 2.0
            local = spec._craters(self.rng, (bounds[0] - pad, bounds[1] + pad, bounds[2] - pad, bounds[3] + pad),
                                  (spec.crater_diameter_m[0], d_split), gen.CRATER_KIND_LOCAL)
            rim = spec._rim_crater(cx, cy) if spec.site_policy == "near_rim" else gen.CraterList.empty()
            craters = gen.CraterList.concat(self.regional, local, rim)
            if spec.rock_abundance > 0.0:
                rocks = gen.sample_rocks(self.rng, bounds, abundance=spec.rock_abundance, d_range=spec.rock_diameter_m,
                                         height_ratio=spec.rock_height_ratio,
                                         near_crater_fraction=spec.rock_near_crater_fraction, craters=craters)
            else:
                rocks = gen.RockList.empty()
            coarse, coarse_mask, coarse_shade = self._coarse_with(rim)
            origin = (cx - span, cy - span)
            work = Heightmap(gen.rasterize((work_n, work_n), origin, cell, noise=self.noise,
                                           min_wavelength_m=spec.relief_min_wavelength_m, plane_gradient=self.plane,
                                           craters=craters, rocks=rocks, massif=spec.massif), origin, cell)
            work_mask, _ = shadow_field(work, self.sun_azimuth, spec.sun_elevation_deg,
                                        outer=(coarse_shade, coarse.origin_xy, coarse.cell_size_m))
            cand_x = cx + self.off_j * cell
            cand_y = cy + self.off_i * cell
            slopes, rock_heights = spec._score(work, rocks, cand_x, cand_y)
            if spec.site_policy == "hazardous":
                ok = slopes >= hazard_limit
            else:
                ok = (slopes <= slope_limit) & (rock_heights <= spec.max_rock_height_m)
            ok &= np.isfinite(slopes)
            if spec.site_lighting != "any" and ok.any():
                dark = gen.footprint_mean(work_mask.astype(np.float64), origin[0], origin[1], cell, cand_x, cand_y,
                                          spec.footprint_radius_m)
                ok &= (dark == 0.0) if spec.site_lighting == "lit" else (dark == 1.0)
            # The tile's own shadow mask is computed on its final (border-blended) fine grid; a
            # candidate keeps its lighting there too, or the next qualified one is tried.
            for k in self.rng.permutation(np.flatnonzero(ok))[:VERIFY_CANDIDATES]:
                i0 = self.reach + int(self.off_i[k])
                j0 = self.reach + int(self.off_j[k])
                x, y = float(cand_x[k]), float(cand_y[k])
                fine_origin = (x - half_cells * cell, y - half_cells * cell)
                heights = spec._blend_into_coarse(work.heights[i0:i0 + fine_n, j0:j0 + fine_n], fine_origin, coarse)
                fine = Heightmap(heights, fine_origin, cell)
                fine_shadow, _ = shadow_field(fine, self.sun_azimuth, spec.sun_elevation_deg,
                                              outer=(coarse_shade, coarse.origin_xy, coarse.cell_size_m))
                if spec.site_lighting != "any":
                    dark = gen.footprint_mean(fine_shadow.astype(np.float64), fine_origin[0], fine_origin[1], cell,
                                              np.array([x]), np.array([y]), spec.footprint_radius_m)[0]
                    if dark != (0.0 if spec.site_lighting == "lit" else 1.0):
                        continue
                return _Site(x=x, y=y, craters=craters, rocks=rocks, bounds=bounds, attempts=attempt,
                             qualified=float(ok.mean()), fine=fine, fine_shadow=fine_shadow, coarse=coarse,
                             coarse_shadow=coarse_mask)
        hint = ("lower hazard_min_slope_deg or raise crater_density_per_km2" if spec.site_policy == "hazardous"
                else "raise max_site_slope_deg or max_rock_height_m, or lower crater_density_per_km2 or rock_abundance")
        raise ValueError(f"TerrainSpec: no {spec.site_policy} site with lighting {spec.site_lighting!r} found in "
                         f"{spec.site_attempts} search areas; {hint}, set site_lighting='any', or raise site_attempts")


def check_terrain_seed(seed, name: str = "terrain_seed") -> int:
    """The seed of a terrain pool as an int; a ValueError naming ``name`` otherwise."""
    return check_integer(name, seed, 0, MAX_TERRAIN_SEED)
