"""Reading a stable-baselines3 PPO ``.zip`` without running anything in it: the one place that does.

An SB3 zip is a pickle-based format: its ``data`` entry is JSON whose objects carry cloudpickled
``":serialized:"`` blobs, and its ``.pth`` entries are torch pickles. ``PPO.load`` unpickles both,
so a crafted zip runs code. This reader decodes ``data`` as JSON only and uses just its readable
fields (the spaces' shapes and bounds, ``policy_kwargs``' repr strings), never a ``:serialized:``
blob; it reads the weights from ``policy.pth`` with ``torch.load(weights_only=True)``, which
refuses any object but tensors and plain containers. The network's shape comes from the weights.
Anything that does not fit a plain MLP ``ActorCriticPolicy`` is refused with a message.
"""

from __future__ import annotations

import io
import json
import re
import sys
import zipfile
from pathlib import Path

import numpy as np

from agents.policy_network import ACTIVATIONS, WEIGHT_DTYPE, ModelFolderError, NetworkSpec

WEIGHTS_ENTRY = "policy.pth"
DATA_ENTRY = "data"
POLICY_MODULE = "stable_baselines3.common.policies"
WARNING = ("warning: SB3 .zip files are pickle-based; lunar-env reads only their weights and never runs code in "
           "them, but use files from trusted sources")


def _readable(entry, key: str):
    """A readable (non-pickled) field of a serialized ``data`` entry, or None."""
    return entry.get(key) if isinstance(entry, dict) else None


def _parse_bounds(text, size: int, where: str, name: str) -> tuple[float, ...]:
    """A numpy array repr such as ``'[-1. -1. -1.]'`` as floats (never evaluated as code)."""
    tokens = str(text).replace("[", " ").replace("]", " ").split() if text is not None else []
    try:
        values = tuple(float(t) for t in tokens)
    except ValueError:
        values = ()
    if len(values) == 1 and size > 1:
        values = values * size
    if len(values) != size:
        raise ModelFolderError(f"{where}: cannot read the action space's {name} bounds ({str(text)[:60]!r})")
    return values


def _activation(policy_kwargs, where: str) -> str:
    text = _readable(policy_kwargs, "activation_fn")
    if text is None:
        return "tanh"  # ActorCriticPolicy's default
    name = re.search(r"\.(\w+)'>$", str(text))
    for key, cls in ACTIVATIONS.items():
        if name and name.group(1) == cls:
            return key
    raise ModelFolderError(f"{where}: activation {text!r} is not supported: only {sorted(ACTIVATIONS)}")


def _check_policy_class(data: dict, where: str) -> None:
    entry = data.get("policy_class")
    module, init = _readable(entry, "__module__"), str(_readable(entry, "__init__") or "")
    cls = re.search(r"<function (\w+)\.__init__", init)
    cls = cls.group(1) if cls else None
    if (
        "Recurrent" in f"{module} {cls}"
        or (module is not None and module != POLICY_MODULE)
        or cls not in (None, "ActorCriticPolicy")
    ):
        raise ModelFolderError(
            f"{where}: policy class {cls or '?'} from {module or '?'} is not supported: "
            "only SB3's ActorCriticPolicy (PPO 'MlpPolicy')"
        )
    kwargs = data.get("policy_kwargs")
    extractor = _readable(kwargs, "features_extractor_class")
    if extractor is not None and "FlattenExtractor" not in str(extractor):
        raise ModelFolderError(f"{where}: features extractor {extractor} is not supported: only FlattenExtractor")
    if data.get("use_sde") or _readable(kwargs, "squash_output"):
        raise ModelFolderError(f"{where}: policies with gSDE or squashed outputs are not supported")


def _hidden_sizes(state: dict[str, np.ndarray], prefix: str) -> tuple[int, ...]:
    sizes, k = [], 0
    while f"{prefix}.{k}.weight" in state:
        sizes.append(int(state[f"{prefix}.{k}.weight"].shape[0]))
        k += 2  # Linear, activation, Linear, ...
    return tuple(sizes)


def read_sb3_zip(path: str | Path, warn: bool = True) -> tuple[NetworkSpec, dict[str, np.ndarray]]:
    """The network spec and float32 weights of an SB3 PPO zip, read without unpickling anything.

    ModelFolderError naming the file when it is damaged, holds objects other than tensors, or is not
    a plain MLP ActorCriticPolicy with 1-D Box spaces.
    """
    import torch

    path = Path(path)
    where = str(path)
    if warn:
        print(WARNING, file=sys.stderr)
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
            if DATA_ENTRY not in names or WEIGHTS_ENTRY not in names:
                raise ModelFolderError(f"{where}: not an SB3 model zip (needs {DATA_ENTRY!r} and {WEIGHTS_ENTRY!r})")
            data = json.loads(archive.read(DATA_ENTRY).decode("utf-8"))
            weights_bytes = archive.read(WEIGHTS_ENTRY)
    except ModelFolderError:
        raise
    except (
        zipfile.BadZipFile,
        OSError,
        EOFError,
        UnicodeDecodeError,
        json.JSONDecodeError,
        RuntimeError,
        ValueError,
    ) as err:
        raise ModelFolderError(f"{where}: corrupt or not an SB3 model zip ({type(err).__name__}: {err})") from None
    if not isinstance(data, dict):
        raise ModelFolderError(f"{where}: corrupt: its {DATA_ENTRY!r} entry is not a JSON object")
    _check_policy_class(data, where)
    try:
        raw = torch.load(io.BytesIO(weights_bytes), map_location="cpu", weights_only=True)
    except Exception as err:  # torch's restricted unpickler raises UnpicklingError, RuntimeError, ...
        raise ModelFolderError(
            f"{where}: {WEIGHTS_ENTRY} is corrupt or holds objects other than tensors "
            f"(refused, nothing in it was run: {type(err).__name__}: {str(err)[:200]})"
        ) from None
    if not isinstance(raw, dict) or not all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in raw.items()):
        raise ModelFolderError(f"{where}: {WEIGHTS_ENTRY} is not a dictionary of named tensors")
    if any(v.dtype != torch.float32 for v in raw.values()):
        raise ModelFolderError(f"{where}: {WEIGHTS_ENTRY} holds tensors other than float32")
    state = {k: v.detach().numpy().astype(WEIGHT_DTYPE) for k, v in raw.items()}
    if "action_net.weight" not in state or state["action_net.weight"].ndim != 2:
        raise ModelFolderError(f"{where}: {WEIGHTS_ENTRY} has no action_net: not a PPO actor-critic policy")
    act_dim = int(state["action_net.weight"].shape[0])
    obs_shape = _readable(data.get("observation_space"), "_shape")
    act_shape = _readable(data.get("action_space"), "_shape")
    if not (isinstance(obs_shape, list) and len(obs_shape) == 1 and type(obs_shape[0]) is int and obs_shape[0] > 0):
        raise ModelFolderError(f"{where}: observation space of shape {obs_shape} is not supported: only a 1-D Box")
    if act_shape != [act_dim]:
        raise ModelFolderError(
            f"{where}: action space of shape {act_shape} does not fit action_net ({act_dim} outputs)"
        )
    space = data["action_space"]
    spec = NetworkSpec(
        obs_shape[0],
        act_dim,
        _hidden_sizes(state, "mlp_extractor.policy_net"),
        _hidden_sizes(state, "mlp_extractor.value_net"),
        _activation(data.get("policy_kwargs"), where),
        _parse_bounds(_readable(space, "low"), act_dim, where, "low"),
        _parse_bounds(_readable(space, "high"), act_dim, where, "high"),
    )
    try:
        NetworkSpec.from_json(spec.to_json(), where)  # finite, ordered action bounds
    except ModelFolderError as err:
        raise ModelFolderError(f"{err} (read from the zip's action space)") from None
    return spec, state
