"""Input, Dense, Activation and Dropout (glassnet/layers/core.py)."""

from __future__ import annotations

import numpy as np
import pytest

from glassnet import Tensor, initializers, layers, ops
from glassnet.backend import manual_seed
from glassnet.gradcheck import gradcheck
from tests.helpers import FORWARD_TOL, GRAD_TOL
from tests.layers.layer_checks import run_layer_test


# ------------------------------------------------------------------ Input
def test_input_is_a_symbolic_tensor_of_an_input_layer():
    """Keras 3: Input returns a KerasTensor; its InputLayer holds the shape and checks data."""
    inp = layers.Input((28, 28, 1))
    assert isinstance(inp, layers.KerasTensor)
    assert inp.shape == (None, 28, 28, 1) and inp.ndim == 4 and inp.dtype == "float32"
    assert isinstance(inp.layer, layers.InputLayer) and inp.layer.output is inp
    assert layers.Input((4,), batch_size=8).shape == (8, 4)
    assert layers.Input(5).shape == (None, 5)
    with pytest.raises(TypeError, match="is symbolic: it holds no numbers"):
        np.asarray(inp)


def test_input_layer_shape_and_identity():
    inp = layers.InputLayer((28, 28, 1))
    assert inp.shape == (None, 28, 28, 1)
    assert inp.built and inp.weights == [] and inp.count_params() == 0
    x = Tensor(np.ones((2, 28, 28, 1), np.float32))
    assert inp(x) is x
    assert inp.compute_output_shape((None, 28, 28, 1)) == (None, 28, 28, 1)
    assert inp.compute_output_shape((None, None, 28, 1)) == (None, 28, 28, 1)


def test_input_config_round_trip():
    inp = layers.InputLayer((None, 3), batch_size=2, name="pixels")
    clone = layers.deserialize(layers.serialize(inp))
    assert isinstance(clone, layers.InputLayer)
    assert clone.shape == (2, None, 3) and clone.name == "pixels"


def test_input_rejects_wrong_data():
    inp = layers.InputLayer((28, 28, 1), name="images")
    with pytest.raises(ValueError, match=r"InputLayer 'images': expected input shape \(None, 28"):
        inp(np.zeros((2, 28, 28, 3)))
    with pytest.raises(ValueError, match="expected a 4-D input"):
        inp(np.zeros((28, 28, 1)))


@pytest.mark.parametrize("shape", [(0, 3), (-1,), "28", (2.5,)])
def test_input_rejects_bad_shape(shape):
    with pytest.raises(ValueError, match="InputLayer: 'shape' must be a tuple of positive"):
        layers.Input(shape)


def test_input_rejects_bad_batch_size():
    with pytest.raises(ValueError, match="'batch_size' must be a positive integer"):
        layers.Input((3,), batch_size=0)


# ------------------------------------------------------------------ Dense
@pytest.mark.parametrize(
    ("kwargs", "input_shape", "output_shape", "weights", "params"),
    [
        ({"units": 3}, (4, 5), (4, 3), 2, 18),
        ({"units": 3, "use_bias": False}, (4, 5), (4, 3), 1, 15),
        ({"units": 2, "activation": "relu"}, (2, 3, 4), (2, 3, 2), 2, 10),  # leading axes kept
        (
            {"units": 1, "activation": "sigmoid", "kernel_initializer": "he_normal"},
            (1, 1),
            (1, 1),
            2,
            2,
        ),
    ],
)
def test_dense_layer_checks(kwargs, input_shape, output_shape, weights, params):
    run_layer_test(
        layers.Dense,
        kwargs,
        input_shape=input_shape,
        expected_output_shape=output_shape,
        expected_num_weights=weights,
        expected_num_trainable_weights=weights,
        expected_num_params=params,
    )


def test_dense_weights_layout_and_maths(rng):
    dense = layers.Dense(3, activation="tanh")
    x = rng.standard_normal((4, 5)).astype(np.float32)
    y = dense(x)
    assert dense.kernel.shape == (5, 3) and dense.bias.shape == (3,)
    assert [w.name for w in dense.weights] == [f"{dense.name}/kernel", f"{dense.name}/bias"]
    np.testing.assert_array_equal(dense.bias.numpy(), np.zeros(3, np.float32))
    expected = np.tanh(x @ dense.kernel.numpy() + dense.bias.numpy())
    np.testing.assert_allclose(y.numpy(), expected, **FORWARD_TOL)


def test_dense_gradcheck_float64(rng):
    dense = layers.Dense(3, activation="tanh", bias_initializer="random_normal")
    x = rng.standard_normal((2, 4))
    dense(x)
    report = gradcheck(lambda t: dense(t), x, params=dense.parameters())
    assert report.passed, f"\n{report}"
    assert dense.kernel.dtype == np.float32  # gradcheck restores the float32 weights


def test_dense_matches_torch_linear(torch, rng):
    dense = layers.Dense(4)
    x = rng.standard_normal((6, 5)).astype(np.float32)
    dense(x)
    linear = torch.nn.Linear(5, 4)
    with torch.no_grad():  # Keras kernel (in, out) is PyTorch weight (out, in) transposed
        linear.weight.copy_(torch.tensor(dense.kernel.numpy().T))
        linear.bias.copy_(torch.tensor(dense.bias.numpy()))
    r = rng.standard_normal((6, 4)).astype(np.float32)

    xt = Tensor(x, requires_grad=True)
    (dense(xt) * r).sum().backward()
    xr = torch.tensor(x, requires_grad=True)
    out = linear(xr)
    (out * torch.tensor(r)).sum().backward()

    np.testing.assert_allclose(dense(x).numpy(), out.detach().numpy(), **FORWARD_TOL)
    np.testing.assert_allclose(xt.grad, xr.grad.numpy(), **GRAD_TOL)
    np.testing.assert_allclose(dense.kernel.grad, linear.weight.grad.numpy().T, **GRAD_TOL)
    np.testing.assert_allclose(dense.bias.grad, linear.bias.grad.numpy(), **GRAD_TOL)


def test_dense_shape_errors():
    dense = layers.Dense(10, name="dense")
    dense.build((None, 512))
    message = (
        r"Dense 'dense': input \(32, 784\) does not match kernel \(512, 10\): last input axis "
        r"must be 512. Did you forget Flatten\(\)\?"
    )
    with pytest.raises(ValueError, match=message):
        dense(np.zeros((32, 784)))
    with pytest.raises(ValueError, match=r"input \(None, 784\) does not match kernel"):
        dense.compute_output_shape((None, 784))
    with pytest.raises(ValueError, match=r"Dense 'dense': expected an at least 2-D input"):
        dense(np.zeros(512))
    with pytest.raises(ValueError, match="last axis of the input must be known"):
        layers.Dense(2).build((None, None))


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"units": 0}, ValueError, r"Dense: 'units' must be a positive integer. Received: units=0"),
        ({"units": -3}, ValueError, "Received: units=-3"),
        ({"units": 2.0}, TypeError, "'units' must be a positive integer"),
        ({"units": "8"}, TypeError, "Received: units='8'"),
        ({"units": True}, TypeError, "'units' must be a positive integer"),
        ({"units": 2, "use_bias": 1}, TypeError, "'use_bias' must be True or False"),
        ({"units": 2, "activation": "relux"}, ValueError, "Unknown activation: 'relux'"),
        ({"units": 2, "kernel_initializer": "glorot"}, ValueError, "Unknown initializer"),
        ({"units": 2, "trainable": "yes"}, TypeError, "'trainable' must be True or False"),
        ({"units": 2, "name": "a.b"}, ValueError, "'name' must be a non-empty string"),
    ],
)
def test_dense_argument_errors(kwargs, error, match):
    with pytest.raises(error, match=match):
        layers.Dense(**kwargs)


def test_dense_config_keeps_initializer_arguments():
    dense = layers.Dense(
        2, kernel_initializer=initializers.RandomNormal(stddev=0.5, seed=3), name="head"
    )
    config = dense.get_config()
    assert config["kernel_initializer"] == {
        "class_name": "RandomNormal",
        "config": {"mean": 0.0, "stddev": 0.5, "seed": 3},
    }
    assert config["bias_initializer"] == "zeros" and config["activation"] == "linear"
    clone = layers.Dense.from_config(config)
    clone.build((None, 3))
    dense.build((None, 3))
    np.testing.assert_array_equal(clone.kernel.numpy(), dense.kernel.numpy())  # same seed


def test_dense_custom_activation_cannot_be_saved():
    dense = layers.Dense(2, activation=lambda x: x * 2)
    assert dense(np.ones((1, 3))).shape == (1, 2)
    with pytest.raises(ValueError, match="is not a named activation"):
        dense.get_config()


def test_dense_weights_follow_manual_seed():
    manual_seed(7)
    a = layers.Dense(4)
    a.build((None, 3))
    manual_seed(7)
    b = layers.Dense(4)
    b.build((None, 3))
    np.testing.assert_array_equal(a.kernel.numpy(), b.kernel.numpy())


# ------------------------------------------------------------------ Activation
@pytest.mark.parametrize("name", ["relu", "sigmoid", "tanh", "softmax", "leaky_relu", "linear"])
def test_activation_layer_checks(name):
    run_layer_test(
        layers.Activation, {"activation": name}, input_shape=(3, 4), expected_output_shape=(3, 4)
    )


def test_activation_layer_applies_the_function(rng):
    x = rng.standard_normal((2, 5)).astype(np.float32)
    y = layers.Activation("sigmoid")(x)
    np.testing.assert_allclose(y.numpy(), 1 / (1 + np.exp(-x)), **FORWARD_TOL)
    assert layers.Activation(None)(Tensor(x)).numpy() is not None
    with pytest.raises(ValueError, match="Unknown activation: 'swish_x'"):
        layers.Activation("swish_x")


# ------------------------------------------------------------------ Dropout
def test_dropout_layer_checks():
    run_layer_test(layers.Dropout, {"rate": 0.5}, input_shape=(4, 6), expected_output_shape=(4, 6))
    run_layer_test(
        layers.Dropout,
        {"rate": 0.5, "seed": 1},
        input_shape=(4, 6),
        training=True,
        deterministic=False,
    )


def test_dropout_is_identity_at_inference():
    x = Tensor(np.ones((3, 4), np.float32))
    drop = layers.Dropout(0.5)
    assert drop(x) is x
    assert drop.eval()(x) is x
    assert drop(x, training=False) is x


def test_dropout_in_training_drops_and_rescales():
    drop = layers.Dropout(0.25, seed=0).train()
    y = drop(np.ones((200, 100), np.float32)).numpy()
    kept = y != 0
    np.testing.assert_allclose(y[kept], 1 / 0.75, rtol=1e-6)
    assert abs(kept.mean() - 0.75) < 0.01


def test_dropout_seed_and_manual_seed_repeat_masks():
    x = np.ones((8, 8), np.float32)
    a = layers.Dropout(0.5, seed=3)(x, training=True).numpy()
    b = layers.Dropout(0.5, seed=3)(x, training=True).numpy()
    np.testing.assert_array_equal(a, b)
    manual_seed(11)
    c = layers.Dropout(0.5)(x, training=True).numpy()
    manual_seed(11)
    d = layers.Dropout(0.5)(x, training=True).numpy()
    np.testing.assert_array_equal(c, d)
    seeded = layers.Dropout(0.5, seed=3)
    first, second = seeded(x, training=True).numpy(), seeded(x, training=True).numpy()
    assert not np.array_equal(first, second)  # one generator per layer, advancing


def test_dropout_gradient_uses_the_mask():
    x = Tensor(np.ones((4, 5), np.float32), requires_grad=True)
    y = layers.Dropout(0.5, seed=0)(x, training=True)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad, y.numpy())


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"rate": 1.0}, ValueError, r"Dropout: 'rate' must be in \[0.0, 1.0\). Received: rate=1.0"),
        ({"rate": -0.1}, ValueError, "'rate' must be in"),
        ({"rate": "0.5"}, TypeError, "'rate' must be a finite number"),
        ({"rate": 0.5, "seed": 1.5}, TypeError, "'seed' must be a non-negative integer or None"),
    ],
)
def test_dropout_argument_errors(kwargs, error, match):
    with pytest.raises(error, match=match):
        layers.Dropout(**kwargs)


def test_dropout_uses_ops_dropout_contract():
    # A rate of 0 is the identity even in training (no mask drawn).
    x = Tensor(np.ones((2, 2), np.float32))
    assert layers.Dropout(0.0)(x, training=True) is x
    assert ops.dropout(x, 0.0) is x


def test_dropout_noise_shape_shares_a_draw_along_the_axes_of_size_one(tmp_path):
    """Keras's noise_shape: (None, 1, 4) drops the same features at every time step."""
    layer = layers.Dropout(0.5, seed=3, noise_shape=(None, 1, 4))
    x = np.ones((3, 6, 4), np.float32)
    y = layer(x, training=True).numpy()
    np.testing.assert_array_equal(y, np.broadcast_to(y[:, :1, :], y.shape))
    assert set(np.unique(y)) <= {0.0, 2.0} and 0 < (y == 0).mean() < 1
    np.testing.assert_array_equal(layer(x).numpy(), x)  # inference: untouched
    clone = layers.deserialize(layers.serialize(layer))
    assert clone.noise_shape == (None, 1, 4)
    with pytest.raises(ValueError, match="Dropout: 'noise_shape' must be a tuple"):
        layers.Dropout(0.5, noise_shape=(None, 0))


# ------------------------------------------------------------------ Masking
def test_masking_marks_padded_steps_and_zeroes_them():
    """Keras's Masking: steps whose features all equal mask_value are padding."""
    x = np.array([[[1.0, 2.0], [0.0, 0.0], [0.0, 3.0]], [[-1.0, -1.0], [4.0, 4.0], [0, 0]]])
    out = layers.Masking()(x.astype(np.float32))
    assert out._keras_mask.numpy().tolist() == [[True, False, True], [True, True, False]]
    out = layers.Masking(mask_value=-1.0)(x.astype(np.float32))
    assert out._keras_mask.numpy().tolist() == [[True, True, True], [False, True, True]]
    np.testing.assert_array_equal(out.numpy()[1, 0], [0.0, 0.0])  # a padding step: zeros
    np.testing.assert_array_equal(out.numpy()[0], x[0])
    # gradients reach the real steps only
    t = Tensor(x, requires_grad=True)
    layers.Masking()(t).sum().backward()
    np.testing.assert_array_equal(t.grad[:, :, 0], [[1, 0, 1], [1, 1, 0]])
    run_layer_test(layers.Masking, {"mask_value": 0.5}, input_shape=(2, 3, 4),
                   expected_output_shape=(2, 3, 4))  # fmt: skip
    with pytest.raises(TypeError, match="mask_value"):
        layers.Masking(mask_value="zero")


def test_masking_in_front_of_an_lstm_skips_the_padding():
    import glassnet

    model = glassnet.Sequential([glassnet.Input((None, 2)), layers.Masking(), layers.LSTM(3)])
    x = np.random.default_rng(0).standard_normal((1, 3, 2)).astype(np.float32)
    padded = np.concatenate([x, np.zeros((1, 2, 2), np.float32)], axis=1)
    np.testing.assert_allclose(
        model.predict(padded, verbose=0), model.predict(x, verbose=0), rtol=1e-5
    )
    clone = glassnet.Sequential.from_config(model.get_config())
    assert clone.layers[0].mask_value == 0.0
