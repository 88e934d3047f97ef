"""Independent NumPy references for the tests: the textbook definitions as plain loops.

Slow and obvious on purpose. Nothing here imports glassnet, so a bug in an op cannot hide in its
own reference (Chainer's warning about self-referential tests; Keras's ``np_conv2d``).
All functions take and return NumPy arrays in channels-last layout (N, H, W, C).
"""

from __future__ import annotations

import math

import numpy as np


def as_pair(v: int | tuple[int, int]) -> tuple[int, int]:
    return (v, v) if isinstance(v, int) else (int(v[0]), int(v[1]))


def same_padding(size: int, kernel: int, stride: int, dilation: int = 1) -> tuple[int, int]:
    """TensorFlow's documented "SAME" rule for one axis: out = ceil(in / stride) and the padding
    needed for that, split with the odd pixel at the end."""
    out = math.ceil(size / stride)
    effective = dilation * (kernel - 1) + 1
    total = max(0, (out - 1) * stride + effective - size)
    return total // 2, total - total // 2


def explicit_pads(hw, kernel, stride, padding, dilation=(1, 1)):
    """Any padding argument as ((top, bottom), (left, right))."""
    if padding == "valid":
        return (0, 0), (0, 0)
    if padding == "same":
        return tuple(same_padding(hw[a], kernel[a], stride[a], dilation[a]) for a in (0, 1))
    if isinstance(padding, int):
        return (padding, padding), (padding, padding)
    if isinstance(padding[0], int):
        return (padding[0], padding[0]), (padding[1], padding[1])
    return tuple(tuple(p) for p in padding)


def conv2d(x, w, b=None, stride=1, padding="valid", dilation=1):
    """y[n, i, j, f] = Σ_{a, b, c} xpad[n, i·sh + a·dh, j·sw + b·dw, c] · w[a, b, c, f] + bias[f],
    one output position at a time."""
    kh, kw, _, f = w.shape
    s, d = as_pair(stride), as_pair(dilation)
    (top, bottom), (left, right) = explicit_pads(x.shape[1:3], (kh, kw), s, padding, d)
    xpad = np.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0)))
    ho = (xpad.shape[1] - d[0] * (kh - 1) - 1) // s[0] + 1
    wo = (xpad.shape[2] - d[1] * (kw - 1) - 1) // s[1] + 1
    y = np.zeros((x.shape[0], ho, wo, f), dtype=np.result_type(x, w))
    for i in range(ho):
        for j in range(wo):
            patch = xpad[
                :,
                i * s[0] : i * s[0] + d[0] * (kh - 1) + 1 : d[0],
                j * s[1] : j * s[1] + d[1] * (kw - 1) + 1 : d[1],
                :,
            ]  # (N, kh, kw, C)
            y[:, i, j, :] = np.tensordot(patch, w, axes=([1, 2, 3], [0, 1, 2]))
    if b is not None:
        y += b
    return y


def conv2d_grads(x, w, grad_out, stride=1, padding="valid", dilation=1):
    """The gradients (dx, dw, db) of Σ grad_out · conv2d(x, w, b), one output position at a
    time: that position's patch adds patch ⊗ grad_out to dw, and grad_out · w back onto the
    patch's pixels of dx (padding cropped off at the end)."""
    kh, kw, _, _ = w.shape
    s, d = as_pair(stride), as_pair(dilation)
    (top, bottom), (left, right) = explicit_pads(x.shape[1:3], (kh, kw), s, padding, d)
    xpad = np.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0)))
    gxpad, gw = np.zeros_like(xpad), np.zeros_like(w)
    for i in range(grad_out.shape[1]):
        for j in range(grad_out.shape[2]):
            rows = slice(i * s[0], i * s[0] + d[0] * (kh - 1) + 1, d[0])
            cols = slice(j * s[1], j * s[1] + d[1] * (kw - 1) + 1, d[1])
            g = grad_out[:, i, j, :]  # (N, F)
            gw += np.tensordot(xpad[:, rows, cols, :], g, axes=([0], [0]))
            gxpad[:, rows, cols, :] += np.tensordot(g, w, axes=([1], [3]))
    gx = gxpad[:, top : top + x.shape[1], left : left + x.shape[2], :]
    return gx, gw, grad_out.sum(axis=(0, 1, 2))


def _pool_windows(x, pool_size, stride, padding, fill):
    """Yield (i, j, window) with window (N, ph, pw, C) of x padded with ``fill``."""
    p = as_pair(pool_size)
    s = p if stride is None else as_pair(stride)
    (top, bottom), (left, right) = explicit_pads(x.shape[1:3], p, s, padding)
    xpad = np.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0)), constant_values=fill)
    ho = (xpad.shape[1] - p[0]) // s[0] + 1
    wo = (xpad.shape[2] - p[1]) // s[1] + 1
    for i in range(ho):
        for j in range(wo):
            yield i, j, xpad[:, i * s[0] : i * s[0] + p[0], j * s[1] : j * s[1] + p[1], :]


def _out_hw(x, pool_size, stride, padding):
    p = as_pair(pool_size)
    s = p if stride is None else as_pair(stride)
    if padding == "same":
        return math.ceil(x.shape[1] / s[0]), math.ceil(x.shape[2] / s[1])
    return (x.shape[1] - p[0]) // s[0] + 1, (x.shape[2] - p[1]) // s[1] + 1


def max_pool2d(x, pool_size=2, stride=None, padding="valid"):
    """The maximum of each window; "same" padding never wins (it is -inf)."""
    ho, wo = _out_hw(x, pool_size, stride, padding)
    y = np.empty((x.shape[0], ho, wo, x.shape[3]), dtype=x.dtype)
    for i, j, window in _pool_windows(x, pool_size, stride, padding, -np.inf):
        y[:, i, j, :] = window.max(axis=(1, 2))
    return y


def avg_pool2d(x, pool_size=2, stride=None, padding="valid"):
    """The mean of each window over its real cells only (padding marked NaN and skipped)."""
    ho, wo = _out_hw(x, pool_size, stride, padding)
    y = np.empty((x.shape[0], ho, wo, x.shape[3]), dtype=x.dtype)
    for i, j, window in _pool_windows(x, pool_size, stride, padding, np.nan):
        y[:, i, j, :] = np.nanmean(window, axis=(1, 2))
    return y


def max_pool2d_grad(x, grad_out, pool_size=2, stride=None, padding="valid"):
    """d(Σ grad_out · max_pool2d(x))/dx with each window's gradient on its FIRST maximum in
    row-major window order; loops over windows, batch items and channels."""
    p = as_pair(pool_size)
    s = p if stride is None else as_pair(stride)
    (top, _), (left, _) = explicit_pads(x.shape[1:3], p, s, padding)
    gx = np.zeros_like(x)
    for i, j, window in _pool_windows(x, pool_size, stride, padding, -np.inf):
        for n in range(x.shape[0]):
            for c in range(x.shape[3]):
                a, b = np.unravel_index(np.argmax(window[n, :, :, c]), p)  # first max
                gx[n, i * s[0] + a - top, j * s[1] + b - left, c] += grad_out[n, i, j, c]
    return gx


def avg_pool2d_grad(x, grad_out, pool_size=2, stride=None, padding="valid"):
    """d(Σ grad_out · avg_pool2d(x))/dx: each window's gradient shared evenly by its real
    cells (padding takes none); loops over windows."""
    p = as_pair(pool_size)
    s = p if stride is None else as_pair(stride)
    (top, bottom), (left, right) = explicit_pads(x.shape[1:3], p, s, padding)
    real = np.pad(np.ones(x.shape[1:3]), ((top, bottom), (left, right)))
    gxpad = np.zeros((x.shape[0], *real.shape, x.shape[3]), dtype=x.dtype)
    for i in range(grad_out.shape[1]):
        for j in range(grad_out.shape[2]):
            rows, cols = slice(i * s[0], i * s[0] + p[0]), slice(j * s[1], j * s[1] + p[1])
            cells = real[rows, cols]
            share = grad_out[:, i, j, :] / cells.sum()  # (N, C)
            gxpad[:, rows, cols, :] += cells[None, :, :, None] * share[:, None, None, :]
    return gxpad[:, top : top + x.shape[1], left : left + x.shape[2], :]


# ------------------------------------------------------------------ volumes (N, D, H, W, C)
def as_triple(v: int | tuple[int, int, int]) -> tuple[int, int, int]:
    return (v, v, v) if isinstance(v, int) else (int(v[0]), int(v[1]), int(v[2]))


def volume_pads(dhw, kernel, stride, padding, dilation=(1, 1, 1)):
    """ "valid" or "same" as ((front, back), (top, bottom), (left, right))."""
    if padding == "valid":
        return ((0, 0),) * 3
    return tuple(same_padding(dhw[a], kernel[a], stride[a], dilation[a]) for a in range(3))


def conv3d(x, w, b=None, stride=1, padding="valid", dilation=1):
    """y[n, i, j, k, f] = Σ xpad[n, i·sd + a·dd, j·sh + b·dh, k·sw + c·dw, ch] · w[a, b, c, ch, f]
    (+ bias[f]), one output position and one kernel tap at a time."""
    kd, kh, kw, _, f = w.shape
    s, d = as_triple(stride), as_triple(dilation)
    pads = volume_pads(x.shape[1:4], (kd, kh, kw), s, padding, d)
    xpad = np.pad(x, ((0, 0), *pads, (0, 0)))
    out = [(xpad.shape[1 + a] - d[a] * (k - 1) - 1) // s[a] + 1 for a, k in enumerate((kd, kh, kw))]
    y = np.zeros((x.shape[0], *out, f), dtype=np.result_type(x, w))
    for i in range(out[0]):
        for j in range(out[1]):
            for k in range(out[2]):
                for a in range(kd):
                    for bb in range(kh):
                        for c in range(kw):
                            pixel = xpad[
                                :, i * s[0] + a * d[0], j * s[1] + bb * d[1], k * s[2] + c * d[2]
                            ]  # (N, C)
                            y[:, i, j, k, :] += pixel @ w[a, bb, c]
    if b is not None:
        y += b
    return y


def pool3d(kind, x, pool_size=2, stride=None, padding="valid"):
    """The maximum or the mean (over its real cells only, as Keras) of each window of a volume,
    window by window."""
    p = as_triple(pool_size)
    s = p if stride is None else as_triple(stride)
    pads = volume_pads(x.shape[1:4], p, s, padding)
    fill = -np.inf if kind == "max" else np.nan
    xpad = np.pad(x, ((0, 0), *pads, (0, 0)), constant_values=fill)
    out = [(xpad.shape[1 + a] - p[a]) // s[a] + 1 for a in range(3)]
    y = np.empty((x.shape[0], *out, x.shape[4]), dtype=x.dtype)
    reduce = np.max if kind == "max" else np.nanmean
    for i in range(out[0]):
        for j in range(out[1]):
            for k in range(out[2]):
                window = xpad[
                    :,
                    i * s[0] : i * s[0] + p[0],
                    j * s[1] : j * s[1] + p[1],
                    k * s[2] : k * s[2] + p[2],
                ]
                y[:, i, j, k] = reduce(window, axis=(1, 2, 3))
    return y
