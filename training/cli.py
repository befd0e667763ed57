"""``lunar train``: PPO on the native batched env from a YAML config."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_train_command(sub) -> None:
    p = sub.add_parser("train", help="train a PPO landing policy from a YAML config",
                       description="Train stable-baselines3 PPO on the native batched env. Everything lives in the "
                       "config (training/configs/*.yaml); the options below override the common keys.")
    p.add_argument("--config", required=True, help="YAML config, e.g. training/configs/ppo_3dof.yaml")
    p.add_argument("--run-dir", help="run folder (default runs/<config name>)")
    p.add_argument("--resume", action="store_true", help="continue the run folder's last checkpoint")
    p.add_argument("--total-timesteps", type=int, help="override total_timesteps")
    p.add_argument("--num-envs", type=int, help="override num_envs (landers per batch)")
    p.add_argument("--seed", type=int, help="override seed")
    p.add_argument("--learning-rate", type=float, help="override ppo.learning_rate")
    p.add_argument("--scenario", help="override scenario")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_train)


def cmd_train(args: argparse.Namespace) -> int:
    from training.config import load_config

    overrides = {"total_timesteps": args.total_timesteps, "num_envs": args.num_envs, "seed": args.seed,
                 "ppo.learning_rate": args.learning_rate, "scenario": args.scenario}
    config = load_config(args.config, overrides)
    try:
        from training.train import train
    except ImportError as err:
        raise ValueError(f'training needs stable-baselines3 and torch ({err}): pip install "lunar-env[train]"') from None
    run_dir = Path(args.run_dir) if args.run_dir else Path("runs") / config.name
    print(f"lunar train: {config.name}, {config.env_id}, scenario {config.scenario}, {config.num_envs} landers, "
          f"{config.total_timesteps:,} steps -> {run_dir}")
    train(config, run_dir, resume=args.resume, progress=not args.no_progress)
    print(f"done: best model in {run_dir / 'best'}, final model in {run_dir / 'final'}, "
          f"TensorBoard logs in {run_dir / 'tb'}")
    return 0
