"""Watching layer calls: one forward-hook mechanism for every tool that looks inside a model.

``Layer.__call__`` hands each call, after it ran, to the functions in ``call_observers`` as
``observer(layer, inputs, output)``: the input tensor (a list of them for layers such as
``Add``) and the output. ``watch_calls`` adds one for the length of a ``with`` block;
``observe_calls`` (shapes, for a summary of a subclassed model) and ``inspect``'s
``record_calls`` (the numbers, for traces and activation maps) are built on it. While any
watcher is open, ``predict`` and ``fit`` leave their faster paths (``observing_calls``), so
every call is seen, a repeat batch's as much as the first.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from glassnet.layers.layer import Layer

__all__ = ["call_observers", "observe_calls", "observing_calls", "watch_calls"]

Observer = Callable[["Layer", Any, Any], None]

#: Called as ``observer(layer, inputs, output)`` after every layer call, in order.
call_observers: list[Observer] = []


@contextlib.contextmanager
def watch_calls(observer: Observer) -> Iterator[None]:
    """Call ``observer(layer, inputs, output)`` after every layer call made inside the
    ``with`` block, in call order (PyTorch's forward hook, for all layers at once)."""
    call_observers.append(observer)
    try:
        yield
    finally:
        call_observers.remove(observer)


@contextlib.contextmanager
def observe_calls() -> Iterator[list[tuple[Layer, Any, tuple[int, ...]]]]:
    """Record every layer call made inside the ``with`` block as ``(layer, input_shape,
    output_shape)``, in call order: how a summary or a trace sees inside a subclassed model."""
    calls: list[tuple[Layer, Any, tuple[int, ...]]] = []

    def record(layer: Layer, inputs: Any, out: Any) -> None:
        shape = [tuple(t.shape) for t in inputs] if isinstance(inputs, list) else inputs.shape
        several = isinstance(out, (list, tuple))  # a model with several outputs
        out_shape = [tuple(o.shape) for o in out] if several else tuple(out.shape)
        calls.append((layer, shape if isinstance(shape, list) else tuple(shape), out_shape))

    with watch_calls(record):
        yield calls


def observing_calls() -> bool:
    """Whether a watcher is open right now (``predict`` then runs its slices in order and on
    the layers' calls, so the record keeps every call, in order)."""
    return bool(call_observers)
