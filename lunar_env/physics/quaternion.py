"""Scalar-first unit quaternions [w, x, y, z] rotating body-frame vectors into the ENU frame."""

import numpy as np
from numba import njit


@njit(cache=True, inline="always")
def quat_multiply(a0, a1, a2, a3, b0, b1, b2, b3):
    """Hamilton product a * b, component-wise (no array allocation)."""
    return (
        a0 * b0 - a1 * b1 - a2 * b2 - a3 * b3,
        a0 * b1 + a1 * b0 + a2 * b3 - a3 * b2,
        a0 * b2 - a1 * b3 + a2 * b0 + a3 * b1,
        a0 * b3 + a1 * b2 - a2 * b1 + a3 * b0,
    )


@njit(cache=True, inline="always")
def rotate(q0, q1, q2, q3, vx, vy, vz):
    """Rotate body vector v into the world frame: q v q*."""
    # t = 2 q_vec x v ; v' = v + q0 t + q_vec x t
    tx = 2.0 * (q2 * vz - q3 * vy)
    ty = 2.0 * (q3 * vx - q1 * vz)
    tz = 2.0 * (q1 * vy - q2 * vx)
    return (
        vx + q0 * tx + q2 * tz - q3 * ty,
        vy + q0 * ty + q3 * tx - q1 * tz,
        vz + q0 * tz + q1 * ty - q2 * tx,
    )


@njit(cache=True, inline="always")
def rotate_inverse(q0, q1, q2, q3, vx, vy, vz):
    """Rotate world vector v into the body frame: q* v q."""
    return rotate(q0, -q1, -q2, -q3, vx, vy, vz)


@njit(cache=True, inline="always")
def body_z_axis(q0, q1, q2, q3):
    """The body +z axis expressed in the world frame (the third column of the rotation matrix)."""
    return (2.0 * (q1 * q3 + q0 * q2), 2.0 * (q2 * q3 - q0 * q1), 1.0 - 2.0 * (q1 * q1 + q2 * q2))


@njit(cache=True, inline="always")
def tilt_angle(q0, q1, q2, q3):
    """Angle (rad) between the body +z axis and the local vertical."""
    c = 1.0 - 2.0 * (q1 * q1 + q2 * q2)
    return np.arccos(min(1.0, max(-1.0, c)))


@njit(cache=True, inline="always")
def from_axis_angle(ax, ay, az, angle):
    """Unit quaternion of a rotation by ``angle`` (rad) about the unit axis (ax, ay, az)."""
    s = np.sin(0.5 * angle)
    return np.cos(0.5 * angle), ax * s, ay * s, az * s


@njit(cache=True, inline="always")
def normalized(q0, q1, q2, q3):
    inv = 1.0 / np.sqrt(q0 * q0 + q1 * q1 + q2 * q2 + q3 * q3)
    return q0 * inv, q1 * inv, q2 * inv, q3 * inv
