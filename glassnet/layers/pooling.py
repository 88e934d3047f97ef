"""Pooling layers: shrink feature maps by summarising each window (max or mean), no weights.

``MaxPooling2D()`` with the defaults (2×2 windows, stride 2) halves height and width and keeps
the depth: 256×256×64 becomes 128×128×64. The global pools summarise the whole image per
channel, (batch, H, W, C) -> (batch, C).

The 3-D pools (``MaxPooling3D``, ...) summarise (depth, height, width) blocks of volumes
(batch, D, H, W, C), the same ops with one more spatial axis.

The 1-D pools (``MaxPooling1D``, ...) summarise windows of time steps in sequences (batch,
steps, features). They run the 2-D ops on a (batch, 1, steps, features) view with 1×pool_size
windows, so there is one pooling engine for both.
"""

from __future__ import annotations

from typing import Any, ClassVar

from glassnet import ops
from glassnet.checks import check_bool, check_int_tuple, check_padding, check_positive_int
from glassnet.layers.layer import InputSpec, Layer, Shape
from glassnet.layers.registry import register_alias
from glassnet.ops.pooling import (
    AvgPoolOp,
    GlobalAvgPoolOp,
    GlobalMaxPoolOp,
    MaxPoolOp,
)
from glassnet.tensor import Tensor

__all__ = [
    "AveragePooling1D",
    "AveragePooling2D",
    "AveragePooling3D",
    "AvgPool2D",
    "AvgPool3D",
    "GlobalAveragePooling1D",
    "GlobalAveragePooling2D",
    "GlobalAveragePooling3D",
    "GlobalAvgPool2D",
    "GlobalAvgPool3D",
    "GlobalMaxPool2D",
    "GlobalMaxPool3D",
    "GlobalMaxPooling1D",
    "GlobalMaxPooling2D",
    "GlobalMaxPooling3D",
    "MaxPool2D",
    "MaxPool3D",
    "MaxPooling1D",
    "MaxPooling2D",
    "MaxPooling3D",
]

_IMAGES = "(batch, height, width, channels)"
_SEQUENCES = "(batch, steps, features)"
_VOLUMES = "(batch, depth, height, width, channels)"
_LAYOUTS = {2: _IMAGES, 3: _VOLUMES}


class _Pooling2D(Layer):
    """Shared by MaxPooling2D and AveragePooling2D (and, with ``rank`` 3, the 3-D pools):
    arguments, shapes and config."""

    trains_in_shares = True  # see Layer.trains_in_shares
    _config_keys = ("pool_size", "strides", "padding")

    _op: ClassVar[Any] = None
    _function: ClassVar[Any] = None  # the op's Function, and its name in messages
    _op_name: ClassVar[str] = ""
    rank: ClassVar[int] = 2  # spatial axes: 2 for images, 3 for volumes

    def __init__(
        self,
        pool_size: int | tuple[int, int] = (2, 2),
        strides: int | tuple[int, int] | None = None,
        padding: str = "valid",
        *,
        name: str | None = None,
        trainable: bool = True,
    ) -> None:
        super().__init__(name=name, trainable=trainable)
        where = type(self).__name__
        self.pool_size = check_int_tuple(where, "pool_size", pool_size, self.rank)
        # Keras: strides=None means non-overlapping windows, strides = pool_size.
        self.strides = (
            self.pool_size
            if strides is None
            else check_int_tuple(where, "strides", strides, self.rank)
        )
        self.padding = check_padding(where, padding, allow_explicit=False)
        self.input_spec = InputSpec(ndim=self.rank + 2, layout=_LAYOUTS[self.rank])

    def call(self, x: Tensor, training: bool = False) -> Tensor:
        return type(self)._op(x, self.pool_size, self.strides, self.padding)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        shape = self._check_input_shape(input_shape)
        return (shape[0], *self._output_hw(shape), shape[-1])

    def _check_input_shape(self, input_shape: Any) -> Shape:
        shape = super()._check_input_shape(input_shape)
        self._output_hw(shape)  # the window must fit in the (padded) image
        return shape

    def _output_hw(self, shape: Shape) -> tuple[int | None, ...]:
        try:
            return ops.pool_output_shape(shape[1:-1], self.pool_size, self.strides, self.padding)
        except ValueError:
            raise ValueError(
                f"{self._where}: computed output size would be zero or negative. Received input "
                f"shape {shape}, pool_size={self.pool_size}, strides={self.strides}, "
                f"padding={self.padding!r}. Use padding='same', a smaller pool_size or larger "
                f"{'images' if self.rank == 2 else 'volumes'} (or fewer pooling layers)."
            ) from None


class MaxPooling2D(_Pooling2D):
    """Keeps the largest value of each pool_size window: the strongest response of each filter
    in each neighbourhood, which makes the network tolerant to small shifts.

    Args:
        pool_size: the window's height and width, an int or a pair (default 2×2).
        strides: the step between windows, an int or a pair; None means pool_size.
        padding: "valid" (windows inside the image) or "same" (output ceil(input / strides)).

    Shape:
        Input: ``(batch, height, width, channels)``.
        Output: ``(batch, new_height, new_width, channels)``.
    """

    _op = staticmethod(ops.max_pool2d)
    _function, _op_name = MaxPoolOp, "max_pool2d"


class AveragePooling2D(_Pooling2D):
    """Averages each pool_size window (with "same" padding, over the real pixels only).

    Args:
        pool_size: the window's height and width, an int or a pair (default 2×2).
        strides: the step between windows, an int or a pair; None means pool_size.
        padding: "valid" or "same".

    Shape:
        Input: ``(batch, height, width, channels)``.
        Output: ``(batch, new_height, new_width, channels)``.
    """

    _op = staticmethod(ops.avg_pool2d)
    _function, _op_name = AvgPoolOp, "avg_pool2d"


class _GlobalPooling2D(Layer):
    """Shared by the global pools: one number per channel for the whole image (the whole
    volume with ``rank`` 3)."""

    trains_in_shares = True  # see Layer.trains_in_shares
    _config_keys = ("keepdims",)

    _op: ClassVar[Any] = None
    rank: ClassVar[int] = 2

    def __init__(
        self, keepdims: bool = False, *, name: str | None = None, trainable: bool = True
    ) -> None:
        super().__init__(name=name, trainable=trainable)
        self.keepdims = check_bool(type(self).__name__, "keepdims", keepdims)
        self.input_spec = InputSpec(ndim=self.rank + 2, layout=_LAYOUTS[self.rank])

    def call(self, x: Tensor, training: bool = False) -> Tensor:
        return type(self)._op(x, keepdims=self.keepdims)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        shape = self._check_input_shape(input_shape)
        if self.keepdims:
            return (shape[0], *(1,) * self.rank, shape[-1])
        return (shape[0], shape[-1])


class GlobalAveragePooling2D(_GlobalPooling2D):
    """The mean of each channel over height and width: the usual bridge from convolutions to
    the classifier in modern networks (ResNet), with no weights at all.

    Args:
        keepdims: keep height and width as axes of size 1.

    Shape:
        Input: ``(batch, height, width, channels)``.
        Output: ``(batch, channels)``, or ``(batch, 1, 1, channels)`` with keepdims.
    """

    _op = staticmethod(ops.global_avg_pool2d)
    _function = GlobalAvgPoolOp


class GlobalMaxPooling2D(_GlobalPooling2D):
    """The maximum of each channel over height and width.

    Args:
        keepdims: keep height and width as axes of size 1.

    Shape:
        Input: ``(batch, height, width, channels)``.
        Output: ``(batch, channels)``, or ``(batch, 1, 1, channels)`` with keepdims.
    """

    _op = staticmethod(ops.global_max_pool2d)
    _function = GlobalMaxPoolOp


class _Pooling3D(_Pooling2D):
    """MaxPooling3D and AveragePooling3D: the 2-D pools' arguments with (d, h, w) windows."""

    rank = 3

    def __init__(
        self,
        pool_size: int | tuple[int, int, int] = (2, 2, 2),
        strides: int | tuple[int, int, int] | None = None,
        padding: str = "valid",
        *,
        name: str | None = None,
        trainable: bool = True,
    ) -> None:
        super().__init__(pool_size, strides, padding, name=name, trainable=trainable)


class MaxPooling3D(_Pooling3D):
    """Keeps the largest value of each pool_size (depth, height, width) block of a volume,
    per channel: ``MaxPooling2D`` with one more axis (the same op).

    Args:
        pool_size: the block's depth, height and width, an int or a tuple of 3 (default
            2×2×2).
        strides: the step between blocks, an int or a tuple of 3; None means pool_size.
        padding: "valid" (blocks inside the volume) or "same" (output ceil(input / strides)).

    Shape:
        Input: ``(batch, depth, height, width, channels)``.
        Output: ``(batch, new_depth, new_height, new_width, channels)``.
    """

    _op = staticmethod(ops.max_pool3d)
    _function, _op_name = MaxPoolOp, "max_pool3d"


class AveragePooling3D(_Pooling3D):
    """Averages each pool_size (depth, height, width) block of a volume, per channel (with
    "same" padding, over the real cells only, as Keras).

    Args:
        pool_size: the block's depth, height and width, an int or a tuple of 3 (default
            2×2×2).
        strides: the step between blocks, an int or a tuple of 3; None means pool_size.
        padding: "valid" or "same".

    Shape:
        Input: ``(batch, depth, height, width, channels)``.
        Output: ``(batch, new_depth, new_height, new_width, channels)``.
    """

    _op = staticmethod(ops.avg_pool3d)
    _function, _op_name = AvgPoolOp, "avg_pool3d"


class GlobalAveragePooling3D(_GlobalPooling2D):
    """The mean of each channel over depth, height and width: a volume network's bridge to
    its classifier, as ``GlobalAveragePooling2D`` is for images.

    Args:
        keepdims: keep depth, height and width as axes of size 1.

    Shape:
        Input: ``(batch, depth, height, width, channels)``.
        Output: ``(batch, channels)``, or ``(batch, 1, 1, 1, channels)`` with keepdims.
    """

    rank = 3
    _op = staticmethod(ops.global_avg_pool3d)
    _function = GlobalAvgPoolOp


class GlobalMaxPooling3D(_GlobalPooling2D):
    """The maximum of each channel over depth, height and width.

    Args:
        keepdims: keep depth, height and width as axes of size 1.

    Shape:
        Input: ``(batch, depth, height, width, channels)``.
        Output: ``(batch, channels)``, or ``(batch, 1, 1, 1, channels)`` with keepdims.
    """

    rank = 3
    _op = staticmethod(ops.global_max_pool3d)
    _function = GlobalMaxPoolOp


def _as_images(x: Tensor) -> Tensor:
    """A batch of sequences (N, steps, F) as one-row images (N, 1, steps, F): a view."""
    return ops.reshape(x, (x.shape[0], 1, x.shape[1], x.shape[2]))


class _Pooling1D(Layer):
    """Shared by MaxPooling1D and AveragePooling1D: the 2-D op over 1×pool_size windows."""

    trains_in_shares = True  # see Layer.trains_in_shares
    _config_keys = ("pool_size", "strides", "padding")

    _op: ClassVar[Any] = None

    def __init__(
        self,
        pool_size: int | tuple[int] = 2,
        strides: int | tuple[int] | None = None,
        padding: str = "valid",
        *,
        name: str | None = None,
        trainable: bool = True,
    ) -> None:
        super().__init__(name=name, trainable=trainable)
        where = type(self).__name__
        self.pool_size = (_check_one_int(where, "pool_size", pool_size),)
        # Keras: strides=None means non-overlapping windows, strides = pool_size.
        self.strides = (
            self.pool_size if strides is None else (_check_one_int(where, "strides", strides),)
        )
        self.padding = check_padding(where, padding, allow_explicit=False)
        self.input_spec = InputSpec(ndim=3, layout=_SEQUENCES)

    def call(self, x: Tensor, training: bool = False) -> Tensor:
        window, step = (1, self.pool_size[0]), (1, self.strides[0])
        out = type(self)._op(_as_images(x), window, step, self.padding)
        return ops.reshape(out, (x.shape[0], out.shape[2], x.shape[2]))

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        shape = self._check_input_shape(input_shape)
        return (shape[0], self._output_steps(shape), shape[2])

    def _check_input_shape(self, input_shape: Any) -> Shape:
        shape = super()._check_input_shape(input_shape)
        self._output_steps(shape)  # the window must fit in the (padded) sequence
        return shape

    def _output_steps(self, shape: Shape) -> int | None:
        window, step = (1, self.pool_size[0]), (1, self.strides[0])
        try:
            return ops.pool_output_shape((1, shape[1]), window, step, self.padding)[1]
        except ValueError:
            raise ValueError(
                f"{self._where}: computed output size would be zero or negative. Received input "
                f"shape {shape}, pool_size={self.pool_size[0]}, strides={self.strides[0]}, "
                f"padding={self.padding!r}. Use padding='same', a smaller pool_size or longer "
                f"sequences."
            ) from None


def _check_one_int(where: str, arg: str, value: Any) -> int:
    """Keras's 1-D window arguments: an int or a 1-tuple of ints, ≥ 1."""
    items = tuple(value) if isinstance(value, (tuple, list)) else (value,)
    if len(items) != 1:
        raise TypeError(
            f"{where}: {arg} must be an int or a tuple of one int. Received {arg}={value!r}."
        )
    return check_positive_int(where, arg, items[0])


class MaxPooling1D(_Pooling1D):
    """Keeps the largest value of each window of ``pool_size`` time steps, per feature.

    Args:
        pool_size: the window's length (default 2).
        strides: the step between windows; None means pool_size.
        padding: "valid" (windows inside the sequence) or "same" (output ceil(steps /
            strides)).

    Shape:
        Input: ``(batch, steps, features)``. Output: ``(batch, new_steps, features)``.
    """

    _op = staticmethod(ops.max_pool2d)


class AveragePooling1D(_Pooling1D):
    """Averages each window of ``pool_size`` time steps, per feature (with "same" padding,
    over the real steps only, as Keras).

    Args:
        pool_size: the window's length (default 2).
        strides: the step between windows; None means pool_size.
        padding: "valid" or "same".

    Shape:
        Input: ``(batch, steps, features)``. Output: ``(batch, new_steps, features)``.
    """

    _op = staticmethod(ops.avg_pool2d)


class _GlobalPooling1D(Layer):
    """Shared by the global 1-D pools: one number per feature for the whole sequence."""

    trains_in_shares = True  # see Layer.trains_in_shares
    _config_keys = ("keepdims",)

    _op: ClassVar[Any] = None
    _masked: ClassVar[bool] = False  # honours a padding mask (_keras_mask) on the input

    def __init__(
        self, keepdims: bool = False, *, name: str | None = None, trainable: bool = True
    ) -> None:
        super().__init__(name=name, trainable=trainable)
        self.keepdims = check_bool(type(self).__name__, "keepdims", keepdims)
        self.input_spec = InputSpec(ndim=3, layout=_SEQUENCES)

    def call(self, x: Tensor, training: bool = False) -> Tensor:
        mask = x._keras_mask
        if self._masked and mask is not None and tuple(mask.shape) == tuple(x.shape[:2]):
            out = ops.masked_mean(x, mask)  # Keras: the mean over the unmasked steps only
        else:
            out = type(self)._op(_as_images(x))  # (N, F)
        return ops.reshape(out, (x.shape[0], 1, x.shape[2])) if self.keepdims else out

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        shape = self._check_input_shape(input_shape)
        return (shape[0], 1, shape[2]) if self.keepdims else (shape[0], shape[2])


class GlobalAveragePooling1D(_GlobalPooling1D):
    """The mean of each feature over the time steps: a fixed-size summary of a sequence of any
    length (after an Embedding, a simple text classifier). An input carrying a padding mask
    (``Embedding(mask_zero=True)``, passed on by the layers between) is averaged over its
    unmasked steps only, as Keras does; a sample with every step masked gives zeros.

    Args:
        keepdims: keep the steps axis, of size 1.

    Shape:
        Input: ``(batch, steps, features)``.
        Output: ``(batch, features)``, or ``(batch, 1, features)`` with keepdims.
    """

    _op = staticmethod(ops.global_avg_pool2d)
    _masked = True


class GlobalMaxPooling1D(_GlobalPooling1D):
    """The maximum of each feature over the time steps.

    Args:
        keepdims: keep the steps axis, of size 1.

    Shape:
        Input: ``(batch, steps, features)``.
        Output: ``(batch, features)``, or ``(batch, 1, features)`` with keepdims.
    """

    _op = staticmethod(ops.global_max_pool2d)


# Keras's short aliases: the same classes, so configs always say the long name.
MaxPool2D = MaxPooling2D
AvgPool2D = AveragePooling2D
GlobalAvgPool2D = GlobalAveragePooling2D
GlobalMaxPool2D = GlobalMaxPooling2D
MaxPool3D = MaxPooling3D
AvgPool3D = AveragePooling3D
GlobalAvgPool3D = GlobalAveragePooling3D
GlobalMaxPool3D = GlobalMaxPooling3D
for _alias, _cls in (
    ("MaxPool2D", MaxPooling2D),
    ("AvgPool2D", AveragePooling2D),
    ("GlobalAvgPool2D", GlobalAveragePooling2D),
    ("GlobalMaxPool2D", GlobalMaxPooling2D),
    ("MaxPool3D", MaxPooling3D),
    ("AvgPool3D", AveragePooling3D),
    ("GlobalAvgPool3D", GlobalAveragePooling3D),
    ("GlobalMaxPool3D", GlobalMaxPooling3D),
):
    register_alias(_alias, _cls)
