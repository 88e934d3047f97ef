"""The tuned kernels behind ``ops.conv``, and the ``ConvPlan`` that picks them once per shape.

``conv.py`` reads as the textbook (pad, im2col, one matrix product, col2im); here is how each
step runs fast: a row per tile of output pixels for thin layers, short window rows copied
whole, the column matrix a few images at a time in a reused buffer, two ways to the input
gradient. Kernels take ``conv.im2col_view``'s windows, so this module imports nothing of conv.
"""

from __future__ import annotations

import functools
import math
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from glassnet.backend import copy_by_pixel, get_array_module
from glassnet.checks import Pads, Pair

_KEEP_BYTES = 4 << 20  # training keeps a column matrix up to this size whole, for dW
_CHUNK_BYTES = 2 << 20  # larger ones run in chunks of about this, reused and kept in cache
_SHORT_ROW_BYTES = 256  # window rows up to this long are copied as one element each
_TILE_TAPS = 75  # kh·kw·C up to this (a 5×5 kernel over RGB, 3×3 over 8 channels) may tile
_buffers = threading.local()  # per thread: a server may run several predictions at once


# ------------------------------------------------------------------ the plan
@dataclass(frozen=True)
class ConvPlan:
    """How one convolution's shapes run, decided once (``conv_plan``): at batch 1 deciding
    costs about as much as the arithmetic. Shapes: x (N, H, W, C), w (kh, kw, C, F); for a
    volume (N, D, H, W, C), w (kd, kh, kw, C, F) the plan is the textbook
    (``_textbook_plan``) and the pairs below are triples."""

    x_shape: tuple
    w_shape: tuple
    stride: Pair
    pads: Pads
    dilation: Pair
    out_hw: Pair  # (Ho, Wo)
    padded_shape: tuple  # (N, Hp, Wp, C)
    geometry: tuple  # (kernel, stride, dilation, out_hw): the windows of im2col and col2im
    tile: int  # output pixels per row of the column matrix (``output_tile``)
    windows: tuple  # the geometry of a row per tile: kh rows of S pixels, S·C wide each
    chunk: int | None  # images per chunk of the column matrix; None: all at once
    keep_cols: bool  # training keeps the column matrix for dW, else re-unfolds the windows
    dx_pads: Pads | None  # dx as a convolution of dY padded so (stride 1); None: col2im
    dx_windows: tuple  # that convolution's geometry
    dx_chunk: int | None  # and its images per chunk

    def weight(self, w: Any) -> Any:
        """w (kh, kw, C, F) as the GEMM's (kh·kw·C, F), or spread for tiles (``tiled_weight``)."""
        if self.tile == 1:
            return w.reshape(-1, w.shape[-1])
        return tiled_weight(w, self.tile, self.stride, self.dilation)

    def im2col(self, windows: Any) -> Any:
        """The column matrix of ``windows`` (``self.windows``' view): (N·Ho·Wo / tile, kh·S·C)."""
        return columns(windows, self.tile)

    def product(self, cols: Any, wt: Any) -> Any:
        """``cols @ wt`` for a column matrix the op keeps for dW (``keep_cols``): the forward
        GEMM as a stage of its own. Shape: (N·Ho·Wo / tile, kh·S·C) -> (N·Ho·Wo / tile, tile·F)."""
        return cols @ wt

    def forward(self, windows: Any, wt: Any, finish: Callable[[Any], None]) -> Any:
        """``finish(im2col(windows) @ wt)``, a chunk of images at a time where the columns are
        large (``_conv_in_chunks``). Shape: (N·Ho·Wo / tile, tile·F)."""
        if self.chunk is not None:
            return _conv_in_chunks(windows, wt, self.chunk, finish)
        y = columns(windows, self.tile) @ wt
        finish(y)
        return y

    def weight_grad(self, cols: Any, gy: Any) -> Any:
        """dW = colsᵀ·dY, (kh, kw, C, F): from the kept column matrix, or from the kept windows
        unfolded again chunk by chunk; for tiles, the spread summed back. gy (N·Ho·Wo, F)."""
        gt = gy.reshape(-1, self.tile * self.w_shape[-1])  # a row per tile of output pixels
        gw = cols.T @ gt if cols.ndim == 2 else _weight_grad_in_chunks(cols, gt, self.chunk)
        return untiled_weight_grad(gw, self.w_shape, self.tile, self.stride, self.dilation)

    def input_grad_cols(self, gy: Any, w2: Any) -> Any:
        """dY·Wᵀ for col2im, one batched product per kernel tap: (N, Ho, Wo, kh, kw, C), a view
        of (kh·kw, N·Ho·Wo, C) contiguous blocks. The rows of a single dY·Wᵀ interleave the
        taps C numbers at a time, so col2im's additions would run over C numbers at once;
        here each tap adds whole image rows. Shape: gy (N·Ho·Wo, F), w2 (kh·kw·C, F); for a
        volume, (N, Do, Ho, Wo, kd, kh, kw, C) the same way."""
        *kernel, c, f = self.w_shape
        taps, rank = math.prod(kernel), len(kernel)
        if taps == 1:
            return gy @ w2.T
        per_tap = get_array_module(gy).matmul(gy, w2.reshape(taps, c, f).transpose(0, 2, 1))
        # (*kernel, N, *out, C) -> (N, *out, *kernel, C)
        order = (rank, *range(rank + 1, 2 * rank + 1), *range(rank), 2 * rank + 1)
        return per_tap.reshape(*kernel, self.x_shape[0], *self.out_hw, c).transpose(order)

    def input_grad_as_conv(self, windows: Any, w2: Any) -> Any:
        """dx for a stride-1 convolution as another one: ``windows`` of dY padded by
        ``dx_pads`` against the kernel flipped in space, C and F swapped — one im2col copy and
        one GEMM instead of col2im's kh·kw read-modify-write passes. Why: x[p] feeds
        y[p − i·d] through tap i, so dx[p] = Σ_i dy[p − i·d]·w[i]. Returns (N, H, W, C)."""
        kh, kw, c, f = self.w_shape
        flipped = w2.reshape(kh, kw, c, f)[::-1, ::-1].transpose(0, 1, 3, 2).reshape(-1, c)
        if self.dx_chunk is not None:
            return _conv_in_chunks(windows, flipped, self.dx_chunk).reshape(self.x_shape)
        return (columns(windows) @ flipped).reshape(self.x_shape)


def conv_plan(x: Any, w: Any, stride: Pair, pads: Pads, dilation: Pair) -> ConvPlan:
    """The plan for convolving images like ``x`` with ``w``, made once per shape."""
    numpy = get_array_module(x) is np
    budgets = (_KEEP_BYTES, _CHUNK_BYTES)
    return _make_plan(x.shape, x.dtype, w.shape, stride, pads, dilation, numpy, budgets)


def _chunk(n: int, image_bytes: int, numpy: bool, budgets: tuple[int, int]) -> int | None:
    """Images per chunk of a column matrix: None where all of them fit the first of
    ``budgets`` (bytes; or the arrays are not NumPy's), else as many as fit the second."""
    keep, chunk = budgets
    if not numpy or keep // max(image_bytes, 1) >= n:
        return None
    return max(1, min(n, chunk // max(image_bytes, 1)))


@functools.lru_cache(maxsize=512)
def _make_plan(
    x_shape: tuple,
    dtype: Any,
    w_shape: tuple,
    stride: Pair,
    pads: Pads,
    dilation: Pair,
    numpy: bool,
    budgets: tuple[int, int],
) -> ConvPlan:
    if len(x_shape) != 4:  # not images: the textbook steps, no tuned kernels
        return _textbook_plan(x_shape, w_shape, stride, pads, dilation)
    n, h, wd, _ = x_shape
    kh, kw, c, f = w_shape
    (top, bottom), (left, right) = pads
    (sh, sw), (dh, dw), size = stride, dilation, np.dtype(dtype).itemsize
    hp, wp = h + top + bottom, wd + left + right
    ho, wo = (hp - (kh - 1) * dh - 1) // sh + 1, (wp - (kw - 1) * dw - 1) // sw + 1
    geometry = ((kh, kw), stride, dilation, (ho, wo))
    tile = output_tile(c, f, (kh, kw), wo) if numpy else 1
    windows = geometry
    if tile > 1:  # a tile's window: kh rows of S pixels, read whole, stepping tile pixels
        span = (tile - 1) * sw + (kw - 1) * dw + 1
        windows = ((kh, span), (sh, sw * tile), (dh, 1), (ho, wo // tile))
    (_, span), _, _, (_, per_row) = windows
    chunk = _chunk(n, ho * per_row * kh * span * c * size, numpy, budgets)
    span_h, span_w = (kh - 1) * dh, (kw - 1) * dw
    around = (span_h - top, span_h - bottom, span_w - left, span_w - right)
    # col2im moves N·Ho·Wo·kh·kw·C numbers, dx as a convolution N·H·W·kh·kw·F: with many more
    # filters than channels (LeNet's 6 -> 16) col2im is the cheaper one.
    as_conv = stride == (1, 1) and min(around) >= 0 and f <= 2 * c
    dx_pads = ((around[0], around[1]), (around[2], around[3])) if as_conv else None
    dx_chunk = _chunk(n, h * wd * kh * kw * f * size, numpy, budgets)
    return ConvPlan(
        x_shape, w_shape, stride, pads, dilation, (ho, wo), (n, hp, wp, c), geometry, tile,
        windows, chunk, c == 1 or chunk is None, dx_pads, ((kh, kw), (1, 1), dilation, (h, wd)),
        dx_chunk,
    )  # fmt: skip


def _textbook_plan(
    x_shape: tuple, w_shape: tuple, stride: tuple, pads: tuple, dilation: tuple
) -> ConvPlan:
    """The plan for a convolution over other than two spatial axes (volumes (N, D, H, W, C)):
    ``conv.py``'s textbook as written — the whole column matrix kept for dW, one GEMM each
    way, col2im for dx. The tuned kernels below are written for images only."""
    n, *sizes, c = x_shape
    kernel = w_shape[:-2]
    padded = tuple(size + b + a for size, (b, a) in zip(sizes, pads, strict=True))
    out = tuple(
        (p - (k - 1) * d - 1) // s + 1
        for p, k, s, d in zip(padded, kernel, stride, dilation, strict=True)
    )
    geometry = (kernel, stride, dilation, out)
    return ConvPlan(
        x_shape, w_shape, stride, pads, dilation, out, (n, *padded, c), geometry, 1, geometry,
        None, True, None, (), None,
    )  # fmt: skip


# ------------------------------------------------------------------ output tiles
def output_tile(c: int, f: int, kernel: Pair, out_w: int) -> int:
    """How many neighbouring output pixels of an image row one row of the column matrix
    serves: 1 (plain im2col) unless the layer has few taps (kh·kw·C ≤ 75) and few filters
    (F ≤ 32), as first layers do.

    There the GEMM is thin in both K and N (LeNet's first layer: 25 × 6) and runs far below
    the BLAS's speed, and im2col copies rows only kw·C numbers long. A row for ``tile`` pixels
    reads kh window rows of (tile − 1)·sw + (kw − 1)·dw + 1 pixels once, and the GEMM against
    ``tiled_weight`` gives their tile·F outputs at once, a less thin product. The largest tile
    up to 8 that divides the output width with tile·F ≤ max(48, 2F).
    """
    taps = kernel[0] * kernel[1]
    if taps == 1 or taps * c > _TILE_TAPS or f > 32:  # (a 1×1 kernel's columns are the image)
        return 1
    widest = max(48, 2 * f)
    return max(t for t in range(1, 9) if out_w % t == 0 and t * f <= widest)


def tiled_weight(w: Any, tile: int, stride: Pair, dilation: Pair) -> Any:
    """The weight for rows of ``tile`` output pixels: output pixel t of a tile takes tap (i, j)
    from pixel t·sw + j·dw of window row i, and zero from the others.

    Shape: w (kh, kw, C, F) -> (kh·S·C, tile·F), S = (tile − 1)·sw + (kw − 1)·dw + 1. The
    zeros cost multiplications, not accuracy; but an inf or NaN input then also makes NaN the
    outputs of its tile neighbours whose windows do not reach it.
    """
    kh, kw, c, f = w.shape
    sw, dw = stride[1], dilation[1]
    big = get_array_module(w).zeros((kh, (tile - 1) * sw + (kw - 1) * dw + 1, c, tile, f), w.dtype)
    for t in range(tile):
        big[:, t * sw : t * sw + (kw - 1) * dw + 1 : dw, :, t] = w
    return big.reshape(-1, tile * f)


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


# ------------------------------------------------------------------ copies
def columns(windows: Any, tile: int = 1) -> Any:
    """The column matrix of a window view (N, Ho, Wo, kh, kw, C): (N·Ho·Wo, kh·kw·C), the same
    numbers as ``conv.im2col``, copied the fastest way for the shape (a view for a 1×1 kernel
    with stride 1 on a contiguous image). ``tile``: the view's rows serve that many pixels.
    Windows of a volume (N, Do, Ho, Wo, kd, kh, kw, C) are reshaped as ``conv.im2col`` does."""
    if windows.ndim != 6:
        rank = (windows.ndim - 2) // 2
        rows = math.prod(windows.shape[: rank + 1])
        return windows.reshape(rows, math.prod(windows.shape[rank + 1 :]))
    n, ho, wo, kh, kw, c = windows.shape
    if c == 1 and kh * kw > 1 and tile == 1:
        return tap_plane_columns(windows)
    if kh * kw > 1 and _short_window_rows(windows):
        cols = np.empty((n * ho * wo, kh * kw * c), dtype=windows.dtype)
        copy_windows(cols.reshape(windows.shape), windows)
        return cols
    return windows.reshape(n * ho * wo, kh * kw * c)


def tap_plane_columns(windows: Any) -> Any:
    """``columns`` for one channel (grayscale images), where copying window by window would
    move one number at a time: one kernel tap at a time instead — whole (Ho, Wo) planes — into
    a (kh·kw, N·Ho·Wo) matrix, returned as its transpose, a view with the same numbers.
    Shape: windows (N, Ho, Wo, kh, kw, 1) -> (N·Ho·Wo, kh·kw)."""
    n, ho, wo, kh, kw, _ = windows.shape
    planes = get_array_module(windows).empty((kh, kw, n, ho, wo), dtype=windows.dtype)
    for i in range(kh):
        for j in range(kw):
            planes[i, j] = windows[:, :, :, i, j, 0]
    return planes.reshape(kh * kw, n * ho * wo).T


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


# ------------------------------------------------------------------ chunks
def _column_chunks(windows: Any, step: int) -> Iterator[tuple[slice, Any]]:
    """The column matrix of ``windows``, ``step`` images at a time: yields (rows, cols), where
    ``cols`` holds rows ``rows`` of ``columns(windows)``, unfolded into this thread's reused
    buffer (valid until the next chunk)."""
    n, ho, wo, kh, kw, c = windows.shape
    per_image, k = ho * wo, kh * kw * c
    buffer = getattr(_buffers, "cols", None)
    if buffer is None or buffer.shape != (step * per_image, k) or buffer.dtype != windows.dtype:
        buffer = np.empty((step * per_image, k), dtype=windows.dtype)
        _buffers.cols = buffer
    for start in range(0, n, step):
        part = windows[start : start + step]
        cols = buffer[: part.shape[0] * per_image]
        copy_windows(cols.reshape(part.shape), part)
        yield slice(start * per_image, (start + part.shape[0]) * per_image), cols


def _conv_in_chunks(
    windows: Any, w2: Any, step: int, finish: Callable[[Any], None] | None = None
) -> Any:
    """The forward GEMM of im2col, ``step`` images at a time, for columns too big to keep: one
    full column matrix can be hundreds of megabytes — a fresh allocation every call costs page
    faults and evicts the caches; a small buffer reused across chunks and calls does not.
    ``finish`` (bias, ReLU) runs on each chunk's output rows while they are still in cache.
    Same numbers as ``finish(columns(windows) @ w2)``."""
    n, ho, wo = windows.shape[:3]
    y = np.empty((n * ho * wo, w2.shape[1]), dtype=np.result_type(windows, w2))
    for rows, cols in _column_chunks(windows, step):
        block = y[rows]
        np.matmul(cols, w2, out=block)
        if finish is not None:
            finish(block)
    return y


def _weight_grad_in_chunks(windows: Any, gy: Any, step: int) -> Any:
    """dW = colsᵀ·dY with the columns unfolded again from the kept windows, ``step`` images at
    a time into the reused buffer: Σ over chunks of colsᵢᵀ·dYᵢ. Shape: (kh·kw·C, F), or
    (kh·S·C, tile·F) for a row per tile (``tiled_weight``)."""
    kh, kw, c = windows.shape[3:]
    gw = np.zeros((kh * kw * c, gy.shape[1]), dtype=np.result_type(windows, gy))
    part = np.empty_like(gw)
    for rows, cols in _column_chunks(windows, step):
        np.matmul(cols.T, gy[rows], out=part)
        gw += part
    return gw
