"""ONNX export of an ``OnnxGraph`` (a network imported from ONNX that is not a plain chain), so
that a network imported, fine-tuned and saved goes back to ONNX like any other model.

Each node is written as ``OnnxGraph.call`` runs it: a ``"layer"`` node by its layer's own
converter, the weightless operations as the ONNX operators they came from, on glassnet's
channels-last axes (the axes the nodes' attributes are in); pools run channels-first, as ONNX's
MaxPool/AveragePool do.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from glassnet.export.onnx import NCHW, NHWC, Graph, Value, convert_layer, register_converter
from glassnet.export.onnx_import import OnnxGraph

__all__: list[str] = []

_BINARY = {"add": "Add", "sub": "Sub", "mul": "Mul", "div": "Div", "max": "Max"}


@register_converter(OnnxGraph)
def _onnx_graph(graph: Graph, model: OnnxGraph, value: Value) -> Value:
    env: dict[str, Value] = {model.input_name: value}
    for key, array in model.constants.items():
        env[key] = Value(graph.weight(key, array), tuple(array.shape), NHWC)
    for node in model.nodes:
        args = [env[name] for name in node["inputs"]]
        env[node["output"]] = _node(graph, model, node, args)
    return env[model.output_name]


def _node(graph: Graph, model: OnnxGraph, node: dict[str, Any], args: list[Value]) -> Value:
    op, hint = node["op"], f"{model.name}_{node['op']}"
    if op == "layer":
        layer = model.parts[node["index"]]
        return convert_layer(graph, layer, args if node.get("multi") else args[0])
    if op == "identity":
        return args[0]
    if op in ("max_pool", "avg_pool"):
        x = graph.layout(args[0], NCHW)
        pairs = [tuple(p) for p in node["pads"]]  # one (begin, end) per spatial axis
        kind = "MaxPool" if op == "max_pool" else "AveragePool"
        out = graph.node(
            kind,
            [x.name],
            hint,
            kernel_shape=list(node["pool"]),
            strides=list(node["stride"]),
            pads=[b for b, _ in pairs] + [e for _, e in pairs],  # ONNX: all begins, all ends
        )
        n, *sizes, c = x.shape
        size = [
            (d + sum(p) - k) // s + 1
            for d, p, k, s in zip(sizes, pairs, node["pool"], node["stride"], strict=True)
        ]
        return Value(out, (n, *size, c), NCHW)
    args = [graph.layout(a, NHWC) for a in args]  # the nodes' axes are glassnet's
    x = args[0]
    if op in _BINARY:
        out = graph.node(_BINARY[op], [a.name for a in args], hint)
        shape = np.broadcast_shapes(*(tuple(1 if d is None else d for d in a.shape) for a in args))
        return Value(out, (None, *shape[1:]), NHWC)  # a constant has no batch axis, a tensor has
    if op == "sqrt":
        return Value(graph.node("Sqrt", [x.name], hint), x.shape, NHWC)
    if op == "transpose":
        perm = list(node["perm"])
        out = graph.node("Transpose", [x.name], hint, perm=perm)
        return Value(out, tuple(x.shape[a] for a in perm), NHWC)
    if op == "pad":
        pads = [list(p) for p in node["pads"]]
        pads += [[0, 0]] * (len(x.shape) - len(pads))
        amounts = graph.weight(
            f"{hint}_pads", np.array([p[0] for p in pads] + [p[1] for p in pads])
        )
        fill = graph.weight(f"{hint}_value", np.float32(node.get("value", 0.0)))
        out = graph.node("Pad", [x.name, amounts, fill], hint)
        shape = tuple(None if d is None else d + sum(p) for d, p in zip(x.shape, pads, strict=True))
        return Value(out, shape, NHWC)
    if op == "reshape":
        target = graph.weight(f"{hint}_shape", np.array([0, *node["shape"]], np.int64))
        out = graph.node("Reshape", [x.name, target], hint)
        size = int(np.prod([d for d in x.shape[1:]]))
        dims = list(node["shape"])
        if -1 in dims:
            dims[dims.index(-1)] = size // int(np.prod([d for d in dims if d != -1]))
        return Value(out, (None, *dims), NHWC)
    if op == "slice":
        return _slice(graph, node, x, hint)
    if op in ("reduce_mean", "reduce_l2"):
        axes, keep = list(node["axes"]), int(bool(node["keepdims"]))
        kind = "ReduceMean" if op == "reduce_mean" else "ReduceL2"
        if graph.opset >= 18:
            out = graph.node(kind, [x.name, graph.weight(f"{hint}_axes", np.array(axes))], hint)
        else:
            out = graph.node(kind, [x.name], hint, axes=axes, keepdims=keep)
        n = len(x.shape)
        axes = [a % n for a in axes]
        shape = [1 if i in axes else d for i, d in enumerate(x.shape) if keep or i not in axes]
        return Value(out, tuple(shape), NHWC)
    raise ValueError(f"ONNX export: OnnxGraph '{model.name}': node op {op!r} is not supported.")


def _slice(graph: Graph, node: dict[str, Any], x: Value, hint: str) -> Value:
    """A Slice of every axis with a [start, stop, step] other than the whole axis."""
    starts, ends, axes, steps = [], [], [], []
    shape = list(x.shape)
    for axis, (start, stop, step) in enumerate(node["slices"]):
        if (start, stop, step) == (None, None, None):
            continue
        step = 1 if step is None else int(step)
        big = np.iinfo(np.int64).max
        first = (0 if step > 0 else -1) if start is None else int(start)
        last = (big if step > 0 else -big) if stop is None else int(stop)
        starts.append(first)
        ends.append(last)
        axes.append(axis)
        steps.append(step)
        if shape[axis] is not None:
            shape[axis] = len(range(*slice(start, stop, step).indices(shape[axis])))
    inputs = [x.name] + [
        graph.weight(f"{hint}_{what}", np.array(v, np.int64))
        for what, v in (("starts", starts), ("ends", ends), ("axes", axes), ("steps", steps))
    ]
    return Value(graph.node("Slice", inputs, hint), tuple(shape), NHWC)
