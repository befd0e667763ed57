"""The fuel-optimal propellant of benchmark episodes, from the convex reference."""

from __future__ import annotations

import numpy as np

from agents.convex_reference import from_lander, optimal_propellant
from lunar_env.scenarios import get_scenario


def scenario_optimum(
    scenario: str, r0: np.ndarray, v0: np.ndarray, m0: np.ndarray, progress: bool = True
) -> np.ndarray:
    """Minimum propellant (kg) to land from each true initial state of a scenario's episodes.

    r0, v0: (k, 3) position and velocity relative to the target (m, m/s); m0: (k,) mass (kg).
    NaN where no landing is possible (too little propellant, or already at the dry mass).
    """
    spec = get_scenario(scenario).lander
    problem = from_lander(spec)
    m0 = np.asarray(m0, dtype=np.float64)
    out = np.full(len(m0), np.nan)
    usable = m0 > spec.dry_mass_kg + 1e-6
    if usable.any():
        out[usable] = optimal_propellant(
            problem, np.asarray(r0)[usable], np.asarray(v0)[usable], masses=m0[usable], progress=progress
        )
    return out
