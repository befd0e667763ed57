"""Validation helpers shared by every config dataclass: each raises a ValueError naming the owner,
the field, the allowed range and the value given. A leaf module: it imports nothing of the project."""

from __future__ import annotations

import math
from typing import Any

import numpy as np


def integer_bounds_text(low: int | None, high: int | None) -> str:
    """`` in [low, high]``, `` >= low``, `` <= high`` or nothing: the allowed range in an error message."""
    if low is not None and high is not None:
        return f" in [{low}, {high}]"
    if low is not None:
        return f" >= {low}"
    return f" <= {high}" if high is not None else ""


def check_integer(label: str, value: Any, low: int | None = None, high: int | None = None) -> int:
    """The project's one integer check: ``value`` as int if it is an integer in [low, high], else a
    ValueError naming ``label``. Booleans are refused although Python counts them as ints (True == 1
    would pass a seed or a count otherwise); numpy integers are taken."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{label} must be an integer{integer_bounds_text(low, high)}, got {value!r}")
    if (low is not None and value < low) or (high is not None and value > high):
        raise ValueError(f"{label} must be an integer{integer_bounds_text(low, high)}, got {value!r}")
    return int(value)


def check_int(owner: str, name: str, value: Any, low: int, high: int | None = None) -> int:
    """Return ``value`` as int if it is an integer (not a bool) in [low, high], else raise naming
    ``owner.name`` (the form of the config dataclasses' checks)."""
    return check_integer(f"{owner}.{name}", value, low, high)


def check_range(
    owner: str, name: str, value: Any, low: float, high: float, *, low_open: bool = False, high_open: bool = False
) -> float:
    """Return ``value`` as float if it lies in the interval, else raise a ValueError naming it."""
    if isinstance(value, (bool, np.bool_, str, bytes)):  # float() would take True and "5"
        raise ValueError(f"{owner}.{name} must be a number, got {value!r}")
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{owner}.{name} must be a number, got {value!r}") from None
    below = x <= low if low_open else x < low
    above = x >= high if high_open else x > high
    if math.isnan(x) or below or above:
        interval = f"{'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
        raise ValueError(f"{owner}.{name} must be in {interval}, got {value!r}")
    return x


def check_interval(owner: str, name: str, value: Any, low: float, high: float) -> tuple[float, float]:
    """Validate a (min, max) pair inside [low, high] with min <= max."""
    try:
        lo, hi = (float(v) for v in value)
    except (TypeError, ValueError):
        raise ValueError(f"{owner}.{name} must be a (min, max) pair of numbers, got {value!r}") from None
    check_range(owner, f"{name}[0]", lo, low, high)
    check_range(owner, f"{name}[1]", hi, low, high)
    if lo > hi:
        raise ValueError(f"{owner}.{name} must have min <= max, got {value!r}")
    return (lo, hi)


def check_vector(owner: str, name: str, value: Any, size: int = 3) -> tuple[float, ...]:
    """Validate a finite vector of ``size`` numbers."""
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{owner}.{name} must be {size} numbers, got {value!r}") from None
    if arr.shape != (size,) or not np.all(np.isfinite(arr)):
        raise ValueError(f"{owner}.{name} must be {size} finite numbers, got {value!r}")
    return tuple(float(v) for v in arr)
