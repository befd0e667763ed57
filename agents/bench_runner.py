"""The benchmark protocol (lunar_env/evaluation/) applied to a policy given by name or path, as
``lunar bench``, ``lunar demo`` and shipping take it: ``run_bench``, the convex fuel optimum the
suite compares with, and the Ray flights whose workers load the policy by its spec.

Module level imports only the standard library, so the ``lunar`` parser can read the defaults
below without loading numba; everything else is imported when a function runs.
"""

from __future__ import annotations

import time
from pathlib import Path

from lunar_env.checks import check_integer

DEFAULT_EPISODES = 1000
DEFAULT_OPTIMUM_SAMPLES = 50


class PolicyLoader:
    """A picklable function ``batch -> Policy`` that loads a policy by its ``load_policy`` spec:
    how a Ray worker builds the policy of its shard."""

    def __init__(self, spec: str, seed: int = 0):
        self.spec, self.seed = spec, seed

    def __call__(self, batch):
        from agents.registry import load_policy

        return load_policy(self.spec, batch, seed=self.seed)

    def __repr__(self) -> str:
        return f"PolicyLoader({self.spec!r}, seed={self.seed})"


def portable_spec(policy_spec: str) -> str:
    """A spec that means the same in a Ray worker: relative paths become absolute (workers may
    run in another folder; on a multi-node cluster the path must exist on every node)."""
    if Path(policy_spec).exists():
        return str(Path(policy_spec).resolve())
    return policy_spec


def fly_scenario_ray(policy_spec, scenario: str, episodes: int, seed: int, mode: str,
                     observation_mode: str = "sensors", **options):
    """:func:`lunar_env.evaluation.ray_backend.fly_scenario_ray` with the policy given by name or
    path (each worker loads it, with ``seed``), or as a picklable function ``batch -> Policy``."""
    from lunar_env.evaluation.ray_backend import fly_scenario_ray as fly

    make_policy = policy_spec if callable(policy_spec) else PolicyLoader(portable_spec(policy_spec), seed)
    return fly(make_policy, scenario, episodes, seed, mode, observation_mode, **options)


def run_bench(policy_spec: str, scenarios: tuple[str, ...], episodes: int, seed: int, mode: str,
              observation_mode: str = "sensors", optimum_samples: int = DEFAULT_OPTIMUM_SAMPLES,
              progress: bool = True, suite_label: str = "custom", backend: str = "local",
              address: str | None = None) -> tuple[dict, list]:
    """Fly the scenarios and build the report; returns (report, runs).

    ``backend`` "local" flies in this process; "ray" flies shards as Ray tasks on the cluster at
    ``address`` (a local Ray instance when None), with the same numbers.
    """
    from agents.registry import load_policy
    from lunar_env.evaluation.report import build_report
    from lunar_env.evaluation.suite import attach_optimum, fly_scenario
    from lunar_env.simulator import LanderBatch

    check_integer("--seed", seed, 0)
    check_integer("--episodes", episodes, 1)
    if backend not in ("local", "ray"):
        raise ValueError(f"--backend must be 'local' or 'ray', got {backend!r}")
    if address is not None and backend != "ray":
        raise ValueError("--address needs --backend ray")
    if backend == "ray":
        from lunar_env.ray_cluster import init_ray

        init_ray(address)  # fails early, with a clear message, when Ray is missing or unreachable
    start = time.perf_counter()
    runs = []
    optimum = convex_optimum_fn(progress) if optimum_samples > 0 else None
    for name in scenarios:
        probe = LanderBatch(name, 1, mode=mode, observation_mode=observation_mode)
        policy = load_policy(policy_spec, probe, seed=seed)
        if backend == "ray":
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


def convex_optimum_fn(progress: bool):
    """The fuel-optimal propellant function the suite needs, from agents.convex_reference."""
    from agents.optimum import scenario_optimum

    def optimum(scenario, r0, v0, m0):
        return scenario_optimum(scenario, r0, v0, m0, progress=progress)

    return optimum
