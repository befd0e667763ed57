"""``lunar bench``: score a policy on a scenario suite, the same way for every policy
(the protocol: lunar_env/evaluation/; a policy by name: agents/bench_runner.py)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from agents.bench_runner import DEFAULT_EPISODES, DEFAULT_OPTIMUM_SAMPLES


def add_bench_command(sub) -> None:
    p = sub.add_parser(
        "bench",
        help="score a policy on a scenario suite (success, touchdown, propellant vs optimum)",
        description="Fly every scenario of a suite with a policy and report success rate (Wilson 95%% CI), "
        "miss distance, touchdown speeds and tilt, propellant and its ratio to the convex fuel optimum, "
        "and crash causes. Same seed, same numbers. Protocol: docs/benchmark.md.",
    )
    p.add_argument(
        "--policy",
        required=True,
        help="zemzev, zemzev_replan, descent_profile (or its former name velocity_field), random, a model folder, an "
             "SB3 .zip or an exported .onnx file",
    )
    p.add_argument("--suite", default="nominal", help="nominal, faults or all (default: nominal)")
    p.add_argument("--scenario", action="append", help="fly these scenarios instead of a suite (repeatable)")
    p.add_argument(
        "--episodes", type=int, default=DEFAULT_EPISODES, help=f"episodes per scenario (default {DEFAULT_EPISODES})"
    )
    p.add_argument("--seed", type=int, default=0, help="benchmark seed (default 0); training should use others")
    p.add_argument("--mode", choices=["3dof", "6dof"], help="env mode (default: the model's, else 3dof)")
    p.add_argument("--observation-mode", default="sensors", choices=["sensors", "truth"])
    p.add_argument(
        "--optimum-samples",
        type=int,
        default=DEFAULT_OPTIMUM_SAMPLES,
        help="episodes per scenario whose convex fuel optimum is solved (evenly spaced; 0 = skip)",
    )
    p.add_argument(
        "--out", default=None, help="folder for bench.json, bench.md and plots (default runs/bench/<policy>)"
    )
    p.add_argument("--no-plots", action="store_true", help="skip the matplotlib plots")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.add_argument(
        "--backend",
        choices=["local", "ray"],
        default="local",
        help="local: this process (default); ray: shards flown as Ray tasks, same numbers "
        '(needs pip install "lunar-env[ray]"; docs/scaling.md)',
    )
    p.add_argument(
        "--address",
        default=None,
        help="with --backend ray: address of a running Ray cluster (default: start a local one)",
    )
    p.set_defaults(func=cmd_bench)


def require_report_packages(plots: bool) -> None:
    """Fail before the flights, not after them, when the report cannot be checked or plotted."""
    import importlib.util

    if importlib.util.find_spec("jsonschema") is None:
        raise ValueError("validating a benchmark report needs jsonschema: pip install jsonschema")
    if plots and importlib.util.find_spec("matplotlib") is None:
        raise ValueError('plots need matplotlib: pip install "lunar-env[bench]", or pass --no-plots')


def cmd_bench(args: argparse.Namespace) -> int:
    from agents.bench_runner import run_bench
    from agents.registry import policy_env_mode
    from lunar_env.atomic import write_atomic
    from lunar_env.evaluation.report import (
        markdown_table,
        terminal_table,
        validate_report,
        write_plots,
    )
    from lunar_env.evaluation.suite import suite_scenarios
    from lunar_env.output_paths import check_output_dir
    from lunar_env.scenarios import SCENARIOS

    if args.scenario:
        unknown = [s for s in args.scenario if s not in SCENARIOS]
        if unknown:
            raise ValueError(f"unknown scenario(s) {unknown}; choose from {sorted(SCENARIOS)}")
        scenarios, label = tuple(args.scenario), "custom"
    else:
        scenarios, label = suite_scenarios(args.suite), args.suite
    mode = policy_env_mode(args.policy, args.mode, default="3dof")
    require_report_packages(plots=not args.no_plots)
    # Checked before the flights, which a failed write at the end would lose.
    out = check_output_dir(Path(args.out) if args.out else Path("runs") / "bench" / Path(args.policy).name)
    print(
        f"lunar bench: policy {args.policy}, {mode}, scenarios {', '.join(scenarios)}, "
        f"{args.episodes} episodes each, seed {args.seed}"
        + (f", on Ray ({args.address or 'local instance'})" if args.backend == "ray" else "")
    )
    report, runs = run_bench(
        args.policy,
        scenarios,
        args.episodes,
        args.seed,
        mode,
        args.observation_mode,
        args.optimum_samples,
        progress=not args.quiet,
        suite_label=label,
        backend=args.backend,
        address=args.address,
    )
    validate_report(report)
    print()
    print(terminal_table(report))
    print(f"\n(mean / 95th percentile over touchdowns; {report['timing']['wall_time_s']:.1f} s)")

    write_atomic(out / "bench.json", json.dumps(report, indent=2) + "\n")
    write_atomic(out / "bench.md", markdown_table(report))
    written = [out / "bench.json", out / "bench.md"]
    if not args.no_plots:
        written += write_plots(runs, out)
    print("wrote " + ", ".join(str(p) for p in written))
    return 0
