"""Add and Concatenate (glassnet/layers/merging.py)."""

from __future__ import annotations

import numpy as np
import pytest

from glassnet import Tensor, layers
from tests.layers.layer_checks import run_layer_test


def test_add_layer_checks():
    run_layer_test(
        layers.Add, {}, input_shape=[(2, 3, 3, 4), (2, 3, 3, 4)], expected_output_shape=(2, 3, 3, 4)
    )
    run_layer_test(layers.Add, {}, input_shape=[(2, 5)] * 3, expected_output_shape=(2, 5))


def test_add_sums_and_routes_gradients(rng):
    a, b = (rng.standard_normal((2, 3)).astype(np.float32) for _ in range(2))
    ta, tb = Tensor(a, requires_grad=True), Tensor(b, requires_grad=True)
    y = layers.Add()([ta, tb])
    np.testing.assert_allclose(y.numpy(), a + b)
    (y * 2).sum().backward()
    np.testing.assert_array_equal(ta.grad, np.full((2, 3), 2, np.float32))
    np.testing.assert_array_equal(tb.grad, np.full((2, 3), 2, np.float32))


def test_add_output_shape_merges_unknown_sizes():
    add = layers.Add()
    assert add.compute_output_shape([(None, 4, None), (None, None, 3)]) == (None, 4, 3)
    assert add.input_shape is None


def test_add_errors():
    add = layers.Add(name="add")
    with pytest.raises(
        ValueError,
        match=r"Add 'add': all inputs must have the same shape. "
        r"Received input shapes \[\(2, 3\), \(2, 4\)\]",
    ):
        add([np.zeros((2, 3)), np.zeros((2, 4))])
    with pytest.raises(TypeError, match=r"Add 'add': expects a list of inputs"):
        add(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="expects a list of input shapes"):
        add.compute_output_shape((None, 3))
    with pytest.raises(ValueError, match="needs at least one input"):
        add.compute_output_shape([])


def test_concatenate_layer_checks():
    run_layer_test(
        layers.Concatenate,
        {},
        input_shape=[(2, 3, 3, 4), (2, 3, 3, 2)],
        expected_output_shape=(2, 3, 3, 6),
    )
    run_layer_test(
        layers.Concatenate,
        {"axis": 1},
        input_shape=[(2, 1), (2, 3), (2, 2)],
        expected_output_shape=(2, 6),
    )


def test_concatenate_values_gradients_and_shapes(rng):
    a, b = (
        rng.standard_normal((2, 3)).astype(np.float32),
        rng.standard_normal((2, 1)).astype(np.float32),
    )
    ta, tb = Tensor(a, requires_grad=True), Tensor(b, requires_grad=True)
    y = layers.Concatenate()([ta, tb])
    np.testing.assert_array_equal(y.numpy(), np.concatenate([a, b], axis=-1))
    (y * np.arange(4, dtype=np.float32)).sum().backward()
    np.testing.assert_array_equal(ta.grad, np.tile([0, 1, 2], (2, 1)).astype(np.float32))
    np.testing.assert_array_equal(tb.grad, np.full((2, 1), 3, np.float32))
    cat = layers.Concatenate(axis=-1)
    assert cat.compute_output_shape([(None, 5, 5, 8), (None, 5, None, 4)]) == (None, 5, 5, 12)
    assert cat.compute_output_shape([(None, 5, 5, None), (None, 5, 5, 4)]) == (None, 5, 5, None)


def test_concatenate_errors():
    cat = layers.Concatenate(name="cat")
    with pytest.raises(
        ValueError,
        match=r"Concatenate 'cat': all inputs must have the same shape "
        r"except along axis -1. Received input shapes \[\(1, 4, 4, 2\), \(1, 3, 3, 2\)\]",
    ):
        cat([np.zeros((1, 4, 4, 2)), np.zeros((1, 3, 3, 2))])
    with pytest.raises(ValueError, match="axis=3 is out of range for inputs with 2 axes"):
        layers.Concatenate(axis=3).compute_output_shape([(None, 2), (None, 2)])
    with pytest.raises(ValueError, match="needs at least one input"):
        cat.compute_output_shape([])
    with pytest.raises(TypeError, match="Concatenate: 'axis' must be an integer"):
        layers.Concatenate(axis="channels")
