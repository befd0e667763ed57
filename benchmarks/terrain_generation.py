"""Time and memory of procedural terrain generation (the default TerrainSpec pool).

    python benchmarks/terrain_generation.py [--seed 0] [--repeats 2] [--skip-cold] [--out benchmarks/results/terrain.md]

Measures, for the default pool:
- cold: a fresh process with an empty numba cache (compilation included);
- cached start: a fresh process whose numba cache is filled (what a second run pays);
- warm: generating again in a process that has already generated once, on the default
  number of threads and on one thread;
- memory: the bytes of the pool's arrays, and the peak resident memory of the cached-start
  process (interpreter, numba and the generation's temporaries included).
Writes a Markdown table (atomically) and prints it.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

from lunar_env.atomic import write_atomic

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

CHILD = r"""
import json, resource, sys, time
t0 = time.perf_counter()
from lunar_env.terrain.spec import TerrainSpec
spec = TerrainSpec()
pool = spec.generate_pool(int(sys.argv[1]))
elapsed = time.perf_counter() - t0
nbytes = sum(g.tile.fine.heights.nbytes + g.tile.coarse.heights.nbytes + g.tile.shadow_fine.nbytes
             + g.tile.shadow_coarse.nbytes for g in pool)
print(json.dumps({"seconds": elapsed, "nbytes": nbytes,
                  "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}))
"""


def run_child(seed: int, cache_dir: str) -> dict:
    env = dict(os.environ, NUMBA_CACHE_DIR=cache_dir, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    out = subprocess.run([sys.executable, "-c", CHILD, str(seed)], env=env, cwd=ROOT, check=True,
                         capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def warm_times(seed: int, repeats: int) -> tuple[float, float, int, int]:
    from lunar_env.terrain.spec import TerrainSpec

    spec = TerrainSpec()
    spec.generate_pool(seed)  # compile or load the cache
    threads = min(os.cpu_count() or 1, spec.num_tiles)
    best = best_one = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        spec.generate_pool(seed)
        best = min(best, time.perf_counter() - t)
        t = time.perf_counter()
        spec.generate_pool(seed, workers=1)
        best_one = min(best_one, time.perf_counter() - t)
    return best, best_one, threads, spec.num_tiles


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--skip-cold", action="store_true", help="skip the empty-cache run (compilation)")
    parser.add_argument("--out", default=os.path.join(ROOT, "benchmarks", "results", "terrain.md"))
    args = parser.parse_args(argv)

    from lunar_env.terrain.spec import TerrainSpec

    spec = TerrainSpec()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    with tempfile.TemporaryDirectory() as cache:
        cold = None if args.skip_cold else run_child(args.seed, cache)
        cached = run_child(args.seed, cache)
    warm, warm_one, threads, tiles = warm_times(args.seed, args.repeats)

    mib = 2.0 ** 20
    command = "python benchmarks/terrain_generation.py " + " ".join(argv if argv is not None else sys.argv[1:])
    fine, coarse = spec.fine_shape, spec.coarse_shape
    lines = [
        "# Terrain generation benchmark",
        "",
        f"Command: `{command.strip()}`",
        "",
        f"Default `TerrainSpec()`: {tiles} tiles, fine {fine[0]}x{fine[1]} at {spec.fine_cell_m:g} m, coarse "
        f"{coarse[0]}x{coarse[1]} at {spec.coarse_cell_m:g} m; machine: {os.cpu_count()} cores, load average "
        f"{load:.1f} when the run started (other work on the machine slows every figure).",
        "",
        "| measurement | value |",
        "|---|---|",
    ]
    if cold is not None:
        lines.append(f"| cold: fresh process, empty numba cache (compilation included) | {cold['seconds']:.1f} s |")
    lines += [
        f"| cached start: fresh process, numba cache filled | {cached['seconds']:.1f} s |",
        f"| warm, {threads} threads | {warm:.2f} s ({1000 * warm / tiles:.0f} ms a tile) |",
        f"| warm, 1 thread | {warm_one:.2f} s ({1000 * warm_one / tiles:.0f} ms a tile) |",
        f"| pool arrays (heights float64, shadows uint8) | {cached['nbytes'] / mib:.1f} MiB "
        f"({spec.tile_memory_bytes / mib:.2f} MiB a tile) |",
        f"| peak resident memory of the cached-start process | {cached['peak_rss_bytes'] / mib:.0f} MiB |",
        "",
        "Environments share the pool: `lunar_env.simulator.terrain_pool` stacks it once per process and"
        " rebuilds the tiles as views of the stacked arrays, so it is held in memory once.",
        "",
    ]
    text = "\n".join(lines)
    write_atomic(args.out, text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
