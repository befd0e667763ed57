"""Time-to-land: wall clock from the start of training to a policy that lands 95% of nominal
episodes, beside SB3 PPO with RL Zoo's hyperparameters on Gymnasium's LunarLanderContinuous-v3
reaching a mean reward of 200, measured on the same machine.

    python benchmarks/time_to_land.py                 # both (the LunarLander run takes ~20 min)
    python benchmarks/time_to_land.py --only lunar    # only this project's pipeline
    python benchmarks/time_to_land.py --only gym      # only the Gymnasium reference

Writes benchmarks/results/time_to_land.md (or time_to_land_<lunar|gym>.md with --only, so one
pipeline's timing does not overwrite the other's) with the command at the top.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from lunar_env.atomic import write_atomic

RESULTS_DIR = Path(__file__).with_name("results")
TARGET_SUCCESS = 0.95
GYM_TARGET_REWARD = 200.0
GYM_EVAL_EVERY_STEPS = 50_000
GYM_EVAL_EPISODES = 20
GYM_MAX_STEPS = 2_000_000


def time_lunar(config_path: str) -> dict:
    """Run `lunar train` with a stop at 95% and read when the evaluations first reached it."""
    from training.config import load_config
    from training.train import train

    config = load_config(config_path, {"stop_at_success_rate": TARGET_SUCCESS})
    run_dir = Path(tempfile.mkdtemp(prefix="time_to_land_"))
    start = time.perf_counter()
    train(config, run_dir / "run", progress=False)
    total = time.perf_counter() - start
    evaluations = [json.loads(line) for line in (run_dir / "run" / "evaluations.jsonl").read_text().splitlines()]
    reached = next((e for e in evaluations if e["success_rate"] >= TARGET_SUCCESS), None)
    return {"config": config_path, "wall_time_to_95_s": reached["wall_time_s"] if reached else None,
            "steps_to_95": reached["steps"] if reached else None, "total_wall_time_s": total,
            "best_success_rate": max(e["success_rate"] for e in evaluations)}


def time_gym() -> dict:
    """SB3 PPO, RL Zoo hyperparameters for LunarLanderContinuous, one torch thread, until mean reward 200."""
    import torch
    from stable_baselines3 import PPO
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.evaluation import evaluate_policy
    torch.set_num_threads(1)
    env = make_vec_env("LunarLanderContinuous-v3", n_envs=16, seed=0)
    model = PPO("MlpPolicy", env, n_steps=1024, batch_size=64, gae_lambda=0.98, gamma=0.999, n_epochs=4,
                ent_coef=0.01, seed=0, device="cpu", verbose=0)
    eval_env = make_vec_env("LunarLanderContinuous-v3", n_envs=1, seed=1)
    start = time.perf_counter()
    history = []
    while model.num_timesteps < GYM_MAX_STEPS:
        model.learn(GYM_EVAL_EVERY_STEPS, reset_num_timesteps=False)
        mean, _ = evaluate_policy(model, eval_env, n_eval_episodes=GYM_EVAL_EPISODES, deterministic=True)
        history.append((model.num_timesteps, time.perf_counter() - start, float(mean)))
        print(f"  LunarLander: {model.num_timesteps:>9,} steps, {history[-1][1]:7.0f} s, mean reward {mean:7.1f}",
              flush=True)
        if mean >= GYM_TARGET_REWARD:
            break
    reached = next((h for h in history if h[2] >= GYM_TARGET_REWARD), None)
    return {"wall_time_to_200_s": reached[1] if reached else None, "steps_to_200": reached[0] if reached else None,
            "final_mean_reward": history[-1][2]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=["lunar", "gym"])
    parser.add_argument("--config", default="training/configs/ppo_3dof.yaml")
    args = parser.parse_args()
    results = {}
    if args.only in (None, "lunar"):
        print("timing lunar train ...", flush=True)
        results["lunar"] = time_lunar(args.config)
    if args.only in (None, "gym"):
        print("timing SB3 PPO on LunarLanderContinuous-v3 (RL Zoo hyperparameters) ...", flush=True)
        results["gym"] = time_gym()
    lines = [
        f"# Time to land\n\nCommand: `python benchmarks/time_to_land.py{' --only ' + args.only if args.only else ''}`"
        f"\n\nMachine: {os.cpu_count()} cores; load average at the end {os.getloadavg()[0]:.1f}.\n",
        "| pipeline | goal | wall time to goal | steps to goal |",
        "|---|---|---|---|",
    ]

    def minutes(seconds):
        return "not reached" if seconds is None else f"{seconds / 60:.1f} min"

    if "lunar" in results:
        r = results["lunar"]
        lines.append(
            f"| lunar train ({r['config']}) | 95% nominal landings | {minutes(r['wall_time_to_95_s'])} | "
            f"{r['steps_to_95'] or '-'} |"
        )
    if "gym" in results:
        r = results["gym"]
        lines.append(
            f"| SB3 PPO, RL Zoo hyperparameters, LunarLanderContinuous-v3 | mean reward 200 | "
            f"{minutes(r['wall_time_to_200_s'])} | {r['steps_to_200'] or '-'} |"
        )
    text = "\n".join(lines) + "\n\n```json\n" + json.dumps(results, indent=2) + "\n```\n"
    out = RESULTS_DIR / (f"time_to_land_{args.only}.md" if args.only else "time_to_land.md")
    write_atomic(out, text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    np.set_printoptions(precision=3)
    sys.exit(main())
