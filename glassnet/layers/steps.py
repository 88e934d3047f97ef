"""Each layer's inference and training on arrays, without Tensors or a graph: the steps that
``Sequential.predict`` and ``fit`` chain once a batch of a shape has gone through ``call``.

A layer offers its steps with ``Layer.inference_step``, ``inference_step_with`` and
``training_step``; the functions here hand them out only where the layer's ``call`` is the one
the step was written for (``inference_step_of``, ``fused_step_of``, ``training_step_of``).
``OpStep`` is the training step of a layer that is one op on its input and its weights.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from glassnet.autograd import Context, Function
from glassnet.tensor import Tensor

if TYPE_CHECKING:
    from glassnet.layers.layer import Layer, Shape

__all__ = ["OpStep", "TrainingStep", "fused_step_of", "inference_step_of", "training_step_of"]


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


class TrainingStep(Protocol):
    """A layer's training step on arrays (``Layer.training_step``).

    ``forward(x, input_grad)`` keeps what ``backward`` needs and sets ``output_grad``, whether
    its output needs a gradient (its input does, or a weight of its own requires one);
    ``backward(grad)`` adds the weights' gradients to their ``.grad`` and returns the input's
    gradient, or None where ``input_grad`` was False.
    """

    output_grad: bool

    def forward(self, x: Any, input_grad: bool) -> Any: ...

    def backward(self, grad: Any) -> Any: ...


class OpStep:
    """A training step that is one op (``Function``) on the input and the layer's weights.

    ``forward`` runs ``fn.forward`` on arrays with a fresh Context whose ``needs_input_grad``
    is given outright (the input's from ``input_grad``, each weight's from its
    ``requires_grad`` now); ``backward`` runs ``fn.backward`` on it and adds each weight's
    gradient to ``weight.grad`` as ``Tensor.backward`` does. Same code, same numbers, no graph.
    The weights are looked up on the layer at every batch (``names``: its attributes), so a
    weight frozen or replaced between batches is seen.

    The op's backward must return fresh arrays for the weights (a GEMM's, a sum's), which
    become ``.grad`` as they are; a view is copied, so a user editing ``.grad`` never edits
    something else.
    """

    def __init__(
        self, fn: type[Function], layer: Layer, names: Sequence[str], **attrs: Any
    ) -> None:
        self.fn, self.layer, self.names, self.attrs = fn, layer, tuple(names), attrs
        self.ctx: Context | None = None
        self.weights: list[Tensor | None] = []
        self.output_grad = False

    def forward(self, x: Any, input_grad: bool) -> Any:
        self.weights = weights = [getattr(self.layer, name) for name in self.names]
        needs = (input_grad, *(w is not None and w.requires_grad for w in weights))
        self.ctx = Context(self.fn, (), needs)
        self.output_grad = any(needs)
        arrays = [None if w is None else w.data for w in weights]
        return self.fn.forward(self.ctx, x, *arrays, **self.attrs)

    def backward(self, grad: Any) -> Any:
        ctx, self.ctx = self.ctx, None  # its saved arrays go as soon as they are used
        input_grad, *weight_grads = self.fn.backward(ctx, grad)
        for weight, g in zip(self.weights, weight_grads, strict=True):
            if g is None:
                continue
            if not g.flags.owndata:
                g = g.copy()
            weight.grad = g if weight.grad is None else weight.grad + g
        return input_grad


def training_step_of(layer: Layer, input_shape: Shape) -> TrainingStep | None:
    """``layer.training_step(input_shape)``, or None where the layer's ``call`` is rewritten
    (see ``inference_step_of``)."""
    if not _steps_as_called(layer, "training_step"):
        return None
    return layer.training_step(input_shape)


def _steps_as_called(layer: Layer, method: str) -> bool:
    """Whether the class that wrote ``layer``'s ``method`` also wrote the ``call`` it runs:
    not so for a subclass that rewrites ``call``, or an instance given another ``call``."""
    owner = next(k for k in type(layer).__mro__ if method in vars(k))
    return "call" not in vars(layer) and type(layer).call is owner.call
