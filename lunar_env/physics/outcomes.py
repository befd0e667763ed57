"""How an episode ends, as small integer codes the kernels write and Python reports by name."""

IN_FLIGHT = 0
LANDED = 1  # safe touchdown inside the target radius: the only success
CRASH_VERTICAL_SPEED = 2
CRASH_HORIZONTAL_SPEED = 3
CRASH_TILT = 4
CRASH_ANGULAR_RATE = 5
CRASH_SLOPE = 6
TIPPED_OVER = 7
LANDED_OFF_TARGET = 8  # safe touchdown outside the target radius
OUT_OF_BOUNDS = 9
PROPELLANT_EXHAUSTED = 10  # airborne with empty tanks: it can only fall
TIME_LIMIT = 11  # truncation, not termination
NUMERICAL_ERROR = 12  # the state turned non-finite: the lander is ended, never integrated further

OUTCOME_NAMES = (
    "in_flight",
    "landed",
    "crash_vertical_speed",
    "crash_horizontal_speed",
    "crash_tilt",
    "crash_angular_rate",
    "crash_slope",
    "tipped_over",
    "landed_off_target",
    "out_of_bounds",
    "propellant_exhausted",
    "time_limit",
    "numerical_error",
)

CRASH_OUTCOMES = frozenset(range(CRASH_VERTICAL_SPEED, TIPPED_OVER + 1)) | {OUT_OF_BOUNDS, PROPELLANT_EXHAUSTED}


def outcome_name(code: int) -> str:
    """Name of an outcome code, e.g. ``outcome_name(1) == "landed"``."""
    return OUTCOME_NAMES[int(code)]
