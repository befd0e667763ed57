"""The benchmark protocol: which scenarios a suite flies, and how episodes are seeded and flown.

Episode ``j`` of a scenario is always lander ``j`` of stream ``seed`` (the batch is cut into
shards with ``index_offset``), so the numbers depend only on (policy, scenario, mode, seed,
episode count), never on the shard size, the thread count or the machine's speed.
docs/benchmark.md fixes the protocol.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lunar_env.checks import check_int
from lunar_env.scenarios import FAULT_SCENARIOS, SCENARIOS
from lunar_env.simulator import LanderBatch

DEFAULT_SHARD_SIZE = 4096  # landers flown by one batch; does not change any result

# The scenario lists of each suite. "all" is every scenario of the other suites.
SUITE_SCENARIOS: dict[str, tuple[str, ...]] = {
    "nominal": ("nominal", "shadowed_site", "rim_crossing", "steep_massif"),
    "faults": FAULT_SCENARIOS,
}


def suite_scenarios(suite: str) -> tuple[str, ...]:
    """The scenario names a suite flies (only those this installation defines)."""
    if suite == "all":
        names = tuple(dict.fromkeys(name for names in SUITE_SCENARIOS.values() for name in names))
    elif suite in SUITE_SCENARIOS:
        names = SUITE_SCENARIOS[suite]
    else:
        raise ValueError(f"unknown suite {suite!r}; choose one of {sorted(SUITE_SCENARIOS) + ['all']}")
    missing = [name for name in names if name not in SCENARIOS]
    if missing:
        raise ValueError(f"suite {suite!r} names scenarios that do not exist: {missing}")
    if not names:
        raise ValueError(f"suite {suite!r} has no scenarios in this version")
    return names


@dataclass
class ScenarioRun:
    """Per-episode results of one scenario: metrics arrays of length ``episodes``."""

    scenario: str
    lander: str
    mode: str
    metrics: dict[str, np.ndarray]
    touchdown_xy: np.ndarray  # (episodes, 2) m, final horizontal position relative to the target
    initial_position: np.ndarray  # (episodes, 3) m, true start relative to the target
    initial_velocity: np.ndarray  # (episodes, 3) m/s
    initial_mass: np.ndarray  # (episodes,) kg
    target_radius_m: float
    optimum_index: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    optimum_kg: np.ndarray = field(default_factory=lambda: np.zeros(0))

    @property
    def episodes(self) -> int:
        return int(self.metrics["outcome"].shape[0])


def check_policy_output(actions, num_landers: int, act_dim: int, label: str) -> np.ndarray:
    """The policy's actions as float32, or a ValueError that says what is wrong with them."""
    arr = np.asarray(actions)
    if arr.shape != (num_landers, act_dim):
        raise ValueError(f"policy {label} returned actions of shape {arr.shape}; this environment needs "
                         f"({num_landers}, {act_dim}) (landers, action size). Is it trained for the other mode?")
    return arr


def shard_ranges(episodes: int, shard_size: int) -> list[tuple[int, int]]:
    """The shards ``(start, count)`` covering ``[0, episodes)`` in order, each at most ``shard_size``."""
    return [(start, min(shard_size, episodes - start)) for start in range(0, episodes, shard_size)]


def fly_shard(policy, batch, seed: int, label: str = "", on_finished=None) -> dict:
    """Fly one batch (a shard: landers ``index_offset .. index_offset + n - 1``) to the end of
    every episode; ``on_finished(k)`` hears how many episodes ended at each step.

    Returns ``start``, ``count``, the metrics arrays (``episode_metrics``, each (n,)),
    ``touchdown_xy`` (n, 2) m, ``initial_position`` (n, 3) m, ``initial_velocity`` (n, 3) m/s,
    ``initial_mass`` (n,) kg, ``lander`` and ``target_radius_m``.
    """
    n = batch.num_landers
    obs = batch.reset(seed=seed)
    r0 = batch.state.position.copy()
    v0 = batch.state.velocity.copy()
    m0 = batch.state.mass.copy()
    if hasattr(policy, "reset"):
        policy.reset(n)
    done = np.zeros(n, dtype=np.bool_)
    for _ in range(batch.scenario.max_steps + 1):
        actions = check_policy_output(policy.act(obs), n, batch.act_dim, label or type(policy).__name__)
        obs, _, terminated, truncated = batch.step(actions)
        finished = (terminated | truncated) & ~done
        if finished.any():
            done |= finished
            if on_finished is not None:
                on_finished(int(finished.sum()))
        if done.all():
            break
    return {"start": batch.index_offset, "count": n, "metrics": batch.episode_metrics(np.arange(n)),
            "touchdown_xy": batch.state.position[:, :2].copy(), "initial_position": r0, "initial_velocity": v0,
            "initial_mass": m0, "lander": batch.scenario.lander.name,
            "target_radius_m": float(batch.scenario.target_radius_m)}


def merge_shards(parts: list[dict[str, Any]], scenario: str, mode: str, episodes: int) -> ScenarioRun:
    """One ScenarioRun from shard results in index order; raises RuntimeError unless the shards
    cover ``[0, episodes)`` exactly once."""
    expected = 0
    for part in parts:
        if part["start"] != expected:
            raise RuntimeError(f"shard results do not tile the episodes: expected a shard starting at {expected}, "
                               f"got one starting at {part['start']}")
        lengths = {key: len(value) for key, value in part["metrics"].items()}
        if set(lengths.values()) != {part["count"]}:
            raise RuntimeError(f"shard at {part['start']} returned arrays of lengths {lengths}, not {part['count']}")
        expected += part["count"]
    if expected != episodes:
        raise RuntimeError(f"shards cover {expected} episodes, not {episodes}")
    metrics = {key: np.concatenate([p["metrics"][key] for p in parts]) for key in parts[0]["metrics"]}

    def joined(key: str) -> np.ndarray:
        return np.concatenate([p[key] for p in parts])

    return ScenarioRun(scenario, parts[0]["lander"], mode, metrics, joined("touchdown_xy"), joined("initial_position"),
                       joined("initial_velocity"), joined("initial_mass"), parts[0]["target_radius_m"])


def fly_scenario(policy, scenario: str, episodes: int, seed: int, mode: str, observation_mode: str = "sensors",
                 shard_size: int = DEFAULT_SHARD_SIZE, progress: bool = True, label: str = "") -> ScenarioRun:
    """Fly ``episodes`` episodes of a scenario with a batched policy (see the module docstring)."""
    from tqdm.auto import tqdm

    check_int("fly_scenario", "episodes", episodes, 1)
    shard_size = max(1, min(int(shard_size), int(episodes)))
    parts = []
    batch = None
    with tqdm(total=episodes, desc=f"{scenario} ({mode})", unit="ep", disable=not progress, leave=False) as bar:
        for start, n in shard_ranges(int(episodes), shard_size):
            if batch is None or batch.num_landers != n:
                batch = LanderBatch(scenario, n, mode=mode, observation_mode=observation_mode, index_offset=start)
            else:
                batch.index_offset = start
            parts.append(fly_shard(policy, batch, seed, label, bar.update))
    return merge_shards(parts, scenario, mode, int(episodes))


def optimum_subsample(episodes: int, samples: int) -> np.ndarray:
    """The episodes whose fuel-optimal propellant is solved: ``samples`` evenly spaced indices."""
    if samples <= 0:
        return np.zeros(0, dtype=np.int64)
    return np.unique(np.linspace(0, episodes - 1, min(samples, episodes)).round().astype(np.int64))


OptimumFn = Callable[[str, np.ndarray, np.ndarray, np.ndarray], np.ndarray]


def attach_optimum(run: ScenarioRun, optimum: OptimumFn, samples: int) -> None:
    """Solve the fuel-optimal propellant for a subsample of the run's initial conditions.

    ``optimum(scenario, r0 (k, 3), v0 (k, 3), m0 (k,)) -> (k,)`` kilograms, NaN where infeasible.
    """
    index = optimum_subsample(run.episodes, samples)
    run.optimum_index = index
    run.optimum_kg = np.asarray(optimum(run.scenario, run.initial_position[index], run.initial_velocity[index],
                                        run.initial_mass[index]), dtype=np.float64)
