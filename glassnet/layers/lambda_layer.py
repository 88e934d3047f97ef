"""``Lambda``: any Python function on Tensors as a layer, and ``register_lambda``, the registry
that lets a model holding one be saved.

A model file never carries code (``glassnet/models/saving.py``): Keras saves a Lambda's
function as Python bytecode, which runs whatever it says when the file is loaded. glassnet
saves only a name instead. Register the function under that name, in the program that saves
and in the one that loads::

    @layers.register_lambda("squared")
    def squared(x):
        return x * x

    model = Sequential([layers.Input((4,)), layers.Lambda(squared), layers.Dense(1)])
    model.save("m.glassnet")      # config.json says {"function": "squared"}
    load_model("m.glassnet")      # finds "squared" in the registry (import it first)

A Lambda whose function is not registered works like any layer, but saving its model raises
an error naming the layer and this decorator.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from glassnet.checks import is_int
from glassnet.layers.layer import Layer
from glassnet.layers.node import KerasTensor
from glassnet.tensor import Tensor, no_grad

__all__ = ["Lambda", "register_lambda", "registered_lambda"]

#: Registered name -> function (filled by ``register_lambda``).
_LAMBDAS: dict[str, Callable[..., Any]] = {}


def register_lambda(name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator: file a function under ``name`` so a ``Lambda`` holding it can be saved (as
    that name) and loaded (looked up by it). Returns the function unchanged.

    Registering another function under a taken name replaces it (a notebook cell run again).
    """
    if not isinstance(name, str) or not name:
        raise TypeError(
            f"register_lambda: 'name' must be a non-empty string, the name the model file "
            f"records. Received: name={name!r}"
        )

    def file(function: Callable[..., Any]) -> Callable[..., Any]:
        if not callable(function):
            raise TypeError(
                f"register_lambda({name!r}): expected a function. Received "
                f"{type(function).__name__}."
            )
        _LAMBDAS[name] = function
        return function

    return file


def registered_lambda(function: Callable[..., Any]) -> str | None:
    """The name ``function`` is registered under, or None."""
    return next((name for name, f in _LAMBDAS.items() if f is function), None)


class Lambda(Layer):
    """Runs ``function(inputs)`` as a layer: a small computation without writing a class.

    The function receives the input Tensor (a list of Tensors for several inputs) and must
    return a Tensor built from glassnet ops, so gradients flow through it and ``fit``'s replay
    records it like any layer (its Python runs on the first batches of a shape only: keep it
    free of checks on the data's values).

    Args:
        function: a function of Tensors, or the name it was registered under
            (``register_lambda``). Only a registered function can be saved with a model.
        output_shape: the output's shape without the batch axis, if the function cannot be run
            on a dummy batch to find it; None: found by running it on zeros.

    Shape:
        Whatever the function returns.
    """

    def __init__(
        self,
        function: Callable[..., Any] | str,
        output_shape: tuple[int | None, ...] | None = None,
        *,
        name: str | None = None,
        trainable: bool = True,
    ) -> None:
        super().__init__(name=name, trainable=trainable)
        if isinstance(function, str):
            if function not in _LAMBDAS:
                known = ", ".join(repr(n) for n in sorted(_LAMBDAS)) or "none"
                raise ValueError(
                    f"Lambda: no function is registered as {function!r} (registered: {known}). "
                    f"Import the module that defines it with @register_lambda({function!r}) "
                    "before loading the model."
                )
            function = _LAMBDAS[function]
        if not callable(function):
            raise TypeError(
                f"Lambda: 'function' must be a function or a registered name. Received "
                f"{type(function).__name__}."
            )
        self.function = function
        if output_shape is not None:
            if is_int(output_shape):
                output_shape = (output_shape,)
            if not isinstance(output_shape, (tuple, list)) or not all(
                d is None or (is_int(d) and d > 0) for d in output_shape
            ):
                raise ValueError(
                    "Lambda: 'output_shape' must be a tuple of positive integers (or None), the "
                    f"output's shape without the batch axis. Received: output_shape="
                    f"{output_shape!r}"
                )
            output_shape = tuple(output_shape)
        self.output_shape = output_shape

    def __call__(self, inputs: Any, training: bool | None = None) -> Any:
        # A list of tensors is several inputs (as for Add); anything else is one input.
        multi = isinstance(inputs, (list, tuple)) and any(
            isinstance(item, (Tensor, KerasTensor, np.ndarray)) for item in inputs
        )
        self.__dict__["_multi_input"] = multi  # the input's structure, not a config change
        return super().__call__(inputs, training=training)

    def call(self, inputs: Any, training: bool = False) -> Any:
        out = self.function(inputs)
        outs = out if isinstance(out, (list, tuple)) else [out]
        if not all(isinstance(o, Tensor) for o in outs):
            kinds = ", ".join(sorted({type(o).__name__ for o in outs}))
            raise TypeError(
                f"{self._where}: the function must return a Tensor made by glassnet ops (so "
                f"gradients can flow), not {kinds}. Use glassnet.ops or Tensor methods "
                "instead of NumPy functions."
            )
        return out

    def compute_output_shape(self, input_shape: Any) -> Any:
        multi = isinstance(input_shape, list)
        shapes = input_shape if multi else [input_shape]
        batch = shapes[0][0] if shapes and len(shapes[0]) else None
        if self.output_shape is not None:
            return (batch, *self.output_shape)
        zeros = [Tensor(np.zeros([1 if d is None else d for d in s], np.float32)) for s in shapes]
        with no_grad():
            out = self.function(zeros if multi else zeros[0])
        outs = out if isinstance(out, (list, tuple)) else [out]
        found = [(batch, *tuple(o.shape)[1:]) for o in outs]
        return found if isinstance(out, (list, tuple)) else found[0]

    def get_config(self) -> dict[str, Any]:
        name = registered_lambda(self.function)
        if name is None:
            label = getattr(self.function, "__name__", type(self.function).__name__)
            raise NotImplementedError(
                f"{self._where}: cannot save its function {label!r}: a model file never carries "
                "code. Register the function by name, in the program that saves and in the one "
                f'that loads: @glassnet.layers.register_lambda("{label}") above its def (or '
                f'register_lambda("{label}")({label})), or write a Layer subclass.'
            )
        config = super().get_config() | {"function": name}
        config["output_shape"] = None if self.output_shape is None else list(self.output_shape)
        return config
