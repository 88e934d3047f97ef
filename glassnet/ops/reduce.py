"""Reductions over axes: sum, mean, max, min (``axis`` and ``keepdims`` as in NumPy).

The backward pass spreads the incoming gradient back over the reduced axes: every element of a
sum gets the whole gradient, of a mean 1/n of it, and of a max only the elements that were the
maximum (split equally between ties, like PyTorch's ``amax``).
"""

from __future__ import annotations

import builtins
from typing import Any, ClassVar

from glassnet.autograd import Context, Function
from glassnet.backend import get_array_module
from glassnet.tensor import Tensor

Axis = int | tuple[int, ...] | None


def _normalize_axis(axis: Axis, ndim: int, op: str) -> tuple[int, ...]:
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    out = []
    for a in axes:
        if not -ndim <= a < builtins.max(ndim, 1):
            raise ValueError(
                f"{op}: axis {a} is out of range for a tensor with {ndim} axes. "
                f"Use an axis in [{-ndim}, {ndim - 1}]."
            )
        out.append(a % ndim if ndim else 0)
    if len(set(out)) != len(out):
        raise ValueError(f"{op}: repeated axis in axis={axis}.")
    return tuple(sorted(out))


def _expand(grad: Any, axes: tuple[int, ...], keepdims: bool) -> Any:
    """Put the reduced axes back as length-1 axes so ``grad`` broadcasts over the input."""
    if keepdims:
        return grad
    xp = get_array_module(grad)
    return xp.expand_dims(grad, axes) if axes else grad


class SumOp(Function):
    @staticmethod
    def forward(ctx: Context, a: Any, *, axes: tuple[int, ...], keepdims: bool) -> Any:
        ctx.shape, ctx.axes, ctx.keepdims = a.shape, axes, keepdims
        return a.sum(axis=axes, keepdims=keepdims)

    @staticmethod
    def backward(ctx: Context, grad: Any) -> Any:
        xp = get_array_module(grad)
        return xp.broadcast_to(_expand(grad, ctx.axes, ctx.keepdims), ctx.shape)


class MeanOp(Function):
    @staticmethod
    def forward(ctx: Context, a: Any, *, axes: tuple[int, ...], keepdims: bool) -> Any:
        ctx.shape, ctx.axes, ctx.keepdims = a.shape, axes, keepdims
        count = 1
        for ax in axes:
            count *= a.shape[ax]
        ctx.count = count
        return a.mean(axis=axes, keepdims=keepdims)

    @staticmethod
    def backward(ctx: Context, grad: Any) -> Any:
        xp = get_array_module(grad)
        g = _expand(grad, ctx.axes, ctx.keepdims) / grad.dtype.type(ctx.count)
        return xp.broadcast_to(g, ctx.shape)


class _ExtremumOp(Function):
    """Max and min (the ndarray method ``reduce``): the gradient goes to the winners, split
    among ties."""

    reduce: ClassVar[str]

    @staticmethod
    def forward(ctx: Context, a: Any, *, axes: tuple[int, ...], keepdims: bool) -> Any:
        out = getattr(a, ctx.fn.reduce)(axis=axes, keepdims=keepdims)
        ctx.axes, ctx.keepdims = axes, keepdims
        ctx.save_for_backward(a, out)
        return out

    @staticmethod
    def backward(ctx: Context, grad: Any) -> Any:
        (a, out) = ctx.saved
        mask = a == _expand(out, ctx.axes, ctx.keepdims)
        mask = mask.astype(grad.dtype)
        mask /= mask.sum(axis=ctx.axes, keepdims=True)
        return _expand(grad, ctx.axes, ctx.keepdims) * mask


class MaxOp(_ExtremumOp):
    reduce = "max"


class MinOp(_ExtremumOp):
    reduce = "min"


def _reduce(op: type[Function], name: str, a: Any, axis: Axis, keepdims: bool) -> Tensor:
    if not isinstance(a, Tensor):
        a = Tensor(a)
    axes = _normalize_axis(axis, a.ndim, name)
    if op in (MaxOp, MinOp) and any(a.shape[ax] == 0 for ax in axes):
        raise ValueError(f"{name}: cannot reduce an empty axis (input shape {a.shape}).")
    return op.apply(a, axes=axes, keepdims=keepdims)


def sum(a: Tensor, axis: Axis = None, keepdims: bool = False) -> Tensor:
    """Sum over ``axis`` (all axes when None)."""
    return _reduce(SumOp, "sum", a, axis, keepdims)


def mean(a: Tensor, axis: Axis = None, keepdims: bool = False) -> Tensor:
    """Arithmetic mean over ``axis`` (all axes when None)."""
    return _reduce(MeanOp, "mean", a, axis, keepdims)


def max(a: Tensor, axis: Axis = None, keepdims: bool = False) -> Tensor:
    """Largest value over ``axis``; ties share the gradient equally."""
    return _reduce(MaxOp, "max", a, axis, keepdims)


def min(a: Tensor, axis: Axis = None, keepdims: bool = False) -> Tensor:
    """Smallest value over ``axis``; ties share the gradient equally."""
    return _reduce(MinOp, "min", a, axis, keepdims)
