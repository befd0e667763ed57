"""The per-lander navigation filter: dead reckoning on the IMU, corrected by the other sensors.

The filter is an error-state, constant-gain (complementary) filter, one axis at a time. The
estimate is kept as its error from the truth, which is what the sensors' errors act on:

    attitude  q_est = q (x) [1, dtheta / 2]   dtheta: body-frame rotation vector (rad)
    velocity  v_est = v + e_v                  e_v: ENU (m/s)
    position  p_est = p + e_p                  e_p: ENU (m)
    altitude  h_est                            its own state (m), see below

Dead reckoning (every control step of duration dt, first order in the small errors)::

    dtheta += (-w x dtheta + b_g) dt + ARW sqrt(dt) n        w: true body rate, b_g: gyro bias
    dv_err  = R(q) (dtheta x dv_b + b_a dt + VRW sqrt(dt) n)  dv_b: true specific-force velocity
    e_p    += (e_v + dv_err / 2) dt ;  e_v += dv_err          change in the body frame, b_a: accel bias
    h_est  += dz_est                                        the estimated vertical displacement
    b_g, b_a += their bias random walks

so with perfect sensors the estimate equals the truth exactly, and every error traces back to a
modelled sensor error. A measurement with error z (its value minus the truth) moves the
estimate by a fixed fraction, the gain K, of the innovation: ``e <- e + K (z - e)``, which is
``est <- est + K (measured - est)``. For white measurement noise of 1-sigma s and no drift the
steady-state error is ``s * sqrt(K / (2 - K))``.

The altitude estimate (the ``altitude`` observation in sensors mode) is the height of the
centre of mass above the terrain below as the lander believes it: it follows the estimated
vertical motion, as if the ground were level, and only the laser altimeter corrects it. An
altimeter sample gives an altitude (each valid beam's range times the vertical part of the
beam, rotated by the estimated attitude: the depth of its footprint, level ground assumed;
beams averaged). The first valid sample sets the estimate (acquisition); after that a sample
whose altitude differs from the estimate by more than the gate is rejected as a sensor fault.
That is how Hakuto-R M1 was lost: a true ~3 km jump over a crater rim was rejected, and the
estimate reached 0 m while the lander was still ~5 km up. ``altimeter_reacquire_samples`` > 0
resets the estimate to the altimeter after that many rejections in a row; 0 keeps rejecting,
as Hakuto-R's filter did.

A taken altimeter sample also corrects the vertical position, as the measured altitude plus
the height of the onboard map (the terrain itself, assumed known) under the estimated
horizontal position. Position fixes (TRN) correct the horizontal position, and the vertical
one only while no altimeter sample has been taken for ``position_fix_recent_s``; they never
touch the altitude estimate, so a lander without its altimeter dead-reckons its altitude
from the hand-over value (IM-1, Resilience).
"""

import numpy as np
from numba import njit

from lunar_env.physics.quaternion import quat_multiply, rotate, rotate_inverse
from lunar_env.physics.rng import next_normal_pair
from lunar_env.physics.state import (
    ACCEL_BIAS_X,
    ALTIMETER_REJECTS,
    ALTITUDE_ACQUIRED,
    GYRO_BIAS_X,
    LAST_ALTIMETER_TIME,
    LAST_FIX_TIME,
    NAV_ALTITUDE,
    NAV_ATT_ERR_X,
    NAV_POS_ERR_X,
    NAV_VEL_ERR_X,
    NO_FIX_TIME,
    PX,
    PY,
    PZ,
    QW,
    QX,
    QY,
    QZ,
    TIME,
    VX,
    VY,
    VZ,
    WX,
    WY,
    WZ,
)


@njit(cache=True)
def reset_navigation(x, flags, rng, sensors, i, true_altitude, dt):
    """Start lander i's navigation: turn-on biases and hand-over errors, drawn from its stream.

    Returns the gyro's white rate noise (rad/s, body) for the first observation, as if over a
    step of ``dt`` s. Always eleven normal pairs.
    """
    a, b = next_normal_pair(rng, i)
    c, d = next_normal_pair(rng, i)
    e, f = next_normal_pair(rng, i)
    x[i, GYRO_BIAS_X] = sensors.gyro_bias_sigma * a
    x[i, GYRO_BIAS_X + 1] = sensors.gyro_bias_sigma * b
    x[i, GYRO_BIAS_X + 2] = sensors.gyro_bias_sigma * c
    x[i, ACCEL_BIAS_X] = sensors.accel_bias_sigma * d
    x[i, ACCEL_BIAS_X + 1] = sensors.accel_bias_sigma * e
    x[i, ACCEL_BIAS_X + 2] = sensors.accel_bias_sigma * f
    for column, sigma in ((NAV_POS_ERR_X, sensors.initial_position_sigma),
                          (NAV_VEL_ERR_X, sensors.initial_velocity_sigma),
                          (NAV_ATT_ERR_X, sensors.initial_attitude_sigma)):
        a, b = next_normal_pair(rng, i)
        c, _ = next_normal_pair(rng, i)
        x[i, column] = sigma * a
        x[i, column + 1] = sigma * b
        x[i, column + 2] = sigma * c
    # The hand-over altitude carries the hand-over height error.
    x[i, NAV_ALTITUDE] = true_altitude + x[i, NAV_POS_ERR_X + 2]
    flags[i, ALTITUDE_ACQUIRED] = 0
    flags[i, ALTIMETER_REJECTS] = 0
    x[i, LAST_FIX_TIME] = NO_FIX_TIME
    x[i, LAST_ALTIMETER_TIME] = NO_FIX_TIME
    rate_noise = sensors.gyro_noise_density / np.sqrt(dt)
    a, b = next_normal_pair(rng, i)
    c, _ = next_normal_pair(rng, i)
    return rate_noise * a, rate_noise * b, rate_noise * c


# rad: below this step angle the series of sin(a)/a and (1 - cos a)/a^2 are exact to double precision.
SMALL_ROTATION_RAD = 1e-4


@njit(cache=True, inline="always")
def rotate_against_rate(vx, vy, vz, ax, ay, az):
    """The solution of dv/dt = -w x v after one step, a = w dt (rad): v turned by -|a| about a.

    Rodrigues' formula, exact for a constant rate and norm-preserving at any rate: forward Euler
    (v - a x v) grows the error by sqrt(1 + |a|^2) per step and diverges for a spinning lander.
    """
    angle2 = ax * ax + ay * ay + az * az
    if angle2 < SMALL_ROTATION_RAD * SMALL_ROTATION_RAD:
        s = 1.0 - angle2 / 6.0
        c = 0.5 - angle2 / 24.0
        cos_angle = 1.0 - 0.5 * angle2
    else:
        angle = np.sqrt(angle2)
        s = np.sin(angle) / angle
        cos_angle = np.cos(angle)
        c = (1.0 - cos_angle) / angle2
    cx = ay * vz - az * vy
    cy = az * vx - ax * vz
    cz = ax * vy - ay * vx
    dot = ax * vx + ay * vy + az * vz
    return (vx * cos_angle - s * cx + c * dot * ax,
            vy * cos_angle - s * cy + c * dot * ay,
            vz * cos_angle - s * cz + c * dot * az)


@njit(cache=True)
def propagate_imu(x, rng, sensors, i, dvx, dvy, dvz, dz, dt):
    """Dead-reckon lander i over a control step of ``dt`` s (six normal pairs).

    (dvx, dvy, dvz) is the true specific-force velocity change in ENU (m/s: the velocity change
    with gravity taken out) and dz the true vertical displacement (m). Returns the gyro's
    white rate noise (rad/s, body) of this step, the noise on the measured body rate.
    """
    q0, q1, q2, q3 = x[i, QW], x[i, QX], x[i, QY], x[i, QZ]
    wx, wy, wz = x[i, WX], x[i, WY], x[i, WZ]
    sqrt_dt = np.sqrt(dt)
    n0, n1 = next_normal_pair(rng, i)
    n2, n3 = next_normal_pair(rng, i)
    n4, n5 = next_normal_pair(rng, i)
    n6, n7 = next_normal_pair(rng, i)
    n8, n9 = next_normal_pair(rng, i)
    n10, n11 = next_normal_pair(rng, i)

    # Gyro: the attitude error grows by the rate error and turns with the body.
    rate_noise = sensors.gyro_noise_density / sqrt_dt
    gx = rate_noise * n0
    gy = rate_noise * n1
    gz = rate_noise * n2
    tx, ty, tz = x[i, NAV_ATT_ERR_X], x[i, NAV_ATT_ERR_X + 1], x[i, NAV_ATT_ERR_X + 2]
    rx, ry, rz = rotate_against_rate(tx, ty, tz, wx * dt, wy * dt, wz * dt)
    x[i, NAV_ATT_ERR_X] = rx + (x[i, GYRO_BIAS_X] + gx) * dt
    x[i, NAV_ATT_ERR_X + 1] = ry + (x[i, GYRO_BIAS_X + 1] + gy) * dt
    x[i, NAV_ATT_ERR_X + 2] = rz + (x[i, GYRO_BIAS_X + 2] + gz) * dt

    # Accelerometer: the measured velocity change is rotated by the estimated attitude.
    bx, by, bz = rotate_inverse(q0, q1, q2, q3, dvx, dvy, dvz)
    vrw = sensors.accel_noise_density * sqrt_dt
    ex = ty * bz - tz * by + x[i, ACCEL_BIAS_X] * dt + vrw * n3
    ey = tz * bx - tx * bz + x[i, ACCEL_BIAS_X + 1] * dt + vrw * n4
    ez = tx * by - ty * bx + x[i, ACCEL_BIAS_X + 2] * dt + vrw * n5
    dx, dy, dzv = rotate(q0, q1, q2, q3, ex, ey, ez)
    step_z = (x[i, NAV_VEL_ERR_X + 2] + 0.5 * dzv) * dt
    x[i, NAV_POS_ERR_X] += (x[i, NAV_VEL_ERR_X] + 0.5 * dx) * dt
    x[i, NAV_POS_ERR_X + 1] += (x[i, NAV_VEL_ERR_X + 1] + 0.5 * dy) * dt
    x[i, NAV_POS_ERR_X + 2] += step_z
    x[i, NAV_VEL_ERR_X] += dx
    x[i, NAV_VEL_ERR_X + 1] += dy
    x[i, NAV_VEL_ERR_X + 2] += dzv
    x[i, NAV_ALTITUDE] += dz + step_z

    # In-run biases: random walks.
    gyro_walk = sensors.gyro_walk_density * sqrt_dt
    accel_walk = sensors.accel_walk_density * sqrt_dt
    x[i, GYRO_BIAS_X] += gyro_walk * n6
    x[i, GYRO_BIAS_X + 1] += gyro_walk * n7
    x[i, GYRO_BIAS_X + 2] += gyro_walk * n8
    x[i, ACCEL_BIAS_X] += accel_walk * n9
    x[i, ACCEL_BIAS_X + 1] += accel_walk * n10
    x[i, ACCEL_BIAS_X + 2] += accel_walk * n11
    return gx, gy, gz


@njit(cache=True, inline="always")
def _blend(x, i, column, gain, zx, zy, zz):
    """Move 3 error columns a fraction ``gain`` toward a measurement's error (zx, zy, zz)."""
    x[i, column] += gain * (zx - x[i, column])
    x[i, column + 1] += gain * (zy - x[i, column + 1])
    x[i, column + 2] += gain * (zz - x[i, column + 2])


@njit(cache=True)
def update_attitude(x, i, gain, zx, zy, zz):
    """Star-tracker update; (zx, zy, zz) is the measurement's own attitude error (rad, body)."""
    _blend(x, i, NAV_ATT_ERR_X, gain, zx, zy, zz)


@njit(cache=True)
def update_velocity(x, i, gain, zx, zy, zz):
    """Velocimeter update; (zx, zy, zz) is the measured minus the true velocity (m/s, ENU)."""
    _blend(x, i, NAV_VEL_ERR_X, gain, zx, zy, zz)


@njit(cache=True)
def update_position(x, i, sensors, zx, zy, zz):
    """Position-fix update; (zx, zy, zz) is the fix minus the true position (m, ENU). Records the time.

    The vertical axis takes the fix only when no altimeter sample was accepted within
    ``fix_recent`` seconds: a working altimeter knows the height far better than a fix.
    """
    gain = sensors.fix_gain
    x[i, NAV_POS_ERR_X] += gain * (zx - x[i, NAV_POS_ERR_X])
    x[i, NAV_POS_ERR_X + 1] += gain * (zy - x[i, NAV_POS_ERR_X + 1])
    if x[i, TIME] - x[i, LAST_ALTIMETER_TIME] > sensors.fix_recent:
        x[i, NAV_POS_ERR_X + 2] += gain * (zz - x[i, NAV_POS_ERR_X + 2])
    x[i, LAST_FIX_TIME] = x[i, TIME]


@njit(cache=True)
def update_altitude(x, flags, sensors, i, measured, vertical_error):
    """Altimeter update with an innovation gate; True when the sample is taken.

    ``measured`` is the altitude the sample gives (m) and ``vertical_error`` the error of the
    vertical position it implies through the onboard map (m, measured minus true). A taken
    sample moves both the altitude estimate and the vertical position; the first sample, and
    a reacquisition, set them.
    """
    set_to_measurement = flags[i, ALTITUDE_ACQUIRED] == 0
    innovation = measured - x[i, NAV_ALTITUDE]
    if not set_to_measurement and abs(innovation) > sensors.altimeter_gate:
        flags[i, ALTIMETER_REJECTS] += 1
        if sensors.altimeter_reacquire == 0 or flags[i, ALTIMETER_REJECTS] < sensors.altimeter_reacquire:
            return False
        set_to_measurement = True
    if set_to_measurement:
        x[i, NAV_ALTITUDE] = measured
        x[i, NAV_POS_ERR_X + 2] = vertical_error
    else:
        gain = sensors.altimeter_gain
        x[i, NAV_ALTITUDE] += gain * innovation
        x[i, NAV_POS_ERR_X + 2] += gain * (vertical_error - x[i, NAV_POS_ERR_X + 2])
    flags[i, ALTITUDE_ACQUIRED] = 1
    flags[i, ALTIMETER_REJECTS] = 0
    x[i, LAST_ALTIMETER_TIME] = x[i, TIME]
    return True


@njit(cache=True, inline="always")
def estimated_attitude(x, i):
    """The attitude estimate q (x) [1, dtheta / 2], normalised, scalar first."""
    q0, q1, q2, q3 = quat_multiply(x[i, QW], x[i, QX], x[i, QY], x[i, QZ], 1.0, 0.5 * x[i, NAV_ATT_ERR_X],
                                   0.5 * x[i, NAV_ATT_ERR_X + 1], 0.5 * x[i, NAV_ATT_ERR_X + 2])
    inv = 1.0 / np.sqrt(q0 * q0 + q1 * q1 + q2 * q2 + q3 * q3)
    return q0 * inv, q1 * inv, q2 * inv, q3 * inv


@njit(cache=True, inline="always")
def estimated_position(x, i):
    return x[i, PX] + x[i, NAV_POS_ERR_X], x[i, PY] + x[i, NAV_POS_ERR_X + 1], x[i, PZ] + x[i, NAV_POS_ERR_X + 2]


@njit(cache=True, inline="always")
def estimated_velocity(x, i):
    return x[i, VX] + x[i, NAV_VEL_ERR_X], x[i, VY] + x[i, NAV_VEL_ERR_X + 1], x[i, VZ] + x[i, NAV_VEL_ERR_X + 2]
