"""Model files cannot run code: pickled payloads in a model zip, a model folder or a checkpoint are
never executed by `lunar bench`, the registry, the exporter or `--resume`."""

import base64
import contextlib
import hashlib
import json
import pickle
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from stable_baselines3 import PPO

from agents.export.actor import load_actor
from agents.model_folder import METADATA_FILE, ModelFolderError, load_model_folder
from agents.registry import load_policy
from lunar_env.simulator import LanderBatch
from training.config import config_from_dict
from training.train import (
    CHECKPOINT,
    LEGACY_VECNORMALIZE_FILE,
    MODEL_FILE,
    STATE_FILE,
    VECNORMALIZE_FILE,
    TrainingError,
    load_checkpoint,
    make_env,
    make_model,
    save_checkpoint,
    train,
)

ROOT = Path(__file__).resolve().parents[1]
CONFIG = {"name": "sec", "env_id": "lunar_env/SouthPole3DoF-v0", "scenario": "hover_start", "num_envs": 4,
          "total_timesteps": 4096, "torch_threads": 1, "eval_every_steps": 1024, "eval_episodes": 2,
          "checkpoint_every_steps": 1024, "ppo": {"n_steps": 64, "batch_size": 256, "n_epochs": 1, "net_arch": [8]}}


class Payload:
    """Unpickling this creates ``marker`` (open(marker, "w")): proof that a loader ran the file's code."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def payload_bytes(marker: Path) -> bytes:
    return pickle.dumps(Payload(marker))


def rewrite_zip(path: Path, replace: dict[str, bytes]) -> None:
    with zipfile.ZipFile(path) as archive:
        entries = {name: archive.read(name) for name in archive.namelist()}
    entries.update(replace)
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data)


def evil_data_zip(path: Path, marker: Path) -> Path:
    """A genuine PPO zip whose ``data`` carries cloudpickled payloads where SB3 expects objects."""
    with zipfile.ZipFile(path) as archive:
        data = json.loads(archive.read("data"))
    blob = base64.b64encode(payload_bytes(marker)).decode()
    data["policy_kwargs"][":serialized:"] = blob
    data["observation_space"][":serialized:"] = blob
    data["extra"] = {":type:": "<class 'object'>", ":serialized:": blob}
    rewrite_zip(path, {"data": json.dumps(data).encode()})
    return path


def evil_pth_zip(path: Path, marker: Path) -> Path:
    """A genuine PPO zip whose policy.pth is a torch pickle holding the payload beside the weights."""
    with zipfile.ZipFile(path) as archive:
        import io

        weights = torch.load(io.BytesIO(archive.read("policy.pth")), weights_only=True)
    buffer = io.BytesIO()
    torch.save({**weights, "trap": Payload(marker)}, buffer)
    rewrite_zip(path, {"policy.pth": buffer.getvalue()})
    return path


def lander_obs_dim() -> int:
    return LanderBatch("hover_start", 1, mode="3dof").obs_dim


@pytest.fixture(scope="module")
def sb3_zip(tmp_path_factory):
    """A PPO zip with the 3-DOF env's spaces (PPO.save of an untrained model)."""
    config = config_from_dict(CONFIG)
    model = make_model(config, make_env(config), None)
    path = tmp_path_factory.mktemp("zip") / "model.zip"
    model.save(path)
    return path


@pytest.fixture(scope="module")
def run_with_checkpoint(tmp_path_factory):
    """A run folder with a genuine checkpoint, written without training."""
    config = config_from_dict(CONFIG)
    env = make_env(config)
    model = make_model(config, env, None)
    run_dir = tmp_path_factory.mktemp("run") / "sec"
    run_dir.mkdir()
    save_checkpoint(run_dir, model, env, {"num_timesteps": 0})
    return run_dir


def test_the_payloads_are_live_when_unpickled_the_old_way(tmp_path, sb3_zip):
    """The crafted files would run code under PPO.load: the checks below test a real threat."""
    marker = tmp_path / "ran"
    zip_path = evil_data_zip(shutil.copy(sb3_zip, tmp_path / "evil.zip"), marker)
    with contextlib.suppress(Exception):  # the payload's return value then breaks SB3; it has run already
        PPO.load(zip_path, device="cpu")
    assert marker.exists()


def test_bench_reads_a_zip_with_pickled_data_weights_only_and_never_runs_it(tmp_path, sb3_zip):
    marker = tmp_path / "ran"
    zip_path = evil_data_zip(shutil.copy(sb3_zip, tmp_path / "evil.zip"), marker)
    proc = subprocess.run([sys.executable, "-m", "training.commands", "bench", "--policy", str(zip_path), "--scenario",
                           "hover_start", "--episodes", "2", "--optimum-samples", "0", "--no-plots", "--quiet",
                           "--out", str(tmp_path / "bench")], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert "SB3 .zip files are pickle-based" in proc.stderr and "trusted sources" in proc.stderr
    assert not marker.exists()


def test_a_zip_whose_weights_carry_a_pickle_is_refused_and_never_run(tmp_path, sb3_zip):
    marker = tmp_path / "ran"
    zip_path = evil_pth_zip(shutil.copy(sb3_zip, tmp_path / "evil.zip"), marker)
    batch = LanderBatch("hover_start", 1, mode="3dof")
    with pytest.raises(ModelFolderError, match="policy.pth is corrupt or holds objects other than tensors"):
        load_policy(str(zip_path), batch)
    from training.commands.main import main

    assert main(["bench", "--policy", str(zip_path), "--scenario", "hover_start", "--episodes", "1",
                 "--optimum-samples", "0", "--no-plots", "--quiet", "--out", str(tmp_path / "bench")]) == 2
    assert not marker.exists()


def _folder_from(tmp_path, sb3_zip) -> Path:
    """A model folder of the zip's policy (written by save_model_folder)."""
    from agents.model_folder import save_model_folder
    from agents.policy_network import build_policy
    from agents.sb3_zip import read_sb3_zip

    spec, state = read_sb3_zip(sb3_zip, warn=False)
    n = spec.obs_dim
    return save_model_folder(tmp_path / "policy", build_policy(spec, state, "zip"), np.zeros(n), np.ones(n), 1e-8, 10.0,
                             {"env_id": "lunar_env/SouthPole3DoF-v0", "mode": "3dof", "obs_dim": n,
                              "act_dim": spec.act_dim})


@pytest.mark.parametrize("name", ["policy.npz", "normalization.npz"])
def test_a_model_folder_holding_a_pickled_array_is_refused_and_never_run(tmp_path, sb3_zip, name):
    marker = tmp_path / "ran"
    folder = _folder_from(tmp_path, sb3_zip)
    with np.load(folder / name) as data:
        arrays = {k: data[k] for k in data.files}
    key = sorted(arrays)[0]
    arrays[key] = np.array([Payload(marker)], dtype=object)  # np.savez pickles object arrays
    np.savez(folder / name, **arrays)
    meta = json.loads((folder / METADATA_FILE).read_text())  # the attacker re-signs the folder
    meta["files"][name] = hashlib.sha256((folder / name).read_bytes()).hexdigest()
    (folder / METADATA_FILE).write_text(json.dumps(meta))
    batch = LanderBatch("hover_start", 1, mode="3dof")
    for load in (load_model_folder, load_actor, lambda p: load_policy(str(p), batch)):
        refusal = f"{name}: corrupt, or holds pickled objects .refused, nothing in it was run"
        with pytest.raises(ModelFolderError, match=refusal):
            load(folder)
    from training.commands.main import main

    assert (
        main(
            [
                "bench",
                "--policy",
                str(folder),
                "--scenario",
                "hover_start",
                "--episodes",
                "1",
                "--optimum-samples",
                "0",
                "--no-plots",
                "--quiet",
                "--out",
                str(tmp_path / "bench"),
            ]
        )
        == 2
    )
    assert not marker.exists()


def test_a_format_1_folder_is_refused_without_reading_its_zip(tmp_path, sb3_zip):
    marker = tmp_path / "ran"
    folder = _folder_from(tmp_path, sb3_zip)
    evil_data_zip(shutil.copy(sb3_zip, folder / "model.zip"), marker)
    meta = json.loads((folder / METADATA_FILE).read_text())
    (folder / METADATA_FILE).write_text(json.dumps({**meta, "format_version": 1}))
    with pytest.raises(ModelFolderError, match="format_version 1.*convert_v1_folder"):
        load_policy(str(folder), LanderBatch("hover_start", 1, mode="3dof"))
    assert not marker.exists()


def _resign_checkpoint(folder: Path, name: str) -> None:
    state = json.loads((folder / STATE_FILE).read_text())
    state["files"][name] = hashlib.sha256((folder / name).read_bytes()).hexdigest()
    (folder / STATE_FILE).write_text(json.dumps(state))


def test_resume_never_unpickles_the_checkpoint(tmp_path, run_with_checkpoint):
    config = config_from_dict(CONFIG)
    marker = tmp_path / "ran"

    def tampered(label):
        run_dir = tmp_path / label
        shutil.copytree(run_with_checkpoint, run_dir)
        return run_dir, run_dir / CHECKPOINT

    # The model zip: pickled data (never read) and a policy.pth holding a pickle (refused).
    run_dir, folder = tampered("data")
    evil_data_zip(folder / MODEL_FILE, marker)
    _resign_checkpoint(folder, MODEL_FILE)
    model, _, _ = load_checkpoint(run_dir, config)  # weights only: the data entry is not read
    assert model.num_timesteps == 0
    run_dir, folder = tampered("pth")
    evil_pth_zip(folder / MODEL_FILE, marker)
    _resign_checkpoint(folder, MODEL_FILE)
    with pytest.raises(TrainingError, match="model.zip is corrupt"):
        train(config, run_dir, resume=True, progress=False)
    # The normalization: an object array in vecnormalize.npz, or an older checkpoint's pickle.
    run_dir, folder = tampered("npz")
    with np.load(folder / VECNORMALIZE_FILE) as data:
        arrays = {k: data[k] for k in data.files}
    arrays["obs_mean"] = np.array([Payload(marker)], dtype=object)
    np.savez(folder / VECNORMALIZE_FILE, **arrays)
    _resign_checkpoint(folder, VECNORMALIZE_FILE)
    with pytest.raises(TrainingError, match="vecnormalize.npz is corrupt or holds pickled objects"):
        train(config, run_dir, resume=True, progress=False)
    run_dir, folder = tampered("pkl")
    (folder / VECNORMALIZE_FILE).unlink()
    (folder / LEGACY_VECNORMALIZE_FILE).write_bytes(payload_bytes(marker))
    with pytest.raises(TrainingError, match="vecnormalize.pkl, a pickle, which is not loaded"):
        train(config, run_dir, resume=True, progress=False)
    assert not marker.exists()
