"""C text shared by the float32 generator (:mod:`agents.export.c_codegen`) and the int8 one
(:mod:`agents.export.c_int8`): literals and constant tables, the provenance comment, the status
codes, the header's C++ guard, the clamp and finiteness helpers, the observation normalization
and the includes of a source file.

One definition each, so that the two variants cannot drift apart where they must agree (the
status codes, the normalization the int8 variant performs "as the float32 policy does").
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from agents.export.actor import ActorWeights

# Status codes of lunar_policy_act and lunar_policy_q8_act (the int8 variant never returns
# STATUS_NONFINITE_OUTPUT: its integer network cannot produce NaN or infinity).
STATUS_OK = 0
STATUS_NONFINITE_INPUT = 1
STATUS_NONFINITE_OUTPUT = 2
STATUS_NULL_POINTER = 3
STATUS_NAMES = {STATUS_OK: "ok", STATUS_NONFINITE_INPUT: "non-finite input",
                STATUS_NONFINITE_OUTPUT: "non-finite output", STATUS_NULL_POINTER: "null pointer"}


# ----------------------------------------------------------------------------- literals and tables
def c_float(value: float) -> str:
    """A C float literal that reads back as exactly float32(value): 9 significant digits and 'f'."""
    v = float(np.float32(value))
    if not np.isfinite(v):
        raise ValueError(f"cannot write non-finite value {value!r} as a C float literal")
    return f"{v:.8e}f"


def c_int(value) -> str:
    """A C integer literal (decimal, no suffix)."""
    return str(int(value))


def c_float_list(values) -> str:
    """Float literals separated by ", " (the safe action as the headers state it)."""
    return ", ".join(c_float(v) for v in values)


def c_array_body(values, fmt, per_line: int = 6, indent: str = "    ") -> str:
    """Comma-separated values, ``per_line`` to a line."""
    items = [fmt(v) for v in np.asarray(values).ravel()]
    lines = [", ".join(items[k:k + per_line]) for k in range(0, len(items), per_line)]
    return ",\n".join(indent + line for line in lines)


def c_matrix(name: str, ctype: str, matrix: np.ndarray, rows: str, cols: str, fmt, per_line: int = 6) -> str:
    """``static const ctype name[rows][cols] = {...};`` with one brace group per row."""
    body = ",\n".join("    {\n" + c_array_body(row, fmt, per_line, "        ") + "\n    }" for row in matrix)
    return f"static const {ctype} {name}[{rows}][{cols}] = {{\n{body}\n}};\n"


def c_vector(name: str, ctype: str, vector: np.ndarray, size: str, fmt, per_line: int = 6) -> str:
    return f"static const {ctype} {name}[{size}] = {{\n{c_array_body(vector, fmt, per_line)}\n}};\n"


def normalization_tables(mean_hi: np.ndarray, mean_lo: np.ndarray, inv_std: np.ndarray, size: str) -> list[str]:
    """The float32 tables k_obs_mean_hi, k_obs_mean_lo and k_obs_inv_std of ``size`` entries."""
    return [c_vector("k_obs_mean_hi", "float", mean_hi, size, c_float),
            c_vector("k_obs_mean_lo", "float", mean_lo, size, c_float),
            c_vector("k_obs_inv_std", "float", inv_std, size, c_float)]


def layer_size_names(actor: ActorWeights, api_prefix: str = "LUNAR_POLICY") -> list[str]:
    """C names of the layer widths: input, each hidden layer, output."""
    return [f"{api_prefix}_N_OBS", *[f"LP_N_H{k}" for k in range(len(actor.hidden_sizes))], f"{api_prefix}_N_ACT"]


def hidden_size_defines(actor: ActorWeights) -> list[str]:
    """``#define LP_N_H<k> <width>U`` for each hidden layer."""
    return [f"#define LP_N_H{k} {n}U" for k, n in enumerate(actor.hidden_sizes)]


# ----------------------------------------------------------------------------- comments and header parts
def provenance_lines(actor: ActorWeights) -> list[str]:
    meta = actor.metadata
    arch = " -> ".join(str(n) for n in (actor.obs_dim, *actor.hidden_sizes, actor.act_dim))
    lines = [f"network: {arch}, {actor.activation} hidden activations",
             f"actor fingerprint (SHA-256 of all parameters): {actor.fingerprint()}"]
    if meta.get("env_id") or meta.get("mode"):
        lines.append(f"environment: {meta.get('env_id', '?')}, mode {meta.get('mode', '?')}")
    if meta.get("source"):
        lines.append(f"source model folder: {Path(str(meta['source'])).name}")
    return lines


def provenance_comment(actor: ActorWeights) -> str:
    """The provenance lines as lines of a C block comment (no trailing newline)."""
    return "\n".join(f" * {line}" for line in provenance_lines(actor))


def status_defines(api_prefix: str, null_pointer_meaning: str, nonfinite_output: bool) -> str:
    """The ``#define <api_prefix>_OK`` / ``_ERR_...`` lines of a header, one per status code it returns."""
    lines = [
        f"#define {api_prefix}_OK {STATUS_OK}",
        f"#define {api_prefix}_ERR_NONFINITE_INPUT {STATUS_NONFINITE_INPUT}   /* an observation is NaN or infinite */",
    ]
    if nonfinite_output:
        lines.append(
            f"#define {api_prefix}_ERR_NONFINITE_OUTPUT {STATUS_NONFINITE_OUTPUT}  "
            "/* the network produced NaN/inf (corrupted weights) */"
        )
    lines.append(f"#define {api_prefix}_ERR_NULL_POINTER {STATUS_NULL_POINTER}      /* {null_pointer_meaning} */")
    return "\n".join(lines) + "\n"


def header_declarations(guard: str, declarations: list[str]) -> str:
    """The end of a header: the prototypes inside ``extern "C"`` for C++, then the include guard's #endif."""
    return (
        '#ifdef __cplusplus\nextern "C" {\n#endif\n\n'
        + "\n".join(declarations)
        + f"\n\n#ifdef __cplusplus\n}}\n#endif\n\n#endif /* {guard} */\n"
    )


def source_includes(header_name: str) -> str:
    """The includes of a generated source: its own header, then float.h (FLT_MAX), stddef.h (NULL), stdint.h."""
    return f'#include "{header_name}"\n\n#include <float.h>\n#include <stddef.h>\n#include <stdint.h>\n'


# ----------------------------------------------------------------------------- functions
def clamp_function(name: str, ctype: str, arg: str = "x", result: str = "y") -> str:
    """``static ctype name(ctype arg, ctype low, ctype high)``: arg clamped to [low, high]."""
    return f"""static {ctype} {name}({ctype} {arg}, {ctype} low, {ctype} high)
{{
    {ctype} {result} = {arg};
    if ({result} > high) {{
        {result} = high;
    }} else if ({result} < low) {{
        {result} = low;
    }} else {{
        /* inside the bounds */
    }}
    return {result};
}}
"""


IS_FINITE_FUNCTION = """/* True for a finite float: NaN fails both comparisons, +-inf fails one. */
static int lp_is_finite(float x)
{
    return ((x >= -FLT_MAX) && (x <= FLT_MAX)) ? 1 : 0;
}
"""


def normalized_observation(obs: str, clamp: str) -> str:
    """The C expression of one normalized observation component, as float32 (see
    :func:`agents.export.c_codegen.normalize_f32`): ``obs`` is the component, ``clamp`` the clamp function."""
    return f"{clamp}((({obs} - k_obs_mean_hi[i]) - k_obs_mean_lo[i]) * k_obs_inv_std[i], -LP_CLIP_OBS, LP_CLIP_OBS)"
