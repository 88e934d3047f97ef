"""layer_norm, group_norm and normalize (glassnet/ops/normalization.py): forward against plain
NumPy references, gradients against float64 finite differences, and parity with PyTorch's
F.layer_norm, F.group_norm and F.normalize."""

from __future__ import annotations

import numpy as np
import pytest

from glassnet import Tensor, ops
from tests.helpers import FORWARD_TOL, GRAD_TOL, assert_gradcheck, run_float32, torch_run


# ------------------------------------------------------------------ NumPy references
def ref_layer_norm(x, gamma, beta, axes, eps, rms=False):
    mean = x.mean(axis=axes, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=axes, keepdims=True)
    shape = [x.shape[d] if d in axes else 1 for d in range(x.ndim)]
    y = (x if rms else x - mean) / np.sqrt(var + eps)
    if gamma is not None:
        y = y * gamma.reshape(shape)
    return y if beta is None else y + beta.reshape(shape)


def ref_group_norm(x, groups, gamma, beta, eps):
    n, c = x.shape[0], x.shape[-1]
    out = np.empty_like(x)
    size = c // groups
    for i in range(n):
        for g in range(groups):
            part = x[i, ..., g * size : (g + 1) * size]
            out[i, ..., g * size : (g + 1) * size] = (part - part.mean()) / np.sqrt(
                part.var() + eps
            )
    return out * gamma + beta


def ref_normalize(x, axes, eps):
    return x / np.maximum(np.sqrt((x**2).sum(axis=axes, keepdims=True)), eps)


# ------------------------------------------------------------------ forward
@pytest.mark.parametrize(
    ("shape", "axis"), [((4, 6), -1), ((2, 3, 5), -1), ((2, 3, 4, 5), (1, 2, 3)), ((2, 3, 4), 1)]
)
@pytest.mark.parametrize("rms", [False, True])
def test_layer_norm_matches_reference(shape, axis, rms, rng):
    x = (2 + 3 * rng.standard_normal(shape)).astype(np.float32)
    axes = tuple(a % len(shape) for a in np.atleast_1d(axis))
    pshape = tuple(shape[a] for a in axes)
    gamma = rng.standard_normal(pshape).astype(np.float32)
    beta = None if rms else rng.standard_normal(pshape).astype(np.float32)
    out = ops.layer_norm(Tensor(x), Tensor(gamma), beta, axis=axis, epsilon=1e-3, rms_scaling=rms)
    want = ref_layer_norm(x.astype(np.float64), gamma, beta, axes, 1e-3, rms)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out.numpy(), want, **FORWARD_TOL)


@pytest.mark.parametrize(("shape", "groups"), [((2, 3, 4, 6), 3), ((3, 8), 2), ((1, 2, 2, 4), 4)])
def test_group_norm_matches_reference(shape, groups, rng):
    x = (1 + 2 * rng.standard_normal(shape)).astype(np.float32)
    gamma, beta = rng.standard_normal((2, shape[-1])).astype(np.float32)
    out = ops.group_norm(Tensor(x), groups, Tensor(gamma), Tensor(beta), epsilon=1e-3)
    want = ref_group_norm(x.astype(np.float64), groups, gamma, beta, 1e-3)
    np.testing.assert_allclose(out.numpy(), want, **FORWARD_TOL)


def test_group_norm_with_one_group_is_layer_norm_over_all_but_the_batch(rng):
    x = rng.standard_normal((3, 4, 5, 6)).astype(np.float32)
    a = ops.group_norm(Tensor(x), 1).numpy()
    b = ops.layer_norm(Tensor(x), axis=(1, 2, 3)).numpy()
    np.testing.assert_allclose(a, b, atol=1e-6)


@pytest.mark.parametrize(("shape", "axis"), [((4, 5), -1), ((2, 3, 4), (1, 2)), ((3, 4, 2), 1)])
def test_normalize_matches_reference(shape, axis, rng):
    x = rng.standard_normal(shape).astype(np.float32)
    x[0] = 1e-8  # a vector shorter than ε: divided by ε, not by its length
    axes = tuple(a % len(shape) for a in np.atleast_1d(axis))
    out = ops.normalize(Tensor(x), axis=axis).numpy()
    np.testing.assert_allclose(out, ref_normalize(x.astype(np.float64), axes, 1e-6), atol=1e-6)
    lengths = np.sqrt((out[1:] ** 2).sum(axis=axes))
    np.testing.assert_allclose(lengths, 1, rtol=1e-6)


# ------------------------------------------------------------------ gradients
@pytest.mark.parametrize(("shape", "axis"), [((3, 5), -1), ((2, 3, 4), (1, 2)), ((2, 3, 4), 1)])
@pytest.mark.parametrize("rms", [False, True])
def test_layer_norm_gradients(shape, axis, rms, rng):
    x = rng.standard_normal(shape)
    axes = tuple(a % len(shape) for a in np.atleast_1d(axis))
    pshape = tuple(shape[a] for a in axes)
    gamma, beta = rng.standard_normal((2, *pshape))
    if rms:
        fn = lambda t, g: ops.layer_norm(t, g, None, axis=axis, epsilon=0.1, rms_scaling=True)  # noqa: E731
        assert_gradcheck(fn, x, gamma)
    else:
        assert_gradcheck(lambda t, g, b: ops.layer_norm(t, g, b, axis=axis), x, gamma, beta)
    assert_gradcheck(lambda t: ops.layer_norm(t, axis=axis, rms_scaling=rms), x)


@pytest.mark.parametrize(("shape", "groups"), [((2, 3, 2, 4), 2), ((3, 6), 3), ((1, 2, 2, 1), 1)])
def test_group_norm_gradients(shape, groups, rng):
    x = rng.standard_normal(shape)
    gamma, beta = rng.standard_normal((2, shape[-1]))
    assert_gradcheck(lambda t, g, b: ops.group_norm(t, groups, g, b), x, gamma, beta)
    assert_gradcheck(lambda t: ops.group_norm(t, groups), x)


def test_normalize_gradients(rng):
    x = rng.standard_normal((3, 4, 2))
    assert_gradcheck(lambda t: ops.normalize(t, axis=-1), x)
    assert_gradcheck(lambda t: ops.normalize(t, axis=(1, 2)), x)
    tiny = np.full((2, 3), 1e-9)  # below ε: a constant divisor, gradient 1/ε
    _, (g,) = run_float32(lambda t: ops.normalize(t), tiny)
    np.testing.assert_allclose(g, 1e6, rtol=1e-6)


# ------------------------------------------------------------------ PyTorch parity
# float32 both sides; FORWARD_TOL (atol 1e-5, rtol 1e-4) outputs, GRAD_TOL (atol 1e-4, rtol
# 1e-3) gradients of sum(out · w), w random so the input gradient is not zero.
def test_layer_norm_matches_pytorch(rng, torch):
    x = rng.standard_normal((3, 4, 6)).astype(np.float32)
    gamma, beta = rng.standard_normal((2, 4, 6)).astype(np.float32)
    w = rng.standard_normal(x.shape).astype(np.float32)
    ours = run_float32(
        lambda *t: ops.layer_norm(t[0], t[1], t[2], axis=(1, 2), epsilon=1e-3) * Tensor(w),
        x,
        gamma,
        beta,
    )
    F = torch.nn.functional
    theirs = torch_run(
        torch,
        lambda *t: F.layer_norm(t[0], (4, 6), t[1], t[2], eps=1e-3) * torch.tensor(w),
        x,
        gamma,
        beta,
    )
    np.testing.assert_allclose(ours[0], theirs[0], **FORWARD_TOL)
    for a, b in zip(ours[1], theirs[1], strict=True):
        np.testing.assert_allclose(a, b, **GRAD_TOL)


def test_group_norm_matches_pytorch_nchw(rng, torch):
    x = rng.standard_normal((2, 5, 3, 6)).astype(np.float32)  # NHWC
    gamma, beta = rng.standard_normal((2, 6)).astype(np.float32)
    w = rng.standard_normal(x.shape).astype(np.float32)
    ours = run_float32(
        lambda *t: ops.group_norm(t[0], 3, t[1], t[2], epsilon=1e-3) * Tensor(w), x, gamma, beta
    )

    def torch_fn(tx, tg, tb):
        out = torch.nn.functional.group_norm(tx.permute(0, 3, 1, 2), 3, tg, tb, eps=1e-3)
        return out.permute(0, 2, 3, 1) * torch.tensor(w)

    theirs = torch_run(torch, torch_fn, x, gamma, beta)
    np.testing.assert_allclose(ours[0], theirs[0], **FORWARD_TOL)
    for a, b in zip(ours[1], theirs[1], strict=True):
        np.testing.assert_allclose(a, b, **GRAD_TOL)


def test_normalize_matches_pytorch(rng, torch):
    x = rng.standard_normal((4, 3, 5)).astype(np.float32)
    w = rng.standard_normal(x.shape).astype(np.float32)
    ours = run_float32(lambda t: ops.normalize(t, axis=1) * Tensor(w), x)
    theirs = torch_run(
        torch,
        lambda t: torch.nn.functional.normalize(t, dim=1, eps=1e-6) * torch.tensor(w),
        x,
    )
    np.testing.assert_allclose(ours[0], theirs[0], **FORWARD_TOL)
    np.testing.assert_allclose(ours[1][0], theirs[1][0], **GRAD_TOL)


# ------------------------------------------------------------------ errors
def test_argument_errors(rng):
    x = Tensor(rng.standard_normal((2, 3, 6)).astype(np.float32))
    with pytest.raises(ValueError, match=r"group_norm: the 6 channels .* into 4 groups"):
        ops.group_norm(x, 4)
    with pytest.raises(ValueError, match=r"group_norm: groups must be a positive integer"):
        ops.group_norm(x, 0)
    with pytest.raises(ValueError, match=r"layer_norm: gamma must hold one value per .* \(6\)"):
        ops.layer_norm(x, Tensor(np.ones(5, np.float32)))
    with pytest.raises(ValueError, match=r"layer_norm: axis must name distinct axes .* axis=0"):
        ops.layer_norm(x, axis=0)
    with pytest.raises(ValueError, match=r"normalize: axis .* axis=3"):
        ops.normalize(x, axis=3)
    with pytest.raises(TypeError, match=r"normalize: axis must be an int"):
        ops.normalize(x, axis=1.5)
    with pytest.raises(ValueError, match=r"layer_norm: epsilon must be positive"):
        ops.layer_norm(x, epsilon=0)
    with pytest.raises(ValueError, match=r"layer_norm: rms_scaling has no shift"):
        ops.layer_norm(x, beta=Tensor(np.ones(6, np.float32)), rms_scaling=True)
