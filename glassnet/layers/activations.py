"""Activation functions as layers, with their own arguments: ``ReLU``, ``LeakyReLU``,
``Softmax``, ``ELU`` and ``PReLU`` (whose negative slope is a learned weight).
(``Activation("relu")`` and ``Dense(..., activation="relu")`` do the same by name.)"""

from __future__ import annotations

from typing import Any

import numpy as np

from glassnet import initializers, ops
from glassnet.checks import check_number, is_int
from glassnet.layers.layer import InputSpec, Layer, Shape
from glassnet.tensor import Tensor

__all__ = ["ELU", "LeakyReLU", "PReLU", "ReLU", "Softmax"]


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
            y = ops.where(ops.greater_equal(x, self.threshold), x, below)
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


class ELU(Layer):
    """Exponential linear unit: x for x > 0, alpha·(e^x − 1) otherwise, so negative inputs
    saturate smoothly at −alpha instead of being cut to 0.

    Args:
        alpha: the size of the negative saturation (Keras's default 1.0).

    Shape:
        Output like the input.
    """

    trains_in_shares = True  # see Layer.trains_in_shares
    _config_keys = ("alpha",)

    def __init__(
        self, alpha: float = 1.0, *, name: str | None = None, trainable: bool = True
    ) -> None:
        super().__init__(name=name, trainable=trainable)
        self.alpha = check_number("ELU", "alpha", alpha)

    def call(self, x: Tensor, training: bool = False) -> Tensor:
        return ops.elu(x, alpha=self.alpha)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return self._check_input_shape(input_shape)


class PReLU(Layer):
    """Parametric ReLU: x for x ≥ 0, alpha·x otherwise, where the negative slope ``alpha`` is a
    weight learned with the others (He et al., 2015). With ``alpha`` at its default start 0 it
    begins as a plain ReLU.

    Args:
        alpha_initializer: how alpha starts (Keras's default "zeros").
        alpha_regularizer, alpha_constraint: a penalty on alpha and a projection after each
            update (see ``regularizers``, ``constraints``).
        shared_axes: the input axes (1 = the first after the batch) along which one alpha is
            shared, e.g. ``[1, 2]`` after a Conv2D for one alpha per channel (PyTorch's
            ``nn.PReLU(num_parameters=C)``); None: one alpha per input number.

    Shape:
        Output like the input. Weight: ``alpha``, the input's shape without the batch axis,
        with size 1 along the shared axes; e.g. (1, 1, C) for (batch, H, W, C) images and
        ``shared_axes=[1, 2]``.
    """

    trains_in_shares = True  # see Layer.trains_in_shares
    _config_keys = ("shared_axes",)

    def __init__(
        self,
        alpha_initializer: Any = "zeros",
        alpha_regularizer: Any = None,
        alpha_constraint: Any = None,
        shared_axes: int | list[int] | tuple[int, ...] | None = None,
        *,
        name: str | None = None,
        trainable: bool = True,
    ) -> None:
        super().__init__(name=name, trainable=trainable)
        self.alpha_initializer = initializers.get(alpha_initializer)
        self._keep_weight_options(
            alpha_regularizer=alpha_regularizer, alpha_constraint=alpha_constraint
        )
        if shared_axes is not None:
            axes = list(shared_axes) if isinstance(shared_axes, (list, tuple)) else [shared_axes]
            if not all(is_int(a) and a >= 1 for a in axes):
                raise ValueError(
                    f"PReLU: 'shared_axes' must be None or positive axis indices (1 is the first "
                    f"axis after the batch), e.g. shared_axes=[1, 2] for images. Received: "
                    f"shared_axes={shared_axes!r}"
                )
            shared_axes = sorted({int(a) for a in axes})
        self.shared_axes = shared_axes

    def build(self, input_shape: Shape) -> None:
        shared = self.shared_axes or []
        if any(a >= len(input_shape) for a in shared):
            raise ValueError(
                f"{self._where}: shared_axes={self.shared_axes} names an axis the input does not "
                f"have: input shape {tuple(input_shape)} has axes 1 to {len(input_shape) - 1} "
                f"after the batch."
            )
        shape = [1 if axis in shared else n for axis, n in enumerate(input_shape) if axis > 0]
        if None in shape:
            raise ValueError(
                f"{self._where}: every axis without a shared alpha must have a known size to "
                f"create alpha. Received input shape {tuple(input_shape)}; share the varying "
                f"axes with shared_axes."
            )
        self.alpha = self.add_weight(
            "alpha",
            tuple(shape),
            self.alpha_initializer,
            regularizer=self.alpha_regularizer,
            constraint=self.alpha_constraint,
        )
        axes = {a: n for a, n in enumerate(input_shape) if a > 0 and a not in shared}
        self.input_spec = InputSpec(ndim=len(input_shape), axes=axes)

    def call(self, x: Tensor, training: bool = False) -> Tensor:
        return ops.prelu(x, self.alpha)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return self._check_input_shape(input_shape)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config["alpha_initializer"] = initializers.serialize(self.alpha_initializer)
        return config
