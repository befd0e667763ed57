"""Named scenarios: documented distributions of initial state, lander, terrain and sensors.

``gymnasium.make("lunar_env/SouthPole-v0", scenario="nominal")`` selects one by name;
``lunar envs`` lists them. A :class:`~lunar_env.config.Scenario` object can be passed instead
of a name, and ``lander="apollo_lm"`` swaps the lander of a named scenario.
"""

from __future__ import annotations

import dataclasses
from typing import Callable

from lunar_env.config import InitialStateSpec, LanderSpec, Scenario
from lunar_env.landers import APOLLO_LM_LIKE, DEFAULT_LANDER, get_lander


def _nominal() -> Scenario:
    return Scenario(
        name="nominal",
        description="Terminal descent toward a south-pole site: 1.5-2.5 km up, 0.5-2 km downrange, "
        "+-0.5 km crossrange, 10-40 m/s toward the site, sinking 10-30 m/s.",
        lander=DEFAULT_LANDER,
        initial=InitialStateSpec(),
    )


def _nominal_apollo() -> Scenario:
    return dataclasses.replace(_nominal(), name="nominal_apollo", lander=APOLLO_LM_LIKE,
                               description="The nominal approach flown by the Apollo LM-like lander.")


def _hover_start() -> Scenario:
    return Scenario(
        name="hover_start",
        description="A short, easy final descent: 100-200 m up almost above the site, slow; "
        "for quick experiments and smoke tests.",
        lander=DEFAULT_LANDER,
        initial=InitialStateSpec(altitude_m=(100.0, 200.0), downrange_m=(0.0, 50.0), crossrange_m=(-20.0, 20.0),
                                 approach_speed_mps=(0.0, 3.0), crossrange_speed_mps=(-1.0, 1.0),
                                 descent_rate_mps=(2.0, 6.0), tilt_deg=(0.0, 2.0)),
        time_limit_s=120.0,
    )


SCENARIOS: dict[str, Callable[[], Scenario]] = {
    "nominal": _nominal,
    "nominal_apollo": _nominal_apollo,
    "hover_start": _hover_start,
}
DEFAULT_SCENARIO = "nominal"


def get_scenario(scenario: str | Scenario = DEFAULT_SCENARIO, lander: str | LanderSpec | None = None) -> Scenario:
    """Resolve a scenario name (or pass a Scenario through), optionally with another lander."""
    if isinstance(scenario, Scenario):
        resolved = scenario
    elif isinstance(scenario, str):
        if scenario not in SCENARIOS:
            raise ValueError(f"unknown scenario {scenario!r}; choose one of {sorted(SCENARIOS)}")
        resolved = SCENARIOS[scenario]()
    else:
        raise ValueError(f"scenario must be a name or a Scenario, got {type(scenario).__name__}")
    if lander is not None:
        spec = get_lander(lander) if isinstance(lander, str) else lander
        if not isinstance(spec, LanderSpec):
            raise ValueError(f"lander must be a preset name or a LanderSpec, got {type(lander).__name__}")
        resolved = dataclasses.replace(resolved, lander=spec)
    return resolved
