"""Element-by-element arithmetic: + − × ÷, powers, exp, log, sqrt, abs, clip, maximum, where;
and the comparisons, logic and casts that make masks (equal, logical_and/or/not, cast).

Each op's backward is the derivative from a calculus table multiplied by the incoming gradient
(the chain rule). Broadcasting is undone by the engine, so ``a + b`` with ``b`` of shape (3,)
and ``a`` of shape (2, 3) simply returns ``grad`` for both. Comparisons and logic are steps
(their derivative is 0 wherever it exists): they pass no gradient, but they are ops all the
same, so a replayed training step computes a mask afresh from each batch.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from glassnet.autograd import Context, Function
from glassnet.backend import as_array, get_array_module, is_float
from glassnet.tensor import Tensor, no_grad

Operand = Tensor | Any


class AddOp(Function):
    @staticmethod
    def forward(ctx: Context, a: Any, b: Any) -> Any:
        return a + b

    @staticmethod
    def backward(ctx: Context, grad: Any) -> tuple[Any, Any]:
        return grad, grad


class SubOp(Function):
    @staticmethod
    def forward(ctx: Context, a: Any, b: Any) -> Any:
        return a - b

    @staticmethod
    def backward(ctx: Context, grad: Any) -> tuple[Any, Any]:
        return grad, (-grad if ctx.needs_input_grad[1] else None)


class MulOp(Function):
    @staticmethod
    def forward(ctx: Context, a: Any, b: Any) -> Any:
        ctx.save_for_backward(a, b)
        return a * b

    @staticmethod
    def backward(ctx: Context, grad: Any) -> tuple[Any, Any]:
        a, b = ctx.saved
        ga = grad * b if ctx.needs_input_grad[0] else None
        gb = grad * a if ctx.needs_input_grad[1] else None
        return ga, gb


class DivOp(Function):
    @staticmethod
    def forward(ctx: Context, a: Any, b: Any) -> Any:
        ctx.save_for_backward(a, b)
        return a / b

    @staticmethod
    def backward(ctx: Context, grad: Any) -> tuple[Any, Any]:
        a, b = ctx.saved
        ga = grad / b if ctx.needs_input_grad[0] else None
        gb = -grad * a / (b * b) if ctx.needs_input_grad[1] else None
        return ga, gb


class NegOp(Function):
    @staticmethod
    def forward(ctx: Context, a: Any) -> Any:
        return -a

    @staticmethod
    def backward(ctx: Context, grad: Any) -> Any:
        return -grad


class PowOp(Function):
    """a ** b. d/da = b·a^(b−1); d/db = a^b·ln(a) (defined for a > 0)."""

    @staticmethod
    def forward(ctx: Context, a: Any, b: Any) -> Any:
        out = a**b
        ctx.save_for_backward(a, b, out)
        return out

    @staticmethod
    def backward(ctx: Context, grad: Any) -> tuple[Any, Any]:
        a, b, out = ctx.saved
        xp = get_array_module(a)
        ga = grad * b * a ** (b - 1) if ctx.needs_input_grad[0] else None
        gb = None
        if ctx.needs_input_grad[1]:
            safe = xp.where(a > 0, a, xp.ones_like(a))
            gb = grad * out * xp.log(safe)
        return ga, gb


class ExpOp(Function):
    @staticmethod
    def forward(ctx: Context, a: Any) -> Any:
        xp = get_array_module(a)
        out = xp.exp(a)
        ctx.save_for_backward(out)  # d/da e^a = e^a: reuse the output
        return out

    @staticmethod
    def backward(ctx: Context, grad: Any) -> Any:
        (out,) = ctx.saved
        return grad * out


class LogOp(Function):
    @staticmethod
    def forward(ctx: Context, a: Any) -> Any:
        xp = get_array_module(a)
        ctx.save_for_backward(a)
        return xp.log(a)

    @staticmethod
    def backward(ctx: Context, grad: Any) -> Any:
        (a,) = ctx.saved
        return grad / a


class SqrtOp(Function):
    @staticmethod
    def forward(ctx: Context, a: Any) -> Any:
        xp = get_array_module(a)
        out = xp.sqrt(a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx: Context, grad: Any) -> Any:
        (out,) = ctx.saved
        return grad / (2 * out)


class AbsOp(Function):
    """|a|; the subgradient at 0 is 0 (NumPy's sign(0))."""

    @staticmethod
    def forward(ctx: Context, a: Any) -> Any:
        xp = get_array_module(a)
        ctx.save_for_backward(a)
        return xp.abs(a)

    @staticmethod
    def backward(ctx: Context, grad: Any) -> Any:
        (a,) = ctx.saved
        xp = get_array_module(a)
        return grad * xp.sign(a)


class ClipOp(Function):
    """Clamp to [low, high]; the gradient passes where low ≤ a ≤ high (PyTorch's convention)."""

    @staticmethod
    def forward(ctx: Context, a: Any, *, low: float | None, high: float | None) -> Any:
        xp = get_array_module(a)
        inside = xp.ones(a.shape, dtype=bool)
        if low is not None:
            inside &= a >= low
        if high is not None:
            inside &= a <= high
        ctx.inside = inside
        return xp.clip(a, low, high).astype(a.dtype, copy=False)

    @staticmethod
    def backward(ctx: Context, grad: Any) -> Any:
        return grad * ctx.inside


class _ExtremumOp(Function):
    """Element-wise max or min (the array function ``pick``) of two arrays; on ties the gradient
    is split half and half (as PyTorch)."""

    pick: ClassVar[str]

    @staticmethod
    def forward(ctx: Context, a: Any, b: Any) -> Any:
        xp = get_array_module(a, b)
        ctx.save_for_backward(a, b)
        return getattr(xp, ctx.fn.pick)(a, b)

    @staticmethod
    def backward(ctx: Context, grad: Any) -> tuple[Any, Any]:
        a, b = ctx.saved
        wins = a > b if ctx.fn.pick == "maximum" else a < b
        share_a = (wins + 0.5 * (a == b)).astype(grad.dtype)
        ga = grad * share_a if ctx.needs_input_grad[0] else None
        gb = grad * (1 - share_a) if ctx.needs_input_grad[1] else None
        return ga, gb


class MaximumOp(_ExtremumOp):
    pick = "maximum"


class MinimumOp(_ExtremumOp):
    pick = "minimum"


class WhereOp(Function):
    """Pick from ``a`` where ``condition`` holds, else from ``b``; gradients follow the pick.
    The condition comes last, so plain numbers a and b take the dtype of a tensor among them
    rather than the condition's bool."""

    @staticmethod
    def forward(ctx: Context, a: Any, b: Any, condition: Any) -> Any:
        xp = get_array_module(a, b)
        ctx.condition = condition.astype(bool, copy=False)
        return xp.where(ctx.condition, a, b)

    @staticmethod
    def backward(ctx: Context, grad: Any) -> tuple[Any, Any, None]:
        xp = get_array_module(grad)
        zero = xp.zeros((), dtype=grad.dtype)
        ga = xp.where(ctx.condition, grad, zero) if ctx.needs_input_grad[0] else None
        gb = xp.where(ctx.condition, zero, grad) if ctx.needs_input_grad[1] else None
        return ga, gb, None


class _LogicOp(Function):
    """An element-wise comparison or logical function (the array function ``logic``) of one
    or two arrays, with NumPy broadcasting: a bool array, through which no gradient flows."""

    logic: ClassVar[str]

    @staticmethod
    def forward(ctx: Context, *arrays: Any) -> Any:
        return getattr(get_array_module(*arrays), ctx.fn.logic)(*arrays)

    @staticmethod
    def backward(ctx: Context, grad: Any) -> tuple[None, ...]:
        return (None,) * len(ctx.needs_input_grad)


class EqualOp(_LogicOp):
    logic = "equal"


class NotEqualOp(_LogicOp):
    logic = "not_equal"


class GreaterEqualOp(_LogicOp):
    logic = "greater_equal"


class LogicalAndOp(_LogicOp):
    logic = "logical_and"


class LogicalOrOp(_LogicOp):
    logic = "logical_or"


class LogicalNotOp(_LogicOp):
    logic = "logical_not"


class CastOp(Function):
    """``a`` converted to ``dtype``. Between floating dtypes it is the identity, so the gradient
    comes back converted to ``a``'s dtype; to or from any other dtype it is a step (bool, int),
    with no gradient."""

    @staticmethod
    def forward(ctx: Context, a: Any, *, dtype: str) -> Any:
        ctx.dtype = a.dtype
        return a.astype(dtype, copy=False)

    @staticmethod
    def backward(ctx: Context, grad: Any) -> Any:
        return grad.astype(ctx.dtype, copy=False)


# ------------------------------------------------------------------ functional API
def add(a: Operand, b: Operand) -> Tensor:
    """a + b, with NumPy broadcasting."""
    return AddOp.apply(a, b)


def sub(a: Operand, b: Operand) -> Tensor:
    """a − b, with NumPy broadcasting."""
    return SubOp.apply(a, b)


def mul(a: Operand, b: Operand) -> Tensor:
    """a × b element-wise, with NumPy broadcasting."""
    return MulOp.apply(a, b)


def div(a: Operand, b: Operand) -> Tensor:
    """a ÷ b element-wise, with NumPy broadcasting."""
    return DivOp.apply(a, b)


def neg(a: Operand) -> Tensor:
    """−a."""
    return NegOp.apply(a)


def pow(a: Operand, b: Operand) -> Tensor:
    """a raised to the power b, element-wise."""
    return PowOp.apply(a, b)


def exp(a: Operand) -> Tensor:
    """e^a, element-wise."""
    return ExpOp.apply(a)


def square(a: Operand) -> Tensor:
    """a², element-wise: ``a * a``, so the gradient is 2a (``torch.square``,
    ``keras.ops.square``)."""
    return MulOp.apply(a, a)


def not_equal(a: Operand, b: Operand) -> Tensor:
    """Whether a and b differ, element-wise (broadcast): a bool tensor with no gradient, as
    ``a != b`` gives (``torch.not_equal``, ``keras.ops.not_equal``; masks such as "not
    padding"). An op, so that a replayed step compares each batch's own values."""
    return _step(NotEqualOp, a, b)


def log(a: Operand) -> Tensor:
    """Natural logarithm, element-wise (−inf at 0: clip first if zeros can occur)."""
    return LogOp.apply(a)


def sqrt(a: Operand) -> Tensor:
    """Square root, element-wise."""
    return SqrtOp.apply(a)


def abs(a: Operand) -> Tensor:
    """|a|, element-wise."""
    return AbsOp.apply(a)


def clip(a: Operand, min: float | None = None, max: float | None = None) -> Tensor:
    """Clamp ``a`` into [min, max] (PyTorch's ``clamp``); either bound may be None."""
    if min is None and max is None:
        raise ValueError("clip: give at least one of min and max. Received min=None, max=None.")
    if min is not None and max is not None and min > max:
        raise ValueError(f"clip: min must not exceed max. Received min={min}, max={max}.")
    return ClipOp.apply(a, low=min, high=max)


def maximum(a: Operand, b: Operand) -> Tensor:
    """Element-wise maximum of two tensors (broadcasting)."""
    return MaximumOp.apply(a, b)


def minimum(a: Operand, b: Operand) -> Tensor:
    """Element-wise minimum of two tensors (broadcasting)."""
    return MinimumOp.apply(a, b)


def where(condition: Operand, a: Operand, b: Operand) -> Tensor:
    """``a`` where ``condition`` is true, else ``b`` (NumPy's where, differentiable in a and b).
    A condition tensor made by ops (a mask) is an input of the op, so a replayed step
    recomputes it from each batch."""
    if not isinstance(a, Tensor) and not isinstance(b, Tensor):
        a, b = as_array(a), as_array(b)  # no tensor to take a dtype from: each keeps its own
    return WhereOp.apply(a, b, condition)


def _step(op: type[Function], *inputs: Operand, **attrs: Any) -> Tensor:
    """``op`` applied with no graph: its output is piecewise constant, so it has no gradient
    (and a bool or integer tensor cannot carry one)."""
    with no_grad():
        return op.apply(*inputs, **attrs)


def equal(a: Operand, b: Operand) -> Tensor:
    """a == b element-wise, with NumPy broadcasting: a bool tensor (no gradient)."""
    return _step(EqualOp, a, b)


def greater_equal(a: Operand, b: Operand) -> Tensor:
    """a >= b element-wise, with NumPy broadcasting: a bool tensor (no gradient)."""
    return _step(GreaterEqualOp, a, b)


def logical_and(a: Operand, b: Operand) -> Tensor:
    """a AND b element-wise (non-zero is true), with NumPy broadcasting: bool, no gradient."""
    return _step(LogicalAndOp, a, b)


def logical_or(a: Operand, b: Operand) -> Tensor:
    """a OR b element-wise (non-zero is true), with NumPy broadcasting: bool, no gradient."""
    return _step(LogicalOrOp, a, b)


def logical_not(a: Operand) -> Tensor:
    """NOT a element-wise (non-zero is true): a bool tensor (no gradient)."""
    return _step(LogicalNotOp, a)


def cast(a: Operand, dtype: Any) -> Tensor:
    """``a`` converted to ``dtype`` (ONNX's Cast, NumPy's astype) by an op, so a replayed step
    converts each batch. Between floating dtypes the gradient flows back (converted to
    ``a``'s dtype); a cast from or to bool or integers is a step and has none.

    Raises:
        TypeError: naming ``dtype`` when NumPy does not know it.
    """
    try:
        target = np.dtype(dtype)
    except TypeError as err:
        raise TypeError(f"cast: {dtype!r} is not a dtype. Use e.g. 'float32' or 'int64'.") from err
    source = a.dtype if isinstance(a, Tensor) else as_array(a).dtype
    if is_float(source) and is_float(target):
        return CastOp.apply(a, dtype=target.name)
    return _step(CastOp, a, dtype=target.name)
