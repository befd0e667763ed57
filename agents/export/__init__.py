"""Export of trained policies to ONNX and to self-contained C for lander flight processors.

One intermediate representation (:class:`~agents.export.actor.ActorWeights`, plain numpy arrays)
feeds every exporter:

- :mod:`agents.export.onnx_export`  ONNX graph (normalization and clipping inside), onnxruntime parity;
- :mod:`agents.export.c_codegen`    float32 C99 (``policy.h``/``policy.c``), bit-identical across targets;
- :mod:`agents.export.quantize`     int8 weights, int32 accumulation, fixed point: the math and its integer mirror;
- :mod:`agents.export.c_int8`       the int8 variant as C99 text (``policy_q8.h``/``.c``);
- :mod:`agents.export.c_snippets`   C text both C generators share (literals, status codes, helpers);
- :mod:`agents.export.test_vectors` fixed observations with float64 reference actions;
- :mod:`agents.export.staleness`    a checked-in export against a fresh one, the same answer on any CPU;
- :mod:`agents.export.toolchains`   cross compilers and qemu: build, run and size the C policies;
- :mod:`agents.export.c_policy`     the generated C called from Python (ctypes), a batched Policy;
- :mod:`agents.export.cli`          ``lunar export MODEL_DIR --to onnx,c,c-int8 --out DIR [--check]``.

The public names below are loaded on first use, so importing this package costs nothing.
"""

from __future__ import annotations

import importlib

from lunar_env.atomic import write_atomic  # re-exported: the exporters write through it

_PUBLIC = {
    "ActorWeights": "actor", "extract_actor": "actor", "load_actor": "actor", "reference_forward": "actor",
    "export_onnx": "onnx_export", "build_onnx": "onnx_export",
    "generate_c": "c_codegen", "write_c": "c_codegen",
    "quantize_actor": "quantize", "generate_c_q8": "c_int8", "write_c_q8": "c_int8",
    "make_test_vectors": "test_vectors", "write_test_vectors": "test_vectors", "read_test_vectors": "test_vectors",
    "CPolicy": "c_policy",
    "TARGETS": "toolchains",
}

__all__ = sorted(_PUBLIC) + ["write_atomic"]


def __getattr__(name: str):
    if name in _PUBLIC:
        module = importlib.import_module(f"agents.export.{_PUBLIC[name]}")
        return getattr(module, name)
    raise AttributeError(f"module 'agents.export' has no attribute {name!r}")
