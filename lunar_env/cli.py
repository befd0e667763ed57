"""The ``lunar`` command. Each subcommand imports what it needs only when it runs."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from lunar_env.atomic import write_atomic


# ----------------------------------------------------------------------------- lunar envs
def cmd_envs(args: argparse.Namespace) -> int:
    import lunar_env
    from lunar_env.landers import LANDERS
    from lunar_env.scenarios import SCENARIOS

    print("environments:")
    for env_id, mode in lunar_env.ENV_IDS.items():
        print(f"  {env_id:32s} {mode}")
    print("scenarios:")
    for name, make in SCENARIOS.items():
        print(f"  {name:32s} {make().description}")
    print("landers:")
    for name, spec in LANDERS.items():
        print(f"  {name:32s} {spec.description}")
    return 0


# ----------------------------------------------------------------------- lunar throughput
def cmd_throughput(args: argparse.Namespace) -> int:
    from lunar_env.benchmark import throughput
    from lunar_env.command_checks import check_output_file

    for option, path in (("--json", args.json), ("--markdown", args.markdown)):
        if path:
            check_output_file(path, option)
    print(f"measuring {args.seconds:g} s per configuration ...")
    report = throughput.run(sizes=tuple(args.sizes), seconds=args.seconds, modes=tuple(args.modes),
                            compile_time=not args.no_compile_time, scenarios=tuple(args.scenarios))
    table = throughput.format_markdown(report)
    print()
    print(table)
    if args.json:
        write_atomic(Path(args.json), throughput.main_json(report))
        print(f"\nwrote {args.json}")
    if args.markdown:
        write_atomic(Path(args.markdown), table + "\n")
        print(f"wrote {args.markdown}")
    return 0


# ----------------------------------------------------------------------------- lunar demo
SHIPPED_MODELS = {"3dof": "ppo_southpole_3dof", "6dof": "ppo_southpole_6dof"}
DEMO_DEFAULT_MODE = "3dof"


def shipped_model(mode: str) -> Path | None:
    """The shipped policy folder of a mode (models/ beside the package), if present."""
    folder = Path(__file__).resolve().parents[1] / "models" / SHIPPED_MODELS[mode]
    return folder if (folder / "metadata.json").is_file() else None


def cmd_demo(args: argparse.Namespace) -> int:
    from lunar_env.benchmark.bench_command import run_bench
    from lunar_env.benchmark.report import markdown_table, terminal_table
    from lunar_env.command_checks import check_output_dir, policy_env_mode

    out = check_output_dir(args.out)  # before the flights, which a failed write would lose
    policy = args.policy
    if policy is None:
        mode = args.mode or DEMO_DEFAULT_MODE
        folder = shipped_model(mode)
        if folder is None:
            print(f"no shipped {mode} policy found in models/; flying ZEM/ZEV guidance instead")
            policy = "zemzev"
        else:
            policy = str(folder)
    else:
        mode = policy_env_mode(policy, args.mode, DEMO_DEFAULT_MODE)  # a model flies in its own mode
    print(f"lunar demo: policy {policy}, scenario {args.scenario}, {mode}, {args.episodes} episodes, seed {args.seed}")
    report, _ = run_bench(policy, (args.scenario,), args.episodes, args.seed, mode,
                          optimum_samples=args.optimum_samples, suite_label="demo")
    print()
    print(terminal_table(report))
    print(f"\n(mean / 95th percentile over touchdowns; {report['timing']['wall_time_s']:.1f} s)")
    write_atomic(out / "bench.json", json.dumps(report, indent=2) + "\n")
    write_atomic(out / "bench.md", markdown_table(report))
    print(f"wrote {out / 'bench.json'} and {out / 'bench.md'}")
    if args.no_video:
        return 0
    try:
        from agents.registry import load_policy
        from lunar_env.render.episode import render_episode

        video = out / f"landing.{args.video_format}"
        rendered = render_episode(lambda batch: load_policy(policy, batch), scenario=args.scenario, mode=mode,
                                  seed=args.seed, out_path=video, max_frames=args.max_frames)
    except ImportError as err:
        print(f"no video: {err}")
        return 0
    print(f"wrote {rendered.path}: one episode, {rendered.outcome}, {rendered.frames} frames")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lunar", description="Powered lunar landing at the lunar south pole.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("envs", help="list the registered environments, scenarios and lander presets")
    p.set_defaults(func=cmd_envs)

    p = sub.add_parser("throughput", help="measure env-steps per second beside Gymnasium's and EnvPool's LunarLander")
    p.add_argument("--sizes", type=int, nargs="+", default=[1, 64, 1024, 4096], help="batch sizes to measure")
    p.add_argument("--modes", nargs="+", default=["6dof", "3dof"], choices=["6dof", "3dof"])
    p.add_argument("--seconds", type=float, default=3.0, help="measuring time per configuration")
    p.add_argument("--scenarios", nargs="+", default=["nominal_flat", "nominal"],
                   help="scenarios to measure (flat ground, and the south-pole terrain with every sensor)")
    p.add_argument("--no-compile-time", action="store_true", help="skip measuring numba's first-call compile time")
    p.add_argument("--json", help="write the full report as JSON to this path")
    p.add_argument("--markdown", help="write the table as Markdown to this path")
    p.set_defaults(func=cmd_throughput)

    p = sub.add_parser("demo", help="the main job: the shipped policy lands a batch at the south pole, "
                       "prints its benchmark table and writes a video of one landing")
    p.add_argument("--policy", help="policy to fly (default: the shipped PPO model of --mode)")
    p.add_argument("--scenario", default="nominal")
    p.add_argument("--mode", default=None, choices=["6dof", "3dof"],
                   help=f"env mode (default: the --policy model's own, else {DEMO_DEFAULT_MODE})")
    p.add_argument("--episodes", type=int, default=1000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--optimum-samples", type=int, default=20,
                   help="episodes whose convex fuel optimum is solved for the propellant ratio (0 = skip)")
    p.add_argument("--out", default="demo_output", help="folder for the report and the video")
    p.add_argument("--video-format", default="mp4", choices=["mp4", "gif"])
    p.add_argument("--max-frames", type=int, default=400, help="frames in the video (spread over the episode)")
    p.add_argument("--no-video", action="store_true")
    p.set_defaults(func=cmd_demo)

    from lunar_env.benchmark.bench_command import add_bench_command

    add_bench_command(sub)

    from training.cli import add_train_command

    add_train_command(sub)

    from training.sweep_cli import add_sweep_command

    add_sweep_command(sub)

    from agents.export.cli import add_export_command

    add_export_command(sub)

    from lunar_env.render.cli import add_render_command

    add_render_command(sub)
    return parser


DEBUG_ENV = "LUNAR_DEBUG"  # set to 1 for the full traceback instead of the one-line error


def one_line(error: BaseException) -> str:
    """An error as one line: its message, or for an OSError the path and the reason."""
    if isinstance(error, OSError) and error.strerror:
        paths = " -> ".join(str(p) for p in (error.filename, error.filename2) if p is not None)
        return f"{paths}: {error.strerror}" if paths else error.strerror
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return "; ".join(lines) or type(error).__name__


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (ValueError, OSError) as error:  # bad input, or a file that cannot be read or written
        if os.environ.get(DEBUG_ENV, "") not in ("", "0"):
            raise
        print(f"lunar {args.command}: error: {one_line(error)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
