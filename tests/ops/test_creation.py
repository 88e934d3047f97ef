"""zeros, ones and arange (glassnet/ops/creation.py): NumPy's results and dtypes."""

from __future__ import annotations

import numpy as np
import pytest

from glassnet import ops


def test_zeros_ones_and_arange_match_numpy():
    assert ops.zeros((2, 3)).numpy().tolist() == [[0.0] * 3] * 2
    assert ops.zeros(4).dtype == np.float32 and ops.ones((2,), dtype="int32").dtype == np.int32
    np.testing.assert_array_equal(ops.ones((1, 2)).numpy(), np.ones((1, 2)))
    positions = ops.arange(start=0, stop=5, step=1)  # a position embedding's ids
    assert positions.dtype == np.int64 and positions.numpy().tolist() == [0, 1, 2, 3, 4]
    np.testing.assert_array_equal(ops.arange(4).numpy(), np.arange(4))
    halves = ops.arange(0.0, 1.0, 0.25)
    assert halves.dtype == np.float32 and halves.numpy().tolist() == [0, 0.25, 0.5, 0.75]
    assert ops.arange(3, dtype="float32").dtype == np.float32


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match=r"zeros: shape must be .* Received shape=\(2, -1\)"):
        ops.zeros((2, -1))
    with pytest.raises(ValueError, match="ones: shape must be"):
        ops.ones("3")
    with pytest.raises(ValueError, match="step must not be 0"):
        ops.arange(0, 3, 0)
    with pytest.raises(ValueError, match="arange: start, stop and step must be numbers"):
        ops.arange("a")
