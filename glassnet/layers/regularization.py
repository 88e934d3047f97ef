"""Regularization by noise: ``SpatialDropout2D``, ``GaussianNoise``, ``GaussianDropout``.

Each perturbs its input during training only (``fit``) and passes it through untouched at
inference, like ``Dropout``. Every random number is drawn inside an op
(``glassnet/ops/dropout.py``), so a replayed training step draws afresh for each batch and
a batch trained in shares draws the whole batch's numbers. ``seed=None`` draws from the
engine's generator (``glassnet.backend.manual_seed`` makes a run repeatable); an integer gives
the layer its own ``numpy.random.Generator``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from glassnet import ops
from glassnet.backend import get_rng
from glassnet.checks import check_number, check_seed
from glassnet.layers.layer import InputSpec, Layer, Shape
from glassnet.tensor import Tensor

__all__ = ["GaussianDropout", "GaussianNoise", "SpatialDropout2D"]


class _NoiseLayer(Layer):
    """The seed and generator, and the output shape, shared by the three layers."""

    trains_in_shares = True  # see Layer.trains_in_shares

    def __init__(self, seed: Any, *, name: str | None, trainable: bool) -> None:
        super().__init__(name=name, trainable=trainable)
        self.seed = check_seed(type(self).__name__, seed)
        # Its own generator when seeded (checkpoints save every Generator attribute).
        self._rng = None if seed is None else np.random.default_rng(self.seed)

    def _generator(self) -> np.random.Generator:
        return self._rng if self._rng is not None else get_rng()

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return self._check_input_shape(input_shape)


class SpatialDropout2D(_NoiseLayer):
    """Dropout of whole feature maps: during training each channel of each image is zeroed
    with probability ``rate`` (the rest scaled by 1/(1 − rate)), every pixel of it at once.
    Neighbouring pixels of a feature map are so alike that dropping single ones hardly
    regularises; dropping whole channels does (Tompson et al., 2014).

    Args:
        rate: the fraction of channels dropped, in [0, 1).
        data_format: "channels_last" (or None, meaning it); glassnet images are channels-last.
        seed: an int for the layer's own generator, or None for the engine's.

    Shape:
        Input: ``(batch, height, width, channels)``; output the same. The mask is
        ``(batch, 1, 1, channels)``.
    """

    _config_keys = ("rate", "data_format", "seed")

    def __init__(
        self,
        rate: float,
        data_format: str | None = None,
        seed: int | None = None,
        *,
        name: str | None = None,
        trainable: bool = True,
    ) -> None:
        super().__init__(seed, name=name, trainable=trainable)
        self.rate = check_number("SpatialDropout2D", "rate", rate, 0.0, 1.0, high_open=True)
        if data_format not in (None, "channels_last"):
            raise ValueError(
                f"SpatialDropout2D: glassnet images are channels-last (batch, height, width, "
                f"channels). Received: data_format={data_format!r}. Use "
                f"data_format='channels_last' (or leave it out) and transpose the images."
            )
        self.data_format = "channels_last"
        self.input_spec = InputSpec(ndim=4, layout="(batch, height, width, channels)")

    def call(self, x: Tensor, training: bool = False) -> Tensor:
        noise_shape = (None, 1, 1, x.shape[-1])
        return ops.dropout(x, self.rate, training, self._generator(), noise_shape=noise_shape)


class GaussianNoise(_NoiseLayer):
    """Adds noise drawn from N(0, stddev²) to every input during training: a regulariser (a
    little like data augmentation for any input) that makes the model robust to small changes.

    Args:
        stddev: the noise's standard deviation, in [0, 1] (Keras's range).
        seed: an int for the layer's own generator, or None for the engine's.

    Shape:
        Output like the input.
    """

    _config_keys = ("stddev", "seed")

    def __init__(
        self,
        stddev: float,
        seed: int | None = None,
        *,
        name: str | None = None,
        trainable: bool = True,
    ) -> None:
        super().__init__(seed, name=name, trainable=trainable)
        self.stddev = check_number("GaussianNoise", "stddev", stddev, 0.0, 1.0)

    def call(self, x: Tensor, training: bool = False) -> Tensor:
        return ops.gaussian_noise(x, self.stddev, training, self._generator())


class GaussianDropout(_NoiseLayer):
    """Multiplies every input by noise drawn from N(1, rate/(1 − rate)) during training:
    dropout's mean and variance, with no unit silenced (Srivastava et al., 2014).

    Args:
        rate: dropout's rate the noise stands in for, in [0, 1).
        seed: an int for the layer's own generator, or None for the engine's.

    Shape:
        Output like the input.
    """

    _config_keys = ("rate", "seed")

    def __init__(
        self,
        rate: float,
        seed: int | None = None,
        *,
        name: str | None = None,
        trainable: bool = True,
    ) -> None:
        super().__init__(seed, name=name, trainable=trainable)
        self.rate = check_number("GaussianDropout", "rate", rate, 0.0, 1.0, high_open=True)

    def call(self, x: Tensor, training: bool = False) -> Tensor:
        return ops.gaussian_dropout(x, self.rate, training, self._generator())
