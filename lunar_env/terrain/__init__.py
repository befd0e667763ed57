"""Terrain: heightmaps, compiled queries, procedural south-pole tiles, illumination, DEM loading."""

from lunar_env.terrain.dem import DemTerrainSpec, block_average, load_dem, south_polar_stereographic_xy, tile_from_dem
from lunar_env.terrain.generator import CraterList, RockList
from lunar_env.terrain.heightmap import (
    Heightmap,
    TerrainArrays,
    TerrainTile,
    flat_tile,
    plane_tile,
    stack_tiles,
)
from lunar_env.terrain.illumination import (
    march_shadow_mask,
    shadow_masks,
    site_shadow_fraction,
    sun_direction,
    with_shadows,
)
from lunar_env.terrain.spec import GeneratedTile, SiteReport, TerrainSpec

__all__ = [
    "CraterList",
    "DemTerrainSpec",
    "GeneratedTile",
    "Heightmap",
    "RockList",
    "SiteReport",
    "TerrainArrays",
    "TerrainSpec",
    "TerrainTile",
    "block_average",
    "flat_tile",
    "load_dem",
    "march_shadow_mask",
    "plane_tile",
    "shadow_masks",
    "site_shadow_fraction",
    "south_polar_stereographic_xy",
    "stack_tiles",
    "sun_direction",
    "tile_from_dem",
    "with_shadows",
]
