"""The PPO pipeline: a tiny run, save/load, resume, refusals, and the shipped models."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from agents.model_folder import ModelFolderError, SB3Policy, load_model_folder
from agents.registry import load_policy
from lunar_env.benchmark.suite import fly_scenario
from lunar_env.cli import main, shipped_model
from lunar_env.simulator import LanderBatch
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
    (folder / "model.zip").write_bytes(b"\x00" * 100)
    with pytest.raises(ModelFolderError, match="corrupt"):
        load_model_folder(folder)
    shutil.copy(tiny_run / "final" / "model.zip", folder / "model.zip")
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
