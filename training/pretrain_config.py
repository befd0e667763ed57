"""Settings of the behavior-cloning warm start (training/pretrain.py), kept free of torch."""

from __future__ import annotations

from dataclasses import dataclass, field

from training.field_checks import check_int, check_mapping, check_number, check_text


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
        def store(key, value):  # a YAML 5.0e3 becomes the int 5000 (the dataclass is frozen)
            object.__setattr__(self, key, value)

        check_text("pretrain.expert", self.expert)
        for key in ("episodes", "epochs", "batch_size", "dagger_episodes", "dagger_epochs"):
            store(key, check_int(f"pretrain.{key}", getattr(self, key), low=1))
        for key in ("dagger_rounds", "critic_warmup_steps"):
            store(key, check_int(f"pretrain.{key}", getattr(self, key), low=0))
        store("action_noise", check_number("pretrain.action_noise", self.action_noise, 0, 1))
        store("learning_rate", check_number("pretrain.learning_rate", self.learning_rate, 0, 1,
                                            low_open=True, high_open=True))
        store("focus_altitude_m", check_number("pretrain.focus_altitude_m", self.focus_altitude_m, low=0))
        store("focus_weight", check_number("pretrain.focus_weight", self.focus_weight, low=0, low_open=True))
        store("expert_options", dict(check_mapping("pretrain.expert_options", self.expert_options)))
