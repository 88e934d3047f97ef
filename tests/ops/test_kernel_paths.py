"""Every tuned kernel tested like its textbook form, on the odd shapes (issue #26).

Each op opens with its textbook algorithm, and tuned kernels beside it are chosen per shape by
the op's plan. Here every kernel gets the textbook form's three tests — a NumPy loop reference
(``tests/reference.py``) forward and backward, float64 finite differences and PyTorch — on the
odd shape classes: 1×1 images, one channel, stride > kernel, dilation, batch 1, odd and
non-square sizes, and arrays laid out otherwise in memory where a kernel hangs on the layout
(a convolution's input that is not contiguous, a broadcast operand's gradient). A shape class
can move a layer onto another kernel than the one a test means to check, so every case also
records which kernels ran (spies around them; the numbers are untouched) and fails if a change
to a plan moves it off its kernels: then pick a shape that takes them again.
``docs/engine.md`` ("Which tests cover which kernel") is the table of them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import glassnet.ops._conv_kernels as kernels
import glassnet.ops.normalization as normalization
import glassnet.ops.pooling as pooling
import glassnet.tensor as tensor
from glassnet import Tensor, no_grad, ops
from glassnet.ops import conv2d
from glassnet.ops.fused import ConvBatchNormOp, ConvMaxPoolOp
from glassnet.tensor import rows_with
from tests import reference as ref
from tests.helpers import FORWARD_TOL, GRAD_TOL, assert_gradcheck
from tests.ops.test_pooling import _distinct, _torch_pool


# ------------------------------------------------------------------ which kernels ran
class Ran:
    """The names of the kernels that ran since the last ``take``."""

    def __init__(self) -> None:
        self.names: set[str] = set()

    def take(self) -> str:
        """The names so far, sorted and space-separated, and start afresh."""
        names, self.names = " ".join(sorted(self.names)), set()
        return names


def _spy(monkeypatch: Any, ran: Ran, owner: Any, attr: str, name: Callable[..., str] | str):
    """Replace ``owner.attr`` by a wrapper that runs it and records ``name`` (or
    ``name(args, kwargs, out)``) in ``ran``."""
    real = getattr(owner, attr)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        out = real(*args, **kwargs)
        ran.names.add(name if isinstance(name, str) else name(args, kwargs, out))
        return out

    monkeypatch.setattr(owner, attr, wrapper)


@pytest.fixture
def ran(monkeypatch: Any) -> Ran:
    """Spies on every tuned kernel of conv, pooling, and the long rows of batch normalization
    and of the bias adds."""
    record = Ran()

    def im2col(args: tuple, kwargs: dict, out: Any) -> str:  # a view, or one of the copies
        return "im2col-view" if np.shares_memory(out, args[0]) else "im2col"

    _spy(monkeypatch, record, kernels, "columns", im2col)
    # conv.im2col_view's windows of an input that is not C-contiguous (glassnet's only caller)
    _spy(monkeypatch, record, np.lib.stride_tricks, "as_strided", "as-strided")
    _spy(monkeypatch, record, kernels, "tap_plane_columns", "tap-planes")
    _spy(monkeypatch, record, kernels, "copy_by_pixel", "short-rows")
    _spy(monkeypatch, record, kernels, "tiled_weight", "tiles")
    _spy(monkeypatch, record, kernels, "_conv_in_chunks", "chunks")
    _spy(monkeypatch, record, kernels, "_weight_grad_in_chunks", "dW-chunks")
    _spy(monkeypatch, record, kernels.ConvPlan, "input_grad_cols", "dx-col2im")
    _spy(monkeypatch, record, kernels.ConvPlan, "input_grad_as_conv", "dx-conv")
    _spy(monkeypatch, record, pooling, "_max_pool_2x2", "max-2x2")
    _spy(monkeypatch, record, pooling, "_tap_planes", "pool-planes")
    _spy(monkeypatch, record, pooling, "copy_by_pixel", "pool-by-pixel")
    _spy(monkeypatch, record, pooling, "_blocks", "blocks")
    views = lambda args, kwargs, out: "views-tiled" if args[4] else "views-padded"  # noqa: E731
    _spy(monkeypatch, record, pooling, "_window_views", views)

    def long_rows(ufunc: Any, a: Any, v: Any, out: Any = None) -> Any:
        """rows_with, noting whether it ran over rows longer than the vector (its kernel)."""

        def noted(a2: Any, v2: Any, out: Any) -> Any:
            if a2.shape[-1] != v.shape[-1]:
                record.names.add("long-rows")
            return ufunc(a2, v2, out=out)

        return rows_with(noted, a, v, out=out)

    # batch normalization's own calls, and the bias adds (``tensor.add_to_rows``) of the others
    monkeypatch.setattr(normalization, "rows_with", long_rows)
    monkeypatch.setattr(tensor, "rows_with", long_rows)

    def column_sum(args: tuple, kwargs: dict, out: Any) -> str:
        """unbroadcast's fast column sum, named by how ``sum_rows``' own rule groups its rows:
        long rows of k rows each where there are two of them, and a tail of rows left over."""
        p, f = args[0].shape
        k = tensor._rows_per_long_row(p, f, tensor._SUM_ROW)
        if p < 2 * k:
            return "column-sum"
        return "column-sum-long-rows" + ("-tail" if p % k else "")

    # (the ops import sum_rows by name: only unbroadcast's calls go through the module's)
    _spy(monkeypatch, record, tensor, "sum_rows", column_sum)
    return record


def _runs(ran: Ran, expected: str, phase: str) -> None:
    """The kernels ``phase`` ran are ``expected`` (names as in ``ran``)."""
    got = ran.take()
    assert got == expected, (
        f"{phase} ran kernels [{got}], the case is there for [{expected}]: the plan now picks "
        "other kernels for this shape; change the shape so it takes them again."
    )


# ------------------------------------------------------------------ convolution
# id: (x shape, w shape, stride, padding, dilation, column budget in bytes or None,
#      kernels of the training forward | its backward | the inference forward)
B = 1  # a column buffer of one byte: every batch is unfolded one image at a time
CONV = {
    # im2col as a view of the image (1×1 kernel, stride 1)
    "view-1x1-image": ((1, 1, 1, 3), (1, 1, 3, 7), 1, "valid", 1, None,
                       "im2col-view | dx-col2im | im2col-view"),
    "view-1-channel-odd": ((2, 5, 3, 1), (1, 1, 1, 3), 1, "valid", 1, None,
                           "im2col-view | dx-col2im | im2col-view"),
    "view-dx-conv": ((2, 3, 5, 4), (1, 1, 4, 3), 1, "valid", 1, None,
                     "im2col-view | dx-conv im2col-view | im2col-view"),
    # one channel: one kernel tap at a time, whole planes
    "planes-1x1-image": ((1, 1, 1, 1), (3, 3, 1, 2), 1, "same", 1, None,
                         "im2col tap-planes | dx-conv im2col short-rows | im2col tap-planes"),
    "planes-stride-over-kernel": ((1, 7, 32, 1), (2, 2, 1, 3), 3, "valid", 1, None,
                                  "im2col tap-planes | dx-col2im | im2col tap-planes"),
    "planes-dilation": ((2, 8, 15, 1), (3, 3, 1, 2), 1, "valid", 2, None,
                        "im2col tap-planes | dx-conv im2col | im2col tap-planes"),
    "planes-long-bias-rows": ((1, 29, 31, 1), (3, 3, 1, 3), 1, "same", 1, None,
                              "im2col long-rows tap-planes | dx-col2im"
                              " | im2col long-rows tap-planes"),
    # short window rows moved as one element each
    "short-rows-batch1-odd": ((1, 7, 13, 2), (3, 3, 2, 5), 1, "valid", 1, None,
                              "im2col short-rows | dx-col2im | im2col short-rows"),
    "short-rows-stride-over-kernel": ((2, 5, 2, 3), (2, 2, 3, 4), 3, "valid", 1, None,
                                      "im2col short-rows | dx-col2im | im2col short-rows"),
    "short-rows-1x1-image": ((1, 1, 1, 3), (3, 3, 3, 2), 1, "same", 1, None,
                             "im2col short-rows | dx-conv im2col short-rows"
                             " | im2col short-rows"),
    "short-rows-row-dilation": ((2, 9, 13, 2), (3, 3, 2, 5), 1, "valid", (2, 1), None,
                                "im2col short-rows | dx-col2im | im2col short-rows"),
    # NumPy's own copy: dilated rows, long rows, strided 1×1 kernels
    "numpy-dilation": ((1, 6, 11, 2), (3, 3, 2, 3), 1, "same", 2, None,
                       "im2col | dx-conv im2col | im2col"),
    "numpy-1x1-stride-over-kernel": ((2, 5, 7, 3), (1, 1, 3, 2), 2, "valid", 1, None,
                                     "im2col | dx-col2im | im2col"),
    "numpy-long-rows": ((1, 4, 5, 40), (3, 3, 40, 6), 1, "same", 1, None,
                        "im2col | dx-conv im2col short-rows | im2col"),
    # (a 1×1 image's one window is its whole padded image: NumPy's reshape is a view)
    "numpy-1x1-image": ((1, 1, 1, 40), (3, 3, 40, 6), 1, "same", 1, None,
                        "im2col-view | dx-conv im2col short-rows | im2col-view"),
    # a row per tile of output pixels against the spread weight
    "tiles-1-channel": ((2, 6, 8, 1), (3, 3, 1, 4), 1, "same", 1, None,
                        "im2col short-rows tiles | dx-col2im | im2col short-rows tiles"),
    "tiles-stride-over-kernel": ((1, 5, 14, 2), (2, 2, 2, 3), 3, "valid", 1, None,
                                 "im2col short-rows tiles | dx-col2im | im2col short-rows tiles"),
    "tiles-dilation": ((2, 7, 10, 3), (3, 3, 3, 4), 1, "valid", 2, None,
                       "im2col short-rows tiles | dx-conv im2col | im2col short-rows tiles"),
    "tiles-one-row-dilated": ((1, 1, 15, 3), (1, 3, 3, 4), 1, "same", 2, None,
                              "im2col short-rows tiles | dx-conv im2col"
                              " | im2col short-rows tiles"),
    # columns unfolded a few images at a time (dW from the kept windows, dx-conv in chunks)
    "chunks-batch1-tiles": ((1, 5, 7, 3), (3, 3, 3, 4), 1, "same", 1, B,
                            "chunks short-rows tiles | chunks dW-chunks dx-conv short-rows"
                            " | chunks short-rows tiles"),
    "chunks-stride-over-kernel": ((3, 7, 4, 2), (2, 2, 2, 3), 3, "valid", 1, B,
                                  "chunks short-rows | dW-chunks dx-col2im short-rows"
                                  " | chunks short-rows"),
    "chunks-dilation": ((3, 8, 11, 2), (3, 3, 2, 3), 1, "same", 2, B,
                        "chunks | chunks dW-chunks dx-conv | chunks"),
    "chunks-1-channel": ((3, 6, 11, 1), (3, 3, 1, 2), 1, "same", 1, B,
                         "im2col tap-planes | chunks dx-conv short-rows | chunks short-rows"),
    "chunks-1x1-image": ((2, 1, 1, 3), (3, 3, 3, 4), 1, "same", 1, B,
                         "chunks short-rows | chunks dW-chunks dx-conv short-rows"
                         " | chunks short-rows"),
}  # fmt: skip
# An input that is not C-contiguous, unpadded (padding copies it afresh): ``im2col_view`` takes
# its windows with ``as_strided`` ("as-strided"), and the kernels after it read them through
# the input's own strides. Each layout is its own inverse and acts on arrays and Tensors alike,
# as a view: x laid out by it in a fresh array and viewed through it again is the same numbers,
# not contiguous. Reversed rows keep every window row contiguous, so short rows still move
# whole; rows and columns swapped do not.
LAYOUTS = {
    "transposed": lambda a: a.transpose(0, 2, 1, 3),  # rows and columns swapped in memory
    "rows-reversed": lambda a: a[:, ::-1],  # the images stored bottom-up
    "images-reversed": lambda a: a[::-1],  # the batch stored last image first (1×1 images)
}
# id: (layout, x shape, w shape, stride, dilation, column budget, kernels as in CONV); no padding
STRIDED = {
    "strided-view-1x1-images": ("images-reversed", (2, 1, 1, 3), (1, 1, 3, 4), 1, 1, None,
                                "as-strided im2col-view | dx-conv im2col-view"
                                " | as-strided im2col-view"),
    "strided-1-channel-1x1-kernel": ("transposed", (2, 5, 3, 1), (1, 1, 1, 3), 1, 1, None,
                                     "as-strided im2col | dx-col2im | as-strided im2col"),
    "strided-planes-dilation": ("transposed", (2, 8, 15, 1), (3, 3, 1, 2), 1, 2, None,
                                "as-strided im2col tap-planes | dx-conv im2col"
                                " | as-strided im2col tap-planes"),
    "strided-tiles-1-channel": ("transposed", (2, 5, 7, 1), (3, 3, 1, 2), 1, 1, None,
                                "as-strided im2col tiles | dx-conv im2col short-rows"
                                " | as-strided im2col tiles"),
    "strided-short-rows-batch1-odd": ("rows-reversed", (1, 7, 13, 2), (3, 3, 2, 5), 1, 1, None,
                                      "as-strided im2col short-rows | dx-col2im"
                                      " | as-strided im2col short-rows"),
    "strided-short-rows-stride-over-kernel": ("rows-reversed", (2, 5, 2, 3), (2, 2, 3, 4), 3, 1,
                                              None, "as-strided im2col short-rows | dx-col2im"
                                              " | as-strided im2col short-rows"),
    "strided-tiles-stride-over-kernel": ("rows-reversed", (1, 5, 14, 2), (2, 2, 2, 3), 3, 1,
                                         None, "as-strided im2col short-rows tiles | dx-col2im"
                                         " | as-strided im2col short-rows tiles"),
    "strided-tiles-dilation": ("transposed", (2, 7, 10, 3), (3, 3, 3, 4), 1, 2, None,
                               "as-strided im2col tiles | dx-conv im2col"
                               " | as-strided im2col tiles"),
    "strided-numpy-batch1-odd": ("transposed", (1, 7, 13, 2), (3, 3, 2, 5), 1, 1, None,
                                 "as-strided im2col | dx-col2im | as-strided im2col"),
    "strided-numpy-1x1-stride-over-kernel": ("transposed", (2, 5, 7, 3), (1, 1, 3, 2), 2, 1,
                                             None, "as-strided im2col | dx-col2im"
                                             " | as-strided im2col"),
    # (chunks: the windows kept for dW are the input's strided view)
    "strided-chunks-1x1-images": ("images-reversed", (2, 1, 1, 3), (1, 1, 3, 4), 1, 1, B,
                                  "as-strided chunks short-rows"
                                  " | chunks dW-chunks dx-conv short-rows"
                                  " | as-strided chunks short-rows"),
    "strided-chunks-stride-over-kernel": ("transposed", (3, 7, 4, 2), (2, 2, 2, 3), 3, 1, B,
                                          "as-strided chunks | dW-chunks dx-col2im"
                                          " | as-strided chunks"),
    "strided-chunks-dilation": ("transposed", (3, 8, 11, 2), (3, 3, 2, 3), 1, 2, B,
                                "as-strided chunks tiles | chunks dW-chunks dx-conv"
                                " | as-strided chunks tiles"),
    "strided-chunks-short-rows-batch1": ("rows-reversed", (1, 5, 7, 3), (3, 3, 3, 4), 1, 1, B,
                                         "as-strided chunks short-rows tiles"
                                         " | chunks dW-chunks dx-conv short-rows"
                                         " | as-strided chunks short-rows tiles"),
}  # fmt: skip
CONV_IDS = list(CONV) + list(STRIDED)


def _layout(case: str) -> Callable[[Any], Any]:
    """The case's input layout (``LAYOUTS``), the identity for a contiguous input."""
    return LAYOUTS[STRIDED[case][0]] if case in STRIDED else lambda a: a


def _conv_case(case: str, monkeypatch: Any, rng: Any, dtype: Any) -> tuple:
    """The arrays (x, w, b), conv2d's keywords and the kernels of a CONV or STRIDED case."""
    if case in STRIDED:
        _, x_shape, w_shape, stride, dilation, budget, expected = STRIDED[case]
        padding = "valid"
    else:
        x_shape, w_shape, stride, padding, dilation, budget, expected = CONV[case]
    if budget is not None:
        monkeypatch.setattr(kernels, "_CHUNK_BYTES", budget)
        monkeypatch.setattr(kernels, "_KEEP_BYTES", budget)
    x, w = rng.standard_normal(x_shape), rng.standard_normal(w_shape)
    b = rng.standard_normal(w_shape[-1])
    x, w, b = (a.astype(dtype) for a in (x, w, b))
    if case in STRIDED:  # the same numbers, stored so that x is a view, not contiguous
        layout = _layout(case)
        x = layout(np.ascontiguousarray(layout(x)))
        assert not x.flags.c_contiguous
    kwargs = {"stride": stride, "padding": padding, "dilation": dilation}
    train, backward, infer = (part.strip() for part in expected.split("|"))
    return [x, w, b], kwargs, (train, backward, infer)


@pytest.mark.parametrize("case", CONV_IDS)
def test_conv_kernel_matches_the_loop_reference(case, monkeypatch, rng, ran):
    """float64: the training forward and all three gradients, and the inference forward with
    bias and ReLU applied on the fly, equal the loop reference's."""
    (x, w, b), kwargs, (train, backward, infer) = _conv_case(case, monkeypatch, rng, np.float64)
    tensors = [Tensor(a, requires_grad=True) for a in (x, w, b)]
    y = conv2d(*tensors, **kwargs)
    _runs(ran, train, "the training forward")
    g = rng.standard_normal(y.shape)
    y.backward(g)
    _runs(ran, backward, "the backward")
    with no_grad():
        inferred = conv2d(Tensor(x), Tensor(w), Tensor(b), relu=True, **kwargs).numpy()
    _runs(ran, infer, "the inference forward")

    want = ref.conv2d(x, w, b, **kwargs)
    np.testing.assert_allclose(y.numpy(), want, atol=1e-10)
    np.testing.assert_allclose(inferred, np.maximum(want, 0), atol=1e-10)
    for got, grad in zip(tensors, ref.conv2d_grads(x, w, g, **kwargs), strict=True):
        np.testing.assert_allclose(got.grad, grad, atol=1e-10)


@pytest.mark.parametrize("case", CONV_IDS)
def test_conv_kernel_passes_finite_differences(case, monkeypatch, rng, ran):
    """A strided case checks the contiguous numbers under its layout, viewed through it inside
    the function: gradcheck copies its inputs, and a copy of x would be contiguous."""
    (x, w, b), kwargs, (train, _, _) = _conv_case(case, monkeypatch, rng, np.float64)
    layout = _layout(case)
    assert_gradcheck(lambda x, w, b: conv2d(layout(x), w, b, **kwargs), layout(x), w, b)
    assert set(train.split()) <= set(ran.take().split()), "gradcheck left the case's kernels"


def _torch_conv(
    torch: Any, x: Any, w: Any, b: Any, stride, padding, dilation, relu: bool = True
) -> Any:
    """PyTorch's conv2d (+ ReLU) on NHWC tensors, TensorFlow's "same" padding made explicit."""
    functional = torch.nn.functional
    s, d = ref.as_pair(stride), ref.as_pair(dilation)
    (top, bottom), (left, right) = ref.explicit_pads(x.shape[1:3], w.shape[:2], s, padding, d)
    x = functional.pad(x.permute(0, 3, 1, 2), (left, right, top, bottom))
    y = functional.conv2d(x, w.permute(3, 2, 0, 1), b, stride=s, dilation=d)
    return (functional.relu(y) if relu else y).permute(0, 2, 3, 1)


@pytest.mark.parametrize("case", CONV_IDS)
def test_conv_kernel_matches_torch(case, monkeypatch, rng, ran, torch):
    """float32 with ReLU fused (its mask kept, or taken from the chunked output): forward and
    the gradients of a random projection of the output; the float32 plan takes the same
    kernels as the float64 one."""
    (x, w, b), kwargs, (train, backward, _) = _conv_case(case, monkeypatch, rng, np.float32)
    ours = [Tensor(a, requires_grad=True) for a in (x, w, b)]
    y = conv2d(*ours, relu=True, **kwargs)
    _runs(ran, train, "the training forward")
    g = rng.standard_normal(y.shape).astype(np.float32)
    y.backward(g)
    _runs(ran, backward, "the backward")
    # (PyTorch takes no negative strides: its copy is contiguous)
    theirs = [torch.tensor(np.ascontiguousarray(a), requires_grad=True) for a in (x, w, b)]
    out = _torch_conv(torch, *theirs, **kwargs)
    out.backward(torch.tensor(g))
    np.testing.assert_allclose(y.numpy(), out.detach().numpy(), **FORWARD_TOL)
    for mine, t in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(mine.grad, t.grad.numpy(), **GRAD_TOL)


# ------------------------------------------------------------------ pooling
# id: (x shape, pool, stride, padding, strided input,
#      kernels of max pooling's training forward | its backward | its inference forward)
POOL = {
    # windows tiling the image: tap planes copied whole (training), two rounds of 2×2 maxima
    # (inference), the image as blocks (average)
    "tiled-1x1-image": ((1, 1, 1, 3), 1, None, "valid", False,
                        "blocks pool-by-pixel pool-planes | blocks pool-by-pixel"
                        " | blocks views-tiled"),
    "tiled-1-channel-batch1-odd": ((1, 6, 10, 1), (3, 2), None, "valid", False,
                                   "blocks pool-by-pixel pool-planes | blocks pool-by-pixel"
                                   " | blocks views-tiled"),
    "tiled-2x2-odd-sizes": ((2, 6, 10, 3), 2, None, "valid", False,
                            "blocks pool-by-pixel pool-planes | blocks pool-by-pixel | max-2x2"),
    "tiled-strided-input": ((1, 6, 4, 2), 2, None, "valid", True,
                            "blocks views-tiled | blocks pool-by-pixel | blocks views-tiled"),
    # windows that overlap, skip cells or run over the padding: strided views of the padded image
    "general-stride-over-pool": ((2, 7, 8, 1), 2, 3, "valid", False,
                                 "views-padded | views-padded | views-padded"),
    "general-1x1-image-same": ((1, 1, 1, 2), 3, 1, "same", False,
                               "views-padded | views-padded | views-padded"),
    "general-batch1-odd-same": ((1, 5, 7, 3), 3, 2, "same", False,
                                "views-padded | views-padded | views-padded"),
    "general-2x2-odd-size": ((2, 5, 7, 1), 2, None, "valid", False,
                             "views-padded | views-padded | views-padded"),
}  # fmt: skip
POOL_IDS = list(POOL)
POOL_OPS = {
    "max": (ops.max_pool2d, ref.max_pool2d, ref.max_pool2d_grad),
    "avg": (ops.avg_pool2d, ref.avg_pool2d, ref.avg_pool2d_grad),
}


def _pool_case(case: str, rng: Any, dtype: Any) -> tuple:
    x_shape, pool, stride, padding, strided, expected = POOL[case]
    x = _distinct(rng, x_shape, dtype)  # no ties: one maximum per window, far from kinks
    if strided:  # the same numbers, not contiguous
        x = np.ascontiguousarray(x.swapaxes(1, 2)).swapaxes(1, 2)
    train, backward, infer = (part.strip() for part in expected.split("|"))
    return x, (pool, stride, padding), (train, backward, infer)


def _avg_kernels(case: str) -> tuple[str, str, str]:
    """What average pooling runs (training forward, backward, inference forward): the image
    as blocks where the windows tile it, else the views of the padded image."""
    if case.startswith("tiled"):
        return "blocks views-tiled", "blocks", "blocks views-tiled"
    return "views-padded", "views-padded", "views-padded"


@pytest.mark.parametrize("kind", list(POOL_OPS))
@pytest.mark.parametrize("case", POOL_IDS)
def test_pool_kernel_matches_the_loop_reference(case, kind, rng, ran):
    """float64: training forward and gradient, and the inference forward, equal the loops'."""
    op, reference, reference_grad = POOL_OPS[kind]
    x, args, expected = _pool_case(case, rng, np.float64)
    if kind == "avg":
        expected = _avg_kernels(case)
    xt = Tensor(x, requires_grad=True)
    y = op(xt, *args)
    _runs(ran, expected[0], "the training forward")
    g = rng.standard_normal(y.shape)
    y.backward(g)
    _runs(ran, expected[1], "the backward")
    with no_grad():
        inferred = op(Tensor(x), *args).numpy()
    _runs(ran, expected[2], "the inference forward")
    np.testing.assert_allclose(y.numpy(), reference(x, *args), atol=1e-12)
    np.testing.assert_array_equal(inferred, y.numpy())
    np.testing.assert_allclose(xt.grad, reference_grad(x, g, *args), atol=1e-12)


@pytest.mark.parametrize("kind", list(POOL_OPS))
@pytest.mark.parametrize("case", POOL_IDS)
def test_pool_kernel_passes_finite_differences(case, kind, rng):
    x, args, _ = _pool_case(case, rng, np.float64)
    assert_gradcheck(lambda x: POOL_OPS[kind][0](x, *args), x)


@pytest.mark.parametrize("kind", list(POOL_OPS))
@pytest.mark.parametrize("case", POOL_IDS)
def test_pool_kernel_matches_torch(case, kind, rng, torch):
    x, args, _ = _pool_case(case, rng, np.float32)
    xt = Tensor(x, requires_grad=True)
    y = POOL_OPS[kind][0](xt, *args)
    g = rng.standard_normal(y.shape).astype(np.float32)
    y.backward(g)
    xr = torch.tensor(x, requires_grad=True)
    out = _torch_pool(torch, kind, x.shape, *args)(xr)
    out.backward(torch.tensor(g))
    np.testing.assert_allclose(y.numpy(), out.detach().numpy(), **FORWARD_TOL)
    np.testing.assert_allclose(xt.grad, xr.grad.numpy(), **GRAD_TOL)


# ------------------------------------------------------------------ batch normalization
# Per-channel arithmetic over (P, C) rows runs k = 1024 // C rows at a time as one long row
# (``tensor.rows_with``) once P ≥ 2k (and, for 16 channels or more, 65536 numbers): shapes
# far bigger than the op's own tests use, so each case here is checked to take that kernel.
NORM = {
    "1-channel-batch1-odd": (1, 45, 47, 1),
    "1x1-images": (700, 1, 1, 3),
    "odd-sizes-uneven-tail": (3, 17, 15, 5),
    "16-channels": (2, 33, 63, 16),
    "dense-rows": (1500, 2),
}
NORM_IDS = list(NORM)


def _norm_case(case: str, rng: Any, dtype: Any) -> list:
    c = NORM[case][-1]
    x = rng.normal(2.0, 3.0, NORM[case])
    parts = (x, rng.uniform(0.5, 2.0, c), rng.normal(size=c), rng.normal(size=c))
    return [a.astype(dtype) for a in (*parts, rng.uniform(1.0, 2.0, c))]


def _batch_norm(training: bool, stats: tuple) -> Callable[..., Tensor]:
    def fn(x: Tensor, gamma: Tensor, beta: Tensor) -> Tensor:
        mean, var = (Tensor(a.copy()) for a in stats)  # fresh: training updates them
        return ops.batch_norm(x, gamma, beta, mean, var, training=training, momentum=0.9)

    return fn


@pytest.mark.parametrize("training", [True, False], ids=["training", "inference"])
@pytest.mark.parametrize("case", NORM_IDS)
def test_batch_norm_long_rows_match_the_textbook_formula(case, training, rng, ran):
    """float64: output and the three gradients equal the formula written out in NumPy."""
    x, gamma, beta, mean, var = _norm_case(case, rng, np.float64)
    tensors = [Tensor(a, requires_grad=True) for a in (x, gamma, beta)]
    y = _batch_norm(training, (mean, var))(*tensors)
    g = rng.standard_normal(x.shape)
    y.backward(g)
    _runs(ran, "long-rows", "batch normalization")
    axes = tuple(range(x.ndim - 1))
    if training:
        mean, var = x.mean(axis=axes), x.var(axis=axes)
    inv_std = 1 / np.sqrt(var + 1e-3)
    x_hat = (x - mean) * inv_std
    gx = gamma * inv_std * g
    if training:
        gx = gamma * inv_std * (g - g.mean(axis=axes) - x_hat * (g * x_hat).mean(axis=axes))
    np.testing.assert_allclose(y.numpy(), gamma * x_hat + beta, atol=1e-10)
    for got, want in zip(tensors, (gx, (g * x_hat).sum(axis=axes), g.sum(axis=axes)),
                         strict=True):  # fmt: skip
        np.testing.assert_allclose(got.grad, want, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("training", [True, False], ids=["training", "inference"])
@pytest.mark.parametrize("case", NORM_IDS)
def test_batch_norm_long_rows_pass_finite_differences(case, training, rng):
    x, gamma, beta, mean, var = _norm_case(case, rng, np.float64)
    assert_gradcheck(_batch_norm(training, (mean, var)), x, gamma, beta)


@pytest.mark.parametrize("training", [True, False], ids=["training", "inference"])
@pytest.mark.parametrize("case", NORM_IDS)
def test_batch_norm_long_rows_match_torch(case, training, rng, torch):
    x, gamma, beta, mean, var = _norm_case(case, rng, np.float32)
    ours = [Tensor(a, requires_grad=True) for a in (x, gamma, beta)]
    stats = [Tensor(a.copy()) for a in (mean, var)]
    y = ops.batch_norm(*ours, *stats, training=training, momentum=0.9)
    g = rng.standard_normal(x.shape).astype(np.float32)
    y.backward(g)
    theirs = [torch.tensor(a, requires_grad=True) for a in (x, gamma, beta)]
    t_stats = [torch.tensor(a.copy()) for a in (mean, var)]
    channels_first = (0, x.ndim - 1, *range(1, x.ndim - 1))
    out = torch.nn.functional.batch_norm(
        theirs[0].permute(channels_first), *t_stats, theirs[1], theirs[2], training, 0.1, 1e-3
    )
    out = out.permute(0, *range(2, x.ndim), 1)
    out.backward(torch.tensor(g))
    np.testing.assert_allclose(y.numpy(), out.detach().numpy(), **FORWARD_TOL)
    np.testing.assert_allclose(stats[0].numpy(), t_stats[0].numpy(), **FORWARD_TOL)
    for mine, t in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(mine.grad, t.grad.numpy(), rtol=1e-3, atol=2e-4)


# ------------------------------------------------------------------ convolution + max pool
# ``ops.fused.ConvMaxPoolOp``: inference tapes only (no backward, so no gradient checks).
# id: (x shape, w shape, conv stride, padding, dilation, pool, pool stride, kernels)
FUSED = {
    "tiled-pool-1-channel-batch1": ((1, 6, 8, 1), (3, 3, 1, 4), 1, "same", 1, 2, None,
                                    "im2col max-2x2 short-rows tiles"),
    "general-pool-stride-over-kernel": ((2, 11, 9, 2), (2, 2, 2, 3), 3, "valid", 1, 2, 1,
                                        "im2col short-rows tiles views-padded"),
    "dilation-odd-pool": ((1, 9, 11, 3), (3, 3, 3, 5), 1, "valid", 2, 3, 2,
                          "im2col tiles views-padded"),
    "1x1-image": ((2, 1, 1, 3), (3, 3, 3, 4), 1, "same", 1, 1, None,
                  "blocks im2col short-rows views-tiled"),
}  # fmt: skip


def _fused_case(case: str, rng: Any) -> tuple:
    """The arrays, the op's attributes and the loop references' arguments of a FUSED case."""
    x_shape, w_shape, stride, padding, dilation, pool, pool_stride, expected = FUSED[case]
    x, w = rng.standard_normal(x_shape), rng.standard_normal(w_shape)
    b = rng.standard_normal(w_shape[-1])
    s, d, p = ref.as_pair(stride), ref.as_pair(dilation), ref.as_pair(pool)
    attrs = {
        "conv": {"stride": s, "pads": ref.explicit_pads(x_shape[1:3], w_shape[:2], s, padding, d),
                 "dilation": d, "relu": True},
        "pool": {"pool": p, "stride": p if pool_stride is None else ref.as_pair(pool_stride),
                 "pads": ((0, 0), (0, 0))},
    }  # fmt: skip
    return (x, w, b), attrs, (stride, padding, dilation, pool, pool_stride), expected


def _fused(arrays: tuple, attrs: dict, dtype: Any) -> np.ndarray:
    with no_grad():
        return ConvMaxPoolOp.apply(*(Tensor(a.astype(dtype)) for a in arrays), **attrs).numpy()


@pytest.mark.parametrize("case", list(FUSED))
def test_conv_max_pool_fusion_matches_the_loops(case, rng, ran):
    """float64: the fused inference op equals max_pool(relu(conv + b)) by the loops."""
    (x, w, b), attrs, (stride, padding, dilation, pool, pool_stride), expected = _fused_case(
        case, rng
    )
    got = _fused((x, w, b), attrs, np.float64)
    _runs(ran, expected, "the fused op")
    conv_out = np.maximum(ref.conv2d(x, w, b, stride, padding, dilation), 0)
    np.testing.assert_allclose(got, ref.max_pool2d(conv_out, pool, pool_stride), atol=1e-10)


@pytest.mark.parametrize("case", list(FUSED))
def test_conv_max_pool_fusion_matches_torch(case, rng, torch):
    arrays, attrs, (stride, padding, dilation, _, _), _ = _fused_case(case, rng)
    t = [torch.tensor(a.astype(np.float32)) for a in arrays]
    y = _torch_conv(torch, *t, stride, padding, dilation).permute(0, 3, 1, 2)
    their = torch.nn.functional.max_pool2d(y, attrs["pool"]["pool"], attrs["pool"]["stride"])
    mine = _fused(arrays, attrs, np.float32)
    np.testing.assert_allclose(mine, their.permute(0, 2, 3, 1).numpy(), **FORWARD_TOL)


# ------------------------------------------------------------------ convolution + batch norm
# ``ops.fused.ConvBatchNormOp`` (inference tapes only): FUSED's convolutions, each followed by
# the inference-mode normalization (``normalization.batch_norm_inference``) and a ReLU, on the
# same odd shapes. Statistics: (gamma, beta, mean, var), each (F,).
def _conv_bn_case(case: str, rng: Any) -> tuple:
    (x, w, b), attrs, (stride, padding, dilation, _, _), _ = _fused_case(case, rng)
    f = w.shape[-1]
    stats = (rng.uniform(0.5, 2.0, f), rng.normal(size=f), rng.normal(size=f),
             rng.uniform(0.5, 2.0, f))  # fmt: skip
    return (x, w, b, *stats), attrs["conv"], (stride, padding, dilation)


def _conv_bn(arrays: tuple, conv: dict, dtype: Any) -> np.ndarray:
    with no_grad():
        tensors = (Tensor(a.astype(dtype)) for a in arrays)
        return ConvBatchNormOp.apply(*tensors, conv=conv, epsilon=1e-3, relu=True).numpy()


@pytest.mark.parametrize("case", list(FUSED))
def test_conv_batch_norm_fusion_matches_the_loops(case, rng):
    """float64: the fused inference op equals relu(γ·(y − μ)/√(σ² + ε) + β) by the loops,
    y = relu(conv + b) (FUSED's convolutions have a ReLU of their own)."""
    arrays, conv, (stride, padding, dilation) = _conv_bn_case(case, rng)
    x, w, b, gamma, beta, mean, var = arrays
    got = _conv_bn(arrays, conv, np.float64)
    y = np.maximum(ref.conv2d(x, w, b, stride, padding, dilation), 0)
    want = np.maximum(gamma * (y - mean) / np.sqrt(var + 1e-3) + beta, 0)
    np.testing.assert_allclose(got, want, atol=1e-10)


@pytest.mark.parametrize("case", list(FUSED))
def test_conv_batch_norm_fusion_matches_torch(case, rng, torch):
    arrays, conv, (stride, padding, dilation) = _conv_bn_case(case, rng)
    t = [torch.tensor(a.astype(np.float32)) for a in arrays]
    y = _torch_conv(torch, *t[:3], stride, padding, dilation).permute(0, 3, 1, 2)
    gamma, beta, mean, var = t[3:]
    their = torch.relu(torch.nn.functional.batch_norm(y, mean, var, gamma, beta, False, 0.1, 1e-3))
    mine = _conv_bn(arrays, conv, np.float32)
    np.testing.assert_allclose(mine, their.permute(0, 2, 3, 1).numpy(), **FORWARD_TOL)


# ------------------------------------------------------------------ bias over long rows
# Dense and depthwise convolution add their bias over long rows too (``tensor.add_to_rows``)
# once there are P ≥ 2·(1024 // F) rows, and sum its gradient likewise (``tensor.sum_rows``).
# Dense: (1100, 3) -> 2 units. Depthwise: one channel, batch 1, an odd non-square image,
# dilation (with one channel it is a plain convolution, so the loops and PyTorch's conv2d
# are its references).
DEPTHWISE = {"stride": (1, 1), "padding": "same", "dilation": (2, 3)}
LONG_BIAS = {
    "linear": (((1100, 3), (3, 2), (2,)), lambda x, w, b: ops.linear(x, w, b, relu=True)),
    "depthwise": (((1, 67, 35, 1), (3, 2, 1, 1), (1,)),
                  lambda x, w, b: ops.depthwise_conv2d(x, w, b, **DEPTHWISE)),
}  # fmt: skip


def _long_bias_reference(case: str, x: Any, w: Any, b: Any, g: Any) -> tuple:
    """Output and gradients (dx, dw, db) of Σ g · op(x, w, b), by NumPy and the loops."""
    if case == "linear":
        z = x @ w + b
        gz = g * (z > 0)
        return np.maximum(z, 0), (gz @ w.T, x.T @ gz, gz.sum(axis=0))
    return ref.conv2d(x, w, b, **DEPTHWISE), ref.conv2d_grads(x, w, g, **DEPTHWISE)


@pytest.mark.parametrize("case", list(LONG_BIAS))
def test_bias_over_long_rows_matches_the_references(case, rng, ran):
    shapes, fn = LONG_BIAS[case]
    x, w, b = (rng.standard_normal(shape) for shape in shapes)
    tensors = [Tensor(a, requires_grad=True) for a in (x, w, b)]
    y = fn(*tensors)
    _runs(ran, "long-rows", case)
    g = rng.standard_normal(y.shape)
    y.backward(g)
    want, grads = _long_bias_reference(case, x, w, b, g)
    np.testing.assert_allclose(y.numpy(), want, atol=1e-12)
    for got, grad in zip(tensors, grads, strict=True):
        np.testing.assert_allclose(got.grad, grad, atol=1e-10)


@pytest.mark.parametrize("case", list(LONG_BIAS))
def test_bias_over_long_rows_passes_finite_differences(case, rng):
    shapes, fn = LONG_BIAS[case]
    x, w, b = (rng.standard_normal(shape) for shape in shapes)
    if case == "linear":  # away from ReLU's kink: finite differences step across it otherwise
        b = b + 10.0
    assert_gradcheck(fn, x, w, b)


@pytest.mark.parametrize("case", list(LONG_BIAS))
def test_bias_over_long_rows_matches_torch(case, rng, torch):
    shapes, fn = LONG_BIAS[case]
    arrays = [rng.standard_normal(shape).astype(np.float32) for shape in shapes]
    ours = [Tensor(a, requires_grad=True) for a in arrays]
    mine = fn(*ours)
    g = rng.standard_normal(mine.shape).astype(np.float32)
    mine.backward(g)
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    if case == "linear":
        out = torch.relu(theirs[0] @ theirs[1] + theirs[2])
    else:
        out = _torch_conv(torch, *theirs, **DEPTHWISE, relu=False)
    out.backward(torch.tensor(g))
    np.testing.assert_allclose(mine.numpy(), out.detach().numpy(), **FORWARD_TOL)
    for got, t in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(got.grad, t.grad.numpy(), rtol=1e-3, atol=5e-4)


# ------------------------------------------------------------------ gradients of broadcast operands
# ``x + b`` and ``x * b`` broadcast b (C,) or (W, C) over x's leading axes; the engine sums b's
# gradient back (``tensor.unbroadcast``) as one column sum over rows of b's size
# (``tensor.sum_rows``: "column-sum"), in long rows where there are enough rows. A b of shape
# (1, C), which sums an inner axis too, and a gradient that reaches the op as a transposed view
# take NumPy's sum instead (no column sum) and must give the same numbers.
UNBROADCAST_OPS = {  # forward (on arrays and Tensors alike), and its gradients per element
    "add": (lambda x, b: x + b, lambda x, b, g: (g, g)),
    "mul": (lambda x, b: x * b, lambda x, b, g: (g * b, g * x)),
    "add-transposed": (lambda x, b: (x + b).transpose(0, 2, 1, 3),
                       lambda x, b, g: (g.transpose(0, 2, 1, 3),) * 2),
}  # fmt: skip
# id: (op, x shape, b shape, what summed b's gradient)
UNBROADCAST = {
    "1x1-images": ("add", (700, 1, 1, 3), (3,), "column-sum-long-rows-tail"),
    "1-channel-batch1-odd": ("mul", (1, 45, 47, 1), (1,), "column-sum-long-rows-tail"),
    "row-of-channels-batch1-odd": ("add", (1, 67, 35, 3), (35, 3), "column-sum-long-rows-tail"),
    "whole-long-rows": ("mul", (4, 32, 16, 2), (2,), "column-sum-long-rows"),
    "odd-sizes-few-rows": ("mul", (3, 5, 7, 4), (4,), "column-sum"),
    "1x1-images-1-channel": ("add", (5, 1, 1, 1), (1,), "column-sum"),
    "bias-with-kept-axis": ("add", (2, 5, 7, 3), (1, 3), ""),
    "transposed-gradient": ("add-transposed", (2, 5, 7, 3), (3,), ""),
}
UNBROADCAST_IDS = list(UNBROADCAST)


def _unbroadcast_case(case: str, rng: Any, dtype: Any) -> tuple:
    op, x_shape, b_shape, expected = UNBROADCAST[case]
    x, b = (rng.standard_normal(shape).astype(dtype) for shape in (x_shape, b_shape))
    return x, b, UNBROADCAST_OPS[op], expected


@pytest.mark.parametrize("case", UNBROADCAST_IDS)
def test_broadcast_operand_gradient_matches_numpy(case, rng, ran):
    """float64: b's gradient is the gradient per element summed over the axes b was broadcast
    along (the leading ones, and b's axes of size 1)."""
    x, b, (forward, per_element), expected = _unbroadcast_case(case, rng, np.float64)
    xt, bt = Tensor(x, requires_grad=True), Tensor(b, requires_grad=True)
    y = forward(xt, bt)
    g = rng.standard_normal(y.shape)
    y.backward(g)
    _runs(ran, expected, "the forward and backward")
    gx, gb = per_element(x, b, g)
    gb = gb.sum(axis=tuple(range(x.ndim - b.ndim)))
    gb = gb.sum(axis=tuple(i for i, n in enumerate(b.shape) if n == 1), keepdims=True)
    np.testing.assert_allclose(y.numpy(), forward(x, b), atol=1e-12)
    np.testing.assert_allclose(xt.grad, gx, atol=1e-12)
    np.testing.assert_allclose(bt.grad, gb, rtol=1e-12, atol=1e-10)


@pytest.mark.parametrize("case", UNBROADCAST_IDS)
def test_broadcast_operand_gradient_passes_finite_differences(case, rng):
    x, b, (forward, _), _ = _unbroadcast_case(case, rng, np.float64)
    assert_gradcheck(forward, x, b)


@pytest.mark.parametrize("case", UNBROADCAST_IDS)
def test_broadcast_operand_gradient_matches_torch(case, rng, ran, torch):
    x, b, (forward, _), expected = _unbroadcast_case(case, rng, np.float32)
    ours = [Tensor(a, requires_grad=True) for a in (x, b)]
    mine = forward(*ours)
    g = rng.standard_normal(mine.shape).astype(np.float32)
    mine.backward(g)
    _runs(ran, expected, "the forward and backward")
    theirs = [torch.tensor(a, requires_grad=True) for a in (x, b)]
    if UNBROADCAST[case][0] == "add-transposed":  # (torch's transpose swaps two axes)
        out = (theirs[0] + theirs[1]).permute(0, 2, 1, 3)
    else:
        out = forward(*theirs)
    out.backward(torch.tensor(g))
    np.testing.assert_allclose(mine.numpy(), out.detach().numpy(), **FORWARD_TOL)
    for got, t in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(got.grad, t.grad.numpy(), **GRAD_TOL)
