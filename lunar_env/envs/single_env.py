"""The single-lander Gymnasium Env: a view of a batch of one."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from lunar_env.envs.spaces import action_space, observation_space
from lunar_env.physics.outcomes import OUTCOME_NAMES
from lunar_env.simulator import LanderBatch


class SouthPoleEnv(gym.Env):
    """One lander. Same arguments as :class:`~lunar_env.envs.vector_env.SouthPoleVectorEnv`.

    ``reset(seed=s)`` flies exactly the episodes that lander 0 of a vector env flies with seed s.
    """

    metadata = {"render_modes": ["human", "rgb_array"], "render_fps": 10}

    def __init__(self, scenario="nominal", mode: str = "6dof", observation_mode: str = "sensors", lander=None,
                 terrain_seed: int = 0, render_mode: str | None = None):
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be None or one of {self.metadata['render_modes']}, got {render_mode!r}")
        self.batch = LanderBatch(scenario, 1, mode=mode, observation_mode=observation_mode, lander=lander,
                                 terrain_seed=terrain_seed)
        self.render_mode = render_mode
        self.metadata = {**self.metadata, "render_fps": int(round(self.batch.scenario.control_rate_hz))}
        self._view = None
        if render_mode is not None:
            from lunar_env.render.renderer import LanderView  # pygame is imported only when rendering

            self._view = LanderView(self.batch, 0, render_mode, fps=self.metadata["render_fps"])
        self.observation_space = observation_space()
        self.action_space = action_space(self.batch.act_dim)

    @property
    def scenario(self):
        return self.batch.scenario

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        if seed is None and self.batch.seed is None:
            seed = int(self.np_random.integers(0, 2**63 - 1))
        obs = self.batch.reset(seed=seed)
        if self._view is not None:
            self._view.reset()
        return obs[0].copy(), {}

    def step(self, action):
        obs, rewards, terminated, truncated = self.batch.step(np.asarray(action, dtype=np.float32).reshape(1, -1))
        if self._view is not None:
            self._view.step()
        info: dict[str, Any] = {}
        if terminated[0] or truncated[0]:
            metrics = self.batch.episode_metrics(np.array([0]))
            info = {key: value[0].item() for key, value in metrics.items()}
            info["outcome_name"] = OUTCOME_NAMES[int(self.batch.state.outcome[0])]
        return obs[0].copy(), float(rewards[0]), bool(terminated[0]), bool(truncated[0]), info

    def render(self):
        """The current frame, (H, W, 3) uint8, in "rgb_array" mode; in "human" mode the window
        (drawn at every step anyway) is refreshed and None returned. See docs/rendering.md."""
        if self._view is None:
            gym.logger.warn("render() needs a render mode: make the env with render_mode='rgb_array' or 'human'")
            return None
        return self._view.render()

    def close(self):
        if self._view is not None:
            self._view.close()
            self._view = None
        super().close()
