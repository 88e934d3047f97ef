"""Activation functions: formulas, finite differences, PyTorch parity, stability."""

from __future__ import annotations

import math

import numpy as np
import pytest

from glassnet import Tensor, ops
from tests.helpers import FORWARD_TOL, GRAD_TOL, assert_gradcheck, run_float32, torch_run


def _erf(x):
    return np.vectorize(math.erf)(x)


SELU_ALPHA, SELU_SCALE = 1.6732632423543772, 1.0507009873554805  # Keras's, typed out again


def _sig(x):
    return 1 / (1 + np.exp(-x))


def _softplus(x):
    return np.log1p(np.exp(x))  # the textbook form: fine for the moderate inputs used here


def _hard_sigmoid(x):  # Keras 3: 0 for x <= -3, 1 for x >= 3, x/6 + 1/2 between
    return np.where(x <= -3, 0.0, np.where(x >= 3, 1.0, x / 6 + 0.5))


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
    "silu": (ops.silu, lambda x: x * _sig(x)),
    "elu": (ops.elu, lambda x: np.where(x > 0, x, np.exp(x) - 1)),
    "elu_alpha": (lambda t: ops.elu(t, 0.3), lambda x: np.where(x > 0, x, 0.3 * (np.exp(x) - 1))),
    "selu": (
        ops.selu,
        lambda x: SELU_SCALE * np.where(x > 0, x, SELU_ALPHA * (np.exp(x) - 1)),
    ),
    "softplus": (ops.softplus, _softplus),
    "mish": (ops.mish, lambda x: x * np.tanh(_softplus(x))),
    "relu6": (ops.relu6, lambda x: np.minimum(np.maximum(x, 0), 6)),
    "hard_sigmoid": (ops.hard_sigmoid, _hard_sigmoid),
    "hard_silu": (  # Keras 3's three pieces
        ops.hard_silu,
        lambda x: np.where(x < -3, 0.0, np.where(x > 3, x, x * (x + 3) / 6)),
    ),
    "softsign": (ops.softsign, lambda x: x / (1 + np.abs(x))),
}
#: The piecewise-linear ones are tested over a wider range, to cross every kink (ReLU6's at 6).
WIDE = {"relu6", "hard_sigmoid", "hard_silu"}
KINKS = np.array([-3.0, 0.0, 3.0, 6.0])


def _inputs(rng, shape=(3, 5), wide=False):
    x = rng.uniform(-8, 8, shape) if wide else rng.uniform(-3, 3, shape)
    near = np.abs(x[..., None] - KINKS).min(axis=-1) < 0.05
    return np.where(near, 0.5, x)  # away from the kinks (at 0; at ±3 and 6 for the hard ones)


@pytest.mark.parametrize("name", REFERENCE)
def test_forward_and_gradient(name, rng):
    fn, ref = REFERENCE[name]
    x = _inputs(rng, wide=name in WIDE)
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
    "silu": (ops.silu, lambda t, F: F.silu(t)),
    "elu": (ops.elu, lambda t, F: F.elu(t)),
    "elu_alpha": (lambda t: ops.elu(t, 0.3), lambda t, F: F.elu(t, alpha=0.3)),
    "selu": (ops.selu, lambda t, F: F.selu(t)),
    "softplus": (ops.softplus, lambda t, F: F.softplus(t, beta=1.0, threshold=1e4)),
    "mish": (ops.mish, lambda t, F: F.mish(t)),
    # PyTorch's hardsigmoid is Keras 3's definition, relu6(x + 3) / 6 (not Keras 2's 0.2x + 0.5)
    "hard_sigmoid": (ops.hard_sigmoid, lambda t, F: F.hardsigmoid(t)),
    "hard_silu": (ops.hard_silu, lambda t, F: F.hardswish(t)),
    "relu6": (ops.relu6, lambda t, F: F.relu6(t)),
    "softsign": (ops.softsign, lambda t, F: F.softsign(t)),
}


@pytest.mark.parametrize("name", TORCH)
def test_matches_pytorch(name, rng, torch):
    ours_fn, torch_fn = TORCH[name]
    x = _inputs(rng, (2, 3, 4), wide=name in WIDE)
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


STABLE = [ops.silu, ops.elu, ops.selu, ops.softplus, ops.mish, ops.softsign]
STABLE += [ops.relu6, ops.hard_sigmoid, ops.hard_silu]


@pytest.mark.parametrize("fn", STABLE, ids=lambda f: f.__name__)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_new_activations_stay_finite_and_keep_their_limits(fn, dtype):
    big = np.finfo(dtype).max / 4
    x = Tensor(np.array([-big, -1e4, -100.0, 0.0, 100.0, 1e4, big], dtype), requires_grad=True)
    y = fn(x)
    assert y.dtype == dtype
    weights = np.arange(1.0, 8.0) / 8  # below 1: big · weight stays finite
    (y * Tensor(weights.astype(dtype))).sum().backward()
    assert np.all(np.isfinite(y.numpy())), fn.__name__
    assert np.all(np.isfinite(x.grad)), fn.__name__
    out, grad = y.numpy(), x.grad
    limits = {  # f(x) and f'(x) far out on each side
        "silu": ((0, 0), (big, 1)),
        "elu": ((-1, 0), (big, 1)),
        "selu": ((-SELU_SCALE * SELU_ALPHA, 0), (SELU_SCALE * big, SELU_SCALE)),
        "softplus": ((0, 0), (big, 1)),
        "mish": ((0, 0), (big, 1)),
        "softsign": ((-1, 0), (1, 0)),
        "relu6": ((0, 0), (6, 0)),
        "hard_sigmoid": ((0, 0), (1, 0)),
        "hard_silu": ((0, 0), (big, 1)),
    }[fn.__name__]
    for i, (value, slope) in zip((0, 6), limits, strict=True):
        np.testing.assert_allclose(out[i], value, rtol=1e-6, atol=1e-30)
        np.testing.assert_allclose(grad[i], slope * weights[i], rtol=1e-6, atol=1e-30)


def test_softplus_keeps_tiny_values_and_large_ones_exact():
    x = np.array([-80.0, -20.0, 20.0, 80.0], np.float32)
    y = ops.softplus(Tensor(x)).numpy()
    np.testing.assert_allclose(y, [np.exp(-80.0), np.exp(-20.0), 20.0, 80.0], rtol=1e-6)
    assert y[0] > 0  # log(1 + e^x) computed naively would round e^-80 away to 0


def test_kinks_follow_pytorch_and_tensorflow_conventions():
    x = Tensor(np.array([-3.0, 0.0, 3.0, 6.0], np.float32), requires_grad=True)
    expected = {
        ops.relu6: [0.0, 0.0, 1.0, 0.0],  # 1 strictly inside (0, 6)
        ops.hard_sigmoid: [0.0, 1 / 6, 0.0, 0.0],  # 1/6 strictly inside (-3, 3)
        ops.hard_silu: [-0.5, 0.5, 1.5, 1.0],  # (2x + 3)/6 on [-3, 3], both ends
        ops.elu: [math.exp(-3.0), 1.0, 1.0, 1.0],  # alpha·e^0 = 1 at 0
    }
    for fn, grads in expected.items():
        x.zero_grad()
        fn(x).sum().backward()
        np.testing.assert_allclose(x.grad, grads, rtol=1e-6, err_msg=fn.__name__)
    np.testing.assert_allclose(ops.hard_sigmoid(x).numpy(), [0.0, 0.5, 1.0, 1.0])
    np.testing.assert_allclose(ops.hard_silu(x).numpy(), [0.0, 0.0, 3.0, 6.0])


def test_selu_constants_are_keras():
    y = ops.selu(Tensor(np.array([-1e3, 1.0], np.float64))).numpy()
    np.testing.assert_allclose(y, [-1.0507009873554805 * 1.6732632423543772, 1.0507009873554805])


def test_elu_alpha_must_be_a_number():
    with pytest.raises(TypeError, match="elu: 'alpha' must be a finite number"):
        ops.elu(Tensor([1.0]), alpha="1")


def test_prelu_forward_and_gradients_with_shared_alpha(rng):
    x = _inputs(rng, (2, 3, 4, 5))
    alpha = rng.uniform(-0.5, 0.5, (1, 1, 5))  # one per channel, shared along H and W
    out, _ = run_float32(ops.prelu, x, alpha)
    np.testing.assert_allclose(out, np.where(x >= 0, x, alpha * x), rtol=1e-6)
    assert_gradcheck(ops.prelu, x, alpha)
    full = rng.uniform(-0.5, 0.5, (3, 4, 5))
    assert_gradcheck(ops.prelu, x, full)


def test_prelu_matches_pytorch_one_alpha_per_channel(rng, torch):
    x = _inputs(rng, (2, 3, 4, 5))  # NHWC
    alpha = rng.uniform(0.05, 0.5, 5).astype(np.float32)
    ours, (gx, ga) = run_float32(ops.prelu, x, alpha.reshape(1, 1, 5))
    theirs, (hx, ha) = torch_run(
        torch,
        lambda t, a: torch.nn.functional.prelu(t.permute(0, 3, 1, 2), a).permute(0, 2, 3, 1),
        x,
        alpha,
    )
    np.testing.assert_allclose(ours, theirs, **FORWARD_TOL)
    np.testing.assert_allclose(gx, hx, **GRAD_TOL)
    np.testing.assert_allclose(ga.reshape(5), ha, **GRAD_TOL)


def test_prelu_alpha_must_broadcast_to_the_input():
    with pytest.raises(ValueError, match=r"prelu: alpha of shape \(3,\) does not broadcast"):
        ops.prelu(Tensor(np.zeros((2, 4), np.float32)), Tensor(np.zeros(3, np.float32)))
    with pytest.raises(ValueError, match=r"alpha of shape \(2, 4\) does not broadcast"):
        ops.prelu(Tensor(np.zeros((4,), np.float32)), Tensor(np.zeros((2, 4), np.float32)))


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
