"""The array module, the dtype policy and the engine's random generator: the one place that
knows about NumPy vs CuPy.

Every op asks ``get_array_module(*arrays)`` for ``xp`` and then uses only the NumPy API that
NumPy and CuPy share, so the same forward/backward code runs on a CPU or a GPU. The C
allocator's settings are in ``memory``, the cores and BLAS threads in ``parallel``.
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
    return np.dtype(dtype).kind == "f"  # np.issubdtype(..., np.floating), 4× faster


def copy_by_pixel(dst: Any, src: Any) -> None:
    """``dst[...] = src`` for arrays of the same shape and dtype (N, ..., C) whose last axis is
    contiguous in both, moving each pixel's C channels as one element.

    NumPy's strided copy otherwise runs one inner loop per pixel, only C numbers long, which
    is slow for max pooling's tap planes (``ops.pooling``) over few channels. (im2col's copies
    are left to NumPy's reshape, which was as fast.)
    """
    if (
        get_array_module(dst) is np
        and dst.shape[-1:] == src.shape[-1:]
        and dst.strides[-1:] == src.strides[-1:] == (dst.itemsize,)
        and dst.dtype == src.dtype
    ):
        pixel = np.dtype((np.void, dst.shape[-1] * dst.itemsize))
        dst, src = dst.view(pixel)[..., 0], src.view(pixel)[..., 0]
    dst[...] = src


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
