"""Rescaling (glassnet/layers/preprocessing.py)."""

from __future__ import annotations

import numpy as np
import pytest

from glassnet import layers
from tests.layers.layer_checks import run_layer_test


@pytest.mark.parametrize("kwargs", [{"scale": 1 / 255}, {"scale": 1 / 127.5, "offset": -1.0}])
def test_rescaling_layer_checks(kwargs):
    run_layer_test(
        layers.Rescaling, kwargs, input_shape=(2, 4, 4, 3), expected_output_shape=(2, 4, 4, 3)
    )


def test_rescaling_uint8_pixels_become_float32():
    pixels = np.array([[0, 51, 255]], dtype=np.uint8)
    y = layers.Rescaling(1 / 255)(pixels)
    assert y.dtype == np.float32
    np.testing.assert_allclose(y.numpy(), [[0.0, 0.2, 1.0]], rtol=1e-6)
    np.testing.assert_allclose(
        layers.Rescaling(1 / 127.5, offset=-1)(pixels).numpy(), [[-1, -0.6, 1]], atol=1e-6
    )


@pytest.mark.parametrize(
    "kwargs", [{"scale": "1/255"}, {"scale": 1.0, "offset": None}, {"scale": float("inf")}]
)
def test_rescaling_argument_errors(kwargs):
    with pytest.raises(TypeError, match=r"Rescaling: '(scale|offset)' must be a finite number"):
        layers.Rescaling(**kwargs)
