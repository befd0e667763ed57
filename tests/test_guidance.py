"""The velocity-field controller's laws, checked on hand-made observations."""

import numpy as np
import pytest

from agents.thrust_command import SLICES, current_mass
from agents.velocity_field import VelocityFieldController
from lunar_env.constants import LUNAR_GRAVITY_MPS2
from lunar_env.simulator import LanderBatch


def observation_on_the_profile(controller: VelocityFieldController, height_m: float) -> np.ndarray:
    """A truth observation of a lander straight above the target, sinking at -sqrt(2 a_brake h)."""
    obs = LanderBatch("nominal_flat", 1, mode="3dof", observation_mode="truth").reset(seed=0).copy()
    obs[:, SLICES["position"]] = [0.0, 0.0, height_m + controller.touchdown_height]
    obs[:, SLICES["altitude"]] = height_m + controller.touchdown_height
    obs[:, SLICES["velocity"]] = [0.0, 0.0, -np.sqrt(2.0 * controller.a_brake * height_m)]
    return obs


@pytest.mark.parametrize("height_m", [5.0, 50.0, 400.0])
def test_feedforward_brakes_at_the_profiles_deceleration(height_m):
    lander = LanderBatch("nominal_flat", 1).scenario.lander
    with_ff = VelocityFieldController(lander)
    obs = observation_on_the_profile(with_ff, height_m)
    mass = current_mass(lander, obs)
    # On the profile the velocity error is zero, so the command is gravity plus d(v_ref)/dt = a_brake.
    accel = with_ff.thrust_vector(obs)[0] / mass[0]
    np.testing.assert_allclose(accel, [0.0, 0.0, LUNAR_GRAVITY_MPS2 + with_ff.a_brake], atol=1e-9)
    without = VelocityFieldController(lander, feedforward=False)
    np.testing.assert_allclose(without.thrust_vector(obs)[0] / mass[0], [0.0, 0.0, LUNAR_GRAVITY_MPS2], atol=1e-9)


def test_linear_sink_branch_feeds_forward_its_own_slope():
    lander = LanderBatch("nominal_flat", 1).scenario.lander
    controller = VelocityFieldController(lander, tau_z_s=10.0)
    height = 20.0  # h / tau_z = 2 m/s < sqrt(2 a h) = 4.7 m/s: the linear branch is active
    obs = observation_on_the_profile(controller, height)
    obs[:, SLICES["velocity"]] = [0.0, 0.0, -height / 10.0]
    accel = controller.thrust_vector(obs)[0] / current_mass(lander, obs)[0]
    np.testing.assert_allclose(accel[2], LUNAR_GRAVITY_MPS2 + (height / 10.0) / 10.0, atol=1e-9)
