"""ONNX export of the actor, built node by node with ``onnx.helper`` from the extracted weights.

The graph takes the raw observation and returns the clipped action, so a runtime needs nothing
else::

    obs (N, obs_dim) float32
      -> Sub(mean_hi) -> Sub(mean_lo) -> Mul(1 / sqrt(var + epsilon)) -> Clip(-clip_obs, clip_obs)
      -> [Gemm -> Tanh | Relu] x hidden layers -> Gemm -> Max(action_low) -> Min(action_high)
      -> action (N, act_dim) float32

The mean is split into two float32 parts exactly as in the C policy (accuracy when |mean| >> std).
A NaN observation gives NaN actions here (the C policies return an error code instead).
Opset 17, IR version 8: loadable by onnxruntime 1.10 and later.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from agents.export import write_atomic
from agents.export.actor import ActorWeights
from agents.export.c_codegen import float32_normalization

OPSET = 17
IR_VERSION = 8
INPUT_NAME = "obs"
OUTPUT_NAME = "action"
FILE_NAME = "policy.onnx"


def _import_onnx():
    try:
        import onnx
    except ImportError:
        raise ImportError('ONNX export needs the onnx package: pip install "lunar-env[export]"') from None
    return onnx


def build_onnx(actor: ActorWeights):
    """The actor as a checked ``onnx.ModelProto`` (see the module docstring for the graph)."""
    onnx = _import_onnx()
    from onnx import TensorProto, helper, numpy_helper

    def const(name: str, value) -> str:
        initializers.append(numpy_helper.from_array(np.asarray(value, dtype=np.float32), name))
        return name

    initializers: list = []
    mean_hi, mean_lo, inv_std = float32_normalization(actor)
    nodes = [
        helper.make_node("Sub", [INPUT_NAME, const("obs_mean_hi", mean_hi)], ["centered_hi"], name="center_hi"),
        helper.make_node("Sub", ["centered_hi", const("obs_mean_lo", mean_lo)], ["centered"], name="center_lo"),
        helper.make_node("Mul", ["centered", const("obs_inv_std", inv_std)], ["scaled"], name="scale"),
        helper.make_node("Clip", ["scaled", const("clip_low", -actor.clip_obs), const("clip_high", actor.clip_obs)],
                         ["z"], name="clip_obs"),
    ]
    h = "z"
    activation = "Tanh" if actor.activation == "tanh" else "Relu"
    last = len(actor.weights) - 1
    for k, (w, b) in enumerate(zip(actor.weights, actor.biases)):
        pre = f"pre_{k}" if k < last else "raw_action"
        nodes.append(
            helper.make_node("Gemm", [h, const(f"w_{k}", w), const(f"b_{k}", b)], [pre], name=f"dense_{k}", transB=1)
        )
        if k < last:
            h = f"h_{k}"
            nodes.append(helper.make_node(activation, [pre], [h], name=f"{activation.lower()}_{k}"))
    nodes += [
        helper.make_node(
            "Max", ["raw_action", const("action_low", actor.action_low)], ["action_above_low"], name="clip_low_action"
        ),
        helper.make_node(
            "Min", ["action_above_low", const("action_high", actor.action_high)], [OUTPUT_NAME], name="clip_high_action"
        ),
    ]
    graph = helper.make_graph(
        nodes,
        "lunar_policy",
        [helper.make_tensor_value_info(INPUT_NAME, TensorProto.FLOAT, ["batch", actor.obs_dim])],
        [helper.make_tensor_value_info(OUTPUT_NAME, TensorProto.FLOAT, ["batch", actor.act_dim])],
        initializers,
    )
    model = helper.make_model(graph, producer_name="lunar-env", opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = IR_VERSION
    model.doc_string = (
        "Deterministic landing policy: raw observation in, clipped action out (normalization and clipping inside)."
    )
    meta = {
        "actor_fingerprint": actor.fingerprint(),
        "activation": actor.activation,
        **{key: str(actor.metadata[key]) for key in ("env_id", "mode") if key in actor.metadata},
    }
    helper.set_model_props(model, meta)
    onnx.checker.check_model(model, full_check=True)
    return model


def export_onnx(actor: ActorWeights, path: str | Path) -> Path:
    """Write the checked ONNX model to ``path`` (a directory gets policy.onnx inside), atomically."""
    path = Path(path)
    if path.is_dir():
        path = path / FILE_NAME
    return write_atomic(path, build_onnx(actor).SerializeToString())


def onnx_session(model_or_path, threads: int = 1):
    """An onnxruntime CPU session for a model path or ModelProto."""
    try:
        import onnxruntime as ort
    except ImportError:
        raise ImportError('running ONNX models needs onnxruntime: pip install "lunar-env[export]"') from None
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    source = model_or_path.SerializeToString() if hasattr(model_or_path, "SerializeToString") else str(model_or_path)
    return ort.InferenceSession(source, options, providers=["CPUExecutionProvider"])


def onnx_forward(model_or_path, obs) -> np.ndarray:
    """Actions (n, act_dim) float32 from onnxruntime for observations (n, obs_dim)."""
    session = model_or_path if hasattr(model_or_path, "run") else onnx_session(model_or_path)
    return session.run([OUTPUT_NAME], {INPUT_NAME: np.asarray(obs, dtype=np.float32)})[0]
