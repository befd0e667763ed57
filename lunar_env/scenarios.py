"""Named scenarios: documented distributions of initial state, lander, terrain and sensors.

``gymnasium.make("lunar_env/SouthPole-v0", scenario="nominal")`` selects one by name;
``lunar envs`` lists them. A :class:`~lunar_env.config.Scenario` object can be passed instead
of a name, and ``lander="apollo_lm"`` swaps the lander of a named scenario.

``FAULT_SCENARIOS`` are the nominal approach with one sensor failure or fault from a real
landing (IM-1, Hakuto-R, Resilience, SLIM, Vikram) or a denied navigation; docs/sensors.md
tells their stories.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from lunar_env.config import InitialStateSpec, LanderSpec, Scenario, SensorSpec
from lunar_env.faults import FaultOnset, FaultSpec
from lunar_env.landers import APOLLO_LM_LIKE, DEFAULT_LANDER, get_lander
from lunar_env.terrain.spec import TerrainSpec


def _nominal_flat() -> Scenario:
    return Scenario(
        name="nominal_flat",
        description="The nominal approach over flat ground: 1.5-2.5 km up, 0.5-2 km downrange, "
        "+-0.5 km crossrange, 10-40 m/s toward the site, sinking 10-30 m/s (quick experiments).",
        lander=DEFAULT_LANDER,
        initial=InitialStateSpec(),
    )


# The landing zone a mission would pick: 15 m around the site clear of slopes over 10 deg and
# rocks over 0.5 m, so a landing within the navigation error of the site is safe; a lightly
# cratered surface (100 craters > 10 m per km^2) with 5% rock cover, the low end of
# Golombek's 5-40% (REFERENCE.md).
SAFE_ZONE_TERRAIN = TerrainSpec(footprint_radius_m=15.0, crater_density_per_km2=100.0, rock_abundance=0.05,
                                max_rock_height_m=0.5)


def _nominal() -> Scenario:
    return dataclasses.replace(
        _nominal_flat(), name="nominal", terrain=SAFE_ZONE_TERRAIN,
        description="Terminal descent toward a lit, safe south-pole site on a massif among craters and "
        "boulders, sun 1.5 deg up: 1.5-2.5 km up, 0.5-2 km downrange, +-0.5 km crossrange, "
        "10-40 m/s toward the site, sinking 10-30 m/s.")


def _shadowed_site() -> Scenario:
    return dataclasses.replace(
        _nominal(), name="shadowed_site", terrain=dataclasses.replace(SAFE_ZONE_TERRAIN, site_lighting="shadowed"),
        description="Navigation denied: the site lies in a long shadow, so terrain-relative navigation "
        "stops fixing the position once the ground below is dark; the error then grows from IMU drift.")


def _rim_crossing() -> Scenario:
    return dataclasses.replace(
        _nominal(),
        name="rim_crossing",
        terrain=dataclasses.replace(SAFE_ZONE_TERRAIN, site_policy="near_rim", rim_bearing_deg=0.0),
        initial=InitialStateSpec(approach_azimuth_deg=(170.0, 190.0)),
        description="The approach from the north crosses the rim of a fresh 2 km crater about 300 m "
        "before the site: the altimeter reading jumps by hundreds of metres over the rim.")


def _steep_massif() -> Scenario:
    return dataclasses.replace(
        _nominal(), name="steep_massif",
        terrain=dataclasses.replace(SAFE_ZONE_TERRAIN, massif_height_m=1500.0, massif_radius_m=2500.0,
                                    regional_slope_deg=3.0, site_attempts=64),
        description="A safe site on a steep, narrow massif (1.5 km high, 2.5 km radius): the ground "
        "falls away fast around the site and the altitude below the lander changes quickly.")


def _nominal_apollo() -> Scenario:
    return dataclasses.replace(_nominal_flat(), name="nominal_apollo", lander=APOLLO_LM_LIKE,
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


# --- sensor failures and faults from real landings (lunar_env/faults.py, docs/sensors.md) ------------
def _with_faults(name: str, description: str, faults: FaultSpec, sensors: SensorSpec | None = None) -> Scenario:
    """The nominal approach with faults (and optionally other sensors)."""
    return dataclasses.replace(_nominal(), name=name, description=description, faults=faults,
                               sensors=sensors if sensors is not None else SensorSpec())


ALWAYS = 1.0  # probability of a fault that every episode of its scenario has
FROM_THE_START = FaultOnset(ALWAYS, "time", (0.0, 0.0))


def _altimeter_dead() -> Scenario:
    return _with_faults(
        "altimeter_dead",
        "IM-1 Odysseus: the laser altimeter never returns (a safety switch left on); the altitude "
        "estimate is the hand-over altitude dead-reckoned down.",
        FaultSpec(altimeter_dead=FROM_THE_START),
    )


def _altimeter_rim_jump() -> Scenario:
    return _with_faults(
        "altimeter_rim_jump",
        "Hakuto-R M1: 10-30 s in, a crater rim opens a 3 km gap between the altitude estimate and the "
        "altimeter; the 100 m innovation gate rejects every later sample, as the flight software did. "
        "Raise SensorSpec.altimeter_gate_m above 3 km or set altimeter_reacquire_samples > 0 to accept it.",
        FaultSpec(altimeter_rim_jump=FaultOnset(ALWAYS, "time", (10.0, 30.0))),
        SensorSpec(altimeter_reacquire_samples=0),
    )


def _altimeter_late() -> Scenario:
    return _with_faults(
        "altimeter_late",
        "ispace Resilience: valid laser-altimeter returns begin only 100-300 m above the ground; until "
        "then the altitude estimate is the hand-over altitude dead-reckoned down.",
        FaultSpec(altimeter_late=FROM_THE_START, late_valid_altitude_m=(100.0, 300.0)),
    )


def _thrust_loss() -> Scenario:
    return _with_faults(
        "thrust_loss",
        "SLIM: 40-60 m above the ground the engines lose thrust down to 55% (SLIM lost a nozzle at ~50 m).",
        FaultSpec(thrust_loss=FaultOnset(ALWAYS, "altitude", (40.0, 60.0)), thrust_fraction=(0.55, 0.55)),
    )


def _engine_out() -> Scenario:
    return _with_faults(
        "engine_out",
        "Chandrayaan-3 Vikram: one of the four main engines stops somewhere between 1500 m and 100 m "
        "above the ground (Vikram needed at least two of four to land).",
        FaultSpec(engine_out=FaultOnset(ALWAYS, "altitude", (100.0, 1500.0))),
    )


def _imu_bias_jump() -> Scenario:
    return _with_faults(
        "imu_bias_jump",
        "10-60 s in, the gyro bias steps by 100 deg/h and the accelerometer bias by 5 milli-g, each in "
        "a random direction (est. sizes of a sensor upset).",
        FaultSpec(imu_bias_jump=FaultOnset(ALWAYS, "time", (10.0, 60.0))),
    )


SCENARIOS: dict[str, Callable[[], Scenario]] = {
    "nominal": _nominal,
    "nominal_flat": _nominal_flat,
    "shadowed_site": _shadowed_site,
    "rim_crossing": _rim_crossing,
    "steep_massif": _steep_massif,
    "nominal_apollo": _nominal_apollo,
    "hover_start": _hover_start,
    "altimeter_dead": _altimeter_dead,
    "altimeter_rim_jump": _altimeter_rim_jump,
    "altimeter_late": _altimeter_late,
    "thrust_loss": _thrust_loss,
    "engine_out": _engine_out,
    "imu_bias_jump": _imu_bias_jump,
}
FAULT_SCENARIOS = ("altimeter_dead", "altimeter_rim_jump", "altimeter_late", "thrust_loss", "engine_out",
                   "imu_bias_jump")
"""The scenarios of sensor failures and faults, each the nominal approach with one change."""
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
