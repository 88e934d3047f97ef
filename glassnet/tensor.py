"""Tensor: an array that remembers how it was made, and reverse-mode autograd over those records.

A ``Tensor`` wraps an array (``.data``). When an op computes a new tensor from tensors that
require gradients, the result keeps a node (``._ctx``) naming the op, its input tensors and the
arrays the op saved for its backward pass. ``loss.backward()`` walks those nodes from the loss
back to the leaves in reverse topological order — iteratively, so a 152-layer network never
meets Python's recursion limit — and applies the chain rule: each node turns the gradient of its
output into gradients of its inputs. Leaf tensors (parameters, inputs with ``requires_grad``)
accumulate the result in ``.grad``.

The arithmetic operators and methods (``+``, ``@``, ``.sum()``, ``.reshape()``, ...) are
differentiable ops. They live in ``glassnet/ops/`` and are attached to ``Tensor`` by
``glassnet/ops/methods.py``: the tensor layer sits below the ops layer and never imports it.
"""

from __future__ import annotations

import contextlib
import math
import sys
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import numpy as np

from glassnet.backend import as_array, get_array_module, is_float

if TYPE_CHECKING:  # pragma: no cover
    from glassnet.autograd import Context

_state = threading.local()


def is_grad_enabled() -> bool:
    """Whether ops currently record the graph (False inside ``no_grad()``)."""
    return getattr(_state, "grad_enabled", True)


@contextlib.contextmanager
def no_grad() -> Iterator[None]:
    """Context manager (and decorator) under which ops record nothing: no graph, no saved arrays.

    Use it for inference and for parameter updates; it is what ``predict`` runs under.
    """
    previous = is_grad_enabled()
    _state.grad_enabled = False
    try:
        yield
    finally:
        _state.grad_enabled = previous


@contextlib.contextmanager
def enable_grad() -> Iterator[None]:
    """Re-enable graph recording inside a ``no_grad()`` block."""
    previous = is_grad_enabled()
    _state.grad_enabled = True
    try:
        yield
    finally:
        _state.grad_enabled = previous


# How many numbers the long rows hold (about: whole rows of F). A column sum and an element-wise
# ufunc do best at different lengths; both were read off ``python -m benchmarks.long_rows``
# (its table and the reading of it are in benchmarks/NOTES.md, "Long rows").
_SHORTEST_ROW, _SUM_ROW, _UFUNC_ROW = 1024, 2048, 8192


def _rows_per_long_row(p: int, f: int, numbers: int) -> int:
    """k, the number of consecutive rows of ``f`` numbers viewed as one long row: about
    ``numbers`` numbers where the ``p`` rows make at least two of those, else about 1,024
    (and where they do not make two of those either, the caller runs NumPy's own loop)."""
    k = max(1, numbers // max(f, 1))
    return k if p >= 2 * k else max(1, _SHORTEST_ROW // max(f, 1))


def sum_rows(a: Any) -> Any:
    """Column sums of a 2-D array, ``a.sum(axis=0)``, computed over long rows.

    Shape: a (P, F) -> (F,). A bias gradient sums P = N·H·W rows of F numbers; NumPy adds such
    rows one at a time, F numbers per step, which is slow for small F. Viewing k consecutive
    rows as one row of k·F numbers makes each step long, then the k partial sums are added: the
    same sum up to rounding, and more accurate (shorter chains of additions).
    """
    p, f = a.shape
    k = _rows_per_long_row(p, f, _SUM_ROW)
    if p < 2 * k or not a.flags.c_contiguous:
        return a.sum(axis=0)
    head = p - p % k
    out = a[:head].reshape(-1, k * f).sum(axis=0).reshape(k, f).sum(axis=0)
    if head < p:
        out += a[head:].sum(axis=0)
    return out


_LONG_ROWS_FROM = 1 << 16  # elements; below this, rows of 16 or more numbers are added as they are


def add_to_rows(a: Any, v: Any) -> Any:
    """``a += v`` for every row of ``a``, in place, over long rows; returns ``a``.

    Shape: a (P, F), v (F,). Adding a bias to N·H·W rows of F numbers, NumPy steps F numbers at
    a time; k consecutive rows viewed as one row of k·F numbers take a bias repeated k times in
    long steps. Same numbers as ``a += v``.
    """
    return rows_with(get_array_module(a).add, a, v, out=a)


def rows_with(ufunc: Any, a: Any, v: Any, out: Any = None) -> Any:
    """``ufunc(a, v)`` for every row of ``a`` and the vector ``v``, over long rows (see
    ``add_to_rows``), into ``out`` (a new array by default; ``out=a`` works in place).

    Shape: a (P, F), v (F,), out (P, F). For per-channel arithmetic on channels-last
    activations (batch normalization's shift and scale), which NumPy would otherwise run F
    numbers at a time. Same numbers as ``ufunc(a, v)``.
    """
    xp = get_array_module(a)
    if out is None:
        out = xp.empty(a.shape, dtype=xp.result_type(a, v))
    p, f = a.shape
    k = _rows_per_long_row(p, f, _UFUNC_ROW)
    contiguous = a.flags.c_contiguous and out.flags.c_contiguous
    if p < 2 * k or not contiguous or (f >= 16 and a.size < _LONG_ROWS_FROM):
        return ufunc(a, v, out=out)  # wide rows, or too few for the set-up (a few µs) to pay
    head = p - p % k
    repeated = xp.empty((k, f), dtype=v.dtype)
    repeated[...] = v  # v repeated k times (np.tile's Python set-up costs more than this)
    ufunc(a[:head].reshape(-1, k * f), repeated.reshape(-1), out=out[:head].reshape(-1, k * f))
    if head < p:
        ufunc(a[head:], v, out=out[head:])
    return out


def unbroadcast(grad: Any, shape: tuple[int, ...]) -> Any:
    """Sum ``grad`` down to ``shape``: undo NumPy broadcasting in the backward pass.

    If ``x`` of shape (3, 1) was broadcast to (2, 3, 4) in the forward pass, each element of
    ``x`` was used 2·4 times, so its gradient is the sum over those copies. Raises if ``grad``
    could not have come from broadcasting ``shape``.
    """
    if grad.shape == tuple(shape):
        return grad
    extra = grad.ndim - len(shape)
    if extra < 0:
        raise RuntimeError(f"unbroadcast: gradient shape {grad.shape} has fewer axes than {shape}")
    axes = tuple(range(extra)) + tuple(
        extra + i for i, n in enumerate(shape) if n == 1 and grad.shape[extra + i] != 1
    )
    if axes == tuple(range(extra)) and extra and grad.size and grad.flags.c_contiguous:
        # Only leading axes to sum (a bias broadcast over a batch): one fast column sum.
        out = sum_rows(grad.reshape(-1, math.prod(grad.shape[extra:]))).reshape(
            (1,) * extra + grad.shape[extra:]
        )
    else:
        out = grad.sum(axis=axes, keepdims=True) if axes else grad
    if extra:
        out = out.reshape(out.shape[extra:])
    if out.shape != tuple(shape):
        raise RuntimeError(
            f"unbroadcast: gradient shape {grad.shape} cannot be reduced to input shape {shape}"
        )
    return out


class Tensor:
    """An n-dimensional array with optional gradient tracking (PyTorch's names).

    Args:
        data: array-like. NumPy arrays keep their dtype; Python floats and lists become float32.
        requires_grad: record operations on this tensor so ``backward()`` can fill ``.grad``.
        dtype: optional dtype to convert ``data`` to.

    Example:
        >>> w = Tensor([0.1], requires_grad=True)
        >>> y = (w * 0.5 + 0.2).sum()
        >>> y.backward(); w.grad
        array([0.5], dtype=float32)
    """

    __slots__ = (
        "__weakref__",
        "_ctx",
        "_keras_mask",
        "_logits",
        "_retain_grad",
        "constraint",
        "data",
        "grad",
        "name",
        "requires_grad",
    )
    __array_priority__ = 1000  # make ndarray + Tensor call Tensor.__radd__

    def __init__(
        self, data: Any, requires_grad: bool = False, dtype: Any = None, name: str | None = None
    ) -> None:
        if isinstance(data, Tensor):
            data = data.data
        self.data = as_array(data, dtype)
        if requires_grad and not is_float(self.data.dtype):
            raise TypeError(
                f"Tensor: only floating-point tensors can require gradients, got dtype "
                f"{self.data.dtype}. Convert with Tensor(data, dtype='float32')."
            )
        self.requires_grad = bool(requires_grad)
        self.grad: Any = None
        self.name = name
        self._ctx: Context | None = None
        self._retain_grad = False
        # A weight's projection, applied by Optimizer.step after each update (glassnet.constraints).
        self.constraint: Any = None
        # Set by softmax/sigmoid: (kind, input tensor, axis). Cross-entropy losses given these
        # probabilities use the logits instead, for a stable gradient (Keras does the same).
        self._logits: tuple[str, Tensor, int] | None = None
        # Set by Embedding(mask_zero=True) and passed on by the layers that support masks: a
        # bool Tensor (batch, steps), True at real tokens (Keras's ``_keras_mask``).
        self._keras_mask: Tensor | None = None

    # ---------------------------------------------------------------- array facts
    @property
    def shape(self) -> tuple[int, ...]:
        """The shape of the data, as a tuple."""
        return self.data.shape

    @property
    def dtype(self) -> Any:
        """The dtype of the data (float32 unless asked otherwise)."""
        return self.data.dtype

    @property
    def ndim(self) -> int:
        """The number of axes."""
        return self.data.ndim

    @property
    def size(self) -> int:
        """The number of elements."""
        return self.data.size

    @property
    def is_leaf(self) -> bool:
        """True for tensors made by the user, not by an op (their ``.grad`` is kept)."""
        return self._ctx is None

    @property
    def grad_fn(self) -> Any:
        """The op that produced this tensor (``None`` for leaves), like PyTorch's ``grad_fn``."""
        return None if self._ctx is None else self._ctx.fn

    def __len__(self) -> int:
        return len(self.data)

    def numpy(self) -> np.ndarray:
        """The data as a NumPy array (a copy from the GPU when on CuPy; the same array on CPU)."""
        xp = get_array_module(self.data)
        return self.data if xp is np else xp.asnumpy(self.data)

    def item(self) -> Any:
        """The single value of a one-element tensor as a Python number."""
        if self.data.size != 1:
            raise ValueError(
                f"Tensor.item: only one-element tensors can be converted to a Python number, "
                f"this one has shape {self.shape}. Index it or reduce it (e.g. .sum()) first."
            )
        return self.data.item()

    def tolist(self) -> Any:
        """The data as nested Python lists."""
        return self.data.tolist()

    def detach(self) -> Tensor:
        """A tensor sharing the same data but cut from the graph (no gradient flows back)."""
        return Tensor(self.data)

    def retain_grad(self) -> Tensor:
        """Keep ``.grad`` for this non-leaf tensor after ``backward()`` (for inspection)."""
        self._retain_grad = True
        return self

    def zero_grad(self) -> None:
        """Forget the accumulated gradient (sets ``.grad`` to ``None``, as PyTorch does)."""
        self.grad = None

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        """Switch gradient tracking on or off in place; returns ``self``."""
        if requires_grad and not is_float(self.data.dtype):
            raise TypeError(f"Tensor: dtype {self.data.dtype} cannot require gradients.")
        self.requires_grad = requires_grad
        return self

    def assign(self, value: Any) -> Tensor:
        """Overwrite the values in place, keeping shape and dtype (Keras's ``Variable.assign``):
        how a layer updates a non-trainable weight such as a running total. No gradient flows
        through it. Returns ``self``."""
        new = value.data if isinstance(value, Tensor) else value
        xp = get_array_module(self.data)
        new = xp.asarray(new)
        if new.shape != self.data.shape:
            try:
                new = xp.broadcast_to(new, self.data.shape)
            except ValueError:
                raise ValueError(
                    f"Tensor.assign: the value's shape {tuple(new.shape)} does not match the "
                    f"tensor's {tuple(self.data.shape)}. Assign a value of that shape."
                ) from None
        self.data[...] = new
        return self

    def assign_add(self, delta: Any) -> Tensor:
        """Add ``delta`` to the values in place (Keras's ``Variable.assign_add``); ``self``."""
        delta = delta.data if isinstance(delta, Tensor) else delta
        return self.assign(self.data + delta)

    def assign_sub(self, delta: Any) -> Tensor:
        """Subtract ``delta`` from the values in place (``Variable.assign_sub``); ``self``."""
        delta = delta.data if isinstance(delta, Tensor) else delta
        return self.assign(self.data - delta)

    def astype(self, dtype: Any) -> Tensor:
        """A new leaf tensor with the data converted to ``dtype`` (no gradient flows back)."""
        return Tensor(self.data.astype(dtype), requires_grad=self.requires_grad and is_float(dtype))

    def __repr__(self) -> str:
        body = np.array2string(self.numpy(), precision=4, separator=", ", prefix="Tensor(")
        extra = ""
        if self._ctx is not None:
            extra = f", grad_fn={self._ctx.fn.__name__}"
        elif self.requires_grad:
            extra = ", requires_grad=True"
        return f"Tensor({body}, dtype={self.dtype}{extra})"

    def __bool__(self) -> bool:
        return bool(self.data)

    def __hash__(self) -> int:
        return id(self)

    # ---------------------------------------------------------------- autograd
    def backward(self, grad: Any = None, retain_graph: bool = False) -> None:
        """Compute the gradient of this tensor with respect to every leaf that requires it.

        Args:
            grad: d(something)/d(self), same shape as ``self``. Optional for a one-element
                tensor (a loss), where it defaults to 1.
            retain_graph: keep the saved arrays so ``backward`` can run through the graph again.

        Gradients accumulate into ``leaf.grad`` (call ``zero_grad`` between steps).
        """
        if not self.requires_grad:
            raise RuntimeError(
                "backward: this tensor does not require grad and has no graph. Create the "
                "inputs with requires_grad=True, and do not compute it under no_grad()."
            )
        xp = get_array_module(self.data)
        if grad is None:
            if self.data.size != 1:
                raise RuntimeError(
                    f"backward: grad can be implicitly created only for a one-element tensor, "
                    f"this one has shape {self.shape}. Reduce it first (e.g. loss.mean()) or "
                    f"pass grad=an array of shape {self.shape}."
                )
            grad = xp.ones_like(self.data)
        else:
            grad = as_array(grad.data if isinstance(grad, Tensor) else grad, self.dtype)
            if grad.shape != self.shape:
                raise ValueError(
                    f"backward: grad has shape {grad.shape} but the tensor has shape "
                    f"{self.shape}. Pass a gradient of the same shape."
                )
        _run_backward(self, grad, retain_graph)


def _topological_order(root: Tensor) -> list[Tensor]:
    """Tensors reachable from ``root`` through graph nodes, each after all of its inputs.

    An explicit stack replaces recursion: depth is bounded by memory, not the recursion limit.
    """
    order: list[Tensor] = []
    visited: set[int] = set()
    stack: list[tuple[Tensor, bool]] = [(root, False)]
    while stack:
        tensor, children_done = stack.pop()
        if children_done:
            order.append(tensor)
            continue
        if id(tensor) in visited:
            continue
        visited.add(id(tensor))
        stack.append((tensor, True))
        if tensor._ctx is not None:
            for parent in tensor._ctx.parents:
                if parent is not None and parent.requires_grad and id(parent) not in visited:
                    stack.append((parent, False))
    return order


def _sole_owner(a: Any) -> bool:
    """True if ``a`` is a writeable array owning its memory that nothing refers to but one
    variable of ``deposit_grad``'s caller. CPython counts four references here: that variable,
    ``deposit_grad``'s argument, this function's and getrefcount's own (NumPy elides
    temporaries the same way)."""
    return (
        _EXACT_REFCOUNTS
        and isinstance(a, np.ndarray)
        and a.flags.owndata
        and a.flags.writeable
        and sys.getrefcount(a) <= 4
    )


def deposit_grad(leaf: Tensor, g: Any) -> None:
    """Add the gradient ``g`` into ``leaf.grad``, as ``backward`` does for every leaf.

    A copy on first assignment when ``g`` may be shared: a read-only broadcast view, a view of
    another array, or an array a sibling input also holds (AddOp returns the same array twice)
    — users may edit ``.grad``. A fresh array that nothing else refers to (a weight gradient
    straight from a GEMM, held by the caller's one variable) is taken as is, saving a copy of
    every weight per step. The caller must hold ``g`` in one variable and nowhere else.
    """
    if leaf.grad is not None:
        leaf.grad = leaf.grad + g
    elif _sole_owner(g):
        leaf.grad = g
    else:
        leaf.grad = g.copy()


# Reference counts are exact only in CPython with its GIL (free-threaded builds defer some; PyPy
# has none): anywhere else every leaf gradient is copied.
_EXACT_REFCOUNTS = (
    sys.implementation.name == "cpython" and getattr(sys, "_is_gil_enabled", lambda: True)()
)


def _run_backward(root: Tensor, grad: Any, retain_graph: bool) -> None:
    grads: dict[int, Any] = {id(root): grad}
    for tensor in reversed(_topological_order(root)):
        g = grads.pop(id(tensor), None)
        if g is None:
            continue
        ctx = tensor._ctx
        if ctx is None or tensor._retain_grad:
            deposit_grad(tensor, g)
        if ctx is None:
            continue
        if ctx.freed:
            raise RuntimeError(
                f"backward: trying to go through the graph of {ctx.fn.__name__} a second time, "
                "but its saved arrays were freed by the first backward(). Pass "
                "retain_graph=True to the first backward() call."
            )
        input_grads = ctx.fn.backward(ctx, g)
        if not isinstance(input_grads, tuple):
            input_grads = (input_grads,)
        if len(input_grads) != len(ctx.parents):
            raise RuntimeError(
                f"{ctx.fn.__name__}.backward returned {len(input_grads)} gradients for "
                f"{len(ctx.parents)} inputs"
            )
        for parent, pg in zip(ctx.parents, input_grads, strict=True):
            if parent is None or pg is None or not parent.requires_grad:
                continue
            if pg.shape != parent.shape:
                pg = unbroadcast(pg, parent.shape)
            key = id(parent)
            grads[key] = pg if key not in grads else grads[key] + pg
        input_grads = pg = None  # the dict holds them now: lets _sole_owner see one owner
        if not retain_graph:
            ctx.free()
