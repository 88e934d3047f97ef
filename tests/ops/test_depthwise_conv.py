"""ops.depthwise_conv2d (glassnet/ops/depthwise_conv.py): against a per-channel loop
reference, float64 finite differences and PyTorch's grouped conv2d (groups = channels)."""

from __future__ import annotations

import numpy as np
import pytest

from glassnet import Tensor
from glassnet.ops import depthwise_conv1d, depthwise_conv2d
from tests import reference as ref
from tests.helpers import FORWARD_TOL, GRAD_TOL, assert_gradcheck, run_float32, torch_run


def ref_depthwise(x, w, b, stride, padding, dilation):
    """Channel c's j-th filter, convolved with channel c alone, is output channel c·m + j."""
    _, _, c, m = w.shape
    outs = [
        ref.conv2d(
            x[..., ch : ch + 1], w[:, :, ch : ch + 1, j : j + 1], None, stride, padding, dilation
        )
        for ch in range(c)
        for j in range(m)
    ]
    y = np.concatenate(outs, axis=-1)
    return y if b is None else y + b


CASES = {
    "same-m1": ((2, 6, 5, 3), (3, 3, 3, 1), 1, "same", 1),
    "valid-m2-stride": ((2, 7, 6, 2), (3, 2, 2, 2), 2, "valid", 1),
    "dilated-m3": ((1, 8, 7, 2), (3, 3, 2, 3), 1, "valid", 2),
    "same-even-stride": ((1, 8, 8, 3), (3, 3, 3, 2), 2, "same", 1),
    "stride-beyond-kernel": ((1, 7, 7, 1), (2, 2, 1, 2), 3, "valid", 1),
    "one-pixel": ((1, 1, 1, 4), (1, 1, 4, 2), 1, "valid", 1),
    # one filter per channel: the backward's own branch (no sum over filters)
    "one-pixel-same-m1": ((1, 1, 1, 2), (3, 3, 2, 1), 1, "same", 1),
    "grayscale-m1-stride-beyond-kernel": ((2, 8, 7, 1), (2, 2, 1, 1), 3, "valid", 1),
    "dilated-m1-batch1-odd": ((1, 8, 9, 3), (2, 3, 3, 1), 1, "same", (2, 1)),
    # the tuned kernel's column phases: stride 2 "same", and stride 3 across a dilation of 2
    "m1-stride2-same-odd": ((2, 9, 11, 4), (3, 3, 4, 1), 2, "same", 1),
    "m1-stride3-width-dilation": ((1, 7, 14, 2), (2, 3, 2, 1), (2, 3), "valid", (1, 2)),
}
PARAMS = list(CASES.values())
NAMES = ("x_shape", "w_shape", "stride", "padding", "dilation")


def _data(rng, x_shape, w_shape, dtype=np.float64):
    x = rng.standard_normal(x_shape).astype(dtype)
    w = rng.standard_normal(w_shape).astype(dtype)
    return x, w, rng.standard_normal(w_shape[2] * w_shape[3]).astype(dtype)


@pytest.mark.parametrize(NAMES, PARAMS, ids=CASES)
def test_forward_matches_loop_reference(rng, x_shape, w_shape, stride, padding, dilation):
    x, w, b = _data(rng, x_shape, w_shape)
    y = depthwise_conv2d(Tensor(x), Tensor(w), Tensor(b), stride, padding, dilation)
    want = ref_depthwise(x, w, b, stride, padding, dilation)
    assert y.shape == want.shape and y.dtype == np.float64
    np.testing.assert_allclose(y.numpy(), want, atol=1e-12)


@pytest.mark.parametrize(NAMES, PARAMS, ids=CASES)
def test_gradcheck(rng, x_shape, w_shape, stride, padding, dilation):
    x, w, b = _data(rng, x_shape, w_shape)
    assert_gradcheck(lambda x, w, b: depthwise_conv2d(x, w, b, stride, padding, dilation), x, w, b)


def keras_to_torch_weight(w):
    """Keras (kh, kw, C, m) -> torch (C·m, 1, kh, kw), output channel c·m + j in both."""
    kh, kw, c, m = w.shape
    return w.reshape(kh, kw, c * m).permute(2, 0, 1).unsqueeze(1).contiguous()


@pytest.mark.parametrize(NAMES, PARAMS, ids=CASES)
def test_matches_torch(torch, rng, x_shape, w_shape, stride, padding, dilation):
    """nn.functional.conv2d(groups=C) with TensorFlow's "same" pads made explicit; tolerances
    FORWARD_TOL (atol 1e-5, rtol 1e-4) and GRAD_TOL (atol 1e-4, rtol 1e-3)."""
    x, w, b = _data(rng, x_shape, w_shape, np.float32)
    s, d = ref.as_pair(stride), ref.as_pair(dilation)
    (top, bottom), (left, right) = ref.explicit_pads(x_shape[1:3], w_shape[:2], s, padding, d)

    def theirs(x, w, b):
        xin = torch.nn.functional.pad(x.permute(0, 3, 1, 2), (left, right, top, bottom))
        y = torch.nn.functional.conv2d(xin, keras_to_torch_weight(w), b, s, 0, d, x.shape[3])
        return y.permute(0, 2, 3, 1)

    ours, our_grads = run_float32(
        lambda x, w, b: depthwise_conv2d(x, w, b, stride, padding, dilation), x, w, b
    )
    want, their_grads = torch_run(torch, theirs, x, w, b)
    np.testing.assert_allclose(ours, want, **FORWARD_TOL)
    for g, t in zip(our_grads, their_grads, strict=True):
        np.testing.assert_allclose(g, t, **GRAD_TOL)


def test_frozen_weight_keeps_no_input(rng):
    x, w, _ = _data(rng, (1, 5, 5, 2), (3, 3, 2, 1), np.float32)
    y = depthwise_conv2d(Tensor(x, requires_grad=True), Tensor(w))
    assert y._ctx.saved[0] is None


@pytest.mark.parametrize(
    ("x_shape", "w_shape", "kwargs", "match"),
    [
        ((5, 5, 2), (3, 3, 2, 1), {}, "expected a 4-D input"),
        (
            (1, 5, 5, 2),
            (3, 3, 3, 1),
            {},
            r"weight must be \(kh, kw, in_channels, depth_multiplier\)",
        ),
        ((1, 2, 2, 2), (3, 3, 2, 1), {}, "does not fit"),
        ((1, 5, 5, 2), (3, 3, 2, 2), {"bias": np.zeros(2, np.float32)}, r"Expected shape \(4,\)"),
    ],
)
def test_errors(x_shape, w_shape, kwargs, match):
    with pytest.raises(ValueError, match=match):
        depthwise_conv2d(np.zeros(x_shape, np.float32), np.zeros(w_shape, np.float32), **kwargs)


# ------------------------------------------------------------------ 1-D: the same op, one row
CASES_1D = {
    "same-m2": ((2, 7, 3), (3, 3, 2), 2, "same", 1),
    "valid-dilated": ((1, 9, 2), (3, 2, 1), 1, "valid", 2),
    "one-step": ((1, 1, 2), (1, 2, 3), 1, "valid", 1),
}


@pytest.mark.parametrize(NAMES, list(CASES_1D.values()), ids=CASES_1D)
def test_depthwise_conv1d(torch, rng, x_shape, w_shape, stride, padding, dilation):
    """The per-channel loop reference on a one-row image, float64 finite differences, and
    PyTorch's conv1d(groups=C) (FORWARD_TOL, GRAD_TOL)."""
    x, w, b = _data(rng, x_shape, (1, *w_shape))
    w = w[0]
    want = ref_depthwise(x[:, None], w[None], b, (1, stride), padding, (1, dilation))[:, 0]

    def fn(x, w, b):
        return depthwise_conv1d(x, w, b, stride, padding, dilation)

    np.testing.assert_allclose(fn(x, w, b).numpy(), want, atol=1e-12)
    assert_gradcheck(fn, x, w, b)
    pads = (
        ref.same_padding(x_shape[1], w_shape[0], stride, dilation) if padding == "same" else (0, 0)
    )

    def theirs(x, w, b):
        k, c, m = w.shape
        weight = w.reshape(k, c * m).permute(1, 0).unsqueeze(1).contiguous()
        xin = torch.nn.functional.pad(x.permute(0, 2, 1), pads)
        return torch.nn.functional.conv1d(xin, weight, b, stride, 0, dilation, c).permute(0, 2, 1)

    x, w, b = (a.astype(np.float32) for a in (x, w, b))
    ours, our_grads = run_float32(fn, x, w, b)
    want, their_grads = torch_run(torch, theirs, x, w, b)
    np.testing.assert_allclose(ours, want, **FORWARD_TOL)
    for g, t in zip(our_grads, their_grads, strict=True):
        np.testing.assert_allclose(g, t, **GRAD_TOL)


def test_non_contiguous_input_and_gradient(rng):
    """A transposed view gives the numbers of its contiguous copy, forward and backward."""
    base = rng.standard_normal((2, 6, 5, 2))
    view = base.transpose(0, 2, 1, 3)  # (2, 5, 6, 2), not contiguous
    w = rng.standard_normal((3, 3, 2, 2))
    y = depthwise_conv2d(Tensor(view), Tensor(w), padding="same")
    want = ref_depthwise(np.ascontiguousarray(view), w, None, 1, "same", 1)
    np.testing.assert_allclose(y.numpy(), want, atol=1e-12)
    assert_gradcheck(lambda x: depthwise_conv2d(x, Tensor(w), stride=2), view)


# ------------------------------------------------------------------ the tuned kernel (m = 1)
M1_CASES = {name: case for name, case in CASES.items() if case[1][3] == 1}


@pytest.mark.parametrize("block_bytes", [1, None], ids=["a-row-a-block", "default-blocks"])
@pytest.mark.parametrize(NAMES, list(M1_CASES.values()), ids=M1_CASES)
def test_tuned_kernel_gives_the_textbook_numbers_bit_for_bit(
    rng, monkeypatch, block_bytes, x_shape, w_shape, stride, padding, dilation
):
    """``_depthwise_rows`` makes the textbook's products and sums in the textbook's order, so
    its output equals ``depthwise_taps``'s exactly, in blocks of one output row or of many,
    and the op runs it for one filter per channel."""
    from glassnet.ops import depthwise_conv as module

    if block_bytes is not None:
        monkeypatch.setattr(module, "_BLOCK_BYTES", block_bytes)
    x, w, _ = _data(rng, x_shape, w_shape, np.float32)
    s, d = ref.as_pair(stride), ref.as_pair(dilation)
    pads = ref.explicit_pads(x_shape[1:3], w_shape[:2], s, padding, d)
    xpad = module.pad_images(x, pads)
    out_hw = tuple(
        (p - (k - 1) * dd - 1) // ss + 1
        for p, k, ss, dd in zip(xpad.shape[1:3], w_shape[:2], s, d, strict=True)
    )
    textbook = module.depthwise_taps(xpad, w, s, d, out_hw)[..., 0]
    np.testing.assert_array_equal(module._depthwise_rows(xpad, w[..., 0], s, d, out_hw), textbook)
    ran = []
    real = module._depthwise_rows
    monkeypatch.setattr(module, "_depthwise_rows", lambda *a: ran.append(1) or real(*a))
    y = depthwise_conv2d(Tensor(x), Tensor(w), None, stride, padding, dilation)
    assert ran == [1]
    np.testing.assert_array_equal(y.numpy(), textbook.reshape(y.shape))


def test_several_filters_per_channel_run_the_textbook_sum(rng, monkeypatch):
    """m > 1 has no tuned kernel: the op runs ``depthwise_taps`` itself."""
    from glassnet.ops import depthwise_conv as module

    def refuse(*args):
        raise AssertionError("the m = 1 kernel ran for m = 2")

    monkeypatch.setattr(module, "_depthwise_rows", refuse)
    x, w, b = _data(rng, (1, 6, 5, 3), (3, 3, 3, 2))
    y = depthwise_conv2d(Tensor(x), Tensor(w), Tensor(b), 1, "same", 1)
    np.testing.assert_allclose(y.numpy(), ref_depthwise(x, w, b, 1, "same", 1), atol=1e-12)


def test_tuned_kernel_on_a_non_contiguous_unpadded_input(rng):
    """A transposed view that no padding copies reaches the kernel as it is: the same numbers
    as its contiguous copy."""
    base = rng.standard_normal((2, 9, 7, 3)).astype(np.float32)
    view = base.transpose(0, 2, 1, 3)  # (2, 7, 9, 3), not contiguous
    w = rng.standard_normal((3, 2, 3, 1)).astype(np.float32)
    for stride in (1, 2):
        y = depthwise_conv2d(Tensor(view), Tensor(w), stride=stride)
        want = depthwise_conv2d(Tensor(np.ascontiguousarray(view)), Tensor(w), stride=stride)
        np.testing.assert_array_equal(y.numpy(), want.numpy())


def test_tuned_kernel_with_float64_weights_on_float32_images(rng):
    """A float64 weight on float32 images: the kernel multiplies in float64 as the textbook
    does (then rounds into the float32 output), so the numbers still match bit for bit."""
    from glassnet.ops import depthwise_conv as module

    x = rng.standard_normal((2, 6, 9, 3)).astype(np.float32)
    w = rng.standard_normal((3, 3, 3, 1))  # float64
    for stride in ((1, 1), (2, 2)):
        out_hw = ((6 - 3) // stride[0] + 1, (9 - 3) // stride[1] + 1)
        textbook = module.depthwise_taps(x, w, stride, (1, 1), out_hw)[..., 0]
        tuned = module._depthwise_rows(x, w[..., 0], stride, (1, 1), out_hw)
        assert tuned.dtype == textbook.dtype == np.float32
        np.testing.assert_array_equal(tuned, textbook)
