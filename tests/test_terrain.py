"""Procedural south-pole terrain, illumination and DEM loading."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from lunar_env.terrain import generator as gen
from lunar_env.terrain.dem import (
    DemTerrainSpec,
    block_average,
    load_dem,
    south_polar_stereographic_xy,
    tile_from_dem,
)
from lunar_env.terrain.heightmap import Heightmap, TerrainTile, stack_tiles, terrain_height
from lunar_env.terrain.illumination import (
    march_shadow_mask,
    shadow_field,
    shadow_masks,
    site_shadow_fraction,
    sun_direction,
    with_shadows,
)
from lunar_env.terrain.spec import TerrainSpec

tifffile = pytest.importorskip("tifffile")

# A smaller spec for statistics over many tiles: same models, a 10 km region and a 256 m fine grid.
SMALL = dict(region_size_m=10_000.0, fine_size_m=256.0, site_offset_m=500.0, relief_wavelength_m=8000.0,
             massif_radius_m=3000.0)


def fit_sfd_exponent(diameters: np.ndarray, d_min: float, d_max: float) -> float:
    """Maximum-likelihood b of the truncated cumulative power law N(>D) ~ D^-b on [d_min, d_max].

    The score n/b + n ln(d_min) - sum ln D + n r^b ln(r) / (1 - r^b), r = d_min/d_max, falls
    monotonically in b; its root is found by bisection.
    """
    n = diameters.size
    sum_log = np.log(diameters).sum()
    ratio = d_min / d_max

    def score(b: float) -> float:
        return n / b + n * math.log(d_min) - sum_log + n * ratio ** b * math.log(ratio) / (1.0 - ratio ** b)

    lo, hi = 0.05, 8.0
    for _ in range(100):
        mid = 0.5 * (lo + hi)
        if score(mid) > 0.0:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


def in_bounds(craters: gen.CraterList, bounds) -> np.ndarray:
    x0, x1, y0, y1 = bounds
    return (craters.x >= x0) & (craters.x <= x1) & (craters.y >= y0) & (craters.y <= y1)


@pytest.fixture(scope="module")
def default_pool():
    spec = TerrainSpec()
    return spec, spec.generate_pool(7)


# --------------------------------------------------------------------------- craters


@pytest.mark.parametrize("exponent", [2.0, 2.8])
def test_crater_size_exponent_fits_the_configured_one(exponent):
    spec = TerrainSpec(num_tiles=3, crater_sfd_exponent=exponent, site_lighting="any", **SMALL)
    diameters = []
    for g in spec.generate_pool(11):
        # Inside the search area both crater populations are drawn at the same density, so the
        # craters there follow the power law over the whole diameter range.
        keep = in_bounds(g.craters, g.search_bounds) & (g.craters.kind != gen.CRATER_KIND_RIM)
        diameters.append(g.craters.diameter[keep])
    d = np.concatenate(diameters)
    assert d.size > 2000
    b = fit_sfd_exponent(d, *spec.crater_diameter_m)
    assert abs(b - exponent) < 0.2, (b, d.size)


def test_crater_count_matches_the_density():
    rng = np.random.default_rng(3)
    area_km2 = 4.0
    craters = gen.sample_craters(rng, (0.0, 2000.0, 0.0, 2000.0), (10.0, 1000.0), density_per_km2=500.0, exponent=2.0,
                                 depth_diameter=(0.1, 0.2), rim_height_ratio=0.036, degraded_fraction=0.5,
                                 kind=gen.CRATER_KIND_LOCAL)
    expected = 500.0 * area_km2 * (1.0 - 0.01 ** 2)  # N(>10 m) less N(>1000 m)
    assert abs(craters.size - expected) < 5.0 * math.sqrt(expected)


def test_depth_diameter_in_range_and_degraded_craters_shallower(default_pool):
    spec, pool = default_pool
    lo, hi = spec.crater_depth_diameter
    for g in pool[:4]:
        ratio = g.craters.depth_diameter_ratio
        assert np.all(ratio >= lo - 1e-12) and np.all(ratio <= hi + 1e-12)
        fresh = g.craters.fresh
        assert ratio[fresh].mean() > ratio[~fresh].mean()
        assert np.all(g.craters.rim_height[~fresh] < spec.crater_rim_height_ratio * g.craters.diameter[~fresh])
        frac = 1.0 - fresh.mean()
        n = fresh.size
        assert abs(frac - spec.crater_degraded_fraction) < 5.0 * math.sqrt(0.25 / n)


def test_rasterized_crater_has_its_depth_and_rim():
    diameter = 100.0
    crater = gen.make_craters([0.0], [0.0], [diameter], [0.0], depth_diameter=(0.1, 0.2), rim_height_ratio=0.036,
                              kind=gen.CRATER_KIND_LOCAL)
    n = 401
    heights = gen.rasterize((n, n), (-200.0, -200.0), 1.0, noise=None, min_wavelength_m=1.0, plane_gradient=(0.0, 0.0),
                            craters=crater)
    floor = heights[n // 2, n // 2]
    crest = heights.max()
    assert floor == pytest.approx(0.036 * diameter - 0.2 * diameter, abs=1e-9)  # rim - depth at the centre
    assert crest - floor == pytest.approx(0.2 * diameter, rel=0.03)  # the rounded crest loses a little
    r_crest = np.hypot(*np.unravel_index(np.argmax(heights), heights.shape) - np.array([n // 2, n // 2]))
    assert r_crest == pytest.approx(diameter / 2, abs=2.0)
    assert heights[0, 0] == 0.0  # beyond the ejecta the surface is untouched
    # Ejecta thin outward as r^-3: halfway out (r = 2 radii) about 1/8 of the rim height.
    assert heights[n // 2, n // 2 + 100] == pytest.approx(0.036 * diameter * (1 / 8 - 1 / 27) / (1 - 1 / 27), rel=1e-6)


def test_noise_table_equals_pointwise_noise():
    rng = np.random.default_rng(5)
    noise = gen.make_relief_noise(rng, 100.0, 4000.0, 16.0, 0.9)
    shape, origin, cell = (23, 31), (-1234.5, 777.0), 7.3
    grid = gen.rasterize(shape, origin, cell, noise=noise, min_wavelength_m=16.0, plane_gradient=(0.0, 0.0),
                         craters=gen.CraterList.empty())
    i, j = 17, 5
    x, y = origin[0] + j * cell, origin[1] + i * cell
    expected = 0.0
    for o in range(noise.keys.size):
        u = (noise.cos_rotation[o] * x + noise.sin_rotation[o] * y) / noise.wavelength_m[o] + noise.offset[o, 0]
        v = (-noise.sin_rotation[o] * x + noise.cos_rotation[o] * y) / noise.wavelength_m[o] + noise.offset[o, 1]
        expected += noise.amplitude_m[o] * gen.gradient_noise(noise.keys[o], u, v) * gen.NOISE_NORMALISATION
    assert grid[i, j] == pytest.approx(expected, abs=1e-9)


# --------------------------------------------------------------------------- rocks


def test_rock_cover_follows_golombek():
    k = 0.1
    assert gen.golombek_q(k) == pytest.approx(1.79 + 0.152 / k)
    rng = np.random.default_rng(9)
    side = 300.0
    rocks = gen.sample_rocks(rng, (0.0, side, 0.0, side), abundance=k, d_range=(0.5, 10.0), height_ratio=0.5,
                             near_crater_fraction=0.0, craters=gen.CraterList.empty())
    area = side * side
    for d in (0.5, 1.0, 1.5):
        covered = (np.pi * rocks.diameter[rocks.diameter >= d] ** 2 / 4.0).sum() / area
        expected = gen.rock_cover_fraction(d, k) - gen.rock_cover_fraction(10.0, k)
        # Poisson spread of the count of the rocks that carry the cover, with margin.
        n = max(1, int((rocks.diameter >= d).sum()))
        assert abs(covered - expected) < 4.0 * expected / math.sqrt(n) + 1e-4, (d, covered, expected)
    assert np.allclose(rocks.height, 0.5 * rocks.diameter)


def test_rocks_cluster_near_fresh_craters():
    rng = np.random.default_rng(2)
    crater = gen.make_craters([150.0], [150.0], [60.0], [0.0], depth_diameter=(0.1, 0.2), rim_height_ratio=0.036,
                              kind=gen.CRATER_KIND_LOCAL)
    rocks = gen.sample_rocks(rng, (0.0, 300.0, 0.0, 300.0), abundance=0.1, d_range=(0.5, 10.0), height_ratio=0.5,
                             near_crater_fraction=0.5, craters=crater)
    r = np.hypot(rocks.x - 150.0, rocks.y - 150.0) / 30.0
    in_annulus = ((r >= 1.0) & (r <= 2.0)).mean()
    uniform_share = np.pi * (60.0 ** 2 - 30.0 ** 2) / 300.0 ** 2  # 9% of the area
    assert in_annulus > 0.5  # half placed there, plus the uniform share
    assert in_annulus < 0.5 + uniform_share + 0.05


# --------------------------------------------------------------------------- sites


@pytest.mark.parametrize("policy", ["safe", "hazardous"])
def test_site_slopes_respect_the_policy(policy):
    spec = TerrainSpec(num_tiles=6, site_policy=policy, **SMALL)
    pool = spec.generate_pool(3)
    slopes = []
    for g in pool:
        fine = g.tile.fine
        sx, sy, sz = g.tile.site_xyz
        slope = math.degrees(gen.footprint_slopes(fine.heights, *fine.origin_xy, fine.cell_size_m, np.array([sx]),
                                                  np.array([sy]), spec.footprint_radius_m)[0])
        assert slope == pytest.approx(g.site.footprint_slope_deg)
        slopes.append(slope)
        assert sz == pytest.approx(fine.height_at(sx, sy))
        assert g.site.footprint_shadow_fraction == 0.0  # default lighting: the footprint is lit
        if policy == "safe":
            assert g.site.rock_height_m <= spec.max_rock_height_m
            near = np.hypot(g.rocks.x - sx, g.rocks.y - sy) <= spec.footprint_radius_m + g.rocks.diameter / 2
            assert np.all(g.rocks.height[near] <= spec.max_rock_height_m)
    slopes = np.array(slopes)
    if policy == "safe":
        assert np.all(slopes <= spec.max_site_slope_deg)
    else:
        assert np.all(slopes >= spec.hazard_min_slope_deg) and np.all(slopes > spec.max_site_slope_deg)


def test_safe_sites_are_flatter_than_random_points_under_the_physics_query():
    spec = TerrainSpec(num_tiles=4, **SMALL)
    pool = spec.generate_pool(4)
    arrays = stack_tiles([g.tile for g in pool])
    from lunar_env.terrain.heightmap import terrain_slope

    rng = np.random.default_rng(0)
    site, anywhere = [], []
    for k, g in enumerate(pool):
        sx, sy, _ = g.tile.site_xyz
        for a in np.linspace(0, 2 * np.pi, 8, endpoint=False):
            site.append(terrain_slope(arrays, k, sx + 0.5 * math.cos(a), sy + 0.5 * math.sin(a)))
        for x, y in rng.uniform(-100, 100, (64, 2)):
            anywhere.append(terrain_slope(arrays, k, sx + x, sy + y))
    assert np.mean(site) < np.mean(anywhere)


def test_near_rim_site_has_the_crater_rim_toward_its_bearing():
    spec = TerrainSpec(num_tiles=2, site_policy="near_rim", rim_crater_diameter_m=1500.0, rim_distance_m=250.0,
                       rim_bearing_deg=90.0, **SMALL)
    for g in spec.generate_pool(5):
        rim = g.craters.select(g.craters.kind == gen.CRATER_KIND_RIM)
        assert rim.size == 1 and rim.degradation[0] == 0.0
        sx, sy, sz = g.tile.site_xyz
        to_rim = math.hypot(rim.x[0] - sx, rim.y[0] - sy) - rim.diameter[0] / 2
        assert abs(to_rim - spec.rim_distance_m) <= spec.site_search_radius_m + 1.0
        assert math.degrees(math.atan2(rim.x[0] - sx, rim.y[0] - sy)) == pytest.approx(90.0, abs=15.0)
        # Flying in from the East, the ground drops into the crater just before the site.
        east = np.array([g.tile.coarse.height_at(sx + d, sy) for d in np.arange(0.0, 1500.0, 20.0)])
        assert east.max() - east.min() > 0.1 * rim.diameter[0]
        sun = (g.sun_azimuth_deg - 90.0) % 360.0
        assert 90.0 <= sun <= 270.0  # the sun stands away from the crater


def test_unreachable_policy_raises_a_clear_error():
    spec = TerrainSpec(num_tiles=1, max_site_slope_deg=0.01, site_attempts=1, **SMALL)
    with pytest.raises(ValueError, match="no safe site"):
        spec.make_pool(0)


# --------------------------------------------------------------------------- grids and pools


def test_fine_grid_sees_the_coarse_terrain_and_joins_it_continuously(default_pool):
    spec, pool = default_pool
    g = pool[0]
    fine, coarse = g.tile.fine, g.tile.coarse
    under = np.empty_like(fine.heights)
    gen.resample_bilinear(coarse.heights, *coarse.origin_xy, coarse.cell_size_m, under, *fine.origin_xy,
                          fine.cell_size_m)
    difference = fine.heights - under
    # Same large-scale terrain: the fine grid differs from the coarse surface by its small
    # craters, rocks and short noise, metres against tens of metres of relief across the grid.
    assert np.sqrt(np.mean(difference ** 2)) < 0.1 * (fine.heights.max() - fine.heights.min())
    assert np.corrcoef(fine.heights.ravel(), under.ravel())[0, 1] > 0.9
    # At the border the fine grid equals the coarse surface, so queries do not jump there.
    for edge in (difference[0], difference[-1], difference[:, 0], difference[:, -1]):
        assert np.max(np.abs(edge)) < 1e-9
    arrays = stack_tiles([g.tile])
    x0, x1, y0, y1 = fine.extent_xy
    ys = np.linspace(y0 + 10, y1 - 10, 25)
    inside = np.array([terrain_height(arrays, 0, x1 - 1e-6, y) for y in ys])
    outside = np.array([terrain_height(arrays, 0, x1 + 1e-6, y) for y in ys])
    assert np.max(np.abs(inside - outside)) < 1e-3


def test_pool_is_deterministic_and_seed_dependent():
    spec = TerrainSpec(num_tiles=2, **SMALL)
    a = spec.make_pool(42)
    b = TerrainSpec(num_tiles=2, **SMALL).make_pool(42)
    c = spec.make_pool(43)
    for ta, tb in zip(a, b):
        assert ta.site_xyz == tb.site_xyz
        for name in ("heights",):
            assert np.array_equal(getattr(ta.fine, name), getattr(tb.fine, name))
            assert np.array_equal(getattr(ta.coarse, name), getattr(tb.coarse, name))
        assert np.array_equal(ta.shadow_fine, tb.shadow_fine) and np.array_equal(ta.shadow_coarse, tb.shadow_coarse)
    assert not np.array_equal(a[0].fine.heights, c[0].fine.heights)
    assert not np.array_equal(a[0].coarse.heights, c[0].coarse.heights)
    # Tile k depends only on (seed, k): not on the pool size nor on the number of threads.
    one = dataclasses.replace(spec, num_tiles=1).generate_pool(42, workers=1)[0].tile
    assert np.array_equal(one.fine.heights, a[0].fine.heights)
    threaded = spec.generate_pool(42, workers=2)
    assert np.array_equal(threaded[1].tile.coarse.heights, a[1].coarse.heights)


def test_default_pool_memory(default_pool):
    spec, pool = default_pool
    tiles = [g.tile for g in pool]
    nbytes = sum(t.fine.heights.nbytes + t.coarse.heights.nbytes + t.shadow_fine.nbytes + t.shadow_coarse.nbytes
                 for t in tiles)
    assert nbytes == spec.pool_memory_bytes
    assert nbytes < 100 * 2**20
    shapes = {(t.fine.shape, t.coarse.shape, t.fine.cell_size_m, t.coarse.cell_size_m) for t in tiles}
    assert len(shapes) == 1  # a pool needs identical grids
    assert spec.coverage_radius_m >= 8000.0  # the physics flies up to 8 km from the site
    for t in tiles:
        x0, x1, y0, y1 = t.coarse.extent_xy
        sx, sy, _ = t.site_xyz
        assert min(sx - x0, x1 - sx, sy - y0, y1 - sy) >= 8000.0


def test_scenario_with_procedural_terrain_runs():
    from helpers import scenario

    from lunar_env.simulator import LanderBatch

    spec = TerrainSpec(num_tiles=2, **SMALL)
    batch = LanderBatch(scenario(terrain=spec), num_landers=4, terrain_seed=1)
    assert batch.terrain.fine_heights.shape[0] == 2
    assert np.allclose(batch.sites, [t.site_xyz for t in spec.make_pool(1)])
    obs = batch.reset(seed=0)
    assert np.all(np.isfinite(obs))


# --------------------------------------------------------------------------- shadows


def step_tile(height: float, azimuth_deg: float) -> TerrainTile:
    """A plateau of ``height`` m west of x = 0 (samples at x <= -1) and flat ground east of it."""
    n_x, n_y = 400, 200
    xs = -100.0 + np.arange(n_x)
    heights = np.where(xs[None, :] <= -1.0, height, 0.0) * np.ones((n_y, 1))
    grid = Heightmap(heights, (-100.0, -100.0), 1.0)
    return TerrainTile(fine=grid, coarse=grid)


@pytest.mark.parametrize("azimuth", [270.0, 240.0, 300.0])
def test_a_step_casts_a_shadow_of_length_h_over_tan_elevation(azimuth):
    height, elevation = 10.0, 5.0
    tile = step_tile(height, azimuth)
    mask, _ = shadow_field(tile.fine, azimuth, elevation)
    length = height / math.tan(math.radians(elevation))  # along the sun direction
    along_x = length * abs(math.sin(math.radians(azimuth)))
    # A row whose rays toward the sun stay on the grid all the way to the step.
    r = 150 if math.cos(math.radians(azimuth)) < 0 else 50
    row = mask[r]
    xs = tile.fine.origin_xy[0] + np.arange(row.size)
    shadowed = xs[row == 1]
    assert shadowed.min() == 0.0  # the shadow starts at the foot of the step...
    tolerance = 1.0 if azimuth == 270.0 else 2.0  # oblique sweeps interpolate between samples
    assert abs(shadowed.max() - (-1.0 + along_x)) <= tolerance  # ...and ends h / tan(e) from the edge
    assert np.all(row[(xs >= 0.0) & (xs < -1.0 + along_x - tolerance)] == 1)
    assert np.all(mask[:, xs <= -1.0] == 0)  # the plateau is lit
    marched = march_shadow_mask(tile, azimuth, elevation)
    assert abs(xs[marched[r] == 1].max() - (-1.0 + along_x)) <= 1.0


def test_flat_and_tilted_planes():
    flat = Heightmap(np.zeros((50, 70)), (0.0, 0.0), 2.0)
    for az in (0.0, 37.0, 135.0, 270.0):
        mask, _ = shadow_field(flat, az, 1.5)
        assert not mask.any()
    # Ground falling away from the sun more steeply than the sun is high is self-shadowed.
    xs = np.arange(70) * 2.0
    falling = Heightmap(np.broadcast_to(-0.05 * xs, (50, 70)).copy(), (0.0, 0.0), 2.0)  # 2.9 deg down to the east
    mask, _ = shadow_field(falling, 270.0, 1.5)
    assert mask[:, 1:].all() and not mask[:, 0].any()  # the first column has nothing upsun
    mask, _ = shadow_field(falling, 270.0, 4.0)
    assert not mask.any()
    mask, _ = shadow_field(falling, 90.0, 1.5)  # facing the sun
    assert not mask.any()


def test_distant_coarse_relief_shadows_the_fine_grid():
    cell = 40.0
    n = 301
    xs = -6000.0 + cell * np.arange(n)
    coarse_h = np.zeros((n, n))
    ridge = (xs > -4000.0) & (xs < -3500.0)  # a ridge 3.5-4 km west of the site
    fine = Heightmap(np.zeros((101, 101)), (-50.0, -50.0), 1.0)
    for height, expect_shadow in ((200.0, True), (50.0, False)):  # shadows of 7.6 km and 1.9 km
        h = coarse_h.copy()
        h[:, ridge] = height
        coarse = Heightmap(h, (-6000.0, -6000.0), cell)
        fine_mask, coarse_mask = shadow_masks(fine, coarse, 270.0, 1.5)
        assert bool(fine_mask.all()) is expect_shadow
        assert not fine_mask.any() or expect_shadow
        tile = TerrainTile(fine=fine, coarse=coarse)
        marched = march_shadow_mask(tile, 270.0, 1.5)
        assert bool(marched.all()) is expect_shadow


def test_sweep_agrees_with_ray_marching_on_generated_terrain(default_pool):
    spec, pool = default_pool
    g = pool[1]
    small = dataclasses.replace(
        g.tile, fine=Heightmap(g.tile.fine.heights[200:313, 200:313],
                               (g.tile.fine.origin_xy[0] + 200.0, g.tile.fine.origin_xy[1] + 200.0), 1.0))
    for az in (g.sun_azimuth_deg, 90.0, 200.0):
        fine_mask, coarse_mask = shadow_masks(small.fine, small.coarse, az, spec.sun_elevation_deg)
        marched = march_shadow_mask(small, az, spec.sun_elevation_deg)
        assert (fine_mask == marched).mean() > 0.95


def test_sun_direction_and_site_shadow_fraction():
    assert np.allclose(sun_direction(90.0, 0.0), [1.0, 0.0, 0.0])
    assert np.allclose(sun_direction(0.0, 90.0), [0.0, 0.0, 1.0], atol=1e-12)
    d = sun_direction(200.0, 1.5)
    assert np.linalg.norm(d) == pytest.approx(1.0)
    assert d[2] == pytest.approx(math.sin(math.radians(1.5)))
    grid = Heightmap(np.zeros((21, 21)), (-10.0, -10.0), 1.0)
    mask = np.zeros((21, 21), dtype=np.uint8)
    mask[:, :10] = 1  # the western half, x < 0
    tile = TerrainTile(fine=grid, coarse=grid, shadow_fine=mask, shadow_coarse=mask)
    inside = np.add.outer(np.arange(-10, 11) ** 2, np.arange(-10, 11) ** 2) <= 25
    assert site_shadow_fraction(tile, 5.0) == pytest.approx(mask[inside].mean())
    with pytest.raises(ValueError, match="no fine shadow mask"):
        site_shadow_fraction(TerrainTile(fine=grid, coarse=grid), 5.0)
    with pytest.raises(ValueError, match="radius_m"):
        site_shadow_fraction(tile, 0.0)
    with pytest.raises(ValueError, match="elevation"):
        with_shadows(tile, 10.0, 0.0)


# --------------------------------------------------------------------------- DEM


def write_geotiff(path, north_up_rows: np.ndarray, cell: float, corner=(1000.0, 5000.0), **extra):
    tags = [(33550, "d", 3, (cell, extra.pop("cell_y", cell), 0.0), False),
            (33922, "d", 6, (0.0, 0.0, 0.0, corner[0], corner[1], 0.0), False)]
    if "nodata" in extra:
        tags.append((42113, "s", 0, str(extra.pop("nodata")), False))
    tifffile.imwrite(path, north_up_rows.astype(np.float32), extratags=tags)


def test_geotiff_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    heights = rng.normal(0.0, 50.0, (30, 40)).astype(np.float32).astype(np.float64)  # Heightmap order, row 0 south
    path = tmp_path / "site.tif"
    write_geotiff(path, heights[::-1], 5.0, corner=(1000.0, 5000.0))
    dem = load_dem(path)
    assert dem.cell_size_m == 5.0
    assert np.array_equal(dem.heights, heights)
    # PixelIsArea: the first stored sample's centre is half a pixel inside the tiepoint corner.
    assert dem.origin_xy == pytest.approx((1002.5, 5000.0 - 2.5 - 29 * 5.0))
    assert load_dem(path, cell_size_m=5.0).cell_size_m == 5.0
    crop = load_dem(path, bounds_xy=(1100.0, 1150.0, 4900.0, 4950.0))
    assert crop.height_at(1102.5, 4902.5) == pytest.approx(dem.height_at(1102.5, 4902.5))
    assert load_dem(path, height_scale=1000.0).heights == pytest.approx(1000.0 * heights)


def test_npy_round_trip(tmp_path):
    heights = np.arange(60.0).reshape(6, 10)
    path = tmp_path / "dem.npy"
    np.save(path, heights)
    dem = load_dem(path, cell_size_m=20.0, north_up=False)
    assert dem.cell_size_m == 20.0 and np.array_equal(dem.heights, heights)
    assert dem.origin_xy == (-90.0, -50.0)  # centred on (0, 0)
    flipped = load_dem(path, cell_size_m=20.0, origin_xy=(5.0, 6.0))
    assert np.array_equal(flipped.heights, heights[::-1]) and flipped.origin_xy == (5.0, 6.0)


@pytest.mark.parametrize("case, message", [
    ("npy_no_cell", "no resolution"),
    ("tif_no_scale", "no resolution"),
    ("nan", "NaN or infinite"),
    ("bands", "one 2-D band"),
    ("one_row", "at least 2 x 2"),
    ("nodata", "no-data"),
    ("non_square", "not square"),
    ("cell_conflict", "disagrees"),
    ("suffix", "unknown DEM format"),
    ("garbage", "not a readable TIFF"),
    ("strings", "real numbers"),
])
def test_malformed_dems_are_refused(tmp_path, case, message):
    good = np.ones((8, 8))
    if case == "npy_no_cell":
        path = tmp_path / "a.npy"
        np.save(path, good)
        call = dict()
    elif case == "tif_no_scale":
        path = tmp_path / "a.tif"
        tifffile.imwrite(path, good.astype(np.float32))
        call = dict()
    elif case == "nan":
        path = tmp_path / "a.npy"
        bad = good.copy()
        bad[3, 4] = np.nan
        np.save(path, bad)
        call = dict(cell_size_m=5.0)
    elif case == "bands":
        path = tmp_path / "a.npy"
        np.save(path, np.ones((3, 8, 8)))
        call = dict(cell_size_m=5.0)
    elif case == "one_row":
        path = tmp_path / "a.npy"
        np.save(path, np.ones((1, 8)))
        call = dict(cell_size_m=5.0)
    elif case == "nodata":
        path = tmp_path / "a.tif"
        bad = good.copy()
        bad[0, 0] = -9999.0
        write_geotiff(path, bad, 5.0, nodata=-9999)
        call = dict()
    elif case == "non_square":
        path = tmp_path / "a.tif"
        write_geotiff(path, good, 5.0, cell_y=4.0)
        call = dict()
    elif case == "cell_conflict":
        path = tmp_path / "a.tif"
        write_geotiff(path, good, 5.0)
        call = dict(cell_size_m=20.0)
    elif case == "suffix":
        path = tmp_path / "a.png"
        path.write_bytes(b"x")
        call = dict()
    elif case == "garbage":
        path = tmp_path / "a.tif"
        path.write_bytes(b"this is not a tiff file at all")
        call = dict()
    else:
        path = tmp_path / "a.npy"
        np.save(path, np.array([["a", "b"], ["c", "d"]]))
        call = dict(cell_size_m=5.0)
    with pytest.raises(ValueError, match=message):
        load_dem(path, **call)


def test_tile_from_dem_and_block_average(tmp_path):
    cell = 5.0
    n = 401
    xs = cell * np.arange(n)
    plane = 0.1 * xs[None, :] - 0.05 * xs[:, None] + 100.0
    dem = Heightmap(plane, (0.0, 0.0), cell)
    coarse = block_average(dem, 8)
    assert coarse.cell_size_m == 40.0 and coarse.shape == (50, 50)
    # A block mean of a plane is the plane at the block centre.
    assert coarse.height_at(500.0, 700.0) == pytest.approx(dem.height_at(500.0, 700.0))
    tile = tile_from_dem(dem, (1003.0, 998.0), fine_size_m=200.0, coarse_factor=8, sun_azimuth_deg=45.0)
    assert tile.site_xyz == (1005.0, 1000.0, pytest.approx(dem.height_at(1005.0, 1000.0)))
    assert tile.fine.shape == (41, 41) and tile.fine.cell_size_m == cell
    assert tile.fine.extent_xy == (905.0, 1105.0, 900.0, 1100.0)
    assert tile.shadow_fine is not None and tile.shadow_fine.shape == (41, 41)
    with pytest.raises(ValueError, match="fine grid"):
        tile_from_dem(dem, (20.0, 20.0), fine_size_m=200.0)
    path = tmp_path / "dem.npy"
    np.save(path, plane)
    spec = DemTerrainSpec(str(path), sites_xy=((-100.0, -100.0), (100.0, 0.0)), cell_size_m=cell, fine_size_m=200.0,
                          region_size_m=1500.0)
    pool = spec.make_pool(0)
    assert len(pool) == 2 and pool[0].fine.shape == pool[1].fine.shape
    stack_tiles(pool)


def test_south_polar_stereographic():
    assert south_polar_stereographic_xy(-90.0, 123.0) == pytest.approx((0.0, 0.0), abs=1e-6)
    x, y = south_polar_stereographic_xy(-80.0, 0.0)
    assert x == pytest.approx(0.0, abs=1e-6)
    assert y == pytest.approx(2 * 1_737_400.0 * math.tan(math.radians(5.0)))  # about 304 km from the pole
    x, y = south_polar_stereographic_xy(-85.0, 90.0)
    assert x > 0 and y == pytest.approx(0.0, abs=1e-6)
    with pytest.raises(ValueError, match="latitude"):
        south_polar_stereographic_xy(10.0, 0.0)


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize("field, value", [
    ("num_tiles", 0),
    ("num_tiles", 2.5),
    ("region_size_m", 10.0),
    ("fine_cell_m", -1.0),
    ("fine_size_m", 513.0),
    ("coarse_cell_m", 0.5),
    ("crater_sfd_exponent", 10.0),
    ("crater_density_per_km2", -1.0),
    ("crater_diameter_m", (100.0, 10.0)),
    ("crater_diameter_m", (0.1, 10.0)),
    ("crater_depth_diameter", (0.3, 0.1)),
    ("crater_degraded_fraction", 1.5),
    ("rock_abundance", 0.9),
    ("rock_diameter_m", (5.0, 1.0)),
    ("sun_elevation_deg", 0.0),
    ("sun_azimuth_deg", float("nan")),
    ("site_policy", "anywhere"),
    ("site_lighting", "dusk"),
    ("max_site_slope_deg", 95.0),
    ("hazard_min_slope_deg", 5.0),
    ("footprint_radius_m", 0.0),
    ("site_offset_m", 50_000.0),
    ("site_attempts", 0),
    ("relief_hurst", 0.0),
])
def test_terrain_spec_rejects_bad_values(field, value):
    with pytest.raises(ValueError, match=f"TerrainSpec.{field}"):
        TerrainSpec(**{field: value})


def test_bad_seed_is_refused():
    with pytest.raises(ValueError, match="seed"):
        TerrainSpec(num_tiles=1).make_pool(-1)
