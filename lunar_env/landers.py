"""Lander presets with sourced numbers (see docs/physics.md for the full table).

Figures marked (est.) are reasoned estimates where no public figure exists; the rest come
from the sources named beside them.

The default is the Vikram-like lander: it is the lander that landed nearest the south pole
(Chandrayaan-3, 69.37 S, 2023), its touchdown limits are published, and its four throttled
engines make engine-out faults and differential-throttle attitude control real problems.
"""

from __future__ import annotations

import math

from lunar_env.config import EngineSpec, LanderSpec


def _ring(
    radius_m: float, height_m: float, count: int, phase_deg: float = 0.0
) -> tuple[tuple[float, float, float], ...]:
    """``count`` points evenly spaced on a horizontal circle of the body frame."""
    points = []
    for k in range(count):
        angle = math.radians(phase_deg + 360.0 * k / count)
        points.append((radius_m * math.cos(angle), radius_m * math.sin(angle), height_m))
    return tuple(points)


# --- Vikram-like (Chandrayaan-3 lander module) -------------------------------------------
VIKRAM_ENGINE_THRUST_N = 800.0  # each of 4 throttleable main engines (ISRO)
VIKRAM_ENGINE_MIN_THROTTLE = 0.4  # (est.) deep-throttling range of the 800 N engines
VIKRAM_ENGINE_ISP_S = 300.0  # (est.) MMH/MON3 pressure-fed bipropellant engine
VIKRAM_ENGINE_RADIUS_M = 0.6  # (est.) engines on a ring around the body axis
VIKRAM_ENGINE_HEIGHT_M = -0.9  # (est.) nozzle exits below the centre of mass
VIKRAM_DRY_MASS_KG = 1000.0  # (est.) 1752 kg wet at separation (ISRO) less propellant
VIKRAM_PROPELLANT_KG = 250.0  # (est.) left at the start of terminal descent, about 2 km up
VIKRAM_INERTIA_DRY_KGM2 = (450.0, 450.0, 670.0)  # (est.) 2.0 x 2.0 x 1.2 m box of 1000 kg
VIKRAM_ATTITUDE_THRUSTER_N = 58.0  # 8 attitude thrusters of 58 N (ISRO)
VIKRAM_RCS_LEVER_ARM_M = 1.0  # (est.) thruster distance from the centre of mass
VIKRAM_RCS_ISP_S = 250.0  # (est.) small bipropellant thrusters
VIKRAM_FOOT_RADIUS_M = 1.8  # (est.) four legs
VIKRAM_FOOT_HEIGHT_M = -1.5  # (est.) feet below the centre of mass

VIKRAM_LIKE = LanderSpec(
    name="vikram",
    description="Chandrayaan-3 Vikram-like: 4 x 800 N throttleable engines, 8 x 58 N attitude thrusters",
    dry_mass_kg=VIKRAM_DRY_MASS_KG,
    propellant_mass_kg=VIKRAM_PROPELLANT_KG,
    inertia_dry_kgm2=VIKRAM_INERTIA_DRY_KGM2,
    engines=tuple(
        EngineSpec(
            position_m=p,
            direction=(0.0, 0.0, 1.0),
            max_thrust_n=VIKRAM_ENGINE_THRUST_N,
            min_throttle=VIKRAM_ENGINE_MIN_THROTTLE,
            isp_s=VIKRAM_ENGINE_ISP_S,
        )
        for p in _ring(VIKRAM_ENGINE_RADIUS_M, VIKRAM_ENGINE_HEIGHT_M, 4)
    ),
    throttle_time_constant_s=0.2,  # (est.)
    # Two thrusters form a couple about each axis.
    rcs_max_torque_nm=(2 * VIKRAM_ATTITUDE_THRUSTER_N * VIKRAM_RCS_LEVER_ARM_M,) * 3,
    rcs_isp_s=VIKRAM_RCS_ISP_S,
    rcs_lever_arm_m=VIKRAM_RCS_LEVER_ARM_M,
    leg_feet_m=_ring(VIKRAM_FOOT_RADIUS_M, VIKRAM_FOOT_HEIGHT_M, 4, phase_deg=45.0),
    max_slew_rate_dps=10.0,  # (est.)
    max_vertical_speed_mps=2.0,  # ISRO touchdown requirement (legs rated to 3 m/s)
    max_horizontal_speed_mps=0.5,  # ISRO
    max_tilt_deg=10.0,  # (est.)
    max_angular_rate_dps=5.0,  # (est.)
    max_slope_deg=12.0,  # ISRO
)

# --- Apollo LM-like ----------------------------------------------------------------------
LM_DESCENT_ENGINE_THRUST_N = 47_000.0  # DPS maximum thrust (Klumpp 1974)
LM_DESCENT_MIN_THROTTLE = 0.10  # DPS throttled 10-60% or full; the avoided 60-92% band is not modelled
LM_DESCENT_ISP_S = 311.0  # at full thrust (Klumpp 1974); 285 s at 10% not modelled
LM_DRY_MASS_KG = 6800.0  # (est.) ascent stage wet plus descent stage dry
LM_PROPELLANT_KG = 1500.0  # (est.) descent propellant left near high gate
LM_INERTIA_DRY_KGM2 = (22_000.0, 22_000.0, 25_000.0)  # (est.)
LM_RCS_THRUSTER_N = 445.0  # 16 x 445 N reaction-control thrusters
LM_RCS_LEVER_ARM_M = 1.7  # (est.)
LM_RCS_ISP_S = 290.0  # (est.)
LM_FOOT_RADIUS_M = 4.5  # (est.) footpads of the four-legged gear
LM_FOOT_HEIGHT_M = -3.2  # (est.)

APOLLO_LM_LIKE = LanderSpec(
    name="apollo_lm",
    description="Apollo Lunar Module-like: one 47 kN throttleable descent engine, 10-100% throttle",
    dry_mass_kg=LM_DRY_MASS_KG,
    propellant_mass_kg=LM_PROPELLANT_KG,
    inertia_dry_kgm2=LM_INERTIA_DRY_KGM2,
    engines=(
        EngineSpec(
            position_m=(0.0, 0.0, -1.5),
            direction=(0.0, 0.0, 1.0),
            max_thrust_n=LM_DESCENT_ENGINE_THRUST_N,
            min_throttle=LM_DESCENT_MIN_THROTTLE,
            isp_s=LM_DESCENT_ISP_S,
        ),
    ),
    throttle_time_constant_s=0.3,  # (est.)
    rcs_max_torque_nm=(2 * LM_RCS_THRUSTER_N * LM_RCS_LEVER_ARM_M,) * 3,
    rcs_isp_s=LM_RCS_ISP_S,
    rcs_lever_arm_m=LM_RCS_LEVER_ARM_M,
    leg_feet_m=_ring(LM_FOOT_RADIUS_M, LM_FOOT_HEIGHT_M, 4, phase_deg=45.0),
    max_slew_rate_dps=10.0,  # (est.)
    max_vertical_speed_mps=3.0,  # (est., NASA TN D-6850)
    max_horizontal_speed_mps=1.2,  # (est., NASA TN D-6850)
    max_tilt_deg=12.0,  # Apollo 15 rested 11 deg tilted against a 12 deg limit
    max_angular_rate_dps=5.0,  # (est.)
    max_slope_deg=12.0,
)

LANDERS: dict[str, LanderSpec] = {spec.name: spec for spec in (VIKRAM_LIKE, APOLLO_LM_LIKE)}
DEFAULT_LANDER = VIKRAM_LIKE


def get_lander(name: str) -> LanderSpec:
    """A lander preset by name; raises ValueError listing the names when unknown."""
    try:
        return LANDERS[name]
    except KeyError:
        raise ValueError(f"unknown lander {name!r}; choose one of {sorted(LANDERS)}") from None
