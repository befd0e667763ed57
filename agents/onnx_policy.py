"""A policy exported to ONNX (``lunar export --to onnx``), run with onnxruntime.

The exported graph maps raw observations to the env's actions: normalization and clipping are
inside it, so this adapter only feeds float32 arrays through it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from agents.policy import Policy


class OnnxPolicy(Policy):
    """Run an ONNX policy file: float32 (n, obs_dim) in, float32 (n, act_dim) out."""

    def __init__(self, path: str | Path, mode: str | None = None):
        path = Path(path)
        try:
            import onnxruntime
        except ImportError:
            raise ValueError('running an ONNX policy needs onnxruntime: pip install "lunar-env[export]"') from None
        if not path.is_file():
            raise ValueError(f"{path}: no such ONNX file")
        try:
            self.session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        except Exception as err:  # onnxruntime raises its own exception types for bad files
            raise ValueError(f"{path}: not a loadable ONNX model ({type(err).__name__}: {err})") from None
        inputs = self.session.get_inputs()
        outputs = self.session.get_outputs()
        if len(inputs) != 1 or len(outputs) < 1:
            raise ValueError(f"{path}: expected one input (observations) and an action output, got "
                             f"{len(inputs)} inputs and {len(outputs)} outputs")
        self.input_name = inputs[0].name
        self.output_name = outputs[0].name
        self.obs_dim = inputs[0].shape[-1] if isinstance(inputs[0].shape[-1], int) else None
        self.act_dim = outputs[0].shape[-1] if isinstance(outputs[0].shape[-1], int) else None
        self.path = path
        self.mode = mode

    def act(self, obs: np.ndarray) -> np.ndarray:
        obs = np.ascontiguousarray(obs, dtype=np.float32)
        if self.obs_dim is not None and (obs.ndim != 2 or obs.shape[1] != self.obs_dim):
            raise ValueError(
                f"ONNX policy {self.path} expects observations of shape (n, {self.obs_dim}), got {obs.shape}"
            )
        return np.asarray(self.session.run([self.output_name], {self.input_name: obs})[0], dtype=np.float32)
