"""Sequential: a plain stack of layers, each feeding the next (Keras's ``Sequential``).

With an ``Input`` first, every layer's shape is worked out by arithmetic as layers are added,
so a wrong shape is reported at ``add()`` — naming the layer — before any data flows.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from typing import Any

from glassnet.layers import InputLayer, deserialize, serialize
from glassnet.layers.layer import Layer, snake_case
from glassnet.layers.node import KerasTensor
from glassnet.models.model import Model
from glassnet.tensor import Tensor

Shape = tuple[int | None, ...]


class Sequential(Model):
    """Layers applied one after the other: ``Sequential([Input((784,)), Dense(10)])``.

    Args:
        layers: the layers, in order; an ``Input(shape)`` first fixes the input shape so the
            model is built (and shape errors are found) immediately.
        name: the model's name.

    Example:
        >>> model = Sequential([Input((28, 28, 1)), Flatten(), Dense(10, activation="softmax")])
        >>> model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    """

    trains_in_shares = True  # its call applies only its layers (Layer.trains_in_shares)
    takes_several_inputs = False  # one input, passed from layer to layer

    def __init__(
        self, layers: Iterable[Layer] | None = None, name: str | None = None, trainable: bool = True
    ) -> None:
        super().__init__(name=name, trainable=trainable)
        self._stack: list[Layer] = []
        self._input_shape: Shape | None = None
        self._output_shape: Shape | None = None  # after the last layer, once the input is known
        object.__setattr__(self, "_input_layer", None)  # not a sub-layer: it has no weights
        for layer in layers or []:
            self.add(layer)

    def named_children(self) -> Iterator[tuple[str, Layer]]:
        """The layers under keys that depend only on the architecture: each class's snake_case
        name numbered within this model ("conv2d", "dense", "dense_1"). Layer names are
        numbered across the whole session, so two copies of one architecture would otherwise
        save weights under different keys and could not load each other's."""
        counts: dict[str, int] = {}
        for layer in self._stack:
            base = snake_case(type(layer).__name__)
            n = counts.get(base, 0)
            counts[base] = n + 1
            yield (base if n == 0 else f"{base}_{n}"), layer

    @property
    def layers(self) -> list[Layer]:
        """The layers in order (the ``Input`` excluded, as in Keras)."""
        return list(self._stack)

    def add(self, layer: Layer) -> None:
        """Append a layer; with a known input shape it is built (and checked) right away."""
        if isinstance(layer, KerasTensor) and isinstance(layer.layer, InputLayer):
            layer = layer.layer  # Input(shape) gives its layer's tensor, as in Keras
        if isinstance(layer, InputLayer):
            if self._stack or self._input_shape is not None:
                raise ValueError(
                    f"Sequential '{self.name}': an Input can only come first. Put "
                    f"Input({layer.shape[1:]}) at the start of the list."
                )
            self._input_shape = self._output_shape = tuple(layer.shape)
            object.__setattr__(self, "_input_layer", layer)
            return
        if not isinstance(layer, Layer):
            raise TypeError(
                f"Sequential '{self.name}'.add: expected a layer such as Dense(10). Received: "
                f"{layer!r} of type {type(layer).__name__}."
            )
        if any(other.name == layer.name for other in self._stack):
            raise ValueError(
                f"Sequential '{self.name}': all layers need unique names, and '{layer.name}' is "
                "already used in this model. Pass a different name=... to the new layer."
            )
        self._stack.append(layer)
        self._optimizer_built = False  # a new layer's weights must reach the optimizer
        if self._input_shape is not None:
            # Only the new layer needs building: the shape before it is already known.
            try:
                self._output_shape = self._chain(
                    self._output_shape, build=True, start=len(self._stack) - 1
                )
                self.built, self.input_shape = True, (None, *self._input_shape[1:])
            except Exception:
                self._stack.pop()
                raise

    def pop(self) -> Layer:
        """Remove and return the last layer (e.g. to replace a classifier head)."""
        if not self._stack:
            raise ValueError(f"Sequential '{self.name}': there is no layer to pop.")
        layer = self._stack.pop()
        self._optimizer_built = False
        if self._input_shape is not None:
            self._output_shape = self._chain(self._input_shape, build=False)
        if not self._stack:
            self.built = False
        return layer

    def _check_input_shape(self, input_shape: Any) -> Any:
        shape = super()._check_input_shape(input_shape)
        expected = self._input_shape
        if expected is not None and (
            len(shape) != len(expected)
            or any(e is not None and s != e for s, e in zip(shape[1:], expected[1:], strict=False))
        ):
            hint = " Add a batch axis: x[None]." if len(shape) == len(expected) - 1 else ""
            raise ValueError(
                f"Sequential '{self.name}': expects input shape {expected} (batch first), "
                f"received {tuple(shape)}.{hint}"
            )
        return shape

    def _chain(self, input_shape: Shape, build: bool, start: int = 0) -> Shape:
        """Walk the layers from ``start`` with shape arithmetic, building each if asked."""
        shape = tuple(input_shape)
        for index, layer in enumerate(self._stack[start:], start):
            try:
                if build and not layer.built:
                    layer.build(shape)
                shape = tuple(layer.compute_output_shape(shape))
            except ValueError as err:
                raise ValueError(
                    f"Sequential '{self.name}': layer {index} ({type(layer).__name__} "
                    f"'{layer.name}') cannot take input shape {shape}:\n  {err}"
                ) from err
        return shape

    def build(self, input_shape: Shape) -> None:
        """Build every layer for ``input_shape`` (batch first, may be None): no data needed."""
        self._chain(input_shape, build=True)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        """The output shape, by chaining each layer's shape arithmetic."""
        return self._chain(input_shape, build=False)

    def largest_activation(self, sample_shape: tuple[int, ...]) -> int | None:
        """Numbers in the largest layer output for one sample, by shape arithmetic (no data);
        None if a layer cannot take the shape (the forward pass then says why). Remembered per
        input shape and stack of layers: predict asks once per batch."""
        key = (tuple(sample_shape), tuple(map(id, self._stack)))
        cached = self.__dict__.get("_largest_activation")
        if cached is not None and cached[0] == key:
            return cached[1]
        shape, largest = (1, *sample_shape), math.prod(sample_shape)
        try:
            for layer in self._stack:
                shape = tuple(layer.compute_output_shape(shape))
                if isinstance(shape[0], tuple):  # a layer with several outputs
                    largest = None
                    break
                largest = max(largest, math.prod(shape[1:]))
        except (ValueError, TypeError):
            largest = None
        self.__dict__["_largest_activation"] = (key, largest)
        return largest

    def call(self, x: Tensor, training: bool = False) -> Tensor:
        """Run each layer on the output of the one before."""
        for layer in self._stack:
            x = layer(x, training=training)
        return x

    # ------------------------------------------------------------------ as a graph
    def _graph_ends(self) -> tuple[KerasTensor, Any]:
        """The stack called on a symbolic input, so that ``model.input``, ``model.output`` and
        each layer's ``output`` exist for the functional API (made once per stack)."""
        key = tuple(map(id, self._stack))
        cached = self.__dict__.get("_symbolic")
        if cached is not None and cached[0] == key:
            return cached[1]
        shape = self._input_shape if self._input_shape is not None else self.input_shape
        if shape is None:
            raise AttributeError(
                f"Sequential '{self.name}' has no symbolic input: it does not know its input "
                "shape. Start it with Input(shape) or call model.build((None, *shape))."
            )
        layer = self._input_layer or InputLayer(shape[1:])
        x = layer.output
        for inner in self._stack:
            x = inner(x)
        ends = (layer.output, x)
        self.__dict__["_symbolic"] = (key, ends)
        return ends

    @property
    def input(self) -> KerasTensor:
        """The symbolic input: ``Model(model.input, model.get_layer("conv3").output)`` builds
        a feature extractor from a trained stack, sharing its layers and weights."""
        return self._graph_ends()[0]

    @property
    def output(self) -> Any:
        """The symbolic output of the stack called on ``input``."""
        return self._graph_ends()[1]

    @property
    def inputs(self) -> list[KerasTensor]:
        """``[input]``, as Keras gives it."""
        return [self.input]

    @property
    def outputs(self) -> list[Any]:
        """``[output]``, as Keras gives it."""
        return [self.output]

    def get_layer(self, name: str | None = None, index: int | None = None) -> Layer:
        """A layer by name or position; its ``output`` is then ready for a functional model."""
        layer = super().get_layer(name, index)
        if self.built and layer in self._stack:
            self._graph_ends()
        return layer

    def extra_repr(self) -> str:
        shape = f"input_shape={self._input_shape}, " if self._input_shape is not None else ""
        return f"{shape}name={self.name!r}"

    def get_config(self) -> dict[str, Any]:
        """The layers' configs in order, plus the input shape when known (Keras's layout)."""
        layers = [serialize(layer) for layer in self._stack]
        if self._input_layer is not None:
            layers.insert(0, serialize(self._input_layer))
        return {"name": self.name, "trainable": self.trainable, "layers": layers}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Sequential:
        """A new Sequential model from ``get_config()``'s output (classes from the registry)."""
        config = dict(config)
        layers = [deserialize(item) for item in config.pop("layers", [])]
        return cls(layers, **config)
