"""Type and range checks of config fields, shared by the training, warm-start and sweep configs.

Each check takes the key's dotted name (``ppo.ent_coef``) and raises a ValueError that names it,
says what is allowed and shows the value given, e.g. ``ppo.ent_coef must be a number >= 0, got
'lots'``. YAML turns ``maybe`` into a string and ``5`` into an int, so the checks look at the
Python type: a boolean is never a number, a string is never a number or a boolean, and an
integer field takes a float only when it has no fraction (``5.0e6`` from a YAML file).
"""

from __future__ import annotations

import math
import numbers
from typing import Any

from lunar_env.checks import check_integer, integer_bounds_text


def _bounds_text(low: float | None, high: float | None, low_open: bool, high_open: bool) -> str:
    if low is not None and high is not None:
        return f" in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
    if low is not None:
        return f" {'>' if low_open else '>='} {low:g}"
    if high is not None:
        return f" {'<' if high_open else '<='} {high:g}"
    return ""


def _outside(x: float, low: float | None, high: float | None, low_open: bool, high_open: bool) -> bool:
    if low is not None and (x <= low if low_open else x < low):
        return True
    return high is not None and (x >= high if high_open else x > high)


def check_int(key: str, value: Any, low: int | None = None, high: int | None = None) -> int:
    """``value`` as an int in [low, high]; refuses booleans, strings and floats with a fraction.

    A YAML file writes large counts as ``5.0e6``, a float: one without a fraction is taken as its
    integer, and the check itself is :func:`lunar_env.checks.check_integer`, the project's one."""
    real = isinstance(value, numbers.Real) and not isinstance(value, (bool, numbers.Integral))
    if not (real and math.isfinite(value) and float(value).is_integer()):
        return check_integer(key, value, low, high)
    try:
        return check_integer(key, int(value), low, high)
    except ValueError:  # out of range: show the value as the file gave it (4.0, not 4)
        raise ValueError(f"{key} must be an integer{integer_bounds_text(low, high)}, got {value!r}") from None


def check_number(key: str, value: Any, low: float | None = None, high: float | None = None, *,
                 low_open: bool = False, high_open: bool = False) -> float:
    """``value`` as a finite float inside the bounds; refuses booleans, strings, NaN and infinity."""
    wanted = f"a number{_bounds_text(low, high, low_open, high_open)}"
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{key} must be {wanted}, got {value!r}")
    number = float(value)
    if not math.isfinite(number) or _outside(number, low, high, low_open, high_open):
        raise ValueError(f"{key} must be {wanted}, got {value!r}")
    return number


def check_optional_number(key: str, value: Any, low: float | None = None, high: float | None = None, *,
                          low_open: bool = False, high_open: bool = False) -> float | None:
    """None, or a number as :func:`check_number` takes it (the message says null is allowed too)."""
    if value is None:
        return None
    try:
        return check_number(key, value, low, high, low_open=low_open, high_open=high_open)
    except ValueError:
        raise ValueError(f"{key} must be null or a number{_bounds_text(low, high, low_open, high_open)}, "
                         f"got {value!r}") from None


def check_bool(key: str, value: Any) -> bool:
    """A real boolean: YAML ``true``/``false``, never the string ``maybe`` or the number 1."""
    if not isinstance(value, bool):
        raise ValueError(f"{key} must be true or false, got {value!r}")
    return value


def check_choice(key: str, value: Any, choices: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{key} must be one of {list(choices)}, got {value!r}")
    return value


def check_text(key: str, value: Any) -> str:
    """A non-empty string."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{key} must be a non-empty string, got {value!r}")
    return value


def check_folder_name(key: str, value: Any) -> str:
    """A plain folder name (no path separator, not '.' or '..'), so ``runs/<name>`` stays inside runs/."""
    if (not isinstance(value, str) or not value.strip() or "/" in value or "\\" in value or "\0" in value
            or value in (".", "..") or value != value.strip()):
        raise ValueError(f"{key} must be a plain folder name (not empty, no '/' or '\\', not '..', no "
                         f"surrounding spaces), got {value!r}")
    return value


def check_widths(key: str, value: Any) -> tuple[int, ...]:
    """A non-empty list of positive integers (layer widths)."""
    if not isinstance(value, (list, tuple)) or not value:
        raise ValueError(f"{key} must be a non-empty list of positive integers, e.g. [64, 64], got {value!r}")
    try:
        return tuple(check_int(f"{key}[{i}]", width, low=1) for i, width in enumerate(value))
    except ValueError:
        raise ValueError(f"{key} must be a non-empty list of positive integers, e.g. [64, 64], got {value!r}") from None


def check_mapping(key: str, value: Any) -> dict:
    """A mapping with string keys (a YAML section); None counts as empty."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValueError(f"{key} must be a mapping of settings, got {value!r}")
    bad = [k for k in value if not isinstance(k, str)]
    if bad:
        raise ValueError(f"{key}: keys must be names, got {bad!r}")
    return value


def unknown_keys(data: dict, known: set[str] | list[str] | tuple[str, ...], where: str) -> None:
    """Refuse keys not in ``known``, naming them and the known ones."""
    unknown = sorted(repr(k) if not isinstance(k, str) else k for k in data if k not in known)
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {unknown}; known keys are {sorted(known)}")
