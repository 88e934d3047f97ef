"""ONNX export and import of the vocabulary layers (StringLookup, IntegerLookup,
TextVectorization): onnxruntime gives glassnet's ids exactly and its TF-IDF vectors to 1e-5 at
batch sizes 1 and 7, on texts with punctuation, Unicode, odd white space and empty strings;
the files import back to the same layers; what ONNX cannot reproduce is refused by name."""

from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

import glassnet as gn  # noqa: E402
from glassnet import layers as L  # noqa: E402
from glassnet.export.onnx import export, to_onnx  # noqa: E402
from glassnet.export.onnx_import import import_onnx  # noqa: E402

#: Texts that make standardising and splitting hard: punctuation inside and around words,
#: apostrophes, runs of punctuation, upper case beyond ASCII (İ lower-cases to two code
#: points in Python), every kind of white space Python splits on, empty and blank texts.
TRICKY = [
    "Hello, World!",
    "",
    "  lead and trail  ",
    "don't stop--ever... it's [UNK]",
    "ÀÉÎ İstanbul ẞ Ǆ straße",
    "tab\tnew\nline\x0bvt\x0cff\rcr\x1cfs\x85nel\xa0nb\u2003em\u3000id\u2028ls",
    "!!!",
    "a!b@c#d$e%f^g&h*i(j)k_l{m}n|o~p`q\\r/s",
    "THE the The tHe",
    "emoji 😀 and 𝔘nicode ΑΒΓ",
    "   ",
    "word",
    "cat's cats' 'cat'",
]
VOCABULARY = ["the", "hello", "world", "and", "dont", "stop", "its", "i̇stanbul", "straße"]
VOCABULARY += ["abcdefghijklmnopqrs", "cat", "cats", "tab", "id", "emoji", "word", "unk", "!!!"]
VOCABULARY += ["hello world", "the the", "the the the", "lead and trail", "and trail"]


def _session(proto):
    return ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])


def _same(got, expected):
    """Equal arrays: floats to 1e-5, ids exactly; glassnet's tokens are an object array
    (IntegerLookup's inverted ones too), ONNX's strings or int64."""
    assert got.shape == expected.shape
    if expected.dtype.kind == "O":
        assert got.tolist() == expected.tolist()
        return
    assert got.dtype.kind == expected.dtype.kind
    if got.dtype.kind == "f":
        np.testing.assert_allclose(got, expected, atol=1e-5, rtol=0)
    else:
        np.testing.assert_array_equal(got, expected)


def _check(model, batches):
    """Export with the full checker; onnxruntime equals ``predict`` on every batch."""
    proto = to_onnx(model)
    onnx.checker.check_model(proto, full_check=True)
    session = _session(proto)
    for x in batches:
        _same(session.run(None, {"input": x})[0], model.predict(x))
    return proto


def _texts(batch):
    return np.array(batch, dtype=object).reshape(-1, 1)


TEXT_OPTIONS = [
    {},
    {"standardize": "lower"},
    {"standardize": "strip_punctuation"},
    {"standardize": None},
    {"split": None},
    {"split": None, "standardize": None},
    {"output_sequence_length": 4},
    {"output_sequence_length": 40},
    {"output_mode": "multi_hot"},
    {"output_mode": "count"},
    {"output_mode": "tf_idf", "idf_weights": np.linspace(0.25, 3.0, len(VOCABULARY))},
    {"max_tokens": 6},
    {"ngrams": 2},
    {"ngrams": (3, 1), "output_sequence_length": 5},
    {"ngrams": 3, "output_mode": "count"},
    {"ngrams": (1, 2), "output_mode": "tf_idf", "idf_weights": np.ones(len(VOCABULARY))},
    {"ngrams": 2, "split": None},
]


def _text_layer(**options):
    vocabulary = VOCABULARY[: options["max_tokens"] - 2] if "max_tokens" in options else VOCABULARY
    return L.TextVectorization(vocabulary=vocabulary, **options)


def _vectorizer(**options):
    return gn.Sequential([L.Input((1,), dtype="string"), _text_layer(**options)])


@pytest.mark.parametrize("options", TEXT_OPTIONS, ids=str)
def test_text_vectorization_matches_onnxruntime(options):
    batches = [_texts(TRICKY[:1]), _texts(TRICKY[:7]), _texts(TRICKY), _texts(["", " "])]
    proto = _check(_vectorizer(**options), batches)
    assert {"LabelEncoder"} <= {n.op_type for n in proto.graph.node}
    assert proto.opset_import[0].version >= 20  # StringSplit, StringConcat


def test_the_default_standardize_is_exact_where_a_regex_would_be_needed():
    """Every ASCII punctuation character glued into words, alone, doubled, at both ends."""
    from glassnet.export.onnx_text import punctuation

    marks = punctuation()
    assert len(marks) == 32
    texts = [f"{m}Ab{m}c{m}{m} {m} d{m}" for m in marks] + ["".join(marks), "x" + "".join(marks)]
    vocabulary = ["abc", "d", "ab", "c", "x", "abcd"]
    model = gn.Sequential(
        [
            L.Input((1,), dtype="string"),
            L.TextVectorization(vocabulary=vocabulary, output_sequence_length=6),
        ]
    )
    _check(model, [_texts(texts)])


def test_lower_casing_equals_python_on_every_code_point():
    """StringNormalizer plus the one replacement equal ``str.lower`` one character at a time."""
    import sys

    characters = [chr(c) for c in range(sys.maxunicode + 1) if not 0xD800 <= c < 0xE000]
    texts = [c for c in characters if c.lower() != c or c.upper() != c]
    assert _tokens(texts, standardize="lower") == [t.lower() for t in texts]


def test_a_final_capital_sigma_lower_cases_as_in_python():
    """Python writes "ς" for a Σ that ends a word (case-ignorable characters looked
    through), "σ" elsewhere; every placement of Σ among cased, case-ignorable (apostrophe,
    combining marks, soft hyphen) and uncased characters."""
    import random

    fixed = ["ΣΑΣ", "ΑΣ.", "Σ", "ΑΣΣ", "ΑΣ'Α", "Α'Σ", "ΟΔΥΣΣΕΥΣ", "a\u0345Σ", "1Σ", "ΑΣ1"]
    fixed += ["ΑΣ̈", "ΑΣ̈Β", "ΣΣΣ", "Α.Σ.Α", "x'Σ'", "ΑΣ\u00adΑ", "İΣ", "ΑΣΣ Σ ΣΑ ΑΣΑ"]
    alphabet = ["Σ", "Α", "a", "'", ".", " ", "1", "\u0345", "\u0308", "\u00ad", "İ", "σ"]
    chance = random.Random(0)
    texts = fixed + [
        "".join(chance.choice(alphabet) for _ in range(chance.randint(0, 8))) for _ in range(500)
    ]
    assert _tokens(texts, standardize="lower") == [t.lower() for t in texts]


def _tokens(texts, **options):
    """The strings a TextVectorization's graph looks up, split=None (its standardised texts),
    read from onnxruntime."""
    model = gn.Sequential(
        [
            L.Input((1,), dtype="string"),
            L.TextVectorization(vocabulary=["a"], split=None, **options),
        ]
    )
    proto = to_onnx(model)
    onnx.checker.check_model(proto, full_check=True)
    lookup = next(n for n in proto.graph.node if n.op_type == "LabelEncoder")
    del proto.graph.output[:]
    string = onnx.TensorProto.STRING
    proto.graph.output.append(onnx.helper.make_tensor_value_info(lookup.input[0], string, None))
    return _session(proto).run(None, {"input": _texts(texts)})[0].reshape(-1).tolist()


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"mask_token": ""},
        {"oov_token": "?"},
        {"output_mode": "one_hot"},
        {"output_mode": "multi_hot"},
        {"output_mode": "count"},
        {"output_mode": "tf_idf", "idf_weights": [0.5, 1.0, 2.0, 4.0]},
    ],
    ids=str,
)
def test_string_lookup_matches_onnxruntime(options):
    words = np.array(
        [
            ["a", "zz", "b"],
            ["", "c", "a"],
            ["d", "e", "[UNK]"],
            ["b", "b", "b"],
            ["q", "", "c"],
            ["c", "a", "b"],
            ["x", "y", "z"],
        ],
        dtype=object,
    )
    width = 1 if options.get("output_mode") == "one_hot" else 3
    model = gn.Sequential(
        [
            L.Input((width,), dtype="string"),
            L.StringLookup(vocabulary=["a", "b", "c", "d"], **options),
        ]
    )
    _check(model, [words[:1, :width], words[:, :width]])


@pytest.mark.parametrize("dtype", ["int64", "float32"])
@pytest.mark.parametrize(
    "options",
    [
        {},
        {"mask_token": 0},
        {"num_oov_indices": 2},
        {"num_oov_indices": 3, "mask_token": 0},
        {"num_oov_indices": 2, "output_mode": "count"},
        {"output_mode": "multi_hot"},
    ],
    ids=str,
)
def test_integer_lookup_matches_onnxruntime(options, dtype):
    """Several OOV ids: the code modulo their count, negative codes included."""
    codes = np.array(
        [[5, 7, -3], [0, 9, 5], [100, 7, 7], [1, 2, 3], [5, 5, 5], [-1, 0, 1], [42, -43, 44]]
    )
    model = gn.Sequential(
        [L.Input((3,), dtype=dtype), L.IntegerLookup(vocabulary=[5, 7, 9, 1], **options)]
    )
    _check(model, [codes[:1].astype(dtype), codes.astype(dtype)])


@pytest.mark.parametrize(
    ("layer", "dtype"),
    [
        (L.StringLookup(vocabulary=["a", "b"], invert=True), "int64"),
        (L.StringLookup(vocabulary=["a", "b"], invert=True, mask_token="<pad>"), "float32"),
        (L.IntegerLookup(vocabulary=[5, 7], invert=True, mask_token=0), "int64"),
    ],
    ids=["strings", "mask", "integers"],
)
def test_invert_matches_onnxruntime(layer, dtype):
    ids = np.array([[0, 1, 4], [3, 9, -1], [2, 2, 2], [1, 0, 1]] * 2).astype(dtype)
    proto = _check(gn.Sequential([L.Input((3,), dtype=dtype), layer]), [ids[:1], ids[:7]])
    kinds = {"StringLookup": 8, "IntegerLookup": 7}  # STRING, INT64
    assert proto.graph.output[0].type.tensor_type.elem_type == kinds[type(layer).__name__]


def _classifier():
    """TextVectorization -> Embedding -> pooling -> Dense, the usual text model."""
    texts = ["The cat sat on the mat.", "A dog! A dog?", "cats and dogs", "the end"]
    vectorize = L.TextVectorization(output_sequence_length=6, name="vectorize")
    vectorize.adapt(np.array(texts, dtype=object))
    return gn.Sequential(
        [
            L.Input((1,), dtype="string"),
            vectorize,
            L.Embedding(vectorize.vocabulary_size(), 4),
            L.GlobalAveragePooling1D(),
            L.Dense(3, activation="softmax"),
        ]
    )


def _round_trip(tmp_path, model, x):
    """Export, run in onnxruntime, import back: all three equal ``model.predict``."""
    export(model, tmp_path / "m.onnx")
    expected = model.predict(x)
    _same(_session(onnx.load(tmp_path / "m.onnx")).run(None, {"input": x})[0], expected)
    back = import_onnx(tmp_path / "m.onnx")
    _same(back.predict(x), expected)
    return back


def test_text_classifier_exports_runs_and_imports_back(tmp_path):
    model = _classifier()
    for batch in (TRICKY[:1], TRICKY[:7]):
        back = _round_trip(tmp_path, model, _texts(batch))
    kinds = [type(layer).__name__ for layer in back.layers]
    assert kinds[:2] == ["TextVectorization", "Embedding"] and "Dense" in kinds
    assert back.layers[0].get_config() == model.layers[0].get_config()


@pytest.mark.parametrize(
    ("layer", "shape", "dtype", "x"),
    [
        *((_text_layer(**options), (1,), "string", _texts(TRICKY[:7])) for options in TEXT_OPTIONS),
        (
            L.StringLookup(vocabulary=["a", "b"], mask_token="", oov_token="?"),
            (2,),
            "string",
            np.array([["a", ""], ["x", "b"]], dtype=object),
        ),
        (
            L.StringLookup(vocabulary=["a", "b"], output_mode="tf_idf", idf_weights=[1.0, 3.0]),
            (2,),
            "string",
            np.array([["a", "a"], ["x", "b"]], dtype=object),
        ),
        (
            L.IntegerLookup(vocabulary=[4, 8], num_oov_indices=3, mask_token=0),
            (2,),
            "int64",
            np.array([[4, 0], [5, -8]]),
        ),
        (
            L.StringLookup(vocabulary=["a", "b"], invert=True, oov_token="?"),
            (2,),
            "int64",
            np.array([[0, 1], [2, 5]]),
        ),
    ],
    ids=lambda v: type(v).__name__ if isinstance(v, L.Layer) else None,
)
def test_each_layer_imports_back(tmp_path, layer, shape, dtype, x):
    model = gn.Sequential([L.Input(shape, dtype=dtype), layer])
    back = _round_trip(tmp_path, model, x)
    assert back.layers[0].get_config() == {**layer.get_config(), **_idf(back.layers[0])}


def _idf(layer):
    """The IDF weights come back as float32 numbers (the graph holds them so)."""
    config = layer.get_config()
    return {} if config.get("idf_weights") is None else {"idf_weights": config["idf_weights"]}


# --------------------------------------------------------------------------- refusals
@pytest.mark.parametrize(
    ("layer", "dtype", "match"),
    [
        (
            L.StringLookup(vocabulary=["a"], num_oov_indices=0, name="v"),
            "string",
            r"layer 'v' \(StringLookup\) has num_oov_indices=0.*set num_oov_indices=1",
        ),
        (
            L.StringLookup(vocabulary=["a"], num_oov_indices=2, name="v"),
            "string",
            r"layer 'v' \(StringLookup\) hashes unknown strings .* CRC-32.*num_oov_indices=1",
        ),
        (
            L.TextVectorization(vocabulary=["a"], split="character", name="v"),
            "string",
            r"layer 'v' \(TextVectorization\) splits texts into characters",
        ),
        (
            L.StringLookup(vocabulary=["a"], name="v"),
            "float32",
            r"layer 'v' \(StringLookup\) takes strings.*dtype='string'",
        ),
        (
            L.TextVectorization(vocabulary=["a"], name="v"),
            "float32",
            r"layer 'v' \(TextVectorization\) takes texts.*dtype='string'",
        ),
        (
            L.IntegerLookup(vocabulary=[1], name="v"),
            "string",
            r"layer 'v' \(IntegerLookup\) takes integers.*dtype='int64'",
        ),
    ],
    ids=["no-oov", "crc32", "characters", "float-strings", "float-texts", "text-ints"],
)
def test_what_onnx_cannot_do_is_refused_by_name(layer, dtype, match):
    model = gn.Sequential([L.Input((1,), dtype=dtype), layer])
    with pytest.raises(ValueError, match=match):
        to_onnx(model)


def test_a_changed_file_is_refused_naming_the_layer(tmp_path):
    """A vocabulary layer's nodes must be what glassnet writes for its config."""
    proto = to_onnx(_vectorizer())
    split = next(n for n in proto.graph.node if n.op_type == "StringSplit")
    next(a for a in split.attribute if a.name == "delimiter").s = b"#"
    onnx.save(proto, tmp_path / "changed.onnx")
    with pytest.raises(ValueError, match=r"layer 'text_vectorization.*StringSplit.*changed"):
        import_onnx(tmp_path / "changed.onnx")


def test_a_note_that_is_not_a_vocabulary_layer_is_refused(tmp_path):
    proto = to_onnx(_vectorizer())
    first = proto.graph.node[0]
    first.doc_string = first.doc_string.replace('"TextVectorization"', '"Dense"')
    onnx.save(proto, tmp_path / "changed.onnx")
    with pytest.raises(
        ValueError, match=r"layer 'text_vectorization\w*': its note does not describe"
    ):
        import_onnx(tmp_path / "changed.onnx")


def test_a_lookup_glassnet_did_not_write_is_refused_naming_the_op(tmp_path):
    """Without the note (another exporter's LabelEncoder) the operators are unsupported."""
    proto = to_onnx(
        gn.Sequential([L.Input((2,), dtype="string"), L.StringLookup(vocabulary=["a"])])
    )
    for node in proto.graph.node:
        node.doc_string = ""
    onnx.save(proto, tmp_path / "foreign.onnx")
    with pytest.raises(ValueError, match=r"operators glassnet cannot import: LabelEncoder"):
        import_onnx(tmp_path / "foreign.onnx")


def test_ids_reshaped_after_the_lookup_keep_their_type():
    """A shape layer after a lookup passes int64 ids (or tokens) on: the output says so."""
    words = np.array([["a", "b", "zz"], ["b", "b", "a"]], dtype=object)
    model = gn.Sequential(
        [L.Input((3,), dtype="string"), L.StringLookup(vocabulary=["a", "b"]), L.Reshape((3, 1))]
    )
    proto = _check(model, [words[:1], words])
    assert proto.graph.output[0].type.tensor_type.elem_type == onnx.TensorProto.INT64


def test_a_text_graph_with_a_skip_connection_imports_back_and_saves(tmp_path):
    """Not a chain after the vectorizer: the layer, then an OnnxGraph on its ids; the
    imported model saves and loads like any other."""
    texts = L.Input((1,), dtype="string")
    ids = L.TextVectorization(vocabulary=["a", "b", "c"], output_sequence_length=4)(texts)
    vectors = L.Embedding(5, 3)(ids)
    mixed = L.Add()([vectors, L.Dense(3)(vectors)])
    model = gn.Model(texts, L.Dense(2)(L.Flatten()(mixed)))
    x = _texts(["a b", "c a x", "", "B, c!"])
    back = _round_trip(tmp_path, model, x)
    assert [type(layer).__name__ for layer in back.layers] == ["TextVectorization", "OnnxGraph"]
    back.save(tmp_path / "back.glassnet")
    _same(gn.load_model(tmp_path / "back.glassnet").predict(x), model.predict(x))
