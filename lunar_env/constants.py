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

MICRO_G_MPS2 = 9.80665e-6
"""One micro-g (m/s^2): 1e-6 standard gravity, the unit of accelerometer biases. Definition."""

# --- sizes shared by the configs, the state layout and the kernels ---------------------------
MAX_ENGINES = 8
"""Largest number of main engines a lander may have (array sizes in the kernels)."""

FAULT_NAMES = ("altimeter_dead", "altimeter_rim_jump", "altimeter_late", "thrust_loss", "engine_out", "imu_bias_jump")
"""The faults of lunar_env/faults.py, in bit order: fault k is bit 1 << k of the fault masks."""

NUM_FAULTS = len(FAULT_NAMES)
"""One bit and one onset column of the state per fault."""
