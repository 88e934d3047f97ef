"""``Conv2D``: a layer of small filters slid over an image, each looking for one local pattern."""

from __future__ import annotations

from typing import Any

from glassnet import activations, initializers, ops
from glassnet.checks import check_bool, check_int_pair, check_padding, check_positive_int
from glassnet.layers.layer import InputSpec, Layer, Shape
from glassnet.layers.registry import register_alias
from glassnet.tensor import Tensor

__all__ = ["Conv2D", "Convolution2D"]

_IMAGES = "(batch, height, width, channels)"


class Conv2D(Layer):
    """2-D convolution: ``filters`` neurons, each seeing a kernel_size window of all input
    channels, applied at every position of the image with the same weights.

    Sharing the weights across positions is what makes a convolution cheap: 64 filters of
    3×3 over an RGB image have (3·3·3 + 1)·64 = 1,792 parameters, whatever the image size.
    Images are channels-last, as in Keras.

    Args:
        filters: the number of filters (output channels, the "depth").
        kernel_size: the window's height and width, an int or a pair.
        strides: the step between windows, an int or a pair.
        padding: "valid" (no padding: the output shrinks by kernel_size − 1) or "same" (zero
            padding so that the output is ceil(input / strides)); case-insensitive.
        dilation_rate: spacing between the kernel's taps, an int or a pair (with strides 1).
        activation: an activation name or function; None for none.
        use_bias: whether each filter adds a bias.
        kernel_initializer, bias_initializer: how the weights start (see ``initializers``).
        kernel_regularizer, bias_regularizer: penalties on the weights added to the training
            loss (see ``regularizers``); activity_regularizer: one on the outputs.
        kernel_constraint, bias_constraint: projections applied after each update (see
            ``constraints``).

    Shape:
        Input: ``(batch, height, width, in_channels)``.
        Output: ``(batch, new_height, new_width, filters)``.
        Weights: ``kernel (kh, kw, in_channels, filters)``, ``bias (filters,)``.

    Example:
        >>> conv = Conv2D(64, 3, padding="same", activation="relu")
        >>> conv(np.zeros((1, 256, 256, 3))).shape
        (1, 256, 256, 64)
        >>> conv.count_params()
        1792
    """

    trains_in_shares = True  # see Layer.trains_in_shares

    def __init__(
        self,
        filters: int,
        kernel_size: int | tuple[int, int],
        strides: int | tuple[int, int] = (1, 1),
        padding: str = "valid",
        dilation_rate: int | tuple[int, int] = (1, 1),
        activation: Any = None,
        use_bias: bool = True,
        kernel_initializer: Any = "glorot_uniform",
        bias_initializer: Any = "zeros",
        kernel_regularizer: Any = None,
        bias_regularizer: Any = None,
        activity_regularizer: Any = None,
        kernel_constraint: Any = None,
        bias_constraint: Any = None,
        *,
        name: str | None = None,
        trainable: bool = True,
    ) -> None:
        super().__init__(name=name, trainable=trainable, activity_regularizer=activity_regularizer)
        self.filters = check_positive_int("Conv2D", "filters", filters)
        self.kernel_size = check_int_pair("Conv2D", "kernel_size", kernel_size)
        self.strides = check_int_pair("Conv2D", "strides", strides)
        self.padding = check_padding("Conv2D", padding, allow_explicit=False)
        self.dilation_rate = check_int_pair("Conv2D", "dilation_rate", dilation_rate)
        if max(self.strides) > 1 and max(self.dilation_rate) > 1:
            raise ValueError(
                f"Conv2D: 'strides' > 1 cannot be combined with 'dilation_rate' > 1 (as in "
                f"Keras). Received: strides={strides!r}, dilation_rate={dilation_rate!r}"
            )
        self.activation = activations.get(activation)
        self.use_bias = check_bool("Conv2D", "use_bias", use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self._keep_weight_options(
            kernel_regularizer=kernel_regularizer,
            bias_regularizer=bias_regularizer,
            kernel_constraint=kernel_constraint,
            bias_constraint=bias_constraint,
        )
        self.input_spec = InputSpec(ndim=4, layout=_IMAGES)

    def build(self, input_shape: Shape) -> None:
        channels = input_shape[-1]
        if channels is None:
            raise ValueError(
                f"{self._where}: the number of input channels must be known to create the "
                f"kernel. Received input shape {input_shape}."
            )
        shape = (*self.kernel_size, channels, self.filters)
        self.kernel = self.add_weight(
            "kernel",
            shape,
            self.kernel_initializer,
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
        )
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight(
                "bias",
                (self.filters,),
                self.bias_initializer,
                regularizer=self.bias_regularizer,
                constraint=self.bias_constraint,
            )
        self.input_spec = InputSpec(ndim=4, axes={-1: channels}, layout=_IMAGES)

    def call(self, x: Tensor, training: bool = False) -> Tensor:
        fuse = self.activation is ops.relu  # the common case: ReLU in the conv op, in place
        y = ops.conv2d(
            x,
            self.kernel,
            self.bias,
            stride=self.strides,
            padding=self.padding,
            dilation=self.dilation_rate,
            relu=fuse,
        )
        return y if fuse else self.activation(y)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        shape = self._check_input_shape(input_shape)
        return (shape[0], *self._output_hw(shape), self.filters)

    def _check_input_shape(self, input_shape: Any) -> Shape:
        shape = super()._check_input_shape(input_shape)
        self._output_hw(shape)  # the kernel must fit in the (padded) image
        return shape

    def _output_hw(self, shape: Shape) -> tuple[int | None, int | None]:
        try:
            return ops.conv_output_shape(
                shape[1:3], self.kernel_size, self.strides, self.padding, self.dilation_rate
            )
        except ValueError:
            raise ValueError(
                f"{self._where}: computed output size would be zero or negative: the "
                f"{self.kernel_size} kernel does not fit in the image. Received input shape "
                f"{shape}, kernel_size={self.kernel_size}, strides={self.strides}, "
                f"padding={self.padding!r}, dilation_rate={self.dilation_rate}. Use "
                f"padding='same', a smaller kernel_size or larger images."
            ) from None

    def _axis_mismatch_message(self, shape: Shape, axis: int, expected: int) -> str:
        got = shape[-1]
        return (
            f"{self._where}: input has {got} channel{'' if got == 1 else 's'} but the layer was "
            f"built for {expected} (input shape {shape}). Convert images to "
            f"{'RGB' if expected == 3 else f'{expected} channels'} or rebuild the layer."
        )

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(
            {
                "filters": self.filters,
                "kernel_size": self.kernel_size,
                "strides": self.strides,
                "padding": self.padding,
                "dilation_rate": self.dilation_rate,
                "activation": activations.serialize(self.activation),
                "use_bias": self.use_bias,
                "kernel_initializer": initializers.serialize(self.kernel_initializer),
                "bias_initializer": initializers.serialize(self.bias_initializer),
            }
        )
        return config


#: Keras's older alias.
Convolution2D = Conv2D
register_alias("Convolution2D", Conv2D)
