"""ONNX export and import of MultiHeadAttention, Attention and AdditiveAttention: onnxruntime
gives glassnet's numbers (1e-4, batch sizes 1 and 7) with no mask, a causal mask, and the
padding mask an Embedding(mask_zero=True) hands on (through Dense, Add, LayerNormalization and
the masked average); ``import_onnx`` reads every such graph back (the projections as Dense
layers, the rest as batched matmul, where, mask and reshape ops) and gives the same numbers,
trains, saves and loads. PyTorch's MultiheadAttention export is refused by name (see
``test_pytorch_multihead_attention_is_refused_naming_its_run_time_shape_ops``)."""

from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

import glassnet as gn  # noqa: E402
from glassnet import layers as L  # noqa: E402
from glassnet.export.onnx import to_onnx  # noqa: E402
from glassnet.export.onnx_import import OnnxGraph, import_onnx  # noqa: E402


def _check(model, make_input, tmp_path, atol=1e-4):
    """Export ``model``; onnxruntime and the model imported back both give its numbers, at
    batch sizes 1 and 7 (7 three times, each with other data and padding, so a replayed
    prediction must recompute the masks). Returns the ModelProto and the imported model."""
    proto = to_onnx(model)
    onnx.checker.check_model(proto, full_check=True)
    session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    onnx.save(proto, str(tmp_path / "m.onnx"))
    imported = import_onnx(tmp_path / "m.onnx")
    assert isinstance(imported, OnnxGraph)
    rng = np.random.default_rng(1)
    for batch in (1, 7, 7, 7):
        x = make_input(rng, batch)
        expected = model.predict(x)
        got = session.run(None, {"input": x})[0]
        assert got.shape == expected.shape
        np.testing.assert_allclose(got, expected, atol=atol, rtol=0)
        np.testing.assert_allclose(imported.predict(x), expected, atol=atol, rtol=0)
    return proto, imported


def _floats(rng, batch):
    return rng.normal(size=(batch, 6, 8)).astype(np.float32)


def _ids(rng, batch):
    ids = rng.integers(1, 20, (batch, 7))
    ids[:, 4:] *= rng.integers(0, 2, (batch, 3))  # some padding at the end
    ids[0, 1:] = 0
    return ids.astype(np.float32)


@pytest.mark.parametrize("causal", [False, True])
def test_multi_head_attention_runs_in_onnxruntime_and_imports_back(causal, tmp_path):
    gn.set_seed(0)
    inputs = gn.Input((6, 8))
    other = L.Dense(5)(inputs)
    att = L.MultiHeadAttention(2, 3, value_dim=4, bias_initializer="he_normal")(
        inputs, other, use_causal_mask=causal
    )
    att2 = L.MultiHeadAttention(3, 2, output_shape=5, use_bias=False)(att, att, other)
    model = gn.Model(inputs, att2)
    proto, imported = _check(model, _floats, tmp_path)
    ops = {node.op_type for node in proto.graph.node}
    assert {"MatMul", "Softmax", "Transpose", "Reshape"} <= ops
    assert ("Where" in ops) == causal
    # each projection is a Dense layer holding the head-by-head kernel, its bias folded in
    dense = [layer for layer in imported.parts if isinstance(layer, L.Dense)]
    assert len(dense) == 1 + 4 + 4
    query = model.layers[2].query_kernel.numpy()
    np.testing.assert_array_equal(dense[1].kernel.numpy(), query.reshape(8, 6))
    assert [layer.use_bias for layer in dense] == [True] * 5 + [False] * 4


def _padded_model():
    gn.set_seed(0)
    inputs = gn.Input((7,))
    x = L.Embedding(20, 8, mask_zero=True)(inputs)
    att = L.MultiHeadAttention(2, 4)(x, x, use_causal_mask=True)
    x = L.LayerNormalization()(x + L.Dropout(0.1)(att))
    x = L.Dense(8, activation="relu")(x)
    x = L.Attention()([x, x])
    x = L.AdditiveAttention()([x, x])
    return gn.Model(inputs, L.Dense(2)(L.GlobalAveragePooling1D()(x)))


def test_padding_mask_from_an_embedding_runs_in_onnxruntime_and_imports_back(tmp_path):
    model = _padded_model()
    _, imported = _check(model, _ids, tmp_path)
    kinds = {node["op"] for node in imported.nodes}
    assert {"equal", "not", "and", "where", "cast", "matmul", "reduce_sum"} <= kinds
    embedding = next(layer for layer in imported.parts if isinstance(layer, L.Embedding))
    np.testing.assert_array_equal(embedding.embeddings.numpy(), model.layers[1].embeddings.numpy())


def test_imported_attention_trains_saves_and_loads(tmp_path):
    """The imported padding-mask model is ordinary layers and ops: every weight (the
    projections' kernels and biases, the embedding table) gets a gradient, a short fit lowers
    the loss, and it saves and loads with glassnet's model files."""
    model = _padded_model()
    model.export(str(tmp_path / "m.onnx"))
    imported = import_onnx(tmp_path / "m.onnx")
    rng = np.random.default_rng(3)
    x, y = _ids(rng, 16), rng.normal(size=(16, 2)).astype(np.float32)
    out = imported(gn.Tensor(x), training=True)
    ((out - gn.Tensor(y)) ** 2).mean().backward()
    weights = imported.trainable_weights
    assert len(weights) == 2 * 6 + 1 + 2  # 6 Dense, the Embedding, LayerNormalization
    for w in weights:
        assert w.grad is not None and np.abs(w.grad).max() > 0, w.name
        w.grad = None

    imported.compile(gn.optimizers.Adam(0.01), "mse")
    before = imported.evaluate(x, y, verbose=0)
    imported.fit(x, y, batch_size=8, epochs=15, verbose=0)
    assert imported.evaluate(x, y, verbose=0) < 0.5 * before

    imported.save(str(tmp_path / "m.glassnet"))
    again = gn.load_model(str(tmp_path / "m.glassnet"))
    np.testing.assert_allclose(again.predict(x), imported.predict(x), atol=1e-6, rtol=0)


def test_a_replay_of_the_imported_model_recomputes_the_masks(tmp_path):
    """The masks are ops of the batch (cast, equal, not, and), so the recorded pass run on
    other ids, padded elsewhere, gives the original model's numbers for those ids."""
    from glassnet.autograd import record_ops
    from glassnet.models.replay import Tape

    model = _padded_model()
    model.export(str(tmp_path / "m.onnx"))
    imported = import_onnx(tmp_path / "m.onnx")
    rng = np.random.default_rng(5)
    first, other = gn.Tensor(_ids(rng, 7)), _ids(rng, 7)
    with record_ops() as record:
        out = imported(first, training=False)
    tape = Tape.from_record(record, first, out)
    np.testing.assert_allclose(tape.infer(other), model.predict(other), atol=1e-5, rtol=0)
    assert np.abs(model.predict(other) - out.numpy()).max() > 0.01  # the ids do matter


@pytest.mark.parametrize(
    "layer",
    [
        lambda: L.Attention(),
        lambda: L.Attention(use_scale=True, score_mode="concat"),
        lambda: L.AdditiveAttention(),
        lambda: L.AdditiveAttention(use_scale=False),
    ],
)
@pytest.mark.parametrize("causal", [False, True])
def test_dense_attention_runs_in_onnxruntime_and_imports_back(layer, causal, tmp_path):
    gn.set_seed(0)
    inputs = gn.Input((6, 8))
    value = L.Dense(5)(inputs)
    att = layer()
    out = att([inputs, value, L.Dense(8)(inputs)], use_causal_mask=causal)
    model = gn.Model(inputs, out)
    for w in att.weights:
        w.data[...] = np.random.default_rng(2).uniform(0.5, 1.5, w.shape)
    _check(model, _floats, tmp_path)


@pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore:Converting a tensor to a Python")
@pytest.mark.parametrize("block", ["MultiheadAttention", "TransformerEncoderLayer"])
def test_pytorch_multihead_attention_is_refused_naming_its_run_time_shape_ops(tmp_path, block):
    """PyTorch's exporter (the TorchScript one, ``dynamo=False``: the other needs onnxscript)
    writes MultiheadAttention, alone or in a TransformerEncoderLayer, with its shapes computed
    at run time (Shape, Gather, Concat, Mod) and the batch folded into the heads axis, (steps,
    batch·heads, size): glassnet's importer keeps the batch on axis 0 and needs constant
    shapes, so the import is refused, naming those ops, rather than half done."""
    torch = pytest.importorskip("torch")
    nn = torch.nn

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            if block == "MultiheadAttention":
                self.inner = nn.MultiheadAttention(8, 2, batch_first=True)
            else:
                self.inner = nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, batch_first=True)

        def forward(self, x):
            if block == "MultiheadAttention":
                return self.inner(x, x, x, need_weights=False)[0]
            # is_causal given: the exporter cannot trace the layer's own guess of it
            return self.inner(x, src_mask=None, is_causal=False)

    path = tmp_path / "torch_attention.onnx"
    torch.onnx.export(
        Block().eval(),
        (torch.randn(2, 6, 8),),
        str(path),
        dynamo=False,
        input_names=["input"],
        output_names=["output"],
        dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}},
    )
    with pytest.raises(ValueError, match=r"cannot import: Mod, Shape\. Supported: .*Unsqueeze"):
        import_onnx(path)


def test_mask_inputs_and_scores_outputs_run_in_onnxruntime():
    """Masks that are model inputs are cast to bool; the scores are outputs of their own."""
    from tests.layers.test_attention import _masked_inputs, _scores_and_masks_model

    model = _scores_and_masks_model()
    proto = to_onnx(model)
    onnx.checker.check_model(proto, full_check=True)
    session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    names = [i.name for i in session.get_inputs()]
    x = _masked_inputs(np.random.default_rng(6))
    got = session.run(None, dict(zip(names, x, strict=True)))
    for a, b in zip(got, model.predict(x), strict=True):
        np.testing.assert_allclose(a, b, atol=1e-5, rtol=0)


def test_a_keyword_tensor_its_converter_does_not_take_is_refused():
    inputs = gn.Input((4, 3))
    state = gn.Input((5,))
    model = gn.Model([inputs, state], L.GRU(5)(inputs, initial_state=[state]))
    with pytest.raises(ValueError, match="called with initial_state"):
        to_onnx(model)
