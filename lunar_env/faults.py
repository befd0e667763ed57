"""Faults from real landings: what can go wrong, when it starts, and what it does to a lander.

Each fault of a :class:`FaultSpec` happens in an episode with its ``probability`` and starts
at an onset drawn per episode from its window: a time after the start (s) or an altitude
(m, centre of mass above the terrain directly below) reached on the way down. Draws come from
the lander's own random stream at reset, always the same number of them whatever is armed, so
switching one fault on changes nothing else about the episode.

=====================  ==========================================================================
fault                  effect from its onset (story: docs/sensors.md)
=====================  ==========================================================================
altimeter_dead         no valid altimeter return (IM-1 Odysseus: a safety switch left on)
altimeter_rim_jump     a crater rim passes below: the ground drops by ``rim_jump_m`` while the
                       altitude estimate, which follows vertical motion, keeps its value, so it
                       reads that much too low and the altimeter's first sample beyond the rim
                       meets the innovation gate (Hakuto-R M1). Modelled on any terrain by
                       lowering the estimate by ``rim_jump_m``: the same gap, measured correctly
                       by the altimeter
altimeter_late         altimeter returns valid only below ``late_valid_altitude_m`` (Resilience)
thrust_loss            every engine gives ``thrust_fraction`` of its thrust; in 3-DOF the thrust
                       bound shrinks by the same fraction (SLIM: 55% left after losing a nozzle)
engine_out             one main engine, drawn uniformly, stops (Vikram needed two of its four)
imu_bias_jump          the gyro and accelerometer biases step by the given sizes in a random
                       direction
=====================  ==========================================================================

Each lander records the faults drawn (``flags[:, FAULTS_ARMED]``) and those under way
(``flags[:, FAULTS_ACTIVE]``) as bitmasks: bit k is ``FAULT_NAMES[k]``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from numba import njit

from lunar_env.checks import check_interval, check_range
from lunar_env.constants import FAULT_NAMES, MICRO_G_MPS2, NUM_FAULTS
from lunar_env.physics.rng import next_normal_pair, next_uniform
from lunar_env.physics.state import (
    ACCEL_BIAS_X,
    FAULT_ACCEL_JUMP_X,
    FAULT_ENGINE,
    FAULT_GYRO_JUMP_X,
    FAULT_LATE_ALTITUDE,
    FAULT_ONSET,
    FAULT_RIM_JUMP,
    FAULT_THRUST_FRACTION,
    FAULTS_ACTIVE,
    FAULTS_ARMED,
    GYRO_BIAS_X,
    HEALTH,
    NAV_ALTITUDE,
    TIME,
)

ALTIMETER_DEAD, ALTIMETER_RIM_JUMP, ALTIMETER_LATE, THRUST_LOSS, ENGINE_OUT, IMU_BIAS_JUMP = range(NUM_FAULTS)

ONSET_KINDS = ("time", "altitude")
ONSET_TIME = 0
ONSET_ALTITUDE = 1

# Historical figures (REFERENCE.md, lander table) and estimates for the defaults.
HAKUTO_R_RIM_JUMP_M = 3000.0  # the altimeter jump over the crater rim (ispace)
SLIM_THRUST_FRACTION = 0.55  # thrust left after SLIM lost a nozzle (JAXA)
IMU_GYRO_BIAS_JUMP_DEG_PER_H = 100.0  # (est.) a sensor upset, ~300x the in-run instability
IMU_ACCEL_BIAS_JUMP_UG = 5000.0  # (est.) 5 milli-g, ~100x the in-run instability


def fault_bit(name: str) -> int:
    """The bit of a fault in the FAULTS_ARMED / FAULTS_ACTIVE masks, e.g. ``fault_bit("engine_out") == 16``."""
    if name not in FAULT_NAMES:
        raise ValueError(f"unknown fault {name!r}; choose one of {list(FAULT_NAMES)}")
    return 1 << FAULT_NAMES.index(name)


def fault_names(mask: int) -> list[str]:
    """Names of the faults set in a bitmask, in FAULT_NAMES order."""
    mask = int(mask)
    return [name for k, name in enumerate(FAULT_NAMES) if mask & (1 << k)]


@dataclass(frozen=True)
class FaultOnset:
    """Whether a fault happens in an episode and when it starts.

    Attributes:
        probability: chance that the fault happens in an episode, in [0, 1].
        kind: ``"time"`` (onset a time after the start of the episode, s) or ``"altitude"``
            (onset when the altitude of the centre of mass above the terrain directly below
            first falls to the drawn value, m).
        window: (min, max) of the uniform onset draw, in s or m according to ``kind``.
    """

    probability: float = 0.0
    kind: str = "time"
    window: tuple[float, float] = (0.0, 0.0)

    def __post_init__(self) -> None:
        owner = "FaultOnset"
        check_range(owner, "probability", self.probability, 0.0, 1.0)
        if self.kind not in ONSET_KINDS:
            raise ValueError(f"FaultOnset.kind must be one of {ONSET_KINDS}, got {self.kind!r}")
        high = 1e5 if self.kind == "time" else 1e6
        object.__setattr__(self, "window", check_interval(owner, "window", self.window, 0.0, high))


def _never() -> FaultOnset:
    return FaultOnset()


@dataclass(frozen=True)
class FaultSpec:
    """The faults of a scenario, each off unless its onset gives it a probability.

    Attributes:
        altimeter_dead: onset of a dead altimeter (IM-1).
        altimeter_rim_jump: onset of the rim crossing (Hakuto-R).
        rim_jump_m: (min, max) height (m) of the terrain drop at the rim; Hakuto-R's was ~3 km.
        altimeter_late: onset of the late-altimeter fault (Resilience), normally at the start.
        late_valid_altitude_m: (min, max) altitude (m) below which the altimeter returns.
        thrust_loss: onset of the thrust loss (SLIM lost a nozzle at ~50 m altitude).
        thrust_fraction: (min, max) fraction of thrust left; SLIM kept 55%.
        engine_out: onset of one main engine stopping; needs a lander of two or more engines.
        imu_bias_jump: onset of the IMU bias step.
        gyro_bias_jump_deg_per_h: size of the gyro bias step (deg/h), random direction.
        accel_bias_jump_ug: size of the accelerometer bias step (micro-g), random direction.
    """

    altimeter_dead: FaultOnset = field(default_factory=_never)
    altimeter_rim_jump: FaultOnset = field(default_factory=_never)
    rim_jump_m: tuple[float, float] = (HAKUTO_R_RIM_JUMP_M, HAKUTO_R_RIM_JUMP_M)
    altimeter_late: FaultOnset = field(default_factory=_never)
    late_valid_altitude_m: tuple[float, float] = (100.0, 300.0)
    thrust_loss: FaultOnset = field(default_factory=_never)
    thrust_fraction: tuple[float, float] = (SLIM_THRUST_FRACTION, SLIM_THRUST_FRACTION)
    engine_out: FaultOnset = field(default_factory=_never)
    imu_bias_jump: FaultOnset = field(default_factory=_never)
    gyro_bias_jump_deg_per_h: float = IMU_GYRO_BIAS_JUMP_DEG_PER_H
    accel_bias_jump_ug: float = IMU_ACCEL_BIAS_JUMP_UG

    def __post_init__(self) -> None:
        owner = "FaultSpec"
        for name in FAULT_NAMES:
            if not isinstance(getattr(self, name), FaultOnset):
                raise ValueError(f"FaultSpec.{name} must be a FaultOnset, got {type(getattr(self, name)).__name__}")
        object.__setattr__(self, "rim_jump_m", check_interval(owner, "rim_jump_m", self.rim_jump_m, 0.0, 1e5))
        object.__setattr__(self, "late_valid_altitude_m",
                           check_interval(owner, "late_valid_altitude_m", self.late_valid_altitude_m, 0.0, 1e6))
        thrust_fraction = check_interval(owner, "thrust_fraction", self.thrust_fraction, 0.0, 1.0)
        object.__setattr__(self, "thrust_fraction", thrust_fraction)
        check_range(owner, "gyro_bias_jump_deg_per_h", self.gyro_bias_jump_deg_per_h, 0.0, 1e6)
        check_range(owner, "accel_bias_jump_ug", self.accel_bias_jump_ug, 0.0, 1e7)

    def onsets(self) -> tuple[FaultOnset, ...]:
        """The onsets in FAULT_NAMES order."""
        return tuple(getattr(self, name) for name in FAULT_NAMES)

    @property
    def any_possible(self) -> bool:
        return any(onset.probability > 0.0 for onset in self.onsets())


NO_FAULTS = FaultSpec()


# --------------------------------------------------------------------------- compiled kernels


@njit(cache=True)
def draw_faults(x, flags, rng, lander, faults, i):
    """Draw lander i's faults for a new episode: which happen, their onsets and their sizes.

    Always the same number of draws (two per fault, four sizes, three normal pairs), so the
    rest of the stream does not depend on which faults are armed.
    """
    armed = 0
    for f in range(faults.probability.shape[0]):
        u_happens = next_uniform(rng, i)
        u_onset = next_uniform(rng, i)
        if u_happens < faults.probability[f]:
            armed |= 1 << f
        x[i, FAULT_ONSET + f] = faults.onset_low[f] + (faults.onset_high[f] - faults.onset_low[f]) * u_onset
    flags[i, FAULTS_ARMED] = armed
    flags[i, FAULTS_ACTIVE] = 0
    x[i, FAULT_RIM_JUMP] = faults.rim_jump_low + (faults.rim_jump_high - faults.rim_jump_low) * next_uniform(rng, i)
    x[i, FAULT_LATE_ALTITUDE] = faults.late_low + (faults.late_high - faults.late_low) * next_uniform(rng, i)
    x[i, FAULT_THRUST_FRACTION] = faults.thrust_fraction_low + (
        faults.thrust_fraction_high - faults.thrust_fraction_low
    ) * next_uniform(rng, i)
    num_engines = lander.engine_max_thrust.shape[0]
    flags[i, FAULT_ENGINE] = min(int(next_uniform(rng, i) * num_engines), num_engines - 1)
    a, b = next_normal_pair(rng, i)
    c, d = next_normal_pair(rng, i)
    e, g = next_normal_pair(rng, i)
    _store_direction(x, i, FAULT_GYRO_JUMP_X, a, b, c, faults.gyro_jump)
    _store_direction(x, i, FAULT_ACCEL_JUMP_X, d, e, g, faults.accel_jump)


@njit(cache=True, inline="always")
def _store_direction(x, i, column, a, b, c, magnitude):
    """Write ``magnitude`` times the unit vector of (a, b, c) (a uniform random direction) to 3 columns."""
    norm = np.sqrt(a * a + b * b + c * c)
    scale = magnitude / norm if norm > 0.0 else 0.0
    x[i, column] = a * scale
    x[i, column + 1] = b * scale
    x[i, column + 2] = c * scale


@njit(cache=True)
def start_faults(x, flags, lander, faults, i, altitude):
    """Start lander i's armed faults whose onset has come and apply their one-time effects.

    ``altitude`` is the true height (m) of the centre of mass above the terrain directly below.
    The lasting effects of the altimeter faults are applied by the altimeter model, which
    reads FAULTS_ACTIVE.
    """
    waiting = flags[i, FAULTS_ARMED] & ~flags[i, FAULTS_ACTIVE]
    if waiting == 0:
        return
    for f in range(faults.probability.shape[0]):
        bit = 1 << f
        if (waiting & bit) == 0:
            continue
        onset = x[i, FAULT_ONSET + f]
        if faults.onset_kind[f] == ONSET_TIME:
            due = x[i, TIME] >= onset
        else:
            due = altitude <= onset
        if not due:
            continue
        flags[i, FAULTS_ACTIVE] |= bit
        if f == ALTIMETER_RIM_JUMP:
            # The estimate follows vertical motion, so it keeps its value while the ground drops
            # away: relative to the new ground it now reads rim_jump too low.
            x[i, NAV_ALTITUDE] -= x[i, FAULT_RIM_JUMP]
        elif f == THRUST_LOSS:
            for e in range(lander.engine_max_thrust.shape[0]):
                x[i, HEALTH + e] *= x[i, FAULT_THRUST_FRACTION]
        elif f == ENGINE_OUT:
            x[i, HEALTH + flags[i, FAULT_ENGINE]] = 0.0
        elif f == IMU_BIAS_JUMP:
            for axis in range(3):
                x[i, GYRO_BIAS_X + axis] += x[i, FAULT_GYRO_JUMP_X + axis]
                x[i, ACCEL_BIAS_X + axis] += x[i, FAULT_ACCEL_JUMP_X + axis]


def gyro_jump_rad_s(spec: FaultSpec) -> float:
    return math.radians(spec.gyro_bias_jump_deg_per_h) / 3600.0


def accel_jump_mps2(spec: FaultSpec) -> float:
    return spec.accel_bias_jump_ug * MICRO_G_MPS2
