"""Pooling layers (glassnet/layers/pooling.py): shapes, aliases, errors, parity with PyTorch."""

from __future__ import annotations

import numpy as np
import pytest

from glassnet import Tensor, layers
from tests import reference as ref
from tests.helpers import FORWARD_TOL, GRAD_TOL
from tests.layers.layer_checks import run_layer_test


@pytest.mark.parametrize(
    ("cls", "kwargs", "input_shape", "output_shape"),
    [
        (layers.MaxPooling2D, {}, (2, 8, 8, 3), (2, 4, 4, 3)),
        (layers.MaxPooling2D, {"pool_size": 3, "strides": 2}, (1, 7, 7, 2), (1, 3, 3, 2)),
        (
            layers.MaxPooling2D,
            {"pool_size": 3, "strides": 2, "padding": "same"},
            (1, 8, 8, 2),
            (1, 4, 4, 2),
        ),
        (layers.AveragePooling2D, {}, (2, 6, 6, 3), (2, 3, 3, 3)),
        (
            layers.AveragePooling2D,
            {"pool_size": (2, 3), "strides": 1, "padding": "Same"},
            (1, 5, 5, 2),
            (1, 5, 5, 2),
        ),
        (layers.GlobalAveragePooling2D, {}, (2, 5, 4, 3), (2, 3)),
        (layers.GlobalAveragePooling2D, {"keepdims": True}, (2, 5, 4, 3), (2, 1, 1, 3)),
        (layers.GlobalMaxPooling2D, {}, (2, 5, 4, 3), (2, 3)),
        (layers.GlobalMaxPooling2D, {"keepdims": True}, (1, 3, 3, 2), (1, 1, 1, 2)),
    ],
)
def test_pooling_layer_checks(cls, kwargs, input_shape, output_shape):
    run_layer_test(cls, kwargs, input_shape=input_shape, expected_output_shape=output_shape)


def test_aliases_are_the_same_classes():
    assert layers.MaxPool2D is layers.MaxPooling2D
    assert layers.AvgPool2D is layers.AveragePooling2D
    assert layers.GlobalAvgPool2D is layers.GlobalAveragePooling2D
    assert layers.GlobalMaxPool2D is layers.GlobalMaxPooling2D
    for alias in ("MaxPool2D", "AvgPool2D", "GlobalAvgPool2D", "GlobalMaxPool2D"):
        assert layers.get(alias) is getattr(layers, alias)
    assert layers.serialize(layers.MaxPool2D())["class_name"] == "MaxPooling2D"


def test_pool_defaults_follow_keras():
    pool = layers.MaxPooling2D()
    assert pool.pool_size == (2, 2) and pool.strides == (2, 2) and pool.padding == "valid"
    assert layers.MaxPooling2D(3).strides == (3, 3)  # strides=None means pool_size
    assert layers.AveragePooling2D(2, strides=1).strides == (1, 1)
    assert pool.compute_output_shape((None, None, 9, 4)) == (None, None, 4, 4)


def _torch_pool(torch, kind, x, pool, strides, padding):
    """PyTorch reference in NCHW; TensorFlow-style "same" padding made explicit."""
    F = torch.nn.functional
    if padding == "valid":
        fn = F.max_pool2d if kind == "max" else F.avg_pool2d
        return fn(x, pool, strides)
    (top, bottom), (left, right) = (
        ref.same_padding(x.shape[2 + a], pool[a], strides[a]) for a in (0, 1)
    )
    pads = (left, right, top, bottom)
    if kind == "max":
        return F.max_pool2d(F.pad(x, pads, value=-float("inf")), pool, strides)
    # Keras averages over the real pixels only: sum of the window / number of real pixels.
    total = F.avg_pool2d(F.pad(x, pads), pool, strides)
    count = F.avg_pool2d(F.pad(torch.ones_like(x), pads), pool, strides)
    return total / count


@pytest.mark.parametrize("kind", ["max", "avg"])
@pytest.mark.parametrize(
    ("hw", "pool", "strides", "padding"),
    [
        ((8, 8), (2, 2), (2, 2), "valid"),
        ((7, 7), (3, 3), (2, 2), "valid"),
        ((7, 8), (3, 3), (2, 2), "same"),
        ((5, 6), (2, 3), (1, 2), "same"),
    ],
)
def test_pooling_matches_torch(torch, rng, kind, hw, pool, strides, padding):
    cls = layers.MaxPooling2D if kind == "max" else layers.AveragePooling2D
    layer = cls(pool, strides, padding)
    x = rng.standard_normal((2, *hw, 3)).astype(np.float32)
    xt = Tensor(x, requires_grad=True)
    y = layer(xt)
    r = rng.standard_normal(y.shape).astype(np.float32)
    (y * r).sum().backward()

    xr = torch.tensor(x.transpose(0, 3, 1, 2), requires_grad=True)
    out = _torch_pool(torch, kind, xr, pool, strides, padding)
    (out * torch.tensor(r.transpose(0, 3, 1, 2))).sum().backward()

    np.testing.assert_allclose(y.numpy(), out.detach().numpy().transpose(0, 2, 3, 1), **FORWARD_TOL)
    np.testing.assert_allclose(xt.grad, xr.grad.numpy().transpose(0, 2, 3, 1), **GRAD_TOL)


@pytest.mark.parametrize("kind", ["avg", "max"])
@pytest.mark.parametrize("keepdims", [False, True])
def test_global_pooling_matches_torch(torch, rng, kind, keepdims):
    cls = layers.GlobalAveragePooling2D if kind == "avg" else layers.GlobalMaxPooling2D
    x = rng.standard_normal((2, 4, 5, 3)).astype(np.float32)
    xt = Tensor(x, requires_grad=True)
    y = cls(keepdims=keepdims)(xt)
    r = rng.standard_normal(y.shape).astype(np.float32)
    (y * r).sum().backward()

    xr = torch.tensor(x, requires_grad=True)
    out = xr.mean(dim=(1, 2), keepdim=keepdims) if kind == "avg" else xr.amax((1, 2), keepdims)
    (out * torch.tensor(r)).sum().backward()

    np.testing.assert_allclose(y.numpy(), out.detach().numpy(), **FORWARD_TOL)
    np.testing.assert_allclose(xt.grad, xr.grad.numpy(), **GRAD_TOL)


def test_pool_window_too_big_is_reported_with_the_layer_name():
    pool = layers.MaxPooling2D(3, 2, name="pool")
    message = (
        r"MaxPooling2D 'pool': computed output size would be zero or negative. Received input "
        r"shape \(1, 2, 2, 8\), pool_size=\(3, 3\), strides=\(2, 2\), padding='valid'."
    )
    with pytest.raises(ValueError, match=message):
        pool.compute_output_shape((1, 2, 2, 8))
    with pytest.raises(ValueError, match="MaxPooling2D 'pool': computed output size"):
        pool(np.zeros((1, 2, 2, 8)))
    assert layers.MaxPooling2D(3, 2, "same").compute_output_shape((1, 2, 2, 8)) == (1, 1, 1, 8)


@pytest.mark.parametrize(
    "cls",
    [
        layers.MaxPooling2D,
        layers.AveragePooling2D,
        layers.GlobalAveragePooling2D,
        layers.GlobalMaxPooling2D,
    ],
)
def test_pooling_needs_images(cls):
    with pytest.raises(ValueError, match=rf"{cls.__name__} '.*': expected a 4-D input"):
        cls()(np.zeros((4, 4, 3)))


@pytest.mark.parametrize(
    ("cls", "kwargs", "error", "match"),
    [
        (layers.MaxPooling2D, {"pool_size": 0}, ValueError, "MaxPooling2D: pool_size must be"),
        (layers.MaxPooling2D, {"strides": (2, -1)}, ValueError, "strides must be positive"),
        (layers.AveragePooling2D, {"padding": "causal"}, ValueError, "AveragePooling2D: unknown"),
        (layers.AveragePooling2D, {"pool_size": "2"}, TypeError, "pool_size must be an int"),
        (layers.GlobalMaxPooling2D, {"keepdims": 1}, TypeError, "'keepdims' must be True or False"),
    ],
)
def test_pooling_argument_errors(cls, kwargs, error, match):
    with pytest.raises(error, match=match):
        cls(**kwargs)
