"""Metrics: numbers a person reads to judge a model (accuracy, precision, AUC), over an epoch.

Unlike losses they need no gradient, so they work on plain NumPy arrays. Each metric keeps a
running state: ``update_state`` after every batch, ``result`` for the epoch, ``reset_state``
before the next one (Keras's protocol). The state is sums (of values, counts or confusion
counts), so a metric fed the data in several batches ends where one batch of it all would.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from statistics import NormalDist
from typing import Any

import numpy as np

from glassnet.checks import build_known

#: Keras's ``backend.epsilon()``: AUC's end thresholds sit this far outside [0, 1], so that
#: scores of exactly 0 or 1 fall inside the curve.
EPSILON = 1e-7


def _array(x: Any) -> np.ndarray:
    return np.asarray(getattr(x, "data", x))


def _divide(a: Any, b: Any) -> np.ndarray:
    """a / b, 0 where b is 0 (Keras's ``divide_no_nan``: no samples, no score)."""
    a, b = np.broadcast_arrays(np.asarray(a, np.float64), np.asarray(b, np.float64))
    return np.divide(a, b, out=np.zeros(a.shape), where=b != 0)


def _number(v: Any) -> str:
    v = float(v)
    return str(int(v)) if v.is_integer() else repr(v)


def _weights(sample_weight: Any, shape: tuple[int, ...], who: str) -> np.ndarray:
    """``sample_weight`` as float64 of ``shape``: one weight per sample (N,) covers all of its
    values, or give one per value; None weighs everything 1."""
    if sample_weight is None:
        return np.ones(shape)
    w = np.asarray(_array(sample_weight), dtype=np.float64)
    while w.ndim > len(shape) and w.shape[-1] == 1:
        w = w[..., 0]
    w = w.reshape(w.shape + (1,) * (len(shape) - w.ndim))
    try:
        return np.broadcast_to(w, shape)
    except ValueError:
        raise ValueError(
            f"{who}: sample_weight has shape {np.shape(_array(sample_weight))}, which does not "
            f"fit the predictions' shape {shape}; give one weight per sample or one per value."
        ) from None


def _class_ids(y_true: np.ndarray, num_classes: int | None, who: str) -> np.ndarray:
    """Integer class labels, flattened to int64, checked to be classes 0 … num_classes − 1
    (``num_classes`` None: only checked to be non-negative whole numbers)."""
    flat = y_true.reshape(-1)
    if flat.dtype.kind not in "iub":
        bad = np.flatnonzero(~np.isfinite(flat) | (flat != np.round(flat)))
        if bad.size:
            raise ValueError(
                f"{who}: label {float(flat[bad[0]])!r} (sample {bad[0]}) is not a class number; "
                "give integer labels 0, 1, … or one-hot rows."
            )
    ids = flat.astype(np.int64)
    high = np.iinfo(np.int64).max if num_classes is None else num_classes
    bad = np.flatnonzero((ids < 0) | (ids >= high))
    if bad.size:
        i = int(bad[0])
        if num_classes is None:
            raise ValueError(f"{who}: label {_number(flat[i])} (sample {i}) is negative.")
        raise ValueError(
            f"{who}: label {_number(flat[i])} (sample {i}) is not one of y_pred's "
            f"{num_classes} classes (0 to {num_classes - 1}). Give the model's last layer one "
            "unit per class, or check the labels."
        )
    return ids


def _labels_like(y_true: np.ndarray, y_pred: np.ndarray, who: str) -> np.ndarray:
    """``y_true`` as float64 in ``y_pred``'s shape: targets of the same size are reshaped
    ((N,) for (N, 1)); one integer label per row of a (N, classes) ``y_pred`` becomes one-hot."""
    if y_true.shape == y_pred.shape:
        return y_true.astype(np.float64)
    classes = y_pred.shape[-1] if y_pred.ndim else 1
    squeezed = tuple(n for n in y_true.shape if n != 1)
    if squeezed == tuple(n for n in y_pred.shape if n != 1):
        return y_true.reshape(y_pred.shape).astype(np.float64)
    if classes > 1 and y_true.size * classes == y_pred.size:
        ids = _class_ids(y_true, classes, who)
        return np.eye(classes)[ids].reshape(y_pred.shape)
    if y_true.ndim >= 2 and y_true.shape[:-1] == y_pred.shape[:-1]:
        raise ValueError(
            f"{who}: y_pred has {classes} columns but y_true has {y_true.shape[-1]} (one per "
            f"class). Give the model's last layer {y_true.shape[-1]} units, or check the labels."
        )
    raise ValueError(
        f"{who}: y_true's shape {y_true.shape} does not fit y_pred's {y_pred.shape}; give one "
        "integer label per sample, one-hot rows (N, classes), or targets shaped like y_pred."
    )


def _check_threshold(t: Any, who: str, argument: str = "thresholds") -> float:
    if isinstance(t, bool) or not isinstance(t, (int, float, np.integer, np.floating)):
        raise TypeError(f"{who}: {argument} must be numbers in [0, 1]. Received {t!r}.")
    if not 0.0 <= float(t) <= 1.0:
        raise ValueError(
            f"{who}: {argument} must lie in [0, 1] (a score above a threshold counts as a "
            f"yes). Received {argument}={t!r}."
        )
    return float(t)


def _check_positive_int(value: Any, who: str, argument: str, meaning: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(
            f"{who}: {argument} must be a positive integer ({meaning}). "
            f"Received {argument}={value!r}."
        )
    return int(value)


def _counts_at_thresholds(
    thresholds: np.ndarray, scores: np.ndarray, positive: np.ndarray, negative: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Weighted true positives, false positives, false negatives and true negatives at every
    threshold, a score strictly above a threshold meaning yes (Keras's rule).

    ``scores``, ``positive`` (weight of a yes label) and ``negative`` (weight of a no) are
    (M, G) for G separate curves; the four answers are (T, G). Sorting the scores into the T + 1
    gaps between thresholds makes this O(M log T) rather than a (M, T) comparison.
    """
    order = np.argsort(thresholds, kind="stable")
    t = len(thresholds)
    groups = scores.shape[1]
    # how many thresholds lie strictly below each score: it is a yes at exactly those
    below = np.searchsorted(thresholds[order], scores.ravel(), side="left").reshape(scores.shape)
    below[np.isnan(scores)] = 0  # NaN > t is False: a no at every threshold
    index = (below + (t + 1) * np.arange(groups)).ravel()

    def per_gap(weights: np.ndarray) -> np.ndarray:  # (T + 1, G)
        counts = np.bincount(index, weights.ravel(), minlength=groups * (t + 1))
        return counts.reshape(groups, t + 1).T

    pos, neg = per_gap(positive), per_gap(negative)
    # a yes at threshold i: the score sits in gap i + 1 or above
    tp = np.cumsum(pos[::-1], axis=0)[::-1][1:]
    fp = np.cumsum(neg[::-1], axis=0)[::-1][1:]
    fn = np.cumsum(pos, axis=0)[:-1]
    tn = np.cumsum(neg, axis=0)[:-1]
    out = []
    for sorted_counts in (tp, fp, fn, tn):
        counts = np.empty_like(sorted_counts)
        counts[order] = sorted_counts
        out.append(counts)
    return out[0], out[1], out[2], out[3]


class Metric:
    """Base class: a running value over batches. Subclasses that average a value per sample
    define ``per_sample``; others keep their own state (named in ``state_names``)."""

    name = "metric"
    #: Whether a higher value is better (Keras's ``_direction = "up"``): accuracies, AUC,
    #: precision, recall and F-scores; errors and means are lower-is-better. Callbacks read it
    #: through ``monitor_mode(monitor)`` to decide what "improved" means.
    higher_is_better = False
    #: The attributes that hold the running state: sums, so ``fit(distributed=True)`` adds
    #: them up over the ranks (``state_vector``) and ``result`` reads the whole batch's value.
    state_names: tuple[str, ...] = ("total", "count")

    def __init__(self, name: str | None = None) -> None:
        if name is not None:
            self.name = name
        self.reset_state()

    def reset_state(self) -> None:
        """Forget everything seen so far (called at the start of each epoch)."""
        self.total = 0.0
        self.count = 0.0

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        """Add one batch. ``y_true`` and ``y_pred`` are arrays (or Tensors) of the batch;
        ``sample_weight`` (N,) counts each sample that many times (Keras's weighted mean)."""
        values = self.per_sample(_array(y_true), _array(y_pred))
        if sample_weight is None:
            self.total += float(np.sum(values, dtype=np.float64))
            self.count += float(np.size(values))
        else:
            w = _weights(sample_weight, np.shape(values), type(self).__name__)
            self.total += float(np.sum(values * w, dtype=np.float64))
            self.count += float(np.sum(w))

    def per_sample(self, y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
        """The metric's value for each sample of a batch (averaged by ``result``)."""
        raise NotImplementedError

    def result(self) -> Any:
        """The average over every sample seen since the last reset (0 before any)."""
        return self.total / self.count if self.count else 0.0

    def __call__(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> Any:
        """``update_state`` then ``result``, as Keras's metrics do when called."""
        self.update_state(y_true, y_pred, sample_weight=sample_weight)
        return self.result()

    def get_config(self) -> dict[str, Any]:
        """Constructor arguments, JSON-safe."""
        return {"name": self.name}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Metric:
        """The metric ``get_config`` describes, with a fresh state."""
        return cls(**config)

    def __repr__(self) -> str:
        value = np.round(np.asarray(self.result(), np.float64), 4)
        return f"{type(self).__name__}(name={self.name!r}, result={value.tolist()})"


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
    """Share of samples whose highest-scoring class equals the integer label.

    One-hot labels shaped like ``y_pred`` (N, classes) are read as their argmax, since
    ``"accuracy"`` may land here for a loss that takes them (Keras picks by the shapes).
    """

    name = "accuracy"
    higher_is_better = True

    def per_sample(self, y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
        if y_true.shape == y_pred.shape and y_pred.ndim >= 2 and y_pred.shape[-1] > 1:
            return y_pred.argmax(axis=-1) == y_true.argmax(axis=-1)
        return y_pred.argmax(axis=-1) == y_true.reshape(y_pred.shape[:-1])


class CategoricalAccuracy(Metric):
    """Share of samples whose highest-scoring class is the one-hot label's class."""

    name = "accuracy"
    higher_is_better = True

    def per_sample(self, y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
        return y_pred.argmax(axis=-1) == y_true.argmax(axis=-1)


class BinaryAccuracy(Metric):
    """Share of yes/no answers right, a probability above ``threshold`` meaning yes."""

    name = "accuracy"
    higher_is_better = True

    def __init__(self, name: str | None = None, threshold: float = 0.5) -> None:
        self.threshold = threshold
        super().__init__(name)

    def per_sample(self, y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
        return (y_pred > self.threshold) == (y_true.reshape(y_pred.shape) > 0.5)

    def get_config(self) -> dict[str, Any]:
        return {"threshold": self.threshold, **super().get_config()}


class SparseTopKCategoricalAccuracy(Metric):
    """Share of samples whose integer label is among the ``k`` highest-scoring classes.

    ``y_true`` (N,) or (N, 1) class ids, ``y_pred`` (N, classes) scores. A label tied with the
    k-th best score counts as found (TensorFlow's ``in_top_k``). With ``from_sorted_ids=True``
    ``y_pred`` already holds class ids, best first, (N, ≥ k).
    """

    name = "sparse_top_k_categorical_accuracy"
    higher_is_better = True

    def __init__(self, k: int = 5, name: str | None = None, from_sorted_ids: bool = False) -> None:
        self.k = _check_positive_int(k, type(self).__name__, "k", "how many best guesses count")
        self.from_sorted_ids = bool(from_sorted_ids)
        super().__init__(name)

    def per_sample(self, y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
        who = type(self).__name__
        if y_pred.ndim < 2:
            raise ValueError(
                f"{who}: y_pred must be (N, classes), one score per class; received shape "
                f"{y_pred.shape}."
            )
        rows = y_pred.shape[:-1]
        if y_true.size != int(np.prod(rows)):
            hint = (
                " These look like one-hot rows: use TopKCategoricalAccuracy "
                "('top_k_categorical_accuracy')."
                if y_true.shape == y_pred.shape
                else ""
            )
            raise ValueError(
                f"{who}: y_true must hold one integer label per sample ({rows}); received "
                f"shape {y_true.shape} for y_pred {y_pred.shape}.{hint}"
            )
        if self.from_sorted_ids:
            labels = _class_ids(y_true, None, who).reshape(rows)
            return np.any(y_pred[..., : self.k] == labels[..., None], axis=-1)
        labels = _class_ids(y_true, y_pred.shape[-1], who).reshape(rows)
        target = np.take_along_axis(y_pred, labels[..., None], axis=-1)
        return np.sum(y_pred > target, axis=-1) < self.k

    def get_config(self) -> dict[str, Any]:
        return {"k": self.k, "from_sorted_ids": self.from_sorted_ids, **super().get_config()}


class TopKCategoricalAccuracy(SparseTopKCategoricalAccuracy):
    """Share of samples whose one-hot label's class is among the ``k`` highest scores.

    ``y_true`` (N, classes) one-hot, ``y_pred`` (N, classes) scores; ties as in
    ``SparseTopKCategoricalAccuracy``.
    """

    name = "top_k_categorical_accuracy"

    def __init__(self, k: int = 5, name: str | None = None) -> None:
        super().__init__(k, name)

    def per_sample(self, y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
        if y_pred.ndim < 2:
            return super().per_sample(y_true, y_pred)  # the shape error
        onehot = _labels_like(y_true, y_pred, type(self).__name__)
        return super().per_sample(onehot.argmax(axis=-1), y_pred)

    def get_config(self) -> dict[str, Any]:
        return {"k": self.k, "name": self.name}


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


class _AtThresholds(Metric):
    """Precision's and Recall's state: weighted true positives, false positives and false
    negatives at each threshold (T,)."""

    state_names = ("true_positives", "false_positives", "false_negatives")
    higher_is_better = True

    def __init__(
        self,
        thresholds: float | Sequence[float] | None = None,
        top_k: int | None = None,
        class_id: int | None = None,
        name: str | None = None,
    ) -> None:
        who = type(self).__name__
        if top_k is not None:
            top_k = _check_positive_int(top_k, who, "top_k", "how many best scores count")
        whole = isinstance(class_id, (int, np.integer)) and not isinstance(class_id, bool)
        if class_id is not None and (not whole or class_id < 0):
            raise ValueError(
                f"{who}: class_id must be a column of y_pred (0, 1, …). Received {class_id!r}."
            )
        self._single = thresholds is None or np.ndim(thresholds) == 0
        if thresholds is None:
            # Keras: 0.5, or with top_k every kept score counts as a yes
            values = [0.5 if top_k is None else -np.inf]
        else:
            values = [thresholds] if self._single else list(thresholds)  # type: ignore[arg-type]
            if not values:
                raise ValueError(f"{who}: thresholds is empty; give at least one in [0, 1].")
            values = [_check_threshold(t, who) for t in values]
        self.thresholds = None if thresholds is None else values[0] if self._single else values
        self.top_k, self.class_id = top_k, None if class_id is None else int(class_id)
        self._thresholds = np.asarray(values, np.float64)
        super().__init__(name)

    def reset_state(self) -> None:
        t = len(self._thresholds)
        self.true_positives, self.false_positives, self.false_negatives = (
            np.zeros(t),
            np.zeros(t),
            np.zeros(t),
        )

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        """Add one batch: ``y_pred`` (N,) or (N, classes) scores, ``y_true`` labels of the
        same shape (or class ids (N,) for (N, classes)), ``sample_weight`` (N,)."""
        who = type(self).__name__
        scores = _array(y_pred).astype(np.float64)
        labels = _labels_like(_array(y_true), scores, who)
        w = _weights(sample_weight, scores.shape, who)
        if self.top_k is not None:
            scores = _keep_top_k(scores, self.top_k)
        if self.class_id is not None:
            columns = scores.shape[-1] if scores.ndim >= 2 else 0
            if self.class_id >= columns:
                raise ValueError(
                    f"{who}: class_id={self.class_id} but y_pred has shape {scores.shape}; it "
                    "needs one column per class (N, classes) with that column among them."
                )
            scores, labels, w = (a[..., self.class_id] for a in (scores, labels, w))
        yes = labels.reshape(-1, 1) != 0
        w = w.reshape(-1, 1)
        tp, fp, fn, _ = _counts_at_thresholds(
            self._thresholds, scores.reshape(-1, 1), w * yes, w * ~yes
        )
        self.true_positives += tp[:, 0]
        self.false_positives += fp[:, 0]
        self.false_negatives += fn[:, 0]

    def _answer(self, values: np.ndarray) -> Any:
        return float(values[0]) if self._single else values

    def get_config(self) -> dict[str, Any]:
        return {
            "thresholds": self.thresholds,
            "top_k": self.top_k,
            "class_id": self.class_id,
            **super().get_config(),
        }


def _keep_top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """``scores`` (..., classes) with all but each row's ``k`` highest set to −inf (ties go to
    the lower column, as with ``top_k``)."""
    if scores.ndim == 0 or k >= scores.shape[-1]:
        return scores
    best = np.argsort(-scores, axis=-1, kind="stable")[..., :k]
    kept = np.full_like(scores, -np.inf)
    np.put_along_axis(kept, best, np.take_along_axis(scores, best, axis=-1), axis=-1)
    return kept


class Precision(_AtThresholds):
    """Of the samples called yes, the share that are yes: TP / (TP + FP), weighted.

    A score strictly above ``threshold`` (default 0.5) is a yes; a list of thresholds gives one
    precision each (an array). ``top_k`` counts only each row's k highest scores; ``class_id``
    scores one column of a (N, classes) ``y_pred``. Without ``class_id`` every column counts
    (multi-label). 0 before any yes, as Keras.
    """

    name = "precision"

    def result(self) -> Any:
        """The precision at each threshold: a float, or an array (T,) for a list."""
        return self._answer(
            _divide(self.true_positives, self.true_positives + self.false_positives)
        )


class Recall(_AtThresholds):
    """Of the samples that are yes, the share called yes: TP / (TP + FN), weighted.

    Arguments as ``Precision``'s.
    """

    name = "recall"

    def result(self) -> Any:
        """The recall at each threshold: a float, or an array (T,) for a list."""
        return self._answer(
            _divide(self.true_positives, self.true_positives + self.false_negatives)
        )


_CURVES = {"roc": "ROC", "pr": "PR"}
_SUMMATIONS = ("interpolation", "minoring", "majoring")


class AUC(Metric):
    """Area under the ROC curve (or the precision-recall curve), approximated as Keras does.

    The curve is sampled at ``num_thresholds`` thresholds: −ε, 1/(n−1), …, (n−2)/(n−1), 1+ε
    (ε = 1e-7), a score strictly above a threshold meaning yes. The area is a Riemann sum over
    those points: ``"interpolation"`` takes trapezoids for ROC and, for PR, integrates the
    precision between neighbouring points as Davis & Goadrich (2006) do; ``"minoring"`` and
    ``"majoring"`` take the lower or higher end. So it is close to, not equal to, the exact
    area (scikit-learn's ``roc_auc_score``), and closest when scores spread over [0, 1].

    ``y_pred`` (N,) or (N, labels) probabilities (``from_logits=True`` for raw scores), ``y_true``
    the same shape of 0/1 (or class ids, made one-hot). Several columns are pooled into one
    curve unless ``multi_label=True``, which averages one area per column (``label_weights``
    weighting them). State: confusion counts at each threshold, (T,) or (T, labels).
    """

    name = "auc"
    higher_is_better = True
    state_names = ("true_positives", "false_positives", "true_negatives", "false_negatives")

    def __init__(
        self,
        num_thresholds: int = 200,
        curve: str = "ROC",
        summation_method: str = "interpolation",
        name: str | None = None,
        thresholds: Sequence[float] | None = None,
        multi_label: bool = False,
        num_labels: int | None = None,
        label_weights: Sequence[float] | None = None,
        from_logits: bool = False,
    ) -> None:
        who = "AUC"
        if str(curve).lower() not in _CURVES:
            raise ValueError(f"AUC: curve must be 'ROC' or 'PR'. Received curve={curve!r}.")
        if str(summation_method).lower() not in _SUMMATIONS:
            raise ValueError(
                "AUC: summation_method must be 'interpolation', 'minoring' or 'majoring'. "
                f"Received summation_method={summation_method!r}."
            )
        if thresholds is not None:
            inner = sorted(_check_threshold(t, who) for t in thresholds)
            num_thresholds = len(inner) + 2
        else:
            if isinstance(num_thresholds, bool) or not isinstance(
                num_thresholds, (int, np.integer)
            ):
                raise ValueError(
                    f"AUC: num_thresholds must be an integer > 1. Received {num_thresholds!r}."
                )
            if num_thresholds <= 1:
                raise ValueError(
                    "AUC: num_thresholds must be an integer > 1 (points on the curve). "
                    f"Received num_thresholds={num_thresholds}."
                )
            inner = [(i + 1) / (num_thresholds - 1) for i in range(num_thresholds - 2)]
        self.num_thresholds = int(num_thresholds)
        self.curve = _CURVES[str(curve).lower()]
        self.summation_method = str(summation_method).lower()
        self.thresholds = None if thresholds is None else inner
        self.multi_label = bool(multi_label)
        if num_labels is not None:
            num_labels = _check_positive_int(num_labels, who, "num_labels", "columns of y_pred")
        self.label_weights = None
        if label_weights is not None:
            weights = np.asarray(label_weights, np.float64).reshape(-1)
            if np.any(weights < 0) or not np.all(np.isfinite(weights)):
                raise ValueError(
                    f"AUC: label_weights must be non-negative numbers. Received {label_weights!r}."
                )
            self.label_weights = weights
            num_labels = num_labels or len(weights)
        self.num_labels = num_labels
        self.from_logits = bool(from_logits)
        self._thresholds = np.asarray([0.0 - EPSILON, *inner, 1.0 + EPSILON])
        super().__init__(name)

    def reset_state(self) -> None:
        shape: tuple[int, ...] = (self.num_thresholds,)
        if self.multi_label:
            shape = (self.num_thresholds, self.num_labels or 0)  # columns known at the 1st batch
        for attr in self.state_names:
            setattr(self, attr, np.zeros(shape))

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        """Add one batch: ``y_pred`` (N,) or (N, labels), ``y_true`` 0/1 of that shape (or class
        ids for (N, classes)), ``sample_weight`` (N,)."""
        scores = _array(y_pred).astype(np.float64)
        labels = _labels_like(_array(y_true), scores, "AUC")
        w = _weights(sample_weight, scores.shape, "AUC")
        if self.from_logits:
            scores = 0.5 * (1.0 + np.tanh(0.5 * scores))  # the sigmoid, without overflow
        columns = scores.shape[-1] if scores.ndim >= 2 else 1
        if self.multi_label:
            if scores.ndim < 2:
                raise ValueError(
                    f"AUC: multi_label=True needs y_pred of shape (N, labels); received "
                    f"{scores.shape}."
                )
            known = self.true_positives.shape[1]
            if known == 0:
                for attr in self.state_names:
                    setattr(self, attr, np.zeros((self.num_thresholds, columns)))
            elif known != columns:
                raise ValueError(
                    f"AUC: y_pred has {columns} columns but this metric counts {known} labels "
                    "(num_labels, label_weights or earlier batches)."
                )
            scores, labels, w = (a.reshape(-1, columns) for a in (scores, labels, w))
        else:
            if self.label_weights is not None:
                if len(self.label_weights) != columns:
                    raise ValueError(
                        f"AUC: label_weights has {len(self.label_weights)} values but y_pred "
                        f"has {columns} columns; give one weight per column."
                    )
                w = w * self.label_weights
            scores, labels, w = (a.reshape(-1, 1) for a in (scores, labels, w))
        # soft labels count partly as yes and partly as no, as in Keras
        tp, fp, fn, tn = _counts_at_thresholds(
            self._thresholds, scores, w * labels, w * (1 - labels)
        )
        if not self.multi_label:
            tp, fp, fn, tn = tp[:, 0], fp[:, 0], fn[:, 0], tn[:, 0]
        self.true_positives += tp
        self.false_positives += fp
        self.false_negatives += fn
        self.true_negatives += tn

    def _interpolated_pr(self) -> np.ndarray:
        """Davis & Goadrich's interpolation of the PR curve between neighbouring thresholds,
        the area of each slice (T − 1, ...) (Keras's ``interpolate_pr_auc``)."""
        tp, fp, fn = self.true_positives, self.false_positives, self.false_negatives
        dtp = tp[:-1] - tp[1:]
        p = tp + fp
        dp = p[:-1] - p[1:]
        slope = _divide(dtp, np.maximum(dp, 0))
        intercept = tp[1:] - slope * p[1:]
        ratio = np.where((p[:-1] > 0) & (p[1:] > 0), _divide(p[:-1], np.maximum(p[1:], 0)), 1.0)
        return _divide(slope * (dtp + intercept * np.log(ratio)), np.maximum(tp[1:] + fn[1:], 0))

    def result(self) -> float:
        """The area (one per column, averaged, with ``multi_label``); 0 before any data."""
        if self.curve == "PR" and self.summation_method == "interpolation":
            slices = self._interpolated_pr()
        else:
            tp, fp, tn, fn = (getattr(self, a) for a in self.state_names)
            recall = _divide(tp, tp + fn)
            if self.curve == "ROC":
                x, y = _divide(fp, fp + tn), recall
            else:
                x, y = recall, _divide(tp, tp + fp)
            if self.summation_method == "interpolation":
                heights = (y[:-1] + y[1:]) / 2
            elif self.summation_method == "minoring":
                heights = np.minimum(y[:-1], y[1:])
            else:
                heights = np.maximum(y[:-1], y[1:])
            slices = (x[:-1] - x[1:]) * heights
        areas = slices.sum(axis=0)
        if not self.multi_label:
            return float(areas)
        if areas.size == 0:
            return 0.0
        if self.label_weights is None:
            return float(areas.mean())
        return float(_divide(np.sum(areas * self.label_weights), np.sum(self.label_weights)))

    def get_config(self) -> dict[str, Any]:
        return {
            "num_thresholds": self.num_thresholds,
            "curve": self.curve,
            "summation_method": self.summation_method,
            "thresholds": self.thresholds,
            "multi_label": self.multi_label,
            "num_labels": self.num_labels,
            "label_weights": None if self.label_weights is None else self.label_weights.tolist(),
            "from_logits": self.from_logits,
            **super().get_config(),
        }


_AVERAGES = (None, "micro", "macro", "weighted")


class FBetaScore(Metric):
    """F-beta, the weighted harmonic mean of precision and recall, per class or averaged.

    ``y_pred`` (N, classes) scores, ``y_true`` (N, classes) one-hot or multi-hot (or class ids
    (N,)). With ``threshold=None`` each row's highest score is its yes (single-label
    classification); with a threshold in (0, 1] every score above it is (multi-label).
    ``average``: None one score per class (an array), ``"micro"`` from the pooled counts,
    ``"macro"`` the plain mean over classes, ``"weighted"`` the mean weighted by each class's
    number of true samples. F = (1 + β²)·P·R / (β²·P + R), 0 where P and R are 0 (Keras adds
    ε = 1e-7 to its denominators instead; the difference is below that).
    """

    name = "fbeta_score"
    higher_is_better = True
    state_names = ("true_positives", "false_positives", "false_negatives", "intermediate_weights")

    def __init__(
        self,
        average: str | None = None,
        beta: float = 1.0,
        threshold: float | None = None,
        name: str | None = None,
    ) -> None:
        who = type(self).__name__
        if average not in _AVERAGES:
            raise ValueError(
                f"{who}: average must be None (one score per class), 'micro', 'macro' or "
                f"'weighted'. Received average={average!r}."
            )
        if isinstance(beta, bool) or not isinstance(beta, (int, float)) or not beta > 0:
            raise ValueError(f"{who}: beta must be a number > 0. Received beta={beta!r}.")
        if threshold is not None:
            if isinstance(threshold, bool) or not isinstance(threshold, (int, float)):
                raise ValueError(
                    f"{who}: threshold must be None or a number in (0, 1]. Received {threshold!r}."
                )
            if not 0.0 < threshold <= 1.0:
                raise ValueError(
                    f"{who}: threshold must lie in (0, 1] (a score above it counts as a yes), "
                    f"or be None (each row's highest score). Received threshold={threshold!r}."
                )
            threshold = float(threshold)
        self.average, self.beta, self.threshold = average, float(beta), threshold
        super().__init__(name)

    def reset_state(self) -> None:
        for attr in self.state_names:
            setattr(self, attr, np.zeros(0))  # one per class, sized at the first batch

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        """Add one batch: ``y_pred`` (N, classes), ``y_true`` (N, classes) or class ids (N,),
        ``sample_weight`` (N,)."""
        who = type(self).__name__
        scores = _array(y_pred).astype(np.float64)
        if scores.ndim == 1:
            scores = scores[:, None]
        if scores.ndim != 2:
            raise ValueError(f"{who}: y_pred must be (N, classes); received shape {scores.shape}.")
        labels = _labels_like(_array(y_true), scores, who)
        w = _weights(sample_weight, scores.shape, who)
        columns = scores.shape[1]
        if self.threshold is None:
            if columns == 1:
                raise ValueError(
                    f"{who}: y_pred has one column, so threshold=None (each row's highest score "
                    f"is its yes) would call every sample yes. For yes/no outputs pass "
                    f"threshold=0.5, e.g. {who}(threshold=0.5)."
                )
            # ties all count; an all-zero row picks nothing (Keras's rule)
            yes = (scores >= scores.max(axis=1, keepdims=True)) & (np.abs(scores) > 1e-9)
        else:
            yes = scores > self.threshold
        known = self.true_positives.size
        if known == 0:
            for attr in self.state_names:
                setattr(self, attr, np.zeros(columns))
        elif known != columns:
            raise ValueError(
                f"{who}: y_pred has {columns} columns but earlier batches had {known}; reset_state "
                "before scoring another model."
            )
        self.true_positives += np.sum(w * yes * labels, axis=0)
        self.false_positives += np.sum(w * yes * (1 - labels), axis=0)
        self.false_negatives += np.sum(w * ~yes * labels, axis=0)
        self.intermediate_weights += np.sum(w * labels, axis=0)

    def result(self) -> Any:
        """The score: an array (classes,) for ``average=None``, else a float (0 before data)."""
        tp, fp, fn = self.true_positives, self.false_positives, self.false_negatives
        if self.average == "micro":
            tp, fp, fn = tp.sum(), fp.sum(), fn.sum()
        precision, recall = _divide(tp, tp + fp), _divide(tp, tp + fn)
        b2 = self.beta**2
        f = _divide((1 + b2) * precision * recall, b2 * precision + recall)
        if self.average is None:
            return f
        if self.average == "micro":
            return float(f)
        if f.size == 0:
            return 0.0
        if self.average == "macro":
            return float(f.mean())
        weights = self.intermediate_weights
        return float(_divide(np.sum(f * weights), np.sum(weights)))

    def get_config(self) -> dict[str, Any]:
        return {
            "average": self.average,
            "beta": self.beta,
            "threshold": self.threshold,
            **super().get_config(),
        }


class F1Score(FBetaScore):
    """F1, the harmonic mean of precision and recall: ``FBetaScore`` with β = 1.

    ``y_pred`` (N, classes); ``average`` None (per class), "micro", "macro" or "weighted".
    """

    name = "f1_score"

    def __init__(
        self, average: str | None = None, threshold: float | None = None, name: str | None = None
    ) -> None:
        super().__init__(average=average, beta=1.0, threshold=threshold, name=name)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        del config["beta"]
        return config


_NAMED: dict[str, type[Metric]] = {
    "sparse_categorical_accuracy": SparseCategoricalAccuracy,
    "categorical_accuracy": CategoricalAccuracy,
    "binary_accuracy": BinaryAccuracy,
    "top_k_categorical_accuracy": TopKCategoricalAccuracy,
    "sparse_top_k_categorical_accuracy": SparseTopKCategoricalAccuracy,
    "precision": Precision,
    "recall": Recall,
    "auc": AUC,
    "f1_score": F1Score,
    "fbeta_score": FBetaScore,
    "mse": MeanSquaredError,
    "mean_squared_error": MeanSquaredError,
    "mae": MeanAbsoluteError,
    "mean_absolute_error": MeanAbsoluteError,
}


def _snake_case(name: str) -> str:
    """Keras's ``to_snake_case``: a class name as a string name (F1Score -> f1_score)."""
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", re.sub(r"\W+", "", name))
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


#: Words that mark a log key as higher-is-better when it names no built-in metric (a metric
#: given its own name, such as ``Precision(name="precision_at_70")``).
_HIGHER_IS_BETTER_WORDS = ("acc", "auc", "precision", "recall", "f1", "fbeta", "iou")


def monitor_mode(monitor: str) -> str:
    """``"max"`` when a higher value of the log key ``monitor`` is better, else ``"min"``: what
    EarlyStopping, ModelCheckpoint and ReduceLROnPlateau do with ``mode="auto"``, as in Keras.

    The ``val_`` prefix and a numeric suffix (``f1_score_0``, one value per class; ``auc_1``,
    a second AUC) are ignored; a built-in metric's name decides by its ``higher_is_better``,
    any other name by whether it contains one of "acc", "auc", "precision", "recall", "f1",
    "fbeta" or "iou". Losses and everything else are lower-is-better.
    """
    name = re.sub(r"_\d+$", "", monitor.removeprefix("val_"))
    if name in ("accuracy", "acc"):
        return "max"
    known = _NAMED.get(name)
    if known is not None:
        higher = known.higher_is_better
    else:
        higher = "loss" not in name and any(w in name for w in _HIGHER_IS_BETTER_WORDS)
    return "max" if higher else "min"


def accuracy_interval(correct: int, total: int, confidence: float = 0.95) -> tuple[float, float]:
    """The Wilson score interval for an accuracy of ``correct`` out of ``total``: where the
    true accuracy lies with probability ``confidence``, given only this many test images.

    Unlike p ± z·√(p(1 − p)/n) it stays inside [0, 1] and is honest for small test sets and
    for accuracies near 0 or 1 (z is the normal quantile for ``confidence``).
    """
    if total <= 0:
        raise ValueError(f"accuracy_interval: 'total' must be positive. Received {total}.")
    if not 0 <= correct <= total:
        raise ValueError(
            f"accuracy_interval: 'correct' must lie in [0, total={total}]. Received {correct}."
        )
    if not 0 < confidence < 1:
        raise ValueError(
            f"accuracy_interval: 'confidence' must lie in (0, 1). Received {confidence}."
        )
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    p, z2n = correct / total, z * z / total
    centre = (p + z2n / 2) / (1 + z2n)
    half = z * math.sqrt(p * (1 - p) / total + z2n / (4 * total)) / (1 + z2n)
    low = 0.0 if correct == 0 else max(0.0, centre - half)  # exact ends: no rounding residue
    high = 1.0 if correct == total else min(1.0, centre + half)
    return low, high


def get(identifier: str | Metric, loss_name: str | None = None) -> Metric:
    """A metric from a Keras name or object. ``"accuracy"``/``"acc"`` picks the accuracy that
    fits the loss, as Keras does: sparse labels, one-hot labels, or yes/no (logged under the
    name given). Class names work
    too (``"F1Score"`` is ``"f1_score"``)."""
    if isinstance(identifier, Metric):
        return identifier
    if isinstance(identifier, str):
        key = identifier.lower()
        if key in ("accuracy", "acc"):
            if loss_name is not None and "binary" in loss_name:
                accuracy: Metric = BinaryAccuracy()
            elif loss_name is not None and loss_name.startswith("categorical"):
                accuracy = CategoricalAccuracy()
            else:
                accuracy = SparseCategoricalAccuracy()
            accuracy.name = identifier  # logged as given: "acc" or "accuracy", as in Keras
            return accuracy
        if key not in _NAMED:
            key = _snake_case(identifier)
        if key not in _NAMED:  # class names whose Keras name is not their snake case
            key = next((k for k, cls in _NAMED.items() if cls.__name__ == identifier), key)
        if key in _NAMED:
            metric = _NAMED[key]()
            metric.name = key
            return metric
    raise ValueError(
        f"Unknown metric {identifier!r}. Known names: accuracy, {', '.join(sorted(_NAMED))}, "
        "or pass a glassnet.metrics.Metric object."
    )


#: The classes ``deserialize`` rebuilds, by class name: a saved model names no others.
_CLASSES: dict[str, type[Metric]] = {cls.__name__: cls for cls in (Mean, *_NAMED.values())}


def serialize(metric: Metric) -> dict[str, Any]:
    """``{"class_name": ..., "config": ...}`` (Keras's form) for saving with a model, so a
    metric comes back with its arguments (``Precision(thresholds=0.7)``, ``AUC(curve="PR")``)."""
    return {"class_name": type(metric).__name__, "config": metric.get_config()}


def deserialize(config: dict[str, Any]) -> Metric:
    """Rebuild a built-in metric from ``serialize``'s output; no code is executed.

    Raises:
        ValueError: the class name is not a built-in metric's (it is named, with the known ones).
    """
    return build_known("unknown metric class", _CLASSES, config)


def results(metrics: Iterable[Metric]) -> dict[str, float]:
    """Each metric's result as ``fit``'s logs hold it, one float per key: a metric with one
    value per class or threshold (F1Score's ``average=None``, a list of thresholds) gives
    ``name_0``, ``name_1``, … (just ``name`` when there is one)."""
    logs: dict[str, float] = {}
    for metric in metrics:
        value = np.asarray(metric.result(), np.float64)
        if value.size == 1:
            logs[metric.name] = float(value.reshape(()))
        else:
            logs.update({f"{metric.name}_{i}": float(v) for i, v in enumerate(value.ravel())})
    return logs


def state_vector(metrics: Iterable[Metric]) -> np.ndarray:
    """Every metric's running state (its ``state_names``) in one flat float64 vector: summed
    over the ranks of a distributed run, then handed back with ``load_state_vector``."""
    parts = [np.ravel(np.asarray(getattr(m, a), float)) for m in metrics for a in m.state_names]
    return np.concatenate(parts) if parts else np.zeros(0)


def load_state_vector(metrics: Iterable[Metric], vector: np.ndarray) -> None:
    """Set every metric's state from a vector laid out as ``state_vector`` lays it out."""
    metrics = list(metrics)
    size = sum(np.size(getattr(m, attr)) for m in metrics for attr in m.state_names)
    if size != len(vector):
        raise ValueError(
            f"load_state_vector: the vector has {len(vector)} numbers, the metrics' state {size}."
        )
    offset = 0
    for m in metrics:
        for attr in m.state_names:
            old = np.asarray(getattr(m, attr))
            piece = np.asarray(vector[offset : offset + old.size], np.float64)
            offset += old.size
            setattr(m, attr, float(piece[0]) if old.ndim == 0 else piece.reshape(old.shape))


def confusion_matrix(y_true: Any, y_pred: Any, num_classes: int | None = None) -> np.ndarray:
    """Counts of (true class, predicted class) pairs: row i, column j = true i predicted j.

    ``y_pred`` may be class ids (N,) or scores (N, K) (argmax is taken).
    """
    t, p = _array(y_true).reshape(-1).astype(np.int64), _array(y_pred)
    p = p.argmax(axis=-1) if p.ndim > 1 else p.astype(np.int64)
    k = int(num_classes or max(t.max(initial=-1), p.max(initial=-1)) + 1)
    return np.bincount(t * k + p.reshape(-1), minlength=k * k).reshape(k, k)
