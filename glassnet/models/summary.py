"""``model.summary()``: every layer's output shape, parameter count *and the formula behind it*,
multiply-accumulates per sample, totals, memory, and how many hidden layers the network has.

A count such as 1,792 means little until it is written out: a Conv2D with 64 filters of 3×3
over 3 channels has (3·3·3 + 1)·64 = 1,792 parameters — each filter holds 3·3·3 weights and one
bias. The summary shows that arithmetic for each layer.
"""

from __future__ import annotations

import fnmatch
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from glassnet.checks import check_positive_int
from glassnet.layers.layer import Layer
from glassnet.layers.observers import observe_calls
from glassnet.models.training import zero_sample
from glassnet.tensor import Tensor, no_grad


@dataclass
class Row:
    """One line of the summary: a layer, where it sits, what comes out, what it costs."""

    layer: Layer
    depth: int
    output_shape: Any
    params: int
    formula: str
    macs: int
    connected: str = ""  # a functional model's: the outputs this call takes


def _dims(shape: tuple[int, ...]) -> str:
    return "·".join(str(n) for n in shape)


def param_formula(layer: Layer) -> tuple[int, str]:
    """The number of parameters a layer holds itself (not its sub-layers) and how it comes about.

    Kernel plus bias reads "(fan-in + 1)·units"; identical vectors (BatchNormalization's four)
    read "4·channels"; anything else is the sum of the weight shapes' products.
    """
    own = [(name, tuple(layer.__dict__[name].shape)) for name in layer._weight_trainable]
    total = sum(math.prod(shape) for _, shape in own)
    if not own:
        return 0, ""
    custom = getattr(layer, "summary_formula", None)  # a layer may explain its count itself
    if callable(custom):
        return total, f"{custom()} = {total:,}"
    shapes = dict(own)
    kernel, bias = shapes.get("kernel"), shapes.get("bias")
    if kernel is not None and len(own) == 2 and bias == (kernel[-1],):
        text = f"({_dims(kernel[:-1])} + 1)·{kernel[-1]}"
    elif len({shape for _, shape in own}) == 1 and len(own) > 1:
        text = f"{len(own)}·{_dims(own[0][1])}"
    else:
        text = " + ".join(_dims(shape) for _, shape in own)
    if text != f"{total}":
        text = f"{text} = {total:,}"
    frozen = sum(math.prod(shape) for name, shape in own if not layer.__dict__[name].requires_grad)
    if frozen:
        text += f" ({frozen:,} non-trainable)"
    return total, text


def layer_macs(layer: Layer, output_shape: Any) -> int:
    """Multiply-accumulates for one sample: every output number of a Dense or Conv2D layer is a
    dot product of ``kernel.size / units`` pairs, so MACs = outputs · fan-in. Layers without a
    kernel (pooling, activations, normalisation) are counted as 0; a layer whose arithmetic
    differs (a recurrent one) counts itself with ``summary_macs(input_shape)``."""
    custom = getattr(layer, "summary_macs", None)
    if callable(custom) and layer.input_shape is not None:
        return int(custom(layer.input_shape))
    kernel = layer.__dict__.get("kernel")
    if not isinstance(kernel, Tensor) or not isinstance(output_shape, tuple):
        return 0
    outputs = math.prod(n for n in output_shape[1:] if n is not None)
    return outputs * int(kernel.size) // int(kernel.shape[-1])


def _rows_sequential(model: Any, shape: tuple, depth: int, rows: list[Row]) -> tuple:
    for layer in model.layers:
        out = tuple(layer.compute_output_shape(shape))
        _add_row(layer, depth, out, rows)
        if hasattr(layer, "layers") and hasattr(layer, "_stack"):
            _rows_sequential(layer, shape, depth + 1, rows)
        elif layer.children():
            _rows_traced(layer, shape, depth + 1, rows)
        shape = out
    return shape


def _rows_traced(model: Any, shape: tuple, depth: int, rows: list[Row]) -> None:
    """Run one zero sample through a subclassed model and record each direct sub-layer call.
    ``shape``: the input's, or one per input for a model with several."""
    several = len(shape) > 0 and isinstance(shape[0], (list, tuple))
    zeros = zero_sample(shape)
    batch = shape[0][0] if several else shape[0]
    with no_grad(), observe_calls() as calls:
        model(zeros, training=False)
    children = {id(child) for child in model.children()}
    nested = {}
    for layer, input_shapes, output_shape in calls:
        if id(layer) in children and id(layer) not in nested:
            nested[id(layer)] = (layer, input_shapes, (batch, *output_shape[1:]))
    for layer, input_shapes, output_shape in nested.values():
        _add_row(layer, depth, output_shape, rows)
        if layer.children():
            first = input_shapes[0] if isinstance(input_shapes, list) else input_shapes
            _rows_traced(layer, (batch, *first[1:]), depth + 1, rows)


def _rows_functional(model: Any, rows: list[Row]) -> None:
    """One row per layer call, in graph order, saying which outputs it takes ("conv2d[0][0]":
    the first output of that layer's first call), as Keras's summary does."""
    calls = model.call_numbers()

    def ref(tensor: Any) -> str:
        return f"{tensor.layer.name}[{calls[id(tensor.node)]}][{tensor.tensor_index}]"

    for tensor in model.inputs:
        _add_row(tensor.layer, 0, tensor.shape, rows)
    for node in model._nodes:
        shapes = [t.shape for t in node.outputs]
        _add_row(node.layer, 0, shapes[0] if len(shapes) == 1 else shapes, rows)
        rows[-1].connected = ", ".join(ref(t) for t in node.input_tensors)
        if calls[id(node)]:  # a shared layer: its weights are counted at its first call
            rows[-1].params, rows[-1].formula = 0, f"shared with {node.layer.name}[0]"
        if node.layer.children() and calls[id(node)] == 0:
            first = node.input_tensors[0].shape
            if hasattr(node.layer, "_stack"):
                _rows_sequential(node.layer, first, 1, rows)
            elif not hasattr(node.layer, "_nodes"):
                _rows_traced(node.layer, first, 1, rows)


def _add_row(layer: Layer, depth: int, output_shape: Any, rows: list[Row]) -> None:
    if layer.children():
        params = sum(int(w.size) for w in layer.weights)
        macs = 0
        formula = f"{params:,} in {len(layer.children())} sub-layers" if params else ""
    else:
        params, formula = param_formula(layer)
        macs = layer_macs(layer, output_shape)
    rows.append(Row(layer, depth, output_shape, params, formula, macs))


def summary_rows(model: Any) -> list[Row]:
    """The summary's rows: one per layer, sub-layers of nested models indented below them."""
    if model.input_shape is None:
        raise ValueError(
            f"summary: model '{model.name}' does not know its input shape yet. Start it with "
            "Input(shape), call model.build((None, *shape)), or run it on a batch first."
        )
    rows: list[Row] = []
    if hasattr(model, "_stack"):
        _rows_sequential(model, tuple(model.input_shape), 0, rows)
    elif hasattr(model, "_nodes"):
        _rows_functional(model, rows)
    else:
        _rows_traced(model, tuple(model.input_shape), 0, rows)
    return rows


def _bytes(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.2f} {unit}" if unit != "B" else f"{n} B"
        n /= 1024
    return f"{n:.2f} GB"


def hidden_layer_count(rows: list[Row]) -> int:
    """Layers with their own weights (neurons) before the output layer: the texts' "hidden
    layers" (a network with two or more is called deep)."""
    weighted = [r for r in rows if not r.layer.children() and r.macs]
    return max(len(weighted) - 1, 0)


def _roll_up_macs(rows: list[Row]) -> int:
    """Give each container row the MACs of the layers inside it; return the network's total
    (counted once, from the leaf layers)."""
    for i, row in enumerate(rows):
        if row.layer.children():
            inside = []
            for later in rows[i + 1 :]:
                if later.depth <= row.depth:
                    break
                inside.append(later)
            row.macs = sum(r.macs for r in inside if not r.layer.children())
    return sum(r.macs for r in rows if not r.layer.children())


def summary_text(
    model: Any,
    line_length: int | None = None,
    positions: list[float] | None = None,
    expand_nested: bool = True,
    show_trainable: bool = False,
    layer_range: list[str] | tuple[str, str] | None = None,
) -> str:
    """The whole summary as text (what ``model.summary()`` prints); the arguments are Keras's
    (see ``Model.summary``)."""
    rows = summary_rows(model)
    macs = _roll_up_macs(rows)
    shown = _in_range(rows, layer_range)
    if not expand_nested:
        shown = [r for r in shown if r.depth == 0]
    header: tuple[str, ...] = ("Layer (type)", "Output Shape", "Param #", "Formula", "MACs/sample")
    graph = hasattr(model, "_nodes")
    if graph:
        header += ("Connected to",)
    if show_trainable:
        header += ("Trainable",)
    table = [header]
    for r in shown:
        name = (
            "  " * r.depth
            + ("└ " if r.depth else "")
            + f"{r.layer.name} ({type(r.layer).__name__})"
        )
        cells = (name, str(r.output_shape), f"{r.params:,}", r.formula, f"{r.macs:,}")
        cells += (r.connected,) if graph else ()
        cells += (("Y" if r.layer.trainable else "N"),) if show_trainable else ()
        table.append(cells)
    widths = _column_widths(table, line_length, positions)
    right = {2, 4}

    def line(cells: tuple[str, ...]) -> str:
        parts = [
            _fit(c, w).rjust(w) if i in right else _fit(c, w).ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ]
        return "  ".join(parts).rstrip()

    rule = "─" * len(line(header))
    weights = model.weights
    total = sum(int(w.size) for w in weights)
    trainable = sum(int(w.size) for w in weights if w.requires_grad)
    nbytes = sum(int(w.data.nbytes) for w in weights)
    trainable_bytes = sum(int(w.data.nbytes) for w in weights if w.requires_grad)
    hidden = hidden_layer_count(rows)
    kind = "deep: two or more hidden layers" if hidden >= 2 else "shallow: fewer than two"
    lines = [f'Model: "{model.name}"', rule, line(header), rule]
    lines += [line(row) for row in table[1:]]
    lines += [
        rule,
        f"Total params: {total:,} ({_bytes(nbytes)})",
        f"Trainable params: {trainable:,} ({_bytes(trainable_bytes)})",
        f"Non-trainable params: {total - trainable:,} ({_bytes(nbytes - trainable_bytes)})",
        f"Multiply-accumulates per sample: {macs:,}",
        f"Hidden layers: {hidden} ({kind})",
    ]
    return "\n".join(lines)


def _in_range(rows: list[Row], layer_range: Any) -> list[Row]:
    """The rows from the first layer whose name matches ``layer_range[0]`` to the first one
    after it matching ``layer_range[1]`` (shell-style patterns, as Keras's)."""
    if layer_range is None:
        return rows
    if not (
        isinstance(layer_range, (list, tuple))
        and len(layer_range) == 2
        and all(isinstance(n, str) for n in layer_range)
    ):
        raise ValueError(
            "summary: layer_range must be [first_layer_name, last_layer_name] (patterns such as "
            f"'conv*' allowed). Received layer_range={layer_range!r}."
        )
    names = [r.layer.name for r in rows]
    first = next((i for i, n in enumerate(names) if fnmatch.fnmatch(n, layer_range[0])), None)
    last = None
    if first is not None:
        later = enumerate(names[first:], first)
        last = next((i for i, n in later if fnmatch.fnmatch(n, layer_range[1])), None)
    if first is None or last is None:
        missing = layer_range[0] if first is None else layer_range[1]
        raise ValueError(
            f"summary: no layer matches {missing!r} in layer_range={list(layer_range)!r}"
            + ("" if first is None else " at or after the first one")
            + f". The layers are: {', '.join(names)}."
        )
    return rows[first : last + 1]


def _column_widths(
    table: list[tuple[str, ...]], line_length: int | None, positions: list[float] | None
) -> list[int]:
    """Each column's width: its longest cell; or where each column ends, from ``positions``
    (fractions of ``line_length``, or absolute character positions, as Keras reads them); or
    the widest columns (formula, links) trimmed until a line fits in ``line_length``."""
    columns = len(table[0])
    natural = [max(len(row[i]) for row in table) for i in range(columns)]
    if positions is not None:
        if len(positions) != columns or any(
            not isinstance(p, (int, float)) or p <= 0 for p in positions
        ):
            raise ValueError(
                f"summary: positions must give where each of the {columns} columns ends "
                f"({', '.join(table[0])}), as fractions of line_length or as character "
                f"positions. Received positions={positions!r}."
            )
        ends = [round(p * (line_length or 120)) if p <= 1 else int(p) for p in positions]
        if ends != sorted(ends) or len(set(ends)) != len(ends):
            raise ValueError(f"summary: positions must increase. Received positions={positions!r}.")
        starts = [0, *ends[:-1]]
        return [max(end - start - 2, 1) for start, end in zip(starts, ends, strict=True)]
    if line_length is None:
        return natural
    line_length = check_positive_int("summary", "line_length", line_length)
    widths = list(natural)
    # First the formula and the links, then the shapes, the names last; a cell narrower than
    # the floor says nothing, so a line that cannot fit stays longer.
    for trimmable, floor in (((3, 5), 12), ((1, 3, 5), 8), ((0,), 12), ((0,), 8)):
        trimmable = tuple(i for i in trimmable if i < columns)
        while sum(widths) + 2 * (columns - 1) > line_length:
            widest = max(trimmable, key=lambda i: widths[i])
            if widths[widest] <= floor:
                break
            widths[widest] -= 1
    return widths


def _fit(text: str, width: int) -> str:
    """``text`` cut to ``width`` characters, the cut marked with an ellipsis."""
    return text if len(text) <= width else text[: max(width - 1, 0)] + "…"


def print_summary(model: Any, print_fn: Callable[[str], Any] | None = None, **options: Any) -> None:
    """Print ``summary_text(model, **options)`` (or hand it to ``print_fn``)."""
    (print_fn or print)(summary_text(model, **options))
