"""``plot_model``: a picture of the network's layers and how they connect, Keras's
``keras.utils.plot_model`` drawn with matplotlib (no Graphviz program, no network).

Each box is one layer call: its name and class, optionally its input and output shapes, its
activation and whether it trains. Arrows follow the data: a chain for a ``Sequential`` or a
subclassed model (its direct sub-layers in the order its ``call`` used them), the real graph for
a functional model (branches, merges, several inputs and outputs).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from glassnet.inspect.visual import DPI, new_figure, save_figure
from glassnet.layers import InputLayer
from glassnet.models.summary import summary_rows

__all__ = ["GraphBox", "layer_graph", "plot_model"]


@dataclass
class GraphBox:
    """One layer call in the picture: the layer, its input and output shapes, the boxes it
    takes from (indices into the list ``layer_graph`` returns) and its level (rank) in the
    drawing: one more than the deepest box it takes from."""

    layer: Any
    input_shape: Any
    output_shape: Any
    parents: list[int] = field(default_factory=list)
    level: int = 0


def _shape_text(shape: Any) -> str:
    if isinstance(shape, list):
        return ", ".join(_shape_text(s) for s in shape)
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + ")"


def layer_graph(model: Any) -> list[GraphBox]:
    """The boxes and arrows ``plot_model`` draws, each box after those it takes from."""
    if hasattr(model, "_nodes"):  # functional: the recorded graph itself
        boxes: list[GraphBox] = []
        index: dict[int, int] = {}
        for tensor in model.inputs:
            index[id(tensor)] = len(boxes)
            boxes.append(GraphBox(tensor.layer, tensor.shape, tensor.shape))
        for node in model._nodes:
            parents = [index[id(t)] for t in node.input_tensors]
            ins = [t.shape for t in node.input_tensors]
            outs = [t.shape for t in node.outputs]
            box = GraphBox(
                node.layer,
                ins if len(ins) > 1 else ins[0],
                outs if len(outs) > 1 else outs[0],
                parents,
                1 + max(boxes[p].level for p in parents),
            )
            for tensor in node.outputs:
                index[id(tensor)] = len(boxes)
            boxes.append(box)
        return boxes
    rows = [row for row in summary_rows(model) if row.depth == 0]
    shape = tuple(model.input_shape)
    first = getattr(model, "_input_layer", None) or InputLayer(shape[1:], name="input")
    boxes = [GraphBox(first, shape, shape)]
    for row in rows:
        boxes.append(GraphBox(row.layer, shape, row.output_shape, [len(boxes) - 1], len(boxes)))
        shape = row.output_shape
    return boxes


def _label(box: GraphBox, names: bool, shapes: bool, activations: bool, trainable: bool) -> str:
    kind = type(box.layer).__name__
    lines = [f"{box.layer.name} ({kind})" if names else kind]
    activation = getattr(box.layer, "activation", None)
    if activations and activation is not None:
        lines.append(f"activation: {getattr(activation, '__name__', activation)}")
    if trainable and box.layer.weights:
        lines.append(f"trainable: {'yes' if box.layer.trainable else 'no'}")
    if shapes:
        lines.append(f"{_shape_text(box.input_shape)} → {_shape_text(box.output_shape)}")
    return "\n".join(lines)


def plot_model(
    model: Any,
    to_file: str | os.PathLike[str] = "model.png",
    show_shapes: bool = False,
    show_layer_names: bool = True,
    rankdir: str = "TB",
    dpi: int = 96,
    show_layer_activations: bool = False,
    show_trainable: bool = False,
) -> Path:
    """Draw the model's layer graph to a PNG and return its path (Keras's arguments).

    Args:
        model: a built model (``Sequential``, functional or subclassed).
        to_file: where to write the PNG.
        show_shapes: write each layer's input → output shape.
        show_layer_names: write each layer's name beside its class.
        rankdir: "TB" draws top to bottom, "LR" left to right.
        dpi: the image's resolution.
        show_layer_activations: write the activation of layers that have one.
        show_trainable: say whether each layer with weights trains.
    """
    if rankdir not in ("TB", "LR"):
        raise ValueError(f"plot_model: rankdir must be 'TB' or 'LR'. Received {rankdir!r}.")
    boxes = layer_graph(model)
    labels = [
        _label(b, show_layer_names, show_shapes, show_layer_activations, show_trainable)
        for b in boxes
    ]
    levels: dict[int, list[int]] = {}
    for i, box in enumerate(boxes):
        levels.setdefault(box.level, []).append(i)
    across = max(len(members) for members in levels.values())
    chars = max(len(line) for label in labels for line in label.split("\n"))
    lines = max(label.count("\n") + 1 for label in labels)
    box_w, box_h = 0.09 * chars + 0.4, 0.22 * lines + 0.3  # inches
    step_w, step_h = box_w + 0.4, box_h + 0.5
    cols, rows = (across, len(levels)) if rankdir == "TB" else (len(levels), across)
    width, height = cols * step_w + 0.4, rows * step_h + 0.2
    fig = new_figure(int(width * DPI), int(height * DPI))
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, width)
    ax.set_ylim(0, height)
    ax.axis("off")
    centre: dict[int, tuple[float, float]] = {}
    for level, members in levels.items():
        for k, i in enumerate(members):
            offset = (across - len(members)) / 2 + k  # centred within the widest level
            if rankdir == "TB":
                centre[i] = (0.2 + (offset + 0.5) * step_w, height - 0.1 - (level + 0.5) * step_h)
            else:
                centre[i] = (0.2 + (level + 0.5) * step_w, height - 0.1 - (offset + 0.5) * step_h)
    style = {"boxstyle": "round,pad=0.4", "facecolor": "#eef3fb", "edgecolor": "#335c99"}
    texts = [
        ax.text(*centre[i], label, ha="center", va="center", fontsize=9, bbox=style)
        for i, label in enumerate(labels)
    ]
    # From the parent's bottom (right, for "LR") to the child's top (left): fractions of each
    # label's extent, so arrows meet the boxes whatever their size.
    start, end = ((0.5, 0.0), (0.5, 1.0)) if rankdir == "TB" else ((1.0, 0.5), (0.0, 0.5))
    arrow = {"arrowstyle": "-|>", "color": "#335c99", "shrinkA": 7, "shrinkB": 7}
    for i, box in enumerate(boxes):
        for parent in box.parents:
            ax.annotate(
                "", end, start, xycoords=texts[i], textcoords=texts[parent], arrowprops=arrow
            )
    return save_figure(fig, to_file, dpi=dpi)
