"""Constraints: projections applied to a weight after every optimizer update.

Where a regularizer makes large weights expensive, a constraint forbids them: after each step
the weight is put back into an allowed set. ``MaxNorm(3)`` on a Dense kernel rescales every
neuron's incoming weight vector whose length exceeds 3 back to 3 (the max-norm that the
Dropout paper pairs with dropout); ``NonNeg`` sets negative weights to zero. Names, arguments,
defaults and formulas are Keras 3's.

A constraint is called on the weight's array and returns the projected array of the same
shape. ``Layer.add_weight(..., constraint=)`` hangs it on the weight Tensor
(``Tensor.constraint``), and ``Optimizer.step`` applies it to each weight it updated, so
``fit`` and a hand-written PyTorch-style loop both respect it.
"""

from __future__ import annotations

from typing import Any, ClassVar

from glassnet.backend import get_array_module
from glassnet.checks import build_from_config, check_number, get_from, is_int, serialize_as

__all__ = [
    "Constraint",
    "MaxNorm",
    "MinMaxNorm",
    "NonNeg",
    "UnitNorm",
    "deserialize",
    "get",
    "serialize",
]

# Keras's backend.epsilon(): keeps the rescaling finite for an all-zero weight vector.
_EPSILON = 1e-7

#: Class name -> class, filled in for every ``Constraint`` subclass (user ones included).
_REGISTRY: dict[str, type[Constraint]] = {}


class Constraint:
    """Base class: ``constraint(w) -> array``, ``w`` projected into the allowed set.

    Subclasses implement ``__call__`` on arrays (NumPy or CuPy) and name their constructor
    arguments, stored under the same names, in ``_config_keys`` (or write ``get_config``).
    """

    _config_keys: ClassVar[tuple[str, ...]] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        _REGISTRY[cls.__name__] = cls

    def __call__(self, w: Any) -> Any:
        return w

    def get_config(self) -> dict[str, Any]:
        """The constructor arguments (JSON-safe), so ``from_config`` rebuilds it."""
        return {key: getattr(self, key) for key in self._config_keys}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Constraint:
        """Rebuild a constraint from ``get_config()``'s output."""
        return cls(**config)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class _Norms(Constraint):
    """A constraint on the Euclidean norms of ``w`` along ``axis``."""

    def _set_axis(self, axis: Any) -> None:
        if is_int(axis):
            self.axis: int | list[int] = int(axis)
        elif isinstance(axis, (list, tuple)) and axis and all(is_int(a) for a in axis):
            self.axis = [int(a) for a in axis]
        else:
            raise TypeError(
                f"{type(self).__name__}: 'axis' must be an integer or a list of integers (the "
                f"axes each norm runs over). Received: axis={axis!r}"
            )

    def _norms(self, w: Any) -> Any:
        xp = get_array_module(w)
        axis = self.axis if is_int(self.axis) else tuple(self.axis)
        return xp.sqrt(xp.sum(xp.square(w), axis=axis, keepdims=True))


class MaxNorm(_Norms):
    """Rescale each weight vector whose norm exceeds ``max_value`` to that norm:
    ``w · clip(‖w‖, 0, max_value) / (ε + ‖w‖)``, norms taken along ``axis``.

    Args:
        max_value: the largest norm allowed.
        axis: the axes each norm runs over: 0 for a Dense kernel ``(in, units)`` (one norm per
            neuron), ``[0, 1, 2]`` for a Conv2D kernel ``(kh, kw, in, filters)`` (per filter).

    Shape:
        Input and output: the weight's shape.
    """

    _config_keys = ("max_value", "axis")

    def __init__(self, max_value: float = 2, axis: int | list[int] = 0) -> None:
        self.max_value = check_number("MaxNorm", "max_value", max_value, 0.0)
        self._set_axis(axis)

    def __call__(self, w: Any) -> Any:
        xp = get_array_module(w)
        norms = self._norms(w)
        desired = xp.clip(norms, 0, self.max_value)
        return w * (desired / (_EPSILON + norms))


class NonNeg(Constraint):
    """Set negative weights to zero: ``w · (w ≥ 0)``.

    Shape:
        Input and output: the weight's shape.
    """

    def __call__(self, w: Any) -> Any:
        return w * (w >= 0).astype(w.dtype)


class UnitNorm(_Norms):
    """Rescale each weight vector to norm 1: ``w / (ε + ‖w‖)``, norms taken along ``axis``.

    Args:
        axis: the axes each norm runs over (as ``MaxNorm``).

    Shape:
        Input and output: the weight's shape.
    """

    _config_keys = ("axis",)

    def __init__(self, axis: int | list[int] = 0) -> None:
        self._set_axis(axis)

    def __call__(self, w: Any) -> Any:
        return w / (_EPSILON + self._norms(w))


class MinMaxNorm(_Norms):
    """Move each weight vector's norm into ``[min_value, max_value]``, at ``rate``:
    ``w · (rate · clip(‖w‖, min, max) + (1 − rate) · ‖w‖) / (ε + ‖w‖)``.

    Args:
        min_value, max_value: the allowed norms.
        rate: 1 projects at once; below 1 moves each norm only part of the way per step.
        axis: the axes each norm runs over (as ``MaxNorm``).

    Shape:
        Input and output: the weight's shape.
    """

    _config_keys = ("min_value", "max_value", "rate", "axis")

    def __init__(
        self,
        min_value: float = 0.0,
        max_value: float = 1.0,
        rate: float = 1.0,
        axis: int | list[int] = 0,
    ) -> None:
        self.min_value = check_number("MinMaxNorm", "min_value", min_value, 0.0)
        self.max_value = check_number("MinMaxNorm", "max_value", max_value, self.min_value)
        self.rate = check_number("MinMaxNorm", "rate", rate, 0.0, 1.0)
        self._set_axis(axis)

    def __call__(self, w: Any) -> Any:
        xp = get_array_module(w)
        norms = self._norms(w)
        clipped = xp.clip(norms, self.min_value, self.max_value)
        desired = self.rate * clipped + (1 - self.rate) * norms
        return w * (desired / (_EPSILON + norms))


_ALIASES: dict[str, type[Constraint]] = {
    "max_norm": MaxNorm,
    "non_neg": NonNeg,
    "nonneg": NonNeg,
    "unit_norm": UnitNorm,
    "min_max_norm": MinMaxNorm,
}


def get(identifier: Any) -> Constraint | None:
    """The constraint named by ``identifier`` (Keras's ``constraints.get``): a ``Constraint``
    (returned as is), a name (``"max_norm"``, ``"non_neg"``, ``"unit_norm"``,
    ``"min_max_norm"`` or a class name), a ``{"class_name": ..., "config": ...}`` dict, or None
    (none)."""
    return get_from("constraint", Constraint, "max_norm", identifier, deserialize)


def serialize(constraint: Constraint | None) -> dict[str, Any] | None:
    """``{"class_name": "MaxNorm", "config": {...}}`` (Keras's form), or None for none."""
    return serialize_as("constraint", Constraint, constraint)


def deserialize(config: str | dict[str, Any]) -> Constraint:
    """Rebuild a constraint from a name or ``serialize``'s output; nothing is evaluated."""
    known = {**_ALIASES, **{k: v for k, v in _REGISTRY.items() if not k.startswith("_")}}
    return build_from_config("constraint", known, config)
