"""Normalization layers: keep activations near zero mean and unit variance (or unit length).

``BatchNormalization`` takes its statistics over the batch; ``LayerNormalization`` and
``GroupNormalization`` over each sample on its own (the same in training and inference, at any
batch size); ``UnitNormalization`` scales each sample's vectors to length 1.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from glassnet import initializers, ops
from glassnet.checks import check_bool, check_number
from glassnet.layers.layer import InputSpec, Layer, Shape
from glassnet.tensor import Tensor

__all__ = [
    "BatchNormalization",
    "GroupNormalization",
    "LayerNormalization",
    "UnitNormalization",
]


def _integer(where: str, arg: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{where}: '{arg}' must be an integer. Received: {arg}={value!r}")
    return int(value)


class _Normalization(Layer):
    """What the normalizations with a learned scale ``gamma`` and shift ``beta`` share
    (BatchNormalization, LayerNormalization, GroupNormalization): Keras's ``epsilon``,
    ``center``, ``scale`` and the two weights' initializers, regularizers and constraints,
    checked and kept once, the weights made at build, and the output shape (the input's).

    Each public class spells its Keras arguments out and hands them on with
    ``super().__init__(locals())``, then checks its own (``axis``, ``momentum``, ``groups``...).
    """

    trains_in_shares = True  # see Layer.trains_in_shares

    def __init__(self, arguments: Mapping[str, Any]) -> None:
        args = {k: v for k, v in arguments.items() if k not in ("self", "__class__")}
        super().__init__(
            name=args["name"],
            trainable=args["trainable"],
            activity_regularizer=args["activity_regularizer"],
        )
        where = type(self).__name__
        self.epsilon = check_number(where, "epsilon", args["epsilon"], 0.0, low_open=True)
        self.center = check_bool(where, "center", args["center"])
        self.scale = check_bool(where, "scale", args["scale"])
        self.beta_initializer = initializers.get(args["beta_initializer"])
        self.gamma_initializer = initializers.get(args["gamma_initializer"])
        self._keep_weight_options(
            beta_regularizer=args["beta_regularizer"],
            gamma_regularizer=args["gamma_regularizer"],
            beta_constraint=args["beta_constraint"],
            gamma_constraint=args["gamma_constraint"],
        )
        self.input_spec = InputSpec(min_ndim=2)

    def _channels(self, input_shape: Shape, axis_role: str) -> int:
        """The channels of a channels-last input: ``axis`` must be the last one, and known."""
        ndim = len(input_shape)
        if not -ndim <= self.axis < ndim or self.axis % ndim != ndim - 1:
            raise ValueError(
                f"{self._where}: only the last axis can {axis_role} (glassnet is "
                f"channels-last). Received axis={self.axis} for input shape {input_shape}. "
                f"Use axis=-1."
            )
        channels = input_shape[-1]
        if channels is None:
            raise ValueError(
                f"{self._where}: the number of channels must be known to create the weights. "
                f"Received input shape {input_shape}."
            )
        return channels

    def _add_scale_and_shift(self, shape: tuple[int, ...], scale: bool, center: bool) -> None:
        """``gamma`` (if ``scale``), then ``beta`` (if ``center``), each with its Keras
        options; the one not made is None."""
        for name, wanted in (("gamma", scale), ("beta", center)):
            weight = None
            if wanted:
                weight = self.add_weight(
                    name,
                    shape,
                    getattr(self, f"{name}_initializer"),
                    regularizer=getattr(self, f"{name}_regularizer"),
                    constraint=getattr(self, f"{name}_constraint"),
                )
            setattr(self, name, weight)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return self._check_input_shape(input_shape)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(
            {
                "epsilon": self.epsilon,
                "center": self.center,
                "scale": self.scale,
                "beta_initializer": initializers.serialize(self.beta_initializer),
                "gamma_initializer": initializers.serialize(self.gamma_initializer),
            }
        )
        return config


class BatchNormalization(_Normalization):
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

    _config_keys = ("axis", "momentum")

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
        super().__init__(locals())
        where = "BatchNormalization"
        self.axis = _integer(where, "axis", axis)
        self.momentum = check_number(where, "momentum", momentum, 0.0, 1.0)
        self.moving_mean_initializer = initializers.get(moving_mean_initializer)
        self.moving_variance_initializer = initializers.get(moving_variance_initializer)

    def build(self, input_shape: Shape) -> None:
        channels = self._channels(input_shape, "be normalised")
        shape = (channels,)
        self._add_scale_and_shift(shape, self.scale, self.center)
        self.moving_mean = self.add_weight(
            "moving_mean", shape, self.moving_mean_initializer, trainable=False
        )
        self.moving_variance = self.add_weight(
            "moving_variance", shape, self.moving_variance_initializer, trainable=False
        )
        self.input_spec = InputSpec(ndim=len(input_shape), axes={-1: channels})

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

    def _axis_mismatch_message(self, shape: Shape, axis: int, expected: int) -> str:
        return (
            f"{self._where}: input has {shape[-1]} channels on the last axis but the layer was "
            f"built for {expected} (input shape {shape}). Rebuild the layer or fix the input."
        )

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(
            {
                "moving_mean_initializer": initializers.serialize(self.moving_mean_initializer),
                "moving_variance_initializer": initializers.serialize(
                    self.moving_variance_initializer
                ),
            }
        )
        return config


def _check_axis(where: str, axis: Any) -> int | list[int]:
    """Keras's ``axis``: an int, or a list of ints (a tuple becomes a list, as in Keras)."""
    items = list(axis) if isinstance(axis, (list, tuple)) else [axis]
    if not items or any(isinstance(a, bool) or not isinstance(a, (int, np.integer)) for a in items):
        raise TypeError(
            f"{where}: 'axis' must be an int or a non-empty list of ints. Received: axis={axis!r}"
        )
    return [int(a) for a in items] if isinstance(axis, (list, tuple)) else int(axis)


def _resolve_axes(where: str, axis: int | list[int], input_shape: Shape) -> list[int]:
    """``axis`` as non-negative axes of ``input_shape``, in the given order; never the batch."""
    ndim = len(input_shape)
    items = axis if isinstance(axis, list) else [axis]
    axes = [a % ndim for a in items if -ndim <= a < ndim]
    if len(axes) != len(items) or len(set(axes)) != len(axes) or 0 in axes:
        raise ValueError(
            f"{where}: 'axis' must name distinct axes of the input other than the batch axis. "
            f"Received axis={axis} for input shape {input_shape}."
        )
    return axes


class LayerNormalization(_Normalization):
    """Normalises each sample over ``axis`` (its features) to zero mean and unit variance, then
    scales by ``gamma`` and shifts by ``beta`` (Ba et al., 2016): the normalisation of
    transformers and recurrent networks, where batch statistics are unusable or unwanted.
    Training and inference compute the same thing.

    Args:
        axis: the axis or list of axes normalised (never the batch axis); -1, the last.
        epsilon: added to the variance to avoid dividing by zero.
        center: learn a shift ``beta``. scale: learn a scale ``gamma``.
        rms_scaling: Keras's faster variant: y = γ · x/√(σ² + ε), no centring of the output
            and no ``beta`` (``center`` is then ignored, ``gamma`` always made); σ² is the
            variance about the mean, as Keras computes it.
        beta_initializer, gamma_initializer: how the weights start (zeros, ones).
        beta_regularizer, gamma_regularizer, activity_regularizer: penalties added to the
            loss. beta_constraint, gamma_constraint: projections after each update.

    Shape:
        Input: ``(batch, ...)``; output the same. Weights ``gamma``, ``beta``: the sizes of
        the normalised axes, in the order of ``axis`` (``(features,)`` by default).
    """

    supports_masking = True
    _config_keys = ("axis", "rms_scaling")

    def __init__(
        self,
        axis: int | list[int] = -1,
        epsilon: float = 0.001,
        center: bool = True,
        scale: bool = True,
        rms_scaling: bool = False,
        beta_initializer: Any = "zeros",
        gamma_initializer: Any = "ones",
        beta_regularizer: Any = None,
        gamma_regularizer: Any = None,
        activity_regularizer: Any = None,
        beta_constraint: Any = None,
        gamma_constraint: Any = None,
        *,
        name: str | None = None,
        trainable: bool = True,
    ) -> None:
        super().__init__(locals())
        self.axis = _check_axis("LayerNormalization", axis)
        self.rms_scaling = check_bool("LayerNormalization", "rms_scaling", rms_scaling)

    def build(self, input_shape: Shape) -> None:
        axes = _resolve_axes(self._where, self.axis, input_shape)
        shape = tuple(input_shape[a] for a in axes)
        if None in shape:
            raise ValueError(
                f"{self._where}: the normalised axes {self.axis} must have known sizes to "
                f"create the weights. Received input shape {input_shape}."
            )
        self._add_scale_and_shift(
            shape, self.scale or self.rms_scaling, self.center and not self.rms_scaling
        )
        self.input_spec = InputSpec(ndim=len(input_shape), axes={a: input_shape[a] for a in axes})

    def call(self, x: Tensor, training: bool = False) -> Tensor:
        return ops.layer_norm(
            x,
            self.gamma,
            self.beta,
            axis=_resolve_axes(self._where, self.axis, x.shape),
            epsilon=self.epsilon,
            rms_scaling=self.rms_scaling,
        )


class GroupNormalization(_Normalization):
    """Splits the channels into ``groups`` groups and normalises each sample's group over its
    channels and every position, then scales and shifts per channel (Wu & He, 2018): batch
    normalisation's benefits without its dependence on the batch, for small batches.
    ``groups=1`` is layer normalisation over all but the batch; ``groups=-1`` (one channel a
    group) is instance normalisation.

    Args:
        groups: how many groups; must divide the number of channels. -1: one per channel.
        axis: the channel axis; only the last (-1, channels-last) is supported.
        epsilon, center, scale, beta_initializer, gamma_initializer, beta_regularizer,
            gamma_regularizer, activity_regularizer, beta_constraint, gamma_constraint: as
            for ``LayerNormalization``.

    Shape:
        Input: ``(batch, ..., channels)``; output the same. Weights ``gamma``, ``beta``:
        ``(channels,)``.
    """

    _config_keys = ("groups", "axis")

    def __init__(
        self,
        groups: int = 32,
        axis: int = -1,
        epsilon: float = 0.001,
        center: bool = True,
        scale: bool = True,
        beta_initializer: Any = "zeros",
        gamma_initializer: Any = "ones",
        beta_regularizer: Any = None,
        gamma_regularizer: Any = None,
        activity_regularizer: Any = None,
        beta_constraint: Any = None,
        gamma_constraint: Any = None,
        *,
        name: str | None = None,
        trainable: bool = True,
    ) -> None:
        super().__init__(locals())
        where = "GroupNormalization"
        self.groups = _integer(where, "groups", groups)
        if groups == 0 or groups < -1:
            raise ValueError(
                f"{where}: 'groups' must be a positive integer (or -1, one group per channel). "
                f"Received: groups={groups}"
            )
        self.axis = _integer(where, "axis", axis)

    def build(self, input_shape: Shape) -> None:
        channels = self._channels(input_shape, "hold the channels")
        groups = self._groups(channels)
        if groups > channels or channels % groups:
            raise ValueError(
                f"{self._where}: groups={groups} must divide the number of channels "
                f"({channels}) into groups of equal size. Received input shape {input_shape}. "
                f"Use a divisor of {channels}, such as {_largest_divisor(channels, groups)}."
            )
        self._add_scale_and_shift((channels,), self.scale, self.center)
        self.input_spec = InputSpec(ndim=len(input_shape), axes={-1: channels})

    def _groups(self, channels: int) -> int:
        return channels if self.groups == -1 else self.groups

    def call(self, x: Tensor, training: bool = False) -> Tensor:
        groups = self._groups(x.shape[-1])
        return ops.group_norm(x, groups, self.gamma, self.beta, epsilon=self.epsilon)


def _largest_divisor(n: int, at_most: int) -> int:
    return max(d for d in range(1, min(n, at_most) + 1) if n % d == 0)


class UnitNormalization(Layer):
    """Scales each sample's vector along ``axis`` to unit L2 length: x / ‖x‖₂ (as Keras, the
    length is taken as at least 1e-6, so an all-zero vector stays zero). Used before cosine
    similarities and on embeddings. No weights.

    Args:
        axis: the axis or list of axes that make one vector (never the batch axis).

    Shape:
        Input: ``(batch, ...)``; output the same.
    """

    trains_in_shares = True  # each sample on its own
    _config_keys = ("axis",)

    def __init__(
        self, axis: int | list[int] = -1, *, name: str | None = None, trainable: bool = True
    ) -> None:
        super().__init__(name=name, trainable=trainable)
        self.axis = _check_axis("UnitNormalization", axis)
        self.input_spec = InputSpec(min_ndim=2)

    def call(self, x: Tensor, training: bool = False) -> Tensor:
        axes = _resolve_axes(self._where, self.axis, x.shape)
        return ops.normalize(x, axis=tuple(axes), epsilon=1e-6)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        shape = self._check_input_shape(input_shape)
        _resolve_axes(self._where, self.axis, shape)
        return shape
