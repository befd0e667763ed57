"""``lunar demo``: the shipped policy lands a batch at the south pole, prints its benchmark table
and writes a video of one landing."""

from __future__ import annotations

import argparse
import json

from agents.shipped import shipped_model

DEMO_DEFAULT_MODE = "3dof"


def add_demo_command(sub) -> None:
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


def cmd_demo(args: argparse.Namespace) -> int:
    from agents.bench_runner import run_bench
    from agents.registry import policy_env_mode
    from lunar_env.atomic import write_atomic
    from lunar_env.evaluation.report import markdown_table, terminal_table
    from lunar_env.output_paths import check_output_dir

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
