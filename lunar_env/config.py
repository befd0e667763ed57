"""Immutable, validated configuration: landers, sensors, rewards, initial states and scenarios.

Faults (:class:`lunar_env.faults.FaultSpec`) live beside their kernels in lunar_env/faults.py.

Every field carries its unit in its name. Construction validates each value and raises a
ValueError that names the class, the field, the allowed range and the value given, so a
mistyped config fails at once instead of producing a strange landing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

# The checks and MAX_ENGINES are re-exported: code that imported them from here keeps working.
from lunar_env.checks import check_int, check_interval, check_range, check_vector  # noqa: F401
from lunar_env.constants import MAX_ENGINES
from lunar_env.faults import NO_FAULTS, FaultSpec

INF = math.inf


@dataclass(frozen=True)
class EngineSpec:
    """One fixed main engine.

    Attributes:
        position_m: nozzle position in the body frame relative to the centre of mass (m).
            Body frame: +z along the lander's vertical axis (up when upright), x and y across it.
        direction: unit vector of the force the engine puts on the lander, body frame
            (+z for a downward-firing engine).
        max_thrust_n: thrust at full throttle (N).
        min_throttle: lowest throttle while lit, as a fraction of max thrust; engines stay lit
            through powered descent, as the Apollo descent engine did.
        isp_s: specific impulse (s).
    """

    position_m: tuple[float, float, float]
    direction: tuple[float, float, float] = (0.0, 0.0, 1.0)
    max_thrust_n: float = 800.0
    min_throttle: float = 0.4
    isp_s: float = 300.0

    def __post_init__(self) -> None:
        owner = "EngineSpec"
        object.__setattr__(self, "position_m", check_vector(owner, "position_m", self.position_m))
        direction = np.array(check_vector(owner, "direction", self.direction))
        norm = float(np.linalg.norm(direction))
        if not 0.99 < norm < 1.01:
            raise ValueError(f"EngineSpec.direction must be a unit vector (norm 1 within 1%), got norm {norm:.4g}")
        object.__setattr__(self, "direction", tuple(float(v) for v in direction / norm))
        check_range(owner, "max_thrust_n", self.max_thrust_n, 0.0, 1e7, low_open=True)
        check_range(owner, "min_throttle", self.min_throttle, 0.0, 1.0, high_open=True)
        check_range(owner, "isp_s", self.isp_s, 0.0, 1e4, low_open=True)


@dataclass(frozen=True)
class LanderSpec:
    """A lander: mass properties, engines, attitude control, legs and touchdown limits.

    Inertia scales in proportion to mass (propellant assumed spread like the structure), a
    documented simplification: ``I(m) = inertia_dry_kgm2 * m / dry_mass_kg``.
    """

    name: str
    dry_mass_kg: float
    propellant_mass_kg: float
    inertia_dry_kgm2: tuple[float, float, float]
    engines: tuple[EngineSpec, ...]
    throttle_time_constant_s: float
    rcs_max_torque_nm: tuple[float, float, float]
    rcs_isp_s: float
    rcs_lever_arm_m: float
    leg_feet_m: tuple[tuple[float, float, float], ...]
    max_slew_rate_dps: float
    max_vertical_speed_mps: float
    max_horizontal_speed_mps: float
    max_tilt_deg: float
    max_angular_rate_dps: float
    max_slope_deg: float
    description: str = ""

    def __post_init__(self) -> None:
        owner = "LanderSpec"
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"LanderSpec.name must be a non-empty string, got {self.name!r}")
        check_range(owner, "dry_mass_kg", self.dry_mass_kg, 0.0, 1e6, low_open=True)
        check_range(owner, "propellant_mass_kg", self.propellant_mass_kg, 0.0, 1e6)
        inertia = check_vector(owner, "inertia_dry_kgm2", self.inertia_dry_kgm2)
        if min(inertia) <= 0:
            raise ValueError(f"LanderSpec.inertia_dry_kgm2 must be positive, got {self.inertia_dry_kgm2!r}")
        object.__setattr__(self, "inertia_dry_kgm2", inertia)
        engines = tuple(self.engines)
        if not 1 <= len(engines) <= MAX_ENGINES:
            raise ValueError(f"LanderSpec.engines must hold 1 to {MAX_ENGINES} engines, got {len(engines)}")
        for k, engine in enumerate(engines):
            if not isinstance(engine, EngineSpec):
                raise ValueError(f"LanderSpec.engines[{k}] must be an EngineSpec, got {type(engine).__name__}")
            if engine.direction[2] < MIN_ENGINE_AXIAL_COMPONENT:
                raise ValueError(f"LanderSpec.engines[{k}].direction must push along the body +z axis (within "
                                 f"{MAX_ENGINE_CANT_DEG:g} deg of it), got {engine.direction!r}")
        object.__setattr__(self, "engines", engines)
        check_range(owner, "throttle_time_constant_s", self.throttle_time_constant_s, 0.0, 10.0)
        torque = check_vector(owner, "rcs_max_torque_nm", self.rcs_max_torque_nm)
        if min(torque) < 0:
            raise ValueError(f"LanderSpec.rcs_max_torque_nm must be non-negative, got {self.rcs_max_torque_nm!r}")
        object.__setattr__(self, "rcs_max_torque_nm", torque)
        check_range(owner, "rcs_isp_s", self.rcs_isp_s, 0.0, 1e4, low_open=True)
        check_range(owner, "rcs_lever_arm_m", self.rcs_lever_arm_m, 0.0, 100.0, low_open=True)
        feet = tuple(check_vector(owner, f"leg_feet_m[{k}]", foot) for k, foot in enumerate(self.leg_feet_m))
        if not 3 <= len(feet) <= MAX_LEGS:
            raise ValueError(f"LanderSpec.leg_feet_m must hold 3 to {MAX_LEGS} feet, got {len(feet)}")
        if max(foot[2] for foot in feet) >= 0:
            raise ValueError("LanderSpec.leg_feet_m must all lie below the centre of mass (negative z)")
        object.__setattr__(self, "leg_feet_m", feet)
        _check_inertia_plausible(inertia, self.dry_mass_kg, self.extent_m)
        check_range(owner, "max_slew_rate_dps", self.max_slew_rate_dps, 0.0, 360.0, low_open=True)
        check_range(owner, "max_vertical_speed_mps", self.max_vertical_speed_mps, 0.0, 100.0, low_open=True)
        check_range(owner, "max_horizontal_speed_mps", self.max_horizontal_speed_mps, 0.0, 100.0, low_open=True)
        check_range(owner, "max_tilt_deg", self.max_tilt_deg, 0.0, 90.0, low_open=True)
        check_range(owner, "max_angular_rate_dps", self.max_angular_rate_dps, 0.0, 360.0, low_open=True)
        check_range(owner, "max_slope_deg", self.max_slope_deg, 0.0, 90.0, low_open=True)

    @property
    def wet_mass_kg(self) -> float:
        return self.dry_mass_kg + self.propellant_mass_kg

    @property
    def num_engines(self) -> int:
        return len(self.engines)

    @property
    def max_axial_thrust_n(self) -> float:
        """Thrust along the body +z axis with every engine at full throttle (N)."""
        return sum(e.max_thrust_n * e.direction[2] for e in self.engines)

    @property
    def min_axial_thrust_n(self) -> float:
        """Thrust along the body +z axis with every engine at minimum throttle (N)."""
        return sum(e.max_thrust_n * e.min_throttle * e.direction[2] for e in self.engines)

    @property
    def effective_isp_s(self) -> float:
        """Thrust-weighted specific impulse of all engines at equal throttle (s)."""
        total = sum(e.max_thrust_n for e in self.engines)
        flow = sum(e.max_thrust_n / e.isp_s for e in self.engines)
        return total / flow

    @property
    def extent_m(self) -> float:
        """Largest distance of a foot, a nozzle or an RCS thruster from the centre of mass (m)."""
        points = [*self.leg_feet_m, *(e.position_m for e in self.engines)]
        return max(self.rcs_lever_arm_m, *(math.sqrt(x * x + y * y + z * z) for x, y, z in points))

    @property
    def foot_radius_m(self) -> float:
        """Largest horizontal distance of a foot from the body axis (m): the lander's footprint radius."""
        return max(math.hypot(f[0], f[1]) for f in self.leg_feet_m)


MAX_ENGINE_CANT_DEG = 45.0
"""Largest angle (deg) between a main engine's force and the body +z axis. Descent engines are
canted by a few degrees at most; a sideways engine leaves no axial thrust to map actions onto."""
MIN_ENGINE_AXIAL_COMPONENT = math.cos(math.radians(MAX_ENGINE_CANT_DEG))

GYRATION_RADIUS_RANGE = (0.1, 3.0)
"""(est.) Allowed radius of gyration sqrt(I / m) of the dry lander about each axis, as a multiple of
its extent (LanderSpec.extent_m: the farthest foot, nozzle or thruster from the centre of mass).
The presets lie at 0.29-0.35 (Vikram-like: sqrt(450 / 1000) = 0.67 m against feet 2.3 m away); far
outside, the spec describes no real lander and the attitude integration stiffens."""


def _check_inertia_plausible(inertia: tuple[float, ...], dry_mass_kg: float, extent_m: float) -> None:
    """Refuse principal moments no rigid body has (triangle inequality) or far from the lander's size."""
    owner = "LanderSpec.inertia_dry_kgm2"
    for k in range(3):
        if inertia[k] > inertia[(k + 1) % 3] + inertia[(k + 2) % 3]:
            raise ValueError(f"{owner} {inertia!r} is not a rigid body's: each principal moment must be at most "
                             "the sum of the other two")
    low, high = (f * extent_m for f in GYRATION_RADIUS_RANGE)
    for k, moment in enumerate(inertia):
        radius = math.sqrt(moment / dry_mass_kg)
        if not low <= radius <= high:
            raise ValueError(f"{owner}[{k}] = {moment:g} kg m^2 gives a radius of gyration of {radius:.3g} m for "
                             f"{dry_mass_kg:g} kg; a lander whose feet and engines reach {extent_m:.3g} m from its "
                             f"centre of mass needs {low:.3g} to {high:.3g} m (GYRATION_RADIUS_RANGE x extent)")

MAX_LEGS = 8
"""Largest number of landing legs a lander may have."""


# --- sensor defaults with their sources (REFERENCE.md, Sensors table) ----------------------
LN200_GYRO_BIAS_DEG_PER_H = 1.0  # turn-on bias, LN-200 class (public IMU error-model tables)
LN200_GYRO_IN_RUN_DEG_PER_H = 0.35  # in-run bias instability, same source
LN200_GYRO_ARW_DEG_PER_SQRT_H = 0.07  # angle random walk, same source
LN200_ACCEL_BIAS_UG = 200.0  # turn-on bias, micro-g, same source
LN200_ACCEL_IN_RUN_UG = 50.0  # in-run bias instability, micro-g, same source
LN200_ACCEL_VRW_MPS_PER_SQRT_H = 0.03  # velocity random walk, same source
NDL_RANGE_NOISE_M = 1.0  # Navigation Doppler Lidar range "within ~1 m" (NASA Langley): laser ranging class
NDL_VELOCITY_NOISE_MPS = 0.03  # NDL velocity "within a few cm/s" (NASA Langley), per beam
NDL_BEAM_OFF_NADIR_DEG = 22.5  # (est.) three beams spread around nadir, as NDL's optical head does
TRN_FIX_NOISE_M = 12.5  # per axis: a 3-D error of 20 +- 8 m, lidar TRN's 20 +- 10 m (Johnson and Ivanov 2010)
TRN_RATE_HZ = 1.0  # vision TRN at 1 Hz (Firefly, Blue Ghost M1)
STAR_TRACKER_NOISE_ARCSEC = (5.0, 5.0, 40.0)  # (est.) arcsecond class, worse about the boresight (body z) (vendor data)

MAX_ALTIMETER_BEAMS = 4
MAX_VELOCIMETER_BEAMS = 4


def _ndl_beams() -> tuple[tuple[float, float, float], ...]:
    """Three body-fixed beams NDL_BEAM_OFF_NADIR_DEG off the body -z axis, 120 deg apart."""
    c = math.radians(NDL_BEAM_OFF_NADIR_DEG)
    return tuple((math.sin(c) * math.cos(a), math.sin(c) * math.sin(a), -math.cos(c))
                 for a in (math.radians(90.0 + 120.0 * k) for k in range(3)))


def check_beams(owner: str, name: str, value: Any, low: int, high: int) -> tuple[tuple[float, float, float], ...]:
    """Validate ``low`` to ``high`` unit vectors (norm 1 within 1%); return them normalised."""
    try:
        beams = tuple(value)
    except TypeError:
        raise ValueError(f"{owner}.{name} must be a sequence of 3-vectors, got {value!r}") from None
    if not low <= len(beams) <= high:
        raise ValueError(f"{owner}.{name} must hold {low} to {high} beams, got {len(beams)}")
    result = []
    for k, beam in enumerate(beams):
        v = np.array(check_vector(owner, f"{name}[{k}]", beam))
        norm = float(np.linalg.norm(v))
        if not 0.99 < norm < 1.01:
            raise ValueError(f"{owner}.{name}[{k}] must be a unit vector (norm 1 within 1%), got norm {norm:.4g}")
        result.append(tuple(float(c) for c in v / norm))
    return tuple(result)


@dataclass(frozen=True)
class SensorSpec:
    """The lander's sensors and its navigation filter (models: lunar_env/sensors.py and
    lunar_env/navigation.py; every field is described in docs/sensors.md).

    Rates are in Hz; a sensor samples every ``round(control_rate / rate)`` control steps (at
    least one), and a rate of 0 switches it off. Errors are 1-sigma per axis unless stated.
    Beams are unit vectors in the body frame (+z along the thrust axis, so (0, 0, -1) looks
    straight down when upright). Sources: REFERENCE.md, Sensors table; (est.) marks estimates.

    Attributes (IMU, integrated at the control rate):
        gyro_bias_deg_per_h: turn-on bias, drawn per episode.
        gyro_bias_instability_deg_per_h: in-run bias, a random walk whose spread reaches this
            after one hour.
        gyro_angle_random_walk_deg_per_sqrt_h: white rate noise.
        accel_bias_ug, accel_bias_instability_ug: as for the gyro, in micro-g.
        accel_velocity_random_walk_mps_per_sqrt_h: white acceleration noise.
    Star tracker:
        star_tracker_rate_hz; star_tracker_noise_arcsec: about body x, y, z.
    Laser altimeter:
        altimeter_rate_hz (est., 2 Hz: every beam costs one terrain ray cast per sample);
        altimeter_beams: 1 to 4 beams, the first is the main beam of the observation;
        altimeter_max_range_m (est.); altimeter_noise_m: range noise;
        altimeter_dropout_probability (est.): chance a beam's sample is lost.
    Doppler lidar velocimeter:
        velocimeter_rate_hz (est.); velocimeter_beams: 3 or 4 non-coplanar beams;
        velocimeter_max_range_m (est.); velocity_noise_mps: noise of each beam's velocity.
    Terrain-relative navigation (TRN):
        trn_rate_hz; position_noise_m: per-axis error of one position fix;
        trn_altitude_m: (min, max) altitude at which fixes work (est.);
        trn_denied: no fix ever (terrain below in shadow); position_fix_recent_s: how long an
        accepted fix keeps the ``position_fix_valid`` observation at 1.
    Navigation hand-over (the estimate at the start of the episode, est.):
        initial_position_error_m, initial_velocity_error_mps, initial_attitude_error_deg.
    Navigation filter (constant gains, each the fraction of an innovation taken):
        star_tracker_gain, velocimeter_gain, position_fix_gain, altimeter_gain;
        altimeter_gate_m: altimeter samples whose altitude differs from the estimate by more
        are rejected; altimeter_reacquire_samples: after this many rejections in a row the
        estimate is reset to the altimeter (0: never, as Hakuto-R's filter did).
    """

    gyro_bias_deg_per_h: float = LN200_GYRO_BIAS_DEG_PER_H
    gyro_bias_instability_deg_per_h: float = LN200_GYRO_IN_RUN_DEG_PER_H
    gyro_angle_random_walk_deg_per_sqrt_h: float = LN200_GYRO_ARW_DEG_PER_SQRT_H
    accel_bias_ug: float = LN200_ACCEL_BIAS_UG
    accel_bias_instability_ug: float = LN200_ACCEL_IN_RUN_UG
    accel_velocity_random_walk_mps_per_sqrt_h: float = LN200_ACCEL_VRW_MPS_PER_SQRT_H
    star_tracker_rate_hz: float = 5.0
    star_tracker_noise_arcsec: tuple[float, float, float] = STAR_TRACKER_NOISE_ARCSEC
    altimeter_rate_hz: float = 2.0
    altimeter_beams: tuple[tuple[float, float, float], ...] = ((0.0, 0.0, -1.0),)
    altimeter_max_range_m: float = 8000.0
    altimeter_noise_m: float = NDL_RANGE_NOISE_M
    altimeter_dropout_probability: float = 0.02
    velocimeter_rate_hz: float = 5.0
    velocimeter_beams: tuple[tuple[float, float, float], ...] = field(default_factory=_ndl_beams)
    velocimeter_max_range_m: float = 5000.0
    velocity_noise_mps: float = NDL_VELOCITY_NOISE_MPS
    trn_rate_hz: float = TRN_RATE_HZ
    position_noise_m: float = TRN_FIX_NOISE_M
    trn_altitude_m: tuple[float, float] = (50.0, 20_000.0)
    trn_denied: bool = False
    position_fix_recent_s: float = 3.0
    initial_position_error_m: float = 50.0
    initial_velocity_error_mps: float = 0.3
    initial_attitude_error_deg: float = 0.05
    star_tracker_gain: float = 0.5
    velocimeter_gain: float = 0.5
    position_fix_gain: float = 0.3
    altimeter_gain: float = 0.5
    altimeter_gate_m: float = 100.0
    altimeter_reacquire_samples: int = 10

    def __post_init__(self) -> None:
        owner = "SensorSpec"
        for name in ("gyro_bias_deg_per_h", "gyro_bias_instability_deg_per_h", "gyro_angle_random_walk_deg_per_sqrt_h"):
            check_range(owner, name, getattr(self, name), 0.0, 1e5)
        for name in ("accel_bias_ug", "accel_bias_instability_ug"):
            check_range(owner, name, getattr(self, name), 0.0, 1e6)
        check_range(
            owner, "accel_velocity_random_walk_mps_per_sqrt_h", self.accel_velocity_random_walk_mps_per_sqrt_h, 0.0, 1e3
        )
        for name in ("star_tracker_rate_hz", "altimeter_rate_hz", "velocimeter_rate_hz", "trn_rate_hz"):
            check_range(owner, name, getattr(self, name), 0.0, 1000.0)
        noise = check_vector(owner, "star_tracker_noise_arcsec", self.star_tracker_noise_arcsec)
        if min(noise) < 0.0:
            raise ValueError(
                f"{owner}.star_tracker_noise_arcsec must be non-negative, got {self.star_tracker_noise_arcsec!r}"
            )
        object.__setattr__(self, "star_tracker_noise_arcsec", noise)
        object.__setattr__(
            self, "altimeter_beams", check_beams(owner, "altimeter_beams", self.altimeter_beams, 1, MAX_ALTIMETER_BEAMS)
        )
        beams = check_beams(owner, "velocimeter_beams", self.velocimeter_beams, 3, MAX_VELOCIMETER_BEAMS)
        if np.linalg.matrix_rank(np.array(beams), tol=1e-3) < 3:
            raise ValueError(f"{owner}.velocimeter_beams must span 3-D space (three non-coplanar beams), got {beams!r}")
        object.__setattr__(self, "velocimeter_beams", beams)
        for name in ("altimeter_max_range_m", "velocimeter_max_range_m"):
            check_range(owner, name, getattr(self, name), 0.0, 1e6, low_open=True)
        for name in ("altimeter_noise_m", "position_noise_m", "initial_position_error_m"):
            check_range(owner, name, getattr(self, name), 0.0, 1e4)
        for name in ("velocity_noise_mps", "initial_velocity_error_mps"):
            check_range(owner, name, getattr(self, name), 0.0, 1e3)
        check_range(owner, "initial_attitude_error_deg", self.initial_attitude_error_deg, 0.0, 90.0)
        check_range(owner, "altimeter_dropout_probability", self.altimeter_dropout_probability, 0.0, 1.0)
        object.__setattr__(
            self, "trn_altitude_m", check_interval(owner, "trn_altitude_m", self.trn_altitude_m, 0.0, 1e6)
        )
        if not isinstance(self.trn_denied, (bool, np.bool_)):
            raise ValueError(f"{owner}.trn_denied must be True or False, got {self.trn_denied!r}")
        check_range(owner, "position_fix_recent_s", self.position_fix_recent_s, 0.0, 1e5)
        for name in ("star_tracker_gain", "velocimeter_gain", "position_fix_gain", "altimeter_gain"):
            check_range(owner, name, getattr(self, name), 0.0, 1.0, low_open=True)
        check_range(owner, "altimeter_gate_m", self.altimeter_gate_m, 0.0, 1e7, low_open=True)
        check_int(owner, "altimeter_reacquire_samples", self.altimeter_reacquire_samples, 0, 10**6)


@dataclass(frozen=True)
class RewardSpec:
    """Weights of the reward terms; the formula is documented in lunar_env/reward.py."""

    distance_weight: float = 1.0
    distance_scale_m: float = 100.0
    velocity_weight: float = 1.0
    velocity_scale_mps: float = 10.0
    velocity_field_time_constant_s: float = 20.0
    velocity_field_max_speed_mps: float = 60.0
    velocity_field_brake_accel_mps2: float = 0.4
    velocity_tracking_weight_per_s: float = 0.0
    final_descent_speed_mps: float = 1.0
    propellant_weight: float = 10.0
    attitude_limit_deg: float = 30.0
    attitude_penalty_per_rad_s: float = 1.0
    glide_slope_deg: float = 5.0
    glide_slope_penalty_per_m_s: float = 0.01
    success_bonus: float = 10.0
    crash_penalty: float = 10.0
    crash_penalty_per_mps: float = 1.0
    time_limit_penalty: float = 10.0

    def __post_init__(self) -> None:
        owner = "RewardSpec"
        for name in (
            "distance_weight",
            "velocity_weight",
            "propellant_weight",
            "attitude_penalty_per_rad_s",
            "glide_slope_penalty_per_m_s",
            "success_bonus",
            "crash_penalty",
            "crash_penalty_per_mps",
            "time_limit_penalty",
        ):
            check_range(owner, name, getattr(self, name), 0.0, 1e6)
        check_range(owner, "velocity_tracking_weight_per_s", self.velocity_tracking_weight_per_s, 0.0, 1e6)
        for name in (
            "distance_scale_m",
            "velocity_scale_mps",
            "velocity_field_time_constant_s",
            "velocity_field_max_speed_mps",
            "velocity_field_brake_accel_mps2",
        ):
            check_range(owner, name, getattr(self, name), 0.0, 1e6, low_open=True)
        check_range(owner, "final_descent_speed_mps", self.final_descent_speed_mps, 0.0, 100.0)
        check_range(owner, "attitude_limit_deg", self.attitude_limit_deg, 0.0, 180.0)
        check_range(owner, "glide_slope_deg", self.glide_slope_deg, 0.0, 90.0, high_open=True)


@dataclass(frozen=True)
class InitialStateSpec:
    """Uniform distributions of the state at the start of an episode.

    The lander starts ``downrange_m`` before the target along an approach azimuth (clockwise
    from North), ``crossrange_m`` to the side, ``altitude_m`` above the target, flying toward
    it at ``approach_speed_mps`` and sinking at ``descent_rate_mps``.
    """

    altitude_m: tuple[float, float] = (1500.0, 2500.0)
    downrange_m: tuple[float, float] = (500.0, 2000.0)
    crossrange_m: tuple[float, float] = (-500.0, 500.0)
    approach_azimuth_deg: tuple[float, float] = (0.0, 360.0)
    approach_speed_mps: tuple[float, float] = (10.0, 40.0)
    crossrange_speed_mps: tuple[float, float] = (-5.0, 5.0)
    descent_rate_mps: tuple[float, float] = (10.0, 30.0)
    tilt_deg: tuple[float, float] = (0.0, 5.0)
    angular_rate_dps: float = 1.0
    propellant_fraction: tuple[float, float] = (1.0, 1.0)

    def __post_init__(self) -> None:
        owner = "InitialStateSpec"
        object.__setattr__(self, "altitude_m", check_interval(owner, "altitude_m", self.altitude_m, 1.0, 1e5))
        object.__setattr__(self, "downrange_m", check_interval(owner, "downrange_m", self.downrange_m, -1e5, 1e5))
        object.__setattr__(self, "crossrange_m", check_interval(owner, "crossrange_m", self.crossrange_m, -1e5, 1e5))
        object.__setattr__(
            self,
            "approach_azimuth_deg",
            check_interval(owner, "approach_azimuth_deg", self.approach_azimuth_deg, -360.0, 720.0),
        )
        object.__setattr__(
            self, "approach_speed_mps", check_interval(owner, "approach_speed_mps", self.approach_speed_mps, -1e3, 1e3)
        )
        object.__setattr__(
            self,
            "crossrange_speed_mps",
            check_interval(owner, "crossrange_speed_mps", self.crossrange_speed_mps, -1e3, 1e3),
        )
        object.__setattr__(
            self, "descent_rate_mps", check_interval(owner, "descent_rate_mps", self.descent_rate_mps, -1e3, 1e3)
        )
        object.__setattr__(self, "tilt_deg", check_interval(owner, "tilt_deg", self.tilt_deg, 0.0, 90.0))
        check_range(owner, "angular_rate_dps", self.angular_rate_dps, 0.0, 90.0)
        object.__setattr__(
            self,
            "propellant_fraction",
            check_interval(owner, "propellant_fraction", self.propellant_fraction, 0.0, 1.0),
        )


def _no_faults() -> FaultSpec:
    return NO_FAULTS


@dataclass(frozen=True)
class Scenario:
    """Everything that defines a family of landing episodes.

    ``terrain`` is a :class:`~lunar_env.terrain.TerrainTile` list provider: ``None`` means
    flat ground. Control runs at ``control_rate_hz``; physics integrates ``physics_substeps``
    times per control step (10 Hz control and 40 Hz physics by default: landing guidance
    typically runs at 5-10 Hz, Gaudet et al. used 5 Hz). ``sensors`` describes what the lander
    measures and how it navigates; ``faults`` (a :class:`lunar_env.faults.FaultSpec`, none by
    default) what may go wrong.
    """

    name: str
    lander: LanderSpec
    description: str = ""
    initial: InitialStateSpec = field(default_factory=InitialStateSpec)
    sensors: SensorSpec = field(default_factory=SensorSpec)
    faults: FaultSpec = field(default_factory=_no_faults)
    reward: RewardSpec = field(default_factory=RewardSpec)
    terrain: Any = None
    control_rate_hz: float = 10.0
    physics_substeps: int = 4
    time_limit_s: float = 240.0
    target_radius_m: float = 100.0
    max_horizontal_distance_m: float = 8000.0
    max_altitude_m: float = 6000.0

    def __post_init__(self) -> None:
        owner = "Scenario"
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"Scenario.name must be a non-empty string, got {self.name!r}")
        for name, cls in (
            ("lander", LanderSpec),
            ("initial", InitialStateSpec),
            ("sensors", SensorSpec),
            ("faults", FaultSpec),
            ("reward", RewardSpec),
        ):
            if not isinstance(getattr(self, name), cls):
                raise ValueError(f"Scenario.{name} must be a {cls.__name__}, got {type(getattr(self, name)).__name__}")
        check_range(owner, "control_rate_hz", self.control_rate_hz, 0.1, 1000.0)
        check_int(owner, "physics_substeps", self.physics_substeps, 1, 100)
        check_range(owner, "time_limit_s", self.time_limit_s, 0.0, 1e5, low_open=True)
        check_range(owner, "target_radius_m", self.target_radius_m, 0.0, 1e5, low_open=True)
        check_range(owner, "max_horizontal_distance_m", self.max_horizontal_distance_m, 0.0, 1e6, low_open=True)
        check_range(owner, "max_altitude_m", self.max_altitude_m, 0.0, 1e6, low_open=True)
        if self.initial.altitude_m[1] >= self.max_altitude_m:
            raise ValueError(
                f"Scenario.max_altitude_m ({self.max_altitude_m}) must exceed the highest start altitude "
                f"{self.initial.altitude_m[1]}"
            )

    @property
    def control_dt_s(self) -> float:
        return 1.0 / self.control_rate_hz

    @property
    def physics_dt_s(self) -> float:
        return self.control_dt_s / self.physics_substeps

    @property
    def max_steps(self) -> int:
        return int(math.ceil(self.time_limit_s * self.control_rate_hz))
