"""Hyperparameter and reward-weight sweeps with Ray Tune and ASHA early stopping.

    lunar sweep --config training/sweeps/ppo_3dof.yaml [--address ADDR] [--out DIR]

A sweep file (training/sweeps/ppo_3dof.yaml documents every key) names a base training config,
fixed changes to it, a search space over its keys (``ppo.<PPO field>``, ``reward.<RewardSpec
field>``, or a top-level key such as ``num_envs``), the number of trials, a per-trial budget and
the ASHA settings.

Each trial trains with the project's own pipeline (:func:`training.train.train`) in chunks of
``report_every_steps`` (the first chunk covers a warm start's whole critic warm-up, which a
resumed run would cut short): after each chunk the run is checkpointed and evaluated on
``eval_episodes`` episodes (stream ``EVAL_SEED_OFFSET + seed``, the same for every trial), and the
evaluation is reported to Tune, whose ASHA scheduler stops the trials that trail at each rung.
The next chunk resumes the checkpoint. A trial whose worker dies is restarted by Tune
(``max_failures``) and resumes its last checkpoint.

The score ranks evaluations by success rate, and equal success rates by lower propellant::

    score = S - min(P / P_max, 1) / (N + 1)

with S the success rate of the N evaluation episodes, P the mean propellant (kg) of the landed
ones and P_max the lander's propellant load (kg); with no landing, P / P_max counts as 1. The
propellant term lies in [0, 1/(N+1)], below 1/N, the smallest step between two success rates of N
episodes, so it never outweighs one more landing. It is the ordering the training run uses to
keep its best model (``training.train.Evaluation.better_than``).

Outputs in the sweep folder (written atomically): ``best_config.yaml`` (the base config with the
fixed changes and the best trial's values: a ready training config), ``results.md`` and
``results.csv`` (every trial, best first), ``sweep.yaml`` (the sweep as run), ``trials/<id>/``
(each trial's run folder) and ``tune/`` (Ray Tune's own records).
"""

from __future__ import annotations

import copy
import csv
import dataclasses
import io
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from training.config import EMPTY_CONFIG_HINT, PPOConfig, TrainConfig, config_from_dict, config_to_yaml
from training.field_checks import check_folder_name, check_int, check_number

DISTRIBUTIONS = ("uniform", "loguniform", "randint", "choice")
METRICS = ("score", "success_rate")  # both maximized
# Keys the sweep itself sets in every trial: they cannot be searched or fixed.
BUDGET_KEYS = ("name", "total_timesteps", "eval_every_steps", "eval_episodes", "checkpoint_every_steps",
               "stop_at_success_rate", "torch_threads")
DEFAULT_MAX_FAILURES = 2  # restarts of a trial whose worker died


def score(success_rate: float, propellant_kg: float | None, eval_episodes: int, propellant_capacity_kg: float) -> float:
    """The sweep's score of one evaluation (module docstring): success rate, ties to lower propellant."""
    if propellant_kg is None or not math.isfinite(propellant_kg) or propellant_capacity_kg <= 0:
        fraction = 1.0
    else:
        fraction = min(max(propellant_kg / propellant_capacity_kg, 0.0), 1.0)
    return float(success_rate) - fraction / (eval_episodes + 1)


# ----------------------------------------------------------------------------- the sweep file
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
        if self.kind == "randint" and any(not isinstance(v, int) or isinstance(v, bool) for v in self.values):
            raise ValueError(f"{where}: randint needs integer bounds, got {list(self.values)!r}")

    def candidates(self) -> list:
        """Values worth validating before the sweep starts: the ends of a range, every choice."""
        return list(self.values)

    def to_tune(self):
        from ray import tune

        if self.kind == "choice":
            return tune.choice(list(self.values))
        if self.kind == "randint":
            return tune.randint(self.values[0], self.values[1] + 1)  # Tune's upper end is excluded
        low, high = float(self.values[0]), float(self.values[1])
        return tune.uniform(low, high) if self.kind == "uniform" else tune.loguniform(low, high)


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

    def param_space(self) -> dict:
        return {p.key: p.to_tune() for p in self.search_space}

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


def sweep_from_dict(data: dict, folder: Path = Path(".")) -> SweepSpec:
    """A SweepSpec from the sweep file's mapping; ``base_config`` is relative to ``folder``."""
    import yaml

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
    try:
        base = yaml.safe_load(base_path.read_text())
    except FileNotFoundError:
        raise ValueError(f"sweep.base_config: {base_path} does not exist (the path is relative to the sweep file)") from None
    except (IsADirectoryError, UnicodeDecodeError):
        raise ValueError(f"sweep.base_config: {base_path} is not a YAML file") from None
    except yaml.YAMLError as err:
        raise ValueError(f"sweep.base_config: {base_path} is not valid YAML: {err}") from None
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
                     cpus_per_trial=data.get("cpus_per_trial", 1), max_failures=data.get("max_failures", DEFAULT_MAX_FAILURES))


def load_sweep(path: str | Path) -> SweepSpec:
    """Read and validate a sweep file (ValueError naming the bad key)."""
    import yaml

    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise ValueError(f"sweep file {path} does not exist") from None
    except (IsADirectoryError, UnicodeDecodeError):
        raise ValueError(f"sweep file {path} is not a YAML file") from None
    except yaml.YAMLError as err:
        raise ValueError(f"sweep file {path} is not valid YAML: {err}") from None
    if data is None or data == {}:
        raise ValueError(f"sweep file {path} is empty: a sweep needs name, base_config, trials, budget, scheduler "
                         "and search_space (training/sweeps/ppo_3dof.yaml documents each)")
    return sweep_from_dict(data, path.parent)


# ----------------------------------------------------------------------------- one trial
def read_evaluations(run_dir: Path) -> list[dict]:
    """The run's evaluations (``evaluations.jsonl``), oldest first."""
    path = Path(run_dir) / "evaluations.jsonl"
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def evaluation_metrics(evaluation: dict, config: TrainConfig) -> dict[str, Any]:
    """What a trial reports to Tune after a chunk: steps, success rate, propellant, score."""
    capacity = config.training_scenario().lander.propellant_mass_kg
    return {"timesteps": int(evaluation["steps"]), "success_rate": float(evaluation["success_rate"]),
            "propellant_kg": evaluation.get("propellant_kg"), "miss_distance_m": evaluation.get("miss_distance_m"),
            "score": score(evaluation["success_rate"], evaluation.get("propellant_kg"), config.eval_episodes, capacity)}


def run_trial(params: dict[str, Any], sweep: SweepSpec, trials_dir: str) -> None:
    """A Tune function trainable: train the trial's config chunk by chunk, reporting each chunk's
    evaluation. Resumes the trial folder's checkpoint when Tune restarts the trial."""
    import numba
    from ray import tune

    from training.multi_seed import checkpoint_steps
    from training.train import train

    config = sweep.trial_config(params)
    numba.set_num_threads(max(1, min(sweep.cpus_per_trial, numba.config.NUMBA_NUM_THREADS)))
    run_dir = Path(trials_dir) / tune.get_context().get_trial_id()
    steps = checkpoint_steps(run_dir) or 0
    if steps == 0:
        (run_dir / "evaluations.jsonl").unlink(missing_ok=True)  # the log of a lost attempt
    chunk = sweep.chunk_steps(config)
    while steps < config.total_timesteps:
        target = min(max(steps + chunk, sweep.first_report_steps(config)), config.total_timesteps)
        train(dataclasses.replace(config, total_timesteps=target), run_dir, resume=steps > 0, progress=False)
        last = read_evaluations(run_dir)[-1]
        steps = int(last["steps"])
        tune.report(evaluation_metrics(last, config))


# ----------------------------------------------------------------------------- the sweep
def _report_printer():
    """A Tune callback printing one line per report and per finished trial (Tune's own output is off)."""
    from ray.tune import Callback

    class ReportPrinter(Callback):
        def on_trial_result(self, iteration, trials, trial, result, **info):
            prop = result.get("propellant_kg")
            print(f"  trial {trial.trial_id}: step {result['timesteps']:>10,}  landed {100 * result['success_rate']:5.1f}%  "
                  f"propellant {'-' if prop is None else f'{prop:.1f}'} kg  score {result['score']:.4f}", flush=True)

        def on_trial_complete(self, iteration, trials, trial, **info):
            print(f"  trial {trial.trial_id}: finished", flush=True)

        def on_trial_error(self, iteration, trials, trial, **info):
            print(f"  trial {trial.trial_id}: failed (Ray Tune's records are in the sweep's tune/ folder)", flush=True)

    return ReportPrinter()


def _trial_dirname(trial) -> str:
    """Tune's folder of a trial is named by its id, like the trial's run folder in trials/."""
    return trial.trial_id


@dataclass
class TrialRow:
    """One trial of the results table: its values and its best evaluation."""

    trial_id: str
    params: dict
    status: str
    timesteps: int
    success_rate: float | None
    propellant_kg: float | None
    score: float | None
    best_at_step: int | None
    run_dir: str


def _trial_row(result, sweep: SweepSpec, trials_dir: Path) -> TrialRow:
    trial_id = os.path.basename(str(result.path)) if result.path else "?"  # named by _trial_dirname
    params = {p.key: result.config.get(p.key) for p in sweep.search_space}
    run_dir = trials_dir / trial_id
    try:
        config = sweep.trial_config(params)
    except (TypeError, ValueError):  # a combination of values no training config accepts
        return TrialRow(trial_id, params, "error: invalid config", 0, None, None, None, None, str(run_dir))
    # The evaluation of a warm-started policy before any PPO step (step 0) is not the trial's doing.
    reports = [evaluation_metrics(e, config) for e in read_evaluations(run_dir) if e["steps"] > 0]
    best = max(reports, key=lambda r: (r[sweep.metric], r["score"]), default=None)
    steps = reports[-1]["timesteps"] if reports else 0
    if result.error is not None:
        status = f"error: {type(result.error).__name__}"
    elif steps >= config.total_timesteps:
        status = "completed"
    else:
        status = "stopped by ASHA"
    return TrialRow(trial_id, params, status, steps, best and best["success_rate"], best and best["propellant_kg"],
                    best and best["score"], best and best["timesteps"], str(run_dir))


def _fmt(value, digits: int) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}g}" if abs(value) < 1e-3 or abs(value) >= 1e5 else f"{value:.{digits}f}".rstrip("0").rstrip(".")
    return str(value)


def results_markdown(rows: list[TrialRow], sweep: SweepSpec) -> str:
    """The results table (best first): each trial's best evaluation and its searched values."""
    keys = [p.key for p in sweep.search_space]
    head = ["rank", "trial", "status", "steps", "success rate", "propellant kg", "score", "best at step"] + keys
    lines = [f"# Sweep {sweep.name}: {len(rows)} trials",
             "",
             f"Base config `{sweep.base_config}`; budget {sweep.total_timesteps:,} steps per trial, evaluated every "
             f"{sweep.report_every_steps:,} steps on {sweep.eval_episodes} episodes; ASHA grace period "
             f"{sweep.grace_period_steps:,} steps, reduction factor {sweep.reduction_factor:g}; ranked by "
             f"{sweep.metric} (score = S - min(P / P_max, 1) / (N + 1), training/sweep.py). Each trial's numbers are "
             "those of its best evaluation.",
             "",
             "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for rank, r in enumerate(rows, 1):
        cells = [str(rank), r.trial_id, r.status, f"{r.timesteps:,}", _fmt(r.success_rate, 3),
                 _fmt(r.propellant_kg, 1), _fmt(r.score, 4), "-" if r.best_at_step is None else f"{r.best_at_step:,}"]
        cells += [_fmt(r.params.get(k), 4) for k in keys]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def results_csv(rows: list[TrialRow], sweep: SweepSpec) -> str:
    keys = [p.key for p in sweep.search_space]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["rank", "trial_id", "status", "timesteps", "success_rate", "propellant_kg", "score",
                     "best_at_step", "run_dir"] + keys)
    for rank, r in enumerate(rows, 1):
        writer.writerow([rank, r.trial_id, r.status, r.timesteps, r.success_rate, r.propellant_kg, r.score,
                         r.best_at_step, r.run_dir] + [r.params.get(k) for k in keys])
    return out.getvalue()


def _rank_key(row: TrialRow, metric: str):
    value = row.success_rate if metric == "success_rate" else row.score
    return (value is not None, value if value is not None else 0.0, row.score if row.score is not None else -1.0)


def run_sweep(sweep: SweepSpec, out_dir: str | Path, address: str | None = None, progress: bool = True) -> dict[str, Any]:
    """Run the sweep on Ray Tune and write its outputs to ``out_dir`` (module docstring).

    Returns ``{"best": TrialRow, "rows": [TrialRow, ...] best first, "best_config": Path, ...}``.
    """
    from lunar_env.benchmark.ray_backend import init_ray
    from lunar_env.atomic import write_atomic

    init_ray(address, feature="lunar sweep")
    # Tune's console output (a status box per trial) is replaced by the lines of _report_printer.
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    import yaml
    from ray import tune
    from ray.tune.schedulers import ASHAScheduler
    from ray.tune.search.basic_variant import BasicVariantGenerator

    out_dir = Path(out_dir).resolve()  # Tune's trials run in folders of their own
    trials_dir = out_dir / "trials"
    trials_dir.mkdir(parents=True, exist_ok=True)
    write_atomic(out_dir / "sweep.yaml", yaml.safe_dump(sweep.to_dict(), sort_keys=False))
    scheduler = ASHAScheduler(time_attr="timesteps", max_t=sweep.total_timesteps,
                              grace_period=sweep.grace_period_steps, reduction_factor=sweep.reduction_factor)
    trainable = tune.with_resources(tune.with_parameters(run_trial, sweep=sweep, trials_dir=str(trials_dir)),
                                    {"cpu": sweep.cpus_per_trial})
    tuner = tune.Tuner(
        trainable,
        param_space=sweep.param_space(),
        tune_config=tune.TuneConfig(metric=sweep.metric, mode="max", num_samples=sweep.trials, scheduler=scheduler,
                                    search_alg=BasicVariantGenerator(random_state=sweep.seed),
                                    trial_dirname_creator=_trial_dirname),
        run_config=tune.RunConfig(name="tune", storage_path=str(out_dir), verbose=0,
                                  failure_config=tune.FailureConfig(max_failures=sweep.max_failures),
                                  callbacks=[_report_printer()] if progress else None),
    )
    grid = tuner.fit()
    rows = sorted((_trial_row(result, sweep, trials_dir) for result in grid),
                  key=lambda r: _rank_key(r, sweep.metric), reverse=True)
    write_atomic(out_dir / "results.md", results_markdown(rows, sweep))
    write_atomic(out_dir / "results.csv", results_csv(rows, sweep))
    scored = [r for r in rows if r.score is not None]
    if not scored:
        errors = [str(result.error) for result in grid if result.error is not None]
        raise ValueError(f"no trial of sweep {sweep.name} reported an evaluation"
                         + (f"; first error: {errors[0]}" if errors else ""))
    best = scored[0]
    config = sweep.best_config(best.params)
    header = (f"# Best configuration of sweep {sweep.name} (trial {best.trial_id}): success rate "
              f"{best.success_rate:.3f}, propellant {_fmt(best.propellant_kg, 1)} kg, score {best.score:.4f} at step "
              f"{best.best_at_step:,} of the sweep's budget.\n# Searched: "
              + ", ".join(f"{k} = {_fmt(v, 4)}" for k, v in best.params.items()) + "\n# All trials: results.md\n")
    write_atomic(out_dir / "best_config.yaml", header + config_to_yaml(config))
    return {"best": best, "rows": rows, "best_config": out_dir / "best_config.yaml",
            "results_md": out_dir / "results.md", "results_csv": out_dir / "results.csv"}
