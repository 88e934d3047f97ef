"""Keras's ``keras.utils`` helpers: one call to seed every random generator a run uses,
integer class labels turned into one-hot rows, sequences padded to one length,
``plot_model`` (from ``glassnet.inspect``), a picture of the layer graph, and
``image_dataset_from_directory`` (from ``glassnet.data``), where Keras users look for it."""

from __future__ import annotations

import random
from typing import Any

import numpy as np

from glassnet.backend import manual_seed
from glassnet.data import image_dataset_from_directory
from glassnet.inspect.graph import plot_model

__all__ = [
    "image_dataset_from_directory",
    "pad_sequences",
    "plot_model",
    "set_random_seed",
    "to_categorical",
]


def set_random_seed(seed: int) -> None:
    """Seed glassnet's engine generator (initial weights, dropout, shuffling), Python's
    ``random`` and NumPy's global generator, as ``keras.utils.set_random_seed`` does, so a
    script that also draws from those repeats exactly."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise ValueError(
            f"set_random_seed: seed must be an integer. Received seed={seed!r} "
            f"(of type {type(seed).__name__})."
        )
    if not 0 <= seed < 2**32:
        raise ValueError(
            f"set_random_seed: seed must lie in [0, 2**32 - 1] (NumPy's global generator takes "
            f"no other). Received seed={seed}."
        )
    seed = int(seed)
    random.seed(seed)
    np.random.seed(seed)  # noqa: NPY002 - Keras seeds the legacy global generator too
    manual_seed(seed)


def to_categorical(
    y: Any, num_classes: int | None = None, dtype: str | np.dtype = "float32"
) -> np.ndarray:
    """One-hot rows for integer class labels: shape (...) -> (..., num_classes), a 1 in each
    label's column (a trailing axis of 1, as in (N, 1), is dropped first, as in Keras).

    ``num_classes`` defaults to the largest label + 1; a label that is negative, not a whole
    number, or ≥ ``num_classes`` is an error that names it.
    """
    labels = np.asarray(getattr(y, "data", y))
    shape = labels.shape[:-1] if labels.ndim > 1 and labels.shape[-1] == 1 else labels.shape
    flat = labels.reshape(-1)
    if flat.dtype.kind not in "iub":
        if flat.dtype.kind != "f":
            raise ValueError(
                f"to_categorical: y must hold integer class labels; received dtype {labels.dtype}."
            )
        bad = np.flatnonzero(~np.isfinite(flat) | (flat != np.round(flat)))
        if bad.size:
            raise ValueError(
                f"to_categorical: label {float(flat[bad[0]])!r} at index "
                f"{_where(bad[0], shape)} is not a whole number; class labels are 0, 1, 2, …"
            )
    ids = flat.astype(np.int64)
    negative = np.flatnonzero(ids < 0)
    if negative.size:
        i = negative[0]
        raise ValueError(
            f"to_categorical: label {ids[i]} at index {_where(i, shape)} is negative; class "
            "labels are 0, 1, 2, …"
        )
    if num_classes is None:
        if ids.size == 0:
            raise ValueError("to_categorical: y is empty; pass num_classes to say how many.")
        num_classes = int(ids.max()) + 1
    elif isinstance(num_classes, bool) or not isinstance(num_classes, (int, np.integer)):
        raise ValueError(
            f"to_categorical: num_classes must be a positive integer. Received {num_classes!r}."
        )
    elif num_classes < 1:
        raise ValueError(
            f"to_categorical: num_classes must be a positive integer. Received {num_classes}."
        )
    too_big = np.flatnonzero(ids >= num_classes)
    if too_big.size:
        i = too_big[0]
        raise ValueError(
            f"to_categorical: label {ids[i]} at index {_where(i, shape)} does not fit "
            f"num_classes={num_classes} (labels 0 to {num_classes - 1}). Pass "
            f"num_classes={int(ids.max()) + 1} or more, or fix the label."
        )
    out = np.zeros((ids.size, int(num_classes)), dtype=dtype)
    out[np.arange(ids.size), ids] = 1
    return out.reshape((*shape, int(num_classes)))


def _where(flat_index: int, shape: tuple[int, ...]) -> Any:
    """A flat index as the label's position in ``y``: an int for 1-D labels, else a tuple."""
    if len(shape) <= 1:
        return int(flat_index)
    return tuple(int(i) for i in np.unravel_index(flat_index, shape))


def pad_sequences(
    sequences: Any,
    maxlen: int | None = None,
    dtype: str | np.dtype = "int32",
    padding: str = "pre",
    truncating: str = "pre",
    value: float = 0.0,
) -> np.ndarray:
    """Sequences of different lengths as one (num_sequences, maxlen) array, as Keras's
    ``pad_sequences``: the short ones filled with ``value``, the long ones cut to ``maxlen``.

    Args:
        sequences: a list of sequences (lists or 1-D arrays) of numbers.
        maxlen: the length of every row; None: the longest sequence's.
        dtype: the array's dtype ("int32" as in Keras).
        padding: "pre" fills before each sequence (Keras's default), "post" after it (what
            ``Embedding(mask_zero=True)`` followed by a recurrent layer is usually given).
        truncating: "pre" drops the start of a longer sequence, "post" its end.
        value: the filler (0, which a masked Embedding treats as padding).
    """
    for arg, given in (("padding", padding), ("truncating", truncating)):
        if given not in ("pre", "post"):
            raise ValueError(
                f'pad_sequences: {arg} must be "pre" or "post". Received {arg}={given!r}.'
            )
    if maxlen is not None and (
        isinstance(maxlen, bool) or not isinstance(maxlen, (int, np.integer)) or maxlen < 0
    ):
        raise ValueError(
            "pad_sequences: maxlen must be a whole number >= 0 or None. "
            f"Received maxlen={maxlen!r}."
        )
    try:
        rows = [np.asarray(s).reshape(-1) for s in sequences]
    except TypeError:
        raise ValueError(
            "pad_sequences: sequences must be a list of sequences, e.g. [[1, 2], [3]]. "
            f"Received {type(sequences).__name__}."
        ) from None
    length = max((len(r) for r in rows), default=0) if maxlen is None else int(maxlen)
    out = np.full((len(rows), length), value, dtype=dtype)
    for i, row in enumerate(rows):
        if length == 0 or not len(row):
            continue
        row = row[-length:] if truncating == "pre" else row[:length]
        if padding == "post":
            out[i, : len(row)] = row
        else:
            out[i, -len(row) :] = row
    return out
