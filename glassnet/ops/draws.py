"""Random numbers drawn per sample, as an op: the flip, shift or brightness of each image.

A random layer that drew its numbers in Python, before calling its ops, would hand the ops
fixed arrays; a replayed step (``models.replay``) would then reuse the first batch's draws for
every batch. Drawing inside an op keeps the draw part of the step: each replay draws afresh,
from the same generator, the same numbers the layer's Python would have drawn.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from glassnet.autograd import Context, Function
from glassnet.parallel import Share
from glassnet.tensor import Tensor

__all__ = ["per_sample_draws"]


class DrawOp(Function):
    """out = draw(rng, samples): one row of random numbers (or of values made from them) per
    sample. No inputs, so nothing to differentiate.

    For a ``share`` of a batch the first share draws for the whole batch and each takes its
    rows: the very numbers the whole batch in order would draw.
    """

    across_batch = True

    @staticmethod
    def forward(
        ctx: Context,
        *,
        draw: Callable[[np.random.Generator, int], np.ndarray],
        rng: np.random.Generator,
        samples: int,
        share: Share | None = None,
    ) -> Any:
        if share is None:
            return draw(rng, samples)
        return share.from_first(lambda: draw(rng, share.total))[share.rows]

    @staticmethod
    def backward(ctx: Context, grad: Any) -> tuple[()]:
        return ()


def per_sample_draws(
    draw: Callable[[np.random.Generator, int], np.ndarray], rng: np.random.Generator, samples: int
) -> Tensor:
    """``draw(rng, samples)`` as an op's output: an array with one row per sample, e.g.
    ``lambda rng, n: rng.uniform(-0.2, 0.2, size=n)``. Shape: (samples, ...)."""
    return DrawOp.apply(draw=draw, rng=rng, samples=samples)
