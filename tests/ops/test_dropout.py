"""Dropout: drop rate, scaling, gradient = mask, explicit randomness, identity at inference."""

from __future__ import annotations

import numpy as np
import pytest

from glassnet import Tensor, ops
from glassnet.backend import manual_seed
from tests.helpers import assert_gradcheck, run_float32


@pytest.mark.parametrize("rate", [0.1, 0.5, 0.8])
def test_drop_rate_scale_and_mean(rate, rng):
    x = Tensor(np.ones((1000, 1000), dtype=np.float32))
    out = ops.dropout(x, rate, rng=rng).numpy()
    assert out.shape == x.shape and out.dtype == np.float32
    dropped = out == 0
    # 10^6 Bernoulli draws: the standard error of the fraction is below 5e-4
    assert abs(dropped.mean() - rate) < 5e-3
    np.testing.assert_allclose(out[~dropped], 1 / (1 - rate), rtol=1e-6)
    assert abs(out.mean() - 1.0) < 0.02  # inverted dropout keeps the expected value


def test_gradient_is_mask_times_scale(rng):
    x = Tensor(rng.normal(size=(50, 40)), requires_grad=True)
    out = ops.dropout(x, 0.3, rng=rng)
    g = rng.normal(size=x.shape)
    out.backward(g)
    mask = (out.data != 0) / 0.7  # x has no exact zeros, so the kept elements are the non-zeros
    np.testing.assert_allclose(out.data, x.data * mask, rtol=1e-12)
    np.testing.assert_allclose(x.grad, g * mask, rtol=1e-12)


def test_gradient_matches_finite_differences(rng):
    # a fresh generator per call: every evaluation draws the same mask
    x = rng.normal(size=(4, 5))
    assert_gradcheck(lambda t: ops.dropout(t, 0.4, rng=np.random.default_rng(7)), x)


def test_same_seed_same_mask_other_seed_other_mask():
    x = Tensor(np.ones((64, 64)))
    a = ops.dropout(x, 0.5, rng=np.random.default_rng(1)).numpy()
    b = ops.dropout(x, 0.5, rng=np.random.default_rng(1)).numpy()
    c = ops.dropout(x, 0.5, rng=np.random.default_rng(2)).numpy()
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_default_generator_follows_manual_seed():
    x = Tensor(np.ones((32, 32)))
    manual_seed(123)
    a = ops.dropout(x, 0.5).numpy()
    manual_seed(123)
    b = ops.dropout(x, 0.5).numpy()
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(("rate", "training"), [(0.5, False), (0.0, True)])
def test_identity_when_not_training_or_rate_zero(rate, training, rng):
    x = Tensor(rng.normal(size=(3, 4)), requires_grad=True)
    assert ops.dropout(x, rate, training=training, rng=rng) is x


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_is_kept_forward_and_backward(dtype, rng):
    x = rng.normal(size=(2, 3, 4, 5))
    if dtype == np.float32:
        out, (g,) = run_float32(lambda t: ops.dropout(t, 0.5, rng=rng), x)  # asserts float32
    else:
        t = Tensor(x, requires_grad=True)
        out_t = ops.dropout(t, 0.5, rng=rng)
        out_t.sum().backward()
        out, g = out_t.numpy(), t.grad
    assert out.dtype == dtype and g.dtype == dtype and g.shape == x.shape
    np.testing.assert_allclose(g, (out != 0) * 2.0)


@pytest.mark.parametrize("rate", [1.0, -0.1, 1.5, float("nan")])
def test_rate_outside_zero_one_raises(rate):
    with pytest.raises(ValueError, match=r"dropout: .*Expected 0 <= rate < 1, received rate="):
        ops.dropout(Tensor(np.ones(3)), rate)
    with pytest.raises(ValueError, match=r"Expected 0 <= rate < 1"):
        ops.dropout(Tensor(np.ones(3)), rate, training=False)  # checked at inference too


def test_type_errors():
    x = Tensor(np.ones(3))
    with pytest.raises(TypeError, match=r"dropout: rate must be a number.*received str"):
        ops.dropout(x, "0.5")
    with pytest.raises(TypeError, match=r"rng must be a numpy.random.Generator.*received int"):
        ops.dropout(x, 0.5, rng=0)
    with pytest.raises(TypeError, match=r"x must be floating point.*int64"):
        ops.dropout(Tensor(np.ones(3, dtype=np.int64)), 0.5)
