"""Dropout: during training, silence a random fraction of the units so none can be relied on alone.

Inverted dropout scales the units that survive by 1/(1 − rate), so the expected value of every
unit is unchanged and inference simply skips the op. The randomness is explicit: a
``numpy.random.Generator`` passed in, or the engine's shared one (``glassnet.backend.get_rng``,
re-seeded by ``manual_seed``); NumPy's global random state is never touched.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from glassnet.autograd import Context, Function
from glassnet.backend import get_array_module, get_rng, is_float
from glassnet.parallel import Share
from glassnet.tensor import Tensor

__all__ = ["dropout"]


class DropoutOp(Function):
    """y = x · m / (1 − rate), each m_i = 1 with probability 1 − rate, else 0, drawn from ``rng``.

    Backward uses the same mask: dx = g · m / (1 − rate). The mask is kept already scaled, in
    x's dtype, so forward and backward are one multiplication each. For a ``share`` of a
    batch, the draws are the whole batch's rows (``_uniform``). x: any shape; y: x's shape.
    """

    across_batch = True

    @staticmethod
    def forward(
        ctx: Context, x: Any, *, rate: float, rng: np.random.Generator, share: Share | None = None
    ) -> Any:
        xp = get_array_module(x)
        # Generator.random draws float32 or float64 only; float32 is half the work of float64.
        draw = np.float64 if x.dtype == np.float64 else np.float32
        keep = xp.asarray(_uniform(rng, x.shape, draw, share) >= rate)
        mask = keep.astype(x.dtype)
        mask *= x.dtype.type(1 / (1 - rate))
        ctx.mask = mask
        return x * mask

    @staticmethod
    def backward(ctx: Context, grad: Any) -> Any:
        return grad * ctx.mask


def _uniform(
    rng: np.random.Generator, shape: tuple[int, ...], dtype: Any, share: Share | None
) -> np.ndarray:
    """Uniform numbers in [0, 1) of ``shape``. For a ``share`` of a batch, the first share
    draws them for the whole batch and each takes its rows: the very numbers the whole batch
    in order would draw, in the same order."""
    if share is None:
        return rng.random(shape, dtype=dtype)
    rows = share.rows.stop - share.rows.start
    if not shape or shape[0] != rows:  # every share raises alike, so none waits for the others
        raise RuntimeError(
            f"dropout: expected this share's {rows} samples of the batch on the first axis, "
            f"received shape {shape}. Layers that mix samples cannot be trained in shares."
        )
    whole = share.from_first(lambda: rng.random((share.total, *shape[1:]), dtype=dtype))
    return whole[share.rows]


def dropout(
    x: Tensor, rate: float, training: bool = True, rng: np.random.Generator | None = None
) -> Tensor:
    """Zero each element with probability ``rate`` and scale the rest by 1/(1 − rate).

    Only active when ``training``; with ``training=False`` or ``rate=0`` it returns ``x``
    itself (no copy, no graph node), which is what inference wants.

    Args:
        x: any floating Tensor.
        rate: the fraction of elements dropped, in [0, 1).
        training: apply dropout (True) or pass x through (False).
        rng: a ``numpy.random.Generator`` for the mask; default ``glassnet.backend.get_rng()``.

    Shape: output like x.
    """
    if isinstance(rate, bool) or not isinstance(rate, numbers.Real):
        raise TypeError(
            f"dropout: rate must be a number. Expected a float in [0, 1), received "
            f"{type(rate).__name__} {rate!r}. Pass e.g. rate=0.5."
        )
    if not 0.0 <= rate < 1.0:
        raise ValueError(
            f"dropout: rate is the fraction of units dropped. Expected 0 <= rate < 1, received "
            f"rate={rate}. Use a rate such as 0.2 or 0.5 (rate=1 would drop everything)."
        )
    if rng is not None and not isinstance(rng, np.random.Generator):
        raise TypeError(
            f"dropout: rng must be a numpy.random.Generator. Expected a Generator or None, "
            f"received {type(rng).__name__}. Create one with np.random.default_rng(seed)."
        )
    if not training or rate == 0.0:
        return x
    if not isinstance(x, Tensor):
        x = Tensor(x)
    if not is_float(x.dtype):
        raise TypeError(
            f"dropout: x must be floating point. Expected float32 or float64, received "
            f"{x.dtype}. Convert with Tensor(x, dtype='float32')."
        )
    return DropoutOp.apply(x, rate=float(rate), rng=get_rng() if rng is None else rng)
