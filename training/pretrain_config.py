"""Settings of the behavior-cloning warm start (training/pretrain.py), kept free of torch."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class PretrainConfig:
    """Behavior-cloning warm start (``pretrain:`` in a training config)."""

    expert: str = "zemzev"  # a policy name or path agents.registry.load_policy accepts
    expert_options: dict = field(default_factory=dict)  # keyword arguments of a built-in expert law
    episodes: int = 1024  # demonstration episodes
    action_noise: float = 0.1  # std of the noise added to executed actions (action units)
    epochs: int = 20
    batch_size: int = 4096
    learning_rate: float = 1e-3
    critic_warmup_steps: int = 1_000_000  # PPO steps with the actor frozen after cloning
    focus_altitude_m: float = 0.0  # samples observed below this altitude (m) ...
    focus_weight: float = 1.0  # ... weigh this much in the cloning loss
    dagger_rounds: int = 0  # rounds of DAgger after the first fit (0: noise injection only)
    dagger_episodes: int = 512  # clone flights labelled by the expert per round
    dagger_epochs: int = 10  # fitting epochs over the grown data set per round

    def __post_init__(self) -> None:
        for key in ("episodes", "epochs", "batch_size", "dagger_episodes", "dagger_epochs"):
            value = getattr(self, key)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"pretrain.{key} must be a positive integer, got {value!r}")
        if not 0 <= self.action_noise <= 1:
            raise ValueError(f"pretrain.action_noise must be in [0, 1], got {self.action_noise!r}")
        if not 0 < self.learning_rate < 1:
            raise ValueError(f"pretrain.learning_rate must be in (0, 1), got {self.learning_rate!r}")
        if not self.focus_altitude_m >= 0:
            raise ValueError(f"pretrain.focus_altitude_m must be >= 0, got {self.focus_altitude_m!r}")
        if not self.focus_weight > 0:
            raise ValueError(f"pretrain.focus_weight must be > 0, got {self.focus_weight!r}")
        if not isinstance(self.expert_options, dict) or not all(isinstance(k, str) for k in self.expert_options):
            raise ValueError(f"pretrain.expert_options must be a mapping of setting names, got {self.expert_options!r}")
        if not isinstance(self.dagger_rounds, int) or self.dagger_rounds < 0:
            raise ValueError(f"pretrain.dagger_rounds must be a non-negative integer, got {self.dagger_rounds!r}")
        if not isinstance(self.critic_warmup_steps, int) or self.critic_warmup_steps < 0:
            raise ValueError(f"pretrain.critic_warmup_steps must be a non-negative integer, got {self.critic_warmup_steps!r}")
