"""The convex powered-descent reference: known answers, physical consistency, constraints, errors."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

pytest.importorskip("cvxpy")
pytest.importorskip("clarabel")

from agents import convex_reference as cr  # noqa: E402
from agents.convex_reference import ConvexProblem, final_time_bounds, from_lander, optimal_propellant, solve  # noqa: E402
from lunar_env.constants import STANDARD_GRAVITY_MPS2  # noqa: E402
from lunar_env.landers import VIKRAM_LIKE  # noqa: E402
from lunar_env.physics.params import lander_params  # noqa: E402

NODES = 30
R0 = np.array([800.0, -600.0, 2000.0])  # m, a nominal-scenario-like start
V0 = np.array([-20.0, 10.0, -20.0])  # m/s


def vikram(**overrides) -> ConvexProblem:
    return dataclasses.replace(from_lander(VIKRAM_LIKE, num_nodes=NODES), **overrides)


@pytest.fixture(scope="module")
def nominal():
    problem = vikram()
    return problem, solve(problem, R0, V0)


# ------------------------------------------------------------------ the 1-D analytic answer
def _burn(h, v, m, thrust, alpha, g, t):
    """Height (m), velocity (m/s), mass (kg) after t s of constant upward thrust (N), rocket equation."""
    if thrust == 0.0:
        return h + v * t - 0.5 * g * t * t, v - g * t, m
    x = alpha * thrust * t / m  # fraction of the mass burned
    ve = 1.0 / alpha
    # v = v0 - g t + ve ln(m0 / m);  h adds the integral of ve ln(m0 / m), (m0 / (alpha T)) ((1-x) ln(1-x) + x).
    return (h + v * t - 0.5 * g * t * t + ve * m / (alpha * thrust) * ((1.0 - x) * math.log1p(-x) + x),
            v - g * t - ve * math.log1p(-x), m * (1.0 - x))


def _root(f, low, high, tol=1e-12):
    """Bisection root of f on [low, high] (f changes sign)."""
    f_low = f(low)
    for _ in range(200):
        mid = 0.5 * (low + high)
        f_mid = f(mid)
        if (f_mid > 0) == (f_low > 0):
            low, f_low = mid, f_mid
        else:
            high = mid
        if high - low < tol:
            break
    return 0.5 * (low + high)


def vertical_bang_bang(h0, v0, m0, rho1, rho2, isp, g):
    """Fuel-optimal vertical landing (Meditch 1964): rho1 until the switch time t1, then rho2 until
    height and velocity reach zero together. Returns (propellant kg, final time s, switch time s)."""
    alpha = 1.0 / (isp * STANDARD_GRAVITY_MPS2)

    def land_from(t1):
        h1, v1, m1 = _burn(h0, v0, m0, rho1, alpha, g, t1)
        t2 = _root(lambda t: _burn(h1, v1, m1, rho2, alpha, g, t)[1], 0.0, 0.999 * m1 / (alpha * rho2))
        return _burn(h1, v1, m1, rho2, alpha, g, t2), t2

    t1 = _root(lambda t: land_from(t)[0][0], 0.0, 60.0)
    (_, _, m_final), t2 = land_from(t1)
    return m0 - m_final, t1 + t2, t1


@pytest.mark.parametrize("min_thrust_n", [0.0, 1280.0])
def test_vertical_descent_matches_analytic_bang_bang(min_thrust_n):
    # Free fall (or minimum thrust) then full thrust is optimal in 1-D; the reference must find
    # it: same propellant within 0.1%, same touchdown time and switch time within a node interval.
    problem = ConvexProblem(wet_mass_kg=1250.0, dry_mass_kg=1000.0, min_thrust_n=min_thrust_n, max_thrust_n=3200.0,
                            isp_s=300.0, glide_slope_deg=0.0, num_nodes=40, gravity_mps2=1.62)
    fuel, tf, t1 = vertical_bang_bang(500.0, -20.0, 1250.0, min_thrust_n, 3200.0, 300.0, 1.62)
    solution = solve(problem, [0.0, 0.0, 500.0], [0.0, 0.0, -20.0])
    assert solution.feasible
    assert solution.propellant_kg == pytest.approx(fuel, rel=1e-3)
    dt = solution.time_s[1]
    assert abs(solution.final_time_s - tf) < dt
    thrust = np.linalg.norm(solution.thrust_n, axis=1)
    switch = solution.time_s[np.argmax(thrust > 0.5 * (min_thrust_n + 3200.0))]
    assert abs(switch - t1) < 1.5 * dt
    # Bang-bang to within 1% of full thrust away from the switch (the discrete optimum at a
    # touchdown time found to 0.1 s is not exactly bang-bang).
    before = solution.time_s < t1 - dt
    after = solution.time_s > t1 + dt
    assert np.all(np.abs(thrust[before] - min_thrust_n) < 0.01 * 3200.0)
    assert np.all(thrust[after] > 0.99 * 3200.0)
    # Purely vertical: no horizontal thrust or motion.
    assert np.abs(solution.thrust_n[:, :2]).max() < 1e-3 * 3200.0
    assert np.abs(solution.position_m[:, :2]).max() < 1e-3


# ------------------------------------------------------------------ physical consistency
def test_propellant_obeys_the_rocket_equation_of_its_own_thrust(nominal):
    problem, solution = nominal
    accel = np.linalg.norm(solution.thrust_n, axis=1) / solution.mass_kg  # |T| / m = |u| (m/s^2)
    delta_v = np.trapezoid(accel, solution.time_s) if hasattr(np, "trapezoid") else np.trapz(accel, solution.time_s)
    expected = problem.wet_mass_kg * (1.0 - math.exp(-delta_v / (problem.isp_s * STANDARD_GRAVITY_MPS2)))
    assert solution.propellant_kg == pytest.approx(expected, rel=1e-6)
    # And the mass history is the rocket equation node by node.
    assert solution.mass_kg[0] == pytest.approx(problem.wet_mass_kg, abs=1e-6)
    assert solution.propellant_kg == pytest.approx(solution.mass_kg[0] - solution.mass_kg[-1], abs=1e-6)


def _rk4(f, y, t0, t1, steps):
    h = (t1 - t0) / steps
    t = t0
    for _ in range(steps):
        k1 = f(t, y)
        k2 = f(t + h / 2, y + h / 2 * k1)
        k3 = f(t + h / 2, y + h / 2 * k2)
        k4 = f(t + h, y + h * k3)
        y = y + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
        t += h
    return y


def test_discretisation_is_exact_for_its_first_order_hold(nominal):
    # Integrating r'' = u(t) + g with u linear between nodes reproduces every node.
    problem, solution = nominal
    t = solution.time_s
    u = solution.thrust_n / solution.mass_kg[:, None]
    g = np.array([0.0, 0.0, -problem.gravity_mps2])
    y = np.concatenate([R0, V0])
    for k in range(len(t) - 1):
        def f(tt, state, k=k):
            w = (tt - t[k]) / (t[k + 1] - t[k])
            return np.concatenate([state[3:], (1 - w) * u[k] + w * u[k + 1] + g])
        y = _rk4(f, y, t[k], t[k + 1], 4)  # RK4 is exact for a cubic position
        np.testing.assert_allclose(y[:3], solution.position_m[k + 1], atol=1e-6)
        np.testing.assert_allclose(y[3:], solution.velocity_mps[k + 1], atol=1e-8)


def test_thrust_profile_flown_open_loop_lands(nominal):
    # The thrust in newtons, interpolated linearly and flown with the true mass flow |T| / (Isp g0),
    # lands within a metre of the target at walking pace with about the same propellant.
    problem, solution = nominal
    t, thrust = solution.time_s, solution.thrust_n
    g = np.array([0.0, 0.0, -problem.gravity_mps2])

    def f(tt, y):
        force = np.array([np.interp(tt, t, thrust[:, i]) for i in range(3)])
        return np.concatenate([y[3:6], force / y[6] + g, [-np.linalg.norm(force) * problem.flow_per_thrust]])

    y = _rk4(f, np.concatenate([R0, V0, [problem.wet_mass_kg]]), 0.0, t[-1], 1500)
    target = np.array([0.0, 0.0, problem.final_height_m])
    assert np.linalg.norm(y[:3] - target) < 2.0
    assert np.linalg.norm(y[3:6]) < 0.1
    assert problem.wet_mass_kg - y[6] == pytest.approx(solution.propellant_kg, rel=0.01)


# ------------------------------------------------------------------ constraints
def test_trajectory_satisfies_every_constraint(nominal):
    problem, solution = nominal
    assert solution.feasible and solution.status == "optimal"
    tol = 1e-6
    thrust = np.linalg.norm(solution.thrust_n, axis=1)
    assert thrust.min() >= problem.min_thrust_n * (1 - tol)
    assert thrust.max() <= problem.max_thrust_n * (1 + tol)
    assert solution.lossless_gap < 1e-6
    cos_pointing = solution.thrust_n[:, 2] / thrust
    assert cos_pointing.min() >= math.cos(math.radians(problem.max_pointing_deg)) - tol
    assert cos_pointing[-1] >= math.cos(math.radians(problem.final_pointing_deg)) - tol
    height = solution.position_m[:, 2] - problem.final_height_m
    horizontal = np.linalg.norm(solution.position_m[:, :2], axis=1)
    assert np.all(height >= math.tan(math.radians(problem.glide_slope_deg)) * horizontal - 1e-6)
    np.testing.assert_allclose(solution.position_m[0], R0, atol=1e-6)
    np.testing.assert_allclose(solution.velocity_mps[0], V0, atol=1e-6)
    np.testing.assert_allclose(solution.position_m[-1], [0.0, 0.0, problem.final_height_m], atol=1e-6)
    np.testing.assert_allclose(solution.velocity_mps[-1], 0.0, atol=1e-6)
    assert solution.mass_kg.min() >= problem.dry_mass_kg - 1e-9
    assert np.all(np.diff(solution.mass_kg) <= 1e-9)
    n = problem.num_nodes
    assert solution.time_s.shape == (n,) and solution.thrust_n.shape == (n, 3) and solution.position_m.shape == (n, 3)


def test_relaxation_gap_is_repaired_into_a_physical_trajectory():
    # Starting almost at hover 155 m up, the lander would rather thrust less than rho1 for a
    # moment: the relaxation returns |u| < sigma at a node (about half of rho1 there). The
    # returned trajectory must still respect rho1 at every node, costing at most a little
    # more than the relaxed optimum, which is a lower bound.
    problem = vikram()
    solution = solve(problem, [32.2, -9.2, 155.5], [-2.06, 0.95, -2.32])
    assert solution.feasible
    thrust = np.linalg.norm(solution.thrust_n, axis=1)
    assert thrust.min() >= problem.min_thrust_n * (1 - 2 * cr.LOCK_MARGIN)
    assert thrust.max() <= problem.max_thrust_n * (1 + 1e-6)
    assert solution.lossless_gap <= 2 * cr.LOCK_MARGIN
    assert solution.relaxed_propellant_kg - 1e-6 <= solution.propellant_kg <= 1.01 * solution.relaxed_propellant_kg
    np.testing.assert_allclose(solution.position_m[-1], [0.0, 0.0, problem.final_height_m], atol=1e-6)
    np.testing.assert_allclose(solution.velocity_mps[-1], 0.0, atol=1e-6)


def test_free_final_time_is_a_minimum(nominal):
    problem, solution = nominal
    low, high = final_time_bounds(problem, R0, V0)
    assert low < solution.final_time_s < high
    tf = solution.final_time_s
    for other in (tf - 0.4, tf + 2.0, tf * 1.2):
        fixed = solve(problem, R0, V0, tf=other)
        assert fixed.feasible, other
        assert fixed.final_time_s == pytest.approx(other)
        assert fixed.propellant_kg > solution.propellant_kg + 1e-3, other
    # Re-solving at the optimal time gives the optimum again.
    assert solve(problem, R0, V0, tf=tf).propellant_kg == pytest.approx(solution.propellant_kg, abs=1e-5)


def test_from_lander_is_the_simulators_3dof_problem():
    problem = from_lander(VIKRAM_LIKE)
    params = lander_params(VIKRAM_LIKE)
    assert problem.min_thrust_n == pytest.approx(params.min_axial_thrust) == pytest.approx(4 * 800.0 * 0.4)
    assert problem.max_thrust_n == pytest.approx(params.max_axial_thrust) == pytest.approx(4 * 800.0)
    assert problem.flow_per_thrust == pytest.approx(params.engine_flow_per_thrust[0])
    assert problem.final_height_m == pytest.approx(params.touchdown_height)
    assert problem.dry_mass_kg == VIKRAM_LIKE.dry_mass_kg
    assert problem.wet_mass_kg == VIKRAM_LIKE.dry_mass_kg + VIKRAM_LIKE.propellant_mass_kg
    assert problem.final_pointing_deg == VIKRAM_LIKE.max_tilt_deg


# ------------------------------------------------------------------ infeasible cases
def test_too_little_propellant_is_reported_infeasible():
    problem = vikram(wet_mass_kg=1010.0)
    solution = solve(problem, R0, V0)
    assert not solution.feasible
    assert "infeasible" in solution.status
    assert math.isnan(solution.propellant_kg) and math.isnan(solution.final_time_s)
    assert solution.thrust_n.shape == (0, 3)
    result = optimal_propellant(
        vikram(), np.stack([R0, R0]), np.stack([V0, V0]), masses=[1250.0, 1010.0], progress=False
    )
    assert np.isfinite(result[0]) and np.isnan(result[1])


def test_fixed_final_time_too_short_is_infeasible():
    solution = solve(vikram(), R0, V0, tf=40.0)
    assert not solution.feasible and solution.status == "infeasible"


def test_start_outside_the_glide_slope_is_infeasible():
    solution = solve(vikram(glide_slope_deg=60.0), [2000.0, 0.0, 500.0], [0.0, 0.0, 0.0])
    assert not solution.feasible and "glide-slope" in solution.status


def test_optimal_propellant_matches_single_solves_and_is_deterministic(nominal):
    problem, solution = nominal
    r0 = np.stack([R0, [-300.0, 400.0, 1500.0]])
    v0 = np.stack([V0, [5.0, -5.0, -10.0]])
    masses = np.array([problem.wet_mass_kg, 1200.0])
    batch = optimal_propellant(problem, r0, v0, masses=masses, progress=False)
    # The same to solver precision (an interior-point solve is reproducible to ~1e-9).
    assert batch[0] == pytest.approx(solution.propellant_kg, rel=1e-7)
    again = solve(dataclasses.replace(problem, wet_mass_kg=1200.0), r0[1], v0[1])
    assert batch[1] == pytest.approx(again.propellant_kg, rel=1e-7)
    assert batch[1] < batch[0]  # closer, slower, lighter


# ------------------------------------------------------------------ bad input
@pytest.mark.parametrize(
    "overrides, field",
    [
        (dict(min_thrust_n=4000.0), "min_thrust_n"),
        (dict(dry_mass_kg=1300.0), "dry_mass_kg"),
        (dict(isp_s=-1.0), "isp_s"),
        (dict(num_nodes=2), "num_nodes"),
        (dict(glide_slope_deg=90.0), "glide_slope_deg"),
        (dict(max_pointing_deg=200.0), "max_pointing_deg"),
        (dict(gravity_mps2=float("nan")), "gravity_mps2"),
    ],
)
def test_bad_problem_raises_naming_the_field(overrides, field):
    with pytest.raises(ValueError, match=field):
        vikram(**overrides)


def test_bad_states_raise_clear_errors():
    problem = vikram()
    with pytest.raises(ValueError, match="r0"):
        solve(problem, [0.0, np.nan, 100.0], V0)
    with pytest.raises(ValueError, match="v0"):
        solve(problem, R0, [0.0, 1.0])
    with pytest.raises(ValueError, match="below the ground"):
        solve(problem, [0.0, 0.0, -5.0], V0)
    with pytest.raises(ValueError, match="tf"):
        solve(problem, R0, V0, tf=-3.0)
    with pytest.raises(ValueError, match="ConvexProblem"):
        solve(VIKRAM_LIKE, R0, V0)
    with pytest.raises(ValueError, match="shape"):
        optimal_propellant(problem, R0, V0, progress=False)
    with pytest.raises(ValueError, match="dry mass"):
        optimal_propellant(problem, R0[None], V0[None], masses=[900.0], progress=False)
    with pytest.raises(ValueError, match="NaN"):
        optimal_propellant(problem, np.full((1, 3), np.inf), V0[None], progress=False)


def test_missing_solver_raises(monkeypatch):
    monkeypatch.setattr(cr, "SOLVER", "NO_SUCH_SOLVER")
    with pytest.raises(ValueError, match="NO_SUCH_SOLVER"):
        solve(vikram(), R0, V0)
