"""``lunar throughput``: env-steps per second beside Gymnasium's and EnvPool's LunarLander
(the measurement: lunar_env/throughput.py)."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_throughput_command(sub) -> None:
    p = sub.add_parser("throughput", help="measure env-steps per second beside Gymnasium's and EnvPool's LunarLander")
    p.add_argument("--sizes", type=int, nargs="+", default=[1, 64, 1024, 4096], help="batch sizes to measure")
    p.add_argument("--modes", nargs="+", default=["6dof", "3dof"], choices=["6dof", "3dof"])
    p.add_argument("--seconds", type=float, default=3.0, help="measuring time per configuration")
    p.add_argument("--scenarios", nargs="+", default=["nominal_flat", "nominal"],
                   help="scenarios to measure (flat ground, and the south-pole terrain with every sensor)")
    p.add_argument("--no-compile-time", action="store_true", help="skip measuring numba's first-call compile time")
    p.add_argument("--json", help="write the full report as JSON to this path")
    p.add_argument("--markdown", help="write the table as Markdown to this path")
    p.set_defaults(func=cmd_throughput)


def cmd_throughput(args: argparse.Namespace) -> int:
    from lunar_env import throughput
    from lunar_env.atomic import write_atomic
    from lunar_env.output_paths import check_output_file

    for option, path in (("--json", args.json), ("--markdown", args.markdown)):
        if path:
            check_output_file(path, option)
    print(f"measuring {args.seconds:g} s per configuration ...")
    report = throughput.run(sizes=tuple(args.sizes), seconds=args.seconds, modes=tuple(args.modes),
                            compile_time=not args.no_compile_time, scenarios=tuple(args.scenarios))
    table = throughput.format_markdown(report)
    print()
    print(table)
    if args.json:
        write_atomic(Path(args.json), throughput.main_json(report))
        print(f"\nwrote {args.json}")
    if args.markdown:
        write_atomic(Path(args.markdown), table + "\n")
        print(f"wrote {args.markdown}")
    return 0
