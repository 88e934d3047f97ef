"""Pooling: shrink a feature map by summarising each small window with its maximum or its mean.

A 2×2 max pool with stride 2 keeps the strongest response in every 2×2 block, halving height
and width: the network becomes cheaper and tolerant to small shifts. Each op loops over the
pool_h·pool_w *offsets* of the window (not over pixels): offset (i, j) is one strided view of
the image holding that tap of every window at once, so the work is a handful of vectorised
array operations. When the windows tile the image exactly (the common 2×2, stride 2 case) the
image is reshaped to (N, H/2, 2, W/2, 2, C) instead, so backward fills each gradient cell once,
with no padding and no zeroed buffer.

Every op here takes any number of spatial axes: volumes (N, D, H, W, C) pool over
pool_d·pool_h·pool_w offsets the same way (``max_pool3d``, ...).
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Sequence
from typing import Any

from glassnet.autograd import Context, Function
from glassnet.backend import copy_by_pixel, get_array_module
from glassnet.checks import check_int_tuple, check_padding
from glassnet.ops.conv import (
    check_image,
    crop_images,
    output_sizes,
    pad_images,
    resolve_padding,
    tap_index,
)
from glassnet.tensor import Tensor

__all__ = [
    "avg_pool2d",
    "avg_pool3d",
    "global_avg_pool2d",
    "global_avg_pool3d",
    "global_max_pool2d",
    "global_max_pool3d",
    "max_pool2d",
    "max_pool3d",
    "pool_output_shape",
]

Sizes = tuple[int, ...]  # one number per spatial axis: (h, w) for images, (d, h, w) volumes


def _tiles(shape: tuple[int, ...], pool: Sizes, stride: Sizes, pads: Any) -> bool:
    """Whether the windows cut the image into whole, non-overlapping blocks."""
    return (
        stride == pool
        and not any(before or after for before, after in pads)
        and all(size % p == 0 for size, p in zip(shape[1:-1], pool, strict=True))
    )


def _blocks(a: Any, pool: Sizes, out: Sizes) -> Any:
    """A tiled image (N, Ho·ph, Wo·pw, C) as (N, Ho, ph, Wo, pw, C): each window a block (a
    view where ``a`` is contiguous); a volume likewise with (Do, pd) first."""
    sizes = [v for o, p in zip(out, pool, strict=True) for v in (o, p)]
    return a.reshape(a.shape[0], *sizes, a.shape[-1])


def _taps(pool: Sizes) -> list[tuple[int, ...]]:
    """The offsets of a window, in row-major order: (0, 0), (0, 1), ... for a 2-D window."""
    return list(itertools.product(*(range(p) for p in pool)))


def _window_views(a: Any, pool: Sizes, stride: Sizes, out_hw: Sizes, tiled: bool) -> list[Any]:
    """One (N, Ho, Wo, C) view of ``a`` per window offset, in row-major window order.

    View k = i·pool_w + j holds tap (i, j) of every window. Writing into a view writes into ``a``
    (for the tiled reshape only when ``a`` is contiguous, which gradient buffers are).
    """
    if tiled:
        blocks = _blocks(a, pool, out_hw)
        return [
            blocks[(slice(None), *(v for i in tap for v in (slice(None), i)))]
            for tap in _taps(pool)
        ]
    return [a[tap_index(tap, stride, out_hw)] for tap in _taps(pool)]


def _tap_planes_view(a: Any, pool: Sizes, out_hw: Sizes) -> Any:
    """A tiled image (N, Ho·ph, Wo·pw, C) seen as (ph, pw, N, Ho, Wo, C): tap (i, j) of every
    window as one plane (a view, not a copy); a volume as (pd, ph, pw, N, Do, Ho, Wo, C)."""
    rank = len(pool)
    order = (*range(2, 2 * rank + 1, 2), 0, *range(1, 2 * rank, 2), 2 * rank + 1)
    return _blocks(a, pool, out_hw).transpose(order)


def _tap_planes(x: Any, pool: Sizes, out_hw: Sizes) -> list[Any]:
    """The taps of a tiled image copied into contiguous (N, Ho, Wo, C) planes, one per tap in
    row-major window order. One strided copy; the comparisons that follow then run over
    contiguous memory instead of C numbers at a time."""
    xp = get_array_module(x)
    view = _tap_planes_view(x, pool, out_hw)
    planes = xp.empty(view.shape, dtype=x.dtype)
    copy_by_pixel(planes, view)
    flat = planes.reshape(math.prod(pool), *view.shape[len(pool) :])  # not -1: N may be 0
    return [flat[k] for k in range(flat.shape[0])]


def _index_dtype(xp: Any, taps: int) -> Any:
    """The smallest unsigned dtype that numbers every tap (uint8 up to 16×16 windows)."""
    return xp.uint8 if taps <= 256 else xp.uint16 if taps <= 65536 else xp.uint32


class MaxPoolOp(Function):
    """The largest value in each window. x (N, H, W, C) -> (N, Ho, Wo, C); a volume
    (N, D, H, W, C) -> (N, Do, Ho, Wo, C) the same way.

    Subgradient convention: the whole gradient of a window goes to its FIRST maximum in
    row-major window order (top row first, left to right), as in PyTorch; tied values get none.
    Forward saves that argmax as a small-integer array of the output's shape (uint8 for windows
    up to 16×16); "same" padding is -inf, so a padded cell never wins.
    """

    @staticmethod
    def forward(ctx: Context, x: Any, *, pool: Sizes, stride: Sizes, pads: Any) -> Any:
        xp = get_array_module(x)
        tiled = _tiles(x.shape, pool, stride, pads)
        if tiled and pool == (2, 2) and x.flags.c_contiguous and not ctx.needs_input_grad[0]:
            return _max_pool_2x2(x)  # inference: no argmax to keep
        xpad = x if tiled else pad_images(x, pads, -xp.inf)
        out_hw = _windows_out(xpad.shape, pool, stride)
        track = ctx.needs_input_grad[0]
        if tiled and track and x.flags.c_contiguous:
            views = _tap_planes(x, pool, out_hw)
        else:
            views = _window_views(xpad, pool, stride, out_hw, tiled)
        out = views[0].copy()
        idx = xp.zeros(out.shape, _index_dtype(xp, len(views))) if track else None
        better = xp.empty(out.shape, dtype=bool) if track else None
        for k, view in enumerate(views[1:], start=1):
            if track:
                # The winner is the LAST tap strictly above the running max, i.e. the largest
                # k with view_k > max(view_0..k-1): idx = max_k k·[view_k > running max],
                # which keeps the first of equal maxima without masked assignment.
                xp.greater(view, out, out=better)
                xp.maximum(idx, xp.multiply(better, idx.dtype.type(k), dtype=idx.dtype), out=idx)
            xp.maximum(out, view, out=out)
        ctx.save_for_backward(idx)
        ctx.x_shape, ctx.padded_shape, ctx.tiled = x.shape, xpad.shape, tiled
        ctx.pool, ctx.stride, ctx.pads, ctx.out_hw = pool, stride, pads, out_hw
        return out

    @staticmethod
    def backward(ctx: Context, grad: Any) -> Any:
        (idx,) = ctx.saved
        xp = get_array_module(grad)
        taken = xp.empty(idx.shape, dtype=bool)
        if ctx.tiled:  # every input cell is in exactly one window: assign, no zeros, no crop
            # Each tap's gradient into its own contiguous plane, then one strided copy into
            # place (not C numbers at a time, once per tap).
            planes = xp.empty((math.prod(ctx.pool), *idx.shape), dtype=grad.dtype)
            for k in range(planes.shape[0]):
                xp.multiply(grad, xp.equal(idx, k, out=taken), out=planes[k])
            gx = xp.empty(ctx.x_shape, dtype=grad.dtype)
            copy_by_pixel(
                _tap_planes_view(gx, ctx.pool, ctx.out_hw), planes.reshape(*ctx.pool, *idx.shape)
            )
            return gx
        gpad = xp.zeros(ctx.padded_shape, dtype=grad.dtype)
        for k, view in enumerate(_window_views(gpad, ctx.pool, ctx.stride, ctx.out_hw, False)):
            view += grad * xp.equal(idx, k, out=taken)
        return crop_images(gpad, ctx.pads, ctx.x_shape[1:-1])


def _max_pool_2x2(x: Any) -> Any:
    """2×2 max pool with stride 2 when no gradient is wanted, in two rounds: top row against
    bottom row, then left column against right. Viewed as (N, H/2, 2, W·C), the first round
    compares whole image rows — long runs of numbers — where the four (N, H/2, W/2, C) window
    views step C numbers at a time. Training keeps the general path, whose argmax bookkeeping
    is cheaper over the four views than over pairs.
    """
    xp = get_array_module(x)
    n, h, w, c = x.shape
    rows = x.reshape(n, h // 2, 2, w // 2, 2, c)
    column_max = xp.maximum(rows[:, :, 0], rows[:, :, 1])  # (N, H/2, W/2, 2, C)
    return xp.maximum(column_max[..., 0, :], column_max[..., 1, :])


class AvgPoolOp(Function):
    """The mean of each window. x (N, H, W, C) -> (N, Ho, Wo, C); a volume (N, D, H, W, C)
    -> (N, Do, Ho, Wo, C) the same way.

    With "same" padding the mean is over the real (unpadded) cells only, as in Keras/TensorFlow
    (PyTorch's ``count_include_pad=False``), so border outputs are not dragged towards zero.
    Backward spreads grad / count evenly over each window; nothing of the input's size is saved.
    """

    @staticmethod
    def forward(ctx: Context, x: Any, *, pool: Sizes, stride: Sizes, pads: Any) -> Any:
        tiled = _tiles(x.shape, pool, stride, pads)
        xpad = x if tiled else pad_images(x, pads)
        out_hw = _windows_out(xpad.shape, pool, stride)
        views = _window_views(xpad, pool, stride, out_hw, tiled)
        out = views[0].copy()
        for view in views[1:]:
            out += view
        count = _cell_counts(x, pool, stride, pads, out_hw)
        out /= count
        ctx.count, ctx.x_shape, ctx.padded_shape, ctx.tiled = count, x.shape, xpad.shape, tiled
        ctx.pool, ctx.stride, ctx.pads, ctx.out_hw = pool, stride, pads, out_hw
        return out

    @staticmethod
    def backward(ctx: Context, grad: Any) -> Any:
        xp = get_array_module(grad)
        g = grad / ctx.count
        if ctx.tiled:  # one broadcast assignment fills every cell of every block
            gx = xp.empty(ctx.x_shape, dtype=grad.dtype)
            spread = (slice(None), *(v for _ in ctx.pool for v in (slice(None), None)))
            _blocks(gx, ctx.pool, ctx.out_hw)[...] = g[(*spread, slice(None))]
            return gx
        gpad = xp.zeros(ctx.padded_shape, dtype=grad.dtype)
        for view in _window_views(gpad, ctx.pool, ctx.stride, ctx.out_hw, False):
            view += g
        return crop_images(gpad, ctx.pads, ctx.x_shape[1:-1])


def _windows_out(padded_shape: tuple[int, ...], pool: Sizes, stride: Sizes) -> Sizes:
    """The number of windows along each spatial axis of a padded image."""
    return tuple(
        (size - p) // s + 1 for size, p, s in zip(padded_shape[1:-1], pool, stride, strict=True)
    )


def _cell_counts(x: Any, pool: Sizes, stride: Sizes, pads: Any, out_hw: Sizes) -> Any:
    """How many real cells each window covers: a number without padding, else (Ho, Wo, 1)
    ((Do, Ho, Wo, 1) for volumes).

    The count is separable — rows covered times columns covered — so 1-D ranges suffice.
    """
    dtype = x.dtype.type
    if not any(before or after for before, after in pads):
        return dtype(math.prod(pool))
    xp = get_array_module(x)
    rank = len(pool)
    count = xp.ones((1,) * rank, dtype=x.dtype)
    for axis in range(rank):
        start = xp.arange(out_hw[axis]) * stride[axis] - pads[axis][0]
        end = xp.minimum(start + pool[axis], x.shape[1 + axis])
        covered = (end - xp.maximum(start, 0)).astype(x.dtype)
        count = count * covered.reshape([-1 if a == axis else 1 for a in range(rank)])
    return count[..., None]


class GlobalAvgPoolOp(Function):
    """Mean over height and width. x (N, H, W, C) -> (N, C), or (N, 1, 1, C) with keepdims; a
    volume (N, D, H, W, C) over depth too."""

    @staticmethod
    def forward(ctx: Context, x: Any, *, keepdims: bool) -> Any:
        ctx.x_shape = x.shape
        return x.mean(axis=tuple(range(1, x.ndim - 1)), keepdims=keepdims)

    @staticmethod
    def backward(ctx: Context, grad: Any) -> Any:
        xp = get_array_module(grad)
        n, *sizes, c = ctx.x_shape
        g = grad.reshape(n, *(1 for _ in sizes), c) / grad.dtype.type(math.prod(sizes))
        return xp.broadcast_to(g, ctx.x_shape)  # read-only view: the engine copies if it stores


class GlobalMaxPoolOp(Function):
    """Maximum over height and width. x (N, H, W, C) -> (N, C), or (N, 1, 1, C) with keepdims;
    a volume (N, D, H, W, C) over depth too.

    The gradient goes to the first maximum in row-major (h, w) order, like ``max_pool2d``.
    """

    @staticmethod
    def forward(ctx: Context, x: Any, *, keepdims: bool) -> Any:
        xp = get_array_module(x)
        n, *sizes, c = x.shape
        x3 = x.reshape(n, math.prod(sizes), c)
        idx = x3.argmax(axis=1)  # argmax returns the first maximum
        out = xp.take_along_axis(x3, idx[:, None, :], axis=1)
        ctx.save_for_backward(idx)
        ctx.x_shape = x.shape
        return out.reshape((n, *(1 for _ in sizes), c) if keepdims else (n, c))

    @staticmethod
    def backward(ctx: Context, grad: Any) -> Any:
        (idx,) = ctx.saved
        xp = get_array_module(grad)
        n, *sizes, c = ctx.x_shape
        gx = xp.zeros((n, math.prod(sizes), c), dtype=grad.dtype)
        # Each (n, c) has exactly one winner, so plain assignment scatters without collisions.
        gx[xp.arange(n)[:, None], idx, xp.arange(c)[None, :]] = grad.reshape(n, c)
        return gx.reshape(ctx.x_shape)


# ------------------------------------------------------------------ functional API
def _pool_args(
    where: str, input_shape: Any, pool_size: Any, stride: Any, padding: Any, rank: int
) -> tuple[Sizes, Sizes, str, tuple[int | None, ...]]:
    """Checked (pool, stride, mode, output sizes) for an (N, *spatial, C) or a spatial shape of
    ``rank`` axes; raises if the window does not fit."""
    pool = check_int_tuple(where, "pool_size", pool_size, rank)
    step = pool if stride is None else check_int_tuple(where, "stride", stride, rank)
    mode = check_padding(where, padding, allow_explicit=False)
    shape = tuple(input_shape)
    hw, full = (shape[1:-1], shape) if len(shape) == rank + 2 else (shape, None)
    return pool, step, mode, output_sizes(where, hw, pool, step, mode, (1,) * rank, full)


def _pool(
    op: type[Function],
    where: str,
    x: Any,
    pool_size: Any,
    stride: Any,
    padding: Any,
    rank: int = 2,
) -> Tensor:
    check_image(x, where, rank)
    args = (where, tuple(x.shape), pool_size, stride, padding)
    try:
        pool, step, pads = _pool_plan(*args)
    except TypeError as err:  # unhashable arguments (a list): check them without the cache
        if "unhashable" not in str(err):
            raise
        pool, step, pads = _pool_plan.__wrapped__(*args)
    return op.apply(x, pool=pool, stride=step, pads=pads)


@functools.lru_cache(maxsize=512)
def _pool_plan(where: str, shape: tuple, pool_size: Any, stride: Any, padding: Any) -> tuple:
    """Checked window, stride and resolved padding for one input shape, computed once per shape
    (a layer pools the same shape every batch)."""
    rank = len(shape) - 2
    pool, step, mode, _ = _pool_args(where, shape, pool_size, stride, padding, rank)
    pads = resolve_padding(shape[1:-1], pool, step, mode, 1)  # TensorFlow's "same", as conv2d
    return pool, step, pads


def pool_output_shape(
    input_hw: Sequence[int | None],
    pool_size: int | Sequence[int],
    stride: int | Sequence[int] | None = None,
    padding: str = "valid",
) -> tuple[int | None, ...]:
    """The (height, width) a pooling op produces — (depth, height, width) for a volume's
    (D, H, W) — by arithmetic alone (None stays None).

    "valid": floor((H − pool) / stride) + 1; "same": ceil(H / stride). ``stride`` defaults to
    ``pool_size``. Raises ``ValueError`` if the window does not fit.
    """
    rank = len(input_hw)
    return _pool_args(f"pool{rank}d", input_hw, pool_size, stride, padding, rank)[3]


def max_pool2d(
    x: Tensor,
    pool_size: int | tuple[int, int] = 2,
    stride: int | tuple[int, int] | None = None,
    padding: str = "valid",
) -> Tensor:
    """Keep the largest value of each pool_size window, moving ``stride`` (default: pool_size).

    The gradient flows only to each window's first maximum (row-major order, as PyTorch).

    Shape: (N, H, W, C) -> (N, Ho, Wo, C), ``(Ho, Wo) = pool_output_shape((H, W), ...)``.
    """
    return _pool(MaxPoolOp, "max_pool2d", x, pool_size, stride, padding)


def avg_pool2d(
    x: Tensor,
    pool_size: int | tuple[int, int] = 2,
    stride: int | tuple[int, int] | None = None,
    padding: str = "valid",
) -> Tensor:
    """Average each pool_size window, moving ``stride`` (default: pool_size).

    With padding="same" the border windows average only their real cells (Keras semantics).

    Shape: (N, H, W, C) -> (N, Ho, Wo, C), ``(Ho, Wo) = pool_output_shape((H, W), ...)``.
    """
    return _pool(AvgPoolOp, "avg_pool2d", x, pool_size, stride, padding)


def max_pool3d(
    x: Tensor,
    pool_size: int | tuple[int, int, int] = 2,
    stride: int | tuple[int, int, int] | None = None,
    padding: str = "valid",
) -> Tensor:
    """``max_pool2d`` over volumes: the largest value of each pool_size (d, h, w) window,
    moving ``stride`` (default: pool_size); the gradient to each window's first maximum.

    Shape: (N, D, H, W, C) -> (N, Do, Ho, Wo, C),
    ``(Do, Ho, Wo) = pool_output_shape((D, H, W), ...)``.
    """
    return _pool(MaxPoolOp, "max_pool3d", x, pool_size, stride, padding, rank=3)


def avg_pool3d(
    x: Tensor,
    pool_size: int | tuple[int, int, int] = 2,
    stride: int | tuple[int, int, int] | None = None,
    padding: str = "valid",
) -> Tensor:
    """``avg_pool2d`` over volumes: the mean of each pool_size (d, h, w) window (with "same",
    over its real cells only, as Keras).

    Shape: (N, D, H, W, C) -> (N, Do, Ho, Wo, C),
    ``(Do, Ho, Wo) = pool_output_shape((D, H, W), ...)``.
    """
    return _pool(AvgPoolOp, "avg_pool3d", x, pool_size, stride, padding, rank=3)


def global_avg_pool2d(x: Tensor, keepdims: bool = False) -> Tensor:
    """Average every channel over the whole image: (N, H, W, C) -> (N, C) (or (N, 1, 1, C)).

    The usual bridge from convolutions to a classifier head (ResNet), with no weights at all.
    """
    check_image(x, "global_avg_pool2d")
    return GlobalAvgPoolOp.apply(x, keepdims=bool(keepdims))


def global_max_pool2d(x: Tensor, keepdims: bool = False) -> Tensor:
    """The maximum of every channel over the whole image: (N, H, W, C) -> (N, C) (or keepdims)."""
    return _global_max(x, keepdims, "global_max_pool2d", rank=2)


def global_avg_pool3d(x: Tensor, keepdims: bool = False) -> Tensor:
    """Average every channel over the whole volume: (N, D, H, W, C) -> (N, C) (or
    (N, 1, 1, 1, C) with keepdims)."""
    check_image(x, "global_avg_pool3d", rank=3)
    return GlobalAvgPoolOp.apply(x, keepdims=bool(keepdims))


def global_max_pool3d(x: Tensor, keepdims: bool = False) -> Tensor:
    """The maximum of every channel over the whole volume: (N, D, H, W, C) -> (N, C) (or
    (N, 1, 1, 1, C) with keepdims)."""
    return _global_max(x, keepdims, "global_max_pool3d", rank=3)


def _global_max(x: Tensor, keepdims: bool, where: str, rank: int) -> Tensor:
    check_image(x, where, rank)
    if math.prod(x.shape[1:-1]) == 0:
        sizes = "height and width" if rank == 2 else "depth, height and width"
        raise ValueError(
            f"{where}: the {'image' if rank == 2 else 'volume'} is empty. Expected {sizes} ≥ 1, "
            f"received shape {tuple(x.shape)}. Check the preceding layers' output size."
        )
    return GlobalMaxPoolOp.apply(x, keepdims=bool(keepdims))
