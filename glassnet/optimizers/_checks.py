"""Argument checks shared by the optimizers and the learning-rate schedules.

Each check returns the value when it passes and otherwise raises a TypeError (not a number) or
a ValueError (out of range) whose message names the class, the argument and the range.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

#: The ranges the arguments are checked against: (how a message states it, the test).
NONNEGATIVE = ("a number >= 0", lambda v: v >= 0)
POSITIVE = ("a number > 0", lambda v: v > 0)
UNIT_OPEN = ("in [0, 1)", lambda v: 0 <= v < 1)
UNIT = ("in [0, 1]", lambda v: 0 <= v <= 1)
UNIT_LEFT_OPEN = ("in (0, 1]", lambda v: 0 < v <= 1)


def is_real(value: Any) -> bool:
    """Whether ``value`` is a real number (NumPy scalars included), not a bool."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def check_range(
    owner: str, name: str, value: Any, rule: tuple[str, Any], optional: bool = False
) -> float | None:
    """``value`` as a float if it passes ``rule`` (None passes where ``optional``); else a
    TypeError (not a real number) or a ValueError stating the range."""
    if value is None and optional:
        return None
    if not is_real(value):
        raise TypeError(
            f"{owner}: '{name}' must be a real number. Received: {name}={value!r} "
            f"(type {type(value).__name__})."
        )
    if not (math.isfinite(value) and rule[1](value)):
        raise ValueError(f"{owner}: '{name}' must be {rule[0]}. Received: {name}={value!r}")
    return float(value)


def check_steps(owner: str, name: str, value: Any, rule: tuple[str, Any]) -> int | float:
    """A count of optimizer steps that passes ``rule``: kept an int when given as an integer
    (so configs read ``1000``, not ``1000.0``), a float otherwise (Keras accepts both)."""
    number = check_range(owner, name, value, rule)
    return int(value) if isinstance(value, numbers.Integral) else number


def check_name(owner: str, name: Any) -> Any:
    """``name`` unchanged if it is a string or None; else a TypeError."""
    if name is not None and not isinstance(name, str):
        raise TypeError(f"{owner}: 'name' must be a string. Received: name={name!r}")
    return name
