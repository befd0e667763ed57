"""The state of a batch of landers: three preallocated arrays with one row per lander.

Kernels address columns by the named indices below (a row is a lander's record), which keeps
each lander's state contiguous in memory and each compiled call down to a few arguments:

- ``x`` (n, NX) float64: physics and bookkeeping in SI units;
- ``flags`` (n, NF) int64: counters, outcome code and terrain tile;
- ``rng`` (n, 2) uint64: the key and counter of the lander's random stream.

:class:`BatchState` wraps them and gives Python code named views (``state.position`` ...).
"""

from __future__ import annotations

import numpy as np

from lunar_env.config import MAX_ENGINES

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
NX = HEALTH + MAX_ENGINES

TOUCHDOWN_COLUMNS = (TD_VERTICAL_SPEED, TD_HORIZONTAL_SPEED, TD_TILT, TD_ANGULAR_RATE, TD_SLOPE,
                     TD_MISS_DISTANCE, TD_IMPACT_SPEED)

# --- int64 columns of flags -----------------------------------------------------------
STEPS = 0  # control steps taken in this episode
OUTCOME = 1  # outcome code, lunar_env.physics.outcomes
TILE = 2  # terrain tile of the episode
EPISODE = 3  # episodes this lander started since the last seed
NF = 4

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
