"""Microseconds per action of the exported policy on this machine: C (float32 and int8) beside
torch and onnxruntime on the same observations; then the target table of ``lunar export --check``.

    python benchmarks/export_latency.py [--model-dir DIR] [--seconds 0.3] [--out benchmarks/results/export.md]

Without --model-dir a policy with random weights, 16 observations, 3 actions and the
stable-baselines3 default actor width (16 -> 64 -> 64 -> 3, tanh) is built and saved as a model
folder in a temporary directory: latency depends on the sizes, not on the weights.
Each figure is the median of 5 repeats of a timed loop of about --seconds.
"""

from __future__ import annotations

import argparse
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

OBS_DIM, ACT_DIM, HIDDEN = 16, 3, (64, 64)
N_OBS = 1024
REPEATS = 5

_C_BENCH = r"""#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "{header}"

/* Times {function} in a C loop over observations read from a raw float32 file. */
int main(int argc, char **argv)
{{
    static float obs[{n}][{n_obs}];
    float act[{n_act}];
    volatile float sink = 0.0f;
    struct timespec t0, t1;
    long reps, r, i;
    FILE *f;
    if (argc != 3) {{
        return 2;
    }}
    reps = atol(argv[2]);
    f = fopen(argv[1], "rb");
    if (f == NULL || fread(obs, sizeof obs, 1, f) != 1) {{
        return 3;
    }}
    fclose(f);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (r = 0; r < reps; r++) {{
        for (i = 0; i < {n}; i++) {{
            (void){function}(obs[i], act);
            sink += act[0];
        }}
    }}
    clock_gettime(CLOCK_MONOTONIC, &t1);
    printf("%.6f\n", ((double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec))
                     / (double)(reps * {n}));
    return 0;
}}
"""


def median_time_us(fn, calls_per_run: int, seconds: float) -> float:
    """Median over REPEATS of the microseconds per call of fn (called calls_per_run times per loop)."""
    fn()
    start = time.perf_counter()
    fn()
    once = max(time.perf_counter() - start, 1e-7)
    loops = max(1, int(seconds / once / REPEATS))
    results = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        for _ in range(loops):
            fn()
        results.append((time.perf_counter() - start) / (loops * calls_per_run) * 1e6)
    return float(np.median(results))


def build_model_folder(path: Path) -> Path:
    import gymnasium as gym
    import torch
    from stable_baselines3 import PPO

    from agents.model_folder import save_model_folder

    class SpacesOnly(gym.Env):
        observation_space = gym.spaces.Box(-np.inf, np.inf, (OBS_DIM,), np.float32)
        action_space = gym.spaces.Box(-1.0, 1.0, (ACT_DIM,), np.float32)

        def reset(self, *, seed=None, options=None):
            return np.zeros(OBS_DIM, np.float32), {}

        def step(self, action):
            return np.zeros(OBS_DIM, np.float32), 0.0, True, False, {}

    model = PPO(
        "MlpPolicy",
        SpacesOnly(),
        policy_kwargs=dict(net_arch=dict(pi=list(HIDDEN), vf=list(HIDDEN))),
        device="cpu",
        seed=0,
    )
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for module in [*model.policy.mlp_extractor.policy_net, model.policy.action_net]:
            if isinstance(module, torch.nn.Linear):
                module.weight.copy_(torch.randn(module.weight.shape, generator=gen) / module.weight.shape[1] ** 0.5)
                module.bias.copy_(torch.randn(module.bias.shape, generator=gen) * 0.2)
    rng = np.random.default_rng(0)
    meta = {"env_id": "benchmark/random-policy", "mode": "3dof", "obs_dim": OBS_DIM, "act_dim": ACT_DIM}
    return save_model_folder(
        path,
        model,
        rng.normal(0, 100, OBS_DIM),
        rng.uniform(0.01, 1e4, OBS_DIM),
        1e-8,
        10.0,
        meta,
        "benchmark: random weights\n",
    )


def c_loop_us(c_dir: Path, variant: str, obs: np.ndarray, seconds: float, work: Path) -> float:
    from agents.export.toolchains import BUILD_FLAGS, VARIANTS

    var = VARIANTS[variant]
    src = work / f"bench_{variant}.c"
    src.write_text(
        _C_BENCH.format(header=var.header, function=var.function, n=len(obs), n_obs=var.n_obs, n_act=var.n_act)
    )
    exe = work / f"bench_{variant}"
    subprocess.run(
        [
            "gcc",
            *BUILD_FLAGS,
            "-std=c99",
            "-D_POSIX_C_SOURCE=199309L",
            f"-I{c_dir}",
            str(c_dir / var.source),
            str(src),
            "-o",
            str(exe),
            "-lm",
        ],
        check=True,
    )
    data = work / "obs.f32"
    np.ascontiguousarray(obs, dtype=np.float32).tofile(data)
    ns = float(subprocess.run([str(exe), str(data), "1"], capture_output=True, text=True, check=True).stdout)
    reps = max(1, int(seconds * 1e9 / max(ns * len(obs), 1.0) / REPEATS))
    runs = [
        float(subprocess.run([str(exe), str(data), str(reps)], capture_output=True, text=True, check=True).stdout)
        for _ in range(REPEATS)
    ]
    return float(np.median(runs)) / 1e3


def measure(result, seconds: float, work: Path) -> list[tuple[str, float, float]]:
    """(method, µs per action at batch 1, µs per action at batch N_OBS)."""
    import torch

    from agents.export.c_policy import CPolicy
    from agents.export.onnx_export import onnx_session
    from agents.export.quantize import sample_observations

    torch.set_num_threads(1)
    actor, model, out = result.actor, result.model, result.out_dir
    obs = sample_observations(actor, N_OBS, seed=2)
    z = (
        ((obs.astype(np.float64) - actor.obs_mean) / actor.obs_std)
        .clip(-actor.clip_obs, actor.clip_obs)
        .astype(np.float32)
    )
    policy = model.policy

    def torch_actor(batch):
        x = torch.as_tensor(batch)
        with torch.no_grad():
            return policy.action_net(policy.mlp_extractor.forward_actor(x)).clamp(-1, 1).numpy()

    session = onnx_session(out / "policy.onnx")
    c_float, c_int8 = CPolicy(out / "c"), CPolicy(out / "c-int8", variant="q8")
    one, one_z = obs[:1], z[:1]
    rows = [
        (
            "torch, actor network only (normalized input, 1 thread)",
            median_time_us(lambda: torch_actor(one_z), 1, seconds),
            median_time_us(lambda: torch_actor(z), N_OBS, seconds),
        ),
        (
            "stable-baselines3 predict(deterministic=True)",
            median_time_us(lambda: model.predict(one_z, deterministic=True), 1, seconds),
            median_time_us(lambda: model.predict(z, deterministic=True), N_OBS, seconds),
        ),
        (
            "onnxruntime (1 thread)",
            median_time_us(lambda: session.run(None, {"obs": one}), 1, seconds),
            median_time_us(lambda: session.run(None, {"obs": obs}), N_OBS, seconds),
        ),
        (
            "C float32 via ctypes (CPolicy.act)",
            median_time_us(lambda: c_float.act(one), 1, seconds),
            median_time_us(lambda: c_float.act(obs), N_OBS, seconds),
        ),
        (
            "C int8 via ctypes (CPolicy.act)",
            median_time_us(lambda: c_int8.act(one), 1, seconds),
            median_time_us(lambda: c_int8.act(obs), N_OBS, seconds),
        ),
    ]
    loop_float = c_loop_us(out / "c", "float", obs, seconds, work)
    loop_int8 = c_loop_us(out / "c-int8", "q8", obs, seconds, work)
    rows += [
        ("C float32, called in a C loop (no Python)", loop_float, loop_float),
        ("C int8, called in a C loop (no Python)", loop_int8, loop_int8),
    ]
    return rows


def portable(arg: str) -> str:
    """A command-line argument as the record shows it: a path of this machine (also in --opt=PATH)
    relative to the repository, or only its name when outside it; the record names no machine path."""
    option, sep, value = arg.partition("=") if arg.startswith("--") else ("", "", arg)
    if not os.path.isabs(value):
        return arg
    path = Path(os.path.abspath(value))
    shown = path.relative_to(ROOT).as_posix() if path.is_relative_to(ROOT) else path.name
    return f"{option}{sep}{shown}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model-dir", help="model folder to export (default: a random-weight policy)")
    parser.add_argument("--seconds", type=float, default=0.3, help="timed loop length per measurement")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "export.md"))
    parser.add_argument("--no-targets", action="store_true", help="skip the cross-target table")
    args = parser.parse_args(argv)

    from agents.export import write_atomic
    from agents.export.cli import export_model, format_table, run_checks

    command = "python benchmarks/export_latency.py" + "".join(
        f" {shlex.quote(portable(a))}" for a in (argv or sys.argv[1:])
    )
    with tempfile.TemporaryDirectory(prefix="lunar-export-bench-") as tmp:
        work = Path(tmp)
        model_dir = Path(args.model_dir) if args.model_dir else build_model_folder(work / "policy")
        result = export_model(model_dir, work / "export")
        actor = result.actor
        rows = measure(result, args.seconds, work)
        table_rows = [] if args.no_targets else run_checks(actor, result.out_dir, result.vectors, model=result.model)
    arch = " -> ".join(str(n) for n in (actor.obs_dim, *actor.hidden_sizes, actor.act_dim))
    lines = [
        "# Export latency and targets",
        "",
        f"Command: `{command}`",
        "",
        f"Policy: {arch}, {actor.activation}; {'random weights' if not args.model_dir else portable(str(model_dir))}. "
        f"Machine: {platform.machine()}, {platform.processor() or platform.system()}, Python "
        f"{platform.python_version()}; "
        f"median of {REPEATS} timed loops of ~{args.seconds:g} s each.",
        "",
        f"| method | µs per action, batch 1 | µs per action, batch {N_OBS} |",
        "|---|---|---|",
    ]
    lines += [f"| {name} | {one:.2f} | {many:.3f} |" for name, one, many in rows]
    budget = result.manifest.get("int8_error_budget")
    if budget:
        lines += [
            "",
            f"int8 error on {budget['n_samples']} sampled observations: max {budget['measured_max']:.2e}, "
            f"rms {budget['measured_rms']:.2e}, p99 {budget['measured_p99']:.2e}; alone, the int8 weights cause "
            f"{budget['contributions']['weights']:.2e}, the input rounding {budget['contributions']['input']:.2e}, "
            f"the fixed-point activations {budget['contributions']['activations']:.2e} (budget: max "
            f"{budget['max_allowed']:g}, rms {budget['rms_allowed']:g}).",
        ]
    if table_rows:
        lines += [
            "",
            "## Targets (max abs error against the float64 reference on the test vectors)",
            "",
            format_table(table_rows),
        ]
    text = "\n".join(lines) + "\n"
    print(text)
    write_atomic(args.out, text)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
