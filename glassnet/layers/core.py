"""The core layers: ``Input``, ``Dense`` (a fully connected layer of neurons), ``Activation``,
``Dropout`` and ``ActivityRegularization``."""

from __future__ import annotations

from typing import Any

import numpy as np

from glassnet import activations, initializers, ops, regularizers
from glassnet.backend import get_rng
from glassnet.checks import check_bool, check_number, check_positive_int, check_seed, is_int
from glassnet.layers.layer import InputSpec, Layer, Shape
from glassnet.layers.node import KerasTensor, Node
from glassnet.tensor import Tensor

__all__ = [
    "Activation",
    "ActivityRegularization",
    "Dense",
    "Dropout",
    "Input",
    "InputLayer",
    "Masking",
]


class InputLayer(Layer):
    """The entry point of a model: it fixes the shape of one sample and passes data through.

    A ``Sequential`` model starting with ``Input((28, 28, 1))`` knows every layer's shape before
    seeing data, so it can build the weights and print a summary at once.

    Args:
        shape: the shape of one sample, without the batch axis, e.g. ``(28, 28, 1)``; None for
            a size that may vary.
        batch_size: a fixed batch size, or None (any).
        dtype: the data's type, "float32" by default; an integer type ("int32") for token
            ids, which the layer then passes on as integers; "string" for texts (NumPy
            object arrays of str), which go to StringLookup or TextVectorization.

    Shape:
        Input: ``(batch_size, *shape)``. Output: the same.
    """

    trains_in_shares = True  # see Layer.trains_in_shares

    def __init__(
        self,
        shape: tuple[int | None, ...],
        batch_size: int | None = None,
        dtype: str | None = None,
        *,
        name: str | None = None,
        trainable: bool = True,
    ) -> None:
        super().__init__(name=name, trainable=trainable)
        where = type(self).__name__
        try:
            # Keras's "string" (text for StringLookup, TextVectorization): NumPy object arrays.
            self.dtype = np.dtype("object" if dtype == "string" else dtype or "float32").name
        except TypeError:
            raise TypeError(
                f"{where}: 'dtype' must name a NumPy type such as 'float32' or 'int32'. "
                f"Received: dtype={dtype!r}"
            ) from None
        if is_int(shape):
            shape = (shape,)
        if not isinstance(shape, (tuple, list)) or not all(
            d is None or (is_int(d) and d > 0) for d in shape
        ):
            raise ValueError(
                f"{where}: 'shape' must be a tuple of positive integers (or None), the shape of "
                f"one sample without the batch axis, e.g. shape=(28, 28, 1). Received: "
                f"shape={shape!r}"
            )
        if batch_size is not None:
            batch_size = check_positive_int(where, "batch_size", batch_size)
        self.sample_shape = tuple(None if d is None else int(d) for d in shape)
        self.batch_size = batch_size
        self.input_spec = InputSpec(ndim=len(self.sample_shape) + 1)
        self.input_shape = (None, *self.sample_shape)
        self.built = True
        # Its one "call": it makes the functional graph's starting tensor (``Input`` returns it).
        tensor = KerasTensor(self.shape, self.dtype, self, 0, 0, name=self.name)
        self.__dict__["_inbound_nodes"] = [Node(self, [], [tensor])]

    @property
    def shape(self) -> Shape:
        """``(batch_size, *shape)``: the shape of the batches this model accepts."""
        return (self.batch_size, *self.sample_shape)

    def _check_input_shape(self, input_shape: Any) -> Shape:
        shape = super()._check_input_shape(input_shape)
        fits = all(a is None or b is None or a == b for a, b in zip(shape, self.shape, strict=True))
        if not fits:
            raise ValueError(
                f"{self._where}: expected input shape {self.shape} (None = any size), received "
                f"{shape}. Resize the data or change Input(shape=...)."
            )
        return shape

    def __call__(self, inputs: Any, training: bool | None = None) -> Any:
        if not isinstance(inputs, Tensor) and np.dtype(self.dtype).kind in "iuO":
            inputs = Tensor(np.asarray(inputs, self.dtype))  # ids stay exact, texts texts
        return super().__call__(inputs, training=training)

    def call(self, x: Tensor, training: bool = False) -> Tensor:
        return x

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        shape = self._check_input_shape(input_shape)
        return tuple(a if a is not None else b for a, b in zip(shape, self.shape, strict=True))

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update({"shape": self.sample_shape, "batch_size": self.batch_size})
        if self.dtype != "float32":
            config["dtype"] = self.dtype
        return config


def Input(
    shape: tuple[int | None, ...] | None = None,
    batch_size: int | None = None,
    dtype: str | None = None,
    name: str | None = None,
    batch_shape: tuple[int | None, ...] | None = None,
) -> KerasTensor:
    """Declare the input of a model, Keras style: ``inputs = Input((28, 28, 1))``.

    Returns a symbolic ``KerasTensor`` of shape ``(batch_size, *shape)``: call layers on it and
    pass both ends to ``Model(inputs, outputs)`` (the functional API), or put it first in a
    ``Sequential`` to fix the input shape. Its ``InputLayer`` is ``tensor.layer``.
    ``batch_shape`` gives the batch size and the sample shape at once, ``(8, 28, 28, 1)``.
    """
    if batch_shape is not None:
        if shape is not None or batch_size is not None:
            raise ValueError("Input: give either shape (and batch_size) or batch_shape, not both.")
        batch_size, shape = batch_shape[0], tuple(batch_shape[1:])
    if shape is None:
        raise ValueError("Input: 'shape' is required, e.g. Input(shape=(28, 28, 1)).")
    return InputLayer(shape, batch_size, dtype, name=name).output


class Dense(Layer):
    """A fully connected layer: every output neuron takes a weighted sum of all the inputs,
    adds its bias and applies the activation, ``activation(x · kernel + bias)``.

    One neuron with weight 0.1 and bias 0.2 turns the input 0.5 into 0.5·0.1 + 0.2 = 0.25.

    Args:
        units: the number of neurons (output features).
        activation: an activation name ("relu", "softmax", ...) or function; None for none.
        use_bias: whether each neuron adds a bias.
        kernel_initializer, bias_initializer: how the weights start (see ``initializers``).
        kernel_regularizer, bias_regularizer: penalties on the weights added to the training
            loss (see ``regularizers``); activity_regularizer: one on the outputs.
        kernel_constraint, bias_constraint: projections applied after each update (see
            ``constraints``).

    Shape:
        Input: ``(batch, ..., in_features)``. Output: ``(batch, ..., units)``.
        Weights: ``kernel (in_features, units)``, ``bias (units,)``.

    Example:
        >>> layer = Dense(10, activation="softmax")
        >>> layer(np.zeros((32, 784))).shape
        (32, 10)
        >>> layer.kernel.shape, layer.count_params()
        ((784, 10), 7850)
    """

    supports_masking = True  # the mask of a sequence passes through (Keras 3)
    trains_in_shares = True  # see Layer.trains_in_shares

    def __init__(
        self,
        units: int,
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
        self.units = check_positive_int("Dense", "units", units)
        self.activation = activations.get(activation)
        self.use_bias = check_bool("Dense", "use_bias", use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self._keep_weight_options(
            kernel_regularizer=kernel_regularizer,
            bias_regularizer=bias_regularizer,
            kernel_constraint=kernel_constraint,
            bias_constraint=bias_constraint,
        )
        self.input_spec = InputSpec(min_ndim=2)

    def build(self, input_shape: Shape) -> None:
        in_features = input_shape[-1]
        if in_features is None:
            raise ValueError(
                f"{self._where}: the last axis of the input must be known to create the kernel. "
                f"Received input shape {input_shape}."
            )
        self.kernel = self.add_weight(
            "kernel",
            (in_features, self.units),
            self.kernel_initializer,
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
        )
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight(
                "bias",
                (self.units,),
                self.bias_initializer,
                regularizer=self.bias_regularizer,
                constraint=self.bias_constraint,
            )
        self.input_spec = InputSpec(min_ndim=2, axes={-1: in_features})

    def call(self, x: Tensor, training: bool = False) -> Tensor:
        if self.activation is ops.relu:  # the common case: ReLU in the linear op, in place
            return ops.linear(x, self.kernel, self.bias, relu=True)
        return self.activation(ops.linear(x, self.kernel, self.bias))

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        shape = self._check_input_shape(input_shape)
        return (*shape[:-1], self.units)

    def _axis_mismatch_message(self, shape: Shape, axis: int, expected: int) -> str:
        return (
            f"{self._where}: input {shape} does not match kernel {tuple(self.kernel.shape)}: "
            f"last input axis must be {expected}. Did you forget Flatten()?"
        )

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(
            {
                "units": self.units,
                "activation": activations.serialize(self.activation),
                "use_bias": self.use_bias,
                "kernel_initializer": initializers.serialize(self.kernel_initializer),
                "bias_initializer": initializers.serialize(self.bias_initializer),
            }
        )
        return config


class Activation(Layer):
    """Applies an activation function on its own, e.g. ``Activation("relu")`` after a
    ``BatchNormalization``.

    Args:
        activation: a name ("relu", "sigmoid", "softmax", ...) or a function of a Tensor.

    Shape:
        Output like the input.
    """

    supports_masking = True
    trains_in_shares = True  # see Layer.trains_in_shares

    def __init__(self, activation: Any, *, name: str | None = None, trainable: bool = True):
        super().__init__(name=name, trainable=trainable)
        self.activation = activations.get(activation)

    def call(self, x: Tensor, training: bool = False) -> Tensor:
        return self.activation(x)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return self._check_input_shape(input_shape)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config["activation"] = activations.serialize(self.activation)
        return config


class Dropout(Layer):
    """During training, zeroes a random fraction ``rate`` of the inputs and scales the rest by
    1/(1 − rate), so no neuron can rely on any single other one; at inference it does nothing.

    Args:
        rate: the fraction to drop, in [0, 1).
        seed: an int for its own random generator (repeatable masks), or None to use the
            engine's generator (``glassnet.backend.manual_seed`` makes that repeatable).
        noise_shape: Keras's: the mask's shape, 1 on the axes that share one draw and None
            (the input's size) elsewhere: ``(None, 1, 8)`` drops the same features at every
            time step of (batch, steps, 8) inputs. None: one draw per element.

    Shape:
        Output like the input.
    """

    supports_masking = True
    trains_in_shares = True  # see Layer.trains_in_shares
    _config_keys = ("rate", "seed", "noise_shape")

    def __init__(
        self,
        rate: float,
        seed: int | None = None,
        noise_shape: tuple[int | None, ...] | None = None,
        *,
        name: str | None = None,
        trainable: bool = True,
    ) -> None:
        super().__init__(name=name, trainable=trainable)
        self.rate = check_number("Dropout", "rate", rate, 0.0, 1.0, high_open=True)
        self.seed = check_seed("Dropout", seed)
        self._rng = None if seed is None else np.random.default_rng(self.seed)
        if noise_shape is not None and not (
            isinstance(noise_shape, (tuple, list))
            and all(d is None or (is_int(d) and d >= 1) for d in noise_shape)
        ):
            raise ValueError(
                f"Dropout: 'noise_shape' must be a tuple of positive sizes and None, one per "
                f"axis of the input, e.g. (None, 1, 8). Received: noise_shape={noise_shape!r}"
            )
        self.noise_shape = None if noise_shape is None else tuple(noise_shape)

    def call(self, x: Tensor, training: bool = False) -> Tensor:
        rng = self._rng if self._rng is not None else get_rng()
        return ops.dropout(x, self.rate, training=training, rng=rng, noise_shape=self.noise_shape)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return self._check_input_shape(input_shape)


class ActivityRegularization(Layer):
    """Passes its input through unchanged and adds ``l1·Σ|x| + l2·Σx²`` of it to the loss
    (``model.losses``): Keras's layer form of ``activity_regularizer``, a push towards small
    or sparse activations at one point of the network.

    Args:
        l1, l2: the penalties' factors, >= 0.

    Shape:
        Output like the input.
    """

    _config_keys = ("l1", "l2")

    def __init__(
        self, l1: float = 0.0, l2: float = 0.0, *, name: str | None = None, trainable: bool = True
    ) -> None:
        self.l1 = check_number("ActivityRegularization", "l1", l1, 0.0)
        self.l2 = check_number("ActivityRegularization", "l2", l2, 0.0)
        penalty = regularizers.L1L2(l1=self.l1, l2=self.l2)
        super().__init__(name=name, trainable=trainable, activity_regularizer=penalty)

    def call(self, x: Tensor, training: bool = False) -> Tensor:
        return x

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return self._check_input_shape(input_shape)


class Masking(Layer):
    """Marks the steps of a sequence whose features all equal ``mask_value`` as padding: the
    output carries a mask (``_keras_mask``, True at real steps) that the recurrent layers,
    attention and ``GlobalAveragePooling1D`` honour, and padding steps come out as zeros
    (Keras's ``Masking``), for sequences padded with a value rather than token 0.

    Args:
        mask_value: the padding value (0.0 by default).

    Shape:
        Input ``(batch, steps, features)`` (any rank ≥ 2). Output like the input; the mask is
        ``(batch, steps)``.
    """

    trains_in_shares = True  # see Layer.trains_in_shares

    def __init__(
        self, mask_value: float = 0.0, *, name: str | None = None, trainable: bool = True
    ) -> None:
        super().__init__(name=name, trainable=trainable)
        self.mask_value = check_number("Masking", "mask_value", mask_value)
        self.input_spec = InputSpec(min_ndim=2)

    def call(self, x: Tensor, training: bool = False) -> Tensor:
        mask = self.compute_mask(x)
        out = x * ops.cast(ops.expand_dims(mask, -1), x.dtype)  # padding steps become zeros
        out._keras_mask = mask
        return out

    def compute_mask(self, inputs: Any, mask: Any = None) -> Tensor:
        """True at the steps with a feature other than ``mask_value`` (an op, so a replayed
        step computes it from each batch). Shape: the input's without the last axis."""
        return ops.step_mask(inputs, self.mask_value)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return self._check_input_shape(input_shape)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config["mask_value"] = self.mask_value
        return config
