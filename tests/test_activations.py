"""The activation registry (glassnet/activations.py): names to ops and back."""

from __future__ import annotations

import numpy as np
import pytest

import glassnet as gn
from glassnet import Tensor, activations, ops

NAMES = {
    "relu": ops.relu,
    "sigmoid": ops.sigmoid,
    "tanh": ops.tanh,
    "softmax": ops.softmax,
    "log_softmax": ops.log_softmax,
    "leaky_relu": ops.leaky_relu,
    "gelu": ops.gelu,
    "silu": ops.silu,
    "elu": ops.elu,
    "selu": ops.selu,
    "softplus": ops.softplus,
    "softsign": ops.softsign,
    "mish": ops.mish,
    "relu6": ops.relu6,
    "hard_sigmoid": ops.hard_sigmoid,
    "hard_silu": ops.hard_silu,
    "exponential": ops.exp,
}


@pytest.mark.parametrize(("name", "fn"), NAMES.items())
def test_names_map_to_the_ops(name, fn):
    assert activations.get(name) is fn
    assert activations.serialize(fn) == name
    assert activations.deserialize(name) is fn


@pytest.mark.parametrize(("alias", "name"), [("swish", "silu"), ("hard_swish", "hard_silu")])
def test_keras_second_names_load_and_save_as_the_first(alias, name):
    fn = activations.get(alias)
    assert fn is activations.get(name) is getattr(activations, alias) is getattr(activations, name)
    assert activations.serialize(fn) == name  # Keras 3 writes "silu" for swish too


def test_named_activations_in_a_saved_dense_model(tmp_path, rng):
    names = [n for n in NAMES if n not in ("softmax", "log_softmax")] + ["swish", "hard_swish"]
    inputs = gn.layers.Input((4,))
    outputs = [gn.layers.Dense(3, activation=n, name=f"d_{n}")(inputs) for n in names]
    model = gn.Model(inputs, gn.layers.concatenate(outputs))
    x = rng.standard_normal((5, 4)).astype(np.float32)
    model.save(str(tmp_path / "m.glassnet"))
    again = gn.load_model(str(tmp_path / "m.glassnet"))
    np.testing.assert_allclose(again.predict(x), model.predict(x), rtol=1e-6, atol=1e-6)
    saved = {layer.name: layer.get_config()["activation"] for layer in again.layers[1:-1]}
    assert saved["d_swish"] == "silu" and saved["d_hard_swish"] == "hard_silu"
    assert saved["d_selu"] == "selu" and saved["d_exponential"] == "exponential"


def test_none_and_linear_are_the_identity():
    x = Tensor(np.array([-1.0, 2.0], np.float32))
    assert activations.get(None) is activations.linear
    assert activations.get("linear")(x) is x
    assert activations.serialize(activations.get(None)) == "linear"


def test_callables_pass_through_and_names_ignore_case():
    def double(x):
        return x * 2

    assert activations.get(double) is double
    assert activations.get("ReLU") is ops.relu


def test_values(rng):
    x = rng.standard_normal((3, 4)).astype(np.float32)
    t = Tensor(x)
    np.testing.assert_allclose(activations.get("relu")(t).numpy(), np.maximum(x, 0))
    np.testing.assert_allclose(activations.get("tanh")(t).numpy(), np.tanh(x), rtol=1e-6)
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    np.testing.assert_allclose(
        activations.get("softmax")(t).numpy(), e / e.sum(-1, keepdims=True), rtol=1e-6
    )
    leaky = activations.get("leaky_relu")(t).numpy()
    np.testing.assert_allclose(leaky, np.where(x > 0, x, 0.2 * x), rtol=1e-6)  # Keras's 0.2


def test_unknown_names_and_bad_kinds():
    with pytest.raises(ValueError, match=r"Unknown activation: 'swishy'. Known activations: relu"):
        activations.get("swishy")
    with pytest.raises(TypeError, match="activations.get: expected a name"):
        activations.get(3)
    with pytest.raises(ValueError, match="is not a named activation, so it cannot be saved"):
        activations.serialize(lambda x: x)
