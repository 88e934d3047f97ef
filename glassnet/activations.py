"""Activation functions by name: ``Dense(64, activation="relu")`` looks its function up here.

The functions themselves are the differentiable ops in ``glassnet/ops/activation.py``; this
module only maps Keras's names to them (``get``) and back (``serialize``), so a layer's config can
say ``"relu"`` in a JSON file and be rebuilt from it without executing anything.
"""

from __future__ import annotations

from collections.abc import Callable

from glassnet.ops.activation import (
    elu,
    gelu,
    hard_sigmoid,
    hard_silu,
    leaky_relu,
    log_softmax,
    mish,
    relu,
    relu6,
    selu,
    sigmoid,
    silu,
    softmax,
    softplus,
    softsign,
    tanh,
)
from glassnet.ops.elementwise import exp as exponential
from glassnet.tensor import Tensor

__all__ = [
    "deserialize",
    "elu",
    "exponential",
    "gelu",
    "get",
    "hard_sigmoid",
    "hard_silu",
    "hard_swish",
    "leaky_relu",
    "linear",
    "log_softmax",
    "mish",
    "relu",
    "relu6",
    "selu",
    "serialize",
    "sigmoid",
    "silu",
    "softmax",
    "softplus",
    "softsign",
    "swish",
    "tanh",
]

#: Keras 3's second names: the same functions (a config saved with either name loads, and
#: ``serialize`` writes the first name, "silu" / "hard_silu", as Keras does).
swish = silu
hard_swish = hard_silu


def linear(x: Tensor) -> Tensor:
    """The identity, f(x) = x: what a layer does with ``activation=None``."""
    return x


#: Keras name -> function. A layer's config stores the name, never the function.
_ACTIVATIONS: dict[str, Callable[..., Tensor]] = {
    "relu": relu,
    "sigmoid": sigmoid,
    "tanh": tanh,
    "softmax": softmax,
    "log_softmax": log_softmax,
    "leaky_relu": leaky_relu,
    "gelu": gelu,
    "linear": linear,
    "silu": silu,
    "swish": silu,
    "elu": elu,
    "selu": selu,
    "softplus": softplus,
    "softsign": softsign,
    "mish": mish,
    "relu6": relu6,
    "hard_sigmoid": hard_sigmoid,
    "hard_silu": hard_silu,
    "hard_swish": hard_silu,
    "exponential": exponential,
}


def get(identifier: str | Callable[..., Tensor] | None) -> Callable[..., Tensor]:
    """The activation function for ``identifier``: a name (``"relu"``), a callable (returned as
    is) or ``None`` (the identity, ``linear``)."""
    if identifier is None:
        return linear
    if isinstance(identifier, str):
        return deserialize(identifier)
    if callable(identifier):
        return identifier
    raise TypeError(
        f"activations.get: expected a name such as 'relu', a function or None. "
        f"Received: {identifier!r} of type {type(identifier).__name__}"
    )


def serialize(activation: Callable[..., Tensor]) -> str:
    """The name of a known activation function (``serialize(ops.relu) == "relu"``)."""
    for name, fn in _ACTIVATIONS.items():
        if fn is activation:
            return name
    raise ValueError(
        f"activations.serialize: {activation!r} is not a named activation, so it cannot be "
        f"saved in a config. Known activations: {', '.join(_ACTIVATIONS)}. Apply custom "
        f"maths in a Layer subclass instead."
    )


def deserialize(name: str) -> Callable[..., Tensor]:
    """The function for a Keras activation name; raises listing the known names."""
    key = name.lower() if isinstance(name, str) else name
    if key not in _ACTIVATIONS:
        raise ValueError(
            f"Unknown activation: {name!r}. Known activations: {', '.join(_ACTIVATIONS)}."
        )
    return _ACTIVATIONS[key]
