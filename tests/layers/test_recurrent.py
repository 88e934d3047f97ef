"""SimpleRNN, LSTM, GRU, Bidirectional, TimeDistributed, Embedding and their fused ops.

Fused vs composed (measured while writing the ops, batch 32, 50 steps, 16 features, 64 units,
LSTM forward + backward of ``(h**2).sum()``, NumPy, 2 cores shared with other jobs): a loop of
getitem/matmul/sigmoid/tanh/mul ops took 257 ms (1,134 ms under load), the fused ``LSTMOp``
12–81 ms, PyTorch's ``nn.LSTM`` 6–10 ms. ``test_fused_lstm_matches_composed_ops`` keeps the
composed version as a second, independent reference.

Tolerances against PyTorch (float32, 2–6 steps): forward ``atol=1e-5, rtol=1e-4``, gradients
``atol=1e-4, rtol=1e-3`` (``tests/helpers.py``). Gradient checks: float64, full Jacobian.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from glassnet import Sequential, Tensor, initializers, layers, load_model, ops
from glassnet.layers import GRU, LSTM, Bidirectional, Dense, Embedding, SimpleRNN, TimeDistributed
from glassnet.models.summary import param_formula
from tests.helpers import FORWARD_TOL, GRAD_TOL, assert_gradcheck
from tests.layers.layer_checks import run_layer_test

B, T, F, U = 3, 5, 4, 6


def _x(rng, b=B, t=T, f=F):
    return rng.standard_normal((b, t, f)).astype(np.float32)


def _randomize(layer, rng):
    """Give every weight (biases included) random values, so the comparison sees them all."""
    layer.set_weights([rng.uniform(-0.5, 0.5, w.shape).astype(np.float32) for w in layer.weights])


# ------------------------------------------------------------------ PyTorch parity
def _torch_module(torch, kind, layer, bidirectional=False, backward_layer=None):
    """The torch RNN with our weights copied in (gate orders and biases mapped)."""
    cls = {"SimpleRNN": torch.nn.RNN, "LSTM": torch.nn.LSTM, "GRU": torch.nn.GRU}[kind]
    module = cls(F, U, batch_first=True, bidirectional=bidirectional)
    u = U

    def copy(our, suffix):
        w, wr = our.kernel.numpy(), our.recurrent_kernel.numpy()
        b = our.bias.numpy()
        if kind == "GRU":  # Keras z, r, h -> torch r, z, n; bias rows: input, recurrent
            order = np.r_[u : 2 * u, 0:u, 2 * u : 3 * u]
            w, wr, b_ih, b_hh = w[:, order], wr[:, order], b[0, order], b[1, order]
        else:  # LSTM: Keras i, f, c, o == torch i, f, g, o; torch's second bias stays zero
            b_ih, b_hh = b, np.zeros_like(b)
        params = dict(module.named_parameters())
        with torch.no_grad():
            params[f"weight_ih_l0{suffix}"].copy_(torch.tensor(w.T))
            params[f"weight_hh_l0{suffix}"].copy_(torch.tensor(wr.T))
            params[f"bias_ih_l0{suffix}"].copy_(torch.tensor(b_ih))
            params[f"bias_hh_l0{suffix}"].copy_(torch.tensor(b_hh))

    copy(layer, "")
    if bidirectional:
        copy(backward_layer, "_reverse")
    return module


def _torch_grad(module, name, kind):
    g = dict(module.named_parameters())[name].grad.numpy().T
    if kind == "GRU":
        u = U
        return g[:, np.r_[u : 2 * u, 0:u, 2 * u : 3 * u]]
    return g


@pytest.mark.parametrize("kind", ["SimpleRNN", "LSTM", "GRU"])
@pytest.mark.parametrize("go_backwards", [False, True])
def test_matches_torch_with_initial_state(torch, rng, kind, go_backwards):
    cls = getattr(layers, kind)
    layer = cls(U, return_sequences=True, return_state=True, go_backwards=go_backwards)
    x = _x(rng)
    layer.build(x.shape)
    _randomize(layer, rng)
    n_states = 2 if kind == "LSTM" else 1
    states = [rng.standard_normal((B, U)).astype(np.float32) for _ in range(n_states)]

    xt = Tensor(x, requires_grad=True)
    st = [Tensor(s, requires_grad=True) for s in states]
    seq, *finals = layer(xt, initial_state=st)
    assert seq.shape == (B, T, U) and seq.dtype == np.float32
    assert [f.shape for f in finals] == [(B, U)] * n_states
    proj = rng.standard_normal(seq.shape).astype(np.float32)
    loss = (seq * proj).sum() + sum((f * f).sum() for f in finals)
    loss.backward()

    module = _torch_module(torch, kind, layer)
    x_t = torch.tensor(x[:, ::-1].copy() if go_backwards else x, requires_grad=True)
    s_t = [torch.tensor(s[None], requires_grad=True) for s in states]
    out, final = module(x_t, tuple(s_t) if kind == "LSTM" else s_t[0])
    final = final if kind == "LSTM" else (final,)
    t_loss = (out * torch.tensor(proj)).sum() + sum((f * f).sum() for f in final)
    t_loss.backward()

    np.testing.assert_allclose(seq.numpy(), out.detach().numpy(), **FORWARD_TOL)
    for ours, theirs in zip(finals, final, strict=True):
        np.testing.assert_allclose(ours.numpy(), theirs[0].detach().numpy(), **FORWARD_TOL)
    gx = x_t.grad.numpy()
    np.testing.assert_allclose(xt.grad, gx[:, ::-1] if go_backwards else gx, **GRAD_TOL)
    for ours, theirs in zip(st, s_t, strict=True):
        np.testing.assert_allclose(ours.grad, theirs.grad.numpy()[0], **GRAD_TOL)
    np.testing.assert_allclose(
        layer.kernel.grad, _torch_grad(module, "weight_ih_l0", kind), **GRAD_TOL
    )
    np.testing.assert_allclose(
        layer.recurrent_kernel.grad, _torch_grad(module, "weight_hh_l0", kind), **GRAD_TOL
    )


@pytest.mark.parametrize("kind", ["SimpleRNN", "LSTM", "GRU"])
@pytest.mark.parametrize("return_sequences", [False, True])
def test_bidirectional_matches_torch(torch, rng, kind, return_sequences):
    layer = Bidirectional(getattr(layers, kind)(U, return_sequences=return_sequences))
    x = _x(rng)
    layer.build(x.shape)
    _randomize(layer, rng)
    xt = Tensor(x, requires_grad=True)
    y = layer(xt)
    y.sum().backward()

    module = _torch_module(torch, kind, layer.forward_layer, True, layer.backward_layer)
    x_t = torch.tensor(x, requires_grad=True)
    out, final = module(x_t)
    h_n = final[0] if kind == "LSTM" else final
    expected = out if return_sequences else torch.cat([h_n[0], h_n[1]], dim=-1)
    expected.sum().backward()
    assert y.shape == tuple(expected.shape)
    np.testing.assert_allclose(y.numpy(), expected.detach().numpy(), **FORWARD_TOL)
    np.testing.assert_allclose(xt.grad, x_t.grad.numpy(), **GRAD_TOL)


@pytest.mark.parametrize("kind", ["SimpleRNN", "LSTM", "GRU"])
@pytest.mark.parametrize("return_sequences", [False, True])
def test_bidirectional_return_state_and_initial_state_match_torch(
    torch, rng, kind, return_sequences
):
    """Keras's order: [output, *forward_states, *backward_states]; torch's h_n is [fwd, bwd]."""
    inner = getattr(layers, kind)(U, return_sequences=return_sequences, return_state=True)
    layer = Bidirectional(inner)
    x = _x(rng)
    layer.build(x.shape)
    _randomize(layer, rng)
    n = 2 if kind == "LSTM" else 1
    fwd = [rng.standard_normal((B, U)).astype(np.float32) for _ in range(n)]
    bwd = [rng.standard_normal((B, U)).astype(np.float32) for _ in range(n)]
    xt = Tensor(x, requires_grad=True)
    st = [Tensor(s, requires_grad=True) for s in fwd + bwd]
    y, *finals = layer(xt, initial_state=st)
    expected_shapes = layer.compute_output_shape((B, T, F))
    assert [y.shape, *[f.shape for f in finals]] == [tuple(s) for s in expected_shapes]
    assert len(finals) == 2 * n
    loss = (y * y).sum() + sum((f * f * (k + 1)).sum() for k, f in enumerate(finals))
    loss.backward()

    module = _torch_module(torch, kind, layer.forward_layer, True, layer.backward_layer)
    x_t = torch.tensor(x, requires_grad=True)
    s_t = [
        torch.tensor(np.stack([f, b]), requires_grad=True) for f, b in zip(fwd, bwd, strict=True)
    ]
    out, final = module(x_t, tuple(s_t) if kind == "LSTM" else s_t[0])
    final = final if kind == "LSTM" else (final,)
    h_n = final[0]
    expected = out if return_sequences else torch.cat([h_n[0], h_n[1]], dim=-1)
    t_finals = [f[0] for f in final] + [f[1] for f in final]  # forward's, then backward's
    t_loss = (expected * expected).sum()
    t_loss = t_loss + sum((f * f * (k + 1)).sum() for k, f in enumerate(t_finals))
    t_loss.backward()

    np.testing.assert_allclose(y.numpy(), expected.detach().numpy(), **FORWARD_TOL)
    for ours, theirs in zip(finals, t_finals, strict=True):
        np.testing.assert_allclose(ours.numpy(), theirs.detach().numpy(), **FORWARD_TOL)
    np.testing.assert_allclose(xt.grad, x_t.grad.numpy(), **GRAD_TOL)
    t_state_grads = [g.grad.numpy()[d] for d in (0, 1) for g in s_t]
    for ours, theirs in zip(st, t_state_grads, strict=True):
        np.testing.assert_allclose(ours.grad, theirs, **GRAD_TOL)


# ------------------------------------------------------------------ finite differences
def _f64(rng, *shape):
    return rng.uniform(-0.8, 0.8, shape)


def test_gradcheck_simple_rnn(rng):
    b, t, f, u = 2, 3, 3, 2
    for act in ("tanh", "sigmoid", "linear"):
        assert_gradcheck(
            lambda x, w, r, bias, h0, a=act: ops.simple_rnn(x, w, r, bias, h0, a),
            _f64(rng, b, t, f), _f64(rng, f, u), _f64(rng, u, u), _f64(rng, u), _f64(rng, b, u),
        )  # fmt: skip


def test_gradcheck_lstm_through_both_states(rng):
    b, t, f, u = 2, 3, 3, 2

    def fn(x, w, r, bias, h0, c0):
        h, c = ops.lstm(x, w, r, bias, h0, c0)
        return ops.concat([h, c], axis=-1)  # gradients through every h_t and c_t

    assert_gradcheck(
        fn, _f64(rng, b, t, f), _f64(rng, f, 4 * u), _f64(rng, u, 4 * u), _f64(rng, 4 * u),
        _f64(rng, b, u), _f64(rng, b, u),
    )  # fmt: skip


def test_gradcheck_gru(rng):
    b, t, f, u = 2, 3, 3, 2
    assert_gradcheck(
        ops.gru, _f64(rng, b, t, f), _f64(rng, f, 3 * u), _f64(rng, u, 3 * u), _f64(rng, 2, 3 * u),
        _f64(rng, b, u),
    )  # fmt: skip


def test_gradcheck_gru_reset_before(rng):
    b, t, f, u = 2, 3, 3, 2
    for acts in (("tanh", "sigmoid"), ("sigmoid", "tanh")):
        assert_gradcheck(
            lambda x, w, r, bias, h0, a=acts: ops.gru(x, w, r, bias, h0, *a, reset_after=False),
            _f64(rng, b, t, f), _f64(rng, f, 3 * u), _f64(rng, u, 3 * u), _f64(rng, 3 * u),
            _f64(rng, b, u),
        )  # fmt: skip


def test_gru_reset_before_layer_equals_the_keras2_formula(rng):
    """z, r = σ(x·W + b + h·U); hh = tanh(x·W_h + b_h + (r·h)·U_h); h = z·h + (1 − z)·hh."""
    layer = GRU(U, return_sequences=True, reset_after=False)
    x = _x(rng).astype(np.float64)
    layer.build(x.shape)
    _randomize(layer, rng)
    assert layer.bias.shape == (3 * U,)
    W, R, b = (w.astype(np.float64) for w in layer.get_weights())
    h, expected = np.zeros((B, U)), []
    for t in range(T):
        xw = x[:, t] @ W + b
        z = 1 / (1 + np.exp(-(xw[:, :U] + h @ R[:, :U])))
        r = 1 / (1 + np.exp(-(xw[:, U : 2 * U] + h @ R[:, U : 2 * U])))
        hh = np.tanh(xw[:, 2 * U :] + (r * h) @ R[:, 2 * U :])
        h = z * h + (1 - z) * hh
        expected.append(h)
    np.testing.assert_allclose(layer(x).numpy(), np.stack(expected, 1), **FORWARD_TOL)
    assert GRU.from_config(layer.get_config()).reset_after is False


def test_gradcheck_relu_rnn_away_from_kinks(rng):
    x = _f64(rng, 1, 3, 2) + 2.0  # positive inputs and weights keep every unit off the kink
    assert_gradcheck(
        lambda x, w, r: ops.simple_rnn(x, w, r, activation="relu"),
        x, rng.uniform(0.1, 0.5, (2, 2)), rng.uniform(0.1, 0.5, (2, 2)),
    )  # fmt: skip


def test_fused_lstm_matches_composed_ops(rng):
    """An independent reference: the LSTM written with per-step autograd ops."""
    b, t, f, u = 2, 4, 3, 3
    arrays = [_f64(rng, b, t, f), _f64(rng, f, 4 * u), _f64(rng, u, 4 * u), _f64(rng, 4 * u)]

    def composed(x, w, r, bias):
        xw = ops.linear(x, w, bias)
        h = c = Tensor(np.zeros((b, u)))
        hs = []
        for step in range(t):
            z = ops.getitem(xw, (slice(None), step)) + h @ r
            i, fg = ops.sigmoid(z[:, :u]), ops.sigmoid(z[:, u : 2 * u])
            g, o = ops.tanh(z[:, 2 * u : 3 * u]), ops.sigmoid(z[:, 3 * u :])
            c = fg * c + i * g
            h = o * ops.tanh(c)
            hs.append(h)
        return ops.stack(hs, axis=1)

    results = []
    for fn in (composed, lambda *a: ops.lstm(*a)[0]):
        tensors = [Tensor(a, requires_grad=True) for a in arrays]
        y = fn(*tensors)
        (y * y).sum().backward()
        results.append([y.numpy()] + [t.grad for t in tensors])
    for ours, ref in zip(results[1], results[0], strict=True):
        np.testing.assert_allclose(ours, ref, rtol=1e-10, atol=1e-12)


# ------------------------------------------------------------------ the layer contract
@pytest.mark.parametrize(
    ("cls", "kwargs", "weights", "params"),
    [
        (SimpleRNN, {"units": 5}, 3, 5 * (5 + 4) + 5),
        (SimpleRNN, {"units": 5, "use_bias": False, "return_sequences": True}, 2, 5 * 9),
        (LSTM, {"units": 5}, 3, 4 * (5 * (5 + 4) + 5)),
        (LSTM, {"units": 2, "return_sequences": True, "go_backwards": True}, 3, 4 * (2 * 6 + 2)),
        (GRU, {"units": 5}, 3, 3 * (5 * (5 + 4) + 2 * 5)),
        (GRU, {"units": 3, "use_bias": False}, 2, 3 * 3 * 7),
        (GRU, {"units": 5, "reset_after": False}, 3, 3 * (5 * (5 + 4) + 5)),
    ],
)
def test_run_layer_test(cls, kwargs, weights, params):
    layer = run_layer_test(
        cls, kwargs, input_shape=(2, 3, 4), expected_num_weights=weights, expected_num_params=params
    )
    steps = (3,) if kwargs.get("return_sequences") else ()
    assert layer(np.zeros((2, 3, 4))).shape == (2, *steps, kwargs["units"])


@pytest.mark.parametrize(
    ("layer", "features", "keras_count", "formula"),
    [
        # Keras: SimpleRNN u·(u + in) + u; LSTM 4·(u·(u + in) + u); GRU 3·(u·(u + in) + 2u).
        (SimpleRNN(32), 10, 1376, "32·(32 + 10) + 32"),
        (LSTM(64), 100, 42240, "4·(64·(64 + 100) + 64)"),
        (LSTM(128), 1, 66560, "4·(128·(128 + 1) + 128)"),
        (GRU(32), 16, 4800, "3·(32·(32 + 16) + 2·32)"),
        (GRU(10), 5, 510, "3·(10·(10 + 5) + 2·10)"),
        # Keras 2's GRU (reset_after=False): 3·(u·(u + in) + u).
        (GRU(32, reset_after=False), 16, 4704, "3·(32·(32 + 16) + 32)"),
        (LSTM(4, use_bias=False), 3, 112, "4·(4·(4 + 3))"),
    ],
)
def test_parameter_counts_equal_keras_with_formula(layer, features, keras_count, formula):
    layer.build((None, 7, features))
    assert layer.count_params() == keras_count
    assert param_formula(layer) == (keras_count, f"{formula} = {keras_count:,}")


def test_bidirectional_and_time_distributed_counts_and_shapes(rng):
    bi = Bidirectional(LSTM(8, return_sequences=True))
    assert bi(_x(rng)).shape == (B, T, 16)
    assert bi.count_params() == 2 * 4 * (8 * (8 + F) + 8)
    assert bi.compute_output_shape((None, T, F)) == (None, T, 16)
    assert Bidirectional(GRU(3), merge_mode="sum")(_x(rng)).shape == (B, 3)
    assert [k for k in bi.state_dict()][:2] == [
        "forward_layer.kernel",
        "forward_layer.recurrent_kernel",
    ]
    td = run_layer_test(
        TimeDistributed, {"layer": Dense(3)}, input_shape=(2, 4, 5), expected_num_weights=2
    )
    assert td.compute_output_shape((None, None, 5)) == (None, None, 3)


def test_unit_forget_bias_and_initializers():
    lstm = LSTM(3)
    lstm.build((None, 2, 4))
    np.testing.assert_array_equal(lstm.bias.numpy(), [0] * 3 + [1] * 3 + [0] * 6)
    r = lstm.recurrent_kernel.numpy()  # (3, 12): orthogonal rows
    np.testing.assert_allclose(r @ r.T, np.eye(3), atol=1e-5)
    assert LSTM(3, unit_forget_bias=False).get_config()["unit_forget_bias"] is False
    no_forget = LSTM(3, unit_forget_bias=False)
    no_forget.build((None, 2, 4))
    assert not no_forget.bias.numpy().any()


def test_orthogonal_initializer():
    init = initializers.get("orthogonal")
    for shape in [(4, 4), (3, 8), (8, 3), (2, 2, 6)]:
        q = init(shape).reshape(-1, shape[-1])
        small = q @ q.T if q.shape[0] <= q.shape[1] else q.T @ q
        np.testing.assert_allclose(small, np.eye(min(q.shape)), atol=1e-5)
        assert init(shape).dtype == np.float32
    seeded = initializers.Orthogonal(gain=2.0, seed=3)
    np.testing.assert_array_equal(seeded((3, 3)), seeded((3, 3)))
    assert initializers.deserialize(initializers.serialize(seeded)).gain == 2.0
    with pytest.raises(ValueError, match="at least 2 axes"):
        init((3,))


# ------------------------------------------------------------------ errors
def test_argument_and_state_errors(rng):
    with pytest.raises(ValueError, match="'units' must be a positive integer"):
        LSTM(0)
    with pytest.raises(ValueError, match="'activation' must be one of"):
        SimpleRNN(3, activation="softmax")
    with pytest.raises(ValueError, match=r"expected 4 initial states \(the forward layer's 2"):
        Bidirectional(LSTM(3))(_x(rng), initial_state=[np.zeros((B, 3))] * 2)
    with pytest.raises(ValueError, match="merge_mode"):
        Bidirectional(LSTM(3), merge_mode="max")
    with pytest.raises(TypeError, match="SimpleRNN, LSTM or GRU"):
        Bidirectional(Dense(3))
    with pytest.raises(ValueError, match=r"expected a 3-D input \(batch, time, features\)"):
        LSTM(3)(np.zeros((2, 4)))
    with pytest.raises(ValueError, match=r"expected 2 initial state\(s\) \(\[h, c\]\)"):
        LSTM(3)(_x(rng), initial_state=[np.zeros((B, 3))])
    with pytest.raises(ValueError, match=r"initial state must have shape \(batch, units\)"):
        GRU(3)(_x(rng), initial_state=[np.zeros((B, 4))])


# ------------------------------------------------------------------ Embedding
def test_embedding_keeps_integer_ids_and_scatter_adds_gradients():
    emb = Embedding(5, 3)
    ids = np.array([[1, 2, 1], [4, 1, 0]])
    out = emb(ids)
    assert out.shape == (2, 3, 3) and out.dtype == np.float32
    np.testing.assert_array_equal(out.numpy()[0, 0], emb.embeddings.numpy()[1])
    out.sum().backward()
    counts = np.bincount(ids.ravel(), minlength=5)[:, None] * np.ones((1, 3))
    np.testing.assert_array_equal(emb.embeddings.grad, counts)  # token 1 appears 3 times
    # Floats holding whole numbers, as fit()/predict() pass them, give the same vectors.
    np.testing.assert_array_equal(emb(ids.astype(np.float32)).numpy(), out.numpy())
    assert emb.compute_output_shape((None, 7)) == (None, 7, 3)
    with pytest.raises(ValueError, match="token id 5 is out of range"):
        emb(np.array([[5]]))
    with pytest.raises(ValueError, match="whole numbers"):
        emb(np.array([[0.5]]))
    clone = Embedding.from_config(json.loads(json.dumps(emb.get_config())))
    assert clone.get_config() == emb.get_config()
    assert layers.get("Embedding") is Embedding


# ------------------------------------------------------------------ models: save, load, train
@pytest.mark.parametrize(
    "middle",
    [
        lambda: [SimpleRNN(4, return_sequences=True), GRU(3)],
        lambda: [LSTM(4, go_backwards=True)],
        lambda: [Bidirectional(GRU(3, return_sequences=True)), TimeDistributed(Dense(2)), LSTM(2)],
    ],
    ids=["simple_rnn-gru", "lstm", "bidirectional-time_distributed"],
)
def test_model_saves_and_loads_with_identical_predictions(tmp_path, rng, middle):
    model = Sequential([layers.Input((6,)), Embedding(10, 5), *middle(), Dense(2)])
    x = rng.integers(0, 10, (4, 6))
    before = model.predict(x)
    model.save(str(tmp_path / "m"))
    loaded = load_model(str(tmp_path / "m"))
    np.testing.assert_array_equal(loaded.predict(x), before)
    assert [type(layer).__name__ for layer in loaded.layers] == [
        type(layer).__name__ for layer in model.layers
    ]


def test_lstm_learns_with_clipnorm(rng):
    """Classify whether a sequence's sum is positive; clipnorm keeps every step bounded."""
    from glassnet import optimizers

    x = rng.standard_normal((64, 8, 1)).astype(np.float32)
    y = (x.sum(axis=(1, 2)) > 0).astype(np.int64)
    model = Sequential([layers.Input((8, 1)), LSTM(8), Dense(2, activation="softmax")])
    model.compile(optimizers.Adam(0.05, clipnorm=1.0), "sparse_categorical_crossentropy")
    first = model.evaluate(x, y, verbose=0)
    history = model.fit(x, y, epochs=30, batch_size=16, verbose=0)
    loss = history.history["loss"][-1]
    first = first if isinstance(first, float) else first[0]
    assert loss < 0.5 * first


# ------------------------------------------------------------------ padding masks
# mask rows: real steps then padding, padding then real steps, and a gap in the middle
_MASK = np.array([[1, 1, 0], [0, 1, 1]], dtype=bool)


def test_gradcheck_masked_recurrent_ops(rng):
    """A masked step keeps the state; its gradient passes straight back (every op, float64)."""
    b, t, f, u = 2, 3, 3, 2
    x, h0 = _f64(rng, b, t, f), _f64(rng, b, u)
    assert_gradcheck(
        lambda x, w, r, h: ops.simple_rnn(x, w, r, None, h, mask=_MASK),
        x, _f64(rng, f, u), _f64(rng, u, u), h0,
    )  # fmt: skip

    def lstm(x, w, r, bias, h, c):
        return ops.concat(ops.lstm(x, w, r, bias, h, c, mask=_MASK), axis=-1)

    assert_gradcheck(
        lstm, x, _f64(rng, f, 4 * u), _f64(rng, u, 4 * u), _f64(rng, 4 * u), h0, _f64(rng, b, u)
    )
    assert_gradcheck(
        lambda x, w, r, bias, h: ops.gru(x, w, r, bias, h, mask=_MASK),
        x, _f64(rng, f, 3 * u), _f64(rng, u, 3 * u), _f64(rng, 2, 3 * u), h0,
    )  # fmt: skip
    assert_gradcheck(
        lambda x, w, r, bias, h: ops.gru(x, w, r, bias, h, reset_after=False, mask=_MASK),
        x, _f64(rng, f, 3 * u), _f64(rng, u, 3 * u), _f64(rng, 3 * u), h0,
    )  # fmt: skip


@pytest.mark.parametrize("cls", [SimpleRNN, LSTM, GRU])
def test_masked_steps_keep_the_state(cls, rng):
    """Keras's recurrent layers with a mask: padding, before or after, changes nothing, and a
    masked step's output repeats the previous one."""
    layer = cls(U, return_sequences=True)
    x = _x(rng, b=1, t=4)
    alone = layer(x).numpy()
    padded = np.concatenate([np.zeros((1, 2, F), np.float32), x, np.zeros((1, 1, F))], axis=1)
    mask = np.array([[False, False, True, True, True, True, False]])
    out = layer(padded, mask=mask).numpy()
    np.testing.assert_allclose(out[:, 2:6], alone, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(out[:, :2], 0)  # the initial state, kept
    np.testing.assert_array_equal(out[:, 6], out[:, 5])
    last = cls(U)
    last.build((None, None, F))
    last.set_weights(layer.get_weights())
    np.testing.assert_allclose(last(padded, mask=mask).numpy(), alone[:, -1], rtol=1e-5)


def test_mask_from_embedding_reaches_lstm_and_gru_in_models(rng):
    """Embedding(mask_zero=True) -> LSTM in a Sequential and a functional model, a Bidirectional
    GRU and go_backwards: padded and unpadded sequences give the same outputs, in training too."""
    short, padded = np.array([[5, 3, 7]]), np.array([[5, 3, 7, 0, 0], [0, 0, 5, 3, 7]])
    for recurrent in (
        LSTM(U),
        Bidirectional(GRU(U)),
        LSTM(U, go_backwards=True),
    ):
        model = Sequential([Embedding(10, 4, mask_zero=True), recurrent])
        want = model.predict(short, verbose=0)
        np.testing.assert_allclose(
            model.predict(padded, verbose=0), np.repeat(want, 2, axis=0), rtol=1e-5, atol=1e-6
        )
    from glassnet import Input, Model

    inputs = Input((None,), dtype="int32")
    sequence = LSTM(U, return_sequences=True)(Embedding(10, 4, mask_zero=True)(inputs))
    model = Model(inputs, GRU(U)(sequence))  # the mask rides on through return_sequences
    np.testing.assert_allclose(
        model.predict(padded[:1], verbose=0), model.predict(short, verbose=0), rtol=1e-5
    )
    model.compile("adam", "mse")
    y = np.zeros((2, U), np.float32)
    # a replayed step takes each batch's own mask: the loss is the same as the graph's
    for _ in range(3):
        model.train_on_batch(padded, y)
    graph_loss = float(model.compute_loss(None, y, model(padded)).item())
    assert model.evaluate(padded, y, verbose=0) == pytest.approx(graph_loss, rel=1e-5)


def test_a_bad_mask_is_refused():
    with pytest.raises(ValueError, match=r"mask must have shape \(batch, time\) = \(1, 3\)"):
        LSTM(U)(np.zeros((1, 3, F), np.float32), mask=np.ones((1, 4), bool))
