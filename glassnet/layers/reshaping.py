"""Layers that rearrange numbers without changing them: ``Flatten`` and ``Reshape``."""

from __future__ import annotations

import math
from typing import Any

from glassnet import ops
from glassnet.checks import is_int
from glassnet.layers.layer import InputSpec, Layer, Shape
from glassnet.tensor import Tensor

__all__ = ["Flatten", "Reshape"]


class Flatten(Layer):
    """Lays each sample out as one long row of features, so a ``Dense`` layer can follow
    convolutions: a 7×7×5 feature map becomes 245 features.

    The batch axis is kept. The order is row-major over (height, width, channels), the order
    Keras uses, so Dense weights trained there line up with glassnet's.

    Shape:
        Input: ``(batch, d1, d2, ...)``. Output: ``(batch, d1·d2·...)``; ``(batch, 1)`` for a
        1-D input.
    """

    trains_in_shares = True  # see Layer.trains_in_shares

    def __init__(self, *, name: str | None = None, trainable: bool = True) -> None:
        super().__init__(name=name, trainable=trainable)
        self.input_spec = InputSpec(min_ndim=1)

    def call(self, x: Tensor, training: bool = False) -> Tensor:
        if x.ndim == 1:
            return ops.reshape(x, (x.shape[0], 1))
        return ops.flatten(x, start_dim=1)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        shape = self._check_input_shape(input_shape)
        rest = shape[1:]
        return (shape[0], None if None in rest else math.prod(rest))


class Reshape(Layer):
    """Gives each sample a new shape holding the same numbers, e.g. 784 pixels -> (28, 28, 1).

    Args:
        target_shape: the new shape of one sample (without the batch axis); one entry may be
            -1, meaning "whatever is left".

    Shape:
        Input: ``(batch, ...)``. Output: ``(batch, *target_shape)``.
    """

    trains_in_shares = True  # see Layer.trains_in_shares
    _config_keys = ("target_shape",)

    def __init__(
        self, target_shape: tuple[int, ...], *, name: str | None = None, trainable: bool = True
    ) -> None:
        super().__init__(name=name, trainable=trainable)
        if is_int(target_shape):
            target_shape = (target_shape,)
        ok = isinstance(target_shape, (tuple, list)) and all(
            is_int(d) and (d > 0 or d == -1) for d in target_shape
        )
        if not ok or list(target_shape).count(-1) > 1:
            raise ValueError(
                f"Reshape: 'target_shape' must be a tuple of positive integers with at most one "
                f"-1. Received: target_shape={target_shape!r}"
            )
        self.target_shape = tuple(int(d) for d in target_shape)
        self.input_spec = InputSpec(min_ndim=1)

    def call(self, x: Tensor, training: bool = False) -> Tensor:
        return ops.reshape(x, (x.shape[0], *self.target_shape))

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        shape = self._check_input_shape(input_shape)
        return (shape[0], *self._resolve(shape))

    def _check_input_shape(self, input_shape: Any) -> Shape:
        shape = super()._check_input_shape(input_shape)
        self._resolve(shape)
        return shape

    def _resolve(self, shape: Shape) -> tuple[int | None, ...]:
        """``target_shape`` with -1 replaced by the size it must have (None if unknown)."""
        values = None if None in shape[1:] else math.prod(shape[1:])
        known = math.prod(d for d in self.target_shape if d != -1)
        if values is None:
            return tuple(None if d == -1 else d for d in self.target_shape)
        fits = values % known == 0 if -1 in self.target_shape else values == known
        if not fits:
            raise ValueError(
                f"{self._where}: cannot reshape input shape {shape} ({values} values per sample) "
                f"into target_shape {self.target_shape}"
                f"{'' if -1 in self.target_shape else f' ({known} values)'}. The number of "
                f"values per sample must stay the same."
            )
        return tuple(values // known if d == -1 else d for d in self.target_shape)
