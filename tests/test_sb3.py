"""The stable-baselines3 adapter: SB3's conventions and a short PPO run."""

import numpy as np

from lunar_env.sensors import OBS_DIM
from training.sb3_vec_env import SouthPoleSB3VecEnv


def test_adapter_follows_sb3_autoreset_conventions():
    env = SouthPoleSB3VecEnv(4, scenario="hover_start", mode="3dof", seed=0)
    obs = env.reset()
    assert obs.shape == (4, OBS_DIM)
    action = np.zeros((4, 3), np.float32)
    action[:, 2] = 1.0  # climb away: out of bounds after a while
    for _ in range(5000):
        obs, rewards, dones, infos = env.step(action)
        if dones.any():
            break
    i = int(np.flatnonzero(dones)[0])
    info = infos[i]
    assert info["terminal_observation"].shape == (OBS_DIM,)
    assert info["terminal_observation"][2] > 1000.0  # the last observation, high up
    assert obs[i, 15] == 0.0  # the returned observation already starts the next episode
    assert info["outcome_name"] == "out_of_bounds" and info["is_success"] is False
    assert info["episode"]["l"] > 0 and np.isfinite(info["episode"]["r"])
    assert info["TimeLimit.truncated"] is False


def test_ppo_trains_a_few_thousand_steps_on_the_adapter():
    from stable_baselines3 import PPO

    env = SouthPoleSB3VecEnv(32, scenario="hover_start", mode="3dof", seed=1)
    model = PPO("MlpPolicy", env, n_steps=64, batch_size=512, n_epochs=2, seed=1, device="cpu", verbose=0)
    model.learn(total_timesteps=4096)
    assert model.num_timesteps >= 4096
    action, _ = model.predict(env.reset(), deterministic=True)
    assert action.shape == (32, 3) and np.all(np.isfinite(action))


def test_time_limit_is_terminal_unless_bootstrapping_is_asked_for():
    import dataclasses

    from lunar_env.scenarios import get_scenario

    short = dataclasses.replace(get_scenario("hover_start"), time_limit_s=0.5)
    for bootstrap in (False, True):
        env = SouthPoleSB3VecEnv(2, scenario=short, mode="3dof", seed=0, bootstrap_time_limit=bootstrap)
        env.reset()
        hover = np.tile(np.array([0.0, 0.0, 0.0], np.float32), (2, 1))
        for _ in range(short.max_steps):
            _, _, done, infos = env.step(hover)
        assert done.all()
        assert all(info["outcome_name"] == "time_limit" for info in infos)
        assert all(info["TimeLimit.truncated"] is bootstrap for info in infos)
