"""Draw docs/images/terrain_tile.png: one procedural south-pole tile, coarse and fine.

    python docs/images/make_terrain_figure.py [--seed 0] [--tile 0] [--out docs/images/terrain_tile.png]

Left: the whole coarse grid, shaded relief with the cast-shadow mask of the low sun over it,
the fine grid's outline and the site. Right: the fine grid around the site, with the lander
footprint and the 100 m landing-site circle.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.colors import LightSource  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.patches import Circle, Patch, Rectangle  # noqa: E402

from lunar_env.terrain.spec import SITE_SHADOW_RADIUS_M, TerrainSpec  # noqa: E402

RELIEF_LIGHT_ELEVATION_DEG = 35.0  # a higher light than the real sun, so the relief reads
SHADOW_RGBA = (0.05, 0.25, 0.85, 0.42)  # translucent blue over samples in cast shadow
CONTOUR_LEVELS = 12  # height contours per panel


def shaded(heights: np.ndarray, cell: float, azimuth_deg: float, vert_exag: float) -> np.ndarray:
    """Grey shaded relief lit from the sun's azimuth (rows run North, as in a Heightmap)."""
    light = LightSource(azdeg=azimuth_deg, altdeg=RELIEF_LIGHT_ELEVATION_DEG)
    # LightSource expects image order (first row north): flip in, flip back out.
    return light.hillshade(heights[::-1], vert_exag=vert_exag, dx=cell, dy=cell)[::-1]


def overlay(mask: np.ndarray) -> np.ndarray:
    rgba = np.zeros(mask.shape + (4,))
    rgba[mask.astype(bool)] = SHADOW_RGBA
    return rgba


def contours(ax, heights: np.ndarray, extent, label_fmt: str) -> None:
    x0, x1, y0, y1 = extent
    xs = np.linspace(x0, x1, heights.shape[1])
    ys = np.linspace(y0, y1, heights.shape[0])
    cs = ax.contour(xs, ys, heights, levels=CONTOUR_LEVELS, colors="#ffb000", linewidths=0.6, alpha=0.8)
    ax.clabel(cs, cs.levels[::2], fmt=label_fmt, fontsize=7, colors="#ffb000")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--tile", type=int, default=0)
    parser.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "terrain_tile.png"))
    args = parser.parse_args(argv)

    spec = TerrainSpec()
    g = spec.generate_tile(args.seed, args.tile)
    tile = g.tile
    sx, sy, sz = tile.site_xyz
    fig, axes = plt.subplots(1, 2, figsize=(13.5, 6.6), constrained_layout=True)

    c = tile.coarse
    x0, x1, y0, y1 = (v / 1000.0 for v in c.extent_xy)
    ax = axes[0]
    ax.imshow(shaded(c.heights, c.cell_size_m, g.sun_azimuth_deg, 2.0), origin="lower", extent=(x0, x1, y0, y1),
              cmap="gray", vmin=0.0, vmax=1.0)
    ax.imshow(overlay(tile.shadow_coarse), origin="lower", extent=(x0, x1, y0, y1), interpolation="nearest")
    contours(ax, c.heights - sz, (x0, x1, y0, y1), "%.0f m")
    f = tile.fine
    fx0, fx1, fy0, fy1 = (v / 1000.0 for v in f.extent_xy)
    ax.add_patch(Rectangle((fx0, fy0), fx1 - fx0, fy1 - fy0, fill=False, color="red", lw=1.2))
    ax.plot(sx / 1000.0, sy / 1000.0, marker="o", mfc="none", color="red", ms=9, mew=1.8)
    ax.set_xlabel("East (km)")
    ax.set_ylabel("North (km)")
    relief = c.heights.max() - c.heights.min()
    ax.set_title(f"Coarse grid: {c.shape[0]}x{c.shape[1]} at {c.cell_size_m:g} m, relief {relief:.0f} m,"
                 f" {100 * tile.shadow_coarse.mean():.0f}% in shadow", fontsize=10)

    ax = axes[1]
    ext = tuple(v - o for v, o in zip(f.extent_xy, (sx, sx, sy, sy)))
    ax.imshow(shaded(f.heights, f.cell_size_m, g.sun_azimuth_deg, 1.0), origin="lower", extent=ext,
              cmap="gray", vmin=0.0, vmax=1.0)
    ax.imshow(overlay(tile.shadow_fine), origin="lower", extent=ext, interpolation="nearest")
    contours(ax, f.heights - sz, ext, "%.0f m")
    ax.add_patch(Circle((0, 0), SITE_SHADOW_RADIUS_M, fill=False, color="red", lw=1.0, ls="--"))
    ax.plot(0, 0, marker="o", mfc="none", color="red", ms=9, mew=1.8)
    ax.set_xlabel("East of site (m)")
    ax.set_ylabel("North of site (m)")
    ax.set_title(f"Fine grid: {f.shape[0]}x{f.shape[1]} at {f.cell_size_m:g} m; site slope "
                 f"{g.site.footprint_slope_deg:.1f} deg over a {2 * spec.footprint_radius_m:g} m footprint, lit",
                 fontsize=10)
    # Sun direction: an arrow pointing toward the sun, in a corner of each panel.
    az = np.radians(g.sun_azimuth_deg)
    for a in axes:
        a.annotate("", xy=(0.12 + 0.08 * np.sin(az), 0.88 + 0.08 * np.cos(az)), xytext=(0.12, 0.88),
                   xycoords="axes fraction", arrowprops=dict(arrowstyle="->", color="gold", lw=2.5))
        a.text(0.12, 0.82, f"to the sun\n{g.sun_azimuth_deg:.0f} deg az, {g.sun_elevation_deg:g} deg el",
               transform=a.transAxes, color="black", fontsize=8, ha="center", va="top",
               bbox=dict(boxstyle="round,pad=0.25", fc="gold", ec="none", alpha=0.9))
    handles = [Patch(facecolor=SHADOW_RGBA, label="cast shadow"),
               Line2D([], [], color="#ffb000", lw=1, label="height above site"),
               Line2D([], [], color="red", marker="o", mfc="none", ls="none", label="target site")]
    axes[0].legend(handles=handles + [Patch(fill=False, ec="red", label="fine grid")], loc="lower right",
                   fontsize=8, framealpha=0.9)
    axes[1].legend(handles=handles + [Line2D([], [], color="red", ls="--", label=f"{SITE_SHADOW_RADIUS_M:.0f} m")],
                   loc="lower right", fontsize=8, framealpha=0.9)
    fig.suptitle(f"Procedural south-pole tile (seed {args.seed}, tile {args.tile}): shaded relief, blue = cast shadow "
                 f"of the {g.sun_elevation_deg:g} deg sun, orange = height above the site", fontsize=11)

    out_dir = os.path.dirname(os.path.abspath(args.out))
    os.makedirs(out_dir, exist_ok=True)
    fd, tmp = tempfile.mkstemp(suffix=".png", dir=out_dir)
    os.close(fd)
    try:
        fig.savefig(tmp, dpi=110)
        os.replace(tmp, args.out)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
