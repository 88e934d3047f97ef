"""Loss (cost) functions as Keras-named objects: how wrong the network's answers are.

Training lowers this number. Each class wraps the numerically stable function in
``glassnet/ops/loss.py`` and remembers its settings (``from_logits``) so that ``compile`` can
take either an object or Keras's string (``"mse"``, ``"sparse_categorical_crossentropy"``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from glassnet import ops
from glassnet.tensor import Tensor


class Loss:
    """Base class: ``loss(y_true, y_pred)`` returns a scalar Tensor averaged over the batch."""

    name = "loss"

    def __init__(self, name: str | None = None) -> None:
        if name is not None:
            self.name = name

    def __call__(self, y_true: Any, y_pred: Tensor) -> Tensor:
        return self.call(y_true, y_pred)

    def call(self, y_true: Any, y_pred: Tensor) -> Tensor:
        """Compute the mean loss for a batch. Subclasses write the formula here."""
        raise NotImplementedError

    def get_config(self) -> dict[str, Any]:
        """Constructor arguments, JSON-safe (saved with the model)."""
        return {"name": self.name}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Loss:
        """Rebuild a loss from ``get_config()``'s output."""
        return cls(**config)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class MeanSquaredError(Loss):
    """mean((y_true − y_pred)²): the regression loss (the house-prices example uses it)."""

    name = "mean_squared_error"

    def call(self, y_true: Any, y_pred: Tensor) -> Tensor:
        return ops.mean_squared_error(y_true, y_pred)


class MeanAbsoluteError(Loss):
    """mean(|y_true − y_pred|): like MSE but less swayed by outliers."""

    name = "mean_absolute_error"

    def call(self, y_true: Any, y_pred: Tensor) -> Tensor:
        return ops.mean_absolute_error(y_true, y_pred)


class _FromLogits(Loss):
    """A cross-entropy: ``from_logits=True`` when ``y_pred`` are raw scores, False when they
    are probabilities (sigmoid or softmax outputs); ``_function`` computes it."""

    _function: Callable[..., Tensor]

    def __init__(self, from_logits: bool = False, name: str | None = None) -> None:
        super().__init__(name)
        self.from_logits = bool(from_logits)

    def call(self, y_true: Any, y_pred: Tensor) -> Tensor:
        return type(self)._function(y_true, y_pred, from_logits=self.from_logits)

    def get_config(self) -> dict[str, Any]:
        return {"from_logits": self.from_logits, **super().get_config()}


class BinaryCrossentropy(_FromLogits):
    """−mean(y·log p + (1 − y)·log(1 − p)) for yes/no answers (cat or not cat); ``from_logits``
    says whether ``y_pred`` are raw scores or sigmoid outputs."""

    name = "binary_crossentropy"
    _function = ops.binary_crossentropy


class CategoricalCrossentropy(_FromLogits):
    """−mean over the batch of Σ_k y_k·log p_k, with one-hot (or soft) labels ``y``;
    ``from_logits`` says whether ``y_pred`` are raw scores or softmax outputs."""

    name = "categorical_crossentropy"
    _function = ops.categorical_crossentropy


class SparseCategoricalCrossentropy(_FromLogits):
    """−mean(log p[true class]) with integer class labels (0 … K−1) instead of one-hot rows;
    ``from_logits`` says whether ``y_pred`` are raw scores or softmax outputs."""

    name = "sparse_categorical_crossentropy"
    _function = ops.sparse_categorical_crossentropy


_ALIASES: dict[str, type[Loss]] = {
    "mse": MeanSquaredError,
    "mean_squared_error": MeanSquaredError,
    "mae": MeanAbsoluteError,
    "mean_absolute_error": MeanAbsoluteError,
    "binary_crossentropy": BinaryCrossentropy,
    "categorical_crossentropy": CategoricalCrossentropy,
    "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
}
_CLASSES = {cls.__name__: cls for cls in set(_ALIASES.values())}


def get(identifier: str | Loss) -> Loss:
    """A loss object from Keras's string name (``"mse"``, ``"binary_crossentropy"``, ...),
    a class name (``"MeanSquaredError"``), or an existing ``Loss`` (returned as is)."""
    if isinstance(identifier, Loss):
        return identifier
    if isinstance(identifier, str):
        cls = _ALIASES.get(identifier.lower()) or _CLASSES.get(identifier)
        if cls is not None:
            return cls()
    raise ValueError(
        f"Unknown loss {identifier!r}. Known names: {', '.join(sorted(_ALIASES))}, or pass a "
        "glassnet.losses.Loss object."
    )


def serialize(loss: Loss) -> dict[str, Any]:
    """``{"class_name": ..., "config": ...}`` for saving with a model."""
    return {"class_name": type(loss).__name__, "config": loss.get_config()}


def deserialize(config: dict[str, Any]) -> Loss:
    """Rebuild a built-in loss from ``serialize``'s output (no code is executed)."""
    cls = _CLASSES.get(config.get("class_name", ""))
    if cls is None:
        raise ValueError(
            f"Unknown loss class {config.get('class_name')!r}. "
            f"Known: {', '.join(sorted(_CLASSES))}."
        )
    return cls.from_config(config.get("config", {}))
