"""Convolution layers: small filters slid over an image (``Conv2D``), a sequence
(``Conv1D``) or a volume (``Conv3D``), run backwards to grow an image (``Conv2DTranspose``),
or one per channel (``DepthwiseConv2D``, ``SeparableConv2D``: MobileNet's and Xception's
building blocks)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, ClassVar

from glassnet import activations, constraints, initializers, ops, regularizers
from glassnet.checks import (
    check_bool,
    check_int_tuple,
    check_padding,
    check_positive_int,
    is_int,
)
from glassnet.layers.layer import InputSpec, Layer, Shape
from glassnet.layers.registry import register_alias
from glassnet.tensor import Tensor

__all__ = [
    "Conv1D",
    "Conv1DTranspose",
    "Conv2D",
    "Conv2DTranspose",
    "Conv3D",
    "Convolution2D",
    "Convolution3D",
    "DepthwiseConv1D",
    "DepthwiseConv2D",
    "SeparableConv1D",
    "SeparableConv2D",
]

_IMAGES = "(batch, height, width, channels)"
_SEQUENCES = "(batch, steps, channels)"
_VOLUMES = "(batch, depth, height, width, channels)"
_LAYOUTS = {1: _SEQUENCES, 2: _IMAGES, 3: _VOLUMES}
_WEIGHT_OPTIONS = ("_regularizer", "_constraint")


class _Convolution(Layer):
    """What every convolution here shares, images (``rank`` 2), sequences (``rank`` 1) or
    volumes (``rank`` 3), as
    Keras's ``BaseConv`` does: the checks of the arguments, the weights' options, the output
    shape, the messages and ``get_config``.

    Each public class spells its Keras arguments out and hands them on with
    ``super().__init__(locals())``; they are checked here in the order of its signature (with
    ``strides`` and ``dilation_rate`` checked together) and ``get_config`` returns them in that
    order. A family below (``_Conv``, ``_ConvTranspose``, ``_DepthwiseConv``, ``_SeparableConv``)
    adds its kernels (``_add_kernels``), its output channels and its op (``call``).
    """

    rank: ClassVar[int] = 2  # spatial axes: 2 for images, 1 for sequences, 3 for volumes
    trains_in_shares = True  # see Layer.trains_in_shares
    #: How the "does not fit" error names the input and its cure.
    _input_words: ClassVar[tuple[str, str]] = ("input", "a larger input")
    _base_keys = ("name", "trainable", "activity_regularizer")  # Layer.get_config's own

    def __init__(self, arguments: Mapping[str, Any]) -> None:
        args = {k: v for k, v in arguments.items() if k not in ("self", "__class__")}
        super().__init__(
            name=args["name"],
            trainable=args["trainable"],
            activity_regularizer=args["activity_regularizer"],
        )
        where = type(self).__name__
        if "filters" in args:
            self.filters = check_positive_int(where, "filters", args["filters"])
        self.kernel_size = self._sizes(where, "kernel_size", args["kernel_size"])
        self.strides = self._sizes(where, "strides", args["strides"])
        self.padding = self._check_padding(where, args["padding"])
        if "depth_multiplier" in args:
            multiplier = args["depth_multiplier"]
            self.depth_multiplier = check_positive_int(where, "depth_multiplier", multiplier)
        self.dilation_rate = self._sizes(where, "dilation_rate", args["dilation_rate"])
        if max(self.strides) > 1 and max(self.dilation_rate) > 1:
            raise ValueError(
                f"{where}: 'strides' > 1 cannot be combined with 'dilation_rate' > 1 (as in "
                f"Keras). Received: strides={args['strides']!r}, "
                f"dilation_rate={args['dilation_rate']!r}"
            )
        if "output_padding" in args:
            padding = args["output_padding"]
            self.output_padding = self._check_output_padding(where, padding, args["strides"])
        self.activation = activations.get(args["activation"])
        self.use_bias = check_bool(where, "use_bias", args["use_bias"])
        for key in [k for k in args if k.endswith("_initializer")]:
            setattr(self, key, initializers.get(args[key]))
        options = {k: v for k, v in args.items() if k.endswith(_WEIGHT_OPTIONS)}
        del options["activity_regularizer"]  # the layer's, not a weight's
        self._keep_weight_options(**options)
        #: What get_config saves besides the base's (name, options...): the rest, in order.
        self._config_arguments = tuple(
            k for k in args if k not in options and k not in self._base_keys
        )
        self.input_spec = InputSpec(ndim=self.rank + 2, layout=self._layout)

    @property
    def _layout(self) -> str:
        return _LAYOUTS[self.rank]

    def _sizes(self, where: str, arg: str, value: Any) -> tuple[int, ...]:
        """An int ≥ 1 or a tuple of ``rank`` of them, as that tuple (Keras's
        ``standardize_tuple``)."""
        if self.rank > 1:
            return check_int_tuple(where, arg, value, self.rank)
        items = tuple(value) if isinstance(value, (tuple, list)) else (value,)
        if len(items) != 1 or not is_int(items[0]):
            raise TypeError(
                f"{where}: {arg} must be an int or a tuple of one int. Expected e.g. {arg}=3, "
                f"received {arg}={value!r}."
            )
        if items[0] < 1:
            raise ValueError(
                f"{where}: {arg} must be positive. Expected an integer ≥ 1, received "
                f"{arg}={value!r}."
            )
        return (int(items[0]),)

    def _check_padding(self, where: str, padding: Any) -> str:
        return check_padding(where, padding, allow_explicit=False)

    def _per_axis(self, sizes: tuple[int, ...]) -> Any:
        """``sizes`` as the op takes them: the tuple for images and volumes, the one int for
        sequences."""
        return sizes if self.rank > 1 else sizes[0]

    def _window(self) -> dict[str, Any]:
        """The op's ``stride``, ``padding`` and ``dilation``, from the layer's arguments."""
        return {
            "stride": self._per_axis(self.strides),
            "padding": self.padding,
            "dilation": self._per_axis(self.dilation_rate),
        }

    def _weight(self, name: str, shape: tuple[int, ...], options: str | None = None) -> Tensor:
        """``add_weight`` with the initializer, regularizer and constraint Keras names
        ``<options>_initializer`` and so on (``options``: the weight's name by default)."""
        options = options or name
        return self.add_weight(
            name,
            shape,
            getattr(self, f"{options}_initializer"),
            regularizer=getattr(self, f"{options}_regularizer"),
            constraint=getattr(self, f"{options}_constraint"),
        )

    def build(self, input_shape: Shape) -> None:
        if input_shape[-1] is None:
            raise ValueError(
                f"{self._where}: the number of input channels must be known to create the "
                f"kernel. Received input shape {input_shape}."
            )
        channels = int(input_shape[-1])
        self._add_kernels(channels)
        self.bias = None
        if self.use_bias:
            self.bias = self._weight("bias", (self._output_channels(channels),))
        self.input_spec = InputSpec(ndim=self.rank + 2, axes={-1: channels}, layout=self._layout)

    def _add_kernels(self, channels: int) -> None:
        """Create the family's kernel(s) for ``channels`` input channels."""
        raise NotImplementedError

    def _check_output_padding(self, where: str, value: Any, strides: Any) -> Any:
        """The transposed convolutions' ``output_padding``, checked (see ``_ConvTranspose``)."""
        raise NotImplementedError

    def _output_channels(self, channels: int | None) -> int | None:
        return self.filters

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        shape = self._check_input_shape(input_shape)
        return (shape[0], *self._spatial(shape), self._output_channels(shape[-1]))

    def _check_input_shape(self, input_shape: Any) -> Shape:
        shape = super()._check_input_shape(input_shape)
        self._spatial(shape)  # the kernel must fit: raise before anything is built
        return shape

    def _spatial(self, shape: Shape) -> tuple[int | None, ...]:
        """The output's sizes along the input's spatial axes, or the "does not fit" error."""
        try:
            if self.rank == 1:
                k, s, d = self.kernel_size[0], self.strides[0], self.dilation_rate[0]
                return (ops.conv1d_output_length(shape[1], k, s, self.padding, d),)
            return ops.conv_output_shape(
                shape[1:-1], self.kernel_size, self.strides, self.padding, self.dilation_rate
            )
        except ValueError:
            where, cure = self._input_words
            raise ValueError(
                f"{self._where}: computed output size would be zero or negative: the "
                f"{self.kernel_size} kernel does not fit in the {where}. Received input shape "
                f"{shape}, kernel_size={self.kernel_size}, strides={self.strides}, "
                f"padding={self.padding!r}, dilation_rate={self.dilation_rate}. Use "
                f"padding='same', a smaller kernel_size or {cure}."
            ) from None

    def _axis_mismatch_message(self, shape: Shape, axis: int, expected: int) -> str:
        got = shape[-1]
        return (
            f"{self._where}: input has {got} channel{'' if got == 1 else 's'} but the layer was "
            f"built for {expected} (input shape {shape}). {self._convert(expected)} or rebuild "
            f"the layer."
        )

    def _convert(self, channels: int) -> str:
        return f"Convert the input to {channels} channels"

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        for key in self._config_arguments:
            value = getattr(self, key)
            if key == "activation":
                value = activations.serialize(value)
            elif key.endswith("_initializer"):
                value = initializers.serialize(value)
            config[key] = value
        return config


# ------------------------------------------------------------------ convolutions
class _Conv(_Convolution):
    """``Conv1D``, ``Conv2D`` and ``Conv3D``: a kernel (*kernel_size, in_channels, filters),
    ReLU fused into the op."""

    def _add_kernels(self, channels: int) -> None:
        self.kernel = self._weight("kernel", (*self.kernel_size, channels, self.filters))

    def call(self, x: Tensor, training: bool = False) -> Tensor:
        fuse = self.activation is ops.relu  # the common case: ReLU in the conv op, in place
        conv = {1: ops.conv1d, 2: ops.conv2d, 3: ops.conv3d}[self.rank]
        y = conv(x, self.kernel, self.bias, relu=fuse, **self._window())
        return y if fuse else self.activation(y)


class Conv2D(_Conv):
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

    _input_words = ("image", "larger images")

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
        super().__init__(locals())

    def _convert(self, channels: int) -> str:
        return f"Convert images to {'RGB' if channels == 3 else f'{channels} channels'}"


#: Keras's older alias.
Convolution2D = Conv2D
register_alias("Convolution2D", Conv2D)


class Conv3D(_Conv):
    """3-D convolution over volumes — video clips (frames, height, width), CT or MRI scans:
    ``filters`` filters, each seeing a kernel_size (d, h, w) block of all input channels,
    applied at every position of the volume with the same weights.

    The maths is ``Conv2D``'s with one more spatial axis, the same op (``ops.conv3d``: im2col
    over the blocks, one matrix product). 16 filters of 3×3×3 over a one-channel scan have
    (3·3·3·1 + 1)·16 = 448 parameters. Volumes are channels-last, as in Keras.

    Args:
        filters: the number of filters (output channels).
        kernel_size: the block's depth, height and width, an int or a tuple of 3.
        strides: the step between blocks, an int or a tuple of 3.
        padding: "valid" (none) or "same" (zeros so that the output is ceil(input / strides)
            along every axis, TensorFlow's split); case-insensitive.
        dilation_rate: spacing between the kernel's taps, an int or a tuple of 3 (with
            strides 1).
        activation, use_bias, kernel_initializer, bias_initializer, kernel_regularizer,
        bias_regularizer, activity_regularizer, kernel_constraint, bias_constraint: as
        ``Conv2D``.

    Shape:
        Input: ``(batch, depth, height, width, in_channels)``.
        Output: ``(batch, new_depth, new_height, new_width, filters)``.
        Weights: ``kernel (kd, kh, kw, in_channels, filters)``, ``bias (filters,)``.

    Example:
        >>> conv = Conv3D(16, 3, padding="same", activation="relu")
        >>> conv(np.zeros((1, 8, 32, 32, 1))).shape
        (1, 8, 32, 32, 16)
        >>> conv.count_params()
        448
    """

    rank = 3
    _input_words = ("volume", "larger volumes")

    def __init__(
        self,
        filters: int,
        kernel_size: int | tuple[int, int, int],
        strides: int | tuple[int, int, int] = (1, 1, 1),
        padding: str = "valid",
        dilation_rate: int | tuple[int, int, int] = (1, 1, 1),
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
        super().__init__(locals())


#: Keras's older alias.
Convolution3D = Conv3D
register_alias("Convolution3D", Conv3D)


class Conv1D(_Conv):
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

    rank = 1

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
        super().__init__(locals())

    def _check_padding(self, where: str, padding: Any) -> str:
        if not isinstance(padding, str) or padding.lower() not in ("valid", "same", "causal"):
            raise ValueError(
                f"{where}: unknown padding {padding!r}. Expected 'valid', 'same' or 'causal', "
                f"received padding={padding!r}."
            )
        return padding.lower()


# ------------------------------------------------------------------ transposed convolutions
class _ConvTranspose(_Convolution):
    """``Conv1DTranspose`` and ``Conv2DTranspose``: Keras's kernel (*kernel_size, filters,
    in_channels) and ``output_padding``."""

    def _check_output_padding(self, where: str, value: Any, strides: Any) -> tuple[int, ...] | None:
        if value is None:
            return None
        if self.rank == 1:
            items = tuple(value) if isinstance(value, (tuple, list)) else (value,)
            if len(items) != 1 or not is_int(items[0]) or not 0 <= items[0] < self.strides[0]:
                raise ValueError(
                    f"{where}: output_padding must be None or an int ≥ 0 smaller than strides. "
                    f"Received: output_padding={value!r}, strides={strides!r}"
                )
            return (int(items[0]),)
        pair = tuple(value) if isinstance(value, (tuple, list)) else (value, value)
        if len(pair) != 2 or not all(is_int(v) and v >= 0 for v in pair):
            raise ValueError(
                f"{where}: output_padding must be None, an int ≥ 0 or a pair of them. "
                f"Received: output_padding={value!r}"
            )
        if any(p >= s for p, s in zip(pair, self.strides, strict=True)):
            raise ValueError(
                f"{where}: output_padding must be smaller than strides (each extra row "
                f"picks one of the strides' sizes). Received: output_padding="
                f"{value!r}, strides={strides!r}"
            )
        return (int(pair[0]), int(pair[1]))

    def _add_kernels(self, channels: int) -> None:
        self.kernel = self._weight("kernel", (*self.kernel_size, self.filters, channels))

    def call(self, x: Tensor, training: bool = False) -> Tensor:
        conv = ops.conv_transpose2d if self.rank == 2 else ops.conv_transpose1d
        extra = self.output_padding
        extra = None if extra is None else self._per_axis(extra)
        y = conv(x, self.kernel, self.bias, output_padding=extra, **self._window())
        return self.activation(y)

    def _spatial(self, shape: Shape) -> tuple[int | None, ...]:
        extra = self.output_padding or (None,) * self.rank
        sizes = tuple(
            ops.conv_transpose_output_length(
                shape[1 + a],
                self.kernel_size[a],
                self.strides[a],
                self.padding,
                extra[a],
                self.dilation_rate[a],
            )
            for a in range(self.rank)
        )
        if any(size is not None and size <= 0 for size in sizes):
            output = f"be {sizes} pixels" if self.rank == 2 else f"have {sizes[0]} steps"
            raise ValueError(
                f"{self._where}: the output would {output}. Received input shape "
                f"{shape}, kernel_size={self.kernel_size}, padding={self.padding!r}, "
                f"output_padding={self.output_padding}. Use padding='valid' or a larger "
                f"output_padding."
            )
        return sizes

    def summary_formula(self) -> str:
        """Keras's count: the kernel's sizes, k…·filters·in_channels (+ filters)."""
        return "·".join(map(str, self.kernel.shape)) + (
            f" + {self.filters}" if self.use_bias else ""
        )

    def summary_macs(self, input_shape: Any) -> int:
        """Every input position's channels times the whole kernel: H·W·kh·kw·filters·in."""
        sizes = input_shape[1:-1]
        if None in sizes:
            return 0
        return int(math.prod(sizes) * self.kernel.size)


class Conv2DTranspose(_ConvTranspose):
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
        super().__init__(locals())


class Conv1DTranspose(_ConvTranspose):
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

    rank = 1

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
        super().__init__(locals())


# ------------------------------------------------------------------ depthwise convolutions
class _DepthwiseConv(_Convolution):
    """``DepthwiseConv1D`` and ``DepthwiseConv2D``: a kernel (*kernel_size, in_channels,
    depth_multiplier) whose options Keras names ``depthwise_*``."""

    def _set_weight_option(self, key: str, value: Any) -> Any:
        """Keras 3 names the weight ``kernel`` and its options ``depthwise_*``: a change after
        build goes to ``kernel`` (the base hands ``<prefix>_*`` to ``<prefix>``)."""
        if not key.startswith("depthwise_"):
            return super()._set_weight_option(key, value)
        kind = key.removeprefix("depthwise_")
        checked = self._option(key, regularizers if kind == "regularizer" else constraints, value)
        return super()._set_weight_option(f"kernel_{kind}", checked)

    def _add_kernels(self, channels: int) -> None:
        shape = (*self.kernel_size, channels, self.depth_multiplier)
        self.kernel = self._weight("kernel", shape, "depthwise")

    def _output_channels(self, channels: int | None) -> int | None:
        return None if channels is None else channels * self.depth_multiplier

    def call(self, x: Tensor, training: bool = False) -> Tensor:
        conv = ops.depthwise_conv2d if self.rank == 2 else ops.depthwise_conv1d
        y = conv(x, self.kernel, self.bias, **self._window())
        return self.activation(y)

    def summary_formula(self) -> str:
        """Keras's count: the kernel's sizes, k…·in_channels·depth_multiplier
        (+ in_channels·depth_multiplier)."""
        *_, c, m = self.kernel.shape
        return "·".join(map(str, self.kernel.shape)) + (f" + {c}·{m}" if self.use_bias else "")

    def summary_macs(self, input_shape: Any) -> int:
        """Each output number is a dot product of kh·kw pairs (kernel_size ones)."""
        _, *sizes, c = self.compute_output_shape(tuple(input_shape))
        if None in sizes:
            return 0
        return int(math.prod(sizes) * c * math.prod(self.kernel_size))


class DepthwiseConv2D(_DepthwiseConv):
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
        super().__init__(locals())


class DepthwiseConv1D(_DepthwiseConv):
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

    rank = 1

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
        super().__init__(locals())


# ------------------------------------------------------------------ separable convolutions
class _SeparableConv(_Convolution):
    """``SeparableConv1D`` and ``SeparableConv2D``: a depthwise kernel, then a pointwise one
    (1-wide) mixing the channels into ``filters``, ReLU fused into the pointwise op."""

    def _add_kernels(self, channels: int) -> None:
        m = self.depth_multiplier
        self.depthwise_kernel = self._weight(
            "depthwise_kernel", (*self.kernel_size, channels, m), "depthwise"
        )
        self.pointwise_kernel = self._weight(
            "pointwise_kernel", (*(1,) * self.rank, channels * m, self.filters), "pointwise"
        )

    def call(self, x: Tensor, training: bool = False) -> Tensor:
        depthwise = ops.depthwise_conv2d if self.rank == 2 else ops.depthwise_conv1d
        spatial = depthwise(x, self.depthwise_kernel, **self._window())
        fuse = self.activation is ops.relu
        pointwise = ops.conv2d if self.rank == 2 else ops.conv1d
        y = pointwise(spatial, self.pointwise_kernel, self.bias, relu=fuse)
        return y if fuse else self.activation(y)

    def summary_formula(self) -> str:
        """Keras's count: k…·C·m + C·m·filters (+ filters)."""
        *_, c, m = self.depthwise_kernel.shape
        f = self.filters
        kernel = "·".join(map(str, self.depthwise_kernel.shape))
        return f"{kernel} + {c}·{m}·{f}" + (f" + {f}" if self.use_bias else "")

    def summary_macs(self, input_shape: Any) -> int:
        """The depthwise step's kh·kw per number, then the pointwise step's C·m per output."""
        _, *sizes, _ = self.compute_output_shape(tuple(input_shape))
        if None in sizes:
            return 0
        cm = self.pointwise_kernel.shape[-2]
        return int(math.prod(sizes) * cm * (math.prod(self.kernel_size) + self.filters))


class SeparableConv2D(_SeparableConv):
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
        super().__init__(locals())


class SeparableConv1D(_SeparableConv):
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

    rank = 1

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
        super().__init__(locals())
