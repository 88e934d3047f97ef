"""Ops that move numbers around without changing them: reshape, transpose, indexing, concat, pad.

Their backward passes move the gradient back to where each number came from: reshape the
gradient back, transpose it with the inverse permutation, scatter it into the indexed positions,
split it between the concatenated inputs, or cut the padding off.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from glassnet.autograd import Context, Function
from glassnet.backend import get_array_module
from glassnet.tensor import Tensor


class ReshapeOp(Function):
    @staticmethod
    def forward(ctx: Context, a: Any, *, shape: tuple[int, ...]) -> Any:
        ctx.shape = a.shape
        return a.reshape(shape)

    @staticmethod
    def backward(ctx: Context, grad: Any) -> Any:
        return grad.reshape(ctx.shape)


class TransposeOp(Function):
    @staticmethod
    def forward(ctx: Context, a: Any, *, axes: tuple[int, ...]) -> Any:
        ctx.axes = axes
        return a.transpose(axes)

    @staticmethod
    def backward(ctx: Context, grad: Any) -> Any:
        xp = get_array_module(grad)
        return grad.transpose(xp.argsort(xp.asarray(ctx.axes)).tolist())


class GetItemOp(Function):
    """``a[index]``. Basic slices scatter back by assignment; integer-array (advanced) indices may
    pick an element twice, so their gradients are summed with ``add.at``."""

    @staticmethod
    def forward(ctx: Context, a: Any, *, index: Any) -> Any:
        ctx.shape, ctx.dtype, ctx.index = a.shape, a.dtype, index
        return a[index]

    @staticmethod
    def backward(ctx: Context, grad: Any) -> Any:
        xp = get_array_module(grad)
        out = xp.zeros(ctx.shape, dtype=grad.dtype)
        if _is_advanced(ctx.index):
            xp.add.at(out, ctx.index, grad)
        else:
            out[ctx.index] = grad
        return out


class EmbeddingLookupOp(Function):
    """Rows of ``table`` picked by integer ids: table[ids]. The ids are an input, not an
    attribute, so a replayed step looks up each batch's own tokens; float ids (as ``fit``
    passes them) are cast to integers here. Backward: each row's gradient is the sum over
    the positions where its id appears (``add.at``). table: (vocabulary, dim); ids: any
    shape; output: (*ids.shape, dim)."""

    @staticmethod
    def forward(ctx: Context, table: Any, ids: Any) -> Any:
        index = ids if ids.dtype.kind in "iu" else ids.astype(np.int64)
        ctx.shape, ctx.index = table.shape, index
        return table[index]

    @staticmethod
    def backward(ctx: Context, grad: Any) -> tuple[Any, None]:
        xp = get_array_module(grad)
        out = xp.zeros(ctx.shape, dtype=grad.dtype)
        xp.add.at(out, ctx.index, grad)
        return out, None


def _is_advanced(index: Any) -> bool:
    items = index if isinstance(index, tuple) else (index,)
    return any(not isinstance(i, (int, slice, type(None), type(Ellipsis))) for i in items)


class ConcatOp(Function):
    @staticmethod
    def forward(ctx: Context, *arrays: Any, axis: int) -> Any:
        xp = get_array_module(*arrays)
        ctx.axis = axis
        ctx.sizes = [a.shape[axis] for a in arrays]
        return xp.concatenate(arrays, axis=axis)

    @staticmethod
    def backward(ctx: Context, grad: Any) -> tuple[Any, ...]:
        xp = get_array_module(grad)
        bounds = list(xp.cumsum(xp.asarray(ctx.sizes))[:-1].tolist())
        return tuple(xp.split(grad, bounds, axis=ctx.axis))


class StackOp(Function):
    @staticmethod
    def forward(ctx: Context, *arrays: Any, axis: int) -> Any:
        xp = get_array_module(*arrays)
        ctx.axis = axis
        return xp.stack(arrays, axis=axis)

    @staticmethod
    def backward(ctx: Context, grad: Any) -> tuple[Any, ...]:
        xp = get_array_module(grad)
        return tuple(xp.moveaxis(grad, ctx.axis, 0))


class PadOp(Function):
    @staticmethod
    def forward(
        ctx: Context, a: Any, *, pad_width: tuple[tuple[int, int], ...], value: float
    ) -> Any:
        xp = get_array_module(a)
        ctx.slices = tuple(slice(lo, lo + n) for (lo, _), n in zip(pad_width, a.shape, strict=True))
        return xp.pad(a, pad_width, mode="constant", constant_values=value)

    @staticmethod
    def backward(ctx: Context, grad: Any) -> Any:
        return grad[ctx.slices]


class BroadcastToOp(Function):
    @staticmethod
    def forward(ctx: Context, a: Any, *, shape: tuple[int, ...]) -> Any:
        xp = get_array_module(a)
        return xp.broadcast_to(a, shape)

    @staticmethod
    def backward(ctx: Context, grad: Any) -> Any:
        return grad  # the engine's unbroadcast sums it back to the input's shape


# ------------------------------------------------------------------ functional API
def _as_tensor(a: Any) -> Tensor:
    return a if isinstance(a, Tensor) else Tensor(a)


def reshape(a: Tensor, *shape: Any) -> Tensor:
    """The same numbers in a new shape (one axis may be -1: inferred). Accepts
    ``reshape(x, (2, 3))`` or ``reshape(x, 2, 3)``."""
    a = _as_tensor(a)
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    shape = tuple(int(n) for n in shape)
    known = math.prod(n for n in shape if n != -1)
    fits = a.size == known if -1 not in shape else (known and a.size % known == 0)
    if shape.count(-1) > 1 or not fits:
        raise ValueError(
            f"reshape: cannot reshape a tensor of shape {a.shape} ({a.size} elements) into "
            f"{shape}. The new shape must hold exactly {a.size} elements (at most one -1)."
        )
    return ReshapeOp.apply(a, shape=shape)


def transpose(a: Tensor, *axes: Any) -> Tensor:
    """Permute axes (NumPy's meaning: no axes reverses them; ``transpose(x, 0, 2, 1)``)."""
    a = _as_tensor(a)
    if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
        axes = tuple(axes[0])
    if not axes:
        axes = tuple(reversed(range(a.ndim)))
    if sorted(ax % a.ndim for ax in axes) != list(range(a.ndim)):
        raise ValueError(
            f"transpose: axes {axes} are not a permutation of the {a.ndim} axes of a tensor "
            f"of shape {a.shape}."
        )
    return TransposeOp.apply(a, axes=tuple(ax % a.ndim for ax in axes))


def flatten(a: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    """Merge axes ``start_dim``..``end_dim`` into one (PyTorch's meaning; the Flatten layer
    uses ``start_dim=1`` to keep the batch axis)."""
    a = _as_tensor(a)
    if a.ndim == 0:
        return reshape(a, 1)
    start, end = start_dim % a.ndim, end_dim % a.ndim
    if start > end:
        raise ValueError(f"flatten: start_dim={start_dim} comes after end_dim={end_dim}.")
    shape = (*a.shape[:start], math.prod(a.shape[start : end + 1]), *a.shape[end + 1 :])
    return ReshapeOp.apply(a, shape=shape)


def getitem(a: Tensor, index: Any) -> Tensor:
    """``a[index]`` with NumPy's basic and advanced indexing; differentiable."""
    if isinstance(index, Tensor):
        index = index.data
    elif isinstance(index, tuple):
        index = tuple(i.data if isinstance(i, Tensor) else i for i in index)
    elif isinstance(index, list):
        index = get_array_module(a.data).asarray(index)
    return GetItemOp.apply(a, index=index)


def embedding_lookup(table: Tensor, ids: Tensor) -> Tensor:
    """Rows of ``table`` (vocabulary, dim) for integer ``ids`` of any shape: (*ids, dim).
    Differentiable in the table (Keras's ``Embedding``)."""
    return EmbeddingLookupOp.apply(table, ids)


def concat(tensors: Sequence[Tensor], axis: int = 0) -> Tensor:
    """Join tensors along an existing axis (Keras's ``Concatenate``, NumPy's ``concatenate``)."""
    tensors = [_as_tensor(t) for t in tensors]
    if not tensors:
        raise ValueError("concat: need at least one tensor.")
    ndim = tensors[0].ndim
    if ndim == 0:
        raise ValueError("concat: zero-dimensional tensors cannot be concatenated; use stack.")
    ax = axis % ndim
    for t in tensors:
        if t.ndim != ndim or any(
            n != m
            for i, (n, m) in enumerate(zip(t.shape, tensors[0].shape, strict=True))
            if i != ax
        ):
            shapes = [t.shape for t in tensors]
            raise ValueError(
                f"concat: all shapes must match except along axis {axis}. Received {shapes}."
            )
    return ConcatOp.apply(*tensors, axis=ax)


def stack(tensors: Sequence[Tensor], axis: int = 0) -> Tensor:
    """Join same-shaped tensors along a new axis."""
    tensors = [_as_tensor(t) for t in tensors]
    if not tensors or any(t.shape != tensors[0].shape for t in tensors):
        raise ValueError(
            f"stack: need one or more tensors of one shape. Received {[t.shape for t in tensors]}."
        )
    return StackOp.apply(*tensors, axis=axis % (tensors[0].ndim + 1))


def pad(a: Tensor, pad_width: Any, value: float = 0.0) -> Tensor:
    """Pad with a constant, NumPy style: ``pad_width`` is an int, a (before, after) pair, or
    one pair per axis. Example: ``pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))`` pads H and W."""
    a = _as_tensor(a)
    if isinstance(pad_width, int):
        widths = ((pad_width, pad_width),) * a.ndim
    else:
        pw = tuple(tuple(p) if isinstance(p, (tuple, list)) else p for p in pad_width)
        if len(pw) == 2 and all(isinstance(p, int) for p in pw):
            widths = (pw,) * a.ndim
        else:
            widths = pw
    if len(widths) != a.ndim or any(len(p) != 2 or min(p) < 0 for p in widths):
        raise ValueError(
            f"pad: pad_width must give a non-negative (before, after) pair for each of the "
            f"{a.ndim} axes of shape {a.shape}. Received pad_width={pad_width}."
        )
    widths = tuple((int(lo), int(hi)) for lo, hi in widths)
    return PadOp.apply(a, pad_width=widths, value=value)


def broadcast_to(a: Tensor, shape: Sequence[int]) -> Tensor:
    """View ``a`` as a larger shape by NumPy broadcasting; gradients are summed back."""
    a = _as_tensor(a)
    return BroadcastToOp.apply(a, shape=tuple(shape))


def squeeze(a: Tensor, axis: int | None = None) -> Tensor:
    """Remove length-1 axes (all of them, or just ``axis``)."""
    a = _as_tensor(a)
    if axis is None:
        shape = tuple(n for n in a.shape if n != 1)
    else:
        if a.shape[axis] != 1:
            raise ValueError(f"squeeze: axis {axis} of shape {a.shape} has length != 1.")
        shape = a.shape[: axis % a.ndim] + a.shape[axis % a.ndim + 1 :]
    return ReshapeOp.apply(a, shape=shape)


def expand_dims(a: Tensor, axis: int) -> Tensor:
    """Insert a length-1 axis at ``axis`` (PyTorch's ``unsqueeze``)."""
    a = _as_tensor(a)
    ax = axis % (a.ndim + 1)
    return ReshapeOp.apply(a, shape=(*a.shape[:ax], 1, *a.shape[ax:]))
