"""New tensors from a shape or a range, with no inputs to differentiate: ``zeros``, ``ones``,
``arange`` (PyTorch's and ``keras.ops``'s names), for layers that build positions or fillers
inside ``call`` (a position embedding's ``arange(0, maxlen)``)."""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np

from glassnet.backend import default_float
from glassnet.tensor import Tensor


def _shape(where: str, shape: Any) -> tuple[int, ...]:
    dims = (shape,) if isinstance(shape, numbers.Integral) else shape
    if not isinstance(dims, Sequence) or not all(
        isinstance(d, numbers.Integral) and not isinstance(d, bool) and d >= 0 for d in dims
    ):
        raise ValueError(
            f"{where}: shape must be a non-negative integer or a tuple of them, e.g. (2, 3). "
            f"Received shape={shape!r}."
        )
    return tuple(int(d) for d in dims)


def zeros(shape: int | Sequence[int], dtype: Any = None) -> Tensor:
    """A tensor of ``shape`` filled with 0 (float32 unless ``dtype`` says otherwise)."""
    return Tensor(np.zeros(_shape("zeros", shape), dtype=dtype or default_float))


def ones(shape: int | Sequence[int], dtype: Any = None) -> Tensor:
    """A tensor of ``shape`` filled with 1 (float32 unless ``dtype`` says otherwise)."""
    return Tensor(np.ones(_shape("ones", shape), dtype=dtype or default_float))


def arange(start: float, stop: float | None = None, step: float = 1, dtype: Any = None) -> Tensor:
    """The numbers ``start, start + step, ...`` below ``stop`` (``arange(n)`` is 0 .. n-1), as
    NumPy's ``arange``: int64 for whole-number arguments, float32 otherwise, unless ``dtype``.

    Shape: ``(ceil((stop - start) / step),)``.
    """
    args = (start, stop, step)
    if (
        any(isinstance(a, bool) or not isinstance(a, (numbers.Real, type(None))) for a in args)
        or step == 0
    ):
        raise ValueError(
            f"arange: start, stop and step must be numbers and step must not be 0, e.g. "
            f"arange(0, 10, 2). Received start={start!r}, stop={stop!r}, step={step!r}."
        )
    values = np.arange(start, stop, step) if stop is not None else np.arange(start, step=step)
    if dtype is None and values.dtype == np.float64:
        dtype = default_float
    return Tensor(values.astype(dtype) if dtype is not None else values)
