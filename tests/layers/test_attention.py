"""MultiHeadAttention, Attention and AdditiveAttention: Keras 3's weight layout and parameter
counts, forward against NumPy references written from the formulas, gradients against float64
finite differences and PyTorch's ``nn.MultiheadAttention``, masks (padding, causal,
explicit), and the mask an ``Embedding(mask_zero=True)`` hands on."""

from __future__ import annotations

import json

import numpy as np
import pytest

import glassnet as gn
from glassnet import Tensor, layers
from tests.helpers import assert_gradcheck
from tests.layers.layer_checks import run_layer_test

R = np.random.default_rng(0)


def _softmax(z, mask=None):
    """Keras's Softmax layer with a mask: the masked logits lowered by 1e9 (in float32, as the
    layers compute, so a fully masked row is uniform)."""
    if mask is not None:
        z = np.where(mask, z, np.float32(z) + np.float32(-1e9))
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def _mha_reference(mha, q, v, k=None, mask=None):
    """Keras's MultiHeadAttention, einsum by einsum, in float64."""
    k = v if k is None else k
    w = {n: np.float64(getattr(mha, n).numpy()) for n in mha.state_dict()}
    qp = np.einsum("btd,dhk->bthk", q, w["query_kernel"]) + w["query_bias"]
    kp = np.einsum("btd,dhk->bthk", k, w["key_kernel"]) + w["key_bias"]
    vp = np.einsum("btd,dhk->bthk", v, w["value_kernel"]) + w["value_bias"]
    logits = np.einsum("bqhk,bshk->bhqs", qp / np.sqrt(mha.key_dim), kp)
    scores = _softmax(logits, None if mask is None else mask[:, None])
    context = np.einsum("bhqs,bshv->bqhv", scores, vp)
    out = np.einsum("bqhv,hvo->bqo", context, w["output_kernel"]) + w["output_bias"]
    return out, scores


def test_mha_weights_and_parameter_count_are_keras():
    mha = layers.MultiHeadAttention(num_heads=2, key_dim=2)
    mha(np.zeros((1, 8, 16), np.float32), np.zeros((1, 8, 16), np.float32))
    shapes = {name: tuple(w.shape) for name, w in mha.state_dict().items()}
    assert shapes == {
        "query_kernel": (16, 2, 2),
        "query_bias": (2, 2),
        "key_kernel": (16, 2, 2),
        "key_bias": (2, 2),
        "value_kernel": (16, 2, 2),
        "value_bias": (2, 2),
        "output_kernel": (2, 2, 16),
        "output_bias": (16,),
    }
    # Keras: 3·(16·2·2 + 2·2) + (2·2·16 + 16) = 284
    assert mha.count_params() == 284
    assert (
        mha.summary_formula() == "(16·2·2 + 2·2) + (16·2·2 + 2·2) + (16·2·2 + 2·2) + (2·2·16 + 16)"
    )
    # projections 8·(3·64) + 8·64, then 2 heads · 8·8 · (2 + 2) for the scores and the values
    assert mha.summary_macs([(None, 8, 16), (None, 8, 16)]) == 8 * 192 + 8 * 64 + 2 * 64 * 4


def test_mha_runs_the_standard_layer_checks():
    run_layer_test(
        layers.MultiHeadAttention,
        {"num_heads": 3, "key_dim": 4, "value_dim": 5, "output_shape": 6},
        input_shape=[(2, 4, 7), (2, 5, 3)],
        expected_output_shape=(2, 4, 6),
        expected_num_weights=8,
        expected_num_params=(7 * 12 + 12) + (3 * 12 + 12) + (3 * 15 + 15) + (15 * 6 + 6),
    )


def test_mha_parameter_count_formula_with_other_widths():
    mha = layers.MultiHeadAttention(num_heads=3, key_dim=4, value_dim=5, output_shape=6)
    mha(np.zeros((1, 4, 7), np.float32), np.zeros((1, 5, 3), np.float32))
    expected = (7 * 3 * 4 + 12) + (3 * 3 * 4 + 12) + (3 * 3 * 5 + 15) + (3 * 5 * 6 + 6)
    assert mha.count_params() == expected


@pytest.mark.parametrize("masked", ["none", "causal", "padding", "explicit"])
def test_mha_forward_matches_the_reference(masked):
    mha = layers.MultiHeadAttention(num_heads=2, key_dim=3, value_dim=4, bias_initializer="ones")
    q = R.standard_normal((2, 5, 6))
    v = R.standard_normal((2, 4, 3))
    k = R.standard_normal((2, 4, 6))
    kwargs, mask = {}, None
    if masked == "causal":
        kwargs["use_causal_mask"] = True
        mask = np.broadcast_to(np.tril(np.ones((5, 4), bool)), (2, 5, 4))
    elif masked == "padding":
        value_mask = np.array([[1, 1, 1, 0], [1, 0, 0, 0]], bool)
        query_mask = np.array([[1, 1, 1, 1, 0], [1, 1, 0, 0, 0]], bool)
        kwargs.update(value_mask=value_mask, query_mask=query_mask)
        mask = query_mask[:, :, None] & value_mask[:, None, :]
    elif masked == "explicit":
        mask = R.random((2, 5, 4)) > 0.3
        mask[:, :, 0] = True
        kwargs["attention_mask"] = mask
    out, scores = mha(
        Tensor(q, dtype="float32"), Tensor(v, dtype="float32"), Tensor(k, dtype="float32"),
        return_attention_scores=True, **kwargs,
    )  # fmt: skip
    ref_out, ref_scores = _mha_reference(mha, q, v, k, mask)
    np.testing.assert_allclose(scores.numpy(), ref_scores, atol=1e-5)
    np.testing.assert_allclose(out.numpy(), ref_out, rtol=1e-4, atol=1e-5)
    if mask is not None:  # masked keys get nothing, in every row with a key left
        live = np.broadcast_to((~mask & mask.any(-1, keepdims=True))[:, None], scores.shape)
        assert np.all(scores.numpy()[live] == 0)


@pytest.mark.parametrize("causal", [False, True])
def test_mha_gradients_match_finite_differences(causal):
    mha = layers.MultiHeadAttention(
        num_heads=2, key_dim=2, value_dim=3, bias_initializer="he_normal"
    )
    q, v = R.standard_normal((2, 3, 4)), R.standard_normal((2, 4, 5))
    mha(Tensor(q, dtype="float32"), Tensor(v, dtype="float32"))
    value_mask = Tensor(np.array([[1, 1, 0, 1], [1, 1, 1, 1]], bool))
    assert_gradcheck(
        lambda a, b: mha(a, b, value_mask=value_mask, use_causal_mask=causal),
        q, v, params=mha.weights,
    )  # fmt: skip


def _torch_twin(torch, mha, dim):
    """PyTorch's nn.MultiheadAttention holding mha's weights: in_proj rows are the (dim,
    heads·key_dim) kernels transposed, head by head; out_proj is the (heads·value_dim, dim)
    output kernel transposed."""
    h, kd = mha.num_heads, mha.key_dim
    twin = torch.nn.MultiheadAttention(dim, h, batch_first=True, dtype=torch.float64)
    w = {n: getattr(mha, n).numpy().astype(np.float64) for n in mha.state_dict()}
    in_w = np.concatenate(
        [w[f"{p}_kernel"].reshape(dim, h * kd).T for p in ("query", "key", "value")]
    )
    in_b = np.concatenate([w[f"{p}_bias"].reshape(h * kd) for p in ("query", "key", "value")])
    with torch.no_grad():
        twin.in_proj_weight.copy_(torch.tensor(in_w))
        twin.in_proj_bias.copy_(torch.tensor(in_b))
        twin.out_proj.weight.copy_(torch.tensor(w["output_kernel"].reshape(h * kd, dim).T))
        twin.out_proj.bias.copy_(torch.tensor(w["output_bias"]))
    return twin


@pytest.mark.parametrize("masked", ["none", "padding", "causal"])
def test_mha_matches_pytorch_forward_and_gradients(masked):
    """Forward within 1e-5 and every gradient (inputs and weights) within 1e-4, float32
    glassnet against float64 PyTorch."""
    torch = pytest.importorskip("torch")
    dim, heads, steps = 8, 2, 5
    mha = layers.MultiHeadAttention(
        num_heads=heads, key_dim=dim // heads, bias_initializer="he_normal"
    )
    q = R.standard_normal((3, steps, dim)).astype(np.float32)
    v = R.standard_normal((3, steps, dim)).astype(np.float32)
    keep = np.ones((3, steps), bool)
    keep[0, 3:], keep[2, 1:] = False, False
    kwargs, torch_kwargs = {}, {}
    if masked == "padding":
        kwargs["value_mask"] = keep
        torch_kwargs["key_padding_mask"] = torch.tensor(~keep)
    elif masked == "causal":
        kwargs["use_causal_mask"] = True
        upper = np.triu(np.ones((steps, steps), bool), 1)
        torch_kwargs["attn_mask"] = torch.tensor(upper)
    tq, tv = Tensor(q, requires_grad=True), Tensor(v, requires_grad=True)
    out = mha(tq, tv, **kwargs)
    g = R.standard_normal(out.shape).astype(np.float32)
    (out * Tensor(g)).sum().backward()

    twin = _torch_twin(torch, mha, dim)
    pq = torch.tensor(q, dtype=torch.float64, requires_grad=True)
    pv = torch.tensor(v, dtype=torch.float64, requires_grad=True)
    pout, _ = twin(pq, pv, pv, need_weights=False, **torch_kwargs)
    (pout * torch.tensor(g, dtype=torch.float64)).sum().backward()

    np.testing.assert_allclose(out.numpy(), pout.detach().numpy(), atol=1e-5)
    np.testing.assert_allclose(tq.grad, pq.grad.numpy(), atol=1e-4)
    np.testing.assert_allclose(tv.grad, pv.grad.numpy(), atol=1e-4)
    h, kd = heads, dim // heads
    in_grad = twin.in_proj_weight.grad.numpy()
    for i, part in enumerate(("query", "key", "value")):
        ours = getattr(mha, f"{part}_kernel").grad.reshape(dim, h * kd).T
        np.testing.assert_allclose(ours, in_grad[i * dim : (i + 1) * dim], atol=1e-4)
        ours_b = getattr(mha, f"{part}_bias").grad.reshape(-1)
        np.testing.assert_allclose(
            ours_b, twin.in_proj_bias.grad.numpy()[i * dim : (i + 1) * dim], atol=1e-4
        )
    np.testing.assert_allclose(
        mha.output_kernel.grad.reshape(h * kd, dim).T, twin.out_proj.weight.grad.numpy(), atol=1e-4
    )
    np.testing.assert_allclose(mha.output_bias.grad, twin.out_proj.bias.grad.numpy(), atol=1e-4)


def test_mha_dropout_drops_attention_weights_in_training_only():
    mha = layers.MultiHeadAttention(num_heads=1, key_dim=4, dropout=0.5)
    x = R.standard_normal((2, 6, 4)).astype(np.float32)
    a = mha(x, x).numpy()
    np.testing.assert_array_equal(a, mha(x, x, training=False).numpy())
    gn.set_seed(0)
    b = mha(x, x, training=True).numpy()
    assert not np.allclose(a, b)


def test_mha_config_round_trip_and_save(tmp_path):
    inputs = gn.Input((5, 8))
    x = layers.MultiHeadAttention(2, 4, dropout=0.1, kernel_regularizer="l2", name="mha")(
        inputs, inputs
    )
    model = gn.Model(inputs, layers.GlobalAveragePooling1D()(x))
    config = model.get_layer("mha").get_config()
    clone = layers.MultiHeadAttention.from_config(json.loads(json.dumps(config)))
    assert clone.get_config() == config
    data = R.standard_normal((3, 5, 8)).astype(np.float32)
    model.save(tmp_path / "m.glassnet")
    again = gn.load_model(tmp_path / "m.glassnet")
    np.testing.assert_allclose(again.predict(data), model.predict(data), atol=1e-6)
    assert len(model.losses) == 4  # the l2 penalty on each projection's kernel, as Keras
    summary = model.get_layer("mha").count_params()
    assert summary == 3 * (8 * 8 + 8) + (8 * 8 + 8)


def test_mha_errors_name_the_layer_and_the_culprit():
    with pytest.raises(ValueError, match="attention_axes"):
        layers.MultiHeadAttention(2, 4, attention_axes=(1, 2))
    with pytest.raises(ValueError, match="num_heads"):
        layers.MultiHeadAttention(0, 4)
    with pytest.raises(ValueError, match="dropout"):
        layers.MultiHeadAttention(2, 4, dropout=1.0)
    mha = layers.MultiHeadAttention(2, 4, name="att")
    with pytest.raises(ValueError, match="MultiHeadAttention 'att'.*query must be 3-D"):
        mha(np.zeros((2, 8), np.float32), np.zeros((2, 8), np.float32))
    with pytest.raises(TypeError, match="needs a value"):
        mha(np.zeros((2, 3, 8), np.float32))
    mha(np.zeros((2, 3, 8), np.float32), np.zeros((2, 3, 8), np.float32))
    with pytest.raises(ValueError, match="built for 8"):
        mha(np.zeros((2, 3, 5), np.float32), np.zeros((2, 3, 8), np.float32))


def test_mha_batch_of_one_and_one_head():
    mha = layers.MultiHeadAttention(1, 1)
    x = R.standard_normal((1, 1, 1))
    out, scores = mha(
        Tensor(x, dtype="float32"), Tensor(x, dtype="float32"), return_attention_scores=True
    )
    assert out.shape == (1, 1, 1) and scores.numpy().tolist() == [[[[1.0]]]]


# ---------------------------------------------------------------- masks from Embedding


def test_embedding_mask_reaches_attention_and_average_pooling():
    gn.set_seed(0)
    ids = np.array([[4, 2, 7, 0, 0], [3, 0, 0, 0, 0]])
    inputs = gn.Input((5,), dtype="int64")
    emb = layers.Embedding(10, 8, mask_zero=True, name="tokens")(inputs)
    att = layers.MultiHeadAttention(2, 4, name="mha")(emb, emb)
    x = layers.LayerNormalization()(layers.add([emb, layers.Dropout(0.1)(att)]))
    x = layers.Dense(8, activation="relu")(x)
    pooled = layers.GlobalAveragePooling1D()(x)
    model = gn.Model(inputs, pooled)
    out = model.predict(ids)
    # The padded steps change nothing: the same tokens with other padding ids masked away.
    features = gn.Model(inputs, x).predict(ids)
    keep = ids != 0
    expected = (features * keep[..., None]).sum(1) / keep.sum(1, keepdims=True)
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-6)
    embedding = model.get_layer("tokens")  # named: automatic names depend on the tests before
    mask = embedding(Tensor(ids))._keras_mask
    np.testing.assert_array_equal(mask.numpy(), keep)
    assert embedding.get_config()["mask_zero"] is True


def test_masked_average_pooling_gradient_and_fully_masked_sample():
    x = R.standard_normal((2, 4, 3))
    mask = Tensor(np.array([[1, 1, 0, 1], [0, 0, 0, 0]], bool))

    def pool(t):
        t._keras_mask = mask
        return layers.GlobalAveragePooling1D()(t)

    out = pool(Tensor(x, dtype="float32")).numpy()
    np.testing.assert_allclose(out[0], x[0, [0, 1, 3]].mean(0), rtol=1e-5)
    np.testing.assert_array_equal(out[1], 0)
    assert_gradcheck(lambda t: gn.ops.masked_mean(t, mask), x)


def test_masked_softmax_gradient():
    x = R.standard_normal((2, 3, 4))
    mask = R.random((2, 3, 4)) > 0.4
    mask[0, 0] = False  # a row with nothing to attend to
    y = gn.ops.masked_softmax(Tensor(x, dtype="float32"), Tensor(mask)).numpy()
    np.testing.assert_allclose(y, _softmax(x, mask), atol=1e-6)
    np.testing.assert_allclose(y[0, 0], 0.25, rtol=1e-6)  # float32: 1e9 swallows the logits
    # A fully masked row is softmax(x − 1e9): finite differences of 1e-6 on numbers of 1e9
    # are rounding noise, so that row is left out of the gradient check.
    mask[0, 0, 0] = True
    assert_gradcheck(lambda t: gn.ops.masked_softmax(t, Tensor(mask)), x)


# ---------------------------------------------------------------- Attention, AdditiveAttention


def _dense_reference(q, v, k, scores, value_mask=None, query_mask=None, causal=False):
    mask = np.ones(scores.shape, bool)
    if causal:
        mask &= np.tril(np.ones(scores.shape[1:], bool))
    if value_mask is not None:
        mask &= value_mask[:, None, :]
    weights = _softmax(scores, mask)
    out = weights @ v
    if query_mask is not None:
        out = out * query_mask[..., None]
    return out, weights


@pytest.mark.parametrize(
    "cls, kwargs",
    [
        (layers.Attention, {}),
        (layers.Attention, {"use_scale": True}),
        (layers.Attention, {"score_mode": "concat", "use_scale": True}),
        (layers.AdditiveAttention, {}),
        (layers.AdditiveAttention, {"use_scale": False}),
    ],
)
@pytest.mark.parametrize("masked", [False, True])
def test_dense_attention_matches_the_reference(cls, kwargs, masked):
    layer = cls(**kwargs)
    q, v, k = (R.standard_normal(s) for s in [(2, 3, 4), (2, 5, 6), (2, 5, 4)])
    value_mask = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], bool) if masked else None
    query_mask = np.array([[1, 1, 0], [1, 1, 1]], bool) if masked else None
    call = {"mask": [query_mask, value_mask]} if masked else {}
    layer([Tensor(q, dtype="float32"), Tensor(v, dtype="float32"), Tensor(k, dtype="float32")])
    for w in layer.weights:
        w.data[...] = R.uniform(0.5, 1.5, w.shape)
    out, weights = layer(
        [Tensor(a, dtype="float32") for a in (q, v, k)], return_attention_scores=True,
        use_causal_mask=masked, **call,
    )  # fmt: skip
    if cls is layers.AdditiveAttention:
        scale = layer.scale.numpy() if layer.scale is not None else 1.0
        scores = (scale * np.tanh(q[:, :, None] + k[:, None])).sum(-1)
    elif kwargs.get("score_mode") == "concat":
        scores = layer.concat_score_weight.numpy() * np.tanh(
            layer.scale.numpy() * (q[:, :, None] + k[:, None])
        ).sum(-1)
    else:
        scores = q @ k.transpose(0, 2, 1) * (layer.scale.numpy() if layer.scale is not None else 1)
    ref, ref_w = _dense_reference(q, v, k, scores, value_mask, query_mask, causal=masked)
    np.testing.assert_allclose(weights.numpy(), ref_w, atol=1e-5)
    np.testing.assert_allclose(out.numpy(), ref, rtol=1e-4, atol=1e-5)
    assert_gradcheck(
        lambda a, b, c: layer([a, b, c], use_causal_mask=masked, **call), q, v, k,
        params=layer.weights,
    )  # fmt: skip


def test_dense_attention_parameter_counts_and_checks():
    run_layer_test(layers.Attention, {}, input_shape=[(2, 3, 4), (2, 5, 4)], expected_num_weights=0)
    run_layer_test(
        layers.Attention,
        {"use_scale": True, "score_mode": "concat"},
        input_shape=[(2, 3, 4), (2, 5, 6), (2, 5, 4)],
        expected_output_shape=(2, 3, 6),
        expected_num_weights=2,
        expected_num_params=2,
    )
    run_layer_test(
        layers.AdditiveAttention,
        {},
        input_shape=[(2, 3, 4), (2, 5, 4)],
        expected_num_weights=1,
        expected_num_params=4,
    )


def test_attention_matches_pytorch_scaled_dot_product():
    torch = pytest.importorskip("torch")
    q, v, k = (R.standard_normal(s).astype(np.float32) for s in [(2, 3, 4), (2, 5, 6), (2, 5, 4)])
    tensors = [Tensor(a, requires_grad=True) for a in (q, v, k)]
    out = layers.Attention()(tensors, use_causal_mask=False)
    out.sum().backward()
    pt = [torch.tensor(a, requires_grad=True) for a in (q, k, v)]
    ref = torch.nn.functional.scaled_dot_product_attention(*pt, scale=1.0)
    ref.sum().backward()
    np.testing.assert_allclose(out.numpy(), ref.detach().numpy(), atol=1e-5)
    for ours, theirs in zip(tensors, [pt[0], pt[2], pt[1]], strict=True):
        np.testing.assert_allclose(ours.grad, theirs.grad.numpy(), atol=1e-4)


def test_dense_attention_errors():
    with pytest.raises(ValueError, match="score_mode"):
        layers.Attention(score_mode="general")
    with pytest.raises(ValueError, match="query and key"):
        layers.Attention()([np.zeros((1, 2, 3), np.float32), np.zeros((1, 2, 4), np.float32)])
    with pytest.raises(ValueError, match=r"\[query_mask, value_mask\]"):
        x = np.zeros((1, 2, 3), np.float32)
        layers.AdditiveAttention()([x, x], mask=np.ones((1, 2), bool))


# ---------------------------------------------------------------- training: replay and changes


def _transformer(seed=0):
    gn.set_seed(seed)
    inputs = gn.Input((6,), dtype="int64")
    x = layers.Embedding(12, 8, mask_zero=True)(inputs)
    att = layers.MultiHeadAttention(2, 4, dropout=0.2, name="mha")(x, x)
    x = layers.LayerNormalization()(x + layers.Dropout(0.1)(att))
    x = layers.GlobalAveragePooling1D()(layers.Dense(8, activation="relu")(x))
    return gn.Model(inputs, layers.Dense(2)(x))


def _fit(model, jit, epochs=2):
    rng = np.random.default_rng(3)
    ids = rng.integers(0, 12, (20, 6))
    ids[:, 4:] *= rng.integers(0, 2, (20, 2))  # some padding
    y = rng.integers(0, 2, 20)
    model.compile("adam", gn.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.jit_compile = jit
    model.fit(ids, y, batch_size=8, epochs=epochs, verbose=0)
    return ids


def test_training_with_replay_is_the_graphs_bit_for_bit():
    """Masks are made by ops from each batch and attention dropout draws inside an op, so a
    replayed step (default) trains to the graph's numbers (jit_compile=False)."""
    ours = _transformer()
    ids = _fit(ours, jit=True)
    graph = _transformer()
    _fit(graph, jit=False)
    assert all(entry.tape is not None for entry in ours._replays.values())
    for a, b in zip(ours.weights, graph.weights, strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    np.testing.assert_array_equal(ours.predict(ids), graph.predict(ids))


def test_a_regularizer_or_constraint_set_after_build_reaches_all_four_projections():
    model = _transformer()
    _fit(model, jit=True, epochs=1)
    mha = model.get_layer("mha")
    mha.kernel_constraint = "non_neg"
    mha.bias_regularizer = "l2"
    assert len(mha.losses) == 4
    _fit(model, jit=True, epochs=1)
    for part in ("query", "key", "value", "output"):
        assert getattr(mha, f"{part}_kernel").numpy().min() >= 0
    assert mha.get_config()["kernel_constraint"]["class_name"] == "NonNeg"


def test_a_causal_call_in_a_functional_graph_is_recorded_and_saved(tmp_path):
    inputs = gn.Input((5, 4))
    mha = layers.MultiHeadAttention(2, 3, name="causal")
    model = gn.Model(inputs, mha(inputs, inputs, use_causal_mask=True))
    x = R.standard_normal((2, 5, 4)).astype(np.float32)
    expected = mha(Tensor(x), Tensor(x), use_causal_mask=True).numpy()
    np.testing.assert_allclose(model.predict(x), expected, atol=1e-6)
    assert not np.allclose(mha(Tensor(x), Tensor(x)).numpy(), expected)
    model.save(tmp_path / "m.glassnet")
    again = gn.load_model(tmp_path / "m.glassnet")
    assert again.get_layer("causal")._inbound_nodes[0].flags == {"use_causal_mask": True}
    np.testing.assert_allclose(again.predict(x), expected, atol=1e-6)


def _masked_inputs(rng):
    """A batch for the model of ``_scores_and_masks_model``: query, value, an attention mask,
    a value mask and a query mask (0/1 floats, as model inputs are)."""
    return [
        rng.standard_normal((3, 5, 4)).astype(np.float32),
        rng.standard_normal((3, 6, 4)).astype(np.float32),
        (rng.random((3, 5, 6)) > 0.3).astype(np.float32),
        (rng.random((3, 6)) > 0.3).astype(np.float32),
        (rng.random((3, 5)) > 0.3).astype(np.float32),
    ]


def _scores_and_masks_model():
    """Masks as model inputs and the scores as outputs, for all three attention layers."""
    gn.set_seed(4)
    query, value = gn.Input((5, 4)), gn.Input((6, 4))
    pairs, value_mask, query_mask = gn.Input((5, 6)), gn.Input((6,)), gn.Input((5,))
    mha = layers.MultiHeadAttention(2, 3, name="mha")
    out, scores = mha(
        query,
        value,
        attention_mask=pairs,
        query_mask=query_mask,
        return_attention_scores=True,
        use_causal_mask=True,
    )
    dot, dot_scores = layers.Attention(name="dot")(
        [query, value], mask=[None, value_mask], return_attention_scores=True
    )
    additive = layers.AdditiveAttention(name="add")([query, value], mask=[query_mask, value_mask])
    inputs = [query, value, pairs, value_mask, query_mask]
    return gn.Model(inputs, [out, scores, dot, dot_scores, additive])


def test_scores_and_mask_inputs_are_recorded_in_a_functional_graph_and_saved(tmp_path):
    """``return_attention_scores`` gives the node a second output; masks passed as keyword
    tensors (``attention_mask=``, ``query_mask=``, ``mask=[None, value_mask]``) are inputs of
    the call; both replay, as the eager calls compute them, after a save and load too."""
    model = _scores_and_masks_model()
    x = _masked_inputs(np.random.default_rng(5))
    q, v, pairs, value_mask, query_mask = (Tensor(a) for a in x)
    out, scores = model.get_layer("mha")(
        q,
        v,
        attention_mask=pairs,
        query_mask=query_mask,
        return_attention_scores=True,
        use_causal_mask=True,
    )
    dot, dot_scores = model.get_layer("dot")(
        [q, v], mask=[None, value_mask], return_attention_scores=True
    )
    additive = model.get_layer("add")([q, v], mask=[query_mask, value_mask])
    expected = [t.numpy() for t in (out, scores, dot, dot_scores, additive)]
    assert [tuple(t.shape) for t in model.outputs] == [
        (None, 5, 4), (None, 2, 5, 6), (None, 5, 4), (None, 5, 6), (None, 5, 4)
    ]  # fmt: skip
    got = model.predict(x)
    for a, b in zip(got, expected, strict=True):
        np.testing.assert_allclose(a, b, atol=1e-6)
    allowed = (x[2] > 0) & np.tri(5, 6, dtype=bool) & (x[4] > 0)[:, :, None]
    hidden = ~allowed & allowed.any(-1, keepdims=True)  # rows with a key left: the rest is 0
    assert hidden.any() and np.all(got[1].transpose(1, 0, 2, 3)[:, hidden] < 1e-6)
    model.save(tmp_path / "m.glassnet")
    for a, b in zip(gn.load_model(tmp_path / "m.glassnet").predict(x), expected, strict=True):
        np.testing.assert_allclose(a, b, atol=1e-6)


def test_a_functional_mask_must_be_a_pair():
    query = gn.Input((5, 4))
    with pytest.raises(ValueError, match=r"mask must be a list \[query_mask, value_mask\]"):
        layers.Attention()([query, query], mask=query)
