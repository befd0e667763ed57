"""A simple velocity-field tracking controller: the documented stand-in lander autopilot.

It commands the velocity that brings the lander to the target, and the thrust that tracks it:

    v_ref,h = -r_h/|r_h| * min(|r_h| / tau_h, sqrt(2 a_brake |r_h|), v_h_max) * min(1, h / h_gate)
    v_ref,z = -max(v_final, min(h / tau_z, sqrt(2 a_brake h), v_z_max))
    a_cmd   = (v_ref - v) / tau_v + (0, 0, g)        (gravity compensated)
    T       = m a_cmd, tilted at most max_tilt from vertical, magnitude within engine bounds

with h the height of the centre of mass above its touchdown height; the square-root terms keep
each reference speed one the lander can still brake from at a_brake, and below h_gate the
horizontal reference fades to zero so the lander stops drifting before its legs touch. In the 3-DOF env the action
is T itself; in the 6-DOF env an attitude loop (PD on the angle between the body axis and T)
drives the reaction-control torques and every engine gets the throttle that gives |T|. It
reads only the observation vector, so it flies on the same noisy estimates an RL policy sees.
"""

from __future__ import annotations

import numpy as np

from agents.policy import Policy
from lunar_env.config import LanderSpec
from lunar_env.constants import LUNAR_GRAVITY_MPS2
from lunar_env.physics.quaternion import rotate_inverse
from lunar_env.sensors import observation_slices

SLICES = observation_slices()


class VelocityFieldController(Policy):
    """Velocity-field tracking guidance for a given lander (see the module docstring)."""

    def __init__(self, lander: LanderSpec, mode: str = "3dof", tau_h_s: float = 25.0, v_h_max_mps: float = 40.0,
                 tau_z_s: float = 12.0, v_z_max_mps: float = 40.0, v_final_mps: float = 0.8, tau_v_s: float = 2.5,
                 brake_accel_mps2: float = 0.35, gate_height_m: float = 40.0,
                 max_tilt_deg: float = 35.0, attitude_kp: float = 2.0, attitude_kd: float = 3.0):
        if mode not in ("3dof", "6dof"):
            raise ValueError(f"mode must be '3dof' or '6dof', got {mode!r}")
        self.mode = mode
        self.lander = lander
        self.tau_h, self.v_h_max = tau_h_s, v_h_max_mps
        self.tau_z, self.v_z_max, self.v_final = tau_z_s, v_z_max_mps, v_final_mps
        self.tau_v = tau_v_s
        self.a_brake = brake_accel_mps2
        self.h_gate = gate_height_m
        self.max_tilt = np.radians(max_tilt_deg)
        self.kp, self.kd = attitude_kp, attitude_kd
        self.touchdown_height = -max(f[2] for f in lander.leg_feet_m)

    def thrust_vector(self, obs: np.ndarray) -> np.ndarray:
        """Commanded thrust (n, 3) in newtons, ENU."""
        r = obs[:, SLICES["position"]].astype(np.float64)
        v = obs[:, SLICES["velocity"]].astype(np.float64)
        height = obs[:, SLICES["altitude"]][:, 0].astype(np.float64) - self.touchdown_height
        mass = self.lander.dry_mass_kg + obs[:, SLICES["propellant_fraction"]][:, 0] * self.lander.propellant_mass_kg

        v_ref = np.empty_like(v)
        h = np.maximum(height, 0.0)
        distance = np.linalg.norm(r[:, :2], axis=1)
        speed = np.minimum(np.minimum(distance / self.tau_h, np.sqrt(2.0 * self.a_brake * distance)), self.v_h_max)
        speed *= np.minimum(1.0, h / self.h_gate)
        v_ref[:, :2] = -r[:, :2] * (speed / np.maximum(distance, 1e-9))[:, None]
        sink = np.minimum(np.minimum(h / self.tau_z, np.sqrt(2.0 * self.a_brake * h)), self.v_z_max)
        v_ref[:, 2] = -np.maximum(sink, self.v_final)

        accel = (v_ref - v) / self.tau_v
        accel[:, 2] += LUNAR_GRAVITY_MPS2
        accel[:, 2] = np.maximum(accel[:, 2], 0.1 * LUNAR_GRAVITY_MPS2)
        # Keep the thrust within max_tilt of vertical by shortening its horizontal part.
        horizontal = np.linalg.norm(accel[:, :2], axis=1)
        limit = accel[:, 2] * np.tan(self.max_tilt)
        shrink = np.minimum(1.0, limit / np.maximum(horizontal, 1e-9))
        accel[:, :2] *= shrink[:, None]
        thrust = accel * mass[:, None]
        magnitude = np.linalg.norm(thrust, axis=1, keepdims=True)
        bounded = np.clip(magnitude, self.lander.min_axial_thrust_n, self.lander.max_axial_thrust_n)
        return thrust * bounded / np.maximum(magnitude, 1e-9)

    def act(self, obs: np.ndarray) -> np.ndarray:
        thrust = self.thrust_vector(obs)
        t_max = self.lander.max_axial_thrust_n
        if self.mode == "3dof":
            return (thrust / t_max).astype(np.float32)
        return self._six_dof_action(obs, thrust).astype(np.float32)

    def _six_dof_action(self, obs: np.ndarray, thrust: np.ndarray) -> np.ndarray:
        q = obs[:, SLICES["attitude"]].astype(np.float64)
        w = obs[:, SLICES["angular_rate"]].astype(np.float64)
        direction = thrust / np.linalg.norm(thrust, axis=1, keepdims=True)
        # Desired thrust direction in the body frame; the error is the rotation taking body +z to it.
        d_body = np.stack(rotate_inverse(q[:, 0], q[:, 1], q[:, 2], q[:, 3],
                                         direction[:, 0], direction[:, 1], direction[:, 2]), axis=1)
        error = np.stack([-d_body[:, 1], d_body[:, 0], np.zeros(len(q))], axis=1)  # z x d
        lander = self.lander
        mass = lander.dry_mass_kg + obs[:, SLICES["propellant_fraction"]][:, 0] * lander.propellant_mass_kg
        inertia = np.array(lander.inertia_dry_kgm2)[None, :] * (mass / lander.dry_mass_kg)[:, None]
        torque = inertia * (self.kp * error - self.kd * w)
        torque_action = torque / np.maximum(np.array(lander.rcs_max_torque_nm), 1e-9)[None, :]

        # Throttle for the commanded magnitude along the current axis (cosine loss included).
        cos_error = np.clip(d_body[:, 2], 0.2, 1.0)
        magnitude = np.linalg.norm(thrust, axis=1) * cos_error
        mins = np.array([e.min_throttle for e in lander.engines])
        fraction = np.clip(magnitude / lander.max_axial_thrust_n, mins.max(), 1.0)
        throttle_action = 2.0 * (fraction[:, None] - mins[None, :]) / (1.0 - mins[None, :]) - 1.0
        return np.clip(np.concatenate([throttle_action, torque_action], axis=1), -1.0, 1.0)
