"""Fly one episode per lander of a batch with a policy and summarise the outcomes."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from lunar_env.physics import outcomes
from lunar_env.simulator import LanderBatch

WILSON_Z_95 = 1.959963984540054  # standard normal quantile for a two-sided 95% interval


def wilson_interval(successes: int, trials: int, z: float = WILSON_Z_95) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion (Wilson 1927); (0, 1) for no trials."""
    if trials <= 0:
        return (0.0, 1.0)
    p = successes / trials
    denom = 1.0 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denom
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


@dataclass
class FlightResult:
    """Per-episode metrics (arrays of length n) of one batch flown to the end."""

    metrics: dict[str, np.ndarray]

    @property
    def episodes(self) -> int:
        return int(self.metrics["outcome"].shape[0])

    def summary(self) -> dict:
        m = self.metrics
        n = self.episodes
        landed = int(m["is_success"].sum())
        touched = np.isin(m["outcome"], list(range(outcomes.LANDED, outcomes.LANDED_OFF_TARGET + 1)))
        low, high = wilson_interval(landed, n)
        counts = np.bincount(m["outcome"], minlength=len(outcomes.OUTCOME_NAMES))

        def stat(values: np.ndarray) -> dict:
            values = values[np.isfinite(values)]
            if values.size == 0:
                return {"mean": None, "p95": None}
            return {"mean": float(values.mean()), "p95": float(np.percentile(values, 95))}

        return {
            "episodes": n,
            "success_rate": landed / n if n else 0.0,
            "success_ci95": [low, high],
            "miss_distance_m": stat(m["miss_distance"][touched]),
            "touchdown_vertical_speed_mps": stat(m["touchdown_vertical_speed"][touched]),
            "touchdown_horizontal_speed_mps": stat(m["touchdown_horizontal_speed"][touched]),
            "touchdown_tilt_deg": stat(m["touchdown_tilt_deg"][touched]),
            "propellant_used_kg": stat(m["propellant_used"]),
            "episode_time_s": stat(m["episode_time"]),
            "outcomes": {outcomes.OUTCOME_NAMES[k]: int(c) for k, c in enumerate(counts) if c},
        }


def fly_batch(batch: LanderBatch, policy, seed: int, progress: bool = True) -> FlightResult:
    """Reset every lander with ``seed``, fly until all episodes end, and collect their metrics.

    The policy sees float32 observations (n, obs_dim) and returns actions (n, act_dim); landers
    whose episode ended are ignored by the kernel, so the policy may act on them freely.
    """
    from tqdm.auto import tqdm

    obs = batch.reset(seed=seed)
    if hasattr(policy, "reset"):
        policy.reset(batch.num_landers)
    done = np.zeros(batch.num_landers, dtype=np.bool_)
    with tqdm(total=batch.num_landers, desc="episodes", unit="ep", disable=not progress, leave=False) as bar:
        for _ in range(batch.scenario.max_steps + 1):
            actions = policy.act(obs)
            obs, _, terminated, truncated = batch.step(actions)
            finished = (terminated | truncated) & ~done
            if finished.any():
                done |= finished
                bar.update(int(finished.sum()))
            if done.all():
                break
    return FlightResult(batch.episode_metrics(np.arange(batch.num_landers)))


def summary_table(result: FlightResult, title: str = "") -> str:
    """A plain-text table of a FlightResult's summary."""
    s = result.summary()

    def fmt(entry: dict, unit: str) -> str:
        if entry["mean"] is None:
            return "-"
        return f"{entry['mean']:.2f} {unit} (p95 {entry['p95']:.2f})"

    low, high = s["success_ci95"]
    rows = [
        ("episodes", f"{s['episodes']}"),
        ("landed on target", f"{100 * s['success_rate']:.1f}%  (95% CI {100 * low:.1f}-{100 * high:.1f}%)"),
        ("miss distance", fmt(s["miss_distance_m"], "m")),
        ("touchdown vertical speed", fmt(s["touchdown_vertical_speed_mps"], "m/s")),
        ("touchdown horizontal speed", fmt(s["touchdown_horizontal_speed_mps"], "m/s")),
        ("touchdown tilt", fmt(s["touchdown_tilt_deg"], "deg")),
        ("propellant used", fmt(s["propellant_used_kg"], "kg")),
        ("episode time", fmt(s["episode_time_s"], "s")),
        ("outcomes", ", ".join(f"{k} {v}" for k, v in s["outcomes"].items())),
    ]
    width = max(len(r[0]) for r in rows)
    lines = [title] if title else []
    lines += [f"  {name.ljust(width)}  {value}" for name, value in rows]
    return "\n".join(lines)
