"""The native batched Gymnasium VectorEnv: n landers stepped by one kernel call."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from lunar_env.checks import check_int
from lunar_env.envs.spaces import action_space, observation_space
from lunar_env.physics.outcomes import OUTCOME_NAMES
from lunar_env.simulator import MAX_SEED, LanderBatch

AUTORESET_MODES = {
    "next_step": AutoresetMode.NEXT_STEP,
    "same_step": AutoresetMode.SAME_STEP,
    "disabled": AutoresetMode.DISABLED,
}


def episode_infos(batch: LanderBatch, done: np.ndarray) -> dict[str, Any]:
    """Gymnasium-style vector infos for the landers whose episode just ended.

    Each metric is an (n,) array paired with a boolean mask ``_name`` of the landers it is
    valid for; ``outcome_name`` holds names such as "landed" or "crash_vertical_speed".
    """
    if not done.any():
        return {}
    index = np.flatnonzero(done)
    infos: dict[str, Any] = {}
    for key, values in batch.episode_metrics(index).items():
        full = np.zeros(batch.num_landers, dtype=values.dtype)
        full[index] = values
        infos[key] = full
        infos["_" + key] = done.copy()
    names = np.full(batch.num_landers, "", dtype=object)
    names[index] = [OUTCOME_NAMES[c] for c in batch.state.outcome[index]]
    infos["outcome_name"] = names
    infos["_outcome_name"] = done.copy()
    return infos


class SouthPoleVectorEnv(VectorEnv):
    """``num_envs`` landers of one scenario in a single compiled batch.

    Args:
        num_envs: number of landers n.
        scenario: scenario name or Scenario (``lunar envs`` lists them).
        mode: "6dof" or "3dof" (set by the registered id).
        observation_mode: "sensors" (noisy navigation estimate, default) or "truth".
        lander: optional lander preset name or LanderSpec replacing the scenario's.
        autoreset_mode: "next_step" (Gymnasium's default), "same_step" (the final
            observation goes to ``infos["final_obs"]``, a (n, obs_dim) array masked by
            ``infos["_final_obs"]``) or "disabled".
        copy: return copies of the observation buffer (set False to save a copy per step;
            the returned array is then overwritten by the next step).
        terrain_seed: seed of the terrain pool, fixed for the life of the env.
        render_mode: None, "rgb_array" or "human" (see docs/rendering.md).
        render_lander: index of the lander that ``render()`` draws.

    Seeding: ``reset(seed=s)`` gives lander i the episodes of stream (s, i), whatever n is.
    """

    metadata = {"render_modes": ["human", "rgb_array"], "autoreset_mode": AutoresetMode.NEXT_STEP}

    def __init__(self, num_envs: int = 1, scenario="nominal", mode: str = "6dof", observation_mode: str = "sensors",
                 lander=None, autoreset_mode: str | AutoresetMode = "next_step", copy: bool = True,
                 terrain_seed: int = 0, render_mode: str | None = None, render_lander: int = 0):
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be None or one of {self.metadata['render_modes']}, got {render_mode!r}")
        if isinstance(autoreset_mode, AutoresetMode):
            autoreset_mode = next(k for k, v in AUTORESET_MODES.items() if v == autoreset_mode)
        if autoreset_mode not in AUTORESET_MODES:
            raise ValueError(f"autoreset_mode must be one of {sorted(AUTORESET_MODES)}, got {autoreset_mode!r}")
        self.batch = LanderBatch(scenario, num_envs, mode=mode, observation_mode=observation_mode, lander=lander,
                                 terrain_seed=terrain_seed)
        self.num_envs = self.batch.num_landers
        self.autoreset_mode = AUTORESET_MODES[autoreset_mode]
        self.metadata = {**self.metadata, "autoreset_mode": self.autoreset_mode,
                         "render_fps": int(round(self.batch.scenario.control_rate_hz))}
        self.render_mode = render_mode
        self._view = None
        if render_mode is not None:
            from lunar_env.render.renderer import LanderView  # pygame is imported only when rendering

            self._view = LanderView(self.batch, render_lander, render_mode, fps=self.metadata["render_fps"])
        self.copy = copy
        self.single_observation_space = observation_space()
        self.single_action_space = action_space(self.batch.act_dim)
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        self._needs_reset = np.zeros(self.num_envs, dtype=np.bool_)
        self._reported = np.zeros(self.num_envs, dtype=np.bool_)  # disabled autoreset: episode ends already in infos

    @property
    def scenario(self):
        return self.batch.scenario

    def _out(self, array: np.ndarray) -> np.ndarray:
        return array.copy() if self.copy else array

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        if seed is not None:  # one integer: lander i then uses the stream (seed, i)
            check_int("SouthPoleVectorEnv.reset", "seed", seed, 0, MAX_SEED)
        if seed is not None:
            self._np_random, self._np_random_seed = None, int(seed)
        mask = None
        if options and "reset_mask" in options:
            mask = np.asarray(options["reset_mask"])
            if mask.dtype != np.bool_ or mask.shape != (self.num_envs,):
                raise ValueError(f"options['reset_mask'] must be a bool array of shape ({self.num_envs},)")
        obs = self.batch.reset(seed=seed, mask=mask)
        if mask is None:
            self._needs_reset[:] = False
            self._reported[:] = False
        else:
            self._needs_reset[mask] = False
            self._reported[mask] = False
        if self._view is not None:
            self._view.reset(mask)
        return self._out(obs), {}

    def step(self, actions):
        batch = self.batch
        obs, rewards, terminated, truncated = batch.step(actions)
        done = terminated | truncated
        infos: dict[str, Any] = {}
        if self.autoreset_mode == AutoresetMode.NEXT_STEP:
            if self._needs_reset.any():
                resetting = self._needs_reset.copy()
                batch.reset(mask=resetting)
                rewards[resetting] = 0.0
                done = terminated | truncated
            infos = episode_infos(batch, done)
            self._needs_reset = done.copy()
        elif self.autoreset_mode == AutoresetMode.SAME_STEP:
            infos = episode_infos(batch, done)
            if done.any():
                final = np.zeros_like(obs)
                final[done] = obs[done]
                infos["final_obs"] = final
                infos["_final_obs"] = done.copy()
                # Report this step's flags, then start the next episodes in place.
                terminated, truncated = terminated.copy(), truncated.copy()
                if self._view is not None:
                    self._view.step()  # the rendered lander's final state, before it restarts
                batch.reset(mask=done)
        else:
            # A finished lander stays finished until reset: report its episode once, when it ends.
            ended = done & ~self._reported
            self._reported |= done
            infos = episode_infos(batch, ended)
        if self._view is not None:
            self._view.step()
        return self._out(obs), rewards.astype(np.float64, copy=True), self._out(terminated), self._out(truncated), infos

    def render(self):
        """The frame of lander ``render_lander``, (H, W, 3) uint8, in "rgb_array" mode (one
        frame, not one per lander); in "human" mode the window is refreshed and None returned."""
        if self._view is None:
            gym.logger.warn("render() needs a render mode: make the env with render_mode='rgb_array' or 'human'")
            return None
        return self._view.render()

    def close_extras(self, **kwargs):
        if self._view is not None:
            self._view.close()
            self._view = None
