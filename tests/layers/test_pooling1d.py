"""1-D pooling layers (glassnet/layers/pooling.py) on (batch, steps, features): a loop
reference, gradcheck, PyTorch parity, errors."""

from __future__ import annotations

import math

import numpy as np
import pytest

from glassnet import Tensor, layers
from tests.helpers import FORWARD_TOL, GRAD_TOL, assert_gradcheck
from tests.layers.layer_checks import run_layer_test

L = layers


@pytest.mark.parametrize(
    ("cls", "kwargs", "input_shape", "output_shape"),
    [
        (L.MaxPooling1D, {}, (2, 8, 3), (2, 4, 3)),
        (L.MaxPooling1D, {"pool_size": 3, "strides": 2}, (1, 7, 1), (1, 3, 1)),
        (L.MaxPooling1D, {"pool_size": 3, "strides": 2, "padding": "same"}, (2, 8, 2), (2, 4, 2)),
        (L.AveragePooling1D, {}, (2, 6, 3), (2, 3, 3)),
        (L.AveragePooling1D, {"pool_size": (3,), "strides": (1,), "padding": "same"}, (1, 5, 2),
         (1, 5, 2)),
        (L.AveragePooling1D, {"pool_size": 1}, (1, 1, 1), (1, 1, 1)),
        (L.GlobalAveragePooling1D, {}, (2, 5, 3), (2, 3)),
        (L.GlobalAveragePooling1D, {"keepdims": True}, (1, 1, 1), (1, 1, 1)),
        (L.GlobalMaxPooling1D, {}, (2, 5, 3), (2, 3)),
        (L.GlobalMaxPooling1D, {"keepdims": True}, (2, 4, 2), (2, 1, 2)),
    ],
)  # fmt: skip
def test_layer_checks(cls, kwargs, input_shape, output_shape):
    run_layer_test(cls, kwargs, input_shape=input_shape, expected_output_shape=output_shape)


def _reference(kind, x, pool, stride, padding):
    """Window by window; "same" as TensorFlow (the odd step of padding at the end), averages
    over the real steps only."""
    n, steps, f = x.shape
    if padding == "valid":
        out_len, before = (steps - pool) // stride + 1, 0
    else:
        out_len = math.ceil(steps / stride)
        before = max((out_len - 1) * stride + pool - steps, 0) // 2
    out = np.zeros((n, out_len, f))
    for i in range(out_len):
        lo = i * stride - before
        window = x[:, max(lo, 0) : min(lo + pool, steps)]
        out[:, i] = window.max(axis=1) if kind == "max" else window.mean(axis=1)
    return out


CASES = [(2, None, "valid", 8), (3, 2, "valid", 7), (3, 2, "same", 8), (4, 3, "same", 5)]


@pytest.mark.parametrize("kind", ["max", "avg"])
@pytest.mark.parametrize(("pool", "strides", "padding", "steps"), CASES)
def test_forward_matches_the_loop(rng, kind, pool, strides, padding, steps):
    cls = L.MaxPooling1D if kind == "max" else L.AveragePooling1D
    x = rng.standard_normal((2, steps, 3))
    want = _reference(kind, x, pool, strides or pool, padding)
    np.testing.assert_allclose(cls(pool, strides, padding)(x).numpy(), want, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("kind", ["max", "avg"])
@pytest.mark.parametrize(("pool", "strides", "padding", "steps"), CASES)
def test_gradcheck(rng, kind, pool, strides, padding, steps):
    cls = L.MaxPooling1D if kind == "max" else L.AveragePooling1D
    # distinct values 0.1 apart: no ties, far from the max's kinks
    x = rng.permutation(2 * steps * 2).reshape(2, steps, 2) * 0.1
    assert_gradcheck(lambda t: cls(pool, strides, padding)(t), x)


@pytest.mark.parametrize("cls", [L.GlobalAveragePooling1D, L.GlobalMaxPooling1D])
@pytest.mark.parametrize("keepdims", [False, True])
def test_global_pools_forward_and_gradcheck(rng, cls, keepdims):
    x = rng.permutation(2 * 5 * 3).reshape(2, 5, 3) * 0.1
    reduce = np.mean if cls is L.GlobalAveragePooling1D else np.max
    want = reduce(x, axis=1, keepdims=keepdims)
    np.testing.assert_allclose(
        cls(keepdims)(x).numpy(), want, rtol=1e-6
    )  # a layer casts to float32
    assert_gradcheck(lambda t: cls(keepdims)(t), x)


def _torch_pool(torch, kind, x, pool, stride, padding):
    """PyTorch in (N, F, steps); TensorFlow's "same" made explicit, Keras's average over the
    real steps (count_include_pad=False)."""
    F = torch.nn.functional
    x = x.transpose(1, 2)
    if padding == "same":
        out_len = math.ceil(x.shape[2] / stride)
        total = max((out_len - 1) * stride + pool - x.shape[2], 0)
        pads = (total // 2, total - total // 2)
        fill = -float("inf") if kind == "max" else 0.0
        x = F.pad(x, pads, value=fill)
        if kind == "avg":
            ones = F.pad(torch.ones_like(x[:, :, pads[0] : x.shape[2] - pads[1]]), pads)
            return (F.avg_pool1d(x, pool, stride) / F.avg_pool1d(ones, pool, stride)).transpose(
                1, 2
            )
    fn = F.max_pool1d if kind == "max" else F.avg_pool1d
    return fn(x, pool, stride).transpose(1, 2)


@pytest.mark.parametrize("kind", ["max", "avg"])
@pytest.mark.parametrize(("pool", "strides", "padding", "steps"), CASES)
def test_forward_and_gradients_match_torch(torch, rng, kind, pool, strides, padding, steps):
    cls = L.MaxPooling1D if kind == "max" else L.AveragePooling1D
    x = rng.standard_normal((2, steps, 3)).astype(np.float32)
    xt = Tensor(x, requires_grad=True)
    y = cls(pool, strides, padding)(xt)
    r = rng.standard_normal(y.shape).astype(np.float32)
    (y * r).sum().backward()
    xr = torch.tensor(x, requires_grad=True)
    out = _torch_pool(torch, kind, xr, pool, strides or pool, padding)
    (out * torch.tensor(r)).sum().backward()
    np.testing.assert_allclose(y.numpy(), out.detach().numpy(), **FORWARD_TOL)
    np.testing.assert_allclose(xt.grad, xr.grad.numpy(), **GRAD_TOL)


def test_keras_defaults_and_config():
    pool = L.MaxPooling1D()
    assert pool.pool_size == (2,) and pool.strides == (2,) and pool.padding == "valid"
    assert L.AveragePooling1D(3).strides == (3,)  # strides=None means pool_size
    config = L.AveragePooling1D(3, 1, "same").get_config()
    assert (config["pool_size"], config["strides"], config["padding"]) == ((3,), (1,), "same")
    assert L.GlobalMaxPooling1D().keepdims is False
    assert pool.compute_output_shape((None, None, 4)) == (None, None, 4)


def test_errors_name_the_layer():
    with pytest.raises(ValueError, match=r"MaxPooling1D 'p': computed output size would be zero"):
        L.MaxPooling1D(3, name="p")(np.zeros((1, 2, 4), np.float32))
    with pytest.raises(ValueError, match=r"AveragePooling1D 'a': expected a 3-D input"):
        L.AveragePooling1D(name="a")(np.zeros((1, 4, 4, 2), np.float32))
    with pytest.raises(ValueError, match=r"GlobalMaxPooling1D 'g': expected a 3-D input"):
        L.GlobalMaxPooling1D(name="g")(np.zeros((2, 4), np.float32))
    with pytest.raises(TypeError, match="MaxPooling1D: pool_size must be an int or a tuple"):
        L.MaxPooling1D((2, 2))
    with pytest.raises(ValueError, match="AveragePooling1D: 'strides' must be a positive integer"):
        L.AveragePooling1D(2, 0)
    with pytest.raises(TypeError, match=r"MaxPooling1D: 'pool_size' must be a positive integer"):
        L.MaxPooling1D("2")
    with pytest.raises(ValueError, match="MaxPooling1D: unknown padding 'causal'"):
        L.MaxPooling1D(padding="causal")
    with pytest.raises(TypeError, match="'keepdims' must be True or False"):
        L.GlobalAveragePooling1D(keepdims=1)
