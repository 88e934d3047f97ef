"""Activation functions: they decide how strongly a neuron fires given its weighted sum.

Without them a stack of layers would collapse into one linear map. Each backward reuses what
the forward pass already computed where that is cheaper: sigmoid' = s·(1 − s),
tanh' = 1 − t², ReLU' = 1 where the input was positive. Those with an exponential (sigmoid,
softplus, SiLU, ELU, Mish) only ever exponentiate numbers ≤ 0, so they stay finite for any
float input; at the kinks of the piecewise-linear ones (ReLU6, hard sigmoid, hard SiLU) the
gradient follows PyTorch, as noted at each op.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from glassnet.autograd import Context, Function
from glassnet.backend import get_array_module
from glassnet.checks import check_number
from glassnet.tensor import Tensor

__all__ = [
    "elu",
    "gelu",
    "hard_sigmoid",
    "hard_silu",
    "leaky_relu",
    "log_softmax",
    "mish",
    "prelu",
    "relu",
    "relu6",
    "selu",
    "sigmoid",
    "silu",
    "softmax",
    "softplus",
    "softsign",
    "tanh",
]

#: SELU's constants (Klambauer et al., 2017), to Keras's digits: the fixed point at which
#: activations keep mean 0 and variance 1 from layer to layer.
SELU_ALPHA = 1.6732632423543772
SELU_SCALE = 1.0507009873554805


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


def _sigmoid(xp: Any, x: Any, z: Any = None) -> Any:
    """σ(x) from z = e^−|x|, which never overflows: 1 / (1 + z) for x ≥ 0 and, for x < 0,
    σ(x) = e^x / (1 + e^x) = z / (1 + z)."""
    if z is None:
        z = xp.exp(-xp.abs(x))
    return (xp.where(x >= 0, 1, z) / (1 + z)).astype(x.dtype, copy=False)


class SigmoidOp(Function):
    """σ(x) = 1 / (1 + e^−x), computed without overflow for large |x|."""

    @staticmethod
    def forward(ctx: Context, x: Any) -> Any:
        out = _sigmoid(get_array_module(x), x)
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


class SiLUOp(Function):
    """SiLU (swish), x·σ(x): ReLU-like but smooth, dipping slightly below 0 near x ≈ −1.28.

    Derivative: σ(x) + x·σ(x)·(1 − σ(x)) = σ(x)·(1 + x·(1 − σ(x))).
    """

    @staticmethod
    def forward(ctx: Context, x: Any) -> Any:
        s = _sigmoid(get_array_module(x), x)
        ctx.save_for_backward(x, s)
        return x * s

    @staticmethod
    def backward(ctx: Context, grad: Any) -> Any:
        x, s = ctx.saved
        return grad * (s * (1 + x * (1 - s)))


class ELUOp(Function):
    """scale·x for x > 0, scale·alpha·(e^x − 1) otherwise: ELU (scale 1) and SELU.

    e^x − 1 is taken of min(x, 0) with ``expm1`` (exact near 0, never overflowing).
    Derivative: scale for x > 0, scale·alpha·e^x otherwise (so alpha·scale at 0, as PyTorch).
    """

    @staticmethod
    def forward(ctx: Context, x: Any, *, alpha: float, scale: float) -> Any:
        xp = get_array_module(x)
        positive = x > 0
        negative = x.dtype.type(alpha * scale) * xp.expm1(xp.minimum(x, 0))
        out = xp.where(positive, x * x.dtype.type(scale), negative)
        ctx.positive, ctx.alpha, ctx.scale = positive, alpha, scale
        ctx.save_for_backward(negative)
        return out

    @staticmethod
    def backward(ctx: Context, grad: Any) -> Any:
        (negative,) = ctx.saved
        xp = get_array_module(grad)
        t = grad.dtype.type
        # for x ≤ 0: d/dx scale·alpha·(e^x − 1) = scale·alpha·e^x = negative + scale·alpha
        slope = xp.where(ctx.positive, t(ctx.scale), negative + t(ctx.alpha * ctx.scale))
        return grad * slope


class SoftplusOp(Function):
    """log(1 + e^x), a smooth ReLU: written max(x, 0) + log(1 + e^−|x|), which neither
    overflows for large x nor loses small values for very negative x. Derivative: σ(x)."""

    @staticmethod
    def forward(ctx: Context, x: Any) -> Any:
        xp = get_array_module(x)
        z = xp.exp(-xp.abs(x))
        ctx.save_for_backward(_sigmoid(xp, x, z))
        return xp.maximum(x, 0) + xp.log1p(z)

    @staticmethod
    def backward(ctx: Context, grad: Any) -> Any:
        (s,) = ctx.saved
        return grad * s


class MishOp(Function):
    """Mish, x·tanh(softplus(x)) (Misra, 2019): smooth, unbounded above, bounded below.

    Derivative: t + x·(1 − t²)·σ(x), with t = tanh(softplus(x)) and softplus' = σ.
    """

    @staticmethod
    def forward(ctx: Context, x: Any) -> Any:
        xp = get_array_module(x)
        z = xp.exp(-xp.abs(x))
        t = xp.tanh(xp.maximum(x, 0) + xp.log1p(z))
        ctx.save_for_backward(x, t, _sigmoid(xp, x, z))
        return x * t

    @staticmethod
    def backward(ctx: Context, grad: Any) -> Any:
        x, t, s = ctx.saved
        return grad * (t + x * (1 - t * t) * s)


class ReLU6Op(Function):
    """min(max(x, 0), 6): ReLU capped at 6 (MobileNet's). The gradient is 1 for 0 < x < 6 and
    0 elsewhere, the ends included (as PyTorch's and TensorFlow's)."""

    @staticmethod
    def forward(ctx: Context, x: Any) -> Any:
        xp = get_array_module(x)
        ctx.inside = (x > 0) & (x < 6)
        return xp.clip(x, 0, 6).astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx: Context, grad: Any) -> Any:
        return grad * ctx.inside


class HardSigmoidOp(Function):
    """Keras 3's hard sigmoid, relu6(x + 3) / 6 = clip(x/6 + 1/2, 0, 1): a straight-line
    sigmoid (Keras 2's was 0.2·x + 0.5). The gradient is 1/6 for −3 < x < 3, else 0."""

    @staticmethod
    def forward(ctx: Context, x: Any) -> Any:
        xp = get_array_module(x)
        ctx.inside = (x > -3) & (x < 3)
        y = x * x.dtype.type(1 / 6) + x.dtype.type(0.5)
        return xp.clip(y, 0, 1).astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx: Context, grad: Any) -> Any:
        return grad * ctx.inside * grad.dtype.type(1 / 6)


class HardSiLUOp(Function):
    """Hard SiLU (hard swish), x·hard_sigmoid(x): 0 for x < −3, x for x > 3, x·(x + 3)/6 in
    between (MobileNetV3). The gradient is 0, (2x + 3)/6 on [−3, 3] (both ends, as PyTorch),
    then 1."""

    @staticmethod
    def forward(ctx: Context, x: Any) -> Any:
        xp = get_array_module(x)
        ctx.save_for_backward(x)
        hard = xp.clip(x * x.dtype.type(1 / 6) + x.dtype.type(0.5), 0, 1)
        return (x * hard).astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx: Context, grad: Any) -> Any:
        (x,) = ctx.saved
        xp = get_array_module(x)
        t = x.dtype.type
        middle = x * t(1 / 3) + t(0.5)
        slope = xp.where(x < -3, t(0), xp.where(x > 3, t(1), middle))
        return grad * slope


class SoftsignOp(Function):
    """x / (1 + |x|): like tanh, into (−1, 1), but approaching its bounds polynomially.
    Derivative: 1 / (1 + |x|)²."""

    @staticmethod
    def forward(ctx: Context, x: Any) -> Any:
        xp = get_array_module(x)
        d = 1 + xp.abs(x)
        ctx.save_for_backward(d)
        return x / d

    @staticmethod
    def backward(ctx: Context, grad: Any) -> Any:
        (d,) = ctx.saved
        return grad / d / d  # not d·d, which overflows for |x| beyond √max


class PReLUOp(Function):
    """Parametric ReLU: x for x ≥ 0, alpha·x otherwise, with a learned ``alpha`` broadcast
    against x (one per feature, or shared along some axes).

    Gradients: ∂/∂x is 1 or alpha; ∂/∂alpha is min(x, 0), summed over the axes alpha is
    broadcast along (by the engine's ``unbroadcast``).
    """

    @staticmethod
    def forward(ctx: Context, x: Any, alpha: Any) -> Any:
        xp = get_array_module(x)
        negative = xp.minimum(x, 0)
        ctx.save_for_backward(negative, alpha)
        ctx.positive = x > 0
        return xp.maximum(x, 0) + alpha * negative

    @staticmethod
    def backward(ctx: Context, grad: Any) -> Any:
        negative, alpha = ctx.saved
        xp = get_array_module(grad)
        gx = xp.where(ctx.positive, grad, grad * alpha) if ctx.needs_input_grad[0] else None
        ga = grad * negative if ctx.needs_input_grad[1] else None
        return gx, ga


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


def silu(x: Tensor) -> Tensor:
    """SiLU, also called swish: x·σ(x), e.g. silu(1) ≈ 0.731 and silu(−1) ≈ −0.269."""
    return SiLUOp.apply(x)


def elu(x: Tensor, alpha: float = 1.0) -> Tensor:
    """Exponential linear unit: x for x > 0, alpha·(e^x − 1) otherwise (Keras's alpha=1.0)."""
    return ELUOp.apply(x, alpha=check_number("elu", "alpha", alpha), scale=1.0)


def selu(x: Tensor) -> Tensor:
    """Scaled ELU: SELU_SCALE·elu(x, SELU_ALPHA), Keras's constants; it keeps activations near
    mean 0 and variance 1 in deep stacks of Dense layers initialised with ``lecun_normal``."""
    return ELUOp.apply(x, alpha=SELU_ALPHA, scale=SELU_SCALE)


def softplus(x: Tensor) -> Tensor:
    """log(1 + e^x), a smooth ReLU; finite for any input (softplus(1e4) = 1e4)."""
    return SoftplusOp.apply(x)


def mish(x: Tensor) -> Tensor:
    """Mish: x·tanh(softplus(x))."""
    return MishOp.apply(x)


def relu6(x: Tensor) -> Tensor:
    """ReLU capped at 6: min(max(x, 0), 6)."""
    return ReLU6Op.apply(x)


def hard_sigmoid(x: Tensor) -> Tensor:
    """Keras 3's hard sigmoid: 0 for x ≤ −3, 1 for x ≥ 3, x/6 + 1/2 in between."""
    return HardSigmoidOp.apply(x)


def hard_silu(x: Tensor) -> Tensor:
    """Hard SiLU, also called hard swish: x·hard_sigmoid(x)."""
    return HardSiLUOp.apply(x)


def softsign(x: Tensor) -> Tensor:
    """x / (1 + |x|), into (−1, 1)."""
    return SoftsignOp.apply(x)


def prelu(x: Tensor, alpha: Tensor) -> Tensor:
    """Parametric ReLU: x for x ≥ 0, alpha·x otherwise; ``alpha`` must broadcast to x's shape
    (the layer ``PReLU`` holds it as a weight)."""
    x_shape, a_shape = tuple(x.shape), tuple(getattr(alpha, "shape", ()))
    try:
        shape = np.broadcast_shapes(x_shape, a_shape)
    except ValueError:
        shape = None
    if shape != x_shape:
        raise ValueError(
            f"prelu: alpha of shape {a_shape} does not broadcast to the input's shape {x_shape}."
        )
    return PReLUOp.apply(x, alpha)
