"""Gymnasium and stable-baselines3 API conformance of the environments."""

import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env as gym_check_env

import lunar_env
from lunar_env.envs import SouthPoleEnv, SouthPoleVectorEnv
from lunar_env.sensors import OBS_DIM, observation_slices

IDS = list(lunar_env.ENV_IDS)


@pytest.mark.parametrize("env_id", IDS)
def test_gymnasium_env_checker_passes(env_id):
    env = gym.make(env_id)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no checker warning either
        gym_check_env(env.unwrapped)


@pytest.mark.parametrize("env_id", IDS)
def test_stable_baselines3_env_checker_passes(env_id):
    from stable_baselines3.common.env_checker import check_env as sb3_check_env

    sb3_check_env(gym.make(env_id).unwrapped, warn=True)


@pytest.mark.parametrize("env_id, act_dim", [("lunar_env/SouthPole-v0", 7), ("lunar_env/SouthPole3DoF-v0", 3)])
def test_make_vec_gives_the_native_batch(env_id, act_dim):
    envs = gym.make_vec(env_id, num_envs=5, vectorization_mode="vector_entry_point")
    assert isinstance(envs, SouthPoleVectorEnv)
    assert envs.single_action_space.shape == (act_dim,)
    assert envs.action_space.shape == (5, act_dim)
    assert envs.observation_space.shape == (5, OBS_DIM)
    obs, info = envs.reset(seed=1)
    assert obs.shape == (5, OBS_DIM) and obs.dtype == np.float32
    assert envs.observation_space.contains(obs)
    obs, rewards, terminated, truncated, infos = envs.step(envs.action_space.sample())
    assert rewards.shape == (5,) and terminated.dtype == np.bool_ and truncated.dtype == np.bool_


def test_scenario_and_lander_selection_through_make():
    env = gym.make("lunar_env/SouthPole-v0", scenario="hover_start", lander="apollo_lm")
    assert env.unwrapped.scenario.name == "hover_start"
    assert env.unwrapped.scenario.lander.name == "apollo_lm"
    assert env.action_space.shape == (4,)  # one engine + three torques


def test_single_env_flies_lander_zero_of_the_vector_env():
    single = SouthPoleEnv(mode="3dof")
    vector = SouthPoleVectorEnv(num_envs=3, mode="3dof")
    obs_s, _ = single.reset(seed=42)
    obs_v, _ = vector.reset(seed=42)
    np.testing.assert_array_equal(obs_s, obs_v[0])
    rng = np.random.default_rng(0)
    for _ in range(50):
        a = rng.uniform(-1, 1, (3, 3)).astype(np.float32)
        obs_s, r_s, *_ = single.step(a[0])
        obs_v, r_v, *_ = vector.step(a)
        np.testing.assert_array_equal(obs_s, obs_v[0])
        assert r_s == r_v[0]


def run_to_first_end(envs, seed=0):
    envs.reset(seed=seed)
    action = np.zeros(envs.action_space.shape, np.float32)
    action[:, 2] = 1.0  # full thrust up: climbs out of the region quickly
    for step in range(10_000):
        obs, rewards, terminated, truncated, infos = envs.step(action)
        if (terminated | truncated).any():
            return step, obs, rewards, terminated, truncated, infos, action
    raise AssertionError("no episode ended")


def test_next_step_autoreset_returns_the_reset_observation_one_step_later():
    envs = SouthPoleVectorEnv(num_envs=2, mode="3dof", scenario="hover_start", autoreset_mode="next_step")
    _, obs, _, terminated, _, infos, action = run_to_first_end(envs)
    done = terminated.copy()
    assert infos["_outcome_name"][done].all()
    assert set(infos["outcome_name"][done]) == {"out_of_bounds"}
    obs2, rewards2, terminated2, truncated2, _ = envs.step(action)
    assert np.all(rewards2[done] == 0.0)
    assert not terminated2[done].any() and not truncated2[done].any()
    assert np.all(obs2[done, observation_slices()["time"]] == 0.0)  # a new episode starts


def test_same_step_autoreset_puts_the_final_observation_in_infos():
    envs = SouthPoleVectorEnv(num_envs=2, mode="3dof", scenario="hover_start", autoreset_mode="same_step")
    _, obs, _, terminated, _, infos, _ = run_to_first_end(envs)
    done = terminated
    assert infos["_final_obs"][done].all()
    assert np.all(infos["final_obs"][done, observation_slices()["position"]][:, 2] > 1000.0)
    assert np.all(obs[done, observation_slices()["time"]] == 0.0)


def test_vector_env_copies_observations_by_default():
    envs = SouthPoleVectorEnv(num_envs=2, mode="3dof")
    first, _ = envs.reset(seed=0)
    kept = first.copy()
    envs.step(np.zeros((2, 3), np.float32))
    np.testing.assert_array_equal(first, kept)
