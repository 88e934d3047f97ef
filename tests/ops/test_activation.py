"""Activation functions: formulas, finite differences, PyTorch parity, stability."""

from __future__ import annotations

import math

import numpy as np
import pytest

from glassnet import Tensor, ops
from tests.helpers import FORWARD_TOL, GRAD_TOL, assert_gradcheck, run_float32, torch_run


def _erf(x):
    return np.vectorize(math.erf)(x)


REFERENCE = {
    "relu": (ops.relu, lambda x: np.maximum(x, 0)),
    "leaky_relu": (ops.leaky_relu, lambda x: np.where(x > 0, x, 0.2 * x)),
    "sigmoid": (ops.sigmoid, lambda x: 1 / (1 + np.exp(-x))),
    "tanh": (ops.tanh, np.tanh),
    "gelu": (ops.gelu, lambda x: 0.5 * x * (1 + _erf(x / math.sqrt(2)))),
    "gelu_tanh": (
        lambda t: ops.gelu(t, approximate=True),
        lambda x: 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3))),
    ),
    "softmax": (ops.softmax, lambda x: np.exp(x) / np.exp(x).sum(-1, keepdims=True)),
    "log_softmax": (ops.log_softmax, lambda x: x - np.log(np.exp(x).sum(-1, keepdims=True))),
}


def _inputs(rng, shape=(3, 5)):
    x = rng.uniform(-3, 3, shape)
    return np.where(np.abs(x) < 0.05, 0.5, x)  # away from the kink at 0


@pytest.mark.parametrize("name", REFERENCE)
def test_forward_and_gradient(name, rng):
    fn, ref = REFERENCE[name]
    x = _inputs(rng)
    out, _ = run_float32(fn, x)
    np.testing.assert_allclose(out, ref(x), rtol=1e-5, atol=1e-6)
    # weight the outputs so softmax's sum (always 1) still tests the gradient
    assert_gradcheck(lambda t: fn(t) * np.arange(15.0).reshape(3, 5), x)


TORCH = {
    "relu": (ops.relu, lambda t, F: F.relu(t)),
    "leaky_relu": (lambda t: ops.leaky_relu(t, 0.01), lambda t, F: F.leaky_relu(t, 0.01)),
    "sigmoid": (ops.sigmoid, lambda t, F: t.sigmoid()),
    "tanh": (ops.tanh, lambda t, F: t.tanh()),
    "gelu": (ops.gelu, lambda t, F: F.gelu(t)),
    "gelu_tanh": (lambda t: ops.gelu(t, True), lambda t, F: F.gelu(t, approximate="tanh")),
    "softmax_axis1": (lambda t: ops.softmax(t, axis=1), lambda t, F: F.softmax(t, dim=1)),
    "log_softmax": (ops.log_softmax, lambda t, F: F.log_softmax(t, dim=-1)),
}


@pytest.mark.parametrize("name", TORCH)
def test_matches_pytorch(name, rng, torch):
    ours_fn, torch_fn = TORCH[name]
    x = _inputs(rng, (2, 3, 4))
    weights = np.arange(24.0).reshape(2, 3, 4)
    ours, (g,) = run_float32(lambda t: ours_fn(t) * Tensor(weights.astype(np.float32)), x)
    theirs, (h,) = torch_run(
        torch, lambda t: torch_fn(t, torch.nn.functional) * torch.tensor(weights).float(), x
    )
    np.testing.assert_allclose(ours, theirs, **FORWARD_TOL)
    np.testing.assert_allclose(g, h, **GRAD_TOL)


def test_texts_sigmoid_numbers():
    # "sigmoid(-3) = 4.74 %" and "sigmoid(2.9925) = 95.22 %" (two decimals)
    s = ops.sigmoid(Tensor([-3.0, 2.9925])).numpy() * 100
    assert round(float(s[0]), 2) == 4.74
    assert round(float(s[1]), 2) == 95.22


def test_relu_subgradient_at_zero_is_zero():
    x = Tensor([-1.0, 0.0, 2.0], requires_grad=True)
    ops.relu(x).sum().backward()
    np.testing.assert_array_equal(x.grad, [0.0, 0.0, 1.0])


def test_extreme_inputs_stay_finite():
    x = Tensor(np.array([[-1e4, 0.0, 1e4]], np.float32), requires_grad=True)
    for fn in (ops.sigmoid, ops.softmax, ops.log_softmax, ops.tanh):
        y = fn(x)
        assert np.all(np.isfinite(y.numpy())), fn.__name__
        (y * Tensor(np.array([[1.0, 2.0, 3.0]], np.float32))).sum().backward()
        assert np.all(np.isfinite(x.grad)), fn.__name__
        x.zero_grad()
    np.testing.assert_allclose(ops.sigmoid(x).numpy(), [[0.0, 0.5, 1.0]])
    np.testing.assert_allclose(ops.log_softmax(x).numpy(), [[-2e4, -1e4, 0.0]])


def test_softmax_rows_sum_to_one_and_bad_axis(rng):
    p = ops.softmax(Tensor(rng.standard_normal((4, 6)).astype(np.float32)), axis=0)
    np.testing.assert_allclose(p.numpy().sum(axis=0), np.ones(6), rtol=1e-6)
    with pytest.raises(
        ValueError, match=r"softmax: axis 2 is out of range for input shape \(4, 6\)"
    ):
        ops.softmax(p, axis=2)


def test_methods_exist():
    x = Tensor([0.5])
    for name in ("relu", "sigmoid", "tanh", "softmax", "log_softmax"):
        assert isinstance(getattr(x, name)(), Tensor)
