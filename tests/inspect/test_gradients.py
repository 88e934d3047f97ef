"""gradient_report reproduces the texts' vanishing-gradient claim; gradcheck_model checks a
whole model layer by layer."""

from __future__ import annotations

import numpy as np
import pytest

import glassnet as gn
from glassnet import inspect, layers
from glassnet.autograd import Function

from .helpers import small_cnn


def deep_mlp(activation: str, initializer: str) -> gn.Sequential:
    """Ten Dense layers: nine hidden ones of 32 units and a 3-class output."""
    gn.set_seed(0)
    hidden = [
        layers.Dense(32, activation=activation, kernel_initializer=initializer) for _ in range(9)
    ]
    return gn.Sequential([layers.Input((16,)), *hidden, layers.Dense(3, activation="softmax")])


@pytest.fixture
def batch(rng):
    return rng.standard_normal((64, 16)).astype(np.float32), rng.integers(0, 3, 64)


def test_ten_sigmoid_layers_make_the_first_layers_gradients_vanish(batch):
    report = inspect.gradient_report(deep_mlp("sigmoid", "glorot_uniform"), *batch)
    norms = [row.weight_grad_norm for row in report.layers]
    assert len(norms) == 10
    assert norms[0] * 100 <= norms[-1]  # at least 100× smaller
    assert report.verdict == "vanishing"
    assert "smaller than the last layer's" in str(report)


def test_relu_with_he_initialisation_keeps_them(batch):
    report = inspect.gradient_report(deep_mlp("relu", "he_normal"), *batch)
    norms = [row.weight_grad_norm for row in report.layers]
    assert norms[0] * 100 > norms[-1]
    assert report.verdict == "healthy"
    assert all(row.dead_relu_share is not None for row in report.layers[:-1])


def test_dead_relus_are_counted_and_named(batch):
    model = deep_mlp("relu", "he_normal")
    first = model.layers[0]
    first.bias.data[:16] = -1000.0  # half the units can never fire
    report = inspect.gradient_report(model, *batch)
    assert report.layers[0].dead_relu_share == pytest.approx(0.5)
    assert any(f"'{first.name}': 50% of its ReLU units" in note for note in report.notes)


def test_huge_weights_are_called_exploding(batch):
    gn.set_seed(0)
    model = gn.Sequential([layers.Input((16,)), layers.Dense(8), layers.Dense(1)])
    for w in model.weights:
        w.data *= 1000
    report = inspect.gradient_report(model, batch[0], np.ones((64, 1), np.float32))
    assert report.verdict == "exploding"


def test_the_report_leaves_no_gradients_behind(batch):
    model = deep_mlp("relu", "he_normal")
    inspect.gradient_report(model, *batch)
    assert all(w.grad is None for w in model.weights)


def test_gradcheck_model_passes_a_correct_cnn_layer_by_layer(rng):
    model = small_cnn()
    x, y = rng.uniform(0, 255, (2, 8, 8, 1)), np.array([0, 2])
    before = [w.copy() for w in model.get_weights()]
    report = inspect.gradcheck_model(model, x, y)
    assert [row[0] for row in report.rows] == ["input", "conv", "hidden", "output"]
    assert report.passed, str(report)
    assert "every layer passed" in str(report)
    for w, old in zip(model.get_weights(), before, strict=True):  # restored, float32 again
        assert w.dtype == np.float32 and np.array_equal(w, old)


class WrongDouble(Function):
    """2·x forward, but a backward that claims 3: the kind of bug the check is for."""

    @staticmethod
    def forward(ctx, x):
        return 2 * x

    @staticmethod
    def backward(ctx, grad):
        return (3 * grad,)


class Buggy(layers.Layer):
    def call(self, x, training=False):
        return WrongDouble.apply(x)


def test_gradcheck_model_finds_a_wrong_backward(rng):
    gn.set_seed(0)
    model = gn.Sequential(
        [layers.Input((4,)), layers.Dense(3, name="before"), Buggy(), layers.Dense(2, name="after")]
    )
    report = inspect.gradcheck_model(
        model, rng.standard_normal((3, 4)), rng.standard_normal((3, 2))
    )
    verdicts = {row[0]: row[4] for row in report.rows}
    assert verdicts == {"input": False, "before": False, "after": True}
    assert not report and "FAIL" in str(report)
