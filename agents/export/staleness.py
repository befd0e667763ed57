"""Is a checked-in export up to date? A comparison with a fresh export whose answer is the same on any CPU.

Each part of an export folder is compared by what it is:

- exact by construction, compared byte for byte (or value for value):
  the C sources and headers (float32 weights and normalization constants, computed with correctly
  rounded elementwise IEEE-754 operations and printed as 9-digit literals; the integer tables of the
  int8 variant; code text), the test vectors' kinds, statuses and observations (the seeded
  generator's bits and elementwise arithmetic, see :mod:`agents.export.test_vectors`), every JSON
  value but the measured int8 error figures (paths, shapes, fingerprint, safe action, limits), and
  the ONNX graph's nodes and initializers (its protobuf bytes are not compared: their serialisation
  may vary between onnx versions);
- computed with BLAS matrix products and numpy's tanh, compared with :data:`COMPUTED_RTOL` and
  :data:`COMPUTED_ATOL`: the float64 reference actions of the test vectors and the measured int8
  error figures (:data:`COMPUTED_JSON_FIELDS`).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from agents.export.cli import MANIFEST_NAME

#: Tolerance on float64 numbers computed with BLAS products and numpy's tanh: |a - b| <= ATOL + RTOL |b|
#: (ATOL in action units; actions span [-1, 1]). Their last bits depend on the CPU: the BLAS kernel picked
#: for it sets the summation order and the use of FMA, and numpy picks a SIMD tanh by CPU feature. Against a
#: correctly rounded evaluation (math.fsum of the products, math.tanh) the reference actions of the shipped
#: networks differ by at most 4.3e-15 absolute and 1.6e-12 relative, so 1e-9 leaves a margin of 600 or
#: more, while a real change, one hidden weight of the 3-DOF policy moved by 1e-6, moves them by up to
#: 8e-8, 80 times the tolerance (both tested).
COMPUTED_RTOL = 1e-9
COMPUTED_ATOL = 1e-12
#: JSON fields (at any depth) that hold such computed numbers: the measured int8 error and its sources.
COMPUTED_JSON_FIELDS = frozenset({"measured_max", "measured_rms", "measured_p99", "contributions", "bound_max",
                                  "tanh_lut_error"})


def numbers_agree(a, b) -> np.ndarray:
    """Elementwise: a and b agree within the computed-number tolerance (NaN agrees with NaN)."""
    return np.isclose(np.asarray(a, np.float64), np.asarray(b, np.float64), rtol=COMPUTED_RTOL, atol=COMPUTED_ATOL,
                      equal_nan=True)


def compare_exports(checked_in: str | Path, fresh: str | Path) -> list[str]:
    """What differs between the export folders ``checked_in`` and ``fresh`` beyond what the CPU may
    change: one message per difference, naming the file and the place; empty when they agree."""
    checked_in, fresh = Path(checked_in), Path(fresh)
    manifests = []
    for folder in (checked_in, fresh):
        try:
            manifests.append(json.loads((folder / MANIFEST_NAME).read_text()))
        except (OSError, ValueError) as error:
            return [f"{folder / MANIFEST_NAME}: cannot be read: {error}"]
    problems = compare_json(manifests[0], manifests[1], MANIFEST_NAME)
    names = sorted(set(manifests[0].get("files", [])) | set(manifests[1].get("files", [])))
    for name in names:
        a, b = checked_in / name, fresh / name
        missing = [str(p) for p in (a, b) if not p.is_file()]
        if missing:
            problems.append(f"{name}: missing: {', '.join(missing)}")
        else:
            problems += compare_file(a, b, name)
    return problems


def compare_file(a: Path, b: Path, name: str) -> list[str]:
    """Compare one exported file with its fresh counterpart by its kind (see the module docstring)."""
    from agents.export.test_vectors import FILE_NAME

    if Path(name).name == FILE_NAME:
        return compare_test_vectors(a, b, name)
    if name.endswith(".json"):
        try:
            return compare_json(json.loads(a.read_text()), json.loads(b.read_text()), name)
        except ValueError as error:
            return [f"{name}: not valid JSON: {error}"]
    if name.endswith(".onnx"):
        return compare_onnx(a, b, name)
    if a.read_bytes() != b.read_bytes():
        return [f"{name}: differs (compared byte for byte: its content is exact by construction)"]
    return []


def compare_json(a, b, where: str, computed: bool = False) -> list[str]:
    """Values equal, except floats under :data:`COMPUTED_JSON_FIELDS`, compared with the tolerance."""
    if isinstance(a, dict) and isinstance(b, dict):
        problems = [f"{where}: key {key!r} only in {'the checked-in' if key in a else 'the fresh'} file"
                    for key in sorted(set(a) ^ set(b))]
        for key in sorted(set(a) & set(b)):
            problems += compare_json(a[key], b[key], f"{where}: {key}", computed or key in COMPUTED_JSON_FIELDS)
        return problems
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return [f"{where}: {len(a)} entries checked in, {len(b)} fresh"]
        return [p for k, (x, y) in enumerate(zip(a, b)) for p in compare_json(x, y, f"{where}[{k}]", computed)]
    numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (a, b))
    if computed and numbers:
        if not numbers_agree(a, b):
            return [f"{where}: {a!r} checked in, {b!r} fresh (beyond rtol {COMPUTED_RTOL:g}, atol {COMPUTED_ATOL:g})"]
        return []
    if type(a) is not type(b) or not (a == b or (numbers and math.isnan(a) and math.isnan(b))):
        return [f"{where}: {a!r} checked in, {b!r} fresh"]
    return []


def compare_test_vectors(a: Path, b: Path, name: str) -> list[str]:
    """Kinds, statuses and observations exactly (bit for bit); reference actions within the tolerance."""
    from agents.export.test_vectors import read_test_vectors

    try:
        old, new = read_test_vectors(a), read_test_vectors(b)
    except ValueError as error:
        return [f"{name}: {error}"]
    if old.kinds != new.kinds or old.obs.shape != new.obs.shape or old.expected.shape != new.expected.shape:
        return [f"{name}: different vectors (kinds or shapes: {old.obs.shape}, {old.expected.shape} checked in, "
                f"{new.obs.shape}, {new.expected.shape} fresh)"]
    problems = []
    if not np.array_equal(old.status, new.status):
        problems.append(f"{name}: statuses differ in rows {np.flatnonzero(old.status != new.status)[:5].tolist()}")
    obs_diff = old.obs.view(np.uint32) != new.obs.view(np.uint32)
    if obs_diff.any():
        row, col = np.argwhere(obs_diff)[0]
        problems.append(f"{name}: {int(obs_diff.sum())} observations differ (compared exactly); first at row "
                        f"{row + 1}, obs_{col}: {float(old.obs[row, col])!r} checked in, "
                        f"{float(new.obs[row, col])!r} fresh")
    bad = ~numbers_agree(old.expected, new.expected)
    if bad.any():
        with np.errstate(invalid="ignore"):
            gap = np.where(bad, np.abs(old.expected - new.expected), 0.0)
        row, col = np.unravel_index(int(np.nanargmax(gap)), gap.shape)
        problems.append(
            f"{name}: {int(bad.sum())} reference actions differ beyond rtol {COMPUTED_RTOL:g}, atol "
            f"{COMPUTED_ATOL:g}; the largest at row {row + 1}, ref_{col}: {float(old.expected[row, col])!r} "
            f"checked in, {float(new.expected[row, col])!r} fresh"
        )
    return problems


def _onnx_content(path: Path) -> dict:
    import onnx
    from onnx import helper, numpy_helper

    model = onnx.load(str(path))
    graph = model.graph

    def value(attr):
        v = helper.get_attribute_value(attr)
        return numpy_helper.to_array(v).tobytes() if isinstance(v, onnx.TensorProto) else v

    return {
        "ir_version": model.ir_version,
        "opset": sorted((o.domain, o.version) for o in model.opset_import),
        "metadata": sorted((p.key, p.value) for p in model.metadata_props),
        "inputs": [(v.name, str(v.type)) for v in graph.input],
        "outputs": [(v.name, str(v.type)) for v in graph.output],
        "nodes": [
            (n.op_type, list(n.input), list(n.output), sorted((a.name, value(a)) for a in n.attribute))
            for n in graph.node
        ],
        # float32 weights and normalization constants: exact by construction, compared bit for bit
        "initializers": {
            t.name: (
                numpy_helper.to_array(t).dtype.str,
                numpy_helper.to_array(t).shape,
                numpy_helper.to_array(t).tobytes(),
            )
            for t in graph.initializer
        },
    }


def compare_onnx(a: Path, b: Path, name: str) -> list[str]:
    """The graphs' structure, metadata and initializers exactly (not the protobuf bytes)."""
    try:
        old, new = _onnx_content(a), _onnx_content(b)
    except Exception as error:  # noqa: BLE001 - onnx raises its own parse errors; report, do not crash
        return [f"{name}: cannot be read as ONNX: {error}"]
    return [f"{name}: the graph's {part} differ" for part in old if old[part] != new[part]]
