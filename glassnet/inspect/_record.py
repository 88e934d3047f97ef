"""Watch a model run: every leaf layer's input and output tensors, in call order.

``observe_calls()`` in ``glassnet.layers.observers`` records shapes; looking inside needs the
numbers too. ``record_calls`` watches the same calls (``watch_calls``, the one forward-hook
mechanism) and keeps the tensors of the model's leaf layers, so it sees inside subclassed
models and nested ``Sequential`` stacks alike, and every ``predict`` it is open for.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from glassnet.layers.layer import Layer
from glassnet.layers.observers import watch_calls
from glassnet.tensor import Tensor


@dataclass
class Call:
    """One call of a leaf layer: where it sits (dotted path), its input and output tensors."""

    path: str
    layer: Layer
    input: Any
    output: Tensor


def leaf_layers(model: Layer) -> list[tuple[str, Layer]]:
    """``(path, layer)`` for every layer without sub-layers: the ones doing the maths."""
    return [
        (path or layer.name, layer)
        for path, layer in model.named_layers()
        if layer is not model and not layer.children()
    ]


@contextlib.contextmanager
def record_calls(model: Layer) -> Iterator[list[Call]]:
    """Record ``Call`` entries for every leaf-layer call made inside the ``with`` block."""
    calls: list[Call] = []
    paths = {id(layer): (path, layer) for path, layer in leaf_layers(model)}

    def record(layer: Layer, inputs: Any, out: Any) -> None:
        if id(layer) in paths:
            calls.append(Call(paths[id(layer)][0], layer, inputs, out))

    with watch_calls(record):
        yield calls


def as_batch(model: Layer, x: Any, what: str) -> np.ndarray:
    """One input as a float32 batch of one: adds the batch axis when ``x`` is a single sample
    (one axis fewer than the model's input shape), and refuses bigger batches."""
    arr = np.asarray(x.data if isinstance(x, Tensor) else x, dtype=np.float32)
    shape = getattr(model, "input_shape", None)
    if isinstance(shape, tuple) and arr.ndim == len(shape) - 1:
        arr = arr[None]
    if arr.shape[0] != 1:
        raise ValueError(
            f"{what}: expects one input (a single sample or a batch of one). Received an array "
            f"of shape {arr.shape}. Pass x[0] or x[:1]."
        )
    return arr
