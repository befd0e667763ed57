"""What the renderer shows of one lander, without pygame: the state snapshot and the HUD's text.

:class:`LanderSnapshot` copies one lander of a :class:`lunar_env.simulator.LanderBatch` (state,
sensor validity and altimeter reading from the observation, active faults, touchdown metrics
from ``LanderBatch.episode_metrics``); :func:`hud_strings` and :func:`verdict` turn it into the
text the HUD and the end-of-episode banner draw. Importing this module never imports pygame.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from lunar_env.faults import fault_names
from lunar_env.physics import outcomes
from lunar_env.physics import state as S
from lunar_env.render.palette import BAD_COLOR, OK_COLOR, WARN_COLOR
from lunar_env.sensors import observation_slices

if TYPE_CHECKING:
    from lunar_env.render.shading import TerrainSampler

SENSOR_FIELDS = (("ALT", "altimeter_valid"), ("VEL", "velocimeter_valid"), ("POS", "position_fix_valid"))
"""HUD label and observation field of each sensor's validity flag."""

TOUCHDOWN_METRICS = ("touchdown_vertical_speed", "touchdown_horizontal_speed", "touchdown_tilt_deg",
                     "touchdown_angular_rate_dps", "touchdown_slope_deg", "miss_distance", "impact_speed")
"""The keys of ``LanderBatch.episode_metrics`` a snapshot keeps as its touchdown metrics."""

TOUCHDOWN_OUTCOMES = frozenset(range(outcomes.LANDED, outcomes.LANDED_OFF_TARGET + 1))
"""Outcomes that end on the ground: the HUD shows all touchdown metrics, not just the miss distance."""


def quaternion_matrix(q: np.ndarray) -> np.ndarray:
    """3x3 rotation body -> ENU of a unit quaternion [w, x, y, z]."""
    w, x, y, z = q
    return np.array([
        [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
        [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
        [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
    ])


@dataclass(frozen=True)
class LanderSnapshot:
    """What the renderer draws of one lander at one instant (copies, not views).

    Positions are ENU metres relative to the target site; ``ground_height_m`` is the terrain
    height under the lander on the same datum.
    """

    position: np.ndarray  # (3,) m
    velocity: np.ndarray  # (3,) m/s
    attitude: np.ndarray  # (4,) quaternion [w, x, y, z] body -> ENU
    angular_rate: np.ndarray  # (3,) rad/s, body
    mass_kg: float
    propellant_kg: float
    propellant_fraction: float  # of the lander's full load
    time_s: float
    steps: int
    episode: int
    outcome: int
    tile: int
    site: np.ndarray  # (3,) m, target site in tile coordinates
    throttle: np.ndarray  # (E,) actual throttle of each engine
    health: np.ndarray  # (E,) fraction of rated thrust each engine can give
    ground_height_m: float
    touchdown: dict  # TOUCHDOWN_METRICS name -> value (meaningful once the episode ended)
    sensors: dict  # SENSOR_FIELDS label ("ALT" / "VEL" / "POS") -> True (valid) or False (lost)
    altimeter_range_m: float  # the observation's altimeter reading, 0 when invalid
    fault_mask: int  # active-fault bitmask (bit k: lunar_env.faults.FAULT_NAMES[k])
    faults: tuple  # names of the active faults, () when none

    @classmethod
    def capture(cls, batch, index: int, sampler: TerrainSampler) -> LanderSnapshot:
        """Copy lander ``index`` of a LanderBatch; ``sampler`` reads the lander's terrain tile."""
        st = batch.state
        x = st.x[index]
        site = x[S.SITE_X:S.SITE_Z + 1].copy()
        position = x[S.PX:S.PZ + 1].copy()
        ground = float(sampler.heights(position[0] + site[0], position[1] + site[1])) - site[2]
        n = batch.num_engines
        capacity = batch.lander.propellant_capacity
        propellant = max(0.0, float(x[S.MASS]) - batch.lander.dry_mass)
        slices = observation_slices()
        obs = batch.obs[index]
        sensors = {label: bool(obs[slices[field]][0] > 0.5) for label, field in SENSOR_FIELDS}
        mask = int(st.active_faults[index])
        metrics = batch.episode_metrics(np.array([index]))
        return cls(
            position=position,
            velocity=x[S.VX:S.VZ + 1].copy(),
            attitude=x[S.QW:S.QZ + 1].copy(),
            angular_rate=x[S.WX:S.WZ + 1].copy(),
            mass_kg=float(x[S.MASS]),
            propellant_kg=propellant,
            propellant_fraction=propellant / capacity if capacity > 0 else 0.0,  # a lander may carry none
            time_s=float(x[S.TIME]),
            steps=int(st.flags[index, S.STEPS]),
            episode=int(st.flags[index, S.EPISODE]),
            outcome=int(st.flags[index, S.OUTCOME]),
            tile=int(st.flags[index, S.TILE]),
            site=site,
            throttle=x[S.THROTTLE:S.THROTTLE + n].copy(),
            health=x[S.HEALTH:S.HEALTH + n].copy(),
            ground_height_m=ground,
            touchdown={key: float(metrics[key][0]) for key in TOUCHDOWN_METRICS},
            sensors=sensors,
            altimeter_range_m=float(obs[slices["altimeter_range"]][0]),
            fault_mask=mask,
            faults=tuple(fault_names(mask)),
        )

    @property
    def altitude_m(self) -> float:
        """Height of the centre of mass above the terrain directly below (m), as observed."""
        return float(self.position[2] - self.ground_height_m)

    @property
    def horizontal_speed(self) -> float:
        return float(math.hypot(self.velocity[0], self.velocity[1]))

    @property
    def body_z(self) -> np.ndarray:
        """The body +z axis (thrust axis) in ENU."""
        return quaternion_matrix(self.attitude)[:, 2]

    @property
    def tilt_deg(self) -> float:
        return math.degrees(math.acos(min(1.0, max(-1.0, float(self.body_z[2])))))

    @property
    def distance_to_target(self) -> float:
        return float(math.hypot(self.position[0], self.position[1]))

    @property
    def ended(self) -> bool:
        return self.outcome != outcomes.IN_FLIGHT

    @property
    def outcome_name(self) -> str:
        return outcomes.outcome_name(self.outcome)


def verdict(outcome: int) -> tuple[str, tuple[int, int, int]]:
    """Banner text and colour of an outcome code."""
    name = outcomes.outcome_name(outcome)
    if outcome == outcomes.LANDED:
        return "LANDED", OK_COLOR
    if outcome in (outcomes.LANDED_OFF_TARGET, outcomes.TIME_LIMIT):
        return name.replace("_", " ").upper(), WARN_COLOR
    if name.startswith("crash_"):
        return "CRASH: " + name[len("crash_"):].replace("_", " "), BAD_COLOR
    return name.replace("_", " ").upper(), BAD_COLOR


def hud_strings(snap: LanderSnapshot) -> dict[str, str]:
    """The HUD's text, keyed by quantity; values carry their units.

    Keys: time, altitude, vertical_speed (positive up), horizontal_speed, tilt, distance
    (horizontal, to the target), propellant, throttle (per engine, %), sensors, altimeter,
    faults, outcome; once the episode has ended also verdict and touchdown (the touchdown
    metrics; for an episode that ended airborne only the miss distance).
    """
    sensors = "  ".join(f"{label} {'ok' if valid else 'LOST'}" for label, valid in snap.sensors.items())
    strings = {
        "time": f"{snap.time_s:.1f} s",
        "altitude": f"{snap.altitude_m:.1f} m",
        "vertical_speed": f"{snap.velocity[2]:+.2f} m/s",
        "horizontal_speed": f"{snap.horizontal_speed:.2f} m/s",
        "tilt": f"{snap.tilt_deg:.1f}°",
        "distance": f"{snap.distance_to_target:.1f} m",
        "propellant": f"{snap.propellant_kg:.1f} kg ({100.0 * snap.propellant_fraction:.0f}%)",
        "throttle": " ".join(f"{100.0 * t:.0f}" for t in snap.throttle) + " %",
        "sensors": sensors,
        "altimeter": f"{snap.altimeter_range_m:.1f} m" if snap.sensors["ALT"] else "no return",
        "faults": ", ".join(snap.faults) if snap.faults else "none",
        "outcome": snap.outcome_name,
    }
    if snap.ended:
        strings["verdict"] = verdict(snap.outcome)[0]
        td = snap.touchdown
        if snap.outcome in TOUCHDOWN_OUTCOMES:
            strings["touchdown"] = (f"v {td['touchdown_vertical_speed']:.2f} m/s  "
                                    f"h {td['touchdown_horizontal_speed']:.2f} m/s  "
                                    f"tilt {td['touchdown_tilt_deg']:.1f}°  slope {td['touchdown_slope_deg']:.1f}°  "
                                    f"miss {td['miss_distance']:.1f} m")
        else:
            strings["touchdown"] = f"miss {td['miss_distance']:.1f} m"
    return strings
