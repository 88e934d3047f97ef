"""ops.conv1d (glassnet/ops/conv.py): the 2-D op on a one-row image, against a loop reference,
float64 finite differences and PyTorch's conv1d."""

from __future__ import annotations

import numpy as np
import pytest

from glassnet import Tensor
from glassnet.ops import conv1d, conv1d_output_length
from tests.helpers import FORWARD_TOL, GRAD_TOL, assert_gradcheck, run_float32, torch_run


def ref_conv1d(x, w, b, stride, pads, dilation):
    """y[n, t, f] = Σ_(i, c) xpad[n, t·s + i·d, c] · w[i, c, f] + b[f], one step at a time."""
    k, _, f = w.shape
    xpad = np.pad(x, ((0, 0), pads, (0, 0)))
    steps = (xpad.shape[1] - dilation * (k - 1) - 1) // stride + 1
    y = np.zeros((x.shape[0], steps, f))
    for t in range(steps):
        for i in range(k):
            y[:, t] += xpad[:, t * stride + i * dilation] @ w[i]
    return y if b is None else y + b


def ref_pads(steps, k, stride, padding, dilation):
    """TensorFlow's "same" (odd step on the right), causal (all on the left), or none."""
    span = dilation * (k - 1)
    if padding == "causal":
        return span, 0
    if padding == "same":
        out = -(-steps // stride)
        total = max(0, (out - 1) * stride + span + 1 - steps)
        return total // 2, total - total // 2
    return 0, 0


CASES = {
    "valid": ((2, 9, 3), (3, 3, 4), 1, "valid", 1),
    "same-odd": ((2, 9, 2), (4, 2, 3), 2, "same", 1),
    "same-even": ((1, 8, 3), (3, 3, 2), 2, "same", 1),
    "causal-dilated": ((2, 10, 2), (3, 2, 3), 1, "causal", 2),
    "causal-strided": ((1, 7, 1), (2, 1, 2), 3, "causal", 1),
    "stride-beyond-kernel": ((2, 11, 2), (2, 2, 2), 4, "valid", 1),
    "one-step": ((1, 1, 3), (1, 3, 2), 1, "valid", 1),
}
PARAMS = list(CASES.values())


def _data(rng, x_shape, w_shape, dtype=np.float64):
    x = rng.standard_normal(x_shape).astype(dtype)
    w = rng.standard_normal(w_shape).astype(dtype)
    return x, w, rng.standard_normal(w_shape[2]).astype(dtype)


@pytest.mark.parametrize(("x_shape", "w_shape", "stride", "padding", "dilation"), PARAMS, ids=CASES)
def test_forward_matches_loop_reference(rng, x_shape, w_shape, stride, padding, dilation):
    x, w, b = _data(rng, x_shape, w_shape)
    y = conv1d(Tensor(x), Tensor(w), Tensor(b), stride, padding, dilation)
    pads = ref_pads(x_shape[1], w_shape[0], stride, padding, dilation)
    want = ref_conv1d(x, w, b, stride, pads, dilation)
    assert y.shape == want.shape and y.dtype == np.float64
    assert y.shape[1] == conv1d_output_length(x_shape[1], w_shape[0], stride, padding, dilation)
    np.testing.assert_allclose(y.numpy(), want, atol=1e-12)


def test_causal_output_sees_only_the_past(rng):
    """Changing step t of the input changes no output before t."""
    x, w, _ = _data(rng, (1, 12, 2), (3, 2, 2))
    y = conv1d(x, w, padding="causal", dilation=2).numpy()
    x[0, 7] += 1.0
    y2 = conv1d(x, w, padding="causal", dilation=2).numpy()
    np.testing.assert_array_equal(y[:, :7], y2[:, :7])
    assert not np.allclose(y[:, 7], y2[:, 7])


@pytest.mark.parametrize(("x_shape", "w_shape", "stride", "padding", "dilation"), PARAMS, ids=CASES)
def test_gradcheck(rng, x_shape, w_shape, stride, padding, dilation):
    x, w, b = _data(rng, x_shape, w_shape)
    assert_gradcheck(lambda x, w, b: conv1d(x, w, b, stride, padding, dilation), x, w, b)


@pytest.mark.parametrize(("x_shape", "w_shape", "stride", "padding", "dilation"), PARAMS, ids=CASES)
def test_matches_torch(torch, rng, x_shape, w_shape, stride, padding, dilation):
    """nn.functional.conv1d with the "same"/"causal" zeros padded by hand; tolerances
    FORWARD_TOL (atol 1e-5, rtol 1e-4) and GRAD_TOL (atol 1e-4, rtol 1e-3)."""
    x, w, b = _data(rng, x_shape, w_shape, np.float32)
    pads = ref_pads(x_shape[1], w_shape[0], stride, padding, dilation)

    def theirs(x, w, b):
        xin = torch.nn.functional.pad(x.permute(0, 2, 1), pads)
        y = torch.nn.functional.conv1d(
            xin, w.permute(2, 1, 0).contiguous(), b, stride, dilation=dilation
        )
        return y.permute(0, 2, 1)

    ours, our_grads = run_float32(
        lambda x, w, b: conv1d(x, w, b, stride, padding, dilation), x, w, b
    )
    want, their_grads = torch_run(torch, theirs, x, w, b)
    np.testing.assert_allclose(ours, want, **FORWARD_TOL)
    for g, t in zip(our_grads, their_grads, strict=True):
        np.testing.assert_allclose(g, t, **GRAD_TOL)


@pytest.mark.parametrize(
    ("x_shape", "w_shape", "kwargs", "error", "match"),
    [
        ((9, 3), (3, 3, 4), {}, ValueError, r"conv1d: expected a 3-D input \(batch, steps"),
        ((2, 9, 3), (3, 2, 4), {}, ValueError, r"weight must be \(kernel_size, in_channels"),
        ((2, 2, 3), (3, 3, 4), {}, ValueError, "the kernel does not fit"),
        ((2, 9, 3), (3, 3, 4), {"padding": "full"}, ValueError, "unknown padding 'full'"),
        ((2, 9, 3), (3, 3, 4), {"stride": 0}, ValueError, "stride must be positive"),
        ((2, 9, 3), (3, 3, 4), {"dilation": (1, 2)}, TypeError, "dilation must be an int"),
    ],
)
def test_errors(x_shape, w_shape, kwargs, error, match):
    with pytest.raises(error, match=match):
        conv1d(np.zeros(x_shape, np.float32), np.zeros(w_shape, np.float32), **kwargs)


def test_integer_input_is_refused():
    with pytest.raises(TypeError, match="conv1d: expected a floating-point input"):
        conv1d(np.zeros((1, 4, 1), np.int64), np.zeros((2, 1, 1), np.float32))
