"""Deprecated alias, kept for one release (see ``lunar_env/benchmark/__init__.py``): the Ray
connection helpers are ``lunar_env.ray_cluster``, the sharded flights
``lunar_env.evaluation.ray_backend`` (a policy as a function ``batch -> Policy``) and
``agents.bench_runner.fly_scenario_ray`` (a policy by name or path)."""

from lunar_env.evaluation.ray_backend import (  # noqa: F401
    DEFAULT_MAX_RETRIES,
    MIN_AUTO_SHARD_SIZE,
    SHARDS_PER_CPU,
    auto_shard_size,
    fly_scenario_ray,
    merge_shards,
    shard_ranges,
    shard_task,
)
from lunar_env.ray_cluster import (  # noqa: F401
    CONNECT_TIMEOUT_S,
    RAY_EXTRA_HINT,
    check_reachable,
    init_ray,
    require_ray,
)
