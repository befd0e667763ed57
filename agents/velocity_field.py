"""Deprecated alias of ``agents.descent_profile``, kept for one release: the controller was
renamed ``DescentProfileController`` so that it is not confused with the reward's velocity
field (lunar_env/reward.py)."""

import warnings

from agents.descent_profile import DescentProfileController

warnings.warn("agents.velocity_field is deprecated and will be removed in the next release; use "
              "agents.descent_profile.DescentProfileController", DeprecationWarning, stacklevel=2)

VelocityFieldController = DescentProfileController  # the old name of the same class
