"""Vocabularies inside the model: ``StringLookup``, ``IntegerLookup`` and
``TextVectorization`` turn tokens (words, category names, raw integer codes) into the ids an
``Embedding`` or a ``Dense`` layer takes.

A model that holds its vocabulary takes raw text when it is saved and served, and nobody can
pair it with the wrong word list. ``adapt(data)`` learns the vocabulary from the training data:
the tokens by frequency, the most frequent first (ties: the larger token first, as Keras's
``numpy.lexsort`` leaves them), at most ``max_tokens`` entries.

Index layout (Keras's): with ``output_mode="int"``, id 0 is the ``mask_token`` if one is set,
then come ``num_oov_indices`` out-of-vocabulary (OOV) ids for unknown tokens, then the
vocabulary. ``get_vocabulary()`` lists the tokens in that order (the OOV token once per OOV id).

The other output modes turn each sample's ids into one vector of ``vocabulary_size()``
entries: ``"one_hot"`` (one id per sample), ``"multi_hot"`` (1 where a token appears),
``"count"`` (how often) and ``"tf_idf"`` (the count times the token's inverse document
frequency ``log(1 + documents / (1 + documents with the token))``; the OOV ids take the mean
weight).

Inputs are NumPy arrays of strings (dtype ``object``, ``'<U…'``) or integers; a functional
model takes them from ``Input(shape=(1,), dtype="string")``. The string-to-id mapping is an op
(``glassnet/ops/lookup.py``) with the vocabulary as its attribute, so ``fit``'s replay runs it
on each batch. The outputs are ids and counts: no gradient flows into these layers.

Saving: the vocabulary (and the TF-IDF weights) is part of the layer's config, as plain JSON
data in config.json; loading refuses a vocabulary longer than ``MAX_VOCABULARY`` entries.

Differences from Keras 3 (deliberate): with ``num_oov_indices > 1`` an unknown string is
hashed with CRC-32, not TensorFlow's FarmHash, so it may land in another OOV id than in Keras;
``mask_token`` is for ``output_mode="int"`` only; no ``sparse``, ``pad_to_max_tokens`` or
vocabulary files.
"""

from __future__ import annotations

import collections
import math
from typing import Any

import numpy as np

from glassnet.checks import check_bool, is_int
from glassnet.layers.layer import Layer, Shape
from glassnet.layers.node import is_symbolic
from glassnet.layers.preprocessing import adapt_batches
from glassnet.ops.lookup import encode_categories, inverse_lookup, lookup, tokenize
from glassnet.tensor import Tensor

__all__ = ["MAX_VOCABULARY", "IntegerLookup", "StringLookup", "TextVectorization"]

#: The longest vocabulary a layer accepts (a model file asking for more is refused).
MAX_VOCABULARY = 1 << 22
OUTPUT_MODES = ("int", "one_hot", "multi_hot", "count", "tf_idf")


def _check_max_tokens(where: str, value: Any, minimum: int) -> int | None:
    if value is None:
        return None
    if not is_int(value) or not minimum <= value <= MAX_VOCABULARY:
        raise ValueError(
            f"{where}: 'max_tokens' must be None or an integer in [{minimum}, {MAX_VOCABULARY}] "
            f"(room for the special tokens). Received: max_tokens={value!r}"
        )
    return int(value)


class _IndexLookup(Layer):
    """What StringLookup and IntegerLookup share: the vocabulary, its special ids, adapt, the
    lookup and the encoding of ids. Subclasses say what a token is (``_tokens``)."""

    #: "strings" or "integers": what the layer takes, for messages.
    _kind = ""

    def __init__(
        self,
        max_tokens: int | None,
        num_oov_indices: int,
        mask_token: Any,
        oov_token: Any,
        vocabulary: Any,
        idf_weights: Any,
        invert: bool,
        output_mode: str,
        *,
        name: str | None,
        trainable: bool,
    ) -> None:
        super().__init__(name=name, trainable=trainable)
        where = type(self).__name__
        if not is_int(num_oov_indices) or not 0 <= num_oov_indices <= MAX_VOCABULARY:
            raise ValueError(
                f"{where}: 'num_oov_indices' must be an integer in [0, {MAX_VOCABULARY}]. "
                f"Received: num_oov_indices={num_oov_indices!r}"
            )
        self.num_oov_indices = int(num_oov_indices)
        self.mask_token = None if mask_token is None else self._token(where, mask_token)
        self.oov_token = self._token(where, oov_token)
        self.invert = check_bool(where, "invert", invert)
        if output_mode not in OUTPUT_MODES:
            raise ValueError(
                f"{where}: 'output_mode' must be one of {', '.join(map(repr, OUTPUT_MODES))}. "
                f"Received: output_mode={output_mode!r}"
            )
        self.output_mode = output_mode
        if self.invert and output_mode != "int":
            raise ValueError(f"{where}: invert=True needs output_mode='int' (ids to tokens).")
        if self.mask_token is not None and output_mode != "int":
            raise ValueError(
                f"{where}: 'mask_token' is for output_mode='int' only (it reserves id 0 for "
                f"padding). Received: output_mode={output_mode!r}"
            )
        self.max_tokens = _check_max_tokens(where, max_tokens, self._token_start() + 1)
        self._tokens_list: list[Any] | None = None
        self._idf: list[float] | None = None
        if vocabulary is not None:
            self.set_vocabulary(vocabulary, idf_weights)
        elif idf_weights is not None:
            raise ValueError(f"{where}: 'idf_weights' come with a 'vocabulary'.")

    # ---------------------------------------------------------------- tokens
    def _token(self, where: str, value: Any) -> Any:
        raise NotImplementedError

    def _tokens(self, value: Any) -> np.ndarray:
        """The input as an array of this layer's tokens, or a TypeError naming the layer."""
        raise NotImplementedError

    def _oov_start(self) -> int:
        return 1 if self.mask_token is not None else 0

    def _token_start(self) -> int:
        return self._oov_start() + self.num_oov_indices

    # ---------------------------------------------------------------- vocabulary
    def set_vocabulary(self, vocabulary: Any, idf_weights: Any = None) -> None:
        """Use ``vocabulary`` (a list of tokens, without or with the special tokens at the
        front, in the order of ``get_vocabulary()``); ``idf_weights`` (one per token) for
        ``output_mode="tf_idf"``."""
        where = self._where
        if isinstance(vocabulary, np.ndarray):
            vocabulary = vocabulary.tolist()
        if not isinstance(vocabulary, (list, tuple)):
            raise TypeError(
                f"{where}: 'vocabulary' must be a list of {self._kind}. Received "
                f"{type(vocabulary).__name__}."
            )
        if len(vocabulary) > MAX_VOCABULARY:
            raise ValueError(
                f"{where}: the vocabulary has {len(vocabulary)} tokens, more than the "
                f"{MAX_VOCABULARY} glassnet accepts (MAX_VOCABULARY)."
            )
        tokens = [self._token(where, t) for t in vocabulary]
        special = self._specials()
        has_special = tokens[: len(special)] == special
        if has_special:
            tokens = tokens[len(special) :]
        if not tokens:
            raise ValueError(f"{where}: cannot use an empty vocabulary.")
        repeated = [t for t, n in collections.Counter(tokens).items() if n > 1]
        if repeated:
            raise ValueError(f"{where}: the vocabulary repeats {repeated[:5]}: make it unique.")
        for special_token in (self.mask_token, self.oov_token if self.invert else None):
            if special_token is not None and special_token in tokens:
                raise ValueError(
                    f"{where}: the vocabulary holds the special token {special_token!r}; leave "
                    f"it out, or put the special tokens at the front in this order: {special}."
                )
        if self.max_tokens is not None and len(tokens) + self._token_start() > self.max_tokens:
            raise ValueError(
                f"{where}: a vocabulary of {len(tokens) + self._token_start()} ids (with the "
                f"special ones) is larger than max_tokens={self.max_tokens}."
            )
        if self.output_mode == "tf_idf":
            if idf_weights is None:
                raise ValueError(f"{where}: output_mode='tf_idf' needs 'idf_weights'.")
            weights = [float(w) for w in np.asarray(idf_weights, np.float64).reshape(-1)]
            if len(weights) != len(vocabulary) or not all(math.isfinite(w) for w in weights):
                raise ValueError(
                    f"{where}: 'idf_weights' must be {len(vocabulary)} finite numbers, one per "
                    f"vocabulary entry. Received {len(weights)}."
                )
            if not has_special:  # the special ids take the mean weight, as in Keras
                weights = [float(np.mean(weights))] * self._token_start() + weights
            self._idf = weights
        elif idf_weights is not None:
            raise ValueError(f"{where}: 'idf_weights' are for output_mode='tf_idf' only.")
        self._tokens_list = tokens
        self._table = {t: i + self._token_start() for i, t in enumerate(tokens)}

    def _specials(self) -> list[Any]:
        mask = [] if self.mask_token is None else [self.mask_token]
        return mask + [self.oov_token] * self.num_oov_indices

    def get_vocabulary(self, include_special_tokens: bool = True) -> list[Any]:
        """The tokens in id order: the mask and OOV tokens first (``include_special_tokens``),
        then the vocabulary."""
        self._require_vocabulary()
        return (self._specials() if include_special_tokens else []) + list(self._tokens_list)

    def vocabulary_size(self) -> int:
        """How many ids the layer gives out, the special ones included."""
        self._require_vocabulary()
        return self._token_start() + len(self._tokens_list)

    def _require_vocabulary(self) -> None:
        if self._tokens_list is None:
            raise RuntimeError(
                f"{self._where}: the layer has no vocabulary yet. Call adapt(data) on the "
                "training data, or pass vocabulary=[...]."
            )

    def adapt(self, data: Any) -> None:
        """Learn the vocabulary from ``data`` (an array of tokens, or an iterable of batches or
        (x, y) pairs): the most frequent tokens first. A 1-D array is a list of documents of
        one token each (for ``"tf_idf"``); each row of a 2-D one is a document."""

        def rows() -> Any:
            for batch in adapt_batches(self._where, data):
                tokens = self._tokens(batch)
                yield from (
                    tokens.reshape(-1, 1) if tokens.ndim <= 1 else tokens.reshape(len(tokens), -1)
                )

        self._learn(rows())

    def _learn(self, documents: Any) -> None:
        """The vocabulary (and TF-IDF weights) of an iterable of documents, each a sequence of
        tokens; the mask and OOV tokens are left out."""
        if self._tokens_list is not None and self.__dict__.get("_given", True):
            raise ValueError(
                f"{self._where}: cannot adapt a layer given a vocabulary (vocabulary=...); "
                "create one without it."
            )
        counts: collections.Counter = collections.Counter()
        in_documents: collections.Counter = collections.Counter()
        n_documents = 0
        for document in documents:
            keys = [_plain(t) for t in document]
            counts.update(keys)
            if self.output_mode == "tf_idf":
                in_documents.update(set(keys))
                n_documents += 1
        for special in (self.mask_token, self.oov_token):
            counts.pop(special, None)
        if not counts:
            raise ValueError(f"{self._where}.adapt: the data holds no tokens to learn from.")
        # Keras's order: by count, the most frequent first; equal counts, the larger token first.
        ordered = sorted(counts, key=lambda t: (counts[t], t), reverse=True)
        if self.max_tokens is not None:
            ordered = ordered[: self.max_tokens - self._token_start()]
        weights = None
        if self.output_mode == "tf_idf":
            idf = [math.log(1 + n_documents / (1 + in_documents[t])) for t in ordered]
            weights = [float(np.mean(idf))] * self._token_start() + idf
            ordered = self._specials() + ordered
        self.set_vocabulary(ordered, weights)
        self.__dict__["_given"] = False  # adapted: a later adapt may replace it

    # ---------------------------------------------------------------- call
    def __call__(self, inputs: Any, training: bool | None = None) -> Any:
        # Tokens, not numbers: the base class would turn the input into a float32 Tensor.
        # A Tensor (a model's batch) is only checked and passes as it is, so fit's replay sees
        # the batch itself (the ops take whole floats and '<U' strings as they come).
        if not is_symbolic(inputs):
            array = inputs.data if isinstance(inputs, Tensor) else inputs
            checked = self._ids(array) if self.invert else self._tokens(array)
            if not isinstance(inputs, Tensor):
                inputs = Tensor(checked)
        return super().__call__(inputs, training=training)

    def _ids(self, value: Any) -> np.ndarray:
        array = np.asarray(value)
        if array.dtype.kind not in "iu" and not (
            array.dtype.kind == "f" and np.all(np.mod(array, 1) == 0)
        ):
            raise TypeError(
                f"{self._where}: with invert=True the input is integer ids. Received an array "
                f"of {array.dtype}."
            )
        return array.astype(np.int64)

    def call(self, x: Tensor, training: bool = False) -> Tensor:
        self._require_vocabulary()
        if self.invert:
            return inverse_lookup(x, self.get_vocabulary(), self.oov_token)
        ids = lookup(
            x,
            self._table,
            oov_start=self._oov_start(),
            oov_buckets=self.num_oov_indices,
            mask=self.mask_token,
            mask_id=0,
            where=self._where,
        )
        if self.output_mode == "int":
            return ids
        mode = "count" if self.output_mode == "tf_idf" else self.output_mode
        weights = None if self._idf is None else np.asarray(self._idf, np.float32)
        return encode_categories(ids, self.vocabulary_size(), mode, weights, where=self._where)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        shape = tuple(input_shape)
        if self.output_mode == "int":
            return shape
        self._require_vocabulary()
        depth = self.vocabulary_size()
        if self.output_mode == "one_hot":
            core = shape[:-1] if len(shape) > 1 and shape[-1] == 1 else shape
            return (*core, depth)
        return (*shape[:-1], depth) if len(shape) > 1 else (depth,)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config() | {
            "max_tokens": self.max_tokens,
            "num_oov_indices": self.num_oov_indices,
            "mask_token": self.mask_token,
            "oov_token": self.oov_token,
            "vocabulary": self._tokens_list,
            "idf_weights": self._idf if self._idf is None else self._idf[self._token_start() :],
            "invert": self.invert,
            "output_mode": self.output_mode,
        }
        return config


def _plain(token: Any) -> Any:
    if isinstance(token, bytes):
        return token.decode("utf-8")
    return token.item() if isinstance(token, np.generic) else token


class StringLookup(_IndexLookup):
    """Maps strings to integer ids through a vocabulary (learned by ``adapt`` or given).

    Example::

        lookup = layers.StringLookup()
        lookup.adapt([["a", "c", "d"], ["d", "z", "b"]])
        lookup.get_vocabulary()          # ['[UNK]', 'd', 'z', 'c', 'b', 'a']
        lookup([["a", "c", "d"], ["d", "z", "b"]])   # [[5, 3, 1], [1, 2, 4]]

    Args:
        max_tokens: the most ids (special ones included); None: no limit.
        num_oov_indices: ids for unknown tokens (0: an unknown token is an error).
        mask_token: a token for padding, given id 0; None: no mask.
        oov_token: what ``get_vocabulary`` and ``invert`` show for the OOV ids.
        vocabulary: the tokens, if known (then ``adapt`` is not needed).
        idf_weights: with ``vocabulary`` and ``output_mode="tf_idf"``: one weight per token.
        invert: map ids back to strings.
        output_mode: "int", "one_hot", "multi_hot", "count" or "tf_idf" (module docstring).

    Shape:
        "int": like the input, int64. Otherwise (..., k) -> (..., vocabulary_size()), float32.
    """

    _kind = "strings"

    def __init__(
        self,
        max_tokens: int | None = None,
        num_oov_indices: int = 1,
        mask_token: str | None = None,
        oov_token: str = "[UNK]",
        vocabulary: Any = None,
        idf_weights: Any = None,
        invert: bool = False,
        output_mode: str = "int",
        *,
        name: str | None = None,
        trainable: bool = True,
    ) -> None:
        super().__init__(
            max_tokens,
            num_oov_indices,
            mask_token,
            oov_token,
            vocabulary,
            idf_weights,
            invert,
            output_mode,
            name=name,
            trainable=trainable,
        )

    def _token(self, where: str, value: Any) -> str:
        if isinstance(value, bytes):
            value = value.decode("utf-8")
        if not isinstance(value, str):
            raise TypeError(f"{where}: tokens must be strings. Received {value!r}.")
        return str(value)

    def _tokens(self, value: Any) -> np.ndarray:
        array = np.asarray(value)
        if array.dtype.kind == "O" and all(isinstance(t, (str, bytes)) for t in array.flat):
            return array
        if array.dtype.kind in "US":
            return array.astype(object)
        raise TypeError(
            f"{self._where}: expected an array of strings (dtype object or '<U'). Received "
            f"an array of {array.dtype}. For integer codes use IntegerLookup."
        )


class IntegerLookup(_IndexLookup):
    """Maps integers (raw category codes: zip codes, product ids) to contiguous ids through a
    vocabulary (learned by ``adapt`` or given); the arguments are ``StringLookup``'s, with
    integer tokens and ``oov_token=-1``.

    Example::

        lookup = layers.IntegerLookup()
        lookup.adapt([[12, 1138, 42], [42, 1000, 36]])
        lookup.get_vocabulary()          # [-1, 42, 1138, 1000, 36, 12]

    Shape:
        "int": like the input, int64. Otherwise (..., k) -> (..., vocabulary_size()), float32.
    """

    _kind = "integers"

    def __init__(
        self,
        max_tokens: int | None = None,
        num_oov_indices: int = 1,
        mask_token: int | None = None,
        oov_token: int = -1,
        vocabulary: Any = None,
        idf_weights: Any = None,
        invert: bool = False,
        output_mode: str = "int",
        *,
        name: str | None = None,
        trainable: bool = True,
    ) -> None:
        super().__init__(
            max_tokens,
            num_oov_indices,
            mask_token,
            oov_token,
            vocabulary,
            idf_weights,
            invert,
            output_mode,
            name=name,
            trainable=trainable,
        )

    def _token(self, where: str, value: Any) -> int:
        if not is_int(value):
            raise TypeError(f"{where}: tokens must be integers. Received {value!r}.")
        return int(value)

    def _tokens(self, value: Any) -> np.ndarray:
        array = np.asarray(value)
        if array.dtype.kind in "iu":
            return array.astype(np.int64)
        if array.dtype.kind == "f" and np.all(np.mod(array, 1) == 0):
            return array.astype(np.int64)  # float32 batches of whole numbers (fit's inputs)
        raise TypeError(
            f"{self._where}: expected an array of integers. Received an array of "
            f"{array.dtype}. For strings use StringLookup."
        )


# ------------------------------------------------------------------ TextVectorization
STANDARDIZE = ("lower_and_strip_punctuation", "lower", "strip_punctuation")
SPLIT = ("whitespace", "character")


class TextVectorization(Layer):
    """Turns raw text into ids or bag-of-words vectors: standardise (lower case, strip
    punctuation), split into words, optionally form n-grams (one op, ``ops.lookup.tokenize``),
    then look them up in a vocabulary learned by ``adapt`` (a ``StringLookup`` with the mask
    ``""`` and the OOV token ``"[UNK]"``).

    Example::

        vectorize = layers.TextVectorization(output_sequence_length=4,
                                             vocabulary=["earth", "wind", "and", "fire"])
        vectorize(["earth wind and also fire", "fire and earth michigan"])
        # [[2, 3, 4, 1], [5, 4, 2, 1]]

    Args:
        max_tokens: the most ids (the mask and OOV ids included); None: no limit.
        standardize: "lower_and_strip_punctuation", "lower", "strip_punctuation" or None.
        split: "whitespace", "character" or None (the whole text is one token).
        ngrams: None, n (all 1..n-grams) or a tuple of the sizes wanted, e.g. (1, 3).
        output_mode: "int" (a sequence of ids), "multi_hot", "count" or "tf_idf" (one vector
            of vocabulary size per text).
        output_sequence_length: with "int", pad with 0 or cut every sequence to this length;
            None: pad to the longest text of the batch.
        vocabulary: the tokens, if known. idf_weights: with it, for "tf_idf".

    Shape:
        (batch,) or (batch, 1) strings -> (batch, length) int64, or (batch, vocabulary_size())
        float32.
    """

    def __init__(
        self,
        max_tokens: int | None = None,
        standardize: str | None = "lower_and_strip_punctuation",
        split: str | None = "whitespace",
        ngrams: int | tuple[int, ...] | None = None,
        output_mode: str = "int",
        output_sequence_length: int | None = None,
        vocabulary: Any = None,
        idf_weights: Any = None,
        *,
        name: str | None = None,
        trainable: bool = True,
    ) -> None:
        super().__init__(name=name, trainable=trainable)
        where = "TextVectorization"
        if standardize is not None and standardize not in STANDARDIZE:
            raise ValueError(
                f"{where}: 'standardize' must be None or one of "
                f"{', '.join(map(repr, STANDARDIZE))} (a function cannot be saved). "
                f"Received: standardize={standardize!r}"
            )
        if split is not None and split not in SPLIT:
            raise ValueError(
                f"{where}: 'split' must be None or one of {', '.join(map(repr, SPLIT))}. "
                f"Received: split={split!r}"
            )
        if ngrams is not None:
            sizes = (ngrams,) if is_int(ngrams) else ngrams
            if (
                not isinstance(sizes, (tuple, list))
                or not sizes
                or not all(is_int(n) and n > 0 for n in sizes)
            ):
                raise ValueError(
                    f"{where}: 'ngrams' must be None, a positive integer or a tuple of them. "
                    f"Received: ngrams={ngrams!r}"
                )
            ngrams = int(ngrams) if is_int(ngrams) else tuple(int(n) for n in ngrams)
        if output_mode not in ("int", "multi_hot", "count", "tf_idf"):
            raise ValueError(
                f"{where}: 'output_mode' must be one of 'int', 'multi_hot', 'count', 'tf_idf'. "
                f"Received: output_mode={output_mode!r}"
            )
        if output_sequence_length is not None:
            if output_mode != "int":
                raise ValueError(f"{where}: 'output_sequence_length' is for output_mode='int'.")
            if not is_int(output_sequence_length) or output_sequence_length < 1:
                raise ValueError(
                    f"{where}: 'output_sequence_length' must be a positive integer or None. "
                    f"Received: output_sequence_length={output_sequence_length!r}"
                )
        self.standardize = standardize
        self.split = split
        self.ngrams = ngrams
        self.output_mode = output_mode
        self.output_sequence_length = output_sequence_length
        # The vocabulary's keeper, a part of this layer rather than a sub-layer of the model:
        # it holds no weights, and summary() must not feed it the zeros it traces with.
        self.__dict__["_vocab"] = StringLookup(
            max_tokens=max_tokens,
            mask_token="" if output_mode == "int" else None,
            vocabulary=vocabulary,
            idf_weights=idf_weights,
            output_mode=output_mode,
            name=f"{self.name}_lookup",
        )

    @property
    def max_tokens(self) -> int | None:
        """The most ids the layer gives out (its vocabulary's bound)."""
        return self._vocab.max_tokens

    def get_vocabulary(self, include_special_tokens: bool = True) -> list[str]:
        """The tokens in id order (the mask ``""`` and ``"[UNK]"`` first)."""
        return self._vocab.get_vocabulary(include_special_tokens)

    def vocabulary_size(self) -> int:
        """How many ids the layer gives out, the special ones included."""
        return self._vocab.vocabulary_size()

    def set_vocabulary(self, vocabulary: Any, idf_weights: Any = None) -> None:
        """Use ``vocabulary`` (see ``StringLookup.set_vocabulary``)."""
        self._vocab.set_vocabulary(vocabulary, idf_weights)

    def _sizes(self) -> tuple[int, ...] | None:
        if self.ngrams is None:
            return None
        return tuple(range(1, self.ngrams + 1)) if isinstance(self.ngrams, int) else self.ngrams

    def _texts(self, value: Any) -> np.ndarray:
        """The input as a (batch,) array of texts, or a TypeError naming the layer."""
        array = np.asarray(value)
        if array.ndim == 2 and array.shape[1] == 1:
            array = array[:, 0]
        text = array.dtype.kind in "US" or (
            array.dtype.kind == "O" and all(isinstance(t, (str, bytes)) for t in array.flat)
        )
        if array.ndim != 1 or not text:
            raise TypeError(
                f"{self._where}: expected a batch of texts, strings of shape (batch,) or "
                f"(batch, 1). Received an array of {array.dtype} with shape {array.shape}."
            )
        return np.array([_plain(t) for t in array], dtype=object)

    def _tokenize(self, x: Any, length: int | None) -> Tensor:
        return tokenize(x, self.standardize, self.split, self._sizes(), length)

    def adapt(self, data: Any) -> None:
        """Learn the vocabulary from texts (an array of strings, or an iterable of batches or
        (x, y) pairs): the words after standardising and splitting, the most frequent first.
        Each text is one document (for TF-IDF)."""

        def documents() -> Any:
            for batch in adapt_batches(self._where, data):
                rows = self._tokenize(self._texts(batch), None).numpy()
                yield from ([t for t in row if t != ""] for row in rows)

        self._vocab._learn(documents())

    def __call__(self, inputs: Any, training: bool | None = None) -> Any:
        # Texts, not numbers: checked here; a Tensor (a model's batch) passes as it is.
        if not is_symbolic(inputs):
            array = inputs.data if isinstance(inputs, Tensor) else inputs
            texts = self._texts(array)
            if not isinstance(inputs, Tensor):
                inputs = Tensor(texts)
        return super().__call__(inputs, training=training)

    def call(self, x: Tensor, training: bool = False) -> Tensor:
        vocab = self._vocab
        vocab._require_vocabulary()
        length = self.output_sequence_length if self.output_mode == "int" else None
        tokens = self._tokenize(x, length)
        if self.output_mode == "int":
            return vocab(tokens)
        # Counting modes: the padding "" gets the id -1, which is not counted.
        ids = lookup(tokens, vocab._table, 0, 1, mask="", mask_id=-1, where=self._where)
        mode = "count" if self.output_mode == "tf_idf" else self.output_mode
        weights = None if vocab._idf is None else np.asarray(vocab._idf, np.float32)
        return encode_categories(
            ids, vocab.vocabulary_size(), mode, weights, skip=-1, where=self._where
        )

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        batch = input_shape[0]
        if self.output_mode == "int":
            return (batch, self.output_sequence_length)
        return (batch, self.vocabulary_size())

    def get_config(self) -> dict[str, Any]:
        vocab = self._vocab.get_config()
        return super().get_config() | {
            "max_tokens": self.max_tokens,
            "standardize": self.standardize,
            "split": self.split,
            "ngrams": self.ngrams,
            "output_mode": self.output_mode,
            "output_sequence_length": self.output_sequence_length,
            "vocabulary": vocab["vocabulary"],
            "idf_weights": vocab["idf_weights"],
        }
