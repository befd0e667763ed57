"""Physical constants, each with its unit and source."""

LUNAR_GRAVITY_MPS2 = 1.62
"""Lunar surface gravity (m/s^2). Source: NASA Moon fact sheet."""

LUNAR_MEAN_RADIUS_M = 1_737_400.0
"""Mean lunar radius (m). Source: NASA Moon fact sheet."""

STANDARD_GRAVITY_MPS2 = 9.80665
"""Standard gravity g0 used to turn specific impulse into exhaust speed (m/s^2). Definition."""

SOUTH_POLE_MAX_SUN_ELEVATION_DEG = 1.5
"""The sun never rises more than about 1.5 deg above the horizon at the lunar south pole.
Source: NASA Scientific Visualization Studio."""
