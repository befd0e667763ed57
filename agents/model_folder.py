"""The folder a trained policy is shipped in, and the policy that flies it.

A model folder holds::

    model.zip           stable-baselines3 PPO model (PPO.save)
    normalization.npz   obs_mean, obs_var (obs_dim,), epsilon, clip_obs: the policy sees
                        clip((obs - obs_mean) / sqrt(obs_var + epsilon), -clip_obs, clip_obs)
    metadata.json       {"format": "lunar-env-policy", "format_version": 1, "env_id", "mode",
                         "obs_dim", "act_dim", ...}
    config.yaml         the training configuration that produced it

A folder is written to a temporary sibling and renamed into place, so a crash never leaves a
half-written model; a folder with a missing, corrupt or wrong-version file is refused with a
message that names the file.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from agents.policy import Policy

FORMAT_NAME = "lunar-env-policy"
FORMAT_VERSION = 1
MODEL_FILE = "model.zip"
NORMALIZATION_FILE = "normalization.npz"
METADATA_FILE = "metadata.json"
CONFIG_FILE = "config.yaml"
REQUIRED_METADATA = ("env_id", "mode", "obs_dim", "act_dim")


class ModelFolderError(ValueError):
    """A model folder that cannot be used: missing, corrupt, wrong version or wrong shape."""


@dataclass
class ModelFolder:
    """A loaded model folder (see the module docstring for the files)."""

    path: Path
    model: Any  # stable_baselines3.PPO
    obs_mean: np.ndarray
    obs_var: np.ndarray
    epsilon: float
    clip_obs: float
    metadata: dict

    @property
    def mode(self) -> str:
        return self.metadata["mode"]

    def normalize(self, obs: np.ndarray) -> np.ndarray:
        """Normalized float32 observations, as the network saw them in training."""
        z = (np.asarray(obs, dtype=np.float64) - self.obs_mean) / np.sqrt(self.obs_var + self.epsilon)
        return np.clip(z, -self.clip_obs, self.clip_obs).astype(np.float32)


def _check_normalization(obs_mean, obs_var, epsilon, clip_obs, obs_dim: int, where: str) -> None:
    obs_mean = np.asarray(obs_mean)
    obs_var = np.asarray(obs_var)
    if obs_mean.shape != (obs_dim,) or obs_var.shape != (obs_dim,):
        raise ModelFolderError(f"{where}: obs_mean and obs_var must have shape ({obs_dim},), "
                               f"got {obs_mean.shape} and {obs_var.shape}")
    if not (np.all(np.isfinite(obs_mean)) and np.all(np.isfinite(obs_var)) and np.all(obs_var >= 0)):
        raise ModelFolderError(f"{where}: normalization statistics must be finite with non-negative variance")
    if not (np.isfinite(epsilon) and epsilon > 0 and np.isfinite(clip_obs) and clip_obs > 0):
        raise ModelFolderError(f"{where}: epsilon and clip_obs must be positive finite numbers, got {epsilon}, {clip_obs}")


def save_model_folder(path: str | Path, model, obs_mean, obs_var, epsilon: float, clip_obs: float,
                      metadata: dict, config_text: str = "") -> Path:
    """Write a model folder atomically (replacing an existing one only once the new one is complete)."""
    path = Path(path)
    meta = {"format": FORMAT_NAME, "format_version": FORMAT_VERSION, **metadata}
    missing = [key for key in REQUIRED_METADATA if key not in meta]
    if missing:
        raise ValueError(f"model metadata lacks {missing}")
    _check_normalization(obs_mean, obs_var, float(epsilon), float(clip_obs), int(meta["obs_dim"]), str(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    try:
        model.save(staging / MODEL_FILE)
        np.savez(staging / NORMALIZATION_FILE, obs_mean=np.asarray(obs_mean, dtype=np.float64),
                 obs_var=np.asarray(obs_var, dtype=np.float64), epsilon=np.float64(epsilon),
                 clip_obs=np.float64(clip_obs))
        (staging / METADATA_FILE).write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
        (staging / CONFIG_FILE).write_text(config_text)
        if path.exists():
            # Keep anything else in the folder (exports, model card): move the new files in one by one.
            for item in staging.iterdir():
                os.replace(item, path / item.name)
            shutil.rmtree(staging, ignore_errors=True)
        else:
            os.replace(staging, path)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return path


def read_metadata(path: str | Path) -> dict:
    """The validated metadata.json of a model folder."""
    path = Path(path)
    if not path.is_dir():
        raise ModelFolderError(f"{path}: not a model folder (expected a directory holding {MODEL_FILE}, "
                               f"{NORMALIZATION_FILE} and {METADATA_FILE})")
    meta_path = path / METADATA_FILE
    try:
        meta = json.loads(meta_path.read_text())
    except FileNotFoundError:
        raise ModelFolderError(f"{meta_path}: missing; this is not a lunar-env model folder") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ModelFolderError(f"{meta_path}: corrupt JSON ({err})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT_NAME:
        raise ModelFolderError(f"{meta_path}: not a lunar-env policy (format {meta.get('format') if isinstance(meta, dict) else None!r})")
    if meta.get("format_version") != FORMAT_VERSION:
        raise ModelFolderError(f"{meta_path}: format_version {meta.get('format_version')!r} is not supported "
                               f"(this version of lunar-env reads version {FORMAT_VERSION})")
    missing = [key for key in REQUIRED_METADATA if key not in meta]
    if missing:
        raise ModelFolderError(f"{meta_path}: lacks {missing}")
    return meta


def load_ppo(model_path: str | Path, device: str = "cpu"):
    """An SB3 PPO model from its zip; ModelFolderError when SB3 is missing or the file is damaged."""
    try:
        from stable_baselines3 import PPO
    except ImportError:
        raise ModelFolderError('loading a trained policy needs stable-baselines3 and torch: pip install "lunar-env[train]"') from None
    try:
        return PPO.load(model_path, device=device)
    except Exception as err:  # SB3 raises many kinds on a damaged zip
        raise ModelFolderError(f"{model_path}: cannot be loaded, the file is corrupt or not an SB3 PPO model "
                               f"({type(err).__name__}: {err})") from None


def load_model_folder(path: str | Path, device: str = "cpu") -> ModelFolder:
    """Load and validate a model folder; raises ModelFolderError with the reason when unusable."""
    path = Path(path)
    meta = read_metadata(path)
    norm_path = path / NORMALIZATION_FILE
    try:
        with np.load(norm_path) as data:
            obs_mean, obs_var = data["obs_mean"], data["obs_var"]
            epsilon, clip_obs = float(data["epsilon"]), float(data["clip_obs"])
    except FileNotFoundError:
        raise ModelFolderError(f"{norm_path}: missing") from None
    except (KeyError, ValueError, OSError, zipfile.BadZipFile) as err:
        raise ModelFolderError(f"{norm_path}: corrupt or incomplete ({err})") from None
    _check_normalization(obs_mean, obs_var, epsilon, clip_obs, int(meta["obs_dim"]), str(norm_path))

    model_path = path / MODEL_FILE
    if not model_path.is_file():
        raise ModelFolderError(f"{model_path}: missing")
    model = load_ppo(model_path, device)
    obs_shape = model.observation_space.shape
    act_shape = model.action_space.shape
    if obs_shape != (int(meta["obs_dim"]),) or act_shape != (int(meta["act_dim"]),):
        raise ModelFolderError(f"{model_path}: network spaces {obs_shape} -> {act_shape} do not match metadata "
                               f"obs_dim={meta['obs_dim']}, act_dim={meta['act_dim']}")
    return ModelFolder(path, model, np.asarray(obs_mean, np.float64), np.asarray(obs_var, np.float64),
                       epsilon, clip_obs, meta)


class SB3Policy(Policy):
    """A trained PPO policy from a model folder: deterministic actions (the Gaussian's mean, clipped)."""

    def __init__(self, folder: ModelFolder | str | Path):
        self.folder = folder if isinstance(folder, ModelFolder) else load_model_folder(folder)
        self.mode = self.folder.mode
        self.obs_dim = int(self.folder.metadata["obs_dim"])
        self.act_dim = int(self.folder.metadata["act_dim"])

    def act(self, obs: np.ndarray) -> np.ndarray:
        obs = np.asarray(obs)
        if obs.ndim != 2 or obs.shape[1] != self.obs_dim:
            raise ValueError(f"policy {self.folder.path} expects observations of shape (n, {self.obs_dim}), got {obs.shape}")
        actions, _ = self.folder.model.predict(self.folder.normalize(obs), deterministic=True)
        return np.clip(actions, -1.0, 1.0).astype(np.float32)
