"""Fuzzing the environment's inputs (hypothesis): a result or a ValueError naming the problem, never NaN.

Bounded so the whole file runs in seconds once the core is compiled.
"""

import dataclasses
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from lunar_env.envs.vector_env import SouthPoleVectorEnv
from lunar_env.landers import VIKRAM_LIKE
from lunar_env.scenarios import get_scenario
from lunar_env.sensors import observation_bounds
from lunar_env.simulator import LanderBatch

FUZZ = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
N = 4
BOUNDS = observation_bounds()


def _assert_clean(obs, rewards):
    assert np.all(np.isfinite(obs)), "non-finite observation"
    assert np.all(np.abs(obs) <= BOUNDS), "observation outside the observation space"
    assert np.all(np.isfinite(rewards)), "non-finite reward"


@pytest.fixture(scope="module")
def batches():
    return {mode: LanderBatch("nominal_flat", N, mode=mode) for mode in ("3dof", "6dof")}


any_float = st.floats(allow_nan=True, allow_infinity=True, width=64)


@FUZZ
@given(mode=st.sampled_from(["3dof", "6dof"]), data=st.data(), seed=st.integers(0, 2**32))
def test_any_actions_give_a_clean_step_or_a_clear_refusal(batches, mode, data, seed):
    batch = batches[mode]
    batch.reset(seed=seed)
    for _ in range(3):
        actions = data.draw(hnp.arrays(np.float64, (N, batch.act_dim), elements=any_float))
        if not np.all(np.isfinite(actions)):
            with pytest.raises(ValueError, match=r"NaN or inf for lander\(s\)"):
                batch.step(actions)
        else:
            obs, rewards, _, _ = batch.step(actions)
            _assert_clean(obs, rewards)


@FUZZ
@given(seed=st.one_of(st.integers(-2**70, 2**70), st.floats(), st.text(max_size=3), st.booleans()))
def test_any_seed_is_used_or_refused_by_name(batches, seed):
    batch = batches["3dof"]
    valid = isinstance(seed, int) and not isinstance(seed, bool) and 0 <= seed <= 2**63 - 1
    if valid:
        _assert_clean(batch.reset(seed=seed), np.zeros(1))
    else:
        with pytest.raises(ValueError, match=r"seed must be an integer"):
            batch.reset(seed=seed)


@FUZZ
@given(masks=st.lists(hnp.arrays(np.bool_, (N,)), min_size=1, max_size=4))
def test_any_reset_masks_step_cleanly_once_every_lander_started(masks):
    env = SouthPoleVectorEnv(N, scenario="nominal_flat", mode="3dof")
    started = np.zeros(N, bool)
    for k, mask in enumerate(masks):
        env.reset(seed=k if k == 0 else None, options={"reset_mask": mask})
        started |= mask
        if started.all():
            obs, rewards, *_ = env.step(np.zeros((N, 3), np.float32))
            _assert_clean(obs, rewards)
        else:
            with pytest.raises(ValueError, match=r"before reset\(\)"):
                env.step(np.zeros((N, 3), np.float32))


# Numeric fields of the lander spec with the values a user might put there by mistake.
LANDER_FIELDS = ("dry_mass_kg", "propellant_mass_kg", "throttle_time_constant_s", "rcs_isp_s", "rcs_lever_arm_m",
                 "max_slew_rate_dps", "max_vertical_speed_mps", "max_horizontal_speed_mps", "max_tilt_deg",
                 "max_angular_rate_dps", "max_slope_deg")
wild_number = st.one_of(any_float, st.sampled_from([0.0, -1.0, 1e-300, 1e300, 1e-9, 1e9]), st.text(max_size=2))
wild_vector = st.one_of(st.tuples(wild_number, wild_number, wild_number), st.lists(any_float, max_size=4))


def _spec_or_error(build):
    try:
        return build()
    except ValueError as err:
        assert "LanderSpec" in str(err) or "EngineSpec" in str(err), f"error names no spec field: {err}"
        return None


@FUZZ
@given(mode=st.sampled_from(["3dof", "6dof"]), data=st.data())
def test_any_lander_spec_is_refused_by_name_or_flies_cleanly(mode, data):
    kind = data.draw(st.sampled_from(["scalar", "inertia", "torque", "engine"]))
    if kind == "scalar":
        name = data.draw(st.sampled_from(LANDER_FIELDS))
        value = data.draw(wild_number)
        spec = _spec_or_error(lambda: dataclasses.replace(VIKRAM_LIKE, **{name: value}))
    elif kind == "inertia":
        value = data.draw(wild_vector)
        spec = _spec_or_error(lambda: dataclasses.replace(VIKRAM_LIKE, inertia_dry_kgm2=value))
    elif kind == "torque":
        value = data.draw(wild_vector)
        spec = _spec_or_error(lambda: dataclasses.replace(VIKRAM_LIKE, rcs_max_torque_nm=value))
    else:
        field = data.draw(st.sampled_from(["direction", "max_thrust_n", "min_throttle", "isp_s", "position_m"]))
        value = data.draw(wild_vector if field in ("direction", "position_m") else wild_number)
        spec = _spec_or_error(lambda: dataclasses.replace(
            VIKRAM_LIKE, engines=tuple(dataclasses.replace(e, **{field: value}) for e in VIKRAM_LIKE.engines)))
    if spec is None:
        return
    batch = LanderBatch(get_scenario("nominal_flat", spec), N, mode=mode)
    obs = batch.reset(seed=1)
    _assert_clean(obs, np.zeros(1))
    rng = np.random.default_rng(0)
    for _ in range(50):
        obs, rewards, _, _ = batch.step(rng.uniform(-1, 1, (N, batch.act_dim)))
        _assert_clean(obs, rewards)


def test_fuzzed_values_include_the_known_breakers():
    """The spec cases that once gave NaN from the first step are among the fuzzed values, and refused."""
    for inertia in ((1e-9,) * 3, (1e-300,) * 3):
        with pytest.raises(ValueError, match="inertia_dry_kgm2"):
            dataclasses.replace(VIKRAM_LIKE, inertia_dry_kgm2=inertia)
    assert math.isclose(VIKRAM_LIKE.max_axial_thrust_n, 3200.0)
