"""Teach ``Tensor`` its operators and methods (``x + y``, ``x @ w``, ``x.sum()``, ``x.relu()``).

``glassnet/tensor.py`` sits below the ops in the house and must not import them, so the ops
attach themselves here, once, when ``glassnet.ops`` is imported (``import glassnet`` does it).
Each operator is the functional op of the same meaning: ``a * b`` is ``ops.mul(a, b)``.
"""

from __future__ import annotations

from typing import Any

from glassnet.ops import activation, elementwise, linalg, reduce, shape
from glassnet.tensor import Tensor


def _reflected(fn: Any) -> Any:
    def method(self: Tensor, other: Any) -> Tensor:
        return fn(other, self)

    method.__name__ = f"r{fn.__name__}"
    return method


def _compare(np_name: str) -> Any:
    def method(self: Tensor, other: Any) -> Tensor:
        other = other.data if isinstance(other, Tensor) else other
        return Tensor(getattr(self.data, np_name)(other))

    method.__doc__ = f"Element-wise comparison ({np_name}); a bool tensor with no gradient."
    return method


def _install() -> None:
    binary = {
        "add": elementwise.add,
        "sub": elementwise.sub,
        "mul": elementwise.mul,
        "truediv": elementwise.div,
        "pow": elementwise.pow,
        "matmul": linalg.matmul,
    }
    for name, fn in binary.items():
        setattr(Tensor, f"__{name}__", lambda self, other, fn=fn: fn(self, other))
        setattr(Tensor, f"__r{name}__", _reflected(fn))
    Tensor.__neg__ = elementwise.neg
    Tensor.__abs__ = elementwise.abs
    Tensor.__getitem__ = shape.getitem
    for name in ("eq", "ne", "lt", "le", "gt", "ge"):
        setattr(Tensor, f"__{name}__", _compare(f"__{name}__"))

    methods = {
        # arithmetic
        "add": elementwise.add,
        "sub": elementwise.sub,
        "mul": elementwise.mul,
        "div": elementwise.div,
        "pow": elementwise.pow,
        "neg": elementwise.neg,
        "exp": elementwise.exp,
        "log": elementwise.log,
        "sqrt": elementwise.sqrt,
        "abs": elementwise.abs,
        "clip": elementwise.clip,
        "clamp": elementwise.clip,
        "maximum": elementwise.maximum,
        "minimum": elementwise.minimum,
        "matmul": linalg.matmul,
        # reductions
        "sum": reduce.sum,
        "mean": reduce.mean,
        "max": reduce.max,
        "min": reduce.min,
        # shapes
        "reshape": shape.reshape,
        "view": shape.reshape,
        "transpose": shape.transpose,
        "permute": shape.transpose,
        "flatten": shape.flatten,
        "squeeze": shape.squeeze,
        "unsqueeze": shape.expand_dims,
        "expand_dims": shape.expand_dims,
        "broadcast_to": shape.broadcast_to,
        "pad": shape.pad,
        # activations
        "relu": activation.relu,
        "sigmoid": activation.sigmoid,
        "tanh": activation.tanh,
        "softmax": activation.softmax,
        "log_softmax": activation.log_softmax,
    }
    for name, fn in methods.items():
        setattr(Tensor, name, fn)
    Tensor.T = property(lambda self: shape.transpose(self), doc="All axes reversed (a view).")


_install()
