"""Benchmark reports: the summary of each scenario, as JSON (a versioned schema), Markdown, a
terminal table and plots. docs/benchmark.md documents every field."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from lunar_env.atomic import write_atomic
from lunar_env.evaluation.stats import wilson_interval
from lunar_env.evaluation.suite import ScenarioRun
from lunar_env.physics import outcomes

SCHEMA_NAME = "lunar-bench"
SCHEMA_VERSION = 1
SCHEMA_PATH = Path(__file__).with_name("bench_schema.json")
TOUCHED_DOWN = tuple(range(outcomes.LANDED, outcomes.LANDED_OFF_TARGET + 1))


def _stat(values: np.ndarray) -> dict:
    values = np.asarray(values, dtype=np.float64)
    values = values[np.isfinite(values)]
    if values.size == 0:
        return {"mean": None, "p95": None, "count": 0}
    return {"mean": float(values.mean()), "p95": float(np.percentile(values, 95)), "count": int(values.size)}


def scenario_summary(run: ScenarioRun) -> dict:
    """The numbers the benchmark reports for one scenario."""
    m = run.metrics
    n = run.episodes
    landed = int(m["is_success"].sum())
    touched = np.isin(m["outcome"], TOUCHED_DOWN)
    counts = np.bincount(m["outcome"], minlength=len(outcomes.OUTCOME_NAMES))
    ratio = None
    if run.optimum_index.size:
        optimum = run.optimum_kg
        used = m["propellant_used"][run.optimum_index]
        # Only episodes that landed count: a crash can burn less than any landing.
        usable = np.isfinite(optimum) & (optimum > 0) & m["is_success"][run.optimum_index]
        ratio = {**_stat(used[usable] / optimum[usable]),
                 "samples": int(run.optimum_index.size),
                 "infeasible": int((~np.isfinite(optimum)).sum()),
                 "optimum_kg_mean": float(np.nanmean(optimum)) if np.isfinite(optimum).any() else None}
    return {
        "scenario": run.scenario,
        "lander": run.lander,
        "mode": run.mode,
        "episodes": n,
        "landed": landed,
        "success_rate": landed / n,
        "success_ci95": list(wilson_interval(landed, n)),
        "miss_distance_m": _stat(m["miss_distance"][touched]),
        "touchdown_vertical_speed_mps": _stat(m["touchdown_vertical_speed"][touched]),
        "touchdown_horizontal_speed_mps": _stat(m["touchdown_horizontal_speed"][touched]),
        "touchdown_tilt_deg": _stat(m["touchdown_tilt_deg"][touched]),
        "propellant_used_kg": _stat(m["propellant_used"]),
        "propellant_ratio_to_optimum": ratio,
        "outcomes": {outcomes.OUTCOME_NAMES[k]: int(c) for k, c in enumerate(counts) if c},
    }


def build_report(runs: list[ScenarioRun], policy: str, suite: str, seed: int, observation_mode: str,
                 wall_time_s: float | None = None) -> dict:
    """The whole benchmark report (the JSON document). ``timing`` is the only field that varies
    between two runs with the same arguments."""
    from lunar_env import __version__

    return {
        "schema": SCHEMA_NAME,
        "schema_version": SCHEMA_VERSION,
        "lunar_env_version": __version__,
        "policy": policy,
        "suite": suite,
        "seed": int(seed),
        "observation_mode": observation_mode,
        "episodes_per_scenario": runs[0].episodes if runs else 0,
        "scenarios": [scenario_summary(run) for run in runs],
        "timing": {"wall_time_s": wall_time_s},
    }


def validate_report(report: dict) -> None:
    """Raise ValueError when a report does not follow the schema (needs the jsonschema package)."""
    try:
        import jsonschema
    except ImportError:
        raise ValueError('validating a benchmark report needs jsonschema: pip install jsonschema') from None
    schema = json.loads(SCHEMA_PATH.read_text())
    try:
        jsonschema.validate(report, schema)
    except jsonschema.ValidationError as err:
        raise ValueError(f"benchmark report does not follow {SCHEMA_NAME} v{SCHEMA_VERSION}: {err.message}") from None


def _fmt(entry: dict | None, digits: int = 2) -> str:
    if not entry or entry.get("mean") is None:
        return "-"
    return f"{entry['mean']:.{digits}f} / {entry['p95']:.{digits}f}"


COLUMNS = ("scenario", "landed (95% CI)", "miss m", "v_vert m/s", "v_horiz m/s", "tilt deg", "propellant kg",
           "vs optimum", "crashes")


def _row(s: dict) -> list[str]:
    low, high = s["success_ci95"]
    crashes = {k: v for k, v in s["outcomes"].items() if k != "landed"}
    ratio = s["propellant_ratio_to_optimum"]
    ratio_text = "-" if not ratio or ratio["mean"] is None else f"{ratio['mean']:.3f}x (n={ratio['count']})"
    return [s["scenario"], f"{100 * s['success_rate']:.1f}% ({100 * low:.1f}-{100 * high:.1f})",
            _fmt(s["miss_distance_m"], 1), _fmt(s["touchdown_vertical_speed_mps"]),
            _fmt(s["touchdown_horizontal_speed_mps"]), _fmt(s["touchdown_tilt_deg"], 1),
            _fmt(s["propellant_used_kg"], 1), ratio_text,
            ", ".join(f"{k} {v}" for k, v in crashes.items()) or "none"]


def markdown_table(report: dict) -> str:
    """The report as a Markdown table (mean / 95th percentile in metric columns)."""
    head = (f"policy `{report['policy']}`, suite `{report['suite']}`, seed {report['seed']}, "
            f"{report['episodes_per_scenario']} episodes per scenario, observations: {report['observation_mode']}; "
            "metric cells are mean / 95th percentile over touchdowns\n\n")
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(_row(s)) + " |" for s in report["scenarios"]]
    return head + "\n".join(lines) + "\n"


def terminal_table(report: dict) -> str:
    """The report as an aligned plain-text table."""
    rows = [list(COLUMNS)] + [_row(s) for s in report["scenarios"]]
    widths = [max(len(r[k]) for r in rows) for k in range(len(COLUMNS))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)) for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def write_plots(runs: list[ScenarioRun], out_dir: Path) -> list[Path]:
    """Touchdown dispersion and propellant-ratio histograms, one panel per scenario (PNG)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise ValueError('plots need matplotlib: pip install "lunar-env[bench]"') from None
    written = []
    k = len(runs)
    fig, axes = plt.subplots(1, k, figsize=(4.2 * k, 4.2), squeeze=False)
    for ax, run in zip(axes[0], runs):
        out = run.metrics["outcome"]
        for code, colour in ((outcomes.LANDED, "tab:green"), (outcomes.LANDED_OFF_TARGET, "tab:orange")):
            sel = out == code
            ax.scatter(run.touchdown_xy[sel, 0], run.touchdown_xy[sel, 1], s=4, c=colour,
                       label=f"{outcomes.OUTCOME_NAMES[code]} ({sel.sum()})")
        crash = ~np.isin(out, (outcomes.LANDED, outcomes.LANDED_OFF_TARGET)) & np.isin(out, TOUCHED_DOWN)
        ax.scatter(run.touchdown_xy[crash, 0], run.touchdown_xy[crash, 1], s=8, c="tab:red", marker="x",
                   label=f"crashed ({crash.sum()})")
        circle = plt.Circle((0, 0), run.target_radius_m, fill=False, ls="--", color="k", lw=0.8)
        ax.add_patch(circle)
        ax.set_aspect("equal")
        ax.set_title(f"{run.scenario} ({run.mode})")
        ax.set_xlabel("East (m)")
        ax.set_ylabel("North (m)")
        ax.legend(fontsize=7, loc="upper right")
    fig.tight_layout()
    path = out_dir / "dispersion.png"
    _save(fig, path)
    written.append(path)

    with_ratio = [r for r in runs if r.optimum_index.size]
    if with_ratio:
        fig, axes = plt.subplots(1, len(with_ratio), figsize=(4.2 * len(with_ratio), 3.4), squeeze=False)
        for ax, run in zip(axes[0], with_ratio):
            used = run.metrics["propellant_used"][run.optimum_index]
            ok = np.isfinite(run.optimum_kg) & run.metrics["is_success"][run.optimum_index]
            ax.hist(used[ok] / run.optimum_kg[ok], bins=30, color="tab:blue")
            ax.axvline(1.0, color="k", lw=0.8)
            ax.set_title(f"{run.scenario}: propellant / optimum")
            ax.set_xlabel("ratio")
            ax.set_ylabel("episodes")
        fig.tight_layout()
        path = out_dir / "propellant_ratio.png"
        _save(fig, path)
        written.append(path)
    return written


def _save(fig, path: Path) -> None:
    import io

    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    plt.close(fig)
    write_atomic(path, buffer.getvalue())
