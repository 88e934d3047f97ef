"""The array module and the dtype policy: the one place that knows about NumPy vs CuPy.

Every op asks ``get_array_module(*arrays)`` for ``xp`` and then uses only the NumPy API that
NumPy and CuPy share, so the same forward/backward code runs on a CPU or a GPU.
"""

from __future__ import annotations

from typing import Any

import numpy as np

#: The default floating dtype. Deep-learning maths is done in float32 unless a user asks for
#: float64 (gradient checks do): it halves memory and doubles BLAS speed.
default_float = np.float32

try:  # CuPy is optional; without it everything runs on NumPy.
    import cupy as _cupy
except ImportError:  # pragma: no cover - depends on the machine
    _cupy = None


def get_array_module(*arrays: Any) -> Any:
    """Return ``cupy`` if any argument is a CuPy array, else ``numpy`` (Chainer's ``xp``)."""
    if _cupy is not None:
        for a in arrays:
            if isinstance(a, _cupy.ndarray):
                return _cupy
    return np


def is_float(dtype: Any) -> bool:
    """True for floating dtypes (the ones that can carry gradients)."""
    return np.issubdtype(np.dtype(dtype), np.floating)


def as_array(value: Any, dtype: Any = None) -> Any:
    """Convert ``value`` to an array following glassnet's dtype policy.

    Arrays keep their dtype (a float64 array stays float64, which gradient checks rely on).
    Python floats, lists and float64 NumPy scalars become ``default_float`` (float32); Python
    ints and bools keep an integer or bool dtype. ``dtype`` overrides all of this.
    """
    xp = get_array_module(value)
    if dtype is not None:
        return xp.asarray(value, dtype=dtype)
    if isinstance(value, xp.ndarray):
        return value
    arr = xp.asarray(value)
    if arr.dtype == np.float64:
        arr = arr.astype(default_float)
    return arr


# One generator for the engine's randomness (weight initialisation, dropout masks, shuffling),
# so that ``manual_seed(n)`` makes a whole run repeatable. Code that takes its own ``seed`` or
# ``rng`` argument uses that instead; nothing touches NumPy's legacy global state.
_generator = np.random.default_rng()


def get_rng() -> np.random.Generator:
    """The engine's shared ``numpy.random.Generator``."""
    return _generator


def manual_seed(seed: int) -> np.random.Generator:
    """Re-seed the engine's shared generator (PyTorch's ``manual_seed``); returns it."""
    # Re-seed in place, so code that kept a reference to the generator follows the new seed.
    _generator.bit_generator.state = np.random.default_rng(seed).bit_generator.state
    return _generator
