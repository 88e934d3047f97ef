"""Loss functions: one number that says how wrong the predictions are (the cost function).

Training lowers that number by gradient descent. Names and argument order are Keras's,
``loss(y_true, y_pred)``, and every loss returns a scalar Tensor: the mean over the batch. The
targets ``y_true`` are data (an array or a Tensor) and are never differentiated.

Cross-entropy on logits goes through fused ops that compute the loss straight from the logits:
``SoftmaxCrossEntropyOp`` does log-softmax and the negative log-likelihood in one forward and has
the famous short backward (softmax − one-hot) / N, with no Jacobian; ``SigmoidCrossEntropyOp``
is its two-class sibling. Both stay finite for logits of ±1e4, where softmax-then-log would
take log(0). The probability versions follow Keras: clip to [1e-7, 1 − 1e-7], then take logs.

Keras's other losses (Huber, KL divergence, cosine similarity, hinge, Poisson, log-cosh) are one
op each too, with their derivative written out; each is reduced as Keras's default
``"sum_over_batch_size"`` does: a per-element loss is averaged over every element, a loss that
sums over an axis (KL divergence, cosine similarity) is averaged over the remaining positions.

Every loss takes ``sample_weight``: one weight per sample (N,), or per position ((N, T) for
(N, T, D) predictions). Each op scales its own terms and their gradient by it and keeps the
divisor, Keras's "sum_over_batch_size": sum(w·loss) / N, so a weight of 2 counts a sample twice.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from glassnet.autograd import Context, Function
from glassnet.backend import get_array_module, is_float
from glassnet.checks import UNIT, check_range
from glassnet.ops.elementwise import clip, log
from glassnet.ops.shape import reshape, transpose
from glassnet.tensor import Tensor

__all__ = [
    "binary_crossentropy",
    "categorical_crossentropy",
    "cosine_similarity",
    "hinge",
    "huber",
    "kl_divergence",
    "log_cosh",
    "mean_absolute_error",
    "mean_squared_error",
    "poisson",
    "softmax_cross_entropy",
    "sparse_categorical_crossentropy",
]

#: Keras's ``backend.epsilon()``: probabilities are clipped to [EPSILON, 1 − EPSILON] before
#: the log, so a confident wrong answer costs about 16 instead of infinity.
EPSILON = 1e-7


class MeanSquaredErrorOp(Function):
    """mean((ŷ − y)²) over every element. Backward: dŷ = 2(ŷ − y)/n."""

    @staticmethod
    def forward(ctx: Context, y_true: Any, y_pred: Any, weight: Any) -> Any:
        diff = y_pred - y_true
        ctx.save_for_backward(diff, weight)
        return _weighted_mean(diff * diff, weight)

    @staticmethod
    def backward(ctx: Context, grad: Any) -> tuple[None, Any, None]:
        diff, weight = ctx.saved
        return None, _times(diff * (grad * grad.dtype.type(2 / diff.size)), weight), None


class MeanAbsoluteErrorOp(Function):
    """mean(|ŷ − y|) over every element. Backward: dŷ = sign(ŷ − y)/n (subgradient 0 at ŷ = y)."""

    @staticmethod
    def forward(ctx: Context, y_true: Any, y_pred: Any, weight: Any) -> Any:
        xp = get_array_module(y_pred)
        diff = y_pred - y_true
        ctx.save_for_backward(xp.sign(diff), weight)
        return _weighted_mean(xp.abs(diff), weight)

    @staticmethod
    def backward(ctx: Context, grad: Any) -> tuple[None, Any, None]:
        sign, weight = ctx.saved
        return None, _times(sign * (grad * grad.dtype.type(1 / sign.size)), weight), None


class SigmoidCrossEntropyOp(Function):
    """Binary cross-entropy on logits z, mean over every element, in its stable form

        −[y·log σ(z) + (1 − y)·log(1 − σ(z))] = max(z, 0) − z·y + log(1 + e^−|z|),

    where e^x only ever sees x ≤ 0, so nothing overflows. Backward: dz = (σ(z) − y)/n.
    """

    @staticmethod
    def forward(ctx: Context, y_true: Any, logits: Any, weight: Any) -> Any:
        xp = get_array_module(logits)
        e = xp.exp(-xp.abs(logits))
        ctx.save_for_backward(y_true, logits, e, weight)
        return _weighted_mean(xp.maximum(logits, 0) - logits * y_true + xp.log1p(e), weight)

    @staticmethod
    def backward(ctx: Context, grad: Any) -> tuple[None, Any, None]:
        y, z, e, weight = ctx.saved
        xp = get_array_module(z)
        sigmoid = xp.where(z >= 0, 1 / (1 + e), e / (1 + e))  # σ(z) from the saved e^−|z|
        return None, _times((sigmoid - y) * (grad * grad.dtype.type(1 / z.size)), weight), None


class SoftmaxCrossEntropyOp(Function):
    """Cross-entropy of softmax(z) against labels, fused: −(1/N) Σ_n Σ_k y_nk · log softmax(z_n)_k.

    log softmax(z) = (z − max z) − log Σ_k e^(z_k − max z) never overflows and never takes
    log(0). Backward without the softmax Jacobian: dz = (softmax(z) · Σ_k y_nk − y) / N, which is
    (softmax(z) − onehot) / N for one-hot or probability rows.

    Shape: logits (N, K); labels int class ids (N,) or probability rows (N, K); output ().
    """

    @staticmethod
    def forward(ctx: Context, logits: Any, labels: Any, weight: Any) -> Any:
        xp = get_array_module(logits)
        n = logits.shape[0]
        shifted = logits - logits.max(axis=1, keepdims=True)
        e = xp.exp(shifted)
        total = e.sum(axis=1, keepdims=True)
        log_probs = shifted
        log_probs -= xp.log(total)  # in place: shifted is ours, and not needed any more
        if weight is not None:  # one weight per row: the rows' losses, weighted, over n
            rows = -(log_probs[xp.arange(n), labels] if labels.ndim == 1 else
                     (labels * log_probs).sum(axis=1))  # fmt: skip
            loss = (rows * weight).sum() / logits.dtype.type(n)
        elif labels.ndim == 1:  # sum / n: mean's own numbers (the same float32 sum over n)
            loss = -(log_probs[xp.arange(n), labels].sum() / n)
        else:
            loss = -(labels * log_probs).sum() / logits.dtype.type(n)
        e /= total  # now softmax(z), kept for the backward
        ctx.save_for_backward(e, labels, weight)
        return loss

    @staticmethod
    def backward(ctx: Context, grad: Any) -> tuple[Any, None, None]:
        probs, labels, weight = ctx.saved
        xp = get_array_module(probs)
        n = probs.shape[0]
        if labels.ndim == 1:
            d = probs.copy()  # a copy: the saved probs must survive for retain_graph
            d[xp.arange(n), labels] -= 1
        else:
            d = probs * labels.sum(axis=1, keepdims=True) - labels
        d = d * (grad * grad.dtype.type(1 / n))
        return (d if weight is None else d * weight[:, None]), None, None


class HuberOp(Function):
    """Huber loss, mean over every element, with d = ŷ − y and q = min(|d|, δ):

        0.5·d² where |d| ≤ δ, else δ·(|d| − 0.5·δ)   which is   q·(|d| − 0.5·q),

    the second form never squaring a large |d| (no overflow in the branch that is not taken).
    Backward: dŷ = clip(d, −δ, δ)/n.
    """

    @staticmethod
    def forward(ctx: Context, y_true: Any, y_pred: Any, weight: Any, *, delta: float) -> Any:
        xp = get_array_module(y_pred)
        diff = y_pred - y_true
        size = xp.abs(diff)
        quadratic = xp.minimum(size, y_pred.dtype.type(delta))
        ctx.save_for_backward(diff, weight)
        ctx.delta = delta
        return _weighted_mean(quadratic * (size - 0.5 * quadratic), weight)

    @staticmethod
    def backward(ctx: Context, grad: Any) -> tuple[None, Any, None]:
        diff, weight = ctx.saved
        xp = get_array_module(diff)
        delta = diff.dtype.type(ctx.delta)
        d = xp.clip(diff, -delta, delta) * (grad * grad.dtype.type(1 / diff.size))
        return None, _times(d, weight), None


class LogCoshOp(Function):
    """mean(log cosh(ŷ − y)) over every element, in a form that is exact at both ends:

        log cosh d = |d| + log(1 + e^−2|d|) − log 2 = |d| + log1p(expm1(−2|d|) / 2),

    with e^x only for x ≤ 0 (no overflow for large |d|) and no cancellation near d = 0.
    Backward: dŷ = tanh(d)/n.
    """

    @staticmethod
    def forward(ctx: Context, y_true: Any, y_pred: Any, weight: Any) -> Any:
        xp = get_array_module(y_pred)
        diff = y_pred - y_true
        size = xp.abs(diff)
        ctx.save_for_backward(diff, weight)
        return _weighted_mean(size + xp.log1p(0.5 * xp.expm1(-2 * size)), weight)

    @staticmethod
    def backward(ctx: Context, grad: Any) -> tuple[None, Any, None]:
        diff, weight = ctx.saved
        xp = get_array_module(diff)
        return None, _times(xp.tanh(diff) * (grad * grad.dtype.type(1 / diff.size)), weight), None


class PoissonOp(Function):
    """mean(ŷ − y·log(ŷ + ε)) over every element (Keras's ε = 1e-7 keeps ŷ = 0 finite).
    Backward: dŷ = (1 − y/(ŷ + ε))/n."""

    @staticmethod
    def forward(ctx: Context, y_true: Any, y_pred: Any, weight: Any) -> Any:
        xp = get_array_module(y_pred)
        shifted = y_pred + y_pred.dtype.type(EPSILON)
        ctx.save_for_backward(y_true, shifted, weight)
        return _weighted_mean(y_pred - y_true * xp.log(shifted), weight)

    @staticmethod
    def backward(ctx: Context, grad: Any) -> tuple[None, Any, None]:
        y, shifted, weight = ctx.saved
        return None, _times((1 - y / shifted) * (grad * grad.dtype.type(1 / y.size)), weight), None


class HingeOp(Function):
    """mean(max(1 − y·ŷ, 0)) over every element, labels y in {−1, 1}.
    Backward: dŷ = −y/n where the margin 1 − y·ŷ is positive, else 0 (0 at the kink too)."""

    @staticmethod
    def forward(ctx: Context, y_true: Any, y_pred: Any, weight: Any) -> Any:
        xp = get_array_module(y_pred)
        margin = 1 - y_true * y_pred
        ctx.save_for_backward(y_true, margin > 0, weight)
        return _weighted_mean(xp.maximum(margin, 0), weight)

    @staticmethod
    def backward(ctx: Context, grad: Any) -> tuple[None, Any, None]:
        y, active, weight = ctx.saved
        return None, _times((y * active) * (-grad * grad.dtype.type(1 / y.size)), weight), None


class KLDivergenceOp(Function):
    """Kullback-Leibler divergence, Keras's way: with t = clip(y, ε, 1) and p = clip(ŷ, ε, 1),

        loss = (1/M) Σ t·(log t − log p),

    summed over the last axis (the distribution) and averaged over the M other positions.
    Backward: dŷ = −t/(p·M) where ε ≤ ŷ ≤ 1, else 0 (the clip's gradient).
    """

    @staticmethod
    def forward(ctx: Context, y_true: Any, y_pred: Any, weight: Any) -> Any:
        xp = get_array_module(y_pred)
        low, high = y_pred.dtype.type(EPSILON), y_pred.dtype.type(1)
        t = xp.clip(y_true, low, high)
        p = xp.clip(y_pred, low, high)
        rows = y_pred.dtype.type(y_pred.size // (y_pred.shape[-1] if y_pred.ndim else 1))
        ctx.save_for_backward(t, p, (y_pred >= low) & (y_pred <= high), weight)
        ctx.rows = rows
        return _times(t * (xp.log(t) - xp.log(p)), weight).sum() / rows

    @staticmethod
    def backward(ctx: Context, grad: Any) -> tuple[None, Any, None]:
        t, p, inside, weight = ctx.saved
        return None, _times((t / p) * inside * (-grad / grad.dtype.type(ctx.rows)), weight), None


class CosineSimilarityOp(Function):
    """The negated cosine similarity along ``axis``, averaged over the M other positions:

        loss = −(1/M) Σ (y / max(‖y‖, ε)) · (ŷ / max(‖ŷ‖, ε))

    (Keras's ``normalize``; a zero vector gives 0). With t, p the normalised vectors and
    c = t·p, the backward is dŷ = −(t − c·p)/(‖ŷ‖·M), or −t/(ε·M) where ‖ŷ‖ ≤ ε.
    """

    @staticmethod
    def forward(ctx: Context, y_true: Any, y_pred: Any, weight: Any, *, axis: int) -> Any:
        xp = get_array_module(y_pred)
        eps = y_pred.dtype.type(EPSILON)
        t = y_true / xp.maximum(xp.sqrt((y_true * y_true).sum(axis=axis, keepdims=True)), eps)
        norm = xp.sqrt((y_pred * y_pred).sum(axis=axis, keepdims=True))
        scale = xp.maximum(norm, eps)
        p = y_pred / scale
        cos = (t * p).sum(axis=axis, keepdims=True)
        ctx.save_for_backward(t, p, cos * (norm > eps), scale, weight)
        ctx.rows = y_pred.dtype.type(cos.size)
        return -(_times(cos, weight).sum() / ctx.rows)

    @staticmethod
    def backward(ctx: Context, grad: Any) -> tuple[None, Any, None]:
        t, p, cos, scale, weight = ctx.saved
        d = ((t - cos * p) / scale) * (-grad / grad.dtype.type(ctx.rows))
        return None, _times(d, weight), None


def _weighted_mean(values: Any, weight: Any) -> Any:
    """mean(values), or with ``weight`` (broadcasting to ``values``) mean(weight·values):
    Keras's "sum_over_batch_size", the weighted terms summed over the number of terms (not
    over the sum of the weights)."""
    return values.mean() if weight is None else (values * weight).mean()


def _times(grad: Any, weight: Any) -> Any:
    return grad if weight is None else grad * weight


# ------------------------------------------------------------------ argument checks
def _sample_weight(sample_weight: Any, y_pred: Tensor, where: str, axis: int | None = None) -> Any:
    """``sample_weight`` as an array of y_pred's dtype that broadcasts against y_pred: one
    weight per sample (N,), or per position ((N, T) for (N, T, D) predictions); None stays
    None. ``axis``, the axis a loss sums over (the classes), must not be weighted."""
    if sample_weight is None:
        return None
    w = _raw(sample_weight, y_pred)
    if w.dtype.kind not in "biuf":
        raise TypeError(
            f"{where}: sample_weight must hold numbers. Received dtype {w.dtype}. Pass one "
            "float weight per sample."
        )
    w = w.astype(y_pred.dtype, copy=False)
    while w.ndim > y_pred.ndim and w.shape[-1] == 1:
        w = w[..., 0]
    w = w.reshape(w.shape + (1,) * (y_pred.ndim - w.ndim)) if w.ndim <= y_pred.ndim else w
    fits = w.ndim == y_pred.ndim and all(
        a in (1, b) for a, b in zip(w.shape, y_pred.shape, strict=True)
    )
    if not fits or (axis is not None and w.shape[axis] != 1):
        raise ValueError(
            f"{where}: sample_weight of shape {np.shape(_raw(sample_weight, y_pred))} does not "
            f"fit y_pred {y_pred.shape}. Expected one weight per sample, ({y_pred.shape[0]},), "
            "or one per position before the last axis."
        )
    return w


def _row_weights(weight: Any, shape: tuple[int, ...], axis: int) -> Any:
    """Per-position weights (class axis of size 1) as one weight per row of ``_rows``."""
    if weight is None:
        return None
    xp = get_array_module(weight)
    full = xp.broadcast_to(weight, (*shape[:axis], 1, *shape[axis + 1 :]))
    return xp.ascontiguousarray(xp.moveaxis(full, axis, -1).reshape(-1))


def _prediction(y_pred: Any, where: str, name: str = "y_pred") -> Tensor:
    """``y_pred`` as a floating Tensor with at least one element."""
    if not isinstance(y_pred, Tensor):
        y_pred = Tensor(y_pred)
    if not is_float(y_pred.dtype):
        raise TypeError(
            f"{where}: {name} must be floating point. Expected float32 or float64, received "
            f"{y_pred.dtype}. Predictions are model outputs; convert with "
            f"Tensor({name}, dtype='float32')."
        )
    if y_pred.size == 0:
        raise ValueError(
            f"{where}: {name} is empty. Expected at least one sample, received shape "
            f"{y_pred.shape}. Check the batch that was passed in."
        )
    return y_pred


def _logits_of(y_pred: Tensor, kind: str, axis: int) -> Tensor | None:
    """The logits behind probabilities that ``softmax``/``sigmoid`` just computed, if any.

    Cross-entropy on probabilities must clip them (log 0 = −inf), which silences the gradient
    of a confidently wrong answer; from the logits the fused op is exact and stable. So when
    y_pred came straight from the matching activation, the loss uses its input (Keras does the
    same with its ``_keras_logits``).
    """
    link = y_pred._logits
    if link is None or link[0] != kind:
        return None
    _, logits, link_axis = link
    return logits if kind == "sigmoid" or link_axis == axis else None


def _raw(y_true: Any, y_pred: Any) -> Any:
    """The target's array, on the device (NumPy or CuPy) of ``y_pred`` (a Tensor or an
    array), with its own dtype."""
    data = y_true.data if isinstance(y_true, Tensor) else y_true
    like = y_pred.data if isinstance(y_pred, Tensor) else y_pred
    return get_array_module(like).asarray(data)


def _dense_target(y_true: Any, y_pred: Tensor, where: str) -> Any:
    """``y_true`` as an array of y_pred's shape and dtype (Keras's (N,) ↔ (N, 1) fix-up)."""
    y = _raw(y_true, y_pred).astype(y_pred.dtype, copy=False)
    given = y.shape
    if y.ndim == y_pred.ndim - 1 and y_pred.shape[-1] == 1:
        y = y[..., None]
    elif y.ndim == y_pred.ndim + 1 and y.shape[-1] == 1:
        y = y[..., 0]
    if y.shape != y_pred.shape:
        raise ValueError(
            f"{where}: y_true and y_pred must have the same shape. Expected y_true of shape "
            f"{y_pred.shape}, received y_true {given} and y_pred {y_pred.shape}. "
            "Check that the labels match the outputs of the last layer."
        )
    return y


def _class_axis(y_pred: Tensor, axis: int, where: str, holds: str = "the classes") -> int:
    if not -y_pred.ndim <= axis < y_pred.ndim:
        raise ValueError(
            f"{where}: axis is out of range. Expected an axis in [{-y_pred.ndim}, "
            f"{y_pred.ndim - 1}] for y_pred of shape {y_pred.shape}, received axis={axis}. "
            f"Pass the axis that holds {holds} (usually -1)."
        )
    return axis % y_pred.ndim


def _int_axis(axis: Any, where: str) -> int:
    """``axis`` itself, checked to be a plain integer (not a bool, a float or a tuple)."""
    if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
        raise TypeError(
            f"{where}: axis must be an integer. Expected one axis such as -1, received "
            f"axis={axis!r} of type {type(axis).__name__}."
        )
    return int(axis)


def _huber_delta(delta: Any, where: str) -> float:
    """Huber's ``delta`` as a float, checked to be a positive finite number."""
    if isinstance(delta, bool) or not isinstance(delta, (int, float, np.integer, np.floating)):
        raise TypeError(
            f"{where}: delta must be a number. Expected a positive float such as 1.0, received "
            f"delta={delta!r} of type {type(delta).__name__}."
        )
    if not (np.isfinite(delta) and delta > 0):
        raise ValueError(
            f"{where}: delta must be positive. Expected 0 < delta < inf (the size of error "
            f"where the loss turns from quadratic to linear; Keras's default is 1.0), received "
            f"delta={delta}."
        )
    return float(delta)


def _rows(y_pred: Tensor, axis: int) -> Tensor:
    """y_pred with the class axis moved last and the other axes merged: shape (M, K)."""
    if axis != y_pred.ndim - 1:
        y_pred = transpose(y_pred, [a for a in range(y_pred.ndim) if a != axis] + [axis])
    if y_pred.ndim != 2:
        y_pred = reshape(y_pred, (-1, y_pred.shape[-1]))
    return y_pred


def _class_ids(ids: Any, num_classes: int, where: str, names: tuple[str, str], other: Any) -> Any:
    """Integer class ids as a flat intp array, each checked to lie in [0, num_classes).
    ``names`` and ``other`` (the predictions) describe the shapes in the error message."""
    low, high = int(ids.min()), int(ids.max())
    if low < 0 or high >= num_classes:
        shapes = f"{names[0]} {ids.shape}, {names[1]} {other.shape}"
        raise ValueError(
            f"{where}: class id out of range. Expected ids in [0, {num_classes - 1}] for "
            f"{num_classes} classes ({shapes}), received min={low}, max={high}. Labels must "
            "start at 0, and the last layer needs one unit per class."
        )
    return ids.reshape(-1).astype(np.intp, copy=False)


# ------------------------------------------------------------------ functional API
def mean_squared_error(y_true: Any, y_pred: Tensor, sample_weight: Any = None) -> Tensor:
    """Mean squared error, the regression loss: mean((y_pred − y_true)²) over every element.

    Args:
        y_true: targets, array or Tensor (not differentiated).
        y_pred: predictions, a floating Tensor.

    Shape: y_true and y_pred the same shape ((N,) and (N, 1) are accepted together, as in
    Keras); output ().
    """
    y_pred = _prediction(y_pred, "mean_squared_error")
    y = _dense_target(y_true, y_pred, "mean_squared_error")
    return MeanSquaredErrorOp.apply(
        y, y_pred, _sample_weight(sample_weight, y_pred, "mean_squared_error")
    )


def mean_absolute_error(y_true: Any, y_pred: Tensor, sample_weight: Any = None) -> Tensor:
    """Mean absolute error, robust to outliers: mean(|y_pred − y_true|) over every element.

    Args:
        y_true: targets, array or Tensor (not differentiated).
        y_pred: predictions, a floating Tensor.

    Shape: y_true and y_pred the same shape; output ().
    """
    y_pred = _prediction(y_pred, "mean_absolute_error")
    y = _dense_target(y_true, y_pred, "mean_absolute_error")
    return MeanAbsoluteErrorOp.apply(
        y, y_pred, _sample_weight(sample_weight, y_pred, "mean_absolute_error")
    )


def huber(y_true: Any, y_pred: Tensor, delta: float = 1.0, sample_weight: Any = None) -> Tensor:
    """Huber loss, mean over every element: quadratic for small errors, linear for large ones,

        loss = mean(0.5·d²  if |d| ≤ delta  else  delta·(|d| − 0.5·delta)),   d = y_pred − y_true,

    so outliers pull with a force of at most delta (MSE's pull grows with the error).

    Args:
        y_true: targets, array or Tensor (not differentiated).
        y_pred: predictions, a floating Tensor.
        delta: the error size where the loss turns from quadratic to linear, > 0.

    Shape: y_true and y_pred the same shape ((N,) with (N, 1) accepted); output ().
    """
    where = "huber"
    delta = _huber_delta(delta, where)
    y_pred = _prediction(y_pred, where)
    y = _dense_target(y_true, y_pred, where)
    return HuberOp.apply(y, y_pred, _sample_weight(sample_weight, y_pred, where), delta=delta)


def log_cosh(y_true: Any, y_pred: Tensor, sample_weight: Any = None) -> Tensor:
    """Log-cosh loss, mean over every element: mean(log cosh(y_pred − y_true)).

    About d²/2 for small errors d and |d| − log 2 for large ones: MSE near the target, MAE far
    from it, and smooth everywhere. Computed stably for any |d|.

    Args:
        y_true: targets, array or Tensor (not differentiated).
        y_pred: predictions, a floating Tensor.

    Shape: y_true and y_pred the same shape ((N,) with (N, 1) accepted); output ().
    """
    where = "log_cosh"
    y_pred = _prediction(y_pred, where)
    y = _dense_target(y_true, y_pred, where)
    return LogCoshOp.apply(y, y_pred, _sample_weight(sample_weight, y_pred, where))


def poisson(y_true: Any, y_pred: Tensor, sample_weight: Any = None) -> Tensor:
    """Poisson loss for counts, mean over every element: mean(y_pred − y_true·log(y_pred + ε)),
    ε = 1e-7 (Keras's): the negative log-likelihood of a Poisson rate y_pred, less a term
    that does not depend on it.

    Args:
        y_true: observed counts (≥ 0), array or Tensor (not differentiated).
        y_pred: predicted rates, a floating Tensor ≥ 0 (a last layer with
            ``activation=ops.exp``, the usual log link, keeps them positive).

    Shape: y_true and y_pred the same shape ((N,) with (N, 1) accepted); output ().
    """
    where = "poisson"
    y_pred = _prediction(y_pred, where)
    y = _dense_target(y_true, y_pred, where)
    low = float(y_pred.data.min())
    if low <= -EPSILON:  # log of a negative rate: nan (Keras would return nan silently)
        raise ValueError(
            f"{where}: y_pred must hold rates >= 0. Expected y_pred >= 0, received min={low} "
            f"(y_pred {y_pred.shape}). End the model with an activation that keeps outputs "
            "positive, such as Dense(1, activation=glassnet.ops.exp)."
        )
    return PoissonOp.apply(y, y_pred, _sample_weight(sample_weight, y_pred, where))


def hinge(y_true: Any, y_pred: Tensor, sample_weight: Any = None) -> Tensor:
    """Hinge loss, the SVM's, mean over every element: mean(max(1 − y_true·y_pred, 0)).

    Labels are −1 or 1; as in Keras, labels that are all 0 or 1 are first turned into −1/1
    (2·y − 1). y_pred is a raw score (no sigmoid): its sign is the answer, and answers on the
    right side by a margin of at least 1 cost nothing.

    Args:
        y_true: labels in {−1, 1} or {0, 1}, array or Tensor (not differentiated).
        y_pred: scores, a floating Tensor.

    Shape: y_true and y_pred the same shape ((N,) with (N, 1) accepted); output ().
    """
    where = "hinge"
    y_pred = _prediction(y_pred, where)
    y = _dense_target(y_true, y_pred, where)
    xp = get_array_module(y)
    if bool(xp.all((y == 0) | (y == 1))):
        y = 2 * y - 1
    return HingeOp.apply(y, y_pred, _sample_weight(sample_weight, y_pred, where))


def kl_divergence(y_true: Any, y_pred: Tensor, sample_weight: Any = None) -> Tensor:
    """Kullback-Leibler divergence KL(y_true ‖ y_pred) of probability distributions along the
    last axis, averaged over the other positions (the batch):

        loss = mean over rows of Σ_k t_k·log(t_k / p_k),
        t = clip(y_true, 1e-7, 1),   p = clip(y_pred, 1e-7, 1)

    (Keras's clipping, so zeros in either give a finite loss).

    Args:
        y_true: target distributions, array or Tensor (not differentiated).
        y_pred: predicted distributions (softmax outputs), a floating Tensor.

    Shape: y_true and y_pred the same shape, e.g. (N, K); output ().
    """
    where = "kl_divergence"
    y_pred = _prediction(y_pred, where)
    y = _dense_target(y_true, y_pred, where)
    w = _sample_weight(sample_weight, y_pred, where, axis=-1 if y_pred.ndim else None)
    return KLDivergenceOp.apply(y, y_pred, w)


def cosine_similarity(
    y_true: Any, y_pred: Tensor, axis: int = -1, sample_weight: Any = None
) -> Tensor:
    """Negated cosine similarity along ``axis``, averaged over the other positions:

        loss = −mean over rows of Σ (y_true / ‖y_true‖) · (y_pred / ‖y_pred‖)

    Keras's sign: the loss is −cos, in [−1, 1], so minimising it points y_pred the way y_true
    points (−1 is the best); a zero vector gives 0 (norms are floored at 1e-7).

    Args:
        y_true: target vectors, array or Tensor (not differentiated).
        y_pred: predicted vectors, a floating Tensor.
        axis: the axis that holds each vector's components.

    Shape: y_true and y_pred the same shape, e.g. (N, D); output ().
    """
    where = "cosine_similarity"
    axis = _int_axis(axis, where)
    y_pred = _prediction(y_pred, where)
    axis = _class_axis(y_pred, axis, where, "the vectors' components")
    y = _dense_target(y_true, y_pred, where)
    w = _sample_weight(sample_weight, y_pred, where, axis)
    return CosineSimilarityOp.apply(y, y_pred, w, axis=axis)


def binary_crossentropy(
    y_true: Any, y_pred: Tensor, from_logits: bool = False, sample_weight: Any = None
) -> Tensor:
    """Binary cross-entropy for yes/no (or multi-label) outputs, mean over every element:

        loss = −mean(y·log p + (1 − y)·log(1 − p)),   p = clip(y_pred, 1e-7, 1 − 1e-7).

    With ``from_logits=True`` y_pred holds logits z (before the sigmoid) and the fused, stable
    ``max(z, 0) − z·y + log(1 + e^−|z|)`` is used instead; prefer it for training.

    Args:
        y_true: targets in [0, 1] (0/1 labels or soft labels), array or Tensor.
        y_pred: probabilities (sigmoid outputs), or logits when ``from_logits=True``.

    Shape: y_true and y_pred the same shape ((N,) with (N, 1) accepted); output ().
    """
    where = "binary_crossentropy"
    y_pred = _prediction(y_pred, where)
    y = _dense_target(y_true, y_pred, where)
    w = _sample_weight(sample_weight, y_pred, where)
    logits = y_pred if from_logits else _logits_of(y_pred, "sigmoid", -1)
    if logits is not None:
        return SigmoidCrossEntropyOp.apply(y, logits, w)
    p = clip(y_pred, EPSILON, 1.0 - EPSILON)
    y = Tensor(y)
    terms = y * log(p) + (1 - y) * log(1 - p)
    return -(terms.mean() if w is None else (terms * w).mean())


def categorical_crossentropy(
    y_true: Any,
    y_pred: Tensor,
    from_logits: bool = False,
    axis: int = -1,
    sample_weight: Any = None,
    label_smoothing: float = 0.0,
) -> Tensor:
    """Cross-entropy for one-of-K classification with one-hot (or soft) labels, mean over rows:

        loss = −mean_n Σ_k y_nk · log p_nk,   p = clip(y_pred / Σ_k y_pred, 1e-7, 1 − 1e-7)

    (Keras's rescaling and clipping). With ``from_logits=True`` y_pred holds logits and the
    fused ``softmax_cross_entropy`` computes log-softmax and the loss in one stable step.

    Args:
        y_true: one-hot or probability rows, array or Tensor.
        y_pred: probabilities (softmax outputs), or logits when ``from_logits=True``.
        axis: the class axis.
        label_smoothing: ε in [0, 1]: the labels become y·(1 − ε) + ε / K (Keras's and
            PyTorch's), so the network is not pushed towards certainties of 0 and 1.

    Shape: y_true and y_pred the same shape, e.g. (N, K); output ().
    """
    where = "categorical_crossentropy"
    y_pred = _prediction(y_pred, where)
    axis = _class_axis(y_pred, axis, where)
    raw = _raw(y_true, y_pred)
    batch_shape = y_pred.shape[:axis] + y_pred.shape[axis + 1 :]
    if raw.shape != y_pred.shape and raw.shape in (batch_shape, (*batch_shape, 1)):
        raise ValueError(
            f"{where}: y_true looks like integer class ids, not one-hot rows. Expected y_true of "
            f"shape {y_pred.shape}, received y_true {raw.shape} and y_pred {y_pred.shape}. "
            "Use sparse_categorical_crossentropy for class ids, or one-hot encode y_true."
        )
    y = _smoothed(_dense_target(raw, y_pred, where), label_smoothing, axis, where)
    w = _row_weights(_sample_weight(sample_weight, y_pred, where, axis), y_pred.shape, axis)
    logits = y_pred if from_logits else _logits_of(y_pred, "softmax", axis)
    if logits is not None:
        labels = get_array_module(y).moveaxis(y, axis, -1).reshape(-1, y.shape[axis])
        return SoftmaxCrossEntropyOp.apply(_rows(logits, axis), labels, w)
    return _categorical_from_probs(y, y_pred, axis, w)


def _smoothed(y: Any, label_smoothing: Any, axis: int, where: str) -> Any:
    """Label smoothing (Szegedy et al., 2016): y·(1 − ε) + ε / K along the class ``axis``."""
    epsilon = check_range(where, "label_smoothing", label_smoothing, UNIT)
    if not epsilon:
        return y
    return (y * (1.0 - epsilon) + epsilon / y.shape[axis]).astype(y.dtype, copy=False)


def _categorical_from_probs(y: Any, y_pred: Tensor, axis: int, weight: Any = None) -> Tensor:
    """The cross-entropy of probabilities, mean over rows; ``weight`` one per row, in the
    order of ``_rows`` (None: all 1)."""
    p = clip(y_pred / y_pred.sum(axis=axis, keepdims=True), EPSILON, 1.0 - EPSILON)
    rows = (Tensor(y) * log(p)).sum(axis=axis)
    if weight is not None:
        rows = rows * weight.reshape(rows.shape)
    return -rows.mean()


def sparse_categorical_crossentropy(
    y_true: Any,
    y_pred: Tensor,
    from_logits: bool = False,
    axis: int = -1,
    sample_weight: Any = None,
    label_smoothing: float = 0.0,
) -> Tensor:
    """Cross-entropy for one-of-K classification with integer class ids, mean over samples:

        loss = −mean_n log p[n, y_n],   p = clip(y_pred / Σ_k y_pred, 1e-7, 1 − 1e-7).

    The same loss as ``categorical_crossentropy`` on one-hot labels, without building them.
    With ``from_logits=True`` the fused ``softmax_cross_entropy`` is used.

    Args:
        y_true: integer ids in [0, K), array or Tensor.
        y_pred: probabilities (softmax outputs), or logits when ``from_logits=True``.
        axis: the class axis of y_pred.
        label_smoothing: ε in [0, 1]: the target becomes (1 − ε)·onehot + ε / K, as
            PyTorch's ``CrossEntropyLoss(label_smoothing=ε)`` (a glassnet extra: Keras's
            sparse loss has no smoothing).

    Shape: y_pred (N, K), y_true (N,) or (N, 1) (generally y_pred's shape without the class
    axis, optionally with a trailing 1); output ().
    """
    where = "sparse_categorical_crossentropy"
    y_pred = _prediction(y_pred, where)
    axis = _class_axis(y_pred, axis, where)
    xp = get_array_module(y_pred.data)
    ids = _sparse_ids(y_true, y_pred, axis, where)
    w = _row_weights(_sample_weight(sample_weight, y_pred, where, axis), y_pred.shape, axis)
    logits = y_pred if from_logits else _logits_of(y_pred, "softmax", axis)
    onehot = None
    if label_smoothing != 0.0 or logits is None:
        onehot = (ids[:, None] == xp.arange(y_pred.shape[axis])).astype(y_pred.dtype)
        onehot = _smoothed(onehot, label_smoothing, 1, where)
    if logits is not None:
        labels = ids if onehot is None else onehot
        return SoftmaxCrossEntropyOp.apply(_rows(logits, axis), labels, w)
    return _categorical_from_probs(onehot, _rows(y_pred, axis), 1, w)


def _sparse_ids(y_true: Any, y_pred: Any, axis: int, where: str) -> Any:
    """``y_true`` as flat intp class ids for the predictions ``y_pred`` (a Tensor or an array
    with class axis ``axis``), checked: integer dtype, one id per sample, each in [0, K)."""
    ids = _raw(y_true, y_pred)
    if ids.dtype.kind not in "iu":  # np.issubdtype(..., np.integer), faster
        raise TypeError(
            f"{where}: y_true must hold integer class ids. Expected an integer dtype, received "
            f"{ids.dtype} with shape {ids.shape} (y_pred {y_pred.shape}). Use "
            "categorical_crossentropy for one-hot or probability labels, or pass integer ids "
            "(y_true.astype('int64'))."
        )
    batch_shape = y_pred.shape[:axis] + y_pred.shape[axis + 1 :]
    if ids.shape not in (batch_shape, (*batch_shape, 1)):
        raise ValueError(
            f"{where}: y_true has the wrong shape for y_pred {y_pred.shape}. Expected "
            f"{batch_shape} (one class id per sample), received {ids.shape}. If y_true is "
            "one-hot encoded, use categorical_crossentropy."
        )
    return _class_ids(ids, y_pred.shape[axis], where, ("y_true", "y_pred"), y_pred)


def softmax_cross_entropy(logits: Tensor, labels: Any) -> Tensor:
    """The fused softmax + cross-entropy: −(1/N) Σ_n Σ_k y_nk · log softmax(z_n)_k.

    One op instead of softmax followed by log: faster, stable for any logits (±1e4 included),
    and its gradient is simply (softmax(z) − onehot) / N. This is what classification training
    should use (the model's last layer then has no softmax).

    Args:
        logits: class scores z, a floating Tensor.
        labels: integer class ids, or probability rows (float), array or Tensor.

    Shape: logits (N, K); labels (N,) or (N, 1) ints, or (N, K) floats; output ().
    """
    where = "softmax_cross_entropy"
    logits = _prediction(logits, where, "logits")
    if logits.ndim != 2:
        raise ValueError(
            f"{where}: logits must be a batch of class scores. Expected shape (N, K), received "
            f"{logits.shape}. Reshape to (-1, K), or use categorical_crossentropy(..., "
            "from_logits=True), which accepts any rank."
        )
    y = _raw(labels, logits)
    n, k = logits.shape
    shapes = f"labels {y.shape}, logits {logits.shape}"
    if np.issubdtype(y.dtype, np.integer):
        if y.shape not in ((n,), (n, 1)):
            raise ValueError(
                f"{where}: integer labels are class ids, one per row of logits. Expected "
                f"shape ({n},), received {shapes}. For one-hot labels pass them as floats "
                "(labels.astype('float32'))."
            )
        ids = _class_ids(y, k, where, ("labels", "logits"), logits)
        return SoftmaxCrossEntropyOp.apply(logits, ids, None)
    if not is_float(y.dtype) or y.shape != (n, k):
        raise ValueError(
            f"{where}: labels are neither class ids nor probability rows. Expected integer ids "
            f"of shape ({n},) or float rows of shape ({n}, {k}), received {y.dtype} {shapes}. "
            "Convert class ids with labels.astype('int64')."
        )
    return SoftmaxCrossEntropyOp.apply(logits, y.astype(logits.dtype, copy=False), None)
