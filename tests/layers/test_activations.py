"""ReLU, LeakyReLU and Softmax as layers (glassnet/layers/activations.py)."""

from __future__ import annotations

import numpy as np
import pytest

from glassnet import Tensor, layers
from tests.helpers import FORWARD_TOL, GRAD_TOL
from tests.layers.layer_checks import run_layer_test


@pytest.mark.parametrize(
    ("cls", "kwargs"),
    [
        (layers.ReLU, {}),
        (layers.ReLU, {"max_value": 1.0, "negative_slope": 0.1, "threshold": 0.5}),
        (layers.LeakyReLU, {}),
        (layers.LeakyReLU, {"negative_slope": 0.01}),
        (layers.Softmax, {}),
        (layers.Softmax, {"axis": 1}),
    ],
)
def test_activation_layers_layer_checks(cls, kwargs):
    run_layer_test(cls, kwargs, input_shape=(2, 3, 4), expected_output_shape=(2, 3, 4))


def test_relu_variants_follow_keras_formula():
    x = np.array([[-2.0, -0.5, 0.0, 0.5, 1.0, 3.0, 8.0]], np.float32)
    np.testing.assert_array_equal(layers.ReLU()(x).numpy(), np.maximum(x, 0))
    y = layers.ReLU(max_value=6.0, negative_slope=0.1, threshold=1.0)(x).numpy()
    expected = np.where(x >= 1.0, np.minimum(x, 6.0), 0.1 * (x - 1.0))
    np.testing.assert_allclose(y, expected, **FORWARD_TOL)


def test_leaky_relu_default_slope_is_keras_03():
    assert layers.LeakyReLU().negative_slope == 0.3
    y = layers.LeakyReLU()(np.array([[-1.0, 2.0]], np.float32)).numpy()
    np.testing.assert_allclose(y, [[-0.3, 2.0]], **FORWARD_TOL)


@pytest.mark.parametrize("slope", [0.01, 0.3])
def test_leaky_relu_matches_torch(torch, rng, slope):
    x = rng.standard_normal((3, 5)).astype(np.float32)
    xt = Tensor(x, requires_grad=True)
    y = layers.LeakyReLU(slope)(xt)
    y.sum().backward()
    xr = torch.tensor(x, requires_grad=True)
    out = torch.nn.functional.leaky_relu(xr, slope)
    out.sum().backward()
    np.testing.assert_allclose(y.numpy(), out.detach().numpy(), **FORWARD_TOL)
    np.testing.assert_allclose(xt.grad, xr.grad.numpy(), **GRAD_TOL)


def test_softmax_layer_sums_to_one_along_axis(rng):
    x = rng.standard_normal((2, 3, 4)).astype(np.float32)
    np.testing.assert_allclose(layers.Softmax()(x).numpy().sum(axis=-1), 1, rtol=1e-6)
    np.testing.assert_allclose(layers.Softmax(axis=1)(x).numpy().sum(axis=1), 1, rtol=1e-6)
    with pytest.raises(ValueError, match=r"Softmax 's': expected an at least 3-D input"):
        layers.Softmax(axis=2, name="s")(np.zeros((2, 3)))


@pytest.mark.parametrize(
    ("cls", "kwargs", "error", "match"),
    [
        (
            layers.ReLU,
            {"max_value": -1.0},
            ValueError,
            r"ReLU: 'max_value' must be in \[0.0, inf\)",
        ),
        (layers.ReLU, {"negative_slope": -0.1}, ValueError, "'negative_slope' must be in"),
        (layers.ReLU, {"threshold": "0"}, TypeError, "'threshold' must be a finite number"),
        (
            layers.LeakyReLU,
            {"negative_slope": float("nan")},
            TypeError,
            "LeakyReLU: 'negative_slope'",
        ),
        (layers.Softmax, {"axis": None}, TypeError, "Softmax: 'axis' must be an integer"),
    ],
)
def test_activation_layer_argument_errors(cls, kwargs, error, match):
    with pytest.raises(error, match=match):
        cls(**kwargs)
