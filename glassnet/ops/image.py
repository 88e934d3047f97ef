"""Resampling images: the differentiable pixel reads behind flips, crops, shifts, rotations and
zooms (the augmentation layers in ``glassnet/layers/augmentation.py`` are built on these).

``RandomTranslation``, ``RandomRotation`` and ``RandomZoom`` each build one inverse
affine matrix per image and share one sampler, ``affine_sample``. The matrix says, for every
output pixel (column x, row y), which input point (x', y') it shows (Keras's and TF's
convention, pixel centres at integer coordinates)::

    x' = a0·x + a1·y + a2        y' = b0·x + b1·y + b2

Sampling that point reads its 4 neighbouring pixels and blends them (bilinear) or takes the
nearest one. Neighbours outside the image are first brought back in by ``fill_mode``, exactly as
Keras defines the modes, and then blended like any other pixel (so this is "extend the image,
then interpolate", which is what Keras's NumPy and JAX backends do):

* ``"reflect"``:  (d c b a | a b c d | d c b a) — mirrored about the edge of the last pixel;
* ``"wrap"``:     (a b c d | a b c d | a b c d) — the opposite edge continues;
* ``"constant"``: (k k k k | a b c d | k k k k) — ``k = fill_value``;
* ``"nearest"``:  (a a a a | a b c d | d d d d) — the border pixel repeats.

Why a hand-written gather rather than ``scipy.ndimage.affine_transform``: SciPy needs a Python
loop over the images of the batch (one call per image, with the channel axis spelled out in a
3-D matrix), cannot run on CuPy arrays, and gives no gradients. ``PixelGatherOp`` does the whole
batch at once: the batch is viewed as rows of channels, and each of the (up to) 4 neighbours is
one ``take`` of B·H·W rows followed by a multiply by its weight. It is an autograd ``Function``
(the backward scatters the weighted gradient back with ``add.at``), so these layers are
differentiable: augmentation does not need gradients, but a random layer placed anywhere in a
model never silently cuts the graph. One vectorised gather for the whole batch is faster than
a per-image SciPy loop (benchmarks/NOTES.md). Flips and crops use the same op with one
unweighted read.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from glassnet.autograd import Context, Function
from glassnet.backend import get_array_module
from glassnet.tensor import Tensor

__all__ = ["AffineSampleOp", "PixelGatherOp", "affine_sample", "gather_pixels"]


# ------------------------------------------------------------------ the shared sampler
class PixelGatherOp(Function):
    """``out[p] = Σ_k weight_k[p] · pixels[index_k[p]] (+ fill[p])``: the weighted reads behind
    every geometric augmentation (4 reads for bilinear, 1 for nearest, flips and crops).

    ``pixels`` is the batch viewed as rows of channels, (B·H·W, C); each ``index_k`` and
    ``weight_k`` has the output's spatial shape (B, H', W'); a weight of None means 1. The
    backward scatters ``grad · weight_k`` back to the rows that were read (``add.at``, since
    one input pixel can feed many output pixels).
    """

    @staticmethod
    def forward(ctx: Context, pixels: Any, *, reads: list[tuple[Any, Any]], fill: Any) -> Any:
        xp = get_array_module(pixels)
        shape = (*reads[0][0].shape, pixels.shape[1])
        out = xp.empty(shape, dtype=pixels.dtype)
        term = xp.empty_like(out) if len(reads) > 1 else None
        # take(out=...) is several times faster than pixels[index]; NumPy's mode="clip" skips
        # the bounds check (every index is already inside) and the buffering it needs.
        clip_mode = {"mode": "clip"} if xp is np else {}
        for k, (index, weight) in enumerate(reads):
            target = out if k == 0 else term
            xp.take(pixels, index, axis=0, out=target, **clip_mode)
            if weight is not None:
                target *= weight[..., None]
            if k > 0:
                out += term
        if fill is not None:
            out += fill[..., None]
        ctx.reads, ctx.rows = reads, pixels.shape[0]
        return out

    @staticmethod
    def backward(ctx: Context, grad: Any) -> Any:
        xp = get_array_module(grad)
        channels = grad.shape[-1]
        out = xp.zeros((ctx.rows, channels), dtype=grad.dtype)
        for index, weight in ctx.reads:
            part = grad if weight is None else grad * weight[..., None]
            xp.add.at(out, index.reshape(-1), part.reshape(-1, channels))
        return out


def gather_pixels(x: Tensor, rows: Any, cols: Any) -> Tensor:
    """``out[b, i, j] = x[b, rows[b, i, j], cols[b, i, j]]`` with integer index arrays that
    broadcast to (B, H', W'): flips and crops as one differentiable read."""
    xp = get_array_module(x.data)
    batch, height, width, channels = x.shape
    base = xp.arange(batch).reshape(batch, 1, 1) * (height * width)
    index = base + xp.asarray(rows) * width + xp.asarray(cols)
    pixels = x.reshape(batch * height * width, channels)
    return PixelGatherOp.apply(pixels, reads=[(index, None)], fill=None)


class AffineSampleOp(PixelGatherOp):
    """Each image of x resampled through its own inverse affine matrix (``affine_sample``):
    the reads (which pixels, with which weights) are worked out from ``matrices`` in forward,
    then gathered as ``PixelGatherOp`` does. Gradients flow to x, not to the matrices.

    Shape: x (B, H, W, C), matrices (B, 2, 3) -> (B, *output_size, C).
    """

    @staticmethod
    def forward(  # type: ignore[override]
        ctx: Context,
        x: Any,
        matrices: Any,
        *,
        output_size: tuple[int, int] | None,
        interpolation: str,
        fill_mode: str,
        fill_value: float,
    ) -> Any:
        reads, fill = _affine_reads(x, matrices, output_size, interpolation, fill_mode, fill_value)
        ctx.x_shape = x.shape
        return PixelGatherOp.forward(ctx, x.reshape(-1, x.shape[-1]), reads=reads, fill=fill)

    @staticmethod
    def backward(ctx: Context, grad: Any) -> tuple[Any, None]:  # type: ignore[override]
        return PixelGatherOp.backward(ctx, grad).reshape(ctx.x_shape), None


def affine_sample(
    x: Tensor,
    matrices: Any,
    output_size: tuple[int, int] | None = None,
    interpolation: str = "bilinear",
    fill_mode: str = "reflect",
    fill_value: float = 0.0,
) -> Tensor:
    """Resample each image of ``x`` through its own inverse affine matrix.

    Output pixel (row y, column x) of image b shows input point
    ``(x', y') = matrices[b] @ (x, y, 1)``, blended from its 4 neighbours (``"bilinear"``) or
    read from the nearest pixel (``"nearest"``); neighbours outside the image follow
    ``fill_mode`` (see the module docstring). Linear in ``x``, so gradients flow back to it.

    Args:
        x: images, a Tensor of shape (B, H, W, C) with a float dtype.
        matrices: (B, 2, 3) rows ``[[a0, a1, a2], [b0, b1, b2]]``, output -> input coordinates.
        output_size: (height, width) of the output; None keeps (H, W).
        interpolation: "bilinear" or "nearest". fill_mode: "reflect", "wrap", "constant" or
            "nearest". fill_value: the value k of ``fill_mode="constant"``.

    Shape:
        (B, H, W, C) -> (B, *output_size, C), same dtype.
    """
    return AffineSampleOp.apply(
        x,
        matrices,
        output_size=output_size,
        interpolation=interpolation,
        fill_mode=fill_mode,
        fill_value=fill_value,
    )


def _affine_reads(
    x: Any, matrices: Any, output_size: Any, interpolation: str, fill_mode: str, fill_value: float
) -> tuple[list, Any]:
    """``PixelGatherOp``'s reads and fill for resampling the array batch x (B, H, W, C)
    through ``matrices`` (B, 2, 3), as ``affine_sample`` describes."""
    xp = get_array_module(x)
    batch, height, width, _ = x.shape
    out_h, out_w = (height, width) if output_size is None else output_size
    # float32 coordinates are exact to ~1e-4 pixel even across 2000-pixel images, and int32
    # indices suffice below 2³¹ pixels; both halve the memory traffic of float64/int64.
    itype = np.int32 if batch * height * width < 2**31 else np.int64
    m = xp.asarray(matrices, dtype=np.float32).reshape(batch, 2, 3)[:, :, :, None, None]
    rows = xp.arange(out_h, dtype=np.float32)[:, None]
    cols = xp.arange(out_w, dtype=np.float32)[None, :]
    src_x = m[:, 0, 0] * cols + m[:, 0, 1] * rows + m[:, 0, 2]  # (B, out_h, out_w)
    src_y = m[:, 1, 0] * cols + m[:, 1, 1] * rows + m[:, 1, 2]
    if interpolation == "nearest":
        # One read: the pixel whose centre is nearest (halves round up).
        y_taps = [(xp.floor(src_y + 0.5).astype(itype), None)]
        x_taps = [(xp.floor(src_x + 0.5).astype(itype), None)]
    else:
        # Bilinear: the 4 pixels around the point, weighted by the opposite areas.
        y0, x0 = xp.floor(src_y), xp.floor(src_x)
        dy, dx = src_y - y0, src_x - x0
        y0, x0 = y0.astype(itype), x0.astype(itype)
        y_taps = [(y0, 1 - dy), (y0 + 1, dy)]
        x_taps = [(x0, 1 - dx), (x0 + 1, dx)]
    y_taps = [(*_fold(xp, iy, height, fill_mode), wy) for iy, wy in y_taps]
    x_taps = [(*_fold(xp, ix, width, fill_mode), wx) for ix, wx in x_taps]
    base = xp.arange(batch, dtype=itype).reshape(batch, 1, 1) * (height * width)
    reads = []
    outside = None  # the weight that fell on "constant" padding
    for iy, inside_y, wy in y_taps:
        row_start = base + iy * width
        for ix, inside_x, wx in x_taps:
            weight = wx if wy is None else wy if wx is None else wy * wx  # None means 1
            if fill_mode == "constant":
                off = ~(inside_y & inside_x)
                if off.any():
                    kept = xp.where(off, 0.0, 1.0) if weight is None else xp.where(off, 0.0, weight)
                    lost = off.astype(np.float32) if weight is None else weight - kept
                    outside = lost if outside is None else outside + lost
                    weight = kept
            reads.append((row_start + ix, weight))
    # Whole-pixel shifts leave some neighbours with zero weight everywhere: skip those reads.
    reads = [(i, w) for i, w in reads if w is None or w.any()] or reads[:1]
    reads = [(i, None if w is None else w.astype(x.dtype, copy=False)) for i, w in reads]
    fill = None
    if outside is not None and fill_value != 0.0:
        fill = (outside * fill_value).astype(x.dtype, copy=False)
    return reads, fill


def _fold(xp: Any, index: Any, size: int, mode: str) -> tuple[Any, Any]:
    """Integer pixel indices brought inside [0, size) by ``mode``, and a mask of those that
    were inside already."""
    inside = (index >= 0) & (index < size)
    if mode == "reflect":  # d c b a | a b c d | d c b a: period 2·size, second half mirrored
        index = index % (2 * size)
        index = xp.where(index >= size, 2 * size - 1 - index, index)
    elif mode == "wrap":
        index = index % size
    else:  # "nearest" repeats the border; "constant" reads it too, with its weight zeroed
        index = xp.clip(index, 0, size - 1)
    return index, inside
