"""ops.conv_transpose2d (glassnet/ops/conv_transpose.py): against a scatter-loop reference with
Keras's sizes, float64 finite differences, the adjoint identity with conv2d, and PyTorch's
conv_transpose2d."""

from __future__ import annotations

import numpy as np
import pytest

from glassnet import Tensor
from glassnet.ops import conv2d, conv_transpose1d, conv_transpose2d, conv_transpose_output_length
from tests.helpers import FORWARD_TOL, GRAD_TOL, assert_gradcheck, run_float32, torch_run


def keras_length(size, k, s, padding, output_padding, d):
    """Keras 3's ``compute_conv_transpose_output_length``, written out again."""
    k = k + (k - 1) * (d - 1)
    if output_padding is None:
        return size * s + max(k - s, 0) if padding == "valid" else size * s
    return (size - 1) * s + k - 2 * (k // 2 if padding == "same" else 0) + output_padding


def keras_pad_before(size, out, k, s, padding, d):
    """Keras 3's ``_compute_conv_transpose_padding_one_dim``: the output's first canvas row."""
    if padding == "valid":
        return 0
    return max(0, (size - 1) * s + (k - 1) * d + 1 - out) // 2


def ref_conv_transpose(x, w, b, stride, padding, output_padding, dilation):
    """Every input pixel scatters x·w onto its patch of a zero canvas, one pixel at a time;
    the output is the canvas window Keras's sizes pick (zeros past the canvas)."""
    n, h, wd, _ = x.shape
    kh, kw, f, _ = w.shape
    (sh, sw), (dh, dw) = stride, dilation
    op = output_padding or (None, None)
    ho = keras_length(h, kh, sh, padding, op[0], dh)
    wo = keras_length(wd, kw, sw, padding, op[1], dw)
    top = keras_pad_before(h, ho, kh, sh, padding, dh)
    left = keras_pad_before(wd, wo, kw, sw, padding, dw)
    canvas = np.zeros(
        (n, (h - 1) * sh + (kh - 1) * dh + 1 + ho, (wd - 1) * sw + (kw - 1) * dw + 1 + wo, f)
    )
    for i in range(h):
        for j in range(wd):
            for a in range(kh):
                for c in range(kw):
                    canvas[:, i * sh + a * dh, j * sw + c * dw] += x[:, i, j] @ w[a, c].T
    y = canvas[:, top : top + ho, left : left + wo]
    return y if b is None else y + b


CASES = {
    "same-stride-2": ((2, 4, 5, 3), (3, 3, 4, 3), (2, 2), "same", None, (1, 1)),
    "valid-stride-2": ((2, 4, 5, 3), (3, 2, 4, 3), (2, 2), "valid", None, (1, 1)),
    "stride-beyond-kernel": ((1, 3, 3, 2), (1, 2, 3, 2), (3, 3), "valid", None, (1, 1)),
    "even-kernel-same": ((1, 4, 4, 2), (4, 4, 2, 2), (2, 2), "same", None, (1, 1)),
    "output-padding-same": ((2, 3, 3, 2), (3, 3, 2, 2), (2, 2), "same", (1, 1), (1, 1)),
    "output-padding-valid": ((1, 3, 4, 1), (2, 2, 3, 1), (3, 2), "valid", (2, 1), (1, 1)),
    "dilated-same": ((1, 3, 4, 2), (3, 3, 2, 2), (1, 1), "same", None, (2, 2)),
    "one-pixel": ((1, 1, 1, 3), (3, 3, 2, 3), (2, 2), "same", None, (1, 1)),
    "five-kernel-odd-crop": ((1, 4, 3, 1), (5, 3, 2, 1), (2, 2), "same", (0, 1), (1, 1)),
}
PARAMS = list(CASES.values())
NAMES = ("x_shape", "w_shape", "stride", "padding", "output_padding", "dilation")


def _data(rng, x_shape, w_shape, dtype=np.float64):
    x = rng.standard_normal(x_shape).astype(dtype)
    w = rng.standard_normal(w_shape).astype(dtype)
    return x, w, rng.standard_normal(w_shape[2]).astype(dtype)


@pytest.mark.parametrize(NAMES, PARAMS, ids=CASES)
def test_forward_matches_scatter_reference(
    rng, x_shape, w_shape, stride, padding, output_padding, dilation
):
    x, w, b = _data(rng, x_shape, w_shape)
    y = conv_transpose2d(Tensor(x), Tensor(w), Tensor(b), stride, padding, output_padding, dilation)
    want = ref_conv_transpose(x, w, b, stride, padding, output_padding, dilation)
    assert y.shape == want.shape and y.dtype == np.float64
    np.testing.assert_allclose(y.numpy(), want, atol=1e-12)


def test_output_length_is_keras_formula():
    for size in (1, 4, 7):
        for k in (1, 2, 3, 5):
            for s in (1, 2, 3):
                for padding in ("valid", "same"):
                    for op in (None, *range(s)):
                        for d in (1, 2) if s == 1 else (1,):
                            got = conv_transpose_output_length(size, k, s, padding, op, d)
                            assert got == keras_length(size, k, s, padding, op, d)
    assert conv_transpose_output_length(None, 3, 2, "same") is None


def test_is_the_adjoint_of_a_strided_convolution(rng):
    """<conv2d(u), v> == <u, conv_transpose2d(v)> for the convolution that "valid" transposes."""
    u = rng.standard_normal((2, 9, 9, 3))
    w = rng.standard_normal((3, 3, 3, 4))  # conv2d: 3 channels -> 4
    v = rng.standard_normal((2, 4, 4, 4))
    lhs = np.sum(conv2d(u, w, stride=2).numpy() * v)
    rhs = np.sum(u * conv_transpose2d(v, w, stride=2, output_padding=0).numpy())
    np.testing.assert_allclose(lhs, rhs, rtol=1e-12)


@pytest.mark.parametrize(NAMES, PARAMS, ids=CASES)
def test_gradcheck(rng, x_shape, w_shape, stride, padding, output_padding, dilation):
    x, w, b = _data(rng, x_shape, w_shape)

    def fn(x, w, b):
        return conv_transpose2d(x, w, b, stride, padding, output_padding, dilation)

    assert_gradcheck(fn, x, w, b)


@pytest.mark.parametrize(NAMES, PARAMS, ids=CASES)
def test_matches_torch(torch, rng, x_shape, w_shape, stride, padding, output_padding, dilation):
    """nn.functional.conv_transpose2d with Keras's crop as torch's (symmetric) padding p and
    output_padding, the rest cropped at the end; bias added after the crop (torch's own bias
    is missing on the rows output_padding adds past the canvas). Tolerances FORWARD_TOL
    (atol 1e-5, rtol 1e-4) and GRAD_TOL (atol 1e-4, rtol 1e-3)."""
    x, w, b = _data(rng, x_shape, w_shape, np.float32)
    op = output_padding or (None, None)
    out = [
        keras_length(x_shape[1 + a], w_shape[a], stride[a], padding, op[a], dilation[a])
        for a in (0, 1)
    ]
    p = [
        keras_pad_before(x_shape[1 + a], out[a], w_shape[a], stride[a], padding, dilation[a])
        for a in (0, 1)
    ]
    canvas = [(x_shape[1 + a] - 1) * stride[a] + (w_shape[a] - 1) * dilation[a] + 1 for a in (0, 1)]
    extra = [max(0, out[a] - canvas[a] + 2 * p[a]) for a in (0, 1)]

    def theirs(x, w, b):
        y = torch.nn.functional.conv_transpose2d(
            x.permute(0, 3, 1, 2),
            w.permute(3, 2, 0, 1).contiguous(),
            None,
            stride,
            p,
            extra,
            1,
            dilation,
        )
        return y[:, :, : out[0], : out[1]].permute(0, 2, 3, 1) + b

    def ours_fn(x, w, b):
        return conv_transpose2d(x, w, b, stride, padding, output_padding, dilation)

    ours, our_grads = run_float32(ours_fn, x, w, b)
    want, their_grads = torch_run(torch, theirs, x, w, b)
    assert ours.shape == want.shape
    np.testing.assert_allclose(ours, want, **FORWARD_TOL)
    for g, t in zip(our_grads, their_grads, strict=True):
        np.testing.assert_allclose(g, t, **GRAD_TOL)


def test_frozen_weight_keeps_no_input(rng):
    x, w, b = _data(rng, (1, 3, 3, 2), (3, 3, 2, 2), np.float32)
    xt = Tensor(x, requires_grad=True)
    y = conv_transpose2d(xt, Tensor(w), Tensor(b), stride=2)
    assert y._ctx.saved[0] is None  # only dW needs the input
    y.sum().backward()
    assert xt.grad.shape == x.shape


@pytest.mark.parametrize(
    ("x_shape", "w_shape", "kwargs", "match"),
    [
        ((3, 3, 2), (3, 3, 2, 2), {}, r"expected a 4-D input"),
        ((1, 3, 3, 2), (3, 3, 2, 4), {}, r"weight must be \(kh, kw, filters, in_channels\)"),
        (
            (1, 1, 1, 2),
            (2, 2, 3, 2),
            {"padding": "same", "output_padding": 0},
            "the output would be",
        ),
        ((1, 3, 3, 2), (3, 3, 3, 2), {"output_padding": -1}, "output_padding must be None"),
        ((1, 3, 3, 2), (3, 3, 3, 2), {"padding": 1}, "padding must be 'valid' or 'same'"),
    ],
)
def test_errors(x_shape, w_shape, kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        conv_transpose2d(np.zeros(x_shape, np.float32), np.zeros(w_shape, np.float32), **kwargs)


# ------------------------------------------------------------------ 1-D: the same op, one row
CASES_1D = {
    "same": ((2, 5, 3), (3, 4, 3), 2, "same", None, 1),
    "valid-output-padding": ((1, 4, 2), (2, 3, 2), 3, "valid", 2, 1),
    "dilated": ((2, 6, 1), (3, 2, 1), 1, "same", None, 2),
    "one-step": ((1, 1, 2), (4, 1, 2), 2, "same", 1, 1),
}


@pytest.mark.parametrize(NAMES, list(CASES_1D.values()), ids=CASES_1D)
def test_conv_transpose1d(torch, rng, x_shape, w_shape, stride, padding, output_padding, dilation):
    """The scatter reference on a one-row image, float64 finite differences, and PyTorch's
    conv_transpose1d cropped as in ``test_matches_torch`` (FORWARD_TOL, GRAD_TOL)."""
    x, w, b = _data(rng, x_shape, (1, *w_shape))  # a bias per filter: w_shape[1]
    w = w[0]
    op = None if output_padding is None else (0, output_padding)
    want = ref_conv_transpose(x[:, None], w[None], b, (1, stride), padding, op, (1, dilation))

    def fn(x, w, b):
        return conv_transpose1d(x, w, b, stride, padding, output_padding, dilation)

    np.testing.assert_allclose(fn(x, w, b).numpy(), want[:, 0], atol=1e-12)
    assert_gradcheck(fn, x, w, b)

    out = keras_length(x_shape[1], w_shape[0], stride, padding, output_padding, dilation)
    p = keras_pad_before(x_shape[1], out, w_shape[0], stride, padding, dilation)
    canvas = (x_shape[1] - 1) * stride + (w_shape[0] - 1) * dilation + 1
    extra = max(0, out - canvas + 2 * p)

    def theirs(x, w, b):
        w_t = w.permute(2, 1, 0).contiguous()
        y = torch.nn.functional.conv_transpose1d(
            x.permute(0, 2, 1), w_t, None, stride, p, extra, 1, dilation
        )
        return y[:, :, :out].permute(0, 2, 1) + b

    x, w, b = (a.astype(np.float32) for a in (x, w, b))
    ours, our_grads = run_float32(fn, x, w, b)
    want, their_grads = torch_run(torch, theirs, x, w, b)
    np.testing.assert_allclose(ours, want, **FORWARD_TOL)
    for g, t in zip(our_grads, their_grads, strict=True):
        np.testing.assert_allclose(g, t, **GRAD_TOL)


def test_non_contiguous_input_and_gradient(rng):
    """A transposed view gives the numbers of its contiguous copy, forward and backward."""
    base = rng.standard_normal((2, 5, 4, 3))
    view = base.transpose(0, 2, 1, 3)  # (2, 4, 5, 3), not contiguous
    w = rng.standard_normal((3, 3, 2, 3))
    y = conv_transpose2d(Tensor(view), Tensor(w), stride=2, padding="same")
    want = ref_conv_transpose(np.ascontiguousarray(view), w, None, (2, 2), "same", None, (1, 1))
    np.testing.assert_allclose(y.numpy(), want, atol=1e-12)
    assert_gradcheck(lambda x: conv_transpose2d(x, Tensor(w), stride=2), view)
