"""The state of a batch of landers: three preallocated arrays with one row per lander.

Kernels address columns by the named indices below (a row is a lander's record), which keeps
each lander's state contiguous in memory and each compiled call down to a few arguments:

- ``x`` (n, NX) float64: physics, bookkeeping, navigation errors, sensor holds and fault draws, SI units;
- ``flags`` (n, NF) int64: counters, outcome code, terrain tile, sensor flags and fault bitmasks;
- ``rng`` (n, 2) uint64: the key and counter of the lander's random stream.

:class:`BatchState` wraps them and gives Python code named views (``state.position`` ...).
"""

from __future__ import annotations

import numpy as np

from lunar_env.constants import MAX_ENGINES, NUM_FAULTS

# --- float64 columns of x -------------------------------------------------------------
PX, PY, PZ = 0, 1, 2  # m, centre of mass in ENU relative to the target site
VX, VY, VZ = 3, 4, 5  # m/s, ENU
QW, QX, QY, QZ = 6, 7, 8, 9  # unit quaternion body -> ENU, scalar first
WX, WY, WZ = 10, 11, 12  # rad/s, body rates
MASS = 13  # kg
PROPELLANT_START = 14  # kg at the start of the episode
TIME = 15  # s since the episode started
POTENTIAL = 16  # reward shaping potential of the current state
SITE_X, SITE_Y, SITE_Z = 17, 18, 19  # m, the target site in terrain-tile coordinates
CMD_DIR_X, CMD_DIR_Y, CMD_DIR_Z = 20, 21, 22  # 3-DOF commanded thrust direction, ENU unit vector
CMD_TX, CMD_TY, CMD_TZ = 23, 24, 25  # N m, 6-DOF reaction-control torque command, body frame
TD_VERTICAL_SPEED = 26  # m/s, positive downward, at the end of the episode
TD_HORIZONTAL_SPEED = 27  # m/s
TD_TILT = 28  # rad
TD_ANGULAR_RATE = 29  # rad/s
TD_SLOPE = 30  # rad, terrain slope under the lander (NaN when it ended airborne)
TD_MISS_DISTANCE = 31  # m, horizontal distance from the target
TD_IMPACT_SPEED = 32  # m/s, speed at contact (predicted ground impact when it ended airborne)
THROTTLE = 33  # MAX_ENGINES columns: actual throttle of each engine after the lag
THROTTLE_CMD = THROTTLE + MAX_ENGINES  # commanded throttle of each engine
HEALTH = THROTTLE_CMD + MAX_ENGINES  # fraction of rated thrust each engine can give (faults)
# Navigation (lunar_env.navigation): the estimate is the truth plus these errors, except the
# altitude estimate, which is its own state (propagated from vertical motion, fixed by the altimeter).
# 3 columns, rad: rotation vector, body frame, from the true to the estimated attitude
NAV_ATT_ERR_X = HEALTH + MAX_ENGINES
NAV_VEL_ERR_X = NAV_ATT_ERR_X + 3  # 3 columns, m/s: estimated minus true velocity, ENU
NAV_POS_ERR_X = NAV_VEL_ERR_X + 3  # 3 columns, m: estimated minus true position, ENU
NAV_ALTITUDE = NAV_POS_ERR_X + 3  # m, the altitude estimate
GYRO_BIAS_X = NAV_ALTITUDE + 1  # 3 columns, rad/s, body frame: turn-on bias plus in-run walk
ACCEL_BIAS_X = GYRO_BIAS_X + 3  # 3 columns, m/s^2, body frame
ALTIMETER_RANGE = ACCEL_BIAS_X + 3  # m, main-beam slant range of the latest altimeter sample, 0 when invalid
LAST_FIX_TIME = ALTIMETER_RANGE + 1  # s, episode time of the last accepted position fix (NO_FIX_TIME: none yet)
LAST_ALTIMETER_TIME = LAST_FIX_TIME + 1  # s, episode time of the last accepted altimeter sample (NO_FIX_TIME: none)
# Faults (lunar_env.faults): drawn at reset, whether or not each fault is armed.
FAULT_ONSET = LAST_ALTIMETER_TIME + 1  # NUM_FAULTS columns: onset time (s) or altitude (m) of each fault
FAULT_RIM_JUMP = FAULT_ONSET + NUM_FAULTS  # m, height of the terrain step under the rim (altimeter_rim_jump)
FAULT_LATE_ALTITUDE = FAULT_RIM_JUMP + 1  # m, altitude below which a late altimeter returns (altimeter_late)
FAULT_THRUST_FRACTION = FAULT_LATE_ALTITUDE + 1  # thrust left after a thrust loss (thrust_loss)
FAULT_GYRO_JUMP_X = FAULT_THRUST_FRACTION + 1  # 3 columns, rad/s: gyro bias step (imu_bias_jump)
FAULT_ACCEL_JUMP_X = FAULT_GYRO_JUMP_X + 3  # 3 columns, m/s^2: accelerometer bias step (imu_bias_jump)
NX = FAULT_ACCEL_JUMP_X + 3
NO_FIX_TIME = -1e9  # s, LAST_FIX_TIME and LAST_ALTIMETER_TIME before the first accepted sample

TOUCHDOWN_COLUMNS = (TD_VERTICAL_SPEED, TD_HORIZONTAL_SPEED, TD_TILT, TD_ANGULAR_RATE, TD_SLOPE,
                     TD_MISS_DISTANCE, TD_IMPACT_SPEED)

# --- int64 columns of flags -----------------------------------------------------------
STEPS = 0  # control steps taken in this episode
OUTCOME = 1  # outcome code, lunar_env.physics.outcomes
TILE = 2  # terrain tile of the episode
EPISODE = 3  # episodes this lander started since the last seed
ALTIMETER_VALID = 4  # 1 when the latest altimeter sample's main beam gave a valid return
VELOCIMETER_VALID = 5  # 1 when the latest velocimeter sample had every beam on terrain within range
ALTITUDE_ACQUIRED = 6  # 1 once the altitude estimate has taken its first altimeter measurement
ALTIMETER_REJECTS = 7  # consecutive altimeter samples rejected by the innovation gate
FAULTS_ARMED = 8  # bitmask of the faults drawn to happen this episode (lunar_env.faults)
FAULTS_ACTIVE = 9  # bitmask of the armed faults whose onset has come
FAULT_ENGINE = 10  # index of the engine an engine-out fault stops
NF = 11

# --- uint64 columns of rng ------------------------------------------------------------
RNG_KEY = 0
RNG_COUNTER = 1


class BatchState:
    """The three state arrays of n landers and named views of them for Python code."""

    def __init__(self, n: int):
        self.x = np.zeros((n, NX), dtype=np.float64)
        self.flags = np.zeros((n, NF), dtype=np.int64)
        self.rng = np.zeros((n, 2), dtype=np.uint64)
        self.x[:, QW] = 1.0
        self.x[:, HEALTH:HEALTH + MAX_ENGINES] = 1.0

    # Views (no copies): writing through them changes the state.
    @property
    def position(self) -> np.ndarray:
        return self.x[:, PX:PZ + 1]

    @property
    def velocity(self) -> np.ndarray:
        return self.x[:, VX:VZ + 1]

    @property
    def attitude(self) -> np.ndarray:
        return self.x[:, QW:QZ + 1]

    @property
    def angular_rate(self) -> np.ndarray:
        return self.x[:, WX:WZ + 1]

    @property
    def mass(self) -> np.ndarray:
        return self.x[:, MASS]

    @property
    def time(self) -> np.ndarray:
        return self.x[:, TIME]

    @property
    def site(self) -> np.ndarray:
        return self.x[:, SITE_X:SITE_Z + 1]

    @property
    def throttle(self) -> np.ndarray:
        return self.x[:, THROTTLE:THROTTLE + MAX_ENGINES]

    @property
    def engine_health(self) -> np.ndarray:
        return self.x[:, HEALTH:HEALTH + MAX_ENGINES]

    @property
    def outcome(self) -> np.ndarray:
        return self.flags[:, OUTCOME]

    @property
    def steps(self) -> np.ndarray:
        return self.flags[:, STEPS]

    @property
    def tile(self) -> np.ndarray:
        return self.flags[:, TILE]

    @property
    def episode(self) -> np.ndarray:
        return self.flags[:, EPISODE]

    @property
    def active_faults(self) -> np.ndarray:
        """Bitmask of the faults under way (bit k: ``lunar_env.faults.FAULT_NAMES[k]``)."""
        return self.flags[:, FAULTS_ACTIVE]

    @property
    def armed_faults(self) -> np.ndarray:
        """Bitmask of the faults drawn to happen this episode, started or not."""
        return self.flags[:, FAULTS_ARMED]

    @property
    def attitude_error(self) -> np.ndarray:
        """(n, 3) rad: body-frame rotation vector from the true to the estimated attitude."""
        return self.x[:, NAV_ATT_ERR_X:NAV_ATT_ERR_X + 3]

    @property
    def velocity_error(self) -> np.ndarray:
        """(n, 3) m/s: navigation velocity estimate minus the truth, ENU."""
        return self.x[:, NAV_VEL_ERR_X:NAV_VEL_ERR_X + 3]

    @property
    def position_error(self) -> np.ndarray:
        """(n, 3) m: navigation position estimate minus the truth, ENU."""
        return self.x[:, NAV_POS_ERR_X:NAV_POS_ERR_X + 3]

    @property
    def altitude_estimate(self) -> np.ndarray:
        """(n,) m: the navigation altitude estimate (observation field ``altitude`` in sensors mode)."""
        return self.x[:, NAV_ALTITUDE]

    @property
    def gyro_bias(self) -> np.ndarray:
        """(n, 3) rad/s, body frame."""
        return self.x[:, GYRO_BIAS_X:GYRO_BIAS_X + 3]

    @property
    def accel_bias(self) -> np.ndarray:
        """(n, 3) m/s^2, body frame."""
        return self.x[:, ACCEL_BIAS_X:ACCEL_BIAS_X + 3]
