"""From a commanded thrust vector to the environment's action, for both action spaces.

Guidance laws (velocity field, ZEM/ZEV) decide *what thrust vector* the lander needs; this
module decides *how to get it*:

- 3-DOF: the action is the thrust vector as fractions of the maximum axial thrust, with the
  up component mapped from [0, 1] to [-1, 1] as the env expects.
- 6-DOF: an attitude loop turns the body +z axis toward the commanded direction (PD on the
  rotation that takes body +z to it, scaled by the current inertia, output as reaction-control
  torques), and every main engine gets the throttle that gives the commanded magnitude along
  the current axis (the cosine of the pointing error is compensated, down to a floor).
"""

from __future__ import annotations

import numpy as np

from lunar_env.config import LanderSpec
from lunar_env.physics.quaternion import rotate_inverse
from lunar_env.sensors import observation_slices

SLICES = observation_slices()
MIN_POINTING_COSINE = 0.2  # below this the thrust is mostly wasted: do not throttle up further


def current_mass(lander: LanderSpec, obs: np.ndarray) -> np.ndarray:
    """(n,) mass in kg from the observed propellant fraction."""
    return (
        lander.dry_mass_kg + obs[:, SLICES["propellant_fraction"]][:, 0].astype(np.float64) * lander.propellant_mass_kg
    )


def touchdown_height(lander: LanderSpec) -> float:
    """Height of the centre of mass above flat ground when the legs touch (m)."""
    return -max(foot[2] for foot in lander.leg_feet_m)


def limit_accel(
    accel: np.ndarray,
    mass: np.ndarray,
    lander: LanderSpec,
    max_tilt_rad: float,
    min_up_mps2: float,
    margin: float = 1.0,
) -> np.ndarray:
    """Thrust accelerations (n, 3) m/s^2 the engines can give: at least ``min_up_mps2`` upward,
    within ``max_tilt_rad`` of vertical (the horizontal part is shortened), and a magnitude
    between the minimum thrust and ``margin`` times the maximum, over the mass (n,) kg."""
    accel = accel.copy()
    accel[:, 2] = np.maximum(accel[:, 2], min_up_mps2)
    horizontal = np.linalg.norm(accel[:, :2], axis=1)
    shrink = np.minimum(1.0, accel[:, 2] * np.tan(max_tilt_rad) / np.maximum(horizontal, 1e-9))
    accel[:, :2] *= shrink[:, None]
    magnitude = np.linalg.norm(accel, axis=1)
    bounded = np.clip(magnitude, lander.min_axial_thrust_n / mass, margin * lander.max_axial_thrust_n / mass)
    return accel * (bounded / np.maximum(magnitude, 1e-12))[:, None]


class ThrustToAction:
    """Map commanded ENU thrust vectors (n, 3) in newtons to actions of a lander's env.

    Args:
        lander: the LanderSpec the env flies.
        mode: "3dof" or "6dof".
        attitude_kp: proportional gain of the attitude loop (1/s^2).
        attitude_kd: derivative gain of the attitude loop (1/s).
    """

    def __init__(self, lander: LanderSpec, mode: str, attitude_kp: float = 2.0, attitude_kd: float = 3.0):
        if mode not in ("3dof", "6dof"):
            raise ValueError(f"mode must be '3dof' or '6dof', got {mode!r}")
        self.lander = lander
        self.mode = mode
        self.kp, self.kd = attitude_kp, attitude_kd
        self.min_throttle = np.array([e.min_throttle for e in lander.engines])
        self.max_torque = np.maximum(np.array(lander.rcs_max_torque_nm), 1e-9)
        self.inertia_dry = np.array(lander.inertia_dry_kgm2)

    def __call__(self, obs: np.ndarray, thrust: np.ndarray) -> np.ndarray:
        if self.mode == "3dof":
            fraction = thrust / self.lander.max_axial_thrust_n
            fraction[:, 2] = 2.0 * fraction[:, 2] - 1.0  # the env maps up from [-1, 1] to [0, 1]
            return np.clip(fraction, -1.0, 1.0).astype(np.float32)
        return self._six_dof(obs, thrust).astype(np.float32)

    def _six_dof(self, obs: np.ndarray, thrust: np.ndarray) -> np.ndarray:
        q = obs[:, SLICES["attitude"]].astype(np.float64)
        w = obs[:, SLICES["angular_rate"]].astype(np.float64)
        magnitude = np.linalg.norm(thrust, axis=1)
        direction = thrust / np.maximum(magnitude, 1e-9)[:, None]
        d_body = np.stack(
            rotate_inverse(q[:, 0], q[:, 1], q[:, 2], q[:, 3], direction[:, 0], direction[:, 1], direction[:, 2]),
            axis=1,
        )
        # Small-angle rotation vector taking body +z to d: z x d.
        error = np.stack([-d_body[:, 1], d_body[:, 0], np.zeros(len(q))], axis=1)
        mass = current_mass(self.lander, obs)
        inertia = self.inertia_dry[None, :] * (mass / self.lander.dry_mass_kg)[:, None]
        torque_action = inertia * (self.kp * error - self.kd * w) / self.max_torque[None, :]

        along_axis = magnitude * np.clip(d_body[:, 2], MIN_POINTING_COSINE, 1.0)
        fraction = np.clip(along_axis / self.lander.max_axial_thrust_n, self.min_throttle.max(), 1.0)
        low = self.min_throttle[None, :]
        throttle_action = 2.0 * (fraction[:, None] - low) / (1.0 - low) - 1.0
        return np.clip(np.concatenate([throttle_action, torque_action], axis=1), -1.0, 1.0)
