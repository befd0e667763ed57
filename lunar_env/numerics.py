"""Guards that keep non-finite numbers out of what an environment returns.

A lander whose physics or navigation state turns non-finite (a spec at the edge of what the
integrator can carry, a tumble the models were not built for) is ended with the outcome
``numerical_error`` and a crash's penalty, never integrated further; every observation is held
inside the observation space's bounds, so a learner never sees NaN, inf or 1e18.
"""

import numpy as np
from numba import njit

from lunar_env.physics import outcomes
from lunar_env.physics.state import ALTIMETER_RANGE, MASS, NAV_ATT_ERR_X, OUTCOME, PX, TOUCHDOWN_COLUMNS
from lunar_env.sensors import OBS_DIM, observation_bounds

OBS_BOUNDS = observation_bounds().astype(np.float64)  # |obs[k]| <= OBS_BOUNDS[k], the observation space's box
# Navigation errors, the altitude estimate and the IMU biases: columns FIRST_NAV_COLUMN .. ALTIMETER_RANGE.
FIRST_NAV_COLUMN = NAV_ATT_ERR_X
TOUCHDOWN_COLUMN_INDICES = np.array(TOUCHDOWN_COLUMNS, dtype=np.int64)


@njit(cache=True, inline="always")
def state_is_finite(x, i):
    """True when lander i's rigid-body state, mass and navigation state are all finite."""
    for column in range(PX, MASS + 1):
        if not np.isfinite(x[i, column]):
            return False
    for column in range(FIRST_NAV_COLUMN, ALTIMETER_RANGE + 1):
        if not np.isfinite(x[i, column]):
            return False
    return True


@njit(cache=True, inline="always")
def observation_is_finite(obs, i):
    for k in range(OBS_DIM):
        if not np.isfinite(obs[i, k]):
            return False
    return True


@njit(cache=True)
def end_numerically(x, flags, obs, rewards, reward, i):
    """End lander i's episode as ``numerical_error``: a crash's penalty, touchdown metrics NaN
    (unknown, left out of the benchmark's statistics), non-finite observations zeroed."""
    flags[i, OUTCOME] = outcomes.NUMERICAL_ERROR
    rewards[i] = -reward.crash_penalty
    for column in TOUCHDOWN_COLUMN_INDICES:
        x[i, column] = np.nan
    for k in range(OBS_DIM):
        if not np.isfinite(obs[i, k]):
            obs[i, k] = 0.0


@njit(cache=True, inline="always")
def clip_observation(obs, i):
    """Hold row i inside the observation space (a finite value beyond a bound is set to it)."""
    for k in range(OBS_DIM):
        bound = OBS_BOUNDS[k]
        if obs[i, k] > bound:
            obs[i, k] = bound
        elif obs[i, k] < -bound:
            obs[i, k] = -bound
