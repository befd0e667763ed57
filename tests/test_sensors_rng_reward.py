"""Observations, navigation errors, the random streams, the reward terms and the terrain queries."""

import math

import numpy as np
import pytest
from helpers import lander, scenario, set_state

from lunar_env.config import RewardSpec, SensorSpec
from lunar_env.physics import state as S
from lunar_env.physics.rng import mix64, next_normal_pair, next_uniform, stream_key
from lunar_env.reward import field_error, potential
from lunar_env.sensors import OBS_DIM, observation_slices
from lunar_env.simulator import LanderBatch
from lunar_env.terrain import plane_tile, stack_tiles
from lunar_env.terrain.heightmap import terrain_height, terrain_raycast, terrain_slope

SL = observation_slices()


def test_truth_observation_is_the_state():
    batch = LanderBatch(scenario(), 3, mode="6dof", observation_mode="truth")
    obs = batch.reset(seed=0)
    s = batch.state
    np.testing.assert_allclose(obs[:, SL["position"]], s.position, rtol=1e-6)
    np.testing.assert_allclose(obs[:, SL["velocity"]], s.velocity, rtol=1e-6)
    q = s.attitude * np.sign(s.attitude[:, :1])
    np.testing.assert_allclose(obs[:, SL["attitude"]], q, atol=1e-7)
    np.testing.assert_allclose(obs[:, SL["angular_rate"]], s.angular_rate, rtol=1e-6)
    np.testing.assert_allclose(obs[:, SL["altitude"]][:, 0], s.position[:, 2], rtol=1e-6)  # flat ground at 0
    np.testing.assert_allclose(obs[:, SL["propellant_fraction"]][:, 0], 1.0)
    # The main altimeter beam looks down the body axis: over flat ground its range is h / cos(tilt).
    cos_tilt = 1.0 - 2.0 * (s.attitude[:, 1] ** 2 + s.attitude[:, 2] ** 2)
    np.testing.assert_allclose(obs[:, SL["altimeter_range"]][:, 0], s.position[:, 2] / cos_tilt, rtol=1e-6)
    for flag in ("altimeter_valid", "velocimeter_valid", "position_fix_valid"):
        assert np.all(obs[:, SL[flag]] == 1.0)
    assert obs.shape == (3, OBS_DIM)


def test_hand_over_navigation_errors_have_the_configured_standard_deviation():
    # Position fixes, velocimeter and star tracker off: the first estimate carries the hand-over errors.
    sensors = SensorSpec(initial_position_error_m=30.0, initial_velocity_error_mps=0.2, trn_rate_hz=0.0,
                         velocimeter_rate_hz=0.0, star_tracker_rate_hz=0.0)
    n = 20_000
    noisy = LanderBatch(scenario(sensors=sensors), n, mode="3dof", observation_mode="sensors")
    obs = noisy.reset(seed=11)
    error_p = obs[:, SL["position"]][:, :2] - noisy.state.position[:, :2]  # the altimeter sets the height
    error_v = obs[:, SL["velocity"]] - noisy.state.velocity
    # The standard error of a sample standard deviation is sigma / sqrt(2n): 5 of them is a wide margin.
    for error, sigma in ((error_p, 30.0), (error_v, 0.2)):
        assert np.all(np.abs(error.std(axis=0) - sigma) < 5 * sigma / math.sqrt(2 * n))
        assert np.all(np.abs(error.mean(axis=0)) < 5 * sigma / math.sqrt(n))
    # Independent axes.
    assert abs(np.corrcoef(error_p[:, 0], error_p[:, 1])[0, 1]) < 5 / math.sqrt(n)
    # The altimeter locks on at once: altitude and height are within its noise of the truth.
    valid = obs[:, SL["altimeter_valid"]][:, 0] == 1.0
    assert valid.mean() > 0.95
    for estimate in (obs[:, SL["altitude"]][:, 0], obs[:, SL["position"]][:, 2]):
        error_h = estimate - noisy.state.position[:, 2]
        assert np.abs(error_h[valid]).max() < 6 * sensors.altimeter_noise_m  # 6 sigma: never in 20,000 draws
        assert error_h[~valid].std() > 10.0  # no lock: the hand-over height error


def test_uniform_and_normal_streams_have_the_right_moments():
    rng = np.zeros((1, 2), dtype=np.uint64)
    rng[0, 0] = stream_key(123, 0, 0)
    u = np.array([next_uniform(rng, 0) for _ in range(50_000)])
    assert 0.0 <= u.min() and u.max() < 1.0
    assert abs(u.mean() - 0.5) < 5 * math.sqrt(1 / 12 / u.size)
    assert abs(u.var() - 1 / 12) < 0.002
    z = np.array([next_normal_pair(rng, 0) for _ in range(25_000)]).ravel()
    assert abs(z.mean()) < 5 / math.sqrt(z.size)
    assert abs(z.std() - 1.0) < 5 / math.sqrt(2 * z.size)
    assert abs(np.mean(z ** 4) - 3.0) < 0.1  # Gaussian kurtosis


def test_stream_keys_differ_for_every_seed_lander_and_episode():
    keys = {int(stream_key(s, i, e)) for s in range(4) for i in range(50) for e in range(5)}
    assert len(keys) == 4 * 50 * 5
    assert int(mix64(np.uint64(0))) == 0  # the finaliser maps zero to zero: keys never start from it


def test_shaping_potential_matches_its_formula():
    spec = lander()
    reward = RewardSpec()
    batch = LanderBatch(scenario(spec, reward=reward), 1, mode="3dof", observation_mode="truth")
    batch.reset(seed=0)
    set_state(batch, position=(300.0, -400.0, 1200.0), velocity=(-5.0, 6.0, -20.0))
    r = np.array([300.0, -400.0, 1200.0 - batch.lander.touchdown_height])
    d = np.linalg.norm(r)
    speed = min(d / reward.velocity_field_time_constant_s, np.sqrt(2 * reward.velocity_field_brake_accel_mps2 * d),
                reward.velocity_field_max_speed_mps)
    field = -r / d * speed
    field[2] = min(field[2], -reward.final_descent_speed_mps)
    expected = (
        -np.linalg.norm(r) / reward.distance_scale_m
        - np.linalg.norm(np.array([-5.0, 6.0, -20.0]) - field) / reward.velocity_scale_mps
    )
    assert potential(batch.state.x, batch.lander, batch.reward, 0) == pytest.approx(expected, rel=1e-12)


def test_velocity_tracking_term_charges_the_field_error_per_second():
    spec = lander()
    plain = LanderBatch(scenario(spec, reward=RewardSpec()), 1, mode="3dof", observation_mode="truth")
    tracked = LanderBatch(
        scenario(spec, reward=RewardSpec(velocity_tracking_weight_per_s=2.0)), 1, mode="3dof", observation_mode="truth"
    )
    rewards = []
    for batch in (plain, tracked):
        batch.reset(seed=0)
        set_state(batch, position=(0.0, 0.0, 1000.0), velocity=(0.0, 0.0, -10.0))
        batch.state.x[0, S.POTENTIAL] = potential(batch.state.x, batch.lander, batch.reward, 0)
        rewards.append(batch.step(np.array([[0.0, 0.0, 0.8]], np.float32))[1][0])
    error = field_error(tracked.state.x, tracked.lander, tracked.reward, 0)[1]
    dt = tracked.scenario.control_dt_s
    assert rewards[1] - rewards[0] == pytest.approx(-2.0 * error / RewardSpec().velocity_scale_mps * dt, rel=1e-9)


def test_step_reward_telescopes_the_potential_and_charges_propellant():
    spec = lander()
    reward = RewardSpec(attitude_penalty_per_rad_s=0.0, glide_slope_penalty_per_m_s=0.0)
    batch = LanderBatch(scenario(spec, reward=reward), 1, mode="3dof", observation_mode="truth")
    batch.reset(seed=0)
    set_state(batch, position=(0.0, 0.0, 1000.0), velocity=(0.0, 0.0, -10.0))
    phi0 = potential(batch.state.x, batch.lander, batch.reward, 0)
    batch.state.x[0, S.POTENTIAL] = phi0  # the stored potential of the hand-set state
    mass0 = batch.state.mass[0]
    _, rewards, _, _ = batch.step(np.array([[0.0, 0.0, 0.8]], np.float32))
    phi1 = potential(batch.state.x, batch.lander, batch.reward, 0)
    burned = mass0 - batch.state.mass[0]
    expected = phi1 - phi0 - reward.propellant_weight * burned / spec.propellant_mass_kg
    assert rewards[0] == pytest.approx(expected, rel=1e-12)


def test_terrain_queries_on_a_tilted_plane():
    tiles = stack_tiles([plane_tile(0.2, -0.1, height_m=5.0)])
    assert terrain_height(tiles, 0, 30.0, 10.0) == pytest.approx(5.0 + 6.0 - 1.0)
    assert terrain_slope(tiles, 0, 0.0, 0.0) == pytest.approx(math.atan(math.hypot(0.2, 0.1)))
    # Slant range straight down and along a tilted beam, against the analytic plane intersection.
    assert terrain_raycast(tiles, 0, 0.0, 0.0, 105.0, 0.0, 0.0, -1.0, 1000.0) == pytest.approx(100.0, abs=1e-5)
    d = np.array([0.3, 0.2, -1.0])
    d /= np.linalg.norm(d)
    o = np.array([10.0, 20.0, 300.0])
    # Plane: z = 5 + 0.2 x - 0.1 y  ->  o_z + s d_z = 5 + 0.2 (o_x + s d_x) - 0.1 (o_y + s d_y)
    s = (5 + 0.2 * o[0] - 0.1 * o[1] - o[2]) / (d[2] - 0.2 * d[0] + 0.1 * d[1])
    assert terrain_raycast(tiles, 0, *o, *d, 1000.0) == pytest.approx(s, abs=1e-5)
    assert terrain_raycast(tiles, 0, *o, *d, s - 1.0) == -1.0  # out of range


def test_running_out_the_clock_costs_the_time_limit_penalty():
    import dataclasses

    spec = lander()
    last = []
    for penalty in (0.0, 7.0):
        sc = dataclasses.replace(scenario(spec, reward=RewardSpec(time_limit_penalty=penalty)), time_limit_s=1.0)
        batch = LanderBatch(sc, 1, mode="3dof", observation_mode="truth")
        batch.reset(seed=0)
        set_state(batch, position=(0.0, 0.0, 1000.0), velocity=(0.0, 0.0, 0.0))
        hover = np.array([[0.0, 0.0, 2.0 * batch.state.mass[0] * 1.62 / spec.max_axial_thrust_n - 1.0]], np.float32)
        for _ in range(sc.max_steps):
            _, rewards, terminated, truncated = batch.step(hover)
        assert truncated[0] and not terminated[0]
        last.append(rewards[0])
    assert last[0] - last[1] == pytest.approx(7.0, abs=1e-9)
