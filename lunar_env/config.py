"""Immutable, validated configuration: landers, sensors, rewards, initial states and scenarios.

Every field carries its unit in its name. Construction validates each value and raises a
ValueError that names the class, the field, the allowed range and the value given, so a
mistyped config fails at once instead of producing a strange landing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

INF = math.inf


def check_range(owner: str, name: str, value: Any, low: float, high: float, *, low_open: bool = False, high_open: bool = False) -> float:
    """Return ``value`` as float if it lies in the interval, else raise a ValueError naming it."""
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{owner}.{name} must be a number, got {value!r}") from None
    below = x <= low if low_open else x < low
    above = x >= high if high_open else x > high
    if math.isnan(x) or below or above:
        interval = f"{'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
        raise ValueError(f"{owner}.{name} must be in {interval}, got {value!r}")
    return x


def check_interval(owner: str, name: str, value: Any, low: float, high: float) -> tuple[float, float]:
    """Validate a (min, max) pair inside [low, high] with min <= max."""
    try:
        lo, hi = (float(v) for v in value)
    except (TypeError, ValueError):
        raise ValueError(f"{owner}.{name} must be a (min, max) pair of numbers, got {value!r}") from None
    check_range(owner, f"{name}[0]", lo, low, high)
    check_range(owner, f"{name}[1]", hi, low, high)
    if lo > hi:
        raise ValueError(f"{owner}.{name} must have min <= max, got {value!r}")
    return (lo, hi)


def check_vector(owner: str, name: str, value: Any, size: int = 3) -> tuple[float, ...]:
    """Validate a finite vector of ``size`` numbers."""
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{owner}.{name} must be {size} numbers, got {value!r}") from None
    if arr.shape != (size,) or not np.all(np.isfinite(arr)):
        raise ValueError(f"{owner}.{name} must be {size} finite numbers, got {value!r}")
    return tuple(float(v) for v in arr)


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
    def foot_radius_m(self) -> float:
        """Largest horizontal distance of a foot from the body axis (m): the lander's footprint radius."""
        return max(math.hypot(f[0], f[1]) for f in self.leg_feet_m)


MAX_ENGINES = 8
"""Largest number of main engines a lander may have (array sizes in the kernels)."""

MAX_LEGS = 8
"""Largest number of landing legs a lander may have."""


@dataclass(frozen=True)
class SensorSpec:
    """White-noise navigation errors (1-sigma) on what the lander observes.

    Defaults (est.) follow the sensor classes in the reference: a Navigation Doppler Lidar
    measures velocity within a few cm/s and range within about a metre (NASA Langley); a star
    tracker is arcsecond class; terrain-relative navigation fixes position to metres.
    """

    position_noise_m: float = 2.0
    velocity_noise_mps: float = 0.05
    attitude_noise_deg: float = 0.01
    angular_rate_noise_dps: float = 0.005
    altimeter_noise_m: float = 0.5

    def __post_init__(self) -> None:
        for name in ("position_noise_m", "velocity_noise_mps", "attitude_noise_deg", "angular_rate_noise_dps", "altimeter_noise_m"):
            check_range("SensorSpec", name, getattr(self, name), 0.0, 1e4)


@dataclass(frozen=True)
class RewardSpec:
    """Weights of the reward terms; the formula is documented in lunar_env/reward.py."""

    distance_weight: float = 1.0
    distance_scale_m: float = 100.0
    velocity_weight: float = 1.0
    velocity_scale_mps: float = 10.0
    velocity_field_time_constant_s: float = 20.0
    velocity_field_max_speed_mps: float = 60.0
    final_descent_speed_mps: float = 1.0
    propellant_weight: float = 10.0
    attitude_limit_deg: float = 30.0
    attitude_penalty_per_rad_s: float = 1.0
    glide_slope_deg: float = 5.0
    glide_slope_penalty_per_m_s: float = 0.01
    success_bonus: float = 10.0
    crash_penalty: float = 10.0
    crash_penalty_per_mps: float = 1.0

    def __post_init__(self) -> None:
        owner = "RewardSpec"
        for name in ("distance_weight", "velocity_weight", "propellant_weight", "attitude_penalty_per_rad_s",
                     "glide_slope_penalty_per_m_s", "success_bonus", "crash_penalty", "crash_penalty_per_mps"):
            check_range(owner, name, getattr(self, name), 0.0, 1e6)
        for name in ("distance_scale_m", "velocity_scale_mps", "velocity_field_time_constant_s", "velocity_field_max_speed_mps"):
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
        object.__setattr__(self, "approach_azimuth_deg", check_interval(owner, "approach_azimuth_deg", self.approach_azimuth_deg, -360.0, 720.0))
        object.__setattr__(self, "approach_speed_mps", check_interval(owner, "approach_speed_mps", self.approach_speed_mps, -1e3, 1e3))
        object.__setattr__(self, "crossrange_speed_mps", check_interval(owner, "crossrange_speed_mps", self.crossrange_speed_mps, -1e3, 1e3))
        object.__setattr__(self, "descent_rate_mps", check_interval(owner, "descent_rate_mps", self.descent_rate_mps, -1e3, 1e3))
        object.__setattr__(self, "tilt_deg", check_interval(owner, "tilt_deg", self.tilt_deg, 0.0, 90.0))
        check_range(owner, "angular_rate_dps", self.angular_rate_dps, 0.0, 90.0)
        object.__setattr__(self, "propellant_fraction", check_interval(owner, "propellant_fraction", self.propellant_fraction, 0.0, 1.0))


@dataclass(frozen=True)
class Scenario:
    """Everything that defines a family of landing episodes.

    ``terrain`` is a :class:`~lunar_env.terrain.TerrainTile` list provider: ``None`` means
    flat ground. Control runs at ``control_rate_hz``; physics integrates ``physics_substeps``
    times per control step (10 Hz control and 40 Hz physics by default: landing guidance
    typically runs at 5-10 Hz, Gaudet et al. used 5 Hz).
    """

    name: str
    lander: LanderSpec
    description: str = ""
    initial: InitialStateSpec = field(default_factory=InitialStateSpec)
    sensors: SensorSpec = field(default_factory=SensorSpec)
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
        for name, cls in (("lander", LanderSpec), ("initial", InitialStateSpec), ("sensors", SensorSpec), ("reward", RewardSpec)):
            if not isinstance(getattr(self, name), cls):
                raise ValueError(f"Scenario.{name} must be a {cls.__name__}, got {type(getattr(self, name)).__name__}")
        check_range(owner, "control_rate_hz", self.control_rate_hz, 0.1, 1000.0)
        if not isinstance(self.physics_substeps, (int, np.integer)) or not 1 <= self.physics_substeps <= 100:
            raise ValueError(f"Scenario.physics_substeps must be an integer in [1, 100], got {self.physics_substeps!r}")
        check_range(owner, "time_limit_s", self.time_limit_s, 0.0, 1e5, low_open=True)
        check_range(owner, "target_radius_m", self.target_radius_m, 0.0, 1e5, low_open=True)
        check_range(owner, "max_horizontal_distance_m", self.max_horizontal_distance_m, 0.0, 1e6, low_open=True)
        check_range(owner, "max_altitude_m", self.max_altitude_m, 0.0, 1e6, low_open=True)
        if self.initial.altitude_m[1] >= self.max_altitude_m:
            raise ValueError(f"Scenario.max_altitude_m ({self.max_altitude_m}) must exceed the highest start altitude {self.initial.altitude_m[1]}")

    @property
    def control_dt_s(self) -> float:
        return 1.0 / self.control_rate_hz

    @property
    def physics_dt_s(self) -> float:
        return self.control_dt_s / self.physics_substeps

    @property
    def max_steps(self) -> int:
        return int(math.ceil(self.time_limit_s * self.control_rate_hz))
