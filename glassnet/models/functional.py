"""The functional API: ``Model(inputs, outputs)``, a network of layers wired by calling them on
symbolic tensors, as Keras builds every non-linear model::

    inputs = Input((32, 32, 3))
    x = Conv2D(16, 3, padding="same", activation="relu")(inputs)
    y = Conv2D(16, 3, padding="same")(x)
    outputs = Dense(10, activation="softmax")(Flatten()(layers.add([x, y])))
    model = Model(inputs, outputs)

Each layer call on a ``KerasTensor`` recorded a ``Node`` (``glassnet/layers/node.py``). The
model walks the nodes back from ``outputs`` once, puts them in an order where every node comes
after the nodes it takes from, and ``call`` runs them in that order on real data: each layer's
own ``__call__``, nothing else. Several inputs and outputs are lists (or dicts by name).

Saved, the graph is data: each layer's config and, for each of its calls, which outputs of which
layers it took (Keras's ``inbound_nodes``). Loading calls the layers again in that wiring;
nothing in the file is executed.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from typing import Any

from glassnet.checks import is_int
from glassnet.layers import InputLayer, deserialize, serialize
from glassnet.layers.layer import Layer, snake_case
from glassnet.layers.node import KerasTensor, Node
from glassnet.models.model import Model

__all__ = ["Functional"]

Shape = tuple[int | None, ...]


def _structure(value: Any, what: str) -> tuple[str | list[str] | None, list[KerasTensor]]:
    """How ``inputs``/``outputs`` were given (None: one tensor; a list of keys for a dict;
    ``[]`` for a list) and the tensors in order, each checked to be symbolic."""
    if isinstance(value, dict):
        keys: str | list[str] | None = list(value)
        tensors = [value[k] for k in value]
    elif isinstance(value, (list, tuple)):
        keys, tensors = [], list(value)
    else:
        keys, tensors = None, [value]
    if not tensors:
        raise ValueError(f"Model: '{what}' is empty. Pass the tensors from Input(...) and layers.")
    for tensor in tensors:
        if not isinstance(tensor, KerasTensor):
            raise TypeError(
                f"Model: every one of '{what}' must be a symbolic tensor (from Input(...) or a "
                f"layer called on one). Received {type(tensor).__name__}: {tensor!r}."
            )
    return keys, tensors


def _graph_nodes(outputs: list[KerasTensor], inputs: list[KerasTensor]) -> list[Node]:
    """The nodes that lead from ``inputs`` to ``outputs``, each after those it takes from."""
    order: list[Node] = []
    done: set[int] = set()
    sources = {id(t.node) for t in inputs}
    for tensor in outputs:
        stack: list[tuple[Node, bool]] = [(tensor.node, False)]
        while stack:
            node, expanded = stack.pop()
            if id(node) in done:
                continue
            if expanded or id(node) in sources:
                done.add(id(node))
                order.append(node)
                continue
            if isinstance(node.layer, InputLayer):
                raise ValueError(
                    f"Model: the outputs depend on Input '{node.layer.name}', which is not "
                    f"among the model's inputs ({', '.join(t.layer.name for t in inputs)}). "
                    "Pass it in 'inputs' too (Keras calls this a disconnected graph)."
                )
            stack.append((node, True))
            stack.extend((parent, False) for parent in reversed(node.parents))
    return order


class Functional(Model):
    """A model defined by its inputs and outputs: ``Model(inputs, outputs)``.

    Args:
        inputs: the ``Input(...)`` tensor, or a list (or dict by name) of them.
        outputs: the tensor(s) the layers called on them made: one, a list or a dict.
        name: the model's name.

    Shape:
        ``call`` takes one array (N, ...) per input (a list or dict for several) and returns
        one per output, in the structure the outputs were given in.
    """

    trains_in_shares = True  # its call applies only its layers (Layer.trains_in_shares)

    def __init__(
        self, inputs: Any, outputs: Any, name: str | None = None, trainable: bool = True
    ) -> None:
        super().__init__(name=name, trainable=trainable)
        input_keys, input_tensors = _structure(inputs, "inputs")
        output_keys, output_tensors = _structure(outputs, "outputs")
        for tensor in input_tensors:
            if not isinstance(tensor.layer, InputLayer):
                raise ValueError(
                    f"Model: every input must come straight from Input(...); {tensor!r} is the "
                    f"output of layer '{tensor.layer.name}'. To start a model there, give it "
                    "its own Input of that shape."
                )
        nodes = _graph_nodes(output_tensors, input_tensors)
        layers = [t.layer for t in input_tensors]
        seen = {id(layer) for layer in layers}
        for node in nodes:
            if id(node.layer) not in seen:  # a shared layer is listed once, at its first call
                seen.add(id(node.layer))
                layers.append(node.layer)
        names: dict[str, Layer] = {}
        for layer in layers:
            if names.setdefault(layer.name, layer) is not layer:
                raise ValueError(
                    f"Model: two layers are named '{layer.name}'. Every layer in a model needs "
                    "its own name; pass name=... to one of them."
                )
        nodes = [node for node in nodes if not isinstance(node.layer, InputLayer)]
        object.__setattr__(self, "_nodes", nodes)
        object.__setattr__(self, "_graph", (input_keys, input_tensors, output_keys, output_tensors))
        self._layers = layers  # tracked: the sub-layers whose weights the model holds
        self._multi_input = len(input_tensors) > 1
        shapes = [t.shape for t in input_tensors]
        self.input_shape = shapes[0] if len(shapes) == 1 else shapes
        self.built = True

    # ------------------------------------------------------------------ the graph
    @property
    def layers(self) -> list[Layer]:
        """Every layer in the graph, inputs first, each after the layers it takes from."""
        return list(self._layers)

    @property
    def inputs(self) -> list[KerasTensor]:
        """The model's input tensors, as a list."""
        return list(self._graph[1])

    @property
    def outputs(self) -> list[KerasTensor]:
        """The model's output tensors, as a list."""
        return list(self._graph[3])

    @property
    def input(self) -> Any:
        """The input tensor(s), in the structure they were given in (Keras's ``model.input``)."""
        keys, tensors = self._graph[0], self._graph[1]
        return _restructure(keys, tensors)

    @property
    def output(self) -> Any:
        """The output tensor(s), in the structure they were given in."""
        keys, tensors = self._graph[2], self._graph[3]
        return _restructure(keys, tensors)

    @property
    def input_names(self) -> list[str]:
        """The names of the input layers, in order."""
        return [t.layer.name for t in self._graph[1]]

    @property
    def output_names(self) -> list[str]:
        """The names the outputs go by (the dict's keys, else the layers that make them), in
        order: ``fit`` reports each output's loss under its name."""
        keys, tensors = self._graph[2], self._graph[3]
        return list(keys) if keys else [t.layer.name for t in tensors]

    @property
    def output_shape(self) -> Any:
        """The output shape(s), batch first: one tuple, or a list for several outputs."""
        shapes = [t.shape for t in self._graph[3]]
        return shapes[0] if len(shapes) == 1 else shapes

    def named_children(self) -> Iterator[tuple[str, Layer]]:
        """The layers (inputs aside) under keys that depend only on the architecture, as in
        ``Sequential``: class names numbered in graph order ("conv2d", "conv2d_1")."""
        counts: dict[str, int] = {}
        for layer in self._layers:
            if isinstance(layer, InputLayer):
                continue
            base = snake_case(type(layer).__name__)
            n = counts.get(base, 0)
            counts[base] = n + 1
            yield (base if n == 0 else f"{base}_{n}"), layer

    def get_layer(self, name: str | None = None, index: int | None = None) -> Layer:
        """A layer by its name or its position in ``layers`` (inputs included, as in Keras)."""
        if index is not None and -len(self._layers) <= index < len(self._layers):
            return self._layers[index]
        for layer in self._layers:
            if name is not None and layer.name == name:
                return layer
        return super().get_layer(name, index)

    # ------------------------------------------------------------------ running it
    def __call__(self, inputs: Any, training: bool | None = None) -> Any:
        return super().__call__(self._ordered(inputs), training=training)

    def _ordered(self, x: Any) -> Any:
        """Inputs given as a dict by input name (Keras accepts one), as the list in this
        model's input order (one array for one input); anything else unchanged."""
        if not isinstance(x, dict):
            return x
        keys = self._graph[0] if isinstance(self._graph[0], list) and self._graph[0] else None
        names = keys or self.input_names
        missing = [n for n in names if n not in x]
        if missing:
            raise ValueError(
                f"Model '{self.name}': the inputs dict has no {missing}; it needs the keys "
                f"{names}. Received keys {sorted(x)}."
            )
        values = [x[n] for n in names]
        return values if len(values) > 1 else values[0]

    def _named(self, outputs: Any) -> Any:
        keys = self._graph[2]
        if keys and isinstance(outputs, list):  # outputs given as a dict: by name again
            return dict(zip(keys, outputs, strict=True))
        return outputs

    def call(self, inputs: Any, training: bool = False) -> Any:
        """Run every node in graph order: each layer on the outputs of the layers it takes."""
        given = inputs if isinstance(inputs, (list, tuple)) else [inputs]
        tensors = self._graph[1]
        if len(given) != len(tensors):
            raise ValueError(
                f"Model '{self.name}' takes {len(tensors)} inputs ({', '.join(self.input_names)})"
                f"; received {len(given)}. Pass a list with one array per input."
            )
        # Each Input checks its array's shape first.
        given = [tensor.layer(value) for tensor, value in zip(tensors, given, strict=True)]
        return self.run_graph(
            given, lambda layer, args, kwargs: layer(args, training=training, **kwargs)
        )

    def run_graph(self, inputs: list[Any], apply: Callable[[Layer, Any, dict], Any]) -> Any:
        """Walk the graph: ``apply(layer, args, kwargs)`` for every node in order, ``args``
        being what earlier calls gave for the node's inputs (a list for layers such as
        ``Add``), ``kwargs`` for its keyword tensors (an RNN's ``initial_state``). ``call``
        applies the layers; the ONNX exporter writes each one's nodes the same way."""
        values = {id(t): v for t, v in zip(self._graph[1], inputs, strict=True)}

        def taken(tensors: Any) -> Any:
            if isinstance(tensors, list):
                return [None if t is None else values[id(t)] for t in tensors]
            return values[id(tensors)]

        for node in self._nodes:
            kwargs = {key: taken(tensors) for key, tensors in node.kwargs.items()}
            out = apply(node.layer, taken(node.inputs), kwargs | node.flags)
            outs = out if len(node.outputs) > 1 else [out]
            for tensor, value in zip(node.outputs, outs, strict=True):
                values[id(tensor)] = value
        keys, outputs = self._graph[2], self._graph[3]
        return _restructure(keys, [values[id(t)] for t in outputs])

    def build(self, input_shape: Any) -> None:
        """Built at construction: checks that ``input_shape`` fits the inputs."""
        shapes = input_shape if self._multi_input else [input_shape]
        for tensor, shape in zip(self._graph[1], shapes, strict=False):
            tensor.layer._check_input_shape(tuple(shape))

    def compute_output_shape(self, input_shape: Any) -> Any:
        """The output shape(s) for ``input_shape``: the graph's own, with the batch given."""
        self.build(input_shape)
        first = input_shape[0] if self._multi_input else input_shape
        shapes = [(first[0], *t.shape[1:]) for t in self._graph[3]]
        return shapes[0] if len(shapes) == 1 else shapes

    def largest_activation(self, sample_shape: tuple[int, ...]) -> int | None:
        """Numbers in the largest layer output for one sample, from the graph's shapes; None
        where a size is unknown or the model has several inputs."""
        if self._multi_input:
            return None
        sizes = [math.prod(sample_shape)]
        for node in self._nodes:
            for tensor in node.outputs:
                if None in tensor.shape[1:]:
                    return None
                sizes.append(math.prod(tensor.shape[1:]))
        return max(sizes)

    def call_numbers(self) -> dict[int, int]:
        """For each node (by id), its number among its layer's calls in this model: 0 unless
        the layer is shared (called several times). ``[layer, call, output]`` names a tensor
        in the summary and the saved config."""
        numbers = {id(t.node): 0 for t in self._graph[1]}
        count: dict[int, int] = {}
        for node in self._nodes:
            numbers[id(node)] = count.get(id(node.layer), 0)
            count[id(node.layer)] = numbers[id(node)] + 1
        return numbers

    # ------------------------------------------------------------------ as data
    def get_config(self) -> dict[str, Any]:
        """The layers with, for each call, the outputs it took (``[layer, call, output]``; a
        call with keyword tensors is ``{"args": [...], "kwargs": {name: [...]}}``), and which
        of them are the model's inputs and outputs (Keras's layout)."""
        numbers = self.call_numbers()
        calls: dict[int, list[list[list[Any]]]] = {id(layer): [] for layer in self._layers}

        def ref(tensor: KerasTensor) -> list[Any]:
            return [tensor.layer.name, numbers[id(tensor.node)], tensor.tensor_index]

        def refs_of(tensors: Any) -> list[Any]:
            return [ref(t) for t in tensors] if isinstance(tensors, list) else [ref(tensors)]

        def keyword(tensors: Any) -> list[Any]:
            """A keyword tensor as one reference, a list of them as a list (None kept)."""
            if isinstance(tensors, list):
                return [None if t is None else ref(t) for t in tensors]
            return ref(tensors)

        for node in self._nodes:
            spec: Any = refs_of(node.inputs)
            if node.kwargs or node.flags:  # {"args": [...], "kwargs": {...}, "flags": {...}}
                kwargs = {key: keyword(tensors) for key, tensors in node.kwargs.items()}
                spec = {"args": spec, "kwargs": kwargs}
                if node.flags:
                    spec["flags"] = dict(node.flags)
            calls[id(node.layer)].append(spec)
        layers = [
            {**serialize(layer), "name": layer.name, "inbound_nodes": calls[id(layer)]}
            for layer in self._layers
        ]

        def refs(keys: Any, tensors: list[KerasTensor]) -> Any:
            found = [ref(t) for t in tensors]
            if keys is None:
                return found[0]
            return dict(zip(keys, found, strict=True)) if keys else found

        input_keys, inputs, output_keys, outputs = self._graph
        return {
            "name": self.name,
            "trainable": self.trainable,
            "layers": layers,
            "input_layers": refs(input_keys, inputs),
            "output_layers": refs(output_keys, outputs),
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Functional:
        """Rebuild the model from ``get_config()``'s output: the layers from the registry, then
        each call again, in an order where every call's inputs exist."""
        made: dict[str, list[list[KerasTensor]]] = {}
        pending: list[tuple[Layer, list[list[Any]]]] = []
        for spec in config["layers"]:
            layer = deserialize({"class_name": spec["class_name"], "config": spec["config"]})
            if spec["name"] in made:
                raise ValueError(f"two layers are named '{spec['name']}'")
            made[spec["name"]] = [layer.output] if isinstance(layer, InputLayer) else []
            pending.extend((layer, refs) for refs in spec["inbound_nodes"])

        def find(ref: list[Any]) -> KerasTensor | None:
            name, index, output = ref
            if not (is_int(index) and is_int(output) and index >= 0 and output >= 0):
                raise ValueError(f"a call refers to [{name!r}, {index!r}, {output!r}]")
            calls = made.get(name)
            if calls is None:
                raise ValueError(f"a call takes the output of layer '{name}', which is not listed")
            if index < len(calls):
                outs = calls[index]
                return outs[output] if isinstance(outs, list) else outs
            return None

        while pending:
            waiting = []
            for layer, spec in pending:
                refs = spec["args"] if isinstance(spec, dict) else spec
                named = spec.get("kwargs", {}) if isinstance(spec, dict) else {}
                taken = [find(ref) for ref in refs]
                kwargs = {key: _keyword(find, given) for key, given in named.items()}
                missing = taken + [
                    t
                    for key, given in kwargs.items()
                    for t, ref in zip(_listed(given), _listed(named[key]), strict=True)
                    if ref is not None
                ]
                if any(t is None for t in missing) or any(p[0] is layer for p in waiting):
                    waiting.append((layer, spec))
                    continue
                flags = spec.get("flags", {}) if isinstance(spec, dict) else {}
                out = layer(taken if layer._multi_input else taken[0], **kwargs, **flags)
                made[layer.name].append(out if isinstance(out, list) else [out])
            if len(waiting) == len(pending):
                names = ", ".join(sorted({layer.name for layer, _ in waiting}))
                raise ValueError(f"the calls of {names} take outputs no call makes")
            pending = waiting

        def tensors(refs: Any) -> Any:
            if isinstance(refs, dict):
                return {key: find(ref) for key, ref in refs.items()}
            if refs and isinstance(refs[0], list):
                return [find(ref) for ref in refs]
            return find(refs)

        return cls(
            tensors(config["input_layers"]),
            tensors(config["output_layers"]),
            name=config.get("name"),
            trainable=config.get("trainable", True),
        )


def _is_ref(spec: Any) -> bool:
    """Whether a saved keyword argument is one reference ``[layer, call, output]``."""
    return isinstance(spec, list) and bool(spec) and isinstance(spec[0], str)


def _keyword(find: Callable[[list[Any]], Any], spec: Any) -> Any:
    """A saved keyword tensor back: one reference, or a list of them with None kept."""
    if _is_ref(spec):
        return find(spec)
    if not isinstance(spec, list):
        raise ValueError(f"a call's keyword tensors must be a reference or a list, not {spec!r}")
    return [None if ref is None else find(ref) for ref in spec]


def _listed(value: Any) -> list[Any]:
    """A keyword argument as a list (one reference or tensor becomes a list of one)."""
    return [value] if _is_ref(value) or not isinstance(value, list) else value


def _restructure(keys: Any, values: list[Any]) -> Any:
    """``values`` in the structure ``_structure`` noted: one, a list, or a dict."""
    if keys is None:
        return values[0]
    return dict(zip(keys, values, strict=True)) if keys else list(values)
