"""Activation functions as layers, with their own arguments: ``ReLU``, ``LeakyReLU``,
``Softmax``. (``Activation("relu")`` and ``Dense(..., activation="relu")`` do the same by name.)"""

from __future__ import annotations

import numpy as np

from glassnet import ops
from glassnet.checks import check_number
from glassnet.layers.layer import InputSpec, Layer, Shape
from glassnet.tensor import Tensor

__all__ = ["LeakyReLU", "ReLU", "Softmax"]


class ReLU(Layer):
    """Rectified linear unit: passes positive values, silences negative ones, max(0, x).

    The optional arguments give Keras's generalised form: ``max_value`` caps the output
    (``ReLU(6.0)`` is ReLU6), values below ``threshold`` are multiplied by ``negative_slope``:
    f(x) = min(x, max_value) for x ≥ threshold, negative_slope · (x − threshold) otherwise.

    Args:
        max_value: the largest output, or None for no cap.
        negative_slope: the slope below the threshold (0: plain ReLU).
        threshold: where the function switches from the slope to the identity.

    Shape:
        Output like the input.
    """

    trains_in_shares = True  # see Layer.trains_in_shares
    _config_keys = ("max_value", "negative_slope", "threshold")

    def __init__(
        self,
        max_value: float | None = None,
        negative_slope: float = 0.0,
        threshold: float = 0.0,
        *,
        name: str | None = None,
        trainable: bool = True,
    ) -> None:
        super().__init__(name=name, trainable=trainable)
        if max_value is not None:
            max_value = check_number("ReLU", "max_value", max_value, 0.0)
        self.max_value = max_value
        self.negative_slope = check_number("ReLU", "negative_slope", negative_slope, 0.0)
        self.threshold = check_number("ReLU", "threshold", threshold)

    def call(self, x: Tensor, training: bool = False) -> Tensor:
        if self.negative_slope == 0.0 and self.threshold == 0.0:
            y = ops.relu(x)
        else:
            below = (x - self.threshold) * self.negative_slope
            y = ops.where(x.data >= self.threshold, x, below)
        return y if self.max_value is None else ops.clip(y, max=self.max_value)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return self._check_input_shape(input_shape)


class LeakyReLU(Layer):
    """Like ReLU but lets a little through for negative inputs, ``negative_slope · x``, so a
    neuron that went negative can still learn.

    Args:
        negative_slope: the slope for x < 0 (Keras 3's default 0.3; PyTorch's is 0.01).

    Shape:
        Output like the input.
    """

    trains_in_shares = True  # see Layer.trains_in_shares
    _config_keys = ("negative_slope",)

    def __init__(
        self, negative_slope: float = 0.3, *, name: str | None = None, trainable: bool = True
    ) -> None:
        super().__init__(name=name, trainable=trainable)
        self.negative_slope = check_number("LeakyReLU", "negative_slope", negative_slope, 0.0)

    def call(self, x: Tensor, training: bool = False) -> Tensor:
        return ops.leaky_relu(x, negative_slope=self.negative_slope)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return self._check_input_shape(input_shape)


class Softmax(Layer):
    """Turns scores into probabilities that sum to 1 along ``axis``: e^x_i / Σ_j e^x_j.

    Args:
        axis: the axis that sums to 1 (the classes, by default the last).

    Shape:
        Output like the input.
    """

    trains_in_shares = True  # see Layer.trains_in_shares
    _config_keys = ("axis",)

    def __init__(self, axis: int = -1, *, name: str | None = None, trainable: bool = True):
        super().__init__(name=name, trainable=trainable)
        if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
            raise TypeError(f"Softmax: 'axis' must be an integer. Received: axis={axis!r}")
        self.axis = int(axis)
        self.input_spec = InputSpec(min_ndim=max(self.axis + 1, -self.axis))

    def call(self, x: Tensor, training: bool = False) -> Tensor:
        return ops.softmax(x, axis=self.axis)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return self._check_input_shape(input_shape)
