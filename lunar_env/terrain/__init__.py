"""Terrain: heightmaps, compiled queries, procedural south-pole tiles, illumination, DEM loading."""

from lunar_env.terrain.heightmap import (
    Heightmap,
    TerrainArrays,
    TerrainTile,
    flat_tile,
    plane_tile,
    stack_tiles,
)

__all__ = ["Heightmap", "TerrainArrays", "TerrainTile", "flat_tile", "plane_tile", "stack_tiles"]
