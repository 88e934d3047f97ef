"""ONNX converters for the recurrent layers: ``SimpleRNN``, ``LSTM``, ``GRU`` (the ONNX
``RNN``/``LSTM``/``GRU`` operators), ``Bidirectional`` (``direction="bidirectional"``),
``Embedding`` (``Gather``) and ``TimeDistributed`` (fold time into the batch, run the inner
layer's converter, unfold).

Layouts. glassnet (like Keras) is batch-first, ``(B, T, F)``; the ONNX operators are run with
``layout=0`` (time-first, what every runtime implements), so the input is transposed to
``(T, B, F)``. Their outputs are ``Y (T, num_directions, B, U)``, every step's state, and
``Y_h (num_directions, B, U)``, the final state.

Weights. Keras keeps the gates side by side on the last axis of ``kernel (in, G·U)`` and
``recurrent_kernel (U, G·U)``; ONNX wants ``W (num_directions, G·U, in)``, ``R
(num_directions, G·U, U)`` and ``B (num_directions, 2·G·U)`` = [input bias, recurrent bias].
Gate orders: Keras LSTM i, f, c, o -> ONNX i, o, f, c; GRU z, r, h in both. Keras's GRU with
``reset_after=True`` is ONNX's ``linear_before_reset=1`` (bias row 1 is the recurrent bias);
``reset_after=False`` is ``linear_before_reset=0`` with a zero recurrent bias.

Time order. ``go_backwards`` is ``direction="reverse"``. ONNX writes a reverse direction's
``Y`` in the input's time order (``Y[t]`` is the state after reading ``x[t]``), while Keras
returns a ``go_backwards`` layer's sequence in the order it read it (output ``s`` is the state
after reading ``x[T−1−s]``), so that sequence is flipped in time. The final state ``Y_h`` is the
same in both. A ``Bidirectional`` layer flips its backward sequence back into time order, which
is exactly ONNX's ``Y[:, 1]``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from glassnet.export.onnx import NHWC, Graph, Value, convert_layer, register_converter
from glassnet.layers.core import Masking
from glassnet.layers.recurrent import (
    GRU,
    LSTM,
    Bidirectional,
    Embedding,
    SimpleRNN,
    TimeDistributed,
)

__all__: list[str] = []

#: The recurrent layers that become one ONNX RNN, LSTM or GRU node.
RecurrentLayer = SimpleRNN | LSTM | GRU

_OP = {SimpleRNN: "RNN", LSTM: "LSTM", GRU: "GRU"}
_GATE_ORDER = {SimpleRNN: [0], LSTM: [0, 3, 1, 2], GRU: [0, 1, 2]}  # Keras gate k -> ONNX slot
_ACTIVATION = {"tanh": "Tanh", "sigmoid": "Sigmoid", "relu": "Relu", "linear": "Affine"}
_INT64_MIN = np.iinfo(np.int64).min


def _reorder(array: np.ndarray, units: int, order: list[int]) -> np.ndarray:
    """Keras's gate blocks on the last axis, in ONNX's order."""
    return np.concatenate([array[..., k * units : (k + 1) * units] for k in order], axis=-1)


def _onnx_weights(layer: RecurrentLayer) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One direction's W (G·U, in), R (G·U, U) and B (2·G·U,) from a Keras-layout layer."""
    u, order = layer.units, _GATE_ORDER[type(layer)]
    kernel = np.asarray(layer.kernel.data, np.float32)
    recurrent = np.asarray(layer.recurrent_kernel.data, np.float32)
    w = _reorder(kernel, u, order).T
    r = _reorder(recurrent, u, order).T
    gu = len(order) * u
    input_bias = np.zeros(gu, np.float32)
    recurrent_bias = np.zeros(gu, np.float32)
    if layer.bias is not None:
        bias = np.asarray(layer.bias.data, np.float32)
        if bias.ndim == 2:  # GRU reset_after=True: rows input, recurrent
            input_bias, recurrent_bias = _reorder(bias[0], u, order), _reorder(bias[1], u, order)
        else:
            input_bias = _reorder(bias, u, order)
    return w, r, np.concatenate([input_bias, recurrent_bias])


def _activations(layer: RecurrentLayer) -> list[str]:
    """ONNX's activation list for one direction: RNN [f]; GRU [f, g]; LSTM [f, g, h]."""
    act = layer.activation
    if isinstance(layer, SimpleRNN):
        return [act]
    ract = layer.recurrent_activation
    return [ract, act] if isinstance(layer, GRU) else [ract, act, act]


def _recurrent_node(
    graph: Graph, layers: list[RecurrentLayer], value: Value, direction: str
) -> list[str]:
    """The ONNX RNN/LSTM/GRU node over ``value`` (B, T, F); returns [Y, Y_h] names."""
    first = layers[0]
    for layer in layers:
        if layer.return_state:
            raise ValueError(
                f"ONNX export: layer '{layer.name}' ({type(layer).__name__}) has "
                f"return_state=True; only its output can be exported (set return_state=False)."
            )
    name = first.name
    x = graph.node("Transpose", [value.name], f"{name}_time_first", perm=[1, 0, 2])
    w, r, b = zip(*(_onnx_weights(layer) for layer in layers), strict=True)
    inputs = [
        x,
        graph.weight(f"{name}_W", np.stack(w)),
        graph.weight(f"{name}_R", np.stack(r)),
        graph.weight(f"{name}_B", np.stack(b)),
    ]
    names = [a for layer in layers for a in _activations(layer)]
    attrs: dict[str, Any] = {
        "hidden_size": first.units,
        "direction": direction,
        "activations": [_ACTIVATION[a] for a in names],
    }
    if "linear" in names:  # Affine(x) = alpha·x + beta
        attrs["activation_alpha"] = [1.0] * len(names)
        attrs["activation_beta"] = [0.0] * len(names)
    if isinstance(first, GRU):
        attrs["linear_before_reset"] = int(first.reset_after)
    op = _OP[type(first)]
    outputs = [graph.name(f"{name}_Y"), graph.name(f"{name}_Y_h")]
    node = graph.onnx.helper.make_node(
        op, inputs, outputs, name=graph.name(f"{name}/{op}"), **attrs
    )
    graph.nodes.append(node)
    return outputs


def _flip(graph: Graph, name: str, axis: int, hint: str) -> str:
    """``name`` reversed along ``axis`` (a Slice with step −1)."""
    inputs = [
        name,
        graph.weight("minus_one", np.array([-1], np.int64)),
        graph.weight("int64_min", np.array([_INT64_MIN], np.int64)),
        graph.weight(f"axis_{axis}", np.array([axis], np.int64)),
        graph.weight("minus_one", np.array([-1], np.int64)),
    ]
    return graph.node("Slice", inputs, hint)


def _merge(graph: Graph, name: str, axis: int, units: int, merge_mode: str, hint: str) -> str:
    """Merge the direction axis ``axis`` (the last but one) of ``name`` as Keras does."""
    if merge_mode == "concat":  # [forward, backward] side by side = the two rows flattened
        shape = np.array([0] * axis + [-1], np.int64)
        return graph.node("Reshape", [name, graph.weight(f"{hint}_shape", shape)], hint)
    index = [graph.weight(f"index_{k}", np.array(k, np.int64)) for k in (0, 1)]
    fwd, bwd = (graph.node("Gather", [name, i], hint, axis=axis) for i in index)
    if merge_mode == "mul":
        return graph.node("Mul", [fwd, bwd], hint)
    out = graph.node("Add", [fwd, bwd], hint)
    if merge_mode == "ave":
        out = graph.node("Mul", [out, graph.weight("half", np.float32(0.5))], hint)
    return out


def _outputs(
    graph: Graph,
    layer: Any,
    value: Value,
    layers: list[RecurrentLayer],
    direction: str,
    merge_mode: str,
    flip: bool,
    swap: bool = False,
) -> Value:
    """Run the node, bring Y or Y_h to batch-first, flip time and/or directions where Keras's
    order differs, and merge the directions."""
    y, y_h = _recurrent_node(graph, layers, value, direction)
    first = layers[0]
    if first.return_sequences:  # Y (T, D, B, U) -> (B, T, D, U)
        out = graph.node("Transpose", [y], f"{layer.name}_batch_first", perm=[2, 0, 1, 3])
        if flip:
            out = _flip(graph, out, 1, f"{layer.name}_keras_time_order")
        axis = 2
    else:  # Y_h (D, B, U) -> (B, D, U)
        out = graph.node("Transpose", [y_h], f"{layer.name}_batch_first", perm=[1, 0, 2])
        axis = 1
    if swap:  # Keras's forward layer is ONNX's reverse pass: put it first
        out = _flip(graph, out, axis, f"{layer.name}_swap_directions")
    out = _merge(graph, out, axis, first.units, merge_mode, layer.name)
    return Value(out, tuple(layer.compute_output_shape(value.shape)), NHWC)


@register_converter(SimpleRNN, LSTM, GRU)
def _recurrent(graph: Graph, layer: RecurrentLayer, value: Value) -> Value:
    """ONNX RNN/LSTM/GRU, direction "reverse" for go_backwards."""
    _refuse_mask(layer, value)
    value = graph.layout(value, NHWC)
    direction = "reverse" if layer.go_backwards else "forward"
    flip = layer.go_backwards and layer.return_sequences
    return _outputs(graph, layer, value, [layer], direction, "concat", flip)


@register_converter(Bidirectional)
def _bidirectional(graph: Graph, layer: Bidirectional, value: Value) -> Value:
    """One node with direction "bidirectional": ONNX's forward pass is ``forward_layer`` (or,
    when the wrapped layer itself has go_backwards, ``backward_layer``)."""
    _refuse_mask(layer, value)
    value = graph.layout(value, NHWC)
    fwd, bwd = layer.forward_layer, layer.backward_layer
    swapped = fwd.go_backwards
    layers = [bwd, fwd] if swapped else [fwd, bwd]
    # With go_backwards on the wrapped layer both sequences come out time-reversed.
    flip = swapped and layer.return_sequences
    return _outputs(graph, layer, value, layers, "bidirectional", layer.merge_mode, flip, swapped)


def _refuse_mask(layer: Any, value: Value) -> None:
    """A recurrent layer skips masked (padding) steps, keeping its state; ONNX's nodes would
    run through them and give other numbers, so such a model is refused, not exported wrong."""
    if value.mask is not None:
        raise ValueError(
            f"export_onnx: layer '{layer.name}' ({type(layer).__name__}) gets a padding mask "
            f"(from Embedding(mask_zero=True) or Masking) and skips the padded steps, which the "
            f"ONNX recurrent nodes cannot do. Export a model built with mask_zero=False (and "
            f"without Masking)."
        )


@register_converter(Embedding)
def _embedding(graph: Graph, layer: Embedding, value: Value) -> Value:
    """Gather rows of the table; the graph's float input is cast to int64 token ids."""
    ids = graph.node("Cast", [value.name], f"{layer.name}_ids", to=graph.onnx.TensorProto.INT64)
    table = graph.weight(f"{layer.name}_embeddings", layer.embeddings.data)
    out = graph.node("Gather", [table, ids], layer.name, axis=0)
    mask = None
    if layer.mask_zero:  # True where the id is not 0: the padding mask the layer hands on
        zero = graph.weight(f"{layer.name}_pad", np.int64(0))
        mask = graph.node("Not", [graph.node("Equal", [ids, zero], f"{layer.name}_pad")], "mask")
    return Value(out, tuple(layer.compute_output_shape(value.shape)), NHWC, mask)


@register_converter(Masking)
def _masking(graph: Graph, layer: Masking, value: Value) -> Value:
    """The steps with a feature other than ``mask_value`` are kept (the padding mask handed
    on), the others become zeros: mask = Σ (x ≠ mask_value) > 0 over the features."""
    value = graph.layout(value, NHWC)
    name = layer.name
    pad = graph.weight(f"{name}_value", np.float32(layer.mask_value))
    differs = graph.node("Not", [graph.node("Equal", [value.name, pad], name)], name)
    count = graph.node("Cast", [differs], name, to=graph.onnx.TensorProto.FLOAT)
    axes = graph.weight(f"{name}_axes", np.array([-1], np.int64))
    count = graph.node("ReduceSum", [count, axes], name, keepdims=0)
    mask = graph.node("Cast", [count], "mask", to=graph.onnx.TensorProto.BOOL)
    keep = graph.node("Cast", [mask], name, to=graph.onnx.TensorProto.FLOAT)
    keep = graph.node("Unsqueeze", [keep, axes], name)
    out = graph.node("Mul", [value.name, keep], name)
    return Value(out, value.shape, NHWC, mask)


@register_converter(TimeDistributed)
def _time_distributed(graph: Graph, layer: TimeDistributed, value: Value) -> Value:
    """(B, T, ...) -> (B·T, ...) -> the inner layer's converter -> (B, T, ...)."""
    value = graph.layout(value, NHWC)
    steps, rest = value.shape[1], value.shape[2:]
    folded = graph.weight(f"{layer.name}_fold", np.array([-1, *rest], np.int64))
    inner = Value(
        graph.node("Reshape", [value.name, folded], f"{layer.name}_fold"), (None, *rest), NHWC
    )
    inner_out = graph.layout(convert_layer(graph, layer.layer, inner), NHWC)
    unfolded = graph.weight(
        f"{layer.name}_unfold", np.array([-1, steps, *inner_out.shape[1:]], np.int64)
    )
    out = graph.node("Reshape", [inner_out.name, unfolded], layer.name)
    return Value(out, tuple(layer.compute_output_shape(value.shape)), NHWC)
