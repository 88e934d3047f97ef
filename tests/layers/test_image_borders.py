"""ZeroPadding2D, Cropping2D, UpSampling2D, Permute and RepeatVector
(glassnet/layers/reshaping.py): NumPy references, gradcheck, PyTorch parity, errors."""

from __future__ import annotations

import numpy as np
import pytest

from glassnet import Tensor, layers
from tests.helpers import FORWARD_TOL, GRAD_TOL, assert_gradcheck
from tests.layers.layer_checks import run_layer_test

L = layers


@pytest.mark.parametrize(
    ("cls", "kwargs", "input_shape", "output_shape"),
    [
        (L.ZeroPadding2D, {}, (2, 3, 4, 2), (2, 5, 6, 2)),
        (L.ZeroPadding2D, {"padding": 2}, (1, 1, 1, 1), (1, 5, 5, 1)),
        (L.ZeroPadding2D, {"padding": (0, 3)}, (1, 2, 2, 3), (1, 2, 8, 3)),
        (L.ZeroPadding2D, {"padding": ((1, 2), (0, 3))}, (2, 3, 4, 1), (2, 6, 7, 1)),
        (L.Cropping2D, {}, (2, 3, 4, 2), (2, 3, 4, 2)),
        (L.Cropping2D, {"cropping": 1}, (1, 3, 3, 1), (1, 1, 1, 1)),
        (L.Cropping2D, {"cropping": (1, 0)}, (2, 4, 4, 2), (2, 2, 4, 2)),
        (L.Cropping2D, {"cropping": ((0, 2), (1, 2))}, (2, 5, 6, 3), (2, 3, 3, 3)),
        (L.UpSampling2D, {}, (2, 3, 4, 2), (2, 6, 8, 2)),
        (L.UpSampling2D, {"size": 3}, (1, 1, 1, 1), (1, 3, 3, 1)),
        (L.UpSampling2D, {"size": (1, 2), "interpolation": "bilinear"}, (2, 3, 2, 2), (2, 3, 4, 2)),
        (L.UpSampling2D, {"interpolation": "bilinear"}, (1, 1, 1, 1), (1, 2, 2, 1)),
        (L.Permute, {"dims": (2, 1)}, (2, 3, 4), (2, 4, 3)),
        (L.Permute, {"dims": (3, 1, 2)}, (1, 2, 3, 1), (1, 1, 2, 3)),
        (L.Permute, {"dims": (1,)}, (2, 5), (2, 5)),
        (L.RepeatVector, {"n": 3}, (2, 4), (2, 3, 4)),
        (L.RepeatVector, {"n": 1}, (1, 1), (1, 1, 1)),
    ],
)
def test_layer_checks(cls, kwargs, input_shape, output_shape):
    run_layer_test(cls, kwargs, input_shape=input_shape, expected_output_shape=output_shape)


def _reference(layer, x):
    """Each layer's output by NumPy alone (bilinear: see tests/ops/test_upsampling.py)."""
    if isinstance(layer, L.ZeroPadding2D):
        return np.pad(x, ((0, 0), *layer.padding, (0, 0)))
    if isinstance(layer, L.Cropping2D):
        (t, b), (left, r) = layer.cropping
        return x[:, t : x.shape[1] - b, left : x.shape[2] - r]
    if isinstance(layer, L.UpSampling2D):
        return x.repeat(layer.size[0], axis=1).repeat(layer.size[1], axis=2)
    if isinstance(layer, L.Permute):
        return np.transpose(x, (0, *layer.dims))
    return np.stack([x] * layer.n, axis=1)


CASES = [
    (L.ZeroPadding2D(((1, 2), (0, 3))), (2, 3, 4, 2)),
    (L.ZeroPadding2D(1), (1, 1, 1, 1)),
    (L.Cropping2D(((0, 2), (1, 1))), (2, 5, 4, 2)),
    (L.Cropping2D((1, 0)), (1, 3, 1, 1)),
    (L.UpSampling2D((2, 3)), (2, 3, 2, 2)),
    (L.UpSampling2D(1), (1, 1, 1, 1)),
    (L.Permute((2, 3, 1)), (2, 3, 4, 2)),
    (L.Permute((2, 1)), (1, 1, 3)),
    (L.RepeatVector(4), (2, 3)),
]


@pytest.mark.parametrize(("layer", "shape"), CASES)
def test_forward_matches_numpy(rng, layer, shape):
    x = rng.standard_normal(shape).astype(np.float32)
    np.testing.assert_array_equal(layer(x).numpy(), _reference(layer, x))


@pytest.mark.parametrize(("layer", "shape"), CASES)
def test_gradcheck(rng, layer, shape):
    assert_gradcheck(lambda x: layer(x), rng.standard_normal(shape))


@pytest.mark.parametrize("shape", [(2, 3, 4, 2), (1, 1, 1, 1), (1, 2, 5, 1)])
def test_bilinear_layer_gradcheck(rng, shape):
    assert_gradcheck(lambda x: L.UpSampling2D((2, 3), "bilinear")(x), rng.standard_normal(shape))


def _torch_twin(torch, layer, xr):
    """PyTorch's twin of each layer, on an NHWC tensor."""
    F = torch.nn.functional
    if isinstance(layer, L.ZeroPadding2D):
        (t, b), (left, r) = layer.padding
        return F.pad(xr, (0, 0, left, r, t, b))  # from the last axis: C, W, H
    if isinstance(layer, L.Cropping2D):
        (t, b), (left, r) = layer.cropping
        return xr[:, t : xr.shape[1] - b, left : xr.shape[2] - r]
    if isinstance(layer, L.UpSampling2D):
        extra = {"align_corners": False} if layer.interpolation == "bilinear" else {}
        nchw = F.interpolate(
            xr.permute(0, 3, 1, 2), scale_factor=layer.size, mode=layer.interpolation, **extra
        )
        return nchw.permute(0, 2, 3, 1)
    if isinstance(layer, L.Permute):
        return torch.permute(xr, (0, *layer.dims))
    return xr[:, None, :].expand(-1, layer.n, -1)


@pytest.mark.parametrize(
    ("layer", "shape"), [*CASES, (L.UpSampling2D((3, 2), "bilinear"), (2, 4, 3, 2))]
)
def test_forward_and_gradients_match_torch(torch, rng, layer, shape):
    x = rng.standard_normal(shape).astype(np.float32)
    xt = Tensor(x, requires_grad=True)
    y = layer(xt)
    r = rng.standard_normal(y.shape).astype(np.float32)
    (y * r).sum().backward()
    xr = torch.tensor(x, requires_grad=True)
    out = _torch_twin(torch, layer, xr)
    (out * torch.tensor(r)).sum().backward()
    np.testing.assert_allclose(y.numpy(), out.detach().numpy(), **FORWARD_TOL)
    np.testing.assert_allclose(xt.grad, xr.grad.numpy(), **GRAD_TOL)


def test_keras_defaults_and_spellings():
    assert L.ZeroPadding2D().padding == ((1, 1), (1, 1))
    assert L.ZeroPadding2D((2, 3)).padding == ((2, 2), (3, 3))
    assert L.ZeroPadding2D([[1, 2], [3, 4]]).padding == ((1, 2), (3, 4))
    assert L.Cropping2D().cropping == ((0, 0), (0, 0))
    assert L.Cropping2D(2).cropping == ((2, 2), (2, 2))
    up = L.UpSampling2D()
    assert up.size == (2, 2) and up.interpolation == "nearest"
    assert L.UpSampling2D(3).size == (3, 3)
    assert L.ZeroPadding2D().compute_output_shape((None, None, 4, 2)) == (None, None, 6, 2)
    assert L.UpSampling2D().compute_output_shape((None, 3, None, 2)) == (None, 6, None, 2)
    assert L.Cropping2D(1).compute_output_shape((None, None, 4, 2)) == (None, None, 2, 2)
    assert L.Permute((2, 1)).compute_output_shape((None, None, 4)) == (None, 4, None)


@pytest.mark.parametrize(
    ("make", "error", "match"),
    [
        (lambda: L.ZeroPadding2D(-1), ValueError, "ZeroPadding2D: 'padding' cannot be negative"),
        (lambda: L.ZeroPadding2D((1, 2, 3)), ValueError, "ZeroPadding2D: 'padding' must be"),
        (lambda: L.ZeroPadding2D(1.5), ValueError, r"Received: padding=1\.5"),
        (lambda: L.Cropping2D(((1, 1), (1,))), ValueError, "Cropping2D: 'cropping' must be"),
        (lambda: L.Cropping2D((0, -2)), ValueError, "'cropping' cannot be negative"),
        (lambda: L.UpSampling2D(0), ValueError, "UpSampling2D: size must be positive"),
        (lambda: L.UpSampling2D(interpolation="bicubic"), ValueError, "'bicubic'"),
        (lambda: L.Permute((1, 3)), ValueError, r"Permute: 'dims' must be a permutation of 1\.\.2"),
        (lambda: L.Permute((0, 1)), ValueError, r"Received: dims=\(0, 1\)"),
        (lambda: L.Permute(2), ValueError, "Permute: 'dims' must be a permutation"),
        (lambda: L.RepeatVector(0), ValueError, "RepeatVector: 'n' must be a positive integer"),
        (lambda: L.RepeatVector(2.0), TypeError, "RepeatVector: 'n' must be a positive integer"),
    ],
)
def test_argument_errors(make, error, match):
    with pytest.raises(error, match=match):
        make()


def test_cropping_more_than_the_image_names_the_layer_and_the_axis():
    crop = L.Cropping2D(((2, 1), (0, 0)), name="crop")
    with pytest.raises(
        ValueError,
        match=r"Cropping2D 'crop': cropping=\(\(2, 1\), \(0, 0\)\) removes 3 of the 3 pixels of "
        r"the height \(input shape \(1, 3, 5, 2\)\)",
    ):
        crop(np.zeros((1, 3, 5, 2), np.float32))
    with pytest.raises(ValueError, match="removes 4 of the 2 pixels of the width"):
        L.Cropping2D(2, name="c2").compute_output_shape((None, 6, 2, 1))


@pytest.mark.parametrize(
    ("layer", "shape", "match"),
    [
        (L.ZeroPadding2D(name="z"), (2, 3, 4), r"ZeroPadding2D 'z': expected a 4-D input"),
        (L.Cropping2D(name="c"), (2, 3), r"Cropping2D 'c': expected a 4-D input"),
        (L.UpSampling2D(name="u"), (2, 3, 4, 5, 6), r"UpSampling2D 'u': expected a 4-D input"),
        (L.Permute((2, 1), name="p"), (2, 3, 4, 5), r"Permute 'p': expected a 3-D input"),
        (L.RepeatVector(2, name="r"), (2, 3, 4), r"RepeatVector 'r': expected a 2-D input"),
    ],
)
def test_wrong_rank_names_the_layer(layer, shape, match):
    with pytest.raises(ValueError, match=match):
        layer(np.zeros(shape, np.float32))


# ------------------------------------------------------------------ the 1-D versions
@pytest.mark.parametrize(
    ("cls", "kwargs", "input_shape", "output_shape"),
    [
        (L.ZeroPadding1D, {}, (2, 3, 4), (2, 5, 4)),
        (L.ZeroPadding1D, {"padding": (0, 3)}, (1, 1, 1), (1, 4, 1)),
        (L.Cropping1D, {}, (2, 5, 3), (2, 3, 3)),
        (L.Cropping1D, {"cropping": (0, 2)}, (1, 3, 1), (1, 1, 1)),
        (L.UpSampling1D, {}, (2, 3, 4), (2, 6, 4)),
        (L.UpSampling1D, {"size": 3}, (1, 1, 1), (1, 3, 1)),
    ],
)
def test_1d_layer_checks(cls, kwargs, input_shape, output_shape):
    run_layer_test(cls, kwargs, input_shape=input_shape, expected_output_shape=output_shape)


def _reference_1d(layer, x):
    if isinstance(layer, L.ZeroPadding1D):
        return np.pad(x, ((0, 0), layer.padding, (0, 0)))
    if isinstance(layer, L.Cropping1D):
        return x[:, layer.cropping[0] : x.shape[1] - layer.cropping[1]]
    return x.repeat(layer.size, axis=1)


CASES_1D = [
    (L.ZeroPadding1D((2, 1)), (2, 3, 2)),
    (L.ZeroPadding1D(1), (1, 1, 1)),
    (L.Cropping1D((1, 2)), (2, 5, 2)),
    (L.Cropping1D(0), (1, 1, 1)),
    (L.UpSampling1D(3), (2, 3, 2)),
    (L.UpSampling1D(2), (1, 1, 1)),
]


@pytest.mark.parametrize(("layer", "shape"), CASES_1D)
def test_1d_forward_gradcheck_and_torch(torch, rng, layer, shape):
    x = rng.standard_normal(shape).astype(np.float32)
    np.testing.assert_array_equal(layer(x).numpy(), _reference_1d(layer, x))
    assert_gradcheck(lambda t: layer(t), rng.standard_normal(shape))

    xt = Tensor(x, requires_grad=True)
    y = layer(xt)
    r = rng.standard_normal(y.shape).astype(np.float32)
    (y * r).sum().backward()
    F = torch.nn.functional
    xr = torch.tensor(x, requires_grad=True)
    if isinstance(layer, L.ZeroPadding1D):
        out = F.pad(xr, (0, 0, *layer.padding))
    elif isinstance(layer, L.Cropping1D):
        out = xr[:, layer.cropping[0] : xr.shape[1] - layer.cropping[1]]
    else:
        out = F.interpolate(xr.transpose(1, 2), scale_factor=layer.size).transpose(1, 2)
    (out * torch.tensor(r)).sum().backward()
    np.testing.assert_allclose(y.numpy(), out.detach().numpy(), **FORWARD_TOL)
    np.testing.assert_allclose(xt.grad, xr.grad.numpy(), **GRAD_TOL)


def test_1d_defaults_and_errors():
    assert L.ZeroPadding1D().padding == (1, 1) and L.ZeroPadding1D(2).padding == (2, 2)
    assert L.Cropping1D().cropping == (1, 1) and L.Cropping1D([0, 3]).cropping == (0, 3)
    assert L.UpSampling1D().size == 2
    assert L.UpSampling1D(3).compute_output_shape((None, None, 4)) == (None, None, 4)
    with pytest.raises(ValueError, match="ZeroPadding1D: 'padding' cannot be negative"):
        L.ZeroPadding1D((1, -1))
    with pytest.raises(ValueError, match="Cropping1D: 'cropping' must be an int or a pair"):
        L.Cropping1D((1, 2, 3))
    with pytest.raises(TypeError, match="UpSampling1D: 'size' must be a positive integer"):
        L.UpSampling1D((2,))
    with pytest.raises(
        ValueError, match=r"Cropping1D 'c': cropping=\(2, 1\) removes 3 of the 3 steps"
    ):
        L.Cropping1D((2, 1), name="c")(np.zeros((1, 3, 2), np.float32))
    with pytest.raises(ValueError, match=r"UpSampling1D 'u': expected a 3-D input"):
        L.UpSampling1D(name="u")(np.zeros((1, 3, 2, 1), np.float32))
