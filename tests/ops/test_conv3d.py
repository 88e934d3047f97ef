"""Volumes (N, D, H, W, C): conv3d and the 3-D pools are the 2-D ops with one more spatial
axis. Forward against plain loops (tests/reference.py), backward against float64 finite
differences and PyTorch's conv3d/max_pool3d/avg_pool3d (channels-first, transposed at the
boundary), on odd shapes, and the user errors. Mirrors glassnet/ops/conv.py and pooling.py."""

from __future__ import annotations

import numpy as np
import pytest

from glassnet import Tensor, ops
from glassnet.ops.conv import ConvOp, col2im, im2col
from tests import reference as ref
from tests.helpers import FORWARD_TOL, GRAD_TOL, assert_gradcheck, run_float32, torch_run

# (x shape, kernel (kd, kh, kw), filters, stride, padding, dilation)
CONV_CASES = {
    "3x3x3-valid": ((2, 5, 6, 5, 3), (3, 3, 3), 4, 1, "valid", 1),
    "same-stride2-odd": ((1, 5, 4, 7, 2), (3, 2, 3), 3, 2, "same", 1),
    "stride-above-kernel": ((2, 7, 7, 6, 1), (2, 2, 2), 2, 3, "valid", 1),
    "dilation-same": ((1, 6, 5, 5, 2), (2, 3, 2), 3, 1, "same", 2),
    "per-axis-stride": ((2, 4, 6, 5, 2), (1, 3, 2), 2, (1, 2, 3), "same", 1),
    "1x1x1-volume-same": ((1, 1, 1, 1, 1), (3, 3, 3), 2, 1, "same", 1),
    "1x1x1-kernel": ((2, 3, 2, 4, 3), (1, 1, 1), 5, 1, "valid", 1),
}


def _conv_args(rng, case, dtype=np.float64):
    shape, kernel, filters, stride, padding, dilation = CONV_CASES[case]
    x = rng.standard_normal(shape).astype(dtype)
    w = rng.standard_normal((*kernel, shape[-1], filters)).astype(dtype)
    b = rng.standard_normal(filters).astype(dtype)
    return x, w, b, {"stride": stride, "padding": padding, "dilation": dilation}


@pytest.mark.parametrize("case", CONV_CASES)
def test_conv3d_matches_the_loop(rng, case):
    x, w, b, kw = _conv_args(rng, case)
    got = ops.conv3d(Tensor(x), Tensor(w), Tensor(b), **kw).numpy()
    want = ref.conv3d(x, w, b, kw["stride"], kw["padding"], kw["dilation"])
    assert got.dtype == np.float64
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("case", CONV_CASES)
def test_conv3d_gradcheck_float64(rng, case):
    x, w, b, kw = _conv_args(rng, case)
    assert_gradcheck(lambda a, k, c: ops.conv3d(a, k, c, **kw), x, w, b)


def test_conv3d_relu_is_relu_of_conv3d(rng):
    x, w, b, kw = _conv_args(rng, "same-stride2-odd")
    fused = ops.conv3d(Tensor(x), Tensor(w), Tensor(b), relu=True, **kw).numpy()
    plain = ops.relu(ops.conv3d(Tensor(x), Tensor(w), Tensor(b), **kw)).numpy()
    np.testing.assert_array_equal(fused, plain)
    assert_gradcheck(lambda a, k, c: ops.conv3d(a, k, c, relu=True, **kw), x, w, b)


def _torch_conv3d(torch, x, w, b, stride, padding, dilation):
    """PyTorch in (N, C, D, H, W) with weights (F, C, kd, kh, kw); TensorFlow's "same" (the odd
    pixel at the end) as an explicit F.pad, whose pairs run from the last axis."""
    F = torch.nn.functional
    s, d = ref.as_triple(stride), ref.as_triple(dilation)
    xc = x.permute(0, 4, 1, 2, 3)
    pads = ref.volume_pads(tuple(xc.shape[2:]), tuple(w.shape[:3]), s, padding, d)
    xc = F.pad(xc, [p for pair in reversed(pads) for p in pair])
    y = F.conv3d(xc, w.permute(4, 3, 0, 1, 2), b, stride=s, dilation=d)
    return y.permute(0, 2, 3, 4, 1)


@pytest.mark.parametrize("case", CONV_CASES)
def test_conv3d_forward_and_gradients_match_torch(torch, rng, case):
    """float32 against torch.nn.functional.conv3d: FORWARD_TOL (atol 1e-5, rtol 1e-4) and
    GRAD_TOL (atol 1e-4, rtol 1e-3), as for conv2d."""
    x, w, b, kw = _conv_args(rng, case, np.float32)
    s, p, d = kw["stride"], kw["padding"], kw["dilation"]
    got, grads = run_float32(lambda a, k, c: ops.conv3d(a, k, c, **kw), x, w, b)
    want, want_grads = torch_run(
        torch, lambda a, k, c: _torch_conv3d(torch, a, k, c, s, p, d), x, w, b
    )
    np.testing.assert_allclose(got, want, **FORWARD_TOL)
    for g, t in zip(grads, want_grads, strict=True):
        np.testing.assert_allclose(g, t, **GRAD_TOL)


def test_conv3d_without_bias_and_weight_only_gradients(rng):
    x, w, _, _ = _conv_args(rng, "3x3x3-valid")
    want = ref.conv3d(x, w, None)
    np.testing.assert_allclose(ops.conv3d(Tensor(x), Tensor(w)).numpy(), want, rtol=1e-12)
    weight = Tensor(w, requires_grad=True)
    ops.conv3d(Tensor(x), weight).sum().backward()  # the input wants no gradient
    assert weight.grad.shape == w.shape


def test_the_op_takes_one_spatial_axis_too(rng):
    """ConvOp on sequences (N, L, C) directly (the textbook plan) gives conv1d's numbers, which
    run the tuned 2-D plan on a one-row image."""
    x, w, b = rng.standard_normal((2, 9, 3)), rng.standard_normal((3, 3, 4)), rng.standard_normal(4)
    attrs = {"stride": (2,), "pads": ((1, 2),), "dilation": (2,)}
    got = ConvOp.apply(Tensor(x), Tensor(w), Tensor(b), **attrs).numpy()
    want = ops.conv1d(Tensor(x), Tensor(w), Tensor(b), stride=2, padding=(1, 2), dilation=2)
    np.testing.assert_allclose(got, want.numpy(), rtol=1e-12, atol=1e-12)
    assert_gradcheck(lambda a, k, c: ConvOp.apply(a, k, c, **attrs), x, w, b)


def test_col2im_is_the_adjoint_of_im2col_on_volumes(rng):
    """<im2col(x), c> = <x, col2im(c)> for overlapping, strided, dilated 3-D windows."""
    x = rng.standard_normal((2, 7, 6, 8, 3))
    args = ((2, 3, 2), (2, 1, 3), (2, 1, 2), (3, 4, 2))
    cols = im2col(x, *args)
    assert cols.shape == (2 * 3 * 4 * 2, 2 * 3 * 2 * 3)
    c = rng.standard_normal(cols.shape)
    np.testing.assert_allclose((cols * c).sum(), (x * col2im(c, x.shape, *args)).sum())


def test_output_shape_and_padding_arithmetic():
    assert ops.conv_output_shape((5, 4, 7), (3, 2, 3), 2, "same") == (3, 2, 4)
    assert ops.conv_output_shape((None, 6, 6), 3, 1, "valid", (1, 2, 1)) == (None, 2, 4)
    assert ops.resolve_padding((5, 4, 7), (3, 2, 3), 2, "same", 1) == ((1, 1), (0, 0), (1, 1))
    assert ops.resolve_padding((5, 5, 5), 3, 1, 1, 1) == ((1, 1),) * 3
    assert ops.resolve_padding((5, 5, 5), 3, 1, (0, 1, 2), 1) == ((0, 0), (1, 1), (2, 2))
    assert ops.pool_output_shape((4, 5, 6), 2) == (2, 2, 3)
    assert ops.pool_output_shape((4, 5, 6), (2, 3, 2), 1, "same") == (4, 5, 6)


def test_conv3d_explicit_padding(rng):
    x = rng.standard_normal((1, 3, 4, 3, 2))
    w = rng.standard_normal((2, 2, 2, 2, 3))
    pads = ((1, 0), (0, 2), (1, 1))
    want = ref.conv3d(np.pad(x, ((0, 0), *pads, (0, 0))), w)
    got = ops.conv3d(Tensor(x), Tensor(w), padding=pads).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-12)


@pytest.mark.parametrize(
    ("x", "w", "b", "kwargs", "error", "match"),
    [
        ((2, 5, 5, 3), (3, 3, 3, 3, 4), None, {}, ValueError,
         r"conv3d: expected a 5-D input \(batch, depth, height, width, channels\), received "
         r"shape \(2, 5, 5, 3\). Add a batch axis"),
        ((1, 4, 4, 4, 2), (3, 3, 2, 4), None, {}, ValueError,
         r"conv3d: expected a 5-D weight \(kernel_depth, kernel_height, kernel_width, "
         r"in_channels, out_channels\).*w.transpose\(2, 3, 4, 1, 0\)"),
        ((1, 4, 4, 4, 2), (3, 3, 3, 3, 4), None, {}, ValueError,
         r"conv3d: input has 2 channels but the weight expects 3.*\(3, 3, 3, 2, 4\)"),
        ((1, 4, 4, 4, 2), (3, 3, 3, 2, 4), (3,), {}, ValueError,
         r"conv3d: bias does not match the weight's 4 filters"),
        ((1, 2, 4, 4, 2), (3, 3, 3, 2, 4), None, {}, ValueError,
         r"conv3d: the kernel does not fit in the input.*padding='same'"),
        ((1, 4, 4, 4, 2), (3, 3, 3, 2, 4), None, {"stride": (1, 2)}, TypeError,
         r"conv3d: stride must be an int or a tuple of 3 ints. Expected e.g. stride=2 or "
         r"stride=\(2, 1, 1\)"),
        ((1, 4, 4, 4, 2), (3, 3, 3, 2, 4), None, {"dilation": 0}, ValueError,
         r"conv3d: dilation must be positive"),
        ((1, 4, 4, 4, 2), (3, 3, 3, 2, 4), None, {"padding": ((1, 1), (1, 1))}, TypeError,
         r"conv3d: bad padding. Expected 'valid', 'same', an int, a tuple of 3 ints"),
        ((1, 4, 4, 4, 2), (3, 3, 3, 2, 4), None, {"padding": "full"}, ValueError,
         r"conv3d: unknown padding 'full'"),
    ],
)  # fmt: skip
def test_conv3d_errors_name_the_culprit(x, w, b, kwargs, error, match):
    bias = None if b is None else Tensor(np.zeros(b, np.float32))
    with pytest.raises(error, match=match):
        ops.conv3d(Tensor(np.zeros(x, np.float32)), Tensor(np.zeros(w, np.float32)), bias, **kwargs)


def test_conv3d_refuses_integer_input_and_mixed_dtypes():
    with pytest.raises(TypeError, match="conv3d: expected a floating-point input"):
        ops.conv3d(Tensor(np.zeros((1, 3, 3, 3, 1), np.int64)), Tensor(np.zeros((1, 1, 1, 1, 1))))
    with pytest.raises(TypeError, match="conv3d: input and weight must have the same dtype"):
        ops.conv3d(Tensor(np.zeros((1, 3, 3, 3, 1), np.float32)), Tensor(np.zeros((1, 1, 1, 1, 1))))


# ------------------------------------------------------------------ pooling
# (x shape, pool_size, stride, padding)
POOL_CASES = {
    "2x2x2-tiled": ((2, 4, 6, 4, 3), 2, None, "valid"),
    "2x2x2-odd-size": ((1, 5, 3, 5, 2), 2, None, "valid"),
    "3-stride2-same": ((2, 5, 4, 7, 2), 3, 2, "same"),
    "per-axis-same": ((1, 4, 5, 3, 2), (1, 3, 2), (1, 2, 1), "same"),
    "stride-above-pool": ((2, 7, 7, 7, 1), 2, 3, "valid"),
    "1x1x1-volume-same": ((1, 1, 1, 1, 1), 3, 2, "same"),
}


def _distinct(rng, shape):
    """Values 0.1 apart in random order: no ties, so the max is differentiable everywhere."""
    return rng.permutation(int(np.prod(shape))).reshape(shape) * 0.1


@pytest.mark.parametrize("kind", ["max", "avg"])
@pytest.mark.parametrize("case", POOL_CASES)
def test_pool3d_matches_the_loop_and_finite_differences(rng, kind, case):
    shape, pool, stride, padding = POOL_CASES[case]
    fn = ops.max_pool3d if kind == "max" else ops.avg_pool3d
    x = _distinct(rng, shape)
    got = fn(Tensor(x), pool, stride, padding).numpy()
    np.testing.assert_allclose(got, ref.pool3d(kind, x, pool, stride, padding), rtol=1e-12)
    assert_gradcheck(lambda t: fn(t, pool, stride, padding), x)


def _torch_pool3d(torch, kind, x, pool, stride, padding):
    """PyTorch in (N, C, D, H, W); TensorFlow's "same" padded explicitly (-inf for max), and
    Keras's average over the real cells: the padded sum over the padded count of ones."""
    F = torch.nn.functional
    p = ref.as_triple(pool)
    s = p if stride is None else ref.as_triple(stride)
    xc = x.permute(0, 4, 1, 2, 3)
    pads = [
        v for pair in reversed(ref.volume_pads(tuple(xc.shape[2:]), p, s, padding)) for v in pair
    ]
    if kind == "max":
        y = F.max_pool3d(F.pad(xc, pads, value=-float("inf")), p, s)
    else:
        ones = F.pad(torch.ones_like(xc), pads)
        y = F.avg_pool3d(F.pad(xc, pads), p, s) / F.avg_pool3d(ones, p, s)
    return y.permute(0, 2, 3, 4, 1)


@pytest.mark.parametrize("kind", ["max", "avg"])
@pytest.mark.parametrize("case", POOL_CASES)
def test_pool3d_forward_and_gradients_match_torch(torch, rng, kind, case):
    """float32 against torch's max_pool3d/avg_pool3d: FORWARD_TOL and GRAD_TOL."""
    shape, pool, stride, padding = POOL_CASES[case]
    fn = ops.max_pool3d if kind == "max" else ops.avg_pool3d
    x = _distinct(rng, shape).astype(np.float32)
    got, (gx,) = run_float32(lambda t: fn(t, pool, stride, padding), x)
    want, (want_gx,) = torch_run(
        torch, lambda t: _torch_pool3d(torch, kind, t, pool, stride, padding), x
    )
    np.testing.assert_allclose(got, want, **FORWARD_TOL)
    np.testing.assert_allclose(gx, want_gx, **GRAD_TOL)


def test_max_pool3d_gives_a_tie_to_the_first_maximum():
    """Row-major window order (depth first), as PyTorch: the tiled and the general path."""
    x = np.ones((1, 2, 2, 2, 1))
    for stride in (None, 1):
        t = Tensor(x, requires_grad=True)
        ops.max_pool3d(t, 2, stride).sum().backward()
        want = np.zeros_like(x)
        want[0, 0, 0, 0, 0] = 1.0
        np.testing.assert_array_equal(t.grad, want)


@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("kind", ["avg", "max"])
def test_global_pool3d(rng, torch, kind, keepdims):
    x = _distinct(rng, (2, 3, 2, 4, 3))
    fn = ops.global_avg_pool3d if kind == "avg" else ops.global_max_pool3d
    reduce = np.mean if kind == "avg" else np.max
    got = fn(Tensor(x), keepdims=keepdims).numpy()
    np.testing.assert_allclose(got, reduce(x, axis=(1, 2, 3), keepdims=keepdims), rtol=1e-12)
    assert_gradcheck(lambda t: fn(t, keepdims=keepdims), x)
    torch_fn = (
        torch.nn.functional.adaptive_avg_pool3d
        if kind == "avg"
        else (torch.nn.functional.adaptive_max_pool3d)
    )
    got, (gx,) = run_float32(lambda t: fn(t), x.astype(np.float32))
    want, (want_gx,) = torch_run(
        torch, lambda t: torch_fn(t.permute(0, 4, 1, 2, 3), 1).flatten(1), x.astype(np.float32)
    )
    np.testing.assert_allclose(got, want, **FORWARD_TOL)
    np.testing.assert_allclose(gx, want_gx, **GRAD_TOL)


def test_pool3d_errors_name_the_culprit():
    with pytest.raises(ValueError, match=r"max_pool3d: expected a 5-D input \(batch, depth"):
        ops.max_pool3d(Tensor(np.zeros((1, 4, 4, 2), np.float32)))
    with pytest.raises(ValueError, match=r"avg_pool3d: the pool window does not fit"):
        ops.avg_pool3d(Tensor(np.zeros((1, 1, 4, 4, 2), np.float32)), 2)
    with pytest.raises(TypeError, match=r"max_pool3d: pool_size must be an int or a tuple of 3"):
        ops.max_pool3d(Tensor(np.zeros((1, 4, 4, 4, 2), np.float32)), (2, 2))
    with pytest.raises(ValueError, match=r"global_max_pool3d: the volume is empty"):
        ops.global_max_pool3d(Tensor(np.zeros((1, 0, 4, 4, 2), np.float32)))
    with pytest.raises(ValueError, match=r"global_avg_pool3d: expected a 5-D input"):
        ops.global_avg_pool3d(Tensor(np.zeros((1, 4, 4, 2), np.float32)))
