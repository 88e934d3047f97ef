"""The functional API's graph: symbolic tensors (``KerasTensor``) and layer calls (``Node``).

``Input((28, 28, 1))`` returns a ``KerasTensor``: no numbers, only the shape of data yet to
come and the layer call that will make it. Calling a layer on one runs no maths: the layer is
built for that shape, works out its output shape by arithmetic (``compute_output_shape``) and
records a ``Node`` — "this layer, applied to these tensors, gives those" — returning new
KerasTensors. ``Model(inputs, outputs)`` then walks the nodes back from ``outputs`` and runs
the same layers, in the same wiring, on real data (``glassnet.models.functional``).

    >>> inputs = Input((4,))
    >>> hidden = Dense(8, activation="relu")(inputs)
    >>> hidden.shape
    (None, 8)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from glassnet.layers.layer import Layer

Shape = tuple[int | None, ...]

__all__ = ["KerasTensor", "Node", "flatten_tensors", "is_symbolic"]


class KerasTensor:
    """A symbolic tensor: the shape (batch first, None where unknown) and dtype of data that
    will flow through a functional model, and the layer call that makes it.

    ``layer``, ``node_index`` and ``tensor_index`` (Keras's ``_keras_history``) say which output
    of which call of which layer it is. Arithmetic works as on Tensors and adds a merge layer:
    ``a + b`` is ``layers.Add()([a, b])``.
    """

    __slots__ = ("dtype", "layer", "name", "node_index", "shape", "tensor_index")

    def __init__(
        self,
        shape: Shape,
        dtype: str = "float32",
        layer: Layer | None = None,
        node_index: int = 0,
        tensor_index: int = 0,
        name: str | None = None,
    ) -> None:
        self.shape = tuple(shape)
        self.dtype = dtype
        self.layer = layer
        self.node_index = node_index
        self.tensor_index = tensor_index
        self.name = name

    @property
    def ndim(self) -> int:
        """The number of axes, batch included."""
        return len(self.shape)

    @property
    def node(self) -> Node:
        """The layer call this tensor comes out of."""
        return self.layer._inbound_nodes[self.node_index]

    @property
    def _keras_history(self) -> tuple[Layer | None, int, int]:
        return self.layer, self.node_index, self.tensor_index

    def __repr__(self) -> str:
        source = f", source={self.layer.name!r}" if self.layer is not None else ""
        return f"<KerasTensor shape={self.shape}, dtype={self.dtype}{source}>"

    def __array__(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError(
            f"{self!r} is symbolic: it holds no numbers until a model built from it runs. "
            "Build a model, Model(inputs, outputs), and call it (or predict) on data."
        )

    def __len__(self) -> int:
        raise TypeError(f"{self!r} is symbolic: its batch size is unknown until data flows.")

    def _merge(self, name: str, other: Any, reverse: bool = False) -> KerasTensor:
        from glassnet.layers import merging  # merging imports layer.py, which imports us

        if not isinstance(other, KerasTensor):
            return NotImplemented
        pair = [other, self] if reverse else [self, other]
        return getattr(merging, name)()(pair)

    def __add__(self, other: Any) -> KerasTensor:
        return self._merge("Add", other)

    def __sub__(self, other: Any) -> KerasTensor:
        return self._merge("Subtract", other)

    def __mul__(self, other: Any) -> KerasTensor:
        return self._merge("Multiply", other)

    def __radd__(self, other: Any) -> KerasTensor:
        return self._merge("Add", other, reverse=True)

    def __rsub__(self, other: Any) -> KerasTensor:
        return self._merge("Subtract", other, reverse=True)

    def __rmul__(self, other: Any) -> KerasTensor:
        return self._merge("Multiply", other, reverse=True)


@dataclass(eq=False)
class Node:
    """One call of a layer in a functional graph: the layer, the KerasTensors it was called on
    (``inputs``: one, or a list for layers such as ``Add``), those it gave (``outputs``), and
    symbolic keyword arguments (``kwargs``: an RNN's ``initial_state``) and constant ones
    (``flags``: plain JSON values such as MultiHeadAttention's ``use_causal_mask=True``)."""

    layer: Layer
    inputs: Any
    outputs: list[KerasTensor]
    kwargs: dict[str, Any] = field(default_factory=dict)
    flags: dict[str, Any] = field(default_factory=dict)

    @property
    def input_tensors(self) -> list[KerasTensor]:
        """Every tensor the call takes, as a flat list: the inputs, then the keyword ones."""
        return flatten_tensors(self.inputs) + flatten_tensors(list(self.kwargs.values()))

    @property
    def parents(self) -> list[Node]:
        """The nodes whose outputs this one takes."""
        return [t.node for t in self.input_tensors]


def flatten_tensors(structure: Any) -> list[Any]:
    """The leaves of a tensor, a list/tuple of them or a dict of them (values in key order);
    None (an input left out, as in ``mask=[None, value_mask]``) is no leaf."""
    if structure is None:
        return []
    if isinstance(structure, dict):
        return [leaf for key in structure for leaf in flatten_tensors(structure[key])]
    if isinstance(structure, (list, tuple)):
        return [leaf for item in structure for leaf in flatten_tensors(item)]
    return [structure]


def is_symbolic(inputs: Any) -> bool:
    """Whether a layer is being called on KerasTensors (to record a node) rather than data."""
    if isinstance(inputs, KerasTensor):
        return True
    if isinstance(inputs, (list, tuple, dict)):
        return any(isinstance(leaf, KerasTensor) for leaf in flatten_tensors(inputs))
    return False


def _output_shapes(shape: Any) -> list[Shape]:
    """A layer's ``compute_output_shape`` answer as a list of shapes (several outputs give a
    list or tuple of shapes)."""
    if isinstance(shape, (list, tuple)) and shape and isinstance(shape[0], (list, tuple)):
        return [tuple(s) for s in shape]
    return [tuple(shape)]


def call_symbolic(
    layer: Layer,
    inputs: Any,
    kwargs: dict[str, Any] | None = None,
    flags: dict[str, Any] | None = None,
) -> Any:
    """``layer(inputs, **kwargs, **flags)`` on KerasTensors: build the layer for the inputs'
    shapes, record a ``Node`` and return its output KerasTensor(s) (a list when the layer has
    several outputs). ``kwargs``: keyword arguments that are tensors too (an RNN's
    ``initial_state``); ``flags``: constant keyword arguments (JSON values) the call is
    replayed with."""
    kwargs = {k: v for k, v in (kwargs or {}).items() if v is not None}
    tensors = flatten_tensors(inputs)
    given = tensors + flatten_tensors(list(kwargs.values()))
    if not all(isinstance(t, KerasTensor) for t in given):
        kinds = sorted({type(t).__name__ for t in given})
        raise TypeError(
            f"{layer._where}: called on a mix of symbolic inputs (KerasTensor, from "
            f"Input(...)) and data ({', '.join(kinds)}). In a functional model every input "
            "must come from an Input; turn constants into a layer's weights instead."
        )
    if layer._multi_input and not isinstance(inputs, (list, tuple)):
        raise TypeError(
            f"{layer._where}: expects a list of inputs, e.g. {type(layer).__name__}()([a, b]). "
            f"Received a single {inputs!r}."
        )
    if not layer._multi_input and len(tensors) != 1:
        raise TypeError(
            f"{layer._where}: takes one input, received {len(tensors)}. Merge them first, e.g. "
            "layers.concatenate([a, b])."
        )
    shape: Any = [t.shape for t in tensors] if layer._multi_input else tensors[0].shape
    if not layer.built:
        layer.build(shape)
    else:
        layer._check_input_shape(shape)
    shapes = _output_shapes(layer.compute_output_shape(shape))
    nodes = layer.__dict__.setdefault("_inbound_nodes", [])
    index = len(nodes)
    dtype = tensors[0].dtype if tensors else "float32"
    outputs = [
        KerasTensor(s, dtype, layer, index, i, name=layer.name) for i, s in enumerate(shapes)
    ]
    stored = list(inputs) if isinstance(inputs, (list, tuple)) else inputs
    stored_kwargs = {k: list(v) if isinstance(v, tuple) else v for k, v in kwargs.items()}
    nodes.append(Node(layer, stored, outputs, stored_kwargs, dict(flags or {})))
    return outputs[0] if len(outputs) == 1 else outputs
