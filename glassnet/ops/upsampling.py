"""Upsampling: make an image larger by a whole factor per axis, with no weights.

Nearest: every pixel becomes an sh×sw block of copies of itself, so (N, H, W, C) becomes
(N, H·sh, W·sw, C). The backward pass adds up the gradient of each block: the one pixel that
was copied receives the sum of the gradients of its copies.

Bilinear: output pixel (i, j) shows the input at the point (y, x) with *half-pixel centres*,
the convention of TensorFlow's ``resize`` (Keras 3's ``UpSampling2D(interpolation=
"bilinear")``), PyTorch's ``interpolate(mode="bilinear", align_corners=False)`` and ONNX's
``Resize(coordinate_transformation_mode="half_pixel")``::

    y = (i + 0.5) / sh − 0.5        x = (j + 0.5) / sw − 0.5

clamped at 0 below; the point reads its two neighbouring rows y0 = ⌊y⌋ and y1 = min(y0 + 1,
H − 1) and blends them, (1 − t)·row[y0] + t·row[y1] with t = y − y0, and then the same along
the columns. Bilinear interpolation is separable, so the op does exactly that: one 1-D linear
interpolation along the height, then one along the width. Each is a sum of two gathers
weighted per output row; its backward sends ``grad · weight`` back to the rows that were read,
added up with ``add.at`` since each input row feeds several output rows.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from glassnet.autograd import Context, Function
from glassnet.backend import get_array_module
from glassnet.checks import Pair, check_int_pair
from glassnet.ops.conv import check_image
from glassnet.tensor import Tensor

__all__ = ["upsample_bilinear2d", "upsample_nearest2d"]


class UpsampleNearest2DOp(Function):
    """Each pixel repeated into an sh×sw block. x (N, H, W, C) -> (N, H·sh, W·sw, C).

    Backward: the gradient of each block summed back onto its pixel.
    """

    @staticmethod
    def forward(ctx: Context, x: Any, *, size: Pair) -> Any:
        xp = get_array_module(x)
        n, h, w, c = x.shape
        sh, sw = size
        out = xp.empty((n, h, sh, w, sw, c), dtype=x.dtype)
        out[...] = x[:, :, None, :, None, :]  # one broadcast copy fills every block
        ctx.x_shape, ctx.size = x.shape, size
        return out.reshape(n, h * sh, w * sw, c)

    @staticmethod
    def backward(ctx: Context, grad: Any) -> Any:
        n, h, w, c = ctx.x_shape
        sh, sw = ctx.size
        return grad.reshape(n, h, sh, w, sw, c).sum(axis=(2, 4))


def _linear_taps(size: int, scale: int, dtype: Any) -> tuple[Any, Any, Any]:
    """For each of the size·scale output positions along one axis: the two input positions it
    blends (y0, y1) and the weight t of the second (half-pixel centres, clamped at the edges)."""
    out = np.arange(size * scale, dtype=np.float64)
    src = np.maximum((out + 0.5) / scale - 0.5, 0.0)
    lo = np.floor(src).astype(np.intp)
    lo = np.minimum(lo, size - 1)
    hi = np.minimum(lo + 1, size - 1)
    return lo, hi, (src - lo).astype(dtype)


class UpsampleBilinear2DOp(Function):
    """Bilinear interpolation with half-pixel centres. x (N, H, W, C) -> (N, H·sh, W·sw, C).

    Along the height, then along the width: each pass blends two gathered rows (columns) per
    output row (column). Backward runs the passes in reverse, each scattering ``grad · (1 − t)``
    and ``grad · t`` back to the two rows it read (``add.at``).
    """

    @staticmethod
    def forward(ctx: Context, x: Any, *, size: Pair) -> Any:
        xp = get_array_module(x)
        taps = []
        out = x
        for axis, scale in ((1, size[0]), (2, size[1])):
            lo, hi, t = (xp.asarray(a) for a in _linear_taps(x.shape[axis], scale, x.dtype))
            shape = [1, 1, 1, 1]
            shape[axis] = -1
            t = t.reshape(shape)
            out = xp.take(out, lo, axis=axis) * (1 - t) + xp.take(out, hi, axis=axis) * t
            taps.append((axis, lo, hi, t))
        ctx.taps, ctx.x_shape = taps, x.shape
        return out

    @staticmethod
    def backward(ctx: Context, grad: Any) -> Any:
        xp = get_array_module(grad)
        for axis, lo, hi, t in reversed(ctx.taps):
            shape = list(grad.shape)
            shape[axis] = ctx.x_shape[axis]
            g = xp.zeros(shape, dtype=grad.dtype)
            moved = xp.moveaxis(g, axis, 0)  # a view: add.at along axis 0 writes into g
            xp.add.at(moved, lo, xp.moveaxis(grad * (1 - t), axis, 0))
            xp.add.at(moved, hi, xp.moveaxis(grad * t, axis, 0))
            grad = g
        return grad


# ------------------------------------------------------------------ functional API
def _upsample(op: type[Function], where: str, x: Tensor, size: int | Pair) -> Tensor:
    check_image(x, where)
    return op.apply(x, size=check_int_pair(where, "size", size))


def upsample_nearest2d(x: Tensor, size: int | Pair = 2) -> Tensor:
    """Repeat every pixel ``size`` times along height and width (nearest-neighbour upsampling).

    Shape: (N, H, W, C) -> (N, H·sh, W·sw, C).
    """
    return _upsample(UpsampleNearest2DOp, "upsample_nearest2d", x, size)


def upsample_bilinear2d(x: Tensor, size: int | Pair = 2) -> Tensor:
    """Enlarge the image ``size`` times along height and width by bilinear interpolation with
    half-pixel centres (TensorFlow's ``resize``, PyTorch's ``align_corners=False``).

    Shape: (N, H, W, C) -> (N, H·sh, W·sw, C).
    """
    return _upsample(UpsampleBilinear2DOp, "upsample_bilinear2d", x, size)
