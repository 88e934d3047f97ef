"""Turning tokens and numbers into ids and counts: the ops behind the preprocessing layers
``StringLookup``, ``IntegerLookup``, ``TextVectorization``, ``CategoryEncoding`` and
``Discretization``.

* ``lookup``: each token (a string or an integer) becomes its index in a vocabulary, a Python
  dict from token to id; a token not in it becomes an out-of-vocabulary (OOV) id.
* ``inverse_lookup``: the other way, ids back to tokens.
* ``encode_categories``: ids become one-hot rows, or per-sample multi-hot or count vectors.
* ``bucketize``: numbers become the index of the bin they fall in.

Their outputs are integers (ids, bins) or counts of integers: nothing a gradient can flow
back through. The backward of ``bucketize``, the one whose input may be a trained float, is
zero (a step function's slope); the others' inputs are data (strings, ids), which never ask
for a gradient. Every op is deterministic given its inputs and attributes (the vocabulary is
an attribute), so ``fit``'s replay runs them like any other op.
"""

from __future__ import annotations

import re
import zlib
from typing import Any

import numpy as np

from glassnet.autograd import Context, Function
from glassnet.tensor import Tensor

__all__ = ["bucketize", "encode_categories", "inverse_lookup", "lookup", "tokenize"]

#: Keras's punctuation: ASCII punctuation, removed by "lower_and_strip_punctuation".
PUNCTUATION = re.compile(r'[!"#$%&()\*\+,\-\./:;<=>?@\[\\\]^_`{|}~\']')


def _key(token: Any) -> Any:
    """Tokens as dictionary keys: bytes as text, NumPy scalars as Python ones."""
    if isinstance(token, bytes):
        return token.decode("utf-8")
    return token.item() if isinstance(token, np.generic) else token


def oov_bucket(token: Any, buckets: int) -> int:
    """Which of ``buckets`` OOV ids an unknown token takes: an integer modulo the count, a
    string by its CRC-32 (stable across runs and machines)."""
    if isinstance(token, str):
        return zlib.crc32(token.encode("utf-8")) % buckets
    return int(token) % buckets


class LookupOp(Function):
    """tokens (any shape) -> int64 ids of the same shape: ``table[token]``; a ``mask`` token
    becomes ``mask_id``; any other unknown token ``oov_start + bucket`` (``oov_buckets`` ≥ 1)
    or an error (``oov_buckets == 0``)."""

    @staticmethod
    def forward(
        ctx: Context,
        tokens: Any,
        *,
        table: dict[Any, int],
        oov_start: int,
        oov_buckets: int,
        mask: Any = None,
        mask_id: int = 0,
        where: str = "lookup",
    ) -> Any:
        flat = [_key(t) for t in np.asarray(tokens).reshape(-1)]
        ids = np.empty(len(flat), np.int64)
        unknown = []
        for i, token in enumerate(flat):
            found = table.get(token)
            if found is not None:
                ids[i] = found
            elif mask is not None and token == mask:
                ids[i] = mask_id
            elif oov_buckets == 1:
                ids[i] = oov_start
            elif oov_buckets > 1:
                ids[i] = oov_start + oov_bucket(token, oov_buckets)
            else:
                unknown.append(token)
        if unknown:
            shown = ", ".join(repr(t) for t in list(dict.fromkeys(unknown))[:5])
            raise ValueError(
                f"{where}: with num_oov_indices=0 every input must be in the vocabulary; found "
                f"{len(unknown)} that are not ({shown}). Set num_oov_indices=1 to map unknown "
                "tokens to an OOV id."
            )
        return ids.reshape(np.shape(tokens))

    @staticmethod
    def backward(ctx: Context, grad: Any) -> Any:
        return None  # the input is tokens: never a gradient


class InverseLookupOp(Function):
    """int ids (any shape) -> tokens of the same shape (an object array): ``tokens[id]``;
    ids outside the list become ``default``."""

    @staticmethod
    def forward(ctx: Context, ids: Any, *, tokens: tuple[Any, ...], default: Any) -> Any:
        flat = np.asarray(ids).reshape(-1).astype(np.int64)  # whole floats from fit too
        out = np.empty(flat.size, dtype=object)
        n = len(tokens)
        for i, index in enumerate(flat.tolist()):
            out[i] = tokens[index] if 0 <= index < n else default
        return out.reshape(np.shape(ids))

    @staticmethod
    def backward(ctx: Context, grad: Any) -> Any:
        return None


class EncodeCategoriesOp(Function):
    """int ids -> float counts over ``depth`` categories.

    ``"one_hot"``: (..., 1) or (...) -> (..., depth), one row per id. ``"multi_hot"`` and
    ``"count"``: the last axis holds one sample's ids, (..., k) -> (..., depth), a 1 for each
    id present or how often it appears. Ids equal to ``skip`` (padding) are not counted;
    ``weights`` (depth,), if given, multiply the counts (TF-IDF).
    """

    @staticmethod
    def forward(
        ctx: Context,
        ids: Any,
        weights: Any = None,
        *,
        depth: int,
        mode: str,
        skip: int | None = None,
        where: str = "encode_categories",
    ) -> Any:
        ids = np.asarray(ids)
        if (
            ids.dtype.kind == "f"
        ):  # fit hands over float32 batches; the layer checked they are whole
            ids = ids.astype(np.int64)
        counted = ids != skip if skip is not None else np.ones(ids.shape, bool)
        outside = counted & ((ids < 0) | (ids >= depth))
        if outside.any():
            bad = ids[outside].reshape(-1)[:5].tolist()
            raise ValueError(
                f"{where}: every input must be an integer in [0, {depth}) (num_tokens={depth}); "
                f"received {bad}."
            )
        if mode == "one_hot":
            rows = ids[..., 0] if ids.ndim > 1 and ids.shape[-1] == 1 else ids
            out = np.zeros((*rows.shape, depth), np.float32)
            np.put_along_axis(out, rows[..., None].astype(np.intp), 1.0, axis=-1)
        else:
            # (samples, ids per sample); a batch of empty texts has none: (N, 0)
            shape = (int(np.prod(ids.shape[:-1])), ids.shape[-1]) if ids.ndim else (1, 1)
            samples, keep = ids.reshape(shape), counted.reshape(shape)
            out = np.zeros((samples.shape[0], depth), np.float32)
            rows = np.broadcast_to(np.arange(samples.shape[0])[:, None], samples.shape)
            np.add.at(out, (rows[keep], samples[keep]), 1.0)
            if mode == "multi_hot":
                np.minimum(out, 1.0, out=out)
            out = out.reshape((*ids.shape[:-1], depth))
        if weights is not None:
            out = out * np.asarray(weights, np.float32)
        return out

    @staticmethod
    def backward(ctx: Context, grad: Any) -> tuple[Any, Any]:
        return None, None


class BucketizeOp(Function):
    """numbers -> int64 bin indices of the same shape: the number of ``boundaries`` ≤ x
    (``numpy.digitize``), so bin i is [boundaries[i−1], boundaries[i]). Backward: zero, a step
    function's slope."""

    @staticmethod
    def forward(ctx: Context, x: Any, *, boundaries: tuple[float, ...]) -> Any:
        ctx.like = (x.shape, x.dtype)
        edges = np.asarray(boundaries, np.float64)
        return np.searchsorted(edges, np.asarray(x, np.float64), side="right").astype(np.int64)

    @staticmethod
    def backward(ctx: Context, grad: Any) -> Any:
        shape, dtype = ctx.like
        return np.zeros(shape, dtype)


class TokenizeOp(Function):
    """texts (N,) or (N, 1) -> tokens (N, L), an object array: each text standardised, split
    and turned into n-grams (``tokenize``), padded with "" to ``length`` (None: the longest)
    or cut."""

    @staticmethod
    def forward(
        ctx: Context,
        texts: Any,
        *,
        standardize: str | None,
        split: str | None,
        ngrams: tuple[int, ...] | None,
        length: int | None,
    ) -> Any:
        flat = np.asarray(texts).reshape(len(texts))  # (N,) or (N, 1)
        rows = [_words(str(_key(t)), standardize, split, ngrams) for t in flat.tolist()]
        width = length if length is not None else max((len(r) for r in rows), default=0)
        out = np.full((len(rows), width), "", dtype=object)
        for i, row in enumerate(rows):
            row = row[:width]
            out[i, : len(row)] = row
        return out

    @staticmethod
    def backward(ctx: Context, grad: Any) -> Any:
        return None


def _words(
    text: str, standardize: str | None, split: str | None, ngrams: tuple[int, ...] | None
) -> list[str]:
    if standardize in ("lower", "lower_and_strip_punctuation"):
        text = text.lower()
    if standardize in ("strip_punctuation", "lower_and_strip_punctuation"):
        text = PUNCTUATION.sub("", text)
    if split == "whitespace":
        words = text.split()
    elif split == "character":
        words = list(text)
    else:
        words = [text]
    if ngrams is None:
        return words
    return [" ".join(words[i : i + n]) for n in ngrams for i in range(len(words) - n + 1)]


# ------------------------------------------------------------------ functional API
def tokenize(
    texts: Any,
    standardize: str | None = "lower_and_strip_punctuation",
    split: str | None = "whitespace",
    ngrams: tuple[int, ...] | None = None,
    length: int | None = None,
) -> Tensor:
    """Texts to rows of tokens, Keras's ``TextVectorization`` steps: ``standardize``
    ("lower", "strip_punctuation" (ASCII punctuation), both, or None), ``split``
    ("whitespace", "character" or None), the n-grams of the sizes in ``ngrams`` joined by
    spaces, padded with "" to ``length``.

    Shape: (N,) strings -> (N, length) object array.
    """
    return TokenizeOp.apply(
        texts, standardize=standardize, split=split, ngrams=ngrams, length=length
    )


def lookup(
    tokens: Any,
    table: dict[Any, int],
    oov_start: int = 0,
    oov_buckets: int = 1,
    mask: Any = None,
    mask_id: int = 0,
    where: str = "lookup",
) -> Tensor:
    """The id of each token in ``table`` (a dict token -> id); see ``LookupOp``.

    Shape: any -> the same, int64.
    """
    return LookupOp.apply(
        tokens,
        table=table,
        oov_start=oov_start,
        oov_buckets=oov_buckets,
        mask=mask,
        mask_id=mask_id,
        where=where,
    )


def inverse_lookup(ids: Any, tokens: tuple[Any, ...], default: Any) -> Tensor:
    """The token of each id (``tokens[id]``, ``default`` outside). Shape: any -> the same."""
    return InverseLookupOp.apply(ids, tokens=tuple(tokens), default=default)


def encode_categories(
    ids: Any,
    depth: int,
    mode: str,
    weights: Any = None,
    skip: int | None = None,
    where: str = "encode_categories",
) -> Tensor:
    """One-hot, multi-hot or count vectors of ``depth`` categories; see ``EncodeCategoriesOp``.

    Shape: (..., k) -> (..., depth) (one_hot: (...) or (..., 1) -> (..., depth)), float32.
    """
    return EncodeCategoriesOp.apply(ids, weights, depth=depth, mode=mode, skip=skip, where=where)


def bucketize(x: Any, boundaries: tuple[float, ...]) -> Tensor:
    """The bin of each number among sorted ``boundaries``. Shape: any -> the same, int64."""
    return BucketizeOp.apply(x, boundaries=tuple(float(b) for b in boundaries))
