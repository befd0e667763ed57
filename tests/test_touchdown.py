"""Touchdown classification, tip-over and the other ways an episode ends."""

import math

import numpy as np
import pytest
from helpers import engines_off_action, lander, scenario, set_state

from lunar_env.physics import outcomes
from lunar_env.physics.quaternion import from_axis_angle
from lunar_env.simulator import LanderBatch
from lunar_env.terrain import plane_tile

G = 1.62


def drop(velocity, position_xy=(0.0, 0.0), attitude=(1.0, 0.0, 0.0, 0.0), angular_rate=(0.0, 0.0, 0.0),
         spec=None, tiles=None, height=0.3, **overrides):
    """Release a lander with engines off just above the ground and return the finished batch."""
    spec = spec if spec is not None else lander()
    batch = LanderBatch(scenario(spec, **overrides), 1, mode="6dof", observation_mode="truth", terrain_tiles=tiles)
    batch.reset(seed=0)
    z0 = batch.lander.touchdown_height + height
    if tiles is not None:
        z0 += tiles[0].fine.height_at(*position_xy)
    set_state(batch, position=(position_xy[0], position_xy[1], z0), velocity=velocity, attitude=attitude,
              angular_rate=angular_rate, throttle=0.0)
    action = engines_off_action(batch)
    for _ in range(200):
        _, _, terminated, truncated = batch.step(action)
        if terminated[0] or truncated[0]:
            break
    return batch


def metrics(batch):
    return {k: v[0] for k, v in batch.episode_metrics(np.array([0])).items()}


def test_soft_upright_touchdown_on_target_is_a_landing():
    batch = drop(velocity=(0.1, 0.0, -1.0))
    m = metrics(batch)
    assert batch.state.outcome[0] == outcomes.LANDED
    assert m["is_success"]
    # The drop adds sqrt(2 g h) of sink: the reported touchdown speed is the speed at contact.
    assert m["touchdown_vertical_speed"] == pytest.approx(math.sqrt(1.0 + 2 * G * 0.3), abs=0.05)
    assert m["touchdown_horizontal_speed"] == pytest.approx(0.1, abs=1e-9)


@pytest.mark.parametrize(
    "kwargs, expected",
    [
        (dict(velocity=(0.0, 0.0, -2.5)), outcomes.CRASH_VERTICAL_SPEED),
        (dict(velocity=(0.9, 0.0, -1.0)), outcomes.CRASH_HORIZONTAL_SPEED),
        (
            dict(velocity=(0.0, 0.0, -1.0), attitude=from_axis_angle(1.0, 0.0, 0.0, math.radians(15))),
            outcomes.CRASH_TILT,
        ),
        (dict(velocity=(0.0, 0.0, -1.0), angular_rate=(0.0, 0.0, math.radians(8))), outcomes.CRASH_ANGULAR_RATE),
        (dict(velocity=(0.0, 0.0, -1.0), position_xy=(150.0, 0.0)), outcomes.LANDED_OFF_TARGET),
    ],
)
def test_each_limit_names_its_crash(kwargs, expected):
    batch = drop(**kwargs)
    assert batch.state.outcome[0] == expected
    assert not metrics(batch)["is_success"]


def test_slope_steeper_than_the_limit_is_a_crash():
    slope = math.tan(math.radians(20.0))
    tiles = [plane_tile(slope, 0.0)]
    tilt = from_axis_angle(0.0, -1.0, 0.0, math.radians(20.0))  # legs parallel to the slope
    batch = drop(velocity=(0.0, 0.0, -1.0), tiles=tiles, attitude=tilt, spec=lander(max_tilt_deg=30.0), height=0.2)
    assert batch.state.outcome[0] == outcomes.CRASH_SLOPE
    assert metrics(batch)["touchdown_slope_deg"] == pytest.approx(20.0, abs=1e-6)


def test_a_narrow_tall_lander_tips_over_on_a_slope_it_may_land_on():
    narrow_feet = tuple((0.25 * math.cos(a), 0.25 * math.sin(a), -1.5) for a in np.radians([45, 135, 225, 315]))
    spec = lander(leg_feet_m=narrow_feet, max_tilt_deg=15.0)
    slope = math.tan(math.radians(10.0))  # below the 12 deg slope limit, beyond atan(0.18 / 1.5) = 6.8 deg
    tiles = [plane_tile(slope, 0.0)]
    tilt = from_axis_angle(0.0, -1.0, 0.0, math.radians(10.0))
    batch = drop(velocity=(0.0, 0.0, -1.0), tiles=tiles, attitude=tilt, spec=spec, height=0.5)
    assert batch.state.outcome[0] == outcomes.TIPPED_OVER
    # The standard lander stands on the same slope.
    batch = drop(velocity=(0.0, 0.0, -1.0), tiles=tiles, attitude=tilt, spec=lander(max_tilt_deg=15.0), height=0.5)
    assert batch.state.outcome[0] == outcomes.LANDED


def test_fast_sideways_touchdown_tips_a_lander_over():
    # Within the horizontal-speed limit but with a high centre of mass: the pivot energy wins.
    high_feet = tuple((0.6 * math.cos(a), 0.6 * math.sin(a), -4.0) for a in np.radians([45, 135, 225, 315]))
    spec = lander(leg_feet_m=high_feet, max_horizontal_speed_mps=3.0)
    assert drop(velocity=(2.5, 0.0, -1.0), spec=spec).state.outcome[0] == outcomes.TIPPED_OVER
    assert drop(velocity=(0.2, 0.0, -1.0), spec=spec).state.outcome[0] == outcomes.LANDED


def test_running_dry_high_up_ends_the_episode_with_the_predicted_impact_speed():
    spec = lander()
    batch = LanderBatch(scenario(spec), 1, mode="6dof", observation_mode="truth")
    batch.reset(seed=0)
    set_state(batch, position=(0.0, 0.0, 500.0), velocity=(3.0, 0.0, -10.0), mass=spec.dry_mass_kg + 1e-3, throttle=1.0)
    _, _, terminated, _ = batch.step(engines_off_action(batch) * 0 + 1.0)
    assert terminated[0]
    assert batch.state.outcome[0] == outcomes.PROPELLANT_EXHAUSTED
    m = metrics(batch)
    z = batch.state.position[0, 2] - batch.lander.touchdown_height
    v = batch.state.velocity[0]
    assert m["impact_speed"] == pytest.approx(math.sqrt(v @ v + 2 * G * z), rel=1e-9)


def test_running_dry_just_above_the_ground_may_still_land():
    spec = lander()
    batch = LanderBatch(scenario(spec), 1, mode="6dof", observation_mode="truth")
    batch.reset(seed=0)
    set_state(
        batch,
        position=(0.0, 0.0, batch.lander.touchdown_height + 0.5),
        velocity=(0.0, 0.0, -0.5),
        mass=spec.dry_mass_kg,
        throttle=0.0,
    )
    for _ in range(50):
        _, _, terminated, _ = batch.step(engines_off_action(batch))
        if terminated[0]:
            break
    assert batch.state.outcome[0] == outcomes.LANDED


def test_leaving_the_region_and_the_time_limit():
    spec = lander()
    batch = LanderBatch(scenario(spec, max_horizontal_distance_m=1000.0), 1, mode="6dof", observation_mode="truth")
    batch.reset(seed=0)
    set_state(batch, position=(990.0, 0.0, 3000.0), velocity=(200.0, 0.0, 0.0), throttle=0.0)
    _, _, terminated, truncated = batch.step(engines_off_action(batch))
    assert terminated[0] and not truncated[0]
    assert batch.state.outcome[0] == outcomes.OUT_OF_BOUNDS

    batch = LanderBatch(scenario(spec, time_limit_s=1.0), 1, mode="6dof", observation_mode="truth")
    batch.reset(seed=0)
    set_state(batch, position=(0.0, 0.0, 3000.0))
    flags = []
    for _ in range(10):
        _, _, terminated, truncated = batch.step(np.zeros((1, batch.act_dim), np.float32))
        flags.append((bool(terminated[0]), bool(truncated[0])))
    assert flags[:9] == [(False, False)] * 9
    assert flags[9] == (False, True)
    assert batch.state.outcome[0] == outcomes.TIME_LIMIT
