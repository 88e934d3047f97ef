"""Layers that combine several inputs into one: ``Add`` (the skip connection of ResNet) and
``Concatenate`` (the parallel branches of Inception)."""

from __future__ import annotations

from typing import Any

import numpy as np

from glassnet import ops
from glassnet.layers.layer import Layer, Shape
from glassnet.tensor import Tensor

__all__ = ["Add", "Concatenate"]


class Add(Layer):
    """Adds a list of tensors of the same shape element by element: ``Add()([x, y])``.

    In a residual block the input skips past a few layers and is added back to their output,
    ``y = F(x) + x``, so a very deep network can still pass signals and gradients through.

    Shape:
        Input: a list of tensors, all of shape ``(batch, ...)``. Output: that same shape.
    """

    trains_in_shares = True  # see Layer.trains_in_shares

    _multi_input = True

    def __init__(self, *, name: str | None = None, trainable: bool = True) -> None:
        super().__init__(name=name, trainable=trainable)

    def call(self, inputs: list[Tensor], training: bool = False) -> Tensor:
        total = inputs[0]
        for x in inputs[1:]:
            total = ops.add(total, x)
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
