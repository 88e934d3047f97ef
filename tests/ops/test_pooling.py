"""Pooling: forward vs loop references, backward vs finite differences and PyTorch, the
first-maximum tie rule on both max-pool paths, dtypes and user errors. Mirrors
glassnet/ops/pooling.py."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from glassnet import Tensor, no_grad
from glassnet.ops import (
    avg_pool2d,
    global_avg_pool2d,
    global_max_pool2d,
    max_pool2d,
    pool_output_shape,
)
from tests import reference as ref
from tests.helpers import FORWARD_TOL, GRAD_TOL, assert_gradcheck, run_float32, torch_run

# (x shape, pool_size, stride, padding)
CASES = {
    "2x2-tiled": ((2, 8, 6, 3), 2, None, "valid"),
    "2x2-odd-size": ((2, 7, 5, 3), 2, None, "valid"),
    "3x3-stride2-valid": ((2, 9, 7, 2), 3, 2, "valid"),
    "3x3-stride2-same-odd": ((2, 7, 7, 2), 3, 2, "same"),
    "3x3-stride2-same-even": ((1, 8, 6, 2), 3, 2, "same"),
    "2x2-stride1-same": ((2, 5, 4, 2), 2, 1, "same"),
    "2x2-same-odd": ((2, 5, 7, 2), 2, None, "same"),
    "2x2-same-tiled": ((1, 6, 6, 2), 2, None, "same"),
    "3x2-stride-pair": ((1, 6, 7, 3), (3, 2), (1, 2), "valid"),
    "stride-beyond-pool": ((1, 8, 8, 2), 2, 3, "valid"),
    "4x4-tiled-batch1": ((1, 8, 8, 1), 4, None, "valid"),
    "whole-image": ((2, 4, 3, 2), (4, 3), None, "valid"),
}
IDS = list(CASES)
PARAMS = list(CASES.values())
POOLS = {"max": (max_pool2d, ref.max_pool2d), "avg": (avg_pool2d, ref.avg_pool2d)}


def _distinct(rng, shape, dtype=np.float64):
    """Values 0.1 apart in random order: no ties, and far from max-pool kinks for gradcheck."""
    return (rng.permutation(int(np.prod(shape))).reshape(shape) * 0.1).astype(dtype)


def _torch_pool(torch, kind, x_shape, pool_size, stride, padding):
    """PyTorch pooling on NHWC input with TensorFlow's "same": max pads with -inf; avg is a sum
    pool of the zero-padded input divided by a sum pool of ones (only real cells count)."""
    functional = torch.nn.functional
    p = ref.as_pair(pool_size)
    s = p if stride is None else ref.as_pair(stride)
    (top, bottom), (left, right) = ref.explicit_pads(x_shape[1:3], p, s, padding)
    pads = (left, right, top, bottom)

    def fn(x):
        x = x.permute(0, 3, 1, 2)
        if kind == "max":
            y = functional.max_pool2d(functional.pad(x, pads, value=-float("inf")), p, s)
        else:
            total = functional.avg_pool2d(functional.pad(x, pads), p, s, divisor_override=1)
            ones = functional.pad(torch.ones_like(x), pads)
            y = total / functional.avg_pool2d(ones, p, s, divisor_override=1)
        return y.permute(0, 2, 3, 1)

    return fn


# ------------------------------------------------------------------ forward
@pytest.mark.parametrize("kind", list(POOLS))
@pytest.mark.parametrize(("x_shape", "pool_size", "stride", "padding"), PARAMS, ids=IDS)
def test_forward_matches_loop_reference(rng, kind, x_shape, pool_size, stride, padding):
    op, reference = POOLS[kind]
    x = rng.standard_normal(x_shape)
    y = op(Tensor(x), pool_size, stride, padding)
    hw = pool_output_shape(x_shape[1:3], pool_size, stride, padding)
    assert y.shape == (x_shape[0], *hw, x_shape[3]) and y.dtype == np.float64
    np.testing.assert_allclose(y.numpy(), reference(x, pool_size, stride, padding), atol=1e-12)


def test_avg_pool_same_ignores_padded_cells():
    y = avg_pool2d(Tensor(np.ones((1, 3, 3, 1), np.float32)), 2, padding="same")
    assert y.shape == (1, 2, 2, 1)
    np.testing.assert_array_equal(y.numpy(), 1.0)  # zero padding would give 0.5 and 0.25


def test_max_pool_same_never_picks_padding():
    y = max_pool2d(Tensor(-np.ones((1, 3, 3, 1), np.float32)), 2, padding="same")
    np.testing.assert_array_equal(y.numpy(), -1.0)


def test_default_stride_is_pool_size():
    assert max_pool2d(Tensor(np.zeros((1, 9, 9, 1))), 3).shape == (1, 3, 3, 1)
    assert avg_pool2d(Tensor(np.zeros((1, 9, 9, 1))), (3, 1)).shape == (1, 3, 9, 1)


# ------------------------------------------------------------------ backward: finite differences
@pytest.mark.parametrize(("x_shape", "pool_size", "stride", "padding"), PARAMS, ids=IDS)
def test_gradcheck_max_pool(rng, x_shape, pool_size, stride, padding):
    x = _distinct(rng, x_shape)
    assert_gradcheck(lambda x: max_pool2d(x, pool_size, stride, padding), x)


@pytest.mark.parametrize(("x_shape", "pool_size", "stride", "padding"), PARAMS, ids=IDS)
def test_gradcheck_avg_pool(rng, x_shape, pool_size, stride, padding):
    x = rng.standard_normal(x_shape)
    assert_gradcheck(lambda x: avg_pool2d(x, pool_size, stride, padding), x)


# ------------------------------------------------------------------ parity with PyTorch
@pytest.mark.parametrize("kind", list(POOLS))
@pytest.mark.parametrize(("x_shape", "pool_size", "stride", "padding"), PARAMS, ids=IDS)
def test_matches_torch(torch, rng, kind, x_shape, pool_size, stride, padding):
    """float32 forward and input grad of out.sum(); FORWARD_TOL (atol 1e-5, rtol 1e-4) and
    GRAD_TOL (atol 1e-4, rtol 1e-3) from tests/helpers.py. Random normals have no ties."""
    x = rng.standard_normal(x_shape).astype(np.float32)
    op = POOLS[kind][0]
    ours, (our_grad,) = run_float32(lambda x: op(x, pool_size, stride, padding), x)
    fn = _torch_pool(torch, kind, x_shape, pool_size, stride, padding)
    theirs, (their_grad,) = torch_run(torch, fn, x)
    np.testing.assert_allclose(ours, theirs, **FORWARD_TOL)
    np.testing.assert_allclose(our_grad, their_grad, **GRAD_TOL)


@pytest.mark.parametrize("kind", list(POOLS))
@pytest.mark.parametrize("tiled", [True, False], ids=["tiled", "general"])
def test_non_contiguous_input(torch, rng, kind, tiled):
    x = rng.standard_normal((2, 6, 8, 3)).astype(np.float32)
    view = np.transpose(np.ascontiguousarray(np.transpose(x, (0, 2, 1, 3))), (0, 2, 1, 3))
    assert not view.flags.c_contiguous
    stride = None if tiled else 1
    theirs, (their_grad,) = torch_run(
        torch, _torch_pool(torch, kind, x.shape, 2, stride, "same"), x
    )
    t = Tensor(view, requires_grad=True)
    y = POOLS[kind][0](t, 2, stride, "same")
    assert y._ctx.tiled is tiled  # a non-contiguous input still takes the fast path
    y.sum().backward()
    np.testing.assert_allclose(y.numpy(), theirs, **FORWARD_TOL)
    np.testing.assert_allclose(t.grad, their_grad, **GRAD_TOL)


# ------------------------------------------------------------------ the tie rule, both paths
def _grad_of_sum(op, x, *args):
    t = Tensor(x, requires_grad=True)
    y = op(t, *args)
    y.sum().backward()
    return y, t.grad


@pytest.mark.parametrize(
    ("window", "winner"),
    [
        ([[1.0, 1.0], [1.0, 1.0]], (0, 0)),
        ([[1.0, 3.0], [3.0, 2.0]], (0, 1)),
        ([[0.0, 1.0], [5.0, 5.0]], (1, 0)),
        ([[-2.0, -3.0], [-4.0, -2.0]], (0, 0)),
    ],
)
@pytest.mark.parametrize("image", [(2, 2), (3, 3)], ids=["tiled", "general"])
def test_max_pool_gradient_goes_to_first_maximum(window, winner, image):
    x = np.full((1, *image, 1), -9.0)
    x[0, :2, :2, 0] = window
    _, grad = _grad_of_sum(max_pool2d, x, 2)
    expected = np.zeros_like(x)
    expected[(0, *winner, 0)] = 1.0
    np.testing.assert_array_equal(grad, expected)


@pytest.mark.parametrize("kind", list(POOLS))
def test_fast_path_equals_general_path_with_ties(rng, kind):
    """2×2/2 on an even image takes the reshape fast path; the same windows on the image with an
    extra row and column (which 'valid' pooling drops) take the general path. Integer values
    make ties everywhere, so max-pool gradients also check that both keep the first maximum."""
    op = POOLS[kind][0]
    x = rng.integers(0, 3, (2, 6, 8, 3)).astype(np.float32)
    bigger = np.pad(x, ((0, 0), (0, 1), (0, 1), (0, 0)), constant_values=7.0)
    fast_t, slow_t = Tensor(x, requires_grad=True), Tensor(bigger, requires_grad=True)
    fast, slow = op(fast_t, 2), op(slow_t, 2)
    assert fast._ctx.tiled and not slow._ctx.tiled
    np.testing.assert_array_equal(fast.numpy(), slow.numpy())
    g = rng.standard_normal(fast.shape).astype(np.float32)
    fast.backward(g)
    slow.backward(g)
    np.testing.assert_array_equal(fast_t.grad, slow_t.grad[:, :6, :8])
    np.testing.assert_array_equal(slow_t.grad[:, 6:], 0.0)
    np.testing.assert_array_equal(slow_t.grad[:, :, 8:], 0.0)
    if kind == "max":
        np.testing.assert_array_equal(fast_t.grad, ref.max_pool2d_grad(x, g, 2))


@pytest.mark.parametrize("layout", ["contiguous", "strided"])
@pytest.mark.parametrize(("x_shape", "pool_size", "stride", "padding"), PARAMS, ids=IDS)
def test_max_pool_inference_gives_the_training_paths_numbers(
    rng, x_shape, pool_size, stride, padding, layout
):
    """Without a gradient (the two-round max where 2×2 windows tile a contiguous image) the
    maxima are exactly those of the training path, which keeps the argmax, ties included."""
    x = rng.integers(0, 3, x_shape).astype(np.float32)
    if layout == "strided":
        x = np.ascontiguousarray(np.swapaxes(x, 1, 2)).swapaxes(1, 2)  # same shape, strided
    with no_grad():
        inferred = max_pool2d(Tensor(x), pool_size, stride, padding).numpy()
    trained = max_pool2d(Tensor(x, requires_grad=True), pool_size, stride, padding).numpy()
    np.testing.assert_array_equal(inferred, trained)


def test_max_pool_sends_every_tie_pattern_to_the_first_maximum():
    """All 81 windows with cells in {0, 1, 2}, side by side: the gradient goes to the first
    maximum in row-major order for every pattern of ties (e.g. top right and bottom left equal
    and largest: the top right), as PyTorch does; inference's 2×2 path gives the same maxima."""
    import itertools

    windows = np.array(list(itertools.product(range(3), repeat=4)), dtype=np.float32)
    x = windows.reshape(81, 2, 2).transpose(1, 0, 2).reshape(1, 2, 162, 1)  # 81 windows
    t = Tensor(x, requires_grad=True)
    y = max_pool2d(t, 2)
    g = np.arange(1, 82, dtype=np.float32).reshape(1, 1, 81, 1)
    y.backward(g)
    np.testing.assert_array_equal(y.numpy()[0, 0, :, 0], windows.max(axis=1))
    np.testing.assert_array_equal(t.grad, ref.max_pool2d_grad(x, g, 2))
    with no_grad():
        np.testing.assert_array_equal(max_pool2d(Tensor(x), 2).numpy(), y.numpy())


# ------------------------------------------------------------------ properties (hypothesis)
@st.composite
def pool_configs(draw):
    return {
        "x_shape": (
            draw(st.integers(1, 2)),
            draw(st.integers(1, 9)),
            draw(st.integers(1, 9)),
            draw(st.integers(1, 3)),
        ),
        "pool_size": draw(st.one_of(st.integers(1, 4), st.tuples(*[st.integers(1, 4)] * 2))),
        "stride": draw(
            st.one_of(st.none(), st.integers(1, 4), st.tuples(*[st.integers(1, 4)] * 2))
        ),
        "padding": draw(st.sampled_from(["valid", "same"])),
        "seed": draw(st.integers(0, 2**16)),
    }


def _fits(cfg) -> bool:
    try:
        pool_output_shape(cfg["x_shape"][1:3], cfg["pool_size"], cfg["stride"], cfg["padding"])
    except ValueError:
        return False
    return True


@settings(max_examples=25, deadline=None)
@given(pool_configs())
def test_property_shapes_values_and_max_gradient(cfg):
    """Shapes equal pool_output_shape, values equal the loop references, and the max-pool
    gradient (on small integers, so with many ties) equals the first-maximum loop reference."""
    assume(_fits(cfg))
    rng = np.random.default_rng(cfg["seed"])
    args = (cfg["pool_size"], cfg["stride"], cfg["padding"])
    x = rng.integers(0, 4, cfg["x_shape"]).astype(np.float64)
    hw = pool_output_shape(cfg["x_shape"][1:3], *args)
    for op, reference in POOLS.values():
        y = op(Tensor(x), *args)
        assert y.shape == (cfg["x_shape"][0], *hw, cfg["x_shape"][3])
        np.testing.assert_allclose(y.numpy(), reference(x, *args), atol=1e-12)
    g = rng.standard_normal((cfg["x_shape"][0], *hw, cfg["x_shape"][3]))
    t = Tensor(x, requires_grad=True)
    max_pool2d(t, *args).backward(g)
    np.testing.assert_allclose(t.grad, ref.max_pool2d_grad(x, g, *args), atol=1e-12)


@settings(max_examples=25, deadline=None)
@given(pool_configs())
def test_property_avg_pool_backward_is_the_adjoint(cfg):
    """avg_pool2d is linear, so Σ g·avg(x) = Σ x·dx for any upstream g (the dot-product test)."""
    assume(_fits(cfg))
    rng = np.random.default_rng(cfg["seed"])
    x = rng.standard_normal(cfg["x_shape"])
    t = Tensor(x, requires_grad=True)
    y = avg_pool2d(t, cfg["pool_size"], cfg["stride"], cfg["padding"])
    g = rng.standard_normal(y.shape)
    y.backward(g)
    np.testing.assert_allclose((x * t.grad).sum(), (g * y.numpy()).sum(), rtol=1e-9, atol=1e-9)


# ------------------------------------------------------------------ dtypes
@pytest.mark.parametrize(
    "fn",
    [
        lambda x: max_pool2d(x, 2),
        lambda x: max_pool2d(x, 3, 2, "same"),
        lambda x: avg_pool2d(x, 2),
        lambda x: avg_pool2d(x, 3, 2, "same"),
        global_avg_pool2d,
        global_max_pool2d,
    ],
    ids=["max-tiled", "max-general", "avg-tiled", "avg-general", "global-avg", "global-max"],
)
def test_dtype_is_kept(rng, fn):
    x = rng.standard_normal((2, 6, 6, 3))
    run_float32(fn, x)  # asserts float32 forward and backward
    t = Tensor(x, requires_grad=True)
    y = fn(t)
    y.sum().backward()
    assert y.dtype == np.float64 and t.grad.dtype == np.float64


# ------------------------------------------------------------------ global pools
@pytest.mark.parametrize("keepdims", [False, True])
def test_global_pools_forward(rng, keepdims):
    x = rng.standard_normal((2, 4, 5, 3))
    shape = (2, 1, 1, 3) if keepdims else (2, 3)
    avg, mx = global_avg_pool2d(Tensor(x), keepdims), global_max_pool2d(Tensor(x), keepdims)
    assert avg.shape == shape and mx.shape == shape
    np.testing.assert_allclose(avg.numpy().reshape(2, 3), x.mean(axis=(1, 2)), atol=1e-12)
    np.testing.assert_array_equal(mx.numpy().reshape(2, 3), x.max(axis=(1, 2)))


@pytest.mark.parametrize("keepdims", [False, True])
def test_global_pools_gradcheck(rng, keepdims):
    x = _distinct(rng, (2, 3, 4, 2))
    assert_gradcheck(lambda x: global_avg_pool2d(x, keepdims), x)
    assert_gradcheck(lambda x: global_max_pool2d(x, keepdims), x)


def test_global_pools_match_torch(torch, rng):
    x = rng.standard_normal((2, 5, 4, 3)).astype(np.float32)
    for ours_fn, torch_fn in [
        (global_avg_pool2d, lambda t: t.mean(dim=(1, 2))),
        (global_max_pool2d, lambda t: t.amax(dim=(1, 2))),  # no ties in random normals
    ]:
        ours, (our_grad,) = run_float32(ours_fn, x)
        theirs, (their_grad,) = torch_run(torch, torch_fn, x)
        np.testing.assert_allclose(ours, theirs, **FORWARD_TOL)
        np.testing.assert_allclose(our_grad, their_grad, **GRAD_TOL)


def test_global_max_pool_gradient_goes_to_first_maximum():
    x = np.zeros((1, 3, 3, 2))
    x[0, 2, 1, 1] = x[0, 1, 2, 1] = 1.0
    _, grad = _grad_of_sum(global_max_pool2d, x)
    expected = np.zeros_like(x)
    expected[0, 0, 0, 0] = 1.0  # all equal: the top-left cell
    expected[0, 1, 2, 1] = 1.0  # row 1 comes before row 2
    np.testing.assert_array_equal(grad, expected)


# ------------------------------------------------------------------ pool_output_shape
def test_pool_output_shape():
    assert pool_output_shape((28, 28), 2) == (14, 14)
    assert pool_output_shape((7, 7), 2) == (3, 3)
    assert pool_output_shape((7, 7), 3, 2) == (3, 3)
    assert pool_output_shape((7, 7), 3, 2, "same") == (4, 4)
    assert pool_output_shape((8, 5), (2, 1), (2, 1)) == (4, 5)
    assert pool_output_shape((None, 7), 2, padding="same") == (None, 4)


# ------------------------------------------------------------------ errors a user can cause
@pytest.mark.parametrize("op", [max_pool2d, avg_pool2d, global_avg_pool2d, global_max_pool2d])
def test_error_3d_input(op):
    name = op.__name__
    with pytest.raises(
        ValueError,
        match=rf"{name}: expected a 4-D input .* received shape "
        r"\(28, 28, 1\)\. Add a batch axis, e\.g\. x\[None\]",
    ):
        op(Tensor(np.zeros((28, 28, 1), np.float32)))


@pytest.mark.parametrize("op", [max_pool2d, avg_pool2d, global_max_pool2d])
def test_error_integer_input(op):
    with pytest.raises(TypeError, match=r"expected a floating-point input.*dtype uint8"):
        op(np.zeros((1, 4, 4, 1), np.uint8))


@pytest.mark.parametrize("op", [max_pool2d, avg_pool2d])
def test_error_window_too_big(op):
    with pytest.raises(
        ValueError,
        match=rf"{op.__name__}: the pool window does not fit in the "
        r"input, the output would be \(0, 0\).*input shape \(1, 2, 2, 8\) with pool "
        r"window \(3, 3\), stride=\(2, 2\)",
    ):
        op(Tensor(np.zeros((1, 2, 2, 8), np.float32)), 3, 2)
    with pytest.raises(ValueError, match=r"pool2d: the pool window does not fit"):
        pool_output_shape((2, 2), 3, 2)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"padding": "full"}, ValueError, r"unknown padding 'full'\. Expected 'valid' or 'same'"),
        ({"padding": 1}, TypeError, r"padding must be 'valid' or 'same'.*padding=1"),
        ({"pool_size": 0}, ValueError, r"pool_size must be positive.*pool_size=0"),
        ({"pool_size": (2, 2, 2)}, TypeError, r"pool_size must be an int or a pair of ints"),
        ({"stride": 0}, ValueError, r"stride must be positive"),
        ({"stride": 2.0}, TypeError, r"stride must be an int or a pair of ints.*stride=2\.0"),
    ],
)
@pytest.mark.parametrize("op", [max_pool2d, avg_pool2d])
def test_error_bad_arguments(op, kwargs, error, message):
    with pytest.raises(error, match=rf"{op.__name__}: {message}"):
        op(Tensor(np.zeros((1, 4, 4, 1), np.float32)), **kwargs)


def test_error_global_max_pool_of_empty_image():
    with pytest.raises(ValueError, match=r"global_max_pool2d: the image is empty.*\(1, 0, 3, 2\)"):
        global_max_pool2d(Tensor(np.zeros((1, 0, 3, 2), np.float32)))


@pytest.mark.parametrize("op", [max_pool2d, avg_pool2d])
@pytest.mark.parametrize("padding", ["valid", "same"])
def test_an_empty_batch_pools_to_an_empty_batch_with_gradients(op, padding):
    """A batch of 0 images (e.g. the last, empty slice of a split) gives an empty output and an
    empty gradient of the input's shape instead of failing to reshape."""
    x = Tensor(np.zeros((0, 4, 4, 3), np.float32), requires_grad=True)
    y = op(x, 2, padding=padding)
    y.sum().backward()
    assert y.shape == (0, 2, 2, 3) and x.grad.shape == (0, 4, 4, 3)
