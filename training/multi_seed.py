"""Train one config with several seeds and report the spread of the results.

    lunar train --config C --seeds 0-9 [--backend ray [--address ADDR]] [--cpus-per-seed 1]

Each seed ``k`` is an independent run of :func:`training.train.train` with ``seed: k`` in its own
run folder ``<base>/seed_<k>``. With the Ray backend the seeds run in parallel as Ray tasks, each
reserving ``cpus_per_seed`` CPUs and running torch and numba with that many threads; with the
local backend they run one after the other in this process.

When a seed has finished, its best model (``seed_<k>/best``) is flown with
:func:`lunar_env.evaluation.suite.fly_scenario` on the training scenario with a held-out benchmark
seed (default 0: training draws its episodes from streams ``TRAIN_SEED_OFFSET + k`` and its
periodic evaluations from ``EVAL_SEED_OFFSET + k``, far from small benchmark seeds). The summary
``<base>/seeds_summary.json`` and ``.md`` list each seed's numbers with their mean and sample
standard deviation across seeds.

A Ray task whose worker dies is run again (``max_retries``); the rerun resumes the seed's last
checkpoint when one was written, else it starts the seed over.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from pathlib import Path
from typing import Any

import numpy as np

from lunar_env.checks import check_integer
from training.config import TRAIN_SEED_OFFSET, TrainConfig

DEFAULT_BENCH_EPISODES = 500
DEFAULT_BENCH_SEED = 0
DEFAULT_MAX_RETRIES = 2  # reruns of a seed whose worker died
SUMMARY_NAME = "seeds_summary"
SUMMARY_METRICS = ("success_rate", "propellant_kg", "miss_distance_m")
_SEED_ITEM = re.compile(r"^(\d+)(?:-(\d+))?$")


def parse_seeds(text: str) -> tuple[int, ...]:
    """Seeds from ``3`` (seed 3), ``0-9`` (seeds 0 to 9, inclusive), ``0,2,5`` or a mix (``0-3,7``).

    Returns the seeds in the order given; ValueError on a bad item, a reversed range, a
    duplicate or a seed outside [0, TRAIN_SEED_OFFSET).
    """
    seeds: list[int] = []
    for item in str(text).split(","):
        match = _SEED_ITEM.match(item.strip())
        if not match:
            raise ValueError(f"--seeds: cannot read {item.strip()!r} in {text!r}; write e.g. 3, 0-9 or 0,2,5")
        low = int(match.group(1))
        high = int(match.group(2)) if match.group(2) is not None else low
        if high < low:
            raise ValueError(f"--seeds: range {item.strip()!r} runs backwards")
        seeds.extend(range(low, high + 1))
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"--seeds: {text!r} names a seed more than once")
    if any(s >= TRAIN_SEED_OFFSET for s in seeds):
        raise ValueError(f"--seeds: seeds must be in [0, {TRAIN_SEED_OFFSET}), got {text!r}")
    return tuple(seeds)


def seed_run_dir(base_dir: str | Path, seed: int) -> Path:
    return Path(base_dir) / f"seed_{seed}"


def checkpoint_steps(run_dir: Path) -> int | None:
    """Steps of the run folder's checkpoint, or None when it has none."""
    from training.train import CHECKPOINT, STATE_FILE

    for name in (CHECKPOINT, CHECKPOINT + ".old"):
        state = run_dir / name / STATE_FILE
        if state.is_file():
            try:
                return int(json.loads(state.read_text())["num_timesteps"])
            except (json.JSONDecodeError, KeyError, ValueError, TypeError):
                return None
    return None


def benchmark_best(run_dir: Path, config: TrainConfig, episodes: int, seed: int) -> dict[str, Any]:
    """Fly the run's best model on its training scenario: success rate, and propellant (kg) and
    miss distance (m) averaged over the landed episodes (None when none landed)."""
    from agents.model_folder import read_metadata
    from agents.registry import load_policy
    from lunar_env.evaluation.suite import fly_scenario
    from lunar_env.simulator import LanderBatch

    best = run_dir / "best"
    probe = LanderBatch(config.training_scenario(), 1, mode=config.mode, observation_mode=config.observation_mode)
    policy = load_policy(str(best), probe)
    # The benchmark flies the named scenario as the benchmark defines it, not with the training reward
    # (the reward does not change the dynamics, so the episodes are the same either way).
    run = fly_scenario(policy, config.scenario, episodes, seed, config.mode, config.observation_mode, progress=False)
    m = run.metrics
    landed = m["is_success"]
    meta = read_metadata(best)
    return {"success_rate": float(landed.mean()), "landed": int(landed.sum()), "episodes": int(episodes),
            "propellant_kg": float(m["propellant_used"][landed].mean()) if landed.any() else None,
            "miss_distance_m": float(m["miss_distance"][landed].mean()) if landed.any() else None,
            "best_model_steps": int(meta.get("trained_steps", 0))}


def train_seed(config: TrainConfig, run_dir: str | Path, bench_episodes: int = DEFAULT_BENCH_EPISODES,
               bench_seed: int = DEFAULT_BENCH_SEED, progress: bool = False) -> dict[str, Any]:
    """Train one seed and benchmark its best model; returns the seed's row of the summary.

    A run folder with a checkpoint is continued (``run_seeds`` allows that only with ``resume``,
    or when a rerun of a lost task finds the checkpoint its first attempt wrote)."""
    import time

    from training.train import train

    run_dir = Path(run_dir)
    started = time.perf_counter()
    steps = checkpoint_steps(run_dir)
    if steps is None:
        # A run folder without a checkpoint holds at most the log of a lost attempt: start over.
        (run_dir / "evaluations.jsonl").unlink(missing_ok=True)
        train(config, run_dir, resume=False, progress=progress)
    elif steps < config.total_timesteps:
        train(config, run_dir, resume=True, progress=progress)
    # else: the run is complete (a rerun after the work was done); only the benchmark is left.
    row = {"seed": config.seed, "run_dir": str(run_dir), **benchmark_best(run_dir, config, bench_episodes, bench_seed),
           "wall_time_s": round(time.perf_counter() - started, 1)}
    return row


def _seed_task(config_data: dict, run_dir: str, bench_episodes: int, bench_seed: int, cpus: int) -> dict[str, Any]:
    """One Ray task: threads limited to the reserved CPUs, then :func:`train_seed`."""
    import numba
    import torch

    from training.config import config_from_dict

    torch.set_num_threads(cpus)
    numba.set_num_threads(max(1, min(cpus, numba.config.NUMBA_NUM_THREADS)))
    return train_seed(config_from_dict(config_data), run_dir, bench_episodes=bench_episodes, bench_seed=bench_seed)


def _mean_std(values: list[float | None]) -> dict[str, Any]:
    finite = [v for v in values if v is not None and math.isfinite(v)]
    return {"mean": float(np.mean(finite)) if finite else None,
            "std": float(np.std(finite, ddof=1)) if len(finite) > 1 else None,
            "n": len(finite)}


def summarize(rows: list[dict[str, Any]], config: TrainConfig, bench_episodes: int, bench_seed: int) -> dict[str, Any]:
    """The summary document: each seed's row and the mean and sample standard deviation (ddof=1)
    of every metric over the seeds where it is defined."""
    rows = sorted(rows, key=lambda r: r["seed"])
    return {"name": config.name, "env_id": config.env_id, "scenario": config.scenario,
            "total_timesteps": config.total_timesteps,
            "benchmark": {"model": "best", "scenario": config.scenario, "mode": config.mode,
                          "observation_mode": config.observation_mode, "episodes": bench_episodes, "seed": bench_seed},
            "seeds": [r["seed"] for r in rows], "runs": rows,
            "aggregate": {key: _mean_std([r[key] for r in rows]) for key in SUMMARY_METRICS}}


def _cell(value: float | None, fmt: str) -> str:
    return "-" if value is None else format(value, fmt)


def summary_markdown(summary: dict[str, Any]) -> str:
    """The summary as a Markdown table (one row per seed, then mean +- standard deviation)."""
    b = summary["benchmark"]
    lines = [f"# {summary['name']}: {len(summary['seeds'])} seeds",
             "",
             f"Best model of each seed flown on `{b['scenario']}` ({b['mode']}, {b['observation_mode']} observations), "
             f"{b['episodes']} episodes, benchmark seed {b['seed']}. Propellant and miss distance are means over "
             "the landed episodes; the last row is the mean +- sample standard deviation across seeds.",
             "",
             "| seed | best model at step | landed | success rate | propellant kg | miss m |",
             "|---|---|---|---|---|---|"]
    for r in summary["runs"]:
        lines.append(f"| {r['seed']} | {r['best_model_steps']:,} | {r['landed']}/{r['episodes']} | "
                     f"{_cell(r['success_rate'], '.3f')} | {_cell(r['propellant_kg'], '.1f')} | "
                     f"{_cell(r['miss_distance_m'], '.2f')} |")
    agg = summary["aggregate"]

    def pm(key: str, fmt: str) -> str:
        entry = agg[key]
        if entry["mean"] is None:
            return "-"
        return format(entry["mean"], fmt) + ("" if entry["std"] is None else " +- " + format(entry["std"], fmt))

    lines.append(f"| mean +- std | | | {pm('success_rate', '.3f')} | {pm('propellant_kg', '.1f')} | "
                 f"{pm('miss_distance_m', '.2f')} |")
    return "\n".join(lines) + "\n"


def write_summary(summary: dict[str, Any], base_dir: str | Path) -> list[Path]:
    """Write ``seeds_summary.json`` and ``seeds_summary.md`` atomically; returns their paths."""
    from lunar_env.atomic import write_atomic

    base_dir = Path(base_dir)
    paths = [base_dir / f"{SUMMARY_NAME}.json", base_dir / f"{SUMMARY_NAME}.md"]
    write_atomic(paths[0], json.dumps(summary, indent=2) + "\n")
    write_atomic(paths[1], summary_markdown(summary))
    return paths


def run_seeds(config: TrainConfig, seeds: tuple[int, ...] | list[int], base_dir: str | Path, backend: str = "local",
              address: str | None = None, cpus_per_seed: int = 1, resume: bool = False,
              bench_episodes: int = DEFAULT_BENCH_EPISODES, bench_seed: int = DEFAULT_BENCH_SEED,
              max_retries: int = DEFAULT_MAX_RETRIES, progress: bool = True) -> dict[str, Any]:
    """Train ``config`` once per seed in ``<base_dir>/seed_<k>`` and write the seeds summary.

    Args:
        backend: "local" (one seed after the other, here) or "ray" (in parallel as Ray tasks).
        address: with "ray", a running cluster (None: a local Ray instance on the machine's cores).
        cpus_per_seed: CPUs each Ray task reserves; torch and numba use as many threads.
        resume: continue seeds that have a checkpoint; without it a seed folder that already
            holds a run is an error.
        bench_episodes, bench_seed: the held-out benchmark of each seed's best model.
    Returns the summary (also written as ``seeds_summary.json`` / ``.md`` in ``base_dir``).
    """
    if backend not in ("local", "ray"):
        raise ValueError(f"--backend must be 'local' or 'ray', got {backend!r}")
    if address is not None and backend != "ray":
        raise ValueError("--address needs --backend ray")
    seeds = tuple(seeds)
    if not seeds:
        raise ValueError("--seeds names no seed")
    check_integer("--cpus-per-seed", cpus_per_seed, 1)
    check_integer("--bench-episodes", bench_episodes, 1)
    check_integer("--bench-seed", bench_seed, 0, TRAIN_SEED_OFFSET - 1)
    base_dir = Path(base_dir).resolve()  # Ray workers may run in another folder
    configs = [dataclasses.replace(config, seed=k, name=f"{config.name}_seed{k}") for k in seeds]
    if not resume:
        folders = [seed_run_dir(base_dir, k) for k in seeds]
        taken = [str(folder) for folder in folders if checkpoint_steps(folder) is not None]
        if taken:
            raise ValueError(
                f"{', '.join(taken)} already hold(s) a run; pass --resume to continue or choose another --run-dir"
            )
    rows: list[dict[str, Any]] = []
    if backend == "local":
        for cfg in configs:
            print(f"seed {cfg.seed}: training -> {seed_run_dir(base_dir, cfg.seed)}")
            rows.append(
                train_seed(
                    cfg,
                    seed_run_dir(base_dir, cfg.seed),
                    bench_episodes=bench_episodes,
                    bench_seed=bench_seed,
                    progress=progress,
                )
            )
            _print_row(rows[-1])
    else:
        rows = _run_on_ray(configs, base_dir, address, cpus_per_seed, bench_episodes, bench_seed, max_retries, progress)
    summary = summarize(rows, config, bench_episodes, bench_seed)
    write_summary(summary, base_dir)
    return summary


def _print_row(row: dict[str, Any]) -> None:
    print(
        f"seed {row['seed']}: landed {100 * row['success_rate']:.1f}%, propellant "
        f"{_cell(row['propellant_kg'], '.1f')} kg "
        f"({row['wall_time_s']:.0f} s)"
    )


def _run_on_ray(
    configs: list[TrainConfig],
    base_dir: Path,
    address: str | None,
    cpus: int,
    bench_episodes: int,
    bench_seed: int,
    max_retries: int,
    progress: bool,
) -> list[dict[str, Any]]:
    from lunar_env.ray_cluster import init_ray

    ray = init_ray(address, feature="--backend ray")
    from ray.exceptions import RayTaskError
    from tqdm.auto import tqdm

    task = ray.remote(_seed_task).options(num_cpus=cpus, max_retries=max_retries, retry_exceptions=False)
    pending = {
        task.remote(
            dataclasses.replace(cfg, torch_threads=cpus).to_dict(),
            str(seed_run_dir(base_dir, cfg.seed)),
            bench_episodes,
            bench_seed,
            cpus,
        ): cfg.seed
        for cfg in configs
    }
    print(
        f"{len(configs)} seeds on Ray ({int(ray.cluster_resources().get('CPU', 0))} CPUs, {cpus} per seed) -> "
        f"{base_dir}"
    )
    rows: dict[int, dict[str, Any]] = {}
    try:
        with tqdm(total=len(configs), desc="seeds", unit="seed", disable=not progress) as bar:
            while pending:
                ready, _ = ray.wait(list(pending), num_returns=1)
                for ref in ready:
                    seed = pending.pop(ref)
                    try:
                        rows[seed] = ray.get(ref)
                    except RayTaskError as err:
                        cause = getattr(err, "cause", None)
                        if isinstance(cause, ValueError):
                            raise ValueError(f"seed {seed}: {cause}") from None
                        raise
                    bar.update(1)
                    bar.write(
                        f"seed {seed}: landed {100 * rows[seed]['success_rate']:.1f}%, propellant "
                        f"{_cell(rows[seed]['propellant_kg'], '.1f')} kg ({rows[seed]['wall_time_s']:.0f} s)"
                    )
    finally:
        for ref in pending:
            ray.cancel(ref, force=False)
    return [rows[cfg.seed] for cfg in configs]
