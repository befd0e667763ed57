"""int8 quantization of the actor for processors without an FPU: the number formats, the quantized
actor, an integer forward pass that mirrors the generated C operation by operation, and the error
budget. The C text itself (``policy_q8.h`` / ``policy_q8.c``) is written by :mod:`agents.export.c_int8`.

Number formats (Qf = an integer holding value * 2^f):

- normalized observation z in int16 Q_F0, F0 = floor(log2(32767 / clip_obs)) (Q11 for clip 10);
- weights int8 with one scale per output row: W[i, j] ~= w_q[i, j] * s_i, s_i = max_j |W[i, j]| / 127;
- accumulation in int32: acc_i = sum_j w_q[i, j] * x_q[j] (the inner loop: integers only);
- requantization once per neuron: pre_i = round(acc_i * m_i / 2^sh_i) + b_i in int32 Q16, where
  m_i / 2^sh_i = s_i * 2^(16 - F_in) with m_i a 31-bit integer (64-bit product, rounding half away
  from zero, saturation);
- tanh through a 513-entry int16 table over [0, 8] with linear interpolation, output Q14;
  ReLU output int16 with a per-layer format chosen from interval bounds of the activations;
- the action in int32 Q16, clipped to the action bounds.

Only the entry point ``lunar_policy_q8_act`` touches float: it normalizes the observation (as the
float32 policy does) and converts the action back; ``lunar_policy_q8_act_fixed`` takes the
normalized observation in Q_F0 and returns Q16 actions with no floating point at all.

Error budget. The int8 variant must keep |int8 action - float64 reference action| within
ERROR_BUDGET_MAX = 0.1 (max) and ERROR_BUDGET_RMS = 0.02 (root mean square) over observations
sampled around the normalization statistics; :func:`error_budget` measures this, and what each
source (weights, input, activations) contributes alone. The sources, per component:

    input:   e0_j    = |z_q,j 2^-F0 - z_j|                     (<= 2^-(F0+1) + float32 normalization)
    layer:   e_pre,i = sum_j |What_ij| e_j + sum_j |What_ij - W_ij| |x_j|
                       + |delta_i| sum_j |What_ij| (|x_j| + e_j) + 2^-17 + |b_q,i 2^-16 - b_i|
    tanh:    e_i     = sech^2(max(|pre_i| - e_pre,i, 0)) e_pre,i + eps_lut
    relu:    e_i     = e_pre,i + 2^-(F+1)   (0 when pre_i + e_pre,i < 0)
    action:  e_i     = e_pre,i + action-bound rounding

with What = w_q s (the weights as quantized), delta_i the relative error of m_i / 2^sh_i, x_j and
pre_i the true activations, and eps_lut the table's max error over every Q16 input (7.7e-5).
:func:`error_bound` evaluates this rigorous (and pessimistic: sign-blind) bound for given
observations; the weight term dominates it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from agents.export.actor import ActorWeights, normalize
from agents.export.c_codegen import check_safe_action, normalize_f32
from agents.export.c_snippets import STATUS_NONFINITE_INPUT, STATUS_OK

INT16_MAX = 2**15 - 1
INT32_MAX = 2**31 - 1
INT32_MIN = -(2**31)
WEIGHT_MAX = 127                  # int8 weights in [-127, 127] (symmetric)
PRE_FRAC_BITS = 16                # pre-activations and actions: int32 Q16
TANH_FRAC_BITS = 14               # tanh outputs: int16 Q14, 1.0 = 16384
TANH_LUT_STEP_BITS = 6            # table step 2^-6
TANH_LUT_RANGE = 8.0              # table covers [0, 8]; tanh(8) = 1 - 2.3e-7 rounds to 1.0 in Q14
TANH_LUT_SIZE = int(TANH_LUT_RANGE * 2**TANH_LUT_STEP_BITS)  # 512 intervals, 513 entries
LUT_SHIFT = PRE_FRAC_BITS - TANH_LUT_STEP_BITS               # Q16 input -> table index
LUT_LIMIT = int(TANH_LUT_RANGE * 2**PRE_FRAC_BITS)
RELU_MARGIN = 1.25                # headroom over the interval bound when choosing a ReLU format
PRE_LIMIT = 30000.0               # |pre-activation| bound that keeps Q16 inside int32 with room
FLOAT32_UNIT_ROUNDOFF = 2.0**-24


@dataclass(frozen=True, eq=False)
class QuantizedLayer:
    """One layer in integers. weights int8 values (out, in); multiplier, shift, bias (out,) int64."""

    weights: np.ndarray
    multiplier: np.ndarray
    shift: np.ndarray
    bias: np.ndarray
    row_scale: np.ndarray   # s_i (float64): the weights stand for weights * row_scale
    in_frac_bits: int
    out_frac_bits: int      # 14 for tanh, chosen for ReLU, 16 for the action layer
    activation: str | None  # None for the action layer

    @property
    def effective_weights(self) -> np.ndarray:
        return self.weights.astype(np.float64) * self.row_scale[:, None]

    @property
    def multiplier_error(self) -> np.ndarray:
        """Relative error of m / 2^sh against s * 2^(16 - F_in), (out,)."""
        target = self.row_scale * 2.0 ** (PRE_FRAC_BITS - self.in_frac_bits)
        actual = self.multiplier * 2.0 ** (-self.shift.astype(np.float64))
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(target > 0, np.abs(actual / target - 1.0), 0.0)


@dataclass(frozen=True, eq=False)
class QuantizedActor:
    actor: ActorWeights
    layers: tuple[QuantizedLayer, ...]
    in_frac_bits: int
    clip_q: int
    act_low_q: np.ndarray
    act_high_q: np.ndarray
    tanh_lut: np.ndarray
    tanh_lut_error: float

    @property
    def act_bound_error(self) -> float:
        low = np.abs(self.act_low_q * 2.0**-PRE_FRAC_BITS - self.actor.action_low)
        high = np.abs(self.act_high_q * 2.0**-PRE_FRAC_BITS - self.actor.action_high)
        return float(max(low.max(), high.max()))


# ----------------------------------------------------------------------------- integer helpers (mirror the C)
def _sat32(v: np.ndarray) -> np.ndarray:
    return np.clip(v, INT32_MIN, INT32_MAX)


def round_shift(v: np.ndarray, shift) -> np.ndarray:
    """v / 2^shift rounded half away from zero (shift >= 1), saturated to int32 (int64 arrays)."""
    v = np.asarray(v, dtype=np.int64)
    shift = np.asarray(shift, dtype=np.int64)
    half = np.left_shift(np.int64(1), shift - 1)
    mag = np.right_shift(np.abs(v) + half, shift)
    return _sat32(np.where(v >= 0, mag, -mag))


def make_tanh_lut() -> np.ndarray:
    """round(tanh(k 2^-6) * 2^14) for k = 0..512 (int64; non-decreasing)."""
    k = np.arange(TANH_LUT_SIZE + 1)
    return np.round(np.tanh(k * 2.0**-TANH_LUT_STEP_BITS) * 2**TANH_FRAC_BITS).astype(np.int64)


def tanh_q14(pre_q16: np.ndarray, lut: np.ndarray) -> np.ndarray:
    """The C table tanh: Q16 in, Q14 out (int64 arrays)."""
    pre = np.asarray(pre_q16, dtype=np.int64)
    a = np.abs(pre)
    inside = a < LUT_LIMIT
    idx = np.where(inside, a >> LUT_SHIFT, 0)
    frac = a & ((1 << LUT_SHIFT) - 1)
    y0, y1 = lut[idx], lut[np.minimum(idx + 1, TANH_LUT_SIZE)]
    y = y0 + (((y1 - y0) * frac + (1 << (LUT_SHIFT - 1))) >> LUT_SHIFT)
    y = np.where(inside, y, 1 << TANH_FRAC_BITS)
    return np.where(pre < 0, -y, y)


def tanh_lut_error(lut: np.ndarray) -> float:
    """Max |table tanh - tanh| over every Q16 input (the table range exhaustively, plus saturation)."""
    a = np.arange(LUT_LIMIT + 1, dtype=np.int64)
    err = np.abs(tanh_q14(a, lut) * 2.0**-TANH_FRAC_BITS - np.tanh(a * 2.0**-PRE_FRAC_BITS))
    return float(max(err.max(), 1.0 - np.tanh(TANH_LUT_RANGE)))


# ----------------------------------------------------------------------------- quantization
def _multiplier(scale: float) -> tuple[int, int]:
    """(m, sh) with m / 2^sh ~= scale, m in [2^30, 2^31) and 1 <= sh <= 62 (m = 0 for scale 0)."""
    if scale == 0.0:
        return 0, 1
    frac, exp = np.frexp(scale)          # scale = frac * 2^exp, frac in [0.5, 1)
    shift = 31 - int(exp)
    if shift > 62:                        # tiny scale: lose leading bits rather than overflow the shift
        return int(round(scale * 2.0**62)), 62
    if shift < 1:
        raise ValueError(f"row scale {scale:g} is too large for the int32 requantization")
    m = int(round(frac * 2.0**31))
    if m == 2**31:
        m, shift = 2**30, shift - 1
    return m, shift


def floor_log2(x: float) -> int:
    """floor(log2(x)) for x > 0, exactly: from the binary exponent, not from a math-library log2
    (whose rounding could move a result that is nearly an integer across it)."""
    _mantissa, exponent = math.frexp(x)   # x = mantissa * 2^exponent, mantissa in [0.5, 1)
    return exponent - 1


def _exact_dot(w: np.ndarray, x: np.ndarray, b: np.ndarray | None = None) -> np.ndarray:
    """w @ x (+ b), each row's sum correctly rounded (math.fsum of the elementwise products).

    A BLAS product sums in an order (and with FMA) chosen per CPU, so its last bits vary between
    machines; the ReLU formats chosen from these bounds are written into the C source, which must
    be the same on every machine.
    """
    rows = w * x[None, :]
    extra = [[] for _ in range(w.shape[0])] if b is None else [[float(v)] for v in b]
    return np.array([math.fsum([*row, *more]) for row, more in zip(rows, extra)])


def _intervals(w: np.ndarray, b: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mid, rad = (lo + hi) / 2.0, (hi - lo) / 2.0
    c = _exact_dot(w, mid, b)
    r = _exact_dot(np.abs(w), rad)
    return c - r, c + r


def quantize_actor(actor: ActorWeights) -> QuantizedActor:
    """Quantize ``actor`` to the int8 formats of the module docstring.

    Raises ValueError when the network does not fit them: clip_obs beyond int16, a layer so wide or
    weights so large that int32 accumulators or Q16 pre-activations could overflow.
    """
    if not (0.0 < actor.clip_obs <= INT16_MAX):
        raise ValueError(f"clip_obs = {actor.clip_obs} cannot be represented in the int16 input format")
    f0 = min(floor_log2(INT16_MAX / actor.clip_obs), 24)
    clip_q = int(np.floor(actor.clip_obs * 2.0**f0 + 0.5))
    lo, hi = np.full(actor.obs_dim, -actor.clip_obs), np.full(actor.obs_dim, actor.clip_obs)
    x_max_q = np.full(actor.obs_dim, clip_q)
    f_in = f0
    layers = []
    n = len(actor.weights)
    for k, (w, b) in enumerate(zip(actor.weights, actor.biases)):
        activation = None if k == n - 1 else actor.activation
        row_max = np.abs(w).max(axis=1)
        scale = row_max / WEIGHT_MAX
        with np.errstate(invalid="ignore", divide="ignore"):
            wq = np.where(scale[:, None] > 0, np.round(w / np.where(scale > 0, scale, 1.0)[:, None]), 0.0)
        wq = np.clip(wq, -WEIGHT_MAX, WEIGHT_MAX).astype(np.int64)
        acc_max = np.abs(wq) @ x_max_q
        if acc_max.max() > INT32_MAX:
            raise ValueError(f"layer {k} ({w.shape[1]} inputs) could overflow its int32 accumulator "
                             f"(bound {int(acc_max.max())}); the int8 variant supports narrower layers")
        pairs = [_multiplier(float(s * 2.0 ** (PRE_FRAC_BITS - f_in))) for s in scale]
        bias_q = np.round(b * 2.0**PRE_FRAC_BITS)
        pre_lo, pre_hi = _intervals(w, b, lo, hi)
        if max(np.abs(pre_lo).max(), np.abs(pre_hi).max(), np.abs(b).max()) > PRE_LIMIT:
            raise ValueError(
                f"layer {k}: pre-activations can reach {max(np.abs(pre_lo).max(), np.abs(pre_hi).max()):.3g}, "
                f"beyond the Q16 range (|x| <= {PRE_LIMIT:g}) of the int8 variant"
            )
        if activation == "tanh":
            f_out, lo, hi = TANH_FRAC_BITS, np.tanh(pre_lo), np.tanh(pre_hi)
            x_max_q = np.full(w.shape[0], 1 << TANH_FRAC_BITS)
        elif activation == "relu":
            top = max(float(pre_hi.max()), 2.0**-TANH_FRAC_BITS) * RELU_MARGIN
            f_out = min(TANH_FRAC_BITS, floor_log2(INT16_MAX / top))
            if f_out < 0:
                raise ValueError(f"layer {k}: ReLU outputs up to {top:.3g} do not fit the int16 activation format")
            lo, hi = np.maximum(pre_lo, 0.0), np.maximum(pre_hi, 0.0)
            x_max_q = np.full(w.shape[0], INT16_MAX)
        else:
            f_out = PRE_FRAC_BITS
        layers.append(
            QuantizedLayer(
                wq,
                np.array([m for m, _ in pairs], dtype=np.int64),
                np.array([s for _, s in pairs], dtype=np.int64),
                bias_q.astype(np.int64),
                scale,
                f_in,
                f_out,
                activation,
            )
        )
        f_in = f_out
    lut = make_tanh_lut()
    low_q = np.round(actor.action_low * 2.0**PRE_FRAC_BITS).astype(np.int64)
    high_q = np.round(actor.action_high * 2.0**PRE_FRAC_BITS).astype(np.int64)
    if max(np.abs(low_q).max(), np.abs(high_q).max()) > INT32_MAX:
        raise ValueError("action bounds beyond the Q16 range of the int8 variant")
    return QuantizedActor(actor, tuple(layers), f0, clip_q, low_q, high_q, lut, tanh_lut_error(lut))


# ----------------------------------------------------------------------------- integer forward pass (mirror of the C)
def quantize_input(q: QuantizedActor, z32: np.ndarray) -> np.ndarray:
    """float32 normalized observations -> int16 Q_F0 values (int64 array), as the C converts them."""
    v = z32.astype(np.float32) * np.float32(2.0**q.in_frac_bits)
    half = np.float32(0.5)
    r = np.where(v >= 0, v + half, v - half).astype(np.float32)
    return np.clip(np.trunc(r).astype(np.int64), -q.clip_q, q.clip_q)


def fixed_forward(q: QuantizedActor, z_q: np.ndarray) -> np.ndarray:
    """``lunar_policy_q8_act_fixed``: int16 Q_F0 inputs (n, obs_dim) -> int32 Q16 actions (n, act_dim)."""
    x = np.clip(np.asarray(z_q, dtype=np.int64), -q.clip_q, q.clip_q)
    for layer in q.layers:
        acc = x @ layer.weights.T
        pre = _sat32(round_shift(acc * layer.multiplier, layer.shift) + layer.bias)
        if layer.activation == "tanh":
            x = tanh_q14(pre, q.tanh_lut)
        elif layer.activation == "relu":
            shift = PRE_FRAC_BITS - layer.out_frac_bits
            x = np.where(pre > 0, np.minimum(round_shift(pre, shift), INT16_MAX), 0)
        else:
            x = np.clip(pre, q.act_low_q, q.act_high_q)
    return x


def q8_forward(q: QuantizedActor, obs, safe_action=None) -> tuple[np.ndarray, np.ndarray]:
    """What ``lunar_policy_q8_act`` returns: (actions (n, act_dim) float32, status (n,) int)."""
    actor = q.actor
    obs32 = np.asarray(obs, dtype=np.float32)
    if obs32.ndim != 2 or obs32.shape[1] != actor.obs_dim:
        raise ValueError(f"observations must have shape (n, {actor.obs_dim}), got {obs32.shape}")
    z32, finite = normalize_f32(actor, obs32)
    out_q = fixed_forward(q, quantize_input(q, z32))
    act = (out_q.astype(np.float32) * np.float32(2.0**-PRE_FRAC_BITS)).astype(np.float32)
    act[~finite] = check_safe_action(actor, safe_action).astype(np.float32)
    return act, np.where(finite, STATUS_OK, STATUS_NONFINITE_INPUT).astype(np.int64)


# ----------------------------------------------------------------------------- error budget
def _propagate(
    q: QuantizedActor, e0: np.ndarray, x_abs: list[np.ndarray], pre_lo: list[np.ndarray], pre_hi: list[np.ndarray]
) -> np.ndarray:
    """Push input errors e0 (n, obs_dim) through the layers; x_abs[k] bounds |input of layer k|,
    [pre_lo[k], pre_hi[k]] contains its true pre-activation. Returns (n, act_dim)."""
    e = e0
    for k, layer in enumerate(q.layers):
        w_hat = layer.effective_weights
        dw = np.abs(w_hat - q.actor.weights[k])
        bias_err = np.abs(layer.bias * 2.0**-PRE_FRAC_BITS - q.actor.biases[k])
        e_pre = (
            e @ np.abs(w_hat).T
            + x_abs[k] @ dw.T
            + layer.multiplier_error * ((x_abs[k] + e) @ np.abs(w_hat).T)
            + 2.0 ** -(PRE_FRAC_BITS + 1)
            + bias_err
        )
        if layer.activation == "tanh":
            dist = np.maximum(0.0, np.maximum(pre_lo[k] - e_pre, -(pre_hi[k] + e_pre)))
            e = (1.0 - np.tanh(dist) ** 2) * e_pre + q.tanh_lut_error
        elif layer.activation == "relu":
            active = (pre_hi[k] + e_pre) > 0
            e = np.where(active, e_pre + 2.0 ** -(layer.out_frac_bits + 1), 0.0)
        else:
            e = e_pre + q.act_bound_error
    return e


def error_bound(q: QuantizedActor, obs) -> np.ndarray:
    """Bound on |int8 action - float64 reference| for each finite observation, (n, act_dim).

    Rigorous given the observation: the input error is measured exactly (the float32 normalization
    and rounding of the C code), the rest is propagated with the formulas of the module docstring.
    """
    actor = q.actor
    obs = np.asarray(obs, dtype=np.float32)
    z_true = normalize(actor, obs.astype(np.float64))
    z32, _ = normalize_f32(actor, obs)
    e0 = np.abs(quantize_input(q, z32) * 2.0**-q.in_frac_bits - z_true)
    x_abs, pres = [], []
    h = z_true
    for k, (w, b) in enumerate(zip(actor.weights, actor.biases)):
        x_abs.append(np.abs(h))
        pre = h @ w.T + b
        pres.append(pre)
        if k < len(actor.weights) - 1:
            h = np.tanh(pre) if actor.activation == "tanh" else np.maximum(pre, 0.0)
    return _propagate(q, e0, x_abs, pres, pres)


#: The documented int8 error budget, in action units (actions span [-1, 1]): over observations sampled
#: around the normalization statistics, max |int8 - float64| <= ERROR_BUDGET_MAX (5% of the range)
#: and its root mean square <= ERROR_BUDGET_RMS (1% of the range).
ERROR_BUDGET_MAX = 0.1
ERROR_BUDGET_RMS = 0.02


@dataclass(frozen=True)
class ErrorBudget:
    """The int8 error of one actor measured against the budget, in action units.

    contributions: the max error each source causes alone (float64 network with only that
    source quantized): "weights" (int8 per-row), "input" (float32 normalization + Q_F0 rounding),
    "activations" (Q16 pre-activations, table tanh / ReLU rounding). bound_max: the largest
    per-observation bound of :func:`error_bound` over the sample (rigorous, pessimistic).
    """

    max_allowed: float
    rms_allowed: float
    measured_max: float
    measured_rms: float
    measured_p99: float
    contributions: dict
    bound_max: float
    n_samples: int
    tanh_lut_error: float
    input_step: float

    @property
    def within_budget(self) -> bool:
        return self.measured_max <= self.max_allowed and self.measured_rms <= self.rms_allowed

    def as_dict(self) -> dict:
        return {**self.__dict__, "within_budget": self.within_budget}


def sample_observations(actor: ActorWeights, n: int, seed: int = 1) -> np.ndarray:
    """Observations around the normalization statistics: mean + k std N(0, 1), k in {0.5, 1, 3}."""
    rng = np.random.default_rng(seed)
    k = np.resize(np.array([0.5, 1.0, 3.0]), n)[:, None]
    return (actor.obs_mean + actor.obs_std * k * rng.standard_normal((n, actor.obs_dim))).astype(np.float32)


def _round_q(x: np.ndarray, frac_bits: int) -> np.ndarray:
    """x rounded to the grid 2^-frac_bits, half away from zero (float64)."""
    scaled = x * 2.0**frac_bits
    return np.sign(scaled) * np.floor(np.abs(scaled) + 0.5) * 2.0**-frac_bits


def _ablation(q: QuantizedActor, z: np.ndarray, weights: bool, activations: bool) -> np.ndarray:
    """float64 forward from normalized z with int8 weights and/or fixed-point activations."""
    actor = q.actor
    h = z
    for k, layer in enumerate(q.layers):
        w = layer.effective_weights if weights else actor.weights[k]
        pre = h @ w.T + actor.biases[k]
        if activations:
            pre = _round_q(pre, PRE_FRAC_BITS)
        if layer.activation == "tanh":
            h = (
                tanh_q14(np.round(pre * 2.0**PRE_FRAC_BITS), q.tanh_lut) * 2.0**-TANH_FRAC_BITS
                if activations
                else np.tanh(pre)
            )
        elif layer.activation == "relu":
            h = np.maximum(pre, 0.0)
            h = _round_q(h, layer.out_frac_bits) if activations else h
        else:
            h = np.clip(pre, actor.action_low, actor.action_high)
    return h


def error_budget(q: QuantizedActor, obs=None, n_samples: int = 20000, seed: int = 1) -> ErrorBudget:
    """Measure the int8 error, its sources and its bound on ``obs`` (default: a seeded sample)."""
    from agents.export.actor import reference_forward

    actor = q.actor
    obs = sample_observations(actor, n_samples, seed) if obs is None else np.asarray(obs, dtype=np.float32)
    obs = obs[np.all(np.isfinite(obs), axis=1)]
    ref = reference_forward(actor, obs.astype(np.float64))
    act, _ = q8_forward(q, obs)
    err = np.abs(act.astype(np.float64) - ref)
    z = normalize(actor, obs.astype(np.float64))
    z_hat = quantize_input(q, normalize_f32(actor, obs)[0]) * 2.0**-q.in_frac_bits
    contributions = {
        "weights": float(np.abs(_ablation(q, z, True, False) - ref).max()),
        "input": float(np.abs(_ablation(q, z_hat, False, False) - ref).max()),
        "activations": float(np.abs(_ablation(q, z, False, True) - ref).max()),
    }
    return ErrorBudget(
        ERROR_BUDGET_MAX,
        ERROR_BUDGET_RMS,
        float(err.max()),
        float(np.sqrt(np.mean(err**2))),
        float(np.quantile(err, 0.99)),
        contributions,
        float(error_bound(q, obs).max()),
        int(len(obs)),
        q.tanh_lut_error,
        2.0**-q.in_frac_bits,
    )
