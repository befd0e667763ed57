"""The physics core against analytic results: free fall, hover, the rocket equation, rotation."""

import math

import numpy as np
import pytest
from helpers import engines_off_action, lander, scenario, set_state, throttle_action, vertical_thrust_action

from lunar_env.constants import LUNAR_GRAVITY_MPS2 as G
from lunar_env.constants import STANDARD_GRAVITY_MPS2 as G0
from lunar_env.physics import outcomes
from lunar_env.physics.quaternion import rotate
from lunar_env.simulator import LanderBatch


def make_batch(mode="6dof", spec=None, n=1, **scenario_overrides):
    batch = LanderBatch(scenario(spec, **scenario_overrides), n, mode=mode, observation_mode="truth")
    batch.reset(seed=0)
    return batch


@pytest.mark.parametrize("mode", ["6dof", "3dof"])
def test_free_fall_matches_the_analytic_trajectory(mode):
    batch = make_batch(mode)
    p0 = np.array([120.0, -40.0, 3000.0])
    v0 = np.array([3.0, -2.0, 5.0])
    set_state(batch, position=p0, velocity=v0, throttle=0.0)
    mass0 = batch.state.mass[0]
    if mode == "6dof":
        action = engines_off_action(batch)
    else:  # the 3-DOF engine cannot go below minimum thrust: use a lander whose minimum is 0
        action = np.array([[0.0, 0.0, -1.0]], dtype=np.float32)
    for _ in range(300):
        batch.step(action)
    t = batch.state.time[0]
    assert t == pytest.approx(30.0)
    expected_p = p0 + v0 * t + np.array([0.0, 0.0, -0.5 * G * t * t])
    expected_v = v0 + np.array([0.0, 0.0, -G * t])
    np.testing.assert_allclose(batch.state.position[0], expected_p, rtol=0, atol=1e-9)
    np.testing.assert_allclose(batch.state.velocity[0], expected_v, rtol=0, atol=1e-10)
    assert batch.state.mass[0] == mass0


@pytest.mark.parametrize("mode", ["6dof", "3dof"])
def test_thrust_equal_to_weight_holds_altitude(mode):
    batch = make_batch(mode)
    set_state(batch, position=(0.0, 0.0, 500.0), velocity=(0.0, 0.0, 0.0))
    for _ in range(100):  # 10 s, re-trimming to the current weight each control step
        weight = batch.state.mass[0] * G
        if mode == "6dof":
            action = throttle_action(batch, weight / batch.lander.max_axial_thrust)
        else:
            action = vertical_thrust_action(batch, weight)
        batch.step(action)
    # One percent too much thrust would climb about 0.8 m in 10 s.
    assert abs(batch.state.position[0, 2] - 500.0) < 0.01
    assert abs(batch.state.velocity[0, 2]) < 2e-3
    assert batch.state.mass[0] < batch.lander.dry_mass + batch.lander.propellant_capacity


@pytest.mark.parametrize("mode", ["6dof", "3dof"])
def test_full_burn_matches_the_rocket_equation(mode):
    spec = lander()
    batch = make_batch(mode, spec)
    v0 = 2.0
    set_state(batch, position=(0.0, 0.0, 2000.0), velocity=(0.0, 0.0, v0))
    m0 = batch.state.mass[0]
    exhaust = spec.engines[0].isp_s * G0
    thrust = spec.max_axial_thrust_n
    flow = thrust / exhaust
    action = throttle_action(batch, 1.0) if mode == "6dof" else vertical_thrust_action(batch, thrust)
    for _ in range(200):  # 20 s of the 80 s burn
        batch.step(action)
    t = batch.state.time[0]
    m = batch.state.mass[0]
    assert m == pytest.approx(m0 - flow * t, rel=1e-12)
    expected_v = v0 + exhaust * math.log(m0 / m) - G * t
    assert batch.state.velocity[0, 2] == pytest.approx(expected_v, rel=1e-3)
    assert batch.state.velocity[0, 2] == pytest.approx(expected_v, rel=1e-9)  # far tighter in fact
    # Burn to depletion: the total velocity change is the rocket equation's, and the tanks end empty.
    while batch.state.outcome[0] == outcomes.IN_FLIGHT:
        batch.step(action)
    assert batch.state.outcome[0] == outcomes.PROPELLANT_EXHAUSTED
    assert batch.state.mass[0] == pytest.approx(spec.dry_mass_kg, abs=1e-9)
    t = batch.state.time[0]
    expected_v = v0 + exhaust * math.log(m0 / spec.dry_mass_kg) - G * t
    assert batch.state.velocity[0, 2] == pytest.approx(expected_v, rel=1e-3)


def angular_momentum_world(batch):
    q = batch.state.attitude[0]
    w = batch.state.angular_rate[0]
    inertia = np.array(batch.lander.inertia_dry) * batch.state.mass[0] / batch.lander.dry_mass
    return np.array(rotate(q[0], q[1], q[2], q[3], *(inertia * w)))


def test_torque_free_rotation_conserves_angular_momentum_and_quaternion_norm():
    spec = lander(inertia_dry_kgm2=(400.0, 600.0, 900.0))
    batch = make_batch("6dof", spec)
    set_state(batch, position=(0.0, 0.0, 9000.0), velocity=(0.0, 0.0, 60.0), angular_rate=(0.3, 0.05, 0.2),
              attitude=(0.9, 0.1, -0.3, 0.2), throttle=0.0)
    inertia = np.array(spec.inertia_dry_kgm2) * batch.state.mass[0] / spec.dry_mass_kg
    l0 = angular_momentum_world(batch)
    e0 = 0.5 * np.sum(inertia * batch.state.angular_rate[0] ** 2)
    action = engines_off_action(batch)
    for _ in range(600):  # 60 s: the lander tumbles through many turns
        batch.step(action)
        assert abs(np.linalg.norm(batch.state.attitude[0]) - 1.0) < 1e-12
    assert np.linalg.norm(angular_momentum_world(batch) - l0) / np.linalg.norm(l0) < 1e-6
    energy = 0.5 * np.sum(inertia * batch.state.angular_rate[0] ** 2)
    assert energy == pytest.approx(e0, rel=1e-6)
    # It did rotate: the body rates changed direction (intermediate-axis motion).
    assert not np.allclose(batch.state.angular_rate[0], (0.3, 0.05, 0.2), atol=1e-2)


def test_reaction_control_torque_gives_the_expected_angular_acceleration():
    spec = lander()
    batch = make_batch("6dof", spec)
    set_state(batch, position=(0.0, 0.0, 3000.0), throttle=0.0)
    action = engines_off_action(batch)
    action[0, batch.num_engines + 0] = 0.5  # half the maximum torque about body x
    batch.step(action)
    inertia_x = spec.inertia_dry_kgm2[0] * batch.state.mass[0] / spec.dry_mass_kg
    expected = 0.5 * spec.rcs_max_torque_nm[0] / inertia_x * 0.1
    assert batch.state.angular_rate[0, 0] == pytest.approx(expected, rel=1e-3)
    assert abs(batch.state.angular_rate[0, 1]) < 1e-9
    # Reaction control burns propellant too.
    assert batch.state.mass[0] < spec.wet_mass_kg


def test_engine_out_produces_the_moment_of_the_remaining_engines():
    spec = lander()
    batch = make_batch("6dof", spec)
    set_state(batch, position=(0.0, 0.0, 3000.0), throttle=1.0)
    batch.state.engine_health[0, 0] = 0.0  # engine 0 sits at +x on the ring
    batch.step(throttle_action(batch, 1.0))
    # The three working engines leave a torque equal and opposite to engine 0's: about +y.
    e0 = spec.engines[0]
    torque_y = e0.position_m[0] * e0.max_thrust_n  # -(x * F) of engine 0, reversed
    inertia_y = spec.inertia_dry_kgm2[1] * batch.state.mass[0] / spec.dry_mass_kg
    rate_y = batch.state.angular_rate[0, 1]
    assert rate_y == pytest.approx(torque_y / inertia_y * 0.1, rel=0.02)
    assert abs(batch.state.angular_rate[0, 0]) < 1e-6


def test_throttle_lag_follows_a_first_order_response():
    spec = lander(throttle_time_constant_s=0.5)
    batch = make_batch("6dof", spec)
    set_state(batch, position=(0.0, 0.0, 3000.0), throttle=0.0)
    batch.step(throttle_action(batch, 1.0))
    expected = 1.0 - math.exp(-0.1 / 0.5)
    np.testing.assert_allclose(batch.state.throttle[0, : batch.num_engines], expected, rtol=1e-12)


def test_three_dof_thrust_axis_slews_at_the_rate_limit():
    spec = lander(max_slew_rate_dps=10.0)
    batch = make_batch("3dof", spec)
    set_state(batch, position=(0.0, 0.0, 3000.0))
    tilt = math.radians(30.0)
    thrust = np.array([math.sin(tilt), 0.0, math.cos(tilt)]) * 0.6  # fraction of T_max, ENU
    action = np.array([[thrust[0], thrust[1], 2.0 * thrust[2] - 1.0]], dtype=np.float32)
    batch.step(action)
    q = batch.state.attitude[0]
    axis = rotate(q[0], q[1], q[2], q[3], 0.0, 0.0, 1.0)
    assert math.degrees(math.acos(axis[2])) == pytest.approx(1.0, rel=1e-6)  # 10 deg/s for 0.1 s
    for _ in range(40):
        batch.step(action)
    q = batch.state.attitude[0]
    axis = rotate(q[0], q[1], q[2], q[3], 0.0, 0.0, 1.0)
    np.testing.assert_allclose(axis, [math.sin(tilt), 0.0, math.cos(tilt)], atol=1e-9)


def test_three_dof_thrust_magnitude_is_bounded_by_the_engines():
    spec = lander(min_throttle=0.4)
    batch = make_batch("3dof", spec, n=2)
    set_state(batch, 0, position=(0.0, 0.0, 3000.0))
    set_state(batch, 1, position=(0.0, 0.0, 3000.0))
    mass = batch.state.mass.copy()
    v_before = batch.state.velocity[:, 2].copy()
    batch.step(np.array([[0.0, 0.0, -1.0 + 1e-4], [0.0, 0.0, 1.0]], dtype=np.float32))
    dv = batch.state.velocity[:, 2] - v_before
    # Mean acceleration over the step: thrust/m - g (mass change is tiny over 0.1 s).
    accel = dv / 0.1 + G
    assert accel[0] == pytest.approx(spec.min_axial_thrust_n / mass[0], rel=1e-3)
    assert accel[1] == pytest.approx(spec.max_axial_thrust_n / mass[1], rel=1e-3)


def test_inertia_scales_with_mass():
    spec = lander()
    batch = make_batch("6dof", spec, n=2)
    light, heavy = spec.dry_mass_kg + 20.0, spec.wet_mass_kg
    for i, mass in enumerate((light, heavy)):
        set_state(batch, i, position=(0.0, 0.0, 3000.0), mass=mass, throttle=0.0)
    action = engines_off_action(batch)
    action[:, batch.num_engines + 2] = 1.0
    batch.step(action)
    ratio = batch.state.angular_rate[0, 2] / batch.state.angular_rate[1, 2]
    assert ratio == pytest.approx(heavy / light, rel=1e-3)


def test_reaction_control_needs_propellant():
    spec = lander()
    batch = make_batch("6dof", spec)
    set_state(batch, position=(0.0, 0.0, 3000.0), mass=spec.dry_mass_kg, throttle=0.0)
    action = engines_off_action(batch)
    action[:, batch.num_engines + 2] = 1.0
    batch.step(action)
    assert batch.state.angular_rate[0, 2] == 0.0
