"""Compiled closed-loop prediction of the ZEM/ZEV law, used to choose its coast and final times.

For each lander and each candidate plan (coast for ``coast`` seconds at minimum thrust
against the velocity, then ZEM/ZEV with a final time ``duration`` seconds later) it flies the
law on a point mass with the law's own limits and returns the propellant burned and how far
from the gate the flight ends. Scalar loops in numba: no temporaries, one lander per thread.
"""

import numpy as np
from numba import njit, prange


@njit(cache=True, inline="always")
def limit_accel(ax, ay, az, a_min, a_max, tan_tilt, min_up):
    """Thrust acceleration pointing up within the tilt limit, magnitude within [a_min, a_max]."""
    az = max(az, min_up)
    horizontal = np.sqrt(ax * ax + ay * ay)
    if horizontal > az * tan_tilt:
        shrink = az * tan_tilt / horizontal
        ax *= shrink
        ay *= shrink
    magnitude = np.sqrt(ax * ax + ay * ay + az * az)
    bounded = min(max(magnitude, a_min), a_max)
    scale = bounded / max(magnitude, 1e-12)
    return ax * scale, ay * scale, az * scale


@njit(cache=True, inline="always")
def zem_zev_accel(rx, ry, rz, vx, vy, vz, t_go, gate_z, gate_vz, gravity):
    """a = 6 ZEM / t_go^2 - 2 ZEV / t_go toward the gate (0, 0, gate_z) moving at (0, 0, gate_vz)."""
    t2 = t_go * t_go
    zem_x = -(rx + vx * t_go)
    zem_y = -(ry + vy * t_go)
    zem_z = gate_z - (rz + vz * t_go - 0.5 * gravity * t2)
    zev_x = -vx
    zev_y = -vy
    zev_z = gate_vz - (vz - gravity * t_go)
    return (6.0 * zem_x / t2 - 2.0 * zev_x / t_go, 6.0 * zem_y / t2 - 2.0 * zev_y / t_go,
            6.0 * zem_z / t2 - 2.0 * zev_z / t_go)


@njit(cache=True)
def _predict_one(r0, v0, mass0, coast, duration, step, gate_z, gate_vz, gravity, t_go_floor, min_thrust, max_thrust,
                 flow_per_thrust, tan_tilt, min_up):
    rx, ry, rz = r0[0], r0[1], r0[2]
    vx, vy, vz = v0[0], v0[1], v0[2]
    mass = mass0
    lowest = rz
    final = coast + duration
    t = 0.0
    while t < final - 1e-9:
        dt = min(step, final - t)
        a_min = min_thrust / mass
        a_max = max_thrust / mass
        if t < coast:
            speed = np.sqrt(vx * vx + vy * vy + vz * vz)
            ax, ay, az = -vx / max(speed, 1e-9), -vy / max(speed, 1e-9), -vz / max(speed, 1e-9)
            ax, ay, az = limit_accel(ax * a_min, ay * a_min, az * a_min, a_min, a_min, tan_tilt, min_up)
        else:
            t_go = max(final - t, t_go_floor)
            ax, ay, az = zem_zev_accel(rx, ry, rz, vx, vy, vz, t_go, gate_z, gate_vz, gravity)
            ax, ay, az = limit_accel(ax, ay, az, a_min, a_max, tan_tilt, min_up)
        mass -= np.sqrt(ax * ax + ay * ay + az * az) * mass * flow_per_thrust * dt
        vx += ax * dt
        vy += ay * dt
        vz += (az - gravity) * dt
        rx += vx * dt
        ry += vy * dt
        rz += vz * dt
        lowest = min(lowest, rz)
        t += dt
    miss = np.sqrt(rx * rx + ry * ry + (rz - gate_z) ** 2)
    speed_error = np.sqrt(vx * vx + vy * vy + (vz - gate_vz) ** 2)
    return mass0 - mass, miss, speed_error, lowest


@njit(cache=True, parallel=True)
def predict_plans(r0, v0, mass0, coasts, durations, step, gate_z, gate_vz, gravity, t_go_floor, min_thrust,
                  max_thrust, flow_per_thrust, tan_tilt, min_up, burned, miss, speed_error, lowest):
    """Fill (m, K) arrays burned (kg), miss (m), speed_error (m/s), lowest (m) for every plan."""
    for i in prange(r0.shape[0]):
        for k in range(coasts.shape[1]):
            b, d, e, low = _predict_one(r0[i], v0[i], mass0[i], coasts[i, k], durations[i, k], step, gate_z, gate_vz,
                                        gravity, t_go_floor, min_thrust, max_thrust, flow_per_thrust, tan_tilt, min_up)
            burned[i, k] = b
            miss[i, k] = d
            speed_error[i, k] = e
            lowest[i, k] = low
