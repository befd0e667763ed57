"""Benchmark flights sharded over a Ray cluster, with results equal to the single-process run.

``fly_scenario_ray`` cuts the episode range ``[0, episodes)`` into shards
``[start, start + count)``. Each shard is one Ray task that builds its own ``LanderBatch(index_offset=start)``,
builds the policy with the picklable function it is given, flies the shard exactly as
:func:`lunar_env.evaluation.suite.fly_scenario` flies one of its batches, and returns the shard's
per-episode arrays. Episode ``j`` is lander ``j`` of the seed's stream wherever it is flown, so
the driver, which puts the shards back together in index order, obtains the same
:class:`ScenarioRun` as ``fly_scenario`` number for number.

A task whose worker dies (killed process, lost node) is run again by Ray, up to ``max_retries``
times; its result is stored under its shard index, so a retried shard is neither lost nor counted
twice. Errors raised by the policy or by bad input are not retried: they stop the run.

Ray is an optional extra (``pip install "lunar-env[ray]"``) and is imported only when a function
here runs: ``import lunar_env`` never imports it (connecting: ``lunar_env/ray_cluster.py``).
docs/scaling.md shows cluster use.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from typing import Any

from lunar_env.checks import check_integer
from lunar_env.evaluation.suite import (
    DEFAULT_SHARD_SIZE,
    ScenarioRun,
    fly_shard,
    merge_shards,
    shard_ranges,
)
from lunar_env.ray_cluster import init_ray

DEFAULT_MAX_RETRIES = 3  # reruns of a shard whose worker died before the run gives up
SHARDS_PER_CPU = 4  # automatic sharding: several shards per CPU, so one slow or rerun shard delays little
MIN_AUTO_SHARD_SIZE = 256  # automatic sharding never goes below this (per-step Python overhead)

# A picklable function batch -> Policy; each task calls it to build its own policy
# (agents.bench_runner.PolicyLoader builds a policy by name or path this way).
PolicyFactory = Callable[[Any], Any]


def auto_shard_size(episodes: int, cpus: int) -> int:
    """``SHARDS_PER_CPU`` shards per CPU, within [``MIN_AUTO_SHARD_SIZE``, ``DEFAULT_SHARD_SIZE``]."""
    size = math.ceil(episodes / (SHARDS_PER_CPU * max(1, cpus)))
    return max(1, min(episodes, max(MIN_AUTO_SHARD_SIZE, min(DEFAULT_SHARD_SIZE, size))))


def _limit_threads(cpus: int) -> None:
    """Use as many threads as CPUs the task reserved (numba's prange, and torch if a policy loaded it)."""
    import numba

    numba.set_num_threads(max(1, min(int(cpus), numba.config.NUMBA_NUM_THREADS)))
    if "torch" in sys.modules:  # never imported here: only a policy that needs torch brings it in
        sys.modules["torch"].set_num_threads(max(1, int(cpus)))


def shard_task(
    make_policy: PolicyFactory,
    scenario: str,
    start: int,
    count: int,
    seed: int,
    mode: str,
    observation_mode: str,
    cpus: int,
    label: str,
) -> dict[str, Any]:
    """The body of one Ray task: build the shard's batch and policy, fly it (see :func:`fly_shard`)."""
    from lunar_env.simulator import LanderBatch

    batch = LanderBatch(scenario, count, mode=mode, observation_mode=observation_mode, index_offset=start)
    policy = make_policy(batch)
    _limit_threads(cpus)
    return fly_shard(policy, batch, seed, label)


def fly_scenario_ray(
    make_policy: PolicyFactory,
    scenario: str,
    episodes: int,
    seed: int,
    mode: str,
    observation_mode: str = "sensors",
    shard_size: int | None = None,
    address: str | None = None,
    max_retries: int = DEFAULT_MAX_RETRIES,
    cpus_per_shard: int = 1,
    progress: bool = True,
    label: str = "",
) -> ScenarioRun:
    """Fly ``episodes`` episodes of a scenario as Ray tasks; equal to ``fly_scenario`` for the same
    (policy, scenario, episodes, seed, mode, observation_mode), whatever ``shard_size``.

    Args:
        make_policy: a picklable function ``batch -> Policy`` (a policy by name or path:
            ``agents.bench_runner.fly_scenario_ray``). Each task builds its own policy; a policy
            must not carry state from one shard to the next (``random`` does, so its numbers
            depend on the sharding).
        shard_size: episodes per task; None picks ``SHARDS_PER_CPU`` shards per cluster CPU.
        address: a Ray cluster to connect to (``ray.init(address=...)``); None starts a local
            instance on the machine's cores, or reuses the one this process runs.
        max_retries: reruns of a shard whose worker died.
        cpus_per_shard: CPUs each task reserves (and numba threads it runs).
    """
    episodes = check_integer("episodes", episodes, 1)
    seed = check_integer("seed", seed, 0)
    max_retries = check_integer("max_retries", max_retries, 0)
    cpus_per_shard = check_integer("cpus_per_shard", cpus_per_shard, 1)
    if shard_size is not None:
        shard_size = check_integer("shard_size", shard_size, 1)
    if not callable(make_policy):
        raise ValueError(
            f"make_policy must be a function batch -> Policy, got {make_policy!r} "
            "(a policy by name or path: agents.bench_runner.fly_scenario_ray)"
        )
    ray = init_ray(address)
    from ray.exceptions import RayTaskError
    from tqdm.auto import tqdm

    if shard_size is None:
        shard_size = auto_shard_size(episodes, int(ray.cluster_resources().get("CPU", 1)))
    shards = shard_ranges(episodes, shard_size)
    task = ray.remote(shard_task).options(num_cpus=cpus_per_shard, max_retries=max_retries, retry_exceptions=False)
    pending = {
        task.remote(make_policy, scenario, start, count, seed, mode, observation_mode, cpus_per_shard, label): k
        for k, (start, count) in enumerate(shards)
    }
    results: dict[int, dict[str, Any]] = {}
    try:
        with tqdm(
            total=len(shards), desc=f"{scenario} ({mode}) on Ray", unit="shard", disable=not progress, leave=False
        ) as bar:
            while pending:
                ready, _ = ray.wait(list(pending), num_returns=1)
                for ref in ready:
                    k = pending.pop(ref)
                    try:
                        part = ray.get(ref)
                    except RayTaskError as err:
                        cause = getattr(err, "cause", None)
                        if isinstance(cause, ValueError):  # bad input or a policy that does not fit: say so plainly
                            raise cause from None
                        raise
                    if k in results or (part["start"], part["count"]) != shards[k]:
                        raise RuntimeError(
                            f"shard {k} returned episodes {part['start']}+{part['count']}, "
                            f"expected {shards[k][0]}+{shards[k][1]}"
                        )
                    results[k] = part
                    bar.update(1)
    finally:
        for ref in pending:  # an error stops the run: do not leave its tasks burning the cluster
            ray.cancel(ref, force=False)
    return merge_shards([results[k] for k in range(len(shards))], scenario, mode, episodes)
