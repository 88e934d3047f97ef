"""Flatten and Reshape (glassnet/layers/reshaping.py)."""

from __future__ import annotations

import numpy as np
import pytest

from glassnet import layers
from tests.layers.layer_checks import run_layer_test


@pytest.mark.parametrize(
    ("input_shape", "output_shape"),
    [((2, 7, 7, 5), (2, 245)), ((3, 4), (3, 4)), ((1, 2, 3), (1, 6)), ((4,), (4, 1))],
)
def test_flatten_layer_checks(input_shape, output_shape):
    run_layer_test(layers.Flatten, {}, input_shape=input_shape, expected_output_shape=output_shape)


def test_flatten_is_row_major_over_height_width_channels(rng):
    x = rng.standard_normal((2, 3, 4, 5)).astype(np.float32)
    y = layers.Flatten()(x).numpy()
    np.testing.assert_array_equal(y, x.reshape(2, -1))
    assert y[0, 1] == x[0, 0, 0, 1] and y[0, 5] == x[0, 0, 1, 0]  # channels vary fastest


def test_flatten_shapes_with_unknown_sizes():
    flatten = layers.Flatten()
    assert flatten.compute_output_shape((None, 7, 7, 5)) == (None, 245)
    assert flatten.compute_output_shape((None, None, 7, 5)) == (None, None)
    with pytest.raises(ValueError, match=r"Flatten '.*': expected an at least 1-D input"):
        flatten.compute_output_shape(())


@pytest.mark.parametrize(
    ("target", "input_shape", "output_shape"),
    [
        ((28, 28, 1), (2, 784), (2, 28, 28, 1)),
        ((-1, 5), (2, 7, 7, 5), (2, 49, 5)),
        ((6,), (3, 2, 3), (3, 6)),
        (12, (1, 3, 4), (1, 12)),
    ],
)
def test_reshape_layer_checks(target, input_shape, output_shape):
    run_layer_test(
        layers.Reshape,
        {"target_shape": target},
        input_shape=input_shape,
        expected_output_shape=output_shape,
    )


def test_reshape_values_and_unknown_sizes(rng):
    x = rng.standard_normal((2, 6)).astype(np.float32)
    np.testing.assert_array_equal(layers.Reshape((2, 3))(x).numpy(), x.reshape(2, 2, 3))
    reshape = layers.Reshape((-1, 3))
    assert reshape.compute_output_shape((None, None, 3)) == (None, None, 3)
    assert reshape.compute_output_shape((None, 4, 3)) == (None, 4, 3)


def test_reshape_errors():
    with pytest.raises(
        ValueError,
        match=r"Reshape 'r': cannot reshape input shape \(None, 7, 7, 5\) "
        r"\(245 values per sample\) into target_shape \(240,\) \(240 values\)",
    ):
        layers.Reshape((240,), name="r").compute_output_shape((None, 7, 7, 5))
    with pytest.raises(ValueError, match="cannot reshape input shape"):
        layers.Reshape((-1, 4))(np.zeros((2, 6)))
    for bad in [(2, -1, -1), (0, 3), (2.0,), "3", None]:
        with pytest.raises(ValueError, match="'target_shape' must be a tuple of positive integers"):
            layers.Reshape(bad)
