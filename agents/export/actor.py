"""The actor of a trained PPO policy as plain numpy arrays: the one representation every exporter reads.

The deterministic action of a stable-baselines3 PPO policy with a Box action space is::

    z      = clip((obs - obs_mean) / sqrt(obs_var + epsilon), -clip_obs, clip_obs)
    h_0    = z
    h_k+1  = act(W_k h_k + b_k)            k = 0 .. n_hidden - 1   (act = tanh or relu)
    action = clip(W_out h_n + b_out, action_low, action_high)

(the Gaussian's mean; the value network, log_std and the distribution are not part of it).
:func:`extract_actor` reads exactly this out of an SB3 model and refuses, with a ValueError naming
the part, anything that does not fit it. :func:`reference_forward` evaluates it in float64: the
reference every exported form (ONNX, C float32, C int8) is measured against.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

#: Hidden-layer activations the exporters implement.
ACTIVATIONS = ("tanh", "relu")


def _frozen(array, dtype=np.float64) -> np.ndarray:
    out = np.array(array, dtype=dtype, copy=True)
    out.setflags(write=False)
    return out


@dataclass(frozen=True, eq=False)
class ActorWeights:
    """A feed-forward actor with observation normalization and action clipping, in float64.

    weights[k] has shape (out_k, in_k) (torch's ``nn.Linear.weight`` layout) and biases[k] shape
    (out_k,); the last pair is the action layer (no activation). obs_mean, obs_var: (obs_dim,) in
    the observation's units and units squared. action_low/high: (act_dim,), finite.
    """

    weights: tuple[np.ndarray, ...]
    biases: tuple[np.ndarray, ...]
    activation: str
    obs_mean: np.ndarray
    obs_var: np.ndarray
    epsilon: float
    clip_obs: float
    action_low: np.ndarray
    action_high: np.ndarray
    metadata: dict = field(default_factory=dict)

    def __post_init__(self):
        owner = "ActorWeights"
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"{owner}.activation must be one of {ACTIVATIONS}, got {self.activation!r}")
        if len(self.weights) == 0 or len(self.weights) != len(self.biases):
            raise ValueError(f"{owner}: need one bias per weight matrix and at least the action layer, "
                             f"got {len(self.weights)} weights and {len(self.biases)} biases")
        object.__setattr__(self, "weights", tuple(_frozen(w) for w in self.weights))
        object.__setattr__(self, "biases", tuple(_frozen(b) for b in self.biases))
        width = None
        for k, (w, b) in enumerate(zip(self.weights, self.biases)):
            if w.ndim != 2 or b.shape != (w.shape[0],) or w.shape[0] == 0 or w.shape[1] == 0:
                raise ValueError(f"{owner}: layer {k} has weight shape {w.shape} and bias shape {b.shape}; "
                                 f"expected (out, in) and (out,)")
            if width is not None and w.shape[1] != width:
                raise ValueError(f"{owner}: layer {k} takes {w.shape[1]} inputs but layer {k - 1} gives {width}")
            if not (np.all(np.isfinite(w)) and np.all(np.isfinite(b))):
                raise ValueError(f"{owner}: layer {k} has non-finite weights or biases")
            width = w.shape[0]
        obs_dim, act_dim = self.weights[0].shape[1], self.weights[-1].shape[0]
        for name, size in (
            ("obs_mean", obs_dim),
            ("obs_var", obs_dim),
            ("action_low", act_dim),
            ("action_high", act_dim),
        ):
            arr = _frozen(getattr(self, name))
            if arr.shape != (size,) or not np.all(np.isfinite(arr)):
                raise ValueError(f"{owner}.{name} must be {size} finite numbers, got shape {arr.shape}")
            object.__setattr__(self, name, arr)
        if np.any(self.obs_var < 0):
            raise ValueError(f"{owner}.obs_var must be >= 0, got min {self.obs_var.min()!r}")
        if np.any(self.action_low > self.action_high):
            raise ValueError(f"{owner}: action_low must be <= action_high")
        for name in ("epsilon", "clip_obs"):
            value = float(getattr(self, name))
            if not (np.isfinite(value) and value > 0):
                raise ValueError(f"{owner}.{name} must be in (0, inf), got {value!r}")
            object.__setattr__(self, name, value)
        object.__setattr__(self, "metadata", dict(self.metadata))

    @property
    def obs_dim(self) -> int:
        return int(self.weights[0].shape[1])

    @property
    def act_dim(self) -> int:
        return int(self.weights[-1].shape[0])

    @property
    def hidden_sizes(self) -> tuple[int, ...]:
        return tuple(int(w.shape[0]) for w in self.weights[:-1])

    @property
    def obs_std(self) -> np.ndarray:
        """sqrt(obs_var + epsilon), (obs_dim,), in the observation's units."""
        return np.sqrt(self.obs_var + self.epsilon)

    def fingerprint(self) -> str:
        """SHA-256 over every number of the actor: names the exact network an export came from."""
        h = hashlib.sha256()
        h.update(self.activation.encode())
        for arr in (*self.weights, *self.biases, self.obs_mean, self.obs_var, self.action_low, self.action_high):
            h.update(np.ascontiguousarray(arr, dtype="<f8").tobytes())
        h.update(np.array([self.epsilon, self.clip_obs], dtype="<f8").tobytes())
        return h.hexdigest()


def normalize(actor: ActorWeights, obs: np.ndarray) -> np.ndarray:
    """The normalized, clipped observation the network sees, float64 (n, obs_dim)."""
    obs = np.asarray(obs, dtype=np.float64)
    return np.clip((obs - actor.obs_mean) / actor.obs_std, -actor.clip_obs, actor.clip_obs)


def reference_forward(actor: ActorWeights, obs: np.ndarray) -> np.ndarray:
    """The float64 reference action, (n, act_dim), for observations (n, obs_dim).

    Non-finite observations give non-finite (NaN) actions here; the exported C policies instead
    report an error and return their safe action.
    """
    obs = np.asarray(obs, dtype=np.float64)
    if obs.ndim != 2 or obs.shape[1] != actor.obs_dim:
        raise ValueError(f"observations must have shape (n, {actor.obs_dim}), got {obs.shape}")
    h = normalize(actor, obs)
    act = np.tanh if actor.activation == "tanh" else (lambda v: np.maximum(v, 0.0))
    for w, b in zip(actor.weights[:-1], actor.biases[:-1]):
        h = act(h @ w.T + b)
    out = h @ actor.weights[-1].T + actor.biases[-1]
    return np.clip(out, actor.action_low, actor.action_high)


# ----------------------------------------------------------------------------- SB3 extraction
def _activation_name(module) -> str | None:
    import torch.nn as nn

    if type(module) is nn.Tanh:
        return "tanh"
    if type(module) is nn.ReLU:
        return "relu"
    return None


def _linear_arrays(module, where: str) -> tuple[np.ndarray, np.ndarray]:
    import torch.nn as nn

    if type(module) is not nn.Linear:
        raise ValueError(f"{where} is {type(module).__name__}; only torch.nn.Linear layers can be exported")
    weight = module.weight.detach().cpu().double().numpy()
    if module.bias is None:
        bias = np.zeros(weight.shape[0])
    else:
        bias = module.bias.detach().cpu().double().numpy()
    return weight, bias


def _check_spaces(policy) -> None:
    from gymnasium import spaces

    obs_space, act_space = policy.observation_space, policy.action_space
    if not isinstance(act_space, spaces.Box):
        raise ValueError(
            f"action space {act_space} is not supported: only a continuous Box action space can be exported"
        )
    if len(act_space.shape) != 1:
        raise ValueError(f"action space of shape {act_space.shape} is not supported: only a 1-D Box can be exported")
    if not (np.all(np.isfinite(act_space.low)) and np.all(np.isfinite(act_space.high))):
        raise ValueError(f"action space {act_space} has infinite bounds: the exported policy clips to finite bounds")
    if not isinstance(obs_space, spaces.Box) or len(obs_space.shape) != 1:
        raise ValueError(f"observation space {obs_space} is not supported: only a 1-D Box observation can be exported")


def _check_policy_kind(policy) -> None:
    from stable_baselines3.common.distributions import DiagGaussianDistribution, StateDependentNoiseDistribution
    from stable_baselines3.common.policies import ActorCriticPolicy
    from stable_baselines3.common.torch_layers import FlattenExtractor, MlpExtractor

    kind = type(policy).__name__
    if "Recurrent" in kind or any(hasattr(policy, name) for name in ("lstm_actor", "lstm_critic")):
        raise ValueError(f"recurrent policy {kind} is not supported: only feed-forward MLP actors can be exported")
    if not isinstance(policy, ActorCriticPolicy):
        raise ValueError(
            f"policy class {kind} is not supported: only stable-baselines3 ActorCriticPolicy (PPO/A2C 'MlpPolicy')"
        )
    _check_spaces(policy)
    if getattr(policy, "squash_output", False):
        raise ValueError(
            "squashed outputs (use_sde with squash_output=True) are not supported: "
            "the exported actor clips, it does not squash"
        )
    if not isinstance(policy.action_dist, (DiagGaussianDistribution, StateDependentNoiseDistribution)):
        raise ValueError(
            f"action distribution {type(policy.action_dist).__name__} is not supported: only Gaussian policies"
        )
    extractor = getattr(policy, "pi_features_extractor", policy.features_extractor)
    n_params = sum(p.numel() for p in extractor.parameters())
    if type(extractor) is not FlattenExtractor or n_params:
        raise ValueError(
            f"features extractor {type(extractor).__name__} ({n_params} parameters) is not supported: "
            f"only the parameter-free FlattenExtractor; put learned layers in net_arch instead"
        )
    if not isinstance(policy.mlp_extractor, MlpExtractor):
        raise ValueError(
            f"mlp_extractor {type(policy.mlp_extractor).__name__} is not supported: only SB3's MlpExtractor"
        )


def _policy_layers(policy) -> tuple[list[np.ndarray], list[np.ndarray], str]:
    import torch.nn as nn

    net = policy.mlp_extractor.policy_net
    if not isinstance(net, nn.Sequential):
        raise ValueError(f"policy network is {type(net).__name__}; only torch.nn.Sequential of Linear and Tanh/ReLU")
    modules = list(net)
    weights, biases, activations = [], [], set()
    if len(modules) % 2:
        raise ValueError(f"policy network has {len(modules)} modules; expected pairs of Linear and an activation")
    for k in range(0, len(modules), 2):
        w, b = _linear_arrays(modules[k], f"layer {k} of the policy network")
        name = _activation_name(modules[k + 1])
        if name is None:
            raise ValueError(
                f"layer {k + 1} of the policy network is {type(modules[k + 1]).__name__}; "
                f"only Tanh or ReLU activations can be exported"
            )
        weights.append(w)
        biases.append(b)
        activations.add(name)
    if len(activations) > 1:
        raise ValueError(
            f"the policy network mixes activations {sorted(activations)}; the exporters use one activation"
        )
    w, b = _linear_arrays(policy.action_net, "action_net")
    weights.append(w)
    biases.append(b)
    if activations:
        activation = activations.pop()
    else:  # no hidden layer: the activation is never applied; record the policy's own choice if supported
        activation = _activation_name(policy.activation_fn()) or "tanh"
    return weights, biases, activation


def extract_actor(
    model, obs_mean, obs_var, epsilon: float, clip_obs: float, metadata: dict | None = None
) -> ActorWeights:
    """The deterministic actor of an SB3 PPO ``model`` (or its ``policy``) with its normalization.

    Raises ValueError naming the unsupported part for recurrent policies, non-Box spaces,
    squashed outputs, feature extractors with parameters, or layers other than Linear + Tanh/ReLU.
    """
    policy = getattr(model, "policy", model)
    _check_policy_kind(policy)
    weights, biases, activation = _policy_layers(policy)
    obs_dim = int(np.prod(policy.observation_space.shape))
    if weights[0].shape[1] != obs_dim:
        raise ValueError(f"the first layer takes {weights[0].shape[1]} inputs but the observation has {obs_dim}")
    act_space = policy.action_space
    return ActorWeights(
        tuple(weights),
        tuple(biases),
        activation,
        np.asarray(obs_mean, np.float64),
        np.asarray(obs_var, np.float64),
        float(epsilon),
        float(clip_obs),
        np.asarray(act_space.low, np.float64),
        np.asarray(act_space.high, np.float64),
        dict(metadata or {}),
    )


def load_actor(model_dir: str | Path) -> ActorWeights:
    """Extract the actor of a model folder (see agents/model_folder.py)."""
    from agents.model_folder import load_model_folder

    folder = load_model_folder(model_dir)
    meta: dict[str, Any] = {
        key: folder.metadata[key] for key in ("env_id", "mode", "obs_dim", "act_dim") if key in folder.metadata
    }
    meta["source"] = Path(os.path.abspath(model_dir)).name  # the folder's name: no machine path in any output
    return extract_actor(folder.model, folder.obs_mean, folder.obs_var, folder.epsilon, folder.clip_obs, meta)


def torch_forward(model, actor: ActorWeights, obs: np.ndarray) -> np.ndarray:
    """The action of the torch policy itself (float32, as SB3 computes it), (n, act_dim) float64.

    Normalizes exactly as the exported forms do (float64, then cast to float32 as the network input),
    then runs ``action_net(mlp_extractor.forward_actor(features))`` and clips.
    """
    import torch

    policy = getattr(model, "policy", model)
    z = normalize(actor, obs).astype(np.float32)
    with torch.no_grad():
        x = torch.as_tensor(z, device=policy.device)
        features = policy.pi_features_extractor(x)
        mean = policy.action_net(policy.mlp_extractor.forward_actor(features))
    out = mean.cpu().numpy().astype(np.float64)
    return np.clip(out, actor.action_low, actor.action_high)
