"""Hyperparameter and reward-weight sweeps with Ray Tune and ASHA early stopping.

    lunar sweep --config training/sweeps/ppo_3dof.yaml [--address ADDR] [--out DIR]

The sweep file is read and validated by :mod:`training.sweep_spec` (no Ray needed there); this
module runs it: the Tune trainable, the score, the scheduler and the result tables.

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

import csv
import dataclasses
import io
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from training.config import TrainConfig, config_to_yaml
from training.sweep_spec import SearchParam, SweepSpec


def score(success_rate: float, propellant_kg: float | None, eval_episodes: int, propellant_capacity_kg: float) -> float:
    """The sweep's score of one evaluation (module docstring): success rate, ties to lower propellant."""
    if propellant_kg is None or not math.isfinite(propellant_kg) or propellant_capacity_kg <= 0:
        fraction = 1.0
    else:
        fraction = min(max(propellant_kg / propellant_capacity_kg, 0.0), 1.0)
    return float(success_rate) - fraction / (eval_episodes + 1)


# ----------------------------------------------------------------------------- the search space in Tune
def tune_distribution(param: SearchParam):
    """The Ray Tune sampler of one searched key."""
    from ray import tune

    if param.kind == "choice":
        return tune.choice(list(param.values))
    if param.kind == "randint":
        return tune.randint(param.values[0], param.values[1] + 1)  # Tune's upper end is excluded
    low, high = float(param.values[0]), float(param.values[1])
    return tune.uniform(low, high) if param.kind == "uniform" else tune.loguniform(low, high)


def param_space(sweep: SweepSpec) -> dict:
    """Tune's ``param_space``: one sampler per searched key."""
    return {p.key: tune_distribution(p) for p in sweep.search_space}


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
            print(f"  trial {trial.trial_id}: step {result['timesteps']:>10,}  landed "
                  f"{100 * result['success_rate']:5.1f}%  "
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
        if abs(value) < 1e-3 or abs(value) >= 1e5:
            return f"{value:.{digits}g}"
        return f"{value:.{digits}f}".rstrip("0").rstrip(".")
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


def run_sweep(
    sweep: SweepSpec, out_dir: str | Path, address: str | None = None, progress: bool = True
) -> dict[str, Any]:
    """Run the sweep on Ray Tune and write its outputs to ``out_dir`` (module docstring).

    Returns ``{"best": TrialRow, "rows": [TrialRow, ...] best first, "best_config": Path, ...}``.
    """
    from lunar_env.atomic import write_atomic
    from lunar_env.ray_cluster import init_ray

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
        param_space=param_space(sweep),
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
