"""PPO training on the native batched lander env, readable top to bottom.

    lunar train --config training/configs/ppo_3dof.yaml [--resume] [--total-timesteps N] ...

A run folder (``runs/<name>`` by default) holds::

    config.yaml          the configuration as run (with overrides applied)
    checkpoint/          model.zip (SB3 weights and optimizer), vecnormalize.npz, state.json: replaced
                         whole; --resume reads it without unpickling anything (docs/training.md)
    best/                model folder of the best evaluation so far (agents.model_folder format)
    final/               model folder at the end of training
    evaluations.jsonl    one line per periodic evaluation (steps, wall time, success rate, ...)
    tb/                  TensorBoard logs (losses, rollout landing metrics, evaluations)
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import shutil
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from stable_baselines3 import PPO
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.running_mean_std import RunningMeanStd
from stable_baselines3.common.vec_env import VecNormalize

from agents.model_folder import save_model_folder
from agents.policy import Policy
from lunar_env.atomic import FILE_MODE, existing_dir, replace_dir, staging_dir
from lunar_env.evaluation.suite import fly_scenario
from lunar_env.physics.outcomes import OUTCOME_NAMES
from training.config import (
    DAGGER_SEED_STRIDE,
    EVAL_SEED_OFFSET,
    PRETRAIN_SEED_OFFSET,
    TRAIN_SEED_OFFSET,
    TrainConfig,
    config_to_yaml,
)
from training.sb3_vec_env import SouthPoleSB3VecEnv

CHECKPOINT = "checkpoint"
STATE_FILE = "state.json"
MODEL_FILE = "model.zip"  # SB3's own format, read back weights-only (load_checkpoint)
VECNORMALIZE_FILE = "vecnormalize.npz"
LEGACY_VECNORMALIZE_FILE = "vecnormalize.pkl"  # older checkpoints' pickle: refused
VECNORMALIZE_SETTINGS = ("clip_obs", "clip_reward", "gamma", "epsilon")
VECNORMALIZE_FLAGS = ("training", "norm_obs", "norm_reward")
ROLLOUT_METRICS = ("is_success", "propellant_used", "touchdown_vertical_speed", "touchdown_horizontal_speed",
                   "miss_distance")


class TrainingError(ValueError):
    """A run that cannot start or resume: the message says why."""


# ----------------------------------------------------------------------------- pieces
def make_env(config: TrainConfig) -> VecNormalize:
    """The training env: ``num_envs`` landers in one batch, observations (and rewards) normalized."""
    env = SouthPoleSB3VecEnv(config.num_envs, scenario=config.training_scenario(), mode=config.mode,
                             observation_mode=config.observation_mode, seed=TRAIN_SEED_OFFSET + config.seed)
    return VecNormalize(env, norm_obs=True, norm_reward=config.normalize_reward, clip_obs=config.clip_obs,
                        gamma=config.ppo.gamma)


def _learning_rate(config: TrainConfig):
    start, end = config.ppo.learning_rate, config.ppo.final_learning_rate
    if end is None:
        return start
    return lambda progress_remaining: end + (start - end) * progress_remaining


def make_model(config: TrainConfig, env: VecNormalize, tensorboard_dir: Path | None) -> PPO:
    p = config.ppo
    activation = {"tanh": torch.nn.Tanh, "relu": torch.nn.ReLU}[p.activation]
    return PPO("MlpPolicy", env, learning_rate=_learning_rate(config), n_steps=p.n_steps, batch_size=p.batch_size,
               n_epochs=p.n_epochs, gamma=p.gamma, gae_lambda=p.gae_lambda, clip_range=p.clip_range,
               ent_coef=p.ent_coef, vf_coef=p.vf_coef, max_grad_norm=p.max_grad_norm, target_kl=p.target_kl,
               policy_kwargs=dict(net_arch=dict(pi=list(p.net_arch), vf=list(p.net_arch)), activation_fn=activation,
                                  log_std_init=p.log_std_init),
               tensorboard_log=str(tensorboard_dir) if tensorboard_dir else None, seed=config.seed, device="cpu",
               verbose=0)


class LivePolicy(Policy):
    """The model being trained, as a batched Policy: deterministic, with the current normalization."""

    def __init__(self, model: PPO, env: VecNormalize):
        from training.pretrain import actor_mean

        self.mean = actor_mean(model, env.normalize_obs)

    def act(self, obs: np.ndarray) -> np.ndarray:
        return np.clip(self.mean(obs), -1.0, 1.0).astype(np.float32)


def save_policy(path: Path, model: PPO, env: VecNormalize, config: TrainConfig, extra: dict) -> None:
    """Write a model folder (model, normalization statistics, metadata, config) atomically."""
    metadata = {"env_id": config.env_id, "mode": config.mode, "obs_dim": int(env.observation_space.shape[0]),
                "act_dim": int(env.action_space.shape[0]), "scenario": config.scenario,
                "observation_mode": config.observation_mode, "net_arch": list(config.ppo.net_arch),
                "activation": config.ppo.activation, **extra}
    save_model_folder(path, model, env.obs_rms.mean, env.obs_rms.var, env.epsilon, env.clip_obs, metadata,
                      config_to_yaml(config))


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _save_normalization(env: VecNormalize, path: Path) -> None:
    """VecNormalize's running statistics and settings as plain arrays (what its pickle would hold)."""
    np.savez(path, obs_mean=env.obs_rms.mean, obs_var=env.obs_rms.var, obs_count=np.float64(env.obs_rms.count),
             obs_fixed=np.bool_(isinstance(env.obs_rms, FixedStatistics)), ret_mean=np.float64(env.ret_rms.mean),
             ret_var=np.float64(env.ret_rms.var), ret_count=np.float64(env.ret_rms.count),
             **{name: np.float64(getattr(env, name)) for name in VECNORMALIZE_SETTINGS},
             **{name: np.bool_(getattr(env, name)) for name in VECNORMALIZE_FLAGS})


def _restore_normalization(env: VecNormalize, path: Path) -> None:
    """Put the statistics of ``path`` into a fresh ``make_env`` env; TrainingError naming the file."""
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {name: data[name] for name in data.files}
    except FileNotFoundError:
        raise TrainingError(f"--resume: {path} is missing") from None
    except Exception as err:  # numpy/zipfile raise many kinds on damaged input; object arrays are refused
        raise TrainingError(
            f"--resume: {path} is corrupt or holds pickled objects ({type(err).__name__}: {err})"
        ) from None
    expected = {"obs_mean", "obs_var", "obs_count", "obs_fixed", "ret_mean", "ret_var", "ret_count",
                *VECNORMALIZE_SETTINGS, *VECNORMALIZE_FLAGS}
    if set(arrays) != expected:
        raise TrainingError(f"--resume: {path} must hold {sorted(expected)}, got {sorted(arrays)}")
    shape = env.obs_rms.mean.shape
    if arrays["obs_mean"].shape != shape or arrays["obs_var"].shape != shape:
        raise TrainingError(f"--resume: {path} holds statistics of shape {arrays['obs_mean'].shape}; this config's env "
                            f"observes {shape}")
    if not all(np.all(np.isfinite(a)) for a in arrays.values() if a.dtype.kind == "f"):
        raise TrainingError(f"--resume: {path} holds non-finite statistics")
    obs_rms = FixedStatistics(shape=shape) if bool(arrays["obs_fixed"]) else RunningMeanStd(shape=shape)
    obs_rms.mean = arrays["obs_mean"].astype(np.float64)
    obs_rms.var = arrays["obs_var"].astype(np.float64)
    obs_rms.count = float(arrays["obs_count"])
    env.obs_rms = obs_rms
    env.ret_rms.mean, env.ret_rms.var = arrays["ret_mean"].astype(np.float64), arrays["ret_var"].astype(np.float64)
    env.ret_rms.count = float(arrays["ret_count"])
    for name in VECNORMALIZE_SETTINGS:
        setattr(env, name, float(arrays[name]))
    for name in VECNORMALIZE_FLAGS:
        setattr(env, name, bool(arrays[name]))


def save_checkpoint(run_dir: Path, model: PPO, env: VecNormalize, state: dict) -> None:
    """Write the checkpoint folder (model.zip, vecnormalize.npz, state.json) and swap it in whole."""
    staging = staging_dir(run_dir / CHECKPOINT)
    try:
        model.save(staging / MODEL_FILE)
        _save_normalization(env, staging / VECNORMALIZE_FILE)
        state = {**state, "n_updates": int(model._n_updates),
                 "ep_info_buffer": [{k: float(v) for k, v in info.items()} for info in model.ep_info_buffer or []],
                 "ep_success_buffer": [bool(v) for v in model.ep_success_buffer or []],
                 "files": {name: _sha256(staging / name) for name in (MODEL_FILE, VECNORMALIZE_FILE)}}
        (staging / STATE_FILE).write_text(json.dumps(state, indent=2))
        for name in (MODEL_FILE, VECNORMALIZE_FILE, STATE_FILE):
            os.chmod(staging / name, FILE_MODE)
        replace_dir(staging, run_dir / CHECKPOINT)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def load_checkpoint(run_dir: Path, config: TrainConfig) -> tuple[PPO, VecNormalize, dict]:
    """The model, env and state of the run's last checkpoint; TrainingError when unusable.

    Nothing is unpickled: the model is built from ``config`` and gets its weights and optimizer
    state with ``set_parameters`` (SB3 reads only the zip's .pth entries, with
    ``torch.load(weights_only=True)``); the normalization comes from vecnormalize.npz.
    """
    folder = existing_dir(run_dir / CHECKPOINT)  # interrupted while replacing: the previous one is whole
    if not folder.is_dir():
        raise TrainingError(f"--resume: {run_dir} has no checkpoint to resume from")
    if (folder / LEGACY_VECNORMALIZE_FILE).exists() and not (folder / VECNORMALIZE_FILE).exists():
        raise TrainingError(f"--resume: {folder} was written by an older lunar-env "
                            f"({LEGACY_VECNORMALIZE_FILE}, a pickle, "
                            "which is not loaded because pickles can run code); start a new run")
    try:
        state = json.loads((folder / STATE_FILE).read_text())
        steps = int(state["num_timesteps"])
        files = dict(state["files"])
    except (FileNotFoundError, json.JSONDecodeError, KeyError, ValueError, TypeError) as err:
        raise TrainingError(f"--resume: {folder / STATE_FILE} is missing or corrupt ({err})") from None
    for name in (MODEL_FILE, VECNORMALIZE_FILE):
        if not (folder / name).is_file():
            raise TrainingError(f"--resume: {folder / name} is missing")
        if _sha256(folder / name) != files.get(name):
            raise TrainingError(f"--resume: {folder / name} is corrupt or was replaced "
                                "after the checkpoint was written "
                                f"(its sha256 differs from the one in {STATE_FILE})")
    env = make_env(config)
    _restore_normalization(env, folder / VECNORMALIZE_FILE)
    model = make_model(config, env, run_dir / "tb")
    try:
        model.set_parameters(str(folder / MODEL_FILE), exact_match=True, device="cpu")
    except RuntimeError as err:  # load_state_dict: names or shapes differ
        raise TrainingError(
            f"--resume: the checkpoint does not fit this config's network or env ({str(err)[:300]})"
        ) from None
    except Exception as err:  # a damaged zip, or a .pth holding objects other than tensors (refused unread)
        raise TrainingError(
            f"--resume: {folder / MODEL_FILE} is corrupt ({type(err).__name__}: {str(err)[:300]})"
        ) from None
    # What PPO.load would have restored from the zip's pickled data and learn() does not recompute.
    model.num_timesteps = steps
    model._n_updates = int(state.get("n_updates", 0))
    model.ep_info_buffer = deque(state.get("ep_info_buffer", []), maxlen=model._stats_window_size)
    model.ep_success_buffer = deque(state.get("ep_success_buffer", []), maxlen=model._stats_window_size)
    return model, env, state


# ----------------------------------------------------------------------------- the monitor
@dataclass
class Evaluation:
    steps: int
    wall_time_s: float
    success_rate: float
    propellant_kg: float
    miss_distance_m: float

    def better_than(self, other: Evaluation | None) -> bool:
        if other is None:
            return True
        if self.success_rate != other.success_rate:
            return self.success_rate > other.success_rate
        return self.propellant_kg < other.propellant_kg


class TrainingMonitor(BaseCallback):
    """Landing metrics to TensorBoard, periodic evaluation (best model kept), checkpoints, progress bar."""

    def __init__(self, config: TrainConfig, run_dir: Path, state: dict, progress: bool = True):
        super().__init__()
        self.config, self.run_dir, self.state = config, run_dir, state
        self.progress = progress
        best = state.get("best")
        self.best = Evaluation(**best) if best else None
        self.next_eval = state.get("next_eval", config.eval_every_steps)
        self.next_checkpoint = state.get("next_checkpoint", config.checkpoint_every_steps)
        self.elapsed_before = float(state.get("wall_time_s", 0.0))
        self.started = time.perf_counter()
        self.bar = None
        self.stop = False
        self.unfreeze_at: int | None = state.get("unfreeze_at")
        self.last_eval_step: int | None = None

    def wall_time(self) -> float:
        return self.elapsed_before + time.perf_counter() - self.started

    def _on_training_start(self) -> None:
        if self.progress:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=self.config.total_timesteps, initial=self.num_timesteps, unit="step",
                            unit_scale=True, desc=self.config.name, dynamic_ncols=True)

    def _on_step(self) -> bool:
        for info in self.locals["infos"]:
            if "episode" in info:
                for key in ROLLOUT_METRICS:
                    self.logger.record_mean(f"landing/{key}", float(info[key]))
        if self.bar is not None:
            self.bar.update(self.model.n_envs)
            if self.best is not None:
                self.bar.set_postfix(best=f"{100 * self.best.success_rate:.1f}%", refresh=False)
        if self.unfreeze_at is not None and self.num_timesteps >= self.unfreeze_at:
            from training.pretrain import set_actor_trainable

            set_actor_trainable(self.model, True)
            self.unfreeze_at = None
        if self.num_timesteps >= self.next_eval:
            self.next_eval += self.config.eval_every_steps
            self.evaluate()
        if self.num_timesteps >= self.next_checkpoint:
            self.next_checkpoint += self.config.checkpoint_every_steps
            self.checkpoint()
        return not self.stop

    def evaluate(self, log: bool = True) -> Evaluation:
        config = self.config
        env = self.model.get_env()
        run = fly_scenario(LivePolicy(self.model, env), config.scenario, config.eval_episodes,
                           EVAL_SEED_OFFSET + config.seed, config.mode, config.observation_mode, progress=False)
        m = run.metrics
        landed = m["is_success"]
        self.last_eval_step = int(self.num_timesteps)
        result = Evaluation(self.num_timesteps, round(self.wall_time(), 2), float(landed.mean()),
                            float(m["propellant_used"][landed].mean()) if landed.any() else float("nan"),
                            float(m["miss_distance"][landed].mean()) if landed.any() else float("nan"))
        if log:
            for key in ("success_rate", "propellant_kg", "miss_distance_m"):
                self.logger.record(f"eval/{key}", getattr(result, key))
        counts = np.bincount(m["outcome"], minlength=len(OUTCOME_NAMES))
        line = {key: (None if isinstance(v, float) and not np.isfinite(v) else v) for key, v in result.__dict__.items()}
        line["outcomes"] = {OUTCOME_NAMES[k]: int(c) for k, c in enumerate(counts) if c}
        with open(self.run_dir / "evaluations.jsonl", "a") as log:
            log.write(json.dumps(line) + "\n")
        if result.better_than(self.best):
            self.best = result
            save_policy(self.run_dir / "best", self.model, env, config,
                        {"trained_steps": result.steps, "training_wall_time_s": result.wall_time_s,
                         "eval_success_rate": result.success_rate})
        if config.stop_at_success_rate is not None and result.success_rate >= config.stop_at_success_rate:
            self.stop = True
        if self.bar is not None:
            self.bar.write(f"step {result.steps:>10,}  {result.wall_time_s:7.0f} s  landed "
                           f"{100 * result.success_rate:5.1f}%  "
                           f"propellant {result.propellant_kg:6.1f} kg  miss {result.miss_distance_m:6.1f} m")
        return result

    def checkpoint(self) -> None:
        state = {"num_timesteps": int(self.num_timesteps), "wall_time_s": self.wall_time(),
                 "best": self.best.__dict__ if self.best else None, "next_eval": self.next_eval,
                 "next_checkpoint": self.next_checkpoint, "unfreeze_at": self.unfreeze_at,
                 "config": self.config.to_dict()}
        save_checkpoint(self.run_dir, self.model, self.model.get_env(), state)

    def _on_training_end(self) -> None:
        if self.bar is not None:
            self.bar.close()


class FixedStatistics(RunningMeanStd):
    """Observation statistics that no longer update: the cloned actor keeps seeing its inputs
    scaled as in cloning, however the rollouts' distribution drifts."""

    def update(self, arr: np.ndarray) -> None:
        pass


# ----------------------------------------------------------------------------- warm start
def warm_start(config: TrainConfig, model: PPO, env: VecNormalize, monitor: TrainingMonitor, progress: bool) -> None:
    """Behavior-clone the expert into the actor (with DAgger rounds), evaluate each fit, keep the
    best and freeze it for the critic warm-up."""
    from training.pretrain import actor_mean, clone_actor, collect_demonstrations, sample_weights, set_actor_trainable

    pre = config.pretrain
    obs, actions = collect_demonstrations(config.training_scenario(), config.mode, config.observation_mode, pre,
                                          seed=PRETRAIN_SEED_OFFSET + config.seed, progress=progress)
    env.obs_rms.update(obs.astype(np.float64))
    fixed = FixedStatistics(shape=env.obs_rms.mean.shape)
    fixed.mean, fixed.var, fixed.count = env.obs_rms.mean.copy(), env.obs_rms.var.copy(), env.obs_rms.count
    env.obs_rms = fixed
    loss = clone_actor(model, env.normalize_obs(obs), actions, pre, seed=config.seed, progress=progress,
                       weights=sample_weights(obs, pre))
    if progress:
        print(f"behavior cloning: {len(obs):,} samples from {pre.episodes} {pre.expert} flights, final MSE {loss:.4f}")
    monitor.model = model
    best_actor = copy.deepcopy(model.policy.state_dict())
    monitor.evaluate(log=False)
    for round_index in range(pre.dagger_rounds):
        if monitor.stop:  # stop_at_success_rate reached
            break
        new_obs, new_actions = collect_demonstrations(
            config.training_scenario(), config.mode, config.observation_mode, pre,
            seed=PRETRAIN_SEED_OFFSET + config.seed + DAGGER_SEED_STRIDE * (round_index + 1), progress=progress,
            student=actor_mean(model, env.normalize_obs), episodes=pre.dagger_episodes)
        obs, actions = np.concatenate([obs, new_obs]), np.concatenate([actions, new_actions])
        loss = clone_actor(model, env.normalize_obs(obs), actions, pre, seed=config.seed + round_index + 1,
                           progress=progress, epochs=pre.dagger_epochs, weights=sample_weights(obs, pre))
        if progress:
            print(f"DAgger round {round_index + 1}/{pre.dagger_rounds}: {len(obs):,} samples, final MSE {loss:.4f}")
        if monitor.evaluate(log=False) is monitor.best:
            best_actor = copy.deepcopy(model.policy.state_dict())
    # A refit can land worse than the one before it; PPO starts from the best warm-start actor.
    model.policy.load_state_dict(best_actor)
    if pre.critic_warmup_steps > 0:
        set_actor_trainable(model, False)
        monitor.unfreeze_at = pre.critic_warmup_steps


# ----------------------------------------------------------------------------- the run
def train(config: TrainConfig, run_dir: str | Path, resume: bool = False, progress: bool = True) -> Path:
    """Train (or resume) a run; returns the run folder. Stops at total_timesteps or at
    ``stop_at_success_rate``; the final and best model folders are written either way."""
    run_dir = Path(run_dir)
    torch.set_num_threads(config.torch_threads)
    if resume:
        model, env, state = load_checkpoint(run_dir, config)
        if model.num_timesteps >= config.total_timesteps:
            raise TrainingError(f"--resume: the checkpoint already has {model.num_timesteps} steps "
                                f"(total_timesteps {config.total_timesteps}); raise --total-timesteps to go on")
        model.tensorboard_log = str(run_dir / "tb")
    else:
        if (run_dir / CHECKPOINT).exists():
            raise TrainingError(f"{run_dir} already holds a run; pass --resume to continue it or choose another "
                                "--run-dir")
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / "evaluations.jsonl").unlink(missing_ok=True)  # of a run that died before its first checkpoint
        env = make_env(config)
        model = make_model(config, env, run_dir / "tb")
        state = {}
    (run_dir / "config.yaml").write_text(config_to_yaml(config))
    monitor = TrainingMonitor(config, run_dir, state, progress)
    if config.pretrain is not None and not resume:
        warm_start(config, model, env, monitor, progress)
    elif monitor.unfreeze_at is not None and model.num_timesteps < monitor.unfreeze_at:
        from training.pretrain import set_actor_trainable

        set_actor_trainable(model, False)  # resumed inside the critic warm-up: keep the actor frozen
    remaining = config.total_timesteps - model.num_timesteps
    # With reset_num_timesteps=False SB3 counts on from the checkpoint, so the learning-rate
    # schedule and the step count continue where they stopped.
    model.learn(
        total_timesteps=remaining,
        callback=monitor,
        reset_num_timesteps=not resume,
        tb_log_name="ppo",
        progress_bar=False,
    )
    if monitor.last_eval_step != model.num_timesteps:
        monitor.evaluate()
    monitor.checkpoint()
    save_policy(
        run_dir / "final",
        model,
        env,
        config,
        {"trained_steps": int(model.num_timesteps), "training_wall_time_s": round(monitor.wall_time(), 2)},
    )
    return run_dir
