"""The ``lunar`` command. Each subcommand imports what it needs only when it runs."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path


def _write_text_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


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

    print(f"measuring {args.seconds:g} s per configuration ...")
    report = throughput.run(sizes=tuple(args.sizes), seconds=args.seconds, modes=tuple(args.modes),
                            compile_time=not args.no_compile_time)
    table = throughput.format_markdown(report)
    print()
    print(table)
    if args.json:
        _write_text_atomic(Path(args.json), throughput.main_json(report))
        print(f"\nwrote {args.json}")
    if args.markdown:
        _write_text_atomic(Path(args.markdown), table + "\n")
        print(f"wrote {args.markdown}")
    return 0


# ----------------------------------------------------------------------------- lunar demo
def cmd_demo(args: argparse.Namespace) -> int:
    from lunar_env.benchmark.flight import fly_batch, summary_table
    from agents.velocity_field import VelocityFieldController
    from lunar_env.simulator import LanderBatch

    batch = LanderBatch(args.scenario, args.episodes, mode=args.mode)
    policy = VelocityFieldController(batch.scenario.lander, mode=args.mode)
    print(f"flying {args.episodes} landers, scenario '{batch.scenario.name}', lander '{batch.scenario.lander.name}', "
          f"{args.mode}, policy: velocity-field controller (agents/velocity_field.py)")
    start = time.perf_counter()
    result = fly_batch(batch, policy, seed=args.seed)
    elapsed = time.perf_counter() - start
    print(summary_table(result, title=f"{batch.scenario.name} / {args.mode} / seed {args.seed}"))
    print(f"\n{args.episodes} episodes in {elapsed:.1f} s")
    if args.json:
        _write_text_atomic(Path(args.json), json.dumps(result.summary(), indent=2))
        print(f"wrote {args.json}")
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
    p.add_argument("--no-compile-time", action="store_true", help="skip measuring numba's first-call compile time")
    p.add_argument("--json", help="write the full report as JSON to this path")
    p.add_argument("--markdown", help="write the table as Markdown to this path")
    p.set_defaults(func=cmd_throughput)

    p = sub.add_parser("demo", help="fly a batch of south-pole landings and print the summary table")
    p.add_argument("--scenario", default="nominal")
    p.add_argument("--mode", default="3dof", choices=["6dof", "3dof"])
    p.add_argument("--episodes", type=int, default=1000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", help="write the summary as JSON to this path")
    p.set_defaults(func=cmd_demo)

    from lunar_env.benchmark.bench_command import add_bench_command

    add_bench_command(sub)

    from training.cli import add_train_command

    add_train_command(sub)

    from agents.export.cli import add_export_command

    add_export_command(sub)

    from lunar_env.render.cli import add_render_command

    add_render_command(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except ValueError as error:  # bad user input: a message, not a traceback
        print(f"lunar {args.command}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
