"""Upsampling ops (glassnet/ops/upsampling.py): NumPy references, gradcheck, PyTorch parity."""

from __future__ import annotations

import numpy as np
import pytest

from glassnet import Tensor, ops
from tests.helpers import FORWARD_TOL, GRAD_TOL, assert_gradcheck


def _bilinear_reference(x: np.ndarray, sh: int, sw: int) -> np.ndarray:
    """Pixel by pixel, TensorFlow's resize with half-pixel centres: the point
    ((i + 0.5) / sh − 0.5, (j + 0.5) / sw − 0.5), its four neighbours clamped to the image."""
    n, h, w, c = x.shape
    out = np.zeros((n, h * sh, w * sw, c))
    for i in range(h * sh):
        y = (i + 0.5) / sh - 0.5
        y0 = int(np.floor(y))
        ty = y - y0
        r0, r1 = min(max(y0, 0), h - 1), min(max(y0 + 1, 0), h - 1)
        for j in range(w * sw):
            xx = (j + 0.5) / sw - 0.5
            x0 = int(np.floor(xx))
            tx = xx - x0
            c0, c1 = min(max(x0, 0), w - 1), min(max(x0 + 1, 0), w - 1)
            top = (1 - tx) * x[:, r0, c0] + tx * x[:, r0, c1]
            bottom = (1 - tx) * x[:, r1, c0] + tx * x[:, r1, c1]
            out[:, i, j] = (1 - ty) * top + ty * bottom
    return out


@pytest.mark.parametrize(
    ("shape", "size"), [((2, 3, 4, 2), (2, 2)), ((1, 1, 1, 1), (3, 2)), ((1, 4, 2, 3), (1, 3))]
)
def test_nearest_repeats_each_pixel_into_a_block(rng, shape, size):
    x = rng.standard_normal(shape).astype(np.float32)
    y = ops.upsample_nearest2d(Tensor(x), size).numpy()
    np.testing.assert_array_equal(y, x.repeat(size[0], axis=1).repeat(size[1], axis=2))


@pytest.mark.parametrize(
    ("shape", "size"),
    [
        ((2, 3, 4, 2), (2, 2)),
        ((1, 1, 1, 1), (3, 2)),
        ((1, 4, 2, 3), (1, 3)),
        ((1, 5, 3, 1), 3),
        ((1, 2, 6, 2), (4, 5)),
    ],
)
def test_bilinear_matches_the_pixel_by_pixel_reference(rng, shape, size):
    x = rng.standard_normal(shape)
    sh, sw = (size, size) if isinstance(size, int) else size
    y = ops.upsample_bilinear2d(Tensor(x), size).numpy()
    np.testing.assert_allclose(y, _bilinear_reference(x, sh, sw), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("op", [ops.upsample_nearest2d, ops.upsample_bilinear2d])
@pytest.mark.parametrize(
    ("shape", "size"), [((2, 3, 2, 2), (2, 3)), ((1, 1, 1, 1), (2, 2)), ((1, 2, 3, 1), (4, 1))]
)
def test_gradcheck(rng, op, shape, size):
    assert_gradcheck(lambda x: op(x, size), rng.standard_normal(shape))


@pytest.mark.parametrize("mode", ["nearest", "bilinear"])
@pytest.mark.parametrize(
    ("shape", "size"),
    [
        ((2, 3, 4, 2), (2, 2)),
        ((1, 2, 5, 3), (3, 2)),
        ((1, 1, 1, 1), (3, 2)),  # a one-pixel image
        ((2, 3, 5, 1), (1, 4)),  # one channel, factor 1 along the height
    ],
)
def test_matches_torch_interpolate(torch, rng, mode, shape, size):
    """Forward and the gradient of a random projection of the output, in float32."""
    x = rng.standard_normal(shape).astype(np.float32)
    op = ops.upsample_nearest2d if mode == "nearest" else ops.upsample_bilinear2d
    xt = Tensor(x, requires_grad=True)
    y = op(xt, size)
    r = rng.standard_normal(y.shape).astype(np.float32)
    (y * r).sum().backward()
    assert y.dtype == np.float32 and xt.grad.dtype == np.float32

    F = torch.nn.functional
    extra = {} if mode == "nearest" else {"align_corners": False}
    xr = torch.tensor(x.transpose(0, 3, 1, 2), requires_grad=True)
    out = F.interpolate(xr, scale_factor=size, mode=mode, **extra)
    (out * torch.tensor(r.transpose(0, 3, 1, 2))).sum().backward()

    np.testing.assert_allclose(y.numpy(), out.detach().numpy().transpose(0, 2, 3, 1), **FORWARD_TOL)
    np.testing.assert_allclose(xt.grad, xr.grad.numpy().transpose(0, 2, 3, 1), **GRAD_TOL)


def test_arguments_are_checked():
    with pytest.raises(ValueError, match="upsample_nearest2d: expected a 4-D input"):
        ops.upsample_nearest2d(Tensor(np.zeros((3, 4, 2), np.float32)))
    with pytest.raises(ValueError, match="upsample_bilinear2d: size must be positive"):
        ops.upsample_bilinear2d(Tensor(np.zeros((1, 3, 4, 2), np.float32)), (0, 2))


@pytest.mark.parametrize("axis", [1, 2])
@pytest.mark.parametrize("size", [1, 2, 3, 5])
@pytest.mark.parametrize("length", [1, 2, 7])
def test_the_phased_kernel_is_the_textbook_pass(rng, axis, size, length):
    """The op runs each 1-D pass as shifted slices (ops/_upsampling_kernels.py); the textbook
    gather-and-scatter form beside it gives the same numbers, forward and backward, on every
    shape class (one-pixel images and factor 1 included)."""
    from glassnet.ops._upsampling_kernels import interpolate_phased, interpolate_phased_backward
    from glassnet.ops.upsampling import linear_interpolate, linear_interpolate_backward

    shape = [2, 3, 4, 2]
    shape[axis] = length
    x = rng.standard_normal(shape).astype(np.float32)
    np.testing.assert_allclose(
        interpolate_phased(x, axis, size), linear_interpolate(x, axis, size), rtol=1e-6, atol=1e-6
    )
    grad_shape = list(shape)
    grad_shape[axis] = length * size
    g = rng.standard_normal(grad_shape).astype(np.float32)
    np.testing.assert_allclose(
        interpolate_phased_backward(g, axis, size),
        linear_interpolate_backward(g, axis, size),
        rtol=1e-5,
        atol=1e-5,
    )
