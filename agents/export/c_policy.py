"""The exported C policy called from Python: compiled with the host gcc into a shared library and
called through ctypes, batched, behind the :class:`agents.policy.Policy` interface.

    policy = CPolicy("models/my_policy/export/c")      # policy.h / policy.c from `lunar export`
    actions = policy.act(obs)                          # (n, obs_dim) float32 -> (n, act_dim) float32

The library is cached under ``$XDG_CACHE_HOME/lunar-env/cpolicy`` (default ``~/.cache``), named by
the SHA-256 of the sources and flags, so a second start does not recompile. A small C loop over the
batch is compiled in beside the policy, so a batch costs one ctypes call.
"""

from __future__ import annotations

import ctypes
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from agents.export.toolchains import BUILD_FLAGS, VARIANTS
from agents.policy import Policy

_BATCH_SOURCE = """#include "{header}"
int lunar_cpolicy_batch(long n, const float *obs, float *act, int *status);
unsigned lunar_cpolicy_n_obs(void);
unsigned lunar_cpolicy_n_act(void);

int lunar_cpolicy_batch(long n, const float *obs, float *act, int *status)
{{
    long i;
    int bad = 0;
    for (i = 0; i < n; i++) {{
        status[i] = {function}(obs + (i * (long){n_obs}), act + (i * (long){n_act}));
        bad += (status[i] != 0) ? 1 : 0;
    }}
    return bad;
}}
unsigned lunar_cpolicy_n_obs(void) {{ return {n_obs}; }}
unsigned lunar_cpolicy_n_act(void) {{ return {n_act}; }}
"""


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "lunar-env" / "cpolicy"


def build_shared_library(c_dir: str | Path, variant: str = "float", libm_tanh: bool = False,
                         compiler: str = "gcc") -> Path:
    """Compile the policy in ``c_dir`` plus the batch loop into a cached shared library; returns its path."""
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {sorted(VARIANTS)}, got {variant!r}")
    var = VARIANTS[variant]
    c_dir = Path(c_dir).resolve()
    for name in (var.header, var.source):
        if not (c_dir / name).is_file():
            raise ValueError(f"{c_dir / name}: missing; export the C policy first (lunar export MODEL_DIR --to c)")
    if shutil.which(compiler) is None:
        raise RuntimeError(f"{compiler} not found: the C policy needs a host C compiler")
    batch = _BATCH_SOURCE.format(header=var.header, function=var.function, n_obs=var.n_obs, n_act=var.n_act)
    flags = [*BUILD_FLAGS, "-std=c99", "-fPIC", "-shared"] + (["-DLUNAR_POLICY_USE_LIBM_TANH"] if libm_tanh else [])
    digest = hashlib.sha256()
    for part in ((c_dir / var.header).read_bytes(), (c_dir / var.source).read_bytes(), batch.encode(),
                 " ".join([compiler, *flags]).encode()):
        digest.update(part)
        digest.update(b"\0")
    out = cache_dir() / f"{var.name}-{digest.hexdigest()[:24]}.so"
    if out.is_file():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="lunar-cpolicy-") as tmp:
        batch_path = Path(tmp) / "batch.c"
        batch_path.write_text(batch)
        lib = Path(tmp) / "policy.so"
        cmd = [compiler, *flags, f"-I{c_dir}", str(c_dir / var.source), str(batch_path), "-o", str(lib), "-lm"]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
        if proc.returncode != 0:
            raise RuntimeError(f"compiling the C policy failed:\n{' '.join(cmd)}\n{proc.stderr}")
        staged = out.with_name(f".{out.name}.{os.getpid()}.tmp")
        shutil.copyfile(lib, staged)
        os.replace(staged, out)
    return out


class CPolicy(Policy):
    """A generated C policy (float32 ``policy.c`` or int8 ``policy_q8.c``) as a batched Policy.

    ``act`` returns float32 actions (n, act_dim); rows whose observation is not finite get the
    policy's safe action, and their status codes are kept in ``last_status`` (n,) (0 = ok).
    """

    def __init__(self, c_dir: str | Path, variant: str = "float", libm_tanh: bool = False):
        self.c_dir = Path(c_dir)
        self.variant = variant
        self.library_path = build_shared_library(self.c_dir, variant, libm_tanh)
        self._lib = ctypes.CDLL(str(self.library_path))
        self._lib.lunar_cpolicy_batch.restype = ctypes.c_int
        self._lib.lunar_cpolicy_batch.argtypes = [ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p]
        self._lib.lunar_cpolicy_n_obs.restype = ctypes.c_uint
        self._lib.lunar_cpolicy_n_act.restype = ctypes.c_uint
        self.obs_dim = int(self._lib.lunar_cpolicy_n_obs())
        self.act_dim = int(self._lib.lunar_cpolicy_n_act())
        manifest_path = self.c_dir / ("policy.json" if variant == "float" else "policy_q8.json")
        self.manifest = json.loads(manifest_path.read_text()) if manifest_path.is_file() else {}
        self.mode = self.manifest.get("mode")
        self.last_status = np.zeros(0, dtype=np.int32)

    def act(self, obs: np.ndarray) -> np.ndarray:
        obs = np.ascontiguousarray(obs, dtype=np.float32)
        if obs.ndim != 2 or obs.shape[1] != self.obs_dim:
            raise ValueError(
                f"C policy {self.c_dir} expects observations of shape (n, {self.obs_dim}), got {obs.shape}"
            )
        n = obs.shape[0]
        act = np.empty((n, self.act_dim), dtype=np.float32)
        status = np.empty(n, dtype=np.intc)
        self._lib.lunar_cpolicy_batch(n, obs.ctypes.data, act.ctypes.data, status.ctypes.data)
        self.last_status = status.astype(np.int32)
        return act
