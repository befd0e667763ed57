"""Soak test: many random-action steps over every scenario, counting what must never happen.

    python benchmarks/soak.py --steps 1e9 [--landers 4096] [--json benchmarks/results/soak.json]

For every scenario, both modes (3-DOF, 6-DOF), both observation modes (sensors, truth) and three
kinds of action (``corners``: each component -1 or +1 at random; ``zero``; ``uniform`` in [-1, 1]),
it steps a vector env with autoreset and counts, over all steps:

- non-finite observation values and rewards (must be 0);
- observation values outside the observation space (must be 0);
- endless episodes: a lander that went past the scenario's time limit without its episode ending
  (must be 0);
- ``numerical_error`` endings (a lander ended because its state turned non-finite: reported, and
  expected to be 0 for the shipped scenarios).

The step budget is split evenly over the combinations, visited in a fixed shuffled order so that a
run stopped early is a fair sample of all of them; the JSON is rewritten after each combination.
`--resume` continues a run recorded in --json (same arguments). Exits 1 when any must-be-zero
count is not.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from pathlib import Path

import numpy as np

from lunar_env import simulator
from lunar_env.atomic import write_atomic
from lunar_env.envs.vector_env import SouthPoleVectorEnv
from lunar_env.physics import outcomes
from lunar_env.scenarios import SCENARIOS
from lunar_env.sensors import observation_bounds

MODES = ("3dof", "6dof")
OBSERVATION_MODES = ("sensors", "truth")
ACTION_KINDS = ("corners", "zero", "uniform")
MUST_BE_ZERO = ("non_finite_observations", "non_finite_rewards", "observations_outside_space", "endless_episodes")


def _actions(kind: str, rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    if kind == "zero":
        return np.zeros(shape, np.float32)
    if kind == "corners":
        return rng.choice(np.array([-1.0, 1.0], np.float32), size=shape)
    return rng.uniform(-1.0, 1.0, size=shape).astype(np.float32)


def soak_one(scenario: str, mode: str, observation_mode: str, kind: str, landers: int, steps: int, seed: int) -> dict:
    """Counts for one combination, ``steps`` vector steps of ``landers`` landers."""
    env = SouthPoleVectorEnv(landers, scenario=scenario, mode=mode, observation_mode=observation_mode, copy=False)
    bounds = observation_bounds()
    max_steps = env.batch.sim.max_steps
    rng = np.random.default_rng(seed)
    counts = dict.fromkeys(MUST_BE_ZERO, 0)
    counts.update(episodes=0, numerical_error=0)
    age = np.zeros(landers, np.int64)  # steps since this lander's episode began
    obs, _ = env.reset(seed=seed)
    for _ in range(steps):
        obs, rewards, terminated, truncated, infos = env.step(_actions(kind, rng, (landers, env.batch.act_dim)))
        finite = np.isfinite(obs)
        counts["non_finite_observations"] += int(finite.size - finite.sum())
        counts["non_finite_rewards"] += int((~np.isfinite(rewards)).sum())
        counts["observations_outside_space"] += int((np.abs(np.where(finite, obs, 0.0)) > bounds).sum())
        age += 1
        done = terminated | truncated
        # Next-step autoreset: a lander that ended last step restarts on this one.
        counts["endless_episodes"] += int((age > max_steps + 1).sum())
        age[age > max_steps + 1] = 0  # count each endless episode once
        if done.any():
            counts["episodes"] += int(done.sum())
            codes = infos["outcome"][infos["_outcome"]]
            counts["numerical_error"] += int((codes == outcomes.NUMERICAL_ERROR).sum())
            age[done] = -1  # the reset step does not count
    env.close()
    return counts


def _result(rows: list[dict], totals: dict, args, per_combo: int, combinations: int, wall_s: float) -> dict:
    return {"command": "python benchmarks/soak.py " + " ".join(args.argv),
            "lander_steps": per_combo * args.landers * len(rows), "landers": args.landers,
            "steps_per_combination": per_combo, "combinations_done": len(rows), "combinations": combinations,
            "wall_time_s": round(wall_s, 1), "totals": dict(totals), "rows": rows}


def _previous_run(path: Path, per_combo: int, landers: int, combinations: int) -> tuple[list, dict, float]:
    """Rows, totals and wall time of the run recorded in ``path``, which must be this run's."""
    previous = json.loads(path.read_text())
    if (previous["steps_per_combination"], previous["landers"], previous["combinations"]) != (
            per_combo, landers, combinations):
        raise SystemExit(f"--resume: {path} records another run ({previous['command']}); "
                         "give the same --steps, --landers and --scenarios")
    return previous["rows"], previous["totals"], float(previous["wall_time_s"])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=float, default=1e8, help="lander-steps in all (default 1e8)")
    parser.add_argument("--landers", type=int, default=4096, help="landers per vector env (default 4096)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--scenarios", default=",".join(SCENARIOS), help="comma-separated (default: all)")
    parser.add_argument("--json", type=Path, default=None, help="write the counts as JSON")
    parser.add_argument("--resume", action="store_true",
                        help="continue the run recorded in --json: skip its finished combinations, add to its counts")
    args = parser.parse_args(argv)
    if args.resume and args.json is None:
        parser.error("--resume needs --json, the record of the run to continue")
    args.argv = list(sys.argv[1:] if argv is None else argv)
    scenarios = [s for s in args.scenarios.split(",") if s]
    combos = list(itertools.product(scenarios, MODES, OBSERVATION_MODES, ACTION_KINDS))
    order = np.random.default_rng(args.seed).permutation(len(combos))
    combos = [combos[k] for k in order]
    simulator.POOL_CACHE_SIZE = max(simulator.POOL_CACHE_SIZE, len(scenarios))  # a shuffled order reuses every pool
    per_combo = max(1, int(args.steps / len(combos) / args.landers))

    from tqdm.auto import tqdm

    rows, totals, wall_before = [], dict.fromkeys((*MUST_BE_ZERO, "episodes", "numerical_error"), 0), 0.0
    if args.resume and args.json.is_file():
        rows, totals, wall_before = _previous_run(args.json, per_combo, args.landers, len(combos))
    done = {(r["scenario"], r["mode"], r["observation_mode"], r["actions"]) for r in rows}
    started = time.perf_counter() - wall_before
    result = _result(rows, totals, args, per_combo, len(combos), wall_before)
    bar = tqdm(total=len(combos), initial=len(done), desc="soak", unit="combination")
    for k, (scenario, mode, obs_mode, kind) in enumerate(combos):
        if (scenario, mode, obs_mode, kind) in done:
            continue
        bar.update(1)
        counts = soak_one(scenario, mode, obs_mode, kind, args.landers, per_combo, args.seed + k)
        rows.append({"scenario": scenario, "mode": mode, "observation_mode": obs_mode, "actions": kind, **counts})
        for key in totals:
            totals[key] += counts[key]
        result = _result(rows, totals, args, per_combo, len(combos), time.perf_counter() - started)
        if args.json is not None:
            write_atomic(args.json, json.dumps(result, indent=1) + "\n")
    bar.close()
    wall = time.perf_counter() - started
    lander_steps = result["lander_steps"]
    print(f"{lander_steps:.3g} lander-steps over {len(combos)} combinations in {wall / 60:.1f} min "
          f"({totals['episodes']:,} episodes)")
    for key in (*MUST_BE_ZERO, "numerical_error"):
        print(f"  {key}: {totals[key]}")
    return 1 if any(totals[key] for key in MUST_BE_ZERO) else 0


if __name__ == "__main__":
    sys.exit(main())
