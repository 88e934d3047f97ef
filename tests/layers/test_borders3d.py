"""The 3-D border layers (ZeroPadding3D, Cropping3D, UpSampling3D) on volumes (batch, depth,
height, width, channels): the standard layer checks, NumPy references (np.pad, slicing,
np.repeat), float64 gradients, PyTorch's F.pad and nn.Upsample, Keras's defaults and errors.
The 2-D layers they generalise: tests/layers/test_reshaping.py."""

from __future__ import annotations

import numpy as np
import pytest

from glassnet import Tensor, ops
from glassnet import layers as L
from glassnet.gradcheck import gradcheck
from tests.helpers import FORWARD_TOL, GRAD_TOL, run_float32, torch_run
from tests.layers.layer_checks import run_layer_test


@pytest.mark.parametrize(
    ("cls", "kwargs", "input_shape", "output_shape"),
    [
        (L.ZeroPadding3D, {}, (2, 2, 3, 2, 3), (2, 4, 5, 4, 3)),
        (L.ZeroPadding3D, {"padding": 2}, (1, 1, 1, 1, 1), (1, 5, 5, 5, 1)),
        (L.ZeroPadding3D, {"padding": (0, 1, 2)}, (1, 2, 2, 2, 2), (1, 2, 4, 6, 2)),
        (L.ZeroPadding3D, {"padding": ((0, 1), (2, 0), (1, 3))}, (2, 1, 2, 1, 1), (2, 2, 4, 5, 1)),
        (L.Cropping3D, {}, (2, 4, 5, 3, 2), (2, 2, 3, 1, 2)),
        (L.Cropping3D, {"cropping": (0, 1, 2)}, (1, 2, 4, 5, 1), (1, 2, 2, 1, 1)),
        (L.Cropping3D, {"cropping": ((1, 0), (0, 2), (0, 0))}, (1, 3, 3, 1, 2), (1, 2, 1, 1, 2)),
        (L.UpSampling3D, {}, (2, 1, 2, 3, 2), (2, 2, 4, 6, 2)),
        (L.UpSampling3D, {"size": (1, 2, 3)}, (1, 2, 1, 2, 1), (1, 2, 2, 6, 1)),
        (L.UpSampling3D, {"size": 1}, (1, 1, 1, 1, 1), (1, 1, 1, 1, 1)),
    ],
)  # fmt: skip
def test_layer_checks(cls, kwargs, input_shape, output_shape):
    run_layer_test(cls, kwargs, input_shape=input_shape, expected_output_shape=output_shape)


def test_keras_defaults():
    assert L.ZeroPadding3D().padding == ((1, 1), (1, 1), (1, 1))
    assert L.Cropping3D().cropping == ((1, 1), (1, 1), (1, 1))
    assert L.UpSampling3D().size == (2, 2, 2)
    assert L.UpSampling3D(3).get_config()["size"] == (3, 3, 3)
    assert L.ZeroPadding3D((1, 2, 3)).get_config()["padding"] == ((1, 1), (2, 2), (3, 3))


def test_forward_matches_numpy(rng):
    x = rng.standard_normal((2, 3, 4, 5, 2))
    pads = ((0, 1), (2, 0), (1, 3))
    got = L.ZeroPadding3D(pads)(x).numpy()
    np.testing.assert_array_equal(got, np.pad(x, ((0, 0), *pads, (0, 0))).astype(np.float32))
    got = L.Cropping3D(((1, 0), (0, 2), (1, 1)))(x).numpy()
    np.testing.assert_array_equal(got, x[:, 1:, :2, 1:4].astype(np.float32))
    got = L.UpSampling3D((2, 1, 3))(x).numpy()
    want = np.repeat(np.repeat(x, 2, axis=1), 3, axis=3).astype(np.float32)
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize(
    "layer",
    [
        lambda: L.ZeroPadding3D(((0, 1), (2, 0), (1, 1))),
        lambda: L.Cropping3D(((1, 0), (0, 1), (1, 1))),
        lambda: L.UpSampling3D((2, 1, 3)),
    ],
)
def test_gradcheck_float64(rng, layer):
    x = rng.standard_normal((1, 3, 2, 4, 2))
    report = gradcheck(lambda t: layer()(t), x)
    assert report.passed, f"\n{report}"


def test_upsampling_matches_torch(torch, rng):
    """nn.Upsample(mode="nearest") on (N, C, D, H, W): FORWARD_TOL and GRAD_TOL."""
    x = rng.standard_normal((2, 3, 2, 4, 3)).astype(np.float32)
    got, (gx,) = run_float32(lambda t: ops.upsample_nearest3d(t, (2, 3, 1)), x)
    upsample = torch.nn.Upsample(scale_factor=(2, 3, 1), mode="nearest")
    want, (want_gx,) = torch_run(
        torch, lambda t: upsample(t.permute(0, 4, 1, 2, 3)).permute(0, 2, 3, 4, 1), x
    )
    np.testing.assert_allclose(got, want, **FORWARD_TOL)
    np.testing.assert_allclose(gx, want_gx, **GRAD_TOL)


def test_zero_padding_matches_torch(torch, rng):
    x = rng.standard_normal((1, 2, 3, 2, 2)).astype(np.float32)
    layer = L.ZeroPadding3D(((0, 1), (2, 0), (1, 3)))
    got, (gx,) = run_float32(lambda t: layer(t), x)
    pad = torch.nn.functional.pad  # pairs from the last axis: (W, H, D) of (N, C, D, H, W)
    want, (want_gx,) = torch_run(
        torch,
        lambda t: pad(t.permute(0, 4, 1, 2, 3), (1, 3, 2, 0, 0, 1)).permute(0, 2, 3, 4, 1),
        x,
    )
    np.testing.assert_allclose(got, want, **FORWARD_TOL)
    np.testing.assert_allclose(gx, want_gx, **GRAD_TOL)


@pytest.mark.parametrize(
    ("make", "error", "match"),
    [
        (lambda: L.ZeroPadding3D((1, 1)), ValueError,
         r"ZeroPadding3D: 'padding' must be an int, a tuple of 3 ints \(depth, height, width\)"),
        (lambda: L.ZeroPadding3D(-1), ValueError, r"ZeroPadding3D: 'padding' cannot be negative"),
        (lambda: L.Cropping3D(((1, 1), (1, 1))), ValueError,
         r"Cropping3D: 'cropping' must be an int, a tuple of 3 ints"),
        (lambda: L.UpSampling3D((2, 2)), TypeError,
         r"UpSampling3D: size must be an int or a tuple of 3 ints"),
        (lambda: L.UpSampling3D(0), ValueError, r"UpSampling3D: size must be positive"),
    ],
)  # fmt: skip
def test_argument_errors(make, error, match):
    with pytest.raises(error, match=match):
        make()


def test_impossible_inputs_name_the_layer():
    with pytest.raises(ValueError, match=r"Cropping3D 'c': cropping=.* removes 2 of the 2 "
                                         r"pixels of the depth.*larger volumes"):  # fmt: skip
        L.Cropping3D(name="c")(np.zeros((1, 2, 4, 4, 1), np.float32))
    with pytest.raises(ValueError, match=r"UpSampling3D 'u': expected a 5-D input"):
        L.UpSampling3D(name="u")(np.zeros((1, 4, 4, 1), np.float32))
    with pytest.raises(ValueError, match=r"upsample_nearest3d: expected a 5-D input"):
        ops.upsample_nearest3d(Tensor(np.zeros((1, 4, 4, 1), np.float32)))
