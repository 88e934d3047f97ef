"""Convolution: slide a small filter over an image and take a weighted sum at every position.

A conv layer with a kh×kw filter over C input channels computes, for every output pixel, the
dot product of the filter with the kh×kw×C patch under it. Doing that pixel by pixel in Python
would be hopelessly slow, so ``im2col`` unrolls every patch into one row of a matrix (a strided
*view* of the image, copied once) and the whole convolution becomes one matrix product —
``cols (N·Ho·Wo, kh·kw·C) @ W (kh·kw·C, F)`` — that BLAS runs at full speed (Chainer and Caffe
do the same). The backward pass is two more products, dW = colsᵀ·dY and dcols = dY·Wᵀ, and
``col2im`` adds each row of dcols back onto the patch it came from.

Layout is channels-last: images (N, H, W, C), kernels (kh, kw, C_in, C_out), as in Keras.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from glassnet.autograd import Context, Function
from glassnet.backend import copy_by_pixel, get_array_module, is_float
from glassnet.checks import Pads, Pair, check_int_pair, check_padding
from glassnet.ops.activation import fused_relu, fused_relu_grad, relu_
from glassnet.tensor import Tensor, add_to_rows, sum_rows

__all__ = ["conv2d", "conv_output_shape", "resolve_padding"]

PaddingArg = str | int | tuple[Any, Any]


# ------------------------------------------------------------------ padding arithmetic
def _same_pads(size: int, k: int, s: int, d: int) -> Pair:
    """TensorFlow's "same": the output has ceil(size / s) positions; any odd pixel of padding
    goes at the end (bottom/right), so results match Keras models exactly."""
    out = -(-size // s)
    total = max((out - 1) * s + (k - 1) * d + 1 - size, 0)
    return total // 2, total - total // 2


def resolve_padding(
    input_hw: tuple[int, int],
    kernel_size: int | Pair,
    stride: int | Pair,
    padding: PaddingArg,
    dilation: int | Pair,
) -> Pads:
    """Turn any padding argument into explicit ((top, bottom), (left, right)) pixel counts.

    "valid" is no padding; "same" pads exactly as TensorFlow/Keras so that the output has
    ceil(H / stride) rows (the extra pixel of an odd total goes to the bottom/right).
    """
    k = check_int_pair("conv2d", "kernel_size", kernel_size)
    s = check_int_pair("conv2d", "stride", stride)
    d = check_int_pair("conv2d", "dilation", dilation)
    mode = check_padding("conv2d", padding)
    if mode == "valid":
        return (0, 0), (0, 0)
    if mode == "same":
        if None in tuple(input_hw):
            raise ValueError(
                f"conv2d: padding='same' needs a known input size. Expected two ints, received "
                f"input_hw={tuple(input_hw)}. Pass the real image size."
            )
        return _same_pads(input_hw[0], k[0], s[0], d[0]), _same_pads(input_hw[1], k[1], s[1], d[1])
    return mode  # type: ignore[return-value]


def output_hw(
    where: str,
    input_hw: Any,
    kernel: Pair,
    stride: Pair,
    padding: str | Pads,
    dilation: Pair,
    input_shape: tuple[int, ...] | None = None,
) -> tuple[int | None, int | None]:
    """Output height and width (None stays None); raises if the window does not fit."""
    out: list[int | None] = []
    for axis in (0, 1):
        size = input_hw[axis]
        if size is None:
            out.append(None)
        elif padding == "same":
            out.append(-(-size // stride[axis]))
        else:
            before, after = (0, 0) if padding == "valid" else padding[axis]
            span = (kernel[axis] - 1) * dilation[axis] + 1
            out.append((size + before + after - span) // stride[axis] + 1)
    if any(o is not None and o <= 0 for o in out):
        thing = "kernel" if where == "conv2d" else "pool window"
        span = tuple((kernel[a] - 1) * dilation[a] + 1 for a in (0, 1))
        raise ValueError(
            f"{where}: the {thing} does not fit in the input, the output would be "
            f"{tuple(out)}. Expected a padded input of at least {span} pixels, received input "
            f"{f'shape {input_shape}' if input_shape else f'size {tuple(input_hw)}'} with {thing} "
            f"{kernel}, stride={stride}, padding={padding!r}"
            f"{f', dilation={dilation}' if dilation != (1, 1) else ''}. Use padding='same', a "
            f"smaller {thing} or larger images."
        )
    return out[0], out[1]


def conv_output_shape(
    input_hw: tuple[int | None, int | None],
    kernel_size: int | Pair,
    stride: int | Pair = 1,
    padding: PaddingArg = "valid",
    dilation: int | Pair = 1,
) -> tuple[int | None, int | None]:
    """The (height, width) a convolution produces, by arithmetic alone (no data).

    out = floor((H + pad_total − dilation·(k − 1) − 1) / stride) + 1, or ceil(H / stride) for
    "same". An unknown size (None) stays None. Raises ``ValueError`` if the kernel does not fit.
    """
    k = check_int_pair("conv2d", "kernel_size", kernel_size)
    s = check_int_pair("conv2d", "stride", stride)
    d = check_int_pair("conv2d", "dilation", dilation)
    return output_hw("conv2d", tuple(input_hw), k, s, check_padding("conv2d", padding), d)


# ------------------------------------------------------------------ im2col / col2im
def pad_images(x: Any, pads: Pads, value: float = 0.0) -> Any:
    """``x`` (N, H, W, C) with rows/columns of ``value`` around it (``x`` itself if no padding)."""
    (top, bottom), (left, right) = pads
    if top == bottom == left == right == 0:
        return x
    xp = get_array_module(x)
    n, h, w, c = x.shape
    shape = (n, h + top + bottom, w + left + right, c)
    out = xp.zeros(shape, x.dtype) if value == 0 else xp.full(shape, value, x.dtype)
    out[:, top : top + h, left : left + w] = x
    return out


def crop_images(a: Any, pads: Pads, hw: Pair) -> Any:
    """Undo ``pad_images`` (a view)."""
    (top, _), (left, _) = pads
    if top == left == 0 and a.shape[1:3] == tuple(hw):
        return a
    return a[:, top : top + hw[0], left : left + hw[1]]


def _offset(i: int, j: int, stride: Pair, out_hw: Pair) -> tuple[slice, slice, slice]:
    """Index of the pixels that kernel tap (i, j) (already scaled by dilation) touches, one per
    output position: a strided slice of the padded image."""
    (sh, sw), (ho, wo) = stride, out_hw
    return slice(None), slice(i, i + sh * (ho - 1) + 1, sh), slice(j, j + sw * (wo - 1) + 1, sw)


def _windows_hw(padded_shape: tuple, kernel: Pair, stride: Pair, dilation: Pair) -> Pair:
    """The output size (Ho, Wo) of a kernel sliding over a padded image (N, Hp, Wp, C)."""
    (hp, wp), (kh, kw), (sh, sw), (dh, dw) = padded_shape[1:3], kernel, stride, dilation
    return (hp - (kh - 1) * dh - 1) // sh + 1, (wp - (kw - 1) * dw - 1) // sw + 1


def im2col(
    xpad: Any, kernel: Pair, stride: Pair, dilation: Pair, out_hw: Pair, tile: int = 1
) -> Any:
    """Unfold every kh×kw window of a padded image into one row of a matrix.

    Shape: xpad (N, Hp, Wp, C) -> (N·Ho·Wo, kh·kw·C), columns ordered (i, j, c) like a weight
    (kh, kw, C, F) reshaped to (kh·kw·C, F). The windows are a strided view of ``xpad`` (dilation
    and stride are just bigger steps); only the reshape copies, and for a 1×1 kernel with stride
    1 on a contiguous image not even that.

    With ``tile`` > 1 each row holds the window of ``tile`` neighbouring output pixels of an
    image row instead — kh rows of S = (tile − 1)·sw + (kw − 1)·dw + 1 pixels — for the GEMM
    against ``tiled_weight``: (N·Ho·Wo / tile, kh·S·C). See ``output_tile``.
    """
    n, _, _, c = xpad.shape
    (kh, kw), (ho, wo) = kernel, out_hw
    if c == 1 and kh * kw > 1 and tile == 1:
        # One channel (grayscale images): copying window by window would move one number at a
        # time. Copy one kernel tap at a time instead — whole (Ho, Wo) planes — into a
        # (kh·kw, N·Ho·Wo) matrix and return its transpose, a view with the same numbers.
        xp = get_array_module(xpad)
        planes = xp.empty((kh, kw, n, ho, wo), dtype=xpad.dtype)
        (sh, sw), (dh, dw) = stride, dilation
        for i in range(kh):
            for j in range(kw):
                _, rows, cols = _offset(i * dh, j * dw, (sh, sw), (ho, wo))
                planes[i, j] = xpad[:, rows, cols, 0]
        return planes.reshape(kh * kw, n * ho * wo).T
    windows = im2col_view(xpad, kernel, stride, dilation, out_hw, tile)
    rows, width = n * ho * wo // tile, kh * windows.shape[4] * c
    if windows.shape[3] * windows.shape[4] > 1 and _short_window_rows(windows):
        cols = np.empty((rows, width), dtype=xpad.dtype)  # (a 1×1 kernel's reshape is a view)
        copy_windows(cols.reshape(windows.shape), windows)
        return cols
    return windows.reshape(rows, width)


def im2col_view(
    xpad: Any, kernel: Pair, stride: Pair, dilation: Pair, out_hw: Pair, tile: int = 1
) -> Any:
    """The windows of ``im2col`` as a read-only strided view (N, Ho, Wo, kh, kw, C): no copy.
    With ``tile`` > 1: (N, Ho, Wo / tile, kh, S, C), each row of a tile's window S pixels
    wide, S = (tile − 1)·sw + (kw − 1)·dw + 1."""
    xp = get_array_module(xpad)
    n, _, _, c = xpad.shape
    (kh, kw), (sh, sw), (dh, dw), (ho, wo) = kernel, stride, dilation, out_hw
    s_n, s_h, s_w, s_c = xpad.strides
    shape, strides = (n, ho, wo, kh, kw, c), (s_n, s_h * sh, s_w * sw, s_h * dh, s_w * dw, s_c)
    if tile > 1:  # tile pixels per window, its rows read whole
        span = _row_span(kw, sw, dw, tile)
        shape, strides = (
            (n, ho, wo // tile, kh, span, c),
            (*strides[:2], s_w * sw * tile, *strides[3:4], s_w, s_c),
        )
    if xp is np and xpad.flags.c_contiguous:
        # The same view built directly on the buffer, without as_strided's checks, which
        # matter at batch 1, where a whole convolution is a few tens of NumPy calls.
        view = np.ndarray(shape, xpad.dtype, xpad, 0, strides)
        view.flags.writeable = False
        return view
    return xp.lib.stride_tricks.as_strided(xpad, shape, strides, writeable=False)


_SHORT_ROW_BYTES = 256  # window rows up to this long are copied as one element each


def _short_window_rows(windows: Any) -> bool:
    """Whether ``copy_windows`` moves each window row as one element: a NumPy view whose rows
    of kw·C numbers lie contiguous in the image (no dilation along the width) and are short."""
    *_, kw, c = windows.shape
    return (
        isinstance(windows, np.ndarray)
        and windows.strides[5] == windows.itemsize
        and windows.strides[4] == c * windows.itemsize
        and kw * c * windows.itemsize <= _SHORT_ROW_BYTES
    )


def copy_windows(dst: Any, windows: Any) -> None:
    """``dst[...] = windows`` for im2col's window view (N, Ho, Wo, kh, kw, C) into a contiguous
    array of the same shape.

    NumPy's strided copy loops over each window row, only kw·C numbers long: 9 for a 3×3
    kernel over RGB. Where those numbers are contiguous in the image, each row moves as one
    element (``backend.copy_by_pixel``). That pays for C ≤ 16 (a 3×3 kernel over RGB,
    LeNet's 5×5 over 6 channels); rows of 32 channels or more gain nothing.
    """
    if not _short_window_rows(windows):
        np.copyto(dst, windows)
        return
    n, ho, wo, kh, kw, c = windows.shape
    rows = (n, ho, wo, kh, kw * c)
    copy_by_pixel(dst.reshape(rows), windows.reshape(rows))  # a view: kw and C merge


def col2im(
    dcols: Any,
    padded_shape: tuple[int, ...],
    kernel: Pair,
    stride: Pair,
    dilation: Pair,
    out_hw: Pair,
) -> Any:
    """The adjoint of ``im2col``: add every row of ``dcols`` back onto the window it came from.

    Shape: dcols (N·Ho·Wo, kh·kw·C) -> (N, Hp, Wp, C). Overlapping windows sum. One vectorised
    strided add per kernel tap (kh·kw of them), never a loop over pixels and no ``add.at``.
    """
    xp = get_array_module(dcols)
    n, hp, wp, c = padded_shape
    (kh, kw), (dh, dw), (ho, wo) = kernel, dilation, out_hw
    d6 = dcols.reshape(n, ho, wo, kh, kw, c)
    if (kh, kw) == (1, 1) and (ho, wo) == (hp, wp):  # 1×1, stride 1: each pixel used once
        return d6.reshape(padded_shape)
    out = xp.zeros(padded_shape, dtype=dcols.dtype)
    for i in range(kh):
        for j in range(kw):
            out[_offset(i * dh, j * dw, stride, out_hw)] += d6[:, :, :, i, j]
    return out


# ------------------------------------------------------------------ output tiles
_TILE_TAPS = 75  # kh·kw·C up to this (a 5×5 kernel over RGB, 3×3 over 8 channels) may tile


def output_tile(c: int, f: int, kernel: Pair, out_w: int) -> int:
    """How many neighbouring output pixels of an image row one row of the column matrix
    serves: 1 (plain im2col) unless the layer has few taps (kh·kw·C ≤ 75) and few filters
    (F ≤ 32), as first layers do.

    There the GEMM is thin in both K and N (LeNet's first layer: 25 × 6) and runs far below
    the BLAS's speed, and im2col copies rows only kw·C numbers long. A row for ``tile`` pixels
    reads kh window rows of (tile − 1)·sw + (kw − 1)·dw + 1 pixels once, and the GEMM against
    ``tiled_weight`` gives their tile·F outputs at once, a less thin product (what it gains
    is in benchmarks/NOTES.md). The largest tile up to 8 that divides the
    output width with tile·F ≤ max(48, 2F).
    """
    taps = kernel[0] * kernel[1]
    if taps == 1 or taps * c > _TILE_TAPS or f > 32:  # (a 1×1 kernel's columns are the image)
        return 1
    widest = max(48, 2 * f)
    return max(t for t in range(1, 9) if out_w % t == 0 and t * f <= widest)


def _row_span(kw: int, sw: int, dw: int, tile: int) -> int:
    """How many pixels a window row of ``im2col(..., tile)`` holds: the kernel's kw taps, or,
    for a tile, the (tile − 1)·sw + (kw − 1)·dw + 1 pixels its windows cover together."""
    return kw if tile == 1 else (tile - 1) * sw + (kw - 1) * dw + 1


def tiled_weight(w: Any, tile: int, stride: Pair, dilation: Pair) -> Any:
    """The weight for ``im2col(..., tile)``'s rows: output pixel t of a tile takes tap (i, j)
    from pixel t·sw + j·dw of window row i, and zero from the others.

    Shape: w (kh, kw, C, F) -> (kh·S·C, tile·F), S = (tile − 1)·sw + (kw − 1)·dw + 1. The
    zeros cost multiplications, not accuracy; but an inf or NaN input then also makes NaN the
    outputs of its tile neighbours whose windows do not reach it.
    """
    xp = get_array_module(w)
    kh, kw, c, f = w.shape
    sw, dw = stride[1], dilation[1]
    span = _row_span(kw, sw, dw, tile)
    big = xp.zeros((kh, span, c, tile, f), dtype=w.dtype)
    for t in range(tile):
        big[:, t * sw : t * sw + (kw - 1) * dw + 1 : dw, :, t] = w
    return big.reshape(kh * span * c, tile * f)


def untiled_weight_grad(
    gw: Any, w_shape: tuple[int, ...], tile: int, stride: Pair, dilation: Pair
) -> Any:
    """The weight's gradient from that of ``tiled_weight``: each tap's entries summed over the
    tile's pixels (the adjoint of the spread). Shape: (kh·S·C, tile·F) -> (kh, kw, C, F)."""
    if tile == 1:
        return gw.reshape(w_shape)
    kh, kw, c, f = w_shape
    sw, dw = stride[1], dilation[1]
    g = gw.reshape(kh, -1, c, tile, f)
    out = g[:, : (kw - 1) * dw + 1 : dw, :, 0].copy()
    for t in range(1, tile):
        out += g[:, t * sw : t * sw + (kw - 1) * dw + 1 : dw, :, t]
    return out


# ------------------------------------------------------------------ the op
class Conv2DOp(Function):
    """2-D cross-correlation, channels-last, as im2col + one GEMM.

    Shape: x (N, H, W, C), w (kh, kw, C, F), b (F,) or None -> (N, Ho, Wo, F). ``pads`` is
    ((top, bottom), (left, right)), already resolved by ``conv2d``. Backward: dW = colsᵀ·dY,
    db = Σ dY, dx = col2im(dY·Wᵀ). Only a weight that wants a gradient makes it keep anything
    of the input: ``cols`` when they are small, else the padded input, unfolded again chunk by
    chunk (``_weight_grad_in_chunks``); the weight is kept only if the input wants a gradient.
    With ``relu`` the output is max(0, ·) of all that, applied in place on the fresh GEMM
    output (see ``fused_relu``). Thin layers (few taps and filters, as first layers are)
    unfold one row per tile of neighbouring output pixels and multiply by the spread weight
    (``output_tile``); dW then sums the spread back.
    """

    @staticmethod
    def forward(
        ctx: Context,
        x: Any,
        w: Any,
        b: Any,
        *,
        stride: Pair,
        pads: Pads,
        dilation: Pair,
        relu: bool = False,
    ) -> Any:
        n, h, wd, _ = x.shape
        kh, kw, c, f = w.shape
        numpy = get_array_module(x) is np
        ho, wo, tile, cols_bytes = _layout(x.shape, x.dtype, w.shape, stride, pads, dilation, numpy)
        xpad = pad_images(x, pads)
        w2 = w.reshape(kh * kw * c, f)
        wt = w2 if tile == 1 else tiled_weight(w, tile, stride, dilation)
        small = cols_bytes <= _CHUNK_BYTES

        def finish(rows: Any) -> None:  # bias and ReLU on a block of rows, still in cache
            if b is not None:
                add_to_rows(rows.reshape(-1, f), b)
            if relu:
                relu_(rows)

        if not any(ctx.needs_input_grad) and small and numpy:
            # Inference, columns that fit in cache: one unfold, one GEMM, bias and ReLU.
            y = im2col(xpad, (kh, kw), stride, dilation, (ho, wo), tile) @ wt
            finish(y)
            return y.reshape(n, ho, wo, f)
        keep_cols = c == 1 or small or not numpy
        if ctx.needs_input_grad[1] and keep_cols:
            # Training, small columns: keep the whole column matrix for dW = colsᵀ·dY.
            cols = im2col(xpad, (kh, kw), stride, dilation, (ho, wo), tile)
            y = (cols @ wt).reshape(-1, f)
            if b is not None:
                add_to_rows(y, b)
            if relu:
                fused_relu(ctx, y)  # keeps the mask y > 0 for backward
        else:
            # Inference, or columns too big to keep (kh·kw times the input): unfold a few
            # images at a time into one reused buffer. Training keeps the padded input instead
            # and unfolds it again, chunk by chunk, for dW in backward — in-cache copies
            # rather than a column matrix written to memory and read back.
            cols = xpad if ctx.needs_input_grad[1] else None
            y = _conv_in_chunks(xpad, wt, (kh, kw), stride, dilation, (ho, wo), finish, tile)
            if relu and any(ctx.needs_input_grad):  # backward's ReLU' = 1 where y > 0
                ctx.relu_mask = y > 0
        ctx.save_for_backward(cols, w2 if ctx.needs_input_grad[0] else None)
        ctx.x_hw, ctx.padded_shape, ctx.w_shape, ctx.tile = (h, wd), xpad.shape, w.shape, tile
        ctx.stride, ctx.pads, ctx.dilation, ctx.out_hw = stride, pads, dilation, (ho, wo)
        return y.reshape(n, ho, wo, f)

    @staticmethod
    def backward(ctx: Context, grad: Any) -> tuple[Any, Any, Any]:
        cols, w2 = ctx.saved
        f = ctx.w_shape[3]
        grad = fused_relu_grad(ctx, grad)
        gy = grad.reshape(-1, f)  # (N·Ho·Wo, F); copies only if grad is not contiguous
        gx = gw = gb = None
        if ctx.needs_input_grad[0]:
            gx = _input_grad_as_conv(grad, w2, ctx)
            if gx is None:
                gx = crop_images(_input_grad_by_taps(gy, w2, ctx), ctx.pads, ctx.x_hw)
        if ctx.needs_input_grad[1]:
            gt = gy.reshape(-1, ctx.tile * f)  # a row per tile of output pixels
            if cols.ndim == 4:  # the padded input was kept: unfold it again, a chunk at a time
                gw = _weight_grad_in_chunks(cols, gt, ctx)
            else:
                gw = cols.T @ gt
            gw = untiled_weight_grad(gw, ctx.w_shape, ctx.tile, ctx.stride, ctx.dilation)
        if ctx.needs_input_grad[2]:
            gb = sum_rows(gy)
        return gx, gw, gb


_CHUNK_BYTES = 4 << 20  # a column buffer of ~4 MiB stays in cache and is allocated once


@functools.lru_cache(maxsize=512)
def _layout(
    x_shape: tuple,
    dtype: Any,
    w_shape: tuple,
    stride: Pair,
    pads: Pads,
    dilation: Pair,
    numpy: bool,
) -> tuple[int, int, int, int]:
    """The output size, the output tile (``output_tile``) and the column matrix's bytes of one
    convolution's shapes: decided once per shape, since at batch 1 deciding costs about as
    much as the arithmetic. Shape: x (N, H, W, C), w (kh, kw, C, F)."""
    n, h, wd, _ = x_shape
    kh, kw, c, f = w_shape
    (top, bottom), (left, right) = pads
    ho, wo = _windows_hw((n, h + top + bottom, wd + left + right), (kh, kw), stride, dilation)
    tile = output_tile(c, f, (kh, kw), wo) if numpy else 1
    k = kh * _row_span(kw, stride[1], dilation[1], tile) * c if tile > 1 else kh * kw * c
    return ho, wo, tile, n * ho * (wo // tile) * k * np.dtype(dtype).itemsize


_buffers = threading.local()  # per thread: a server may run several predictions at once


def _column_chunks(
    xpad: Any, kernel: Pair, stride: Pair, dilation: Pair, out_hw: Pair, tile: int = 1
) -> Iterator[tuple[slice, Any]]:
    """The column matrix of ``xpad``, a few images at a time: yields (rows, cols), where
    ``cols`` holds rows ``rows`` of ``im2col(xpad, ..., tile)``, unfolded into this thread's
    reused buffer of ≈ ``_CHUNK_BYTES`` (valid until the next chunk)."""
    n, c = xpad.shape[0], xpad.shape[3]
    (kh, kw), (ho, wo) = kernel, out_hw
    per_image, k = ho * (wo // tile), kh * _row_span(kw, stride[1], dilation[1], tile) * c
    step = max(1, min(n, _CHUNK_BYTES // max(per_image * k * xpad.dtype.itemsize, 1)))
    buffer = getattr(_buffers, "cols", None)
    if buffer is None or buffer.shape != (step * per_image, k) or buffer.dtype != xpad.dtype:
        buffer = np.empty((step * per_image, k), dtype=xpad.dtype)
        _buffers.cols = buffer
    for start in range(0, n, step):
        stop = min(start + step, n)
        windows = im2col_view(xpad[start:stop], kernel, stride, dilation, out_hw, tile)
        cols = buffer[: (stop - start) * per_image]
        copy_windows(cols.reshape(windows.shape), windows)
        yield slice(start * per_image, stop * per_image), cols


def _weight_grad_in_chunks(xpad: Any, gy: Any, ctx: Context) -> Any:
    """dW = colsᵀ·dY with the columns unfolded again from the kept padded input, a few images
    at a time into the reused buffer: Σ over chunks of colsᵢᵀ·dYᵢ. Shape: (kh·kw·C, F), or
    (kh·S·C, tile·F) for tiled rows (``tiled_weight``)."""
    kh, kw, c, _ = ctx.w_shape
    span = _row_span(kw, ctx.stride[1], ctx.dilation[1], ctx.tile)
    gw = np.zeros((kh * span * c, gy.shape[1]), dtype=np.result_type(xpad, gy))
    part = np.empty_like(gw)
    chunks = _column_chunks(xpad, (kh, kw), ctx.stride, ctx.dilation, ctx.out_hw, ctx.tile)
    for rows, cols in chunks:
        np.matmul(cols.T, gy[rows], out=part)
        gw += part
    return gw


def _conv_in_chunks(
    xpad: Any,
    w2: Any,
    kernel: Pair,
    stride: Pair,
    dilation: Pair,
    out_hw: Pair,
    finish: Callable[[Any], None] | None = None,
    tile: int = 1,
) -> Any:
    """The forward GEMM of im2col, a few images at a time, for when the columns are not kept
    (inference, a frozen layer, or training, which unfolds them again for dW in backward: see
    ``_weight_grad_in_chunks``). One full column matrix can be hundreds of megabytes —
    a fresh allocation every call costs page faults and evicts the caches; a small buffer
    reused across chunks and calls does not. ``finish`` (bias, ReLU) runs on each chunk's
    output rows while they are still in cache, instead of another pass over the whole output.
    Same numbers as ``finish(im2col(xpad, ..., tile) @ w2)``."""
    xp = get_array_module(xpad)
    n = xpad.shape[0]
    (ho, wo), k = out_hw, w2.shape[0]
    per_image = ho * (wo // tile) * k * xpad.dtype.itemsize
    if _CHUNK_BYTES // max(per_image, 1) >= n or xp is not np:
        y = im2col(xpad, kernel, stride, dilation, out_hw, tile) @ w2
        if finish is not None:
            finish(y)
        return y
    y = np.empty((n * ho * (wo // tile), w2.shape[1]), dtype=np.result_type(xpad, w2))
    for rows, cols in _column_chunks(xpad, kernel, stride, dilation, out_hw, tile):
        block = y[rows]
        np.matmul(cols, w2, out=block)
        if finish is not None:
            finish(block)
    return y


def _input_grad_by_taps(gy: Any, w2: Any, ctx: Context) -> Any:
    """dx of the padded input, ``col2im(dY·Wᵀ)``, computed one kernel tap at a time.

    One batched product dY·W[i, j]ᵀ gives, for each of the kh·kw taps, a contiguous
    (N, Ho, Wo, C) block, added onto the pixels that tap read. The rows of dY·Wᵀ interleave the
    taps C numbers at a time, so col2im's additions run over C numbers at once; here they run
    over whole image rows (4× faster on LeNet-5's second convolution, C = 6).

    Shape: gy (N·Ho·Wo, F), w2 (kh·kw·C, F) -> (N, Hp, Wp, C).
    """
    kh, kw, c, f = ctx.w_shape
    if kh * kw == 1:  # col2im has a shortcut for 1×1 kernels
        return col2im(gy @ w2.T, ctx.padded_shape, (kh, kw), ctx.stride, ctx.dilation, ctx.out_hw)
    xp = get_array_module(gy)
    (ho, wo), (dh, dw) = ctx.out_hw, ctx.dilation
    per_tap = xp.matmul(gy, w2.reshape(kh * kw, c, f).transpose(0, 2, 1))  # (kh·kw, N·Ho·Wo, C)
    out = xp.zeros(ctx.padded_shape, dtype=gy.dtype)
    for i in range(kh):
        for j in range(kw):
            block = per_tap[i * kw + j].reshape(-1, ho, wo, c)
            out[_offset(i * dh, j * dw, ctx.stride, ctx.out_hw)] += block
    return out


def _input_grad_as_conv(grad: Any, w2: Any, ctx: Context) -> Any:
    """dx for a stride-1 convolution as another convolution: the output gradient, padded,
    correlated with the kernel flipped in space and with C and F swapped — one im2col copy and
    one GEMM instead of col2im's kh·kw read-modify-write passes. Returns None where this does
    not apply (strides > 1, or padding wider than the kernel), and col2im is used instead.

    Why it works: x[p] feeds y[p − i·d] through tap i, so dx[p] = Σ_i dy[p − i·d]·w[i], a
    correlation of dy with the flipped kernel.
    """
    kh, kw, c, f = ctx.w_shape
    (dh, dw), (top, bottom), (left, right) = ctx.dilation, *ctx.pads
    span_h, span_w = (kh - 1) * dh, (kw - 1) * dw
    before_after = (span_h - top, span_h - bottom, span_w - left, span_w - right)
    if ctx.stride != (1, 1) or min(before_after) < 0 or f > 2 * c:
        # col2im moves N·Ho·Wo·kh·kw·C numbers, this path N·H·W·kh·kw·F: with many more
        # filters than channels (LeNet's 6 -> 16) col2im is the cheaper one.
        return None
    flipped = w2.reshape(kh, kw, c, f)[::-1, ::-1].transpose(0, 1, 3, 2).reshape(kh * kw * f, c)
    h, w = ctx.x_hw
    gpad = pad_images(
        grad, ((before_after[0], before_after[1]), (before_after[2], before_after[3]))
    )
    gx = _conv_in_chunks(gpad, flipped, (kh, kw), (1, 1), ctx.dilation, (h, w))
    return gx.reshape(grad.shape[0], h, w, c)


# ------------------------------------------------------------------ functional API
def check_image(x: Any, where: str) -> None:
    """``x`` must be a floating (N, H, W, C) batch of images."""
    shape = tuple(x.shape)
    if len(shape) != 4:
        hint = (
            "Add a batch axis, e.g. x[None] (or, for a batch of grayscale images, a channel "
            "axis: x[..., None])."
            if len(shape) == 3
            else "Reshape it to (batch, height, width, channels)."
        )
        raise ValueError(
            f"{where}: expected a 4-D input (batch, height, width, channels), received shape "
            f"{shape}. {hint}"
        )
    if not is_float(x.dtype):
        raise TypeError(
            f"{where}: expected a floating-point input. Expected dtype float32, received dtype "
            f"{x.dtype} (input shape {shape}). Convert it, e.g. x.astype('float32') / 255."
        )


def conv2d(
    x: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: int | Pair = 1,
    padding: PaddingArg = "valid",
    dilation: int | Pair = 1,
    relu: bool = False,
) -> Tensor:
    """2-D convolution (cross-correlation, like every DL framework) of a batch of images.

    Each of the F filters slides over the image in steps of ``stride``, reading pixels
    ``dilation`` apart, and at each position outputs the dot product of the filter with the
    patch under it, plus its bias.

    Args:
        x: images, channels-last.
        weight: filters, Keras layout (kh, kw, in_channels, out_channels).
        bias: one number per filter, or None.
        stride: step between windows, an int or (sh, sw).
        padding: "valid" (none), "same" (TensorFlow's: output size ceil(H / stride)), an int,
            (ph, pw) or ((top, bottom), (left, right)) zero pixels.
        dilation: spacing between the kernel's taps, an int or (dh, dw).
        relu: also apply ReLU, max(0, ·), in the same op: the same numbers and gradients as
            ``relu(conv2d(...))`` with one pass and one array fewer (``Conv2D(...,
            activation="relu")`` uses it).

    Shape:
        x (N, H, W, C), weight (kh, kw, C, F), bias (F,) -> (N, Ho, Wo, F), with
        ``(Ho, Wo) = conv_output_shape((H, W), (kh, kw), stride, padding, dilation)``.

    Example:
        >>> y = conv2d(Tensor(np.ones((1, 5, 5, 3))), Tensor(np.ones((3, 3, 3, 8))), padding="same")
        >>> y.shape
        (1, 5, 5, 8)
    """
    check_image(x, "conv2d")
    ws = tuple(weight.shape)
    if len(ws) != 4:
        raise ValueError(
            f"conv2d: expected a 4-D weight (kernel_height, kernel_width, in_channels, "
            f"out_channels), received shape {ws}. A PyTorch weight (out, in, kh, kw) becomes "
            f"one with w.transpose(2, 3, 1, 0)."
        )
    xs = tuple(x.shape)
    if xs[3] != ws[2]:
        raise ValueError(
            f"conv2d: input has {xs[3]} channel{'s' if xs[3] != 1 else ''} but the weight "
            f"expects {ws[2]}. Expected x.shape[3] == weight.shape[2], received input shape "
            f"{xs} and weight shape {ws}. Convert the images (e.g. grayscale to RGB) or use a "
            f"weight of shape {(ws[0], ws[1], xs[3], ws[3])}."
        )
    if bias is not None and tuple(bias.shape) != (ws[3],):
        raise ValueError(
            f"conv2d: bias does not match the weight's {ws[3]} filters. Expected shape "
            f"({ws[3]},), received {tuple(bias.shape)}. Give one bias per output channel."
        )
    for name, a in (("weight", weight), ("bias", bias)):
        if a is not None and a.dtype != x.dtype:
            raise TypeError(
                f"conv2d: input and {name} must have the same dtype. Expected {x.dtype} (the "
                f"input's), received {name} dtype {a.dtype}. Convert one of them with "
                f".astype(...)."
            )
    try:
        s, pads, d = _plan(xs, ws[:2], stride, padding, dilation)
    except TypeError as err:
        if "unhashable" not in str(err):
            raise
        s, pads, d = _plan.__wrapped__(xs, ws[:2], stride, padding, dilation)
    return Conv2DOp.apply(x, weight, bias, stride=s, pads=pads, dilation=d, relu=relu)


@functools.lru_cache(maxsize=512)
def _plan(xs: tuple, khw: tuple, stride: Any, padding: Any, dilation: Any) -> tuple:
    """Checked stride, resolved padding and dilation for one input shape. A layer calls conv2d
    with the same arguments every step, so the checks run once per shape (a cache), not on
    every batch — at batch 1 they would cost more than the arithmetic."""
    s = check_int_pair("conv2d", "stride", stride)
    d = check_int_pair("conv2d", "dilation", dilation)
    mode = check_padding("conv2d", padding)
    output_hw("conv2d", xs[1:3], khw, s, mode, d, input_shape=xs)
    return s, resolve_padding(xs[1:3], khw, s, mode, d), d
