"""Propulsion and rigid-body integration of one lander over one physics substep.

Within a substep the engine throttles, the reaction-control torque and the mass flow are held
constant (zero-order hold). Translation uses the exact rocket-equation velocity change for a
constant force and mass flow, ``dv = F / mdot * ln(m0 / m1)``, so a full burn matches the
rocket equation to rounding; rotation integrates attitude and body rates together with
classical Runge-Kutta (RK4), which keeps the torque-free angular momentum to about 1e-9 per
second at the default 40 Hz.
"""

import numpy as np
from numba import njit

from lunar_env.physics.quaternion import body_z_axis, from_axis_angle, normalized, quat_multiply, rotate
from lunar_env.physics.state import (
    CMD_DIR_X,
    CMD_DIR_Y,
    CMD_DIR_Z,
    CMD_TX,
    CMD_TY,
    CMD_TZ,
    HEALTH,
    MASS,
    PX,
    PY,
    PZ,
    QW,
    QX,
    QY,
    QZ,
    THROTTLE,
    THROTTLE_CMD,
    TIME,
    VX,
    VY,
    VZ,
    WX,
    WY,
    WZ,
)


@njit(cache=True, inline="always")
def update_throttles(x, lander, i, blend):
    """First-order lag of each engine's throttle toward its command, solved exactly over a substep."""
    for e in range(lander.engine_max_thrust.shape[0]):
        x[i, THROTTLE + e] += (x[i, THROTTLE_CMD + e] - x[i, THROTTLE + e]) * blend


@njit(cache=True, inline="always")
def engine_forces(x, lander, i, with_torque):
    """Body-frame force (N) and torque (N m) of the engines and RCS, and the mass flow (kg/s)."""
    fx = fy = fz = 0.0
    tx = ty = tz = 0.0
    mdot = 0.0
    for e in range(lander.engine_max_thrust.shape[0]):
        thrust = x[i, THROTTLE + e] * x[i, HEALTH + e] * lander.engine_max_thrust[e]
        dx = lander.engine_direction[e, 0] * thrust
        dy = lander.engine_direction[e, 1] * thrust
        dz = lander.engine_direction[e, 2] * thrust
        fx += dx
        fy += dy
        fz += dz
        if with_torque:
            px = lander.engine_position[e, 0]
            py = lander.engine_position[e, 1]
            pz = lander.engine_position[e, 2]
            tx += py * dz - pz * dy
            ty += pz * dx - px * dz
            tz += px * dy - py * dx
        mdot += thrust * lander.engine_flow_per_thrust[e]
    if with_torque:
        cx = x[i, CMD_TX]
        cy = x[i, CMD_TY]
        cz = x[i, CMD_TZ]
        tx += cx
        ty += cy
        tz += cz
        mdot += (abs(cx) + abs(cy) + abs(cz)) * lander.rcs_flow_per_torque
    return fx, fy, fz, tx, ty, tz, mdot


@njit(cache=True, inline="always")
def _rotation_derivative(q0, q1, q2, q3, wx, wy, wz, tx, ty, tz, ix, iy, iz):
    """Time derivatives of attitude (q' = q * (0, w) / 2) and body rates (Euler's equations)."""
    d0, d1, d2, d3 = quat_multiply(q0, q1, q2, q3, 0.0, wx, wy, wz)
    ax = (tx - (iz - iy) * wy * wz) / ix
    ay = (ty - (ix - iz) * wz * wx) / iy
    az = (tz - (iy - ix) * wx * wy) / iz
    return 0.5 * d0, 0.5 * d1, 0.5 * d2, 0.5 * d3, ax, ay, az


@njit(cache=True, inline="always")
def integrate_rotation(x, i, tx, ty, tz, ix, iy, iz, dt):
    """RK4 step of attitude and body rates under a constant body torque; renormalises q."""
    q0, q1, q2, q3 = x[i, QW], x[i, QX], x[i, QY], x[i, QZ]
    wx, wy, wz = x[i, WX], x[i, WY], x[i, WZ]
    h = 0.5 * dt
    k1 = _rotation_derivative(q0, q1, q2, q3, wx, wy, wz, tx, ty, tz, ix, iy, iz)
    k2 = _rotation_derivative(q0 + h * k1[0], q1 + h * k1[1], q2 + h * k1[2], q3 + h * k1[3],
                              wx + h * k1[4], wy + h * k1[5], wz + h * k1[6], tx, ty, tz, ix, iy, iz)
    k3 = _rotation_derivative(q0 + h * k2[0], q1 + h * k2[1], q2 + h * k2[2], q3 + h * k2[3],
                              wx + h * k2[4], wy + h * k2[5], wz + h * k2[6], tx, ty, tz, ix, iy, iz)
    k4 = _rotation_derivative(q0 + dt * k3[0], q1 + dt * k3[1], q2 + dt * k3[2], q3 + dt * k3[3],
                              wx + dt * k3[4], wy + dt * k3[5], wz + dt * k3[6], tx, ty, tz, ix, iy, iz)
    s = dt / 6.0
    n0, n1, n2, n3 = normalized(
        q0 + s * (k1[0] + 2.0 * k2[0] + 2.0 * k3[0] + k4[0]),
        q1 + s * (k1[1] + 2.0 * k2[1] + 2.0 * k3[1] + k4[1]),
        q2 + s * (k1[2] + 2.0 * k2[2] + 2.0 * k3[2] + k4[2]),
        q3 + s * (k1[3] + 2.0 * k2[3] + 2.0 * k3[3] + k4[3]),
    )
    x[i, QW] = n0
    x[i, QX] = n1
    x[i, QY] = n2
    x[i, QZ] = n3
    x[i, WX] = wx + s * (k1[4] + 2.0 * k2[4] + 2.0 * k3[4] + k4[4])
    x[i, WY] = wy + s * (k1[5] + 2.0 * k2[5] + 2.0 * k3[5] + k4[5])
    x[i, WZ] = wz + s * (k1[6] + 2.0 * k2[6] + 2.0 * k3[6] + k4[6])


@njit(cache=True, inline="always")
def slew_thrust_axis(x, lander, i, dt):
    """3-DOF attitude: turn the body +z axis toward the commanded direction at the slew-rate limit.

    The turn is about the axis perpendicular to both directions (no roll); the body rate is
    set to the turn actually made, so observations and touchdown checks see it.
    """
    q0, q1, q2, q3 = x[i, QW], x[i, QX], x[i, QY], x[i, QZ]
    zx, zy, zz = body_z_axis(q0, q1, q2, q3)
    cx = x[i, CMD_DIR_X]
    cy = x[i, CMD_DIR_Y]
    cz = x[i, CMD_DIR_Z]
    ax = zy * cz - zz * cy
    ay = zz * cx - zx * cz
    az = zx * cy - zy * cx
    sin_angle = np.sqrt(ax * ax + ay * ay + az * az)
    cos_angle = zx * cx + zy * cy + zz * cz
    angle = np.arctan2(sin_angle, cos_angle)
    if sin_angle < 1e-12:
        x[i, WX] = 0.0
        x[i, WY] = 0.0
        x[i, WZ] = 0.0
        return
    turn = min(angle, lander.max_slew_rate * dt)
    ax /= sin_angle
    ay /= sin_angle
    az /= sin_angle
    r0, r1, r2, r3 = from_axis_angle(ax, ay, az, turn)
    p0, p1, p2, p3 = quat_multiply(r0, r1, r2, r3, q0, q1, q2, q3)
    n0, n1, n2, n3 = normalized(p0, p1, p2, p3)
    x[i, QW] = n0
    x[i, QX] = n1
    x[i, QY] = n2
    x[i, QZ] = n3
    # Body-frame rate of a world-frame turn: rotate the world axis into the new body frame.
    rate = turn / dt
    bx, by, bz = rotate(n0, -n1, -n2, -n3, ax * rate, ay * rate, az * rate)
    x[i, WX] = bx
    x[i, WY] = by
    x[i, WZ] = bz


@njit(cache=True, inline="always")
def propagate_substep(x, lander, i, gravity, dt, throttle_blend, six_dof):
    """Advance lander i by one physics substep of dt seconds."""
    update_throttles(x, lander, i, throttle_blend)
    fx, fy, fz, tx, ty, tz, mdot = engine_forces(x, lander, i, six_dof)
    if not six_dof:
        # The 3-DOF model points the whole thrust along the body axis and ignores torques.
        fz = np.sqrt(fx * fx + fy * fy + fz * fz)
        fx = 0.0
        fy = 0.0

    m0 = x[i, MASS]
    propellant = m0 - lander.dry_mass
    if mdot * dt > propellant:
        # Burn what is left: the impulse of the last drops, spread over the substep.
        scale = max(0.0, propellant) / (mdot * dt)
        fx *= scale
        fy *= scale
        fz *= scale
        tx *= scale
        ty *= scale
        tz *= scale
        mdot *= scale
    m1 = m0 - mdot * dt

    # Attitude at the start of the substep points the thrust for the first half, the new one
    # for the second: a midpoint rule for the thrust direction.
    wx0, wy0, wz0 = rotate(x[i, QW], x[i, QX], x[i, QY], x[i, QZ], fx, fy, fz)
    if six_dof:
        scale_inertia = m0 / lander.dry_mass
        integrate_rotation(x, i, tx, ty, tz,
                           lander.inertia_dry[0] * scale_inertia,
                           lander.inertia_dry[1] * scale_inertia,
                           lander.inertia_dry[2] * scale_inertia, dt)
    else:
        slew_thrust_axis(x, lander, i, dt)
    wx1, wy1, wz1 = rotate(x[i, QW], x[i, QX], x[i, QY], x[i, QZ], fx, fy, fz)
    fwx = 0.5 * (wx0 + wx1)
    fwy = 0.5 * (wy0 + wy1)
    fwz = 0.5 * (wz0 + wz1)

    # Velocity change of a constant force on a linearly falling mass: F / mdot * ln(m0 / m1),
    # with ln(m0 / m1) = -ln(1 - b), b = mdot dt / m0, summed as a series while b is tiny.
    burn = mdot * dt / m0
    if burn < 1e-4:
        impulse_per_force = dt / m0 * (1.0 + burn * (0.5 + burn * (1.0 / 3.0 + burn * 0.25)))
    else:
        impulse_per_force = np.log(m0 / m1) / mdot
    dvx = fwx * impulse_per_force
    dvy = fwy * impulse_per_force
    dvz = fwz * impulse_per_force - gravity * dt

    vx, vy, vz = x[i, VX], x[i, VY], x[i, VZ]
    # Trapezoidal position update: exact for constant acceleration (free fall).
    x[i, PX] += (vx + 0.5 * dvx) * dt
    x[i, PY] += (vy + 0.5 * dvy) * dt
    x[i, PZ] += (vz + 0.5 * dvz) * dt
    x[i, VX] = vx + dvx
    x[i, VY] = vy + dvy
    x[i, VZ] = vz + dvz
    x[i, MASS] = m1
    x[i, TIME] += dt
