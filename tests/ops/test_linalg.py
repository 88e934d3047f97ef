"""matmul and linear: NumPy reference, finite differences, PyTorch parity, shape errors."""

from __future__ import annotations

import numpy as np
import pytest

from glassnet import Tensor, ops
from tests.helpers import FORWARD_TOL, GRAD_TOL, assert_gradcheck, run_float32, torch_run

MATMUL_SHAPES = [
    ((3, 4), (4, 5)),
    ((1, 4), (4, 1)),  # batch of 1
    ((2, 3, 4), (4, 5)),  # batched @ matrix: the matrix gradient sums over the batch
    ((2, 3, 4), (2, 4, 5)),
    ((2, 1, 3, 4), (5, 4, 2)),  # broadcast leading axes
    ((4,), (4, 5)),  # vector @ matrix
    ((3, 4), (4,)),  # matrix @ vector
    ((4,), (4,)),  # dot product
    ((2, 3, 4), (4,)),
]


@pytest.mark.parametrize("sa,sb", MATMUL_SHAPES)
def test_matmul(sa, sb, rng):
    a, b = rng.standard_normal(sa), rng.standard_normal(sb)
    out, (ga, gb) = run_float32(ops.matmul, a, b)
    np.testing.assert_allclose(
        out, a.astype(np.float32) @ b.astype(np.float32), rtol=1e-5, atol=1e-6
    )
    assert ga.shape == sa and gb.shape == sb
    assert_gradcheck(ops.matmul, a, b)


@pytest.mark.parametrize("sa,sb", MATMUL_SHAPES)
def test_matmul_matches_pytorch(sa, sb, rng, torch):
    a, b = rng.standard_normal(sa), rng.standard_normal(sb)
    ours, our_grads = run_float32(lambda x, y: x @ y, a, b)
    theirs, their_grads = torch_run(torch, torch.matmul, a, b)
    np.testing.assert_allclose(ours, theirs, **FORWARD_TOL)
    for g, h in zip(our_grads, their_grads, strict=True):
        np.testing.assert_allclose(g, h, **GRAD_TOL)


def test_matmul_with_a_transposed_view(rng):
    a = rng.standard_normal((4, 3)).T  # non-contiguous
    b = rng.standard_normal((4, 2))
    assert_gradcheck(ops.matmul, a, b)


def test_matmul_shape_error_says_which_axes():
    with pytest.raises(
        ValueError, match=r"matmul: cannot multiply shapes \(2, 3\) and \(4, 5\).*\(3\).*\(4\)"
    ):
        ops.matmul(Tensor(np.ones((2, 3))), Tensor(np.ones((4, 5))))
    with pytest.raises(ValueError, match="at least one axis"):
        ops.matmul(Tensor(np.float32(1.0)), Tensor(np.ones(3)))


@pytest.mark.parametrize("x_shape", [(5, 4), (1, 4), (2, 3, 4)])
@pytest.mark.parametrize("with_bias", [True, False])
def test_linear(x_shape, with_bias, rng, torch):
    x, w, b = rng.standard_normal(x_shape), rng.standard_normal((4, 3)), rng.standard_normal(3)
    arrays = (x, w, b) if with_bias else (x, w)
    out, grads = run_float32(ops.linear, *arrays)
    want = x @ w + (b if with_bias else 0)
    np.testing.assert_allclose(out, want, rtol=1e-5, atol=1e-5)
    assert_gradcheck(ops.linear, *arrays)
    # PyTorch's linear stores the weight as (out, in): ours is Keras's (in, out).
    tfn = lambda t, v, *c: torch.nn.functional.linear(t, v.T, *c)  # noqa: E731
    theirs, their_grads = torch_run(torch, tfn, *arrays)
    np.testing.assert_allclose(out, theirs, **FORWARD_TOL)
    for g, h in zip(grads, their_grads, strict=True):
        np.testing.assert_allclose(g, h, **GRAD_TOL)


@pytest.mark.parametrize("x_shape", [(6, 4), (2, 3, 4)])
def test_linear_with_fused_relu_is_relu_of_linear(x_shape, rng):
    """``linear(..., relu=True)`` (what Dense(activation="relu") runs) gives exactly the
    numbers and gradients of ``relu(linear(...))``, and passes float64 finite differences."""
    x, w, b = rng.standard_normal(x_shape), rng.standard_normal((4, 3)), rng.standard_normal(3)
    fused = lambda x, w, b: ops.linear(x, w, b, relu=True)  # noqa: E731
    out, grads = run_float32(fused, x, w, b)
    ref_out, ref_grads = run_float32(lambda x, w, b: ops.relu(ops.linear(x, w, b)), x, w, b)
    assert (out > 0).any() and (out == 0).any()
    np.testing.assert_array_equal(out, ref_out)
    for got, want in zip(grads, ref_grads, strict=True):
        np.testing.assert_array_equal(got, want)
    assert_gradcheck(fused, x, w, b)


def test_linear_errors_suggest_flatten():
    x = Tensor(np.ones((32, 28, 28)))
    with pytest.raises(
        ValueError, match=r"cannot multiply input \(32, 28, 28\) by weight \(784, 10\).*Flatten"
    ):
        ops.linear(x, Tensor(np.ones((784, 10))))
    with pytest.raises(ValueError, match=r"bias shape \(5,\) does not match weight \(28, 10\)"):
        ops.linear(x, Tensor(np.ones((28, 10))), Tensor(np.ones(5)))


def test_linear_refuses_mixed_precision_like_conv2d():
    x = Tensor(np.ones((2, 3), np.float64))
    with pytest.raises(TypeError, match="linear: input and weight must have the same dtype"):
        ops.linear(x, Tensor(np.ones((3, 4), np.float32)))
