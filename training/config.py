"""Training configuration: every hyperparameter, the environment, the scenario and the budget
live in one YAML file; a few common ones can be overridden on the command line.

Unknown keys and bad values are refused with a message naming the key, so a typo in a config
never trains silently with a default.
"""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import lunar_env
from training.field_checks import (
    check_bool,
    check_choice,
    check_folder_name,
    check_int,
    check_mapping,
    check_number,
    check_optional_number,
    check_text,
    check_widths,
    unknown_keys,
)
from training.pretrain_config import PretrainConfig

# Seeds of the benchmark (lunar bench --seed) are small integers; training and its periodic
# evaluation draw their episodes from streams far away from them.
TRAIN_SEED_OFFSET = 1_000_000
EVAL_SEED_OFFSET = 2_000_000
PRETRAIN_SEED_OFFSET = 3_000_000
DAGGER_SEED_STRIDE = 10_000  # DAgger round k flies stream PRETRAIN_SEED_OFFSET + seed + k * stride


ACTIVATIONS = ("tanh", "relu")
OBSERVATION_MODES = ("sensors", "truth")


def _store(obj, name: str, value) -> None:
    """Keep a checked value in a frozen dataclass (a YAML 5.0e6 becomes the int 5000000)."""
    object.__setattr__(obj, name, value)


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

    def __post_init__(self) -> None:
        for key in ("n_steps", "batch_size", "n_epochs"):
            _store(self, key, check_int(f"ppo.{key}", getattr(self, key), low=1))
        for key, low, high in (("learning_rate", 0, 1), ("gamma", 0, 1), ("gae_lambda", 0, 1), ("clip_range", 0, 10)):
            _store(self, key, check_number(f"ppo.{key}", getattr(self, key), low, high, low_open=True))
        _store(self, "final_learning_rate",
               check_optional_number("ppo.final_learning_rate", self.final_learning_rate, 0, 1, low_open=True))
        for key in ("ent_coef", "vf_coef"):
            _store(self, key, check_number(f"ppo.{key}", getattr(self, key), low=0))
        _store(self, "max_grad_norm", check_number("ppo.max_grad_norm", self.max_grad_norm, low=0, low_open=True))
        _store(self, "target_kl", check_optional_number("ppo.target_kl", self.target_kl, low=0, low_open=True))
        _store(self, "net_arch", check_widths("ppo.net_arch", self.net_arch))
        check_choice("ppo.activation", self.activation, ACTIVATIONS)
        _store(self, "log_std_init", check_number("ppo.log_std_init", self.log_std_init, -20, 2))


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
        check_folder_name("name", self.name)  # the run folder is runs/<name>
        if not isinstance(self.env_id, str) or self.env_id not in lunar_env.ENV_IDS:
            raise ValueError(f"env_id must be one of {sorted(lunar_env.ENV_IDS)}, got {self.env_id!r}")
        check_text("scenario", self.scenario)
        check_choice("observation_mode", self.observation_mode, OBSERVATION_MODES)
        for key in ("num_envs", "total_timesteps", "eval_every_steps", "eval_episodes", "checkpoint_every_steps",
                    "torch_threads"):
            _store(self, key, check_int(key, getattr(self, key), low=1))
        _store(self, "seed", check_int("seed", self.seed, low=0, high=TRAIN_SEED_OFFSET - 1))
        check_bool("normalize_reward", self.normalize_reward)
        _store(self, "clip_obs", check_number("clip_obs", self.clip_obs, low=0, low_open=True))
        _store(self, "stop_at_success_rate",
               check_optional_number("stop_at_success_rate", self.stop_at_success_rate, 0, 1, low_open=True))
        reward = check_mapping("reward", self.reward)
        _store(self, "reward", {key: check_number(f"reward.{key}", value) for key, value in reward.items()})
        if not isinstance(self.ppo, PPOConfig):
            raise ValueError(f"ppo must be a mapping of PPO settings, got {self.ppo!r}")
        if self.pretrain is not None and not isinstance(self.pretrain, PretrainConfig):
            raise ValueError(f"pretrain must be null or a mapping of warm-start settings, got {self.pretrain!r}")
        from lunar_env.scenarios import SCENARIOS

        if self.scenario not in SCENARIOS:
            raise ValueError(f"scenario must be one of {sorted(SCENARIOS)}, got {self.scenario!r}")
        try:
            self.training_scenario()  # validates the reward weights now
        except ValueError as err:
            message = str(err)
            raise ValueError(message if message.startswith("reward") else f"reward: {message}") from None
        p = self.ppo
        if p.batch_size > self.num_envs * p.n_steps:
            raise ValueError(f"ppo.batch_size ({p.batch_size}) must not exceed num_envs * ppo.n_steps "
                             f"({self.num_envs * p.n_steps})")

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["ppo"]["net_arch"] = list(self.ppo.net_arch)
        return data


def _section(cls, data, where: str) -> dict:
    """A YAML section as keyword arguments of ``cls``: a mapping of its field names."""
    data = check_mapping(where, data)
    unknown_keys(data, {f.name for f in dataclasses.fields(cls)}, where)
    return dict(data)


def config_from_dict(data: dict) -> TrainConfig:
    """A validated TrainConfig from a config mapping (a ValueError naming the key otherwise)."""
    if not isinstance(data, dict):
        raise ValueError(f"a training config must be a mapping of keys (name, env_id, ...), got {data!r}")
    data = _section(TrainConfig, data, "config")
    ppo = _section(PPOConfig, data.pop("ppo", None), "ppo")
    pretrain = data.pop("pretrain", None)
    if pretrain is not None:
        pretrain = PretrainConfig(**_section(PretrainConfig, pretrain, "pretrain"))
    return TrainConfig(**data, ppo=PPOConfig(**ppo), pretrain=pretrain)


EMPTY_CONFIG_HINT = ("a config needs at least one key, and it should name the run, its env_id, scenario and "
                     "budget (training/configs/ppo_3dof.yaml is a complete example)")


def load_config(path: str | Path, overrides: dict[str, Any] | None = None) -> TrainConfig:
    """Read a YAML config; ``overrides`` maps dotted keys (``ppo.learning_rate``) to values.

    A file that is empty (or holds only comments or null) is refused: it would otherwise train
    the defaults' long run under a name nobody chose.
    """
    import yaml

    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise ValueError(f"config file {path} does not exist") from None
    except IsADirectoryError:
        raise ValueError(f"config file {path} is a folder, not a YAML file") from None
    except UnicodeDecodeError:
        raise ValueError(f"config file {path} is not a text file") from None
    except yaml.YAMLError as err:
        raise ValueError(f"config file {path} is not valid YAML: {err}") from None
    if data is None or data == {}:
        raise ValueError(f"config file {path} is empty: {EMPTY_CONFIG_HINT}")
    if not isinstance(data, dict):
        raise ValueError(f"config file {path} must hold a mapping of keys (name, env_id, ...), got {data!r}")
    data = set_dotted(data, overrides or {})
    try:
        return config_from_dict(data)
    except TypeError as err:
        raise ValueError(f"config file {path}: {err}") from None


def set_dotted(data: dict, values: dict[str, Any]) -> dict:
    """A copy of a config mapping with dotted keys (``ppo.learning_rate``) set; None values are skipped."""
    data = copy.deepcopy(data)
    for key, value in values.items():
        if value is None:
            continue
        target = data
        *parents, leaf = key.split(".")
        for depth, parent in enumerate(parents):
            if target.get(parent) is None:  # absent, or null in the YAML
                target[parent] = {}
            if not isinstance(target[parent], dict):
                where = ".".join(parents[:depth + 1])
                raise ValueError(f"{where} must be a mapping of settings to set {key}, got {target[parent]!r}")
            target = target[parent]
        target[leaf] = value
    return data


def config_to_yaml(config: TrainConfig) -> str:
    import yaml

    return yaml.safe_dump(config.to_dict(), sort_keys=False)
