"""ONNX converters of the vocabulary layers: ``StringLookup``, ``IntegerLookup`` and
``TextVectorization`` become standard ONNX string operators and ``ai.onnx.ml``'s
``LabelEncoder`` (token -> id), so the exported graph takes the raw strings (or integer codes).

* The lookup: a ``LabelEncoder`` whose keys are the vocabulary (and the mask token) and whose
  values are the ids; an unknown token gets its ``default``, the OOV id. IntegerLookup's
  several OOV ids are ``Mod`` of the code, as glassnet's ``oov_bucket``; StringLookup's hash
  them with CRC-32, which no ONNX operator computes, so that case is refused.
* ``invert=True``: a ``LabelEncoder`` from ids to tokens, the OOV token as its default.
* "one_hot", "multi_hot", "count", "tf_idf": the ids compared with 0 … depth − 1 (a padding
  id -1 matches nothing), summed over a sample's ids (``Min`` with 1 for "multi_hot"), times
  the IDF weights.
* n-grams: the words shifted by ``Slice`` and joined by ``StringConcat``; in "int" mode they
  are put side by side in glassnet's order with ``ScatterElements``.
* TextVectorization's standardisation, exactly Python's ``str.lower`` and the removal of
  ``PUNCTUATION``: a character is removed or replaced by ``StringSplit`` on it and a ``Loop``
  that joins the parts again with ``StringConcat``. ``StringNormalizer`` lower-cases (its
  ``C.UTF-8`` locale lower-cases every code point as Python does but U+0130, replaced first);
  the capital sigma, the one letter Python lower-cases by its context (a word's final "ς"),
  is replaced first too, the letter picked by ``RegexFullMatch`` of its neighbours. Python's
  ``str.split()`` splits on any Unicode white space, ONNX's ``StringSplit`` on the space
  only: the other white-space characters become spaces first.

Every node of a layer is named after it (``"<layer>/<op>"``) and the layer's config, the
vocabulary left out (it is in the ``LabelEncoder``), is the JSON ``doc_string`` of its first
node, which is how ``import_onnx`` finds the layer again. These operators need opset 20
(``StringSplit``, ``StringConcat``): a model holding a TextVectorization is written with it.
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from typing import Any

import numpy as np

from glassnet.export.onnx import (
    NHWC,
    Graph,
    Value,
    _int64,
    convert_layer,
    register_converter,
)
from glassnet.layers import deserialize, serialize
from glassnet.layers.layer import Layer
from glassnet.layers.lookup import IntegerLookup, StringLookup, TextVectorization
from glassnet.ops.lookup import PUNCTUATION

__all__ = ["ML_DOMAIN", "layer_groups", "layer_note", "punctuation", "read_layer", "white_space"]

#: The domain of LabelEncoder.
ML_DOMAIN = "ai.onnx.ml"
#: What the doc_string of a vocabulary layer's first node starts with.
NOTE = "glassnet layer "
#: The locale StringNormalizer lower-cases in (built into glibc, no language pack needed).
LOCALE = "C.UTF-8"
#: The one character StringNormalizer lower-cases otherwise than Python: İ -> "i̇".
SPECIAL_LOWER = {"\u0130": "\u0130".lower()}


@functools.cache
def _sigma_classes() -> tuple[str, str]:
    """RE2 character classes of the code points Python's ``str.lower`` treats as cased (and
    not case-ignorable) and as case-ignorable, read from ``str.lower`` itself: a character
    is cased when a sigma after it ends a word, case-ignorable when it is looked through."""
    cased, ignorable = [], []
    for code in range(sys.maxunicode + 1):
        if 0xD800 <= code < 0xE000:  # surrogates: never in UTF-8 text
            continue
        c = chr(code)
        if (c + "\u03a3").lower()[-1] == "\u03c2":
            cased.append(code)
        elif ("A" + c + "\u03a3").lower()[-1] == "\u03c2":
            ignorable.append(code)
    return _re2_class(cased), _re2_class(ignorable)


def _re2_class(codes: list[int]) -> str:
    """An RE2 character class of sorted code points, as ranges."""
    ranges: list[list[int]] = []
    for code in codes:
        if ranges and ranges[-1][1] == code - 1:
            ranges[-1][1] = code
        else:
            ranges.append([code, code])
    items = (f"\\x{{{a:X}}}" + (f"-\\x{{{b:X}}}" if b > a else "") for a, b in ranges)
    return "[" + "".join(items) + "]"


@functools.cache
def white_space() -> tuple[str, ...]:
    """Every character Python's ``str.split()`` splits on but the space, in code point order."""
    return tuple(chr(c) for c in range(sys.maxunicode + 1) if chr(c).isspace() and c != 32)


def punctuation() -> list[str]:
    """The characters "strip_punctuation" removes (``ops.lookup.PUNCTUATION``)."""
    return [chr(c) for c in range(128) if PUNCTUATION.fullmatch(chr(c))]


def layer_note(layer: Layer) -> str:
    """The doc_string of a vocabulary layer's first node: its class and config, without the
    vocabulary and the IDF weights (the graph holds them)."""
    saved = serialize(layer)
    saved["config"].pop("vocabulary", None)
    saved["config"].pop("idf_weights", None)
    return NOTE + json.dumps(saved)


class _Nodes:
    """Writes one layer's nodes into the graph, all named after the layer; the first one
    carries the layer's note."""

    def __init__(self, graph: Graph, layer: Layer) -> None:
        self.graph, self.layer, self.hint = graph, layer, layer.name
        self.note: str | None = layer_note(layer)

    def _doc(self, node: Any) -> None:
        if self.note is not None:
            node.doc_string = self.note
            self.note = None

    def node(self, op: str, inputs: list[str], **attrs: Any) -> str:
        out = self.graph.node(op, inputs, self.hint, **attrs)
        self._doc(self.graph.nodes[-1])
        return out

    def multi(self, op: str, inputs: list[str], count: int, **attrs: Any) -> list[str]:
        """A node with ``count`` outputs."""
        outs = [self.graph.name(self.hint) for _ in range(count)]
        name = self.graph.name(f"{self.hint}/{op}")
        node = self.graph.onnx.helper.make_node(op, inputs, outs, name=name, **attrs)
        self.graph.nodes.append(node)
        self._doc(node)
        return outs

    def const(self, array: Any) -> str:
        return self.graph.weight(self.hint, array)

    def strings(self, values: list[str]) -> str:
        return self.const(np.array(values, dtype=object))

    def replace(self, text: str, old: str, new: str | Callable[..., str]) -> str:
        """``text.replace(old, new)`` for a (N,) string tensor: StringSplit on ``old``, then a
        Loop over the parts' columns joining them again, ``new`` between two parts. ``new``
        may be a function ``(add, step, parts, lengths) -> name`` writing the (N,) strings to
        put before part ``step`` (``add`` writes a node into the Loop's body)."""
        g, helper, tp = self.graph, self.graph.onnx.helper, self.graph.onnx.TensorProto
        parts, lengths = self.multi("StringSplit", [text], 2, delimiter=old)
        count = self.node("Gather", [self.node("Shape", [parts]), _int64(g, self.hint, 1)], axis=0)
        start = self.node("Expand", [self.strings([""]), self.node("Shape", [text])])
        step, cond, acc = (g.name(f"{self.hint}_{n}") for n in ("i", "cond", "acc"))
        cond_out, acc_out = g.name(f"{self.hint}_cond"), g.name(f"{self.hint}_acc")
        body: list[Any] = []

        def add(op: str, inputs: list[str], output: str | None = None, **attrs: Any) -> str:
            output = output or g.name(self.hint)
            name = g.name(f"{self.hint}/{op}")
            body.append(helper.make_node(op, inputs, [output], name=name, **attrs))
            return output

        # acc + (new where 0 < i < length) + parts[:, i]; the parts past a text's length are ""
        joined = acc
        if new:
            inside = add("And", [add("Less", [step, lengths]), add("Greater", [step, self.zero])])
            if callable(new):
                new = new(add, step, parts, lengths)
            else:
                new = self.strings([new])
            between = add("Where", [inside, new, self.strings([""])])
            joined = add("StringConcat", [joined, between])
        add("StringConcat", [joined, add("Gather", [parts, step], axis=1)], acc_out)
        add("Identity", [cond], cond_out)
        body_graph = helper.make_graph(
            body,
            g.name(f"{self.hint}_join"),
            [
                helper.make_tensor_value_info(step, tp.INT64, []),
                helper.make_tensor_value_info(cond, tp.BOOL, []),
                helper.make_tensor_value_info(acc, tp.STRING, ["N"]),
            ],
            [
                helper.make_tensor_value_info(cond_out, tp.BOOL, []),
                helper.make_tensor_value_info(acc_out, tp.STRING, ["N"]),
            ],
        )
        joined = self.node("Loop", [count, "", start], body=body_graph)
        # (N,) again, said outright: onnx's shape inference crashes on a Loop's strings split
        # and looked up when their rank is left to it
        return self.node("Reshape", [joined, _int64(g, self.hint, [-1])])

    @property
    def zero(self) -> str:
        return _int64(self.graph, self.hint, 0)

    def lower_sigmas(self, text: str) -> str:
        """Each capital sigma as Python's ``str.lower`` writes it: "ς" where it ends a word
        (Unicode's Final_Sigma: after a cased character and not before one, case-ignorable
        ones skipped), "σ" elsewhere. The parts between the sigmas are matched against the
        code points Python treats as cased and as case-ignorable (``RegexFullMatch``); the
        joining Loop picks the letter before each part from its neighbours (a sigma is cased
        itself, so a part of case-ignorable characters only looks through to it)."""
        cased, ignorable = _sigma_classes()
        one = _int64(self.graph, self.hint, 1)

        def pick(add: Callable[..., str], step: str, parts: str, lengths: str) -> str:
            match = {
                key: self.node("RegexFullMatch", [parts], pattern=pattern)
                for key, pattern in (
                    ("ends", f"(?s:.*){cased}{ignorable}*"),
                    ("starts", f"{ignorable}*{cased}(?s:.*)"),
                    ("ignorable", f"{ignorable}*"),
                )
            }
            before = add("Sub", [step, one])  # the part before this sigma, and the one after
            cased_before = add(
                "Or",
                [
                    add("Gather", [match["ends"], before], axis=1),
                    add(
                        "And",
                        [
                            add("Gather", [match["ignorable"], before], axis=1),
                            add("Greater", [before, self.zero]),  # a sigma before it
                        ],
                    ),
                ],
            )
            cased_after = add(
                "Or",
                [
                    add("Gather", [match["starts"], step], axis=1),
                    add(
                        "And",
                        [
                            add("Gather", [match["ignorable"], step], axis=1),
                            add("Less", [add("Add", [step, one]), lengths]),  # a sigma after
                        ],
                    ),
                ],
            )
            final = add("And", [cased_before, add("Not", [cased_after])])
            return add("Where", [final, self.strings(["\u03c2"]), self.strings(["\u03c3"])])

        return self.replace(text, "\u03a3", pick)

    def sum(self, x: str, axis: int) -> str:
        """ReduceSum over one axis, dropped."""
        return self.node("ReduceSum", [x, _int64(self.graph, self.hint, [axis])], keepdims=0)


def _refuse(layer: Layer, what: str, way_out: str) -> ValueError:
    return ValueError(
        f"ONNX export: layer '{layer.name}' ({type(layer).__name__}) {what}, which no standard "
        f"ONNX operator reproduces exactly. {way_out}"
    )


def _ids(
    n: _Nodes,
    tokens: str,
    table: dict[Any, int],
    mask: Any,
    mask_id: int,
    oov_start: int,
    buckets: int,
    strings: bool,
) -> str:
    """``ops.lookup.lookup`` as a LabelEncoder: the vocabulary (and the mask) to their ids, an
    unknown token to the OOV id; with several OOV ids (integers only), ``oov_start`` plus the
    code modulo their count."""
    keys, values = list(table), list(table.values())
    if mask is not None:
        keys, values = [*keys, mask], [*values, mask_id]
    key_attr = "keys_strings" if strings else "keys_int64s"
    ids = n.node(
        "LabelEncoder",
        [tokens],
        domain=ML_DOMAIN,
        **{key_attr: keys},
        values_int64s=values,
        default_int64=oov_start if buckets == 1 else -1,
    )
    if buckets > 1:
        bucket = n.node(
            "Add",
            [
                n.node("Mod", [tokens, _int64(n.graph, n.hint, buckets)]),
                n.const(np.int64(oov_start)),
            ],
        )
        unknown = n.node("Equal", [ids, _int64(n.graph, n.hint, -1)])
        ids = n.node("Where", [unknown, bucket, ids])
    return ids


def _encode(n: _Nodes, ids: str, rank: int, depth: int, mode: str, weights: Any) -> str:
    """``ops.lookup.encode_categories``: the ids compared with 0..depth-1 (a padding id -1
    matches none), summed over a sample's ids (at most 1 for "multi_hot"), times the IDF
    weights."""
    axis = rank - 1  # the ids' last axis, where their comparisons sit in the (..., k, depth) one
    expanded = n.node("Unsqueeze", [ids, _int64(n.graph, n.hint, [-1])])
    hot = n.node("Equal", [expanded, n.const(np.arange(depth, dtype=np.int64))])
    hot = n.node("Cast", [hot], to=n.graph.onnx.TensorProto.FLOAT)
    if mode == "one_hot":
        out = hot
        if rank > 1:  # (..., 1) ids: one row each
            out = n.node("Squeeze", [hot, _int64(n.graph, n.hint, [axis])])
    else:
        out = n.sum(hot, axis)  # the counts; multi_hot: at most 1 (a sample may have no ids)
        if mode == "multi_hot":
            out = n.node("Min", [out, n.const(np.float32(1.0))])
    if weights is not None:
        out = n.node("Mul", [out, n.const(np.asarray(weights, np.float32))])
    return out


@register_converter(StringLookup, IntegerLookup)
def _lookup(graph: Graph, layer: Any, value: Value) -> Value:
    """A LabelEncoder from tokens to ids (``invert``: from ids to tokens), then the encoding
    of the ids for the other output modes."""
    layer._require_vocabulary()
    strings = isinstance(layer, StringLookup)
    n = _Nodes(graph, layer)
    shape = tuple(layer.compute_output_shape(value.shape))
    if layer.invert:
        ids = value.name
        if value.dtype != "int64":
            ids = n.node("Cast", [ids], to=graph.onnx.TensorProto.INT64)
        vocabulary = layer.get_vocabulary()
        out = n.node(
            "LabelEncoder",
            [ids],
            domain=ML_DOMAIN,
            keys_int64s=list(range(len(vocabulary))),
            **({"values_strings": vocabulary} if strings else {"values_int64s": vocabulary}),
            **(
                {"default_string": layer.oov_token}
                if strings
                else {"default_int64": layer.oov_token}
            ),
        )
        return Value(out, shape, NHWC, dtype="string" if strings else "int64")
    # Either way out moves the vocabulary's ids, so what comes after the layer must learn again
    retrain = "(the vocabulary's ids move: train the layers after it again)"
    if layer.num_oov_indices == 0:
        raise _refuse(
            layer,
            "has num_oov_indices=0, where an unknown token is an error in glassnet",
            f"An ONNX graph cannot raise; set num_oov_indices=1 {retrain} to export it.",
        )
    if strings and layer.num_oov_indices > 1:
        raise _refuse(
            layer,
            f"hashes unknown strings into its {layer.num_oov_indices} OOV ids with CRC-32",
            f"Set num_oov_indices=1 {retrain} to export it.",
        )
    tokens = value.name
    if strings and value.dtype != "string":
        raise ValueError(
            f"ONNX export: layer '{layer.name}' (StringLookup) takes strings, but its input "
            f"is {value.dtype}: start the model with Input(shape, dtype='string')."
        )
    if not strings:
        if value.dtype == "string":
            raise ValueError(
                f"ONNX export: layer '{layer.name}' (IntegerLookup) takes integers, but its "
                "input is strings: start the model with Input(shape, dtype='int64')."
            )
        if value.dtype != "int64":
            tokens = n.node("Cast", [tokens], to=graph.onnx.TensorProto.INT64)
    ids = _ids(
        n,
        tokens,
        layer._table,
        layer.mask_token,
        0,
        layer._oov_start(),
        layer.num_oov_indices,
        strings,
    )
    if layer.output_mode == "int":
        return Value(ids, shape, NHWC, dtype="int64")
    out = _encode(n, ids, len(value.shape), layer.vocabulary_size(), layer.output_mode, layer._idf)
    return Value(out, shape, NHWC)


def _ngrams(n: _Nodes, words: str, lengths: str, sizes: tuple[int, ...]) -> tuple[str, str]:
    """``ops.lookup._words``'s n-grams: for each size k (in the order given), the k words from
    each position joined by spaces; "" past a text's last one. Returns them (N, M) and the
    column each takes in glassnet's row (the grams of one size after those of the sizes
    before it), -1 for the "" (``_compact`` puts them in a spare column it drops)."""
    g, hint = n.graph, n.hint
    width = n.node("Shape", [words], start=1, end=2)  # (1,): K
    lengths = n.node("Unsqueeze", [lengths, _int64(g, hint, [1])])  # (N, 1)
    grams, places = [], []
    zero = _int64(g, hint, 0)
    offset = zero
    for k in sizes:
        count = n.node("Sub", [width, _int64(g, hint, [k - 1])])  # K - k + 1 positions
        pieces = [
            n.node(
                "Slice",
                [
                    words,
                    _int64(g, hint, [j]),
                    n.node("Add", [count, _int64(g, hint, [j])]),
                    _int64(g, hint, [1]),
                ],
            )
            for j in range(k)
        ]
        gram = pieces[0]
        for piece in pieces[1:]:
            gram = n.node("StringConcat", [n.node("StringConcat", [gram, n.strings([" "])]), piece])
        here = n.node("Max", [n.node("Sub", [lengths, _int64(g, hint, k - 1)]), zero])  # (N, 1)
        end = n.node("Max", [n.node("Squeeze", [count]), zero])
        position = n.node("Range", [zero, end, _int64(g, hint, 1)])  # (K - k + 1,)
        valid = n.node("Less", [position, here])  # (N, K - k + 1)
        grams.append(n.node("Where", [valid, gram, n.strings([""])]))
        place = n.node("Add", [offset, position])  # after the grams of the sizes before
        places.append(n.node("Where", [valid, place, _int64(g, hint, -1)]))
        offset = n.node("Add", [offset, here])
    if len(sizes) > 1:
        return n.node("Concat", grams, axis=1), n.node("Concat", places, axis=1)
    return grams[0], places[0]


def _compact(n: _Nodes, grams: str, places: str, length: int | None) -> str:
    """The n-grams of each text side by side from column 0, "" after them, ``length`` columns
    (None: the most any text has): ScatterElements into rows of "" one column wider, where
    the "" and the grams past ``length`` go, then that column dropped."""
    g, hint = n.graph, n.hint
    if length is None:
        most = n.node("ReduceMax", [n.node("Add", [places, _int64(g, hint, 1)])], keepdims=0)
        most = n.node("Max", [most, _int64(g, hint, 0)])  # no texts' grams at all: 0
        width = n.node("Unsqueeze", [most, _int64(g, hint, [0])])  # (1,)
    else:
        width = _int64(g, hint, [length])
    inside = n.node(
        "And",
        [
            n.node("Less", [places, width]),
            n.node("GreaterOrEqual", [places, _int64(g, hint, 0)]),
        ],
    )
    spare = n.node("Expand", [width, n.node("Shape", [places])])  # the spare column's index
    target = n.node("Where", [inside, places, spare])
    rows = n.node("Shape", [grams], start=0, end=1)
    wider = n.node("Add", [width, _int64(g, hint, [1])])
    blank = n.node("Expand", [n.strings([""]), n.node("Concat", [rows, wider], axis=0)])
    row = n.node("ScatterElements", [blank, target, grams], axis=1)
    return n.node("Slice", [row, _int64(g, hint, [0]), width, _int64(g, hint, [1])])


@register_converter(TextVectorization)
def _text_vectorization(graph: Graph, layer: TextVectorization, value: Value) -> Value:
    """Lower-case (StringNormalizer), strip punctuation and turn Python's white space into
    spaces (StringSplit and a joining Loop per character), split on spaces (StringSplit),
    look the words up (LabelEncoder), then pad or cut (Pad, Slice) or count them."""
    vocab = layer._vocab
    vocab._require_vocabulary()
    if layer.split == "character":
        raise _refuse(
            layer,
            "splits texts into characters (split='character')",
            "Export the model that takes the character ids, and split the texts before calling it.",
        )
    if value.dtype != "string":
        raise ValueError(
            f"ONNX export: layer '{layer.name}' (TextVectorization) takes texts, but its input "
            f"is {value.dtype}: start the model with Input(shape=(1,), dtype='string')."
        )
    n = _Nodes(graph, layer)
    text = n.node("Reshape", [value.name, _int64(graph, layer.name, [-1])])  # (N,)
    if layer.standardize in ("lower", "lower_and_strip_punctuation"):
        text = n.lower_sigmas(text)
        for old, new in SPECIAL_LOWER.items():
            text = n.replace(text, old, new)
        text = n.node("StringNormalizer", [text], case_change_action="LOWER", locale=LOCALE)
    if layer.standardize in ("strip_punctuation", "lower_and_strip_punctuation"):
        for old in punctuation():
            text = n.replace(text, old, "")
    if layer.split == "whitespace":
        for old in white_space():
            text = n.replace(text, old, " ")
        # (N, longest): "" after a text's end; and each text's word count
        tokens, lengths = n.multi("StringSplit", [text], 2)
    else:
        tokens = n.node("Unsqueeze", [text, _int64(graph, layer.name, [1])])  # (N, 1)
        lengths = n.node("Expand", [_int64(graph, layer.name, 1), n.node("Shape", [text])])
    shape = tuple(layer.compute_output_shape(value.shape))
    length = layer.output_sequence_length
    sizes = layer._sizes()
    if sizes is not None:  # the n-grams, "" where a text has none, and where each one goes
        tokens, places = _ngrams(n, tokens, lengths, sizes)
    if layer.output_mode != "int":  # the padding "" gets -1, which is not counted
        ids = _ids(n, tokens, vocab._table, "", -1, 0, 1, True)
        out = _encode(n, ids, 2, vocab.vocabulary_size(), layer.output_mode, vocab._idf)
        return Value(out, shape, NHWC)
    if sizes is not None:
        tokens = _compact(n, tokens, places, length)
        length = None  # already that wide
    ids = _ids(n, tokens, vocab._table, "", 0, 1, 1, True)
    if length is not None:  # pad every row with `length` zeros, then keep the first `length`
        ids = n.node("Pad", [ids, _int64(graph, layer.name, [0, 0, 0, length])])
        ids = n.node(
            "Slice",
            [ids, *(_int64(graph, layer.name, [v]) for v in (0, length, 1))],
        )
    return Value(ids, shape, NHWC, dtype="int64")


# --------------------------------------------------------------------------- import
def layer_groups(nodes: Any) -> dict[int, list[Any]]:
    """The vocabulary layers of a graph written by ``export``: the index of each one's first
    node (the one with the note) -> its nodes, the following ones named after the layer."""
    groups = {}
    for i, node in enumerate(nodes):
        if node.doc_string.startswith(NOTE) and "/" in node.name:
            prefix = node.name.rsplit("/", 1)[0] + "/"
            end = i + 1
            while end < len(nodes) and nodes[end].name.startswith(prefix):
                end += 1
            groups[i] = list(nodes[i:end])
    return groups


def _signature(onnx: Any, node: Any) -> tuple[Any, ...]:
    """What a node computes, its names and subgraphs left out."""
    attrs = [
        (a.name, onnx.helper.get_attribute_value(a))
        for a in node.attribute
        if a.type != onnx.AttributeProto.GRAPH
    ]
    return node.op_type, node.domain, len(node.input), attrs


def _text(value: Any) -> Any:
    return value.decode("utf-8") if isinstance(value, bytes) else value


def read_layer(
    onnx: Any,
    nodes: list[Any],
    consts: dict[str, np.ndarray],
    input_shape: tuple[int | None, ...],
    input_dtype: str,
    opset: int,
) -> Layer:
    """The vocabulary layer that ``export`` wrote as ``nodes`` (``layer_groups``): its config
    from the first node's note, its vocabulary from the LabelEncoder, its IDF weights from the
    last Mul; the nodes must be exactly those the layer exports to, or a ValueError names the
    layer and its operators."""
    where = f"import_onnx: layer '{nodes[0].name.rsplit('/', 1)[0]}'"
    ops = ", ".join(dict.fromkeys(n.op_type for n in nodes))
    try:
        layer = deserialize(json.loads(nodes[0].doc_string[len(NOTE) :]))
    except (ValueError, TypeError) as err:
        raise ValueError(f"{where}: its note does not describe a glassnet layer ({err}).") from err
    if not isinstance(layer, (StringLookup, IntegerLookup, TextVectorization)):
        raise ValueError(f"{where}: a {type(layer).__name__} is not a vocabulary layer.")
    lookup = layer._vocab if isinstance(layer, TextVectorization) else layer
    encoders = [n for n in nodes if n.op_type == "LabelEncoder"]
    if len(encoders) != 1:
        raise ValueError(f"{where}: expected one LabelEncoder among its nodes ({ops}).")
    attrs = {a.name: onnx.helper.get_attribute_value(a) for a in encoders[0].attribute}
    if lookup.invert:
        values = attrs.get("values_strings") or attrs.get("values_int64s") or []
        lookup.set_vocabulary([_text(v) for v in values])
    else:
        keys = attrs.get("keys_strings") or attrs.get("keys_int64s") or []
        pairs = sorted(zip(attrs.get("values_int64s", []), map(_text, keys), strict=False))
        tokens = [k for v, k in pairs if v >= lookup._token_start()]
        weights = None
        if lookup.output_mode == "tf_idf":
            if nodes[-1].op_type != "Mul" or nodes[-1].input[1] not in consts:
                raise ValueError(f"{where}: a tf_idf layer ends with a Mul by its weights ({ops}).")
            weights = consts[nodes[-1].input[1]]
            tokens = lookup._specials() + tokens
        lookup.set_vocabulary(tokens, weights)
    again = Graph(opset)
    convert_layer(again, layer, Value(again.name("input"), input_shape, NHWC, dtype=input_dtype))
    if [_signature(onnx, n) for n in again.nodes] != [_signature(onnx, n) for n in nodes]:
        raise ValueError(
            f"{where}: its nodes ({ops}) are not those glassnet's exporter writes for a "
            f"{type(layer).__name__} with this config; the file was changed after export."
        )
    return layer
