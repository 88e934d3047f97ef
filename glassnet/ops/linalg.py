"""Matrix products: ``matmul`` (the @ operator) and ``linear`` (x·W + b, a Dense layer's maths).

For Y = X·W the chain rule gives dX = dY·Wᵀ and dW = Xᵀ·dY: the backward pass is two more
matrix products, so training a Dense layer costs three GEMMs per step.
"""

from __future__ import annotations

from typing import Any

from glassnet.autograd import Context, Function
from glassnet.backend import get_array_module
from glassnet.ops.activation import fused_relu, fused_relu_grad
from glassnet.tensor import Tensor, add_to_rows, sum_rows


class MatMulOp(Function):
    """NumPy's matmul semantics: 1-D operands are promoted to matrices, leading axes broadcast."""

    @staticmethod
    def forward(ctx: Context, a: Any, b: Any) -> Any:
        ctx.save_for_backward(a, b)
        return a @ b

    @staticmethod
    def backward(ctx: Context, grad: Any) -> tuple[Any, Any]:
        a, b = ctx.saved
        xp = get_array_module(a, b)
        # Promote vectors to matrices (a: (k,) -> (1, k), b: (k,) -> (k, 1)) so both gradients
        # are matrix products; the engine's unbroadcast then sums any broadcast batch axes.
        a2 = a[None, :] if a.ndim == 1 else a
        b2 = b[:, None] if b.ndim == 1 else b
        out_shape = (*xp.broadcast_shapes(a2.shape[:-2], b2.shape[:-2]), a2.shape[-2], b2.shape[-1])
        g2 = grad.reshape(out_shape)
        ga = g2 @ xp.swapaxes(b2, -1, -2) if ctx.needs_input_grad[0] else None
        gb = None
        if ctx.needs_input_grad[1]:
            gb = xp.swapaxes(a2, -1, -2) @ g2
            if b.ndim == 1:
                gb = gb[..., 0]
        return ga, gb


class LinearOp(Function):
    """y = x·W + b over the last axis of x. x: (..., in), W: (in, out), b: (out,) -> (..., out).

    Leading axes are folded into one so each product is a single 2-D GEMM. With ``relu`` the
    output is max(0, x·W + b), applied in place on the fresh product (see ``fused_relu``).
    """

    @staticmethod
    def forward(ctx: Context, x: Any, w: Any, b: Any, *, relu: bool = False) -> Any:
        ctx.save_for_backward(x.reshape(-1, x.shape[-1]), w)
        ctx.x_shape = x.shape
        y = x.reshape(-1, x.shape[-1]) @ w
        if b is not None:
            add_to_rows(y, b)
        y = y.reshape(*x.shape[:-1], w.shape[1])
        if relu:
            fused_relu(ctx, y)
        return y

    @staticmethod
    def backward(ctx: Context, grad: Any) -> tuple[Any, Any, Any]:
        x2, w = ctx.saved
        grad = fused_relu_grad(ctx, grad)
        g2 = grad.reshape(-1, w.shape[1])
        gx = (g2 @ w.T).reshape(ctx.x_shape) if ctx.needs_input_grad[0] else None
        gw = x2.T @ g2 if ctx.needs_input_grad[1] else None
        gb = sum_rows(g2) if ctx.needs_input_grad[2] else None
        return gx, gw, gb


def matmul(a: Tensor, b: Tensor) -> Tensor:
    """Matrix product ``a @ b`` (NumPy semantics: batched over leading axes, 1-D promoted)."""
    sa, sb = a.shape, b.shape
    if len(sa) == 0 or len(sb) == 0:
        raise ValueError(
            f"matmul: both operands need at least one axis. Received shapes {sa} and {sb}. "
            "Use * to multiply by a scalar."
        )
    k_a = sa[-1]
    k_b = sb[0] if len(sb) == 1 else sb[-2]
    if k_a != k_b:
        raise ValueError(
            f"matmul: cannot multiply shapes {sa} and {sb}: the last axis of the first "
            f"({k_a}) must equal the {'only' if len(sb) == 1 else 'second-to-last'} axis of the "
            f"second ({k_b}). Check the order of the operands or transpose one of them."
        )
    return MatMulOp.apply(a, b)


def linear(x: Tensor, weight: Tensor, bias: Tensor | None = None, relu: bool = False) -> Tensor:
    """x·W + b: every output unit is a weighted sum of the inputs plus a bias.

    ``relu=True`` also applies max(0, ·) in the same op: the numbers and gradients of
    ``relu(linear(...))`` with one pass and one array fewer (``Dense(..., activation="relu")``).

    Shape: x (..., in), weight (in, out) (Keras's kernel layout), bias (out,) -> (..., out).
    """
    if x.ndim == 0 or weight.ndim != 2 or x.shape[-1] != weight.shape[0]:
        raise ValueError(
            f"linear: cannot multiply input {tuple(x.shape)} by weight {tuple(weight.shape)}: the "
            f"last input axis must equal the weight's first axis"
            f"{f' ({weight.shape[0]})' if weight.ndim == 2 else ''}. Did you forget Flatten()?"
        )
    if bias is not None and tuple(bias.shape) != (weight.shape[1],):
        raise ValueError(
            f"linear: bias shape {tuple(bias.shape)} does not match weight {tuple(weight.shape)}. "
            f"Expected ({weight.shape[1]},)."
        )
    for name, a in (("weight", weight), ("bias", bias)):
        if a is not None and a.dtype != x.dtype:
            raise TypeError(
                f"linear: input and {name} must have the same dtype (as for conv2d). Expected "
                f"{x.dtype} (the input's), received {name} dtype {a.dtype}. Convert one of them "
                f"with .astype(...); models take float32."
            )
    return LinearOp.apply(x, weight, bias, relu=relu)
