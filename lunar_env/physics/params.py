"""Configuration turned into plain arrays and scalars, the form the compiled kernels take.

Params are immutable and separate from state: these tuples are built once per environment.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from lunar_env.config import LanderSpec, RewardSpec, Scenario, SensorSpec
from lunar_env.constants import LUNAR_GRAVITY_MPS2, MICRO_G_MPS2, STANDARD_GRAVITY_MPS2
from lunar_env.faults import ONSET_ALTITUDE, ONSET_TIME, FaultSpec, accel_jump_mps2, gyro_jump_rad_s

MODE_6DOF = 0
MODE_3DOF = 1


class LanderParams(NamedTuple):
    dry_mass: float  # kg
    propellant_capacity: float  # kg, the full load of the spec
    inertia_dry: np.ndarray  # (3,) kg m^2 principal moments at dry mass
    engine_position: np.ndarray  # (E, 3) m, body frame relative to the centre of mass
    engine_direction: np.ndarray  # (E, 3) unit force direction, body frame
    engine_max_thrust: np.ndarray  # (E,) N
    engine_min_throttle: np.ndarray  # (E,)
    engine_exhaust_speed: np.ndarray  # (E,) m/s, Isp * g0
    engine_flow_per_thrust: np.ndarray  # (E,) kg/s per N: 1 / (Isp * g0)
    max_axial_thrust: float  # N, all engines at full throttle along body +z
    min_axial_thrust: float  # N, all engines at minimum throttle
    throttle_time_constant: float  # s
    rcs_max_torque: np.ndarray  # (3,) N m
    rcs_flow_per_torque: float  # kg/s per N m: 1 / (lever arm * Isp * g0)
    feet: np.ndarray  # (L, 3) m, body frame, ordered by angle around the body axis
    touchdown_height: float  # m, height of the centre of mass above flat ground when upright
    leg_reach: float  # m, largest distance of a foot from the centre of mass
    max_slew_rate: float  # rad/s, 3-DOF thrust pointing
    max_vertical_speed: float  # m/s
    max_horizontal_speed: float  # m/s
    max_tilt: float  # rad
    max_angular_rate: float  # rad/s
    max_slope: float  # rad


class SimParams(NamedTuple):
    mode: int  # MODE_6DOF or MODE_3DOF
    gravity: float  # m/s^2, downward
    g0: float  # m/s^2
    control_dt: float  # s
    substeps: int
    throttle_blend: float  # fraction of the throttle error closed per substep: 1 - exp(-dt / tau)
    max_steps: int
    target_radius: float  # m
    max_horizontal_distance: float  # m
    max_altitude: float  # m
    truth_observations: bool


class InitialParams(NamedTuple):
    """Uniform ranges of the initial state, flattened to scalars (parallel kernels take no nested tuples)."""

    altitude_min: float  # m
    altitude_max: float
    downrange_min: float  # m
    downrange_max: float
    crossrange_min: float  # m
    crossrange_max: float
    azimuth_min: float  # rad, clockwise from North
    azimuth_max: float
    approach_speed_min: float  # m/s
    approach_speed_max: float
    crossrange_speed_min: float  # m/s
    crossrange_speed_max: float
    descent_rate_min: float  # m/s
    descent_rate_max: float
    tilt_min: float  # rad
    tilt_max: float
    angular_rate: float  # rad/s, per-axis bound
    propellant_fraction_min: float
    propellant_fraction_max: float


class SensorParams(NamedTuple):
    """Sensor models and navigation filter (from SensorSpec); periods are in control steps, 0 = off."""

    gyro_bias_sigma: float  # rad/s, turn-on bias per axis
    gyro_walk_density: float  # rad/s per sqrt(s): bias random walk
    gyro_noise_density: float  # rad per sqrt(s): angle random walk
    accel_bias_sigma: float  # m/s^2
    accel_walk_density: float  # m/s^2 per sqrt(s)
    accel_noise_density: float  # m/s per sqrt(s): velocity random walk
    star_period: int
    star_sigma: np.ndarray  # (3,) rad about body x, y, z
    star_gain: float
    altimeter_period: int
    altimeter_beams: np.ndarray  # (B, 3) body-frame unit vectors, row 0 the main beam
    altimeter_max_range: float  # m
    altimeter_sigma: float  # m
    altimeter_dropout: float  # probability per beam and sample
    altimeter_gain: float
    altimeter_gate: float  # m
    altimeter_reacquire: int  # rejected samples in a row before a reset to the altimeter, 0 = never
    velocimeter_period: int
    velocimeter_beams: np.ndarray  # (V, 3) body-frame unit vectors
    velocimeter_solve: np.ndarray  # (3, V) least-squares map from beam velocities to body velocity
    velocimeter_max_range: float  # m
    velocimeter_sigma: float  # m/s per beam
    velocimeter_gain: float
    fix_period: int
    fix_sigma: float  # m per axis
    fix_min_altitude: float  # m
    fix_max_altitude: float  # m
    fix_denied: bool
    fix_gain: float
    fix_recent: float  # s
    initial_position_sigma: float  # m per axis
    initial_velocity_sigma: float  # m/s per axis
    initial_attitude_sigma: float  # rad per axis


class FaultParams(NamedTuple):
    """Fault probabilities, onsets and sizes (from FaultSpec), in lunar_env.faults.FAULT_NAMES order."""

    probability: np.ndarray  # (NUM_FAULTS,)
    onset_kind: np.ndarray  # (NUM_FAULTS,) int64: faults.ONSET_TIME or ONSET_ALTITUDE
    onset_low: np.ndarray  # (NUM_FAULTS,) s or m
    onset_high: np.ndarray  # (NUM_FAULTS,)
    rim_jump_low: float  # m
    rim_jump_high: float
    late_low: float  # m
    late_high: float
    thrust_fraction_low: float
    thrust_fraction_high: float
    gyro_jump: float  # rad/s
    accel_jump: float  # m/s^2


class RewardParams(NamedTuple):
    distance_weight: float
    distance_scale: float  # m
    velocity_weight: float
    velocity_scale: float  # m/s
    field_time_constant: float  # s
    field_max_speed: float  # m/s
    field_brake_accel: float  # m/s^2
    tracking_weight: float  # per s
    final_descent_speed: float  # m/s
    propellant_weight: float
    attitude_limit: float  # rad
    attitude_penalty: float  # per rad per s
    glide_slope_tan: float
    glide_slope_penalty: float  # per m per s
    success_bonus: float
    crash_penalty: float
    crash_penalty_per_mps: float
    time_limit_penalty: float


def _feet_by_angle(feet: tuple) -> np.ndarray:
    arr = np.array(feet, dtype=np.float64)
    order = np.argsort(np.arctan2(arr[:, 1], arr[:, 0]))
    return np.ascontiguousarray(arr[order])


def lander_params(spec: LanderSpec) -> LanderParams:
    engines = spec.engines
    feet = _feet_by_angle(spec.leg_feet_m)
    return LanderParams(
        dry_mass=float(spec.dry_mass_kg),
        propellant_capacity=float(spec.propellant_mass_kg),
        inertia_dry=np.array(spec.inertia_dry_kgm2, dtype=np.float64),
        engine_position=np.array([e.position_m for e in engines], dtype=np.float64),
        engine_direction=np.array([e.direction for e in engines], dtype=np.float64),
        engine_max_thrust=np.array([e.max_thrust_n for e in engines], dtype=np.float64),
        engine_min_throttle=np.array([e.min_throttle for e in engines], dtype=np.float64),
        engine_exhaust_speed=np.array([e.isp_s * STANDARD_GRAVITY_MPS2 for e in engines], dtype=np.float64),
        engine_flow_per_thrust=np.array([1.0 / (e.isp_s * STANDARD_GRAVITY_MPS2) for e in engines], dtype=np.float64),
        max_axial_thrust=float(spec.max_axial_thrust_n),
        min_axial_thrust=float(spec.min_axial_thrust_n),
        throttle_time_constant=float(spec.throttle_time_constant_s),
        rcs_max_torque=np.array(spec.rcs_max_torque_nm, dtype=np.float64),
        rcs_flow_per_torque=1.0 / (spec.rcs_lever_arm_m * spec.rcs_isp_s * STANDARD_GRAVITY_MPS2),
        feet=feet,
        touchdown_height=float(-feet[:, 2].max()),
        leg_reach=float(np.linalg.norm(feet, axis=1).max()),
        max_slew_rate=math.radians(spec.max_slew_rate_dps),
        max_vertical_speed=float(spec.max_vertical_speed_mps),
        max_horizontal_speed=float(spec.max_horizontal_speed_mps),
        max_tilt=math.radians(spec.max_tilt_deg),
        max_angular_rate=math.radians(spec.max_angular_rate_dps),
        max_slope=math.radians(spec.max_slope_deg),
    )


def _throttle_blend(dt: float, tau: float) -> float:
    """The first-order lag solved exactly over one substep."""
    return 1.0 if tau <= 0.0 else 1.0 - math.exp(-dt / tau)


def sim_params(scenario: Scenario, mode: int, truth_observations: bool) -> SimParams:
    return SimParams(
        mode=int(mode),
        gravity=LUNAR_GRAVITY_MPS2,
        g0=STANDARD_GRAVITY_MPS2,
        control_dt=scenario.control_dt_s,
        substeps=int(scenario.physics_substeps),
        throttle_blend=_throttle_blend(scenario.physics_dt_s, scenario.lander.throttle_time_constant_s),
        max_steps=scenario.max_steps,
        target_radius=float(scenario.target_radius_m),
        max_horizontal_distance=float(scenario.max_horizontal_distance_m),
        max_altitude=float(scenario.max_altitude_m),
        truth_observations=bool(truth_observations),
    )


def initial_params(scenario: Scenario) -> InitialParams:
    s = scenario.initial
    rad = math.radians
    return InitialParams(
        *s.altitude_m, *s.downrange_m, *s.crossrange_m,
        rad(s.approach_azimuth_deg[0]), rad(s.approach_azimuth_deg[1]),
        *s.approach_speed_mps, *s.crossrange_speed_mps, *s.descent_rate_mps,
        rad(s.tilt_deg[0]), rad(s.tilt_deg[1]),
        rad(s.angular_rate_dps),
        *s.propellant_fraction,
    )


SECONDS_PER_HOUR = 3600.0
ARCSEC_RAD = math.pi / (180.0 * 3600.0)  # one arcsecond in radians


def sample_period(rate_hz: float, control_rate_hz: float) -> int:
    """Control steps between samples of a sensor of ``rate_hz`` (0 = off; at least one step)."""
    if rate_hz <= 0.0:
        return 0
    return max(1, int(round(control_rate_hz / rate_hz)))


def sensor_params(spec: SensorSpec, control_rate_hz: float) -> SensorParams:
    """Sensor params for a control loop running at ``control_rate_hz``.

    The in-run bias figure is read as the spread a bias random walk reaches after one hour,
    so its density is ``in_run / sqrt(3600 s)``.
    """
    deg_per_h = math.radians(1.0) / SECONDS_PER_HOUR  # rad/s
    per_sqrt_h = 1.0 / math.sqrt(SECONDS_PER_HOUR)
    micro_g = MICRO_G_MPS2
    velocimeter = np.array(spec.velocimeter_beams, dtype=np.float64)
    return SensorParams(
        gyro_bias_sigma=spec.gyro_bias_deg_per_h * deg_per_h,
        gyro_walk_density=spec.gyro_bias_instability_deg_per_h * deg_per_h * per_sqrt_h,
        gyro_noise_density=math.radians(spec.gyro_angle_random_walk_deg_per_sqrt_h) * per_sqrt_h,
        accel_bias_sigma=spec.accel_bias_ug * micro_g,
        accel_walk_density=spec.accel_bias_instability_ug * micro_g * per_sqrt_h,
        accel_noise_density=spec.accel_velocity_random_walk_mps_per_sqrt_h * per_sqrt_h,
        star_period=sample_period(spec.star_tracker_rate_hz, control_rate_hz),
        star_sigma=np.array(spec.star_tracker_noise_arcsec, dtype=np.float64) * ARCSEC_RAD,
        star_gain=float(spec.star_tracker_gain),
        altimeter_period=sample_period(spec.altimeter_rate_hz, control_rate_hz),
        altimeter_beams=np.array(spec.altimeter_beams, dtype=np.float64),
        altimeter_max_range=float(spec.altimeter_max_range_m),
        altimeter_sigma=float(spec.altimeter_noise_m),
        altimeter_dropout=float(spec.altimeter_dropout_probability),
        altimeter_gain=float(spec.altimeter_gain),
        altimeter_gate=float(spec.altimeter_gate_m),
        altimeter_reacquire=int(spec.altimeter_reacquire_samples),
        velocimeter_period=sample_period(spec.velocimeter_rate_hz, control_rate_hz),
        velocimeter_beams=velocimeter,
        velocimeter_solve=np.ascontiguousarray(np.linalg.pinv(velocimeter)),
        velocimeter_max_range=float(spec.velocimeter_max_range_m),
        velocimeter_sigma=float(spec.velocity_noise_mps),
        velocimeter_gain=float(spec.velocimeter_gain),
        fix_period=sample_period(spec.trn_rate_hz, control_rate_hz),
        fix_sigma=float(spec.position_noise_m),
        fix_min_altitude=float(spec.trn_altitude_m[0]),
        fix_max_altitude=float(spec.trn_altitude_m[1]),
        fix_denied=bool(spec.trn_denied),
        fix_gain=float(spec.position_fix_gain),
        fix_recent=float(spec.position_fix_recent_s),
        initial_position_sigma=float(spec.initial_position_error_m),
        initial_velocity_sigma=float(spec.initial_velocity_error_mps),
        initial_attitude_sigma=math.radians(spec.initial_attitude_error_deg),
    )


def fault_params(spec: FaultSpec, lander: LanderSpec) -> FaultParams:
    """Fault params for a lander; an engine-out fault needs two or more engines."""
    if spec.engine_out.probability > 0.0 and lander.num_engines < 2:
        raise ValueError(f"FaultSpec.engine_out needs a lander with two or more main engines; "
                         f"'{lander.name}' has {lander.num_engines}")
    onsets = spec.onsets()
    return FaultParams(
        probability=np.array([o.probability for o in onsets], dtype=np.float64),
        onset_kind=np.array([ONSET_ALTITUDE if o.kind == "altitude" else ONSET_TIME for o in onsets], dtype=np.int64),
        onset_low=np.array([o.window[0] for o in onsets], dtype=np.float64),
        onset_high=np.array([o.window[1] for o in onsets], dtype=np.float64),
        rim_jump_low=float(spec.rim_jump_m[0]),
        rim_jump_high=float(spec.rim_jump_m[1]),
        late_low=float(spec.late_valid_altitude_m[0]),
        late_high=float(spec.late_valid_altitude_m[1]),
        thrust_fraction_low=float(spec.thrust_fraction[0]),
        thrust_fraction_high=float(spec.thrust_fraction[1]),
        gyro_jump=gyro_jump_rad_s(spec),
        accel_jump=accel_jump_mps2(spec),
    )


def reward_params(spec: RewardSpec) -> RewardParams:
    return RewardParams(
        distance_weight=float(spec.distance_weight),
        distance_scale=float(spec.distance_scale_m),
        velocity_weight=float(spec.velocity_weight),
        velocity_scale=float(spec.velocity_scale_mps),
        field_time_constant=float(spec.velocity_field_time_constant_s),
        field_max_speed=float(spec.velocity_field_max_speed_mps),
        field_brake_accel=float(spec.velocity_field_brake_accel_mps2),
        tracking_weight=float(spec.velocity_tracking_weight_per_s),
        final_descent_speed=float(spec.final_descent_speed_mps),
        propellant_weight=float(spec.propellant_weight),
        attitude_limit=math.radians(spec.attitude_limit_deg),
        attitude_penalty=float(spec.attitude_penalty_per_rad_s),
        glide_slope_tan=math.tan(math.radians(spec.glide_slope_deg)),
        glide_slope_penalty=float(spec.glide_slope_penalty_per_m_s),
        success_bonus=float(spec.success_bonus),
        crash_penalty=float(spec.crash_penalty),
        crash_penalty_per_mps=float(spec.crash_penalty_per_mps),
        time_limit_penalty=float(spec.time_limit_penalty),
    )
