"""Monte Carlo throughput of ``lunar bench`` on Ray against the single-process run on the same machine.

    python benchmarks/ray_montecarlo.py [--episodes 20000] [--cpus 2] [--out benchmarks/results/ray_montecarlo.md]

Flies the same episodes (policy, scenario, seed) three times with ``run_bench``, the function
behind ``lunar bench``, without the convex optimum (``--optimum-samples 0``): in this process
(numba's prange over the batch on every core), then on a local Ray instance of ``--cpus`` CPUs
twice, first with fresh worker processes (each imports the package, builds the scenario's terrain
pool and loads numba's cache), then with the same workers again. The single process spreads only
the physics over the cores (the policy runs in one thread); Ray runs whole shards side by side in
separate processes but pays for worker start-up, task dispatch and result transfer. The ratio is
the engine's net cost or gain on one machine, the baseline for scaling out to more. The Ray
start-up itself is timed apart. The reports must be identical apart from their timing; the script
says so, and fails if they are not. Recorded runs use fewer episodes than the default to stay
short on a shared machine.
"""

from __future__ import annotations

import argparse
import os
import platform
import shlex
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def bench(backend: str, args) -> tuple[float, dict]:
    """Wall time (s) of the flights and the report without its timing."""
    from agents.bench_runner import run_bench

    start = time.perf_counter()
    report, _ = run_bench(args.policy, (args.scenario,), args.episodes, args.seed, args.mode, optimum_samples=0,
                          progress=False, backend=backend)
    elapsed = time.perf_counter() - start
    report.pop("timing")
    return elapsed, report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--episodes", type=int, default=20_000)
    parser.add_argument("--policy", default="zemzev")
    parser.add_argument("--scenario", default="nominal")
    parser.add_argument("--mode", default="3dof", choices=["3dof", "6dof"])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cpus", type=int, default=2, help="CPUs of the local Ray instance")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "ray_montecarlo.md"))
    args = parser.parse_args(argv)

    import numba
    import ray

    from lunar_env.atomic import write_atomic
    from lunar_env.evaluation.ray_backend import SHARDS_PER_CPU, auto_shard_size
    from lunar_env.ray_cluster import init_ray

    command = "python benchmarks/ray_montecarlo.py" + "".join(f" {shlex.quote(a)}" for a in (argv or sys.argv[1:]))
    bench("local", argparse.Namespace(**{**vars(args), "episodes": 8}))  # numba's cache loaded before timing
    local_s, local_report = bench("local", args)
    print(f"single process: {local_s:.1f} s")

    start = time.perf_counter()
    init_ray(num_cpus=args.cpus)  # what `lunar bench --backend ray` starts, with --cpus CPUs
    startup_s = time.perf_counter() - start
    cold_s, cold_report = bench("ray", args)
    print(f"Ray, fresh workers: {cold_s:.1f} s")
    warm_s, warm_report = bench("ray", args)
    print(f"Ray, warm workers: {warm_s:.1f} s")
    ray.shutdown()
    identical = local_report == cold_report == warm_report

    n = args.episodes
    shard = auto_shard_size(n, args.cpus)
    rows = [(f"single process (numba prange, {numba.get_num_threads()} threads)", local_s),
            (f"Ray, {args.cpus} CPUs, fresh workers", cold_s),
            (f"Ray, {args.cpus} CPUs, warm workers", warm_s)]
    lines = ["# Monte Carlo throughput on Ray", "", f"Command: `{command}`", "",
             f"`lunar bench --policy {args.policy} --scenario {args.scenario} --mode {args.mode} --seed {args.seed} "
             f"--episodes {n} --optimum-samples 0`, in this process and with `--backend ray` on a local Ray "
             f"instance of {args.cpus} CPUs ({-(-n // shard)} shards of up to {shard} episodes: {SHARDS_PER_CPU} per "
             f"CPU, one task per shard, 1 CPU and 1 numba thread each). Machine: {platform.machine()}, "
             f"{os.cpu_count()} cores, Python {platform.python_version()}, Ray {ray.__version__}; other jobs may "
             "share the cores, so figures vary between runs.", "",
             "| run | wall time s | episodes/s | relative to single process |", "|---|---|---|---|"]
    lines += [f"| {name} | {t:.1f} | {n / t:,.0f} | {local_s / t:.2f} |" for name, t in rows]
    lines += ["", f"Ray start-up (`ray.init`, not in the times above): {startup_s:.1f} s. "
              f"Reports identical apart from timing: {'yes' if identical else 'NO'}."]
    text = "\n".join(lines) + "\n"
    print(text)
    write_atomic(Path(args.out), text)
    print(f"wrote {args.out}")
    if not identical:
        print("error: the Ray reports differ from the single-process report", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
