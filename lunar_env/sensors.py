"""What a lander knows: its sensors, and the observation vector they produce.

Sensors (parameters: :class:`lunar_env.config.SensorSpec`; full description: docs/sensors.md):

- IMU, every control step: gyro and accelerometer with turn-on bias, in-run bias random walk
  and white noise, integrated by the navigation filter (lunar_env/navigation.py).
- Star tracker: attitude with arcsecond-class noise, worse about the boresight (body z).
- Laser altimeter: slant range along each body-fixed beam to where it meets the terrain (a
  terrain ray cast from the centre of mass, in tile coordinates), within a maximum range, with
  noise and dropouts. Over a crater rim the range jumps, as real ones did.
- Doppler lidar velocimeter: velocity along each beam, valid only when every beam meets the
  terrain within range (tested at the beam's far end: a beam that enters and leaves a ridge
  inside its range counts as a miss).
- Terrain-relative navigation (TRN): a 3-D position fix, only when the terrain directly below
  is lit and the altitude is inside the TRN window.

Each sensor samples every ``period`` control steps from the episode's start (its rate, rounded
to the control rate). A sample consumes the same number of random draws whether it is valid or
not, so a fault or a dropout never shifts the rest of a lander's random stream.

In "sensors" mode the observation is the navigation estimate; in "truth" mode it is the true
state (the true main-beam slant range, every flag 1). ``OBSERVATION_FIELDS`` fixes the layout.
"""

import numpy as np
from numba import njit

from lunar_env.faults import ALTIMETER_DEAD, ALTIMETER_LATE
from lunar_env.navigation import (
    estimated_attitude,
    estimated_position,
    estimated_velocity,
    update_altitude,
    update_attitude,
    update_position,
    update_velocity,
)
from lunar_env.physics.quaternion import rotate
from lunar_env.physics.rng import next_normal_pair, next_uniform
from lunar_env.physics.state import (
    ALTIMETER_RANGE,
    ALTIMETER_VALID,
    FAULT_LATE_ALTITUDE,
    FAULTS_ACTIVE,
    GYRO_BIAS_X,
    LAST_FIX_TIME,
    MASS,
    NAV_ALTITUDE,
    NAV_ATT_ERR_X,
    PX,
    PY,
    PZ,
    QW,
    QX,
    QY,
    QZ,
    SITE_X,
    SITE_Y,
    SITE_Z,
    STEPS,
    TILE,
    TIME,
    VELOCIMETER_VALID,
    VX,
    VY,
    VZ,
    WX,
    WY,
    WZ,
)
from lunar_env.physics.touchdown import ground_height
from lunar_env.reward import field_velocity
from lunar_env.terrain.heightmap import terrain_height, terrain_in_shadow, terrain_raycast

OBSERVATION_FIELDS = (
    # name, size, unit, bound (|value| <= bound), meaning
    ("position", 3, "m", 1e6, "centre of mass relative to the target site, East-North-Up"),
    ("velocity", 3, "m/s", 1e4, "velocity, East-North-Up"),
    ("attitude", 4, "-", 1.0, "unit quaternion [w, x, y, z] from body to ENU, sign chosen so w >= 0"),
    ("angular_rate", 3, "rad/s", 1e3, "body rates about the body x, y, z axes (sensors: the gyro's reading)"),
    ("altitude", 1, "m", 1e6, "height of the centre of mass above the terrain directly below "
                              "(sensors: the navigation altitude estimate, see lunar_env/navigation.py)"),
    ("propellant_fraction", 1, "-", 1.0, "propellant left as a fraction of the lander's full load, in [0, 1]"),
    ("time", 1, "s", 1e6, "time since the episode started"),
    ("altimeter_range", 1, "m", 1e6, "raw slant range of the altimeter's main beam at its latest sample, "
                                     "0 when invalid (truth: the true range now, 0 when the beam misses "
                                     "the terrain within the altimeter's maximum range)"),
    ("altimeter_valid", 1, "-", 1.0, "1 when the latest altimeter sample's main beam returned (truth: 1)"),
    ("velocimeter_valid", 1, "-", 1.0, "1 when every velocimeter beam met the terrain within range at the "
                                       "latest sample (truth: 1)"),
    ("position_fix_valid", 1, "-", 1.0, "1 when a TRN position fix was accepted within the last "
                                        "SensorSpec.position_fix_recent_s seconds (truth: 1)"),
    # Guidance cues: functions of the fields above, given so a network need not learn them.
    ("log_altitude", 1, "-", 20.0, "ln(1 + max(altitude, 0) / 1 m): resolves the last metres that a "
                                   "normalized altitude of kilometres cannot"),
    ("field_velocity_error", 3, "m/s", 1e4, "velocity minus the reward's velocity field at the observed "
                                            "position (lunar_env/reward.py), East-North-Up"),
)
OBS_DIM = sum(field[1] for field in OBSERVATION_FIELDS)


def _field_offsets() -> dict[str, int]:
    offsets, start = {}, 0
    for name, size, *_ in OBSERVATION_FIELDS:
        offsets[name] = start
        start += size
    return offsets


# Start index of each field in the observation vector, derived from OBSERVATION_FIELDS (its only source).
_OFFSETS = _field_offsets()
OBS_POSITION = _OFFSETS["position"]
OBS_VELOCITY = _OFFSETS["velocity"]
OBS_ATTITUDE = _OFFSETS["attitude"]
OBS_ANGULAR_RATE = _OFFSETS["angular_rate"]
OBS_ALTITUDE = _OFFSETS["altitude"]
OBS_PROPELLANT = _OFFSETS["propellant_fraction"]
OBS_TIME = _OFFSETS["time"]
OBS_ALTIMETER_RANGE = _OFFSETS["altimeter_range"]
OBS_ALTIMETER_VALID = _OFFSETS["altimeter_valid"]
OBS_VELOCIMETER_VALID = _OFFSETS["velocimeter_valid"]
OBS_POSITION_FIX_VALID = _OFFSETS["position_fix_valid"]
OBS_LOG_ALTITUDE = _OFFSETS["log_altitude"]
OBS_FIELD_ERROR = _OFFSETS["field_velocity_error"]

MIN_BEAM_VERTICAL = 0.05  # a beam this close to horizontal (|cos| of its angle to the vertical) gives no altitude


def observation_bounds() -> np.ndarray:
    """(OBS_DIM,) float32 bounds b with -b <= obs <= b, for the observation space."""
    return np.concatenate([np.full(size, bound, dtype=np.float32) for _, size, _, bound, _ in OBSERVATION_FIELDS])


def observation_slices() -> dict[str, slice]:
    """Name -> slice of the observation vector, e.g. ``obs[..., slices["velocity"]]``."""
    return {name: slice(_OFFSETS[name], _OFFSETS[name] + size) for name, size, *_ in OBSERVATION_FIELDS}


# --------------------------------------------------------------------------- geometry


@njit(cache=True, inline="always")
def true_altitude(x, flags, terrain, i):
    """Height (m) of lander i's centre of mass above the terrain directly below."""
    return x[i, PZ] - ground_height(terrain, x, flags, i, x[i, PX], x[i, PY])


@njit(cache=True)
def beam_range(x, flags, terrain, i, bx, by, bz, max_range):
    """True slant range (m) along body-frame unit beam (bx, by, bz) from lander i's centre of
    mass to the terrain; -1 when the beam does not meet it within ``max_range``."""
    dx, dy, dz = rotate(x[i, QW], x[i, QX], x[i, QY], x[i, QZ], bx, by, bz)
    return terrain_raycast(terrain, flags[i, TILE], x[i, PX] + x[i, SITE_X], x[i, PY] + x[i, SITE_Y],
                           x[i, PZ] + x[i, SITE_Z], dx, dy, dz, max_range)


@njit(cache=True, inline="always")
def _beam_end_below_ground(x, flags, terrain, i, bx, by, bz, length):
    """True when the far end of a beam of ``length`` m lies at or below the terrain."""
    dx, dy, dz = rotate(x[i, QW], x[i, QX], x[i, QY], x[i, QZ], bx, by, bz)
    ex = x[i, PX] + x[i, SITE_X] + dx * length
    ey = x[i, PY] + x[i, SITE_Y] + dy * length
    ez = x[i, PZ] + x[i, SITE_Z] + dz * length
    return ez <= terrain_height(terrain, flags[i, TILE], ex, ey)


# --------------------------------------------------------------------------- sensor samples


@njit(cache=True)
def sample_star_tracker(x, rng, sensors, i):
    """Star-tracker sample (two normal pairs): attitude update with noise about body x, y, z."""
    a, b = next_normal_pair(rng, i)
    c, _ = next_normal_pair(rng, i)
    sigma = sensors.star_sigma
    update_attitude(x, i, sensors.star_gain, sigma[0] * a, sigma[1] * b, sigma[2] * c)


@njit(cache=True)
def sample_altimeter(x, flags, rng, sensors, terrain, i, altitude):
    """Altimeter sample (per beam: one normal pair and one uniform) and the altitude update.

    Each valid beam gives the height of its footprint below the lander, range times the
    vertical part of the beam as rotated by the *estimated* attitude; the valid beams are
    averaged into one altitude measurement. Faults: dead, or (late) valid only below the drawn
    altitude. ``altitude`` is the true altitude (m). Writes ALTIMETER_RANGE and ALTIMETER_VALID.
    """
    active = flags[i, FAULTS_ACTIVE]
    blocked = (active & (1 << ALTIMETER_DEAD)) != 0
    if (active & (1 << ALTIMETER_LATE)) != 0 and altitude > x[i, FAULT_LATE_ALTITUDE]:
        blocked = True
    q0, q1, q2, q3 = estimated_attitude(x, i)
    total = 0.0
    count = 0
    for b in range(sensors.altimeter_beams.shape[0]):
        bx = sensors.altimeter_beams[b, 0]
        by = sensors.altimeter_beams[b, 1]
        bz = sensors.altimeter_beams[b, 2]
        noise, _ = next_normal_pair(rng, i)
        kept = next_uniform(rng, i) >= sensors.altimeter_dropout
        measured = 0.0
        valid = False
        if kept and not blocked:
            r = beam_range(x, flags, terrain, i, bx, by, bz, sensors.altimeter_max_range)
            if r >= 0.0:
                valid = True
                measured = max(0.0, r + sensors.altimeter_sigma * noise)
                _, _, dz = rotate(q0, q1, q2, q3, bx, by, bz)
                if -dz > MIN_BEAM_VERTICAL:
                    total += measured * -dz
                    count += 1
        if b == 0:
            x[i, ALTIMETER_RANGE] = measured
            flags[i, ALTIMETER_VALID] = 1 if valid else 0
    if count > 0:
        measured = total / count
        px, py, _ = estimated_position(x, i)
        # The vertical position this altitude implies, over the onboard map at the estimated position.
        vertical_error = measured + ground_height(terrain, x, flags, i, px, py) - x[i, PZ]
        update_altitude(x, flags, sensors, i, measured, vertical_error)


@njit(cache=True)
def sample_velocimeter(x, flags, rng, sensors, terrain, i, altitude):
    """Velocimeter sample (two normal pairs) and, when every beam meets the terrain, the velocity update.

    The beam velocities are solved (least squares) for the body-frame velocity, which the
    estimated attitude turns into ENU: the measurement error is R(q) (dtheta x v_b + solve @ noise).
    """
    a, b = next_normal_pair(rng, i)
    c, d = next_normal_pair(rng, i)
    valid = altitude > 0.0
    beams = sensors.velocimeter_beams
    if valid:
        for k in range(beams.shape[0]):
            if not _beam_end_below_ground(
                x, flags, terrain, i, beams[k, 0], beams[k, 1], beams[k, 2], sensors.velocimeter_max_range
            ):
                valid = False
                break
    flags[i, VELOCIMETER_VALID] = 1 if valid else 0
    if not valid:
        return
    s = sensors.velocimeter_sigma
    solve = sensors.velocimeter_solve
    noise0, noise1, noise2, noise3 = s * a, s * b, s * c, s * d
    ex = ey = ez = 0.0
    for k in range(beams.shape[0]):
        n = noise0 if k == 0 else noise1 if k == 1 else noise2 if k == 2 else noise3
        ex += solve[0, k] * n
        ey += solve[1, k] * n
        ez += solve[2, k] * n
    q0, q1, q2, q3 = x[i, QW], x[i, QX], x[i, QY], x[i, QZ]
    vbx, vby, vbz = rotate(q0, -q1, -q2, -q3, x[i, VX], x[i, VY], x[i, VZ])
    tx, ty, tz = x[i, NAV_ATT_ERR_X], x[i, NAV_ATT_ERR_X + 1], x[i, NAV_ATT_ERR_X + 2]
    ex += ty * vbz - tz * vby
    ey += tz * vbx - tx * vbz
    ez += tx * vby - ty * vbx
    zx, zy, zz = rotate(q0, q1, q2, q3, ex, ey, ez)
    update_velocity(x, i, sensors.velocimeter_gain, zx, zy, zz)


@njit(cache=True)
def sample_position_fix(x, flags, rng, sensors, terrain, i, altitude):
    """TRN sample (two normal pairs): a position fix when TRN is allowed, in its altitude window
    and the terrain directly below is lit."""
    a, b = next_normal_pair(rng, i)
    c, _ = next_normal_pair(rng, i)
    if sensors.fix_denied or altitude < sensors.fix_min_altitude or altitude > sensors.fix_max_altitude:
        return
    if terrain_in_shadow(terrain, flags[i, TILE], x[i, PX] + x[i, SITE_X], x[i, PY] + x[i, SITE_Y]):
        return
    s = sensors.fix_sigma
    update_position(x, i, sensors, s * a, s * b, s * c)


@njit(cache=True, inline="always")
def _due(steps, period):
    return period > 0 and steps % period == 0


@njit(cache=True)
def sample_sensors(x, flags, rng, sensors, terrain, i, altitude):
    """Take the samples due at lander i's current step (all of them at step 0)."""
    steps = flags[i, STEPS]
    if _due(steps, sensors.star_period):
        sample_star_tracker(x, rng, sensors, i)
    if _due(steps, sensors.velocimeter_period):
        sample_velocimeter(x, flags, rng, sensors, terrain, i, altitude)
    if _due(steps, sensors.fix_period):
        sample_position_fix(x, flags, rng, sensors, terrain, i, altitude)
    if _due(steps, sensors.altimeter_period):
        sample_altimeter(x, flags, rng, sensors, terrain, i, altitude)


# --------------------------------------------------------------------------- observations


@njit(cache=True, inline="always")
def _write_common(obs, x, lander, i):
    capacity = lander.propellant_capacity
    fraction = (x[i, MASS] - lander.dry_mass) / capacity if capacity > 0.0 else 0.0
    obs[i, OBS_PROPELLANT] = min(1.0, max(0.0, fraction))
    obs[i, OBS_TIME] = x[i, TIME]


@njit(cache=True, inline="always")
def _write_attitude(obs, i, q0, q1, q2, q3):
    if q0 < 0.0:
        q0, q1, q2, q3 = -q0, -q1, -q2, -q3
    obs[i, OBS_ATTITUDE + 0] = q0
    obs[i, OBS_ATTITUDE + 1] = q1
    obs[i, OBS_ATTITUDE + 2] = q2
    obs[i, OBS_ATTITUDE + 3] = q3


@njit(cache=True)
def write_navigation_observation(obs, x, flags, lander, sensors, i, gx, gy, gz):
    """Row i of the observations in sensors mode: the navigation estimate and the sensor flags.

    (gx, gy, gz) is the gyro's white rate noise of this step (rad/s), added with its bias to
    the true body rate.
    """
    px, py, pz = estimated_position(x, i)
    vx, vy, vz = estimated_velocity(x, i)
    obs[i, OBS_POSITION + 0] = px
    obs[i, OBS_POSITION + 1] = py
    obs[i, OBS_POSITION + 2] = pz
    obs[i, OBS_VELOCITY + 0] = vx
    obs[i, OBS_VELOCITY + 1] = vy
    obs[i, OBS_VELOCITY + 2] = vz
    q0, q1, q2, q3 = estimated_attitude(x, i)
    _write_attitude(obs, i, q0, q1, q2, q3)
    obs[i, OBS_ANGULAR_RATE + 0] = x[i, WX] + x[i, GYRO_BIAS_X] + gx
    obs[i, OBS_ANGULAR_RATE + 1] = x[i, WY] + x[i, GYRO_BIAS_X + 1] + gy
    obs[i, OBS_ANGULAR_RATE + 2] = x[i, WZ] + x[i, GYRO_BIAS_X + 2] + gz
    obs[i, OBS_ALTITUDE] = x[i, NAV_ALTITUDE]
    _write_common(obs, x, lander, i)
    obs[i, OBS_ALTIMETER_RANGE] = x[i, ALTIMETER_RANGE]
    obs[i, OBS_ALTIMETER_VALID] = flags[i, ALTIMETER_VALID]
    obs[i, OBS_VELOCIMETER_VALID] = flags[i, VELOCIMETER_VALID]
    obs[i, OBS_POSITION_FIX_VALID] = 1.0 if x[i, TIME] - x[i, LAST_FIX_TIME] <= sensors.fix_recent else 0.0


@njit(cache=True)
def write_true_observation(obs, x, flags, lander, sensors, terrain, i, altitude):
    """Row i of the observations in truth mode: the true state, the true main-beam range, flags 1."""
    obs[i, OBS_POSITION + 0] = x[i, PX]
    obs[i, OBS_POSITION + 1] = x[i, PY]
    obs[i, OBS_POSITION + 2] = x[i, PZ]
    obs[i, OBS_VELOCITY + 0] = x[i, VX]
    obs[i, OBS_VELOCITY + 1] = x[i, VY]
    obs[i, OBS_VELOCITY + 2] = x[i, VZ]
    _write_attitude(obs, i, x[i, QW], x[i, QX], x[i, QY], x[i, QZ])
    obs[i, OBS_ANGULAR_RATE + 0] = x[i, WX]
    obs[i, OBS_ANGULAR_RATE + 1] = x[i, WY]
    obs[i, OBS_ANGULAR_RATE + 2] = x[i, WZ]
    obs[i, OBS_ALTITUDE] = altitude
    _write_common(obs, x, lander, i)
    beams = sensors.altimeter_beams
    r = beam_range(x, flags, terrain, i, beams[0, 0], beams[0, 1], beams[0, 2], sensors.altimeter_max_range)
    obs[i, OBS_ALTIMETER_RANGE] = max(0.0, r)
    obs[i, OBS_ALTIMETER_VALID] = 1.0
    obs[i, OBS_VELOCIMETER_VALID] = 1.0
    obs[i, OBS_POSITION_FIX_VALID] = 1.0


@njit(cache=True)
def write_guidance_cues(obs, lander, reward, i):
    """Fill row i's guidance cues from the fields already written (so both modes agree)."""
    obs[i, OBS_LOG_ALTITUDE] = np.log1p(max(float(obs[i, OBS_ALTITUDE]), 0.0))
    fx, fy, fz = field_velocity(
        float(obs[i, OBS_POSITION]),
        float(obs[i, OBS_POSITION + 1]),
        float(obs[i, OBS_POSITION + 2]) - lander.touchdown_height,
        reward,
    )
    obs[i, OBS_FIELD_ERROR + 0] = obs[i, OBS_VELOCITY + 0] - fx
    obs[i, OBS_FIELD_ERROR + 1] = obs[i, OBS_VELOCITY + 1] - fy
    obs[i, OBS_FIELD_ERROR + 2] = obs[i, OBS_VELOCITY + 2] - fz
