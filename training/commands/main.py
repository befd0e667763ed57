"""The ``lunar`` command: its parser, assembled from one module per subcommand, and ``main``.

Each subcommand module defines its parser and imports what the work needs (numba kernels, torch,
stable-baselines3, Ray, pygame, cvxpy, onnx) only when the command runs, so ``lunar --help``
loads none of them. The command line is the top layer: it imports ``training``, ``agents`` and
``lunar_env``, and nothing imports it (tests/test_layers.py).
"""

from __future__ import annotations

import argparse
import os
import sys

from agents.export.cli import add_export_command
from training.commands.bench import add_bench_command
from training.commands.demo import add_demo_command
from training.commands.envs import add_envs_command
from training.commands.render import add_render_command
from training.commands.sweep import add_sweep_command
from training.commands.throughput import add_throughput_command
from training.commands.train import add_train_command


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lunar", description="Powered lunar landing at the lunar south pole.")
    sub = parser.add_subparsers(dest="command", required=True)
    for add_command in (add_envs_command, add_throughput_command, add_demo_command, add_bench_command,
                        add_train_command, add_sweep_command, add_export_command, add_render_command):
        add_command(sub)
    return parser


DEBUG_ENV = "LUNAR_DEBUG"  # set to 1 for the full traceback instead of the one-line error


def one_line(error: BaseException) -> str:
    """An error as one line: its message, or for an OSError the path and the reason."""
    if isinstance(error, OSError) and error.strerror:
        paths = " -> ".join(str(p) for p in (error.filename, error.filename2) if p is not None)
        return f"{paths}: {error.strerror}" if paths else error.strerror
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return "; ".join(lines) or type(error).__name__


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (ValueError, OSError) as error:  # bad input, or a file that cannot be read or written
        if os.environ.get(DEBUG_ENV, "") not in ("", "0"):
            raise
        print(f"lunar {args.command}: error: {one_line(error)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
