"""Bad input fails early with a message that names the problem."""

import dataclasses

import gymnasium as gym
import numpy as np
import pytest

import lunar_env  # noqa: F401
from lunar_env.config import EngineSpec, InitialStateSpec, RewardSpec, Scenario, SensorSpec
from lunar_env.landers import VIKRAM_LIKE
from lunar_env.simulator import LanderBatch


@pytest.mark.parametrize(
    "build, message",
    [
        (
            lambda: dataclasses.replace(VIKRAM_LIKE, dry_mass_kg=-5.0),
            r"LanderSpec.dry_mass_kg must be in \(0, 1e\+06\], got -5.0",
        ),
        (lambda: dataclasses.replace(VIKRAM_LIKE, engines=()), r"LanderSpec.engines must hold 1 to 8 engines, got 0"),
        (lambda: dataclasses.replace(VIKRAM_LIKE, max_tilt_deg=float("nan")), r"LanderSpec.max_tilt_deg"),
        (
            lambda: dataclasses.replace(VIKRAM_LIKE, leg_feet_m=((1, 0, 1), (0, 1, -1), (-1, 0, -1))),
            r"below the centre of mass",
        ),
        (lambda: EngineSpec(position_m=(0, 0, 0), direction=(0, 0, 2)), r"EngineSpec.direction must be a unit vector"),
        (lambda: EngineSpec(position_m=(0, 0), direction=(0, 0, 1)), r"EngineSpec.position_m must be 3 finite numbers"),
        (lambda: EngineSpec(position_m=(0, 0, 0), min_throttle=1.0), r"EngineSpec.min_throttle must be in \[0, 1\)"),
        (lambda: SensorSpec(position_noise_m=-1), r"SensorSpec.position_noise_m"),
        (lambda: RewardSpec(glide_slope_deg=90), r"RewardSpec.glide_slope_deg must be in \[0, 90\)"),
        (lambda: InitialStateSpec(altitude_m=(2000, 1000)), r"InitialStateSpec.altitude_m must have min <= max"),
        (lambda: InitialStateSpec(altitude_m=3000), r"InitialStateSpec.altitude_m must be a \(min, max\) pair"),
        (
            lambda: Scenario(name="x", lander=VIKRAM_LIKE, physics_substeps=0),
            r"Scenario.physics_substeps must be an integer in \[1, 100\]",
        ),
        (
            lambda: Scenario(name="x", lander=VIKRAM_LIKE, max_altitude_m=1000),
            r"Scenario.max_altitude_m \(1000\) must exceed",
        ),
        (lambda: Scenario(name="x", lander="vikram"), r"Scenario.lander must be a LanderSpec"),
    ],
)
def test_bad_configuration_names_the_field(build, message):
    with pytest.raises(ValueError, match=message):
        build()


def test_unknown_names_list_the_choices():
    with pytest.raises(ValueError, match=r"unknown scenario 'moon'; choose one of \["):
        gym.make("lunar_env/SouthPole-v0", scenario="moon")
    with pytest.raises(ValueError, match=r"unknown lander 'luna'"):
        gym.make("lunar_env/SouthPole-v0", lander="luna")
    with pytest.raises(ValueError, match=r"mode must be one of"):
        LanderBatch("nominal", 1, mode="2dof")
    with pytest.raises(ValueError, match=r"observation_mode must be one of"):
        LanderBatch("nominal", 1, observation_mode="perfect")
    with pytest.raises(ValueError, match=r"LanderBatch.num_landers must be an integer >= 1, got 0"):
        LanderBatch("nominal", 0)
    with pytest.raises(ValueError, match=r"LanderBatch.num_landers must be an integer >= 1, got True"):
        LanderBatch("nominal", True)  # a bool is not a count


def test_nan_actions_are_refused_not_integrated():
    batch = LanderBatch("nominal", 4, mode="3dof")
    batch.reset(seed=0)
    before = batch.state.x.copy()
    actions = np.zeros((4, 3), np.float32)
    actions[2, 1] = np.nan
    with pytest.raises(ValueError, match=r"NaN or inf for lander\(s\) \[2\]"):
        batch.step(actions)
    np.testing.assert_array_equal(batch.state.x, before)


def test_wrongly_shaped_actions_are_refused():
    env = gym.make("lunar_env/SouthPole-v0")
    env.reset(seed=0)
    with pytest.raises(ValueError, match=r"actions must have shape \(1, 7\)"):
        env.step(np.zeros(5, np.float32))
    envs = gym.make_vec("lunar_env/SouthPole3DoF-v0", num_envs=3, vectorization_mode="vector_entry_point")
    envs.reset(seed=0)
    with pytest.raises(ValueError, match=r"actions must have shape \(3, 3\)"):
        envs.step(np.zeros((3, 7), np.float32))


def test_out_of_range_actions_are_clipped():
    a = LanderBatch("nominal", 1, mode="6dof")
    b = LanderBatch("nominal", 1, mode="6dof")
    a.reset(seed=5)
    b.reset(seed=5)
    big = np.full((1, 7), 7.5, np.float32)
    one = np.ones((1, 7), np.float32)
    np.testing.assert_array_equal(a.step(big)[0], b.step(one)[0])


def test_bad_seed_is_refused():
    batch = LanderBatch("nominal", 1)
    with pytest.raises(ValueError, match=r"seed must be an integer"):
        batch.reset(seed=-1)
    with pytest.raises(ValueError, match=r"seed must be an integer"):
        batch.reset(seed=1.5)
