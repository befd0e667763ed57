"""Deprecated: the evaluation protocol is now ``lunar_env.evaluation`` (and the throughput
measurement ``lunar_env.throughput``). This alias package, kept for one release, warns once and
hands out the new modules under the old names; ``lunar bench`` is ``training/commands/bench.py``
and ``run_bench`` is ``agents.bench_runner.run_bench``."""

import warnings

warnings.warn("lunar_env.benchmark is deprecated and will be removed in the next release; import "
              "lunar_env.evaluation (suite, report, stats, ray_backend), lunar_env.ray_cluster or "
              "lunar_env.throughput instead", DeprecationWarning, stacklevel=2)
