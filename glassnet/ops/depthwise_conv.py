"""Depthwise convolution: one small filter per input channel, channels never mixed.

A full convolution's every filter reads all C input channels; a depthwise one gives each
channel its own ``depth_multiplier`` filters, kh·kw numbers each, so it costs C·m·kh·kw
multiplications per pixel instead of C·F·kh·kw. Followed by a 1×1 convolution that mixes the
channels, it is the depthwise separable convolution of MobileNet and Xception.

There is no GEMM to hand the work to (each channel's product is kh·kw long), so the textbook
form is a sum over the kernel's taps: y += x[tap window] · w[tap], one vectorised
multiply-add over all pixels and channels per tap, kh·kw of them (no loop over pixels).

With one filter per channel (m = 1, MobileNet's case) the forward runs the same sum, tap by
tap in the same order, through a tuned kernel beside it (``_depthwise_rows``): a block of
output rows at a time, so the sum stays in cache over the taps, and each tap's window of a
row read as one long run of numbers against the weights repeated along the row.

Layout is channels-last and Keras's: images (N, H, W, C), kernels (kh, kw, C, m); output
channel c·m + j is channel c's j-th filter.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from glassnet.autograd import Context, Function
from glassnet.backend import get_array_module
from glassnet.checks import Pads, Pair, check_int_pair, check_padding
from glassnet.ops.conv import (
    check_image,
    crop_images,
    output_sizes,
    pad_images,
    resolve_padding,
    tap_index,
)
from glassnet.ops.shape import reshape
from glassnet.tensor import Tensor, add_to_rows, sum_rows

__all__ = ["depthwise_conv1d", "depthwise_conv2d"]


def depthwise_taps(xpad: Any, w: Any, stride: Pair, dilation: Pair, out_hw: Pair) -> Any:
    """The textbook forward sum: for each kernel tap (i, k) in turn, the window of ``xpad``
    it sees — one strided view over every output pixel — times the tap's weights, added up:
    y[..., c, j] = Σ_(i, k) xpad[tap window][..., c] · w[i, k, c, j].

    Shape: xpad (N, Hp, Wp, C), w (kh, kw, C, m) -> (N, Ho, Wo, C, m).
    """
    xp = get_array_module(xpad)
    kh, kw, c, m = w.shape
    dh, dw = dilation
    y = xp.zeros((xpad.shape[0], *out_hw, c, m), dtype=xpad.dtype)
    part = xp.empty_like(y)
    for i in range(kh):
        for k in range(kw):
            tap = xpad[tap_index((i * dh, k * dw), stride, out_hw)]  # (N, Ho, Wo, C)
            xp.multiply(tap[..., None], w[i, k], out=part)
            y += part
    return y


class DepthwiseConv2DOp(Function):
    """y[n, h, w, c·m + j] = Σ_(i, k) xpad[n, h·sh + i·dh, w·sw + k·dw, c] · w[i, k, c, j] (+ b).

    Shape: x (N, H, W, C), w (kh, kw, C, m), b (C·m,) or None -> (N, Ho, Wo, C·m). ``pads`` is
    ((top, bottom), (left, right)), resolved by ``depthwise_conv2d``. Backward, tap by tap:
    dxpad[tap window] += Σ_j dY[..., c, j]·w[tap, c, j]; dw[tap] = Σ_pixels x[tap window]·dY;
    db = Σ dY. The padded input is kept only if the weight wants a gradient.
    """

    @staticmethod
    def forward(
        ctx: Context, x: Any, w: Any, b: Any, *, stride: Pair, pads: Pads, dilation: Pair
    ) -> Any:
        xp = get_array_module(x)
        xpad = pad_images(x, pads)
        n, hp, wp, c = xpad.shape
        kh, kw, _, m = w.shape
        (sh, sw), (dh, dw) = stride, dilation
        out_hw = ((hp - (kh - 1) * dh - 1) // sh + 1, (wp - (kw - 1) * dw - 1) // sw + 1)
        if m == 1 and xp is np:  # the same sum, run fast
            y = _depthwise_rows(xpad, w[..., 0], stride, dilation, out_hw)
        else:
            y = depthwise_taps(xpad, w, stride, dilation, out_hw)
        y = y.reshape(n, *out_hw, c * m)
        if b is not None:
            add_to_rows(y.reshape(-1, c * m), b)
        ctx.save_for_backward(xpad if ctx.needs_input_grad[1] else None, w)
        ctx.geometry = (x.shape, pads, stride, dilation, out_hw, xpad.shape)
        return y

    @staticmethod
    def backward(ctx: Context, grad: Any) -> tuple[Any, Any, Any]:
        xpad, w = ctx.saved
        x_shape, pads, stride, dilation, out_hw, padded_shape = ctx.geometry
        xp = get_array_module(grad)
        kh, kw, c, m = w.shape
        (dh, dw) = dilation
        g5 = grad.reshape(*grad.shape[:3], c, m)
        gx = gw = gb = None
        if ctx.needs_input_grad[0]:
            gxpad = xp.zeros(padded_shape, dtype=grad.dtype)
            for i in range(kh):
                for k in range(kw):
                    # Σ_j dY[..., c, j]·w[i, k, c, j]: channel c's share of its filters' grads
                    part = g5[..., 0] * w[i, k, :, 0] if m == 1 else (g5 * w[i, k]).sum(axis=-1)
                    gxpad[tap_index((i * dh, k * dw), stride, out_hw)] += part
            gx = crop_images(gxpad, pads, x_shape[1:3])
        if ctx.needs_input_grad[1]:
            gw = xp.empty(w.shape, dtype=grad.dtype)
            for i in range(kh):
                for k in range(kw):
                    tap = xpad[tap_index((i * dh, k * dw), stride, out_hw)]
                    gw[i, k] = xp.einsum("nhwc,nhwcj->cj", tap, g5)
        if ctx.needs_input_grad[2]:
            gb = sum_rows(grad.reshape(-1, c * m))
        return gx, gw, gb


_BLOCK_BYTES = 256 << 10  # output rows per block: about this many bytes, kept in cache


def _depthwise_rows(xpad: Any, w: Any, stride: Pair, dilation: Pair, out_hw: Pair) -> Any:
    """The forward sum for one filter per channel, y = Σ_taps xpad[tap window] · w[tap], with
    the textbook's arithmetic in its order (so the same numbers), run fast:

    * a block of output rows at a time (about ``_BLOCK_BYTES``), so the running sum and each
      tap's product stay in cache across the kh·kw taps instead of streaming through memory;
    * a tap's window of an output row is Wo pixels of C channels: with the columns of ``xpad``
      dealt into ``sw`` phases (every sw-th pixel, one contiguous copy each; none for stride 1)
      it is one contiguous run of Wo·C numbers, multiplied by the tap's weights repeated Wo
      times, where NumPy would step C numbers at a time.

    Shape: xpad (N, Hp, Wp, C), w (kh, kw, C) -> (N, Ho, Wo, C).
    """
    n, c = xpad.shape[0], xpad.shape[-1]
    kh, kw, _ = w.shape
    (sh, sw), (dh, dw) = stride, dilation
    ho, wo = out_hw
    phases = [np.ascontiguousarray(xpad[:, :, p::sw]) for p in range(sw)]  # stride 1: xpad
    # (in the products' dtype, as the textbook's x·w: a float64 w is not rounded first)
    repeated = np.empty((kh, kw, wo, c), dtype=np.result_type(xpad.dtype, w.dtype))
    repeated[...] = w[:, :, None, :]
    repeated = repeated.reshape(kh, kw, wo * c)
    y = np.empty((n, ho, wo * c), dtype=xpad.dtype)
    rows = max(1, _BLOCK_BYTES // max(wo * c * xpad.itemsize, 1))
    part = np.empty((min(rows, ho), wo * c), dtype=xpad.dtype)
    for b in range(n):
        for top in range(0, ho, rows):
            bottom = min(ho, top + rows)
            block, scratch = y[b, top:bottom], part[: bottom - top]
            for i in range(kh):
                first = top * sh + i * dh  # the input row of tap row i for output row ``top``
                for k in range(kw):
                    phase, start = phases[(k * dw) % sw], (k * dw) // sw
                    tap = phase[b, first : first + (bottom - top - 1) * sh + 1 : sh]
                    tap = tap[:, start : start + wo].reshape(bottom - top, wo * c)
                    if i == 0 and k == 0:
                        np.multiply(tap, repeated[0, 0], out=block)
                    else:
                        np.multiply(tap, repeated[i, k], out=scratch)
                        block += scratch
    return y.reshape(n, ho, wo, c)


def depthwise_conv2d(
    x: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: int | Pair = 1,
    padding: Any = "valid",
    dilation: int | Pair = 1,
) -> Tensor:
    """Depthwise 2-D convolution: each input channel convolved with its own filters.

    Args:
        x: images, channels-last.
        weight: (kh, kw, in_channels, depth_multiplier), Keras's layout.
        bias: (in_channels·depth_multiplier,) or None.
        stride, dilation: an int or a pair.
        padding: "valid", "same" (TensorFlow's), or explicit pads as ``conv2d`` takes them.

    Shape:
        x (N, H, W, C), weight (kh, kw, C, m), bias (C·m,) -> (N, Ho, Wo, C·m), (Ho, Wo) as
        ``conv_output_shape``; output channel c·m + j is input channel c's j-th filter.
    """
    check_image(x, "depthwise_conv2d")
    xs, ws = tuple(x.shape), tuple(weight.shape)
    if len(ws) != 4 or ws[2] != xs[3]:
        raise ValueError(
            f"depthwise_conv2d: the weight must be (kh, kw, in_channels, depth_multiplier) "
            f"with in_channels == x.shape[3]. Received weight shape {ws} for input shape {xs}."
        )
    if bias is not None and tuple(bias.shape) != (ws[2] * ws[3],):
        raise ValueError(
            f"depthwise_conv2d: bias must have one number per output channel. Expected shape "
            f"({ws[2] * ws[3]},), received {tuple(bias.shape)}."
        )
    s = check_int_pair("depthwise_conv2d", "stride", stride)
    d = check_int_pair("depthwise_conv2d", "dilation", dilation)
    mode = check_padding("depthwise_conv2d", padding)
    try:
        output_sizes("conv2d", xs[1:3], ws[:2], s, mode, d, input_shape=xs)
    except ValueError as err:  # conv2d's message, named for this op
        raise ValueError(f"depthwise_{err}") from None
    pads = resolve_padding(xs[1:3], ws[:2], s, mode, d)
    return DepthwiseConv2DOp.apply(x, weight, bias, stride=s, pads=pads, dilation=d)


def depthwise_conv1d(
    x: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: int = 1,
    padding: str = "valid",
    dilation: int = 1,
) -> Tensor:
    """Depthwise 1-D convolution: ``depthwise_conv2d`` (the same op) on a one-row image.

    Shape:
        x (N, L, C), weight (k, C, m) (Keras's layout), bias (C·m,) -> (N, Lo, C·m), Lo as
        ``conv1d_output_length`` ("valid" or "same").
    """
    xs, ws = tuple(x.shape), tuple(weight.shape)
    if len(xs) != 3 or len(ws) != 3:
        raise ValueError(
            f"depthwise_conv1d: expected a 3-D input (batch, steps, channels) and a 3-D weight "
            f"(kernel_size, in_channels, depth_multiplier), received input shape {xs} and "
            f"weight shape {ws}."
        )
    y = depthwise_conv2d(
        reshape(x, (xs[0], 1, xs[1], xs[2])),
        reshape(weight, (1, *ws)),
        bias,
        stride=(1, stride),
        padding=padding,
        dilation=(1, dilation),
    )
    return reshape(y, (xs[0], y.shape[2], y.shape[3]))
