"""Upsampling: make an image larger by a whole factor per axis, with no weights.

Nearest: every pixel becomes an sh×sw block of copies of itself, so (N, H, W, C) becomes
(N, H·sh, W·sw, C) (a volume (N, D, H, W, C) likewise, with sd×sh×sw blocks). The backward
pass adds up the gradient of each block: the one pixel that was copied receives the sum of the
gradients of its copies.

Bilinear: output pixel (i, j) shows the input at the point (y, x) with *half-pixel centres*,
the convention of TensorFlow's ``resize`` (Keras 3's ``UpSampling2D(interpolation=
"bilinear")``), PyTorch's ``interpolate(mode="bilinear", align_corners=False)`` and ONNX's
``Resize(coordinate_transformation_mode="half_pixel")``::

    y = (i + 0.5) / sh − 0.5        x = (j + 0.5) / sw − 0.5

clamped at 0 below; the point reads its two neighbouring rows y0 = ⌊y⌋ and y1 = min(y0 + 1,
H − 1) and blends them, (1 − t)·row[y0] + t·row[y1] with t = y − y0, and then the same along
the columns. Bilinear interpolation is separable, so the op does exactly that: one 1-D linear
interpolation along the height, then one along the width.

Each is a sum of two gathered rows weighted per output row (``linear_interpolate``); its
backward sends ``grad · weight`` back to the rows that were read, added up since each input
row feeds several output rows. The op runs each pass as a tuned kernel with the same numbers
(``ops/_upsampling_kernels.py``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from glassnet.autograd import Context, Function
from glassnet.backend import get_array_module
from glassnet.checks import Pair, check_int_tuple
from glassnet.ops._upsampling_kernels import interpolate_phased, interpolate_phased_backward
from glassnet.ops.conv import check_image
from glassnet.tensor import Tensor

__all__ = ["upsample_bilinear2d", "upsample_nearest2d", "upsample_nearest3d"]


class UpsampleNearestOp(Function):
    """Each pixel repeated into an sh×sw block. x (N, H, W, C) -> (N, H·sh, W·sw, C); a volume
    (N, D, H, W, C) -> (N, D·sd, H·sh, W·sw, C) with sd×sh×sw blocks.

    Backward: the gradient of each block summed back onto its pixel.
    """

    @staticmethod
    def forward(ctx: Context, x: Any, *, size: tuple[int, ...]) -> Any:
        xp = get_array_module(x)
        n, *sizes, c = x.shape
        blocks = [v for pair in zip(sizes, size, strict=True) for v in pair]  # H, sh, W, sw
        out = xp.empty((n, *blocks, c), dtype=x.dtype)
        spread = (slice(None), *(v for _ in size for v in (slice(None), None)), slice(None))
        out[...] = x[spread]  # one broadcast copy fills every block
        ctx.x_shape, ctx.size = x.shape, size
        return out.reshape(n, *(d * s for d, s in zip(sizes, size, strict=True)), c)

    @staticmethod
    def backward(ctx: Context, grad: Any) -> Any:
        n, *sizes, c = ctx.x_shape
        blocks = [v for pair in zip(sizes, ctx.size, strict=True) for v in pair]
        return grad.reshape(n, *blocks, c).sum(axis=tuple(range(2, 2 * len(sizes) + 1, 2)))


def _linear_taps(size: int, scale: int, dtype: Any) -> tuple[Any, Any, Any]:
    """For each of the size·scale output positions along one axis: the two input positions it
    blends (y0, y1) and the weight t of the second (half-pixel centres, clamped at the edges)."""
    out = np.arange(size * scale, dtype=np.float64)
    src = np.maximum((out + 0.5) / scale - 0.5, 0.0)
    lo = np.minimum(np.floor(src).astype(np.intp), size - 1)
    hi = np.minimum(lo + 1, size - 1)
    return lo, hi, (src - lo).astype(dtype)


def linear_interpolate(x: Any, axis: int, scale: int) -> Any:
    """The textbook 1-D pass: each output row blends the two input rows it falls between,
    ``(1 − t)·x[y0] + t·x[y1]``, gathered along ``axis``."""
    xp = get_array_module(x)
    lo, hi, t = (xp.asarray(a) for a in _linear_taps(x.shape[axis], scale, x.dtype))
    t = t.reshape([-1 if i == axis else 1 for i in range(x.ndim)])
    return xp.take(x, lo, axis=axis) * (1 - t) + xp.take(x, hi, axis=axis) * t


def linear_interpolate_backward(grad: Any, axis: int, scale: int) -> Any:
    """The textbook pass's gradient: ``grad · (1 − t)`` and ``grad · t`` sent back to the two
    rows each output row read, added up (``add.at``: an input row feeds several outputs)."""
    xp = get_array_module(grad)
    size = grad.shape[axis] // scale
    lo, hi, t = (xp.asarray(a) for a in _linear_taps(size, scale, grad.dtype))
    t = t.reshape([-1 if i == axis else 1 for i in range(grad.ndim)])
    shape = list(grad.shape)
    shape[axis] = size
    g = xp.zeros(shape, dtype=grad.dtype)
    moved = xp.moveaxis(g, axis, 0)  # a view: add.at along axis 0 writes into g
    xp.add.at(moved, lo, xp.moveaxis(grad * (1 - t), axis, 0))
    xp.add.at(moved, hi, xp.moveaxis(grad * t, axis, 0))
    return g


class UpsampleBilinear2DOp(Function):
    """Bilinear interpolation with half-pixel centres. x (N, H, W, C) -> (N, H·sh, W·sw, C).

    Along the height, then along the width (``linear_interpolate``); backward runs the passes'
    gradients in reverse. Each pass runs as the tuned phase-by-phase kernel beside this file
    (``ops/_upsampling_kernels.py``: the same numbers, shifted slices instead of gathers and
    scatters). Nothing is saved but sizes.
    """

    @staticmethod
    def forward(ctx: Context, x: Any, *, size: Pair) -> Any:
        ctx.size = size
        return interpolate_phased(interpolate_phased(x, 1, size[0]), 2, size[1])

    @staticmethod
    def backward(ctx: Context, grad: Any) -> Any:
        grad = interpolate_phased_backward(grad, 2, ctx.size[1])
        return interpolate_phased_backward(grad, 1, ctx.size[0])


# ------------------------------------------------------------------ functional API
def _upsample(
    op: type[Function], where: str, x: Tensor, size: int | tuple[int, ...], rank: int = 2
) -> Tensor:
    check_image(x, where, rank)
    return op.apply(x, size=check_int_tuple(where, "size", size, rank))


def upsample_nearest2d(x: Tensor, size: int | Pair = 2) -> Tensor:
    """Repeat every pixel ``size`` times along height and width (nearest-neighbour upsampling).

    Shape: (N, H, W, C) -> (N, H·sh, W·sw, C).
    """
    return _upsample(UpsampleNearestOp, "upsample_nearest2d", x, size)


def upsample_nearest3d(x: Tensor, size: int | tuple[int, int, int] = 2) -> Tensor:
    """Repeat every voxel ``size`` times along depth, height and width (nearest-neighbour
    upsampling of a volume: ``upsample_nearest2d`` with one more axis, the same op).

    Shape: (N, D, H, W, C) -> (N, D·sd, H·sh, W·sw, C).
    """
    return _upsample(UpsampleNearestOp, "upsample_nearest3d", x, size, rank=3)


def upsample_bilinear2d(x: Tensor, size: int | Pair = 2) -> Tensor:
    """Enlarge the image ``size`` times along height and width by bilinear interpolation with
    half-pixel centres (TensorFlow's ``resize``, PyTorch's ``align_corners=False``).

    Shape: (N, H, W, C) -> (N, H·sh, W·sw, C).
    """
    return _upsample(UpsampleBilinear2DOp, "upsample_bilinear2d", x, size)
