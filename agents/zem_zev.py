"""ZEM/ZEV feedback guidance: the E-guidance family of Apollo's descent guidance.

With r, v the lander's position and velocity relative to the target, g gravity and t_go the
time to go, the zero-effort miss and zero-effort velocity are what the lander would miss by
if it stopped thrusting now::

    ZEM = r_f - (r + v t_go + g t_go^2 / 2)        ZEV = v_f - (v + g t_go)

and the energy-optimal thrust acceleration that nulls both (Guo, Hawkins and Wie) is::

    a = 6 ZEM / t_go^2 - 2 ZEV / t_go.

Time-to-go rule. Fuel is very sensitive to t_go, so it is chosen per lander once, at the start
of the episode, and then counts down (t_go = t_f - t): the open-loop profile of the law is
linear in time, a(s) = a0 + (a_T - a0) s for s in [0, 1] with a_T = 4 ZEV/T - 6 ZEM/T^2, so for
each of ``num_candidates`` final times T between ``min_time_s`` and ``max_time_s`` the planner
evaluates, by Simpson's rule, the velocity it costs, T * mean(max(|a(s)|, a_min)), and keeps the
cheapest T whose profile stays within ``accel_margin`` of the maximum thrust acceleration,
within ``max_tilt_deg`` of vertical and above the ground. The law then runs closed loop on the
observation every control step, so it corrects noise and unmodelled effects.

Phases. The law aims at a gate ``gate_height_m`` above the touchdown height, moving down at
``gate_speed_mps``. Below the gate (by the observed altitude) or when t_go runs out, a terminal
phase descends vertically at ``touchdown_speed_mps`` while nulling horizontal velocity. Thrust
is kept within the engines' bounds and ``max_tilt_deg`` of vertical, and mapped to the env's
action by :class:`agents.thrust_command.ThrustToAction` (attitude loop and throttles in 6-DOF).
Everything is vectorized over landers with numpy.
"""

from __future__ import annotations

import numpy as np

from agents.policy import Policy
from agents.thrust_command import SLICES, ThrustToAction, bound_thrust, current_mass, touchdown_height
from lunar_env.config import LanderSpec, check_range
from lunar_env.constants import LUNAR_GRAVITY_MPS2

SIMPSON_POINTS = 17  # odd, for Simpson's rule over the planned profile
PLAN_CHUNK = 1024  # landers planned at once (bounds the planner's memory)


def _simpson_weights(points: int) -> np.ndarray:
    w = np.ones(points)
    w[1:-1:2] = 4.0
    w[2:-1:2] = 2.0
    return w / (3.0 * (points - 1))


class ZemZevGuidance(Policy):
    """ZEM/ZEV guidance for a lander; see the module docstring for the rules.

    Args:
        lander: the LanderSpec flown (engine bounds, mass, legs).
        mode: "3dof" or "6dof" action space.
        gate_height_m: height above the touchdown height where the terminal phase starts (m).
        gate_speed_mps: sink rate aimed for at the gate (m/s).
        touchdown_speed_mps: sink rate held in the terminal phase (m/s).
        terminal_time_constant_s: sink-rate tracking time constant of the terminal phase (s).
        terminal_horizontal_time_constant_s: horizontal-velocity nulling time constant there (s);
            slower than the attitude loop, so the 6-DOF lander can follow it.
        min_time_s, max_time_s, num_candidates: the final-time search grid (s).
        time_to_go_floor_s: the law never uses a t_go below this (s): the gains grow as 1/t_go^2,
            and a lander that turns slowly (6-DOF) cannot follow the last seconds' commands.
        accel_margin: fraction of the maximum thrust acceleration a plan may use.
        max_tilt_deg: largest thrust angle from vertical, planned and commanded (deg).
        gravity_mps2: gravity the law compensates (m/s^2).
    """

    def __init__(self, lander: LanderSpec, mode: str = "3dof", gate_height_m: float = 3.0,
                 gate_speed_mps: float = 1.0, touchdown_speed_mps: float = 0.8,
                 terminal_time_constant_s: float = 1.5, terminal_horizontal_time_constant_s: float = 3.0, min_time_s: float = 5.0, max_time_s: float = 200.0,
                 num_candidates: int = 96, time_to_go_floor_s: float = 5.0, accel_margin: float = 0.85, max_tilt_deg: float = 60.0,
                 gravity_mps2: float = LUNAR_GRAVITY_MPS2):
        owner = "ZemZevGuidance"
        self.gate_height = check_range(owner, "gate_height_m", gate_height_m, 0.0, 1000.0)
        self.gate_speed = check_range(owner, "gate_speed_mps", gate_speed_mps, 0.0, 100.0)
        self.touchdown_speed = check_range(owner, "touchdown_speed_mps", touchdown_speed_mps, 0.0, 100.0, low_open=True)
        self.tau_terminal = check_range(owner, "terminal_time_constant_s", terminal_time_constant_s, 0.0, 100.0, low_open=True)
        self.tau_terminal_h = check_range(owner, "terminal_horizontal_time_constant_s",
                                          terminal_horizontal_time_constant_s, 0.0, 100.0, low_open=True)
        check_range(owner, "min_time_s", min_time_s, 0.0, 1e4, low_open=True)
        check_range(owner, "max_time_s", max_time_s, min_time_s, 1e5, low_open=True)
        self.t_go_floor = check_range(owner, "time_to_go_floor_s", time_to_go_floor_s, 0.0, 100.0, low_open=True)
        if not isinstance(num_candidates, int) or num_candidates < 2:
            raise ValueError(f"{owner}.num_candidates must be an integer >= 2, got {num_candidates!r}")
        self.accel_margin = check_range(owner, "accel_margin", accel_margin, 0.0, 1.0, low_open=True)
        self.max_tilt = np.radians(check_range(owner, "max_tilt_deg", max_tilt_deg, 0.0, 90.0, low_open=True))
        self.gravity = check_range(owner, "gravity_mps2", gravity_mps2, 0.0, 100.0, low_open=True)
        self.lander = lander
        self.mode = mode
        self.to_action = ThrustToAction(lander, mode)
        self.touchdown_height = touchdown_height(lander)
        self.candidates = np.geomspace(min_time_s, max_time_s, num_candidates)
        self.g = np.array([0.0, 0.0, -self.gravity])
        self.final_time = np.zeros(0)
        self.last_time = np.zeros(0)
        self.needs_plan = np.zeros(0, dtype=bool)

    # ------------------------------------------------------------------ state
    def reset(self, num_landers: int, mask: np.ndarray | None = None) -> None:
        if self.final_time.shape[0] != num_landers or mask is None:
            self.final_time = np.zeros(num_landers)
            self.last_time = np.full(num_landers, np.inf)
            self.needs_plan = np.ones(num_landers, dtype=bool)
        else:
            self.needs_plan[np.asarray(mask, dtype=bool)] = True

    # ------------------------------------------------------------------ planning
    def _targets(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        r_f = np.zeros((n, 3))
        r_f[:, 2] = self.touchdown_height + self.gate_height
        v_f = np.zeros((n, 3))
        v_f[:, 2] = -self.gate_speed
        return r_f, v_f

    def plan_final_time(self, r0: np.ndarray, v0: np.ndarray, mass: np.ndarray) -> np.ndarray:
        """The chosen time to go (s) for landers at r0, v0 (m, m/s, (m, 3)) with mass (m,) kg."""
        out = np.empty(len(r0))
        for start in range(0, len(r0), PLAN_CHUNK):
            part = slice(start, start + PLAN_CHUNK)
            out[part] = self._plan_chunk(r0[part], v0[part], mass[part])
        return out

    def _plan_chunk(self, r0, v0, mass):
        m = len(r0)
        T = self.candidates[None, :, None]  # (1, C, 1)
        r_f, v_f = self._targets(m)
        g = self.g[None, None, :]
        zem = r_f[:, None, :] - (r0[:, None, :] + v0[:, None, :] * T + 0.5 * g * T**2)  # (m, C, 3)
        zev = v_f[:, None, :] - (v0[:, None, :] + g * T)
        a0 = 6.0 * zem / T**2 - 2.0 * zev / T
        aT = 4.0 * zev / T - 6.0 * zem / T**2
        s = np.linspace(0.0, 1.0, SIMPSON_POINTS)[None, None, :, None]  # (1, 1, Q, 1)
        a = a0[:, :, None, :] + (aT - a0)[:, :, None, :] * s  # (m, C, Q, 3)
        magnitude = np.linalg.norm(a, axis=3)  # (m, C, Q)
        a_min = (self.lander.min_axial_thrust_n / mass)[:, None, None]
        a_max = (self.accel_margin * self.lander.max_axial_thrust_n / mass)[:, None]
        cost = self.candidates[None, :] * (np.maximum(magnitude, a_min) @ _simpson_weights(SIMPSON_POINTS))

        tau = s[..., 0] * T  # (1, C, Q)
        height = (r0[:, None, None, 2] + v0[:, None, None, 2] * tau + 0.5 * (-self.gravity + a0[:, :, None, 2]) * tau**2
                  + (aT - a0)[:, :, None, 2] * tau**3 / (6.0 * T))
        peak = magnitude.max(axis=2)
        feasible = ((peak <= a_max)
                    & np.all(a[..., 2] >= magnitude * np.cos(self.max_tilt), axis=2)
                    & np.all(height >= self.touchdown_height, axis=2))
        best_feasible = np.argmin(np.where(feasible, cost, np.inf), axis=1)
        # With no feasible candidate, take the one that asks least beyond the thrust available.
        least_violating = np.argmin(peak / a_max, axis=1)
        choice = np.where(feasible.any(axis=1), best_feasible, least_violating)
        return self.candidates[choice]

    # ------------------------------------------------------------------ control
    def thrust_vector(self, obs: np.ndarray) -> np.ndarray:
        """Commanded thrust (n, 3) in newtons, ENU (updates the plan of landers that need one)."""
        n = obs.shape[0]
        if self.final_time.shape[0] != n:
            self.reset(n)
        r = obs[:, SLICES["position"]].astype(np.float64)
        v = obs[:, SLICES["velocity"]].astype(np.float64)
        t = obs[:, SLICES["time"]][:, 0].astype(np.float64)
        mass = current_mass(self.lander, obs)
        # A clock that ran backwards means a new episode the caller did not announce.
        self.needs_plan |= t < self.last_time
        self.last_time = t.copy()
        if self.needs_plan.any():
            index = np.flatnonzero(self.needs_plan)
            self.final_time[index] = t[index] + self.plan_final_time(r[index], v[index], mass[index])
            self.needs_plan[index] = False

        t_go = self.final_time - t
        height = obs[:, SLICES["altitude"]][:, 0].astype(np.float64) - self.touchdown_height
        terminal = (t_go <= 0.0) | (height <= self.gate_height)

        r_f, v_f = self._targets(n)
        tg = np.maximum(t_go, self.t_go_floor)[:, None]
        zem = r_f - (r + v * tg + 0.5 * self.g * tg**2)
        zev = v_f - (v + self.g * tg)
        accel = 6.0 * zem / tg**2 - 2.0 * zev / tg

        v_ref = np.zeros((n, 3))
        v_ref[:, 2] = -self.touchdown_speed
        terminal_accel = np.empty((n, 3))
        terminal_accel[:, :2] = (v_ref[:, :2] - v[:, :2]) / self.tau_terminal_h
        terminal_accel[:, 2] = (v_ref[:, 2] - v[:, 2]) / self.tau_terminal
        terminal_accel[:, 2] += self.gravity
        accel = np.where(terminal[:, None], terminal_accel, accel)

        # Thrust must point up, within max_tilt of vertical: shorten its horizontal part.
        accel[:, 2] = np.maximum(accel[:, 2], 0.05 * self.gravity)
        horizontal = np.linalg.norm(accel[:, :2], axis=1)
        shrink = np.minimum(1.0, accel[:, 2] * np.tan(self.max_tilt) / np.maximum(horizontal, 1e-9))
        accel[:, :2] *= shrink[:, None]
        return bound_thrust(self.lander, accel * mass[:, None])

    def act(self, obs: np.ndarray) -> np.ndarray:
        return self.to_action(obs, self.thrust_vector(obs))
