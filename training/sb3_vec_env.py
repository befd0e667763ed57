"""A stable-baselines3 VecEnv over the native batch: SB3 trains on it without subprocesses.

It lives here rather than in lunar_env because subclassing SB3's VecEnv imports torch, and the
environment library must stay free of torch. Conventions are SB3's: on episode end the
observation returned is the next episode's first one, the last one is in
``infos[i]["terminal_observation"]``, and ``infos[i]["episode"]`` carries the return and length
(as VecMonitor would add).

Time limits: the episode clock is part of the observation, so running out of time is part of
the task, not an artificial cut; by default the adapter reports it as a terminal state
(``TimeLimit.truncated`` False) and PPO does not bootstrap a value there. Bootstrapping would
let a policy that hovers until the clock runs out borrow the value of the landings it never
makes. ``bootstrap_time_limit=True`` restores SB3's usual truncation handling.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np
from stable_baselines3.common.vec_env.base_vec_env import VecEnv

from lunar_env.envs.spaces import action_space, observation_space
from lunar_env.physics.outcomes import OUTCOME_NAMES
from lunar_env.simulator import LanderBatch


class SouthPoleSB3VecEnv(VecEnv):
    """``num_envs`` landers as an SB3 VecEnv. Arguments as :class:`lunar_env.simulator.LanderBatch`."""

    def __init__(self, num_envs: int, scenario="nominal", mode: str = "3dof", observation_mode: str = "sensors",
                 lander=None, terrain_seed: int = 0, seed: int | None = None, bootstrap_time_limit: bool = False):
        self.batch = LanderBatch(scenario, num_envs, mode=mode, observation_mode=observation_mode, lander=lander,
                                 terrain_seed=terrain_seed)
        self.render_mode = None
        super().__init__(num_envs, observation_space(), action_space(self.batch.act_dim))
        self._base_seed = seed
        self.bootstrap_time_limit = bool(bootstrap_time_limit)
        self._actions: np.ndarray | None = None
        self._episode_return = np.zeros(num_envs)
        self._episode_length = np.zeros(num_envs, dtype=np.int64)
        self._start = time.time()

    # SB3 seeds each env with seed + index; here one base seed drives every lander's stream.
    def seed(self, seed: int | None = None) -> Sequence[int | None]:
        self._base_seed = seed
        return [seed] * self.num_envs

    def reset(self) -> np.ndarray:
        obs = self.batch.reset(seed=self._base_seed)
        self._base_seed = None  # later resets continue the seeded streams
        self._episode_return[:] = 0.0
        self._episode_length[:] = 0
        return obs.copy()

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = actions

    def step_wait(self):
        if self._actions is None:
            raise RuntimeError("step_wait() called before step_async()")
        obs, rewards, terminated, truncated = self.batch.step(self._actions)
        self._actions = None
        rewards = rewards.astype(np.float32)
        done = terminated | truncated
        self._episode_return += rewards
        self._episode_length += 1
        infos: list[dict[str, Any]] = [{} for _ in range(self.num_envs)]
        if done.any():
            index = np.flatnonzero(done)
            metrics = self.batch.episode_metrics(index)
            elapsed = round(time.time() - self._start, 6)
            for row, i in enumerate(index):
                info = infos[i]
                info["terminal_observation"] = obs[i].copy()
                info["TimeLimit.truncated"] = bool(truncated[i] and not terminated[i]) and self.bootstrap_time_limit
                info["episode"] = {"r": float(self._episode_return[i]), "l": int(self._episode_length[i]), "t": elapsed}
                for key, values in metrics.items():
                    info[key] = values[row].item()
                info["outcome_name"] = OUTCOME_NAMES[int(metrics["outcome"][row])]
            self._episode_return[done] = 0.0
            self._episode_length[done] = 0
            obs = self.batch.reset(mask=done)
        return obs.copy(), rewards, done.copy(), infos

    def close(self) -> None:
        pass

    def get_attr(self, attr_name: str, indices=None) -> list[Any]:
        return [getattr(self, attr_name)] * len(self._indices(indices))

    def set_attr(self, attr_name: str, value: Any, indices=None) -> None:
        setattr(self, attr_name, value)

    def env_method(self, method_name: str, *method_args, indices=None, **method_kwargs) -> list[Any]:
        result = getattr(self, method_name)(*method_args, **method_kwargs)
        return [result] * len(self._indices(indices))

    def env_is_wrapped(self, wrapper_class, indices=None) -> list[bool]:
        return [False] * len(self._indices(indices))

    def _indices(self, indices) -> list[int]:
        if indices is None:
            return list(range(self.num_envs))
        if isinstance(indices, int):
            return [indices]
        return list(indices)
