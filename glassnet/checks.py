"""Argument checks shared by ops, layers, optimizers and the architectures: one copy of each.

Every check takes ``where`` (how the error names the culprit: ``"Conv2D"``, ``"conv2d"``,
``"Dense 'dense_1'"``) and the argument's name, and returns the value normalised (a bool, an
int, a pair) or raises a ``TypeError`` (wrong kind of value) or a ``ValueError`` (right kind,
wrong value) whose message says what was expected and what was received.

It sits beside ``backend`` at the top of the house and imports nothing from glassnet, so every
part below it can use it.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

__all__ = [
    "NONNEGATIVE",
    "POSITIVE",
    "UNIT",
    "UNIT_LEFT_OPEN",
    "UNIT_OPEN",
    "Pads",
    "Pair",
    "build_from_config",
    "build_known",
    "check_bool",
    "check_int_pair",
    "check_int_tuple",
    "check_name",
    "check_number",
    "check_padding",
    "check_positive_int",
    "check_range",
    "check_seed",
    "check_steps",
    "get_from",
    "is_int",
    "is_real",
    "serialize_as",
]

#: (height, width) sizes: a kernel, a stride, a dilation.
Pair = tuple[int, int]
#: Explicit padding ((top, bottom), (left, right)).
Pads = tuple[Pair, Pair]

_PADDING_HELP = (
    "Expected 'valid', 'same', an int, a pair (pad_h, pad_w) or ((top, bottom), (left, right))"
)


def is_int(value: Any) -> bool:
    """Whether ``value`` is a Python or NumPy integer (a bool is not)."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def is_real(value: Any) -> bool:
    """Whether ``value`` is a real number (NumPy scalars included), not a bool."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def check_bool(where: str, arg: str, value: Any) -> bool:
    """``value`` as a bool, which it must already be (``1`` or ``"yes"`` are refused)."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{where}: '{arg}' must be True or False. Received: {arg}={value!r}")
    return bool(value)


def check_positive_int(where: str, arg: str, value: Any) -> int:
    """``value`` as an int ≥ 1 (TypeError for a non-integer, ValueError for one below 1)."""
    if not is_int(value) or value < 1:
        error = ValueError if is_int(value) else TypeError
        raise error(f"{where}: '{arg}' must be a positive integer. Received: {arg}={value!r}")
    return int(value)


def check_int_pair(where: str, arg: str, value: Any) -> Pair:
    """An int or a pair of ints, all ≥ 1, as a pair (Keras's ``standardize_tuple``)."""
    return check_int_tuple(where, arg, value, 2)  # type: ignore[return-value]


def check_int_tuple(where: str, arg: str, value: Any, rank: int) -> tuple[int, ...]:
    """An int or a tuple of ``rank`` ints, all ≥ 1, as that tuple (Keras's
    ``standardize_tuple``): kernel sizes, strides and dilations of 2-D and 3-D windows."""
    items = tuple(value) if isinstance(value, (tuple, list)) else (value,) * rank
    if len(items) != rank or not all(is_int(v) for v in items):
        kind, example = (
            ("a pair of ints", "(2, 1)")
            if rank == 2
            else (f"a tuple of {rank} ints", str((2,) + (1,) * (rank - 1)))
        )
        raise TypeError(
            f"{where}: {arg} must be an int or {kind}. Expected e.g. {arg}=2 or "
            f"{arg}={example}, received {arg}={value!r}."
        )
    if min(items) < 1:
        raise ValueError(
            f"{where}: {arg} must be positive. Expected integers ≥ 1, received {arg}={value!r}. "
            f"The smallest is {arg}=1."
        )
    return tuple(int(v) for v in items)


def check_padding(
    where: str, padding: Any, allow_explicit: bool = True, rank: int = 2
) -> str | tuple[Pair, ...]:
    """``padding`` as "valid", "same" (any case) or, if allowed, explicit (before, after) pairs,
    one per spatial axis: ((top, bottom), (left, right)) for images (``rank`` 2), with
    (front, back) first for volumes (``rank`` 3). An int pads every side, a tuple of ``rank``
    ints both sides of each axis."""
    if isinstance(padding, str):
        mode = padding.lower()
        if mode in ("valid", "same"):
            return mode
        expected = _padding_help(rank) if allow_explicit else "Expected 'valid' or 'same'"
        raise ValueError(
            f"{where}: unknown padding {padding!r}. {expected}, received padding={padding!r}. "
            "Use 'same' to keep the image size, 'valid' for no padding."
        )
    if not allow_explicit:
        raise TypeError(
            f"{where}: padding must be 'valid' or 'same'. Expected a string, received "
            f"padding={padding!r}. Pad explicitly with ops.pad first if you need other padding."
        )
    is_seq = isinstance(padding, (tuple, list)) and len(padding) == rank
    if is_int(padding):
        pads = ((padding, padding),) * rank
    elif is_seq and all(map(is_int, padding)):
        pads = tuple((p, p) for p in padding)
    elif (
        is_seq
        and all(isinstance(p, (tuple, list)) and len(p) == 2 for p in padding)
        and all(is_int(v) for p in padding for v in p)
    ):
        pads = tuple(tuple(p) for p in padding)
    else:
        raise TypeError(
            f"{where}: bad padding. {_padding_help(rank)}, received padding={padding!r}."
        )
    if min(v for p in pads for v in p) < 0:
        raise ValueError(
            f"{where}: padding must not be negative. Expected sizes ≥ 0, received "
            f"padding={padding!r}. Crop the input instead."
        )
    return tuple((int(a), int(b)) for a, b in pads)


def _padding_help(rank: int) -> str:
    """The spellings of an explicit padding, for messages."""
    if rank == 2:
        return _PADDING_HELP
    return (
        f"Expected 'valid', 'same', an int, a tuple of {rank} ints or {rank} (before, after) pairs"
    )


def check_number(
    where: str,
    arg: str,
    value: Any,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    """``value`` as a float: a finite real number within [low, high] (open ends where asked)."""
    if not is_real(value) or not math.isfinite(value):
        raise TypeError(f"{where}: '{arg}' must be a finite number. Received: {arg}={value!r}")
    too_low = low is not None and (value <= low if low_open else value < low)
    too_high = high is not None and (value >= high if high_open else value > high)
    if too_low or too_high:
        lo = "-inf" if low is None else low
        hi = "inf" if high is None else high
        left = "(" if low_open or low is None else "["
        right = ")" if high_open or high is None else "]"
        interval = f"{left}{lo}, {hi}{right}"
        raise ValueError(f"{where}: '{arg}' must be in {interval}. Received: {arg}={value!r}")
    return float(value)


# ------------------------------------------------------------------ named ranges
# The optimizers and learning-rate schedules name their ranges ("a number > 0", "in [0, 1)")
# and call NaN and inf out of range (a ValueError), where check_number calls them no number.

#: The ranges ``check_range`` checks against: (how a message states it, the test).
NONNEGATIVE = ("a number >= 0", lambda v: v >= 0)
POSITIVE = ("a number > 0", lambda v: v > 0)
UNIT_OPEN = ("in [0, 1)", lambda v: 0 <= v < 1)
UNIT = ("in [0, 1]", lambda v: 0 <= v <= 1)
UNIT_LEFT_OPEN = ("in (0, 1]", lambda v: 0 < v <= 1)


def check_range(
    where: str, arg: str, value: Any, rule: tuple[str, Any], optional: bool = False
) -> float | None:
    """``value`` as a float if it passes ``rule`` (None passes where ``optional``); else a
    TypeError (not a real number) or a ValueError stating the range."""
    if value is None and optional:
        return None
    if not is_real(value):
        raise TypeError(
            f"{where}: '{arg}' must be a real number. Received: {arg}={value!r} "
            f"(type {type(value).__name__})."
        )
    if not (math.isfinite(value) and rule[1](value)):
        raise ValueError(f"{where}: '{arg}' must be {rule[0]}. Received: {arg}={value!r}")
    return float(value)


def check_seed(where: str, seed: Any) -> int | None:
    """A random seed: a non-negative integer (NumPy's generators take no other), or None for
    the engine's generator."""
    if seed is None:
        return None
    whole = is_int(seed)
    if not whole or seed < 0:
        raise (ValueError if whole else TypeError)(
            f"{where}: 'seed' must be a non-negative integer or None. Received: seed={seed!r}"
        )
    return int(seed)


def check_steps(where: str, arg: str, value: Any, rule: tuple[str, Any]) -> int | float:
    """A count of optimizer steps that passes ``rule``: kept an int when given as an integer
    (so configs read ``1000``, not ``1000.0``), a float otherwise (Keras accepts both)."""
    number = check_range(where, arg, value, rule)
    return int(value) if isinstance(value, numbers.Integral) else number


def check_name(where: str, name: Any) -> Any:
    """``name`` unchanged if it is a string or None; else a TypeError."""
    if name is not None and not isinstance(name, str):
        raise TypeError(f"{where}: 'name' must be a string. Received: name={name!r}")
    return name


def build_from_config(kind: str, known: dict[str, Any], config: Any) -> Any:
    """The object a name or a ``{"class_name": ..., "config": {...}}`` dict describes, built
    by ``known[class_name].from_config`` (a regularizer, a constraint): nothing from the
    config is evaluated, and a bad one raises a ``ValueError`` naming it and the known names."""
    if isinstance(config, str):
        class_name, arguments = config, {}
    elif isinstance(config, dict) and isinstance(config.get("class_name"), str):
        class_name, arguments = config["class_name"], config.get("config") or {}
    else:
        raise ValueError(
            f"{kind}s: expected a name or a {{'class_name': ..., 'config': ...}} dict. "
            f"Received: {config!r}"
        )
    if class_name not in known:
        raise ValueError(
            f"Unknown {kind}: {class_name!r}. Known {kind}s: {', '.join(sorted(known))}."
        )
    if not isinstance(arguments, dict):
        raise ValueError(
            f"{kind}s: the 'config' of {class_name} must be a dict of its constructor "
            f"arguments. Received: {arguments!r}"
        )
    try:
        return known[class_name].from_config(dict(arguments))
    except TypeError as err:
        raise ValueError(
            f"{kind}s: {class_name} cannot be built from {arguments!r} ({err})."
        ) from err


def get_from(kind: str, base: type, example: str, identifier: Any, deserialize: Any) -> Any:
    """Keras's ``get`` for a family of saved objects (a constraint, a regularizer): an instance
    of ``base`` or None as is, a name or a config dict through ``deserialize``; anything else
    (a plain function) raises a ``TypeError`` saying to subclass ``base``."""
    if identifier is None or isinstance(identifier, base):
        return identifier
    if isinstance(identifier, (str, dict)):
        return deserialize(identifier)
    raise TypeError(
        f"{kind}s.get: expected a {base.__name__}, a name such as {example!r} or a config "
        f"dict. Received: {identifier!r} of type {type(identifier).__name__}. Wrap a function "
        f"in a {base.__name__} subclass, so that it can be saved."
    )


def serialize_as(kind: str, base: type, obj: Any) -> dict[str, Any] | None:
    """``{"class_name": ..., "config": obj.get_config()}`` (Keras's form) for an instance of
    ``base`` (a constraint, a regularizer), None for None; anything else raises a TypeError."""
    if obj is None:
        return None
    if not isinstance(obj, base):
        raise TypeError(f"{kind}s.serialize: expected a {base.__name__}. Received: {obj!r}")
    return {"class_name": type(obj).__name__, "config": obj.get_config()}


def build_known(unknown: str, classes: dict[str, Any], config: dict[str, Any]) -> Any:
    """The object a saved ``{"class_name": ..., "config": {...}}`` describes, built by
    ``classes[class_name].from_config`` (a loss, a metric): only those classes, so nothing
    from the file is evaluated. Another class name raises a ``ValueError`` that starts with
    ``unknown`` ("Unknown loss class") and lists the known ones."""
    cls = classes.get(config.get("class_name", ""))
    if cls is None:
        raise ValueError(
            f"{unknown} {config.get('class_name')!r}. Known: {', '.join(sorted(classes))}."
        )
    return cls.from_config(config.get("config", {}))
