"""Policies behind one batched interface: observations (n, obs_dim) in, actions (n, act_dim) out.

The names below load on first use, so that light modules of the package (``agents.shipped``)
import without numpy or the simulator.
"""

import importlib
import warnings

_EXPORTS = {"Policy": "agents.policy", "RandomPolicy": "agents.policy",
            "DescentProfileController": "agents.descent_profile"}
_DEPRECATED = {"VelocityFieldController": "DescentProfileController"}  # old name -> new, for one release

__all__ = ["DescentProfileController", "Policy", "RandomPolicy"]


def __getattr__(name: str):
    if name in _DEPRECATED:
        warnings.warn(f"agents.{name} is deprecated and will be removed in the next release; use "
                      f"agents.{_DEPRECATED[name]}", DeprecationWarning, stacklevel=2)
        name = _DEPRECATED[name]
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'agents' has no attribute {name!r}")
