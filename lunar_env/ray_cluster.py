"""Connecting to a Ray cluster, or starting a local one, with clear errors.

Shared by the sharded benchmark (``lunar_env/evaluation/ray_backend.py``), multi-seed training
and sweeps. Ray is an optional extra (``pip install "lunar-env[ray]"``) and is imported only
when a function here runs: ``import lunar_env`` never imports it. docs/scaling.md shows cluster use.
"""

from __future__ import annotations

import logging
import os

RAY_EXTRA_HINT = 'pip install "lunar-env[ray]"'
CONNECT_TIMEOUT_S = 5.0  # s; a cluster address that does not answer within this is reported at once


def require_ray(feature: str = "the Ray backend"):
    """The ``ray`` module, or a ValueError naming the extra to install."""
    try:
        import ray
    except ImportError:
        raise ValueError(f"{feature} needs Ray, an optional extra: {RAY_EXTRA_HINT}") from None
    return ray


def init_ray(address: str | None = None, num_cpus: int | None = None, feature: str = "the Ray backend"):
    """Connect to the Ray cluster at ``address`` (None: the ``RAY_ADDRESS`` environment variable,
    as Ray reads it), or start a local instance with ``num_cpus`` CPUs (default: all of the
    machine's cores). A Ray instance this process already runs is reused as it is. Returns the
    ``ray`` module; the instance stays up for later calls (``ray.shutdown()`` ends it, and so
    does the end of the process)."""
    ray = require_ray(feature)
    if ray.is_initialized():
        return ray
    address = address or os.environ.get("RAY_ADDRESS") or None
    quiet = dict(logging_level=logging.ERROR, log_to_driver=False, configure_logging=True)
    if address:
        check_reachable(address)
    try:
        if address:
            ray.init(address=address, **quiet)
        else:
            # "local": a new instance, even when `ray start` left a cluster record on this machine
            ray.init(address="local", num_cpus=num_cpus or os.cpu_count() or 1, include_dashboard=False, **quiet)
    except ConnectionError as err:
        raise ValueError(f"cannot connect to the Ray cluster at {address!r} ({err}). Is it running (`ray start "
                         "--head` prints its address)? A cluster with token authentication also needs "
                         "RAY_AUTH_MODE=token and its token here (docs/scaling.md)") from None
    return ray


def check_reachable(address: str) -> None:
    """Fail fast, with a clear message, when ``host:port`` does not accept connections (Ray itself
    retries an unreachable head for minutes). ``auto`` and URL-style addresses are left to Ray."""
    import socket

    if address == "auto" or "://" in address:
        return
    host, sep, port = address.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise ValueError(f"--address must be HOST:PORT (the head's address, port 6379 by default) or 'auto', "
                         f"got {address!r}")
    try:
        socket.create_connection((host, int(port)), timeout=CONNECT_TIMEOUT_S).close()
    except OSError as err:
        raise ValueError(f"cannot reach the Ray cluster at {address} ({err}); start its head with `ray start --head` "
                         "and pass the address it prints") from None
