"""Attention: each position of a query sequence takes a weighted average of a value sequence,
the weights saying how well the query matches each key.

Scaled dot-product attention (Vaswani et al., 2017) is three steps, each a plain op::

    scores  = Q·Kᵀ / √d_k            (matmul)          one score per (query, key) pair
    weights = softmax(scores)         (masked_softmax)  each query's scores become weights
    output  = weights·V               (matmul)          the weighted average of the values

The one new op is the softmax that leaves some keys out: a mask (True where a key may be
attended to) turns the excluded logits into a large negative number, as Keras does, so their
weights are 0 (e^(−10⁹) underflows). The masks themselves are data made from the inputs by
ops here too (``token_mask``, ``attention_mask``), so a replayed training step computes them
afresh from each batch rather than reusing the first batch's.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from glassnet.autograd import Context, Function
from glassnet.backend import get_array_module
from glassnet.tensor import Tensor

__all__ = ["attention_mask", "masked_mean", "masked_softmax", "step_mask", "token_mask"]

#: Keras's ``_large_negative_number`` for float32 and float64: added to a masked logit.
LARGE_NEGATIVE = -1e9


class MaskedSoftmaxOp(Function):
    """Softmax along the last axis over the positions where ``mask`` is True.

    y = softmax(x + (1 − m)·(−10⁹)), Keras's ``Softmax`` layer with a mask (which
    MultiHeadAttention and Attention use): a masked weight is e^(−10⁹) = 0, unless every key
    of a row is masked, and then the row is the softmax of its logits all lowered alike (in
    float32, where 10⁹ swallows them, uniform), as in Keras. Backward: the softmax's
    Jacobian-vector product on the output y, dx = y·(g − Σ g·y).
    x: (..., keys); mask: bool, broadcastable to x, or None; y: x's shape.
    """

    @staticmethod
    def forward(ctx: Context, x: Any, mask: Any) -> Any:
        xp = get_array_module(x)
        if mask is not None:  # asarray: a causal mask alone is made without a batch to follow
            x = xp.where(xp.asarray(mask), x, x + x.dtype.type(LARGE_NEGATIVE))
        e = xp.exp(x - x.max(axis=-1, keepdims=True))
        y = e / e.sum(axis=-1, keepdims=True)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx: Context, grad: Any) -> tuple[Any, None]:
        (y,) = ctx.saved
        return y * (grad - (grad * y).sum(axis=-1, keepdims=True)), None


class TokenMaskOp(Function):
    """ids ≠ ``pad``: True at real tokens, False at padding (``Embedding(mask_zero=True)``).
    ids: integer array of any shape; the mask has its shape. Not differentiable."""

    @staticmethod
    def forward(ctx: Context, ids: Any, *, pad: int) -> Any:
        return ids != pad

    @staticmethod
    def backward(ctx: Context, grad: Any) -> None:
        return None


class StepMaskOp(Function):
    """Whether any feature of a step differs from ``value``: True at real steps, False at
    padding steps (Keras's ``Masking``). x: (..., features); the mask: (...). Not
    differentiable."""

    @staticmethod
    def forward(ctx: Context, x: Any, *, value: float) -> Any:
        return (x != value).any(axis=-1)

    @staticmethod
    def backward(ctx: Context, grad: Any) -> None:
        return None


class AttentionMaskOp(Function):
    """Which (query, key) pairs may attend, as Keras's MultiHeadAttention builds it: the AND
    of ``attention_mask`` (batch, queries, keys), the query mask as rows (batch, queries, 1),
    the key mask as columns (batch, 1, keys) and, with ``causal``, the lower triangle
    (key j ≤ query i). Absent masks (None) allow everything. Output: bool (batch, queries,
    keys), or (1, queries, keys) when only the causal mask is given. Not differentiable."""

    @staticmethod
    def forward(
        ctx: Context,
        attention: Any,
        query_mask: Any,
        key_mask: Any,
        *,
        causal: bool,
        queries: int,
        keys: int,
    ) -> Any:
        given = [m for m in (attention, query_mask, key_mask) if m is not None]
        xp = get_array_module(*given) if given else np
        mask = xp.ones((1, queries, keys), dtype=bool)
        if causal:
            mask = mask & xp.tril(xp.ones((queries, keys), dtype=bool))[None]
        if attention is not None:
            mask = mask & attention.astype(bool)
        if query_mask is not None:
            mask = mask & query_mask.astype(bool)[:, :, None]
        if key_mask is not None:
            mask = mask & key_mask.astype(bool)[:, None, :]
        return mask

    @staticmethod
    def backward(ctx: Context, grad: Any) -> None:
        return None


class MaskedMeanOp(Function):
    """The mean over axis 1 of the steps where ``mask`` is True (Keras's
    ``GlobalAveragePooling1D`` with a mask): y = Σ_t m_t·x_t / Σ_t m_t. A sample with every
    step masked gives 0 (Keras divides 0 by 0). Backward: dx_t = g·m_t / Σ_t m_t.
    x: (batch, steps, features); mask: bool (batch, steps); y: (batch, features)."""

    @staticmethod
    def forward(ctx: Context, x: Any, mask: Any) -> Any:
        xp = get_array_module(x)
        weights = mask.astype(x.dtype)
        weights /= xp.maximum(weights.sum(axis=1, keepdims=True), 1)
        ctx.weights = weights
        return xp.einsum("btf,bt->bf", x, weights)

    @staticmethod
    def backward(ctx: Context, grad: Any) -> tuple[Any, None]:
        return grad[:, None, :] * ctx.weights[:, :, None], None


def masked_softmax(x: Tensor, mask: Tensor | Any = None) -> Tensor:
    """Softmax over the last axis, leaving out the positions where ``mask`` is False.

    Args:
        x: logits (..., keys), floating point.
        mask: bool, broadcastable to x (True = may attend), or None for a plain softmax.

    Shape: output like x.
    """
    if mask is not None:
        shape = tuple(mask.shape)
        try:
            get_array_module(x.data).broadcast_shapes(shape, tuple(x.shape))
        except ValueError:
            raise ValueError(
                f"masked_softmax: mask of shape {shape} does not broadcast to the logits' shape "
                f"{tuple(x.shape)}. Expected a mask of shape (batch, queries, keys) or one that "
                "broadcasts to it."
            ) from None
    return MaskedSoftmaxOp.apply(x, mask)


def token_mask(ids: Tensor, pad: int = 0) -> Tensor:
    """True where ``ids`` is not the padding id ``pad`` (0, Keras's ``mask_zero``)."""
    return TokenMaskOp.apply(ids, pad=int(pad))


def step_mask(x: Tensor, value: float = 0.0) -> Tensor:
    """True at each step of ``x`` (..., features) with a feature other than ``value``: the
    padding mask Keras's ``Masking`` layer makes. Shape: x's without the last axis."""
    return StepMaskOp.apply(x, value=float(value))


def attention_mask(
    queries: int,
    keys: int,
    attention: Tensor | None = None,
    query_mask: Tensor | None = None,
    key_mask: Tensor | None = None,
    causal: bool = False,
) -> Tensor | None:
    """The (batch, queries, keys) bool mask of the pairs that may attend (see
    ``AttentionMaskOp``), or None when nothing is masked."""
    if attention is None and query_mask is None and key_mask is None and not causal:
        return None
    return AttentionMaskOp.apply(
        attention, query_mask, key_mask, causal=bool(causal), queries=queries, keys=keys
    )


def masked_mean(x: Tensor, mask: Tensor) -> Tensor:
    """Mean of x (batch, steps, features) over the steps where ``mask`` (batch, steps) is
    True: (batch, features)."""
    if x.ndim != 3 or tuple(mask.shape) != tuple(x.shape[:2]):
        raise ValueError(
            f"masked_mean: expected x of shape (batch, steps, features) and a mask of shape "
            f"(batch, steps). Received x {tuple(x.shape)} and mask {tuple(mask.shape)}."
        )
    return MaskedMeanOp.apply(x, mask)
