"""Each layer's inference on arrays, without Tensors or a graph: the steps that
``Sequential.predict`` chains once a batch of a shape has gone through ``call``. (Training
replays the ops recorded from the graph instead: ``models.replay``.)

A layer offers its steps with ``Layer.inference_step`` and ``inference_step_with``; the
functions here hand them out only where the layer's ``call`` is the one the step was written
for (``inference_step_of``, ``fused_step_of``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from glassnet.tensor import Tensor

if TYPE_CHECKING:
    from glassnet.layers.layer import Layer, Shape

__all__ = ["fused_step_of", "inference_step_of"]


def inference_step_of(layer: Layer, input_shape: Shape) -> Callable[[Any], Any]:
    """``layer``'s inference on arrays for inputs of ``input_shape``: its ``inference_step``,
    or, where it has none, a call through the layer as usual. A subclass that rewrites
    ``call`` (or an instance given another ``call``) is called as usual too: the inherited
    step would not do what its ``call`` does."""
    step = layer.inference_step(input_shape) if _steps_as_called(layer, "inference_step") else None
    if step is None:
        return lambda x: layer(Tensor(x), training=False).data
    return step


def fused_step_of(layer: Layer, after: Layer, input_shape: Shape) -> Callable[[Any], Any] | None:
    """``layer.inference_step_with(input_shape, after)``, or None where either layer's
    ``call`` is rewritten (see ``inference_step_of``)."""
    if not (
        _steps_as_called(layer, "inference_step_with") and _steps_as_called(after, "inference_step")
    ):
        return None
    return layer.inference_step_with(input_shape, after)


def _steps_as_called(layer: Layer, method: str) -> bool:
    """Whether the class that wrote ``layer``'s ``method`` also wrote the ``call`` it runs:
    not so for a subclass that rewrites ``call``, or an instance given another ``call``."""
    owner = next(k for k in type(layer).__mro__ if method in vars(k))
    return "call" not in vars(layer) and type(layer).call is owner.call
