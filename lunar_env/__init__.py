"""Powered lunar landing at the lunar south pole: a batched numba physics core and Gymnasium environments.

Importing the package registers the environments::

    import gymnasium as gym
    import lunar_env

    env = gym.make("lunar_env/SouthPole-v0")  # 6-DOF, one lander
    envs = gym.make_vec("lunar_env/SouthPole3DoF-v0", num_envs=1024, vectorization_mode="vector_entry_point")
"""

from gymnasium.envs.registration import register, registry

from lunar_env import numba_cache as _numba_cache

_numba_cache.configure()  # before any compiled module is imported: the cache must match these sources

__version__ = "0.1.0"

ENV_IDS = {"lunar_env/SouthPole-v0": "6dof", "lunar_env/SouthPole3DoF-v0": "3dof"}

for _env_id, _mode in ENV_IDS.items():
    if _env_id not in registry:
        register(
            id=_env_id,
            entry_point="lunar_env.envs.single_env:SouthPoleEnv",
            vector_entry_point="lunar_env.envs.vector_env:SouthPoleVectorEnv",
            kwargs={"mode": _mode},
        )
