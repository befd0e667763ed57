"""Contact of the landing legs with the terrain and the verdict on a touchdown.

The episode ends at the first substep in which a foot reaches the surface. The touchdown is
judged against the lander's limits in a fixed order (vertical speed, horizontal speed, tilt,
angular rate, local slope, tip-over, distance from the target) and the first violated limit
names the crash cause.

Tip-over is a simplified energy criterion, documented in docs/physics.md: after touchdown the
lander pivots about the edge of its support polygon (the feet, seen from above) in the
direction of its horizontal motion and down the slope; it tips when the centre of mass is
already beyond that edge on the slope, or when the kinetic energy of the pivoting motion
exceeds the work to lift the centre of mass over the edge.
"""

import numpy as np
from numba import njit

from lunar_env.physics import outcomes
from lunar_env.physics.quaternion import rotate, tilt_angle
from lunar_env.physics.state import (
    MASS,
    PX,
    PY,
    PZ,
    QW,
    QX,
    QY,
    QZ,
    SITE_X,
    SITE_Y,
    SITE_Z,
    TD_ANGULAR_RATE,
    TD_HORIZONTAL_SPEED,
    TD_IMPACT_SPEED,
    TD_MISS_DISTANCE,
    TD_SLOPE,
    TD_TILT,
    TD_VERTICAL_SPEED,
    TILE,
    VX,
    VY,
    VZ,
    WX,
    WY,
    WZ,
)
from lunar_env.terrain.heightmap import terrain_gradient, terrain_height

CONTACT_CHECK_MARGIN_M = 20.0  # skip per-foot checks while this far above the reach of the legs


@njit(cache=True, inline="always")
def ground_height(terrain, x, flags, i, east, north):
    """Terrain height (m) at local (east, north) of lander i, relative to its target site."""
    return terrain_height(terrain, flags[i, TILE], east + x[i, SITE_X], north + x[i, SITE_Y]) - x[i, SITE_Z]


@njit(cache=True, inline="always")
def ground_gradient(terrain, x, flags, i, east, north):
    """Terrain gradient (dz/dx, dz/dy) at local (east, north) of lander i."""
    return terrain_gradient(terrain, flags[i, TILE], east + x[i, SITE_X], north + x[i, SITE_Y])


@njit(cache=True, inline="always")
def contact_possible(x, flags, lander, terrain, i, gravity, duration):
    """False when lander i cannot reach the ground within ``duration`` seconds.

    Thrust only slows a fall, so the drop is at most |v_z| t + g t^2 / 2; horizontal travel
    can meet terrain rising at up to 45 degrees. Skipping the per-substep foot checks high up
    saves most of the terrain lookups of a step.
    """
    px, py, pz = x[i, PX], x[i, PY], x[i, PZ]
    clearance = pz - ground_height(terrain, x, flags, i, px, py) - lander.leg_reach - CONTACT_CHECK_MARGIN_M
    vh = np.sqrt(x[i, VX] * x[i, VX] + x[i, VY] * x[i, VY])
    reach = (max(0.0, -x[i, VZ]) + vh) * duration + 0.5 * gravity * duration * duration
    return clearance <= reach


@njit(cache=True, inline="always")
def legs_in_contact(x, flags, lander, terrain, i):
    """True when any foot of lander i is at or below the terrain surface."""
    px, py, pz = x[i, PX], x[i, PY], x[i, PZ]
    below = ground_height(terrain, x, flags, i, px, py)
    if pz - below > lander.leg_reach + CONTACT_CHECK_MARGIN_M:
        return False
    if pz <= below:  # the body itself on the ground
        return True
    q0, q1, q2, q3 = x[i, QW], x[i, QX], x[i, QY], x[i, QZ]
    for f in range(lander.feet.shape[0]):
        fx, fy, fz = rotate(q0, q1, q2, q3, lander.feet[f, 0], lander.feet[f, 1], lander.feet[f, 2])
        if pz + fz <= ground_height(terrain, x, flags, i, px + fx, py + fy):
            return True
    return False


@njit(cache=True)
def _edge_distance(feet, yaw_cos, yaw_sin, ux, uy):
    """Distance from the body axis to the support-polygon edge along horizontal direction u.

    Feet are ordered by angle around the body axis; the lander is taken as settled upright on
    the surface, its heading given by the yaw cosine and sine.
    """
    best = np.inf
    n = feet.shape[0]
    for f in range(n):
        g = (f + 1) % n
        ax = yaw_cos * feet[f, 0] - yaw_sin * feet[f, 1]
        ay = yaw_sin * feet[f, 0] + yaw_cos * feet[f, 1]
        bx = yaw_cos * feet[g, 0] - yaw_sin * feet[g, 1]
        by = yaw_sin * feet[g, 0] + yaw_cos * feet[g, 1]
        # Solve t u = a + s (b - a) for t > 0, 0 <= s <= 1.
        ex = bx - ax
        ey = by - ay
        det = ux * (-ey) - uy * (-ex)
        if abs(det) < 1e-12:
            continue
        t = (ax * (-ey) - ay * (-ex)) / det
        s = (ux * ay - uy * ax) / det
        if t > 0.0 and -1e-9 <= s <= 1.0 + 1e-9 and t < best:
            best = t
    return best


@njit(cache=True)
def tips_over(x, lander, i, gravity, gx, gy):
    """Whether lander i tips over after touching down on a surface of gradient (gx, gy)."""
    q0, q1, q2, q3 = x[i, QW], x[i, QX], x[i, QY], x[i, QZ]
    # Heading of the body x axis projected on the horizontal plane.
    hx, hy, _ = rotate(q0, q1, q2, q3, 1.0, 0.0, 0.0)
    norm = np.sqrt(hx * hx + hy * hy)
    yaw_cos, yaw_sin = (hx / norm, hy / norm) if norm > 1e-9 else (1.0, 0.0)
    height = lander.touchdown_height
    mass = x[i, MASS]
    # Moment of inertia about a horizontal axis through the centre of mass: the mean of the
    # transverse moments, scaled with mass like the kernels do.
    inertia_cm = 0.5 * (lander.inertia_dry[0] + lander.inertia_dry[1]) * mass / lander.dry_mass
    vx, vy = x[i, VX], x[i, VY]
    speed = np.sqrt(vx * vx + vy * vy)
    grad = np.sqrt(gx * gx + gy * gy)
    for case in range(2):
        if case == 0:
            if speed < 1e-9:
                continue
            ux, uy, v = vx / speed, vy / speed, speed
        else:
            if grad < 1e-12:
                continue
            ux, uy = -gx / grad, -gy / grad
            v = max(0.0, vx * ux + vy * uy)
        edge = _edge_distance(lander.feet, yaw_cos, yaw_sin, ux, uy)
        if not np.isfinite(edge):
            continue
        # Slope of the ground falling along u (positive downhill).
        fall = np.arctan(-(gx * ux + gy * uy))
        static_margin = np.arctan2(edge, height) - fall  # rotation needed to bring the CM over the edge
        if static_margin <= 0.0:
            return True
        lever = np.sqrt(edge * edge + height * height)
        # Impulsive pivot about the edge: angular momentum m v h is kept, so the pivoting
        # kinetic energy is (m v h)^2 / (2 I_edge).
        inertia_edge = inertia_cm + mass * lever * lever
        kinetic = (mass * v * height) ** 2 / (2.0 * inertia_edge)
        barrier = mass * gravity * lever * (1.0 - np.cos(static_margin))
        if kinetic > barrier:
            return True
    return False


@njit(cache=True)
def classify_touchdown(x, flags, lander, terrain, i, gravity, target_radius, six_dof):
    """Record the touchdown metrics of lander i and return its outcome code.

    The angular-rate limit applies to the 6-DOF model only: in the 3-DOF model the body rate
    is the slew of a commanded thrust direction, not a rotation of a rigid body.
    """
    vx, vy, vz = x[i, VX], x[i, VY], x[i, VZ]
    px, py = x[i, PX], x[i, PY]
    sink = max(0.0, -vz)
    horizontal = np.sqrt(vx * vx + vy * vy)
    tilt = tilt_angle(x[i, QW], x[i, QX], x[i, QY], x[i, QZ])
    wx, wy, wz = x[i, WX], x[i, WY], x[i, WZ]
    rate = np.sqrt(wx * wx + wy * wy + wz * wz)
    gx, gy = ground_gradient(terrain, x, flags, i, px, py)
    slope = np.arctan(np.sqrt(gx * gx + gy * gy))
    miss = np.sqrt(px * px + py * py)
    x[i, TD_VERTICAL_SPEED] = sink
    x[i, TD_HORIZONTAL_SPEED] = horizontal
    x[i, TD_TILT] = tilt
    x[i, TD_ANGULAR_RATE] = rate
    x[i, TD_SLOPE] = slope
    x[i, TD_MISS_DISTANCE] = miss
    x[i, TD_IMPACT_SPEED] = np.sqrt(horizontal * horizontal + vz * vz)
    if sink > lander.max_vertical_speed:
        return outcomes.CRASH_VERTICAL_SPEED
    if horizontal > lander.max_horizontal_speed:
        return outcomes.CRASH_HORIZONTAL_SPEED
    if tilt > lander.max_tilt:
        return outcomes.CRASH_TILT
    if six_dof and rate > lander.max_angular_rate:
        return outcomes.CRASH_ANGULAR_RATE
    if slope > lander.max_slope:
        return outcomes.CRASH_SLOPE
    if tips_over(x, lander, i, gravity, gx, gy):
        return outcomes.TIPPED_OVER
    if miss > target_radius:
        return outcomes.LANDED_OFF_TARGET
    return outcomes.LANDED


@njit(cache=True)
def record_airborne_end(x, flags, lander, terrain, i, gravity):
    """Metrics for an episode that ends in the air: speeds now, and the predicted impact speed."""
    vx, vy, vz = x[i, VX], x[i, VY], x[i, VZ]
    px, py, pz = x[i, PX], x[i, PY], x[i, PZ]
    height = max(0.0, pz - ground_height(terrain, x, flags, i, px, py) - lander.touchdown_height)
    horizontal = np.sqrt(vx * vx + vy * vy)
    x[i, TD_VERTICAL_SPEED] = max(0.0, -vz)
    x[i, TD_HORIZONTAL_SPEED] = horizontal
    x[i, TD_TILT] = tilt_angle(x[i, QW], x[i, QX], x[i, QY], x[i, QZ])
    wx, wy, wz = x[i, WX], x[i, WY], x[i, WZ]
    x[i, TD_ANGULAR_RATE] = np.sqrt(wx * wx + wy * wy + wz * wz)
    x[i, TD_SLOPE] = np.nan
    x[i, TD_MISS_DISTANCE] = np.sqrt(px * px + py * py)
    # Falling freely from here: v^2 = v0^2 + 2 g h.
    x[i, TD_IMPACT_SPEED] = np.sqrt(horizontal * horizontal + vz * vz + 2.0 * gravity * height)
