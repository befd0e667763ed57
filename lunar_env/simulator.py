"""LanderBatch: a batch of landers stepped by one compiled kernel call.

This is the engine under every environment class: the Gymnasium VectorEnv, the single Env
(a batch of one) and the stable-baselines3 adapter all hold one ``LanderBatch``.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from lunar_env.checks import check_int
from lunar_env.config import Scenario
from lunar_env.kernels import reset_kernel, step_kernel
from lunar_env.numba_cache import announce_cold_compile
from lunar_env.physics import outcomes
from lunar_env.physics.params import (
    MODE_3DOF,
    MODE_6DOF,
    fault_params,
    initial_params,
    lander_params,
    reward_params,
    sensor_params,
    sim_params,
)
from lunar_env.physics.state import (
    EPISODE,
    MASS,
    NF,
    NX,
    PROPELLANT_START,
    TD_ANGULAR_RATE,
    TD_HORIZONTAL_SPEED,
    TD_IMPACT_SPEED,
    TD_MISS_DISTANCE,
    TD_SLOPE,
    TD_TILT,
    TD_VERTICAL_SPEED,
    TIME,
    BatchState,
)
from lunar_env.scenarios import get_scenario
from lunar_env.sensors import OBS_DIM
from lunar_env.terrain.heightmap import Heightmap, TerrainArrays, TerrainTile, flat_tile, stack_tiles
from lunar_env.terrain.spec import check_terrain_seed

MODES = {"6dof": MODE_6DOF, "3dof": MODE_3DOF}
OBSERVATION_MODES = ("sensors", "truth")
MAX_SEED = 2**63 - 1
MEMORY_HEADROOM = 0.8  # a batch may take at most this share of the memory the system has available


def batch_bytes_per_lander() -> int:
    """Bytes one lander of a batch holds: state arrays, observation, reward and flag buffers, and
    the copy of the observation a step returns."""
    return (NX * 8 + NF * 8 + 2 * 8) + 2 * OBS_DIM * 4 + 8 + 2


def available_memory_bytes() -> int | None:
    """MemAvailable of /proc/meminfo (bytes), or None where the system does not say."""
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def check_memory(num_landers: int) -> None:
    """Refuse, with the estimate, a batch larger than the memory the system has available."""
    need = num_landers * batch_bytes_per_lander()
    have = available_memory_bytes()
    if have is not None and need > MEMORY_HEADROOM * have:
        raise ValueError(f"num_landers={num_landers} needs about {need / 2**30:.1f} GiB "
                         f"({batch_bytes_per_lander()} bytes per lander), more than "
                         f"{MEMORY_HEADROOM:.0%} of the {have / 2**30:.1f} GiB available: use fewer landers")


_POOL_CACHE: dict = {}
POOL_CACHE_SIZE = 4  # terrain pools kept per process (each tens of MB), so batches share them


def terrain_pool(scenario: Scenario, seed: int) -> tuple[list[TerrainTile], TerrainArrays]:
    """The tiles of a scenario's terrain and their stacked arrays.

    Pools are generated and stacked once per (terrain spec, seed) in a process, then shared by
    every batch, so many environments of one scenario cost the memory of one pool.
    """
    if scenario.terrain is None:
        tiles = [flat_tile()]
        return tiles, stack_tiles(tiles)
    make_pool = getattr(scenario.terrain, "make_pool", None)
    if make_pool is None:
        raise ValueError(
            "Scenario.terrain must be None or a terrain spec with make_pool(seed), got "
            f"{type(scenario.terrain).__name__}"
        )
    try:
        key = (scenario.terrain, int(seed))
        hash(key)
    except TypeError:  # an unhashable spec: no sharing
        tiles = list(make_pool(seed))
        return tiles, stack_tiles(tiles)
    if key not in _POOL_CACHE:
        if len(_POOL_CACHE) >= POOL_CACHE_SIZE:
            _POOL_CACHE.pop(next(iter(_POOL_CACHE)))
        tiles = list(make_pool(seed))
        arrays = stack_tiles(tiles)
        _POOL_CACHE[key] = (_views_into(tiles, arrays), arrays)
    return _POOL_CACHE[key]


def _views_into(tiles: list[TerrainTile], arrays: TerrainArrays) -> list[TerrainTile]:
    """The tiles rebuilt on views of the stacked arrays, so the pool is held in memory once."""
    views = []
    for k, tile in enumerate(tiles):
        fine = Heightmap(arrays.fine_heights[k], tile.fine.origin_xy, tile.fine.cell_size_m)
        coarse = Heightmap(arrays.coarse_heights[k], tile.coarse.origin_xy, tile.coarse.cell_size_m)
        views.append(
            dataclasses.replace(
                tile, fine=fine, coarse=coarse, shadow_fine=arrays.fine_shadow[k], shadow_coarse=arrays.coarse_shadow[k]
            )
        )
    return views


class LanderBatch:
    """State, params and buffers of ``num_landers`` landers flying one scenario.

    Args:
        scenario: a Scenario or the name of one (see ``lunar_env.scenarios``).
        num_landers: batch size n.
        mode: ``"6dof"`` (engines and torques) or ``"3dof"`` (point mass, thrust vector).
        observation_mode: ``"sensors"`` (the navigation estimate of lunar_env/navigation.py) or ``"truth"``.
        lander: optional lander preset name or LanderSpec replacing the scenario's.
        terrain_tiles: optional list of TerrainTile to use instead of the scenario's terrain.
        index_offset: global index of lander 0, so a batch can be one shard of a larger run
            with identical per-lander random streams.
        terrain_seed: seed of the procedural terrain pool (fixed per environment).
    """

    def __init__(
        self,
        scenario: str | Scenario = "nominal",
        num_landers: int = 1,
        mode: str = "6dof",
        observation_mode: str = "sensors",
        lander=None,
        terrain_tiles: list[TerrainTile] | None = None,
        index_offset: int = 0,
        terrain_seed: int = 0,
    ):
        check_int("LanderBatch", "num_landers", num_landers, 1)
        if mode not in MODES:
            raise ValueError(f"mode must be one of {sorted(MODES)}, got {mode!r}")
        if observation_mode not in OBSERVATION_MODES:
            raise ValueError(f"observation_mode must be one of {OBSERVATION_MODES}, got {observation_mode!r}")
        check_int("LanderBatch", "index_offset", index_offset, 0)
        terrain_seed = check_terrain_seed(terrain_seed)  # also for flat ground, where no pool reads it
        self.scenario = get_scenario(scenario, lander)
        self.num_landers = int(num_landers)
        self.mode = mode
        self.observation_mode = observation_mode
        self.index_offset = int(index_offset)
        spec = self.scenario.lander
        self.num_engines = spec.num_engines
        self.obs_dim = OBS_DIM
        self.act_dim = self.num_engines + 3 if mode == "6dof" else 3

        self.lander = lander_params(spec)
        self.sim = sim_params(self.scenario, MODES[mode], observation_mode == "truth")
        self.init = initial_params(self.scenario)
        self.sensors = sensor_params(self.scenario.sensors, self.scenario.control_rate_hz)
        self.faults = fault_params(self.scenario.faults, spec)
        self.reward = reward_params(self.scenario.reward)
        if terrain_tiles is not None:
            self.tiles, self.terrain = terrain_tiles, stack_tiles(terrain_tiles)
        else:
            self.tiles, self.terrain = terrain_pool(self.scenario, terrain_seed)
        self.sites = np.array([t.site_xyz for t in self.tiles], dtype=np.float64)

        n = self.num_landers
        check_memory(n)
        announce_cold_compile()
        self.state = BatchState(n)
        self.obs = np.zeros((n, self.obs_dim), dtype=np.float32)
        self.rewards = np.zeros(n, dtype=np.float64)
        self.terminated = np.zeros(n, dtype=np.bool_)
        self.truncated = np.zeros(n, dtype=np.bool_)
        self.seed: int | None = None
        self._started = np.zeros(n, dtype=np.bool_)  # landers that have had a reset; stepping others is refused
        self._all_started = False

    # ------------------------------------------------------------------ episode control
    def reset(self, seed: int | None = None, mask: np.ndarray | None = None) -> np.ndarray:
        """Start new episodes (all landers, or those in ``mask``) and return the observation buffer.

        ``seed`` restarts every lander's episode count, so lander i's episodes are a pure
        function of (seed, index_offset + i) from here on.
        """
        if seed is not None:
            self.seed = check_int("LanderBatch.reset", "seed", seed, 0, MAX_SEED)
            self.state.flags[:, EPISODE] = 0
        elif self.seed is None:
            self.seed = int(np.random.SeedSequence().entropy % MAX_SEED)
        if mask is None:
            mask = np.ones(self.num_landers, dtype=np.bool_)
        else:
            mask = np.asarray(mask, dtype=np.bool_)
            if mask.shape != (self.num_landers,):
                raise ValueError(f"reset mask must have shape ({self.num_landers},), got {mask.shape}")
        s = self.state
        non_finite = reset_kernel(
            mask,
            np.uint64(self.seed),
            self.index_offset,
            s.x,
            s.flags,
            s.rng,
            self.lander,
            self.sim,
            self.init,
            self.sensors,
            self.faults,
            self.reward,
            self.terrain,
            self.sites,
            self.obs,
        )
        if non_finite:
            raise ValueError(
                f"{non_finite} lander(s) of scenario {self.scenario.name!r} (lander "
                f"{self.scenario.lander.name!r}) start from a non-finite state: its parameters are "
                "outside what the physics can integrate"
            )
        self.terminated[mask] = False
        self.truncated[mask] = False
        if not self._all_started:
            self._started |= mask
            self._all_started = bool(self._started.all())
        return self.obs

    def check_actions(self, actions) -> np.ndarray:
        """Actions as a float32 (n, act_dim) array; raises ValueError on a wrong shape or NaN.

        Finite out-of-range values are clipped (the kernel clips to [-1, 1] too): a finite float64
        such as 1e300 must not overflow to inf in the float32 cast and be called infinite.
        """
        try:
            arr = np.asarray(actions)
            if arr.dtype != np.float32:
                arr = np.asarray(arr, dtype=np.float64)
        except (TypeError, ValueError):
            raise ValueError(f"actions must be numeric, got {type(actions).__name__}") from None
        expected = (self.num_landers, self.act_dim)
        if arr.shape != expected:
            if arr.size == self.num_landers * self.act_dim and arr.ndim <= 2 and self.num_landers == 1:
                arr = arr.reshape(expected)
            else:
                raise ValueError(f"actions must have shape {expected} (landers, action size), got {arr.shape}")
        if not np.all(np.isfinite(arr)):
            bad = np.flatnonzero(~np.all(np.isfinite(arr), axis=1))
            raise ValueError(
                f"actions contain NaN or inf for lander(s) {bad[:10].tolist()}; refusing to integrate them"
            )
        if arr.dtype != np.float32:
            arr = np.clip(arr, -1.0, 1.0).astype(np.float32)
        return np.ascontiguousarray(arr)

    def step(self, actions) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Advance every lander in flight one control step.

        Returns views of the internal (obs, rewards, terminated, truncated) buffers.
        """
        if not self._all_started:
            never = np.flatnonzero(~self._started)
            raise ValueError(
                f"step() before reset(): lander(s) {never[:10].tolist()} have never been reset; call "
                "reset() first (a reset_mask must cover every lander the first time)"
            )
        arr = self.check_actions(actions)
        s = self.state
        step_kernel(
            arr,
            s.x,
            s.flags,
            s.rng,
            self.lander,
            self.sim,
            self.sensors,
            self.faults,
            self.reward,
            self.terrain,
            self.obs,
            self.rewards,
            self.terminated,
            self.truncated,
        )
        return self.obs, self.rewards, self.terminated, self.truncated

    # ------------------------------------------------------------------ reporting
    def episode_metrics(self, indices: np.ndarray) -> dict[str, np.ndarray]:
        """Outcome and touchdown metrics of the given landers (normally those that just ended).

        ``active_faults`` is the bitmask of the faults under way at the end of the episode
        (bit k: ``lunar_env.faults.FAULT_NAMES[k]``; ``lunar_env.faults.fault_names`` decodes it).
        """
        x = self.state.x[indices]
        outcome = self.state.outcome[indices]
        return {
            "active_faults": self.state.active_faults[indices].copy(),
            "is_success": outcome == outcomes.LANDED,
            "outcome": outcome.copy(),
            "touchdown_vertical_speed": x[:, TD_VERTICAL_SPEED],
            "touchdown_horizontal_speed": x[:, TD_HORIZONTAL_SPEED],
            "touchdown_tilt_deg": np.degrees(x[:, TD_TILT]),
            "touchdown_angular_rate_dps": np.degrees(x[:, TD_ANGULAR_RATE]),
            "touchdown_slope_deg": np.degrees(x[:, TD_SLOPE]),
            "miss_distance": x[:, TD_MISS_DISTANCE],
            "impact_speed": x[:, TD_IMPACT_SPEED],
            "propellant_used": x[:, PROPELLANT_START] - (x[:, MASS] - self.lander.dry_mass),
            "episode_time": x[:, TIME],
        }
