"""Make the pictures of docs/rendering.md: three frames of one landing and a short GIF of it.

    SDL_VIDEODRIVER=dummy python docs/images/make_render_media.py

Writes docs/images/render_high.png, render_mid.png, render_touchdown.png and landing.gif. The
episode: the nominal scenario over procedural south-pole terrain (lunar_env.terrain.spec), flown
in 6-DOF by the descent-profile controller (agents/descent_profile.py). Takes about a minute.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")

import imageio.v3 as iio  # noqa: E402
import numpy as np  # noqa: E402

from agents.descent_profile import DescentProfileController  # noqa: E402
from lunar_env.render.episode import render_episode  # noqa: E402
from lunar_env.render.renderer import LanderRenderer  # noqa: E402
from lunar_env.scenarios import get_scenario  # noqa: E402
from lunar_env.simulator import LanderBatch  # noqa: E402
from lunar_env.terrain.spec import TerrainSpec  # noqa: E402

HERE = Path(__file__).resolve().parent
SUN_AZIMUTH_DEG = 315.0  # from the north-west, the cartographic light direction
TERRAIN_SEED = 3
EPISODE_SEED = 0
MODE = "6dof"
MID_ALTITUDE_M = 250.0  # the "mid descent" frame: the first below this altitude
GIF_SIZE = (600, 400)  # px: small enough for a README, large enough to read the HUD
GIF_FRAMES = 48  # spread over the 130 s episode: 6 s at GIF_FPS, about 20x real time
GIF_FPS = 8.0
GIF_COLORS = 96  # per frame; the terrain's detail makes every frame costly, so fewer colours keep it small


def scenario():
    """The nominal approach over one procedural tile lit from SUN_AZIMUTH_DEG."""
    terrain = TerrainSpec(num_tiles=1, sun_azimuth_deg=SUN_AZIMUTH_DEG)
    return dataclasses.replace(get_scenario("nominal"), terrain=terrain)


def save_png(path: Path, frame: np.ndarray) -> None:
    """Write a PNG atomically: a temporary file beside it, then a rename."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".png", dir=path.parent)
    os.close(fd)
    try:
        iio.imwrite(tmp, frame)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)


def main() -> int:
    scen = scenario()
    batch = LanderBatch(scen, 1, mode=MODE, terrain_seed=TERRAIN_SEED)
    policy = DescentProfileController(batch.scenario.lander, mode=MODE)
    renderer = LanderRenderer.for_batch(batch)
    obs = batch.reset(seed=EPISODE_SEED)
    snapshots = [renderer.capture(batch, 0)]
    for _ in range(batch.scenario.max_steps):
        obs, _, terminated, truncated = batch.step(policy.act(obs))
        snapshots.append(renderer.capture(batch, 0))
        if terminated[0] or truncated[0]:
            break
    track = np.array([[*s.position, s.ground_height_m] for s in snapshots])
    mid = next(k for k, s in enumerate(snapshots) if s.altitude_m < MID_ALTITUDE_M)
    for name, k in (("render_high", 1), ("render_mid", mid), ("render_touchdown", len(snapshots) - 1)):
        save_png(HERE / f"{name}.png", renderer.draw(snapshots[k], track[:k + 1]))
        print(f"wrote {name}.png (step {k}, altitude {snapshots[k].altitude_m:.0f} m)")
    print(f"episode: {snapshots[-1].outcome_name} after {len(snapshots) - 1} steps")

    result = render_episode(DescentProfileController(batch.scenario.lander, mode=MODE), scenario=scen, mode=MODE,
                            seed=EPISODE_SEED, out_path=HERE / "landing.gif", max_frames=GIF_FRAMES, fps=GIF_FPS,
                            size=GIF_SIZE, terrain_seed=TERRAIN_SEED, hold_final_s=2.5, gif_colors=GIF_COLORS)
    size_mb = result.path.stat().st_size / 1e6
    print(f"wrote {result.path.name}: {result.frames} frames, {size_mb:.1f} MB, {result.render_fps:.0f} frames/s drawn")
    return 0


if __name__ == "__main__":
    sys.exit(main())
