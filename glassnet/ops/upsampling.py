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
interpolation along the height, then one along the width.

Because the factor s is whole, the 1-D pass needs no gather. Output row i = k·s + r (phase r)
reads the point k + o_r with o_r = (r + 0.5) / s − 0.5, between −½ and ½, the same offset for
every k: phase r blends rows k − 1 and k with weight 1 + o_r on row k (o_r < 0), or rows k
and k + 1 with weight o_r on row k + 1 (o_r ≥ 0). With the image extended by one copy of its
first and last row (the clamping at the edges), each phase is two shifted slices of that
extended image, (1 − w_r)·ext[k + a_r] + w_r·ext[k + a_r + 1] for all k at once: s multiplies
and adds over whole rows. The backward pass adds ``grad · (1 − w_r)`` and ``grad · w_r`` of
each phase into the same two slices of an extended gradient, then folds the two extra rows
back onto the first and last row they copied.
"""

from __future__ import annotations

from typing import Any

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


def _phases(scale: int) -> list[tuple[int, float]]:
    """For each phase r of a whole factor ``scale``: the first of the two rows it blends, as an
    offset into the extended image (0: row k − 1, 1: row k), and the weight of the second."""
    phases = []
    for r in range(scale):
        offset = (r + 0.5) / scale - 0.5
        phases.append((0, 1.0 + offset) if offset < 0 else (1, offset))
    return phases


def _along(axis: int, index: Any) -> tuple[Any, ...]:
    """An index that applies ``index`` to ``axis`` and keeps the axes before it whole."""
    return (slice(None),) * axis + (index,)


def _interpolate(x: Any, axis: int, scale: int) -> Any:
    """Linear interpolation with half-pixel centres along ``axis``, enlarged ``scale`` times."""
    xp = get_array_module(x)
    n = x.shape[axis]
    ext = xp.concatenate([x[_along(axis, slice(0, 1))], x, x[_along(axis, slice(n - 1, n))]], axis)
    out = xp.empty((*x.shape[: axis + 1], scale, *x.shape[axis + 1 :]), dtype=x.dtype)
    for r, (a, w) in enumerate(_phases(scale)):
        dst = out[_along(axis + 1, r)]
        xp.multiply(ext[_along(axis, slice(a, a + n))], x.dtype.type(1 - w), out=dst)
        dst += ext[_along(axis, slice(a + 1, a + 1 + n))] * x.dtype.type(w)
    return out.reshape(*x.shape[:axis], n * scale, *x.shape[axis + 1 :])


def _interpolate_backward(grad: Any, axis: int, scale: int) -> Any:
    """The gradient of ``_interpolate`` with respect to its input."""
    xp = get_array_module(grad)
    n = grad.shape[axis] // scale
    phased = grad.reshape(*grad.shape[:axis], n, scale, *grad.shape[axis + 1 :])
    ext = xp.zeros((*grad.shape[:axis], n + 2, *grad.shape[axis + 1 :]), dtype=grad.dtype)
    for r, (a, w) in enumerate(_phases(scale)):
        g = phased[_along(axis + 1, r)]
        ext[_along(axis, slice(a, a + n))] += g * grad.dtype.type(1 - w)
        ext[_along(axis, slice(a + 1, a + 1 + n))] += g * grad.dtype.type(w)
    gx = ext[_along(axis, slice(1, n + 1))].copy()
    gx[_along(axis, slice(0, 1))] += ext[_along(axis, slice(0, 1))]
    gx[_along(axis, slice(n - 1, n))] += ext[_along(axis, slice(n + 1, n + 2))]
    return gx


class UpsampleBilinear2DOp(Function):
    """Bilinear interpolation with half-pixel centres. x (N, H, W, C) -> (N, H·sh, W·sw, C).

    Along the height, then along the width, each pass phase by phase (see the module
    docstring); backward runs the passes' gradients in reverse. Nothing is saved but sizes.
    """

    @staticmethod
    def forward(ctx: Context, x: Any, *, size: Pair) -> Any:
        ctx.size = size
        return _interpolate(_interpolate(x, 1, size[0]), 2, size[1])

    @staticmethod
    def backward(ctx: Context, grad: Any) -> Any:
        return _interpolate_backward(_interpolate_backward(grad, 2, ctx.size[1]), 1, ctx.size[0])


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
