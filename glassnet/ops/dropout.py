"""Dropout: during training, silence a random fraction of the units so none can be relied on alone.

Inverted dropout scales the units that survive by 1/(1 − rate), so the expected value of every
unit is unchanged and inference simply skips the op. The randomness is explicit: a
``numpy.random.Generator`` passed in, or the engine's shared one (``glassnet.backend.get_rng``,
re-seeded by ``manual_seed``); NumPy's global random state is never touched.

``noise_shape`` drops whole slices together: (N, 1, 1, C) for a batch of images drops whole
channels (``SpatialDropout2D``), since neighbouring pixels of one feature map are so alike
that dropping single pixels would hardly regularise. The Gaussian relatives multiply by
N(1, rate/(1 − rate)) (``gaussian_dropout``) or add N(0, σ²) (``gaussian_noise``) instead.
Every draw happens inside the op, so a replayed training step draws afresh for each batch.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from glassnet.autograd import Context, Function
from glassnet.backend import get_array_module, get_rng, is_float
from glassnet.parallel import Share
from glassnet.tensor import Tensor

__all__ = ["dropout", "gaussian_dropout", "gaussian_noise"]


class DropoutOp(Function):
    """y = x · m / (1 − rate), each m_i = 1 with probability 1 − rate, else 0, drawn from ``rng``.

    Backward uses the same mask: dx = g · m / (1 − rate). The mask is kept already scaled, in
    x's dtype, so forward and backward are one multiplication each. For a ``share`` of a
    batch, the draws are the whole batch's rows (``_uniform``). With ``noise_shape`` the mask
    has that shape (1 on the axes it is broadcast over). x: any shape; y: x's shape.
    """

    across_batch = True

    @staticmethod
    def forward(
        ctx: Context,
        x: Any,
        *,
        rate: float,
        rng: np.random.Generator,
        noise_shape: tuple[int, ...] | None = None,
        share: Share | None = None,
    ) -> Any:
        xp = get_array_module(x)
        # Generator.random draws float32 or float64 only; float32 is half the work of float64.
        draw = np.float64 if x.dtype == np.float64 else np.float32
        shape = x.shape if noise_shape is None else (x.shape[0], *noise_shape[1:])
        keep = xp.asarray(_uniform(rng, shape, draw, share) >= rate)
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
    return _whole_batch(lambda s: rng.random(s, dtype=dtype), shape, share)


def _normal(
    rng: np.random.Generator, shape: tuple[int, ...], dtype: Any, share: Share | None
) -> np.ndarray:
    """Standard normal numbers of ``shape``, drawn for the whole batch as ``_uniform``'s."""
    return _whole_batch(lambda s: rng.standard_normal(s, dtype=dtype), shape, share)


def _whole_batch(draw: Any, shape: tuple[int, ...], share: Share | None) -> np.ndarray:
    if share is None:
        return draw(shape)
    rows = share.rows.stop - share.rows.start
    if not shape or shape[0] != rows:  # every share raises alike, so none waits for the others
        raise RuntimeError(
            f"dropout: expected this share's {rows} samples of the batch on the first axis, "
            f"received shape {shape}. Layers that mix samples cannot be trained in shares."
        )
    whole = share.from_first(lambda: draw((share.total, *shape[1:])))
    return whole[share.rows]


class GaussianNoiseOp(Function):
    """y = x + σ·z, each z_i drawn from N(0, 1) by ``rng``; dx = g. x: any shape; y: x's."""

    across_batch = True

    @staticmethod
    def forward(
        ctx: Context,
        x: Any,
        *,
        stddev: float,
        rng: np.random.Generator,
        share: Share | None = None,
    ) -> Any:
        xp = get_array_module(x)
        draw = np.float64 if x.dtype == np.float64 else np.float32
        noise = xp.asarray(_normal(rng, x.shape, draw, share)).astype(x.dtype, copy=False)
        noise *= x.dtype.type(stddev)
        return x + noise

    @staticmethod
    def backward(ctx: Context, grad: Any) -> Any:
        return grad


class GaussianDropoutOp(Function):
    """y = x · m, each m_i = 1 + s·z_i with z_i from N(0, 1) and s = √(rate/(1 − rate)): the
    mean and variance of inverted dropout's mask, without its zeros (Srivastava et al., 2014).
    Backward uses the same mask: dx = g · m. x: any shape; y: x's shape.
    """

    across_batch = True

    @staticmethod
    def forward(
        ctx: Context,
        x: Any,
        *,
        rate: float,
        rng: np.random.Generator,
        share: Share | None = None,
    ) -> Any:
        xp = get_array_module(x)
        draw = np.float64 if x.dtype == np.float64 else np.float32
        mask = xp.asarray(_normal(rng, x.shape, draw, share)).astype(x.dtype, copy=False)
        mask *= x.dtype.type(np.sqrt(rate / (1 - rate)))
        mask += x.dtype.type(1)
        ctx.mask = mask
        return x * mask

    @staticmethod
    def backward(ctx: Context, grad: Any) -> Any:
        return grad * ctx.mask


def dropout(
    x: Tensor,
    rate: float,
    training: bool = True,
    rng: np.random.Generator | None = None,
    noise_shape: tuple[int | None, ...] | None = None,
) -> Tensor:
    """Zero each element with probability ``rate`` and scale the rest by 1/(1 − rate).

    Only active when ``training``; with ``training=False`` or ``rate=0`` it returns ``x``
    itself (no copy, no graph node), which is what inference wants.

    Args:
        x: any floating Tensor.
        rate: the fraction of elements dropped, in [0, 1).
        training: apply dropout (True) or pass x through (False).
        rng: a ``numpy.random.Generator`` for the mask; default ``glassnet.backend.get_rng()``.
        noise_shape: the mask's shape, x's rank, 1 on the axes where every element shares one
            draw and x's size (or None) elsewhere: (None, 1, 1, C) drops whole channels of
            images. The first axis is always the batch's. Default: x's shape.

    Shape: output like x.
    """
    rate = _check_rate("dropout", rate, "of units dropped", "rate=1 would drop everything")
    rng = _check_rng("dropout", rng)
    if not training or rate == 0.0:
        return x
    x = _float_tensor("dropout", x)
    if noise_shape is not None:
        noise_shape = _check_noise_shape(x.shape, noise_shape)
    return DropoutOp.apply(x, rate=rate, rng=rng, noise_shape=noise_shape)


def gaussian_noise(
    x: Tensor, stddev: float, training: bool = True, rng: np.random.Generator | None = None
) -> Tensor:
    """Add noise drawn from N(0, stddev²) to each element, in training only (Keras's
    ``GaussianNoise``): a regulariser, and a way to make a model robust to noisy inputs.

    With ``training=False`` or ``stddev=0`` it returns ``x`` itself. Shape: output like x.
    """
    where = "gaussian_noise"
    if isinstance(stddev, bool) or not isinstance(stddev, numbers.Real) or not stddev >= 0:
        raise ValueError(
            f"{where}: stddev is the noise's standard deviation. Expected a number >= 0, "
            f"received stddev={stddev!r}."
        )
    rng = _check_rng(where, rng)
    if not training or stddev == 0:
        return x
    return GaussianNoiseOp.apply(_float_tensor(where, x), stddev=float(stddev), rng=rng)


def gaussian_dropout(
    x: Tensor, rate: float, training: bool = True, rng: np.random.Generator | None = None
) -> Tensor:
    """Multiply each element by noise drawn from N(1, rate/(1 − rate)), in training only
    (Keras's ``GaussianDropout``): dropout's mean and variance, with no unit silenced.

    With ``training=False`` or ``rate=0`` it returns ``x`` itself. Shape: output like x.
    """
    where = "gaussian_dropout"
    rate = _check_rate(where, rate, "of the noise", "rate=1 would be infinite noise")
    rng = _check_rng(where, rng)
    if not training or rate == 0.0:
        return x
    return GaussianDropoutOp.apply(_float_tensor(where, x), rate=rate, rng=rng)


def _check_rate(where: str, rate: Any, what: str, why: str) -> float:
    if isinstance(rate, bool) or not isinstance(rate, numbers.Real):
        raise TypeError(
            f"{where}: rate must be a number. Expected a float in [0, 1), received "
            f"{type(rate).__name__} {rate!r}. Pass e.g. rate=0.5."
        )
    if not 0.0 <= rate < 1.0:
        raise ValueError(
            f"{where}: rate is the fraction {what}. Expected 0 <= rate < 1, received "
            f"rate={rate}. Use a rate such as 0.2 or 0.5 ({why})."
        )
    return float(rate)


def _check_rng(where: str, rng: Any) -> np.random.Generator:
    if rng is not None and not isinstance(rng, np.random.Generator):
        raise TypeError(
            f"{where}: rng must be a numpy.random.Generator. Expected a Generator or None, "
            f"received {type(rng).__name__}. Create one with np.random.default_rng(seed)."
        )
    return get_rng() if rng is None else rng


def _float_tensor(where: str, x: Any) -> Tensor:
    if not isinstance(x, Tensor):
        x = Tensor(x)
    if not is_float(x.dtype):
        raise TypeError(
            f"{where}: x must be floating point. Expected float32 or float64, received "
            f"{x.dtype}. Convert with Tensor(x, dtype='float32')."
        )
    return x


def _check_noise_shape(shape: tuple[int, ...], noise_shape: Any) -> tuple[int, ...]:
    """``noise_shape`` with None filled in from ``shape``; every entry 1 or x's size."""
    given = tuple(noise_shape)
    if (
        not given
        or len(given) != len(shape)
        or given[0] not in (None, shape[0])  # each sample its own draws (shares stay exact)
        or any(n is not None and n not in (1, s) for n, s in zip(given, shape, strict=True))
    ):
        raise ValueError(
            f"dropout: noise_shape must have x's rank, the batch size (or None) first, then "
            f"each entry 1, None or x's size there. Received noise_shape={given!r} for x of "
            f"shape {shape}."
        )
    return tuple(s if n is None else int(n) for n, s in zip(given, shape, strict=True))
