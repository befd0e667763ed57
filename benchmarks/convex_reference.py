"""Solve time and optimal propellant of the convex powered-descent reference on the nominal scenario.

    python benchmarks/convex_reference.py [--landers 20] [--nodes 40] [--seed 0]
                                          [--output benchmarks/results/convex_reference.md]

Initial conditions are those of ``LanderBatch("nominal", n, mode="3dof", observation_mode="truth")``
after ``reset(seed)``. Each landing is solved with its free final time searched
(agents.convex_reference.solve); the time per landing decides how large a subsample of a
Monte Carlo evaluation the reference can afford. Also reported: the time of one SOCP at a fixed
final time, and the one-off cost of building the cvxpy problem (first call).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import shlex
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agents.convex_reference import from_lander, solve  # noqa: E402
from lunar_env.atomic import write_atomic  # noqa: E402
from lunar_env.simulator import LanderBatch  # noqa: E402

DEFAULT_OUTPUT = Path(__file__).resolve().parent / "results" / "convex_reference.md"


def initial_conditions(num_landers: int, seed: int):
    """Start positions (n, 3) m, velocities (n, 3) m/s, masses (n,) kg and the lander of the nominal scenario."""
    batch = LanderBatch("nominal", num_landers, mode="3dof", observation_mode="truth")
    batch.reset(seed=seed)
    state = batch.state
    return state.position.copy(), state.velocity.copy(), state.mass.copy(), batch.scenario.lander


def run(num_landers: int, num_nodes: int, seed: int) -> dict:
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    r0, v0, masses, lander = initial_conditions(num_landers, seed)
    base = from_lander(lander, num_nodes=num_nodes)

    # The first call builds (canonicalises) the cvxpy problem; time it apart from the rest.
    start = time.perf_counter()
    solve(base, r0[0], v0[0], tf=60.0)
    build_s = time.perf_counter() - start

    rows = []
    for i in range(num_landers):
        problem = dataclasses.replace(base, wet_mass_kg=float(masses[i]))
        solution = solve(problem, r0[i], v0[i])
        single_s = float("nan")
        if solution.feasible:
            start = time.perf_counter()
            solve(problem, r0[i], v0[i], tf=solution.final_time_s)
            single_s = time.perf_counter() - start
        rows.append(
            dict(
                index=i,
                feasible=solution.feasible,
                status=solution.status,
                tf=solution.final_time_s,
                propellant=solution.propellant_kg,
                seconds=solution.solve_time_s,
                calls=solution.solver_calls,
                single=single_s,
                gap=solution.lossless_gap,
                altitude=r0[i, 2],
                distance=float(np.hypot(r0[i, 0], r0[i, 1])),
                speed=float(np.linalg.norm(v0[i])),
            )
        )
        print(
            f"{i:3d}  {solution.status:10s} tf {solution.final_time_s:7.2f} s  propellant "
            f"{solution.propellant_kg:7.2f} kg  "
            f"{solution.solve_time_s:6.3f} s ({solution.solver_calls} SOCPs)",
            flush=True,
        )
    return dict(rows=rows, build_s=build_s, problem=base, load=load)


def report(result: dict, command: str) -> str:
    rows = result["rows"]
    feasible = [r for r in rows if r["feasible"]]
    seconds = np.array([r["seconds"] for r in rows])
    calls = np.array([r["calls"] for r in rows])
    single = np.array([r["single"] for r in feasible])
    propellant = np.array([r["propellant"] for r in feasible])
    tf = np.array([r["tf"] for r in feasible])
    p = result["problem"]
    lines = [
        "# Convex powered-descent reference: solve time on the nominal scenario",
        "",
        f"Command: `{command}`",
        "",
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}; "
        f"load average {result['load']:.1f} when the run started (timings scale with it on a shared machine).",
        "",
        f"Problem (from_lander, Vikram-like): thrust {p.min_thrust_n:g}-{p.max_thrust_n:g} N, Isp {p.isp_s:g} s, "
        f"dry mass {p.dry_mass_kg:g} kg, glide slope {p.glide_slope_deg:g} deg, pointing {p.max_pointing_deg:g} deg "
        f"({p.final_pointing_deg:g} deg at touchdown), touchdown height {p.final_height_m:g} m, {p.num_nodes} nodes.",
        "",
        "| quantity | value |",
        "|---|---|",
        f"| landings solved | {len(rows)} ({len(feasible)} feasible) |",
        f"| time per landing, free final time (s) | mean {seconds.mean():.3f}, median {np.median(seconds):.3f}, max "
        f"{seconds.max():.3f} |",
        f"| SOCPs per landing | mean {calls.mean():.1f}, max {calls.max()} |",
        f"| time of one SOCP at fixed tf (s) | mean {np.nanmean(single):.4f} |"
        if single.size
        else "| time of one SOCP at fixed tf (s) | - |",
        f"| first call, cvxpy problem build included (s) | {result['build_s']:.3f} |",
        f"| optimal propellant (kg) | mean {propellant.mean():.2f}, min {propellant.min():.2f}, max "
        f"{propellant.max():.2f} |"
        if feasible
        else "| optimal propellant (kg) | - |",
        f"| optimal final time (s) | mean {tf.mean():.2f}, min {tf.min():.2f}, max {tf.max():.2f} |"
        if feasible
        else "| optimal final time (s) | - |",
        f"| largest lossless gap (sigma - abs u) / sigma | {max(r['gap'] for r in feasible):.2e} |" if feasible else "",
        "",
        f"At {seconds.mean():.2f} s per landing on one core, 1000 Monte Carlo landings cost about "
        f"{1000 * seconds.mean() / 60:.0f} minutes.",
        "",
        "| # | altitude (m) | distance (m) | speed (m/s) | status | tf (s) | propellant (kg) | time (s) | SOCPs |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['index']} | {r['altitude']:.0f} | {r['distance']:.0f} | {r['speed']:.1f} | {r['status']} | "
            f"{r['tf']:.2f} | {r['propellant']:.2f} | {r['seconds']:.3f} | {r['calls']} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--landers", type=int, default=20, help="initial conditions to solve")
    parser.add_argument("--nodes", type=int, default=40, help="time nodes of the discretisation")
    parser.add_argument("--seed", type=int, default=0, help="reset seed of the nominal scenario")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="Markdown report to write")
    args = parser.parse_args(argv)
    if args.landers < 1:
        parser.error("--landers must be at least 1")
    command = "python benchmarks/convex_reference.py " + shlex.join(sys.argv[1:] if argv is None else argv)
    result = run(args.landers, args.nodes, args.seed)
    text = report(result, command.strip())
    write_atomic(args.output, text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
