"""``lunar render``: fly one episode with a policy and write it as a video.

    lunar render --policy descent_profile --scenario nominal --mode 6dof --seed 3 --out landing.mp4
    lunar render --policy zemzev --out landing.gif --size 720x480 --max-frames 120 --fps 12

Everything heavy (numba kernels, pygame, imageio, the policy) is imported when the command
runs, so ``lunar --help`` stays fast.
"""

from __future__ import annotations

import argparse
import sys

DEFAULT_SIZE_TEXT = "960x640"  # the renderer's DEFAULT_SIZE, spelled for argparse without importing it
DEFAULT_MODE = "6dof"  # the mode the built-in guidance laws fly in when --mode is not given


def parse_size(text: str) -> tuple[int, int]:
    """'960x640' -> (960, 640); argparse reports anything else as a usage error."""
    try:
        width, height = (int(part) for part in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"size must look like 960x640 (width x height in pixels), "
                                         f"got {text!r}") from None
    return width, height


def add_render_command(subparsers) -> argparse.ArgumentParser:
    """Add the ``render`` subcommand to the ``lunar`` parser's subparsers."""
    p = subparsers.add_parser(
        "render", help="fly one episode with a policy and write it as a video (.mp4 or .gif)",
        description="Fly one episode with a policy and write it as an .mp4 or .gif: a shaded top-down map that "
                    "zooms with altitude, a side profile and a HUD (docs/rendering.md). Needs the render extra: "
                    'pip install "lunar-env[render]".')
    p.add_argument("--policy", default="descent_profile",
                   help="zemzev, zemzev_replan, descent_profile (or its former name velocity_field), or the path "
                   "of a trained model (default: descent_profile)")
    p.add_argument("--scenario", default="nominal", help="scenario name (lunar envs lists them)")
    p.add_argument("--mode", default=None, choices=["6dof", "3dof"],
                   help=f"env mode (default: a trained model's own, else {DEFAULT_MODE})")
    p.add_argument("--seed", type=int, default=0, help="episode seed")
    p.add_argument("--out", default="episode.mp4", help="output file, .mp4 or .gif (default: episode.mp4)")
    p.add_argument("--fps", type=float, default=None, help="video frame rate (default: the control rate, real time)")
    p.add_argument("--size", type=parse_size, default=parse_size(DEFAULT_SIZE_TEXT), metavar="WxH",
                   help=f"frame size in pixels (default: {DEFAULT_SIZE_TEXT})")
    p.add_argument("--max-frames", type=int, default=None,
                   help="draw at most this many frames, spread over the episode (default: every step; 150 for a GIF)")
    p.add_argument("--lander-index", type=int, default=0,
                   help="fly the episode lander i of a batch seeded with --seed flies (default: 0)")
    p.add_argument("--terrain-seed", type=int, default=0, help="seed of the scenario's terrain pool")
    p.set_defaults(func=cmd_render)
    return p


def render_mode_for(policy: str, requested: str | None) -> str:
    """The env mode: a model folder's own (a contradicting --mode is refused), else --mode or the default."""
    from agents.registry import policy_env_mode

    return policy_env_mode(policy, requested, DEFAULT_MODE)


def cmd_render(args: argparse.Namespace) -> int:
    from agents.registry import load_policy
    from lunar_env.output_paths import check_output_file
    from lunar_env.render import RenderDependencyError
    from lunar_env.render.episode import render_episode
    from lunar_env.render.video import check_video_path

    check_video_path(args.out)  # the suffix first: it says what to give instead
    check_output_file(args.out)  # before the flight, which a failed write would lose
    mode = render_mode_for(args.policy, args.mode)
    try:
        result = render_episode(lambda batch: load_policy(args.policy, batch), scenario=args.scenario,
                                mode=mode, seed=args.seed, out_path=args.out, max_frames=args.max_frames,
                                fps=args.fps, lander_index=args.lander_index, size=args.size,
                                terrain_seed=args.terrain_seed)
    except RenderDependencyError as error:
        print(f"lunar render: error: {error}", file=sys.stderr)
        return 2
    m = result.metrics
    print(f"{result.outcome} after {result.steps} steps ({m['episode_time']:.1f} s), "
          f"miss {m['miss_distance']:.1f} m, touchdown {m['touchdown_vertical_speed']:.2f} m/s vertical")
    print(f"wrote {result.path}: {result.frames} frames at {result.fps:g} fps; drew {result.drawn} frames "
          f"in {result.render_s:.1f} s ({result.render_fps:.0f} frames/s)")
    return 0
