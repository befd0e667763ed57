"""Gymnasium environments over the batched core: the VectorEnv (primary) and the single Env."""

from lunar_env.envs.single_env import SouthPoleEnv
from lunar_env.envs.vector_env import SouthPoleVectorEnv

__all__ = ["SouthPoleEnv", "SouthPoleVectorEnv"]
