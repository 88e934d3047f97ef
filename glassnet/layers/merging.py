"""Layers that combine several inputs into one: ``Add`` (the skip connection of ResNet),
``Concatenate`` (the parallel branches of Inception), ``Subtract``, ``Multiply``, ``Average``,
``Maximum`` and ``Minimum``; ``Dot`` (the batched dot product of two tensors, or their
cosine similarity); and Keras's lowercase functions that make and call one, ``add([a, b])``,
for the functional API."""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np

from glassnet import ops
from glassnet.checks import check_bool, is_int
from glassnet.layers.layer import Layer, Shape, snake_case
from glassnet.tensor import Tensor

__all__ = [
    "Add",
    "Average",
    "Concatenate",
    "Dot",
    "Maximum",
    "Minimum",
    "Multiply",
    "Subtract",
    "add",
    "average",
    "concatenate",
    "dot",
    "maximum",
    "minimum",
    "multiply",
    "subtract",
]


class _Merge(Layer):
    """Combines a list of tensors of the same shape element by element, pair by pair
    (``_combine``); the subclasses differ only in that operation."""

    supports_masking = True  # the first input's mask (Keras ANDs them)
    trains_in_shares = True  # see Layer.trains_in_shares

    _multi_input = True
    #: How many inputs the merge takes (None: any number, at least one).
    _arity: ClassVar[int | None] = None

    def __init__(self, *, name: str | None = None, trainable: bool = True) -> None:
        super().__init__(name=name, trainable=trainable)

    def _combine(self, a: Tensor, b: Tensor) -> Tensor:
        raise NotImplementedError

    def call(self, inputs: list[Tensor], training: bool = False) -> Tensor:
        total = inputs[0]
        for x in inputs[1:]:
            total = self._combine(total, x)
        return total

    def compute_output_shape(self, input_shape: list[Shape]) -> Shape:
        shapes = self._check_input_shape(input_shape)
        # Every axis is the same size in all inputs; keep whichever is known.
        return tuple(
            next((d for d in dims if d is not None), None) for dims in zip(*shapes, strict=True)
        )

    def _check_input_shape(self, input_shape: Any) -> list[Shape]:
        shapes = super()._check_input_shape(input_shape)
        if not shapes:
            raise ValueError(f"{self._where}: needs at least one input. Received an empty list.")
        if self._arity is not None and len(shapes) != self._arity:
            raise ValueError(
                f"{self._where}: takes exactly {self._arity} inputs, received {len(shapes)}."
            )
        first = shapes[0]
        for shape in shapes[1:]:
            same = len(shape) == len(first) and all(
                a is None or b is None or a == b for a, b in zip(shape, first, strict=True)
            )
            if not same:
                raise ValueError(
                    f"{self._where}: all inputs must have the same shape. Received input shapes "
                    f"{shapes}. In a residual block, match the shortcut to the block's output "
                    f"(e.g. a 1×1 Conv2D with the same filters and strides)."
                )
        return shapes


class Add(_Merge):
    """Adds a list of tensors of the same shape element by element: ``Add()([x, y])``.

    In a residual block the input skips past a few layers and is added back to their output,
    ``y = F(x) + x``, so a very deep network can still pass signals and gradients through.

    Shape:
        Input: a list of tensors, all of shape ``(batch, ...)``. Output: that same shape.
    """

    def _combine(self, a: Tensor, b: Tensor) -> Tensor:
        return ops.add(a, b)


class Subtract(_Merge):
    """The first of two tensors minus the second, element by element: ``Subtract()([a, b])``.

    Shape:
        Input: two tensors of shape ``(batch, ...)``. Output: that same shape.
    """

    _arity = 2

    def _combine(self, a: Tensor, b: Tensor) -> Tensor:
        return ops.sub(a, b)


class Multiply(_Merge):
    """The element-wise product of a list of tensors of the same shape (a gate: one branch
    scales the other).

    Shape:
        Input: a list of tensors of shape ``(batch, ...)``. Output: that same shape.
    """

    def _combine(self, a: Tensor, b: Tensor) -> Tensor:
        return ops.mul(a, b)


class Maximum(_Merge):
    """The element-wise maximum of a list of tensors of the same shape.

    Shape:
        Input: a list of tensors of shape ``(batch, ...)``. Output: that same shape.
    """

    def _combine(self, a: Tensor, b: Tensor) -> Tensor:
        return ops.maximum(a, b)


class Minimum(_Merge):
    """The element-wise minimum of a list of tensors of the same shape.

    Shape:
        Input: a list of tensors of shape ``(batch, ...)``. Output: that same shape.
    """

    def _combine(self, a: Tensor, b: Tensor) -> Tensor:
        return ops.minimum(a, b)


class Average(_Merge):
    """The element-wise mean of a list of tensors of the same shape: their sum over their count
    (averaging the predictions of an ensemble).

    Shape:
        Input: a list of tensors of shape ``(batch, ...)``. Output: that same shape.
    """

    def _combine(self, a: Tensor, b: Tensor) -> Tensor:
        return ops.add(a, b)

    def call(self, inputs: list[Tensor], training: bool = False) -> Tensor:
        return ops.mul(super().call(inputs), np.float32(1 / len(inputs)))


class Concatenate(Layer):
    """Joins a list of tensors along one axis: ``Concatenate()([a, b])`` stacks the channels of
    two feature maps of the same height and width, as an Inception block does with its
    branches.

    Args:
        axis: the axis to join along (default the last: channels).

    Shape:
        Input: a list of tensors whose shapes agree except along ``axis``. Output: that shape
        with the sizes along ``axis`` added up.
    """

    _multi_input = True
    _config_keys = ("axis",)

    def __init__(self, axis: int = -1, *, name: str | None = None, trainable: bool = True):
        super().__init__(name=name, trainable=trainable)
        if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
            raise TypeError(f"Concatenate: 'axis' must be an integer. Received: axis={axis!r}")
        self.axis = int(axis)

    def call(self, inputs: list[Tensor], training: bool = False) -> Tensor:
        return ops.concat(inputs, axis=self.axis)

    def compute_output_shape(self, input_shape: list[Shape]) -> Shape:
        shapes = self._check_input_shape(input_shape)
        axis = self.axis % len(shapes[0])
        out = [next((d for d in dims if d is not None), None) for dims in zip(*shapes, strict=True)]
        sizes = [s[axis] for s in shapes]
        out[axis] = None if None in sizes else sum(sizes)
        return tuple(out)

    def _check_input_shape(self, input_shape: Any) -> list[Shape]:
        shapes = super()._check_input_shape(input_shape)
        if not shapes:
            raise ValueError(f"{self._where}: needs at least one input. Received an empty list.")
        ndim = len(shapes[0])
        if not -ndim <= self.axis < ndim:
            raise ValueError(
                f"{self._where}: axis={self.axis} is out of range for inputs with {ndim} axes. "
                f"Received input shapes {shapes}."
            )
        axis = self.axis % ndim
        for shape in shapes[1:]:
            same = len(shape) == ndim and all(
                a is None or b is None or a == b
                for i, (a, b) in enumerate(zip(shape, shapes[0], strict=True))
                if i != axis
            )
            if not same:
                raise ValueError(
                    f"{self._where}: all inputs must have the same shape except along axis "
                    f"{self.axis}. Received input shapes {shapes}. Check that the branches keep "
                    f"the same height and width (e.g. padding='same')."
                )
        return shapes


class Dot(Layer):
    """The dot product of two tensors, sample by sample, along one axis of each (Keras's
    ``batch_dot``): ``Dot(axes=1)([a, b])`` on two (batch, features) tensors gives (batch, 1),
    one number per sample; on (batch, steps, d) and (batch, d, k) with ``axes=(2, 1)`` it is a
    batched matrix product. ``normalize=True`` first scales both inputs to unit length along
    those axes, so the result is their cosine similarity (a similarity score between two
    embeddings).

    Each sample's ``a`` has its summed axis moved last and its other axes folded into rows,
    ``b`` its summed axis moved first: one batched ``matmul``, reshaped to the axes that remain.

    Args:
        axes: the axis summed over, one int for both inputs or a pair (axis of a, axis of b);
            never 0, the batch. Negative axes count from the end.
        normalize: divide each input by its L2 norm along its axis first,
            x / max(‖x‖, 1e-7), as Keras 3's ``ops.normalize`` (zeros stay zeros).

    Shape:
        Input: two tensors, ``(batch, *a_dims)`` and ``(batch, *b_dims)``, the summed axes of
        equal size. Output: ``(batch, *a_dims without its axis, *b_dims without its axis)``;
        ``(batch, 1)`` when nothing remains.
    """

    _multi_input = True
    trains_in_shares = True  # see Layer.trains_in_shares
    _config_keys = ("axes", "normalize")

    def __init__(
        self,
        axes: int | tuple[int, int],
        normalize: bool = False,
        *,
        name: str | None = None,
        trainable: bool = True,
    ) -> None:
        super().__init__(name=name, trainable=trainable)
        pair = isinstance(axes, (tuple, list)) and len(axes) == 2 and all(is_int(a) for a in axes)
        if not (is_int(axes) or pair):
            raise TypeError(
                f"Dot: 'axes' must be an int or a pair of ints (axis of the first input, axis "
                f"of the second). Received: axes={axes!r}"
            )
        self.axes = int(axes) if is_int(axes) else (int(axes[0]), int(axes[1]))
        self.normalize = check_bool("Dot", "normalize", normalize)

    def _axes_for(self, ndims: tuple[int, int]) -> tuple[int, int]:
        """The two axes as non-negative numbers for inputs of ``ndims`` axes."""
        axes = (self.axes, self.axes) if isinstance(self.axes, int) else self.axes
        return (axes[0] % ndims[0], axes[1] % ndims[1])

    def call(self, inputs: list[Tensor], training: bool = False) -> Tensor:
        a, b = inputs
        ax, bx = self._axes_for((a.ndim, b.ndim))
        if self.normalize:
            a, b = _l2_normalize(a, ax), _l2_normalize(b, bx)
        a_rest = [d for i, d in enumerate(a.shape) if i not in (0, ax)]
        b_rest = [d for i, d in enumerate(b.shape) if i not in (0, bx)]
        n, k = a.shape[0], a.shape[ax]
        rows = ops.transpose(a, (0, *(i for i in range(1, a.ndim) if i != ax), ax))
        cols = ops.transpose(b, (0, bx, *(i for i in range(1, b.ndim) if i != bx)))
        rows = ops.reshape(rows, (n, int(np.prod(a_rest)), k))
        cols = ops.reshape(cols, (n, k, int(np.prod(b_rest))))
        out = ops.matmul(rows, cols)  # (N, P, Q)
        return ops.reshape(out, (n, *a_rest, *b_rest) if a_rest or b_rest else (n, 1))

    def compute_output_shape(self, input_shape: list[Shape]) -> Shape:
        a, b = self._check_input_shape(input_shape)
        ax, bx = self._axes_for((len(a), len(b)))
        out = (a[0], *(d for i, d in enumerate(a) if i not in (0, ax)))
        out = (*out, *(d for i, d in enumerate(b) if i not in (0, bx)))
        return out if len(out) > 1 else (out[0], 1)

    def summary_macs(self, input_shape: list[Shape]) -> int:
        """Multiply-accumulates per sample for ``summary()``: each output number is a dot
        product over the summed axis."""
        a, b = self._check_input_shape(input_shape)
        ax, _ = self._axes_for((len(a), len(b)))
        out = self.compute_output_shape(input_shape)
        return math.prod(d or 1 for d in out[1:]) * (a[ax] or 0)

    def _check_input_shape(self, input_shape: Any) -> list[Shape]:
        shapes = super()._check_input_shape(input_shape)
        if len(shapes) != 2:
            raise ValueError(
                f"{self._where}: takes exactly 2 inputs, received {len(shapes)} (input shapes "
                f"{shapes})."
            )
        a, b = shapes
        if len(a) < 2 or len(b) < 2:
            raise ValueError(
                f"{self._where}: each input needs a batch axis and at least one more. Received "
                f"input shapes {shapes}."
            )
        axes = (self.axes, self.axes) if isinstance(self.axes, int) else self.axes
        for axis, shape in zip(axes, shapes, strict=True):
            if not -len(shape) <= axis < len(shape) or axis % len(shape) == 0:
                raise ValueError(
                    f"{self._where}: axes={self.axes} names axis {axis} of an input of shape "
                    f"{shape}; it must be one of its axes other than the batch (1 to "
                    f"{len(shape) - 1}, or negative from the end)."
                )
        ax, bx = self._axes_for((len(a), len(b)))
        if a[ax] is not None and b[bx] is not None and a[ax] != b[bx]:
            raise ValueError(
                f"{self._where}: the summed axes must have the same size: axis {ax} of the "
                f"first input is {a[ax]}, axis {bx} of the second is {b[bx]} (input shapes "
                f"{shapes}, axes={self.axes})."
            )
        if a[0] is not None and b[0] is not None and a[0] != b[0]:
            raise ValueError(
                f"{self._where}: both inputs must have the same batch size. Received input "
                f"shapes {shapes}."
            )
        return shapes


def _l2_normalize(x: Tensor, axis: int) -> Tensor:
    """x / max(‖x‖, 1e-7), computed as x / sqrt(max(sum(x², axis), 1e-14)): unit length along
    ``axis``, Keras 3's ``ops.normalize`` (its epsilon is ``backend.epsilon()``, 1e-7)."""
    squares = ops.sum(ops.mul(x, x), axis=axis, keepdims=True)
    return ops.div(x, ops.sqrt(ops.maximum(squares, np.float32(1e-14))))


def _merge_function(cls: type[Layer]) -> Any:
    def merge(inputs: list[Any], **kwargs: Any) -> Any:
        return cls(**kwargs)(inputs)

    merge.__name__ = merge.__qualname__ = snake_case(cls.__name__)
    merge.__doc__ = (
        f"``{cls.__name__}(**kwargs)(inputs)`` in one call, Keras's functional shorthand: "
        f"``layers.{merge.__name__}([a, b])``."
    )
    return merge


add = _merge_function(Add)
subtract = _merge_function(Subtract)
multiply = _merge_function(Multiply)
average = _merge_function(Average)
maximum = _merge_function(Maximum)
minimum = _merge_function(Minimum)
concatenate = _merge_function(Concatenate)


def dot(inputs: list[Any], axes: int | tuple[int, int] = -1, **kwargs: Any) -> Any:
    """``Dot(axes, **kwargs)(inputs)`` in one call, Keras's functional shorthand: unlike the
    layer, it sums over the last axes unless told otherwise (``axes=-1``, as Keras)."""
    return Dot(axes=axes, **kwargs)(inputs)
