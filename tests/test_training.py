"""The PPO pipeline: a tiny run, save/load, resume, refusals, and the shipped models."""

import copy
import json
import shutil
import stat
from pathlib import Path

import numpy as np
import pytest

from agents.model_folder import ModelFolderError, SB3Policy, load_model_folder
from agents.registry import load_policy
from agents.shipped import shipped_model
from lunar_env.evaluation.suite import fly_scenario
from lunar_env.simulator import LanderBatch
from training.commands.main import main
from training.config import config_from_dict, load_config
from training.train import TrainingError, train

TINY = {
    "name": "tiny",
    "env_id": "lunar_env/SouthPole3DoF-v0",
    "scenario": "hover_start",
    "num_envs": 16,
    "total_timesteps": 2048,
    "torch_threads": 1,
    "eval_every_steps": 1024,
    "eval_episodes": 4,
    "checkpoint_every_steps": 1024,
    "ppo": {"n_steps": 64, "batch_size": 256, "n_epochs": 1, "net_arch": [16, 16]},
}


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("runs") / "tiny"
    train(config_from_dict(TINY), run_dir, progress=False)
    return run_dir


def test_tiny_run_writes_loadable_models_and_logs(tiny_run):
    for name in ("best", "final"):
        folder = load_model_folder(tiny_run / name)
        assert folder.metadata["mode"] == "3dof" and folder.metadata["obs_dim"] == LanderBatch("hover_start").obs_dim
    evaluations = [json.loads(line) for line in (tiny_run / "evaluations.jsonl").read_text().splitlines()]
    assert evaluations[0]["steps"] >= 1024 and 0.0 <= evaluations[-1]["success_rate"] <= 1.0
    assert any((tiny_run / "tb").rglob("events.out.tfevents.*"))
    state = json.loads((tiny_run / "checkpoint" / "state.json").read_text())
    assert state["num_timesteps"] >= TINY["total_timesteps"]
    for folder in ("checkpoint", "best", "final"):  # shared like their files (mkdtemp makes 0700)
        assert stat.S_IMODE((tiny_run / folder).stat().st_mode) == 0o755
        assert {stat.S_IMODE(f.stat().st_mode) for f in (tiny_run / folder).iterdir()} == {0o644}


def test_saved_policy_acts_exactly_as_the_trained_one(tiny_run):
    folder = load_model_folder(tiny_run / "final")
    obs = LanderBatch("hover_start", 8, mode="3dof").reset(seed=3)
    expected, _ = folder.model.predict(folder.normalize(obs), deterministic=True)
    reloaded = SB3Policy(tiny_run / "final")
    np.testing.assert_array_equal(reloaded.act(obs), np.clip(expected, -1, 1).astype(np.float32))
    np.testing.assert_array_equal(reloaded.act(obs), SB3Policy(tiny_run / "final").act(obs))


def test_resume_continues_the_step_count(tiny_run, tmp_path):
    run_dir = tmp_path / "resumed"
    shutil.copytree(tiny_run, run_dir)
    before = json.loads((run_dir / "checkpoint" / "state.json").read_text())["num_timesteps"]
    config = config_from_dict({**TINY, "total_timesteps": before + 2048})
    train(config, run_dir, resume=True, progress=False)
    after = json.loads((run_dir / "checkpoint" / "state.json").read_text())["num_timesteps"]
    assert before < after <= before + 2048 + TINY["num_envs"] * TINY["ppo"]["n_steps"]
    with pytest.raises(TrainingError, match="already holds a run"):
        train(config, run_dir, progress=False)


def test_resume_without_unpickling_continues_exactly_as_ppo_load_did(tiny_run, tmp_path):
    """load_checkpoint builds the model from the config and reads the zip weights-only; training on
    from it gives the same weights as from PPO.load of the same (trusted) checkpoint."""
    import torch
    from stable_baselines3 import PPO

    from training.train import _restore_normalization, load_checkpoint, make_env

    run_dir = tmp_path / "resumed"
    shutil.copytree(tiny_run, run_dir)
    config = config_from_dict({**TINY, "total_timesteps": 10**6})
    checkpoint = run_dir / "checkpoint"
    model, env, state = load_checkpoint(run_dir, config)
    before = {k: v.clone() for k, v in model.policy.state_dict().items()}
    optimizer = copy.deepcopy(model.policy.optimizer.state_dict())  # its tensors change in place while learning
    model.learn(1024, reset_num_timesteps=False)
    old_env = make_env(config)
    _restore_normalization(old_env, checkpoint / "vecnormalize.npz")
    old = PPO.load(checkpoint / "model.zip", env=old_env, device="cpu")  # the old path (unpickles the zip's data)
    for key, value in old.policy.state_dict().items():
        assert torch.equal(value, before[key]), key
    old_optimizer = old.policy.optimizer.state_dict()
    for index, values in old_optimizer["state"].items():
        for name, value in values.items():
            assert torch.equal(torch.as_tensor(value), torch.as_tensor(optimizer["state"][index][name])), name
    assert (state["num_timesteps"], state["n_updates"]) == (old.num_timesteps, old._n_updates)
    assert list(old.ep_info_buffer) == state["ep_info_buffer"]
    assert old.get_env() is old_env
    old.learn(1024, reset_num_timesteps=False)
    assert (model.num_timesteps, model._n_updates) == (old.num_timesteps, old._n_updates)
    for key, value in old.policy.state_dict().items():
        assert torch.equal(value, model.policy.state_dict()[key]), key
    np.testing.assert_array_equal(env.obs_rms.mean, old_env.obs_rms.mean)


def test_normalization_checkpoint_holds_what_the_vecnormalize_pickle_held(tmp_path):
    from stable_baselines3.common.vec_env import VecNormalize

    from training.train import (
        FixedStatistics,
        _restore_normalization,
        _save_normalization,
        make_env,
    )

    config = config_from_dict(TINY)
    env = make_env(config)
    rng = np.random.default_rng(0)
    fixed = FixedStatistics(shape=env.obs_rms.mean.shape)  # frozen by the warm start: must stay frozen
    fixed.mean, fixed.var, fixed.count = rng.normal(size=fixed.mean.shape), rng.uniform(1, 2, fixed.var.shape), 123.0
    env.obs_rms = fixed
    env.ret_rms.mean, env.ret_rms.var, env.ret_rms.count = np.float64(0.5), np.float64(2.5), 77.0
    env.clip_obs, env.training = 7.0, False
    env.save(str(tmp_path / "vecnormalize.pkl"))  # the old format, written here (trusted)
    _save_normalization(env, tmp_path / "vecnormalize.npz")
    old = VecNormalize.load(str(tmp_path / "vecnormalize.pkl"), make_env(config).venv)
    new = make_env(config)
    _restore_normalization(new, tmp_path / "vecnormalize.npz")
    for name in ("clip_obs", "clip_reward", "gamma", "epsilon", "training", "norm_obs", "norm_reward"):
        assert getattr(new, name) == getattr(old, name), name
    for rms in ("obs_rms", "ret_rms"):
        assert type(getattr(new, rms)) is type(getattr(old, rms)), rms
        for name in ("mean", "var", "count"):
            np.testing.assert_array_equal(getattr(getattr(new, rms), name), getattr(getattr(old, rms), name))
    np.testing.assert_array_equal(new.returns, old.returns)


def test_resume_refuses_a_corrupt_checkpoint(tiny_run, tmp_path):
    run_dir = tmp_path / "broken"
    shutil.copytree(tiny_run, run_dir)
    (run_dir / "checkpoint" / "model.zip").write_bytes(b"not a zip")
    with pytest.raises(TrainingError, match="corrupt"):
        train(config_from_dict({**TINY, "total_timesteps": 10**6}), run_dir, resume=True, progress=False)
    with pytest.raises(TrainingError, match="no checkpoint"):
        train(config_from_dict(TINY), tmp_path / "empty", resume=True, progress=False)


def test_corrupt_or_wrong_version_model_folder_is_refused(tiny_run, tmp_path):
    folder = tmp_path / "model"
    shutil.copytree(tiny_run / "final", folder)
    (folder / "policy.npz").write_bytes(b"\x00" * 100)
    with pytest.raises(ModelFolderError, match="corrupt"):
        load_model_folder(folder)
    shutil.copy(tiny_run / "final" / "policy.npz", folder / "policy.npz")
    meta = json.loads((folder / "metadata.json").read_text())
    (folder / "metadata.json").write_text(json.dumps({**meta, "format_version": 99}))
    with pytest.raises(ModelFolderError, match="format_version 99"):
        load_model_folder(folder)


def test_model_for_the_other_action_space_is_refused(tiny_run):
    batch = LanderBatch("hover_start", 2, mode="6dof")
    with pytest.raises(ValueError, match="trained for the 3dof env"):
        load_policy(str(tiny_run / "final"), batch)


def test_bad_config_names_the_key(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("name: x\nnum_envz: 4\n")
    with pytest.raises(ValueError, match="num_envz"):
        load_config(path)
    with pytest.raises(ValueError, match="ppo.batch_size"):
        config_from_dict({**TINY, "ppo": {"n_steps": 8, "batch_size": 1024}})
    with pytest.raises(ValueError, match="velocity_weight_typo"):
        config_from_dict({**TINY, "reward": {"velocity_weight_typo": 1.0}})
    assert main(["train", "--config", str(tmp_path / "missing.yaml")]) == 2


@pytest.mark.parametrize("mode", ["3dof", "6dof"])
def test_shipped_models_load_and_land_a_seeded_batch(mode):
    folder = shipped_model(mode)
    if folder is None:
        pytest.fail(f"models/{'ppo_southpole_' + mode} is missing: the project ships a trained {mode} policy")
    policy = load_policy(str(folder), LanderBatch("nominal", 1, mode=mode))
    run = fly_scenario(policy, "nominal", 64, seed=0, mode=mode, progress=False)
    assert run.metrics["is_success"].mean() >= 0.8
    card = Path(folder) / "MODEL_CARD.md"
    assert card.is_file() and "lunar bench" in card.read_text()


def test_dagger_flights_are_flown_by_the_student_and_labelled_by_the_expert():
    from agents.descent_profile import DescentProfileController
    from training.pretrain import collect_demonstrations
    from training.pretrain_config import PretrainConfig

    config = PretrainConfig(expert="descent_profile", episodes=8, action_noise=0.0)
    expert_obs, _ = collect_demonstrations("hover_start", "3dof", "sensors", config, seed=5, progress=False)

    def falling_student(obs):  # minimum thrust: the lander falls and crashes
        return np.tile(np.array([0.0, 0.0, -1.0], dtype=np.float32), (len(obs), 1))

    obs, labels = collect_demonstrations("hover_start", "3dof", "sensors", config, seed=5, progress=False,
                                         student=falling_student)
    expert = DescentProfileController(LanderBatch("hover_start").scenario.lander)
    np.testing.assert_array_equal(labels, expert.act(obs))  # the (stateless) expert labelled every state
    assert len(obs) < 0.75 * len(expert_obs)  # the falling student's flights ended sooner: it flew


def test_warm_start_clones_the_expert_and_dagger_evaluates_each_round(tmp_path):
    from training.pretrain import actor_mean, collect_demonstrations
    from training.pretrain_config import PretrainConfig

    config = config_from_dict({**TINY, "total_timesteps": 1024, "eval_every_steps": 100_000,
                               "ppo": {**TINY["ppo"], "net_arch": [64, 64]},
                               "pretrain": {"expert": "descent_profile", "episodes": 16, "epochs": 30,
                                            "batch_size": 512, "critic_warmup_steps": 100_000,
                                            "dagger_rounds": 1, "dagger_episodes": 8, "dagger_epochs": 5}})
    run_dir = train(config, tmp_path / "warm", progress=False)
    evaluations = [json.loads(line) for line in (run_dir / "evaluations.jsonl").read_text().splitlines()]
    assert [e["steps"] for e in evaluations[:2]] == [0, 0]  # after cloning, and after the DAgger round
    folder = load_model_folder(run_dir / "final")
    # Fresh expert flights (other seeds): the clone acts like the expert along them.
    obs, expert = collect_demonstrations("hover_start", "3dof", "sensors",
                                         PretrainConfig(expert="descent_profile", episodes=16, action_noise=0.0),
                                         seed=9, progress=False)
    clone = actor_mean(folder.model, folder.normalize)(obs)
    # The actor was frozen after cloning (critic warm-up), so it still acts like the expert: it
    # explains most of the variance of the expert's actions (the best constant guess explains none).
    assert np.mean((clone - expert) ** 2) < 0.25 * np.var(expert)


def test_low_altitude_samples_weigh_more_and_bad_pretrain_settings_are_named():
    from agents.thrust_command import SLICES
    from training.pretrain import sample_weights
    from training.pretrain_config import PretrainConfig

    obs = np.zeros((3, LanderBatch("hover_start").obs_dim), dtype=np.float32)
    obs[:, SLICES["altitude"]] = np.array([[5.0], [29.9], [300.0]])
    weights = sample_weights(obs, PretrainConfig(focus_altitude_m=30.0, focus_weight=5.0))
    np.testing.assert_array_equal(weights, [5.0, 5.0, 1.0])
    np.testing.assert_array_equal(sample_weights(obs, PretrainConfig()), [1.0, 1.0, 1.0])  # off by default
    for key, value in (("dagger_rounds", -1), ("dagger_episodes", 0), ("focus_weight", 0.0),
                       ("focus_altitude_m", -5.0)):
        with pytest.raises(ValueError, match=f"pretrain.{key}"):
            PretrainConfig(**{key: value})


def test_model_card_names_each_warm_start_stage_and_the_kept_evaluation():
    from lunar_env.evaluation.report import build_report
    from lunar_env.evaluation.suite import ScenarioRun
    from lunar_env.physics import outcomes
    from training.pretrain_config import PretrainConfig
    from training.ship import model_card, stage_names

    codes = np.array([outcomes.LANDED] * 3 + [outcomes.CRASH_VERTICAL_SPEED])
    metrics = {"is_success": codes == outcomes.LANDED, "outcome": codes, "miss_distance": np.ones(4),
               "touchdown_vertical_speed": np.ones(4), "touchdown_horizontal_speed": np.zeros(4),
               "touchdown_tilt_deg": np.zeros(4), "propellant_used": np.full(4, 70.0)}
    run = ScenarioRun("nominal", "vikram_like", "3dof", metrics, np.zeros((4, 2)), np.zeros((4, 3)), np.zeros((4, 3)),
                      np.ones(4), 100.0)
    reports = {suite: build_report([run], "p", suite, 0, "sensors") for suite in ("nominal", "faults")}
    evaluations = [{"steps": 0, "wall_time_s": 30.0, "success_rate": 0.90, "propellant_kg": 74.0},
                   {"steps": 0, "wall_time_s": 60.0, "success_rate": 0.96, "propellant_kg": 73.5},
                   {"steps": 0, "wall_time_s": 90.0, "success_rate": 0.94, "propellant_kg": 73.0},
                   {"steps": 500_000, "wall_time_s": 120.0, "success_rate": 0.93, "propellant_kg": None}]
    assert stage_names(evaluations) == ["behavior cloning", "DAgger round 1", "DAgger round 2", "PPO"]
    meta = {
        "env_id": "lunar_env/SouthPole3DoF-v0",
        "mode": "3dof",
        "scenario": "nominal",
        "observation_mode": "sensors",
        "net_arch": [128, 128],
        "activation": "tanh",
        "trained_steps": 0,
        "training_wall_time_s": 60.0,
    }
    card = model_card("m", meta, PretrainConfig(expert="descent_profile", dagger_rounds=2), evaluations, reports, 4)
    assert "2 rounds of DAgger" in card and "warm start's best (96.0%)" in card
    assert "| DAgger round 1 | 0 | 1.0 | 96.0% | 73.5 |" in card
    assert "First evaluation at >= 95% landed: 1.0 min" in card
    assert "Landed on the nominal scenario: 75.0%" in card


def test_ppo_starts_from_the_best_warm_start_actor(tmp_path):
    """When a DAgger refit lands worse than an earlier fit, the earlier actor is restored."""
    import copy
    from types import SimpleNamespace

    import torch

    from training.train import make_env, make_model, warm_start

    class ScriptedMonitor:  # evaluations with given success rates; remembers the actor each one saw
        def __init__(self, rates):
            self.rates, self.best, self.stop, self.unfreeze_at, self.seen = iter(rates), None, False, None, []

        def evaluate(self, log=True):
            result = SimpleNamespace(success_rate=next(self.rates))
            self.seen.append(copy.deepcopy(self.model.policy.state_dict()))
            if self.best is None or result.success_rate > self.best.success_rate:
                self.best = result
            return result

    config = config_from_dict(
        {
            **TINY,
            "pretrain": {
                "expert": "descent_profile",
                "episodes": 4,
                "epochs": 2,
                "batch_size": 512,
                "dagger_rounds": 2,
                "dagger_episodes": 4,
                "dagger_epochs": 2,
                "critic_warmup_steps": 10,
            },
        }
    )
    env = make_env(config)
    model = make_model(config, env, tmp_path / "tb")
    monitor = ScriptedMonitor([0.5, 0.9, 0.1])  # the first DAgger round is the best
    warm_start(config, model, env, monitor, progress=False)
    restored = model.policy.state_dict()
    assert all(torch.equal(restored[k], monitor.seen[1][k]) for k in restored)
    assert not all(torch.equal(restored[k], monitor.seen[2][k]) for k in restored)
    assert monitor.unfreeze_at == 10
