"""Resizing images to any height and width (``Resizing``), with no weights.

Output row i of an image of H rows resized to H' rows looks at the input point

    y = (i + 0.5) · H / H' − 0.5

(*half-pixel centres*: TensorFlow's ``resize`` with ``antialias=False``, which Keras 3's
``Resizing`` calls; PyTorch's ``interpolate(align_corners=False, antialias=False)``; ONNX's
``Resize(coordinate_transformation_mode="half_pixel")``).

* ``"bilinear"``: y is clamped at 0 below; the row blends its two neighbours y0 = ⌊y⌋ and
  y1 = min(y0 + 1, H − 1): (1 − t)·row[y0] + t·row[y1] with t = y − y0. Bilinear interpolation
  is separable: one 1-D pass along the height, then one along the width.
* ``"nearest"``: row i copies input row min(⌊(i + 0.5) · H / H'⌋, H − 1) (TensorFlow's
  half-pixel nearest neighbour; PyTorch's ``"nearest-exact"``; ONNX's
  ``"tf_half_pixel_for_nn"`` with ``nearest_mode="floor"``).

Both are weighted gathers along one axis, so the backward pass is the transposed gather: each
output row's gradient, times its weight, is added back (``add.at``) to the rows it read.
Shrinking by a large factor skips rows (no antialiasing), as TensorFlow and PyTorch do by
default.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from glassnet.autograd import Context, Function
from glassnet.backend import get_array_module
from glassnet.checks import check_positive_int
from glassnet.ops.conv import check_image
from glassnet.tensor import Tensor

__all__ = ["INTERPOLATIONS", "resize"]

INTERPOLATIONS = ("bilinear", "nearest")


def _taps(size: int, new_size: int, interpolation: str) -> tuple[Any, Any, Any]:
    """For each of the ``new_size`` output positions along one axis: the two input positions
    it reads (lo, hi) and the weight t of the second (0 for nearest)."""
    out = np.arange(new_size, dtype=np.float64)
    scale = size / new_size
    if interpolation == "nearest":
        lo = np.minimum(np.floor((out + 0.5) * scale).astype(np.intp), size - 1)
        return lo, lo, np.zeros(new_size)
    src = np.maximum((out + 0.5) * scale - 0.5, 0.0)
    lo = np.minimum(np.floor(src).astype(np.intp), size - 1)
    hi = np.minimum(lo + 1, size - 1)
    return lo, hi, src - lo


def _shaped(xp: Any, t: Any, axis: int, ndim: int, dtype: Any) -> Any:
    return xp.asarray(t, dtype=dtype).reshape([-1 if i == axis else 1 for i in range(ndim)])


def interpolate_axis(x: Any, axis: int, new_size: int, interpolation: str) -> Any:
    """One 1-D pass: each output row blends the two input rows it falls between,
    ``(1 − t)·x[lo] + t·x[hi]`` (nearest: a plain gather of ``x[lo]``)."""
    xp = get_array_module(x)
    lo, hi, t = _taps(x.shape[axis], new_size, interpolation)
    if interpolation == "nearest":
        return xp.take(x, xp.asarray(lo), axis=axis)
    t = _shaped(xp, t, axis, x.ndim, x.dtype)
    return (
        xp.take(x, xp.asarray(lo), axis=axis) * (1 - t) + xp.take(x, xp.asarray(hi), axis=axis) * t
    )


def interpolate_axis_backward(grad: Any, axis: int, size: int, interpolation: str) -> Any:
    """The pass's gradient, the transposed gather: ``grad · (1 − t)`` and ``grad · t`` sent back
    to the rows each output row read, added up (an input row may feed several outputs)."""
    xp = get_array_module(grad)
    lo, hi, t = _taps(size, grad.shape[axis], interpolation)
    shape = list(grad.shape)
    shape[axis] = size
    g = xp.zeros(shape, dtype=grad.dtype)
    moved = xp.moveaxis(g, axis, 0)  # a view: add.at along axis 0 writes into g
    if interpolation == "nearest":
        xp.add.at(moved, xp.asarray(lo), xp.moveaxis(grad, axis, 0))
        return g
    t = _shaped(xp, t, axis, grad.ndim, grad.dtype)
    xp.add.at(moved, xp.asarray(lo), xp.moveaxis(grad * (1 - t), axis, 0))
    xp.add.at(moved, xp.asarray(hi), xp.moveaxis(grad * t, axis, 0))
    return g


class Resize2DOp(Function):
    """x (N, H, W, C) -> (N, height, width, C): one interpolation pass along the height, one
    along the width; backward runs the passes' transposes in reverse. Saves only sizes."""

    @staticmethod
    def forward(ctx: Context, x: Any, *, size: tuple[int, int], interpolation: str) -> Any:
        ctx.in_size, ctx.interpolation = x.shape[1:3], interpolation
        y = interpolate_axis(x, 1, size[0], interpolation) if size[0] != x.shape[1] else x
        return interpolate_axis(y, 2, size[1], interpolation) if size[1] != x.shape[2] else y

    @staticmethod
    def backward(ctx: Context, grad: Any) -> Any:
        (h, w), how = ctx.in_size, ctx.interpolation
        if grad.shape[2] != w:
            grad = interpolate_axis_backward(grad, 2, w, how)
        return interpolate_axis_backward(grad, 1, h, how) if grad.shape[1] != h else grad


def resize(x: Tensor, size: tuple[int, int], interpolation: str = "bilinear") -> Tensor:
    """Resize a batch of images to ``size = (height, width)`` with half-pixel centres and no
    antialiasing (TensorFlow's ``resize``; PyTorch's ``interpolate(align_corners=False)``).

    Shape: (N, H, W, C) -> (N, height, width, C).
    """
    check_image(x, "resize")
    if not isinstance(size, (tuple, list)) or len(size) != 2:
        raise ValueError(f"resize: 'size' must be a pair (height, width). Received: size={size!r}")
    size = (
        check_positive_int("resize", "height", size[0]),
        check_positive_int("resize", "width", size[1]),
    )
    if interpolation not in INTERPOLATIONS:
        raise ValueError(
            f"resize: 'interpolation' must be one of {', '.join(map(repr, INTERPOLATIONS))}. "
            f"Received: interpolation={interpolation!r}"
        )
    return Resize2DOp.apply(x, size=size, interpolation=interpolation)
