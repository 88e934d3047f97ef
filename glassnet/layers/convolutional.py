"""Convolution layers: small filters slid over an image (``Conv2D``) or a sequence
(``Conv1D``), run backwards to grow an image (``Conv2DTranspose``), or one per channel
(``DepthwiseConv2D``, ``SeparableConv2D``: MobileNet's and Xception's building blocks)."""

from __future__ import annotations

from typing import Any

from glassnet import activations, constraints, initializers, ops, regularizers
from glassnet.checks import check_bool, check_int_pair, check_padding, check_positive_int, is_int
from glassnet.layers.layer import InputSpec, Layer, Shape
from glassnet.layers.registry import register_alias
from glassnet.tensor import Tensor

__all__ = [
    "Conv1D",
    "Conv1DTranspose",
    "Conv2D",
    "Conv2DTranspose",
    "Convolution2D",
    "DepthwiseConv1D",
    "DepthwiseConv2D",
    "SeparableConv1D",
    "SeparableConv2D",
]

_IMAGES = "(batch, height, width, channels)"
_SEQUENCES = "(batch, steps, channels)"


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


# ------------------------------------------------------------------ the layers of today's nets
class _Convolution(Layer):
    """What the convolutions below share: per-sample maths, a known channel count at build,
    Conv2D's message for the wrong one, and the "does not fit" message."""

    trains_in_shares = True  # see Layer.trains_in_shares

    def _channels(self, input_shape: Shape) -> int:
        channels = input_shape[-1]
        if channels is None:
            raise ValueError(
                f"{self._where}: the number of input channels must be known to create the "
                f"kernel. Received input shape {input_shape}."
            )
        return int(channels)

    def _axis_mismatch_message(self, shape: Shape, axis: int, expected: int) -> str:
        got = shape[-1]
        return (
            f"{self._where}: input has {got} channel{'' if got == 1 else 's'} but the layer was "
            f"built for {expected} (input shape {shape}). Convert the input to {expected} "
            f"channels or rebuild the layer."
        )

    def _does_not_fit(self, shape: Shape) -> ValueError:
        return ValueError(
            f"{self._where}: computed output size would be zero or negative: the "
            f"{self.kernel_size} kernel does not fit in the input. Received input shape "
            f"{shape}, kernel_size={self.kernel_size}, strides={self.strides}, "
            f"padding={self.padding!r}, dilation_rate={self.dilation_rate}. Use "
            f"padding='same', a smaller kernel_size or a larger input."
        )

    def _check_input_shape(self, input_shape: Any) -> Shape:
        shape = super()._check_input_shape(input_shape)
        self._spatial(shape)  # the kernel must fit: raise before anything is built
        return shape

    def _spatial(self, shape: Shape) -> tuple[int | None, ...]:
        """The output's sizes along the input's spatial axes, or the "does not fit" error."""
        try:
            return ops.conv_output_shape(
                shape[1:3], self.kernel_size, self.strides, self.padding, self.dilation_rate
            )
        except ValueError:
            raise self._does_not_fit(shape) from None

    def _check_strides_and_dilation(self, strides: Any, dilation_rate: Any) -> None:
        if max(self.strides) > 1 and max(self.dilation_rate) > 1:
            raise ValueError(
                f"{type(self).__name__}: 'strides' > 1 cannot be combined with 'dilation_rate' "
                f"> 1 (as in Keras). Received: strides={strides!r}, "
                f"dilation_rate={dilation_rate!r}"
            )

    def _bias(self, units: int) -> None:
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight(
                "bias",
                (units,),
                self.bias_initializer,
                regularizer=self.bias_regularizer,
                constraint=self.bias_constraint,
            )


def _single(where: str, arg: str, value: Any) -> tuple[int]:
    """An int ≥ 1 or a tuple of one, as a tuple of one (Keras's 1-D ``standardize_tuple``)."""
    items = tuple(value) if isinstance(value, (tuple, list)) else (value,)
    if len(items) != 1 or not is_int(items[0]):
        raise TypeError(
            f"{where}: {arg} must be an int or a tuple of one int. Expected e.g. {arg}=3, "
            f"received {arg}={value!r}."
        )
    if items[0] < 1:
        raise ValueError(
            f"{where}: {arg} must be positive. Expected an integer ≥ 1, received {arg}={value!r}."
        )
    return (int(items[0]),)


class Conv1D(_Convolution):
    """1-D convolution over sequences (time steps, or positions in a text or a signal):
    ``filters`` filters, each seeing kernel_size consecutive steps of all channels.

    The maths is ``Conv2D``'s — the same op, plan and kernels — on a one-row image
    (``ops.conv1d``). ``padding="causal"`` pads only the past, so output step t depends on
    input steps ≤ t (WaveNet's; with dilation_rate growing layer by layer, a long memory).

    Args:
        filters: the number of filters (output channels).
        kernel_size: the window's length, an int (or a tuple of one).
        strides: the step between windows.
        padding: "valid" (none), "same" (the output has ceil(steps / strides) steps) or
            "causal" (dilation_rate·(kernel_size − 1) zeros before the first step).
        dilation_rate: spacing between the kernel's taps (with strides 1).
        activation, use_bias, kernel_initializer, bias_initializer, kernel_regularizer,
        bias_regularizer, activity_regularizer, kernel_constraint, bias_constraint: as
        ``Conv2D``.

    Shape:
        Input: ``(batch, steps, in_channels)``. Output: ``(batch, new_steps, filters)``.
        Weights: ``kernel (kernel_size, in_channels, filters)``, ``bias (filters,)``.

    Example:
        >>> conv = Conv1D(8, 3, padding="causal")
        >>> conv(np.zeros((2, 20, 4))).shape
        (2, 20, 8)
        >>> conv.count_params()  # 3·4·8 + 8
        104
    """

    def __init__(
        self,
        filters: int,
        kernel_size: int | tuple[int],
        strides: int | tuple[int] = 1,
        padding: str = "valid",
        dilation_rate: int | tuple[int] = 1,
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
        self.filters = check_positive_int("Conv1D", "filters", filters)
        self.kernel_size = _single("Conv1D", "kernel_size", kernel_size)
        self.strides = _single("Conv1D", "strides", strides)
        if not isinstance(padding, str) or padding.lower() not in ("valid", "same", "causal"):
            raise ValueError(
                f"Conv1D: unknown padding {padding!r}. Expected 'valid', 'same' or 'causal', "
                f"received padding={padding!r}."
            )
        self.padding = padding.lower()
        self.dilation_rate = _single("Conv1D", "dilation_rate", dilation_rate)
        self._check_strides_and_dilation(strides, dilation_rate)
        self.activation = activations.get(activation)
        self.use_bias = check_bool("Conv1D", "use_bias", use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self._keep_weight_options(
            kernel_regularizer=kernel_regularizer,
            bias_regularizer=bias_regularizer,
            kernel_constraint=kernel_constraint,
            bias_constraint=bias_constraint,
        )
        self.input_spec = InputSpec(ndim=3, layout=_SEQUENCES)

    def build(self, input_shape: Shape) -> None:
        channels = self._channels(input_shape)
        self.kernel = self.add_weight(
            "kernel",
            (*self.kernel_size, channels, self.filters),
            self.kernel_initializer,
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
        )
        self._bias(self.filters)
        self.input_spec = InputSpec(ndim=3, axes={-1: channels}, layout=_SEQUENCES)

    def call(self, x: Tensor, training: bool = False) -> Tensor:
        fuse = self.activation is ops.relu  # as Conv2D: ReLU inside the conv op
        y = ops.conv1d(
            x,
            self.kernel,
            self.bias,
            stride=self.strides[0],
            padding=self.padding,
            dilation=self.dilation_rate[0],
            relu=fuse,
        )
        return y if fuse else self.activation(y)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        shape = self._check_input_shape(input_shape)
        return (shape[0], *self._spatial(shape), self.filters)

    def _spatial(self, shape: Shape) -> tuple[int | None, ...]:
        try:
            k, s, d = self.kernel_size[0], self.strides[0], self.dilation_rate[0]
            return (ops.conv1d_output_length(shape[1], k, s, self.padding, d),)
        except ValueError:
            raise self._does_not_fit(shape) from None

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


class Conv2DTranspose(_Convolution):
    """Transposed 2-D convolution: the adjoint of ``Conv2D``, growing an image by ``strides``
    (a decoder's, a segmentation network's or a GAN generator's upsampling, with weights
    learned, unlike ``UpSampling2D``).

    Each input pixel adds its kh×kw×filters patch, ``kernel · pixel``, onto the output, the
    patches ``strides`` apart (``ops.conv_transpose2d``). With padding="same" the output is
    input·strides; "valid" keeps the whole canvas, input·strides + max(k − strides, 0).

    Args:
        filters: output channels.
        kernel_size, strides, dilation_rate: an int or a pair.
        padding: "valid" or "same".
        output_padding: None, or an int or pair < strides: extra rows/columns at the
            bottom/right (Keras's formula, ``ops.conv_transpose_output_length``).
        activation, use_bias, kernel_initializer, bias_initializer, kernel_regularizer,
        bias_regularizer, activity_regularizer, kernel_constraint, bias_constraint: as
        ``Conv2D``.

    Shape:
        Input: ``(batch, height, width, in_channels)``.
        Output: ``(batch, new_height, new_width, filters)``.
        Weights: ``kernel (kh, kw, filters, in_channels)`` (Keras's), ``bias (filters,)``.

    Example:
        >>> up = Conv2DTranspose(16, 3, strides=2, padding="same")
        >>> up(np.zeros((1, 8, 8, 32))).shape
        (1, 16, 16, 16)
        >>> up.count_params()  # 3·3·16·32 + 16
        4624
    """

    def __init__(
        self,
        filters: int,
        kernel_size: int | tuple[int, int],
        strides: int | tuple[int, int] = (1, 1),
        padding: str = "valid",
        output_padding: int | tuple[int, int] | None = None,
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
        where = "Conv2DTranspose"
        self.filters = check_positive_int(where, "filters", filters)
        self.kernel_size = check_int_pair(where, "kernel_size", kernel_size)
        self.strides = check_int_pair(where, "strides", strides)
        self.padding = check_padding(where, padding, allow_explicit=False)
        self.dilation_rate = check_int_pair(where, "dilation_rate", dilation_rate)
        self._check_strides_and_dilation(strides, dilation_rate)
        self.output_padding = None
        if output_padding is not None:
            pair = (
                tuple(output_padding)
                if isinstance(output_padding, (tuple, list))
                else (output_padding, output_padding)
            )
            if len(pair) != 2 or not all(is_int(v) and v >= 0 for v in pair):
                raise ValueError(
                    f"{where}: output_padding must be None, an int ≥ 0 or a pair of them. "
                    f"Received: output_padding={output_padding!r}"
                )
            if any(p >= s for p, s in zip(pair, self.strides, strict=True)):
                raise ValueError(
                    f"{where}: output_padding must be smaller than strides (each extra row "
                    f"picks one of the strides' sizes). Received: output_padding="
                    f"{output_padding!r}, strides={strides!r}"
                )
            self.output_padding = (int(pair[0]), int(pair[1]))
        self.activation = activations.get(activation)
        self.use_bias = check_bool(where, "use_bias", use_bias)
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
        channels = self._channels(input_shape)
        self.kernel = self.add_weight(
            "kernel",
            (*self.kernel_size, self.filters, channels),
            self.kernel_initializer,
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
        )
        self._bias(self.filters)
        self.input_spec = InputSpec(ndim=4, axes={-1: channels}, layout=_IMAGES)

    def call(self, x: Tensor, training: bool = False) -> Tensor:
        y = ops.conv_transpose2d(
            x,
            self.kernel,
            self.bias,
            stride=self.strides,
            padding=self.padding,
            output_padding=self.output_padding,
            dilation=self.dilation_rate,
        )
        return self.activation(y)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        shape = self._check_input_shape(input_shape)
        return (shape[0], *self._spatial(shape), self.filters)

    def _spatial(self, shape: Shape) -> tuple[int | None, ...]:
        extra = self.output_padding or (None, None)
        hw = tuple(
            ops.conv_transpose_output_length(
                shape[1 + a],
                self.kernel_size[a],
                self.strides[a],
                self.padding,
                extra[a],
                self.dilation_rate[a],
            )
            for a in (0, 1)
        )
        if any(size is not None and size <= 0 for size in hw):
            raise ValueError(
                f"{self._where}: the output would be {hw} pixels. Received input shape "
                f"{shape}, kernel_size={self.kernel_size}, padding={self.padding!r}, "
                f"output_padding={self.output_padding}. Use padding='valid' or a larger "
                f"output_padding."
            )
        return hw

    def summary_formula(self) -> str:
        """Keras's count: kh·kw·filters·in_channels (+ filters)."""
        kh, kw, f, c = self.kernel.shape
        return f"{kh}·{kw}·{f}·{c}" + (f" + {f}" if self.use_bias else "")

    def summary_macs(self, input_shape: Any) -> int:
        """Every input pixel's channels times the whole kernel: H·W·kh·kw·filters·in."""
        _, h, w, _ = input_shape
        return 0 if h is None or w is None else int(h * w * self.kernel.size)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(
            {
                "filters": self.filters,
                "kernel_size": self.kernel_size,
                "strides": self.strides,
                "padding": self.padding,
                "output_padding": self.output_padding,
                "dilation_rate": self.dilation_rate,
                "activation": activations.serialize(self.activation),
                "use_bias": self.use_bias,
                "kernel_initializer": initializers.serialize(self.kernel_initializer),
                "bias_initializer": initializers.serialize(self.bias_initializer),
            }
        )
        return config


class DepthwiseConv2D(_Convolution):
    """Depthwise 2-D convolution: each input channel filtered on its own by
    ``depth_multiplier`` kh×kw filters, channels never mixed (``ops.depthwise_conv2d``).

    C·m·kh·kw weights instead of a Conv2D's C·F·kh·kw: the spatial half of a depthwise
    separable convolution (MobileNet), a 1×1 Conv2D doing the channel-mixing half.

    Args:
        kernel_size, strides, dilation_rate: an int or a pair.
        padding: "valid" or "same".
        depth_multiplier: filters per input channel; the output has in_channels·depth_multiplier
            channels, channel c's j-th filter at c·depth_multiplier + j (Keras's order).
        activation, use_bias, bias_initializer, bias_regularizer, activity_regularizer,
        bias_constraint: as ``Conv2D``.
        depthwise_initializer, depthwise_regularizer, depthwise_constraint: the kernel's.

    Shape:
        Input: ``(batch, height, width, in_channels)``.
        Output: ``(batch, new_height, new_width, in_channels·depth_multiplier)``.
        Weights: ``kernel (kh, kw, in_channels, depth_multiplier)``,
        ``bias (in_channels·depth_multiplier,)``.

    Example:
        >>> dw = DepthwiseConv2D(3, padding="same", depth_multiplier=2)
        >>> dw(np.zeros((1, 8, 8, 4))).shape
        (1, 8, 8, 8)
        >>> dw.count_params()  # 3·3·4·2 + 4·2
        80
    """

    def __init__(
        self,
        kernel_size: int | tuple[int, int],
        strides: int | tuple[int, int] = (1, 1),
        padding: str = "valid",
        depth_multiplier: int = 1,
        dilation_rate: int | tuple[int, int] = (1, 1),
        activation: Any = None,
        use_bias: bool = True,
        depthwise_initializer: Any = "glorot_uniform",
        bias_initializer: Any = "zeros",
        depthwise_regularizer: Any = None,
        bias_regularizer: Any = None,
        activity_regularizer: Any = None,
        depthwise_constraint: Any = None,
        bias_constraint: Any = None,
        *,
        name: str | None = None,
        trainable: bool = True,
    ) -> None:
        super().__init__(name=name, trainable=trainable, activity_regularizer=activity_regularizer)
        where = type(self).__name__  # the 1-D twin runs this too
        self.kernel_size = check_int_pair(where, "kernel_size", kernel_size)
        self.strides = check_int_pair(where, "strides", strides)
        self.padding = check_padding(where, padding, allow_explicit=False)
        self.depth_multiplier = check_positive_int(where, "depth_multiplier", depth_multiplier)
        self.dilation_rate = check_int_pair(where, "dilation_rate", dilation_rate)
        self._check_strides_and_dilation(strides, dilation_rate)
        self.activation = activations.get(activation)
        self.use_bias = check_bool(where, "use_bias", use_bias)
        self.depthwise_initializer = initializers.get(depthwise_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self._keep_weight_options(
            depthwise_regularizer=depthwise_regularizer,
            bias_regularizer=bias_regularizer,
            depthwise_constraint=depthwise_constraint,
            bias_constraint=bias_constraint,
        )
        self.input_spec = InputSpec(ndim=4, layout=_IMAGES)

    def _set_weight_option(self, key: str, value: Any) -> Any:
        """Keras 3 names the weight ``kernel`` and its options ``depthwise_*``: a change after
        build goes to ``kernel`` (the base hands ``<prefix>_*`` to ``<prefix>``)."""
        if not key.startswith("depthwise_"):
            return super()._set_weight_option(key, value)
        kind = key.removeprefix("depthwise_")
        checked = self._option(key, regularizers if kind == "regularizer" else constraints, value)
        return super()._set_weight_option(f"kernel_{kind}", checked)

    def build(self, input_shape: Shape) -> None:
        channels = self._channels(input_shape)
        self.kernel = self.add_weight(
            "kernel",
            (*self.kernel_size, channels, self.depth_multiplier),
            self.depthwise_initializer,
            regularizer=self.depthwise_regularizer,
            constraint=self.depthwise_constraint,
        )
        self._bias(channels * self.depth_multiplier)
        self.input_spec = InputSpec(ndim=4, axes={-1: channels}, layout=_IMAGES)

    def call(self, x: Tensor, training: bool = False) -> Tensor:
        y = ops.depthwise_conv2d(
            x,
            self.kernel,
            self.bias,
            stride=self.strides,
            padding=self.padding,
            dilation=self.dilation_rate,
        )
        return self.activation(y)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        shape = self._check_input_shape(input_shape)
        channels = None if shape[3] is None else shape[3] * self.depth_multiplier
        return (shape[0], *self._spatial(shape), channels)

    def summary_formula(self) -> str:
        """Keras's count: kh·kw·in_channels·depth_multiplier (+ in_channels·depth_multiplier)."""
        kh, kw, c, m = self.kernel.shape
        return f"{kh}·{kw}·{c}·{m}" + (f" + {c}·{m}" if self.use_bias else "")

    def summary_macs(self, input_shape: Any) -> int:
        """Each output number is a dot product of kh·kw pairs."""
        _, h, w, c = self.compute_output_shape(tuple(input_shape))
        if h is None or w is None:
            return 0
        return int(h * w * c * self.kernel_size[0] * self.kernel_size[1])

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(
            {
                "kernel_size": self.kernel_size,
                "strides": self.strides,
                "padding": self.padding,
                "depth_multiplier": self.depth_multiplier,
                "dilation_rate": self.dilation_rate,
                "activation": activations.serialize(self.activation),
                "use_bias": self.use_bias,
                "depthwise_initializer": initializers.serialize(self.depthwise_initializer),
                "bias_initializer": initializers.serialize(self.bias_initializer),
            }
        )
        return config


class SeparableConv2D(_Convolution):
    """Depthwise separable 2-D convolution: a ``DepthwiseConv2D`` (each channel filtered on
    its own) then a 1×1 convolution mixing the channels into ``filters`` (Xception, MobileNet).

    kh·kw·C·m + C·m·F weights instead of a Conv2D's kh·kw·C·F: for a 3×3 kernel and 64
    filters, about 8 times fewer. Two ops, the depthwise one and the existing 1×1 conv2d.

    Args:
        filters: output channels.
        kernel_size, strides, dilation_rate, padding: the depthwise step's.
        depth_multiplier: depthwise filters per input channel.
        activation, use_bias, bias_initializer, bias_regularizer, activity_regularizer,
        bias_constraint: as ``Conv2D`` (the bias is the pointwise step's).
        depthwise_initializer, depthwise_regularizer, depthwise_constraint,
        pointwise_initializer, pointwise_regularizer, pointwise_constraint: each kernel's.

    Shape:
        Input: ``(batch, height, width, in_channels)``.
        Output: ``(batch, new_height, new_width, filters)``.
        Weights: ``depthwise_kernel (kh, kw, in_channels, depth_multiplier)``,
        ``pointwise_kernel (1, 1, in_channels·depth_multiplier, filters)``, ``bias (filters,)``.

    Example:
        >>> sep = SeparableConv2D(16, 3, padding="same")
        >>> sep(np.zeros((1, 8, 8, 4))).shape
        (1, 8, 8, 16)
        >>> sep.count_params()  # 3·3·4·1 + 4·1·16 + 16
        116
    """

    def __init__(
        self,
        filters: int,
        kernel_size: int | tuple[int, int],
        strides: int | tuple[int, int] = (1, 1),
        padding: str = "valid",
        dilation_rate: int | tuple[int, int] = (1, 1),
        depth_multiplier: int = 1,
        activation: Any = None,
        use_bias: bool = True,
        depthwise_initializer: Any = "glorot_uniform",
        pointwise_initializer: Any = "glorot_uniform",
        bias_initializer: Any = "zeros",
        depthwise_regularizer: Any = None,
        pointwise_regularizer: Any = None,
        bias_regularizer: Any = None,
        activity_regularizer: Any = None,
        depthwise_constraint: Any = None,
        pointwise_constraint: Any = None,
        bias_constraint: Any = None,
        *,
        name: str | None = None,
        trainable: bool = True,
    ) -> None:
        super().__init__(name=name, trainable=trainable, activity_regularizer=activity_regularizer)
        where = type(self).__name__  # the 1-D twin runs this too
        self.filters = check_positive_int(where, "filters", filters)
        self.kernel_size = check_int_pair(where, "kernel_size", kernel_size)
        self.strides = check_int_pair(where, "strides", strides)
        self.padding = check_padding(where, padding, allow_explicit=False)
        self.dilation_rate = check_int_pair(where, "dilation_rate", dilation_rate)
        self._check_strides_and_dilation(strides, dilation_rate)
        self.depth_multiplier = check_positive_int(where, "depth_multiplier", depth_multiplier)
        self.activation = activations.get(activation)
        self.use_bias = check_bool(where, "use_bias", use_bias)
        self.depthwise_initializer = initializers.get(depthwise_initializer)
        self.pointwise_initializer = initializers.get(pointwise_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self._keep_weight_options(
            depthwise_regularizer=depthwise_regularizer,
            pointwise_regularizer=pointwise_regularizer,
            bias_regularizer=bias_regularizer,
            depthwise_constraint=depthwise_constraint,
            pointwise_constraint=pointwise_constraint,
            bias_constraint=bias_constraint,
        )
        self.input_spec = InputSpec(ndim=4, layout=_IMAGES)

    def build(self, input_shape: Shape) -> None:
        channels = self._channels(input_shape)
        self.depthwise_kernel = self.add_weight(
            "depthwise_kernel",
            (*self.kernel_size, channels, self.depth_multiplier),
            self.depthwise_initializer,
            regularizer=self.depthwise_regularizer,
            constraint=self.depthwise_constraint,
        )
        self.pointwise_kernel = self.add_weight(
            "pointwise_kernel",
            (1, 1, channels * self.depth_multiplier, self.filters),
            self.pointwise_initializer,
            regularizer=self.pointwise_regularizer,
            constraint=self.pointwise_constraint,
        )
        self._bias(self.filters)
        self.input_spec = InputSpec(ndim=4, axes={-1: channels}, layout=_IMAGES)

    def call(self, x: Tensor, training: bool = False) -> Tensor:
        spatial = ops.depthwise_conv2d(
            x,
            self.depthwise_kernel,
            stride=self.strides,
            padding=self.padding,
            dilation=self.dilation_rate,
        )
        fuse = self.activation is ops.relu
        y = ops.conv2d(spatial, self.pointwise_kernel, self.bias, relu=fuse)
        return y if fuse else self.activation(y)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        shape = self._check_input_shape(input_shape)
        return (shape[0], *self._spatial(shape), self.filters)

    def summary_formula(self) -> str:
        """Keras's count: kh·kw·C·m + C·m·filters (+ filters)."""
        kh, kw, c, m = self.depthwise_kernel.shape
        f = self.filters
        return f"{kh}·{kw}·{c}·{m} + {c}·{m}·{f}" + (f" + {f}" if self.use_bias else "")

    def summary_macs(self, input_shape: Any) -> int:
        """The depthwise step's kh·kw per number, then the pointwise step's C·m per output."""
        _, h, w, _ = self.compute_output_shape(tuple(input_shape))
        if h is None or w is None:
            return 0
        cm = self.pointwise_kernel.shape[2]
        return int(h * w * cm * (self.kernel_size[0] * self.kernel_size[1] + self.filters))

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(
            {
                "filters": self.filters,
                "kernel_size": self.kernel_size,
                "strides": self.strides,
                "padding": self.padding,
                "dilation_rate": self.dilation_rate,
                "depth_multiplier": self.depth_multiplier,
                "activation": activations.serialize(self.activation),
                "use_bias": self.use_bias,
                "depthwise_initializer": initializers.serialize(self.depthwise_initializer),
                "pointwise_initializer": initializers.serialize(self.pointwise_initializer),
                "bias_initializer": initializers.serialize(self.bias_initializer),
            }
        )
        return config


# ------------------------------------------------------------------ the 1-D twins
def _steps(layer: _Convolution, shape: Shape) -> tuple[int | None]:
    """The steps a 1-D window layer outputs, or its "does not fit" error."""
    try:
        k, s, d = layer.kernel_size[0], layer.strides[0], layer.dilation_rate[0]
        return (ops.conv1d_output_length(shape[1], k, s, layer.padding, d),)
    except ValueError:
        raise layer._does_not_fit(shape) from None


class Conv1DTranspose(_Convolution):
    """Transposed 1-D convolution: ``Conv2DTranspose`` on sequences, growing them by
    ``strides`` (``ops.conv_transpose1d``: the same op on a one-row image).

    Args:
        filters, kernel_size, strides, padding ("valid" or "same"), output_padding (None or
        an int < strides), dilation_rate, activation, use_bias, kernel_initializer,
        bias_initializer, kernel_regularizer, bias_regularizer, activity_regularizer,
        kernel_constraint, bias_constraint: as ``Conv2DTranspose``, ints for the one axis.

    Shape:
        Input: ``(batch, steps, in_channels)``. Output: ``(batch, new_steps, filters)``.
        Weights: ``kernel (kernel_size, filters, in_channels)``, ``bias (filters,)``.

    Example:
        >>> up = Conv1DTranspose(4, 3, strides=2, padding="same")
        >>> up(np.zeros((1, 10, 2))).shape
        (1, 20, 4)
        >>> up.count_params()  # 3·4·2 + 4
        28
    """

    def __init__(
        self,
        filters: int,
        kernel_size: int | tuple[int],
        strides: int | tuple[int] = 1,
        padding: str = "valid",
        output_padding: int | tuple[int] | None = None,
        dilation_rate: int | tuple[int] = 1,
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
        where = "Conv1DTranspose"
        self.filters = check_positive_int(where, "filters", filters)
        self.kernel_size = _single(where, "kernel_size", kernel_size)
        self.strides = _single(where, "strides", strides)
        self.padding = check_padding(where, padding, allow_explicit=False)
        self.dilation_rate = _single(where, "dilation_rate", dilation_rate)
        self._check_strides_and_dilation(strides, dilation_rate)
        self.output_padding = None
        if output_padding is not None:
            items = (
                tuple(output_padding)
                if isinstance(output_padding, (tuple, list))
                else (output_padding,)
            )
            if len(items) != 1 or not is_int(items[0]) or not 0 <= items[0] < self.strides[0]:
                raise ValueError(
                    f"{where}: output_padding must be None or an int ≥ 0 smaller than strides. "
                    f"Received: output_padding={output_padding!r}, strides={strides!r}"
                )
            self.output_padding = (int(items[0]),)
        self.activation = activations.get(activation)
        self.use_bias = check_bool(where, "use_bias", use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self._keep_weight_options(
            kernel_regularizer=kernel_regularizer,
            bias_regularizer=bias_regularizer,
            kernel_constraint=kernel_constraint,
            bias_constraint=bias_constraint,
        )
        self.input_spec = InputSpec(ndim=3, layout=_SEQUENCES)

    def build(self, input_shape: Shape) -> None:
        channels = self._channels(input_shape)
        self.kernel = self.add_weight(
            "kernel",
            (*self.kernel_size, self.filters, channels),
            self.kernel_initializer,
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
        )
        self._bias(self.filters)
        self.input_spec = InputSpec(ndim=3, axes={-1: channels}, layout=_SEQUENCES)

    def call(self, x: Tensor, training: bool = False) -> Tensor:
        y = ops.conv_transpose1d(
            x,
            self.kernel,
            self.bias,
            stride=self.strides[0],
            padding=self.padding,
            output_padding=None if self.output_padding is None else self.output_padding[0],
            dilation=self.dilation_rate[0],
        )
        return self.activation(y)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        shape = self._check_input_shape(input_shape)
        return (shape[0], *self._spatial(shape), self.filters)

    def _spatial(self, shape: Shape) -> tuple[int | None, ...]:
        extra = None if self.output_padding is None else self.output_padding[0]
        k, s, d = self.kernel_size[0], self.strides[0], self.dilation_rate[0]
        steps = ops.conv_transpose_output_length(shape[1], k, s, self.padding, extra, d)
        if steps is not None and steps <= 0:
            raise ValueError(
                f"{self._where}: the output would have {steps} steps. Received input shape "
                f"{shape}, kernel_size={self.kernel_size}, padding={self.padding!r}, "
                f"output_padding={self.output_padding}. Use padding='valid' or a larger "
                f"output_padding."
            )
        return (steps,)

    def summary_formula(self) -> str:
        """Keras's count: k·filters·in_channels (+ filters)."""
        k, f, c = self.kernel.shape
        return f"{k}·{f}·{c}" + (f" + {f}" if self.use_bias else "")

    def summary_macs(self, input_shape: Any) -> int:
        """Every input step's channels times the whole kernel: L·k·filters·in."""
        steps = input_shape[1]
        return 0 if steps is None else int(steps * self.kernel.size)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(
            {
                "filters": self.filters,
                "kernel_size": self.kernel_size,
                "strides": self.strides,
                "padding": self.padding,
                "output_padding": self.output_padding,
                "dilation_rate": self.dilation_rate,
                "activation": activations.serialize(self.activation),
                "use_bias": self.use_bias,
                "kernel_initializer": initializers.serialize(self.kernel_initializer),
                "bias_initializer": initializers.serialize(self.bias_initializer),
            }
        )
        return config


class DepthwiseConv1D(DepthwiseConv2D):
    """Depthwise 1-D convolution: ``DepthwiseConv2D`` on sequences, each channel filtered on
    its own by ``depth_multiplier`` filters (``ops.depthwise_conv1d``: the same op on a
    one-row image).

    Args:
        kernel_size, strides, dilation_rate: ints (or tuples of one).
        padding, depth_multiplier, activation, use_bias, depthwise_initializer,
        bias_initializer, depthwise_regularizer, bias_regularizer, activity_regularizer,
        depthwise_constraint, bias_constraint: as ``DepthwiseConv2D``.

    Shape:
        Input: ``(batch, steps, in_channels)``.
        Output: ``(batch, new_steps, in_channels·depth_multiplier)``.
        Weights: ``kernel (kernel_size, in_channels, depth_multiplier)``,
        ``bias (in_channels·depth_multiplier,)``.

    Example:
        >>> dw = DepthwiseConv1D(3, padding="same", depth_multiplier=2)
        >>> dw(np.zeros((1, 10, 4))).shape
        (1, 10, 8)
        >>> dw.count_params()  # 3·4·2 + 4·2
        32
    """

    def __init__(
        self,
        kernel_size: int | tuple[int],
        strides: int | tuple[int] = 1,
        padding: str = "valid",
        depth_multiplier: int = 1,
        dilation_rate: int | tuple[int] = 1,
        activation: Any = None,
        use_bias: bool = True,
        depthwise_initializer: Any = "glorot_uniform",
        bias_initializer: Any = "zeros",
        depthwise_regularizer: Any = None,
        bias_regularizer: Any = None,
        activity_regularizer: Any = None,
        depthwise_constraint: Any = None,
        bias_constraint: Any = None,
        *,
        name: str | None = None,
        trainable: bool = True,
    ) -> None:
        where = "DepthwiseConv1D"
        size = _single(where, "kernel_size", kernel_size)
        step = _single(where, "strides", strides)
        rate = _single(where, "dilation_rate", dilation_rate)
        # The 2-D layer's checks and options, on a one-row window; then the 1-D arguments.
        super().__init__(
            (1, size[0]), (1, step[0]), padding, depth_multiplier, (1, rate[0]), activation,
            use_bias, depthwise_initializer, bias_initializer, depthwise_regularizer,
            bias_regularizer, activity_regularizer, depthwise_constraint, bias_constraint,
            name=name, trainable=trainable,
        )  # fmt: skip
        self.kernel_size, self.strides, self.dilation_rate = size, step, rate
        self.input_spec = InputSpec(ndim=3, layout=_SEQUENCES)

    def build(self, input_shape: Shape) -> None:
        channels = self._channels(input_shape)
        self.kernel = self.add_weight(
            "kernel",
            (*self.kernel_size, channels, self.depth_multiplier),
            self.depthwise_initializer,
            regularizer=self.depthwise_regularizer,
            constraint=self.depthwise_constraint,
        )
        self._bias(channels * self.depth_multiplier)
        self.input_spec = InputSpec(ndim=3, axes={-1: channels}, layout=_SEQUENCES)

    def call(self, x: Tensor, training: bool = False) -> Tensor:
        y = ops.depthwise_conv1d(
            x,
            self.kernel,
            self.bias,
            stride=self.strides[0],
            padding=self.padding,
            dilation=self.dilation_rate[0],
        )
        return self.activation(y)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        shape = self._check_input_shape(input_shape)
        channels = None if shape[2] is None else shape[2] * self.depth_multiplier
        return (shape[0], *self._spatial(shape), channels)

    def _spatial(self, shape: Shape) -> tuple[int | None, ...]:
        return _steps(self, shape)

    def summary_formula(self) -> str:
        """Keras's count: k·in_channels·depth_multiplier (+ in_channels·depth_multiplier)."""
        k, c, m = self.kernel.shape
        return f"{k}·{c}·{m}" + (f" + {c}·{m}" if self.use_bias else "")

    def summary_macs(self, input_shape: Any) -> int:
        """Each output number is a dot product of kernel_size pairs."""
        _, steps, c = self.compute_output_shape(tuple(input_shape))
        return 0 if steps is None else int(steps * c * self.kernel_size[0])


class SeparableConv1D(SeparableConv2D):
    """Depthwise separable 1-D convolution: ``SeparableConv2D`` on sequences, a
    ``depthwise_conv1d`` then a 1-wide ``conv1d`` mixing the channels into ``filters``.

    Args:
        filters, kernel_size, strides, padding ("valid" or "same"), dilation_rate,
        depth_multiplier, activation, use_bias and the depthwise_/pointwise_/bias_
        initializers, regularizers and constraints: as ``SeparableConv2D``, ints for the one
        axis.

    Shape:
        Input: ``(batch, steps, in_channels)``. Output: ``(batch, new_steps, filters)``.
        Weights: ``depthwise_kernel (kernel_size, in_channels, depth_multiplier)``,
        ``pointwise_kernel (1, in_channels·depth_multiplier, filters)``, ``bias (filters,)``.

    Example:
        >>> sep = SeparableConv1D(8, 3, padding="same")
        >>> sep(np.zeros((1, 10, 4))).shape
        (1, 10, 8)
        >>> sep.count_params()  # 3·4·1 + 4·1·8 + 8
        52
    """

    def __init__(
        self,
        filters: int,
        kernel_size: int | tuple[int],
        strides: int | tuple[int] = 1,
        padding: str = "valid",
        dilation_rate: int | tuple[int] = 1,
        depth_multiplier: int = 1,
        activation: Any = None,
        use_bias: bool = True,
        depthwise_initializer: Any = "glorot_uniform",
        pointwise_initializer: Any = "glorot_uniform",
        bias_initializer: Any = "zeros",
        depthwise_regularizer: Any = None,
        pointwise_regularizer: Any = None,
        bias_regularizer: Any = None,
        activity_regularizer: Any = None,
        depthwise_constraint: Any = None,
        pointwise_constraint: Any = None,
        bias_constraint: Any = None,
        *,
        name: str | None = None,
        trainable: bool = True,
    ) -> None:
        where = "SeparableConv1D"
        size = _single(where, "kernel_size", kernel_size)
        step = _single(where, "strides", strides)
        rate = _single(where, "dilation_rate", dilation_rate)
        super().__init__(
            filters, (1, size[0]), (1, step[0]), padding, (1, rate[0]), depth_multiplier,
            activation, use_bias, depthwise_initializer, pointwise_initializer,
            bias_initializer, depthwise_regularizer, pointwise_regularizer, bias_regularizer,
            activity_regularizer, depthwise_constraint, pointwise_constraint, bias_constraint,
            name=name, trainable=trainable,
        )  # fmt: skip
        self.kernel_size, self.strides, self.dilation_rate = size, step, rate
        self.input_spec = InputSpec(ndim=3, layout=_SEQUENCES)

    def build(self, input_shape: Shape) -> None:
        channels = self._channels(input_shape)
        self.depthwise_kernel = self.add_weight(
            "depthwise_kernel",
            (*self.kernel_size, channels, self.depth_multiplier),
            self.depthwise_initializer,
            regularizer=self.depthwise_regularizer,
            constraint=self.depthwise_constraint,
        )
        self.pointwise_kernel = self.add_weight(
            "pointwise_kernel",
            (1, channels * self.depth_multiplier, self.filters),
            self.pointwise_initializer,
            regularizer=self.pointwise_regularizer,
            constraint=self.pointwise_constraint,
        )
        self._bias(self.filters)
        self.input_spec = InputSpec(ndim=3, axes={-1: channels}, layout=_SEQUENCES)

    def call(self, x: Tensor, training: bool = False) -> Tensor:
        spatial = ops.depthwise_conv1d(
            x,
            self.depthwise_kernel,
            stride=self.strides[0],
            padding=self.padding,
            dilation=self.dilation_rate[0],
        )
        fuse = self.activation is ops.relu
        y = ops.conv1d(spatial, self.pointwise_kernel, self.bias, relu=fuse)
        return y if fuse else self.activation(y)

    def _spatial(self, shape: Shape) -> tuple[int | None, ...]:
        return _steps(self, shape)

    def summary_formula(self) -> str:
        """Keras's count: k·C·m + C·m·filters (+ filters)."""
        k, c, m = self.depthwise_kernel.shape
        f = self.filters
        return f"{k}·{c}·{m} + {c}·{m}·{f}" + (f" + {f}" if self.use_bias else "")

    def summary_macs(self, input_shape: Any) -> int:
        """The depthwise step's kernel_size per number, then the pointwise step's C·m."""
        _, steps, _ = self.compute_output_shape(tuple(input_shape))
        if steps is None:
            return 0
        cm = self.pointwise_kernel.shape[1]
        return int(steps * cm * (self.kernel_size[0] + self.filters))
