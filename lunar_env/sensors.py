"""What a lander knows: its navigation estimate, written as the observation vector.

In the "sensors" observation mode every quantity but the propellant fraction and the clock
carries white Gaussian noise of the SensorSpec's 1-sigma size; in "truth" mode the
observation is the true state. The layout is fixed by ``OBSERVATION_FIELDS``.
"""

import numpy as np
from numba import njit

from lunar_env.physics.quaternion import quat_multiply
from lunar_env.physics.rng import next_normal_pair
from lunar_env.physics.state import MASS, PX, PY, PZ, QW, QX, QY, QZ, TIME, VX, VY, VZ, WX, WY, WZ
from lunar_env.physics.touchdown import ground_height

OBSERVATION_FIELDS = (
    # name, size, unit, bound (|value| <= bound), meaning
    ("position", 3, "m", 1e6, "centre of mass relative to the target site, East-North-Up"),
    ("velocity", 3, "m/s", 1e4, "velocity, East-North-Up"),
    ("attitude", 4, "-", 1.0, "unit quaternion [w, x, y, z] from body to ENU, sign chosen so w >= 0"),
    ("angular_rate", 3, "rad/s", 1e3, "body rates about the body x, y, z axes"),
    ("altitude", 1, "m", 1e6, "height of the centre of mass above the terrain directly below"),
    ("propellant_fraction", 1, "-", 1.0, "propellant left as a fraction of the lander's full load, in [0, 1]"),
    ("time", 1, "s", 1e6, "time since the episode started"),
)
OBS_DIM = sum(field[1] for field in OBSERVATION_FIELDS)

OBS_POSITION = 0
OBS_VELOCITY = 3
OBS_ATTITUDE = 6
OBS_ANGULAR_RATE = 10
OBS_ALTITUDE = 13
OBS_PROPELLANT = 14
OBS_TIME = 15


def observation_bounds() -> np.ndarray:
    """(OBS_DIM,) float32 bounds b with -b <= obs <= b, for the observation space."""
    return np.concatenate([np.full(size, bound, dtype=np.float32) for _, size, _, bound, _ in OBSERVATION_FIELDS])


def observation_slices() -> dict[str, slice]:
    """Name -> slice of the observation vector, e.g. ``obs[..., slices["velocity"]]``."""
    slices, start = {}, 0
    for name, size, *_ in OBSERVATION_FIELDS:
        slices[name] = slice(start, start + size)
        start += size
    return slices


@njit(cache=True, inline="always")
def write_observation(obs, x, flags, rng, lander, sensors, terrain, i, noisy):
    """Fill row i of the float32 observation array from lander i's state."""
    px, py, pz = x[i, PX], x[i, PY], x[i, PZ]
    vx, vy, vz = x[i, VX], x[i, VY], x[i, VZ]
    q0, q1, q2, q3 = x[i, QW], x[i, QX], x[i, QY], x[i, QZ]
    wx, wy, wz = x[i, WX], x[i, WY], x[i, WZ]
    altitude = pz - ground_height(terrain, x, flags, i, px, py)
    if noisy:
        a, b = next_normal_pair(rng, i)
        c, d = next_normal_pair(rng, i)
        px += sensors.position_sigma * a
        py += sensors.position_sigma * b
        pz += sensors.position_sigma * c
        vx += sensors.velocity_sigma * d
        a, b = next_normal_pair(rng, i)
        c, d = next_normal_pair(rng, i)
        vy += sensors.velocity_sigma * a
        vz += sensors.velocity_sigma * b
        # Attitude error: a small body-frame rotation by a Gaussian rotation vector.
        ex = 0.5 * sensors.attitude_sigma * c
        ey = 0.5 * sensors.attitude_sigma * d
        a, b = next_normal_pair(rng, i)
        ez = 0.5 * sensors.attitude_sigma * a
        q0, q1, q2, q3 = quat_multiply(q0, q1, q2, q3, 1.0, ex, ey, ez)
        inv = 1.0 / np.sqrt(q0 * q0 + q1 * q1 + q2 * q2 + q3 * q3)
        q0, q1, q2, q3 = q0 * inv, q1 * inv, q2 * inv, q3 * inv
        wx += sensors.rate_sigma * b
        c, d = next_normal_pair(rng, i)
        wy += sensors.rate_sigma * c
        wz += sensors.rate_sigma * d
        a, _ = next_normal_pair(rng, i)
        altitude += sensors.altimeter_sigma * a
    if q0 < 0.0:
        q0, q1, q2, q3 = -q0, -q1, -q2, -q3
    obs[i, OBS_POSITION + 0] = px
    obs[i, OBS_POSITION + 1] = py
    obs[i, OBS_POSITION + 2] = pz
    obs[i, OBS_VELOCITY + 0] = vx
    obs[i, OBS_VELOCITY + 1] = vy
    obs[i, OBS_VELOCITY + 2] = vz
    obs[i, OBS_ATTITUDE + 0] = q0
    obs[i, OBS_ATTITUDE + 1] = q1
    obs[i, OBS_ATTITUDE + 2] = q2
    obs[i, OBS_ATTITUDE + 3] = q3
    obs[i, OBS_ANGULAR_RATE + 0] = wx
    obs[i, OBS_ANGULAR_RATE + 1] = wy
    obs[i, OBS_ANGULAR_RATE + 2] = wz
    obs[i, OBS_ALTITUDE] = altitude
    capacity = lander.propellant_capacity
    fraction = (x[i, MASS] - lander.dry_mass) / capacity if capacity > 0.0 else 0.0
    obs[i, OBS_PROPELLANT] = min(1.0, max(0.0, fraction))
    obs[i, OBS_TIME] = x[i, TIME]
