"""The descent-profile controller: the documented stand-in lander autopilot (built-in policy
``descent_profile``, formerly ``velocity_field``).

It commands a reference velocity profile that brings the lander to the target, and the thrust
that tracks it (its own profile, not the reward's velocity field of lunar_env/reward.py):

    v_ref,h = -r_h/|r_h| * min(|r_h| / tau_h, sqrt(2 a_brake |r_h|), v_h_max) * min(1, h / h_gate)
    v_ref,z = -max(v_final, min(sqrt(2 a_brake h), h / tau_z, v_z_max))      (h / tau_z optional)
    a_cmd   = (v_ref - v) / tau_v + a_ff + (0, 0, g)        (gravity compensated)
    T       = m a_cmd, tilted at most max_tilt from vertical, magnitude within engine bounds

with h the height of the centre of mass above its touchdown height; the square-root terms keep
each reference speed one the lander can still brake from at a_brake. Without the linear term
(the default) the sink follows a constant-deceleration profile down to v_final: braking late
and hard is what saves propellant on a lander whose thrust barely exceeds its lunar weight
(every second spent hovering costs g of velocity), and a_brake keeps a margin below the
largest deceleration the engines give (about 0.9 m/s^2 for Vikram). Below h_gate the
horizontal reference fades to zero so the lander stops drifting before its legs touch. The
feedforward a_ff is the rate of change of the reference along the lander's own sink (d v_ref /
dt with dh/dt = v_z, through the sink profile and the horizontal fade; the horizontal
reference's change with distance is left to the feedback): without it a
proportional loop trails a braking reference by a_brake * tau_v and reaches the ground that
much too fast, and trails the fading horizontal reference into touchdowns above the 0.5 m/s
horizontal limit (20 of 1000 nominal 3-DOF episodes even with true observations). In the
3-DOF env the action
is T itself; in the 6-DOF env an attitude loop (PD on the angle between the body axis and T)
drives the reaction-control torques and every engine gets the throttle that gives |T|. It
reads only the observation vector, so it flies on the same noisy estimates an RL policy sees.
"""

from __future__ import annotations

import numpy as np

from agents.policy import Policy
from agents.thrust_command import (
    SLICES,
    ThrustToAction,
    current_mass,
    limit_accel,
    touchdown_height,
)
from lunar_env.config import LanderSpec, check_range
from lunar_env.constants import LUNAR_GRAVITY_MPS2

MIN_UP_FRACTION = 0.1  # thrust keeps at least this fraction of g upward


class DescentProfileController(Policy):
    """Descent-profile tracking guidance for a given lander (see the module docstring)."""

    def __init__(self, lander: LanderSpec, mode: str = "3dof", tau_h_s: float = 10.0, v_h_max_mps: float = 40.0,
                 tau_z_s: float | None = None, v_z_max_mps: float = 40.0, v_final_mps: float = 0.8,
                 tau_v_s: float = 2.5, brake_accel_mps2: float = 0.55, gate_height_m: float = 60.0,
                 max_tilt_deg: float = 35.0, attitude_kp: float = 2.0, attitude_kd: float = 3.0,
                 feedforward: bool = True):
        if mode not in ("3dof", "6dof"):
            raise ValueError(f"mode must be '3dof' or '6dof', got {mode!r}")
        owner = "DescentProfileController"
        self.mode = mode
        self.lander = lander
        positive = {"tau_h_s": tau_h_s, "v_h_max_mps": v_h_max_mps, "v_z_max_mps": v_z_max_mps,
                    "v_final_mps": v_final_mps, "tau_v_s": tau_v_s, "brake_accel_mps2": brake_accel_mps2,
                    "gate_height_m": gate_height_m}
        if tau_z_s is not None:
            positive["tau_z_s"] = tau_z_s
        for name, value in positive.items():
            check_range(owner, name, value, 0.0, 1e5, low_open=True)
        self.tau_h, self.v_h_max = tau_h_s, v_h_max_mps
        self.tau_z, self.v_z_max, self.v_final = tau_z_s, v_z_max_mps, v_final_mps
        self.tau_v = tau_v_s
        self.a_brake = brake_accel_mps2
        self.h_gate = gate_height_m
        self.max_tilt = np.radians(check_range(owner, "max_tilt_deg", max_tilt_deg, 0.0, 90.0, low_open=True))
        self.feedforward = feedforward
        self.touchdown_height = touchdown_height(lander)
        self.to_action = ThrustToAction(lander, mode, attitude_kp, attitude_kd)

    def thrust_vector(self, obs: np.ndarray) -> np.ndarray:
        """Commanded thrust (n, 3) in newtons, ENU."""
        r = obs[:, SLICES["position"]].astype(np.float64)
        v = obs[:, SLICES["velocity"]].astype(np.float64)
        height = obs[:, SLICES["altitude"]][:, 0].astype(np.float64) - self.touchdown_height
        mass = current_mass(self.lander, obs)

        v_ref = np.empty_like(v)
        h = np.maximum(height, 0.0)
        distance = np.linalg.norm(r[:, :2], axis=1)
        speed = np.minimum(np.minimum(distance / self.tau_h, np.sqrt(2.0 * self.a_brake * distance)), self.v_h_max)
        fading = h < self.h_gate
        unfaded = speed.copy()
        speed *= np.minimum(1.0, h / self.h_gate)
        toward = -r[:, :2] / np.maximum(distance, 1e-9)[:, None]
        v_ref[:, :2] = toward * speed[:, None]
        brakeable = np.sqrt(2.0 * self.a_brake * h)
        linear = np.full_like(h, np.inf) if self.tau_z is None else h / self.tau_z
        sink = np.minimum(np.minimum(linear, brakeable), self.v_z_max)
        v_ref[:, 2] = -np.maximum(sink, self.v_final)

        accel = (v_ref - v) / self.tau_v
        accel[:, 2] += LUNAR_GRAVITY_MPS2
        if self.feedforward:
            # d(sink)/dh on the active branch, times dh/dt = v_z; zero on the constant branches.
            on_linear = linear <= brakeable
            slope = np.where(on_linear, 1.0 / (self.tau_z or np.inf), self.a_brake / np.maximum(brakeable, 1e-9))
            # On profile the brake branch asks a_brake, the linear one up to 2 a_brake (at the switch).
            cap = np.where(on_linear, 2.0 * self.a_brake, self.a_brake)
            on_profile = (sink < self.v_z_max) & (sink > self.v_final)
            accel[:, 2] += np.where(on_profile, np.clip(-slope * v[:, 2], 0.0, cap), 0.0)
            # Below the gate the horizontal reference shrinks with height: d/dt = unfaded * v_z / h_gate
            # (the part of its rate from the shrinking distance is left to the feedback).
            fade_rate = np.where(fading, unfaded * np.minimum(v[:, 2], 0.0) / self.h_gate, 0.0)
            accel[:, :2] += toward * fade_rate[:, None]
        return (
            limit_accel(accel, mass, self.lander, self.max_tilt, MIN_UP_FRACTION * LUNAR_GRAVITY_MPS2) * mass[:, None]
        )

    def act(self, obs: np.ndarray) -> np.ndarray:
        return self.to_action(obs, self.thrust_vector(obs))
