"""Resolve a policy given by name or path, as the ``lunar`` commands take it.

Names: ``zemzev`` (ZEM/ZEV guidance, planned once per episode), ``zemzev_replan`` (the same
law replanned every second), ``descent_profile`` (the descent-profile controller; its former
name ``velocity_field`` is accepted too, as recorded results and model cards use it),
``random`` (uniform random actions). Paths: a model folder (``models/ppo_southpole_3dof``),
an SB3 ``.zip`` without normalization statistics (read weights-only: nothing in it is unpickled),
or an exported ``.onnx`` file.
"""

from __future__ import annotations

from pathlib import Path

from agents.policy import Policy, RandomPolicy
from lunar_env.atomic import existing_dir

BUILTIN_POLICIES = ("zemzev", "zemzev_replan", "descent_profile", "random")
POLICY_ALIASES = {"velocity_field": "descent_profile"}  # former names, still accepted
ENV_MODES = ("3dof", "6dof")
REPLAN_INTERVAL_S = 1.0  # zemzev_replan's receding-horizon interval (s)


def _check_fits(label: str, policy_mode: str | None, obs_dim: int | None, act_dim: int | None, batch) -> None:
    if policy_mode is not None and policy_mode != batch.mode:
        raise ValueError(f"policy {label} was trained for the {policy_mode} env (action size {act_dim}); "
                         f"this env is {batch.mode} with action size {batch.act_dim}: pass --mode {policy_mode}")
    if act_dim is not None and act_dim != batch.act_dim:
        raise ValueError(f"policy {label} outputs {act_dim} actions; this env ({batch.mode}, lander "
                         f"{batch.scenario.lander.name}) needs {batch.act_dim}")
    if obs_dim is not None and obs_dim != batch.obs_dim:
        raise ValueError(f"policy {label} reads {obs_dim} observations; this env gives {batch.obs_dim} "
                         "(a model from another lunar-env version?)")


def policy_mode(spec: str) -> str | None:
    """The mode a policy spec is bound to (a trained model's), or None for the built-in laws."""
    if spec in BUILTIN_POLICIES or spec in POLICY_ALIASES:
        return None
    path = existing_dir(Path(spec))
    if path.is_dir():
        from agents.model_folder import read_metadata

        return read_metadata(path)["mode"]
    return None


def policy_env_mode(policy: str, requested: str | None, default: str) -> str:
    """The env mode to fly ``policy`` in: a trained model's own mode, ``requested`` (--mode) for the
    built-in laws, else ``default``. A --mode that contradicts the model is refused."""
    if Path(policy).is_dir():
        from agents.model_folder import read_metadata

        read_metadata(policy)  # the fields' types, naming the file, before the mode is taken from it
    bound = policy_mode(policy)
    if bound is not None and requested is not None and requested != bound:
        raise ValueError(f"--mode {requested} contradicts the policy {policy}, a {bound} model; "
                         f"drop --mode or pass --mode {bound}")
    mode = bound or requested or default
    if mode not in ENV_MODES:
        raise ValueError(f"mode must be one of {list(ENV_MODES)}, got {mode!r} (from {policy})")
    return mode


def load_policy(spec: str, batch, seed: int = 0, options: dict | None = None) -> Policy:
    """A Policy for ``batch`` (a LanderBatch) from a name or a path; clear errors when it does not fit.

    ``options`` are keyword arguments of a built-in guidance law (``descent_profile``, ``zemzev``),
    e.g. ``{"brake_accel_mps2": 0.6}``; trained policies take none.
    """
    lander = batch.scenario.lander
    options = dict(options or {})
    law_name = POLICY_ALIASES.get(spec, spec)
    if law_name in ("zemzev", "zemzev_replan", "descent_profile"):
        if law_name == "descent_profile":
            from agents.descent_profile import DescentProfileController as law

            settings = {}
        else:
            from agents.zem_zev import ZemZevGuidance as law

            settings = {"replan_interval_s": REPLAN_INTERVAL_S if law_name == "zemzev_replan" else None}
        try:
            return law(lander, mode=batch.mode, **{**settings, **options})
        except TypeError as err:
            raise ValueError(f"options {sorted(options)} do not fit {spec}: {err}") from None
    if options:
        raise ValueError(f"options {sorted(options)} apply only to the built-in guidance laws, not to {spec!r}")
    if spec == "random":
        return RandomPolicy(batch.act_dim, seed=seed)

    path = existing_dir(Path(spec))  # a model folder caught mid-replacement is read from its previous copy
    if not path.exists():
        raise ValueError(f"policy {spec!r} is neither a built-in policy {BUILTIN_POLICIES} nor an existing path")
    if path.is_dir():
        from agents.model_folder import SB3Policy, load_model_folder

        folder = load_model_folder(path)
        meta = folder.metadata
        _check_fits(str(path), meta["mode"], int(meta["obs_dim"]), int(meta["act_dim"]), batch)
        return SB3Policy(folder)
    if path.suffix == ".onnx":
        from agents.onnx_policy import OnnxPolicy

        policy = OnnxPolicy(path)
        _check_fits(str(path), None, policy.obs_dim, policy.act_dim, batch)
        return policy
    if path.suffix == ".zip":
        return _bare_sb3_policy(path, batch)
    raise ValueError(f"policy path {path} is not a model folder, an SB3 .zip or an .onnx file")


def _bare_sb3_policy(path: Path, batch) -> Policy:
    """An SB3 zip on its own, read weights-only (agents/sb3_zip.py): observations go to the network unnormalized."""
    import numpy as np

    from agents.model_folder import ModelFolder, SB3Policy
    from agents.policy_network import build_policy
    from agents.sb3_zip import WEIGHTS_ENTRY, read_sb3_zip

    spec, state = read_sb3_zip(path)
    _check_fits(str(path), None, spec.obs_dim, spec.act_dim, batch)
    policy = build_policy(spec, state, f"{path} ({WEIGHTS_ENTRY})")
    policy.set_training_mode(False)
    folder = ModelFolder(path, policy, np.zeros(spec.obs_dim), np.ones(spec.obs_dim), 0.0, np.inf,
                         {"mode": batch.mode, "obs_dim": spec.obs_dim, "act_dim": spec.act_dim})
    return SB3Policy(folder)
