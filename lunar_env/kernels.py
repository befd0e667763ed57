"""The two compiled batch kernels: reset some landers, and step all of them one control step.

One step: actions -> engine commands -> substeps of propulsion and rigid-body motion -> contact
and touchdown -> end-of-step checks -> reward -> fault onsets -> sensors and navigation (or the
true state) -> observation.

Each is one call over the whole batch with ``prange`` over landers; all state lives in the
preallocated arrays of :class:`~lunar_env.physics.state.BatchState` (``x``, ``flags``,
``rng``), so a step allocates nothing. A lander's computation reads only its own rows and
its own random stream, which is why results do not depend on the batch size or the number
of threads.
"""

import numpy as np
from numba import njit, prange

from lunar_env.faults import draw_faults, start_faults
from lunar_env.navigation import propagate_imu, reset_navigation
from lunar_env.numerics import clip_observation, end_numerically, observation_is_finite, state_is_finite
from lunar_env.physics import outcomes
from lunar_env.physics.dynamics import propagate_substep
from lunar_env.physics.params import MODE_6DOF
from lunar_env.physics.quaternion import body_z_axis, from_axis_angle, quat_multiply
from lunar_env.physics.rng import next_uniform, next_uniform_in, stream_key
from lunar_env.physics.state import (
    CMD_DIR_X,
    CMD_DIR_Y,
    CMD_DIR_Z,
    CMD_TX,
    EPISODE,
    HEALTH,
    MASS,
    OUTCOME,
    POTENTIAL,
    PROPELLANT_START,
    PX,
    PY,
    PZ,
    QW,
    QX,
    QY,
    QZ,
    RNG_COUNTER,
    RNG_KEY,
    SITE_X,
    STEPS,
    THROTTLE,
    THROTTLE_CMD,
    TILE,
    TIME,
    TOUCHDOWN_COLUMNS,
    VX,
    VY,
    VZ,
    WX,
)
from lunar_env.physics.touchdown import (
    classify_touchdown,
    contact_possible,
    ground_height,
    legs_in_contact,
    record_airborne_end,
)
from lunar_env.reward import potential, step_reward
from lunar_env.sensors import (
    sample_sensors,
    true_altitude,
    write_guidance_cues,
    write_navigation_observation,
    write_true_observation,
)


@njit(cache=True)
def _sample_initial_state(x, flags, rng, lander, sim, init, sites, i):
    k = min(int(next_uniform(rng, i) * sites.shape[0]), sites.shape[0] - 1)
    flags[i, TILE] = k
    for axis in range(3):
        x[i, SITE_X + axis] = sites[k, axis]

    azimuth = next_uniform_in(rng, i, init.azimuth_min, init.azimuth_max)
    # Azimuth is clockwise from North: the unit vector of flight is (sin az, cos az).
    ux, uy = np.sin(azimuth), np.cos(azimuth)
    rx, ry = uy, -ux  # to the right of the track
    downrange = next_uniform_in(rng, i, init.downrange_min, init.downrange_max)
    crossrange = next_uniform_in(rng, i, init.crossrange_min, init.crossrange_max)
    altitude = next_uniform_in(rng, i, init.altitude_min, init.altitude_max)
    along_speed = next_uniform_in(rng, i, init.approach_speed_min, init.approach_speed_max)
    cross_speed = next_uniform_in(rng, i, init.crossrange_speed_min, init.crossrange_speed_max)
    sink = next_uniform_in(rng, i, init.descent_rate_min, init.descent_rate_max)
    x[i, PX] = -downrange * ux + crossrange * rx
    x[i, PY] = -downrange * uy + crossrange * ry
    x[i, PZ] = altitude
    x[i, VX] = along_speed * ux + cross_speed * rx
    x[i, VY] = along_speed * uy + cross_speed * ry
    x[i, VZ] = -sink

    # Attitude: a random heading, then a tilt about a random horizontal axis.
    yaw = next_uniform_in(rng, i, 0.0, 2.0 * np.pi)
    tilt_axis = next_uniform_in(rng, i, 0.0, 2.0 * np.pi)
    tilt = next_uniform_in(rng, i, init.tilt_min, init.tilt_max)
    y0, y1, y2, y3 = from_axis_angle(0.0, 0.0, 1.0, yaw)
    t0, t1, t2, t3 = from_axis_angle(np.cos(tilt_axis), np.sin(tilt_axis), 0.0, tilt)
    q0, q1, q2, q3 = quat_multiply(t0, t1, t2, t3, y0, y1, y2, y3)
    x[i, QW] = q0
    x[i, QX] = q1
    x[i, QY] = q2
    x[i, QZ] = q3
    for axis in range(3):
        x[i, WX + axis] = next_uniform_in(rng, i, -init.angular_rate, init.angular_rate)

    fraction = next_uniform_in(rng, i, init.propellant_fraction_min, init.propellant_fraction_max)
    x[i, MASS] = lander.dry_mass + fraction * lander.propellant_capacity
    x[i, PROPELLANT_START] = fraction * lander.propellant_capacity

    # The descent engines are lit at hand-over, throttled to about hover.
    hover = x[i, MASS] * sim.gravity / lander.max_axial_thrust
    for e in range(lander.engine_max_thrust.shape[0]):
        u = min(1.0, max(lander.engine_min_throttle[e], hover))
        x[i, THROTTLE + e] = u
        x[i, THROTTLE_CMD + e] = u
        x[i, HEALTH + e] = 1.0
    zx, zy, zz = body_z_axis(q0, q1, q2, q3)
    x[i, CMD_DIR_X] = zx
    x[i, CMD_DIR_Y] = zy
    x[i, CMD_DIR_Z] = zz
    for axis in range(3):
        x[i, CMD_TX + axis] = 0.0


@njit(cache=True)
def reset_one(seed, index_offset, x, flags, rng, lander, sim, init, sensors, faults, reward, terrain, sites, obs, i):
    """Start lander i's next episode; its random stream is keyed by (seed, global index, episode count).

    Draw order: initial state, faults, then (sensors mode) the navigation hand-over and the
    first sensor samples, so the physics of an episode is the same in both observation modes.
    """
    rng[i, RNG_KEY] = stream_key(seed, index_offset + i, flags[i, EPISODE])
    rng[i, RNG_COUNTER] = np.uint64(0)
    flags[i, EPISODE] += 1
    _sample_initial_state(x, flags, rng, lander, sim, init, sites, i)
    x[i, TIME] = 0.0
    flags[i, STEPS] = 0
    flags[i, OUTCOME] = outcomes.IN_FLIGHT
    for column in TOUCHDOWN_COLUMNS:
        x[i, column] = 0.0
    draw_faults(x, flags, rng, lander, faults, i)
    altitude = true_altitude(x, flags, terrain, i)
    x[i, POTENTIAL] = potential(x, lander, reward, i)
    if sim.truth_observations:
        start_faults(x, flags, lander, faults, i, altitude)
        write_true_observation(obs, x, flags, lander, sensors, terrain, i, altitude)
    else:
        gx, gy, gz = reset_navigation(x, flags, rng, sensors, i, altitude, sim.control_dt)
        start_faults(x, flags, lander, faults, i, altitude)
        sample_sensors(x, flags, rng, sensors, terrain, i, altitude)
        write_navigation_observation(obs, x, flags, lander, sensors, i, gx, gy, gz)
    write_guidance_cues(obs, lander, reward, i)
    finite = state_is_finite(x, i) and observation_is_finite(obs, i)
    clip_observation(obs, i)
    return finite


@njit(cache=True, parallel=True)
def reset_kernel(
    mask, seed, index_offset, x, flags, rng, lander, sim, init, sensors, faults, reward, terrain, sites, obs
):
    """Start a new episode for every lander i with mask[i] and write its first observation.

    Returns how many of them started from a non-finite state (a spec the physics cannot carry).
    """
    non_finite = 0
    for i in prange(mask.shape[0]):
        if mask[i]:
            if not reset_one(
                seed, index_offset, x, flags, rng, lander, sim, init, sensors, faults, reward, terrain, sites, obs, i
            ):
                non_finite += 1
    return non_finite


@njit(cache=True, inline="always")
def apply_action(actions, x, lander, sim, i):
    """Map lander i's action in [-1, 1] (clipped) to engine and attitude commands.

    6-DOF: one throttle per main engine, -1 -> minimum throttle, +1 -> full; then three
    reaction-control torques as fractions of the maximum about body x, y, z.
    3-DOF: the thrust vector in ENU as fractions of the maximum axial thrust T_max:
    (a_east, a_north, (a_up + 1) / 2) * T_max; its magnitude is held between the engines'
    minimum and maximum, its direction is where the thrust axis slews to.
    """
    num_engines = lander.engine_max_thrust.shape[0]
    if sim.mode == MODE_6DOF:
        for e in range(num_engines):
            a = min(1.0, max(-1.0, actions[i, e]))
            low = lander.engine_min_throttle[e]
            x[i, THROTTLE_CMD + e] = low + (1.0 - low) * 0.5 * (a + 1.0)
        for axis in range(3):
            a = min(1.0, max(-1.0, actions[i, num_engines + axis]))
            x[i, CMD_TX + axis] = a * lander.rcs_max_torque[axis]
    else:
        tx = min(1.0, max(-1.0, actions[i, 0])) * lander.max_axial_thrust
        ty = min(1.0, max(-1.0, actions[i, 1])) * lander.max_axial_thrust
        # Up is mapped from [-1, 1] to [0, 1] of the maximum: the thrust never points below the
        # horizon, and a zero action asks for half the maximum (about hover), which is where a
        # freshly initialised policy starts.
        tz = (min(1.0, max(-1.0, actions[i, 2])) + 1.0) * 0.5 * lander.max_axial_thrust
        magnitude = np.sqrt(tx * tx + ty * ty + tz * tz)
        if magnitude > 1e-9:
            x[i, CMD_DIR_X] = tx / magnitude
            x[i, CMD_DIR_Y] = ty / magnitude
            x[i, CMD_DIR_Z] = tz / magnitude
        magnitude = min(lander.max_axial_thrust, max(lander.min_axial_thrust, magnitude))
        u = magnitude / lander.max_axial_thrust
        for e in range(num_engines):
            x[i, THROTTLE_CMD + e] = max(u, lander.engine_min_throttle[e])


@njit(cache=True, inline="always")
def _end_of_step_checks(x, flags, lander, sim, terrain, i):
    """Outcome of a lander still in the air after its substeps: dry tanks, bounds, time."""
    px, py, pz = x[i, PX], x[i, PY], x[i, PZ]
    if x[i, MASS] <= lander.dry_mass:
        height = max(0.0, pz - ground_height(terrain, x, flags, i, px, py) - lander.touchdown_height)
        vz = x[i, VZ]
        # Without thrust the sink rate at the ground is fixed by energy: crash is certain
        # when it exceeds the limit; otherwise let the lander fall and touch down.
        if np.sqrt(vz * vz + 2.0 * sim.gravity * height) > lander.max_vertical_speed:
            record_airborne_end(x, flags, lander, terrain, i, sim.gravity)
            return outcomes.PROPELLANT_EXHAUSTED
    if np.sqrt(px * px + py * py) > sim.max_horizontal_distance or pz > sim.max_altitude:
        record_airborne_end(x, flags, lander, terrain, i, sim.gravity)
        return outcomes.OUT_OF_BOUNDS
    if flags[i, STEPS] >= sim.max_steps:
        record_airborne_end(x, flags, lander, terrain, i, sim.gravity)
        return outcomes.TIME_LIMIT
    return outcomes.IN_FLIGHT


@njit(cache=True)
def step_one(
    actions, x, flags, rng, lander, sim, sensors, faults, reward, terrain, obs, rewards, terminated, truncated, i
):
    """Advance lander i by one control step; a lander whose episode ended is left as it is."""
    if flags[i, OUTCOME] != outcomes.IN_FLIGHT:
        rewards[i] = 0.0
        return
    six_dof = sim.mode == MODE_6DOF
    dt = sim.control_dt / sim.substeps
    apply_action(actions, x, lander, sim, i)
    mass_before = x[i, MASS]
    # Kept for the IMU: what the step changed is what the accelerometer integrates.
    vx0, vy0, vz0, pz0, t0 = x[i, VX], x[i, VY], x[i, VZ], x[i, PZ], x[i, TIME]
    check_contact = contact_possible(x, flags, lander, terrain, i, sim.gravity, sim.control_dt)
    for _ in range(sim.substeps):
        propagate_substep(x, lander, i, sim.gravity, dt, sim.throttle_blend, six_dof)
        if check_contact and legs_in_contact(x, flags, lander, terrain, i):
            flags[i, OUTCOME] = classify_touchdown(
                x, flags, lander, terrain, i, sim.gravity, sim.target_radius, six_dof
            )
            break
    flags[i, STEPS] += 1
    if flags[i, OUTCOME] == outcomes.IN_FLIGHT:
        flags[i, OUTCOME] = _end_of_step_checks(x, flags, lander, sim, terrain, i)
    rewards[i] = step_reward(x, flags, lander, reward, i, mass_before - x[i, MASS], sim.control_dt)
    altitude = true_altitude(x, flags, terrain, i)
    start_faults(x, flags, lander, faults, i, altitude)
    if sim.truth_observations:
        write_true_observation(obs, x, flags, lander, sensors, terrain, i, altitude)
    else:
        elapsed = x[i, TIME] - t0
        gx, gy, gz = propagate_imu(
            x,
            rng,
            sensors,
            i,
            x[i, VX] - vx0,
            x[i, VY] - vy0,
            x[i, VZ] - vz0 + sim.gravity * elapsed,
            x[i, PZ] - pz0,
            elapsed,
        )
        sample_sensors(x, flags, rng, sensors, terrain, i, altitude)
        write_navigation_observation(obs, x, flags, lander, sensors, i, gx, gy, gz)
    write_guidance_cues(obs, lander, reward, i)
    if not (state_is_finite(x, i) and observation_is_finite(obs, i) and np.isfinite(rewards[i])):
        end_numerically(x, flags, obs, rewards, reward, i)
    clip_observation(obs, i)
    outcome = flags[i, OUTCOME]
    terminated[i] = outcome != outcomes.IN_FLIGHT and outcome != outcomes.TIME_LIMIT
    truncated[i] = outcome == outcomes.TIME_LIMIT


@njit(cache=True, parallel=True)
def step_kernel(
    actions, x, flags, rng, lander, sim, sensors, faults, reward, terrain, obs, rewards, terminated, truncated
):
    """Advance every lander still in flight by one control step."""
    for i in prange(actions.shape[0]):
        step_one(
            actions,
            x,
            flags,
            rng,
            lander,
            sim,
            sensors,
            faults,
            reward,
            terrain,
            obs,
            rewards,
            terminated,
            truncated,
            i,
        )
