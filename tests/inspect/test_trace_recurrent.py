"""trace of a recurrent unit: its state over time, per step its gates and update, equal to what
the layer computes."""

from __future__ import annotations

import numpy as np
import pytest

import glassnet as gn
from glassnet import inspect, layers
from glassnet.inspect.trace import RecurrentTrace, _num

T, F, U = 5, 3, 4


def _sigmoid(a):
    return 1 / (1 + np.exp(-a))


def _model(layer, seed=0):
    gn.set_seed(seed)
    model = gn.Sequential([layers.Input((T, F)), layer])
    rng = np.random.default_rng(seed)
    for w in model.weights:
        w.data[...] = rng.uniform(-0.7, 0.7, w.shape)
    return model


def _x(seed=1):
    return np.random.default_rng(seed).normal(size=(T, F)).astype(np.float32)


CASES = [
    ("SimpleRNN", {}),
    ("SimpleRNN", {"activation": "relu", "go_backwards": True}),
    ("LSTM", {}),
    ("LSTM", {"go_backwards": True, "use_bias": False}),
    ("GRU", {}),
    ("GRU", {"go_backwards": True, "recurrent_activation": "tanh"}),
    ("GRU", {"reset_after": False}),
    ("GRU", {"reset_after": False, "go_backwards": True, "use_bias": False}),
]


@pytest.mark.parametrize(("kind", "kwargs"), CASES)
@pytest.mark.parametrize("k", [0, 3])
def test_states_equal_the_layers_output_sequence(kind, kwargs, k):
    model = _model(getattr(layers, kind)(U, return_sequences=True, name="rnn", **kwargs))
    x = _x()
    result = inspect.trace(model, x, layer="rnn", unit=k)
    assert isinstance(result, RecurrentTrace)
    sequence = model.predict(x[None])[0]  # (T, U), in the order the layer returns it
    assert len(result.steps) == T
    np.testing.assert_allclose(result.states, sequence[:, k], atol=1e-5)
    assert result.output == pytest.approx(float(sequence[-1, k]), abs=1e-7)
    expected_order = list(range(T))[::-1] if kwargs.get("go_backwards") else list(range(T))
    assert [s.x_index for s in result.steps] == expected_order
    text = str(result)
    assert f"{kind} 'rnn', unit {k}, over {T} steps:" in text
    for step in result.steps:  # every state is printed as the result of its step's line
        assert f"t={step.t} (x[{step.x_index}]): " in text
        assert step.text.endswith(f"= {_num(step.state)}")


def test_last_state_only_layer():
    model = _model(layers.GRU(U, name="gru"))
    x = _x(2)
    result = inspect.trace(model, x, layer="gru", unit=1)
    assert result.output == pytest.approx(float(model.predict(x[None])[0, 1]), abs=1e-6)
    assert result.states[-1] == pytest.approx(result.output, abs=1e-5)


def test_simple_rnn_step_is_the_textbook_formula():
    """h_t[k] = tanh(x_t·W[:,k] + b[k] + h_{t−1}·U[:,k]), with its numbers."""
    model = _model(layers.SimpleRNN(U, return_sequences=True, name="rnn"))
    layer = model.get_layer("rnn")
    W, Ur, b = (w.astype(np.float64) for w in layer.get_weights())
    x = _x(3).astype(np.float64)
    result = inspect.trace(model, x, layer="rnn", unit=2)
    h = np.zeros(U)
    for t, step in enumerate(result.steps):
        a, r = x[t] @ W[:, 2] + b[2], h @ Ur[:, 2]
        assert step.pre["h"] == pytest.approx(a + r, abs=1e-9)
        assert step.text.startswith(f"h[2] = tanh({_num(a)} + ")
        h = np.tanh(x[t] @ W + h @ Ur + b)
        assert step.state == pytest.approx(h[2], abs=1e-9)
    assert "h_t[2] = tanh(x_t·W[:, 2] + h_{t−1}·U[:, 2] + b[2])" in str(result)


def test_lstm_gates_and_cell_by_hand():
    model = _model(layers.LSTM(U, return_sequences=True, name="lstm"))
    W, Ur, b = (w.astype(np.float64) for w in model.get_layer("lstm").get_weights())
    x = _x(4).astype(np.float64)
    k = 1
    result = inspect.trace(model, x, layer="lstm", unit=k)
    h, c = np.zeros(U), np.zeros(U)
    for t, step in enumerate(result.steps):
        z = x[t] @ W + h @ Ur + b
        i, f, g, o = (z[j * U : (j + 1) * U] for j in range(4))
        i, f, g, o = _sigmoid(i), _sigmoid(f), np.tanh(g), _sigmoid(o)
        c = f * c + i * g
        h = o * np.tanh(c)
        for name, v in (("i", i), ("f", f), ("c~", g), ("o", o)):
            assert step.gates[name] == pytest.approx(v[k], abs=1e-9)
        assert step.cell == pytest.approx(c[k], abs=1e-9)
        assert step.state == pytest.approx(h[k], abs=1e-9)
        assert f"c[{k}] = f·c + i·c~ = " in step.text
    np.testing.assert_allclose(result.cells[-1], c[k])


def test_gru_gates_by_hand():
    model = _model(layers.GRU(U, return_sequences=True, name="gru"))
    W, Ur, b = (w.astype(np.float64) for w in model.get_layer("gru").get_weights())
    x = _x(5).astype(np.float64)
    k = 3
    result = inspect.trace(model, x, layer="gru", unit=k)
    h = np.zeros(U)
    for step, xt in zip(result.steps, x, strict=True):
        xw, hu = xt @ W + b[0], h @ Ur + b[1]
        z = _sigmoid(xw[:U] + hu[:U])
        r = _sigmoid(xw[U : 2 * U] + hu[U : 2 * U])
        hh = np.tanh(xw[2 * U :] + r * hu[2 * U :])
        h = z * h + (1 - z) * hh
        assert step.gates == pytest.approx({"z": z[k], "r": r[k], "h~": hh[k]}, abs=1e-9)
        assert step.state == pytest.approx(h[k], abs=1e-9)
    assert result.cells is None


def test_bidirectional_halves_are_traced_by_their_names():
    gn.set_seed(0)
    model = gn.Sequential(
        [layers.Input((T, F)), layers.Bidirectional(layers.LSTM(U, return_sequences=True))]
    )
    bi = model.layers[-1]
    x = _x(6)
    out = model.predict(x[None])[0]
    forward = inspect.trace(model, x, layer=bi.forward_layer.name, unit=0)
    backward = inspect.trace(model, x, layer=bi.backward_layer, unit=0)
    np.testing.assert_allclose(forward.states, out[:, 0], atol=1e-5)
    np.testing.assert_allclose(backward.states[::-1], out[:, U], atol=1e-5)  # time order


def test_bad_unit_is_a_clear_error():
    model = _model(layers.SimpleRNN(U, name="rnn"))
    with pytest.raises(ValueError, match=r"units 0\.\.3"):
        inspect.trace(model, _x(), layer="rnn", unit=U)
