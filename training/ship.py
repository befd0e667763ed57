"""Turn a training run into a shipped model folder with its benchmark results, exports and card.

    python -m training.ship runs/ppo_southpole_3dof models/ppo_southpole_3dof [--episodes 1000]

Copies the run's best model folder, flies the nominal and fault suites with `lunar bench`
(seed 0, which training never uses), exports ONNX, C and int8 C with test vectors, and writes
MODEL_CARD.md from the run's evaluations and the benchmark reports.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from pathlib import Path

from agents.bench_runner import run_bench
from agents.model_folder import (
    CONFIG_FILE,
    FORMAT_VERSION,
    NORMALIZATION_FILE,
    POLICY_FILE,
    load_model_folder,
    read_metadata,
    save_model_folder,
)
from lunar_env.atomic import write_atomic
from lunar_env.evaluation.report import markdown_table
from lunar_env.evaluation.suite import suite_scenarios
from training.config import load_config

BENCH_SEED = 0
SUCCESS_GOAL = 0.95


def ship(run_dir: Path, model_dir: Path, episodes: int, optimum_samples: int) -> Path:
    best = run_dir / "best"
    folder = load_model_folder(best)
    meta = folder.metadata
    # Rewritten whole, keeping model_dir's other files (bench/, export/) until they are regenerated.
    save_model_folder(model_dir, folder.policy, folder.obs_mean, folder.obs_var, folder.epsilon, folder.clip_obs,
                      meta, (folder.path / CONFIG_FILE).read_text())
    for suite in ("nominal", "faults"):
        report, _ = run_bench(str(model_dir), suite_scenarios(suite), episodes, BENCH_SEED, meta["mode"],
                              optimum_samples=optimum_samples if suite == "nominal" else 0, suite_label=suite)
        write_atomic(model_dir / "bench" / f"{suite}.json", json.dumps(report, indent=2) + "\n")
        write_atomic(model_dir / "bench" / f"{suite}.md", markdown_table(report))

    from agents.export.cli import export_model

    export_model(model_dir, model_dir / "export", formats=("onnx", "c", "c-int8"))
    rewrite_card(model_dir, run_dir, episodes)
    return model_dir


def stage_names(evaluations: list[dict]) -> list[str]:
    """What each evaluation followed: the first fit, a DAgger round, or PPO updates."""
    names, before_ppo = [], 0
    for e in evaluations:
        if e["steps"] == 0:
            names.append("behavior cloning" if before_ppo == 0 else f"DAgger round {before_ppo}")
            before_ppo += 1
        else:
            names.append("PPO")
    return names


def model_card(name: str, meta: dict, pretrain, evaluations: list[dict], reports: dict, episodes: int) -> str:
    """MODEL_CARD.md text; ``pretrain`` is the run's PretrainConfig, or None for PPO from scratch."""
    reached = next((e for e in evaluations if e["success_rate"] >= SUCCESS_GOAL), None)
    nominal = next(s for s in reports["nominal"]["scenarios"] if s["scenario"] == "nominal")
    ratio = nominal["propellant_ratio_to_optimum"]
    kept_steps = int(meta.get("trained_steps", 0))
    # Several evaluations share step 0 (the warm start's); the kept one is told apart by its wall time.
    kept = min(evaluations, key=lambda e: (e["steps"] != kept_steps,
                                           abs(e["wall_time_s"] - meta.get("training_wall_time_s", 0.0))))
    warm = [e for e in evaluations if e["steps"] == 0]
    # Evaluations in the critic warm-up are of the frozen warm-start actor, not of PPO updates.
    warmup = pretrain.critic_warmup_steps if pretrain is not None else 0
    later = [e for e in evaluations if e["steps"] > max(kept_steps, warmup)]
    if pretrain is None:
        how = "Trained by PPO from scratch."
    else:
        rounds = f" and {pretrain.dagger_rounds} rounds of DAgger" if pretrain.dagger_rounds else ""
        rates = ", ".join(f"{100 * e['success_rate']:.1f}%" for e in warm)
        settings = ", ".join(f"{k}={v}" for k, v in sorted(pretrain.expert_options.items()))
        expert = f"`{pretrain.expert}` expert" + (f" ({settings})" if settings else "")
        cloned = (f"The actor was cloned from the {expert} by behavior cloning{rounds} "
                  f"(training/pretrain.py; {rates} held-out after each step)")
        if kept_steps == 0:
            how = (cloned + f"; the kept actor is the warm start's best ({100 * kept['success_rate']:.1f}%): the PPO "
                   "updates after the critic warm-up did not beat it"
                   + (f" ({100 * min(e['success_rate'] for e in later):.1f}% to "
                      f"{100 * max(e['success_rate'] for e in later):.1f}%)" if later else "")
                   + ". docs/training.md explains what was tried.")
        else:
            how = (cloned + f", then updated by PPO up to step {kept_steps:,} ({100 * kept['success_rate']:.1f}% "
                   "held-out); docs/training.md explains what was tried.")
    lines = [
        f"# {name}",
        "",
        f"A policy for `{meta['env_id']}` ({meta['mode']}): a stable-baselines3 PPO actor-critic stored as plain "
        f"arrays (`{POLICY_FILE}`, lunar-env model format {FORMAT_VERSION}), trained by "
        f"`lunar train` on the `{meta['scenario']}` scenario with `{meta['observation_mode']}` observations. "
        f"Actor: MLP {meta['net_arch']} ({meta['activation']}); observations normalized with the statistics in "
        f"`{NORMALIZATION_FILE}`. {how}",
        "",
        "## Training",
        "",
        f"- Config: `{CONFIG_FILE}` (reproduce with `lunar train --config {CONFIG_FILE}`).",
        f"- Steps at the kept (best) evaluation: {meta.get('trained_steps', 'n/a'):,}; wall time to it: "
        f"{meta.get('training_wall_time_s', float('nan')) / 60:.1f} min, including the behavior-cloning warm start.",
        f"- First evaluation at >= {SUCCESS_GOAL:.0%} landed: "
        + (f"{reached['wall_time_s'] / 60:.1f} min ({reached['steps']:,} PPO steps)." if reached else "not reached."),
        f"- Hardware: {os.cpu_count()} CPU cores ({platform.machine()}), no GPU; Python {platform.python_version()}.",
        "- Evaluations during training (held-out seeds, 500 episodes each):",
        "",
        "| after | PPO steps | wall time (min) | landed | propellant (kg) |",
        "|---|---|---|---|---|",
    ]
    for stage, e in zip(stage_names(evaluations), evaluations):
        propellant = "-" if e["propellant_kg"] is None else f"{e['propellant_kg']:.1f}"
        lines.append(f"| {stage} | {e['steps']:,} | {e['wall_time_s'] / 60:.1f} | {100 * e['success_rate']:.1f}% | "
                     f"{propellant} |")
    lines += [
        "",
        f"## Benchmark (`lunar bench --policy models/{name} --suite nominal|faults --episodes {episodes} --seed "
        f"{BENCH_SEED}`)",
        "",
        "Seed 0 episodes are never used in training (training draws from streams 1,000,000 and up).",
        "",
        "### Nominal suite",
        "",
        markdown_table(reports["nominal"]),
        "### Fault suite",
        "",
        markdown_table(reports["faults"]),
        "## Goals",
        "",
        f"- Landed on the nominal scenario: {100 * nominal['success_rate']:.1f}% "
        f"(95% CI {100 * nominal['success_ci95'][0]:.1f}-{100 * nominal['success_ci95'][1]:.1f}%).",
        "- Propellant against the convex fuel optimum (nominal, landed episodes of the subsample): "
        + ("n/a" if not ratio or ratio["mean"] is None else f"{ratio['mean']:.3f}x mean, {ratio['p95']:.3f}x p95."),
        "",
        "## Exports",
        "",
        "`export/` holds the ONNX actor, the float32 and int8 C policies and their test vectors "
        "(`lunar export models/" + name + " --check` re-verifies them; docs/export.md).",
        "",
    ]
    return "\n".join(lines)


def rewrite_card(model_dir: Path, run_dir: Path, episodes: int) -> None:
    """Regenerate MODEL_CARD.md from the run's evaluations and the saved benchmark reports."""
    meta = read_metadata(model_dir)
    pretrain = load_config(model_dir / CONFIG_FILE).pretrain
    evaluations = [json.loads(line) for line in (run_dir / "evaluations.jsonl").read_text().splitlines()]
    reports = {
        suite: json.loads((model_dir / "bench" / f"{suite}.json").read_text()) for suite in ("nominal", "faults")
    }
    write_atomic(
        model_dir / "MODEL_CARD.md", model_card(model_dir.name, meta, pretrain, evaluations, reports, episodes)
    )


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("model_dir", type=Path)
    parser.add_argument("--episodes", type=int, default=1000)
    parser.add_argument("--optimum-samples", type=int, default=50)
    parser.add_argument("--card-only", action="store_true", help="only rewrite MODEL_CARD.md from saved reports")
    args = parser.parse_args(argv)
    if args.card_only:
        rewrite_card(args.model_dir, args.run_dir, args.episodes)
        print(f"rewrote {args.model_dir / 'MODEL_CARD.md'}")
        return 0
    ship(args.run_dir, args.model_dir, args.episodes, args.optimum_samples)
    print(f"shipped {args.model_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
