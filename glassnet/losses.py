"""Loss (cost) functions as Keras-named objects: how wrong the network's answers are.

Training lowers this number. Each class wraps the numerically stable function in
``glassnet/ops/loss.py`` and remembers its settings (``from_logits``) so that ``compile`` can
take either an object or Keras's string (``"mse"``, ``"sparse_categorical_crossentropy"``,
``"huber"``, ``"kld"``).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from glassnet import ops
from glassnet.checks import UNIT, build_known, check_range
from glassnet.ops.loss import _huber_delta, _int_axis
from glassnet.tensor import Tensor


class Loss:
    """Base class: ``loss(y_true, y_pred)`` returns a scalar Tensor averaged over the batch."""

    name = "loss"

    def __init__(self, name: str | None = None) -> None:
        if name is not None:
            self.name = name

    def __call__(self, y_true: Any, y_pred: Tensor, sample_weight: Any = None) -> Tensor:
        """The loss of a batch, a scalar Tensor. ``sample_weight`` (N,) scales each sample's
        term, Keras's "sum_over_batch_size": sum(w·loss) / N, so a weight of 0 drops a sample
        and 2 counts it twice, without changing the divisor."""
        if sample_weight is None:
            return self.call(y_true, y_pred)
        if "sample_weight" not in inspect.signature(self.call).parameters:
            raise TypeError(
                f"{type(self).__name__}: this loss takes no sample_weight. Write its "
                "call(self, y_true, y_pred, sample_weight=None) to weigh samples, or train "
                "without sample_weight/class_weight."
            )
        return self.call(y_true, y_pred, sample_weight=sample_weight)

    def call(self, y_true: Any, y_pred: Tensor) -> Tensor:
        """Compute the mean loss for a batch. Subclasses write the formula here (with a
        ``sample_weight=None`` argument if they can weigh samples)."""
        raise NotImplementedError

    def averages_samples(self, ndim: int) -> bool:
        """Whether, for predictions of rank ``ndim``, the loss is the mean over the batch of
        one term per sample, so shares of a batch combine into the whole batch's loss
        (``fit`` replaying a share per core relies on it). A loss that sums along an axis
        says False where that axis would be the batch's."""
        return True

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

    def call(self, y_true: Any, y_pred: Tensor, sample_weight: Any = None) -> Tensor:
        return ops.mean_squared_error(y_true, y_pred, sample_weight=sample_weight)


class MeanAbsoluteError(Loss):
    """mean(|y_true − y_pred|): like MSE but less swayed by outliers."""

    name = "mean_absolute_error"

    def call(self, y_true: Any, y_pred: Tensor, sample_weight: Any = None) -> Tensor:
        return ops.mean_absolute_error(y_true, y_pred, sample_weight=sample_weight)


class _FromLogits(Loss):
    """A cross-entropy: ``from_logits=True`` when ``y_pred`` are raw scores, False when they
    are probabilities (sigmoid or softmax outputs); ``_function`` computes it."""

    _function: Callable[..., Tensor]

    def __init__(self, from_logits: bool = False, name: str | None = None) -> None:
        super().__init__(name)
        self.from_logits = bool(from_logits)

    def call(self, y_true: Any, y_pred: Tensor, sample_weight: Any = None) -> Tensor:
        function = type(self)._function
        return function(y_true, y_pred, from_logits=self.from_logits, sample_weight=sample_weight)

    def get_config(self) -> dict[str, Any]:
        return {"from_logits": self.from_logits, **super().get_config()}


class BinaryCrossentropy(_FromLogits):
    """−mean(y·log p + (1 − y)·log(1 − p)) for yes/no answers (cat or not cat); ``from_logits``
    says whether ``y_pred`` are raw scores or sigmoid outputs."""

    name = "binary_crossentropy"
    _function = ops.binary_crossentropy


class _Smoothed(_FromLogits):
    """A one-of-K cross-entropy with ``label_smoothing`` ε: the target becomes
    (1 − ε)·onehot + ε / K, so a confident network is not pushed towards probabilities of
    exactly 0 and 1 (Szegedy et al., 2016; a regulariser for small datasets)."""

    def __init__(
        self, from_logits: bool = False, label_smoothing: float = 0.0, name: str | None = None
    ) -> None:
        super().__init__(from_logits, name)
        self.label_smoothing = check_range(
            type(self).__name__, "label_smoothing", label_smoothing, UNIT
        )

    def call(self, y_true: Any, y_pred: Tensor, sample_weight: Any = None) -> Tensor:
        return type(self)._function(
            y_true,
            y_pred,
            from_logits=self.from_logits,
            sample_weight=sample_weight,
            label_smoothing=self.label_smoothing,
        )

    def get_config(self) -> dict[str, Any]:
        return {"label_smoothing": self.label_smoothing, **super().get_config()}


class CategoricalCrossentropy(_Smoothed):
    """−mean over the batch of Σ_k y_k·log p_k, with one-hot (or soft) labels ``y``;
    ``from_logits`` says whether ``y_pred`` are raw scores or softmax outputs, and
    ``label_smoothing`` ε replaces y by y·(1 − ε) + ε / K (Keras's argument)."""

    name = "categorical_crossentropy"
    _function = ops.categorical_crossentropy


class SparseCategoricalCrossentropy(_Smoothed):
    """−mean(log p[true class]) with integer class labels (0 … K−1) instead of one-hot rows;
    ``from_logits`` says whether ``y_pred`` are raw scores or softmax outputs, and
    ``label_smoothing`` ε aims at (1 − ε)·onehot + ε / K instead (PyTorch's
    ``CrossEntropyLoss(label_smoothing=ε)``; Keras's sparse loss has no such argument)."""

    name = "sparse_categorical_crossentropy"
    _function = ops.sparse_categorical_crossentropy


class Huber(Loss):
    """Huber loss: 0.5·d² for errors |d| ≤ ``delta``, delta·(|d| − 0.5·delta) beyond, mean over
    every element. MSE near the target, MAE-like for outliers (their pull is capped at delta)."""

    name = "huber_loss"

    def __init__(self, delta: float = 1.0, name: str | None = None) -> None:
        super().__init__(name)
        self.delta = _huber_delta(delta, type(self).__name__)

    def call(self, y_true: Any, y_pred: Tensor, sample_weight: Any = None) -> Tensor:
        return ops.huber(y_true, y_pred, delta=self.delta, sample_weight=sample_weight)

    def get_config(self) -> dict[str, Any]:
        return {"delta": self.delta, **super().get_config()}


class LogCosh(Loss):
    """mean(log cosh(y_pred − y_true)): about d²/2 for small errors and |d| − log 2 for large
    ones, a smooth cousin of Huber without a setting."""

    name = "log_cosh"

    def call(self, y_true: Any, y_pred: Tensor, sample_weight: Any = None) -> Tensor:
        return ops.log_cosh(y_true, y_pred, sample_weight=sample_weight)


class Poisson(Loss):
    """mean(y_pred − y_true·log(y_pred + 1e-7)) for counts: y_pred is a predicted rate (≥ 0,
    e.g. from a last layer with ``activation=ops.exp``)."""

    name = "poisson"

    def call(self, y_true: Any, y_pred: Tensor, sample_weight: Any = None) -> Tensor:
        return ops.poisson(y_true, y_pred, sample_weight=sample_weight)


class Hinge(Loss):
    """mean(max(1 − y_true·y_pred, 0)), the SVM's loss, on raw scores; labels are −1/1, and
    0/1 labels are converted to −1/1 first (as Keras does)."""

    name = "hinge"

    def call(self, y_true: Any, y_pred: Tensor, sample_weight: Any = None) -> Tensor:
        return ops.hinge(y_true, y_pred, sample_weight=sample_weight)


class KLDivergence(Loss):
    """Kullback-Leibler divergence Σ_k y_true·log(y_true / y_pred) along the last axis, both
    clipped to [1e-7, 1], averaged over the batch: how far a predicted distribution is from
    the target distribution."""

    name = "kl_divergence"

    def call(self, y_true: Any, y_pred: Tensor, sample_weight: Any = None) -> Tensor:
        return ops.kl_divergence(y_true, y_pred, sample_weight=sample_weight)

    def averages_samples(self, ndim: int) -> bool:
        return ndim >= 2  # it sums along the last axis


class CosineSimilarity(Loss):
    """−cos(y_true, y_pred) along ``axis``, averaged over the batch: Keras's sign, so the loss
    lies in [−1, 1] and minimising it makes the predicted vectors point like the targets."""

    name = "cosine_similarity"

    def __init__(self, axis: int = -1, name: str | None = None) -> None:
        super().__init__(name)
        self.axis = _int_axis(axis, type(self).__name__)

    def call(self, y_true: Any, y_pred: Tensor, sample_weight: Any = None) -> Tensor:
        return ops.cosine_similarity(y_true, y_pred, axis=self.axis, sample_weight=sample_weight)

    def averages_samples(self, ndim: int) -> bool:
        return ndim >= 2 and self.axis % ndim != 0

    def get_config(self) -> dict[str, Any]:
        return {"axis": self.axis, **super().get_config()}


_ALIASES: dict[str, type[Loss]] = {
    "mse": MeanSquaredError,
    "mean_squared_error": MeanSquaredError,
    "mae": MeanAbsoluteError,
    "mean_absolute_error": MeanAbsoluteError,
    "binary_crossentropy": BinaryCrossentropy,
    "categorical_crossentropy": CategoricalCrossentropy,
    "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
    "huber": Huber,
    "log_cosh": LogCosh,
    "logcosh": LogCosh,
    "poisson": Poisson,
    "hinge": Hinge,
    "kl_divergence": KLDivergence,
    "kld": KLDivergence,
    "kullback_leibler_divergence": KLDivergence,
    "cosine_similarity": CosineSimilarity,
}
_CLASSES = {cls.__name__: cls for cls in set(_ALIASES.values())}


def get(identifier: str | Loss) -> Loss:
    """A loss object from Keras's string name (``"mse"``, ``"binary_crossentropy"``,
    ``"huber"``, ``"kld"``, ...; any case), a class name (``"MeanSquaredError"``), or an
    existing ``Loss`` (returned as is)."""
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
    return build_known("Unknown loss class", _CLASSES, config)
