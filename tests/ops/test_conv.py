"""conv2d: forward vs a loop reference, backward vs finite differences and PyTorch, shapes,
dtypes and every user error. Mirrors glassnet/ops/conv.py."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from glassnet import Tensor, no_grad, ops
from glassnet.ops import conv2d, conv_output_shape, resolve_padding
from glassnet.ops._conv_kernels import _short_window_rows, copy_windows
from glassnet.ops.conv import col2im, im2col, im2col_view
from tests import reference as ref
from tests.helpers import FORWARD_TOL, GRAD_TOL, assert_gradcheck, run_float32, torch_run

# (x shape, weight shape, stride, padding, dilation): small, but every edge the issue lists.
CASES = {
    "batch1": ((1, 5, 5, 2), (3, 3, 2, 4), 1, "valid", 1),
    "kernel3x2": ((2, 7, 6, 3), (3, 2, 3, 4), 1, "valid", 1),
    "kernel1x5-same": ((2, 6, 9, 2), (1, 5, 2, 3), 1, "same", 1),
    "stride2-same-odd": ((2, 7, 7, 3), (3, 3, 3, 4), 2, "same", 1),
    "stride3-valid": ((2, 10, 11, 2), (3, 3, 2, 3), 3, "valid", 1),
    "same-even-input-even-kernel": ((2, 6, 8, 2), (2, 4, 2, 3), 1, "same", 1),
    "same-stride2-even-kernel": ((1, 8, 7, 2), (4, 4, 2, 2), 2, "same", 1),
    "stride-pair": ((1, 7, 9, 2), (3, 3, 2, 2), (2, 3), "valid", 1),
    "dilation2": ((2, 9, 8, 2), (3, 3, 2, 3), 1, "valid", 2),
    "dilation-pair-same": ((1, 7, 8, 2), (3, 2, 2, 3), 1, "same", (2, 1)),
    "dilation2-stride2-same": ((1, 9, 8, 2), (3, 3, 2, 2), 2, "same", 2),
    "int-padding": ((2, 5, 6, 3), (3, 3, 3, 2), 2, 1, 1),
    "pair-padding": ((1, 5, 4, 2), (3, 3, 2, 2), 1, (2, 0), 1),
    "asymmetric-padding": ((1, 5, 5, 2), (3, 3, 2, 2), (1, 2), ((1, 2), (0, 3)), 1),
    "1x1": ((2, 5, 4, 6), (1, 1, 6, 3), 1, "valid", 1),
    "1x1-stride2": ((2, 5, 5, 3), (1, 1, 3, 2), 2, "valid", 1),
    "kernel-equals-input": ((2, 4, 3, 2), (4, 3, 2, 5), 1, "valid", 1),
    # one channel (these widths take output tiles; the one-channel plane copy is forced in
    # tests/ops/test_kernel_paths.py, which checks which kernels each shape runs)
    "grayscale-same": ((2, 7, 6, 1), (5, 5, 1, 3), 1, "same", 1),
    "grayscale-stride2-dilation": ((1, 9, 8, 1), (3, 2, 1, 2), 2, "valid", (2, 1)),
    # many more filters than channels: the input gradient goes through col2im
    "more-filters-than-channels": ((2, 6, 5, 2), (3, 3, 2, 7), 1, "same", 1),
}
IDS = list(CASES)
PARAMS = list(CASES.values())


def _data(rng, x_shape, w_shape, dtype=np.float64):
    x = rng.standard_normal(x_shape).astype(dtype)
    w = rng.standard_normal(w_shape).astype(dtype)
    b = rng.standard_normal(w_shape[3]).astype(dtype)
    return x, w, b


def _torch_conv(torch, x_shape, stride, padding, dilation):
    """PyTorch's conv2d on NHWC arrays with a (kh, kw, in, out) kernel; "same" and asymmetric
    padding are applied explicitly with F.pad (TensorFlow's rule, from tests/reference.py)."""
    functional = torch.nn.functional

    def fn(x, w, b=None):
        kernel = tuple(w.shape[:2])
        s, d = ref.as_pair(stride), ref.as_pair(dilation)
        (top, bottom), (left, right) = ref.explicit_pads(x_shape[1:3], kernel, s, padding, d)
        x_nchw = functional.pad(x.permute(0, 3, 1, 2), (left, right, top, bottom))
        y = functional.conv2d(x_nchw, w.permute(3, 2, 0, 1), b, stride=s, dilation=d)
        return y.permute(0, 2, 3, 1)

    return fn


# ------------------------------------------------------------------ forward
@pytest.mark.parametrize(("x_shape", "w_shape", "stride", "padding", "dilation"), PARAMS, ids=IDS)
def test_forward_matches_loop_reference(rng, x_shape, w_shape, stride, padding, dilation):
    x, w, b = _data(rng, x_shape, w_shape)
    y = conv2d(Tensor(x), Tensor(w), Tensor(b), stride, padding, dilation)
    hw = conv_output_shape(x_shape[1:3], w_shape[:2], stride, padding, dilation)
    assert y.shape == (x_shape[0], *hw, w_shape[3])
    assert y.dtype == np.float64
    np.testing.assert_allclose(
        y.numpy(), ref.conv2d(x, w, b, stride, padding, dilation), atol=1e-12
    )


def test_same_padding_keeps_size_with_stride_1(rng):
    x, w, _ = _data(rng, (1, 6, 7, 2), (4, 3, 2, 3))
    assert conv2d(Tensor(x), Tensor(w), padding="SAME").shape == (1, 6, 7, 3)


def test_forward_without_bias(rng):
    x, w, _ = _data(rng, (2, 6, 5, 3), (3, 3, 3, 4))
    y = conv2d(Tensor(x), Tensor(w), padding="same")
    np.testing.assert_allclose(y.numpy(), ref.conv2d(x, w, None, 1, "same"), atol=1e-12)


def test_accepts_plain_arrays(rng):
    x, w, b = _data(rng, (1, 5, 5, 2), (3, 3, 2, 2), np.float32)
    y = conv2d(x, w, b)
    assert isinstance(y, Tensor) and y.dtype == np.float32 and not y.requires_grad
    np.testing.assert_allclose(y.numpy(), ref.conv2d(x, w, b), **FORWARD_TOL)


# ------------------------------------------------------------------ backward: finite differences
@pytest.mark.parametrize(("x_shape", "w_shape", "stride", "padding", "dilation"), PARAMS, ids=IDS)
def test_gradcheck(rng, x_shape, w_shape, stride, padding, dilation):
    x, w, b = _data(rng, x_shape, w_shape)

    def fn(x, w, b):
        return conv2d(x, w, b, stride=stride, padding=padding, dilation=dilation)

    assert_gradcheck(fn, x, w, b)


def test_gradcheck_without_bias(rng):
    x, w, _ = _data(rng, (1, 5, 4, 2), (2, 3, 2, 2))
    assert_gradcheck(lambda x, w: conv2d(x, w, stride=2, padding="same"), x, w)


# ------------------------------------------------------------------ parity with PyTorch
@pytest.mark.parametrize(("x_shape", "w_shape", "stride", "padding", "dilation"), PARAMS, ids=IDS)
def test_matches_torch(torch, rng, x_shape, w_shape, stride, padding, dilation):
    """float32 forward and grads of out.sum(); tolerances FORWARD_TOL (atol 1e-5, rtol 1e-4)
    and GRAD_TOL (atol 1e-4, rtol 1e-3) from tests/helpers.py."""
    x, w, b = _data(rng, x_shape, w_shape, np.float32)
    ours, our_grads = run_float32(
        lambda x, w, b: conv2d(x, w, b, stride, padding, dilation), x, w, b
    )
    theirs, their_grads = torch_run(
        torch, _torch_conv(torch, x_shape, stride, padding, dilation), x, w, b
    )
    assert ours.shape == theirs.shape
    np.testing.assert_allclose(ours, theirs, **FORWARD_TOL)
    for mine, want in zip(our_grads, their_grads, strict=True):
        np.testing.assert_allclose(mine, want, **GRAD_TOL)


@pytest.mark.parametrize(
    "make_view",
    [
        pytest.param(
            lambda a: np.transpose(
                np.ascontiguousarray(np.transpose(a, (0, 2, 1, 3))), (0, 2, 1, 3)
            ),
            id="transposed-view",
        ),
        pytest.param(np.asfortranarray, id="fortran-order"),
        pytest.param(lambda a: np.ascontiguousarray(a[:, ::-1])[:, ::-1], id="negative-strides"),
    ],
)
def test_non_contiguous_inputs(torch, rng, make_view):
    x, w, b = _data(rng, (2, 7, 6, 3), (3, 2, 3, 4), np.float32)
    xv, wv = make_view(x), np.asfortranarray(w)
    assert not xv.flags.c_contiguous and not wv.flags.c_contiguous
    np.testing.assert_array_equal(xv, x)
    fn = _torch_conv(torch, x.shape, 2, "same", 1)
    theirs, their_grads = torch_run(torch, fn, x, w, b)
    tx, tw, tb = Tensor(xv, requires_grad=True), Tensor(wv, requires_grad=True), Tensor(b, True)
    y = conv2d(tx, tw, tb, stride=2, padding="same")
    y.sum().backward()
    np.testing.assert_allclose(y.numpy(), theirs, **FORWARD_TOL)
    for t, want in zip((tx, tw, tb), their_grads, strict=True):
        np.testing.assert_allclose(t.grad, want, **GRAD_TOL)


# ------------------------------------------------------------------ properties (hypothesis)
@st.composite
def conv_configs(draw):
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    padding = draw(
        st.one_of(
            st.sampled_from(["valid", "same"]),
            st.integers(0, 2),
            st.tuples(st.integers(0, 2), st.integers(0, 2)),
            st.tuples(
                st.tuples(st.integers(0, 2), st.integers(0, 2)),
                st.tuples(st.integers(0, 2), st.integers(0, 2)),
            ),
        )
    )
    return {
        "x_shape": (
            draw(st.integers(1, 2)),
            draw(st.integers(1, 9)),
            draw(st.integers(1, 9)),
            draw(st.integers(1, 3)),
        ),
        "kernel": (kh, kw),
        "filters": draw(st.integers(1, 3)),
        "stride": draw(
            st.one_of(st.integers(1, 3), st.tuples(st.integers(1, 3), st.integers(1, 3)))
        ),
        "padding": padding,
        "dilation": draw(
            st.one_of(st.integers(1, 2), st.tuples(st.integers(1, 2), st.integers(1, 2)))
        ),
        "seed": draw(st.integers(0, 2**16)),
    }


def _fits(cfg) -> bool:
    try:
        conv_output_shape(
            cfg["x_shape"][1:3], cfg["kernel"], cfg["stride"], cfg["padding"], cfg["dilation"]
        )
    except ValueError:
        return False
    return True


@settings(max_examples=25, deadline=None)
@given(conv_configs())
def test_property_shape_and_values_match_reference(cfg):
    assume(_fits(cfg))
    rng = np.random.default_rng(cfg["seed"])
    x, w, b = _data(rng, cfg["x_shape"], (*cfg["kernel"], cfg["x_shape"][3], cfg["filters"]))
    args = (cfg["stride"], cfg["padding"], cfg["dilation"])
    y = conv2d(Tensor(x), Tensor(w), Tensor(b), *args)
    hw = conv_output_shape(cfg["x_shape"][1:3], cfg["kernel"], *args)
    assert y.shape == (cfg["x_shape"][0], *hw, cfg["filters"])
    np.testing.assert_allclose(y.numpy(), ref.conv2d(x, w, b, *args), atol=1e-12)


@settings(max_examples=25, deadline=None)
@given(conv_configs())
def test_property_backward_is_the_adjoint(cfg):
    """conv2d is bilinear in (x, w), so for any upstream g: Σ g·y = Σ x·dx = Σ w·dw (+ Σ b·db).

    This "dot-product test" checks backward exactly for every random configuration, cheaply."""
    assume(_fits(cfg))
    rng = np.random.default_rng(cfg["seed"])
    x, w, b = _data(rng, cfg["x_shape"], (*cfg["kernel"], cfg["x_shape"][3], cfg["filters"]))
    tx, tw, tb = Tensor(x, True), Tensor(w, True), Tensor(b, True)
    y = conv2d(tx, tw, tb, cfg["stride"], cfg["padding"], cfg["dilation"])
    g = rng.standard_normal(y.shape)
    y.backward(g)
    total = (g * y.numpy()).sum()
    bias_part = (b * tb.grad).sum()
    np.testing.assert_allclose((x * tx.grad).sum() + bias_part, total, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose((w * tw.grad).sum() + bias_part, total, rtol=1e-9, atol=1e-9)


# ------------------------------------------------------------------ dtypes and saved state
def test_float32_stays_float32(rng):
    x, w, b = _data(rng, (2, 6, 5, 3), (3, 3, 3, 4), np.float32)
    out, grads = run_float32(lambda x, w, b: conv2d(x, w, b, 2, "same", 1), x, w, b)
    assert out.dtype == np.float32 and all(g.dtype == np.float32 for g in grads)


def test_float64_stays_float64(rng):
    x, w, b = _data(rng, (2, 6, 5, 3), (3, 3, 3, 4))
    tensors = [Tensor(a, requires_grad=True) for a in (x, w, b)]
    y = conv2d(*tensors, padding="same", dilation=2)
    y.sum().backward()
    assert y.dtype == np.float64
    assert all(t.grad.dtype == np.float64 and t.grad.shape == t.shape for t in tensors)


def test_frozen_input_skips_its_gradient_and_keeps_no_weight(rng):
    x, w, b = _data(rng, (1, 5, 5, 2), (3, 3, 2, 3))
    tw = Tensor(w, requires_grad=True)
    y = conv2d(Tensor(x), tw, Tensor(b))
    cols, w_saved = y._ctx.saved
    assert w_saved is None and cols is not None
    y.sum().backward()
    np.testing.assert_allclose(tw.grad, ref_weight_grad_of_sum(x, w.shape), atol=1e-12)


def ref_weight_grad_of_sum(x, w_shape):
    """d Σ conv(x, w) / dw[a, b, c, f] = Σ over valid positions of x[n, i + a, j + b, c]."""
    kh, kw, _, f = w_shape
    ho, wo = x.shape[1] - kh + 1, x.shape[2] - kw + 1
    g = np.array(
        [[x[:, a : a + ho, b : b + wo].sum(axis=(0, 1, 2)) for b in range(kw)] for a in range(kh)]
    )
    return np.repeat(g[..., None], f, axis=3)


def test_frozen_weight_saves_no_columns(rng):
    x, w, _ = _data(rng, (1, 6, 6, 2), (3, 3, 2, 3))
    tx = Tensor(x, requires_grad=True)
    y = conv2d(tx, Tensor(w), padding="same")
    cols, w_saved = y._ctx.saved
    assert cols is None and w_saved is not None
    y.sum().backward()
    assert tx.grad.shape == x.shape


def test_no_grad_records_nothing(rng):
    x, w, b = _data(rng, (1, 5, 5, 2), (3, 3, 2, 3))
    with no_grad():
        y = conv2d(Tensor(x, True), Tensor(w, True), Tensor(b, True))
    assert not y.requires_grad and y._ctx is None


# ------------------------------------------------------------------ im2col / col2im
def test_im2col_of_1x1_stride_1_is_a_view(rng):
    x = rng.standard_normal((2, 5, 4, 3)).astype(np.float32)
    cols = im2col(x, (1, 1), (1, 1), (1, 1), (5, 4))
    assert cols.shape == (40, 3) and np.shares_memory(cols, x)
    np.testing.assert_array_equal(cols, x.reshape(40, 3))


@pytest.mark.parametrize(
    ("channels", "kernel", "stride", "dilation", "by_rows"),
    [(3, 3, 1, 1, True), (6, 5, 1, 1, True), (16, 3, 2, 1, True), (3, 3, 1, 2, False),
     (64, 3, 1, 1, False), (1, 3, 1, 1, True)],
)  # fmt: skip
def test_window_rows_copied_whole_equal_numpys_copy(
    rng, channels, kernel, stride, dilation, by_rows
):
    """Short window rows move as one element each; dilation (rows not contiguous) and long
    rows take NumPy's copy. Either way, the same numbers as the windows."""
    x = rng.standard_normal((2, 9, 11, channels)).astype(np.float32)
    span = dilation * (kernel - 1) + 1
    out_hw = ((9 - span) // stride + 1, (11 - span) // stride + 1)
    windows = im2col_view(x, (kernel, kernel), (stride, stride), (dilation, dilation), out_hw)
    assert _short_window_rows(windows) == by_rows
    dst = np.full(windows.shape, np.nan, np.float32)
    copy_windows(dst, windows)
    np.testing.assert_array_equal(dst, windows)
    cols = im2col(x, (kernel, kernel), (stride, stride), (dilation, dilation), out_hw)
    np.testing.assert_array_equal(cols, windows.reshape(cols.shape))


def test_col2im_is_the_adjoint_of_im2col(rng):
    """<im2col(x), c> = <x, col2im(c)> for overlapping, strided, dilated windows."""
    x = rng.standard_normal((2, 9, 8, 3))
    args = ((3, 2), (2, 1), (2, 3), (3, 5))
    cols = im2col(x, *args)
    c = rng.standard_normal(cols.shape)
    np.testing.assert_allclose((cols * c).sum(), (x * col2im(c, x.shape, *args)).sum())


# ------------------------------------------------------------------ padding arithmetic
@pytest.mark.parametrize(
    ("size", "kernel", "stride", "dilation", "expected"),
    [
        (7, 3, 2, 1, (1, 1)),  # out 4: (4 − 1)·2 + 3 − 7 = 2
        (6, 3, 2, 1, (0, 1)),  # out 3: 1 pixel, at the end (TensorFlow)
        (8, 4, 1, 1, (1, 2)),  # even kernel: 3 pixels, the odd one at the end
        (7, 3, 1, 2, (2, 2)),  # dilated kernel spans 5
        (5, 1, 1, 1, (0, 0)),
        (4, 3, 5, 1, (0, 0)),  # out 1: the window already fits
    ],
)
def test_resolve_padding_same_is_tensorflows(size, kernel, stride, dilation, expected):
    pads = resolve_padding((size, 9), (kernel, 1), (stride, 1), "same", (dilation, 1))
    assert pads == (expected, (0, 0))


def test_resolve_padding_explicit_forms():
    assert resolve_padding((5, 5), 3, 1, "valid", 1) == ((0, 0), (0, 0))
    assert resolve_padding((5, 5), 3, 1, 2, 1) == ((2, 2), (2, 2))
    assert resolve_padding((5, 5), 3, 1, (1, 2), 1) == ((1, 1), (2, 2))
    assert resolve_padding((5, 5), 3, 1, ((0, 1), (2, 3)), 1) == ((0, 1), (2, 3))


def test_conv_output_shape():
    assert conv_output_shape((28, 28), 5) == (24, 24)
    assert conv_output_shape((28, 28), 3, padding="same") == (28, 28)
    assert conv_output_shape((7, 8), 3, stride=2, padding="same") == (4, 4)
    assert conv_output_shape((9, 9), 3, dilation=2) == (5, 5)
    assert conv_output_shape((10, 11), (3, 2), stride=3, padding=1) == (4, 4)
    assert conv_output_shape((None, 28), 3, padding="same") == (None, 28)
    assert conv_output_shape((None, None), 5) == (None, None)


# ------------------------------------------------------------------ errors a user can cause
def _xw(x_shape=(2, 8, 8, 3), w_shape=(3, 3, 3, 4), dtype=np.float32):
    return np.zeros(x_shape, dtype), np.zeros(w_shape, np.float32)


def test_error_3d_input():
    x, w = _xw((28, 28, 1), (3, 3, 1, 4))
    msg = r"conv2d: expected a 4-D input \(batch, height, width, channels\), received shape "
    with pytest.raises(
        ValueError, match=msg + r"\(28, 28, 1\)\. Add a batch axis, e\.g\. x\[None\]"
    ):
        conv2d(Tensor(x), Tensor(w))


def test_error_5d_input():
    x, w = _xw((1, 2, 8, 8, 3))
    with pytest.raises(ValueError, match=r"4-D input .* received shape \(1, 2, 8, 8, 3\)"):
        conv2d(x, w)


def test_error_weight_not_4d():
    x, _ = _xw()
    with pytest.raises(ValueError, match=r"conv2d: expected a 4-D weight .* received shape \(3, 3"):
        conv2d(x, np.zeros((3, 3, 3), np.float32))


def test_error_channel_mismatch():
    x, w = _xw((2, 8, 8, 1), (3, 3, 3, 4))
    with pytest.raises(
        ValueError,
        match=r"input has 1 channel but the weight expects 3.*"
        r"input shape \(2, 8, 8, 1\) and weight shape \(3, 3, 3, 4\)",
    ):
        conv2d(x, w)


def test_error_bias_shape():
    x, w = _xw()
    msg = r"conv2d: bias does not match the weight's 4 filters\. Expected shape \(4,\), received"
    with pytest.raises(ValueError, match=msg + r" \(3,\)"):
        conv2d(x, w, np.zeros(3, np.float32))


def test_error_integer_images():
    x, w = _xw(dtype=np.uint8)
    with pytest.raises(TypeError, match=r"conv2d: expected a floating-point input.*uint8"):
        conv2d(x, w)


def test_error_dtype_mismatch():
    x, w = _xw(dtype=np.float64)
    with pytest.raises(TypeError, match=r"same dtype\. Expected float64 .* weight dtype float32"):
        conv2d(x, w)


@pytest.mark.parametrize(
    ("kwargs", "x_shape", "message"),
    [
        ({}, (1, 2, 8, 3), r"conv2d: the kernel does not fit in the input, .* would be \(0, 6\)"),
        ({"dilation": 4}, (1, 8, 8, 3), r"at least \(9, 9\) pixels.*dilation=\(4, 4\)"),
        ({"padding": ((0, 0), (0, 0)), "stride": 2}, (1, 8, 1, 3), r"output would be \(3, 0\)"),
    ],
)
def test_error_kernel_does_not_fit(kwargs, x_shape, message):
    x, w = _xw(x_shape)
    with pytest.raises(ValueError, match=message):
        conv2d(x, w, **kwargs)
    with pytest.raises(ValueError, match=message):
        conv_output_shape(x_shape[1:3], 3, **kwargs)


@pytest.mark.parametrize(
    ("padding", "error", "message"),
    [
        ("full", ValueError, r"conv2d: unknown padding 'full'\. Expected 'valid', 'same', an int"),
        (-1, ValueError, r"padding must not be negative.*padding=-1"),
        (((0, -1), (0, 0)), ValueError, r"must not be negative"),
        (1.5, TypeError, r"conv2d: bad padding\. Expected .* received padding=1\.5"),
        ((1, 2, 3), TypeError, r"bad padding"),
        (True, TypeError, r"bad padding"),
    ],
)
def test_error_bad_padding(padding, error, message):
    x, w = _xw()
    with pytest.raises(error, match=message):
        conv2d(x, w, padding=padding)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        (
            {"stride": 0},
            ValueError,
            r"conv2d: stride must be positive\. Expected integers ≥ 1, "
            r"received stride=0",
        ),
        ({"stride": (1, -2)}, ValueError, r"stride must be positive.*stride=\(1, -2\)"),
        ({"dilation": 0}, ValueError, r"dilation must be positive"),
        ({"stride": 1.5}, TypeError, r"stride must be an int or a pair of ints.*stride=1\.5"),
        ({"stride": (1, 2, 3)}, TypeError, r"stride must be an int or a pair"),
        ({"dilation": "2"}, TypeError, r"dilation must be an int or a pair"),
    ],
)
def test_error_bad_stride_or_dilation(kwargs, error, message):
    x, w = _xw()
    with pytest.raises(error, match=message):
        conv2d(x, w, **kwargs)


def test_error_same_padding_needs_known_size():
    with pytest.raises(ValueError, match=r"padding='same' needs a known input size"):
        resolve_padding((None, 5), 3, 1, "same", 1)


def test_numpy_integer_hyperparameters_are_accepted(rng):
    x, w, b = _data(rng, (1, 6, 6, 2), (3, 3, 2, 2))
    y = conv2d(x, w, b, stride=np.int64(2), padding=np.int32(1), dilation=(np.int8(1), 1))
    np.testing.assert_allclose(y.numpy(), ref.conv2d(x, w, b, 2, 1), atol=1e-12)


def test_inference_in_chunks_equals_one_gemm(monkeypatch, rng):
    """Without gradients the forward unfolds a few images at a time into a reused buffer;
    the numbers must be those of the single im2col GEMM, whatever the chunk size."""
    from glassnet import no_grad
    from glassnet.ops import _conv_kernels as kernels
    from glassnet.ops import conv as conv_module

    x = Tensor(rng.standard_normal((7, 9, 8, 3)).astype(np.float32))
    w = Tensor(rng.standard_normal((3, 2, 3, 5)).astype(np.float32), requires_grad=True)
    b = Tensor(rng.standard_normal(5).astype(np.float32))
    whole = conv_module.conv2d(x, w, b, stride=(2, 1), padding="same", dilation=1).numpy()
    for chunk_bytes in (1, 3000, 10_000):  # 1 image, a few images, uneven last chunk
        monkeypatch.setattr(kernels, "_CHUNK_BYTES", chunk_bytes)
        monkeypatch.setattr(kernels, "_KEEP_BYTES", chunk_bytes)
        with no_grad():
            chunked = conv_module.conv2d(x, w, b, stride=(2, 1), padding="same").numpy()
        np.testing.assert_allclose(chunked, whole, rtol=1e-5, atol=1e-6)


# ------------------------------------------------------------------ fused ReLU
@pytest.mark.parametrize("stride", [1, 2])
def test_fused_relu_is_relu_of_conv2d(rng, stride):
    """``conv2d(..., relu=True)`` (what Conv2D(activation="relu") runs) gives the numbers and
    the gradients of ``relu(conv2d(...))`` exactly, and passes float64 finite differences."""
    x, w, b = _data(rng, (2, 6, 5, 3), (3, 3, 3, 4))

    def fused(x, w, b):
        return conv2d(x, w, b, stride=stride, padding="same", relu=True)

    def separate(x, w, b):
        return ops.relu(conv2d(x, w, b, stride=stride, padding="same"))

    out, grads = run_float32(fused, x, w, b)
    ref_out, ref_grads = run_float32(separate, x, w, b)
    assert (out > 0).any() and (out == 0).any()  # both sides of the kink are exercised
    np.testing.assert_array_equal(out, ref_out)
    for got, want in zip(grads, ref_grads, strict=True):
        np.testing.assert_array_equal(got, want)
    assert_gradcheck(fused, x, w, b)


def test_fused_relu_writes_only_its_own_output(rng):
    """The in-place ReLU touches the fresh GEMM output, never the caller's arrays (a 1×1 conv
    without padding reads the input as its column matrix)."""
    x, w, b = _data(rng, (1, 4, 4, 2), (1, 1, 2, 3))
    x[0, 0, 0] = -5.0
    copies = [a.copy() for a in (x, w, b)]
    with no_grad():
        y = conv2d(Tensor(x), Tensor(w), Tensor(b), relu=True)
    assert y.numpy().min() == 0
    for a, before in zip((x, w, b), copies, strict=True):
        np.testing.assert_array_equal(a, before)


@pytest.mark.parametrize(("relu", "dilation"), [(False, 1), (True, 1), (True, 2)])
def test_training_with_chunked_columns_matches_kept_columns(rng, monkeypatch, relu, dilation):
    """Large column matrices are not kept for backward: the padded input is, and dW unfolds it
    again chunk by chunk. Forced here with tiny chunks (1 image, several, an uneven last one):
    output and all three gradients equal the kept-columns path, and float64 finite
    differences."""
    import glassnet.ops._conv_kernels as kernels
    import glassnet.ops.conv as conv_module

    x, w, b = _data(rng, (5, 7, 6, 3), (3, 3, 3, 4))

    def fn(x, w, b):
        stride = (2, 1) if dilation == 1 else 1  # TensorFlow's "same" takes one or the other
        return conv_module.conv2d(
            x, w, b, stride=stride, padding="same", dilation=dilation, relu=relu
        )

    kept_out, kept_grads = run_float32(fn, x, w, b)
    for chunk_bytes in (1, 2000, 5000):
        monkeypatch.setattr(kernels, "_CHUNK_BYTES", chunk_bytes)
        monkeypatch.setattr(kernels, "_KEEP_BYTES", chunk_bytes)
        out, grads = run_float32(fn, x, w, b)
        np.testing.assert_allclose(out, kept_out, rtol=1e-5, atol=1e-6)
        for got, want in zip(grads, kept_grads, strict=True):
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    assert_gradcheck(fn, x, w, b)


# ------------------------------------------------------------------ output tiles
def test_output_tile_is_chosen_for_thin_first_layers_only():
    """Tiles go to layers with few taps and filters, and divide the output width."""
    from glassnet.ops._conv_kernels import output_tile

    assert output_tile(1, 6, (5, 5), 28) == 7  # LeNet's first layer: 7·6 = 42 outputs a row
    assert output_tile(3, 32, (3, 3), 32) == 2  # the CIFAR CNN's first layer
    assert output_tile(3, 16, (3, 3), 64) == 2  # the photo classifier's
    assert output_tile(3, 32, (3, 3), 31) == 1  # no tile divides a prime width
    assert output_tile(3, 8, (1, 1), 32) == 1  # a 1×1 kernel's columns are the image itself
    assert output_tile(16, 16, (3, 3), 32) == 1  # 144 taps: the GEMM is wide enough
    assert output_tile(3, 64, (3, 3), 32) == 1  # 64 filters: likewise


TILED = {  # (x shape, weight shape, stride, padding, dilation), each taking a tile > 1
    "lenet-first": ((2, 28, 28, 1), (5, 5, 1, 6), 1, "same", 1),
    "rgb-valid": ((2, 9, 14, 3), (3, 3, 3, 16), 1, "valid", 1),
    "stride-along-rows": ((2, 9, 17, 2), (3, 2, 2, 5), (1, 2), "same", 1),
    "dilated-rows": ((2, 9, 20, 3), (3, 3, 3, 8), 1, "same", (1, 2)),
    "grayscale-stride2": ((2, 10, 12, 1), (3, 3, 1, 4), 2, "same", 1),
}


@pytest.mark.parametrize(("relu", "chunk_bytes"), [(False, None), (True, None), (True, 3000)])
@pytest.mark.parametrize(("x_shape", "w_shape", "stride", "padding", "dilation"),
                         list(TILED.values()), ids=list(TILED))  # fmt: skip
def test_tiled_rows_give_the_plain_numbers(
    monkeypatch, rng, x_shape, w_shape, stride, padding, dilation, relu, chunk_bytes
):
    """A row per tile of output pixels against the spread weight: in float64 the output and
    all three gradients equal plain im2col's to rounding, for the kept columns and for the
    chunked ones (training and inference)."""
    import glassnet.ops._conv_kernels as kernels

    x, w, b = _data(rng, x_shape, w_shape)
    out_w = conv_output_shape(x_shape[1:3], w_shape[:2], stride, padding, dilation)[1]
    assert kernels.output_tile(w_shape[2], w_shape[3], w_shape[:2], out_w) > 1
    if chunk_bytes is not None:
        monkeypatch.setattr(kernels, "_CHUNK_BYTES", chunk_bytes)
        monkeypatch.setattr(kernels, "_KEEP_BYTES", chunk_bytes)

    def run() -> list[np.ndarray]:
        xt, wt, bt = (Tensor(a, requires_grad=True) for a in (x, w, b))
        y = conv2d(xt, wt, bt, stride=stride, padding=padding, dilation=dilation, relu=relu)
        (y * Tensor(np.linspace(-1, 1, y.size).reshape(y.shape))).sum().backward()
        with no_grad():
            inferred = conv2d(Tensor(x), Tensor(w), Tensor(b), stride=stride, padding=padding,
                              dilation=dilation, relu=relu)  # fmt: skip
        return [y.numpy(), inferred.numpy(), xt.grad, wt.grad, bt.grad]

    tiled = run()
    monkeypatch.setattr(kernels, "output_tile", lambda *args: 1)
    kernels._make_plan.cache_clear()  # plans are made once per shape
    plain = run()
    kernels._make_plan.cache_clear()
    for got, want in zip(tiled, plain, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    expected = ref.conv2d(x, w, b, stride, padding, dilation)
    np.testing.assert_allclose(tiled[0], np.maximum(expected, 0) if relu else expected, atol=1e-10)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize(("relu", "bias"), [(False, True), (True, True), (True, False)])
@pytest.mark.parametrize(("x_shape", "w_shape", "stride", "padding", "dilation"),
                         PARAMS + list(TILED.values()), ids=IDS + list(TILED))  # fmt: skip
def test_inference_gives_the_training_paths_numbers(
    monkeypatch, rng, x_shape, w_shape, stride, padding, dilation, relu, bias, dtype
):
    """Without a gradient, a batch whose columns fit the buffer takes one unfold and one GEMM
    (the shape's layout decided once); the numbers are exactly those of the training path,
    and those of the chunked path a bigger batch takes up to the BLAS's rounding (products of
    other sizes may sum in another order)."""
    import glassnet.ops._conv_kernels as kernels

    x, w, b = _data(rng, x_shape, w_shape, dtype)
    b = b if bias else None

    def conv(wants_grad: bool) -> np.ndarray:
        wt = Tensor(w, requires_grad=wants_grad)
        out = conv2d(Tensor(x), wt, None if b is None else Tensor(b), stride=stride,
                     padding=padding, dilation=dilation, relu=relu)  # fmt: skip
        return out.numpy()

    chunks: list[int] = []
    real = kernels._conv_in_chunks

    def spy(*args, **kwargs):
        chunks.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(kernels, "_conv_in_chunks", spy)
    with no_grad():
        direct = conv(False)
    assert chunks == []  # one unfold, one GEMM
    np.testing.assert_array_equal(direct, conv(True))
    monkeypatch.setattr(kernels, "_CHUNK_BYTES", 1)  # any columns are over the buffer
    monkeypatch.setattr(kernels, "_KEEP_BYTES", 1)
    kernels._make_plan.cache_clear()
    with no_grad():
        chunked = conv(False)
    assert chunks == [1]
    tol = 1e-12 if dtype == np.float64 else 1e-5
    np.testing.assert_allclose(direct, chunked, rtol=tol, atol=tol)
    kernels._make_plan.cache_clear()


def test_columns_are_kept_up_to_one_budget_and_chunked_to_another():
    """Training keeps a column matrix whole (for dW) while it fits ``_KEEP_BYTES``; a larger
    one runs in chunks of as many images as fit ``_CHUNK_BYTES`` (at least one), and its dW
    unfolds the windows again. The plan reads both budgets."""
    from glassnet.ops import _conv_kernels as kernels

    def plan(n: int, budgets: tuple[int, int]) -> kernels.ConvPlan:
        # 16×16×32 images, 3×3 "same": 256 · 288 · 4 = 294,912 bytes of columns per image
        pads = ((1, 1), (1, 1))
        return kernels._make_plan(
            (n, 16, 16, 32), np.dtype("float32"), (3, 3, 32, 64), (1, 1), pads, (1, 1),
            True, budgets,
        )  # fmt: skip

    image = 256 * 288 * 4
    kept = plan(8, (10 * image, 3 * image))  # 8 images fit the first budget: kept whole
    assert kept.keep_cols and kept.chunk is None
    chunked = plan(16, (10 * image, 3 * image))  # 16 do not: chunks of 3
    assert not chunked.keep_cols and chunked.chunk == 3
    assert plan(16, (10 * image, image // 2)).chunk == 1  # never less than one image


def test_tiled_weight_grad_is_the_adjoint_of_the_spread(rng):
    """<tiled_weight(w), G> = <w, untiled_weight_grad(G)>: the weight gradient sums exactly
    the entries the spread wrote, for strides and dilations along the rows."""
    from glassnet.ops._conv_kernels import tiled_weight, untiled_weight_grad

    for tile, stride, dilation in ((2, (1, 1), (1, 1)), (3, (1, 2), (1, 1)), (4, (2, 1), (1, 3))):
        w = rng.standard_normal((3, 2, 2, 5))
        big = tiled_weight(w, tile, stride, dilation)
        g = rng.standard_normal(big.shape)
        back = untiled_weight_grad(g, w.shape, tile, stride, dilation)
        assert back.shape == w.shape
        np.testing.assert_allclose(np.vdot(big, g), np.vdot(w, back), rtol=1e-12)


def test_tiled_layer_passes_finite_differences(rng):
    """LeNet's first layer takes tiles of 7 pixels; its gradients pass float64 gradcheck."""
    x, w, b = _data(rng, (1, 7, 14, 1), (5, 5, 1, 6))

    def fn(x, w, b):
        return conv2d(x, w, b, padding="same", relu=True)

    assert_gradcheck(fn, x, w, b)
