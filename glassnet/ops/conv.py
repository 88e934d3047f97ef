"""Convolution: slide a small filter over an image and take a weighted sum at every position.

A conv layer with a kh×kw filter over C input channels computes, for every output pixel, the
dot product of the filter with the kh×kw×C patch under it. Doing that pixel by pixel in Python
would be hopelessly slow, so ``im2col`` unrolls every patch into one row of a matrix (a strided
*view* of the image, copied once) and the whole convolution becomes one matrix product —
``cols (N·Ho·Wo, kh·kw·C) @ W (kh·kw·C, F)`` — that BLAS runs at full speed (Chainer and Caffe
do the same). The backward pass is two more products, dW = colsᵀ·dY and dcols = dY·Wᵀ, and
``col2im`` adds each row of dcols back onto the patch it came from.

Layout is channels-last: images (N, H, W, C), kernels (kh, kw, C_in, C_out), as in Keras.
Volumes (N, D, H, W, C) with kernels (kd, kh, kw, C_in, C_out) are the same algorithm with
one more spatial axis (``conv3d``): every function here takes any number of spatial axes.
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from glassnet.autograd import Context, Function
from glassnet.backend import get_array_module, is_float
from glassnet.checks import Pair, check_int_tuple, check_padding, is_int
from glassnet.ops._conv_kernels import conv_plan
from glassnet.ops.activation import fused_relu, fused_relu_grad, relu_
from glassnet.ops.shape import reshape
from glassnet.tensor import Tensor, add_to_rows, sum_rows

__all__ = [
    "conv1d",
    "conv1d_output_length",
    "conv2d",
    "conv3d",
    "conv_output_shape",
    "resolve_padding",
]

PaddingArg = str | int | tuple[Any, Any]


# ------------------------------------------------------------------ the algorithm
# Written for any number of spatial axes: images (N, H, W, C) and volumes (N, D, H, W, C)
# are the same loops, one axis more. ``pads`` holds one (before, after) pair per spatial axis.
def pad_images(x: Any, pads: Sequence[Pair], value: float = 0.0) -> Any:
    """``x`` (N, *spatial, C) with ``value`` around its spatial axes (``x`` itself if no
    padding): rows and columns of an image, also planes of a volume."""
    if not any(before or after for before, after in pads):
        return x
    xp = get_array_module(x)
    sizes = x.shape[1:-1]
    shape = (x.shape[0], *(n + b + a for n, (b, a) in zip(sizes, pads, strict=True)), x.shape[-1])
    out = xp.zeros(shape, x.dtype) if value == 0 else xp.full(shape, value, x.dtype)
    out[(slice(None), *(slice(b, b + n) for n, (b, _) in zip(sizes, pads, strict=True)))] = x
    return out


def crop_images(a: Any, pads: Sequence[Pair], sizes: Sequence[int]) -> Any:
    """Undo ``pad_images``: the ``sizes`` (H, W) or (D, H, W) that padding surrounded (a view)."""
    if all(before == 0 for before, _ in pads) and a.shape[1:-1] == tuple(sizes):
        return a
    return a[(slice(None), *(slice(b, b + n) for (b, _), n in zip(pads, sizes, strict=True)))]


def im2col_view(
    xpad: Any,
    kernel: Sequence[int],
    stride: Sequence[int],
    dilation: Sequence[int],
    out_sizes: Sequence[int],
) -> Any:
    """Every kernel window of a padded image (N, Hp, Wp, C) as a read-only strided view
    (N, Ho, Wo, kh, kw, C): no copy. Stride and dilation are just bigger steps. A volume
    (N, Dp, Hp, Wp, C) gives (N, Do, Ho, Wo, kd, kh, kw, C) the same way."""
    xp = get_array_module(xpad)
    n, c = xpad.shape[0], xpad.shape[-1]
    s_n, *s_axes, s_c = xpad.strides
    shape = (n, *out_sizes, *kernel, c)
    strides = (
        s_n,
        *(step * s for step, s in zip(s_axes, stride, strict=True)),
        *(step * d for step, d in zip(s_axes, dilation, strict=True)),
        s_c,
    )
    if xp is np and xpad.flags.c_contiguous:
        # The same view built directly on the buffer, without as_strided's checks, which
        # matter at batch 1, where a whole convolution is a few tens of NumPy calls.
        view = np.ndarray(shape, xpad.dtype, xpad, 0, strides)
        view.flags.writeable = False
        return view
    return xp.lib.stride_tricks.as_strided(xpad, shape, strides, writeable=False)


def im2col(
    xpad: Any,
    kernel: Sequence[int],
    stride: Sequence[int],
    dilation: Sequence[int],
    out_sizes: Sequence[int],
) -> Any:
    """Unfold every kernel window of a padded image into one row of a matrix.

    Shape: xpad (N, Hp, Wp, C) -> (N·Ho·Wo, kh·kw·C), columns ordered (i, j, c) like a weight
    (kh, kw, C, F) reshaped to (kh·kw·C, F); a volume (N, Dp, Hp, Wp, C) -> (N·Do·Ho·Wo,
    kd·kh·kw·C). Only the reshape of ``im2col_view`` copies, and for a 1×1 kernel with stride 1
    on a contiguous image not even that. (``ConvOp`` copies the same numbers faster for some
    image shapes: ``ConvPlan.im2col``.)
    """
    windows = im2col_view(xpad, kernel, stride, dilation, out_sizes)
    rows = math.prod(windows.shape[: 1 + len(kernel)])
    return windows.reshape(rows, math.prod(windows.shape[1 + len(kernel) :]))


def tap_index(taps: Sequence[int], stride: Sequence[int], out_sizes: Sequence[int]) -> tuple:
    """Index of the pixels that kernel tap ``taps`` (already scaled by dilation) touches, one
    per output position: a strided slice of the padded image along each spatial axis."""
    return (
        slice(None),
        *(
            slice(i, i + s * (o - 1) + 1, s)
            for i, s, o in zip(taps, stride, out_sizes, strict=True)
        ),
    )


def col2im(
    dcols: Any,
    padded_shape: tuple[int, ...],
    kernel: Sequence[int],
    stride: Sequence[int],
    dilation: Sequence[int],
    out_sizes: Sequence[int],
) -> Any:
    """The adjoint of ``im2col``: add every row of ``dcols`` back onto the window it came from.

    Shape: dcols (N·Ho·Wo, kh·kw·C), or already (N, Ho, Wo, kh, kw, C), -> (N, Hp, Wp, C)
    (a volume likewise, with the depth axis first). Overlapping windows sum. One vectorised
    strided add per kernel tap (kh·kw of them, kd·kh·kw for a volume), never a loop over
    pixels and no ``add.at``.
    """
    xp = get_array_module(dcols)
    n, c, rank = padded_shape[0], padded_shape[-1], len(kernel)
    windows = dcols.reshape(n, *out_sizes, *kernel, c)
    if math.prod(kernel) == 1 and tuple(out_sizes) == tuple(padded_shape[1:-1]):
        return windows.reshape(padded_shape)  # 1×1, stride 1: each pixel used once
    out = xp.zeros(padded_shape, dtype=dcols.dtype)
    every = (slice(None),) * (1 + rank)  # batch and output positions
    for tap in itertools.product(*(range(k) for k in kernel)):
        at = tuple(i * d for i, d in zip(tap, dilation, strict=True))
        out[tap_index(at, stride, out_sizes)] += windows[(*every, *tap)]
    return out


class ConvOp(Function):
    """Cross-correlation over 1, 2 or 3 spatial axes, channels-last:
    y = im2col(pad(x)) · W (+ b, ReLU).

    Shape: x (N, H, W, C), w (kh, kw, C, F), b (F,) or None -> (N, Ho, Wo, F); a volume x
    (N, D, H, W, C) with w (kd, kh, kw, C, F) -> (N, Do, Ho, Wo, F). ``pads`` is one
    (before, after) pair per spatial axis, already resolved by ``conv2d``/``conv3d``.
    Backward: dW = colsᵀ·dY, db = Σ dY, dx = col2im(dY·Wᵀ). How each step runs for the shape
    is the shape's ``ConvPlan`` (``ops._conv_kernels``): for images, tiles of output pixels,
    chunks of columns, which input gradient; for other ranks, the textbook steps as written
    here. Only a weight that wants a gradient makes it keep anything of the input; the weight
    is kept only if the input wants a gradient. With ``relu`` the output is max(0, ·) of all
    that, applied in place on the fresh GEMM output (see ``fused_relu``).
    """

    @staticmethod
    def forward(
        ctx: Context,
        x: Any,
        w: Any,
        b: Any,
        *,
        stride: tuple[int, ...],
        pads: tuple[Pair, ...],
        dilation: tuple[int, ...],
        relu: bool = False,
    ) -> Any:
        f = w.shape[-1]
        plan = conv_plan(x, w, stride, pads, dilation)  # this shape's strategy, made once
        windows = im2col_view(pad_images(x, pads), *plan.windows)  # no copy yet
        wt = plan.weight(w)  # (kh·kw·C, F)

        def finish(rows: Any) -> None:  # bias and ReLU on a block of rows, still in cache
            if b is not None:
                add_to_rows(rows.reshape(-1, f), b)
            if relu:
                relu_(rows)

        if ctx.needs_input_grad[1] and plan.keep_cols:
            # Training, small columns: keep the whole column matrix for dW = colsᵀ·dY.
            cols = plan.im2col(windows)
            y = plan.product(cols, wt).reshape(-1, f)
            if b is not None:
                add_to_rows(y, b)
            if relu:
                fused_relu(ctx, y)  # keeps the mask y > 0 for backward
        else:
            # y = cols·W, bias, ReLU; big columns (kh·kw times the input) are unfolded a few
            # images at a time, and training keeps the windows to unfold again for dW.
            cols = windows if ctx.needs_input_grad[1] else None
            y = plan.forward(windows, wt, finish)
            if relu and any(ctx.needs_input_grad):  # backward's ReLU' = 1 where y > 0
                ctx.relu_mask = y > 0
        ctx.save_for_backward(cols, w.reshape(-1, f) if ctx.needs_input_grad[0] else None)
        ctx.plan = plan
        return y.reshape(x.shape[0], *plan.out_hw, f)

    @staticmethod
    def backward(ctx: Context, grad: Any) -> tuple[Any, Any, Any]:
        cols, w2 = ctx.saved
        plan = ctx.plan
        grad = fused_relu_grad(ctx, grad)
        gy = grad.reshape(-1, plan.w_shape[-1])  # (N·Ho·Wo, F); copies only if not contiguous
        gx = gw = gb = None
        if ctx.needs_input_grad[0] and plan.dx_pads is None:  # dx = col2im(dY·Wᵀ), cropped
            gx = col2im(plan.input_grad_cols(gy, w2), plan.padded_shape, *plan.geometry)
            gx = crop_images(gx, plan.pads, plan.x_shape[1:-1])
        elif ctx.needs_input_grad[0]:  # stride 1: dx as one more convolution
            windows = im2col_view(pad_images(grad, plan.dx_pads), *plan.dx_windows)
            gx = plan.input_grad_as_conv(windows, w2)
        if ctx.needs_input_grad[1]:
            gw = plan.weight_grad(cols, gy)  # dW = colsᵀ·dY
        if ctx.needs_input_grad[2]:
            gb = sum_rows(gy)  # db = Σ dY
        return gx, gw, gb


# ------------------------------------------------------------------ padding arithmetic
def _same_pads(size: int, k: int, s: int, d: int) -> Pair:
    """TensorFlow's "same": the output has ceil(size / s) positions; any odd pixel of padding
    goes at the end (bottom/right), so results match Keras models exactly."""
    out = -(-size // s)
    total = max((out - 1) * s + (k - 1) * d + 1 - size, 0)
    return total // 2, total - total // 2


def _where(rank: int) -> str:
    """The op named in messages: conv2d for images, conv3d for volumes."""
    return f"conv{rank}d"


def resolve_padding(
    input_hw: Sequence[int | None],
    kernel_size: int | Sequence[int],
    stride: int | Sequence[int],
    padding: PaddingArg,
    dilation: int | Sequence[int],
) -> tuple[Pair, ...]:
    """Turn any padding argument into explicit ((top, bottom), (left, right)) pixel counts,
    one pair per spatial axis: ``input_hw`` (H, W) for images, (D, H, W) for volumes.

    "valid" is no padding; "same" pads exactly as TensorFlow/Keras so that the output has
    ceil(H / stride) rows (the extra pixel of an odd total goes to the bottom/right/back).
    """
    rank = len(input_hw)
    where = _where(rank)
    k = check_int_tuple(where, "kernel_size", kernel_size, rank)
    s = check_int_tuple(where, "stride", stride, rank)
    d = check_int_tuple(where, "dilation", dilation, rank)
    mode = check_padding(where, padding, rank=rank)
    if mode == "valid":
        return ((0, 0),) * rank
    if mode == "same":
        if None in tuple(input_hw):
            raise ValueError(
                f"{where}: padding='same' needs a known input size. Expected {rank} ints, "
                f"received input_hw={tuple(input_hw)}. Pass the real image size."
            )
        return tuple(_same_pads(*axis) for axis in zip(input_hw, k, s, d, strict=True))
    return mode  # type: ignore[return-value]  (explicit pairs)


def output_sizes(
    where: str,
    input_hw: Any,
    kernel: Sequence[int],
    stride: Sequence[int],
    padding: Any,
    dilation: Sequence[int],
    input_shape: tuple[int, ...] | None = None,
) -> tuple[int | None, ...]:
    """Output size along each spatial axis (height and width for images; depth first for
    volumes), None staying None; raises if the window does not fit."""
    out: list[int | None] = []
    for axis, size in enumerate(input_hw):
        if size is None:
            out.append(None)
        elif padding == "same":
            out.append(-(-size // stride[axis]))
        else:
            before, after = (0, 0) if padding == "valid" else padding[axis]
            span = (kernel[axis] - 1) * dilation[axis] + 1
            out.append((size + before + after - span) // stride[axis] + 1)
    if any(o is not None and o <= 0 for o in out):
        thing = "kernel" if where.startswith("conv") else "pool window"
        span = tuple((k - 1) * d + 1 for k, d in zip(kernel, dilation, strict=True))
        raise ValueError(
            f"{where}: the {thing} does not fit in the input, the output would be "
            f"{tuple(out)}. Expected a padded input of at least {span} pixels, received input "
            f"{f'shape {input_shape}' if input_shape else f'size {tuple(input_hw)}'} with {thing} "
            f"{tuple(kernel)}, stride={tuple(stride)}, padding={padding!r}"
            f"{f', dilation={tuple(dilation)}' if max(dilation) > 1 else ''}. Use "
            f"padding='same', a smaller {thing} or larger images."
        )
    return tuple(out)


def conv_output_shape(
    input_hw: Sequence[int | None],
    kernel_size: int | Sequence[int],
    stride: int | Sequence[int] = 1,
    padding: PaddingArg = "valid",
    dilation: int | Sequence[int] = 1,
) -> tuple[int | None, ...]:
    """The (height, width) a convolution produces — (depth, height, width) for a volume's
    (D, H, W) — by arithmetic alone (no data).

    out = floor((H + pad_total − dilation·(k − 1) − 1) / stride) + 1, or ceil(H / stride) for
    "same". An unknown size (None) stays None. Raises ``ValueError`` if the kernel does not fit.
    """
    rank = len(input_hw)
    where = _where(rank)
    k = check_int_tuple(where, "kernel_size", kernel_size, rank)
    s = check_int_tuple(where, "stride", stride, rank)
    d = check_int_tuple(where, "dilation", dilation, rank)
    padding = check_padding(where, padding, rank=rank)
    return output_sizes(where, tuple(input_hw), k, s, padding, d)


# ------------------------------------------------------------------ functional API
_LAYOUTS = {
    2: ("(batch, height, width, channels)", "images"),
    3: ("(batch, depth, height, width, channels)", "volumes"),
}


def check_image(x: Any, where: str, rank: int = 2) -> None:
    """``x`` must be a floating (N, H, W, C) batch of images, or with ``rank`` 3 a floating
    (N, D, H, W, C) batch of volumes."""
    shape = tuple(x.shape)
    layout, _ = _LAYOUTS[rank]
    if len(shape) != rank + 2:
        if len(shape) == rank + 1:
            hint = (
                "Add a batch axis, e.g. x[None] (or, for a batch of one-channel "
                f"{'images' if rank == 2 else 'volumes'}, a channel axis: x[..., None])."
            )
        else:
            hint = f"Reshape it to {layout}."
        raise ValueError(
            f"{where}: expected a {rank + 2}-D input {layout}, received shape {shape}. {hint}"
        )
    if not is_float(x.dtype):
        raise TypeError(
            f"{where}: expected a floating-point input. Expected dtype float32, received dtype "
            f"{x.dtype} (input shape {shape}). Convert it, e.g. x.astype('float32') / 255."
        )


def _check_conv(x: Tensor, weight: Tensor, bias: Tensor | None, rank: int) -> None:
    """The checks conv2d and conv3d share: the input's layout, the weight's, and that the
    channels, the bias and the dtypes agree."""
    where = _where(rank)
    check_image(x, where, rank)
    ws = tuple(weight.shape)
    if len(ws) != rank + 2:
        axes = ("kernel_depth, " if rank == 3 else "") + "kernel_height, kernel_width"
        torch_axes = ("(out, in, kd, kh, kw)", "w.transpose(2, 3, 4, 1, 0)")
        if rank == 2:
            torch_axes = ("(out, in, kh, kw)", "w.transpose(2, 3, 1, 0)")
        raise ValueError(
            f"{where}: expected a {rank + 2}-D weight ({axes}, in_channels, "
            f"out_channels), received shape {ws}. A PyTorch weight {torch_axes[0]} becomes "
            f"one with {torch_axes[1]}."
        )
    xs = tuple(x.shape)
    if xs[-1] != ws[-2]:
        hint = "(e.g. grayscale to RGB) " if rank == 2 else ""
        raise ValueError(
            f"{where}: input has {xs[-1]} channel{'s' if xs[-1] != 1 else ''} but the weight "
            f"expects {ws[-2]}. Expected x.shape[{rank + 1}] == weight.shape[{rank}], received "
            f"input shape {xs} and weight shape {ws}. Convert the "
            f"{_LAYOUTS[rank][1]} {hint}or use a weight of shape {(*ws[:-2], xs[-1], ws[-1])}."
        )
    if bias is not None and tuple(bias.shape) != (ws[-1],):
        raise ValueError(
            f"{where}: bias does not match the weight's {ws[-1]} filters. Expected shape "
            f"({ws[-1]},), received {tuple(bias.shape)}. Give one bias per output channel."
        )
    for name, a in (("weight", weight), ("bias", bias)):
        if a is not None and a.dtype != x.dtype:
            raise TypeError(
                f"{where}: input and {name} must have the same dtype. Expected {x.dtype} (the "
                f"input's), received {name} dtype {a.dtype}. Convert one of them with "
                f".astype(...)."
            )


def _conv(
    x: Tensor,
    weight: Tensor,
    bias: Tensor | None,
    stride: Any,
    padding: Any,
    dilation: Any,
    relu: bool,
    rank: int,
) -> Tensor:
    """conv2d and conv3d after their checks: resolve the window (once per shape), apply the op."""
    _check_conv(x, weight, bias, rank)
    xs, kernel = tuple(x.shape), tuple(weight.shape[:rank])
    try:
        s, pads, d = _plan(xs, kernel, stride, padding, dilation)
    except TypeError as err:
        if "unhashable" not in str(err):
            raise
        s, pads, d = _plan.__wrapped__(xs, kernel, stride, padding, dilation)
    return ConvOp.apply(x, weight, bias, stride=s, pads=pads, dilation=d, relu=relu)


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
    return _conv(x, weight, bias, stride, padding, dilation, relu, rank=2)


def conv3d(
    x: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: int | tuple[int, int, int] = 1,
    padding: PaddingArg = "valid",
    dilation: int | tuple[int, int, int] = 1,
    relu: bool = False,
) -> Tensor:
    """3-D convolution of a batch of volumes (video clips, CT and MRI scans): ``conv2d`` with
    one more spatial axis, the same op (``ConvOp``: im2col over kd×kh×kw windows, one GEMM).

    Args:
        x: volumes, channels-last (batch, depth, height, width, channels), as Keras.
        weight: filters, Keras layout (kd, kh, kw, in_channels, out_channels).
        bias: one number per filter, or None.
        stride, dilation: an int or (sd, sh, sw), (dd, dh, dw).
        padding: "valid", "same" (TensorFlow's, on every axis), an int, (pd, ph, pw) or
            ((front, back), (top, bottom), (left, right)) zeros.
        relu: also apply ReLU in the same op, as ``conv2d``.

    Shape:
        x (N, D, H, W, C), weight (kd, kh, kw, C, F), bias (F,) -> (N, Do, Ho, Wo, F), with
        ``(Do, Ho, Wo) = conv_output_shape((D, H, W), (kd, kh, kw), stride, padding,
        dilation)``.

    Example:
        >>> y = conv3d(Tensor(np.ones((1, 4, 5, 5, 2))), Tensor(np.ones((3, 3, 3, 2, 8))))
        >>> y.shape
        (1, 2, 3, 3, 8)
    """
    return _conv(x, weight, bias, stride, padding, dilation, relu, rank=3)


@functools.lru_cache(maxsize=512)
def _plan(xs: tuple, kernel: tuple, stride: Any, padding: Any, dilation: Any) -> tuple:
    """Checked stride, resolved padding and dilation for one input shape. A layer calls conv2d
    with the same arguments every step, so the checks run once per shape (a cache), not on
    every batch — at batch 1 they would cost more than the arithmetic."""
    rank = len(kernel)
    where = _where(rank)
    s = check_int_tuple(where, "stride", stride, rank)
    d = check_int_tuple(where, "dilation", dilation, rank)
    mode = check_padding(where, padding, rank=rank)
    output_sizes(where, xs[1:-1], kernel, s, mode, d, input_shape=xs)
    return s, resolve_padding(xs[1:-1], kernel, s, mode, d), d


# ------------------------------------------------------------------ 1-D: the same op, one row
def _check_single(where: str, arg: str, value: Any) -> int:
    """An int ≥ 1, or a 1-tuple of one (Keras's 1-D ``standardize_tuple``)."""
    items = tuple(value) if isinstance(value, (tuple, list)) else (value,)
    if len(items) != 1 or not is_int(items[0]):
        raise TypeError(
            f"{where}: {arg} must be an int (or a tuple of one int). Expected e.g. {arg}=3, "
            f"received {arg}={value!r}."
        )
    if items[0] < 1:
        raise ValueError(
            f"{where}: {arg} must be positive. Expected an integer ≥ 1, received {arg}={value!r}."
        )
    return int(items[0])


def conv1d_pads(
    steps: int | None, kernel_size: int, stride: int, padding: Any, dilation: int
) -> tuple[int, int] | str:
    """(left, right) zero steps for a 1-D convolution: "valid" none, "causal" d·(k − 1) on the
    left only (output t sees inputs ≤ t), "same" TensorFlow's split (the odd one on the right;
    "same" is returned as is when ``steps`` is unknown), an int or (left, right) as given."""
    if isinstance(padding, str):
        mode = padding.lower()
        if mode == "valid":
            return 0, 0
        if mode == "causal":
            return dilation * (kernel_size - 1), 0
        if mode == "same":
            return "same" if steps is None else _same_pads(steps, kernel_size, stride, dilation)
        raise ValueError(
            f"conv1d: unknown padding {padding!r}. Expected 'valid', 'same', 'causal', an int "
            f"or (left, right), received padding={padding!r}."
        )
    items = (padding, padding) if is_int(padding) else tuple(padding)
    if len(items) != 2 or not all(is_int(v) and v >= 0 for v in items):
        raise ValueError(
            f"conv1d: bad padding. Expected 'valid', 'same', 'causal', an int or (left, right) "
            f"of ints ≥ 0, received padding={padding!r}."
        )
    return int(items[0]), int(items[1])


def conv1d_output_length(
    steps: int | None, kernel_size: int, stride: int = 1, padding: Any = "valid", dilation: int = 1
) -> int | None:
    """The number of steps a 1-D convolution outputs (None stays None): ceil(steps / stride)
    for "same" and "causal", floor((steps + pads − d·(k − 1) − 1) / stride) + 1 otherwise.
    Raises ``ValueError`` if the kernel does not fit."""
    if steps is None:
        return None
    left, right = conv1d_pads(steps, kernel_size, stride, padding, dilation)  # type: ignore[misc]
    span = dilation * (kernel_size - 1) + 1
    out = (steps + left + right - span) // stride + 1
    if out <= 0:
        raise ValueError(
            f"conv1d: the kernel does not fit in the input, the output would have {out} steps. "
            f"Expected a padded input of at least {span} steps, received {steps} steps with "
            f"kernel_size={kernel_size}, stride={stride}, padding={padding!r}, "
            f"dilation={dilation}. Use padding='same' or 'causal', a smaller kernel or longer "
            f"sequences."
        )
    return out


def conv1d(
    x: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: int = 1,
    padding: Any = "valid",
    dilation: int = 1,
    relu: bool = False,
) -> Tensor:
    """1-D convolution of a batch of sequences: the 2-D op (``ConvOp``, its plan and tuned kernels)
    on a one-row image, so the maths, the tuned paths and the gradients are those of
    ``conv2d``. x (N, steps, C) is viewed as (N, 1, steps, C), the weight (k, C, F) as
    (1, k, C, F), and the output (N, 1, steps', F) as (N, steps', F).

    Args:
        x: sequences, channels-last. weight: (kernel_size, in_channels, filters), Keras's
            layout. bias: (filters,) or None.
        stride, dilation: ints. relu: ReLU in the same op, as ``conv2d``.
        padding: "valid", "same" (TensorFlow's), "causal" (dilation·(k − 1) zeros on the left,
            so step t depends on steps ≤ t only: WaveNet's), an int or (left, right).

    Shape:
        x (N, L, C), weight (k, C, F), bias (F,) -> (N, L', F),
        ``L' = conv1d_output_length(L, k, stride, padding, dilation)``.
    """
    xs, ws = tuple(x.shape), tuple(weight.shape)
    if len(xs) != 3:
        raise ValueError(
            f"conv1d: expected a 3-D input (batch, steps, channels), received shape {xs}. "
            f"{'Add a batch axis, e.g. x[None].' if len(xs) == 2 else ''}".rstrip()
        )
    if not is_float(x.dtype):
        raise TypeError(
            f"conv1d: expected a floating-point input. Expected dtype float32, received dtype "
            f"{x.dtype} (input shape {xs}). Convert it, e.g. x.astype('float32')."
        )
    if len(ws) != 3 or ws[1] != xs[2]:
        raise ValueError(
            f"conv1d: the weight must be (kernel_size, in_channels, filters) with in_channels "
            f"== x.shape[2]. Expected ({ws[0] if ws else 'k'}, {xs[2]}, filters), received "
            f"weight shape {ws} for input shape {xs}."
        )
    s = _check_single("conv1d", "stride", stride)
    d = _check_single("conv1d", "dilation", dilation)
    pads = conv1d_pads(xs[1], ws[0], s, padding, d)
    steps = conv1d_output_length(xs[1], ws[0], s, pads, d)
    y = conv2d(
        reshape(x, (xs[0], 1, xs[1], xs[2])),
        reshape(weight, (1, *ws)),
        bias,
        stride=(1, s),
        padding=((0, 0), pads),
        dilation=(1, d),
        relu=relu,
    )
    return reshape(y, (xs[0], steps, ws[2]))
