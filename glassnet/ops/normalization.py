"""Batch normalization: each channel to zero mean and unit variance, then a learned scale and shift.

During training each channel is normalised with the mean and variance of the current batch,
and running averages of those statistics are kept for inference, where a single image has no
batch to take statistics from (Keras's semantics and default numbers). Channels are the last
axis, as everywhere in glassnet: (N, C) after Dense, (N, H, W, C) after Conv2D.
"""

from __future__ import annotations

from typing import Any

from glassnet.autograd import Context, Function
from glassnet.backend import get_array_module, is_float
from glassnet.parallel import Share
from glassnet.tensor import Tensor, rows_with, sum_rows

__all__ = ["batch_norm"]


class BatchNormOp(Function):
    """y = γ · (x − μ) / √(σ² + ε) + β per channel.

    With ``training=True``, μ and σ² are the mean and biased variance of this very x over
    every axis but the last, so they move when x moves and the backward includes that; the
    running statistics take a step towards them, in place. With x̂ = (x − μ)/√(σ² + ε), g the
    incoming gradient and means over those same axes, it is

        dx = γ/√(σ² + ε) · (g − mean(g) − x̂ · mean(g · x̂)),   dγ = Σ g·x̂,   dβ = Σ g.

    With ``training=False`` (inference) μ and σ² are the running statistics, constants, and
    dx = γ · g / √(σ² + ε).

    Trained a share of the batch per core (``share``), μ, σ² and backward's means are the
    whole batch's, exchanged with the other shares, and only the first share updates the
    running statistics: the step is the whole batch's.

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
        if training:
            mean, var = _batch_moments(x, share)
            if share is None or share.index == 0:  # one update per step, not one per share
                running_mean[...] = running_mean * momentum + mean * (1.0 - momentum)
                running_var[...] = running_var * momentum + var * (1.0 - momentum)
        else:
            mean = running_mean.astype(x.dtype, copy=False)
            var = running_var.astype(x.dtype, copy=False)
        batch_stats = training
        inv_std = 1 / xp.sqrt(var + x.dtype.type(epsilon))
        # Per-channel arithmetic over (P, C) rows, P = every position of every sample, run
        # over long rows (rows_with): NumPy would step C numbers at a time.
        rows = x.reshape(-1, x.shape[-1])
        x_hat = rows_with(xp.subtract, rows, mean)
        rows_with(xp.multiply, x_hat, inv_std, out=x_hat)
        out = x_hat if gamma is None else rows_with(xp.multiply, x_hat, gamma)
        if beta is not None:  # a new array where out is x_hat, which backward needs
            out = rows_with(xp.add, out, beta, out=None if gamma is None else out)
        x_hat, out = x_hat.reshape(x.shape), out.reshape(x.shape)
        ctx.batch_stats, ctx.share = batch_stats, share
        ctx.save_for_backward(x_hat, inv_std, gamma)
        return out

    @staticmethod
    def backward(ctx: Context, grad: Any) -> tuple[Any, Any, Any, None, None]:
        x_hat, inv_std, gamma = ctx.saved
        xp = get_array_module(grad)
        channels = grad.shape[-1]
        g_rows, x_rows = grad.reshape(-1, channels), x_hat.reshape(-1, channels)
        g_beta = sum_rows(g_rows)
        scratch = g_rows * x_rows
        g_gamma = sum_rows(scratch)
        scale = inv_std if gamma is None else gamma * inv_std
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
                # scale · (g − Σg/m − x̂ · Σgx̂/m), as g·scale + x̂·a + b, pass by pass in place
                rows_with(xp.multiply, x_rows, -scale * (sum_gx / m), out=scratch)
                rows_with(xp.add, scratch, -scale * (sum_g / m), out=scratch)
                gx += scratch
            gx = gx.reshape(grad.shape)
        return gx, g_gamma, g_beta, None, None


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


def _batch_moments(x: Any, share: Share | None) -> tuple[Any, Any]:
    """Each channel's mean and biased variance (divided by the count, as Keras) over every axis
    but the last. For a ``share`` of the batch, the shares' counts, means and variances are
    exchanged and combined into the whole batch's (Chan et al.'s pairwise formula), so every
    share normalises as the whole batch in order would. Shape: x (..., C) -> (C,), (C,)."""
    xp = get_array_module(x)
    rows = x.reshape(-1, x.shape[-1])  # (P, C): sums over long rows (sum_rows)
    count = x.dtype.type(len(rows))
    mean = sum_rows(rows) / count
    deviations = rows_with(xp.subtract, rows, mean)
    var = sum_rows(xp.square(deviations, out=deviations)) / count
    if share is None:
        return mean, var
    parts = share.gather((len(rows), mean, var))
    total = sum(count for count, _, _ in parts)
    mean = sum(count * m for count, m, _ in parts) / total
    var = sum(count * (v + (m - mean) ** 2) for count, m, v in parts) / total
    return mean.astype(x.dtype, copy=False), var.astype(x.dtype, copy=False)


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
