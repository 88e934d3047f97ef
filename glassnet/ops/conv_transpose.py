"""Transposed convolution ("deconvolution"): the convolution run backwards, to grow an image.

A strided convolution maps a big image to a small one; the transposed convolution is its
adjoint, mapping the small one back to the big shape (a decoder's or a GAN generator's
upsampling). Each input pixel spreads kernel·value onto a kh×kw patch of the output, patches
``stride`` apart, overlaps summed: in matrices, cols = X·Wᵀ, then ``col2im`` adds every row
onto its patch — exactly a convolution's input gradient (``ops.conv``), the same helpers.
Its own input gradient is therefore a plain convolution: dX = im2col(dY)·W.

Layout is channels-last and Keras's: images (N, H, W, C_in), kernels (kh, kw, filters, C_in).
Output size is Keras's ``deconv_output_length`` (``conv_transpose_output_length``).
"""

from __future__ import annotations

from typing import Any

from glassnet.autograd import Context, Function
from glassnet.backend import get_array_module
from glassnet.checks import Pair, check_int_pair, check_padding, is_int
from glassnet.ops.conv import check_image, col2im, im2col, pad_images
from glassnet.ops.shape import reshape
from glassnet.tensor import Tensor, add_to_rows, sum_rows

__all__ = ["conv_transpose1d", "conv_transpose2d", "conv_transpose_output_length"]


class ConvTranspose2DOp(Function):
    """y = crop(col2im(X · Wᵀ)) (+ b): the adjoint of a convolution with the same kernel.

    Shape: x (N, H, W, C), w (kh, kw, F, C), b (F,) or None -> (N, Ho, Wo, F). The "canvas"
    col2im fills is ((H − 1)·sh + (kh − 1)·dh + 1) rows tall (the same for columns); the output
    is its window of ``out_hw`` starting at ``crop`` (top, left), zeros where the window runs
    past the canvas (``output_padding``). Backward: dX = im2col(pad(dY))·W, dW =
    im2col(pad(dY))ᵀ·X, db = Σ dY, with pad the inverse of the crop.
    """

    @staticmethod
    def forward(
        ctx: Context, x: Any, w: Any, b: Any, *, stride: Pair, dilation: Pair, crop: Pair,
        out_hw: Pair,
    ) -> Any:  # fmt: skip
        n, h, wd, c = x.shape
        kh, kw, f, _ = w.shape
        (sh, sw), (dh, dw), (top, left), (ho, wo) = stride, dilation, crop, out_hw
        canvas = ((h - 1) * sh + (kh - 1) * dh + 1, (wd - 1) * sw + (kw - 1) * dw + 1)
        big = (n, max(canvas[0], top + ho), max(canvas[1], left + wo), f)
        w2 = w.reshape(kh * kw * f, c)
        cols = x.reshape(-1, c) @ w2.T  # (N·H·W, kh·kw·F): each pixel's patch of outputs
        full = col2im(cols, big, (kh, kw), stride, dilation, (h, wd))
        y = get_array_module(x).ascontiguousarray(full[:, top : top + ho, left : left + wo])
        if b is not None:
            add_to_rows(y.reshape(-1, f), b)
        keep = ctx.needs_input_grad
        ctx.save_for_backward(x if keep[1] else None, w2 if keep[0] else None)
        ctx.geometry = (x.shape, w.shape, stride, dilation, big, crop)
        return y

    @staticmethod
    def backward(ctx: Context, grad: Any) -> tuple[Any, Any, Any]:
        x, w2 = ctx.saved
        x_shape, w_shape, stride, dilation, big, (top, left) = ctx.geometry
        _, h, wd, c = x_shape
        kh, kw, f, _ = w_shape
        gx = gw = gb = None
        if ctx.needs_input_grad[0] or ctx.needs_input_grad[1]:
            _, ho, wo, _ = grad.shape
            pads = ((top, big[1] - top - ho), (left, big[2] - left - wo))
            gcols = im2col(pad_images(grad, pads), (kh, kw), stride, dilation, (h, wd))
            if ctx.needs_input_grad[0]:
                gx = (gcols @ w2).reshape(x_shape)  # a convolution of dY with W
            if ctx.needs_input_grad[1]:
                gw = (gcols.T @ x.reshape(-1, c)).reshape(w_shape)
        if ctx.needs_input_grad[2]:
            gb = sum_rows(grad.reshape(-1, f))
        return gx, gw, gb


# ------------------------------------------------------------------ sizes
def conv_transpose_output_length(
    size: int | None,
    kernel: int,
    stride: int,
    padding: str,
    output_padding: int | None = None,
    dilation: int = 1,
) -> int | None:
    """Keras's ``deconv_output_length``: the output size along one axis (None stays None).

    With k' = (k − 1)·d + 1 the dilated kernel: without ``output_padding``, "valid" gives
    size·s + max(k' − s, 0) and "same" size·s (the inverse of a convolution's ceil(H / s));
    with it, (size − 1)·s + k' − 2·pad + output_padding, pad = k' // 2 for "same", 0 for
    "valid".
    """
    if size is None:
        return None
    k = (kernel - 1) * dilation + 1
    if output_padding is None:
        return size * stride + max(k - stride, 0) if padding == "valid" else size * stride
    pad = k // 2 if padding == "same" else 0
    return (size - 1) * stride + k - 2 * pad + output_padding


def conv_transpose_crop(
    size: int, out: int, kernel: int, stride: int, padding: str, dilation: int = 1
) -> int:
    """How many canvas pixels the output skips at the start: 0 for "valid"; for "same" the
    first half of TensorFlow's padding of the convolution this one transposes, max(0,
    (size − 1)·s + k' − out) // 2 (Keras's ``compute_conv_transpose_padding``)."""
    if padding == "valid":
        return 0
    k = (kernel - 1) * dilation + 1
    return max(0, (size - 1) * stride + k - out) // 2


def _output_padding(value: Any) -> Pair | None:
    if value is None:
        return None
    items = tuple(value) if isinstance(value, (tuple, list)) else (value, value)
    if len(items) != 2 or not all(is_int(v) and v >= 0 for v in items):
        raise ValueError(
            f"conv_transpose2d: output_padding must be None, an int ≥ 0 or a pair of them. "
            f"Received output_padding={value!r}."
        )
    return int(items[0]), int(items[1])


# ------------------------------------------------------------------ functional API
def conv_transpose2d(
    x: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: int | Pair = 1,
    padding: str = "valid",
    output_padding: int | Pair | None = None,
    dilation: int | Pair = 1,
) -> Tensor:
    """2-D transposed convolution of a batch of images (Keras's ``conv_transpose``).

    Args:
        x: images, channels-last.
        weight: Keras's layout (kh, kw, filters, in_channels): the kernel of the convolution
            this one transposes, which maps ``filters`` channels to ``in_channels``.
        bias: one number per filter, or None.
        stride: how far apart neighbouring input pixels land in the output (the upsampling).
        padding: "valid" (the whole canvas) or "same" (the output is input·stride).
        output_padding: extra rows/columns at the bottom/right, to pick one of the sizes a
            strided convolution maps to the same input size; None: Keras's default.
        dilation: spacing between the kernel's taps.

    Shape:
        x (N, H, W, C), weight (kh, kw, F, C), bias (F,) -> (N, Ho, Wo, F), with
        ``Ho = conv_transpose_output_length(H, kh, sh, padding, output_padding, dh)``.
    """
    check_image(x, "conv_transpose2d")
    xs, ws = tuple(x.shape), tuple(weight.shape)
    if len(ws) != 4 or ws[3] != xs[3]:
        raise ValueError(
            f"conv_transpose2d: the weight must be (kh, kw, filters, in_channels) with "
            f"in_channels == x.shape[3]. Received weight shape {ws} for input shape {xs}. A "
            f"PyTorch ConvTranspose2d weight (in, out, kh, kw) becomes one with "
            f"w.transpose(2, 3, 1, 0)."
        )
    if bias is not None and tuple(bias.shape) != (ws[2],):
        raise ValueError(
            f"conv_transpose2d: bias does not match the weight's {ws[2]} filters. Expected "
            f"shape ({ws[2]},), received {tuple(bias.shape)}."
        )
    s = check_int_pair("conv_transpose2d", "stride", stride)
    d = check_int_pair("conv_transpose2d", "dilation", dilation)
    mode = check_padding("conv_transpose2d", padding, allow_explicit=False)
    extra = _output_padding(output_padding)
    out = tuple(
        conv_transpose_output_length(
            xs[1 + a], ws[a], s[a], mode, None if extra is None else extra[a], d[a]
        )
        for a in (0, 1)
    )
    if min(out) <= 0:  # type: ignore[type-var]
        raise ValueError(
            f"conv_transpose2d: the output would be {out} pixels. Received input shape {xs}, "
            f"kernel {ws[:2]}, stride={s}, padding={mode!r}, output_padding={extra}. Use "
            f"padding='valid' or a larger output_padding."
        )
    crop = tuple(conv_transpose_crop(xs[1 + a], out[a], ws[a], s[a], mode, d[a]) for a in (0, 1))
    return ConvTranspose2DOp.apply(x, weight, bias, stride=s, dilation=d, crop=crop, out_hw=out)


def conv_transpose1d(
    x: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: int = 1,
    padding: str = "valid",
    output_padding: int | None = None,
    dilation: int = 1,
) -> Tensor:
    """1-D transposed convolution: ``conv_transpose2d`` (the same op) on a one-row image.

    Shape:
        x (N, L, C), weight (k, F, C) (Keras's layout), bias (F,) -> (N, Lo, F), with
        ``Lo = conv_transpose_output_length(L, k, stride, padding, output_padding, dilation)``.
    """
    xs, ws = tuple(x.shape), tuple(weight.shape)
    if len(xs) != 3 or len(ws) != 3:
        raise ValueError(
            f"conv_transpose1d: expected a 3-D input (batch, steps, channels) and a 3-D weight "
            f"(kernel_size, filters, in_channels), received input shape {xs} and weight shape "
            f"{ws}."
        )
    extra = None if output_padding is None else (0, output_padding)
    y = conv_transpose2d(
        reshape(x, (xs[0], 1, xs[1], xs[2])),
        reshape(weight, (1, *ws)),
        bias,
        stride=(1, stride),
        padding=padding,
        output_padding=extra,
        dilation=(1, dilation),
    )
    return reshape(y, (xs[0], y.shape[2], ws[1]))
