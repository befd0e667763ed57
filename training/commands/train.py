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
    from training.multi_seed import DEFAULT_BENCH_EPISODES, DEFAULT_BENCH_SEED

    seeds = p.add_argument_group("several seeds", "train the config once per seed, in <run-dir>/seed_<k>, and "
                                 "summarize the spread (<run-dir>/seeds_summary.md and .json); docs/scaling.md")
    seeds.add_argument("--seeds", help="seeds to train: 3 (seed 3), 0-9 (seeds 0 to 9), 0,2,5, or a mix like 0-3,7")
    seeds.add_argument("--backend", choices=["local", "ray"], default="local",
                       help="local: one seed after the other (default); ray: seeds in parallel as Ray tasks "
                       '(pip install "lunar-env[ray]")')
    seeds.add_argument("--address", help="with --backend ray: a running Ray cluster (default: a local instance)")
    seeds.add_argument("--cpus-per-seed", type=int, default=1,
                       help="CPUs each Ray task reserves; torch and numba use as many threads (default 1)")
    seeds.add_argument(
        "--bench-episodes",
        type=int,
        default=DEFAULT_BENCH_EPISODES,
        help=f"episodes of the held-out benchmark of each seed's best model (default {DEFAULT_BENCH_EPISODES})",
    )
    seeds.add_argument(
        "--bench-seed",
        type=int,
        default=DEFAULT_BENCH_SEED,
        help=f"seed of that benchmark (default {DEFAULT_BENCH_SEED})",
    )
    p.set_defaults(func=cmd_train)


def cmd_train(args: argparse.Namespace) -> int:
    from lunar_env.output_paths import check_output_dir
    from training.config import load_config

    overrides = {
        "total_timesteps": args.total_timesteps,
        "num_envs": args.num_envs,
        "seed": args.seed,
        "ppo.learning_rate": args.learning_rate,
        "scenario": args.scenario,
    }
    config = load_config(args.config, overrides)
    if args.seeds is not None:
        return _train_seeds(args, config)
    if args.backend != "local" or args.address:
        raise ValueError("--backend and --address apply to --seeds; add --seeds")
    try:
        from training.train import train
    except ImportError as err:
        raise ValueError(
            f'training needs stable-baselines3 and torch ({err}): pip install "lunar-env[train]"'
        ) from None
    run_dir = check_output_dir(Path(args.run_dir) if args.run_dir else Path("runs") / config.name, "--run-dir")
    print(
        f"lunar train: {config.name}, {config.env_id}, scenario {config.scenario}, {config.num_envs} landers, "
        f"{config.total_timesteps:,} steps -> {run_dir}"
    )
    train(config, run_dir, resume=args.resume, progress=not args.no_progress)
    print(
        f"done: best model in {run_dir / 'best'}, final model in {run_dir / 'final'}, "
        f"TensorBoard logs in {run_dir / 'tb'}"
    )
    return 0


def _train_seeds(args: argparse.Namespace, config) -> int:
    from lunar_env.output_paths import check_output_dir
    from training.multi_seed import parse_seeds, run_seeds

    if args.seed is not None:
        raise ValueError("--seed and --seeds exclude each other")
    seeds = parse_seeds(args.seeds)
    base = check_output_dir(Path(args.run_dir) if args.run_dir else Path("runs") / config.name, "--run-dir")
    try:
        import training.train  # noqa: F401  (the driver checks the training extra before any worker starts)
    except ImportError as err:
        raise ValueError(
            f'training needs stable-baselines3 and torch ({err}): pip install "lunar-env[train]"'
        ) from None
    print(
        f"lunar train: {config.name}, seeds {', '.join(map(str, seeds))}, {config.total_timesteps:,} steps each, "
        f"backend {args.backend} -> {base}/seed_<k>"
    )
    summary = run_seeds(
        config,
        seeds,
        base,
        backend=args.backend,
        address=args.address,
        cpus_per_seed=args.cpus_per_seed,
        resume=args.resume,
        bench_episodes=args.bench_episodes,
        bench_seed=args.bench_seed,
        progress=not args.no_progress,
    )
    from training.multi_seed import summary_markdown

    print()
    print(summary_markdown(summary))
    print(f"wrote {base / 'seeds_summary.md'} and {base / 'seeds_summary.json'}")
    return 0
