"""Policies behind one batched interface: observations (n, obs_dim) in, actions (n, act_dim) out."""

from agents.policy import Policy, RandomPolicy
from agents.velocity_field import VelocityFieldController

__all__ = ["Policy", "RandomPolicy", "VelocityFieldController"]
