"""The shared validation helpers and the module layout they keep free of import cycles."""

import subprocess
import sys

import numpy as np
import pytest

from lunar_env.checks import check_int, check_integer
from lunar_env.constants import FAULT_NAMES, NUM_FAULTS
from lunar_env.physics import state as S


@pytest.mark.parametrize("value", [True, False, np.bool_(True), 2.0, "3", None])
def test_check_int_refuses_what_is_not_an_integer(value):
    with pytest.raises(ValueError, match=r"Owner.count must be an integer >= 0, got"):
        check_int("Owner", "count", value, 0)


def test_check_int_bounds_and_numpy_integers():
    assert check_int("Owner", "count", np.int64(7), 1, 10) == 7 and type(check_int("O", "c", np.int32(3), 0)) is int
    with pytest.raises(ValueError, match=r"Owner.count must be an integer in \[1, 10\], got 11"):
        check_int("Owner", "count", 11, 1, 10)
    with pytest.raises(ValueError, match=r"Owner.count must be an integer >= 1, got 0"):
        check_int("Owner", "count", 0, 1)


def test_fault_counts_are_derived_from_the_names():
    assert NUM_FAULTS == len(FAULT_NAMES)
    assert S.FAULT_RIM_JUMP - S.FAULT_ONSET == NUM_FAULTS  # one onset column per fault


@pytest.mark.parametrize("module", ["lunar_env.config", "lunar_env.faults", "lunar_env.physics.state",
                                    "lunar_env.checks", "lunar_env.constants"])
def test_core_modules_import_on_their_own(module):
    """Each imports first in a fresh interpreter: no cycle patched by lazy imports."""
    subprocess.run([sys.executable, "-c", f"import {module}"], check=True)


def test_the_yaml_integer_check_is_the_shared_one_after_taking_integral_floats():
    from training.field_checks import check_int as check_yaml_int

    assert check_yaml_int("ppo.n_steps", 5.0e6, 1) == 5_000_000 and type(check_yaml_int("k", 5.0e6)) is int
    assert check_yaml_int("k", np.int64(3), 0, 3) == 3
    for value in (True, np.bool_(False), 2.5, float("inf"), "3", None):  # the same refusals as check_integer
        with pytest.raises(ValueError, match=r"^ppo.n_steps must be an integer >= 1, got "):
            check_yaml_int("ppo.n_steps", value, 1)
        with pytest.raises(ValueError, match=r"^Owner.count must be an integer >= 1, got "):
            check_int("Owner", "count", value, 1)
    with pytest.raises(ValueError, match=r"^k must be an integer in \[0, 3\], got 4.0$"):
        check_yaml_int("k", 4.0, 0, 3)
    with pytest.raises(ValueError, match=r"^k must be an integer <= 3, got 4$"):
        check_integer("k", 4, high=3)
