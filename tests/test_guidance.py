"""The descent-profile controller's laws, checked on hand-made observations."""

import numpy as np
import pytest

from agents.descent_profile import DescentProfileController
from agents.thrust_command import SLICES, current_mass
from lunar_env.constants import LUNAR_GRAVITY_MPS2
from lunar_env.simulator import LanderBatch


def observation_on_the_profile(controller: DescentProfileController, height_m: float) -> np.ndarray:
    """A truth observation of a lander straight above the target, sinking at -sqrt(2 a_brake h)."""
    obs = LanderBatch("nominal_flat", 1, mode="3dof", observation_mode="truth").reset(seed=0).copy()
    obs[:, SLICES["position"]] = [0.0, 0.0, height_m + controller.touchdown_height]
    obs[:, SLICES["altitude"]] = height_m + controller.touchdown_height
    obs[:, SLICES["velocity"]] = [0.0, 0.0, -np.sqrt(2.0 * controller.a_brake * height_m)]
    return obs


@pytest.mark.parametrize("height_m", [5.0, 50.0, 400.0])
def test_feedforward_brakes_at_the_profiles_deceleration(height_m):
    lander = LanderBatch("nominal_flat", 1).scenario.lander
    with_ff = DescentProfileController(lander)
    obs = observation_on_the_profile(with_ff, height_m)
    mass = current_mass(lander, obs)
    # On the profile the velocity error is zero, so the command is gravity plus d(v_ref)/dt = a_brake.
    accel = with_ff.thrust_vector(obs)[0] / mass[0]
    np.testing.assert_allclose(accel, [0.0, 0.0, LUNAR_GRAVITY_MPS2 + with_ff.a_brake], atol=1e-9)
    without = DescentProfileController(lander, feedforward=False)
    np.testing.assert_allclose(without.thrust_vector(obs)[0] / mass[0], [0.0, 0.0, LUNAR_GRAVITY_MPS2], atol=1e-9)


@pytest.mark.parametrize("tau_z_s", [10.0, 5.0])
def test_linear_sink_branch_feeds_forward_its_own_slope(tau_z_s):
    lander = LanderBatch("nominal_flat", 1).scenario.lander
    controller = DescentProfileController(lander, tau_z_s=tau_z_s)
    height = 20.0  # h / tau_z (2 or 4 m/s) < sqrt(2 a h) = 4.7 m/s: the linear branch is active
    obs = observation_on_the_profile(controller, height)
    obs[:, SLICES["velocity"]] = [0.0, 0.0, -height / tau_z_s]
    accel = controller.thrust_vector(obs)[0] / current_mass(lander, obs)[0]
    # d(v_ref)/dt = (h / tau_z) / tau_z: 0.2 or 0.8 m/s^2, the latter above a_brake.
    np.testing.assert_allclose(accel[2], LUNAR_GRAVITY_MPS2 + (height / tau_z_s) / tau_z_s, atol=1e-9)


def test_bad_settings_are_refused_by_name():
    lander = LanderBatch("nominal_flat", 1).scenario.lander
    for key in ("tau_z_s", "tau_h_s", "tau_v_s", "gate_height_m", "brake_accel_mps2"):
        with pytest.raises(ValueError, match=key):
            DescentProfileController(lander, **{key: 0.0})


def test_horizontal_feedforward_follows_the_fading_reference():
    lander = LanderBatch("nominal_flat", 1).scenario.lander
    controller = DescentProfileController(lander)
    height, east = 30.0, 20.0  # below the gate, 20 m west of the target
    obs = observation_on_the_profile(controller, height)
    obs[:, SLICES["position"]] = [-east, 0.0, height + controller.touchdown_height]
    unfaded = min(east / controller.tau_h, np.sqrt(2.0 * controller.a_brake * east), controller.v_h_max)
    sink = -np.sqrt(2.0 * controller.a_brake * height)
    obs[:, SLICES["velocity"]] = [unfaded * height / controller.h_gate, 0.0, sink]  # on the faded reference
    accel = controller.thrust_vector(obs)[0] / current_mass(lander, obs)[0]
    # The reference east speed shrinks at unfaded * |v_z| / h_gate: the command brakes at that rate.
    np.testing.assert_allclose(accel[0], unfaded * sink / controller.h_gate, rtol=1e-6)
    assert accel[1] == pytest.approx(0.0, abs=1e-12)


def test_registry_passes_options_to_the_builtin_laws_and_refuses_misfits():
    from agents.registry import load_policy

    batch = LanderBatch("nominal_flat", 1)
    assert load_policy("descent_profile", batch, options={"brake_accel_mps2": 0.6}).a_brake == 0.6
    assert load_policy("zemzev_replan", batch, options={"gate_height_m": 2.0}).replan_interval == 1.0
    with pytest.raises(ValueError, match="do not fit descent_profile"):
        load_policy("descent_profile", batch, options={"brake_typo": 0.6})
    with pytest.raises(ValueError, match="do not fit velocity_field"):
        load_policy("velocity_field", batch, options={"brake_typo": 0.6})
    with pytest.raises(ValueError, match="only to the built-in guidance laws"):
        load_policy("random", batch, options={"brake_accel_mps2": 0.6})


def test_pretrain_expert_options_reach_the_expert():
    from training.config import config_from_dict
    from training.pretrain import collect_demonstrations
    from training.pretrain_config import PretrainConfig

    config = config_from_dict({"name": "x", "pretrain": {"expert": "descent_profile",
                                                         "expert_options": {"brake_accel_mps2": 0.3}}})
    assert config.pretrain.expert_options == {"brake_accel_mps2": 0.3}
    gentle = PretrainConfig(
        expert="descent_profile", episodes=4, action_noise=0.0, expert_options={"brake_accel_mps2": 0.3}
    )
    firm = PretrainConfig(expert="descent_profile", episodes=4, action_noise=0.0)
    # Braking more gently from the same starts takes longer: more samples per flight.
    assert len(collect_demonstrations("hover_start", "3dof", "sensors", gentle, seed=2, progress=False)[0]) > len(
        collect_demonstrations("hover_start", "3dof", "sensors", firm, seed=2, progress=False)[0]
    )
    with pytest.raises(ValueError, match="pretrain.expert_options"):
        PretrainConfig(expert_options=["brake_accel_mps2"])


def test_the_former_name_velocity_field_flies_the_same_controller():
    """Recorded results and model cards name the controller ``velocity_field``: that name still
    loads it, with the same actions, and the old import path still works, with a warning."""
    import importlib
    import sys
    import warnings

    from agents.registry import load_policy, policy_mode

    batch = LanderBatch("nominal_flat", 3)
    obs = batch.reset(seed=5).copy()
    old, new = load_policy("velocity_field", batch), load_policy("descent_profile", batch)
    assert type(old) is DescentProfileController and type(new) is DescentProfileController
    np.testing.assert_array_equal(old.act(obs), new.act(obs))
    assert policy_mode("velocity_field") is None
    sys.modules.pop("agents.velocity_field", None)
    with pytest.warns(DeprecationWarning, match="agents.descent_profile"):
        module = importlib.import_module("agents.velocity_field")
    assert module.VelocityFieldController is DescentProfileController
    import agents

    with pytest.warns(DeprecationWarning, match="DescentProfileController"):
        assert agents.VelocityFieldController is DescentProfileController
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert agents.DescentProfileController is DescentProfileController
