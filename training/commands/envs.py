"""``lunar envs``: the registered environments, scenarios and lander presets."""

from __future__ import annotations

import argparse


def add_envs_command(sub) -> None:
    p = sub.add_parser("envs", help="list the registered environments, scenarios and lander presets")
    p.set_defaults(func=cmd_envs)


def cmd_envs(args: argparse.Namespace) -> int:
    import lunar_env
    from lunar_env.landers import LANDERS
    from lunar_env.scenarios import SCENARIOS

    print("environments:")
    for env_id, mode in lunar_env.ENV_IDS.items():
        print(f"  {env_id:32s} {mode}")
    print("scenarios:")
    for name, make in SCENARIOS.items():
        print(f"  {name:32s} {make().description}")
    print("landers:")
    for name, spec in LANDERS.items():
        print(f"  {name:32s} {spec.description}")
    return 0
