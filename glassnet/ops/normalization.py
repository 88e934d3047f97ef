"""Normalization: activations brought to zero mean and unit variance, then scaled and shifted.

Batch normalization takes each channel's statistics over the batch: during training the mean
and variance of the current batch, with running averages of them kept for inference, where a
single image has no batch to take statistics from (Keras's semantics and default numbers).
Channels are the last axis, as everywhere in glassnet: (N, C) after Dense, (N, H, W, C) after
Conv2D.

Layer and group normalization take the statistics of each sample on its own, so training and
inference compute the same thing and the batch size does not matter (transformers, small
batches): layer normalization over the given axes (the features), group normalization over
each group of channels and every position. Both are the same standardisation,
x̂ = (x − μ)/√(σ² + ε) over some axes, with the same backward (``_standardize``,
``_standardize_backward``); only the axes and the shape of the scale and shift differ.

``normalize`` divides by the L2 norm instead (``UnitNormalization``): each vector has length 1.
"""

from __future__ import annotations

import math
from typing import Any

from glassnet.autograd import Context, Function
from glassnet.backend import get_array_module, is_float
from glassnet.parallel import Share
from glassnet.tensor import Tensor, rows_with, sum_rows

__all__ = ["batch_norm", "group_norm", "layer_norm", "normalize"]


class BatchNormOp(Function):
    """y = γ · (x − μ) / √(σ² + ε) + β per channel.

    With ``training=True``, μ and σ² are the mean and biased variance of this very x over
    every axis but the last, so they move when x moves and the backward includes that; the
    running statistics take a step towards them, in place. With x̂ = (x − μ)/√(σ² + ε), g the
    incoming gradient and means over those same axes, it is

        dx = γ/√(σ² + ε) · (g − mean(g) − x̂ · mean(g · x̂)),   dγ = Σ g·x̂,   dβ = Σ g.

    With ``training=False`` (inference) μ and σ² are the running statistics, constants, and
    dx = γ · g / √(σ² + ε). Where nothing will be differentiated, inference runs its own
    kernel, the same formula folded into a scale and a shift (``batch_norm_inference``).

    Trained a share of the batch per core (``share``), μ, σ² and backward's means are the
    whole batch's, exchanged with the other shares, and only the first share updates the
    running statistics: the step is the whole batch's.

    How it runs: x̂ is never stored. The deviations d = x − m from the mean m this op
    subtracted (the share's own mean, which differs from μ by a per-channel δ = μ − m) are
    computed once for the variance and kept, so x̂ = (d − δ)/√(σ² + ε) and every term above is
    a per-channel sum or coefficient times d: y = d·s + t with s = γ/√(σ² + ε) and
    t = β − δ·s, Σ g·x̂ = (Σ g·d − δ·Σ g)/√(σ² + ε). d is centred, so no cancellation enters.

    Shape: x (..., C); gamma, beta (C,) or None; running_mean, running_var (C,); output like x.
    """

    across_batch = True

    @staticmethod
    def forward(
        ctx: Context,
        x: Any,
        gamma: Any,
        beta: Any,
        running_mean: Any,
        running_var: Any,
        *,
        epsilon: float,
        momentum: float,
        training: bool,
        share: Share | None = None,
    ) -> Any:
        xp = get_array_module(x)
        if not training and not any(ctx.needs_input_grad):
            # Inference with nothing to differentiate: nothing to keep for backward either.
            return batch_norm_inference(x, gamma, beta, running_mean, running_var, epsilon)
        # Per-channel arithmetic over (P, C) rows, P = every position of every sample, run
        # over long rows (rows_with): NumPy would step C numbers at a time.
        rows = x.reshape(-1, x.shape[-1])
        # the output in the dtype x·γ + β takes (float64 parameters promote float32 images)
        out = xp.empty(
            rows.shape, xp.result_type(rows, *(p for p in (gamma, beta) if p is not None))
        )
        if training:
            scratch = out if out.dtype == rows.dtype else None
            mean, var, subtracted, centred = _batch_moments(rows, share, scratch)
            if share is None or share.index == 0:  # one update per step, not one per share
                running_mean[...] = running_mean * momentum + mean * (1.0 - momentum)
                running_var[...] = running_var * momentum + var * (1.0 - momentum)
        else:
            mean = subtracted = running_mean.astype(x.dtype, copy=False)
            var = running_var.astype(x.dtype, copy=False)
            centred = rows_with(xp.subtract, rows, mean)
        inv_std = 1 / xp.sqrt(var + x.dtype.type(epsilon))
        delta = mean - subtracted  # δ: what d still holds of the mean (0 but for shares)
        scale = inv_std if gamma is None else gamma * inv_std
        shift = -delta * scale if beta is None else beta - delta * scale
        rows_with(xp.multiply, centred, scale, out=out)
        rows_with(xp.add, out, shift, out=out)
        ctx.batch_stats, ctx.share = training, share
        ctx.save_for_backward(centred, delta, inv_std, scale)
        return out.reshape(x.shape)

    @staticmethod
    def backward(ctx: Context, grad: Any) -> tuple[Any, Any, Any, None, None]:
        centred, delta, inv_std, scale = ctx.saved
        xp = get_array_module(grad)
        g_rows = grad.reshape(centred.shape)
        g_beta = sum_rows(g_rows)
        scratch = g_rows * centred
        g_gamma = (sum_rows(scratch) - delta * g_beta) * inv_std  # Σ g·x̂
        gx = None
        if ctx.needs_input_grad[0]:
            gx = rows_with(xp.multiply, g_rows, scale)
            if ctx.batch_stats:
                m, sum_g, sum_gx = len(g_rows), g_beta, g_gamma  # values per channel, sums
                if ctx.share is not None:  # the whole batch's sums, over every share
                    parts = ctx.share.gather((m, sum_g, sum_gx))
                    m = sum(part[0] for part in parts)
                    sum_g, sum_gx = (sum(part[k] for part in parts) for k in (1, 2))
                m = grad.dtype.type(m)
                # scale · (g − Σg/m − x̂ · Σgx̂/m) with x̂ = (d − δ)·inv_std: g·scale + d·a + b
                a = -scale * (sum_gx / m) * inv_std
                b = -scale * (sum_g / m) - a * delta
                rows_with(xp.multiply, centred, a, out=scratch)
                rows_with(xp.add, scratch, b, out=scratch)
                gx += scratch
            gx = gx.reshape(grad.shape)
        return gx, g_gamma, g_beta, None, None


def batch_norm_inference(
    x: Any,
    gamma: Any,
    beta: Any,
    running_mean: Any,
    running_var: Any,
    epsilon: float,
    out: Any = None,
) -> Any:
    """``BatchNormOp``'s inference kernel: γ, β, μ and σ² folded into one scale
    s = γ/√(σ² + ε) and one shift t = β − μ·s per channel, so y = x·s + t is two passes over
    the activations and one new array (``out=x`` writes over x: none), where the textbook form
    makes four passes and two arrays, one of them x̂ kept for a backward that inference never
    runs. (The same fold as PyTorch's and oneDNN's inference; it rounds differently from the
    textbook form, by an ulp or so.)

    Shape: x (..., C); gamma, beta (C,) or None; running_mean, running_var (C,); like x.
    """
    xp = get_array_module(x)
    mean = running_mean.astype(x.dtype, copy=False)
    scale = 1 / xp.sqrt(running_var.astype(x.dtype, copy=False) + x.dtype.type(epsilon))
    if gamma is not None:
        scale = gamma * scale
    shift = -mean * scale if beta is None else beta - mean * scale
    rows = x.reshape(-1, x.shape[-1])
    y = rows_with(xp.multiply, rows, scale, out=None if out is None else out.reshape(rows.shape))
    rows_with(xp.add, y, shift, out=y)
    return y.reshape(x.shape)


# ------------------------------------------------------------------ functional API
def _channel_param(value: Any, name: str, channels: int, x_shape: tuple[int, ...]) -> Any:
    if value is None:
        return None
    shape = tuple(value.shape) if hasattr(value, "shape") else None
    if shape != (channels,):
        raise ValueError(
            f"batch_norm: {name} does not match the channels of x. Expected shape "
            f"({channels},) for x of shape {x_shape} (channels last), received {shape}. "
            "Build the layer for the input's last axis."
        )
    return value


def _buffer(value: Any, name: str, channels: int, x_shape: tuple[int, ...]) -> Any:
    """The array behind a running-statistic Tensor, which is updated in place."""
    data = value.data if isinstance(value, Tensor) else value
    if not hasattr(data, "dtype") or not is_float(data.dtype):
        raise TypeError(
            f"batch_norm: {name} must be a floating Tensor (it is updated in place). Expected a "
            f"Tensor of shape ({channels},), received {type(value).__name__}. Create it as "
            f"Tensor(np.zeros({channels}, dtype='float32'))."
        )
    return _channel_param(data, name, channels, x_shape)


def _batch_moments(
    rows: Any, share: Share | None, scratch: Any = None
) -> tuple[Any, Any, Any, Any]:
    """Each channel's mean μ and biased variance σ² (divided by the count, as Keras) over the
    rows, and the deviations d = x − m from the rows' own mean m, with m. For a ``share`` of
    the batch, the shares' counts, means and variances are exchanged and combined into the
    whole batch's (Chan et al.'s pairwise formula), so every share normalises as the whole
    batch in order would; m is then this share's mean, not μ. ``scratch``, like ``rows``
    (or None: a new array), receives the squared deviations.

    Shape: rows (P, C) -> μ, σ², m (C,) and d (P, C)."""
    xp = get_array_module(rows)
    count = rows.dtype.type(len(rows))
    own_mean = sum_rows(rows) / count
    centred = rows_with(xp.subtract, rows, own_mean)
    var = sum_rows(xp.square(centred, out=scratch)) / count
    if share is None:
        return own_mean, var, own_mean, centred
    parts = share.gather((len(rows), own_mean, var))
    total = sum(count for count, _, _ in parts)
    mean = sum(count * m for count, m, _ in parts) / total
    var = sum(count * (v + (m - mean) ** 2) for count, m, v in parts) / total
    return (
        mean.astype(rows.dtype, copy=False),
        var.astype(rows.dtype, copy=False),
        own_mean,
        centred,
    )


def batch_norm(
    x: Tensor,
    gamma: Tensor | None,
    beta: Tensor | None,
    running_mean: Tensor,
    running_var: Tensor,
    training: bool,
    momentum: float = 0.99,
    epsilon: float = 1e-3,
) -> Tensor:
    """Normalise each channel (last axis) to zero mean and unit variance, then scale and shift.

    ``training=True`` normalises with this batch's mean and biased variance (over every axis
    but the last) and updates the running statistics in place, as Keras does:
    ``running = running · momentum + batch_stat · (1 − momentum)``. ``training=False`` uses
    the running statistics and leaves them alone.

    Args:
        x: activations, channels last.
        gamma, beta: learned scale and shift, or None to leave that step out.
        running_mean, running_var: Tensors updated in place when ``training``.
        momentum: how much of the old running value is kept per step, in [0, 1].
        epsilon: added to the variance so a constant channel does not divide by zero.

    Shape: x (N, C) or (N, H, W, C), any rank ≥ 2; gamma, beta, running_* (C,); output like x.
    """
    if not isinstance(x, Tensor):
        x = Tensor(x)
    if x.ndim < 2 or not is_float(x.dtype):
        raise ValueError(
            f"batch_norm: x must be a floating batch with channels last. Expected shape (N, C) "
            f"or (N, H, W, C) and a float dtype, received shape {x.shape}, dtype {x.dtype}. "
            "Add the batch axis (x[None]) or convert to float32."
        )
    if not 0.0 <= momentum <= 1.0:
        raise ValueError(
            f"batch_norm: momentum is the fraction of the running statistic kept per step. "
            f"Expected 0 <= momentum <= 1, received momentum={momentum}. Keras uses 0.99."
        )
    if not epsilon > 0.0:
        raise ValueError(
            f"batch_norm: epsilon must be positive. Expected epsilon > 0, received "
            f"epsilon={epsilon}. Keras uses 1e-3."
        )
    c = x.shape[-1]
    gamma = _channel_param(gamma, "gamma", c, x.shape)
    beta = _channel_param(beta, "beta", c, x.shape)
    # As Tensors, so the op receives the very arrays to update in place (a bare array of
    # another dtype than x would reach it as a converted copy).
    r_mean = _buffer(running_mean, "running_mean", c, x.shape)
    r_var = _buffer(running_var, "running_var", c, x.shape)
    running_mean = running_mean if isinstance(running_mean, Tensor) else Tensor(r_mean)
    running_var = running_var if isinstance(running_var, Tensor) else Tensor(r_var)
    return BatchNormOp.apply(
        x,
        gamma,
        beta,
        running_mean,
        running_var,
        epsilon=float(epsilon),
        momentum=float(momentum),
        training=bool(training),
    )


# ------------------------------------------------------------------ per-sample statistics
def _standardize(x: Any, axes: tuple[int, ...], epsilon: float) -> tuple[Any, Any]:
    """x̂ = (x − μ)/√(σ² + ε), μ and σ² the mean and biased variance over ``axes`` (kept as
    axes of length 1). Returns x̂ and 1/√(σ² + ε). Shape: x̂ like x; the other x's shape
    with ``axes`` of length 1."""
    xp = get_array_module(x)
    mean = x.mean(axis=axes, keepdims=True)
    x_hat = x - mean
    var = xp.square(x_hat).mean(axis=axes, keepdims=True)
    inv_std = 1 / xp.sqrt(var + x.dtype.type(epsilon))
    x_hat *= inv_std
    return x_hat, inv_std


def _standardize_backward(g: Any, x_hat: Any, inv_std: Any, axes: tuple[int, ...]) -> Any:
    """The gradient through ``_standardize``: with means over the same ``axes``,
    dx = (g − mean(g) − x̂ · mean(g · x̂)) / √(σ² + ε). Shape: like g."""
    mean_g = g.mean(axis=axes, keepdims=True)
    mean_gx = (g * x_hat).mean(axis=axes, keepdims=True)
    return (g - mean_g - x_hat * mean_gx) * inv_std


def _sum_to(a: Any, shape: tuple[int, ...], keep: tuple[int, ...]) -> Any:
    """``a`` summed over every axis not in ``keep``, as an array of ``shape`` (a weight's)."""
    other = tuple(d for d in range(a.ndim) if d not in keep)
    return a.sum(axis=other).reshape(shape)


class LayerNormOp(Function):
    """y = γ · (x − μ)/√(σ² + ε) + β, μ and σ² each sample's mean and biased variance over
    ``axes`` (the features), γ and β spanning those axes.

    The backward is ``_standardize_backward`` of g·γ; dγ = Σ g·x̂, dβ = Σ g over the other axes.

    With ``rms_scaling`` (Keras's option) there is no shift and no centring of the output:
    y = γ · x/√(σ² + ε), σ² still the variance about the mean, as Keras computes it. Then with
    h = g·γ, s = 1/√(σ² + ε) and n values per sample, dx = s·h − s³ · (x − μ) · Σ(h·x)/n.

    Shape: x any rank; gamma, beta or None, n values each, the normalised axes' sizes (in
    the layer's order of ``axes``: reshaped onto them as Keras does); output like x.
    """

    @staticmethod
    def forward(
        ctx: Context,
        x: Any,
        gamma: Any,
        beta: Any,
        *,
        axes: tuple[int, ...],
        epsilon: float,
        rms_scaling: bool = False,
    ) -> Any:
        param_shape = tuple(x.shape[d] if d in axes else 1 for d in range(x.ndim))
        g = None if gamma is None else gamma.reshape(param_shape)
        if rms_scaling:
            xp = get_array_module(x)
            centred = x - x.mean(axis=axes, keepdims=True)
            var = xp.square(centred).mean(axis=axes, keepdims=True)
            inv_std = 1 / xp.sqrt(var + x.dtype.type(epsilon))
            x_hat = x * inv_std  # not centred: "x̂" for dγ = Σ g·x̂
            ctx.save_for_backward(x, centred, x_hat, inv_std, g)
        else:
            x_hat, inv_std = _standardize(x, axes, epsilon)
            ctx.save_for_backward(x_hat, inv_std, g)
        ctx.axes, ctx.rms = axes, rms_scaling
        ctx.gamma_shape = None if gamma is None else gamma.shape
        ctx.beta_shape = None if beta is None else beta.shape
        out = x_hat if g is None else x_hat * g
        if beta is not None:
            out = out + beta.reshape(param_shape)
        return out

    @staticmethod
    def backward(ctx: Context, grad: Any) -> tuple[Any, Any, Any]:
        axes = ctx.axes
        if ctx.rms:
            x, centred, x_hat, inv_std, g = ctx.saved
        else:
            x_hat, inv_std, g = ctx.saved
        h = grad if g is None else grad * g
        gx = None
        if ctx.needs_input_grad[0]:
            if ctx.rms:
                mean_hx = (h * x).mean(axis=axes, keepdims=True)
                gx = inv_std * h - inv_std**3 * centred * mean_hx
            else:
                gx = _standardize_backward(h, x_hat, inv_std, axes)
        g_gamma = g_beta = None
        if ctx.needs_input_grad[1]:
            g_gamma = _sum_to(grad * x_hat, ctx.gamma_shape, axes)
        if ctx.needs_input_grad[2]:
            g_beta = _sum_to(grad, ctx.beta_shape, axes)
        return gx, g_gamma, g_beta


class GroupNormOp(Function):
    """y = γ · x̂ + β per channel, x̂ standardised with each sample's mean and biased variance
    over one group of C/G consecutive channels at every position (Wu & He, 2018).

    x is viewed as (N, P, G, C/G), P every position, and standardised over axes 1 and 3: the
    same ``_standardize`` as layer normalization, on other axes. G = 1 is layer normalization
    over all but the batch axis; G = C is instance normalization.

    Shape: x (N, ..., C), C a multiple of ``groups``; gamma, beta (C,) or None; output like x.
    """

    @staticmethod
    def forward(ctx: Context, x: Any, gamma: Any, beta: Any, *, groups: int, epsilon: float) -> Any:
        grouped = x.reshape(x.shape[0], -1, groups, x.shape[-1] // groups)
        x_hat, inv_std = _standardize(grouped, (1, 3), epsilon)
        x_hat = x_hat.reshape(x.shape)
        ctx.save_for_backward(x_hat, inv_std, gamma)
        ctx.groups = groups
        out = x_hat if gamma is None else x_hat * gamma
        return out if beta is None else out + beta

    @staticmethod
    def backward(ctx: Context, grad: Any) -> tuple[Any, Any, Any]:
        x_hat, inv_std, gamma = ctx.saved
        gx = None
        if ctx.needs_input_grad[0]:
            h = grad if gamma is None else grad * gamma
            view = (grad.shape[0], -1, ctx.groups, grad.shape[-1] // ctx.groups)
            gx = _standardize_backward(h.reshape(view), x_hat.reshape(view), inv_std, (1, 3))
            gx = gx.reshape(grad.shape)
        last = (grad.ndim - 1,)
        g_gamma = _sum_to(grad * x_hat, (-1,), last) if ctx.needs_input_grad[1] else None
        g_beta = _sum_to(grad, (-1,), last) if ctx.needs_input_grad[2] else None
        return gx, g_gamma, g_beta


class NormalizeOp(Function):
    """y = x / max(‖x‖₂, ε) over ``axes``: each vector scaled to length 1 (PyTorch's
    ``F.normalize``; Keras's ``UnitNormalization`` is ε = 1e-6, written there as
    x · rsqrt(max(Σx², 1e-12))).

    With r = 1/‖x‖₂ where ‖x‖₂ > ε, dx = r · (g − y · Σ(g·y)); where the norm is at most ε
    the divisor is the constant ε and dx = g/ε (the one-sided choice at ‖x‖₂ = ε).

    Shape: x any rank; output like x.
    """

    @staticmethod
    def forward(ctx: Context, x: Any, *, axes: tuple[int, ...], epsilon: float) -> Any:
        xp = get_array_module(x)
        norm = xp.sqrt(xp.square(x).sum(axis=axes, keepdims=True))
        stretched = norm > epsilon  # where the divisor is the norm itself, not ε
        inv = 1 / xp.maximum(norm, x.dtype.type(epsilon))
        out = x * inv
        ctx.save_for_backward(out, inv, stretched)
        ctx.axes = axes
        return out

    @staticmethod
    def backward(ctx: Context, grad: Any) -> Any:
        out, inv, stretched = ctx.saved
        along = (grad * out).sum(axis=ctx.axes, keepdims=True) * stretched
        return (grad - out * along) * inv


# ------------------------------------------------------------------ functional API, per sample
def _axes(where: str, axis: Any, ndim: int) -> tuple[int, ...]:
    """``axis`` (an int or a sequence of ints, negative counting from the end) as sorted,
    distinct non-negative axes of an ``ndim``-D array, the batch axis excluded."""
    items = list(axis) if isinstance(axis, (list, tuple)) else [axis]
    if not items or any(isinstance(a, bool) or not isinstance(a, int) for a in items):
        raise TypeError(
            f"{where}: axis must be an int or a non-empty list of ints. Received: axis={axis!r}"
        )
    axes = sorted({a % ndim for a in items if -ndim <= a < ndim})
    if len(axes) != len(items) or 0 in axes:
        raise ValueError(
            f"{where}: axis must name distinct axes of the input other than the batch axis "
            f"(0). Received: axis={axis!r} for an input of {ndim} dimensions."
        )
    return tuple(axes)


def _float_batch(where: str, x: Any, min_ndim: int = 2) -> Tensor:
    if not isinstance(x, Tensor):
        x = Tensor(x)
    if x.ndim < min_ndim or not is_float(x.dtype):
        raise ValueError(
            f"{where}: x must be a floating batch of at least {min_ndim} dimensions. Received "
            f"shape {x.shape}, dtype {x.dtype}. Add the batch axis (x[None]) or convert to "
            "float32."
        )
    return x


def _check_epsilon(where: str, epsilon: float) -> float:
    if isinstance(epsilon, bool) or not isinstance(epsilon, (int, float)) or not epsilon > 0:
        raise ValueError(f"{where}: epsilon must be positive. Received: epsilon={epsilon!r}")
    return float(epsilon)


def _param(where: str, value: Any, name: str, size: int, what: str) -> Any:
    if value is not None and int(getattr(value, "size", -1)) != size:
        raise ValueError(
            f"{where}: {name} must hold one value per element of {what} ({size}). Received "
            f"shape {tuple(getattr(value, 'shape', ()))}."
        )
    return value


def layer_norm(
    x: Tensor,
    gamma: Tensor | None = None,
    beta: Tensor | None = None,
    axis: int | tuple[int, ...] = -1,
    epsilon: float = 1e-3,
    rms_scaling: bool = False,
) -> Tensor:
    """Normalise each sample over ``axis`` (the features) to zero mean and unit variance,
    then scale by ``gamma`` and shift by ``beta`` (Keras's ``LayerNormalization``; PyTorch's
    ``F.layer_norm`` is the trailing-axes case). The same in training and inference.

    Args:
        x: a floating batch.
        gamma, beta: scale and shift over the normalised axes (as many values as those axes
            hold), or None to leave that step out.
        axis: the axis or axes normalised; never the batch axis.
        epsilon: added to the variance.
        rms_scaling: Keras's variant: y = γ · x/√(σ² + ε), no centring and no ``beta``.

    Shape: x (N, ...); output like x.
    """
    where = "layer_norm"
    x = _float_batch(where, x)
    axes = _axes(where, axis, x.ndim)
    size = math.prod(x.shape[d] for d in axes)
    what = f"the normalised axes {axes} of x {x.shape}"
    gamma = _param(where, gamma, "gamma", size, what)
    beta = _param(where, beta, "beta", size, what)
    if rms_scaling and beta is not None:
        raise ValueError(f"{where}: rms_scaling has no shift; pass beta=None.")
    return LayerNormOp.apply(
        x,
        gamma,
        beta,
        axes=axes,
        epsilon=_check_epsilon(where, epsilon),
        rms_scaling=bool(rms_scaling),
    )


def group_norm(
    x: Tensor,
    groups: int,
    gamma: Tensor | None = None,
    beta: Tensor | None = None,
    epsilon: float = 1e-3,
) -> Tensor:
    """Split the channels (last axis) into ``groups`` groups and normalise each sample's
    group over its channels and every position, then scale and shift per channel (Keras's
    ``GroupNormalization``; PyTorch's ``F.group_norm`` in channels-first).

    Shape: x (N, ..., C) with C a multiple of ``groups``; gamma, beta (C,) or None; output
    like x.
    """
    where = "group_norm"
    x = _float_batch(where, x)
    channels = x.shape[-1]
    if isinstance(groups, bool) or not isinstance(groups, int) or groups < 1:
        raise ValueError(f"{where}: groups must be a positive integer. Received: {groups!r}")
    if channels % groups:
        raise ValueError(
            f"{where}: the {channels} channels of x {x.shape} cannot be split into "
            f"{groups} groups of equal size. Use a number of groups that divides {channels}."
        )
    what = f"the channels of x {x.shape}"
    gamma = _param(where, gamma, "gamma", channels, what)
    beta = _param(where, beta, "beta", channels, what)
    return GroupNormOp.apply(x, gamma, beta, groups=groups, epsilon=_check_epsilon(where, epsilon))


def normalize(x: Tensor, axis: int | tuple[int, ...] = -1, epsilon: float = 1e-6) -> Tensor:
    """Scale each vector along ``axis`` to unit L2 length: x / max(‖x‖₂, ε) (PyTorch's
    ``F.normalize`` with p=2; Keras's ``UnitNormalization`` uses ε = 1e-6).

    Shape: x (N, ...); output like x.
    """
    x = _float_batch("normalize", x)
    axes = _axes("normalize", axis, x.ndim)
    return NormalizeOp.apply(x, axes=axes, epsilon=_check_epsilon("normalize", epsilon))
