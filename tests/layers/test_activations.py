"""ReLU, LeakyReLU, Softmax, ELU and PReLU as layers (glassnet/layers/activations.py)."""

from __future__ import annotations

import numpy as np
import pytest

import glassnet as gn
from glassnet import Sequential, Tensor, layers, optimizers, regularizers
from glassnet.gradcheck import gradcheck
from glassnet.models.summary import param_formula
from tests.helpers import FORWARD_TOL, GRAD_TOL
from tests.layers.layer_checks import run_layer_test


@pytest.mark.parametrize(
    ("cls", "kwargs"),
    [
        (layers.ReLU, {}),
        (layers.ReLU, {"max_value": 1.0, "negative_slope": 0.1, "threshold": 0.5}),
        (layers.LeakyReLU, {}),
        (layers.LeakyReLU, {"negative_slope": 0.01}),
        (layers.Softmax, {}),
        (layers.Softmax, {"axis": 1}),
    ],
)
def test_activation_layers_layer_checks(cls, kwargs):
    run_layer_test(cls, kwargs, input_shape=(2, 3, 4), expected_output_shape=(2, 3, 4))


def test_relu_variants_follow_keras_formula():
    x = np.array([[-2.0, -0.5, 0.0, 0.5, 1.0, 3.0, 8.0]], np.float32)
    np.testing.assert_array_equal(layers.ReLU()(x).numpy(), np.maximum(x, 0))
    y = layers.ReLU(max_value=6.0, negative_slope=0.1, threshold=1.0)(x).numpy()
    expected = np.where(x >= 1.0, np.minimum(x, 6.0), 0.1 * (x - 1.0))
    np.testing.assert_allclose(y, expected, **FORWARD_TOL)


def test_leaky_relu_default_slope_is_keras_03():
    assert layers.LeakyReLU().negative_slope == 0.3
    y = layers.LeakyReLU()(np.array([[-1.0, 2.0]], np.float32)).numpy()
    np.testing.assert_allclose(y, [[-0.3, 2.0]], **FORWARD_TOL)


@pytest.mark.parametrize("slope", [0.01, 0.3])
def test_leaky_relu_matches_torch(torch, rng, slope):
    x = rng.standard_normal((3, 5)).astype(np.float32)
    xt = Tensor(x, requires_grad=True)
    y = layers.LeakyReLU(slope)(xt)
    y.sum().backward()
    xr = torch.tensor(x, requires_grad=True)
    out = torch.nn.functional.leaky_relu(xr, slope)
    out.sum().backward()
    np.testing.assert_allclose(y.numpy(), out.detach().numpy(), **FORWARD_TOL)
    np.testing.assert_allclose(xt.grad, xr.grad.numpy(), **GRAD_TOL)


def test_softmax_layer_sums_to_one_along_axis(rng):
    x = rng.standard_normal((2, 3, 4)).astype(np.float32)
    np.testing.assert_allclose(layers.Softmax()(x).numpy().sum(axis=-1), 1, rtol=1e-6)
    np.testing.assert_allclose(layers.Softmax(axis=1)(x).numpy().sum(axis=1), 1, rtol=1e-6)
    with pytest.raises(ValueError, match=r"Softmax 's': expected an at least 3-D input"):
        layers.Softmax(axis=2, name="s")(np.zeros((2, 3)))


@pytest.mark.parametrize(
    ("cls", "kwargs", "error", "match"),
    [
        (
            layers.ReLU,
            {"max_value": -1.0},
            ValueError,
            r"ReLU: 'max_value' must be in \[0.0, inf\)",
        ),
        (layers.ReLU, {"negative_slope": -0.1}, ValueError, "'negative_slope' must be in"),
        (layers.ReLU, {"threshold": "0"}, TypeError, "'threshold' must be a finite number"),
        (
            layers.LeakyReLU,
            {"negative_slope": float("nan")},
            TypeError,
            "LeakyReLU: 'negative_slope'",
        ),
        (layers.Softmax, {"axis": None}, TypeError, "Softmax: 'axis' must be an integer"),
    ],
)
def test_activation_layer_argument_errors(cls, kwargs, error, match):
    with pytest.raises(error, match=match):
        cls(**kwargs)


# ------------------------------------------------------------------ ELU and PReLU
@pytest.mark.parametrize(
    ("cls", "kwargs", "input_shape", "params"),
    [
        (layers.ELU, {}, (2, 3, 4), 0),
        (layers.ELU, {"alpha": 0.5}, (1, 1), 0),
        (layers.PReLU, {}, (2, 3, 4), 3 * 4),
        (layers.PReLU, {"alpha_initializer": "ones"}, (1, 1), 1),  # batch 1, one feature
        (layers.PReLU, {"shared_axes": [1, 2]}, (2, 3, 4, 5), 5),  # one alpha per channel
        (layers.PReLU, {"shared_axes": 2, "alpha_regularizer": "l2"}, (2, 3, 4), 3),
        (
            layers.PReLU,
            {"alpha_initializer": "random_normal", "alpha_constraint": "non_neg"},
            (2, 6),
            6,
        ),
    ],
)
def test_elu_and_prelu_layer_checks(cls, kwargs, input_shape, params):
    run_layer_test(
        cls,
        kwargs,
        input_shape=input_shape,
        expected_output_shape=input_shape,
        expected_num_weights=1 if params else 0,
        expected_num_params=params,
    )


def test_elu_layer_formula_and_torch(torch, rng):
    x = rng.standard_normal((3, 5)).astype(np.float32) * 3
    np.testing.assert_allclose(
        layers.ELU(0.5)(x).numpy(), np.where(x > 0, x, 0.5 * np.expm1(x)), **FORWARD_TOL
    )
    xt = Tensor(x, requires_grad=True)
    y = layers.ELU(0.5)(xt)
    y.sum().backward()
    xr = torch.tensor(x, requires_grad=True)
    out = torch.nn.ELU(alpha=0.5)(xr)
    out.sum().backward()
    np.testing.assert_allclose(y.numpy(), out.detach().numpy(), **FORWARD_TOL)
    np.testing.assert_allclose(xt.grad, xr.grad.numpy(), **GRAD_TOL)


def test_prelu_weight_shape_keras_formula_and_start():
    images = layers.PReLU(shared_axes=[1, 2])
    images.build((None, 6, 7, 8))
    assert images.alpha.shape == (1, 1, 8)
    full = layers.PReLU()
    full.build((None, 6, 7, 8))
    assert full.alpha.shape == (6, 7, 8) and full.count_params() == 6 * 7 * 8
    np.testing.assert_array_equal(full.alpha.numpy(), 0)  # Keras's zeros: starts as ReLU
    model = Sequential([layers.Input((6, 7, 8)), layers.PReLU(shared_axes=[1, 2])])
    assert param_formula(model.layers[0]) == (8, "1·1·8 = 8")  # Keras: 8 parameters
    x = np.linspace(-2, 2, 6 * 7 * 8, dtype=np.float32).reshape(1, 6, 7, 8)
    np.testing.assert_array_equal(full(x).numpy(), np.maximum(x, 0))


def test_prelu_forward_and_gradients_against_numpy(rng):
    layer = layers.PReLU(alpha_initializer="random_normal", shared_axes=[1])
    x = rng.standard_normal((4, 3, 5)).astype(np.float32)
    y = layer(x).numpy()
    alpha = layer.alpha.numpy()
    assert alpha.shape == (1, 5)
    np.testing.assert_allclose(y, np.where(x >= 0, x, alpha * x), **FORWARD_TOL)
    x = np.where(np.abs(x) < 0.05, 0.5, x)  # away from the kink
    report = gradcheck(lambda t: layer(t), x, params=layer.trainable_weights)
    assert report.passed, f"\n{report}"


@pytest.mark.parametrize("per_channel", [True, False])
def test_prelu_matches_torch_nhwc_to_nchw(torch, rng, per_channel):
    """Keras's alpha (1, 1, C) with shared_axes=[1, 2] on NHWC is PyTorch's nn.PReLU(C) on
    NCHW; sharing every axis is nn.PReLU() (one alpha)."""
    c = 4
    x = rng.standard_normal((2, 5, 3, c)).astype(np.float32)
    ours = layers.PReLU(
        alpha_initializer="random_uniform", shared_axes=[1, 2] if per_channel else [1, 2, 3]
    )
    xt = Tensor(x, requires_grad=True)
    y = ours(xt)
    theirs = torch.nn.PReLU(num_parameters=c if per_channel else 1)
    with torch.no_grad():
        theirs.weight.copy_(torch.tensor(ours.alpha.numpy().reshape(-1)))
    xr = torch.tensor(x.transpose(0, 3, 1, 2).copy(), requires_grad=True)
    out = theirs(xr)
    weights = rng.standard_normal(x.shape).astype(np.float32)
    (y * Tensor(weights)).sum().backward()
    (out * torch.tensor(weights.transpose(0, 3, 1, 2).copy())).sum().backward()
    np.testing.assert_allclose(y.numpy(), out.detach().numpy().transpose(0, 2, 3, 1), **FORWARD_TOL)
    np.testing.assert_allclose(xt.grad, xr.grad.numpy().transpose(0, 2, 3, 1), **GRAD_TOL)
    np.testing.assert_allclose(ours.alpha.grad.reshape(-1), theirs.weight.grad.numpy(), **GRAD_TOL)


def test_prelu_regularizer_and_constraint_act_on_alpha(rng):
    layer = layers.PReLU(
        alpha_initializer="ones", alpha_regularizer=regularizers.L2(0.5), alpha_constraint="non_neg"
    )
    model = Sequential([layers.Input((3,)), layer])
    (penalty,) = model.losses
    np.testing.assert_allclose(penalty.numpy(), 0.5 * 3, rtol=1e-6)  # 0.5 · Σ alpha², alpha = 1
    model.compile(optimizers.SGD(10.0), "mse")
    x = -np.ones((4, 3), np.float32)
    model.train_on_batch(x, np.full((4, 3), 5.0, np.float32))  # pushes alpha far below 0
    np.testing.assert_array_equal(layer.alpha.numpy(), 0)  # ... and non_neg clips it back
    config = layer.get_config()
    assert config["alpha_regularizer"]["class_name"] == "L2"
    assert config["alpha_constraint"]["class_name"] == "NonNeg"
    assert config["alpha_initializer"] == "ones" and config["shared_axes"] is None


@pytest.mark.parametrize("shared_axes", [0, -1, [1, "2"], 1.5, [True]])
def test_prelu_rejects_bad_shared_axes(shared_axes):
    with pytest.raises(ValueError, match="PReLU: 'shared_axes' must be None or positive axis"):
        layers.PReLU(shared_axes=shared_axes)


def test_prelu_input_errors_name_the_layer():
    with pytest.raises(ValueError, match=r"PReLU 'p': shared_axes=\[3\] names an axis the input"):
        layers.PReLU(shared_axes=3, name="p")(np.zeros((2, 3, 4), np.float32))
    varying = layers.PReLU(name="q")
    with pytest.raises(ValueError, match="PReLU 'q': every axis without a shared alpha must"):
        varying.build((None, None, 4))
    ok = layers.PReLU(shared_axes=[1], name="r")
    ok.build((None, None, 4))
    assert ok.alpha.shape == (1, 4)
    assert ok(np.zeros((2, 7, 4), np.float32)).shape == (2, 7, 4)  # any length on axis 1
    with pytest.raises(ValueError, match="PReLU 'r': input axis 2 must be 4"):
        ok(np.zeros((2, 7, 5), np.float32))
    with pytest.raises(ValueError, match="PReLU 'r': expected a 3-D input"):
        ok(np.zeros((2, 4), np.float32))
    with pytest.raises(TypeError, match="ELU: 'alpha' must be a finite number"):
        layers.ELU(alpha=None)


def test_activation_layers_save_load_and_replay_bit_for_bit(tmp_path):
    """fit's replay of the new ops trains to the graph's numbers exactly; a saved model with
    PReLU and the named activations loads with the same outputs."""

    def train(jit):
        gn.set_seed(0)
        model = Sequential(
            [
                layers.Input((6, 6, 2)),
                layers.Conv2D(4, 3, activation="selu"),
                layers.PReLU(alpha_initializer="random_uniform", shared_axes=[1, 2]),
                layers.ELU(0.7),
                layers.Flatten(),
                layers.Dense(8, activation="mish"),
                layers.Activation("hard_silu"),
                layers.Dense(6, activation="swish"),
                layers.Dense(5, activation="softplus"),
                layers.Dense(4, activation="hard_sigmoid"),
                layers.Dense(4, activation="relu6"),
                layers.Dense(4, activation="softsign"),
                layers.Dense(3, activation="elu"),
            ]
        )
        model.compile(optimizers.SGD(0.05), "sparse_categorical_crossentropy")
        model.jit_compile = jit
        rng = np.random.default_rng(1)
        x = rng.standard_normal((20, 6, 6, 2)).astype(np.float32)
        model.fit(x, rng.integers(0, 3, 20), batch_size=8, epochs=3, verbose=0)
        return model, x

    replayed, x = train(True)
    graph, _ = train(False)
    assert replayed._replays and all(e.tape is not None for e in replayed._replays.values())
    for ours, theirs in zip(replayed.weights, graph.weights, strict=True):
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    path = str(tmp_path / "acts.glassnet")
    replayed.save(path)
    again = gn.load_model(path)
    np.testing.assert_array_equal(again.predict(x), replayed.predict(x))
