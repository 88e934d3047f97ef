"""The public gradient checker: passes correct gradients, catches wrong ones, checks models."""

from __future__ import annotations

import numpy as np
import pytest

import glassnet as gn
from glassnet import Function, Tensor, layers


def test_passes_a_correct_function_and_prints_a_table():
    report = gn.gradcheck(lambda x, w: (x @ w).tanh(), np.ones((2, 3)) * 0.1, np.eye(3)[:, :2])
    assert report and report.passed and len(report.checks) == 2
    text = str(report)
    assert "input 0" in text and "pass (every element)" in text


class WrongSquare(Function):
    """x² with a deliberately wrong derivative (x instead of 2x): gradcheck must notice."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved
        return grad * x


def test_catches_a_wrong_backward():
    report = gn.gradcheck(WrongSquare.apply, np.array([1.0, 2.0, 3.0]))
    assert not report.passed
    assert "FAIL" in str(report) and report.checks[0].max_abs_error > 0.5
    with pytest.raises(ValueError, match="gradcheck failed"):
        gn.gradcheck(WrongSquare.apply, np.array([1.0]), raise_on_failure=True)


def test_large_inputs_use_random_directions():
    report = gn.gradcheck(lambda x: (x * x).sum(), np.linspace(-1, 1, 5000), max_elements=100)
    assert report.passed and "random directions" in str(report)


def test_whole_model_with_its_parameters():
    gn.set_seed(0)
    model = gn.Sequential([layers.Input((4,)), layers.Dense(3, activation="tanh"), layers.Dense(2)])
    x = np.random.default_rng(0).standard_normal((5, 4))
    y = np.array([0, 1, 1, 0, 1])
    before = [w.copy() for w in model.get_weights()]
    report = gn.gradcheck(
        lambda inputs: gn.ops.sparse_categorical_crossentropy(y, model(inputs), from_logits=True),
        x,
        params=model.parameters(),
    )
    assert report.passed and len(report.checks) == 1 + 4
    # the model is left as it was: float32 weights, same values, no gradients
    for w, b in zip(model.weights, before, strict=True):
        assert w.dtype == np.float32 and w.grad is None
        np.testing.assert_array_equal(w.numpy(), b)


def test_fn_must_return_a_tensor():
    with pytest.raises(TypeError, match="fn must return a Tensor"):
        gn.gradcheck(lambda x: 3.0, np.ones(2))
    assert isinstance(Tensor([1.0]), Tensor)
