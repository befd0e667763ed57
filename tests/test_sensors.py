"""Sensors, the navigation filter and faults against analytic results, statistics and each other."""

import dataclasses
import math

import numpy as np
import pytest
from helpers import lander, scenario, set_state, vertical_thrust_action

from lunar_env.config import MAX_ENGINES, InitialStateSpec, Scenario, SensorSpec
from lunar_env.constants import LUNAR_GRAVITY_MPS2 as G
from lunar_env.faults import FAULT_NAMES, FaultOnset, FaultSpec, fault_bit, fault_names
from lunar_env.landers import APOLLO_LM_LIKE
from lunar_env.physics import state as S
from lunar_env.physics.quaternion import rotate
from lunar_env.scenarios import FAULT_SCENARIOS, get_scenario
from lunar_env.sensors import OBS_DIM, OBSERVATION_FIELDS, observation_slices
from lunar_env.simulator import LanderBatch
from lunar_env.terrain import Heightmap, TerrainTile, flat_tile, plane_tile

SL = observation_slices()
RANGE, ALT_VALID, VEL_VALID, FIX_VALID = 16, 17, 18, 19
ALTITUDE = SL["altitude"].start

# Every error source off: the estimate must then be the truth.
PERFECT = SensorSpec(
    gyro_bias_deg_per_h=0.0, gyro_bias_instability_deg_per_h=0.0, gyro_angle_random_walk_deg_per_sqrt_h=0.0,
    accel_bias_ug=0.0, accel_bias_instability_ug=0.0, accel_velocity_random_walk_mps_per_sqrt_h=0.0,
    star_tracker_noise_arcsec=(0.0, 0.0, 0.0), altimeter_noise_m=0.0, altimeter_dropout_probability=0.0,
    velocity_noise_mps=0.0, position_noise_m=0.0, initial_position_error_m=0.0, initial_velocity_error_mps=0.0,
    initial_attitude_error_deg=0.0,
)
# The physics columns: everything a sensor or the navigation must never change.
PHYSICS = np.r_[S.PX:S.HEALTH + MAX_ENGINES]


def quiet(**changes) -> SensorSpec:
    return dataclasses.replace(PERFECT, **changes)


def batch_of(
    n, sensors=PERFECT, faults=None, mode="3dof", observation_mode="sensors", tiles=None, spec=None, **initial
):
    init = InitialStateSpec(**initial) if initial else InitialStateSpec()
    extra = {"faults": faults} if faults is not None else {}
    return LanderBatch(scenario(spec, sensors=sensors, initial=init, **extra), n, mode=mode,
                       observation_mode=observation_mode, terrain_tiles=tiles)


def hover_actions(batch, fraction=0.95):
    """Constant actions for ``fraction`` of the hover thrust of a fully fuelled lander: 3-DOF
    thrust straight up; 6-DOF equal throttles and no torque."""
    spec = batch.scenario.lander
    thrust = fraction * spec.wet_mass_kg * G
    if batch.mode == "3dof":
        return vertical_thrust_action(batch, thrust)
    a = np.zeros((batch.num_landers, batch.act_dim), np.float32)
    a[:, : batch.num_engines] = 2.0 * thrust / spec.max_axial_thrust_n - 1.0
    return a


def fly(batch, steps, seed=0, action=None):
    """Reset with ``seed``, fly constant actions; returns (obs, x, flags) stacked over time."""
    obs = batch.reset(seed=seed)
    action = hover_actions(batch) if action is None else action
    trace_o, trace_x, trace_f = [obs.copy()], [batch.state.x.copy()], [batch.state.flags.copy()]
    for _ in range(steps):
        obs, *_ = batch.step(action)
        trace_o.append(obs.copy())
        trace_x.append(batch.state.x.copy())
        trace_f.append(batch.state.flags.copy())
    return np.stack(trace_o), np.stack(trace_x), np.stack(trace_f)


def world_beam(batch, beam=(0.0, 0.0, -1.0)):
    q = batch.state.attitude
    return np.stack(rotate(q[:, 0], q[:, 1], q[:, 2], q[:, 3], *beam), axis=1)


def plane_range(origin, direction, slope_east, slope_north, height=0.0):
    """Where the ray origin + s * direction meets z = height + se x + sn y (tile coordinates)."""
    o, d = origin, direction
    gap = height + slope_east * o[:, 0] + slope_north * o[:, 1] - o[:, 2]
    return gap / (d[:, 2] - slope_east * d[:, 0] - slope_north * d[:, 1])


# ----------------------------------------------------------------------------- layout and truth


def test_observation_layout_keeps_the_first_sixteen_fields_then_sensors_then_cues():
    names = [f[0] for f in OBSERVATION_FIELDS]
    assert names[:7] == ["position", "velocity", "attitude", "angular_rate", "altitude", "propellant_fraction", "time"]
    assert names[7:11] == ["altimeter_range", "altimeter_valid", "velocimeter_valid", "position_fix_valid"]
    assert names[11:] == ["log_altitude", "field_velocity_error"]
    assert OBS_DIM == 24
    assert [SL[n].start for n in names] == [0, 3, 6, 10, 13, 14, 15, 16, 17, 18, 19, 20, 21]


@pytest.mark.parametrize("mode", ["3dof", "6dof"])
def test_perfect_sensors_observe_exactly_what_truth_mode_does(mode):
    sensors = quiet(altimeter_rate_hz=10.0)  # sample the range every step, as truth mode reports it
    a = batch_of(6, sensors, mode=mode, tilt_deg=(0.0, 10.0))
    b = batch_of(6, sensors, mode=mode, observation_mode="truth", tilt_deg=(0.0, 10.0))
    obs_a, x_a, _ = fly(a, 60, seed=4)
    obs_b, x_b, _ = fly(b, 60, seed=4)
    np.testing.assert_array_equal(x_a[:, :, PHYSICS], x_b[:, :, PHYSICS])  # same physics in both modes
    np.testing.assert_allclose(obs_a, obs_b, rtol=2e-6, atol=2e-6)
    assert np.all(obs_a[:, :, [ALT_VALID, VEL_VALID, FIX_VALID]] == 1.0)


# ----------------------------------------------------------------------------- laser altimeter


@pytest.mark.parametrize("slopes", [(0.0, 0.0), (0.2, -0.1), (-0.35, 0.25)])
def test_altimeter_reads_the_analytic_slant_range_over_planes(slopes):
    height = 5.0
    tiles = [plane_tile(*slopes, height_m=height)]
    beams = ((0.0, 0.0, -1.0), (0.3, 0.0, -math.sqrt(1 - 0.09)))
    sensors = quiet(altimeter_beams=beams)
    # Starts at least 500 m above the steepest plane (its ground rises up to 475 m within the start region).
    batch = batch_of(300, sensors, tiles=tiles, mode="6dof", tilt_deg=(0.0, 30.0), altitude_m=(1000.0, 2500.0),
                     downrange_m=(0.0, 1000.0))
    obs = batch.reset(seed=1)
    origin = batch.state.position + np.array([0.0, 0.0, height])  # the site of plane_tile is at (0, 0, height)
    ranges = [plane_range(origin, world_beam(batch, beam), *slopes, height) for beam in beams]
    np.testing.assert_allclose(obs[:, RANGE], ranges[0], rtol=0, atol=2e-3)  # float32 of ~3 km
    assert np.all(obs[:, ALT_VALID] == 1.0)
    # The first sample sets the altitude estimate: the mean depth of the beam footprints.
    depth = np.mean([r * -world_beam(batch, beam)[:, 2] for r, beam in zip(ranges, beams)], axis=0)
    np.testing.assert_allclose(obs[:, ALTITUDE], depth, rtol=0, atol=2e-3)


def test_altimeter_returns_nothing_beyond_its_maximum_range():
    batch = batch_of(50, quiet(altimeter_max_range_m=1000.0), altitude_m=(1200.0, 2000.0), tilt_deg=(0.0, 0.0))
    obs = batch.reset(seed=2)
    assert np.all(obs[:, RANGE] == 0.0) and np.all(obs[:, ALT_VALID] == 0.0)
    # No measurement: the estimate stays the hand-over altitude, here the truth.
    np.testing.assert_allclose(obs[:, ALTITUDE], batch.state.position[:, 2], rtol=1e-6)
    assert np.all(batch.state.flags[:, S.ALTITUDE_ACQUIRED] == 0)


def test_altimeter_reading_jumps_over_a_cliff():
    # The ground rises 400 m in one metre, 200 m east of the site: the range drops as the lander crosses.
    xs = np.arange(-1000.0, 1000.5, 1.0)
    fine = Heightmap(np.tile(np.where(xs <= 200.0, 0.0, 400.0), (11, 1)), (-1000.0, -5.0), 1.0)
    coarse = Heightmap(np.zeros((2, 2)), (-10_000.0, -10_000.0), 20_000.0)
    batch = batch_of(1, quiet(altimeter_rate_hz=10.0), tiles=[TerrainTile(fine=fine, coarse=coarse)])
    batch.reset(seed=0)
    set_state(batch, position=(190.0, 0.0, 1000.0), velocity=(20.0, 0.0, 0.0))  # 2 m per step
    ranges = []
    for _ in range(10):
        obs, *_ = batch.step(hover_actions(batch, 1.0))
        ranges.append(float(obs[0, RANGE]))
    jumps = np.diff(ranges)
    assert jumps.min() == pytest.approx(-400.0, abs=5.0)  # the step that crosses the edge
    assert np.sum(np.abs(jumps) > 50.0) == 1


# ----------------------------------------------------------------------------- noise statistics


def within(sample_stat, expected, standard_error, k=5.0):
    return abs(sample_stat - expected) < k * standard_error


def test_altimeter_noise_and_dropouts_have_the_configured_statistics():
    n, sigma, dropout = 20_000, 2.0, 0.1
    batch = batch_of(n, quiet(altimeter_noise_m=sigma, altimeter_dropout_probability=dropout), tilt_deg=(0.0, 20.0))
    obs = batch.reset(seed=3)
    truth = batch.state.position[:, 2] / -world_beam(batch)[:, 2]
    kept = obs[:, ALT_VALID] == 1.0
    assert within(1.0 - kept.mean(), dropout, math.sqrt(dropout * (1 - dropout) / n))
    assert np.all(obs[~kept, RANGE] == 0.0)
    error = obs[kept, RANGE] - truth[kept]
    m = kept.sum()
    assert within(error.mean(), 0.0, sigma / math.sqrt(m))
    assert within(error.std(), sigma, sigma / math.sqrt(2 * m))


def test_turn_on_biases_star_tracker_and_position_fixes_have_the_configured_spread():
    n = 20_000
    star = (5.0, 10.0, 40.0)
    sensors = quiet(gyro_bias_deg_per_h=1.0, accel_bias_ug=200.0, star_tracker_noise_arcsec=star, star_tracker_gain=1.0,
                    position_noise_m=12.5, position_fix_gain=1.0)
    batch = batch_of(n, sensors)
    batch.reset(seed=5)
    s = batch.state
    expected = [
        (s.gyro_bias, np.full(3, math.radians(1.0) / 3600.0)),
        (s.accel_bias, np.full(3, 200.0 * 9.80665e-6)),
        (s.attitude_error, np.radians(np.array(star) / 3600.0)),  # the star tracker's own error, gain 1
        (s.position_error[:, :2], np.full(2, 12.5)),  # the TRN fix's error, gain 1 (the altimeter sets the height)
    ]
    for values, sigma in expected:
        for axis in range(values.shape[1]):
            assert within(values[:, axis].mean(), 0.0, sigma[axis] / math.sqrt(n))
            assert within(values[:, axis].std(), sigma[axis], sigma[axis] / math.sqrt(2 * n))
        assert abs(np.corrcoef(values[:, 0], values[:, 1])[0, 1]) < 5 / math.sqrt(n)


def test_velocimeter_error_is_the_beam_noise_through_the_beam_geometry():
    n, sigma = 20_000, 0.05
    sensors = quiet(velocity_noise_mps=sigma, velocimeter_gain=1.0)
    batch = batch_of(n, sensors, tilt_deg=(0.0, 0.0))  # upright, random heading
    obs = batch.reset(seed=6)
    assert np.all(obs[:, VEL_VALID] == 1.0)
    beams = np.array(sensors.velocimeter_beams)
    cov = sigma ** 2 * np.linalg.inv(beams.T @ beams)  # body frame; isotropic across x-y for three even beams
    e = batch.state.velocity_error
    var_h = cov[0, 0] + cov[1, 1]
    assert within((e[:, 0] ** 2 + e[:, 1] ** 2).mean(), var_h, var_h * math.sqrt(2 / n) * 1.5)
    assert within(e[:, 2].var(), cov[2, 2], cov[2, 2] * math.sqrt(2 / n))


@pytest.mark.parametrize("source", ["gyro", "accelerometer", "bias walks"])
def test_random_walks_grow_with_the_square_root_of_time(source):
    # Each error source alone, with nothing to correct it, on landers that do not rotate.
    n = 4000
    if source == "gyro":
        sensors = quiet(gyro_angle_random_walk_deg_per_sqrt_h=0.07, star_tracker_rate_hz=0.0)
        density = math.radians(0.07) / 60.0  # rad / sqrt(s)
    elif source == "accelerometer":
        sensors = quiet(accel_velocity_random_walk_mps_per_sqrt_h=0.03, velocimeter_rate_hz=0.0)
        density = 0.03 / 60.0  # m/s / sqrt(s)
    else:
        sensors = quiet(gyro_bias_instability_deg_per_h=0.35, accel_bias_instability_ug=50.0,
                        star_tracker_rate_hz=0.0, velocimeter_rate_hz=0.0, trn_rate_hz=0.0)
        density = math.radians(0.35) / 3600.0 / 60.0  # rad/s / sqrt(s): 0.35 deg/h after one hour
    batch = batch_of(n, sensors, mode="6dof", angular_rate_dps=0.0)
    batch.reset(seed=7)
    action = hover_actions(batch)
    measured = {}
    for t_end in (5.0, 20.0):
        while batch.state.time[0] < t_end - 1e-9:
            batch.step(action)
        if source == "gyro":
            values = batch.state.attitude_error
        elif source == "accelerometer":
            values = batch.state.velocity_error
        else:
            values = batch.state.gyro_bias
        measured[t_end] = (values ** 2).sum(axis=1).mean()  # E|e|^2 = 3 density^2 t
        expected = 3 * density ** 2 * t_end
        assert within(measured[t_end], expected, expected * math.sqrt(2 / (3 * n)))
    assert within(measured[20.0] / measured[5.0], 4.0, 4.0 * 2 * math.sqrt(2 / (3 * n)))
    if source == "bias walks":
        spread = np.sqrt((batch.state.accel_bias ** 2).sum(axis=1).mean() / 3)
        expected_accel = 50.0 * 9.80665e-6 / 60.0 * math.sqrt(20.0)
        assert within(spread, expected_accel, expected_accel / math.sqrt(2 * 3 * n))


def test_position_error_grows_from_drift_without_fixes_and_is_held_by_them():
    # No velocimeter: the hand-over velocity error (0.3 m/s per axis) drifts the position
    # estimate linearly, RMS sqrt(3) 0.3 t, until position fixes pull it back.
    sensors = SensorSpec(velocimeter_rate_hz=0.0, trn_denied=True, initial_position_error_m=0.0)

    def rms(trace, step):  # horizontal: the altimeter holds the vertical position
        e = trace[1][step, :, S.NAV_POS_ERR_X:S.NAV_POS_ERR_X + 2]
        return float(np.sqrt((e ** 2).sum(axis=1).mean()))

    denied = fly(batch_of(500, sensors), 300)
    assert rms(denied, 300) / rms(denied, 100) == pytest.approx(3.0, rel=0.1)
    assert rms(denied, 300) == pytest.approx(math.sqrt(2) * 0.3 * 30.0, rel=0.1)
    fixed = fly(batch_of(500, dataclasses.replace(sensors, trn_denied=False)), 300)
    gain = sensors.position_fix_gain
    steady = sensors.position_noise_m * math.sqrt(2 * gain / (2 - gain))  # documented steady state
    assert rms(fixed, 300) == pytest.approx(steady, rel=0.1)
    assert rms(fixed, 100) == pytest.approx(steady, rel=0.1)


# ----------------------------------------------------------------------------- determinism


def test_sensors_are_identical_for_a_seed_and_independent_of_the_batch_size():
    faults = FaultSpec(**{name: FaultOnset(0.5, "time", (0.0, 5.0)) for name in FAULT_NAMES})
    small = batch_of(3, SensorSpec(), faults=faults, mode="6dof")
    big = batch_of(40, SensorSpec(), faults=faults, mode="6dof")
    a = fly(small, 80, seed=9)
    b = fly(big, 80, seed=9)
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u, v[:, :3])
    again = fly(batch_of(3, SensorSpec(), faults=faults, mode="6dof"), 80, seed=9)
    for u, v in zip(a, again):
        np.testing.assert_array_equal(u, v)
    other = fly(batch_of(3, SensorSpec(), faults=faults, mode="6dof"), 5, seed=10)
    assert not np.array_equal(a[0][:6], other[0])


# ----------------------------------------------------------------------------- faults


def with_and_without(faults, steps, mode="3dof", sensors=None, seed=11, n=8, **initial):
    """Fly the same seed and actions with and without ``faults``; returns both traces."""
    sensors = SensorSpec() if sensors is None else sensors
    clean = batch_of(n, sensors, mode=mode, **initial)
    faulty = batch_of(n, sensors, faults=faults, mode=mode, **initial)
    action = hover_actions(clean)
    return fly(clean, steps, seed, action), fly(faulty, steps, seed, action), faulty


FAULT_X = np.r_[S.FAULT_ONSET:S.NX]  # the per-episode fault draws, which follow the FaultSpec's windows


def assert_same_except(trace_a, trace_b, obs_columns=(), x_columns=(), flag_columns=()):
    """Every observation, state and flag column equal except the ones named (and the fault draws)."""
    x_columns = np.r_[np.asarray(x_columns, dtype=int), FAULT_X]
    for a, b, allowed in zip(trace_a, trace_b, (obs_columns, x_columns, flag_columns)):
        keep = np.setdiff1d(np.arange(a.shape[2]), np.asarray(allowed, dtype=int))
        np.testing.assert_array_equal(a[:, :, keep], b[:, :, keep])


def assert_same_until(trace_a, trace_b, k):
    """The first k records of two traces equal, but for the fault draws and bitmasks."""
    assert_same_except([t[:k] for t in trace_a], [t[:k] for t in trace_b], flag_columns=FAULT_FLAGS)


FAULT_FLAGS = [S.FAULTS_ARMED, S.FAULTS_ACTIVE]
ALTIMETER_FLAGS = [S.ALTIMETER_VALID, S.ALTITUDE_ACQUIRED, S.ALTIMETER_REJECTS]
# What the altimeter feeds: the altitude estimate and the vertical position estimate.
# The guidance cues are functions of position, velocity and altitude: they change with them.
CUE_OBS = list(range(SL["log_altitude"].start, OBS_DIM))
ALTIMETER_OBS = [SL["position"].start + 2, ALTITUDE, RANGE, ALT_VALID] + CUE_OBS
ALTIMETER_X = [S.NAV_POS_ERR_X + 2, S.NAV_ALTITUDE, S.ALTIMETER_RANGE, S.LAST_ALTIMETER_TIME]


def test_dead_altimeter_changes_only_the_altimeter_and_the_altitude_estimate():
    faults = FaultSpec(altimeter_dead=FaultOnset(1.0, "time", (0.0, 0.0)))
    clean, dead, batch = with_and_without(faults, 60)
    assert_same_except(clean, dead, obs_columns=ALTIMETER_OBS, x_columns=ALTIMETER_X,
                       flag_columns=ALTIMETER_FLAGS + FAULT_FLAGS)
    obs, x, flags = dead
    assert np.all(obs[:, :, RANGE] == 0.0) and np.all(obs[:, :, ALT_VALID] == 0.0)
    assert np.all(flags[:, :, S.FAULTS_ACTIVE] == fault_bit("altimeter_dead"))
    assert np.any(clean[0][:, :, ALT_VALID] == 1.0)
    # Dead reckoning only: the estimate keeps its hand-over error (50 m class), far above the altimeter's metre.
    error = obs[:, :, ALTITUDE] - x[:, :, S.PZ]
    np.testing.assert_allclose(error[-1], error[0], atol=1.0)
    assert np.abs(error[0]).max() > 10.0
    clean_error = clean[0][-1, :, ALTITUDE] - clean[1][-1, :, S.PZ]
    assert np.abs(clean_error).max() < 5.0
    assert batch.episode_metrics(np.arange(8))["active_faults"].tolist() == [fault_bit("altimeter_dead")] * 8


def test_late_altimeter_returns_only_below_its_altitude():
    faults = FaultSpec(altimeter_late=FaultOnset(1.0, "time", (0.0, 0.0)), late_valid_altitude_m=(300.0, 300.0))
    sensors = SensorSpec(altimeter_dropout_probability=0.0)
    clean, late, _ = with_and_without(
        faults, 150, sensors=sensors, altitude_m=(330.0, 360.0), descent_rate_mps=(5.0, 6.0)
    )
    assert_same_except(
        clean, late, obs_columns=ALTIMETER_OBS, x_columns=ALTIMETER_X, flag_columns=ALTIMETER_FLAGS + FAULT_FLAGS
    )
    obs, x, _ = late
    height = x[:, :, S.PZ]  # flat ground at the site's height
    sampled = np.zeros(obs.shape[:2], bool)
    sampled[::5] = True  # 2 Hz at 10 Hz control
    assert np.all(obs[sampled & (height > 300.0), ALT_VALID] == 0.0)
    assert np.all(obs[sampled & (height <= 300.0), ALT_VALID] == 1.0)
    assert np.any(sampled & (height <= 300.0)) and np.any(sampled & (height > 300.0))


@pytest.mark.parametrize("gate, reacquire, accepted", [(100.0, 0, False), (5000.0, 0, True), (100.0, 3, True)])
def test_rim_jump_is_rejected_or_accepted_as_the_gate_decides(gate, reacquire, accepted):
    jump = 3000.0
    # 2.05 s: the onset comes at step 21, between altimeter samples (every 5 steps).
    faults = FaultSpec(altimeter_rim_jump=FaultOnset(1.0, "time", (2.05, 2.05)), rim_jump_m=(jump, jump))
    sensors = SensorSpec(
        altimeter_gate_m=gate, altimeter_reacquire_samples=reacquire, altimeter_dropout_probability=0.0
    )
    clean, rim, _ = with_and_without(faults, 100, sensors=sensors)
    assert_same_except(
        clean,
        rim,
        obs_columns=ALTIMETER_OBS[:2] + CUE_OBS,
        x_columns=ALTIMETER_X,
        flag_columns=[S.ALTIMETER_REJECTS] + FAULT_FLAGS,
    )
    obs, x, flags = rim
    onset = 21
    before = obs[onset - 1, :, ALTITUDE] - x[onset - 1, :, S.PZ]
    at = obs[onset, :, ALTITUDE] - x[onset, :, S.PZ]
    np.testing.assert_allclose(at - before, -jump, atol=1.0)  # the gap opens at once
    final = obs[-1, :, ALTITUDE] - x[-1, :, S.PZ]
    if accepted:
        assert np.all(np.abs(final) < 5.0)
    else:
        np.testing.assert_allclose(final, -jump, atol=5.0)  # Hakuto-R: estimate km below the truth
        assert np.all(flags[-1, :, S.ALTIMETER_REJECTS] >= 14)


def test_thrust_loss_scales_every_engine_from_its_onset():
    faults = FaultSpec(thrust_loss=FaultOnset(1.0, "time", (0.95, 0.95)), thrust_fraction=(0.55, 0.55))
    full = np.zeros((8, 3), np.float32)
    full[:, 2] = 1.0  # 3-DOF: the whole thrust bound, straight up
    clean = batch_of(8, SensorSpec(), mode="3dof")
    lossy = batch_of(8, SensorSpec(), faults=faults, mode="3dof")
    a, b = fly(clean, 20, 12, full), fly(lossy, 20, 12, full)
    onset = 10  # the first step ending at or after 0.95 s; its effect acts from the next step
    assert_same_until(a, b, onset)  # nothing changes before the onset
    np.testing.assert_array_equal(b[1][onset:, :, S.HEALTH : S.HEALTH + 4], 0.55)
    assert np.all(b[2][onset:, :, S.FAULTS_ACTIVE] == fault_bit("thrust_loss"))
    # The thrust bound shrinks to 55%: (dv/dt + g) m over the first step after the onset.
    x0, x_clean, x_lossy = a[1][onset], a[1][onset + 1], b[1][onset + 1]
    dt = 0.1

    def thrust(x1):
        mass = 0.5 * (x0[:, S.MASS] + x1[:, S.MASS])
        return ((x1[:, S.VZ] - x0[:, S.VZ]) / dt + G) * mass

    np.testing.assert_allclose(thrust(x_lossy) / thrust(x_clean), 0.55, rtol=2e-3)


def test_engine_out_stops_one_engine_and_pushes_the_lander_off_axis():
    faults = FaultSpec(engine_out=FaultOnset(1.0, "time", (0.95, 0.95)))
    clean, out, batch = with_and_without(faults, 20, mode="6dof", angular_rate_dps=0.0)
    onset = 10
    assert_same_until(clean, out, onset)  # nothing changes before the onset
    health = out[1][onset:, :, S.HEALTH : S.HEALTH + 4]
    engine = batch.state.flags[:, S.FAULT_ENGINE]
    assert np.all(health[:, np.arange(8), engine] == 0.0)
    assert np.all((health == 0.0).sum(axis=2) == 1)
    rate_change = np.abs(out[1][-1, :, S.WX : S.WZ + 1] - clean[1][-1, :, S.WX : S.WZ + 1]).max(axis=1)
    assert np.all(rate_change > 1e-3)  # the asymmetric thrust turns the lander


def test_engine_out_picks_each_engine_equally_often_and_needs_several_engines():
    n = 4000
    batch = batch_of(n, SensorSpec(), faults=FaultSpec(engine_out=FaultOnset(1.0, "time", (50.0, 60.0))))
    batch.reset(seed=13)
    counts = np.bincount(batch.state.flags[:, S.FAULT_ENGINE], minlength=4)
    assert np.all(np.abs(counts - n / 4) < 5 * math.sqrt(n * 0.25 * 0.75))
    with pytest.raises(ValueError, match=r"FaultSpec.engine_out needs a lander with two or more main engines"):
        batch_of(1, faults=FaultSpec(engine_out=FaultOnset(0.1)), spec=APOLLO_LM_LIKE)


def test_imu_bias_jump_steps_the_biases_and_leaves_the_physics_alone():
    faults = FaultSpec(
        imu_bias_jump=FaultOnset(1.0, "time", (0.95, 0.95)), gyro_bias_jump_deg_per_h=100.0, accel_bias_jump_ug=5000.0
    )
    clean, jump, _ = with_and_without(faults, 40, mode="6dof")
    onset = 10
    assert_same_until(clean, jump, onset)  # nothing changes before the onset
    np.testing.assert_array_equal(clean[1][:, :, PHYSICS], jump[1][:, :, PHYSICS])
    step_g = (
        jump[1][onset, :, S.GYRO_BIAS_X : S.GYRO_BIAS_X + 3] - clean[1][onset, :, S.GYRO_BIAS_X : S.GYRO_BIAS_X + 3]
    )
    step_a = (
        jump[1][onset, :, S.ACCEL_BIAS_X : S.ACCEL_BIAS_X + 3] - clean[1][onset, :, S.ACCEL_BIAS_X : S.ACCEL_BIAS_X + 3]
    )
    np.testing.assert_allclose(np.linalg.norm(step_g, axis=1), math.radians(100.0) / 3600.0, rtol=1e-9)
    np.testing.assert_allclose(np.linalg.norm(step_a, axis=1), 5000.0 * 9.80665e-6, rtol=1e-9)
    assert not np.allclose(clean[0][-1, :, SL["velocity"]], jump[0][-1, :, SL["velocity"]], rtol=0, atol=1e-6)


def test_denied_position_fixes_never_validate_and_change_only_the_position_estimate():
    fixed = fly(batch_of(8, SensorSpec()), 50, seed=11)
    denied = fly(batch_of(8, SensorSpec(trn_denied=True)), 50, seed=11)
    assert np.all(denied[0][:, :, FIX_VALID] == 0.0)
    assert np.all(fixed[0][:, :, FIX_VALID] == 1.0)
    position = np.r_[SL["position"].start : SL["position"].stop, FIX_VALID, CUE_OBS]
    assert_same_except(
        fixed, denied, obs_columns=position, x_columns=np.r_[S.NAV_POS_ERR_X : S.NAV_POS_ERR_X + 3, S.LAST_FIX_TIME]
    )
    assert not np.array_equal(fixed[0][:, :, SL["position"]], denied[0][:, :, SL["position"]])


def test_fault_probability_and_onset_window_are_drawn_per_episode():
    n, p = 8000, 0.3
    faults = FaultSpec(
        imu_bias_jump=FaultOnset(p, "time", (20.0, 40.0)), thrust_loss=FaultOnset(1.0, "altitude", (100.0, 500.0))
    )
    batch = batch_of(n, SensorSpec(), faults=faults)
    batch.reset(seed=14)
    armed = batch.state.armed_faults
    jump = (armed & fault_bit("imu_bias_jump")) != 0
    assert within(jump.mean(), p, math.sqrt(p * (1 - p) / n))
    assert np.all(armed & fault_bit("thrust_loss"))
    onset = batch.state.x[:, S.FAULT_ONSET + FAULT_NAMES.index("imu_bias_jump")]
    assert onset.min() >= 20.0 and onset.max() <= 40.0
    assert within(onset.mean(), 30.0, 20.0 / math.sqrt(12 * n))
    assert np.all(batch.state.active_faults == 0)  # nothing has started at 1.5-2.5 km and t = 0


def test_altitude_onset_starts_when_the_lander_descends_through_it():
    faults = FaultSpec(thrust_loss=FaultOnset(1.0, "altitude", (250.0, 250.0)))
    batch = batch_of(4, SensorSpec(), faults=faults, altitude_m=(300.0, 320.0), descent_rate_mps=(5.0, 5.0))
    _, x, flags = fly(batch, 150)
    active = (flags[:, :, S.FAULTS_ACTIVE] & fault_bit("thrust_loss")) != 0
    height = x[:, :, S.PZ]
    assert np.all(active == (np.minimum.accumulate(height, axis=0) <= 250.0))
    assert active[-1].all()


def test_fault_names_decode_the_bitmask():
    assert fault_names(fault_bit("engine_out") | fault_bit("altimeter_dead")) == ["altimeter_dead", "engine_out"]
    assert fault_names(0) == []
    with pytest.raises(ValueError, match=r"unknown fault 'gremlins'"):
        fault_bit("gremlins")


def test_active_faults_reach_the_vector_env_infos():
    from lunar_env.envs import SouthPoleVectorEnv

    envs = SouthPoleVectorEnv(num_envs=2, scenario="thrust_loss", mode="3dof")
    envs.reset(seed=0)
    actions = np.zeros((2, 3), np.float32)  # minimum thrust: fall through the onset altitude to the ground
    for _ in range(2000):
        _, _, terminated, truncated, infos = envs.step(actions)
        done = terminated | truncated
        if done.any():
            break
    assert done.any() and np.array_equal(infos["_active_faults"], done)
    assert np.all(infos["active_faults"][done] == fault_bit("thrust_loss"))


@pytest.mark.parametrize("name", FAULT_SCENARIOS)
def test_every_fault_scenario_builds_and_flies(name):
    batch = LanderBatch(name, 4, mode="3dof")
    obs = batch.reset(seed=0)
    assert obs.shape == (4, OBS_DIM) and np.all(np.isfinite(obs))
    obs, *_ = batch.step(np.zeros((4, 3), np.float32))
    assert np.all(np.isfinite(obs))


# ----------------------------------------------------------------------------- bad configuration


@pytest.mark.parametrize(
    "build, message",
    [
        (lambda: FaultOnset(probability=1.5), r"FaultOnset.probability must be in \[0, 1\], got 1.5"),
        (lambda: FaultOnset(kind="depth"), r"FaultOnset.kind must be one of \('time', 'altitude'\)"),
        (lambda: FaultOnset(window=(5.0, 1.0)), r"FaultOnset.window must have min <= max"),
        (lambda: FaultSpec(thrust_fraction=(0.5, 1.5)), r"FaultSpec.thrust_fraction\[1\] must be in \[0, 1\]"),
        (lambda: FaultSpec(engine_out=0.5), r"FaultSpec.engine_out must be a FaultOnset"),
        (
            lambda: SensorSpec(altimeter_beams=((0.0, 0.0, -2.0),)),
            r"SensorSpec.altimeter_beams\[0\] must be a unit vector",
        ),
        (lambda: SensorSpec(altimeter_beams=()), r"SensorSpec.altimeter_beams must hold 1 to 4 beams"),
        (lambda: SensorSpec(velocimeter_beams=((1, 0, 0), (0, 1, 0), (-1, 0, 0))), r"must span 3-D space"),
        (lambda: SensorSpec(altimeter_gain=0.0), r"SensorSpec.altimeter_gain must be in \(0, 1\]"),
        (
            lambda: SensorSpec(altimeter_reacquire_samples=2.5),
            r"SensorSpec.altimeter_reacquire_samples must be an integer",
        ),
        (lambda: SensorSpec(trn_altitude_m=(500.0, 100.0)), r"SensorSpec.trn_altitude_m must have min <= max"),
        (
            lambda: SensorSpec(star_tracker_noise_arcsec=(1.0, -1.0, 1.0)),
            r"star_tracker_noise_arcsec must be non-negative",
        ),
        (lambda: Scenario(name="x", lander=lander(), faults="none"), r"Scenario.faults must be a FaultSpec"),
    ],
)
def test_bad_sensor_and_fault_configuration_names_the_field(build, message):
    with pytest.raises(ValueError, match=message):
        build()


def test_scenarios_default_to_no_faults():
    assert not get_scenario("nominal").faults.any_possible
    assert get_scenario("altimeter_rim_jump").sensors.altimeter_reacquire_samples == 0
    assert get_scenario("shadowed_site").terrain.site_lighting == "shadowed"
    flat = LanderBatch("nominal", 2, terrain_tiles=[flat_tile()])
    flat.reset(seed=0)
    assert np.all(flat.state.armed_faults == 0)
