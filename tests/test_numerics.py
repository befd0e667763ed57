"""No silent NaN: what the environments return is finite and inside its spaces, whatever comes in."""

import dataclasses

import gymnasium as gym
import numpy as np
import pytest
from helpers import set_state

import lunar_env  # noqa: F401
from lunar_env.config import EngineSpec
from lunar_env.envs.single_env import SouthPoleEnv
from lunar_env.envs.vector_env import SouthPoleVectorEnv
from lunar_env.landers import VIKRAM_LIKE
from lunar_env.navigation import rotate_against_rate
from lunar_env.physics import outcomes
from lunar_env.physics import state as S
from lunar_env.sensors import observation_bounds
from lunar_env.simulator import LanderBatch, batch_bytes_per_lander


def _inside_space(obs: np.ndarray) -> bool:
    bounds = observation_bounds()
    return bool(np.all(np.isfinite(obs)) and np.all(np.abs(obs) <= bounds))


# ----------------------------------------------------------------------------- stepping before reset
def test_step_before_reset_is_refused():
    batch = LanderBatch("nominal", 3, mode="3dof")
    with pytest.raises(ValueError, match=r"step\(\) before reset\(\): lander\(s\) \[0, 1, 2\] have never been reset"):
        batch.step(np.zeros((3, 3), np.float32))


def test_landers_left_out_of_the_first_reset_mask_cannot_be_stepped():
    envs = SouthPoleVectorEnv(4, mode="3dof")
    envs.reset(seed=0, options={"reset_mask": np.array([True, False, True, False])})
    with pytest.raises(ValueError, match=r"lander\(s\) \[1, 3\] have never been reset"):
        envs.step(np.zeros((4, 3), np.float32))
    envs.reset(options={"reset_mask": np.array([False, True, False, True])})
    obs, rewards, *_ = envs.step(np.zeros((4, 3), np.float32))
    assert _inside_space(obs) and np.all(np.isfinite(rewards))


def test_single_env_step_before_reset_is_refused():
    with pytest.raises(gym.error.ResetNeeded):  # gym.make's order enforcing
        gym.make("lunar_env/SouthPole3DoF-v0").step(np.zeros(3, np.float32))
    with pytest.raises(ValueError, match=r"before reset"):  # the class itself, without the wrapper
        SouthPoleEnv(mode="3dof").step(np.zeros(3, np.float32))


# ----------------------------------------------------------------------------- specs the physics cannot carry
@pytest.mark.parametrize("inertia", [(1e-9, 1e-9, 1e-9), (1e-300, 1e-300, 1e-300), (1e7, 1e7, 1e7)])
def test_implausible_inertia_is_refused(inertia):
    with pytest.raises(ValueError, match=r"LanderSpec.inertia_dry_kgm2\[0\] = .* radius of gyration"):
        dataclasses.replace(VIKRAM_LIKE, inertia_dry_kgm2=inertia)


def test_inertia_that_no_rigid_body_has_is_refused():
    with pytest.raises(ValueError, match=r"not a rigid body's: each principal moment must be at most the sum"):
        dataclasses.replace(VIKRAM_LIKE, inertia_dry_kgm2=(100.0, 100.0, 900.0))


def test_sideways_engines_are_refused():
    sideways = tuple(dataclasses.replace(e, direction=(1.0, 0.0, 0.0)) for e in VIKRAM_LIKE.engines)
    with pytest.raises(ValueError, match=r"LanderSpec.engines\[0\].direction must push along the body \+z axis"):
        dataclasses.replace(VIKRAM_LIKE, engines=sideways)
    canted = EngineSpec(position_m=(0.0, 0.0, -1.0), direction=(np.sin(0.1), 0.0, np.cos(0.1)))
    spec = dataclasses.replace(VIKRAM_LIKE, engines=(canted,) * 4)  # a few degrees of cant is real
    assert spec.max_axial_thrust_n > 0


def test_batches_larger_than_memory_are_refused_with_the_estimate():
    with pytest.raises(ValueError, match=r"num_landers=1000000000000 needs about .* GiB .* bytes per lander"):
        LanderBatch("nominal", 10**12)
    assert 500 < batch_bytes_per_lander() < 4096


# ----------------------------------------------------------------------------- exact attitude-error propagation
def _rodrigues(v, axis, angle):
    axis = axis / np.linalg.norm(axis)
    return v * np.cos(angle) + np.cross(axis, v) * np.sin(angle) + axis * axis.dot(v) * (1 - np.cos(angle))


@pytest.mark.parametrize("step", [(0.0, 0.0, 3.0), (0.4, -1.2, 2.5), (1e-6, 2e-6, -3e-6), (50.0, 0.0, 0.0)])
def test_attitude_error_turns_exactly_against_the_rate(step):
    v = np.array([0.01, -0.02, 0.005])
    a = np.array(step)
    got = np.array(rotate_against_rate(*v, *a))
    expected = _rodrigues(v, a, -np.linalg.norm(a))
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-18)
    # a rotation: the error's size is kept at any rate (forward Euler grew it by sqrt(1 + |a|^2))
    assert np.linalg.norm(got) == pytest.approx(np.linalg.norm(v), rel=1e-12)


def test_small_rotation_series_meets_the_closed_form():
    v = np.array([0.3, 0.2, -0.1])
    for angle in (0.99e-4, 1.01e-4):  # both sides of SMALL_ROTATION_RAD
        a = np.array([angle, 0.0, 0.0])
        np.testing.assert_allclose(rotate_against_rate(*v, *a), _rodrigues(v, a, -angle), rtol=0, atol=1e-16)


def test_spinning_lander_keeps_a_finite_navigation_estimate():
    """Full yaw torque to the time limit: the rate passes 1 rad per control step, where the
    forward-Euler attitude error used to run the velocity estimate to -inf."""
    batch = LanderBatch("nominal", 1, mode="6dof")
    batch.reset(seed=3)
    set_state(batch, position=(0.0, 0.0, 3000.0))  # upright, at rest, high enough to spin for minutes
    action = np.zeros((1, batch.act_dim), np.float32)
    action[0, batch.num_engines + 2] = 1.0
    action[0, : batch.num_engines] = -0.25  # a little under hover thrust
    peak_rate = 0.0
    for _ in range(batch.sim.max_steps):
        obs, rewards, terminated, truncated = batch.step(action)
        assert _inside_space(obs) and np.isfinite(rewards[0])
        peak_rate = max(peak_rate, abs(batch.state.x[0, S.WZ]))
        if terminated[0] or truncated[0]:
            break
    assert peak_rate * batch.sim.control_dt > 1.0  # the regime where forward Euler diverged
    assert np.all(np.isfinite(batch.state.x[0, S.NAV_ATT_ERR_X:S.NAV_POS_ERR_X + 3]))


@pytest.mark.parametrize("scenario", ["engine_out", "thrust_loss"])
def test_tumbling_6dof_fault_episodes_stay_inside_the_observation_space(scenario):
    envs = SouthPoleVectorEnv(64, scenario=scenario, mode="6dof")
    envs.reset(seed=1)
    rng = np.random.default_rng(0)
    for _ in range(400):
        obs, rewards, *_ = envs.step(rng.choice([-1.0, 1.0], size=(64, envs.batch.act_dim)).astype(np.float32))
        assert _inside_space(obs) and np.all(np.isfinite(rewards))


# ----------------------------------------------------------------------------- the numerical_error outcome
def test_a_non_finite_state_ends_the_lander_as_numerical_error():
    envs = SouthPoleVectorEnv(3, mode="3dof", autoreset_mode="disabled")
    envs.reset(seed=0)
    envs.batch.state.x[1, S.VX] = np.nan  # what a blown-up integration leaves
    obs, rewards, terminated, truncated, infos = envs.step(np.zeros((3, 3), np.float32))
    assert terminated.tolist() == [False, True, False] and not truncated.any()
    assert infos["outcome_name"][1] == "numerical_error" and infos["_outcome_name"].tolist() == [False, True, False]
    assert rewards[1] == -envs.batch.scenario.reward.crash_penalty
    assert _inside_space(obs)
    x_after = envs.batch.state.x[1].copy()
    obs, rewards, terminated, _, infos = envs.step(np.zeros((3, 3), np.float32))
    assert rewards[1] == 0.0 and terminated[1]  # ended: never integrated again
    np.testing.assert_array_equal(envs.batch.state.x[1], x_after)
    assert outcomes.OUTCOME_NAMES[outcomes.NUMERICAL_ERROR] == "numerical_error"


def test_the_benchmark_counts_numerical_errors():
    from lunar_env.evaluation.report import scenario_summary
    from lunar_env.evaluation.suite import ScenarioRun

    metrics = {"is_success": np.array([True, False]), "outcome": np.array([outcomes.LANDED, outcomes.NUMERICAL_ERROR]),
               "miss_distance": np.array([1.0, np.nan]), "touchdown_vertical_speed": np.array([1.0, np.nan]),
               "touchdown_horizontal_speed": np.array([0.1, np.nan]), "touchdown_tilt_deg": np.array([1.0, np.nan]),
               "propellant_used": np.array([50.0, np.nan])}
    run = ScenarioRun(scenario="nominal", lander="vikram", mode="3dof", metrics=metrics,
                      touchdown_xy=np.zeros((2, 2)), initial_position=np.zeros((2, 3)),
                      initial_velocity=np.zeros((2, 3)), initial_mass=np.ones(2), target_radius_m=50.0)
    summary = scenario_summary(run)
    assert summary["outcomes"] == {"landed": 1, "numerical_error": 1}
    assert summary["propellant_used_kg"]["mean"] == 50.0


# ----------------------------------------------------------------------------- actions and episode reports
def test_finite_out_of_range_float64_actions_are_clipped_not_called_inf():
    a = LanderBatch("nominal", 1, mode="3dof")
    b = LanderBatch("nominal", 1, mode="3dof")
    a.reset(seed=2)
    b.reset(seed=2)
    obs_a, *_ = a.step(np.array([[1e300, -1e300, 1e300]]))
    obs_b, *_ = b.step(np.array([[1.0, -1.0, 1.0]], np.float32))
    np.testing.assert_array_equal(obs_a, obs_b)
    with pytest.raises(ValueError, match=r"NaN or inf for lander\(s\) \[0\]"):
        a.step(np.array([[np.inf, 0.0, 0.0]]))


def test_disabled_autoreset_reports_each_episode_once():
    envs = SouthPoleVectorEnv(8, scenario="hover_start", mode="3dof", autoreset_mode="disabled")
    envs.reset(seed=0)
    reported = np.zeros(8, np.int64)
    free_fall = np.array([[0.0, 0.0, -1.0]] * 8, np.float32)
    for _ in range(envs.batch.sim.max_steps + 5):
        *_, infos = envs.step(free_fall)
        if "_outcome_name" in infos:
            reported += infos["_outcome_name"]
    assert reported.tolist() == [1] * 8
    envs.reset(options={"reset_mask": np.array([True] + [False] * 7)})
    for _ in range(envs.batch.sim.max_steps + 5):
        *_, infos = envs.step(free_fall)
        if "_outcome_name" in infos:
            reported += infos["_outcome_name"]
    assert reported.tolist() == [2] + [1] * 7
