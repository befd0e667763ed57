"""The benchmark suite: metrics, report schema, determinism and clear errors."""

import json
import math

import numpy as np
import pytest

from agents.bench_runner import run_bench
from agents.policy import CallablePolicy
from agents.registry import load_policy
from agents.zem_zev import ZemZevGuidance
from lunar_env.evaluation.report import build_report, markdown_table, scenario_summary, validate_report
from lunar_env.evaluation.stats import wilson_interval
from lunar_env.evaluation.suite import ScenarioRun, attach_optimum, fly_scenario, optimum_subsample, suite_scenarios
from lunar_env.physics import outcomes
from lunar_env.simulator import LanderBatch
from training.commands.main import main


def handmade_run() -> ScenarioRun:
    """Five episodes with known outcomes: 3 landed, 1 off target, 1 vertical-speed crash."""
    codes = np.array([outcomes.LANDED, outcomes.LANDED, outcomes.LANDED_OFF_TARGET, outcomes.CRASH_VERTICAL_SPEED,
                      outcomes.LANDED])
    metrics = {
        "is_success": codes == outcomes.LANDED,
        "outcome": codes,
        "miss_distance": np.array([1.0, 2.0, 150.0, 3.0, 4.0]),
        "touchdown_vertical_speed": np.array([0.5, 0.7, 0.9, 4.0, 0.9]),
        "touchdown_horizontal_speed": np.array([0.1, 0.1, 0.2, 0.3, 0.3]),
        "touchdown_tilt_deg": np.array([1.0, 2.0, 3.0, 4.0, 5.0]),
        "propellant_used": np.array([100.0, 110.0, 120.0, 90.0, 105.0]),
    }
    zeros = np.zeros((5, 3))
    return ScenarioRun("nominal", "vikram_like", "3dof", metrics, np.zeros((5, 2)), zeros, zeros, np.ones(5), 100.0)


def test_summary_of_handmade_episodes():
    run = handmade_run()
    run.optimum_index = np.array([0, 1, 3, 4])
    run.optimum_kg = np.array([100.0, 100.0, 80.0, np.nan])
    s = scenario_summary(run)
    assert s["landed"] == 3 and s["success_rate"] == pytest.approx(0.6)
    assert s["success_ci95"] == pytest.approx(list(wilson_interval(3, 5)))
    assert s["miss_distance_m"]["mean"] == pytest.approx(np.mean([1, 2, 150, 3, 4]))
    assert s["miss_distance_m"]["p95"] == pytest.approx(np.percentile([1, 2, 150, 3, 4], 95))
    assert s["touchdown_vertical_speed_mps"]["mean"] == pytest.approx(np.mean([0.5, 0.7, 0.9, 4.0, 0.9]))
    assert s["outcomes"] == {"landed": 3, "landed_off_target": 1, "crash_vertical_speed": 1}
    # Ratio over landed episodes with a finite optimum only: 100/100 and 110/100.
    ratio = s["propellant_ratio_to_optimum"]
    assert ratio["mean"] == pytest.approx(1.05) and ratio["count"] == 2
    assert ratio["samples"] == 4 and ratio["infeasible"] == 1


def test_wilson_interval_known_values():
    # Wilson (1927) interval for 8 of 10 at 95%: (0.490, 0.943).
    low, high = wilson_interval(8, 10)
    assert low == pytest.approx(0.4902, abs=1e-3) and high == pytest.approx(0.9433, abs=1e-3)
    assert wilson_interval(0, 0) == (0.0, 1.0)


def test_report_follows_schema_and_schema_rejects_broken_reports():
    report = build_report([handmade_run()], "test", "nominal", 3, "sensors", 1.0)
    validate_report(report)
    json.dumps(report)  # serialisable
    broken = json.loads(json.dumps(report))
    broken["scenarios"][0]["success_rate"] = 1.5
    with pytest.raises(ValueError, match="success_rate|1.5"):
        validate_report(broken)
    del broken["scenarios"][0]["outcomes"]
    with pytest.raises(ValueError):
        validate_report(broken)
    assert "| nominal |" in markdown_table(report)


def test_optimum_subsample_is_even_and_bounded():
    assert optimum_subsample(10, 0).size == 0
    assert optimum_subsample(5, 50).tolist() == [0, 1, 2, 3, 4]
    idx = optimum_subsample(1000, 5)
    assert idx.tolist() == [0, 250, 500, 749, 999]


def test_zemzev_lands_noise_free_nominal_batch():
    run = fly_scenario(ZemZevGuidance(LanderBatch("nominal", 1).scenario.lander, mode="3dof"),
                       "nominal", 200, seed=11, mode="3dof", observation_mode="truth", progress=False)
    assert run.metrics["is_success"].mean() >= 0.99
    landed = run.metrics["is_success"]
    assert np.all(run.metrics["touchdown_vertical_speed"][landed] < 2.0)


def test_zemzev_lands_6dof_with_sensor_noise():
    lander = LanderBatch("nominal", 1).scenario.lander
    run = fly_scenario(ZemZevGuidance(lander, mode="6dof"), "nominal_flat", 100, seed=5, mode="6dof", progress=False)
    assert run.metrics["is_success"].mean() >= 0.9


def test_results_do_not_depend_on_shard_size():
    lander = LanderBatch("nominal", 1).scenario.lander
    a = fly_scenario(ZemZevGuidance(lander), "nominal", 40, seed=2, mode="3dof", shard_size=40, progress=False)
    b = fly_scenario(ZemZevGuidance(lander), "nominal", 40, seed=2, mode="3dof", shard_size=15, progress=False)
    for key in a.metrics:
        np.testing.assert_array_equal(a.metrics[key], b.metrics[key], err_msg=key)


def test_same_seed_same_report_and_other_seed_differs():
    def numbers(seed):
        report, _ = run_bench("zemzev", ("nominal",), 30, seed, "3dof", optimum_samples=0, progress=False)
        report.pop("timing")
        return report

    assert numbers(4) == numbers(4)
    assert numbers(4)["scenarios"][0]["propellant_used_kg"] != numbers(5)["scenarios"][0]["propellant_used_kg"]


def test_attach_optimum_uses_the_runs_initial_states():
    run = handmade_run()
    run.initial_mass = np.arange(5, dtype=float) + 1000.0
    seen = {}

    def fake_optimum(scenario, r0, v0, m0):
        seen["m0"] = m0
        return m0 / 10.0

    attach_optimum(run, fake_optimum, 3)
    assert run.optimum_index.tolist() == [0, 2, 4]
    np.testing.assert_array_equal(seen["m0"], [1000.0, 1002.0, 1004.0])


def test_bad_policy_path_gives_clear_error(tmp_path, capsys):
    code = main(["bench", "--policy", str(tmp_path / "nope"), "--episodes", "2", "--optimum-samples", "0",
                 "--no-plots", "--out", str(tmp_path / "out")])
    assert code == 2
    assert "neither a built-in policy" in capsys.readouterr().err


def test_corrupt_model_folder_is_refused(tmp_path, capsys):
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "metadata.json").write_text("{not json")
    code = main(["bench", "--policy", str(folder), "--episodes", "2", "--optimum-samples", "0", "--no-plots"])
    assert code == 2
    assert "corrupt JSON" in capsys.readouterr().err


def test_policy_with_wrong_action_size_gives_clear_error():
    wrong = CallablePolicy(lambda obs: np.zeros((obs.shape[0], 7), dtype=np.float32))
    with pytest.raises(ValueError, match=r"shape \(4, 7\).*\(4, 3\)"):
        fly_scenario(wrong, "nominal", 4, seed=0, mode="3dof", progress=False)


def test_unknown_suite_and_scenario_are_refused(capsys):
    with pytest.raises(ValueError, match="unknown suite"):
        suite_scenarios("everything")
    assert main(["bench", "--policy", "random", "--scenario", "moon_base", "--episodes", "1"]) == 2
    assert "unknown scenario" in capsys.readouterr().err


def test_bench_command_writes_valid_outputs(tmp_path):
    out = tmp_path / "bench"
    assert main(["bench", "--policy", "zemzev", "--scenario", "nominal_flat", "--episodes", "20",
                 "--optimum-samples", "0", "--quiet", "--out", str(out)]) == 0
    report = json.loads((out / "bench.json").read_text())
    validate_report(report)
    assert report["scenarios"][0]["episodes"] == 20
    assert (out / "bench.md").read_text().startswith("policy `zemzev`")
    assert (out / "dispersion.png").stat().st_size > 1000
    assert math.isfinite(report["timing"]["wall_time_s"])


def test_registry_refuses_mode_mismatch_of_builtin_random():
    batch = LanderBatch("nominal", 2, mode="6dof")
    policy = load_policy("random", batch)
    assert policy.act(np.zeros((2, batch.obs_dim), np.float32)).shape == (2, batch.act_dim)


def _flight_plans(policy, steps: int):
    """Fly 8 truth-observed nominal landers; per step the plan's time made, its final time, and the clock."""
    from agents.thrust_command import SLICES

    batch = LanderBatch("nominal", 8, mode="3dof", observation_mode="truth")
    obs = batch.reset(seed=4)
    made, final, clock = [], [], []
    for _ in range(steps):
        clock.append(obs[:, SLICES["time"]][:, 0].astype(np.float64))
        obs, *_ = batch.step(policy.act(obs))
        made.append(policy.plan_time.copy())
        final.append(policy.final_time.copy())
    return np.array(made), np.array(final), np.array(clock)


def test_zemzev_replans_on_its_interval_and_holds_the_last_plan():
    lander = LanderBatch("nominal", 1).scenario.lander
    made, final, clock = _flight_plans(ZemZevGuidance(lander, replan_interval_s=2.0, hold_plan_below_s=15.0), 1200)
    # 10 Hz control: a new plan every 20 steps while more than 15 s are left.
    replans = np.diff(made, axis=0) > 0
    assert replans[:100].sum(axis=0).tolist() == [5] * 8
    gaps = [np.diff(np.flatnonzero(col)) for col in replans.T]
    assert all(np.all(g == 20) for g in gaps)
    # Once a plan has 15 s or less to go it is held: no new plan after that step.
    left = final[:-1] - clock[1:]
    held = np.cumsum(left <= 15.0, axis=0) > 0
    assert held.any(axis=0).all() and not (replans & held).any()
    once, final_once, _ = _flight_plans(ZemZevGuidance(lander, replan_interval_s=None), 400)
    assert np.all(once == 0.0) and np.all(final_once == final_once[0])  # planned once, at the start


def test_zemzev_refuses_a_hold_shorter_than_its_shortest_plan():
    lander = LanderBatch("nominal", 1).scenario.lander
    with pytest.raises(ValueError, match="hold_plan_below_s"):
        ZemZevGuidance(lander, replan_interval_s=1.0, hold_plan_below_s=5.0, min_time_s=15.0)


def test_zemzev_replans_toward_the_same_landing():
    """Receding horizon keeps the plan consistent: a noise-free flight lands as planning once does."""
    lander = LanderBatch("nominal", 1).scenario.lander
    runs = [fly_scenario(ZemZevGuidance(lander, replan_interval_s=interval), "nominal", 100, seed=11, mode="3dof",
                         observation_mode="truth", progress=False) for interval in (None, 1.0)]
    for run in runs:
        assert run.metrics["is_success"].mean() >= 0.97
    used = [run.metrics["propellant_used"][run.metrics["is_success"]].mean() for run in runs]
    assert abs(used[1] - used[0]) < 0.05 * used[0]


def test_zemzev_refuses_a_negative_replan_interval():
    lander = LanderBatch("nominal", 1).scenario.lander
    with pytest.raises(ValueError, match="replan_interval_s"):
        ZemZevGuidance(lander, replan_interval_s=-1.0)


def test_the_former_package_lunar_env_benchmark_is_a_deprecated_alias():
    """``lunar_env.benchmark`` still imports, for one release, with a DeprecationWarning, and hands
    out the very modules of ``lunar_env.evaluation`` (and ``lunar_env.throughput``)."""
    import subprocess
    import sys

    refused = subprocess.run([sys.executable, "-W", "error::DeprecationWarning", "-c", "import lunar_env.benchmark"],
                             capture_output=True, text=True)
    assert refused.returncode != 0 and "lunar_env.evaluation" in refused.stderr
    code = ("import warnings; warnings.simplefilter('ignore', DeprecationWarning)\n"
            "import lunar_env.benchmark.suite as old_suite, lunar_env.evaluation.suite as suite\n"
            "import lunar_env.benchmark.report as old_report, lunar_env.evaluation.report as report\n"
            "import lunar_env.benchmark.throughput as old_tp, lunar_env.throughput as tp\n"
            "from lunar_env.benchmark.flight import wilson_interval\n"
            "from lunar_env.benchmark.ray_backend import init_ray, fly_scenario_ray, require_ray\n"
            "from lunar_env.evaluation.stats import wilson_interval as new_wilson\n"
            "assert old_suite is suite and old_report is report and old_tp is tp and wilson_interval is new_wilson\n"
            "print('ok')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr
