"""ONNX export of the recurrent layers (ONNX RNN/LSTM/GRU operators), Bidirectional, Embedding
and TimeDistributed: onnxruntime must give glassnet's output within 1e-4 at batch 1 and 7."""

from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from glassnet import layers  # noqa: E402
from glassnet.export.onnx import to_onnx  # noqa: E402
from glassnet.models import Sequential  # noqa: E402

T, F, U = 6, 4, 5


def _randomize(model, rng):
    """Random values in every weight, biases included, so every ONNX input is exercised."""
    for w in model.weights:
        w.data[...] = rng.uniform(-0.6, 0.6, w.shape)


def _check(model, x_of_batch=None, atol=1e-4):
    proto = to_onnx(model)
    onnx.checker.check_model(proto, full_check=True)
    session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(1)
    for batch in (1, 7):
        if x_of_batch is None:
            x = rng.normal(size=(batch, *model.input_shape[1:])).astype(np.float32)
        else:
            x = x_of_batch(rng, batch)
        expected = model.predict(x)
        got = session.run(None, {"input": x})[0]
        assert got.shape == expected.shape
        np.testing.assert_allclose(got, expected, atol=atol, rtol=0)
    return proto


def _model(*layers_):
    model = Sequential([layers.Input((T, F)), *layers_])
    _randomize(model, np.random.default_rng(0))
    return model


@pytest.mark.parametrize("kind", ["SimpleRNN", "LSTM", "GRU"])
@pytest.mark.parametrize("return_sequences", [False, True])
@pytest.mark.parametrize("go_backwards", [False, True])
def test_each_cell_and_option_matches_onnxruntime(kind, return_sequences, go_backwards):
    layer = getattr(layers, kind)(
        U, return_sequences=return_sequences, go_backwards=go_backwards, name="rnn"
    )
    proto = _check(_model(layer))
    ops = [n.op_type for n in proto.graph.node]
    assert {"SimpleRNN": "RNN"}.get(kind, kind) in ops
    node = next(n for n in proto.graph.node if n.op_type in ("RNN", "LSTM", "GRU"))
    attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
    assert attrs["direction"] == (b"reverse" if go_backwards else b"forward")


@pytest.mark.parametrize(
    ("kind", "kwargs"),
    [
        ("SimpleRNN", {"activation": "relu"}),
        ("SimpleRNN", {"activation": None}),  # linear: ONNX Affine(1, 0)
        ("SimpleRNN", {"activation": "sigmoid", "use_bias": False}),
        ("LSTM", {"activation": "relu", "recurrent_activation": "tanh"}),
        ("LSTM", {"use_bias": False, "unit_forget_bias": False}),
        ("GRU", {"activation": "sigmoid", "recurrent_activation": "tanh"}),
        ("GRU", {"use_bias": False}),
        ("GRU", {"reset_after": False}),  # Keras 2's GRU: linear_before_reset=0
        ("GRU", {"reset_after": False, "go_backwards": True}),
    ],
)
def test_activations_and_no_bias(kind, kwargs):
    _check(_model(getattr(layers, kind)(U, return_sequences=True, **kwargs)))


@pytest.mark.parametrize("kind", ["SimpleRNN", "LSTM", "GRU"])
@pytest.mark.parametrize("return_sequences", [False, True])
@pytest.mark.parametrize("merge_mode", ["concat", "sum", "mul", "ave"])
def test_bidirectional_matches_onnxruntime(kind, return_sequences, merge_mode):
    inner = getattr(layers, kind)(U, return_sequences=return_sequences)
    proto = _check(_model(layers.Bidirectional(inner, merge_mode=merge_mode)))
    node = next(n for n in proto.graph.node if n.op_type in ("RNN", "LSTM", "GRU"))
    attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
    assert attrs["direction"] == b"bidirectional"


@pytest.mark.parametrize("return_sequences", [False, True])
def test_bidirectional_around_a_go_backwards_layer(return_sequences):
    inner = layers.LSTM(U, return_sequences=return_sequences, go_backwards=True)
    _check(_model(layers.Bidirectional(inner)))


def test_stacked_layers_and_time_distributed_dense():
    model = _model(
        layers.Bidirectional(layers.GRU(U, return_sequences=True, reset_after=False)),
        layers.LSTM(3, return_sequences=True, go_backwards=True),
        layers.TimeDistributed(layers.Dense(2, activation="tanh")),
        layers.SimpleRNN(4),
        layers.Dense(3),
    )
    _check(model)


def test_embedding_lstm_dense_model():
    vocab = 11
    model = Sequential(
        [
            layers.Input((T,)),
            layers.Embedding(vocab, 8),
            layers.LSTM(U),
            layers.Dense(3, activation="softmax"),
        ]
    )
    _randomize(model, np.random.default_rng(0))

    def tokens(rng, batch):  # the graph's input is float32, as predict takes it
        return rng.integers(0, vocab, size=(batch, T)).astype(np.float32)

    proto = _check(model, tokens)
    assert [n.op_type for n in proto.graph.node][:2] == ["Cast", "Gather"]


def test_return_state_is_refused():
    model = Sequential([layers.Input((T, F)), layers.GRU(U, return_state=True)])
    with pytest.raises(ValueError, match="return_state"):
        to_onnx(model)
    bi = layers.Bidirectional(layers.LSTM(U, return_state=True))
    with pytest.raises(ValueError, match="return_state"):
        to_onnx(Sequential([layers.Input((T, F)), bi]))


def test_a_recurrent_layer_behind_a_padding_mask_is_refused():
    """The layer skips padded steps; ONNX's LSTM node would not, so no wrong file is written."""
    model = Sequential([layers.Input((T,)), layers.Embedding(11, 8, mask_zero=True)])
    model.add(layers.LSTM(U))
    with pytest.raises(ValueError, match=r"'lstm.*padding mask.*mask_zero=False"):
        to_onnx(model)
    bi = Sequential([layers.Input((T,)), layers.Embedding(11, 8, mask_zero=True)])
    bi.add(layers.Bidirectional(layers.GRU(U)))
    with pytest.raises(ValueError, match="padding mask"):
        to_onnx(bi)


def test_masking_hands_its_mask_on_and_imports_back(tmp_path):
    """Masking zeroes the padded steps and hands the mask on: the masked average after it
    leaves those steps out, in onnxruntime and after import_onnx as in glassnet."""
    from glassnet.export.onnx_import import import_onnx

    parts = [
        layers.Masking(0.0),
        layers.Dense(U, activation="tanh"),
        layers.GlobalAveragePooling1D(),
        layers.Dense(3),
    ]
    model = _model(*parts)
    any_length = Sequential([layers.Input((None, F)), *parts])  # the same layers and weights

    def padded(rng, batch):
        x = rng.normal(size=(batch, T, F)).astype(np.float32)
        x[:, T - 2 :] = 0.0  # the last two steps of every sample are padding
        x[0, 1:] = 0.0
        return x

    x = padded(np.random.default_rng(3), 4)
    unpadded = any_length.predict(x[1:, : T - 2])  # the same samples without their padding
    np.testing.assert_allclose(model.predict(x)[1:], unpadded, atol=1e-5)
    proto = _check(model, padded)
    assert {"Equal", "Not", "ReduceSum"} <= {node.op_type for node in proto.graph.node}
    with open(tmp_path / "m.onnx", "wb") as f:
        f.write(proto.SerializeToString())
    np.testing.assert_allclose(
        import_onnx(tmp_path / "m.onnx").predict(x), model.predict(x), atol=1e-5
    )
    behind = _model(layers.Masking(0.0), layers.LSTM(U))
    with pytest.raises(ValueError, match=r"Embedding\(mask_zero=True\) or Masking"):
        to_onnx(behind)
