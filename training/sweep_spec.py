"""A sweep file, read and validated without Ray: the search-space types, the spec and its parsing.

A sweep file (training/sweeps/ppo_3dof.yaml documents every key) names a base training config,
fixed changes to it, a search space over its keys (``ppo.<PPO field>``, ``reward.<RewardSpec
field>``, or a top-level key such as ``num_envs``), the number of trials, a per-trial budget and
the ASHA settings. :func:`load_sweep` reads one into a :class:`SweepSpec`, refusing a bad key with
a ValueError that names it, and checks that every candidate value makes a valid training config.

The spec also says how a trial trains: its config (:meth:`SweepSpec.trial_config`) and its chunks
(:meth:`SweepSpec.chunk_steps`, :meth:`SweepSpec.first_report_steps`). Running the sweep on Ray
Tune is :mod:`training.sweep`'s part; nothing here imports Ray, so a sweep file can be checked on
a machine without it.
"""

from __future__ import annotations

import copy
import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lunar_env.checks import check_integer
from training.config import EMPTY_CONFIG_HINT, PPOConfig, TrainConfig, config_from_dict
from training.field_checks import check_folder_name, check_int, check_number

DISTRIBUTIONS = ("uniform", "loguniform", "randint", "choice")
METRICS = ("score", "success_rate")  # both maximized
# Keys the sweep itself sets in every trial: they cannot be searched or fixed.
BUDGET_KEYS = ("name", "total_timesteps", "eval_every_steps", "eval_episodes", "checkpoint_every_steps",
               "stop_at_success_rate", "torch_threads")
DEFAULT_MAX_FAILURES = 2  # restarts of a trial whose worker died


@dataclass(frozen=True)
class SearchParam:
    """One searched key: ``uniform`` [low, high], ``loguniform`` [low, high] (0 < low),
    ``randint`` [low, high] (integers, both ends included) or ``choice`` [v1, v2, ...]."""

    key: str
    kind: str
    values: tuple

    def __post_init__(self) -> None:
        where = f"search_space.{self.key}"
        if self.kind not in DISTRIBUTIONS:
            raise ValueError(f"{where}: distribution must be one of {DISTRIBUTIONS}, got {self.kind!r}")
        if self.kind == "choice":
            if len(self.values) < 1:
                raise ValueError(f"{where}: choice needs at least one value")
            return
        if len(self.values) != 2:
            raise ValueError(f"{where}: {self.kind} needs [low, high], got {list(self.values)!r}")
        low = check_number(f"{where}.{self.kind}[0] (low)", self.values[0], -1e12, 1e12)
        high = check_number(f"{where}.{self.kind}[1] (high)", self.values[1], -1e12, 1e12)
        if not low < high and not (self.kind == "randint" and low == high):
            raise ValueError(f"{where}: {self.kind} needs low < high, got {list(self.values)!r}")
        if self.kind == "loguniform" and low <= 0:
            raise ValueError(f"{where}: loguniform needs 0 < low, got {low!r}")
        if self.kind == "randint":  # integer bounds, strictly: a YAML 5.0 is not a randint bound
            for k, label in enumerate(("low", "high")):
                check_integer(f"{where}.randint[{k}] ({label})", self.values[k])

    def candidates(self) -> list:
        """Values worth validating before the sweep starts: the ends of a range, every choice."""
        return list(self.values)


def _check_key(key: str, where: str) -> None:
    """A config key a sweep may set: a TrainConfig field, ppo.<field> or reward.<RewardSpec field>."""
    from lunar_env.config import RewardSpec

    top = {f.name for f in dataclasses.fields(TrainConfig)} - {"ppo", "reward"}
    if not isinstance(key, str):
        raise ValueError(f"{where}: keys must be config key names such as ppo.learning_rate, got {key!r}")
    parts = key.split(".")
    if len(parts) == 1 and parts[0] in top:
        if parts[0] in BUDGET_KEYS:
            raise ValueError(f"{where}.{key}: the sweep sets {key} itself (see budget); it cannot be searched or fixed")
        return
    if len(parts) == 2 and parts[0] == "ppo" and parts[1] in {f.name for f in dataclasses.fields(PPOConfig)}:
        return
    if len(parts) == 2 and parts[0] == "reward" and parts[1] in {f.name for f in dataclasses.fields(RewardSpec)}:
        return
    raise ValueError(f"{where}: unknown key {key!r}; use a training config key ({sorted(top)}), ppo.<field> "
                     f"({sorted(f.name for f in dataclasses.fields(PPOConfig))}) or reward.<field> "
                     f"({sorted(f.name for f in dataclasses.fields(RewardSpec))})")


def set_keys(data: dict, values: dict[str, Any]) -> dict:
    """A copy of a config mapping with dotted keys (``ppo.learning_rate``, ``reward.success_bonus``) set."""
    data = copy.deepcopy(data)
    for key, value in values.items():
        target = data
        *parents, leaf = key.split(".")
        for parent in parents:
            if not isinstance(target.get(parent), dict):  # absent, or null in the YAML
                target[parent] = {}
            target = target[parent]
        target[leaf] = value
    return data


@dataclass(frozen=True)
class SweepSpec:
    """A sweep file, validated (training/sweeps/ppo_3dof.yaml documents each field)."""

    name: str
    base_config: Path
    base: dict  # the base training config as a mapping (its YAML)
    trials: int
    total_timesteps: int
    report_every_steps: int
    eval_episodes: int
    grace_period_steps: int
    reduction_factor: float
    search_space: tuple[SearchParam, ...]
    fixed: dict = field(default_factory=dict)
    metric: str = "score"
    seed: int = 0
    cpus_per_trial: int = 1
    max_failures: int = DEFAULT_MAX_FAILURES

    def __post_init__(self) -> None:
        owner = "sweep"
        check_folder_name(f"{owner}.name", self.name)  # the output folder is runs/sweeps/<name>
        for attr, key, low in (("trials", "trials", 1), ("total_timesteps", "budget.total_timesteps", 1),
                               ("report_every_steps", "budget.report_every_steps", 1),
                               ("eval_episodes", "budget.eval_episodes", 1),
                               ("grace_period_steps", "scheduler.grace_period_steps", 1), ("seed", "seed", 0),
                               ("cpus_per_trial", "cpus_per_trial", 1), ("max_failures", "max_failures", 0)):
            # stored back as an int: a YAML 2.0e5 is a float (the dataclass is frozen)
            object.__setattr__(self, attr, check_int(f"{owner}.{key}", getattr(self, attr), low=low))
        if self.grace_period_steps > self.total_timesteps:
            raise ValueError(f"{owner}.scheduler.grace_period_steps ({self.grace_period_steps}) must not exceed "
                             f"budget.total_timesteps ({self.total_timesteps})")
        object.__setattr__(self, "reduction_factor", check_number(f"{owner}.scheduler.reduction_factor",
                                                                  self.reduction_factor, 1.0, 100.0, low_open=True))
        if self.metric not in METRICS:
            raise ValueError(f"{owner}.metric must be one of {METRICS}, got {self.metric!r}")
        if not self.search_space:
            raise ValueError(f"{owner}.search_space is empty: name at least one key to search")
        for key in self.fixed:
            _check_key(key, f"{owner}.fixed")
        for param in self.search_space:
            _check_key(param.key, f"{owner}.search_space")
            if param.key in self.fixed:
                raise ValueError(f"{owner}: {param.key} is both fixed and searched")
        # Every candidate value must make a valid training config (the others at their first candidate).
        first = {p.key: p.candidates()[0] for p in self.search_space}
        for param in self.search_space:
            for value in param.candidates():
                try:
                    self.trial_config({**first, param.key: value})
                except (TypeError, ValueError) as err:
                    raise ValueError(f"{owner}.search_space.{param.key} = {value!r} gives no valid training config: "
                                     f"{err}") from None
        if self.final_lr_decays():
            raise ValueError(f"{owner}: trials train in chunks, which would restart the decay of "
                             "ppo.final_learning_rate at every chunk; set it to null for sweeps")

    def final_lr_decays(self) -> bool:
        keys = {p.key for p in self.search_space}
        return "ppo.final_learning_rate" in keys or self.best_config({}).ppo.final_learning_rate is not None

    def best_config(self, params: dict[str, Any]) -> TrainConfig:
        """The ready training config: the base, the fixed changes and ``params``."""
        data = set_keys(self.base, {**self.fixed, **params})
        data["name"] = f"{self.name}_best"
        return config_from_dict(data)

    def trial_config(self, params: dict[str, Any]) -> TrainConfig:
        """A trial's config: ``best_config(params)`` with the sweep's budget. Periodic evaluations
        and checkpoints are left to the chunk ends (their intervals lie beyond the budget)."""
        config = self.best_config(params)
        beyond = self.total_steps(config) + 1
        return dataclasses.replace(config, name=f"{self.name}_trial", total_timesteps=self.total_steps(config),
                                   eval_every_steps=beyond, checkpoint_every_steps=beyond,
                                   eval_episodes=self.eval_episodes, stop_at_success_rate=None,
                                   torch_threads=self.cpus_per_trial)

    def chunk_steps(self, config: TrainConfig) -> int:
        """``report_every_steps`` rounded up to whole PPO rollouts (num_envs * n_steps), so that each
        chunk of training ends exactly where it was asked to."""
        rollout = config.num_envs * config.ppo.n_steps
        return math.ceil(self.report_every_steps / rollout) * rollout

    def total_steps(self, config: TrainConfig) -> int:
        """The per-trial budget rounded up to whole chunks (and at least the first chunk)."""
        chunk = self.chunk_steps(config)
        return max(math.ceil(self.total_timesteps / chunk) * chunk, self.first_report_steps(config))

    def first_report_steps(self, config: TrainConfig) -> int:
        """Where the first chunk ends: one chunk, or with a behavior-cloning warm start the whole
        critic warm-up (whole chunks), because a resumed run does not freeze the actor again."""
        chunk = self.chunk_steps(config)
        warmup = config.pretrain.critic_warmup_steps if config.pretrain is not None else 0
        return max(1, math.ceil(warmup / chunk)) * chunk

    def to_dict(self) -> dict:
        return {"name": self.name, "base_config": str(self.base_config), "trials": self.trials, "metric": self.metric,
                "seed": self.seed, "cpus_per_trial": self.cpus_per_trial, "max_failures": self.max_failures,
                "fixed": dict(self.fixed),
                "budget": {"total_timesteps": self.total_timesteps, "report_every_steps": self.report_every_steps,
                           "eval_episodes": self.eval_episodes},
                "scheduler": {"grace_period_steps": self.grace_period_steps, "reduction_factor": self.reduction_factor},
                "search_space": {p.key: {p.kind: list(p.values)} for p in self.search_space}}


SWEEP_KEYS = ("name", "base_config", "trials", "metric", "seed", "cpus_per_trial", "max_failures", "fixed", "budget",
              "scheduler", "search_space")
BUDGET_FIELDS = ("total_timesteps", "report_every_steps", "eval_episodes")
SCHEDULER_FIELDS = ("grace_period_steps", "reduction_factor")


def _mapping(data, where: str, allowed: tuple[str, ...] | None = None, required: tuple[str, ...] = ()) -> dict:
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ValueError(f"{where} must be a mapping, got {type(data).__name__}")
    if allowed is not None:
        unknown = sorted(set(data) - set(allowed))
        if unknown:
            raise ValueError(f"{where}: unknown key(s) {unknown}; known keys are {list(allowed)}")
    missing = [k for k in required if k not in data]
    if missing:
        raise ValueError(f"{where}: missing key(s) {missing}")
    return data


def _read_yaml(path: Path, what: str, missing_hint: str = ""):
    """The YAML document at ``path``; a ValueError starting with ``what`` when it is missing, not a
    YAML file or not valid YAML."""
    import yaml

    try:
        return yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise ValueError(f"{what} does not exist{missing_hint}") from None
    except (IsADirectoryError, UnicodeDecodeError):
        raise ValueError(f"{what} is not a YAML file") from None
    except yaml.YAMLError as err:
        raise ValueError(f"{what} is not valid YAML: {err}") from None


def sweep_from_dict(data: dict, folder: Path = Path(".")) -> SweepSpec:
    """A SweepSpec from the sweep file's mapping; ``base_config`` is relative to ``folder``."""
    data = _mapping(data, "sweep", SWEEP_KEYS, required=("name", "base_config", "trials", "budget", "scheduler",
                                                            "search_space"))
    budget = _mapping(data["budget"], "sweep.budget", BUDGET_FIELDS, required=BUDGET_FIELDS)
    scheduler = _mapping(data["scheduler"], "sweep.scheduler", SCHEDULER_FIELDS, required=SCHEDULER_FIELDS)
    params = []
    for key, dist in _mapping(data["search_space"], "sweep.search_space").items():
        dist = _mapping(dist, f"sweep.search_space.{key}", DISTRIBUTIONS)
        if len(dist) != 1:
            raise ValueError(f"sweep.search_space.{key} must name one distribution ({', '.join(DISTRIBUTIONS)}), "
                             f"e.g. {{loguniform: [1.0e-4, 1.0e-3]}}")
        (kind, values), = dist.items()
        if not isinstance(values, list):
            raise ValueError(f"sweep.search_space.{key}.{kind} must be a list, got {values!r}")
        params.append(SearchParam(str(key), kind, tuple(values)))
    if not isinstance(data["base_config"], str) or not data["base_config"].strip():
        raise ValueError(f"sweep.base_config must be the path of a training config, got {data['base_config']!r}")
    base_path = Path(folder) / data["base_config"]
    base = _read_yaml(base_path, f"sweep.base_config: {base_path}", " (the path is relative to the sweep file)")
    if base is None or base == {}:
        raise ValueError(f"sweep.base_config: {base_path} is empty: {EMPTY_CONFIG_HINT}")
    try:
        config_from_dict(base)
    except TypeError as err:
        raise ValueError(f"sweep.base_config {base_path}: {err}") from None
    fixed = _mapping(data.get("fixed"), "sweep.fixed")
    return SweepSpec(name=data["name"], base_config=base_path, base=base, trials=data["trials"],
                     total_timesteps=budget["total_timesteps"], report_every_steps=budget["report_every_steps"],
                     eval_episodes=budget["eval_episodes"], grace_period_steps=scheduler["grace_period_steps"],
                     reduction_factor=scheduler["reduction_factor"], search_space=tuple(params), fixed=dict(fixed),
                     metric=data.get("metric", "score"), seed=data.get("seed", 0),
                     cpus_per_trial=data.get("cpus_per_trial", 1),
                     max_failures=data.get("max_failures", DEFAULT_MAX_FAILURES))


def load_sweep(path: str | Path) -> SweepSpec:
    """Read and validate a sweep file (ValueError naming the bad key)."""
    path = Path(path)
    data = _read_yaml(path, f"sweep file {path}")
    if data is None or data == {}:
        raise ValueError(
            f"sweep file {path} is empty: a sweep needs name, base_config, trials, budget, scheduler "
            "and search_space (training/sweeps/ppo_3dof.yaml documents each)"
        )
    return sweep_from_dict(data, path.parent)
