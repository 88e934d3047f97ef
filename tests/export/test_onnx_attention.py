"""ONNX export of MultiHeadAttention, Attention and AdditiveAttention: onnxruntime gives
glassnet's numbers (1e-4, batch sizes 1 and 7) with no mask, a causal mask, and the padding
mask an Embedding(mask_zero=True) hands on (through Dense, Add, LayerNormalization and the
masked average). They are not imported back: the importer maps ONNX ops to layers one by one."""

from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

import glassnet as gn  # noqa: E402
from glassnet import layers as L  # noqa: E402
from glassnet.export.onnx import to_onnx  # noqa: E402


def _check(model, make_input, atol=1e-4):
    proto = to_onnx(model)
    onnx.checker.check_model(proto, full_check=True)
    session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(1)
    for batch in (1, 7):
        x = make_input(rng, batch)
        expected = model.predict(x)
        got = session.run(None, {"input": x})[0]
        assert got.shape == expected.shape
        np.testing.assert_allclose(got, expected, atol=atol, rtol=0)
    return proto


def _floats(rng, batch):
    return rng.normal(size=(batch, 6, 8)).astype(np.float32)


def _ids(rng, batch):
    ids = rng.integers(1, 20, (batch, 7))
    ids[:, 4:] *= rng.integers(0, 2, (batch, 3))  # some padding at the end
    ids[0, 1:] = 0
    return ids.astype(np.float32)


@pytest.mark.parametrize("causal", [False, True])
def test_multi_head_attention_runs_in_onnxruntime(causal):
    gn.set_seed(0)
    inputs = gn.Input((6, 8))
    other = L.Dense(5)(inputs)
    att = L.MultiHeadAttention(2, 3, value_dim=4, bias_initializer="he_normal")(
        inputs, other, use_causal_mask=causal
    )
    att2 = L.MultiHeadAttention(3, 2, output_shape=5, use_bias=False)(att, att, other)
    model = gn.Model(inputs, att2)
    proto = _check(model, _floats)
    ops = {node.op_type for node in proto.graph.node}
    assert {"MatMul", "Softmax", "Transpose", "Reshape"} <= ops
    assert ("Where" in ops) == causal


def test_padding_mask_from_an_embedding_runs_in_onnxruntime():
    gn.set_seed(0)
    inputs = gn.Input((7,))
    x = L.Embedding(20, 8, mask_zero=True)(inputs)
    att = L.MultiHeadAttention(2, 4)(x, x, use_causal_mask=True)
    x = L.LayerNormalization()(x + L.Dropout(0.1)(att))
    x = L.Dense(8, activation="relu")(x)
    x = L.Attention()([x, x])
    x = L.AdditiveAttention()([x, x])
    model = gn.Model(inputs, L.Dense(2)(L.GlobalAveragePooling1D()(x)))
    _check(model, _ids)


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
def test_dense_attention_runs_in_onnxruntime(layer, causal):
    gn.set_seed(0)
    inputs = gn.Input((6, 8))
    value = L.Dense(5)(inputs)
    att = layer()
    out = att([inputs, value, L.Dense(8)(inputs)], use_causal_mask=causal)
    model = gn.Model(inputs, out)
    for w in att.weights:
        w.data[...] = np.random.default_rng(2).uniform(0.5, 1.5, w.shape)
    _check(model, _floats)


def test_attention_is_not_imported_back(tmp_path):
    """The importer maps ONNX ops to layers one by one; an attention graph's Where/Unsqueeze
    have no layer, so the import is refused by name rather than half-done."""
    from glassnet.export.onnx_import import import_onnx

    inputs = gn.Input((6, 4))
    model = gn.Model(inputs, L.MultiHeadAttention(2, 2)(inputs, inputs, use_causal_mask=True))
    model.export(str(tmp_path / "m.onnx"))
    with pytest.raises(ValueError, match="cannot import: .*Where"):
        import_onnx(str(tmp_path / "m.onnx"))


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
