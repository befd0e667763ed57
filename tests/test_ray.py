"""Scale-out on Ray: sharded benchmarks equal the single-process run, lost workers are retried,
sweeps and multi-seed training complete, and a missing Ray is reported clearly."""

import functools
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

ray = pytest.importorskip("ray")

from agents.bench_runner import fly_scenario_ray  # noqa: E402
from agents.model_folder import load_model_folder, read_metadata  # noqa: E402
from agents.policy import Policy  # noqa: E402
from agents.zem_zev import ZemZevGuidance  # noqa: E402
from lunar_env.evaluation.suite import (  # noqa: E402
    fly_scenario,  # noqa: E402
    merge_shards,
    shard_ranges,
)
from lunar_env.ray_cluster import check_reachable  # noqa: E402
from lunar_env.simulator import LanderBatch  # noqa: E402
from training.commands.main import main  # noqa: E402
from training.config import load_config  # noqa: E402
from training.multi_seed import parse_seeds, run_seeds, train_seed  # noqa: E402
from training.sweep import run_sweep, score  # noqa: E402
from training.sweep_spec import load_sweep, sweep_from_dict  # noqa: E402

# A tiny training config: few landers, short rollouts, a small net, the short hover_start scenario.
TINY_CONFIG = {
    "name": "tiny",
    "scenario": "hover_start",
    "observation_mode": "truth",
    "num_envs": 16,
    "total_timesteps": 1024,
    "seed": 3,
    "torch_threads": 1,
    "eval_every_steps": 1024,
    "eval_episodes": 8,
    "checkpoint_every_steps": 1024,
    "ppo": {"n_steps": 32, "batch_size": 256, "n_epochs": 1, "net_arch": [16, 16]},
}


@pytest.fixture(scope="module")
def local_ray():
    """One local Ray instance of 2 CPUs for the module (the backends reuse it)."""
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    # The dying policy below lives in this test module, which workers cannot import: ship it by value.
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    yield ray
    ray.shutdown()


@pytest.fixture
def tiny_config_path(tmp_path) -> Path:
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(TINY_CONFIG))
    return path


def zemzev(batch) -> Policy:
    return ZemZevGuidance(batch.scenario.lander, mode=batch.mode)


def assert_same_run(a, b) -> None:
    assert a.metrics.keys() == b.metrics.keys()
    for key in a.metrics:
        np.testing.assert_array_equal(a.metrics[key], b.metrics[key], err_msg=key)
    for name in ("touchdown_xy", "initial_position", "initial_velocity", "initial_mass"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
    assert (a.scenario, a.lander, a.mode, a.target_radius_m) == (b.scenario, b.lander, b.mode, b.target_radius_m)


# ----------------------------------------------------------------------------- without Ray running
def test_shard_ranges_tile_the_episodes():
    assert shard_ranges(10, 4) == [(0, 4), (4, 4), (8, 2)]
    assert shard_ranges(3, 10) == [(0, 3)]


def test_merge_refuses_gaps_and_overlaps():
    def part(start, count):
        z = np.zeros(count)
        return {"start": start, "count": count, "metrics": {"outcome": z}, "touchdown_xy": np.zeros((count, 2)),
                "initial_position": np.zeros((count, 3)), "initial_velocity": np.zeros((count, 3)),
                "initial_mass": z, "lander": "x", "target_radius_m": 1.0}

    assert merge_shards([part(0, 3), part(3, 2)], "nominal", "3dof", 5).episodes == 5
    with pytest.raises(RuntimeError, match="tile"):
        merge_shards([part(0, 3), part(2, 3)], "nominal", "3dof", 5)  # episode 2 twice
    with pytest.raises(RuntimeError, match="cover 3 episodes, not 5"):
        merge_shards([part(0, 3)], "nominal", "3dof", 5)  # the last shard lost


def test_parse_seeds_forms_and_errors():
    assert parse_seeds("3") == (3,)
    assert parse_seeds("0-9") == tuple(range(10))
    assert parse_seeds("0,2,5") == (0, 2, 5)
    assert parse_seeds("0-2, 7") == (0, 1, 2, 7)
    for bad in ("", "a", "5-2", "1,1", "0-3,2", "-1"):
        with pytest.raises(ValueError, match="--seeds"):
            parse_seeds(bad)


def test_score_orders_by_success_then_propellant():
    n, capacity = 100, 1000.0
    # One more landing always outweighs any propellant difference ...
    assert score(0.51, capacity, n, capacity) > score(0.50, 0.0, n, capacity)
    # ... and equal success rates are ordered by propellant.
    assert score(0.5, 300.0, n, capacity) > score(0.5, 301.0, n, capacity)
    assert score(0.5, 300.0, n, capacity) == pytest.approx(0.5 - 0.3 / 101)
    # No landing counts as a full tank.
    assert score(0.0, None, n, capacity) == pytest.approx(-1 / 101)


def sweep_data(tmp_path: Path, **changes) -> dict:
    (tmp_path / "base.yaml").write_text(yaml.safe_dump(TINY_CONFIG))
    data = {"name": "tiny_sweep", "base_config": "base.yaml", "trials": 2, "seed": 1,
            "budget": {"total_timesteps": 1024, "report_every_steps": 512, "eval_episodes": 8},
            "scheduler": {"grace_period_steps": 512, "reduction_factor": 2},
            "search_space": {"ppo.learning_rate": {"loguniform": [1.0e-4, 1.0e-3]},
                             "reward.propellant_weight": {"uniform": [5.0, 15.0]}}}
    data.update(changes)
    return data


def test_sweep_file_errors_name_the_key(tmp_path):
    with pytest.raises(ValueError, match="unknown key 'ppo.learning_rat'"):
        sweep_from_dict(sweep_data(tmp_path, search_space={"ppo.learning_rat": {"uniform": [0.1, 0.2]}}), tmp_path)
    with pytest.raises(ValueError, match="reward.<field>"):
        sweep_from_dict(sweep_data(tmp_path, search_space={"reward.bonus": {"uniform": [0.1, 0.2]}}), tmp_path)
    with pytest.raises(ValueError, match="total_timesteps itself"):
        sweep_from_dict(sweep_data(tmp_path, fixed={"total_timesteps": 10}), tmp_path)
    with pytest.raises(ValueError, match="loguniform needs 0 < low"):
        sweep_from_dict(sweep_data(tmp_path, search_space={"ppo.ent_coef": {"loguniform": [0.0, 0.1]}}), tmp_path)
    with pytest.raises(ValueError, match="ppo.n_epochs = 0"):
        sweep_from_dict(sweep_data(tmp_path, search_space={"ppo.n_epochs": {"choice": [2, 0]}}), tmp_path)
    with pytest.raises(ValueError, match="final_learning_rate"):
        sweep_from_dict(sweep_data(tmp_path, fixed={"ppo.final_learning_rate": 1e-5}), tmp_path)
    with pytest.raises(ValueError, match="does not exist"):
        sweep_from_dict(sweep_data(tmp_path, base_config="missing.yaml"), tmp_path)
    with pytest.raises(ValueError, match="sweep.budget: missing"):
        sweep_from_dict(sweep_data(tmp_path, budget={"total_timesteps": 1024}), tmp_path)


def test_example_sweep_file_is_valid():
    sweep = load_sweep(Path(__file__).parents[1] / "training" / "sweeps" / "ppo_3dof.yaml")
    config = sweep.trial_config({p.key: p.candidates()[-1] for p in sweep.search_space})
    rollout = config.num_envs * config.ppo.n_steps
    assert sweep.chunk_steps(config) % rollout == 0 and sweep.chunk_steps(config) >= sweep.report_every_steps
    assert config.total_timesteps % sweep.chunk_steps(config) == 0


def test_first_report_covers_a_warm_starts_critic_warmup(tmp_path):
    data = sweep_data(tmp_path, base_config="warm.yaml")
    (tmp_path / "warm.yaml").write_text(yaml.safe_dump({**TINY_CONFIG, "pretrain": {"critic_warmup_steps": 1100}}))
    sweep = sweep_from_dict(data, tmp_path)
    config = sweep.trial_config({})
    assert sweep.chunk_steps(config) == 512  # num_envs 16 * n_steps 32
    assert sweep.first_report_steps(config) == 1536  # 1100 steps of warm-up, in whole chunks
    assert config.total_timesteps == 1536  # the budget grows to hold the first report


def test_missing_ray_gives_a_clear_message(monkeypatch, capsys, tmp_path, tiny_config_path):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` now raises ImportError
    hint = r'pip install "lunar-env\[ray\]"'
    with pytest.raises(ValueError, match=hint):
        fly_scenario_ray("zemzev", "nominal", 10, 0, "3dof")
    assert main(["bench", "--policy", "zemzev", "--episodes", "5", "--optimum-samples", "0", "--backend", "ray",
                 "--out", str(tmp_path / "b"), "--no-plots", "--quiet"]) == 2
    assert "lunar-env[ray]" in capsys.readouterr().err
    with pytest.raises(ValueError, match=hint):
        run_seeds(load_config(tiny_config_path), (0, 1), tmp_path / "seeds", backend="ray")
    with pytest.raises(ValueError, match=hint):
        run_sweep(sweep_from_dict(sweep_data(tmp_path), tmp_path), tmp_path / "sweep")
    # Nothing was trained or written before the message.
    assert not (tmp_path / "seeds").exists() and not (tmp_path / "sweep").exists()


def test_an_unreachable_cluster_address_is_reported_at_once():
    import socket

    with socket.socket() as s:  # a port nobody listens on once this socket is closed
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(ValueError, match=f"cannot reach the Ray cluster at 127.0.0.1:{port}"):
        check_reachable(f"127.0.0.1:{port}")
    with pytest.raises(ValueError, match="HOST:PORT"):
        check_reachable("headnode")
    check_reachable("auto")  # left to Ray


def test_importing_the_package_does_not_import_ray():
    code = (
        "import sys, lunar_env, lunar_env.ray_cluster, lunar_env.evaluation.ray_backend, agents.bench_runner, "
        "training.multi_seed, training.sweep, training.sweep_spec, training.commands.sweep, training.commands.main; "
        "training.commands.main.build_parser(); print('ray' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_a_rerun_seed_continues_its_checkpoint_and_a_finished_one_is_not_retrained(tmp_path, tiny_config_path):
    import dataclasses

    # Evaluations only where a training call ends (the interval lies beyond the budget).
    config = dataclasses.replace(load_config(tiny_config_path), eval_every_steps=10**6)
    run_dir = tmp_path / "seed_3"

    def steps_logged():
        return [json.loads(line)["steps"] for line in (run_dir / "evaluations.jsonl").read_text().splitlines()]

    train_seed(dataclasses.replace(config, total_timesteps=512), run_dir, bench_episodes=4)  # the lost attempt
    assert steps_logged() == [512]
    row = train_seed(config, run_dir, bench_episodes=4)  # the rerun goes on from step 512
    assert steps_logged() == [512, 1024] and row["seed"] == 3 and row["episodes"] == 4
    again = train_seed(config, run_dir, bench_episodes=4)  # complete: only the benchmark runs
    assert steps_logged() == [512, 1024]
    assert {k: v for k, v in again.items() if k != "wall_time_s"} == {
        k: v for k, v in row.items() if k != "wall_time_s"
    }


# ----------------------------------------------------------------------------- on a local Ray of 2 CPUs
def test_sharded_bench_equals_single_process(local_ray):
    local = fly_scenario(
        zemzev(LanderBatch("nominal", 1, mode="3dof")), "nominal", 70, seed=7, mode="3dof", progress=False
    )
    sharded = fly_scenario_ray("zemzev", "nominal", 70, seed=7, mode="3dof", shard_size=16, progress=False)
    assert sharded.episodes == 70
    assert_same_run(local, sharded)
    # Another seed flies other episodes: the comparison above can fail.
    other = fly_scenario_ray("zemzev", "nominal", 70, seed=8, mode="3dof", shard_size=35, progress=False)
    assert not np.array_equal(other.initial_position, local.initial_position)


def test_bench_command_ray_backend_writes_the_same_report(local_ray, tmp_path):
    reports = {}
    for backend in ("local", "ray"):
        out = tmp_path / backend
        assert (
            main(
                [
                    "bench",
                    "--policy",
                    "zemzev",
                    "--scenario",
                    "nominal",
                    "--episodes",
                    "40",
                    "--seed",
                    "2",
                    "--optimum-samples",
                    "0",
                    "--out",
                    str(out),
                    "--no-plots",
                    "--quiet",
                    "--backend",
                    backend,
                ]
            )
            == 0
        )
        reports[backend] = json.loads((out / "bench.json").read_text())
        reports[backend].pop("timing")
    assert reports["local"] == reports["ray"]


class DiesOnceInShard(Policy):
    """ZEM/ZEV guidance whose process exits in the middle of one shard, the first time only."""

    def __init__(self, batch, marker: str, doomed_start: int):
        self.inner = zemzev(batch)
        self.doomed = batch.index_offset == doomed_start
        self.marker = Path(marker)
        self.steps = 0

    def reset(self, num_landers, mask=None):
        self.inner.reset(num_landers, mask)

    def act(self, obs):
        self.steps += 1
        if self.doomed and self.steps == 30 and not self.marker.exists():
            self.marker.write_text(str(os.getpid()))
            os._exit(1)  # the worker dies mid-flight, without a Python exception
        return self.inner.act(obs)


def test_a_shard_whose_worker_dies_is_flown_again_exactly_once(local_ray, tmp_path):
    marker = tmp_path / "died"
    factory = functools.partial(DiesOnceInShard, marker=str(marker), doomed_start=20)
    merged = fly_scenario_ray(factory, "nominal", 50, seed=4, mode="3dof", shard_size=10, max_retries=2, progress=False)
    assert marker.exists()  # the worker did die
    local = fly_scenario(
        zemzev(LanderBatch("nominal", 1, mode="3dof")), "nominal", 50, seed=4, mode="3dof", progress=False
    )
    assert merged.episodes == 50
    assert_same_run(local, merged)
    # Without retries the lost shard stops the run instead of going missing.
    marker.unlink()
    with pytest.raises(ray.exceptions.RayError):
        fly_scenario_ray(factory, "nominal", 30, seed=4, mode="3dof", shard_size=10, max_retries=0, progress=False)


def test_policy_errors_in_a_task_are_plain_value_errors(local_ray):
    with pytest.raises(ValueError, match="neither a built-in policy"):
        fly_scenario_ray("no_such_policy", "nominal", 10, 0, "3dof", progress=False)


def test_two_trial_sweep_writes_a_loadable_best_config(local_ray, tmp_path):
    sweep = sweep_from_dict(sweep_data(tmp_path), tmp_path)
    result = run_sweep(sweep, tmp_path / "out", progress=False)
    out = tmp_path / "out"
    rows = result["rows"]
    assert len(rows) == 2 and all(r.score is not None for r in rows)
    assert rows[0].score >= rows[1].score
    best = load_config(out / "best_config.yaml")
    assert best.name == "tiny_sweep_best" and best.scenario == "hover_start"
    assert best.total_timesteps == TINY_CONFIG["total_timesteps"]  # the base's budget, not the trial's
    assert best.ppo.learning_rate == pytest.approx(rows[0].params["ppo.learning_rate"])
    assert best.reward["propellant_weight"] == pytest.approx(rows[0].params["reward.propellant_weight"])
    assert 1e-4 <= best.ppo.learning_rate <= 1e-3
    csv_lines = (out / "results.csv").read_text().splitlines()
    assert len(csv_lines) == 3 and csv_lines[0].startswith("rank,trial_id")
    assert "| 1 |" in (out / "results.md").read_text()
    for row in rows:  # each trial trained with the project's pipeline, one evaluation per chunk
        evaluations = (Path(row.run_dir) / "evaluations.jsonl").read_text().splitlines()
        assert [json.loads(e)["steps"] for e in evaluations] == [512, 1024][: len(evaluations)]


def test_seeds_on_ray_match_local_training_and_are_summarized(local_ray, tmp_path, tiny_config_path):
    config = load_config(tiny_config_path)
    summary = run_seeds(config, (0, 1), tmp_path / "ray", backend="ray", bench_episodes=12, progress=False)
    assert summary["seeds"] == [0, 1]
    written = json.loads((tmp_path / "ray" / "seeds_summary.json").read_text())
    assert written == json.loads(json.dumps(summary))
    assert "mean +- std" in (tmp_path / "ray" / "seeds_summary.md").read_text()
    rates = [r["success_rate"] for r in summary["runs"]]
    assert summary["aggregate"]["success_rate"]["mean"] == pytest.approx(np.mean(rates))
    assert summary["aggregate"]["success_rate"]["std"] == pytest.approx(np.std(rates, ddof=1))
    for k in (0, 1):
        assert read_metadata(tmp_path / "ray" / f"seed_{k}" / "best")["trained_steps"] > 0
    # Seed 1 trained here, without Ray, is the same run: same network weights, same normalization,
    # same benchmark numbers; seed 0 differs.
    local = run_seeds(config, (1,), tmp_path / "local", backend="local", bench_episodes=12, progress=False)
    same = ("success_rate", "landed", "propellant_kg", "miss_distance_m", "best_model_steps")
    assert {k: local["runs"][0][k] for k in same} == {k: summary["runs"][1][k] for k in same}

    def weights(folder):
        policy = load_model_folder(folder).policy
        return {k: v.numpy() for k, v in policy.state_dict().items()}, dict(np.load(folder / "normalization.npz"))

    ray_weights, ray_norm = weights(tmp_path / "ray" / "seed_1" / "final")
    local_weights, local_norm = weights(tmp_path / "local" / "seed_1" / "final")
    for key in ray_weights:
        np.testing.assert_array_equal(ray_weights[key], local_weights[key], err_msg=key)
    for key in ray_norm:
        np.testing.assert_array_equal(ray_norm[key], local_norm[key], err_msg=key)
    seed0_weights, _ = weights(tmp_path / "ray" / "seed_0" / "final")
    assert any(not np.array_equal(seed0_weights[k], ray_weights[k]) for k in ray_weights)
    # A second start refuses to overwrite the runs.
    with pytest.raises(ValueError, match="already hold"):
        run_seeds(config, (1,), tmp_path / "local", backend="local", bench_episodes=12, progress=False)
