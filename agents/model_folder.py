"""The folder a trained policy is shipped in, and the policy that flies it.

A model folder (format_version 2) holds::

    policy.npz          the PPO ActorCriticPolicy's state_dict (actor, critic, log_std) as named
                        float32 arrays
    normalization.npz   obs_mean, obs_var (obs_dim,), epsilon, clip_obs (float64): the policy sees
                        clip((obs - obs_mean) / sqrt(obs_var + epsilon), -clip_obs, clip_obs)
    metadata.json       {"format": "lunar-env-policy", "format_version": 2, "env_id", "mode",
                         "obs_dim", "act_dim", "network": {net_arch, activation, action bounds},
                         "files": {file name: sha256}, ...}
    config.yaml         the training configuration that produced it

Nothing in it can run code: the arrays are read with ``np.load(allow_pickle=False)``, the network
is rebuilt from the JSON (agents/policy_network.py). ``files`` ties the parts together: a file
replaced after the folder was written is refused. A folder is built in a staging sibling and
swapped in whole (lunar_env.atomic.replace_dir), keeping the folder's other files (export/,
bench/, MODEL_CARD.md); a missing, corrupt, mismatched or wrong-version file is refused with a
ModelFolderError that names it. Format 1 folders (an SB3 ``model.zip``) convert with
:func:`convert_v1_folder`.
"""

from __future__ import annotations

import hashlib
import io
import json
import numbers
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from agents.policy import Policy
from agents.policy_network import (
    ModelFolderError,
    NetworkSpec,
    build_policy,
    check_actor_range,
    network_spec,
    policy_state,
)
from lunar_env.atomic import FILE_MODE, existing_dir, replace_dir, staging_dir

__all__ = ["ModelFolder", "ModelFolderError", "SB3Policy", "check_metadata_fields", "convert_v1_folder",
           "load_model_folder", "read_metadata", "save_model_folder"]

FORMAT_NAME = "lunar-env-policy"
FORMAT_VERSION = 2
POLICY_FILE = "policy.npz"
NORMALIZATION_FILE = "normalization.npz"
METADATA_FILE = "metadata.json"
CONFIG_FILE = "config.yaml"
FOLDER_FILES = (POLICY_FILE, NORMALIZATION_FILE, METADATA_FILE, CONFIG_FILE)
HASHED_FILES = (POLICY_FILE, NORMALIZATION_FILE, CONFIG_FILE)  # metadata.json holds their hashes
LEGACY_MODEL_FILE = "model.zip"  # format 1's SB3 pickle; never read from a model folder
NORMALIZATION_KEYS = ("obs_mean", "obs_var", "epsilon", "clip_obs")
REQUIRED_METADATA = ("env_id", "mode", "obs_dim", "act_dim")
CONVERT_HINT = ("convert it (once, from a trusted source) with: python -c \"from agents.model_folder import "
                "convert_v1_folder; convert_v1_folder('{path}')\"")
MODES = ("3dof", "6dof")  # the env modes a policy can be bound to
DIMENSION_FIELDS = ("obs_dim", "act_dim")  # positive integers


@dataclass
class ModelFolder:
    """A loaded model folder (see the module docstring for the files)."""

    path: Path
    policy: Any  # stable_baselines3.common.policies.ActorCriticPolicy, in eval mode
    obs_mean: np.ndarray
    obs_var: np.ndarray
    epsilon: float
    clip_obs: float
    metadata: dict

    @property
    def model(self):
        """The policy (what callers of SB3 models use: ``.predict``, ``.policy`` -> itself via getattr)."""
        return self.policy

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
        raise ModelFolderError(
            f"{where}: epsilon and clip_obs must be positive finite numbers, got {epsilon}, {clip_obs}"
        )


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def _read_npz(data: bytes, where: str) -> dict[str, np.ndarray]:
    """Every array of an .npz, read without pickle; ModelFolderError naming ``where`` otherwise."""
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            if not isinstance(npz, np.lib.npyio.NpzFile):
                raise ModelFolderError(f"{where}: not an .npz archive")
            return {name: npz[name] for name in npz.files}
    except ModelFolderError:
        raise
    except Exception as err:  # numpy and zipfile raise many kinds on damaged input; object arrays are refused
        raise ModelFolderError(
            f"{where}: corrupt, or holds pickled objects (refused, nothing in it was run: "
            f"{type(err).__name__}: {str(err)[:200]})"
        ) from None


def _copy_other_files(source: Path, staging: Path) -> None:
    """Carry over what else the folder holds (export/, bench/, MODEL_CARD.md); not the format's files."""
    if not source.is_dir():
        return
    for item in source.iterdir():
        if item.name in FOLDER_FILES or item.name == LEGACY_MODEL_FILE:
            continue
        if item.is_dir():
            shutil.copytree(item, staging / item.name, symlinks=True)
        else:
            shutil.copy2(item, staging / item.name, follow_symlinks=False)


def save_model_folder(
    path: str | Path, model, obs_mean, obs_var, epsilon: float, clip_obs: float, metadata: dict, config_text: str = ""
) -> Path:
    """Write a model folder of an SB3 PPO ``model`` (or its policy) and replace ``path`` with it whole.

    The folder is built in a staging sibling, with the other files of an existing folder copied in,
    and swapped in by directory renames: a crash leaves the old folder or the new one.
    """
    path = Path(path)
    spec = network_spec(model)
    meta = {**metadata, "format": FORMAT_NAME, "format_version": FORMAT_VERSION, "network": spec.to_json()}
    meta.pop("files", None)
    missing = [key for key in REQUIRED_METADATA if key not in meta]
    if missing:
        raise ValueError(f"model metadata lacks {missing}")
    if (int(meta["obs_dim"]), int(meta["act_dim"])) != (spec.obs_dim, spec.act_dim):
        raise ValueError(
            f"model metadata obs_dim={meta['obs_dim']}, act_dim={meta['act_dim']} do not fit the network "
            f"({spec.obs_dim} -> {spec.act_dim})"
        )
    _check_normalization(obs_mean, obs_var, float(epsilon), float(clip_obs), spec.obs_dim, str(path))
    contents = {
        POLICY_FILE: _npz_bytes(policy_state(model)),
        NORMALIZATION_FILE: _npz_bytes(
            {
                "obs_mean": np.asarray(obs_mean, dtype=np.float64),
                "obs_var": np.asarray(obs_var, dtype=np.float64),
                "epsilon": np.float64(epsilon),
                "clip_obs": np.float64(clip_obs),
            }
        ),
        CONFIG_FILE: config_text.encode(),
    }
    meta["files"] = {name: sha256(data) for name, data in contents.items()}
    contents[METADATA_FILE] = (json.dumps(meta, indent=2, sort_keys=True) + "\n").encode()
    staging = staging_dir(path)
    try:
        _copy_other_files(existing_dir(path), staging)
        for name, data in contents.items():
            with open(staging / name, "wb") as handle:
                handle.write(data)
            os.chmod(staging / name, FILE_MODE)
        replace_dir(staging, path)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return path


def _read_json(meta_path: Path) -> dict:
    try:
        meta = json.loads(meta_path.read_text())
    except FileNotFoundError:
        raise ModelFolderError(f"{meta_path}: missing; this is not a lunar-env model folder") from None
    except (json.JSONDecodeError, UnicodeDecodeError, OSError) as err:
        raise ModelFolderError(f"{meta_path}: corrupt JSON ({err})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT_NAME:
        raise ModelFolderError(
            f"{meta_path}: not a lunar-env policy (format {meta.get('format') if isinstance(meta, dict) else None!r})"
        )
    return meta


def check_metadata_fields(meta: dict, meta_path: str | Path) -> dict:
    """``meta`` unchanged if obs_dim and act_dim are positive integers and mode is a known mode
    (those present); a ModelFolderError naming ``meta_path`` and the field otherwise."""
    for key in DIMENSION_FIELDS:
        if key not in meta:
            continue
        value = meta[key]
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
            raise ModelFolderError(f"{meta_path}: field {key} must be a positive integer, got {value!r}")
    if "mode" in meta and meta["mode"] not in MODES:
        raise ModelFolderError(f"{meta_path}: field mode must be one of {list(MODES)}, got {meta['mode']!r}")
    return meta


def read_metadata(path: str | Path) -> dict:
    """The validated metadata.json of a model folder (``path``, or ``path.old`` after a crash mid-swap)."""
    path = existing_dir(Path(path))
    if not path.is_dir():
        raise ModelFolderError(f"{path}: not a model folder (expected a directory holding {', '.join(FOLDER_FILES)})")
    meta_path = path / METADATA_FILE
    meta = _read_json(meta_path)
    version = meta.get("format_version")
    if version == 1:
        raise ModelFolderError(
            f"{meta_path}: format_version 1 (an SB3 model.zip, a pickle) is no longer loaded; "
            + CONVERT_HINT.format(path=path)
        )
    if version != FORMAT_VERSION:
        raise ModelFolderError(
            f"{meta_path}: format_version {version!r} is not supported "
            f"(this version of lunar-env reads version {FORMAT_VERSION})"
        )
    missing = [key for key in (*REQUIRED_METADATA, "network", "files") if key not in meta]
    if missing:
        raise ModelFolderError(f"{meta_path}: lacks {missing}")
    check_metadata_fields(meta, meta_path)
    if not isinstance(meta["env_id"], str):
        raise ModelFolderError(f"{meta_path}: field env_id must be a string, got {meta['env_id']!r}")
    spec = NetworkSpec.from_json(meta["network"], str(meta_path))
    if meta["obs_dim"] != spec.obs_dim or meta["act_dim"] != spec.act_dim:
        raise ModelFolderError(
            f"{meta_path}: obs_dim={meta['obs_dim']!r}, act_dim={meta['act_dim']!r} do not fit the "
            f"network ({spec.obs_dim} -> {spec.act_dim})"
        )
    files = meta["files"]
    if (
        not isinstance(files, dict)
        or set(files) != set(HASHED_FILES)
        or not all(isinstance(h, str) and len(h) == 64 for h in files.values())
    ):
        raise ModelFolderError(f"{meta_path}: files must map {list(HASHED_FILES)} to sha256 hex digests")
    return meta


def _read_part(path: Path, name: str, meta: dict) -> bytes:
    """A part's bytes, once they are checked to be the ones metadata.json was written with."""
    file = path / name
    try:
        data = file.read_bytes()
    except FileNotFoundError:
        raise ModelFolderError(f"{file}: missing") from None
    except OSError as err:
        raise ModelFolderError(f"{file}: cannot be read ({err})") from None
    if sha256(data) != meta["files"][name]:
        raise ModelFolderError(
            f"{file}: corrupt, or does not belong to this model folder: it was changed or replaced "
            f"after the folder was written (its sha256 differs from the one in {METADATA_FILE})"
        )
    return data


def _read_normalization(data: bytes, where: str, obs_dim: int) -> tuple[np.ndarray, np.ndarray, float, float]:
    arrays = _read_npz(data, where)
    if set(arrays) != set(NORMALIZATION_KEYS):
        raise ModelFolderError(f"{where}: must hold exactly {list(NORMALIZATION_KEYS)}, got {sorted(arrays)}")
    for name, array in arrays.items():
        if array.dtype != np.float64:
            raise ModelFolderError(f"{where}: {name} must be float64, got {array.dtype}")
    if arrays["epsilon"].shape != () or arrays["clip_obs"].shape != ():
        raise ModelFolderError(f"{where}: epsilon and clip_obs must be scalars")
    epsilon, clip_obs = float(arrays["epsilon"]), float(arrays["clip_obs"])
    _check_normalization(
        arrays["obs_mean"],
        arrays["obs_var"],
        epsilon,
        clip_obs,
        obs_dim,
        f"{where} (obs_dim {obs_dim} from {METADATA_FILE})",
    )
    return arrays["obs_mean"], arrays["obs_var"], epsilon, clip_obs


def _needs_torch() -> None:
    try:
        import stable_baselines3  # noqa: F401
        import torch  # noqa: F401
    except ImportError:
        raise ModelFolderError(
            'loading a trained policy needs stable-baselines3 and torch: pip install "lunar-env[train]"'
        ) from None


def load_model_folder(path: str | Path, device: str = "cpu") -> ModelFolder:
    """Load and validate a model folder; raises ModelFolderError naming the file when unusable."""
    meta = read_metadata(path)
    path = existing_dir(Path(path))
    spec = NetworkSpec.from_json(meta["network"], str(path / METADATA_FILE))
    # Every part present and the one written with this metadata, before any is parsed.
    parts = {name: _read_part(path, name, meta) for name in HASHED_FILES}
    obs_mean, obs_var, epsilon, clip_obs = _read_normalization(
        parts[NORMALIZATION_FILE], str(path / NORMALIZATION_FILE), spec.obs_dim
    )
    _needs_torch()
    where = str(path / POLICY_FILE)
    state = _read_npz(parts[POLICY_FILE], where)
    policy = build_policy(spec, state, where, device, spec_source=str(path / METADATA_FILE))
    check_actor_range(spec, state, clip_obs, where, bound_source=str(path / NORMALIZATION_FILE))
    policy.set_training_mode(False)
    return ModelFolder(
        path, policy, np.asarray(obs_mean, np.float64), np.asarray(obs_var, np.float64), epsilon, clip_obs, meta
    )


def convert_v1_folder(path: str | Path) -> Path:
    """Rewrite a format 1 folder (SB3 ``model.zip``) as format 2, in place and atomically.

    The zip is read weights-only (agents/sb3_zip.py: nothing in it is unpickled); metadata fields
    other than the format's are kept, and so are the folder's other files; model.zip is dropped.
    """
    from agents.sb3_zip import read_sb3_zip

    path = Path(path)
    meta_path = path / METADATA_FILE
    meta = _read_json(meta_path)
    if meta.get("format_version") != 1:
        raise ModelFolderError(
            f"{meta_path}: format_version {meta.get('format_version')!r} is not 1: nothing to convert"
        )
    missing = [key for key in REQUIRED_METADATA if key not in meta]
    if missing:
        raise ModelFolderError(f"{meta_path}: lacks {missing}")
    _needs_torch()
    spec, state = read_sb3_zip(path / LEGACY_MODEL_FILE)
    where = str(path / LEGACY_MODEL_FILE)
    if (meta["obs_dim"], meta["act_dim"]) != (spec.obs_dim, spec.act_dim):
        raise ModelFolderError(
            f"{where}: network {spec.obs_dim} -> {spec.act_dim} does not fit metadata "
            f"obs_dim={meta['obs_dim']}, act_dim={meta['act_dim']}"
        )
    policy = build_policy(spec, state, where)
    norm_path = path / NORMALIZATION_FILE
    try:
        norm_bytes = norm_path.read_bytes()
    except OSError as err:
        raise ModelFolderError(f"{norm_path}: cannot be read ({err})") from None
    obs_mean, obs_var, epsilon, clip_obs = _read_normalization(norm_bytes, str(norm_path), spec.obs_dim)
    config_path = path / CONFIG_FILE
    config_text = config_path.read_text() if config_path.is_file() else ""
    kept = {k: v for k, v in meta.items() if k not in ("format", "format_version", "network", "files")}
    return save_model_folder(path, policy, obs_mean, obs_var, epsilon, clip_obs, kept, config_text)


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
            raise ValueError(
                f"policy {self.folder.path} expects observations of shape (n, {self.obs_dim}), got {obs.shape}"
            )
        actions, _ = self.folder.policy.predict(self.folder.normalize(obs), deterministic=True)
        return np.clip(actions, -1.0, 1.0).astype(np.float32)
