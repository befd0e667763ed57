"""The project's own C99 generator: a float32 policy in ``policy.h`` / ``policy.c``.

The generated code is written for flight software:

- float32 only: no ``double`` anywhere, every literal carries an ``f`` suffix;
- weights in ``static const float`` arrays (read-only memory), no dynamic memory, no stdio, no
  recursion, every loop bounded by a compile-time constant, one short function per layer;
- normalization and clipping inside; the entry point checks its arguments::

      int lunar_policy_act(const float obs[LUNAR_POLICY_N_OBS], float act[LUNAR_POLICY_N_ACT]);

  returns LUNAR_POLICY_OK (0), or an error code after writing the safe action (see the header);
- its own tanh (:data:`TANH_P`, :data:`TANH_Q`: a rational minimax approximation, max abs error
  :data:`TANH_MAX_ABS_ERROR`), built only from IEEE-754 single-precision +, -, *, /, so with
  ``-ffp-contract=off`` (GCC's default under ``-std=c99``) every target computes the same bits.
  ``-DLUNAR_POLICY_USE_LIBM_TANH`` switches to the C library's ``tanhf`` (link with -lm).

:func:`float32_forward` mirrors the generated code operation by operation in numpy float32, so the
C output can be checked bit for bit on every target. The C text this generator shares with the int8
one (:mod:`agents.export.c_int8`) lives in :mod:`agents.export.c_snippets`.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from agents.export import write_atomic
from agents.export.actor import ActorWeights
from agents.export.c_snippets import (
    IS_FINITE_FUNCTION,
    STATUS_NAMES,
    STATUS_NONFINITE_INPUT,
    STATUS_NONFINITE_OUTPUT,
    STATUS_OK,
    c_float,
    c_float_list,
    c_matrix,
    c_vector,
    clamp_function,
    header_declarations,
    hidden_size_defines,
    layer_size_names,
    normalization_tables,
    normalized_observation,
    provenance_comment,
    source_includes,
    status_defines,
)

# tanh(x) ~= x * P(x^2) / Q(x^2) on |x| < TANH_CLAMP, +-1 beyond. P and Q have constant term 1 and
# the coefficients below (of x^2, x^4, x^6, x^8), rounded to float32. They were fitted here by
# linear programming (minimax of the relative error, iterated differential correction on 6000
# Chebyshev points of [0, 9]); float32 evaluation in the Horner order of the C code, checked on
# every 4th float32 in [0, 9), gives a max abs error of 3.6e-7 and max relative error 3.6e-7.
# tanh(9) = 1 - 3.0e-8, so the clamp adds no more than that.
TANH_P = (1.33788735e-01, 3.49290622e-03, 2.05588058e-05, 1.32726923e-08)
TANH_Q = (4.67121899e-01, 2.58671213e-02, 3.28099384e-04, 7.74561386e-07)
TANH_CLAMP = 9.0
#: Documented bound on |own tanh - tanh| over all float32 inputs (measured 3.6e-7).
TANH_MAX_ABS_ERROR = 4e-7

HEADER_NAME = "policy.h"
SOURCE_NAME = "policy.c"
MANIFEST_NAME = "policy.json"
FLOAT_MAX = float(np.finfo(np.float32).max)


# ----------------------------------------------------------------------------- checked float32 constants
def default_safe_action(actor: ActorWeights) -> np.ndarray:
    """Zero clipped into the action bounds: in this project's action spaces, no commanded torque
    and, in 3-DOF mode, no commanded thrust; in 6-DOF mode each engine at mid throttle."""
    return np.clip(np.zeros(actor.act_dim), actor.action_low, actor.action_high)


def check_safe_action(actor: ActorWeights, safe_action) -> np.ndarray:
    """The safe action as float64 (act_dim,), finite and inside the action bounds."""
    if safe_action is None:
        return default_safe_action(actor)
    arr = np.asarray(safe_action, dtype=np.float64)
    if arr.shape != (actor.act_dim,) or not np.all(np.isfinite(arr)):
        raise ValueError(f"safe_action must be {actor.act_dim} finite numbers, got {safe_action!r}")
    if np.any(arr < actor.action_low) or np.any(arr > actor.action_high):
        raise ValueError(f"safe_action {arr.tolist()} lies outside the action bounds "
                         f"[{actor.action_low.tolist()}, {actor.action_high.tolist()}]")
    return arr


def float32_normalization(actor: ActorWeights) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(mean_hi, mean_lo, inv_std) as float32 (obs_dim,) each.

    The mean is split into two float32 parts (hi + lo = mean to about 48 bits) so that
    (obs - hi) - lo stays accurate when |mean| is much larger than the standard deviation.
    """
    if np.any(np.abs(actor.obs_mean) >= FLOAT_MAX):
        raise ValueError("obs_mean has entries beyond the float32 range; the C policy cannot represent them")
    hi = actor.obs_mean.astype(np.float32)
    lo = (actor.obs_mean - hi.astype(np.float64)).astype(np.float32)
    inv_std64 = 1.0 / actor.obs_std
    tiny = float(np.finfo(np.float32).tiny)
    if np.any(inv_std64 < tiny) or np.any(inv_std64 >= FLOAT_MAX):
        bad = int(np.flatnonzero((inv_std64 < tiny) | (inv_std64 >= FLOAT_MAX))[0])
        raise ValueError(f"obs_var[{bad}] = {actor.obs_var[bad]!r} gives 1/sqrt(var + epsilon) = {inv_std64[bad]!r}, "
                         f"outside the normal float32 range; the C policy cannot represent it")
    return hi, lo, inv_std64.astype(np.float32)


# ----------------------------------------------------------------------------- numpy mirror of the C code
def tanh_f32(x) -> np.ndarray:
    """The generated C tanh, evaluated operation by operation in float32."""
    x = np.asarray(x, dtype=np.float32)
    one = np.float32(1.0)
    p_coef = [np.float32(c) for c in TANH_P]
    q_coef = [np.float32(c) for c in TANH_Q]
    with np.errstate(over="ignore", invalid="ignore"):
        t = x * x
        p = (((((((p_coef[3] * t) + p_coef[2]) * t) + p_coef[1]) * t) + p_coef[0]) * t) + one
        q = (((((((q_coef[3] * t) + q_coef[2]) * t) + q_coef[1]) * t) + q_coef[0]) * t) + one
        y = (x * p) / q
    y = np.minimum(np.maximum(y, -one), one)
    clamp = np.float32(TANH_CLAMP)
    return np.where(x >= clamp, one, np.where(x <= -clamp, -one, y)).astype(np.float32)


def normalize_f32(actor: ActorWeights, obs32: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The C normalization in float32: (z (n, obs_dim) float32, finite (n,) bool)."""
    hi, lo, inv_std = float32_normalization(actor)
    clip = np.float32(actor.clip_obs)
    finite = np.all(np.isfinite(obs32), axis=1)
    with np.errstate(over="ignore", invalid="ignore"):
        z = ((obs32 - hi) - lo) * inv_std
    z = np.minimum(np.maximum(z, -clip), clip)
    z[~np.isfinite(obs32)] = np.float32(0.0)
    return z.astype(np.float32), finite


def _dense_f32(w: np.ndarray, b: np.ndarray, x: np.ndarray) -> np.ndarray:
    """acc = b; acc += w[i][j] * x[j] for j in order: the C loop, two roundings per term."""
    w32, acc = w.astype(np.float32), np.broadcast_to(b.astype(np.float32), (x.shape[0], w.shape[0])).copy()
    with np.errstate(over="ignore", invalid="ignore"):
        for j in range(w.shape[1]):
            acc = acc + w32[:, j][None, :] * x[:, j:j + 1]
    return acc


def float32_forward(actor: ActorWeights, obs, safe_action=None) -> tuple[np.ndarray, np.ndarray]:
    """What the generated C (own tanh) returns: (actions (n, act_dim) float32, status (n,) int)."""
    obs32 = np.asarray(obs, dtype=np.float32)
    if obs32.ndim != 2 or obs32.shape[1] != actor.obs_dim:
        raise ValueError(f"observations must have shape (n, {actor.obs_dim}), got {obs32.shape}")
    safe = check_safe_action(actor, safe_action).astype(np.float32)
    h, finite = normalize_f32(actor, obs32)
    for w, b in zip(actor.weights[:-1], actor.biases[:-1]):
        pre = _dense_f32(w, b, h)
        h = tanh_f32(pre) if actor.activation == "tanh" else np.maximum(pre, np.float32(0.0))
    out = _dense_f32(actor.weights[-1], actor.biases[-1], h)
    low, high = actor.action_low.astype(np.float32), actor.action_high.astype(np.float32)
    out = np.minimum(np.maximum(out, low), high)
    out_ok = np.all(np.isfinite(out), axis=1)
    status = np.where(finite, np.where(out_ok, STATUS_OK, STATUS_NONFINITE_OUTPUT), STATUS_NONFINITE_INPUT)
    out[status != STATUS_OK] = safe
    return out.astype(np.float32), status.astype(np.int64)


# ----------------------------------------------------------------------------- C text
def _header(actor: ActorWeights, safe: np.ndarray) -> str:
    prov = provenance_comment(actor)
    safe_text = c_float_list(safe)
    return f"""/*
 * policy.h -- landing policy, float32 C99. Generated by lunar-env (agents/export/c_codegen.py); do not edit.
{prov}
 *
 * int lunar_policy_act(const float obs[LUNAR_POLICY_N_OBS], float act[LUNAR_POLICY_N_ACT]);
 *   obs: the raw observation vector, in the environment's units (not normalized).
 *   act: receives the action, each component clipped to the action bounds.
 *   Returns LUNAR_POLICY_OK, or an error code; on any error except a NULL act the function has
 *   written the safe action {{{safe_text}}} to act.
 *   Reentrant (no static state), no dynamic memory, no I/O, bounded loops, no recursion.
 *
 * Build with -std=c99 (or -ffp-contract=off) and without -ffast-math: the own tanh and the fixed
 * summation order then give the same bits on every IEEE-754 target. -DLUNAR_POLICY_USE_LIBM_TANH
 * uses the C library's tanhf instead (link with -lm; results then depend on the library).
 */
#ifndef LUNAR_POLICY_H
#define LUNAR_POLICY_H

#define LUNAR_POLICY_N_OBS {actor.obs_dim}U
#define LUNAR_POLICY_N_ACT {actor.act_dim}U

{status_defines("LUNAR_POLICY", "obs or act is NULL", nonfinite_output=True)}
""" + header_declarations("LUNAR_POLICY_H", [
        "int lunar_policy_act(const float obs[LUNAR_POLICY_N_OBS], float act[LUNAR_POLICY_N_ACT]);"])


def _layer_function(k: int, n_in: str, n_out: str, activation: str | None) -> str:
    if activation is None:
        store = "y[i] = acc;"
        doc = f"/* Action layer: y = W{k} x + b{k} (clipped by the caller). */"
    else:
        fn = "lp_tanh(acc)" if activation == "tanh" else "lp_relu(acc)"
        store = f"y[i] = {fn};"
        doc = f"/* Hidden layer {k}: y = {activation}(W{k} x + b{k}), summed in index order. */"
    return f"""{doc}
static void lp_layer_{k}(const float x[{n_in}], float y[{n_out}])
{{
    uint32_t i;
    uint32_t j;
    for (i = 0U; i < {n_out}; i++) {{
        float acc = k_b{k}[i];
        for (j = 0U; j < {n_in}; j++) {{
            acc += k_w{k}[i][j] * x[j];
        }}
        {store}
    }}
}}
"""


_TANH_FUNCTION = """/* tanh(x) ~= x P(x^2) / Q(x^2), |error| < {err:.0e}, +-1 for |x| >= {clamp}: only + - * /, so the
 * same bits on every IEEE-754 single-precision target. */
static float lp_tanh(float x)
{{
#if defined(LUNAR_POLICY_USE_LIBM_TANH)
    return tanhf(x);
#else
    float y;
    if (x >= LP_TANH_CLAMP) {{
        y = 1.0f;
    }} else if (x <= -LP_TANH_CLAMP) {{
        y = -1.0f;
    }} else {{
        const float t = x * x;
        const float p = (((((((LP_TANH_P4 * t) + LP_TANH_P3) * t) + LP_TANH_P2) * t) + LP_TANH_P1) * t) + 1.0f;
        const float q = (((((((LP_TANH_Q4 * t) + LP_TANH_Q3) * t) + LP_TANH_Q2) * t) + LP_TANH_Q1) * t) + 1.0f;
        y = lp_clamp((x * p) / q, -1.0f, 1.0f);
    }}
    return y;
#endif
}}
"""

_RELU_FUNCTION = """static float lp_relu(float x)
{
    return (x > 0.0f) ? x : 0.0f;
}
"""

_COMMON_FUNCTIONS = clamp_function("lp_clamp", "float") + "\n" + IS_FINITE_FUNCTION


def _normalize_function() -> str:
    return f"""/* z = clip(((obs - mean_hi) - mean_lo) / std, -clip, clip); non-finite inputs make status an error. */
static int lp_normalize(const float obs[LUNAR_POLICY_N_OBS], float z[LUNAR_POLICY_N_OBS])
{{
    int status = LUNAR_POLICY_OK;
    uint32_t i;
    for (i = 0U; i < LUNAR_POLICY_N_OBS; i++) {{
        const float x = obs[i];
        if (lp_is_finite(x) != 0) {{
            z[i] = {normalized_observation("x", "lp_clamp")};
        }} else {{
            z[i] = 0.0f;
            status = LUNAR_POLICY_ERR_NONFINITE_INPUT;
        }}
    }}
    return status;
}}

/* Clip the network output to the action bounds; a non-finite output makes status an error. */
static int lp_finish(const float out[LUNAR_POLICY_N_ACT], float act[LUNAR_POLICY_N_ACT])
{{
    int status = LUNAR_POLICY_OK;
    uint32_t i;
    for (i = 0U; i < LUNAR_POLICY_N_ACT; i++) {{
        if (lp_is_finite(out[i]) == 0) {{
            status = LUNAR_POLICY_ERR_NONFINITE_OUTPUT;
        }}
    }}
    for (i = 0U; i < LUNAR_POLICY_N_ACT; i++) {{
        act[i] = (status == LUNAR_POLICY_OK) ? lp_clamp(out[i], k_act_low[i], k_act_high[i]) : k_safe_action[i];
    }}
    return status;
}}

static void lp_write_safe_action(float act[LUNAR_POLICY_N_ACT])
{{
    uint32_t i;
    for (i = 0U; i < LUNAR_POLICY_N_ACT; i++) {{
        act[i] = k_safe_action[i];
    }}
}}
"""


def _entry_function(actor: ActorWeights, sizes: list[str]) -> str:
    n_layers = len(actor.weights)
    buffers = "\n".join(f"    float h{k}[{sizes[k + 1]}];" for k in range(n_layers))
    calls = "\n".join(f"            lp_layer_{k}(h{k - 1}, h{k});" if k else "            lp_layer_0(z, h0);"
                      for k in range(n_layers))
    return f"""int lunar_policy_act(const float obs[LUNAR_POLICY_N_OBS], float act[LUNAR_POLICY_N_ACT])
{{
    int status;
    float z[LUNAR_POLICY_N_OBS];
{buffers}
    if (act == NULL) {{
        status = LUNAR_POLICY_ERR_NULL_POINTER;
    }} else if (obs == NULL) {{
        status = LUNAR_POLICY_ERR_NULL_POINTER;
        lp_write_safe_action(act);
    }} else {{
        status = lp_normalize(obs, z);
        if (status == LUNAR_POLICY_OK) {{
{calls}
            status = lp_finish(h{n_layers - 1}, act);
        }} else {{
            lp_write_safe_action(act);
        }}
    }}
    return status;
}}
"""


def _source(actor: ActorWeights, safe: np.ndarray) -> str:
    hi, lo, inv_std = float32_normalization(actor)
    sizes = layer_size_names(actor)
    prov = provenance_comment(actor)
    defines = hidden_size_defines(actor)
    defines.append(f"#define LP_CLIP_OBS {c_float(actor.clip_obs)}")
    if actor.activation == "tanh" and actor.hidden_sizes:
        defines.append(f"#define LP_TANH_CLAMP {c_float(TANH_CLAMP)}")
        defines += [f"#define LP_TANH_P{k + 1} {c_float(c)}" for k, c in enumerate(TANH_P)]
        defines += [f"#define LP_TANH_Q{k + 1} {c_float(c)}" for k, c in enumerate(TANH_Q)]
    tables = [
        "/* Observation normalization: mean = hi + lo (split for accuracy), inv_std = 1 / sqrt(var + epsilon). */",
        *normalization_tables(hi, lo, inv_std, "LUNAR_POLICY_N_OBS"),
        "/* Action bounds and the safe action written on error. */",
        c_vector("k_act_low", "float", actor.action_low, "LUNAR_POLICY_N_ACT", c_float),
        c_vector("k_act_high", "float", actor.action_high, "LUNAR_POLICY_N_ACT", c_float),
        c_vector("k_safe_action", "float", safe, "LUNAR_POLICY_N_ACT", c_float),
    ]
    for k, (w, b) in enumerate(zip(actor.weights, actor.biases)):
        tables.append(f"/* Layer {k}: weights [{sizes[k + 1]}][{sizes[k]}] (output, input), bias [{sizes[k + 1]}]. */")
        tables.append(c_matrix(f"k_w{k}", "float", w, sizes[k + 1], sizes[k], c_float))
        tables.append(c_vector(f"k_b{k}", "float", b, sizes[k + 1], c_float))
    functions = [_COMMON_FUNCTIONS]
    if actor.hidden_sizes:
        functions.append(_TANH_FUNCTION.format(err=TANH_MAX_ABS_ERROR, clamp=TANH_CLAMP)
                         if actor.activation == "tanh" else _RELU_FUNCTION)
    for k in range(len(actor.weights)):
        last = k == len(actor.weights) - 1
        functions.append(_layer_function(k, sizes[k], sizes[k + 1], None if last else actor.activation))
    functions.append(_normalize_function())
    functions.append(_entry_function(actor, sizes))
    libm = ("#if defined(LUNAR_POLICY_USE_LIBM_TANH)\n#include <math.h>\n#endif\n"
            if actor.activation == "tanh" and actor.hidden_sizes else "")
    return (f"""/*
 * policy.c -- landing policy, float32 C99. Generated by lunar-env (agents/export/c_codegen.py); do not edit.
{prov}
 * API and build flags: see policy.h.
 */
{source_includes(HEADER_NAME)}{libm}
""" + "\n".join(defines) + "\n\n" + "\n".join(tables) + "\n" + "\n".join(functions))


def generate_c(actor: ActorWeights, safe_action=None) -> dict[str, str]:
    """The float32 C policy as {file name: text}: policy.h, policy.c and the manifest policy.json."""
    safe = check_safe_action(actor, safe_action)
    manifest = {
        "format": "lunar-env-c-policy", "format_version": 1, "variant": "float32",
        "header": HEADER_NAME, "source": SOURCE_NAME, "function": "lunar_policy_act",
        "obs_dim": actor.obs_dim, "act_dim": actor.act_dim, "hidden_sizes": list(actor.hidden_sizes),
        "activation": actor.activation, "safe_action": safe.tolist(),
        "status_codes": {str(k): v for k, v in STATUS_NAMES.items()},
        "tanh_max_abs_error": TANH_MAX_ABS_ERROR, "actor_fingerprint": actor.fingerprint(),
        **{key: actor.metadata[key] for key in ("env_id", "mode") if key in actor.metadata},
    }
    return {HEADER_NAME: _header(actor, safe), SOURCE_NAME: _source(actor, safe),
            MANIFEST_NAME: json.dumps(manifest, indent=2) + "\n"}


def write_c(actor: ActorWeights, out_dir: str | Path, safe_action=None) -> list[Path]:
    """Write policy.h, policy.c and policy.json into ``out_dir`` (each file atomically)."""
    out_dir = Path(out_dir)
    return [write_atomic(out_dir / name, text) for name, text in generate_c(actor, safe_action).items()]
