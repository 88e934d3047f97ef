"""Reductions: sum/mean/max/min with axis and keepdims, ties, errors, PyTorch parity."""

from __future__ import annotations

import numpy as np
import pytest

from glassnet import Tensor, ops
from tests.helpers import FORWARD_TOL, GRAD_TOL, assert_gradcheck, run_float32, torch_run

REDUCTIONS = {"sum": np.sum, "mean": np.mean, "max": np.max, "min": np.min}
AXES = [None, 0, 1, -1, (0, 2), (0, 1, 2)]


@pytest.mark.parametrize("name", REDUCTIONS)
@pytest.mark.parametrize("axis", AXES)
@pytest.mark.parametrize("keepdims", [False, True])
def test_forward_backward(name, axis, keepdims, rng):
    x = rng.permutation(24).reshape(2, 3, 4) / 7.0  # distinct values: no ties for max/min
    fn = getattr(ops, name)
    out, (_g,) = run_float32(lambda t: fn(t, axis=axis, keepdims=keepdims), x)
    want = REDUCTIONS[name](x.astype(np.float32), axis=axis, keepdims=keepdims)
    assert out.shape == np.shape(want)
    np.testing.assert_allclose(out, want, rtol=1e-6)
    assert_gradcheck(lambda t: fn(t, axis=axis, keepdims=keepdims), x)


@pytest.mark.parametrize("name", REDUCTIONS)
def test_methods(name, rng):
    x = Tensor(rng.standard_normal((3, 4)).astype(np.float32))
    np.testing.assert_allclose(
        getattr(x, name)(axis=1).numpy(), REDUCTIONS[name](x.numpy(), axis=1), rtol=1e-6
    )


@pytest.mark.parametrize("name,torch_name", [("sum", "sum"), ("mean", "mean"), ("max", "amax")])
def test_matches_pytorch(name, torch_name, rng, torch):
    x = rng.standard_normal((4, 5, 6))
    ours, (g,) = run_float32(lambda t: getattr(ops, name)(t, axis=(0, 2)), x)
    theirs, (h,) = torch_run(torch, lambda t: getattr(torch, torch_name)(t, dim=(0, 2)), x)
    np.testing.assert_allclose(ours, theirs, **FORWARD_TOL)
    np.testing.assert_allclose(g, h, **GRAD_TOL)


def test_max_ties_share_the_gradient_like_amax(torch):
    x = np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]])
    _, (g,) = run_float32(lambda t: ops.max(t, axis=1), x)
    np.testing.assert_allclose(g, [[0, 0.5, 0.5], [1 / 3, 1 / 3, 1 / 3]], rtol=1e-6)
    _, (h,) = torch_run(torch, lambda t: torch.amax(t, dim=1), x)
    np.testing.assert_allclose(g, h, rtol=1e-6)


def test_scalar_input():
    x = Tensor(np.float32(2.0), requires_grad=True)
    y = x.sum()
    y.backward()
    assert y.shape == () and x.grad == 1.0


def test_bad_axis_is_named():
    x = Tensor(np.ones((2, 3), np.float32))
    with pytest.raises(ValueError, match=r"sum: axis 2 is out of range for a tensor with 2 axes"):
        x.sum(axis=2)
    with pytest.raises(ValueError, match="repeated axis"):
        x.mean(axis=(0, -2))
    with pytest.raises(ValueError, match="cannot reduce an empty axis"):
        ops.max(Tensor(np.ones((0, 3), np.float32)), axis=0)
