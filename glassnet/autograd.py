"""The op contract: a ``Function`` with a forward and a backward, and the ``Context`` between them.

Every differentiable op in ``glassnet/ops/`` is a subclass of ``Function`` with two static
methods that work on plain arrays (NumPy or CuPy), never on Tensors::

    class MulOp(Function):
        @staticmethod
        def forward(ctx, a, b):
            ctx.save_for_backward(a, b)
            return a * b

        @staticmethod
        def backward(ctx, grad):
            a, b = ctx.saved
            return grad * b, grad * a      # one gradient per array input, None where not needed

``MulOp.apply(x, y)`` unwraps tensors, runs ``forward`` and, when gradients are wanted, links the
result into the graph. Broadcasting is undone by the engine (``unbroadcast``), so a backward may
return a gradient of the broadcast shape. A backward must never write into the ``grad`` it is
given, nor assume its own result is writable: gradients may be shared or read-only views.
Autograd is first order: backward works on arrays, so there are no gradients of gradients.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any, ClassVar, NamedTuple

import numpy as np

from glassnet.backend import as_array, get_array_module, is_float
from glassnet.tensor import Tensor, is_grad_enabled, no_grad, unbroadcast

__all__ = ["Applied", "Context", "Function", "Tensor", "no_grad", "record_ops", "unbroadcast"]

_recorder = threading.local()


class Applied(NamedTuple):
    """One op as ``Function.apply`` ran it (``record_ops``): the op, its inputs as given
    (tensors, arrays, numbers or None), the arrays its forward received, its attributes,
    whether the graph was being recorded, and the output tensor."""

    fn: type[Function]
    inputs: tuple[Any, ...]
    arrays: tuple[Any, ...]
    attrs: dict[str, Any]
    grad_enabled: bool
    output: Tensor


@contextlib.contextmanager
def record_ops() -> Iterator[list[Applied]]:
    """Note every op applied on this thread inside the ``with`` block, in order: what a
    model's replay (``models.replay``) is made from. Records nest: an inner block sees its own
    ops, and they are not in the outer record."""
    previous = getattr(_recorder, "ops", None)
    _recorder.ops = ops = []
    try:
        yield ops
    finally:
        _recorder.ops = previous


class Context:
    """What one op node remembers between its forward and its backward pass.

    ``saved`` holds the arrays ``forward`` chose to keep; any other attribute (a mask, a stride)
    can be set freely. ``needs_input_grad[i]`` says whether input ``i`` wants a gradient, so a
    backward can skip work nobody asked for.
    """

    def __init__(
        self,
        fn: type[Function],
        parents: tuple[Tensor | None, ...],
        needs_input_grad: tuple[bool, ...] | None = None,
    ) -> None:
        self.fn = fn
        self.parents = parents
        if needs_input_grad is None:
            needs_input_grad = tuple(p is not None and p.requires_grad for p in parents)
        self.needs_input_grad = needs_input_grad  # given outright by a replay (models.replay)
        self.saved: tuple[Any, ...] = ()
        self.freed = False

    def save_for_backward(self, *arrays: Any) -> None:
        """Keep these arrays for the backward pass (freed after it unless ``retain_graph``)."""
        self.saved = arrays

    def free(self) -> None:
        """Drop saved arrays and links to inputs so their memory can be reclaimed."""
        fn = self.fn
        self.__dict__.clear()  # also drops masks, indices and shapes an op set as attributes
        self.fn, self.parents, self.saved, self.needs_input_grad = fn, (), (), ()
        self.freed = True


class Function:
    """Base class of every differentiable op: subclass it and write ``forward`` and ``backward``.

    An op whose result for one sample depends on the others (batch statistics, draws made for
    the whole batch) sets ``across_batch = True`` and takes a keyword ``share``: the
    ``parallel.Share`` of a batch it runs on when ``fit`` replays a step a share per core
    (``models.replay``), None when it sees the whole batch.
    """

    across_batch: ClassVar[bool] = False

    @staticmethod
    def forward(ctx: Context, *arrays: Any, **attrs: Any) -> Any:
        """Compute the output array from input arrays; save on ``ctx`` what backward needs."""
        raise NotImplementedError

    @staticmethod
    def backward(ctx: Context, grad: Any) -> Any:
        """Given d(loss)/d(output), return d(loss)/d(input) for each array input (or None)."""
        raise NotImplementedError

    @classmethod
    def apply(cls, *inputs: Any, **attrs: Any) -> Tensor:
        """Run the op on tensors (or arrays, or None for absent optional inputs).

        Array inputs are positional; hyperparameters are keyword-only ``attrs``.
        """
        parents = tuple([x if isinstance(x, Tensor) else None for x in inputs])
        like = next((p.data for p in parents if p is not None), None)
        arrays = tuple([x.data if isinstance(x, Tensor) else _to_array(x, like) for x in inputs])
        recording = is_grad_enabled()
        # Under no_grad no input wants a gradient, so ops skip saving what backward would need.
        ctx = Context(cls, parents if recording else (None,) * len(parents))
        result = cls.forward(ctx, *arrays, **attrs)
        xp = get_array_module(result)
        out = Tensor(result if isinstance(result, xp.ndarray) else xp.asarray(result))
        if recording and any(ctx.needs_input_grad):
            out.requires_grad = True
            out._ctx = ctx
        tape = getattr(_recorder, "ops", None)
        if tape is not None:
            tape.append(Applied(cls, inputs, arrays, attrs, recording, out))
        return out


def _to_array(x: Any, like: Any) -> Any:
    """An op input as an array. Plain numbers are weak, as in PyTorch: ``x * 2`` keeps x's
    float32 instead of promoting to the number's int64 or float64."""
    if isinstance(x, Tensor):
        return x.data
    if x is None:
        return None
    if like is not None and isinstance(x, (int, float, np.generic)) and not isinstance(x, bool):
        if is_float(like.dtype) or isinstance(x, (int, np.integer)):
            return get_array_module(like).asarray(x, dtype=like.dtype)
    x = as_array(x)
    if like is not None and is_float(like.dtype) and is_float(x.dtype) and x.dtype != like.dtype:
        # A plain float array next to a tensor follows the tensor's precision (Keras's autocast):
        # a float64 NumPy array must not silently turn a float32 computation into float64.
        x = x.astype(like.dtype)
    return x
