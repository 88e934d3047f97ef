"""Conv2D (glassnet/layers/convolutional.py): shapes, errors, config, and parity with PyTorch."""

from __future__ import annotations

import numpy as np
import pytest

from glassnet import Tensor, layers
from glassnet.gradcheck import gradcheck
from tests import reference as ref
from tests.helpers import FORWARD_TOL, GRAD_TOL
from tests.layers.layer_checks import run_layer_test


@pytest.mark.parametrize(
    ("kwargs", "input_shape", "output_shape", "weights", "params"),
    [
        ({"filters": 4, "kernel_size": 3}, (2, 7, 7, 3), (2, 5, 5, 4), 2, 3 * 3 * 3 * 4 + 4),
        ({"filters": 4, "kernel_size": 3, "padding": "same"}, (1, 6, 6, 2), (1, 6, 6, 4), 2, 76),
        ({"filters": 2, "kernel_size": (2, 3), "strides": 2}, (2, 7, 8, 1), (2, 3, 3, 2), 2, 14),
        (
            {"filters": 3, "kernel_size": 3, "strides": (2, 1), "padding": "SAME"},
            (1, 5, 5, 2),
            (1, 3, 5, 3),
            2,
            57,
        ),
        ({"filters": 2, "kernel_size": 3, "dilation_rate": 2}, (1, 7, 7, 1), (1, 3, 3, 2), 2, 20),
        (
            {"filters": 2, "kernel_size": 1, "use_bias": False, "activation": "relu"},
            (1, 4, 4, 3),
            (1, 4, 4, 2),
            1,
            6,
        ),
    ],
)
def test_conv2d_layer_checks(kwargs, input_shape, output_shape, weights, params):
    run_layer_test(
        layers.Conv2D,
        kwargs,
        input_shape=input_shape,
        expected_output_shape=output_shape,
        expected_num_weights=weights,
        expected_num_trainable_weights=weights,
        expected_num_params=params,
    )


def test_conv2d_kernel_layout_and_arguments():
    conv = layers.Conv2D(8, (3, 5), strides=2, padding="Same", dilation_rate=1)
    assert conv.kernel_size == (3, 5) and conv.strides == (2, 2) and conv.padding == "same"
    conv.build((None, 32, 32, 3))
    assert conv.kernel.shape == (3, 5, 3, 8) and conv.bias.shape == (8,)
    assert conv.input_shape == (None, 32, 32, 3)
    assert conv.compute_output_shape((None, 32, 31, 3)) == (None, 16, 16, 8)
    assert conv.compute_output_shape((None, None, None, 3)) == (None, None, None, 8)
    assert layers.Convolution2D is layers.Conv2D
    assert layers.get("Convolution2D") is layers.Conv2D


def test_conv2d_gradcheck_float64(rng):
    conv = layers.Conv2D(2, 3, strides=2, padding="same", bias_initializer="random_normal")
    x = rng.standard_normal((1, 5, 4, 2))
    conv(x.astype(np.float32))
    report = gradcheck(lambda t: conv(t), x, params=conv.parameters())
    assert report.passed, f"\n{report}"


@pytest.mark.parametrize(
    ("hw", "kernel", "strides", "padding", "dilation"),
    [
        ((7, 7), (3, 3), (1, 1), "valid", (1, 1)),
        ((7, 7), (3, 3), (2, 2), "same", (1, 1)),  # odd size
        ((8, 8), (3, 3), (2, 2), "same", (1, 1)),  # even size: the extra pixel goes bottom/right
        ((6, 9), (2, 3), (2, 1), "same", (1, 1)),  # non-square kernel and strides
        ((8, 8), (4, 4), (1, 1), "same", (1, 1)),  # even kernel
        ((9, 9), (3, 3), (1, 1), "valid", (2, 2)),
    ],
)
def test_conv2d_matches_torch(torch, rng, hw, kernel, strides, padding, dilation):
    conv = layers.Conv2D(4, kernel, strides, padding, dilation)
    x = rng.standard_normal((2, *hw, 3)).astype(np.float32)
    conv(x)
    conv.set_weights([w + 0.1 * rng.standard_normal(w.shape) for w in conv.get_weights()])
    y = conv(x)
    r = rng.standard_normal(y.shape).astype(np.float32)
    xt = Tensor(x, requires_grad=True)
    (conv(xt) * r).sum().backward()

    # PyTorch is NCHW with weights (out, in, kh, kw); TensorFlow's "same" pads are made explicit.
    F = torch.nn.functional
    xr = torch.tensor(x.transpose(0, 3, 1, 2), requires_grad=True)
    wr = torch.tensor(conv.kernel.numpy().transpose(3, 2, 0, 1), requires_grad=True)
    br = torch.tensor(conv.bias.numpy(), requires_grad=True)
    xin = xr
    if padding == "same":
        (top, bottom), (left, right) = (
            ref.same_padding(hw[a], kernel[a], strides[a], dilation[a]) for a in (0, 1)
        )
        xin = F.pad(xr, (left, right, top, bottom))
    out = F.conv2d(xin, wr, br, stride=strides, dilation=dilation)
    (out * torch.tensor(r.transpose(0, 3, 1, 2))).sum().backward()

    assert y.shape == tuple(out.shape[i] for i in (0, 2, 3, 1))
    np.testing.assert_allclose(y.numpy(), out.detach().numpy().transpose(0, 2, 3, 1), **FORWARD_TOL)
    np.testing.assert_allclose(xt.grad, xr.grad.numpy().transpose(0, 2, 3, 1), **GRAD_TOL)
    np.testing.assert_allclose(conv.kernel.grad, wr.grad.numpy().transpose(2, 3, 1, 0), **GRAD_TOL)
    np.testing.assert_allclose(conv.bias.grad, br.grad.numpy(), **GRAD_TOL)


def test_conv2d_channel_mismatch_message():
    conv = layers.Conv2D(8, 3, name="conv2d_1")
    conv.build((None, 28, 28, 3))
    message = (
        r"Conv2D 'conv2d_1': input has 1 channel but the layer was built for 3 \(input shape "
        r"\(32, 28, 28, 1\)\). Convert images to RGB or rebuild the layer."
    )
    with pytest.raises(ValueError, match=message):
        conv(np.zeros((32, 28, 28, 1), np.float32))
    with pytest.raises(ValueError, match="input has 2 channels but the layer was built for 3"):
        conv.compute_output_shape((None, 28, 28, 2))


def test_conv2d_shape_errors():
    conv = layers.Conv2D(4, 5, name="c")
    with pytest.raises(ValueError, match=r"Conv2D 'c': expected a 4-D input \(batch, height"):
        conv(np.zeros((28, 28, 1)))
    with pytest.raises(ValueError, match=r"Conv2D 'c': computed output size would be zero"):
        conv.compute_output_shape((None, 4, 4, 1))
    with pytest.raises(ValueError, match="kernel does not fit in the image"):
        conv(np.zeros((1, 3, 9, 1)))
    assert not conv.built  # nothing was created for the impossible input
    assert conv.compute_output_shape((None, 5, 5, 1)) == (None, 1, 1, 4)
    with pytest.raises(ValueError, match="number of input channels must be known"):
        layers.Conv2D(2, 3).build((None, 8, 8, None))


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        (
            {"filters": 0, "kernel_size": 3},
            ValueError,
            "Conv2D: 'filters' must be a positive integer",
        ),
        (
            {"filters": 4, "kernel_size": 0},
            ValueError,
            "Conv2D: kernel_size must be positive",
        ),
        (
            {"filters": 4, "kernel_size": (3, 3, 3)},
            TypeError,
            "received kernel_size=\\(3, 3, 3\\)",
        ),
        ({"filters": 4, "kernel_size": 3.0}, TypeError, "kernel_size must be an int or a pair"),
        ({"filters": 4, "kernel_size": 3, "strides": (1, 0)}, ValueError, "strides must be"),
        (
            {"filters": 4, "kernel_size": 3, "padding": "full"},
            ValueError,
            "unknown padding 'full'. Expected 'valid' or 'same'",
        ),
        (
            {"filters": 4, "kernel_size": 3, "padding": 1},
            TypeError,
            "padding must be 'valid' or 'same'",
        ),
        (
            {"filters": 4, "kernel_size": 3, "strides": 2, "dilation_rate": 2},
            ValueError,
            "'strides' > 1 cannot be combined with 'dilation_rate' > 1",
        ),
        ({"filters": 4, "kernel_size": 3, "activation": "nope"}, ValueError, "Unknown activation"),
    ],
)
def test_conv2d_argument_errors(kwargs, error, match):
    with pytest.raises(error, match=match):
        layers.Conv2D(**kwargs)
