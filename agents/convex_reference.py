"""Fuel-optimal 3-DOF powered descent by lossless convexification: the propellant reference.

Every landing policy's propellant is compared against the optimum of the problem solved here,
the G-FOLD formulation of Acikmese and Ploen (JGCD 30(5), 2007), Blackmore, Acikmese and
Scharf (JGCD 33(4), 2010) and Acikmese, Carson and Blackmore (IEEE TCST 21(6), 2013):

    minimise   m(0) - m(tf)          over the thrust T(t) and, when free, tf
    subject to r'' = T / m + g,      m' = -|T| / (Isp g0)
               rho1 <= |T| <= rho2                       (engines stay lit)
               T_z >= |T| cos(theta)                      (thrust pointing cone)
               r_z - h_f >= tan(gamma) |r_h|              (glide-slope cone above the target)
               r(0), v(0), m(0) given;  r(tf) = (0, 0, h_f),  v(tf) = 0;  m(tf) >= m_dry

The change of variables sigma = Gamma / m, u = T / m, z = ln m turns it into a second-order
cone programme: |u| <= sigma replaces |T| = Gamma (lossless: the optimum has |u| = sigma), the
mass equation becomes z' = -sigma / (Isp g0), and the thrust bounds rho1 e^-z <= sigma <=
rho2 e^-z are replaced by their Taylor expansions about z0(t) = ln(m_wet - rho2 t / (Isp g0)),
second order below (a cone) and first order above (a half-space). Both expansions are
conservative for z >= z0(t): wherever |u| = sigma, the thrust in newtons |u| e^z stays inside
[rho1, rho2]. Where the discrete relaxation is not tight (|u| < sigma at a few nodes, possible
when the optimum would rather thrust less than rho1), the solution is repaired into one that is
(``_Programme.tighten``), and ``ConvexSolution.relaxed_propellant_kg`` keeps the relaxed optimum.

Discretisation: first-order hold. u and sigma are linear between N equally spaced nodes and
the dynamics between nodes are integrated exactly (the velocity gains the trapezoid of u, the
position the exact double integral of a linear ramp), so the discrete trajectory is a real
trajectory of the point mass; the constraints are imposed at the nodes.

Free final time: the optimal propellant is searched over tf between the rigorous bounds of
:func:`final_time_bounds` (a scan for a feasible bracket, then golden-section search, assuming
propellant is unimodal in tf as Blackmore et al. observed).

cvxpy (with the Clarabel solver) is imported lazily: it belongs to the optional ``bench``
extra. Positions are East-North-Up metres relative to the target site, as in the simulator.
See docs/convex_reference.md for the equations, the search and the differences from the
simulator.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import time
import warnings
from dataclasses import dataclass

import numpy as np

from lunar_env.checks import check_int, check_range, check_vector
from lunar_env.config import LanderSpec, RewardSpec
from lunar_env.constants import LUNAR_GRAVITY_MPS2, STANDARD_GRAVITY_MPS2

SOLVER = "CLARABEL"
"""The conic solver (interior point, handles second-order cones and certifies infeasibility)."""

DEFAULT_NUM_NODES = 40
"""Time nodes of the discretisation: 39 first-order-hold intervals."""

DEFAULT_GLIDE_SLOPE_DEG = RewardSpec().glide_slope_deg
"""Glide-slope cone of :func:`from_lander` (deg above the horizon): the cone the reward asks for."""

DEFAULT_MAX_POINTING_DEG = 90.0
"""Pointing cone of :func:`from_lander` (deg from vertical): thrust never pushes downward."""

DEFAULT_TF_TOLERANCE_S = 0.1
"""Width (s) of the final-time bracket at which the golden-section search stops."""

SCAN_CELLS = (8, 16, 32)
"""Grids of the feasibility scan: tf at k / cells of the bound interval, each finer grid only
tried when the coarser one found no feasible tf (31 solves at most)."""

GLIDE_SLOPE_START_TOLERANCE_M = 1e-6
"""How far (m) the start may lie outside the glide-slope cone and still count as inside."""

LOSSLESS_GAP_TOLERANCE = 1e-6
"""Relative gap (sigma - |u|) / sigma above which the solution is polished toward |u| = sigma."""

POLISH_Z_SLACK = 1e-8
"""Final log-mass the polish may give up (1e-8 of the final mass, about 1e-5 kg per tonne)."""

LOCK_MARGIN = 1e-5
"""A node whose thrust direction is fixed keeps |u| >= (1 - LOCK_MARGIN) sigma (a margin keeps
the cone intersection with an interior, which interior-point solvers need)."""

MAX_REPAIR_ROUNDS = 5
"""Most restricted solves spent making a solution lossless (each locks the nodes still loose)."""

INVERSE_GOLDEN_RATIO = (math.sqrt(5.0) - 1.0) / 2.0

_OPTIMAL_STATUSES = ("optimal", "optimal_inaccurate")


def _require_cvxpy():
    """The cvxpy module, with a clear error when it or the Clarabel solver is missing."""
    try:
        import cvxpy as cp
    except ImportError:
        raise ValueError("the convex reference needs cvxpy and clarabel: pip install -e '.[bench]'") from None
    if SOLVER not in cp.installed_solvers():
        raise ValueError(f"the convex reference needs the {SOLVER} solver in cvxpy (installed: "
                         f"{cp.installed_solvers()}): pip install -e '.[bench]'")
    return cp


@dataclass(frozen=True)
class ConvexProblem:
    """The vehicle and constraints of the 3-DOF powered-descent problem.

    Attributes:
        wet_mass_kg: mass at the start (kg).
        dry_mass_kg: mass with empty tanks (kg); the lander may not go below it.
        min_thrust_n: smallest thrust magnitude while the engines are lit (N); they stay lit.
        max_thrust_n: largest thrust magnitude (N).
        isp_s: specific impulse (s); mass flow is |T| / (isp_s g0).
        glide_slope_deg: the lander stays inside the cone of this elevation (deg above the
            horizon) with its apex at the touchdown point; 0 keeps it above the ground plane only.
        max_pointing_deg: largest angle of the thrust from vertical (deg).
        final_pointing_deg: largest angle of the thrust from vertical at touchdown (deg),
            None for ``max_pointing_deg``; the simulator's touchdown tilt limit.
        num_nodes: time nodes N of the discretisation (N - 1 intervals).
        gravity_mps2: gravitational acceleration, downward (m/s^2).
        final_height_m: height of the centre of mass above the target at touchdown (m): the
            simulator's positions are those of the centre of mass, which stops this high
            above flat ground when the feet touch.
    """

    wet_mass_kg: float
    dry_mass_kg: float
    min_thrust_n: float
    max_thrust_n: float
    isp_s: float
    glide_slope_deg: float = DEFAULT_GLIDE_SLOPE_DEG
    max_pointing_deg: float = DEFAULT_MAX_POINTING_DEG
    final_pointing_deg: float | None = None
    num_nodes: int = DEFAULT_NUM_NODES
    gravity_mps2: float = LUNAR_GRAVITY_MPS2
    final_height_m: float = 0.0

    def __post_init__(self) -> None:
        owner = "ConvexProblem"
        set_ = functools.partial(object.__setattr__, self)
        set_("wet_mass_kg", check_range(owner, "wet_mass_kg", self.wet_mass_kg, 0.0, 1e7, low_open=True))
        set_("dry_mass_kg", check_range(owner, "dry_mass_kg", self.dry_mass_kg, 0.0, 1e7, low_open=True))
        if self.dry_mass_kg >= self.wet_mass_kg:
            raise ValueError(f"ConvexProblem.dry_mass_kg ({self.dry_mass_kg:g}) must be below "
                             f"wet_mass_kg ({self.wet_mass_kg:g}): there is no propellant")
        set_("min_thrust_n", check_range(owner, "min_thrust_n", self.min_thrust_n, 0.0, 1e9))
        set_("max_thrust_n", check_range(owner, "max_thrust_n", self.max_thrust_n, 0.0, 1e9, low_open=True))
        if self.min_thrust_n > self.max_thrust_n:
            raise ValueError(f"ConvexProblem.min_thrust_n ({self.min_thrust_n:g} N) must not exceed "
                             f"max_thrust_n ({self.max_thrust_n:g} N)")
        set_("isp_s", check_range(owner, "isp_s", self.isp_s, 0.0, 1e4, low_open=True))
        set_("glide_slope_deg", check_range(owner, "glide_slope_deg", self.glide_slope_deg, 0.0, 90.0, high_open=True))
        set_("max_pointing_deg", check_range(owner, "max_pointing_deg", self.max_pointing_deg, 0.0, 180.0))
        final = self.max_pointing_deg if self.final_pointing_deg is None else self.final_pointing_deg
        set_("final_pointing_deg", check_range(owner, "final_pointing_deg", final, 0.0, 180.0))
        set_("num_nodes", check_int("ConvexProblem", "num_nodes", self.num_nodes, 3, 2000))
        set_("gravity_mps2", check_range(owner, "gravity_mps2", self.gravity_mps2, 0.0, 100.0, low_open=True))
        set_("final_height_m", check_range(owner, "final_height_m", self.final_height_m, 0.0, 1e4))

    @property
    def exhaust_speed_mps(self) -> float:
        """Effective exhaust speed Isp g0 (m/s)."""
        return self.isp_s * STANDARD_GRAVITY_MPS2

    @property
    def flow_per_thrust(self) -> float:
        """Mass flow per newton of thrust, alpha = 1 / (Isp g0) (kg/s/N)."""
        return 1.0 / self.exhaust_speed_mps

    @property
    def propellant_kg(self) -> float:
        """Propellant on board at the start (kg)."""
        return self.wet_mass_kg - self.dry_mass_kg


def from_lander(
    lander: LanderSpec,
    *,
    wet_mass_kg: float | None = None,
    glide_slope_deg: float = DEFAULT_GLIDE_SLOPE_DEG,
    max_pointing_deg: float = DEFAULT_MAX_POINTING_DEG,
    num_nodes: int = DEFAULT_NUM_NODES,
    gravity_mps2: float = LUNAR_GRAVITY_MPS2,
) -> ConvexProblem:
    """The problem the simulator's 3-DOF mode flies with this lander.

    The 3-DOF simulator points the summed thrust of all engines along the body axis and holds
    its magnitude between the sum of the engines' minimum thrusts and the sum of their maximum
    thrusts (``lander_params.min_axial_thrust`` / ``max_axial_thrust``), with mass flow at the
    engines' thrust-weighted specific impulse. The touchdown point is the centre-of-mass
    height at which the feet touch flat ground, and the thrust at touchdown may lean no more
    than the lander's touchdown tilt limit.

    Args:
        lander: the lander preset.
        wet_mass_kg: start mass (kg), default dry mass plus the full propellant load.
        glide_slope_deg, max_pointing_deg, num_nodes, gravity_mps2: see :class:`ConvexProblem`.
    """
    if not isinstance(lander, LanderSpec):
        raise ValueError(f"from_lander needs a LanderSpec, got {type(lander).__name__}")
    return ConvexProblem(
        wet_mass_kg=lander.wet_mass_kg if wet_mass_kg is None else wet_mass_kg,
        dry_mass_kg=lander.dry_mass_kg,
        min_thrust_n=lander.min_axial_thrust_n,
        max_thrust_n=lander.max_axial_thrust_n,
        isp_s=lander.effective_isp_s,
        glide_slope_deg=glide_slope_deg,
        max_pointing_deg=max_pointing_deg,
        final_pointing_deg=min(lander.max_tilt_deg, max_pointing_deg),
        num_nodes=num_nodes,
        gravity_mps2=gravity_mps2,
        final_height_m=-max(foot[2] for foot in lander.leg_feet_m),
    )


@dataclass(frozen=True)
class ConvexSolution:
    """The optimal descent, or the report that none exists.

    Arrays hold one row per time node (N rows) when ``feasible``, and no rows otherwise.

    Attributes:
        feasible: a landing satisfying every constraint was found.
        status: solver status of the returned solve ("optimal", "optimal_inaccurate"), or why
            there is none ("infeasible", "start outside the glide-slope cone", ...).
        final_time_s: time of touchdown tf (s); NaN when infeasible.
        propellant_kg: propellant burned m(0) - m(tf) (kg); NaN when infeasible.
        relaxed_propellant_kg: optimum of the convex relaxation at the same tf (kg), a lower
            bound of the discretised problem; equal to ``propellant_kg`` unless the
            relaxation was not tight and had to be repaired (see ``_Programme.tighten``).
        time_s: (N,) node times (s).
        position_m: (N, 3) centre-of-mass position, ENU relative to the target (m).
        velocity_mps: (N, 3) velocity, ENU (m/s).
        mass_kg: (N,) mass (kg).
        thrust_n: (N, 3) thrust vector, ENU (N).
        lossless_gap: max over nodes of (sigma - |u|) / sigma, 0 when the relaxation is tight.
        solve_time_s: wall-clock time of the whole call, final-time search included (s).
        solver_calls: number of SOCPs solved.
    """

    feasible: bool
    status: str
    final_time_s: float
    propellant_kg: float
    relaxed_propellant_kg: float
    time_s: np.ndarray
    position_m: np.ndarray
    velocity_mps: np.ndarray
    mass_kg: np.ndarray
    thrust_n: np.ndarray
    lossless_gap: float
    solve_time_s: float
    solver_calls: int


def _infeasible(status: str, started: float, calls: int) -> ConvexSolution:
    empty = np.zeros(0)
    return ConvexSolution(
        False,
        status,
        math.nan,
        math.nan,
        math.nan,
        empty,
        np.zeros((0, 3)),
        np.zeros((0, 3)),
        empty,
        np.zeros((0, 3)),
        math.nan,
        time.perf_counter() - started,
        calls,
    )


def final_time_bounds(problem: ConvexProblem, r0, v0) -> tuple[float, float]:
    """Bounds (s) every feasible touchdown time satisfies; an empty interval means no landing.

    Lower bound, the larger of:
      * braking: the velocity change |v0 + g tf| must come from at most tf rho2 / m_dry of
        thrust acceleration, so (a^2 - |g|^2) tf^2 - 2 (v0 . g) tf - |v0|^2 >= 0 with
        a = rho2 / m_dry (skipped when a <= |g|);
      * descent: with the thrust at most max_pointing from vertical, the downward
        acceleration is at most g + a max(0, -cos max_pointing), which sets the shortest time
        to fall from r0_z to the touchdown height.
    Upper bound, the smaller of:
      * propellant: lit engines burn at least rho1 / (Isp g0), so tf <= m_prop Isp g0 / rho1;
      * vertical impulse: the thrust must cancel g tf - v0_z of vertical velocity with at most
        Isp g0 ln(m_wet / m_dry) of velocity change, so tf <= (v0_z + Isp g0 ln(m_wet/m_dry)) / g.
    """
    r0 = np.asarray(r0, dtype=np.float64)
    v0 = np.asarray(v0, dtype=np.float64)
    g = problem.gravity_mps2
    a = problem.max_thrust_n / problem.dry_mass_kg
    lower = 0.0
    if a > g:
        v_dot_g = -g * v0[2]
        speed2 = float(v0 @ v0)
        lower = (v_dot_g + math.sqrt(v_dot_g * v_dot_g + (a * a - g * g) * speed2)) / (a * a - g * g)
    drop = r0[2] - problem.final_height_m
    down = g + a * max(0.0, -math.cos(math.radians(problem.max_pointing_deg)))
    if drop > 0.0:
        lower = max(lower, (v0[2] + math.sqrt(v0[2] ** 2 + 2.0 * down * drop)) / down)
    upper = (v0[2] + problem.exhaust_speed_mps * math.log(problem.wet_mass_kg / problem.dry_mass_kg)) / g
    if problem.min_thrust_n > 0.0:
        upper = min(upper, problem.propellant_kg / (problem.flow_per_thrust * problem.min_thrust_n))
    return float(lower), float(upper)


# ---------------------------------------------------------------------------- the SOCP
class _Programme:
    """One compiled cvxpy problem for a ConvexProblem without its wet mass.

    Start state, wet mass and tf enter as parameters (the problem is DPP), so every solve of a
    search reuses the canonicalisation.
    """

    def __init__(self, problem: ConvexProblem):
        cp = _require_cvxpy()
        n = problem.num_nodes
        self.problem = problem
        self.r = cp.Variable((n, 3))
        self.v = cp.Variable((n, 3))
        self.z = cp.Variable(n)
        self.u = cp.Variable((n, 3))
        self.sigma = cp.Variable(n)
        self.r_init = cp.Parameter(3)
        self.v_init = cp.Parameter(3)
        self.z_init = cp.Parameter()
        self.dt = cp.Parameter(nonneg=True)
        self.dt_sq = cp.Parameter(nonneg=True)
        self.z_ref = cp.Parameter(n)  # z0(t_k) = ln(m_wet - alpha rho2 t_k), kept >= ln m_dry
        self.z_max = cp.Parameter(n)  # ln(m_wet - alpha rho1 t_k): engines lit at least rho1
        self.low_gain = cp.Parameter(n, nonneg=True)  # e^z0 / rho1
        self.high_slope = cp.Parameter(n, nonneg=True)  # rho2 e^-z0
        self.high_offset = cp.Parameter(n)  # rho2 e^-z0 (1 + z0)

        r, v, z, u, sigma = self.r, self.v, self.z, self.u, self.sigma
        gravity = np.array([0.0, 0.0, -problem.gravity_mps2])
        g_rows = np.tile(gravity, (n - 1, 1))
        alpha = problem.flow_per_thrust
        target = np.array([0.0, 0.0, problem.final_height_m])
        constraints = [
            r[0] == self.r_init,
            v[0] == self.v_init,
            z[0] == self.z_init,
            r[n - 1] == target,
            v[n - 1] == 0.0,
            # First-order hold on u and sigma, integrated exactly over each interval.
            v[1:] == v[:-1] + (self.dt / 2.0) * (u[:-1] + u[1:]) + g_rows * self.dt,
            r[1:]
            == r[:-1] + self.dt * v[:-1] + (self.dt_sq / 6.0) * (2.0 * u[:-1] + u[1:]) + g_rows * (self.dt_sq / 2.0),
            z[1:] == z[:-1] - (alpha / 2.0) * self.dt * (sigma[:-1] + sigma[1:]),
            cp.norm(u, 2, axis=1) <= sigma,
            z >= self.z_ref,
            z <= self.z_max,
            z >= math.log(problem.dry_mass_kg),
            # rho2 e^-z linearised about z0: below the exponential, so conservative.
            sigma <= self.high_offset - cp.multiply(self.high_slope, z),
        ]
        if problem.min_thrust_n > 0.0:
            # rho1 e^-z0 (1 - dz + dz^2 / 2) <= sigma with dz = z - z0 >= 0, divided by rho1 e^-z0:
            # above the exponential, so conservative.
            dz = z - self.z_ref
            constraints.append(0.5 * cp.square(dz) <= cp.multiply(self.low_gain, sigma) - 1.0 + dz)
        if problem.max_pointing_deg < 180.0:
            constraints.append(u[:, 2] >= math.cos(math.radians(problem.max_pointing_deg)) * sigma)
        if problem.final_pointing_deg < problem.max_pointing_deg:
            constraints.append(u[n - 1, 2] >= math.cos(math.radians(problem.final_pointing_deg)) * sigma[n - 1])
        # The start is checked before solving; the cone binds from the first node on.
        height = r[1:, 2] - problem.final_height_m
        if problem.glide_slope_deg > 0.0:
            constraints.append(
                math.tan(math.radians(problem.glide_slope_deg)) * cp.norm(r[1:, :2], 2, axis=1) <= height
            )
        else:
            constraints.append(height >= 0.0)
        self.cvx = cp.Problem(cp.Maximize(z[n - 1]), constraints)
        # Where the relaxation is not tight (|u| < sigma: thrust weaker than the propellant it
        # burns, e.g. below rho1 while the lander would rather fall), two repairs, see tighten().
        # Polish: among the solutions within POLISH_Z_SLACK of the optimum, the one nearest
        # |u| = sigma along the directions d of the first solve (sigma - d.u >= sigma - |u| >= 0).
        self.direction = cp.Parameter((n, 3))
        self.z_final_floor = cp.Parameter()
        self.polish = cp.Problem(
            cp.Minimize(cp.sum(sigma) - cp.sum(cp.multiply(self.direction, u))),
            [*constraints, z[n - 1] >= self.z_final_floor],
        )
        # Restriction: the thrust of the locked nodes fixed along d at full magnitude,
        # d.u >= (1 - LOCK_MARGIN) sigma; lock_gain = -1 leaves a node free (d.u >= -sigma always holds).
        self.lock_gain = cp.Parameter(n)
        self.restricted = cp.Problem(
            cp.Maximize(z[n - 1]),
            [*constraints, cp.sum(cp.multiply(self.direction, u), axis=1) >= cp.multiply(self.lock_gain, sigma)],
        )
        self.cp = cp

    def _set_parameters(self, wet_mass: float, r0: np.ndarray, v0: np.ndarray, tf: float) -> np.ndarray:
        p = self.problem
        n = p.num_nodes
        t = np.linspace(0.0, tf, n)
        alpha = p.flow_per_thrust
        m_ref = np.maximum(wet_mass - alpha * p.max_thrust_n * t, p.dry_mass_kg)
        z_ref = np.log(m_ref)
        m_high = wet_mass - alpha * p.min_thrust_n * t
        # Below the dry mass the problem is infeasible anyway; keep the logarithm defined.
        z_max = np.log(np.maximum(m_high, 1e-6 * p.dry_mass_kg))
        dt = tf / (n - 1)
        self.r_init.value = r0
        self.v_init.value = v0
        self.z_init.value = math.log(wet_mass)
        self.dt.value = dt
        self.dt_sq.value = dt * dt
        self.z_ref.value = z_ref
        self.z_max.value = z_max
        self.low_gain.value = m_ref / p.min_thrust_n if p.min_thrust_n > 0.0 else np.zeros(n)
        self.high_slope.value = p.max_thrust_n / m_ref
        self.high_offset.value = p.max_thrust_n / m_ref * (1.0 + z_ref)
        return t

    def _run(self, cvx_problem, t: np.ndarray) -> tuple[str, dict | None]:
        try:
            with warnings.catch_warnings():
                # An inaccurate solve is reported through its status instead.
                warnings.filterwarnings("ignore", message="Solution may be inaccurate")
                cvx_problem.solve(solver=SOLVER)
        except self.cp.error.SolverError as error:
            return f"solver_error: {error}", None
        status = str(cvx_problem.status)
        if status not in _OPTIMAL_STATUSES or self.z.value is None:
            return status, None
        return status, {
            "time": t,
            "r": np.array(self.r.value),
            "v": np.array(self.v.value),
            "z": np.array(self.z.value),
            "u": np.array(self.u.value),
            "sigma": np.array(self.sigma.value),
        }

    def solve(self, wet_mass: float, r0: np.ndarray, v0: np.ndarray, tf: float) -> tuple[str, dict | None]:
        """Solve with tf fixed; returns (status, arrays) with arrays None unless solved."""
        return self._run(self.cvx, self._set_parameters(wet_mass, r0, v0, tf))

    def tighten(self, wet_mass: float, r0: np.ndarray, v0: np.ndarray, arrays: dict) -> tuple[dict, int]:
        """A solution nearly as good as ``arrays`` with |u| = sigma at every node, and the SOCPs it took.

        Lossless convexification proves |u| = sigma at the continuous-time optimum (Acikmese
        and Ploen 2007) under conditions that fail where the optimum is indifferent to the
        thrust direction, e.g. where the lander would rather thrust less than rho1 and the
        pointing cone forbids pushing down; there, and through discretisation, the solver may
        return |u| < sigma: a thrust weaker than the propellant it burns.
        First a polish looks for an equally good solution without that gap (it usually
        exists: the direction was free); if a gap remains, the thrust of the offending nodes
        is fixed at full magnitude along its direction and the problem solved again: a
        physical trajectory, at most a little more costly than the relaxed optimum.
        """
        n = self.problem.num_nodes
        t = self._set_parameters(wet_mass, r0, v0, float(arrays["time"][-1]))
        best = arrays

        def directions(u):
            norms = np.linalg.norm(u, axis=1, keepdims=True)
            return np.where(norms > 1e-9, u / np.maximum(norms, 1e-9), np.array([0.0, 0.0, 1.0]))

        self.direction.value = directions(best["u"])
        self.z_final_floor.value = float(best["z"][-1]) - POLISH_Z_SLACK
        status, polished = self._run(self.polish, t)
        calls = 1
        if status == "optimal" and _node_gaps(polished).max() < _node_gaps(best).max():
            best = polished
        locked = np.zeros(n, dtype=bool)
        for _ in range(MAX_REPAIR_ROUNDS):
            # Locking some nodes can move the gap to their neighbours: lock those too.
            gaps = _node_gaps(best)
            fresh = (gaps > LOSSLESS_GAP_TOLERANCE) & ~locked
            if not fresh.any():
                break
            locked |= fresh
            self.direction.value = directions(best["u"])
            self.lock_gain.value = np.where(locked, 1.0 - LOCK_MARGIN, -1.0)
            status, restricted = self._run(self.restricted, t)
            calls += 1
            if status != "optimal":
                break
            best = restricted
        return best, calls


def _node_gaps(arrays: dict) -> np.ndarray:
    """(sigma - |u|) / sigma per node: zero where the relaxation is tight."""
    sigma = arrays["sigma"]
    return (sigma - np.linalg.norm(arrays["u"], axis=1)) / np.maximum(sigma, 1e-12)


def _lossless_gap(arrays: dict) -> float:
    """max over nodes of (sigma - |u|) / sigma: zero when the relaxation is tight."""
    return float(_node_gaps(arrays).max())


@functools.lru_cache(maxsize=8)
def _programme(key: ConvexProblem) -> _Programme:
    return _Programme(key)


def _programme_for(problem: ConvexProblem) -> _Programme:
    # The wet mass is a parameter: problems differing only in it share one compiled programme.
    return _programme(dataclasses.replace(problem, wet_mass_kg=problem.dry_mass_kg + 1.0))


def _solution(
    problem: ConvexProblem,
    programme: _Programme,
    r0: np.ndarray,
    v0: np.ndarray,
    status: str,
    arrays: dict,
    started: float,
    calls: int,
) -> ConvexSolution:
    relaxed_propellant = float(problem.wet_mass_kg - math.exp(arrays["z"][-1]))
    if _lossless_gap(arrays) > LOSSLESS_GAP_TOLERANCE:
        arrays, extra = programme.tighten(problem.wet_mass_kg, r0, v0, arrays)
        calls += extra
    mass = np.exp(arrays["z"])
    u = arrays["u"]
    gap = _lossless_gap(arrays)
    return ConvexSolution(
        feasible=True,
        status=status,
        final_time_s=float(arrays["time"][-1]),
        propellant_kg=float(problem.wet_mass_kg - mass[-1]),
        relaxed_propellant_kg=relaxed_propellant,
        time_s=arrays["time"],
        position_m=arrays["r"],
        velocity_mps=arrays["v"],
        mass_kg=mass,
        thrust_n=u * mass[:, None],
        lossless_gap=gap,
        solve_time_s=time.perf_counter() - started,
        solver_calls=calls,
    )


def _check_state(r0, v0, problem: ConvexProblem) -> tuple[np.ndarray, np.ndarray]:
    r0 = np.array(check_vector("solve", "r0", r0))
    v0 = np.array(check_vector("solve", "v0", v0))
    if r0[2] < problem.final_height_m:
        raise ValueError(
            f"solve.r0 starts below the ground: height {r0[2]:g} m is under the touchdown height "
            f"{problem.final_height_m:g} m of the centre of mass above the target"
        )
    return r0, v0


def _outside_glide_slope(problem: ConvexProblem, r0: np.ndarray) -> bool:
    height = r0[2] - problem.final_height_m
    return (
        math.tan(math.radians(problem.glide_slope_deg)) * math.hypot(r0[0], r0[1])
        > height + GLIDE_SLOPE_START_TOLERANCE_M
    )


def solve(
    problem: ConvexProblem, r0, v0, tf: float | None = None, *, tf_tolerance_s: float = DEFAULT_TF_TOLERANCE_S
) -> ConvexSolution:
    """The fuel-optimal landing from position r0 (m) and velocity v0 (m/s), ENU relative to the target.

    With ``tf`` (s) the touchdown time is fixed; without it, it is searched: a scan of the
    interval from :func:`final_time_bounds` for feasible times (8, then 16, then 32 cells),
    then golden-section search of the bracket around the best scanned time until it is
    narrower than ``tf_tolerance_s``. An infeasible landing is reported (``feasible`` False),
    not raised; bad input raises ValueError.
    """
    started = time.perf_counter()
    if not isinstance(problem, ConvexProblem):
        raise ValueError(f"solve needs a ConvexProblem, got {type(problem).__name__}")
    r0, v0 = _check_state(r0, v0, problem)
    check_range("solve", "tf_tolerance_s", tf_tolerance_s, 0.0, 1e4, low_open=True)
    if tf is not None:
        tf = check_range("solve", "tf", tf, 0.0, 1e5, low_open=True)
    _require_cvxpy()
    programme = _programme_for(problem)
    if _outside_glide_slope(problem, r0):
        return _infeasible("start outside the glide-slope cone", started, 0)
    if tf is not None:
        status, arrays = programme.solve(problem.wet_mass_kg, r0, v0, tf)
        if arrays is None:
            return _infeasible(status, started, 1)
        return _solution(problem, programme, r0, v0, status, arrays, started, 1)
    return _search_final_time(problem, programme, r0, v0, tf_tolerance_s, started)


def _search_final_time(problem, programme, r0, v0, tolerance, started) -> ConvexSolution:
    lower, upper = final_time_bounds(problem, r0, v0)
    if not upper > lower:
        return _infeasible(f"infeasible: no touchdown time satisfies {lower:.4g} s <= tf <= {upper:.4g} s", started, 0)
    tried: dict[float, tuple[float, str, dict | None]] = {}

    def evaluate(tf: float) -> float:
        if tf not in tried:
            status, arrays = programme.solve(problem.wet_mass_kg, r0, v0, tf)
            # An inaccurate solve (near the edge of feasibility) does not steer the search.
            fuel = math.inf if status != "optimal" else problem.wet_mass_kg - math.exp(arrays["z"][-1])
            tried[tf] = (fuel, status, arrays)
        return tried[tf][0]

    def best() -> float:
        return min(tried, key=lambda t: tried[t][0])

    for cells in SCAN_CELLS:
        for k in range(1, cells):
            evaluate(lower + (upper - lower) * k / cells)
        if math.isfinite(tried[best()][0]):
            break
    t_best = best()
    if not math.isfinite(tried[t_best][0]):
        statuses = sorted({value[1] for value in tried.values()})
        return _infeasible(
            "infeasible: no feasible touchdown time found (" + ", ".join(statuses) + ")", started, len(tried)
        )

    # Bracket the best scanned time by its scanned neighbours (or the bounds).
    times = sorted(tried)
    k = times.index(t_best)
    a = times[k - 1] if k > 0 else lower
    b = times[k + 1] if k + 1 < len(times) else upper
    c = b - INVERSE_GOLDEN_RATIO * (b - a)
    d = a + INVERSE_GOLDEN_RATIO * (b - a)
    fc, fd = evaluate(c), evaluate(d)
    while b - a > tolerance:
        t_best = best()
        # Infeasible times count as infinite propellant; the feasible set is an interval, so on
        # a tie of two infeasible points the side holding the best time seen so far is kept.
        keep_left = fc < fd or (fc == fd and t_best <= c)
        if keep_left:
            b, d, fd = d, c, fc
            c = b - INVERSE_GOLDEN_RATIO * (b - a)
            fc = evaluate(c)
        else:
            a, c, fc = c, d, fd
            d = a + INVERSE_GOLDEN_RATIO * (b - a)
            fd = evaluate(d)
    fuel, status, arrays = tried[best()]
    return _solution(problem, programme, r0, v0, status, arrays, started, len(tried))


def optimal_propellant(
    problem: ConvexProblem,
    r0_batch,
    v0_batch,
    masses=None,
    progress: bool = True,
    tf_tolerance_s: float = DEFAULT_TF_TOLERANCE_S,
) -> np.ndarray:
    """Optimal propellant (kg) of many landings, NaN where no landing is feasible.

    Args:
        problem: the vehicle and constraints.
        r0_batch: (n, 3) start positions, ENU relative to the target (m).
        v0_batch: (n, 3) start velocities (m/s).
        masses: optional (n,) start masses (kg) replacing ``problem.wet_mass_kg``.
        progress: show a tqdm progress bar.

    Returns:
        (n,) float64 propellant burned (kg).
    """
    if not isinstance(problem, ConvexProblem):
        raise ValueError(f"optimal_propellant needs a ConvexProblem, got {type(problem).__name__}")
    r0_batch = np.asarray(r0_batch, dtype=np.float64)
    v0_batch = np.asarray(v0_batch, dtype=np.float64)
    if r0_batch.ndim != 2 or r0_batch.shape[1] != 3:
        raise ValueError(f"r0_batch must have shape (n, 3), got {r0_batch.shape}")
    if v0_batch.shape != r0_batch.shape:
        raise ValueError(f"v0_batch must have the shape of r0_batch {r0_batch.shape}, got {v0_batch.shape}")
    n = r0_batch.shape[0]
    if masses is not None:
        masses = np.asarray(masses, dtype=np.float64)
        if masses.shape != (n,):
            raise ValueError(f"masses must have shape ({n},), got {masses.shape}")
        bad = np.flatnonzero(~np.isfinite(masses) | (masses <= problem.dry_mass_kg))
        if bad.size:
            raise ValueError(
                f"masses must be finite and above the dry mass {problem.dry_mass_kg:g} kg; "
                f"not so at index(es) {bad[:10].tolist()}"
            )
    for name, batch in (("r0_batch", r0_batch), ("v0_batch", v0_batch)):
        bad = np.flatnonzero(~np.all(np.isfinite(batch), axis=1))
        if bad.size:
            raise ValueError(f"{name} contains NaN or inf at row(s) {bad[:10].tolist()}")
    low = np.flatnonzero(r0_batch[:, 2] < problem.final_height_m)
    if low.size:
        raise ValueError(
            f"r0_batch starts below the touchdown height {problem.final_height_m:g} m at row(s) {low[:10].tolist()}"
        )

    from tqdm.auto import tqdm

    result = np.full(n, np.nan)
    for i in tqdm(range(n), desc="convex reference", unit="landing", disable=not progress):
        p = problem if masses is None else dataclasses.replace(problem, wet_mass_kg=float(masses[i]))
        solution = solve(p, r0_batch[i], v0_batch[i], tf_tolerance_s=tf_tolerance_s)
        if solution.feasible:
            result[i] = solution.propellant_kg
    return result
