"""Observation and action spaces shared by every environment class."""

import numpy as np
from gymnasium import spaces

from lunar_env.sensors import observation_bounds


def observation_space() -> spaces.Box:
    """The float32 observation vector of one lander (layout: lunar_env.sensors.OBSERVATION_FIELDS)."""
    bounds = observation_bounds()
    return spaces.Box(low=-bounds, high=bounds, dtype=np.float32)


def action_space(act_dim: int) -> spaces.Box:
    """Actions in [-1, 1]; out-of-range finite values are clipped by the kernel."""
    return spaces.Box(low=-1.0, high=1.0, shape=(act_dim,), dtype=np.float32)
