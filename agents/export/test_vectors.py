"""Fixed test vectors for exported policies: observations and their float64 reference actions.

The vectors are deterministic for a given actor and seed, and cover:

- ``random``:     observations drawn around the normalization statistics (mean + k * std * N(0, 1)
                  for k = 0.5, 1 and 3), as the policy meets them in flight;
- ``zeros``:      the all-zero observation;
- ``mean``:       the mean observation (normalized input exactly 0);
- ``huge``:       saturating inputs: +-1e30 and +-FLT_MAX (the normalization clips them);
- ``clip_edge``:  components at mean +- (clip_obs +- 1e-3) * std, just inside and just outside the clip;
- ``nonfinite``:  NaN, +inf and -inf components: the C policies must return an error and the safe action.

They are written as CSV (``test_vectors.csv``) so that the C test harness, Python and a reviewer
can all read them: a comment line, a header ``kind,status,obs_0..,ref_0..``, then one row per
vector with observations as float32 values (9 significant digits, exact) and reference actions
in float64 (17 significant digits, exact). ``status`` is the code the C policy must return.

The observations do not depend on the CPU: they come from the seeded generator (PCG64) through
elementwise IEEE-754 arithmetic (+, -, *, sqrt: correctly rounded, the same on every machine),
never through a matrix product, and are rounded to float32; they are compared exactly. (numpy's
normal sampler, a ziggurat, is table lookups and products of the generator's bits except in its
rare wedge and tail steps, which call exp and log1p: there a last-bit difference of the math
library could change a float32 observation only within 2^-29 of a rounding tie, so the exact
comparison would name such a row rather than pass it silently.) The reference actions come from
BLAS matrix products and numpy's tanh, whose last bits do depend on the CPU (the BLAS kernel's
summation order and FMA, numpy's SIMD tanh); they are compared with a stated tolerance
(:mod:`agents.export.staleness`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from agents.export import write_atomic
from agents.export.actor import ActorWeights, reference_forward
from agents.export.c_codegen import check_safe_action
from agents.export.c_snippets import STATUS_NONFINITE_INPUT, STATUS_OK

FILE_NAME = "test_vectors.csv"
FORMAT_LINE = "# lunar-env policy test vectors v1"
#: Scales (in standard deviations) of the random observations.
RANDOM_SCALES = (0.5, 1.0, 3.0)
#: How far past the clip edge the clip_edge vectors sit, in standard deviations.
CLIP_EDGE_OFFSET = 1e-3
FLOAT32_MAX = float(np.finfo(np.float32).max)


@dataclass(frozen=True, eq=False)
class TestVectors:
    """kinds (n,) str, obs (n, obs_dim) float32, expected (n, act_dim) float64, status (n,) int."""

    __test__ = False  # not a pytest test class

    kinds: tuple[str, ...]
    obs: np.ndarray
    expected: np.ndarray
    status: np.ndarray

    def __len__(self) -> int:
        return len(self.kinds)

    @property
    def finite(self) -> np.ndarray:
        """Rows whose observation is finite (status OK expected)."""
        return self.status == STATUS_OK


def _random_obs(actor: ActorWeights, rng: np.random.Generator, n: int) -> np.ndarray:
    scale = np.repeat(RANDOM_SCALES, int(np.ceil(n / len(RANDOM_SCALES))))[:n, None]
    return actor.obs_mean + actor.obs_std * scale * rng.standard_normal((n, actor.obs_dim))


def _huge_obs(actor: ActorWeights, rng: np.random.Generator) -> np.ndarray:
    d = actor.obs_dim
    rows = [np.full(d, 1e30), np.full(d, -1e30), np.full(d, FLOAT32_MAX), np.full(d, -FLOAT32_MAX)]
    rows.append(rng.choice([-1e30, 1e30, -FLOAT32_MAX, FLOAT32_MAX], size=d))
    return np.array(rows)


def _clip_edge_obs(actor: ActorWeights, rng: np.random.Generator, n: int) -> np.ndarray:
    sign = rng.choice([-1.0, 1.0], size=(n, actor.obs_dim))
    offset = rng.choice([-CLIP_EDGE_OFFSET, CLIP_EDGE_OFFSET], size=(n, actor.obs_dim))
    return actor.obs_mean + sign * (actor.clip_obs + offset) * actor.obs_std


def _nonfinite_obs(actor: ActorWeights, rng: np.random.Generator) -> np.ndarray:
    rows = []
    for bad in (np.nan, np.inf, -np.inf):
        row = actor.obs_mean.copy()
        row[int(rng.integers(actor.obs_dim))] = bad
        rows.append(row)
    all_nan = np.full(actor.obs_dim, np.nan)
    rows.append(all_nan)
    return np.array(rows)


def make_test_vectors(actor: ActorWeights, n_random: int = 300, n_clip_edge: int = 20, seed: int = 0,
                      safe_action=None) -> TestVectors:
    """The fixed vectors for ``actor`` (deterministic in ``seed``); see the module docstring."""
    if n_random < len(RANDOM_SCALES) or n_clip_edge < 1:
        raise ValueError(f"need n_random >= {len(RANDOM_SCALES)} and n_clip_edge >= 1, got {n_random}, {n_clip_edge}")
    rng = np.random.default_rng(seed)
    groups = [
        ("random", _random_obs(actor, rng, n_random)),
        ("zeros", np.zeros((1, actor.obs_dim))),
        ("mean", actor.obs_mean[None, :]),
        ("huge", _huge_obs(actor, rng)),
        ("clip_edge", _clip_edge_obs(actor, rng, n_clip_edge)),
        ("nonfinite", _nonfinite_obs(actor, rng)),
    ]
    kinds = tuple(kind for kind, rows in groups for _ in range(len(rows)))
    with np.errstate(over="ignore"):
        obs = np.concatenate([rows for _, rows in groups]).astype(np.float32)
    finite = np.all(np.isfinite(obs), axis=1)
    if not np.array_equal(finite, np.array([k != "nonfinite" for k in kinds])):
        raise ValueError("an observation overflowed float32; the normalization statistics are out of float32 range")
    expected = np.empty((len(kinds), actor.act_dim))
    expected[finite] = reference_forward(actor, obs[finite].astype(np.float64))
    expected[~finite] = check_safe_action(actor, safe_action)
    status = np.where(finite, STATUS_OK, STATUS_NONFINITE_INPUT).astype(np.int64)
    return TestVectors(kinds, obs, expected, status)


def _fmt32(v: float) -> str:
    return repr(float(v)) if not np.isfinite(v) else f"{float(v):.9g}"


def to_csv(vectors: TestVectors) -> str:
    obs_dim, act_dim = vectors.obs.shape[1], vectors.expected.shape[1]
    lines = [f"{FORMAT_LINE}, obs_dim={obs_dim}, act_dim={act_dim}, rows={len(vectors)}",
             ",".join(["kind", "status", *[f"obs_{i}" for i in range(obs_dim)], *[f"ref_{i}" for i in range(act_dim)]])]
    for kind, status, obs, ref in zip(vectors.kinds, vectors.status, vectors.obs, vectors.expected):
        lines.append(",".join([kind, str(int(status)), *(_fmt32(v) for v in obs), *(f"{float(v):.17g}" for v in ref)]))
    return "\n".join(lines) + "\n"


def write_test_vectors(vectors: TestVectors, path: str | Path) -> Path:
    """Write the vectors as CSV (atomically). A directory path gets ``test_vectors.csv`` inside."""
    path = Path(path)
    if path.is_dir():
        path = path / FILE_NAME
    return write_atomic(path, to_csv(vectors))


def read_test_vectors(path: str | Path) -> TestVectors:
    """Read a CSV written by :func:`write_test_vectors` (a directory means its test_vectors.csv)."""
    path = Path(path)
    if path.is_dir():
        path = path / FILE_NAME
    lines = path.read_text().splitlines()
    if not lines or not lines[0].startswith(FORMAT_LINE):
        raise ValueError(f"{path}: not a lunar-env test-vector file (first line must start with {FORMAT_LINE!r})")
    header = lines[1].split(",")
    obs_dim = sum(name.startswith("obs_") for name in header)
    act_dim = sum(name.startswith("ref_") for name in header)
    kinds, status, obs, ref = [], [], [], []
    for number, line in enumerate(lines[2:], start=3):
        fields = line.split(",")
        if len(fields) != 2 + obs_dim + act_dim:
            raise ValueError(f"{path}:{number}: expected {2 + obs_dim + act_dim} fields, got {len(fields)}")
        kinds.append(fields[0])
        status.append(int(fields[1]))
        obs.append([float(v) for v in fields[2:2 + obs_dim]])
        ref.append([float(v) for v in fields[2 + obs_dim:]])
    return TestVectors(tuple(kinds), np.array(obs, dtype=np.float32), np.array(ref, dtype=np.float64),
                       np.array(status, dtype=np.int64))
