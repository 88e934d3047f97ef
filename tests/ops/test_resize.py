"""The resize op (glassnet/ops/resize.py): pixel-by-pixel references, gradcheck, PyTorch."""

from __future__ import annotations

import numpy as np
import pytest

from glassnet import Tensor
from glassnet.ops.resize import resize
from tests.helpers import FORWARD_TOL, GRAD_TOL, assert_gradcheck

SIZES = [
    ((2, 5, 7, 3), (3, 4)),  # shrink
    ((1, 3, 4, 2), (8, 11)),  # enlarge by fractions
    ((1, 1, 1, 1), (3, 2)),  # one pixel
    ((2, 4, 6, 1), (8, 3)),  # taller and narrower
    ((1, 6, 2, 2), (6, 5)),  # one axis unchanged
]


def _reference(x: np.ndarray, size: tuple[int, int], interpolation: str) -> np.ndarray:
    """Pixel by pixel, TensorFlow's resize (half-pixel centres, no antialiasing)."""
    n, h, w, c = x.shape
    out = np.zeros((n, *size, c))
    sy, sx = h / size[0], w / size[1]
    for i in range(size[0]):
        for j in range(size[1]):
            if interpolation == "nearest":
                r = min(int(np.floor((i + 0.5) * sy)), h - 1)
                q = min(int(np.floor((j + 0.5) * sx)), w - 1)
                out[:, i, j] = x[:, r, q]
                continue
            y, xx = max((i + 0.5) * sy - 0.5, 0.0), max((j + 0.5) * sx - 0.5, 0.0)
            y0, x0 = min(int(y), h - 1), min(int(xx), w - 1)
            y1, x1 = min(y0 + 1, h - 1), min(x0 + 1, w - 1)
            ty, tx = y - y0, xx - x0
            top = (1 - tx) * x[:, y0, x0] + tx * x[:, y0, x1]
            bottom = (1 - tx) * x[:, y1, x0] + tx * x[:, y1, x1]
            out[:, i, j] = (1 - ty) * top + ty * bottom
    return out


@pytest.mark.parametrize("interpolation", ["bilinear", "nearest"])
@pytest.mark.parametrize(("shape", "size"), SIZES)
def test_matches_the_pixel_by_pixel_reference(rng, shape, size, interpolation):
    x = rng.standard_normal(shape)
    y = resize(Tensor(x), size, interpolation).numpy()
    np.testing.assert_allclose(y, _reference(x, size, interpolation), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("interpolation", ["bilinear", "nearest"])
@pytest.mark.parametrize(("shape", "size"), SIZES)
def test_gradcheck(rng, shape, size, interpolation):
    assert_gradcheck(lambda x: resize(x, size, interpolation), rng.standard_normal(shape))


@pytest.mark.parametrize(
    ("mode", "interpolation"), [("bilinear", "bilinear"), ("nearest-exact", "nearest")]
)
@pytest.mark.parametrize(("shape", "size"), SIZES)
def test_matches_torch_interpolate(torch, rng, shape, size, mode, interpolation):
    """Forward and the gradient of a random projection, float32: PyTorch's bilinear with
    align_corners=False and antialias=False, and its "nearest-exact" (half-pixel nearest)."""
    x = rng.standard_normal(shape).astype(np.float32)
    xt = Tensor(x, requires_grad=True)
    y = resize(xt, size, interpolation)
    r = rng.standard_normal(y.shape).astype(np.float32)
    (y * r).sum().backward()
    assert y.dtype == np.float32 and xt.grad.dtype == np.float32

    extra = {"align_corners": False, "antialias": False} if mode == "bilinear" else {}
    xr = torch.tensor(x.transpose(0, 3, 1, 2), requires_grad=True)
    out = torch.nn.functional.interpolate(xr, size=size, mode=mode, **extra)
    (out * torch.tensor(r.transpose(0, 3, 1, 2))).sum().backward()
    np.testing.assert_allclose(y.numpy(), out.detach().numpy().transpose(0, 2, 3, 1), **FORWARD_TOL)
    np.testing.assert_allclose(xt.grad, xr.grad.numpy().transpose(0, 2, 3, 1), **GRAD_TOL)


def test_arguments_are_checked():
    x = Tensor(np.zeros((1, 3, 4, 2), np.float32))
    with pytest.raises(ValueError, match="resize: expected a 4-D input"):
        resize(Tensor(np.zeros((3, 4, 2), np.float32)), (2, 2))
    with pytest.raises(ValueError, match="resize: 'size' must be a pair"):
        resize(x, 3)
    with pytest.raises(ValueError, match="resize: 'height' must be a positive integer"):
        resize(x, (0, 2))
    with pytest.raises(ValueError, match="resize: 'interpolation' must be one of"):
        resize(x, (2, 2), "bicubic")
