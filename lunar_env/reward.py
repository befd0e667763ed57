"""The reward, term by term. Weights come from RewardSpec (lunar_env/config.py).

Per control step, with r the position relative to the target site, v the velocity,
r_td = (0, 0, touchdown height) the centre of mass of a lander standing on the target:

    shaping     = Phi(s') - Phi(s)
    Phi(s)      = -w_d |r - r_td| / d_scale - w_v |v - v_ref(r)| / v_scale
    v_ref(r)    = -(r - r_td)/|r - r_td| * min(|r - r_td| / tau, sqrt(2 a_brake |r - r_td|), v_max),
                  with its vertical part at most -v_final (always sinking at least v_final);
                  the square-root term keeps the field one the lander can brake along
    tracking    = -w_track * |v - v_ref(r)| / v_scale * dt       (a dense per-step signal)
    propellant  = -w_p * (propellant burned this step) / (full propellant load)
    attitude    = -w_a * max(0, tilt - tilt_limit) * dt                 (tilt in rad)
    glide slope = -w_gs * max(0, tan(gamma) * |r_horizontal| - (r_z - r_td_z)) * dt
    terminal    = +bonus                                        on a landing on target
                  -(crash_penalty + per_mps * impact speed)     on any crash, leaving the
                                                                 region or running dry
                  -time_limit_penalty                            when the clock runs out (hovering
                                                                 until the time limit is no escape)
                  0                                              off-target landing

Phi is not zeroed at the terminal state: the shaping sums to Phi(s_T) - Phi(s_0), so ending
an episode early far from the target earns nothing (a terminal Phi of zero would pay a lander
for crashing from afar). The velocity field follows the idea of Gaudet, Linares and Furfaro
(2020): reward tracking a velocity that brings the lander to the target.
"""

import numpy as np
from numba import njit

from lunar_env.physics import outcomes
from lunar_env.physics.quaternion import tilt_angle
from lunar_env.physics.state import OUTCOME, POTENTIAL, PX, PY, PZ, QW, QX, QY, QZ, TD_IMPACT_SPEED, VX, VY, VZ


@njit(cache=True, inline="always")
def field_velocity(rx, ry, rz, reward):
    """The velocity field v_ref (m/s) at (rx, ry, rz), the offset from the touchdown point (m)."""
    distance = np.sqrt(rx * rx + ry * ry + rz * rz)
    # Reference speed toward the target: proportional to distance, but never more than the
    # lander can still brake from at the field's braking acceleration, nor more than v_max.
    speed = min(distance / reward.field_time_constant, np.sqrt(2.0 * reward.field_brake_accel * distance),
                reward.field_max_speed)
    scale = speed / max(distance, 1e-9)
    return -rx * scale, -ry * scale, min(-rz * scale, -reward.final_descent_speed)


@njit(cache=True, inline="always")
def field_error(x, lander, reward, i):
    """(distance to the touchdown point (m), |v - v_ref| (m/s)) of lander i."""
    rx = x[i, PX]
    ry = x[i, PY]
    rz = x[i, PZ] - lander.touchdown_height
    fx, fy, fz = field_velocity(rx, ry, rz, reward)
    ex = x[i, VX] - fx
    ey = x[i, VY] - fy
    ez = x[i, VZ] - fz
    return np.sqrt(rx * rx + ry * ry + rz * rz), np.sqrt(ex * ex + ey * ey + ez * ez)


@njit(cache=True, inline="always")
def potential(x, lander, reward, i):
    """Shaping potential Phi of lander i's current state (dimensionless, <= 0)."""
    distance, error = field_error(x, lander, reward, i)
    return (
        -reward.distance_weight * distance / reward.distance_scale
        - reward.velocity_weight * error / reward.velocity_scale
    )


@njit(cache=True, inline="always")
def step_reward(x, flags, lander, reward, i, propellant_burned, dt):
    """Reward of lander i's last control step; updates its stored potential."""
    phi = potential(x, lander, reward, i)
    r = phi - x[i, POTENTIAL]
    x[i, POTENTIAL] = phi
    if reward.tracking_weight > 0.0:
        r -= reward.tracking_weight * field_error(x, lander, reward, i)[1] / reward.velocity_scale * dt
    if lander.propellant_capacity > 0.0:
        r -= reward.propellant_weight * propellant_burned / lander.propellant_capacity
    tilt = tilt_angle(x[i, QW], x[i, QX], x[i, QY], x[i, QZ])
    r -= reward.attitude_penalty * max(0.0, tilt - reward.attitude_limit) * dt
    horizontal = np.sqrt(x[i, PX] ** 2 + x[i, PY] ** 2)
    height = x[i, PZ] - lander.touchdown_height
    r -= reward.glide_slope_penalty * max(0.0, reward.glide_slope_tan * horizontal - height) * dt
    outcome = flags[i, OUTCOME]
    if outcome == outcomes.LANDED:
        r += reward.success_bonus
    elif outcome == outcomes.TIME_LIMIT:
        r -= reward.time_limit_penalty
    elif outcome != outcomes.IN_FLIGHT and outcome != outcomes.LANDED_OFF_TARGET:
        r -= reward.crash_penalty + reward.crash_penalty_per_mps * x[i, TD_IMPACT_SPEED]
    return r
