"""Activation functions: they decide how strongly a neuron fires given its weighted sum.

Without them a stack of layers would collapse into one linear map. Each backward reuses what
the forward pass already computed where that is cheaper: sigmoid' = s·(1 − s),
tanh' = 1 − t², ReLU' = 1 where the input was positive.
"""

from __future__ import annotations

import math
from typing import Any

from glassnet.autograd import Context, Function
from glassnet.backend import get_array_module
from glassnet.tensor import Tensor

__all__ = ["gelu", "leaky_relu", "log_softmax", "relu", "sigmoid", "softmax", "tanh"]


class ReLUOp(Function):
    """max(0, x). Subgradient convention: ReLU'(0) = 0 (as PyTorch)."""

    @staticmethod
    def forward(ctx: Context, x: Any) -> Any:
        mask = x > 0
        ctx.mask = mask  # all backward needs (dropped with ctx under no_grad)
        return x * mask

    @staticmethod
    def backward(ctx: Context, grad: Any) -> Any:
        return grad * ctx.mask


def fused_relu(ctx: Context, y: Any) -> None:
    """ReLU in place on ``y``, the fresh output of an op that fuses it (Conv2D, Dense): one
    pass over memory and no new array, where a separate ReLU op would read y and write a copy.
    Keeps the mask y > 0 on ``ctx`` when a gradient will be asked for."""
    mask = y > 0
    if any(ctx.needs_input_grad):
        ctx.relu_mask = mask
    y *= mask


def relu_(y: Any) -> Any:
    """Zero the non-positive entries of ``y`` in place and return it. (Multiplying by the mask
    y > 0 is faster than NumPy's NaN-aware ``maximum`` on CPUs without AVX-512, and than a
    masked copy, which mispredicts a branch on every other number.)"""
    y *= y > 0
    return y


def fused_relu_grad(ctx: Context, grad: Any) -> Any:
    """The gradient through a fused ReLU: ``grad`` where the output was positive, else 0."""
    mask = getattr(ctx, "relu_mask", None)
    return grad if mask is None else grad * mask.reshape(grad.shape)


class LeakyReLUOp(Function):
    """x for x > 0, slope·x otherwise; the derivative at 0 is ``slope``."""

    @staticmethod
    def forward(ctx: Context, x: Any, *, negative_slope: float) -> Any:
        xp = get_array_module(x)
        mask = x > 0
        ctx.mask, ctx.slope = mask, negative_slope
        return xp.where(mask, x, x * x.dtype.type(negative_slope))

    @staticmethod
    def backward(ctx: Context, grad: Any) -> Any:
        xp = get_array_module(grad)
        return xp.where(ctx.mask, grad, grad * grad.dtype.type(ctx.slope))


class SigmoidOp(Function):
    """σ(x) = 1 / (1 + e^−x), computed without overflow for large |x|."""

    @staticmethod
    def forward(ctx: Context, x: Any) -> Any:
        xp = get_array_module(x)
        # e^−|x| never overflows; for x < 0, σ(x) = e^x / (1 + e^x).
        z = xp.exp(-xp.abs(x))
        out = xp.where(x >= 0, 1 / (1 + z), z / (1 + z)).astype(x.dtype, copy=False)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx: Context, grad: Any) -> Any:
        (s,) = ctx.saved
        return grad * s * (1 - s)


class TanhOp(Function):
    @staticmethod
    def forward(ctx: Context, x: Any) -> Any:
        xp = get_array_module(x)
        out = xp.tanh(x)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx: Context, grad: Any) -> Any:
        (t,) = ctx.saved
        return grad * (1 - t * t)


class SoftmaxOp(Function):
    """e^x_i / Σ_j e^x_j along ``axis``; the maximum is subtracted first so e^x never overflows.

    Backward: dx = s · (g − Σ g·s), the Jacobian-vector product without building the Jacobian.
    """

    @staticmethod
    def forward(ctx: Context, x: Any, *, axis: int) -> Any:
        xp = get_array_module(x)
        e = xp.exp(x - x.max(axis=axis, keepdims=True))
        s = e / e.sum(axis=axis, keepdims=True)
        ctx.axis = axis
        ctx.save_for_backward(s)
        return s

    @staticmethod
    def backward(ctx: Context, grad: Any) -> Any:
        (s,) = ctx.saved
        return s * (grad - (grad * s).sum(axis=ctx.axis, keepdims=True))


class LogSoftmaxOp(Function):
    """x − log Σ e^x along ``axis`` (the log-sum-exp trick keeps it finite for logits of ±1e4).

    Backward: dx = g − softmax(x) · Σ g.
    """

    @staticmethod
    def forward(ctx: Context, x: Any, *, axis: int) -> Any:
        xp = get_array_module(x)
        shifted = x - x.max(axis=axis, keepdims=True)
        out = shifted - xp.log(xp.exp(shifted).sum(axis=axis, keepdims=True))
        ctx.axis = axis
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx: Context, grad: Any) -> Any:
        (out,) = ctx.saved
        xp = get_array_module(out)
        return grad - xp.exp(out) * grad.sum(axis=ctx.axis, keepdims=True)


class GELUOp(Function):
    """x·Φ(x), Φ the standard normal CDF (exact, via erf), or the tanh approximation.

    Exact derivative: Φ(x) + x·φ(x), with φ(x) = e^(−x²/2) / √(2π).
    """

    @staticmethod
    def forward(ctx: Context, x: Any, *, approximate: bool) -> Any:
        xp = get_array_module(x)
        one = x.dtype.type(1)
        if approximate:
            c = x.dtype.type(math.sqrt(2 / math.pi))
            inner = c * (x + x.dtype.type(0.044715) * x**3)
            t = xp.tanh(inner)
            ctx.save_for_backward(x, t)
            ctx.approximate = True
            return x.dtype.type(0.5) * x * (one + t)
        erf = _erf(xp)
        cdf = x.dtype.type(0.5) * (one + erf(x * x.dtype.type(1 / math.sqrt(2))))
        ctx.save_for_backward(x, cdf)
        ctx.approximate = False
        return x * cdf

    @staticmethod
    def backward(ctx: Context, grad: Any) -> Any:
        x, saved = ctx.saved
        xp = get_array_module(x)
        one = x.dtype.type(1)
        if ctx.approximate:
            t = saved
            c = x.dtype.type(math.sqrt(2 / math.pi))
            d_inner = c * (one + x.dtype.type(3 * 0.044715) * x * x)
            return grad * (
                x.dtype.type(0.5) * (one + t) + x.dtype.type(0.5) * x * (one - t * t) * d_inner
            )
        pdf = xp.exp(-x * x / 2) * x.dtype.type(1 / math.sqrt(2 * math.pi))
        return grad * (saved + x * pdf)


def _erf(xp: Any) -> Any:
    if xp.__name__ == "cupy":  # pragma: no cover - GPU only
        from cupyx.scipy.special import erf
    else:
        from scipy.special import erf
    return erf


# ------------------------------------------------------------------ functional API
def relu(x: Tensor) -> Tensor:
    """max(0, x): passes positive inputs, silences negative ones."""
    return ReLUOp.apply(x)


def leaky_relu(x: Tensor, negative_slope: float = 0.2) -> Tensor:
    """x if x > 0 else negative_slope·x (Keras's default slope is 0.2; PyTorch's 0.01)."""
    return LeakyReLUOp.apply(x, negative_slope=float(negative_slope))


def sigmoid(x: Tensor) -> Tensor:
    """1 / (1 + e^−x): squashes any number into (0, 1), e.g. sigmoid(−3) ≈ 0.0474."""
    out = SigmoidOp.apply(x)
    if isinstance(x, Tensor):
        out._logits = ("sigmoid", x, -1)
    return out


def tanh(x: Tensor) -> Tensor:
    """Hyperbolic tangent: squashes into (−1, 1), zero-centred."""
    return TanhOp.apply(x)


def _axis(x: Any, axis: int, name: str) -> int:
    ndim = x.ndim
    if not -ndim <= axis < ndim:
        raise ValueError(f"{name}: axis {axis} is out of range for input shape {tuple(x.shape)}.")
    return axis % ndim


def softmax(x: Tensor, axis: int = -1) -> Tensor:
    """Turn scores into probabilities that sum to 1 along ``axis``."""
    axis = _axis(x, axis, "softmax")
    out = SoftmaxOp.apply(x, axis=axis)
    if isinstance(x, Tensor):
        out._logits = ("softmax", x, axis)
    return out


def log_softmax(x: Tensor, axis: int = -1) -> Tensor:
    """log(softmax(x)), computed stably (never log(0) for large logits)."""
    return LogSoftmaxOp.apply(x, axis=_axis(x, axis, "log_softmax"))


def gelu(x: Tensor, approximate: bool = False) -> Tensor:
    """Gaussian Error Linear Unit x·Φ(x); ``approximate=True`` uses the tanh formula."""
    return GELUOp.apply(x, approximate=bool(approximate))
