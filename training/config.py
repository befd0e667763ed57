"""Training configuration: every hyperparameter, the environment, the scenario and the budget
live in one YAML file; a few common ones can be overridden on the command line.

Unknown keys and bad values are refused with a message naming the key, so a typo in a config
never trains silently with a default.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import lunar_env
from training.pretrain_config import PretrainConfig

# Seeds of the benchmark (lunar bench --seed) are small integers; training and its periodic
# evaluation draw their episodes from streams far away from them.
TRAIN_SEED_OFFSET = 1_000_000
EVAL_SEED_OFFSET = 2_000_000
PRETRAIN_SEED_OFFSET = 3_000_000
DAGGER_SEED_STRIDE = 10_000  # DAgger round k flies stream PRETRAIN_SEED_OFFSET + seed + k * stride


@dataclass(frozen=True)
class PPOConfig:
    """stable-baselines3 PPO hyperparameters (same names and meanings as SB3's)."""

    learning_rate: float = 3e-4
    final_learning_rate: float | None = None  # linear decay to this when set
    n_steps: int = 64
    batch_size: int = 4096
    n_epochs: int = 5
    gamma: float = 0.99
    gae_lambda: float = 0.95
    clip_range: float = 0.2
    ent_coef: float = 0.0
    vf_coef: float = 0.5
    max_grad_norm: float = 0.5
    target_kl: float | None = None
    net_arch: tuple[int, ...] = (64, 64)
    activation: str = "tanh"
    log_std_init: float = -1.0


@dataclass(frozen=True)
class TrainConfig:
    """One training run. ``num_envs`` landers are stepped in one native batch (no subprocesses)."""

    name: str = "ppo"
    env_id: str = "lunar_env/SouthPole3DoF-v0"
    scenario: str = "nominal"
    observation_mode: str = "sensors"
    num_envs: int = 256
    total_timesteps: int = 5_000_000
    seed: int = 1
    torch_threads: int = 1
    normalize_reward: bool = True
    clip_obs: float = 10.0
    eval_every_steps: int = 500_000
    eval_episodes: int = 500
    checkpoint_every_steps: int = 500_000
    stop_at_success_rate: float | None = None  # stop early once an evaluation reaches this
    reward: dict = field(default_factory=dict)  # RewardSpec fields replacing the scenario's
    ppo: PPOConfig = field(default_factory=PPOConfig)
    pretrain: PretrainConfig | None = None  # behavior-cloning warm start (training/pretrain.py)

    def training_scenario(self):
        """The scenario trained on: the named one with this config's reward weights."""
        from lunar_env.scenarios import get_scenario

        scenario = get_scenario(self.scenario)
        if not self.reward:
            return scenario
        try:
            reward = dataclasses.replace(scenario.reward, **self.reward)
        except TypeError:
            known = sorted(f.name for f in dataclasses.fields(scenario.reward))
            raise ValueError(f"reward: unknown key(s) {sorted(self.reward)}; RewardSpec fields are {known}") from None
        return dataclasses.replace(scenario, reward=reward)

    @property
    def mode(self) -> str:
        return lunar_env.ENV_IDS[self.env_id]

    def __post_init__(self) -> None:
        if self.env_id not in lunar_env.ENV_IDS:
            raise ValueError(f"env_id must be one of {sorted(lunar_env.ENV_IDS)}, got {self.env_id!r}")
        if self.observation_mode not in ("sensors", "truth"):
            raise ValueError(f"observation_mode must be 'sensors' or 'truth', got {self.observation_mode!r}")
        positive = ("num_envs", "total_timesteps", "eval_every_steps", "eval_episodes", "checkpoint_every_steps",
                    "torch_threads")
        for key in positive:
            value = getattr(self, key)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{key} must be a positive integer, got {value!r}")
        if not isinstance(self.seed, int) or not 0 <= self.seed < TRAIN_SEED_OFFSET:
            raise ValueError(f"seed must be an integer in [0, {TRAIN_SEED_OFFSET}), got {self.seed!r}")
        if not isinstance(self.reward, dict):
            raise ValueError(f"reward must be a mapping of RewardSpec fields, got {self.reward!r}")
        self.training_scenario()  # validates the scenario name and reward weights now
        if self.stop_at_success_rate is not None and not 0 < self.stop_at_success_rate <= 1:
            raise ValueError(f"stop_at_success_rate must be in (0, 1], got {self.stop_at_success_rate!r}")
        p = self.ppo
        for key in ("n_steps", "batch_size", "n_epochs"):
            value = getattr(p, key)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"ppo.{key} must be a positive integer, got {value!r}")
        if p.batch_size > self.num_envs * p.n_steps:
            raise ValueError(f"ppo.batch_size ({p.batch_size}) must not exceed num_envs * ppo.n_steps "
                             f"({self.num_envs * p.n_steps})")
        if p.activation not in ("tanh", "relu"):
            raise ValueError(f"ppo.activation must be 'tanh' or 'relu', got {p.activation!r}")
        if not p.net_arch or any(not isinstance(w, int) or w < 1 for w in p.net_arch):
            raise ValueError(f"ppo.net_arch must be a list of positive layer widths, got {p.net_arch!r}")
        for key, low, high in (("learning_rate", 0, 1), ("gamma", 0, 1), ("gae_lambda", 0, 1), ("clip_range", 0, 10)):
            value = getattr(p, key)
            if not isinstance(value, (int, float)) or not low < value <= high:
                raise ValueError(f"ppo.{key} must be in ({low}, {high}], got {value!r}")

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["ppo"]["net_arch"] = list(self.ppo.net_arch)
        return data


def _build(cls, data: dict, where: str):
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {unknown}; known keys are {sorted(names)}")
    return data


def config_from_dict(data: dict) -> TrainConfig:
    if not isinstance(data, dict):
        raise ValueError(f"a training config must be a mapping, got {type(data).__name__}")
    data = dict(_build(TrainConfig, data, "config"))
    ppo = dict(_build(PPOConfig, data.pop("ppo", {}) or {}, "config.ppo"))
    if "net_arch" in ppo:
        ppo["net_arch"] = tuple(ppo["net_arch"])
    pretrain = data.pop("pretrain", None)
    if pretrain is not None:
        pretrain = PretrainConfig(**_build(PretrainConfig, pretrain, "config.pretrain"))
    return TrainConfig(**data, ppo=PPOConfig(**ppo), pretrain=pretrain)


def load_config(path: str | Path, overrides: dict[str, Any] | None = None) -> TrainConfig:
    """Read a YAML config; ``overrides`` maps dotted keys (``ppo.learning_rate``) to values."""
    import yaml

    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except FileNotFoundError:
        raise ValueError(f"config file {path} does not exist") from None
    except yaml.YAMLError as err:
        raise ValueError(f"config file {path} is not valid YAML: {err}") from None
    for key, value in (overrides or {}).items():
        if value is None:
            continue
        target = data
        *parents, leaf = key.split(".")
        for parent in parents:
            target = target.setdefault(parent, {})
        target[leaf] = value
    try:
        return config_from_dict(data)
    except TypeError as err:
        raise ValueError(f"config file {path}: {err}") from None


def config_to_yaml(config: TrainConfig) -> str:
    import yaml

    return yaml.safe_dump(config.to_dict(), sort_keys=False)
