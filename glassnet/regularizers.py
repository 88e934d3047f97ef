"""Regularizers: penalties on a layer's weights (or outputs) added to the loss it trains on.

A network that fits its training set perfectly may have done it with large, finely balanced
weights that generalise badly. Adding ``l2 · Σ w²`` to the loss makes every weight pay for its
size, so the gradient pulls each one toward zero a little at every step ("weight decay");
``l1 · Σ |w|`` pulls with a constant force and drives many weights to exactly zero. Names,
arguments, defaults and formulas are Keras 3's: ``Dense(64, kernel_regularizer=L2(1e-4))``.

A regularizer is called on a weight ``Tensor`` and returns a scalar ``Tensor`` built from the
engine's own ops, so the penalty is differentiated like the rest of the loss. ``Layer.losses``
collects the penalties and ``fit`` adds them to the loss it lowers and reports.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from glassnet import ops
from glassnet.checks import build_from_config, check_number, get_from, serialize_as
from glassnet.tensor import Tensor

__all__ = [
    "L1",
    "L1L2",
    "L2",
    "OrthogonalRegularizer",
    "Regularizer",
    "deserialize",
    "get",
    "l1",
    "l1_l2",
    "l2",
    "serialize",
]

# Keras's backend.epsilon(): the smallest norm a vector is divided by.
_EPSILON = 1e-7

#: Class name -> class, filled in for every ``Regularizer`` subclass (user ones included).
_REGISTRY: dict[str, type[Regularizer]] = {}


class Regularizer:
    """Base class: ``regularizer(weight) -> scalar Tensor``, the penalty to add to the loss.

    Subclasses implement ``__call__`` with Tensor ops (so autograd and ``fit``'s replay see
    it) and name their constructor arguments, stored under the same names, in
    ``_config_keys`` (or write ``get_config``).
    """

    _config_keys: ClassVar[tuple[str, ...]] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        _REGISTRY[cls.__name__] = cls

    def __call__(self, x: Tensor) -> Tensor:
        raise NotImplementedError(f"{type(self).__name__} must implement __call__(x).")

    def get_config(self) -> dict[str, Any]:
        """The constructor arguments (JSON-safe), so ``from_config`` rebuilds it."""
        return {key: getattr(self, key) for key in self._config_keys}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Regularizer:
        """Rebuild a regularizer from ``get_config()``'s output."""
        return cls(**config)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class L1L2(Regularizer):
    """Both penalties: ``l1 · Σ |x| + l2 · Σ x²`` (a zero factor leaves its term out).

    Args:
        l1: the L1 factor, ≥ 0. l2: the L2 factor, ≥ 0 (Keras's defaults: both 0).

    Shape:
        Input: a weight of any shape. Output: a scalar ``()``.
    """

    _config_keys = ("l1", "l2")

    def __init__(self, l1: float = 0.0, l2: float = 0.0) -> None:
        self.l1 = check_number(type(self).__name__, "l1", l1, 0.0)
        self.l2 = check_number(type(self).__name__, "l2", l2, 0.0)

    def __call__(self, x: Tensor) -> Tensor:
        penalty = None
        if self.l1:
            penalty = self.l1 * ops.sum(ops.abs(x))
        if self.l2:
            term = self.l2 * ops.sum(x * x)
            penalty = term if penalty is None else penalty + term
        return Tensor(x.data.dtype.type(0)) if penalty is None else penalty


class L1(L1L2):
    """The L1 penalty ``l1 · Σ |x|``: pushes weights to exactly zero (sparse weights).

    Args:
        l1: the factor, ≥ 0 (Keras's default 0.01).
    """

    _config_keys = ("l1",)

    def __init__(self, l1: float = 0.01) -> None:
        super().__init__(l1=l1)


class L2(L1L2):
    """The L2 penalty ``l2 · Σ x²`` (no ½, as in Keras): its gradient ``2 · l2 · x`` shrinks
    every weight in proportion to its size ("weight decay").

    Args:
        l2: the factor, ≥ 0 (Keras's default 0.01).
    """

    _config_keys = ("l2",)

    def __init__(self, l2: float = 0.01) -> None:
        super().__init__(l2=l2)


class OrthogonalRegularizer(Regularizer):
    """Pushes the rows (or columns) of a 2-D weight toward being orthogonal: the mean absolute
    cosine between distinct pairs, ``factor · ½ · Σ_{i≠j} |r̂_i · r̂_j| / (n(n − 1)/2)``.

    Args:
        factor: the factor, ≥ 0 (Keras's default 0.01).
        mode: "rows" (each row a vector) or "columns".

    Shape:
        Input: ``(rows, columns)``. Output: a scalar ``()``.
    """

    _config_keys = ("factor", "mode")

    def __init__(self, factor: float = 0.01, mode: str = "rows") -> None:
        self.factor = check_number("OrthogonalRegularizer", "factor", factor, 0.0)
        if mode not in ("rows", "columns"):
            raise ValueError(
                f"OrthogonalRegularizer: 'mode' must be 'rows' or 'columns'. Received: "
                f"mode={mode!r}"
            )
        self.mode = mode

    def __call__(self, x: Tensor) -> Tensor:
        if x.ndim != 2:
            raise ValueError(
                f"OrthogonalRegularizer: the weight must be 2-D. Received shape {x.shape}. "
                f"Use it on a Dense kernel."
            )
        vectors = x if self.mode == "rows" else ops.transpose(x)
        norms = ops.sqrt(ops.sum(vectors * vectors, axis=1, keepdims=True))
        unit = vectors / ops.maximum(norms, _EPSILON)  # Keras's normalize
        product = ops.matmul(unit, ops.transpose(unit))
        n = product.shape[0]
        off_diagonal = product * (1.0 - np.eye(n, dtype=x.dtype))
        return self.factor * 0.5 * ops.sum(ops.abs(off_diagonal)) / (n * (n - 1.0) / 2.0)


# Keras's lowercase names for the same classes.
l1 = L1
l2 = L2
l1_l2 = L1L2
_ALIASES: dict[str, type[Regularizer]] = {
    "l1": L1,
    "l2": L2,
    "l1_l2": L1L2,
    "orthogonal_regularizer": OrthogonalRegularizer,
}


def get(identifier: Any) -> Regularizer | None:
    """The regularizer named by ``identifier`` (Keras's ``regularizers.get``): a
    ``Regularizer`` (returned as is), a name (``"l1"``, ``"l2"``, ``"l1_l2"``, or a class name
    such as ``"L2"``), a ``{"class_name": ..., "config": ...}`` dict, or None (none)."""
    return get_from("regularizer", Regularizer, "l2", identifier, deserialize)


def serialize(regularizer: Regularizer | None) -> dict[str, Any] | None:
    """``{"class_name": "L2", "config": {"l2": 0.01}}`` (Keras's form), or None for none."""
    return serialize_as("regularizer", Regularizer, regularizer)


def deserialize(config: str | dict[str, Any]) -> Regularizer:
    """Rebuild a regularizer from a name or ``serialize``'s output; nothing is evaluated."""
    known = {**_ALIASES, **{k: v for k, v in _REGISTRY.items() if not k.startswith("_")}}
    return build_from_config("regularizer", known, config)
