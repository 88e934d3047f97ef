"""BatchNormalization (glassnet/layers/normalization.py): modes, moving statistics, freezing,
and parity with PyTorch's BatchNorm2d."""

from __future__ import annotations

import numpy as np
import pytest

from glassnet import Tensor, layers
from glassnet.gradcheck import gradcheck
from tests.helpers import FORWARD_TOL, GRAD_TOL
from tests.layers.layer_checks import run_layer_test


@pytest.mark.parametrize("training", [False, True])
@pytest.mark.parametrize(
    ("kwargs", "input_shape", "weights", "trainable"),
    [
        ({}, (4, 3, 3, 2), 4, 2),
        ({}, (5, 3), 4, 2),
        ({"center": False}, (4, 3), 3, 1),
        ({"scale": False, "center": False}, (4, 2, 2, 3), 2, 0),
    ],
)
def test_batch_normalization_layer_checks(kwargs, input_shape, weights, trainable, training):
    channels = input_shape[-1]
    run_layer_test(
        layers.BatchNormalization,
        kwargs,
        input_shape=input_shape,
        expected_output_shape=input_shape,
        expected_num_weights=weights,
        expected_num_trainable_weights=trainable,
        expected_num_params=weights * channels,
        training=training,
    )


def test_weights_names_and_kinds():
    bn = layers.BatchNormalization()
    bn.build((None, 8, 8, 5))
    assert list(bn.state_dict()) == ["gamma", "beta", "moving_mean", "moving_variance"]
    assert bn.trainable_weights == [bn.gamma, bn.beta]
    assert bn.non_trainable_weights == [bn.moving_mean, bn.moving_variance]
    assert bn.parameters() == [bn.gamma, bn.beta]
    np.testing.assert_array_equal(bn.gamma.numpy(), np.ones(5, np.float32))
    np.testing.assert_array_equal(bn.moving_variance.numpy(), np.ones(5, np.float32))


def test_training_uses_batch_statistics_and_updates_moving_ones(rng):
    bn = layers.BatchNormalization(momentum=0.9)
    x = (3 + 2 * rng.standard_normal((16, 4, 4, 3))).astype(np.float32)
    y = bn(x, training=True).numpy()
    np.testing.assert_allclose(y.mean(axis=(0, 1, 2)), 0, atol=1e-5)
    np.testing.assert_allclose(y.var(axis=(0, 1, 2)), 1, atol=1e-2)  # ε = 1e-3 shrinks it a bit
    mean, var = x.mean(axis=(0, 1, 2)), x.var(axis=(0, 1, 2))
    np.testing.assert_allclose(bn.moving_mean.numpy(), 0.1 * mean, rtol=1e-5)
    np.testing.assert_allclose(bn.moving_variance.numpy(), 0.9 + 0.1 * var, rtol=1e-5)


def test_inference_uses_moving_statistics_and_leaves_them(rng):
    bn = layers.BatchNormalization(epsilon=1e-3)
    x = rng.standard_normal((4, 3)).astype(np.float32)
    bn.build((None, 3))
    bn.set_weights(
        [np.full(3, 2.0), np.full(3, 0.5), np.array([1.0, 2, 3]), np.array([4.0, 1, 0.25])]
    )
    y = bn(x).numpy()  # training=None: the layer's mode, inference by default
    expected = 2 * (x - [1, 2, 3]) / np.sqrt(np.array([4, 1, 0.25]) + 1e-3) + 0.5
    np.testing.assert_allclose(y, expected, **FORWARD_TOL)
    np.testing.assert_array_equal(bn.moving_mean.numpy(), [1, 2, 3])


def test_train_and_eval_switch_modes(rng):
    bn = layers.BatchNormalization()
    x = (5 + rng.standard_normal((8, 2))).astype(np.float32)
    inference = bn(x).numpy()
    assert bn.train() is bn and bn.training
    training = bn(x).numpy()
    assert not np.allclose(inference, training)
    np.testing.assert_allclose(training.mean(axis=0), 0, atol=1e-5)
    assert bn.eval() is bn and not bn.training
    np.testing.assert_allclose(bn(x, training=True).numpy().mean(axis=0), 0, atol=1e-5)


def test_frozen_layer_runs_in_inference_mode(rng):
    bn = layers.BatchNormalization(trainable=False)
    x = (5 + rng.standard_normal((8, 2))).astype(np.float32)
    y = bn(x, training=True).numpy()
    np.testing.assert_allclose(y, x / np.sqrt(1 + 1e-3), **FORWARD_TOL)  # moving stats: 0 and 1
    np.testing.assert_array_equal(bn.moving_mean.numpy(), [0, 0])
    assert bn.trainable_weights == [] and len(bn.non_trainable_weights) == 4
    bn.trainable = True
    assert bn.trainable_weights == [bn.gamma, bn.beta]
    assert not bn.moving_mean.requires_grad  # created non-trainable: stays so


def test_gradcheck_float64_training(rng):
    bn = layers.BatchNormalization()
    x = rng.standard_normal((4, 2, 2, 3))
    bn(x.astype(np.float32))
    bn.set_weights([1 + rng.random(3), rng.standard_normal(3), np.zeros(3), np.ones(3)])
    report = gradcheck(lambda t: bn(t, training=True), x, params=bn.parameters())
    assert report.passed, f"\n{report}"


@pytest.mark.parametrize("training", [True, False])
def test_matches_torch_batchnorm2d(torch, rng, training):
    bn = layers.BatchNormalization(momentum=0.9, epsilon=1e-3)
    x = (1 + 2 * rng.standard_normal((4, 5, 6, 3))).astype(np.float32)
    bn.build((None, 5, 6, 3))
    gamma, beta = 1 + 0.1 * rng.standard_normal(3), 0.1 * rng.standard_normal(3)
    mean, var = rng.standard_normal(3), 0.5 + rng.random(3)
    bn.set_weights([gamma, beta, mean, var])

    # Keras momentum 0.9 keeps 90 % of the old statistic; PyTorch's momentum is the new share.
    tbn = torch.nn.BatchNorm2d(3, eps=1e-3, momentum=0.1)
    with torch.no_grad():
        for param, value in zip(
            (tbn.weight, tbn.bias, tbn.running_mean, tbn.running_var),
            (gamma, beta, mean, var),
            strict=True,
        ):
            param.copy_(torch.tensor(value, dtype=torch.float32))
    tbn.train(training)

    xt = Tensor(x, requires_grad=True)
    y = bn(xt, training=training)
    r = rng.standard_normal(y.shape).astype(np.float32)
    (y * r).sum().backward()
    xr = torch.tensor(x.transpose(0, 3, 1, 2), requires_grad=True)
    out = tbn(xr)
    (out * torch.tensor(r.transpose(0, 3, 1, 2))).sum().backward()

    to_nhwc = (0, 2, 3, 1)
    np.testing.assert_allclose(y.numpy(), out.detach().numpy().transpose(to_nhwc), **FORWARD_TOL)
    np.testing.assert_allclose(xt.grad, xr.grad.numpy().transpose(to_nhwc), **GRAD_TOL)
    np.testing.assert_allclose(bn.gamma.grad, tbn.weight.grad.numpy(), **GRAD_TOL)
    np.testing.assert_allclose(bn.beta.grad, tbn.bias.grad.numpy(), **GRAD_TOL)
    np.testing.assert_allclose(bn.moving_mean.numpy(), tbn.running_mean.numpy(), **FORWARD_TOL)
    if training:
        # Keras (and glassnet) average the biased batch variance; PyTorch the unbiased one.
        n = x.size // 3
        batch_var = x.var(axis=(0, 1, 2))
        np.testing.assert_allclose(
            bn.moving_variance.numpy(), 0.9 * var + 0.1 * batch_var, rtol=1e-5
        )
        torch_var = 0.9 * var + 0.1 * batch_var * n / (n - 1)
        np.testing.assert_allclose(tbn.running_var.numpy(), torch_var, rtol=1e-5)
    else:
        np.testing.assert_allclose(bn.moving_variance.numpy(), var, rtol=1e-6)


def test_channel_mismatch_and_bad_inputs():
    bn = layers.BatchNormalization(name="bn")
    bn.build((None, 4, 4, 8))
    with pytest.raises(ValueError, match=r"BatchNormalization 'bn': input has 5 channels on the"):
        bn(np.zeros((2, 4, 4, 5)))
    with pytest.raises(ValueError, match=r"'bn': expected a 4-D input"):
        bn(np.zeros((2, 8)))
    with pytest.raises(ValueError, match="expected an at least 2-D input"):
        layers.BatchNormalization()(np.zeros(3))
    with pytest.raises(ValueError, match="only the last axis can be normalised"):
        layers.BatchNormalization(axis=1)(np.zeros((2, 3, 4)))
    assert layers.BatchNormalization(axis=2)(np.zeros((2, 3, 4))).shape == (2, 3, 4)
    with pytest.raises(ValueError, match="the number of channels must be known"):
        layers.BatchNormalization().build((None, 4, None))


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"momentum": 1.5}, ValueError, r"BatchNormalization: 'momentum' must be in \[0.0, 1.0\]"),
        ({"epsilon": 0}, ValueError, r"'epsilon' must be in \(0.0, inf\)"),
        ({"axis": 1.0}, TypeError, "'axis' must be an integer"),
        ({"center": "no"}, TypeError, "'center' must be True or False"),
        ({"gamma_initializer": "twos"}, ValueError, "Unknown initializer"),
    ],
)
def test_argument_errors(kwargs, error, match):
    with pytest.raises(error, match=match):
        layers.BatchNormalization(**kwargs)
