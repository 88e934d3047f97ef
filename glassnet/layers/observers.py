"""Watching layer calls: ``observe_calls`` records every call made inside a ``with`` block.

``Layer.__call__`` hands each call, after it ran, to the functions in ``call_observers``. A
summary or a trace of a subclassed model, whose ``call`` is arbitrary Python, sees its layers
this way; ``predict`` and ``fit`` leave their faster paths while a record is open
(``observing_calls``), so every call is seen.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from glassnet.layers.layer import Layer

__all__ = ["call_observers", "observe_calls", "observing_calls"]

#: Called as ``observer(layer, input_shape, output)`` after every layer call, in order.
call_observers: list[Callable[[Layer, Any, Any], None]] = []


@contextlib.contextmanager
def observe_calls() -> Iterator[list[tuple[Layer, Any, tuple[int, ...]]]]:
    """Record every layer call made inside the ``with`` block as ``(layer, input_shape,
    output_shape)``, in call order: how a summary or a trace sees inside a subclassed model."""
    calls: list[tuple[Layer, Any, tuple[int, ...]]] = []

    def record(layer: Layer, input_shape: Any, out: Any) -> None:
        calls.append((layer, input_shape, tuple(out.shape)))

    call_observers.append(record)
    try:
        yield calls
    finally:
        call_observers.remove(record)


def observing_calls() -> bool:
    """Whether an ``observe_calls`` block is recording layer calls right now (``predict`` then
    runs its slices in order, so the record keeps the order of the calls)."""
    return bool(call_observers)
