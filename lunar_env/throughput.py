"""Environment throughput: env-steps per second of the native batch beside reference environments.

Every figure is measured in the same run on the same machine, so the ratios hold even when the
machine is shared. The references are Gymnasium's LunarLanderContinuous-v3 (Box2D, a
SyncVectorEnv of 16) and, when installed, EnvPool's C++ LunarLanderContinuous-v3 (16 envs,
one thread per core). Actions are uniform random, drawn ahead of time so that drawing them
is not what is measured.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass

import numpy as np

REFERENCE_NUM_ENVS = 16
ACTION_POOL = 16  # distinct random action batches cycled through


@dataclass
class Measurement:
    name: str
    num_envs: int
    steps_per_second: float
    seconds: float


def _time_loop(step, num_envs: int, seconds: float) -> tuple[float, float]:
    steps = 0
    start = time.perf_counter()
    while True:
        for _ in range(10):
            step()
        steps += 10 * num_envs
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return steps / elapsed, elapsed


def measure_native(env_id: str, num_envs: int, seconds: float, seed: int = 0, scenario: str = "nominal") -> Measurement:
    """Steps/s of the native VectorEnv (Gymnasium API, next-step autoreset, copies on)."""
    import gymnasium as gym

    import lunar_env  # noqa: F401  (registers the ids)

    env = gym.make_vec(env_id, num_envs=num_envs, vectorization_mode="vector_entry_point", scenario=scenario)
    env.reset(seed=seed)
    rng = np.random.default_rng(seed)
    pool = rng.uniform(-1.0, 1.0, (ACTION_POOL, *env.action_space.shape)).astype(np.float32)
    counter = [0]

    def step():
        env.step(pool[counter[0] % ACTION_POOL])
        counter[0] += 1

    step()  # compile or load the kernels before timing
    rate, elapsed = _time_loop(step, num_envs, seconds)
    env.close()
    return Measurement(f"{env_id} {scenario} (native batch)", num_envs, rate, elapsed)


def _time_reference(env, seed: int, seconds: float) -> tuple[float, float]:
    """Steps/s of a reference LunarLander vector env under a pool of random actions; closes it."""
    rng = np.random.default_rng(seed)
    pool = rng.uniform(-1.0, 1.0, (ACTION_POOL, REFERENCE_NUM_ENVS, 2)).astype(np.float32)
    counter = [0]

    def step():
        env.step(pool[counter[0] % ACTION_POOL])
        counter[0] += 1

    result = _time_loop(step, REFERENCE_NUM_ENVS, seconds)
    env.close()
    return result


def measure_gymnasium_lunar_lander(seconds: float, seed: int = 0) -> Measurement | None:
    import gymnasium as gym

    try:
        env = gym.make_vec("LunarLanderContinuous-v3", num_envs=REFERENCE_NUM_ENVS, vectorization_mode="sync")
    except Exception:  # Box2D missing: the reference is optional
        return None
    env.reset(seed=seed)
    rate, elapsed = _time_reference(env, seed, seconds)
    return Measurement("Gymnasium LunarLanderContinuous-v3 (sync x16)", REFERENCE_NUM_ENVS, rate, elapsed)


def measure_envpool_lunar_lander(seconds: float, seed: int = 0) -> Measurement | None:
    try:
        import envpool
    except ImportError:
        return None
    threads = os.cpu_count() or 1
    env = envpool.make_gymnasium("LunarLanderContinuous-v3", num_envs=REFERENCE_NUM_ENVS,
                                 batch_size=REFERENCE_NUM_ENVS, num_threads=threads, seed=seed)
    env.reset()
    rate, elapsed = _time_reference(env, seed, seconds)
    return Measurement(f"EnvPool LunarLanderContinuous-v3 (x16, {threads} threads)", REFERENCE_NUM_ENVS, rate, elapsed)


COMPILE_PROBE = """
import time, numpy as np
start = time.perf_counter()
from lunar_env.simulator import LanderBatch
batch = LanderBatch("nominal", 2, mode="6dof")
batch.reset(seed=0)
batch.step(np.zeros((2, batch.act_dim), np.float32))
print(time.perf_counter() - start)
"""


def measure_compile_time() -> dict[str, float]:
    """Seconds to first step in a fresh process: with an empty numba cache, then with it filled."""
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "NUMBA_CACHE_DIR": cache}
        times = {}
        for label in ("cold_cache_s", "warm_cache_s"):
            out = subprocess.run(
                [sys.executable, "-c", COMPILE_PROBE], env=env, capture_output=True, text=True, check=True
            )
            times[label] = float(out.stdout.strip().splitlines()[-1])
    return times


def run(
    sizes=(1, 64, 1024, 4096),
    seconds: float = 3.0,
    modes=("6dof", "3dof"),
    compile_time: bool = True,
    progress=print,
    scenarios=("nominal_flat", "nominal"),
) -> dict:
    """Measure everything and return a JSON-ready dict (see ``format_markdown``)."""
    env_ids = {"6dof": "lunar_env/SouthPole-v0", "3dof": "lunar_env/SouthPole3DoF-v0"}
    results: list[Measurement] = []
    references: list[Measurement] = []
    for reference in (measure_gymnasium_lunar_lander, measure_envpool_lunar_lander):
        m = reference(seconds)
        if m is not None:
            progress(f"  {m.name}: {m.steps_per_second:,.0f} steps/s")
            references.append(m)
    for mode in modes:
        for scenario in scenarios:
            for n in sizes:
                m = measure_native(env_ids[mode], n, seconds, scenario=scenario)
                progress(f"  {m.name} n={n}: {m.steps_per_second:,.0f} steps/s")
                results.append(m)
    report = {
        "schema": "lunar_env.throughput/1",
        "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0], "numba_threads": _numba_threads()},
        "references": [asdict(m) for m in references],
        "native": [asdict(m) for m in results],
    }
    if compile_time:
        report["compile"] = measure_compile_time()
        progress(
            f"  numba first call: {report['compile']['cold_cache_s']:.1f} s cold, "
            f"{report['compile']['warm_cache_s']:.1f} s cached"
        )
    return report


def _numba_threads() -> int:
    import numba

    return int(numba.config.NUMBA_NUM_THREADS)


def format_markdown(report: dict) -> str:
    """A Markdown table of the report with ratios to each reference."""
    refs = report["references"]
    header = (
        "| environment | n | steps/s | " + " | ".join(f"x {r['name'].split(' (')[0].split()[0]}" for r in refs) + " |"
    )
    lines = [header, "|" + "---|" * (3 + len(refs))]
    for m in refs + report["native"]:
        ratios = " | ".join(f"{m['steps_per_second'] / r['steps_per_second']:.1f}" for r in refs)
        lines.append(f"| {m['name']} | {m['num_envs']} | {m['steps_per_second']:,.0f} | {ratios} |")
    if "compile" in report:
        c = report["compile"]
        lines.append("")
        lines.append(
            f"Numba first call (compile, fresh process): {c['cold_cache_s']:.1f} s with an empty cache, "
            f"{c['warm_cache_s']:.1f} s with the cache filled."
        )
    return "\n".join(lines)


def main_json(report: dict) -> str:
    return json.dumps(report, indent=2)
