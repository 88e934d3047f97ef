"""Preprocessing inside the model: ``Rescaling`` turns 0–255 pixels into 0–1 inputs."""

from __future__ import annotations

from glassnet.checks import check_number
from glassnet.layers.layer import Layer, Shape
from glassnet.tensor import Tensor

__all__ = ["Rescaling"]


class Rescaling(Layer):
    """Multiplies by ``scale`` and adds ``offset``: ``Rescaling(1 / 255)`` maps pixels to
    [0, 1], ``Rescaling(1 / 127.5, offset=-1)`` to [−1, 1].

    Putting it first in a model means a saved model takes raw pixels, so whoever serves it
    cannot forget the scaling.

    Args:
        scale: the factor. offset: the amount added after scaling.

    Shape:
        Output like the input (float32, also for uint8 images).
    """

    trains_in_shares = True  # see Layer.trains_in_shares
    _config_keys = ("scale", "offset")

    def __init__(
        self,
        scale: float,
        offset: float = 0.0,
        *,
        name: str | None = None,
        trainable: bool = True,
    ) -> None:
        super().__init__(name=name, trainable=trainable)
        self.scale = check_number("Rescaling", "scale", scale)
        self.offset = check_number("Rescaling", "offset", offset)

    def call(self, x: Tensor, training: bool = False) -> Tensor:
        y = x * self.scale
        return y if self.offset == 0.0 else y + self.offset

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return self._check_input_shape(input_shape)
