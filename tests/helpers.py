"""Shared builders for the tests: custom landers, scenarios and hand-set states."""

from __future__ import annotations

import dataclasses

import numpy as np

from lunar_env.config import InitialStateSpec, Scenario, SensorSpec
from lunar_env.landers import VIKRAM_LIKE
from lunar_env.physics import state as S
from lunar_env.simulator import LanderBatch


def lander(min_throttle: float = 0.0, throttle_time_constant_s: float = 0.0, **overrides):
    """The Vikram-like lander with engines that can shut down and respond instantly."""
    engines = tuple(dataclasses.replace(e, min_throttle=min_throttle) for e in VIKRAM_LIKE.engines)
    return dataclasses.replace(
        VIKRAM_LIKE, engines=engines, throttle_time_constant_s=throttle_time_constant_s, **overrides
    )


def scenario(spec=None, **overrides) -> Scenario:
    base = dict(
        name="test",
        lander=spec if spec is not None else lander(),
        initial=InitialStateSpec(),
        sensors=SensorSpec(),
        time_limit_s=600.0,
        max_altitude_m=1e5,
        max_horizontal_distance_m=1e5,
    )
    base.update(overrides)
    return Scenario(**base)


def set_state(
    batch: LanderBatch,
    i: int = 0,
    position=(0.0, 0.0, 1000.0),
    velocity=(0.0, 0.0, 0.0),
    attitude=(1.0, 0.0, 0.0, 0.0),
    angular_rate=(0.0, 0.0, 0.0),
    mass=None,
    throttle=None,
) -> None:
    """Overwrite lander i's physical state (after a reset)."""
    x = batch.state.x
    x[i, S.PX : S.PZ + 1] = position
    x[i, S.VX : S.VZ + 1] = velocity
    q = np.asarray(attitude, dtype=np.float64)
    x[i, S.QW : S.QZ + 1] = q / np.linalg.norm(q)
    x[i, S.WX : S.WZ + 1] = angular_rate
    if mass is not None:
        x[i, S.MASS] = mass
        x[i, S.PROPELLANT_START] = mass - batch.lander.dry_mass
    if throttle is not None:
        x[i, S.THROTTLE : S.THROTTLE + batch.num_engines] = throttle
        x[i, S.THROTTLE_CMD : S.THROTTLE_CMD + batch.num_engines] = throttle


def engines_off_action(batch: LanderBatch) -> np.ndarray:
    """6-DOF action: every engine at -1 (off when min throttle is 0) and no torque."""
    a = np.zeros((batch.num_landers, batch.act_dim), dtype=np.float32)
    a[:, : batch.num_engines] = -1.0
    return a


def throttle_action(batch: LanderBatch, fraction: float) -> np.ndarray:
    """6-DOF action giving every engine ``fraction`` of full throttle (min throttle 0)."""
    a = np.zeros((batch.num_landers, batch.act_dim), dtype=np.float32)
    a[:, : batch.num_engines] = 2.0 * fraction - 1.0
    return a


def vertical_thrust_action(batch: LanderBatch, thrust_n: float) -> np.ndarray:
    """3-DOF action commanding ``thrust_n`` straight up (the env maps up from [-1, 1] to [0, T_max])."""
    a = np.zeros((batch.num_landers, 3), dtype=np.float32)
    a[:, 2] = 2.0 * thrust_n / batch.lander.max_axial_thrust - 1.0
    return a


def json_strings(value):
    """Every string in a parsed JSON document, keys included."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in (*value.keys(), *value.values()):
            yield from json_strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from json_strings(v)
