"""Metrics: numbers a person reads to judge a model (accuracy), averaged over an epoch.

Unlike losses they need no gradient, so they work on plain NumPy arrays. Each metric keeps a
running state: ``update_state`` after every batch, ``result`` for the epoch, ``reset_state``
before the next one (Keras's protocol).
"""

from __future__ import annotations

from typing import Any

import numpy as np


def _array(x: Any) -> np.ndarray:
    return np.asarray(getattr(x, "data", x))


class Metric:
    """Base class: a running value over batches, weighted by the number of samples."""

    name = "metric"

    def __init__(self, name: str | None = None) -> None:
        if name is not None:
            self.name = name
        self.reset_state()

    def reset_state(self) -> None:
        """Forget everything seen so far (called at the start of each epoch)."""
        self.total = 0.0
        self.count = 0

    def update_state(self, y_true: Any, y_pred: Any) -> None:
        """Add one batch. ``y_true`` and ``y_pred`` are arrays (or Tensors) of the batch."""
        values = self.per_sample(_array(y_true), _array(y_pred))
        self.total += float(np.sum(values, dtype=np.float64))
        self.count += int(np.size(values))

    def per_sample(self, y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
        """The metric's value for each sample of a batch (averaged by ``result``)."""
        raise NotImplementedError

    def result(self) -> float:
        """The average over every sample seen since the last reset (0 before any)."""
        return self.total / self.count if self.count else 0.0

    def get_config(self) -> dict[str, Any]:
        """Constructor arguments, JSON-safe."""
        return {"name": self.name}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, result={self.result():.4f})"


class Mean(Metric):
    """The running mean of the values given to ``update_state(values)`` (used for the loss)."""

    name = "mean"

    def update_state(self, values: Any, sample_weight: float | None = None) -> None:  # type: ignore[override]
        """Add a value (e.g. a batch's mean loss) counted ``sample_weight`` times."""
        v = _array(values)
        weight = 1 if sample_weight is None else sample_weight
        self.total += float(np.sum(v, dtype=np.float64)) * weight
        self.count += int(np.size(v)) * weight


class SparseCategoricalAccuracy(Metric):
    """Share of samples whose highest-scoring class equals the integer label."""

    name = "accuracy"

    def per_sample(self, y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
        return y_pred.argmax(axis=-1) == y_true.reshape(y_pred.shape[:-1])


class CategoricalAccuracy(Metric):
    """Share of samples whose highest-scoring class is the one-hot label's class."""

    name = "accuracy"

    def per_sample(self, y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
        return y_pred.argmax(axis=-1) == y_true.argmax(axis=-1)


class BinaryAccuracy(Metric):
    """Share of yes/no answers right, a probability above ``threshold`` meaning yes."""

    name = "accuracy"

    def __init__(self, name: str | None = None, threshold: float = 0.5) -> None:
        self.threshold = threshold
        super().__init__(name)

    def per_sample(self, y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
        return (y_pred > self.threshold) == (y_true.reshape(y_pred.shape) > 0.5)

    def get_config(self) -> dict[str, Any]:
        return {"threshold": self.threshold, **super().get_config()}


class MeanSquaredError(Metric):
    """Mean of (y_true − y_pred)² (a readable regression metric)."""

    name = "mse"

    def per_sample(self, y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
        return (y_true.reshape(y_pred.shape) - y_pred) ** 2


class MeanAbsoluteError(Metric):
    """Mean of |y_true − y_pred|, in the units of the target (e.g. dollars)."""

    name = "mae"

    def per_sample(self, y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
        return np.abs(y_true.reshape(y_pred.shape) - y_pred)


_NAMED: dict[str, type[Metric]] = {
    "sparse_categorical_accuracy": SparseCategoricalAccuracy,
    "categorical_accuracy": CategoricalAccuracy,
    "binary_accuracy": BinaryAccuracy,
    "mse": MeanSquaredError,
    "mean_squared_error": MeanSquaredError,
    "mae": MeanAbsoluteError,
    "mean_absolute_error": MeanAbsoluteError,
}


def get(identifier: str | Metric, loss_name: str | None = None) -> Metric:
    """A metric from a Keras name or object. ``"accuracy"``/``"acc"`` picks the accuracy that
    fits the loss, as Keras does: sparse labels, one-hot labels, or yes/no."""
    if isinstance(identifier, Metric):
        return identifier
    if isinstance(identifier, str):
        key = identifier.lower()
        if key in ("accuracy", "acc"):
            if loss_name is not None and "binary" in loss_name:
                return BinaryAccuracy()
            if loss_name is not None and loss_name.startswith("categorical"):
                return CategoricalAccuracy()
            return SparseCategoricalAccuracy()
        if key in _NAMED:
            metric = _NAMED[key]()
            metric.name = key
            return metric
    raise ValueError(
        f"Unknown metric {identifier!r}. Known names: accuracy, {', '.join(sorted(_NAMED))}, "
        "or pass a glassnet.metrics.Metric object."
    )


def confusion_matrix(y_true: Any, y_pred: Any, num_classes: int | None = None) -> np.ndarray:
    """Counts of (true class, predicted class) pairs: row i, column j = true i predicted j.

    ``y_pred`` may be class ids (N,) or scores (N, K) (argmax is taken).
    """
    t, p = _array(y_true).reshape(-1).astype(np.int64), _array(y_pred)
    p = p.argmax(axis=-1) if p.ndim > 1 else p.astype(np.int64)
    k = int(num_classes or max(t.max(initial=-1), p.max(initial=-1)) + 1)
    return np.bincount(t * k + p.reshape(-1), minlength=k * k).reshape(k, k)
