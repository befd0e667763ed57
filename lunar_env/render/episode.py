"""Fly one episode with a policy and write it to a video file.

The episode is flown first (a snapshot of the lander is kept at every control step, a few
hundred bytes each), then the frames are drawn and encoded, so ``max_frames`` can spread a
fixed number of frames over an episode whose length is known only at its end.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lunar_env.checks import check_integer
from lunar_env.physics import outcomes
from lunar_env.render.renderer import DEFAULT_SIZE, LanderRenderer
from lunar_env.render.video import (
    VideoWriter,
    check_video_path,
    check_video_settings,
    frames_for_duration,
    require_imageio,
)
from lunar_env.simulator import LanderBatch

GIF_DEFAULT_MAX_FRAMES = 150
"""A GIF without ``max_frames`` gets at most this many frames (a GIF is encoded from memory)."""

HOLD_FINAL_S = 2.0
"""Seconds the last frame, with the verdict, stays on screen at the end of a video."""


@dataclass(frozen=True)
class RenderedEpisode:
    """What :func:`render_episode` wrote.

    Attributes:
        path: the video file.
        frames: frames a decoder returns (a GIF shows the held final frame once, longer).
        drawn: frames the renderer drew (excluding the repeats of the final frame).
        fps: frame rate of the video.
        steps: control steps the episode took.
        outcome: outcome name, e.g. "landed".
        metrics: the episode's metrics (LanderBatch.episode_metrics of the lander), plain floats.
        render_s: wall time spent drawing frames (s), so ``drawn / render_s`` is the render speed.
        total_s: wall time of the whole call (s).
    """

    path: Path
    frames: int
    drawn: int
    fps: float
    steps: int
    outcome: str
    metrics: dict
    render_s: float
    total_s: float

    @property
    def render_fps(self) -> float:
        """Frames drawn per second of wall time."""
        return self.drawn / self.render_s if self.render_s > 0 else math.inf


def frame_indices(count: int, max_frames: int | None) -> np.ndarray:
    """Indices of the snapshots to draw: all of them, or ``max_frames`` spread evenly over the
    episode, always including the first and the last (the verdict)."""
    if max_frames is None or count <= max_frames:
        return np.arange(count)
    return np.unique(np.round(np.linspace(0, count - 1, max_frames)).astype(np.int64))


def render_episode(policy, scenario="nominal", mode: str = "6dof", seed: int = 0,
                   out_path: str | os.PathLike = "episode.mp4", max_frames: int | None = None,
                   fps: float | None = None, lander_index: int = 0, *, size: tuple[int, int] = DEFAULT_SIZE,
                   observation_mode: str = "sensors", lander=None, terrain_tiles=None, terrain_seed: int = 0,
                   hold_final_s: float = HOLD_FINAL_S, gif_colors: int = 256, progress: bool = True,
                   sun_azimuth_deg: float | None = None, sun_elevation_deg: float | None = None) -> RenderedEpisode:
    """Fly one episode and write it as an .mp4 or .gif.

    Args:
        policy: an ``agents.policy.Policy`` (batched: obs (n, obs_dim) float32 -> actions
            (n, act_dim)), or a callable ``batch -> Policy`` for policies built for a batch.
        scenario, mode, observation_mode, lander, terrain_seed: as for the environments.
        seed: the episode's seed.
        out_path: video file; the suffix (.mp4 or .gif) picks the format.
        max_frames: draw at most this many frames, spread evenly over the episode (the video then
            plays faster than real time). None: every control step (for a GIF: at most
            GIF_DEFAULT_MAX_FRAMES).
        fps: video frame rate; default the control rate, i.e. real time when every step is drawn.
        lander_index: which lander of a seeded batch to fly: the episode is exactly the one lander
            ``lander_index`` flies in any batch reset with ``seed``.
        size: frame (width, height) in pixels.
        terrain_tiles: optional TerrainTile list replacing the scenario's terrain.
        hold_final_s: how long the final frame stays at the end.
        gif_colors: colours per GIF frame (2-256); fewer make a smaller file.
        progress: show tqdm progress bars.
        sun_azimuth_deg, sun_elevation_deg: override the sun a tile names, for the shading.
    Returns:
        A :class:`RenderedEpisode`.
    """
    start = time.perf_counter()
    out = check_video_path(out_path)
    if max_frames is not None:
        check_integer("max_frames", max_frames, 2)
    check_integer("lander_index", lander_index, 0)
    if not (math.isfinite(hold_final_s) and hold_final_s >= 0):
        raise ValueError(f"hold_final_s must be a non-negative number of seconds, got {hold_final_s!r}")
    require_imageio(out)  # fail before flying, not after
    batch = LanderBatch(scenario, 1, mode=mode, observation_mode=observation_mode, lander=lander,
                        terrain_tiles=terrain_tiles, index_offset=int(lander_index), terrain_seed=terrain_seed)
    fps, gif_colors = check_video_settings(batch.scenario.control_rate_hz if fps is None else fps, gif_colors)
    renderer = LanderRenderer.for_batch(batch, render_mode="rgb_array", size=size, fps=fps,
                                        sun_azimuth_deg=sun_azimuth_deg, sun_elevation_deg=sun_elevation_deg)
    policy = _resolve_policy(policy, batch)
    if max_frames is None and out.suffix.lower() == ".gif":
        max_frames = GIF_DEFAULT_MAX_FRAMES

    snapshots = _fly(batch, policy, seed, renderer, progress)
    track = np.array([[*s.position, s.ground_height_m] for s in snapshots])
    chosen = frame_indices(len(snapshots), max_frames)

    from tqdm.auto import tqdm

    render_s = 0.0
    with VideoWriter(out, fps, gif_colors=gif_colors) as writer:
        for n, k in enumerate(tqdm(chosen, desc="rendering", unit="frame", disable=not progress, leave=False)):
            t0 = time.perf_counter()
            frame = renderer.draw(snapshots[k], track[:k + 1])
            render_s += time.perf_counter() - t0
            last = n == len(chosen) - 1
            writer.append(frame, repeat=1 + (frames_for_duration(hold_final_s, fps) if last else 0))
    metrics = {key: value[0].item() for key, value in batch.episode_metrics(np.array([0])).items()}
    final = snapshots[-1]
    return RenderedEpisode(path=writer.path, frames=writer.frames, drawn=len(chosen), fps=fps, steps=final.steps,
                           outcome=outcomes.outcome_name(final.outcome), metrics=metrics, render_s=render_s,
                           total_s=time.perf_counter() - start)


def _resolve_policy(policy, batch: LanderBatch):
    if not hasattr(policy, "act") and callable(policy):
        policy = policy(batch)
    if not hasattr(policy, "act"):
        raise ValueError("policy must be a Policy (with act(obs)) or a callable batch -> Policy, "
                         f"got {type(policy).__name__}")
    wanted = getattr(policy, "mode", None)
    if wanted is not None and wanted != batch.mode:
        raise ValueError(f"the policy flies the {wanted} action space but the episode is {batch.mode}")
    return policy


def _fly(batch: LanderBatch, policy, seed: int, renderer: LanderRenderer, progress: bool) -> list:
    """Reset with ``seed`` and step until the episode ends; a snapshot per control step."""
    from tqdm.auto import tqdm

    obs = batch.reset(seed=seed)
    if hasattr(policy, "reset"):
        policy.reset(1)
    snapshots = [renderer.capture(batch, 0)]
    with tqdm(total=batch.scenario.max_steps, desc="flying", unit="step", disable=not progress, leave=False) as bar:
        for _ in range(batch.scenario.max_steps + 1):
            actions = policy.act(obs)
            obs, _, terminated, truncated = batch.step(actions)
            snapshots.append(renderer.capture(batch, 0))
            bar.update(1)
            if terminated[0] or truncated[0]:
                break
    return snapshots
