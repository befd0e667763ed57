"""Settings of the behavior-cloning warm start (training/pretrain.py), kept free of torch."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PretrainConfig:
    """Behavior-cloning warm start (``pretrain:`` in a training config)."""

    expert: str = "zemzev"  # a policy name or path agents.registry.load_policy accepts
    episodes: int = 1024  # demonstration episodes
    action_noise: float = 0.1  # std of the noise added to executed actions (action units)
    epochs: int = 20
    batch_size: int = 4096
    learning_rate: float = 1e-3
    critic_warmup_steps: int = 1_000_000  # PPO steps with the actor frozen after cloning

    def __post_init__(self) -> None:
        for key in ("episodes", "epochs", "batch_size"):
            value = getattr(self, key)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"pretrain.{key} must be a positive integer, got {value!r}")
        if not 0 <= self.action_noise <= 1:
            raise ValueError(f"pretrain.action_noise must be in [0, 1], got {self.action_noise!r}")
        if not 0 < self.learning_rate < 1:
            raise ValueError(f"pretrain.learning_rate must be in (0, 1), got {self.learning_rate!r}")
        if not isinstance(self.critic_warmup_steps, int) or self.critic_warmup_steps < 0:
            raise ValueError(f"pretrain.critic_warmup_steps must be a non-negative integer, got {self.critic_warmup_steps!r}")
