"""Watch a model run: every leaf layer's input and output tensors, in call order.

``observe_calls()`` in ``glassnet.layers.observers`` records shapes; looking inside needs the
numbers too. ``record_calls`` wraps each layer's ``_run_call`` on the instance for the length of
a ``with`` block (nothing is changed in ``glassnet.layers``), so it sees inside subclassed
models and nested ``Sequential`` stacks alike.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from glassnet.layers.layer import Layer
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
    wrapped: list[Layer] = []
    for path, layer in leaf_layers(model):

        def run(x: Any, training: bool, _layer: Layer = layer, _path: str = path) -> Any:
            out = type(_layer)._run_call(_layer, x, training)
            calls.append(Call(_path, _layer, x, out))
            return out

        object.__setattr__(layer, "_run_call", run)
        wrapped.append(layer)
    try:
        yield calls
    finally:
        for layer in wrapped:
            layer.__dict__.pop("_run_call", None)


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
