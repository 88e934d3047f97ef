"""StringLookup, IntegerLookup, TextVectorization (glassnet/layers/lookup.py), CategoryEncoding
and Discretization (glassnet/layers/preprocessing.py): Keras's documented examples, hand-made
references, models that train, replay, save and load with them, and the errors a user meets."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

import glassnet as gn
from glassnet import layers
from glassnet.layers import lookup as lookup_module
from glassnet.models import replay
from glassnet.models.saving import ModelFileError
from glassnet.ops.lookup import oov_bucket

DATA = [["a", "c", "d"], ["d", "z", "b"]]


# ------------------------------------------------------------------ StringLookup
def test_string_lookup_keras_documented_examples():
    layer = layers.StringLookup(vocabulary=["a", "b", "c", "d"])
    ids = layer(np.array(DATA))
    assert ids.dtype == np.int64
    assert ids.numpy().tolist() == [[1, 3, 4], [4, 0, 2]]
    adapted = layers.StringLookup()
    adapted.adapt(DATA)
    # By count (d twice), equal counts the larger token first: Keras's lexsort order.
    assert adapted.get_vocabulary() == ["[UNK]", "d", "z", "c", "b", "a"]
    assert adapted(np.array(DATA)).numpy().tolist() == [[5, 3, 1], [1, 2, 4]]
    masked = layers.StringLookup(vocabulary=["a", "b", "c", "d"], mask_token="")
    assert masked(np.array([["a", "c", "d"], ["d", "", "b"]])).numpy().tolist() == [
        [2, 4, 5],
        [5, 0, 3],
    ]
    assert masked.get_vocabulary() == ["", "[UNK]", "a", "b", "c", "d"]
    inverse = layers.StringLookup(vocabulary=["a", "b", "c", "d"], invert=True)
    out = inverse(np.array([[1, 3, 4], [4, 0, 2]]))
    assert out.numpy().tolist() == [["a", "c", "d"], ["d", "[UNK]", "b"]]


@pytest.mark.parametrize(
    ("mode", "want"),
    [
        (
            "one_hot",
            [[0, 1, 0, 0, 0], [0, 0, 1, 0, 0], [0, 0, 0, 1, 0], [0, 0, 0, 0, 1], [1, 0, 0, 0, 0]],
        ),
        ("multi_hot", [[0, 1, 0, 1, 1], [1, 0, 1, 0, 1]]),
        ("count", [[0, 1, 0, 1, 2], [2, 0, 1, 0, 1]]),
        ("tf_idf", [[0, 0.25, 0, 0.6, 0.8], [1.0, 0, 0.75, 0, 0.4]]),
    ],
)
def test_string_lookup_output_modes_keras_documented_examples(mode, want):
    kwargs = {"idf_weights": [0.25, 0.75, 0.6, 0.4]} if mode == "tf_idf" else {}
    layer = layers.StringLookup(vocabulary=["a", "b", "c", "d"], output_mode=mode, **kwargs)
    data = (
        np.array([["a"], ["b"], ["c"], ["d"], ["z"]])
        if mode == "one_hot"
        else np.array([["a", "c", "d", "d"], ["d", "z", "b", "z"]])
    )
    out = layer(data)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out.numpy(), want, rtol=1e-6)
    assert layer.compute_output_shape(data.shape) == out.shape


def test_string_lookup_adapt_tf_idf_weights_by_hand():
    """idf = log(1 + documents / (1 + documents holding the token)); the OOV id takes the
    mean of the tokens' weights (Keras)."""
    docs = [["x", "y", "y"], ["y", "w"], ["y", "q"]]
    layer = layers.StringLookup(output_mode="tf_idf")
    layer.adapt([np.array(d, dtype=object)[None] for d in docs])  # batches of one document
    vocab = layer.get_vocabulary()
    assert vocab == ["[UNK]", "y", "x", "w", "q"]
    idf = {t: math.log(1 + 3 / (1 + n)) for t, n in {"y": 3, "x": 1, "w": 1, "q": 1}.items()}
    weights = [idf[t] for t in vocab[1:]]
    got = layer(np.array([["y", "y", "x", "unknown"]])).numpy()[0]
    np.testing.assert_allclose(got, [np.mean(weights), 2 * idf["y"], idf["x"], 0, 0], rtol=1e-6)


def test_string_lookup_max_tokens_and_oov_buckets():
    layer = layers.StringLookup(max_tokens=3)
    layer.adapt(np.array(["a", "b", "b", "c", "c", "c"]))
    assert layer.get_vocabulary() == ["[UNK]", "c", "b"]
    two = layers.StringLookup(vocabulary=["a", "b"], num_oov_indices=2)
    ids = two(np.array(["a", "b", "cat", "dog"])).numpy().tolist()
    assert ids[:2] == [2, 3]
    assert ids[2:] == [oov_bucket("cat", 2), oov_bucket("dog", 2)]
    assert two.get_vocabulary() == ["[UNK]", "[UNK]", "a", "b"]


def test_string_lookup_errors_a_user_can_cause():
    strict = layers.StringLookup(vocabulary=["a", "b"], num_oov_indices=0)
    assert strict(np.array(["b", "a"])).numpy().tolist() == [1, 0]
    with pytest.raises(ValueError, match=r"num_oov_indices=0.*\('zebra'\)"):
        strict(np.array(["a", "zebra"]))
    with pytest.raises(RuntimeError, match=r"string_lookup.*no vocabulary yet.*adapt\(data\)"):
        layers.StringLookup()(np.array(["a"]))
    with pytest.raises(TypeError, match=r"StringLookup '.*': expected an array of strings.*float"):
        layers.StringLookup(vocabulary=["a"])(np.ones((2, 1)))
    with pytest.raises(ValueError, match="StringLookup: 'num_oov_indices' must be an integer"):
        layers.StringLookup(num_oov_indices=10**12)
    with pytest.raises(ValueError, match="StringLookup: 'output_mode' must be one of"):
        layers.StringLookup(output_mode="ids")
    with pytest.raises(ValueError, match="repeats"):
        layers.StringLookup(vocabulary=["a", "a"])
    with pytest.raises(ValueError, match="larger than max_tokens=2"):
        layers.StringLookup(vocabulary=["a", "b"], max_tokens=2)
    with pytest.raises(ValueError, match="cannot adapt a layer given a vocabulary"):
        layers.StringLookup(vocabulary=["a"]).adapt(np.array(["a"]))
    with pytest.raises(ValueError, match="'tf_idf' needs 'idf_weights'"):
        layers.StringLookup(vocabulary=["a"], output_mode="tf_idf")
    with pytest.raises(ValueError, match="no tokens to learn from"):
        layers.StringLookup().adapt(np.array(["[UNK]"]))


# ------------------------------------------------------------------ IntegerLookup
def test_integer_lookup_keras_documented_examples():
    data = np.array([[12, 1138, 42], [42, 1000, 36]])
    layer = layers.IntegerLookup(vocabulary=[12, 36, 1138, 42])
    assert layer(data).numpy().tolist() == [[1, 3, 4], [4, 0, 2]]
    adapted = layers.IntegerLookup()
    adapted.adapt(data)
    assert adapted.get_vocabulary() == [-1, 42, 1138, 1000, 36, 12]
    assert adapted(data).numpy().tolist() == [[5, 2, 1], [1, 3, 4]]
    # float32 batches of whole numbers (what fit hands over) are the same ids
    assert adapted(data.astype(np.float32)).numpy().tolist() == [[5, 2, 1], [1, 3, 4]]
    two = layers.IntegerLookup(vocabulary=[7], num_oov_indices=2)
    assert two(np.array([7, 8, 9])).numpy().tolist() == [2, 8 % 2, 9 % 2]  # Keras: floormod
    with pytest.raises(TypeError, match="IntegerLookup '.*': expected an array of integers"):
        adapted(np.array([1.5]))


# ------------------------------------------------------------------ TextVectorization
def test_text_vectorization_keras_documented_example():
    layer = layers.TextVectorization(
        max_tokens=5000, output_sequence_length=4, vocabulary=["earth", "wind", "and", "fire"]
    )
    out = layer(np.array([["earth wind and also fire"], ["fire and earth michigan"]]))
    assert out.numpy().tolist() == [[2, 3, 4, 1], [5, 4, 2, 1]]
    assert layer.get_vocabulary() == ["", "[UNK]", "earth", "wind", "and", "fire"]


def test_text_vectorization_standardizes_splits_and_pads():
    texts = np.array(["The cat, the HAT!", "a cat"])
    layer = layers.TextVectorization()
    layer.adapt(texts)
    assert layer.get_vocabulary() == ["", "[UNK]", "the", "cat", "hat", "a"]
    assert layer(texts).numpy().tolist() == [[2, 3, 2, 4], [5, 3, 0, 0]]  # padded to the longest
    chars = layers.TextVectorization(split="character", standardize="lower", vocabulary=["a", "b"])
    assert chars(np.array(["Ab!"])).numpy().tolist() == [[2, 3, 1]]
    grams = layers.TextVectorization(ngrams=2, vocabulary=["a", "b", "a b"])
    assert grams(np.array(["a b c"])).numpy().tolist() == [[2, 3, 1, 4, 1]]  # a b c, a b, b c


def test_text_vectorization_counting_modes():
    texts = np.array(["b a b", "c"])
    counts = layers.TextVectorization(output_mode="count", vocabulary=["a", "b"])
    np.testing.assert_array_equal(counts(texts).numpy(), [[0, 1, 2], [1, 0, 0]])
    multi = layers.TextVectorization(output_mode="multi_hot", vocabulary=["a", "b"])
    np.testing.assert_array_equal(multi(texts).numpy(), [[0, 1, 1], [1, 0, 0]])
    tfidf = layers.TextVectorization(output_mode="tf_idf")
    tfidf.adapt(np.array(["b a b", "b", "c"]))
    assert tfidf.get_vocabulary() == ["[UNK]", "b", "c", "a"]
    idf = [math.log(1 + 3 / (1 + n)) for n in (2, 1, 1)]
    np.testing.assert_allclose(
        tfidf(np.array(["b b a x"])).numpy(), [[np.mean(idf), 2 * idf[0], 0, idf[2]]], rtol=1e-6
    )


def test_counting_modes_take_a_batch_of_empty_texts():
    """No words in any text: (N, 0) ids, and every count is 0 (not a reshape error)."""
    for mode in ("count", "multi_hot"):
        layer = layers.TextVectorization(output_mode=mode, vocabulary=["a", "b"])
        np.testing.assert_array_equal(layer(np.array(["", " ! "])).numpy(), np.zeros((2, 3)))


def test_text_vectorization_errors_a_user_can_cause():
    with pytest.raises(ValueError, match="TextVectorization: 'standardize' must be None or one"):
        layers.TextVectorization(standardize=str.lower)
    with pytest.raises(ValueError, match="'output_sequence_length' is for output_mode='int'"):
        layers.TextVectorization(output_mode="count", output_sequence_length=3)
    with pytest.raises(TypeError, match="TextVectorization '.*': expected a batch of texts"):
        layers.TextVectorization(vocabulary=["a"])(np.ones((2, 3)))
    with pytest.raises(RuntimeError, match="no vocabulary yet"):
        layers.TextVectorization()(np.array(["a b"]))


# ------------------------------------------------------------------ CategoryEncoding
def test_category_encoding_keras_documented_examples():
    one = layers.CategoryEncoding(num_tokens=4, output_mode="one_hot")
    np.testing.assert_array_equal(one([3, 2, 0, 1]).numpy(), np.eye(4)[[3, 2, 0, 1]])
    data = [[0, 1], [0, 0], [1, 2], [3, 1]]
    multi = layers.CategoryEncoding(num_tokens=4, output_mode="multi_hot")
    np.testing.assert_array_equal(
        multi(data).numpy(), [[1, 1, 0, 0], [1, 0, 0, 0], [0, 1, 1, 0], [0, 1, 0, 1]]
    )
    count = layers.CategoryEncoding(num_tokens=4, output_mode="count")
    np.testing.assert_array_equal(
        count(data).numpy(), [[1, 1, 0, 0], [2, 0, 0, 0], [0, 1, 1, 0], [0, 1, 0, 1]]
    )
    assert count.compute_output_shape((None, 2)) == (None, 4)
    assert one.compute_output_shape((None, 1)) == (None, 4)
    with pytest.raises(ValueError, match=r"category_encoding.*\[0, 4\).*\[4\]"):
        count([[0, 4]])
    with pytest.raises(TypeError, match="CategoryEncoding '.*': expected integer category ids"):
        count([[0.5, 1.0]])
    with pytest.raises(ValueError, match="CategoryEncoding: 'output_mode' must be one of"):
        layers.CategoryEncoding(3, output_mode="tf_idf")


# ------------------------------------------------------------------ Discretization
def test_discretization_keras_documented_examples():
    data = np.array([[-1.5, 1.0, 3.4, 0.5], [0.0, 3.0, 1.3, 0.0]])
    given = layers.Discretization(bin_boundaries=[0.0, 1.0, 2.0])
    assert given(data).numpy().tolist() == [[0, 2, 3, 1], [1, 3, 2, 1]]
    adapted = layers.Discretization(num_bins=4)
    adapted.adapt(data)
    np.testing.assert_allclose(adapted.bin_boundaries, np.quantile(data, [0.25, 0.5, 0.75]))
    assert adapted(data).numpy().tolist() == [[0, 2, 3, 1], [1, 3, 2, 1]]


def test_discretization_passes_a_zero_gradient_and_checks_its_arguments():
    x = gn.Tensor(np.array([[0.5, 2.5]]), requires_grad=True)
    layer = layers.Discretization(bin_boundaries=[1.0, 2.0])
    (layer(x) * 1.0).sum().backward()
    np.testing.assert_array_equal(x.grad, [[0.0, 0.0]])
    with pytest.raises(ValueError, match="Discretization: pass 'bin_boundaries', or 'num_bins'"):
        layers.Discretization()
    with pytest.raises(ValueError, match="Discretization: 3 bins have 2 boundaries; received 1"):
        layers.Discretization(bin_boundaries=[1.0], num_bins=3)
    with pytest.raises(ValueError, match="'bin_boundaries' must be a sorted list"):
        layers.Discretization(bin_boundaries=[2.0, 1.0])
    with pytest.raises(RuntimeError, match=r"no bin boundaries yet. Call adapt\(data\)"):
        layers.Discretization(num_bins=3)(np.ones((1, 2)))
    with pytest.raises(ValueError, match="adapt learns the boundaries"):
        layers.Discretization(bin_boundaries=[1.0]).adapt(np.ones(3))


# ------------------------------------------------------------------ in models
def _string_model(jit, kind):
    gn.set_seed(0)
    rng = np.random.default_rng(0)
    if kind == "lookup":
        words = np.array(["red", "green", "blue", "cyan", "pink"], dtype=object)
        x = rng.choice(words, (24, 2))
        vocab = layers.StringLookup()
        vocab.adapt(x)
        # (Embedding looks its ids up outside an op, so a model with it keeps the graph.)
        head = [vocab, layers.CategoryEncoding(vocab.vocabulary_size(), output_mode="count")]
        shape = (2,)
    elif kind == "integers":  # fit hands the codes over as float32: whole numbers, same ids
        x = rng.choice(np.array([12, 1138, 42, 7]), (24, 2))
        vocab = layers.IntegerLookup(output_mode="multi_hot")
        vocab.adapt(x)
        model = gn.Sequential([layers.Input((2,)), vocab, layers.Dense(3)])
        head, shape = None, None
    else:
        words = np.array(["the cat sat", "a dog ran fast", "cats and dogs", "sat"], dtype=object)
        x = rng.choice(words, (24, 1))
        vocab = layers.TextVectorization(output_mode="tf_idf", max_tokens=6)
        vocab.adapt(x)
        head = [vocab]
        shape = (1,)
    if head is not None:
        model = gn.Sequential([layers.Input(shape, dtype="string"), *head, layers.Dense(3)])
    model.compile(gn.optimizers.SGD(0.1), "sparse_categorical_crossentropy")
    model.jit_compile = jit
    y = rng.integers(0, 3, 24)
    history = model.fit(x, y, batch_size=8, epochs=2, verbose=0)
    return model, history.history, x


@pytest.mark.parametrize("kind", ["lookup", "integers", "text"])
def test_models_with_string_inputs_train_replay_and_save(tmp_path, monkeypatch, kind):
    graph, graph_history, x = _string_model(False, kind)
    replayed = []
    real = replay._replayed
    monkeypatch.setattr(replay, "_replayed", lambda *a: replayed.append(1) or real(*a))
    model, history, _ = _string_model(True, kind)
    assert replayed, "the string layers kept the graph on every batch"
    # Every shape's tape agreed with the graph and is kept: the ops read each new batch.
    assert all(entry.tape is not None for entry in model._replays.values())
    assert history == graph_history
    for ours, theirs in zip(model.weights, graph.weights, strict=True):
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())

    path = tmp_path / "m.glassnet"
    model.save(str(path))
    config = json.loads((path / "config.json").read_text())
    saved = json.dumps(config)
    assert '"vocabulary": [' in saved  # the vocabulary is data in config.json
    loaded = gn.load_model(str(path))
    assert loaded.layers[0].get_vocabulary() == model.layers[0].get_vocabulary()
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))


def test_a_functional_model_takes_texts_and_saves(tmp_path):
    texts = gn.Input(shape=(1,), dtype="string")
    vectorize = layers.TextVectorization(output_mode="multi_hot", vocabulary=["cat", "dog"])
    codes = gn.Input(shape=(2,))
    lookup = layers.IntegerLookup(vocabulary=[7, 9], output_mode="count")
    merged = layers.Concatenate()([vectorize(texts), lookup(codes)])
    model = gn.Model([texts, codes], layers.Dense(2)(merged))
    x = [np.array([["a cat"], ["Dog, cat!"]], dtype=object), np.array([[7, 7], [9, 3]])]
    got = model.predict(x)
    model.save(str(tmp_path / "m.glassnet"))
    np.testing.assert_array_equal(gn.load_model(str(tmp_path / "m.glassnet")).predict(x), got)
    inner = gn.Model([texts, codes], merged).predict(x)
    np.testing.assert_array_equal(inner, [[1, 1, 0, 0, 2, 0], [0, 1, 1, 1, 0, 1]])


def test_load_model_refuses_a_vocabulary_above_the_bound(tmp_path, monkeypatch):
    model = gn.Sequential(
        [layers.Input((1,), dtype="string"), layers.StringLookup(vocabulary=["a", "b", "c", "d"])]
    )
    model.save(str(tmp_path / "m.glassnet"))
    monkeypatch.setattr(lookup_module, "MAX_VOCABULARY", 3)
    with pytest.raises(ModelFileError, match=r"StringLookup.*4 tokens, more than the 3"):
        gn.load_model(str(tmp_path / "m.glassnet"))


def test_an_adapted_discretization_saves_its_boundaries(tmp_path):
    layer = layers.Discretization(num_bins=3)
    layer.adapt(np.arange(12.0).reshape(6, 2))
    model = gn.Sequential([layers.Input((2,)), layer])
    model.save(str(tmp_path / "m.glassnet"))
    loaded = gn.load_model(str(tmp_path / "m.glassnet")).layers[0]
    assert loaded.bin_boundaries == layer.bin_boundaries and loaded.num_bins == 3
    x = np.array([[0.5, 4.0], [7.5, 11.0]], np.float32)
    np.testing.assert_array_equal(loaded(x).numpy(), layer(x).numpy())


def test_preprocessing_numbers_in_a_model_save_and_load(tmp_path):
    x = np.array([[0.2, 1.7], [2.5, 0.1]], np.float32)
    model = gn.Sequential(
        [
            layers.Input((2,)),
            layers.Discretization(bin_boundaries=[1.0, 2.0]),
            layers.CategoryEncoding(3, output_mode="count"),
        ]
    )
    want = [[1, 1, 0], [1, 0, 1]]
    np.testing.assert_array_equal(model.predict(x), want)
    model.save(str(tmp_path / "m.glassnet"))
    np.testing.assert_array_equal(gn.load_model(str(tmp_path / "m.glassnet")).predict(x), want)
