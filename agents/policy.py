"""The policy interface every agent implements, so one benchmark scores them all the same way."""

from __future__ import annotations

import numpy as np


class Policy:
    """A batched policy: float32 observations (n, obs_dim) in, float32 actions (n, act_dim) out.

    Stateful policies (recurrent nets, guidance with memory) clear the state of the landers in
    ``mask`` in :meth:`reset`; stateless ones need not override it.
    """

    #: "6dof", "3dof", or None when the policy handles both action spaces.
    mode: str | None = None

    def reset(self, num_landers: int, mask: np.ndarray | None = None) -> None:
        """Forget what was remembered about the landers in ``mask`` (all when None)."""

    def act(self, obs: np.ndarray) -> np.ndarray:
        raise NotImplementedError


class RandomPolicy(Policy):
    """Uniform random actions in [-1, 1], from its own seeded generator."""

    def __init__(self, act_dim: int, seed: int = 0):
        self.act_dim = int(act_dim)
        self.rng = np.random.default_rng(seed)

    def act(self, obs: np.ndarray) -> np.ndarray:
        return self.rng.uniform(-1.0, 1.0, (obs.shape[0], self.act_dim)).astype(np.float32)


class CallablePolicy(Policy):
    """A plain function ``fn(obs (n, obs_dim)) -> actions (n, act_dim)`` as a Policy."""

    def __init__(self, fn, mode: str | None = None):
        if not callable(fn):
            raise ValueError(f"CallablePolicy needs a callable, got {type(fn).__name__}")
        self.fn = fn
        self.mode = mode

    def act(self, obs: np.ndarray) -> np.ndarray:
        return np.asarray(self.fn(obs), dtype=np.float32)
