"""``lunar bench``: score a policy on a scenario suite, the same way for every policy."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

DEFAULT_EPISODES = 1000
DEFAULT_OPTIMUM_SAMPLES = 50


def add_bench_command(sub) -> None:
    p = sub.add_parser("bench", help="score a policy on a scenario suite (success, touchdown, propellant vs optimum)",
                       description="Fly every scenario of a suite with a policy and report success rate (Wilson 95%% CI), "
                       "miss distance, touchdown speeds and tilt, propellant and its ratio to the convex fuel optimum, "
                       "and crash causes. Same seed, same numbers. Protocol: docs/benchmark.md.")
    p.add_argument("--policy", required=True,
                   help="zemzev, zemzev_replan, velocity_field, random, a model folder, an SB3 .zip or an exported .onnx file")
    p.add_argument("--suite", default="nominal", help="nominal, faults or all (default: nominal)")
    p.add_argument("--scenario", action="append", help="fly these scenarios instead of a suite (repeatable)")
    p.add_argument("--episodes", type=int, default=DEFAULT_EPISODES, help=f"episodes per scenario (default {DEFAULT_EPISODES})")
    p.add_argument("--seed", type=int, default=0, help="benchmark seed (default 0); training should use others")
    p.add_argument("--mode", choices=["3dof", "6dof"], help="env mode (default: the model's, else 3dof)")
    p.add_argument("--observation-mode", default="sensors", choices=["sensors", "truth"])
    p.add_argument("--optimum-samples", type=int, default=DEFAULT_OPTIMUM_SAMPLES,
                   help="episodes per scenario whose convex fuel optimum is solved (evenly spaced; 0 = skip)")
    p.add_argument("--out", default=None, help="folder for bench.json, bench.md and plots (default runs/bench/<policy>)")
    p.add_argument("--no-plots", action="store_true", help="skip the matplotlib plots")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.add_argument("--backend", choices=["local", "ray"], default="local",
                   help="local: this process (default); ray: shards flown as Ray tasks, same numbers "
                   '(needs pip install "lunar-env[ray]"; docs/scaling.md)')
    p.add_argument("--address", default=None,
                   help="with --backend ray: address of a running Ray cluster (default: start a local one)")
    p.set_defaults(func=cmd_bench)


def convex_optimum_fn(progress: bool):
    """The fuel-optimal propellant function the suite needs, from agents.convex_reference."""
    from agents.optimum import scenario_optimum

    def optimum(scenario, r0, v0, m0):
        return scenario_optimum(scenario, r0, v0, m0, progress=progress)

    return optimum


def run_bench(policy_spec: str, scenarios: tuple[str, ...], episodes: int, seed: int, mode: str,
              observation_mode: str = "sensors", optimum_samples: int = DEFAULT_OPTIMUM_SAMPLES,
              progress: bool = True, suite_label: str = "custom", backend: str = "local",
              address: str | None = None) -> tuple[dict, list]:
    """Fly the scenarios and build the report; returns (report, runs).

    ``backend`` "local" flies in this process; "ray" flies shards as Ray tasks on the cluster at
    ``address`` (a local Ray instance when None), with the same numbers.
    """
    from agents.registry import load_policy
    from lunar_env.benchmark.report import build_report
    from lunar_env.benchmark.suite import attach_optimum, fly_scenario
    from lunar_env.simulator import LanderBatch

    if not isinstance(seed, int) or seed < 0:
        raise ValueError(f"--seed must be a non-negative integer, got {seed!r}")
    if not isinstance(episodes, int) or episodes < 1:
        raise ValueError(f"--episodes must be a positive integer, got {episodes!r}")
    if backend not in ("local", "ray"):
        raise ValueError(f"--backend must be 'local' or 'ray', got {backend!r}")
    if address is not None and backend != "ray":
        raise ValueError("--address needs --backend ray")
    if backend == "ray":
        from lunar_env.benchmark.ray_backend import init_ray

        init_ray(address)  # fails early, with a clear message, when Ray is missing or unreachable
    start = time.perf_counter()
    runs = []
    optimum = convex_optimum_fn(progress) if optimum_samples > 0 else None
    for name in scenarios:
        probe = LanderBatch(name, 1, mode=mode, observation_mode=observation_mode)
        policy = load_policy(policy_spec, probe, seed=seed)
        if backend == "ray":
            from lunar_env.benchmark.ray_backend import fly_scenario_ray

            run = fly_scenario_ray(policy_spec, name, episodes, seed, mode, observation_mode, address=address,
                                   progress=progress, label=policy_spec)
        else:
            run = fly_scenario(policy, name, episodes, seed, mode, observation_mode, progress=progress,
                               label=policy_spec)
        if optimum is not None:
            attach_optimum(run, optimum, optimum_samples)
        runs.append(run)
    report = build_report(runs, policy_spec, suite_label, seed, observation_mode, time.perf_counter() - start)
    return report, runs


def require_report_packages(plots: bool) -> None:
    """Fail before the flights, not after them, when the report cannot be checked or plotted."""
    import importlib.util

    if importlib.util.find_spec("jsonschema") is None:
        raise ValueError("validating a benchmark report needs jsonschema: pip install jsonschema")
    if plots and importlib.util.find_spec("matplotlib") is None:
        raise ValueError('plots need matplotlib: pip install "lunar-env[bench]", or pass --no-plots')


def cmd_bench(args: argparse.Namespace) -> int:
    from lunar_env.atomic import write_atomic
    from lunar_env.benchmark.report import markdown_table, terminal_table, validate_report, write_plots
    from lunar_env.benchmark.suite import suite_scenarios
    from lunar_env.command_checks import check_output_dir, policy_env_mode
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
    print(f"lunar bench: policy {args.policy}, {mode}, scenarios {', '.join(scenarios)}, "
          f"{args.episodes} episodes each, seed {args.seed}"
          + (f", on Ray ({args.address or 'local instance'})" if args.backend == "ray" else ""))
    report, runs = run_bench(args.policy, scenarios, args.episodes, args.seed, mode, args.observation_mode,
                             args.optimum_samples, progress=not args.quiet, suite_label=label,
                             backend=args.backend, address=args.address)
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
