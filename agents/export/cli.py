"""``lunar export``: write a model folder's policy as ONNX, float32 C and int8 C, and check them.

    lunar export MODEL_DIR [--to onnx,c,c-int8] [--out DIR] [--safe-action A,B,C] [--check [--targets ...]]

Writes into DIR (default MODEL_DIR/export), each file atomically::

    policy.onnx                     ONNX (normalization and clipping inside)
    c/policy.h, c/policy.c          float32 C99 (+ c/policy.json, a manifest)
    c-int8/policy_q8.h, .c          int8 / fixed-point C99 (+ c-int8/policy_q8.json with the error budget)
    test_vectors.csv                the fixed test vectors with float64 reference actions
    export.json                     what was exported from which network

and nothing anywhere else. Every path a manifest records is relative (to DIR; the model folder as
seen from DIR), so an export folder means the same on every machine. ``--check`` then runs every
installed target (host gcc, qemu, bare-metal size builds) and prints the max error per target
with code and data bytes. Also runnable as ``python -m agents.export.cli``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

FORMATS = ("onnx", "c", "c-int8")
C_DIRS = {"c": "c", "c-int8": "c-int8"}
MANIFEST_NAME = "export.json"
#: Allowed |C float32 - float64 reference| and |ONNX - reference| on the test vectors.
FLOAT_TOLERANCE = 1e-5


def _parse_formats(text: str) -> list[str]:
    formats = [f.strip() for f in text.split(",") if f.strip()]
    bad = [f for f in formats if f not in FORMATS]
    if bad or not formats:
        raise ValueError(f"--to takes a comma-separated list of {', '.join(FORMATS)}; got {text!r}")
    return formats


def _parse_safe_action(text: str | None):
    if text is None:
        return None
    try:
        return [float(v) for v in text.split(",")]
    except ValueError:
        raise ValueError(f"--safe-action takes comma-separated numbers, got {text!r}") from None


@dataclass
class ExportResult:
    """What :func:`export_model` wrote: the manifest (as in export.json), the actor, the SB3 model
    and the test vectors."""

    out_dir: Path
    manifest: dict
    actor: Any
    model: Any
    vectors: Any


def export_model(model_dir: str | Path, out_dir: str | Path | None = None, formats=FORMATS,
                 safe_action=None) -> ExportResult:
    """Export a model folder into ``out_dir`` (default MODEL_DIR/export); writes nothing else."""
    from agents.export.actor import extract_actor
    from agents.model_folder import load_model_folder

    model_dir = Path(model_dir)
    folder = load_model_folder(model_dir)
    meta = {key: folder.metadata[key] for key in ("env_id", "mode") if key in folder.metadata}
    meta["source"] = model_folder_name(model_dir)
    actor = extract_actor(folder.model, folder.obs_mean, folder.obs_var, folder.epsilon, folder.clip_obs, meta)
    out_dir = Path(out_dir) if out_dir is not None else model_dir / "export"
    manifest, vectors = write_export(actor, out_dir, formats, safe_action, model_dir)
    return ExportResult(out_dir, manifest, actor, folder.model, vectors)


def write_export(actor, out_dir: str | Path, formats=FORMATS, safe_action=None,
                 model_dir: str | Path | None = None) -> tuple[dict, Any]:
    """Write the export of ``actor`` into ``out_dir``: (the manifest of export.json, the test vectors).

    ``model_dir``, the folder the actor came from, is recorded as a path relative to ``out_dir``.
    """
    from agents.export import write_atomic
    from agents.export.test_vectors import FILE_NAME, make_test_vectors, write_test_vectors

    out_dir = Path(out_dir)
    vectors = make_test_vectors(actor, safe_action=safe_action)
    files = [write_test_vectors(vectors, out_dir / FILE_NAME)]
    manifest: dict = {"format": "lunar-env-export", "format_version": 1}
    if model_dir is not None:
        manifest["model_dir"] = relative_path(model_dir, out_dir)
    manifest.update({"actor_fingerprint": actor.fingerprint(), "obs_dim": actor.obs_dim, "act_dim": actor.act_dim,
                     "hidden_sizes": list(actor.hidden_sizes), "activation": actor.activation,
                     **{key: actor.metadata[key] for key in ("env_id", "mode") if key in actor.metadata}})
    if "onnx" in formats:
        from agents.export.onnx_export import export_onnx

        files.append(export_onnx(actor, out_dir / "policy.onnx"))
    if "c" in formats:
        from agents.export.c_codegen import write_c

        files += write_c(actor, out_dir / C_DIRS["c"], safe_action)
    if "c-int8" in formats:
        from agents.export.c_int8 import write_c_q8
        from agents.export.quantize import error_budget, quantize_actor

        budget = error_budget(quantize_actor(actor))
        files += write_c_q8(actor, out_dir / C_DIRS["c-int8"], safe_action, budget)
        manifest["int8_error_budget"] = budget.as_dict()
    manifest["files"] = sorted(relative_path(f, out_dir) for f in files)
    write_atomic(out_dir / MANIFEST_NAME, json.dumps(manifest, indent=2) + "\n")
    return manifest, vectors


def relative_path(path: str | Path, base: str | Path) -> str:
    """``path`` relative to the folder ``base``, with '/' separators; never absolute.

    Both are taken from the current directory when relative; symbolic links are not resolved, so
    the result names the path as the caller gave it. (A path on another Windows drive has no
    relative form: then only its last component is recorded.)
    """
    try:
        text = os.path.relpath(os.path.abspath(path), os.path.abspath(base))
    except ValueError:
        text = Path(os.path.abspath(path)).name
    return Path(text).as_posix()


def model_folder_name(model_dir: str | Path) -> str:
    """The model folder's own name (also for '.' or a trailing slash): what the C provenance names."""
    return Path(os.path.abspath(model_dir)).name


# ----------------------------------------------------------------------------- checks
def run_checks(
    actor, out_dir: str | Path, vectors, formats=FORMATS, targets=None, model=None, safe_action=None
) -> list[dict]:
    """Parity of every exported form on the test vectors, per target; one dict per table row."""
    import numpy as np

    from agents.export import toolchains as tc
    from agents.export.c_codegen import float32_forward
    from agents.export.test_vectors import FILE_NAME

    out_dir = Path(out_dir)
    csv = out_dir / FILE_NAME
    ok = vectors.finite
    rows: list[dict] = []

    def err(actions) -> float:
        return float(np.abs(np.asarray(actions, np.float64)[ok] - vectors.expected[ok]).max())

    if model is not None:
        from agents.export.actor import torch_forward

        full = np.zeros_like(vectors.expected)
        full[ok] = torch_forward(model, actor, vectors.obs[ok])
        rows.append({"target": "torch", "variant": "sb3", "max_error": err(full), "note": "the trained network itself"})
    if "onnx" in formats:
        from agents.export.onnx_export import onnx_forward

        onnx_error = err(onnx_forward(out_dir / "policy.onnx", vectors.obs))
        rows.append({"target": "onnxruntime", "variant": "onnx", "max_error": onnx_error})
    names = list(targets) if targets else list(tc.TARGETS)
    variants = [(v, d, fmt) for fmt, v, d in (("c", "float", "c"), ("c-int8", "q8", "c-int8")) if fmt in formats]
    for variant, sub, fmt in variants:
        c_dir = out_dir / sub
        if variant == "float":
            mirror, _ = float32_forward(actor, vectors.obs, safe_action)
        else:
            from agents.export.quantize import q8_forward, quantize_actor

            mirror, _ = q8_forward(quantize_actor(actor), vectors.obs, safe_action)
        for name in names:
            target = tc.get_target(name)
            available, reason = tc.availability(name)
            row = {"target": name, "variant": fmt, "kind": target.kind}
            if not available:
                rows.append({**row, "note": f"skipped: {reason}"})
                continue
            try:
                size = tc.build_size(c_dir, name, variant)
                row.update(code_bytes=size.code_bytes, data_bytes=size.data_bytes, stack_bytes=size.stack_bytes)
                if not target.bare_metal:
                    run = tc.compile_and_run(c_dir, name, csv, variant)
                    row["max_error"] = err(run.actions)
                    row["bit_identical"] = bool(np.array_equal(run.bits, mirror.view(np.uint32)))
                    row["status_ok"] = bool(np.array_equal(run.status, vectors.status))
            except (RuntimeError, ValueError) as error:
                row["note"] = f"FAILED: {str(error).splitlines()[0]}"
            rows.append(row)
    return rows


def format_table(rows: list[dict]) -> str:
    """The check results as a Markdown table."""
    lines = ["| target | variant | max abs error | bit-identical to mirror "
             "| code bytes | data bytes | stack bytes | note |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        e = f"{r['max_error']:.2e}" if "max_error" in r else "-"
        bits = {True: "yes", False: "NO"}.get(r.get("bit_identical"), "-")
        lines.append(f"| {r['target']} | {r['variant']} | {e} | {bits} | {r.get('code_bytes', '-')} | "
                     f"{r.get('data_bytes', '-')} | {r.get('stack_bytes', '-')} | {r.get('note', '')} |")
    return "\n".join(lines)


def checks_passed(rows: list[dict], int8_tolerance: float) -> bool:
    """True when every run row is within tolerance, bit-identical and returned the expected statuses."""
    for r in rows:
        if str(r.get("note", "")).startswith("FAILED"):
            return False
        if "max_error" in r:
            limit = int8_tolerance if r["variant"] == "c-int8" else FLOAT_TOLERANCE
            if r["max_error"] > limit or r.get("bit_identical") is False or r.get("status_ok") is False:
                return False
    return True


# ----------------------------------------------------------------------------- command
def cmd_export(args: argparse.Namespace) -> int:
    from lunar_env.output_paths import check_output_dir

    formats = _parse_formats(args.to)
    safe_action = _parse_safe_action(args.safe_action)
    check_output_dir(args.out if args.out is not None else Path(args.model_dir) / "export")
    result = export_model(args.model_dir, args.out, formats, safe_action)
    manifest, out_dir = result.manifest, result.out_dir
    print(f"exported {', '.join(formats)} of {args.model_dir} "
          f"({manifest['obs_dim']} -> {' -> '.join(map(str, manifest['hidden_sizes']))} -> {manifest['act_dim']}, "
          f"{manifest['activation']}) into {out_dir}")
    budget = manifest.get("int8_error_budget")
    if budget:
        verdict = "within" if budget["within_budget"] else "EXCEEDS"
        print(f"int8 error on {budget['n_samples']} sampled observations: max {budget['measured_max']:.2e}, "
              f"rms {budget['measured_rms']:.2e} ({verdict} the budget max {budget['max_allowed']:g}, "
              f"rms {budget['rms_allowed']:g})")
    if not args.check:
        return 0
    targets = [t.strip() for t in args.targets.split(",")] if args.targets else None
    rows = run_checks(result.actor, out_dir, result.vectors, formats, targets, result.model, safe_action)
    print()
    print(format_table(rows))
    limit = budget["max_allowed"] if budget else 0.0
    passed = checks_passed(rows, limit)
    print(f"\nchecks {'passed' if passed else 'FAILED'} (float tolerance {FLOAT_TOLERANCE:g}"
          f"{f', int8 budget {limit:g}' if budget else ''})")
    return 0 if passed else 1


def add_export_command(subparsers) -> argparse.ArgumentParser:
    """Add ``export`` to an argparse subparsers object (the ``lunar`` command's)."""
    p = subparsers.add_parser("export", help="export a trained policy to ONNX, float32 C and int8 C; --check runs them",
                              description=__doc__.split("\n\n")[0])
    p.add_argument("model_dir", metavar="MODEL_DIR", help="model folder (policy.npz, normalization.npz, metadata.json)")
    p.add_argument("--to", default=",".join(FORMATS),
                   help=f"comma-separated formats: {', '.join(FORMATS)} (default all)")
    p.add_argument("--out", help="output folder (default MODEL_DIR/export)")
    p.add_argument("--safe-action", help="comma-separated action the C policies return on error (default zeros)")
    p.add_argument(
        "--check", action="store_true", help="run the parity checks on every installed target and print a table"
    )
    p.add_argument("--targets", help=f"comma-separated targets for --check (default all: {', '.join(_target_names())})")
    p.set_defaults(func=cmd_export)
    return p


def _target_names() -> list[str]:
    from agents.export.toolchains import TARGETS

    return list(TARGETS)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="lunar")
    add_export_command(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["export", *(sys.argv[1:] if argv is None else argv)])
    try:
        return int(args.func(args))
    except (ValueError, ImportError) as error:
        print(f"lunar export: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
