"""``BatchNormalization``: keep every channel's activations near zero mean and unit variance."""

from __future__ import annotations

from typing import Any

import numpy as np

from glassnet import initializers, ops
from glassnet.checks import check_bool, check_number
from glassnet.layers.layer import InputSpec, Layer, Shape
from glassnet.tensor import Tensor

__all__ = ["BatchNormalization"]


class BatchNormalization(Layer):
    """Normalises each channel with the mean and variance of the batch, then scales by ``gamma``
    and shifts by ``beta`` (both learned), which makes deep networks train faster and more
    stably.

    In training mode it uses the statistics of the current batch and updates moving averages
    of them: ``moving = moving · momentum + batch · (1 − momentum)``. In inference mode
    (``eval()``, ``predict``) it uses the moving averages, so one image gives the same answer
    alone or in a batch. A frozen layer (``trainable=False``) always runs in inference mode, as
    in Keras, which is what fine-tuning a pretrained network needs.

    Args:
        axis: the channel axis; only the last axis (-1, channels-last) is supported.
        momentum: how much of the moving statistics is kept at each step, in [0, 1].
        epsilon: added to the variance to avoid dividing by zero.
        center: learn a shift ``beta``. scale: learn a scale ``gamma``.
        beta_initializer, gamma_initializer, moving_mean_initializer,
        moving_variance_initializer: how those weights start (zeros, ones, zeros, ones).
        beta_regularizer, gamma_regularizer: penalties on ``beta`` and ``gamma`` added to the
            training loss (see ``regularizers``); activity_regularizer: one on the outputs.
        beta_constraint, gamma_constraint: projections applied after each update (see
            ``constraints``).

    Shape:
        Input: ``(batch, ..., channels)``, at least 2-D. Output: the same.
        Weights: ``gamma``, ``beta`` (trainable), ``moving_mean``, ``moving_variance``
        (non-trainable), each ``(channels,)``.
    """

    trains_in_shares = True  # see Layer.trains_in_shares

    def __init__(
        self,
        axis: int = -1,
        momentum: float = 0.99,
        epsilon: float = 0.001,
        center: bool = True,
        scale: bool = True,
        beta_initializer: Any = "zeros",
        gamma_initializer: Any = "ones",
        moving_mean_initializer: Any = "zeros",
        moving_variance_initializer: Any = "ones",
        beta_regularizer: Any = None,
        gamma_regularizer: Any = None,
        activity_regularizer: Any = None,
        beta_constraint: Any = None,
        gamma_constraint: Any = None,
        *,
        name: str | None = None,
        trainable: bool = True,
    ) -> None:
        super().__init__(name=name, trainable=trainable, activity_regularizer=activity_regularizer)
        where = "BatchNormalization"
        if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
            raise TypeError(f"{where}: 'axis' must be an integer. Received: axis={axis!r}")
        self.axis = int(axis)
        self.momentum = check_number(where, "momentum", momentum, 0.0, 1.0)
        self.epsilon = check_number(where, "epsilon", epsilon, 0.0, low_open=True)
        self.center = check_bool(where, "center", center)
        self.scale = check_bool(where, "scale", scale)
        self.beta_initializer = initializers.get(beta_initializer)
        self.gamma_initializer = initializers.get(gamma_initializer)
        self.moving_mean_initializer = initializers.get(moving_mean_initializer)
        self.moving_variance_initializer = initializers.get(moving_variance_initializer)
        self._keep_weight_options(
            beta_regularizer=beta_regularizer,
            gamma_regularizer=gamma_regularizer,
            beta_constraint=beta_constraint,
            gamma_constraint=gamma_constraint,
        )
        self.input_spec = InputSpec(min_ndim=2)

    def build(self, input_shape: Shape) -> None:
        ndim = len(input_shape)
        if not -ndim <= self.axis < ndim or self.axis % ndim != ndim - 1:
            raise ValueError(
                f"{self._where}: only the last axis can be normalised (glassnet is "
                f"channels-last). Received axis={self.axis} for input shape {input_shape}. "
                f"Use axis=-1."
            )
        channels = input_shape[-1]
        if channels is None:
            raise ValueError(
                f"{self._where}: the number of channels must be known to create the weights. "
                f"Received input shape {input_shape}."
            )
        shape = (channels,)
        self.gamma = None
        if self.scale:
            self.gamma = self.add_weight(
                "gamma",
                shape,
                self.gamma_initializer,
                regularizer=self.gamma_regularizer,
                constraint=self.gamma_constraint,
            )
        self.beta = None
        if self.center:
            self.beta = self.add_weight(
                "beta",
                shape,
                self.beta_initializer,
                regularizer=self.beta_regularizer,
                constraint=self.beta_constraint,
            )
        self.moving_mean = self.add_weight(
            "moving_mean", shape, self.moving_mean_initializer, trainable=False
        )
        self.moving_variance = self.add_weight(
            "moving_variance", shape, self.moving_variance_initializer, trainable=False
        )
        self.input_spec = InputSpec(ndim=ndim, axes={-1: channels})

    def call(self, x: Tensor, training: bool = False) -> Tensor:
        return ops.batch_norm(
            x,
            self.gamma,
            self.beta,
            self.moving_mean,
            self.moving_variance,
            training=training and self.trainable,  # frozen: always the moving statistics
            momentum=self.momentum,
            epsilon=self.epsilon,
        )

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return self._check_input_shape(input_shape)

    def _axis_mismatch_message(self, shape: Shape, axis: int, expected: int) -> str:
        return (
            f"{self._where}: input has {shape[-1]} channels on the last axis but the layer was "
            f"built for {expected} (input shape {shape}). Rebuild the layer or fix the input."
        )

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(
            {
                "axis": self.axis,
                "momentum": self.momentum,
                "epsilon": self.epsilon,
                "center": self.center,
                "scale": self.scale,
                "beta_initializer": initializers.serialize(self.beta_initializer),
                "gamma_initializer": initializers.serialize(self.gamma_initializer),
                "moving_mean_initializer": initializers.serialize(self.moving_mean_initializer),
                "moving_variance_initializer": initializers.serialize(
                    self.moving_variance_initializer
                ),
            }
        )
        return config
