"""A PPO actor-critic network as plain data: its shape (JSON) and its weights (named float32 arrays).

Trained policies are stored this way rather than as pickles: rebuilding needs only the shape,
read from JSON, and the weights, read with ``np.load(..., allow_pickle=False)`` or
``torch.load(..., weights_only=True)``, so a model file can never run code. :func:`build_policy`
makes the same stable-baselines3 ``ActorCriticPolicy`` that trained (so actions are computed by
the same torch float32 operations) and refuses, with a message naming the file, weights that do
not fit it exactly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

#: Hidden-layer activations a stored network may use: name -> torch.nn class name.
ACTIVATIONS = {"tanh": "Tanh", "relu": "ReLU"}
WEIGHT_DTYPE = np.float32
#: Largest magnitude any pre-activation may reach over the network's input range: well inside
#: float32 (max 3.4e38), so no sum can overflow to inf and make a NaN action.
MAX_PREACTIVATION = 1e30
MAX_EXACT_INT = 2**53  # JSON integers accepted as numbers (exact in float64)


class ModelFolderError(ValueError):
    """A model folder or model file that cannot be used: missing, corrupt, mismatched or unsafe."""


def _finite_number(value) -> bool:
    return (type(value) is float and math.isfinite(value)) or (type(value) is int and abs(value) <= MAX_EXACT_INT)


@dataclass(frozen=True)
class NetworkSpec:
    """What it takes to rebuild an ``ActorCriticPolicy`` with an MLP extractor and a Gaussian head."""

    obs_dim: int
    act_dim: int
    pi: tuple[int, ...]  # hidden layer sizes of the policy (actor) network
    vf: tuple[int, ...]  # hidden layer sizes of the value (critic) network
    activation: str  # a key of ACTIVATIONS
    action_low: tuple[float, ...]
    action_high: tuple[float, ...]

    def to_json(self) -> dict:
        return {
            "obs_dim": self.obs_dim,
            "act_dim": self.act_dim,
            "net_arch": {"pi": list(self.pi), "vf": list(self.vf)},
            "activation": self.activation,
            "action_low": list(self.action_low),
            "action_high": list(self.action_high),
        }

    @classmethod
    def from_json(cls, data, where: str) -> NetworkSpec:
        """The spec in a metadata.json's ``network`` entry; ModelFolderError naming ``where`` if malformed."""

        def fail(what: str):
            raise ModelFolderError(f"{where}: network {what}")

        if not isinstance(data, dict):
            fail(f"must be an object, got {type(data).__name__}")
        sizes = {}
        for key in ("obs_dim", "act_dim"):
            value = data.get(key)
            if type(value) is not int or value <= 0:
                fail(f"{key} must be a positive integer, got {value!r}")
            sizes[key] = value
        arch = data.get("net_arch")
        if not isinstance(arch, dict) or set(arch) != {"pi", "vf"}:
            fail(f"net_arch must be {{'pi': [...], 'vf': [...]}}, got {arch!r}")
        for key in ("pi", "vf"):
            if not isinstance(arch[key], list) or not all(type(n) is int and n > 0 for n in arch[key]):
                fail(f"net_arch.{key} must be a list of positive integers, got {arch[key]!r}")
        if not isinstance(data.get("activation"), str) or data["activation"] not in ACTIVATIONS:
            fail(f"activation must be one of {sorted(ACTIVATIONS)}, got {data.get('activation')!r}")
        bounds = {}
        for key in ("action_low", "action_high"):
            value = data.get(key)
            if (
                not isinstance(value, list)
                or len(value) != sizes["act_dim"]
                or not all(_finite_number(v) for v in value)
            ):
                fail(f"{key} must be a list of {sizes['act_dim']} finite numbers, got {value!r}")
            bounds[key] = tuple(float(v) for v in value)
        if not all(lo < hi for lo, hi in zip(bounds["action_low"], bounds["action_high"])):
            fail("action_low must be below action_high")
        return cls(
            sizes["obs_dim"],
            sizes["act_dim"],
            tuple(arch["pi"]),
            tuple(arch["vf"]),
            data["activation"],
            bounds["action_low"],
            bounds["action_high"],
        )


def network_spec(policy) -> NetworkSpec:
    """The spec of a live SB3 policy (or a model's); ValueError naming the part that cannot be stored."""
    import torch.nn as nn
    from gymnasium import spaces
    from stable_baselines3.common.policies import ActorCriticPolicy
    from stable_baselines3.common.torch_layers import FlattenExtractor

    policy = getattr(policy, "policy", policy)
    if type(policy) is not ActorCriticPolicy:
        raise ValueError(
            f"policy class {type(policy).__name__} cannot be stored: only SB3's ActorCriticPolicy (MlpPolicy)"
        )
    if policy.use_sde or policy.squash_output:
        raise ValueError("policies with gSDE or squashed outputs cannot be stored")
    if type(policy.features_extractor) is not FlattenExtractor:
        raise ValueError(
            f"features extractor {type(policy.features_extractor).__name__} cannot be stored: only FlattenExtractor"
        )
    activation = next((name for name, cls in ACTIVATIONS.items() if policy.activation_fn is getattr(nn, cls)), None)
    if activation is None:
        raise ValueError(f"activation {policy.activation_fn.__name__} cannot be stored: only {sorted(ACTIVATIONS)}")
    obs_space, act_space = policy.observation_space, policy.action_space
    if not (
        isinstance(obs_space, spaces.Box)
        and len(obs_space.shape) == 1
        and isinstance(act_space, spaces.Box)
        and len(act_space.shape) == 1
    ):
        raise ValueError(f"spaces {obs_space} -> {act_space} cannot be stored: only 1-D Box spaces")
    if not (np.all(np.isfinite(act_space.low)) and np.all(np.isfinite(act_space.high))):
        raise ValueError(f"action space {act_space} has infinite bounds")

    def hidden(net) -> tuple[int, ...]:
        return tuple(int(m.out_features) for m in net if isinstance(m, nn.Linear))

    return NetworkSpec(
        int(obs_space.shape[0]),
        int(act_space.shape[0]),
        hidden(policy.mlp_extractor.policy_net),
        hidden(policy.mlp_extractor.value_net),
        activation,
        tuple(float(v) for v in act_space.low),
        tuple(float(v) for v in act_space.high),
    )


def policy_state(policy) -> dict[str, np.ndarray]:
    """Every parameter of a policy (actor, critic, log_std) as named float32 arrays."""
    policy = getattr(policy, "policy", policy)
    return {name: tensor.detach().cpu().numpy().astype(WEIGHT_DTYPE) for name, tensor in policy.state_dict().items()}


def expected_shapes(spec: NetworkSpec) -> dict[str, tuple[int, ...]]:
    """The state_dict names and shapes of the ActorCriticPolicy of ``spec`` (SB3's MlpExtractor layout)."""
    shapes: dict[str, tuple[int, ...]] = {}
    for net, sizes in (("policy_net", spec.pi), ("value_net", spec.vf)):
        width = spec.obs_dim
        for k, size in enumerate(sizes):
            shapes[f"mlp_extractor.{net}.{2 * k}.weight"] = (size, width)
            shapes[f"mlp_extractor.{net}.{2 * k}.bias"] = (size,)
            width = size
    last_pi = spec.pi[-1] if spec.pi else spec.obs_dim
    last_vf = spec.vf[-1] if spec.vf else spec.obs_dim
    shapes.update(
        {
            "log_std": (spec.act_dim,),
            "action_net.weight": (spec.act_dim, last_pi),
            "action_net.bias": (spec.act_dim,),
            "value_net.weight": (1, last_vf),
            "value_net.bias": (1,),
        }
    )
    return shapes


def _empty_policy(spec: NetworkSpec):
    import torch
    from gymnasium import spaces
    from stable_baselines3.common.policies import ActorCriticPolicy

    obs_space = spaces.Box(-np.inf, np.inf, (spec.obs_dim,), np.float32)
    act_space = spaces.Box(
        np.array(spec.action_low, np.float32), np.array(spec.action_high, np.float32), dtype=np.float32
    )
    with torch.random.fork_rng(devices=[]):  # the initial weights are overwritten; keep the caller's RNG as it was
        return ActorCriticPolicy(
            obs_space,
            act_space,
            lr_schedule=lambda _: 0.0,
            net_arch=dict(pi=list(spec.pi), vf=list(spec.vf)),
            activation_fn=getattr(torch.nn, ACTIVATIONS[spec.activation]),
        )


def build_policy(
    spec: NetworkSpec,
    state: dict[str, np.ndarray],
    where: str,
    device: str = "cpu",
    spec_source: str = "the network's description",
):
    """The ActorCriticPolicy of ``spec`` holding ``state``; ModelFolderError naming ``where`` (the
    weights' file) and ``spec_source`` when the names, shapes or dtypes do not fit exactly or a
    weight is not finite."""
    import torch

    # Checked against the spec's shapes before any network is built: a damaged spec must not
    # allocate a huge one, and the arrays' own size is bounded by the file's.
    expected = expected_shapes(spec)
    missing, unexpected = sorted(set(expected) - set(state)), sorted(set(state) - set(expected))
    if missing or unexpected:
        raise ModelFolderError(
            f"{where}: the weights do not fit the network of {spec_source} "
            f"(missing {missing[:4]}, unexpected {unexpected[:4]})"
        )
    tensors = {}
    for name, shape in expected.items():
        array = state[name]
        if not isinstance(array, np.ndarray) or array.dtype != WEIGHT_DTYPE:
            raise ModelFolderError(
                f"{where}: {name} must be a float32 array, got {getattr(array, 'dtype', type(array).__name__)}"
            )
        if array.shape != shape:
            raise ModelFolderError(
                f"{where}: {name} has shape {array.shape}, the network of {spec_source} needs {shape}"
            )
        if not np.all(np.isfinite(array)):
            raise ModelFolderError(f"{where}: {name} holds non-finite values")
        tensors[name] = torch.from_numpy(array.copy())
    policy = _empty_policy(spec)
    built = {name: tuple(t.shape) for name, t in policy.state_dict().items()}
    if built != expected:  # the layout SB3 builds changed: refuse rather than guess
        raise ModelFolderError(
            f"{where}: this stable-baselines3 version builds the network of {spec_source} with "
            f"other parameters ({sorted(set(built) ^ set(expected))[:4]})"
        )
    policy.load_state_dict(tensors, strict=True)
    return policy.to(device)


def check_actor_range(
    spec: NetworkSpec,
    state: dict[str, np.ndarray],
    input_bound: float,
    where: str,
    bound_source: str = "the normalization",
) -> None:
    """Refuse weights whose actor could overflow float32 for inputs within +-``input_bound`` (the
    clip_obs of ``bound_source``).

    Interval arithmetic in float64: |W h + b| <= |W| |h| + |b| layer by layer (tanh bounds its
    output by 1). When every bound stays below MAX_PREACTIVATION no sum reaches inf, so finite
    inputs always give finite actions.
    """
    bound = np.full(spec.obs_dim, float(input_bound))
    layers = [f"mlp_extractor.policy_net.{2 * k}" for k in range(len(spec.pi))] + ["action_net"]
    for layer in layers:
        w = np.abs(state[f"{layer}.weight"].astype(np.float64))
        pre = w @ bound + np.abs(state[f"{layer}.bias"].astype(np.float64))
        if not np.all(pre < MAX_PREACTIVATION):
            raise ModelFolderError(
                f"{where}: {layer} can reach {np.max(pre):.3g} for normalized inputs within "
                f"+-{input_bound:g} (clip_obs of {bound_source}): the weights or the clip are "
                f"damaged (a trained network stays far below {MAX_PREACTIVATION:.0e})"
            )
        bound = np.minimum(pre, 1.0) if spec.activation == "tanh" else pre
