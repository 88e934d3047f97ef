"""Lambda and register_lambda (glassnet/layers/lambda_layer.py): a function as a layer, saved
by its registered name only."""

from __future__ import annotations

import numpy as np
import pytest

import glassnet as gn
from glassnet import layers, ops
from glassnet.models import replay
from glassnet.models.saving import ModelFileError
from tests.helpers import assert_gradcheck


@layers.register_lambda("test_lambda_softsign")
def _softsign(x):
    return x / (ops.abs(x) + 1.0)


@layers.register_lambda("test_lambda_pair_sum")
def _pair_sum(xs):
    return ops.concat([xs[0] + xs[1], xs[0] * xs[1]], axis=-1)


def test_lambda_runs_the_function_and_finds_its_output_shape(rng):
    x = rng.standard_normal((3, 4)).astype(np.float32)
    layer = layers.Lambda(_softsign)
    np.testing.assert_allclose(layer(x).numpy(), x / (np.abs(x) + 1), rtol=1e-6)
    assert layer.compute_output_shape((None, 4)) == (None, 4)
    pair = layers.Lambda(_pair_sum)
    a, b = rng.standard_normal((2, 2, 3)).astype(np.float32)
    np.testing.assert_allclose(pair([a, b]).numpy(), np.concatenate([a + b, a * b], -1))
    assert pair.compute_output_shape([(None, 3), (None, 3)]) == (None, 6)
    flat = layers.Lambda(lambda t: t.reshape(t.shape[0], -1), output_shape=(12,))
    assert flat.compute_output_shape((None, 3, 4)) == (None, 12)


def test_lambda_gradcheck(rng):
    assert_gradcheck(lambda t: layers.Lambda(_softsign)(t), rng.standard_normal((2, 5)))
    assert_gradcheck(lambda a, b: layers.Lambda(_pair_sum)([a, b]), *rng.standard_normal((2, 1, 3)))


def test_a_registered_lambda_saves_its_name_and_loads_back(tmp_path, rng):
    model = gn.Sequential(
        [layers.Input((4,)), layers.Lambda("test_lambda_softsign"), layers.Dense(2)]
    )
    config = model.layers[0].get_config()
    assert config["function"] == "test_lambda_softsign" and config["output_shape"] is None
    x = rng.standard_normal((3, 4)).astype(np.float32)
    model.save(str(tmp_path / "m.glassnet"))
    text = (tmp_path / "m.glassnet" / "config.json").read_text()
    assert '"function": "test_lambda_softsign"' in text
    loaded = gn.load_model(str(tmp_path / "m.glassnet"))
    assert loaded.layers[0].function is _softsign
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))


def test_an_unregistered_lambda_refuses_to_save_and_says_how(tmp_path):
    def double(x):
        return x * 2

    model = gn.Sequential(
        [layers.Input((4,)), layers.Lambda(double, name="twice"), layers.Dense(2)]
    )
    model(np.zeros((1, 4), np.float32))  # it works like any layer
    with pytest.raises(
        NotImplementedError, match=r"twice.*never carries code.*register_lambda\(\"double\"\)"
    ):
        model.save(str(tmp_path / "m.glassnet"))
    assert "Lambda(" in repr(model.layers[0])  # printing does not need the config


def test_loading_a_lambda_whose_name_is_not_registered_fails_clearly(tmp_path):
    @layers.register_lambda("test_lambda_temporary")
    def plus_one(x):
        return x + 1.0

    model = gn.Sequential([layers.Input((2,)), layers.Lambda(plus_one)])
    model.save(str(tmp_path / "m.glassnet"))
    from glassnet.layers import lambda_layer

    del lambda_layer._LAMBDAS["test_lambda_temporary"]
    with pytest.raises(
        ModelFileError, match=r"no function is registered as 'test_lambda_temporary'"
    ):
        gn.load_model(str(tmp_path / "m.glassnet"))


def test_lambda_errors_a_user_can_cause():
    with pytest.raises(TypeError, match="Lambda: 'function' must be a function"):
        layers.Lambda(3)
    with pytest.raises(ValueError, match="Lambda: 'output_shape' must be a tuple"):
        layers.Lambda(_softsign, output_shape=(0,))
    with pytest.raises(TypeError, match="register_lambda: 'name' must be a non-empty string"):
        layers.register_lambda("")
    with pytest.raises(TypeError, match=r"register_lambda\('x'\): expected a function"):
        layers.register_lambda("x")(42)
    with pytest.raises(TypeError, match="lambda.*must return a Tensor made by glassnet ops"):
        layers.Lambda(lambda t: np.tanh(t.numpy()))(np.ones((1, 2), np.float32))


def _train(jit):
    gn.set_seed(0)
    model = gn.Sequential(
        [layers.Input((4,)), layers.Dense(5), layers.Lambda(_softsign), layers.Dense(3)]
    )
    model.compile(gn.optimizers.SGD(0.1), "sparse_categorical_crossentropy")
    model.jit_compile = jit
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((24, 4)).astype(np.float32), rng.integers(0, 3, 24)
    model.fit(x, y, batch_size=8, epochs=2, verbose=0)
    return model


def test_replayed_training_through_a_lambda_is_the_graphs(monkeypatch):
    graph = _train(False)
    replayed = []
    real = replay._replayed
    monkeypatch.setattr(replay, "_replayed", lambda *a: replayed.append(1) or real(*a))
    model = _train(True)
    assert replayed and all(entry.tape is not None for entry in model._replays.values())
    for ours, theirs in zip(model.weights, graph.weights, strict=True):
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
