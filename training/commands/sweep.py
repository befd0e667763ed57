"""``lunar sweep``: a Ray Tune search over PPO hyperparameters and reward weights (training/sweep.py)."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_sweep_command(sub) -> None:
    p = sub.add_parser("sweep", help="search PPO hyperparameters and reward weights with Ray Tune and ASHA",
                       description="Train many trials of a base config with values drawn from a search space, stop "
                       "the trailing ones early (ASHA) and write the best config as a training YAML with a results "
                       'table. Needs pip install "lunar-env[ray,train]". The sweep file is documented in '
                       "training/sweeps/ppo_3dof.yaml; docs/scaling.md shows cluster use.")
    p.add_argument("--config", required=True, help="sweep file, e.g. training/sweeps/ppo_3dof.yaml")
    p.add_argument("--address", help="a running Ray cluster (default: a local Ray instance on this machine's cores)")
    p.add_argument("--out", help="output folder (default runs/sweeps/<sweep name>)")
    p.add_argument("--quiet", action="store_true", help="no line per trial report")
    p.set_defaults(func=cmd_sweep)


def cmd_sweep(args: argparse.Namespace) -> int:
    from lunar_env.output_paths import check_output_dir
    from lunar_env.ray_cluster import require_ray
    from training.sweep import run_sweep
    from training.sweep_spec import load_sweep

    sweep = load_sweep(args.config)
    require_ray("lunar sweep")
    try:
        import training.train  # noqa: F401  (checked here, before any trial starts)
    except ImportError as err:
        raise ValueError(
            f'lunar sweep needs stable-baselines3 and torch ({err}): pip install "lunar-env[train]"'
        ) from None
    out = check_output_dir(Path(args.out) if args.out else Path("runs") / "sweeps" / sweep.name)
    print(
        f"lunar sweep: {sweep.name}, {sweep.trials} trials of up to {sweep.total_timesteps:,} steps, "
        f"searching {', '.join(p.key for p in sweep.search_space)} -> {out}"
    )
    result = run_sweep(sweep, out, address=args.address, progress=not args.quiet)
    best = result["best"]
    print(f"\nbest trial {best.trial_id}: success rate {best.success_rate:.3f}, score {best.score:.4f}")
    print(f"wrote {result['best_config']}, {result['results_md']}, {result['results_csv']}")
    print(f"train it: lunar train --config {result['best_config']}")
    return 0
