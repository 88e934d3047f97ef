"""Element-wise ops: NumPy reference, float64 finite differences, PyTorch parity, broadcasting."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from glassnet import Tensor, ops
from tests.helpers import FORWARD_TOL, GRAD_TOL, assert_gradcheck, run_float32, torch_run

# name -> (glassnet fn, NumPy reference, torch fn name, input maker)
positive = {"low": 0.5, "high": 2.0}
UNARY = {
    "neg": (ops.neg, np.negative, "neg", {}),
    "exp": (ops.exp, np.exp, "exp", {}),
    "log": (ops.log, np.log, "log", positive),
    "sqrt": (ops.sqrt, np.sqrt, "sqrt", positive),
    "abs": (ops.abs, np.abs, "abs", {}),
}
BINARY = {
    "add": (ops.add, np.add, "add", {}),
    "sub": (ops.sub, np.subtract, "sub", {}),
    "mul": (ops.mul, np.multiply, "mul", {}),
    "div": (ops.div, np.divide, "div", positive),
    "pow": (ops.pow, np.power, "pow", positive),
    "maximum": (ops.maximum, np.maximum, "maximum", {}),
    "minimum": (ops.minimum, np.minimum, "minimum", {}),
}


def _uniform(rng, shape, low=-2.0, high=2.0):
    x = rng.uniform(low, high, shape)
    # keep away from |x| = 0 where abs has a kink
    return np.where(np.abs(x) < 0.1, 0.3, x)


@pytest.mark.parametrize("name", UNARY)
def test_unary_forward_backward_and_dtype(name, rng):
    fn, ref, _, bounds = UNARY[name]
    x = _uniform(rng, (3, 4), **bounds)
    out, _ = run_float32(fn, x)
    np.testing.assert_allclose(out, ref(x.astype(np.float32)), rtol=1e-6)
    assert_gradcheck(fn, x)
    assert fn(Tensor(x)).dtype == np.float64


@pytest.mark.parametrize("name", BINARY)
@pytest.mark.parametrize(
    "shapes", [((3, 4), (3, 4)), ((2, 3, 4), (4,)), ((3, 1), (1, 5)), ((), (2,))]
)
def test_binary_forward_backward_with_broadcasting(name, shapes, rng):
    fn, ref, _, bounds = BINARY[name]
    a, b = (_uniform(rng, s, **bounds) for s in shapes)
    out, grads = run_float32(fn, a, b)
    np.testing.assert_allclose(out, ref(a.astype(np.float32), b.astype(np.float32)), rtol=1e-6)
    assert [g.shape for g in grads] == [np.shape(a), np.shape(b)]
    assert_gradcheck(fn, a, b)


@pytest.mark.parametrize("name", list(UNARY) + list(BINARY))
def test_matches_pytorch(name, rng, torch):
    table = UNARY if name in UNARY else BINARY
    fn, _, torch_name, bounds = table[name]
    arrays = [_uniform(rng, (2, 3, 4), **bounds)]
    if table is BINARY:
        arrays.append(_uniform(rng, (3, 1), **bounds))
    ours, our_grads = run_float32(fn, *arrays)
    theirs, their_grads = torch_run(torch, getattr(torch, torch_name), *arrays)
    np.testing.assert_allclose(ours, theirs, **FORWARD_TOL)
    for g, h in zip(our_grads, their_grads, strict=True):
        np.testing.assert_allclose(g, h, **GRAD_TOL)


def test_operators_are_the_ops(rng):
    a = Tensor(rng.standard_normal((2, 3)).astype(np.float32))
    b = Tensor(rng.uniform(1, 2, (2, 3)).astype(np.float32))
    np.testing.assert_allclose((a + b).numpy(), a.numpy() + b.numpy())
    np.testing.assert_allclose((a - b).numpy(), a.numpy() - b.numpy())
    np.testing.assert_allclose((a * b).numpy(), a.numpy() * b.numpy())
    np.testing.assert_allclose((a / b).numpy(), a.numpy() / b.numpy())
    np.testing.assert_allclose((b**2).numpy(), b.numpy() ** 2, rtol=1e-6)
    np.testing.assert_allclose((2**b).numpy(), 2 ** b.numpy(), rtol=1e-6)
    np.testing.assert_allclose((-a).numpy(), -a.numpy())
    np.testing.assert_allclose((1 - a).numpy(), 1 - a.numpy())
    np.testing.assert_allclose((1 / b).numpy(), 1 / b.numpy())
    np.testing.assert_allclose(abs(a).numpy(), np.abs(a.numpy()))


def test_clip_passes_gradient_inside_the_range_only():
    x = Tensor([-2.0, -0.5, 0.0, 0.5, 2.0], requires_grad=True)
    y = ops.clip(x, -1.0, 1.0)
    np.testing.assert_allclose(y.numpy(), [-1.0, -0.5, 0.0, 0.5, 1.0])
    y.sum().backward()
    np.testing.assert_allclose(x.grad, [0, 1, 1, 1, 0])
    assert y.dtype == np.float32
    assert ops.clip(x, min=0.0).numpy().min() == 0.0


def test_clip_bad_bounds():
    with pytest.raises(ValueError, match="give at least one of min and max"):
        ops.clip(Tensor([1.0]))
    with pytest.raises(ValueError, match="min must not exceed max"):
        ops.clip(Tensor([1.0]), 2.0, 1.0)


def test_clip_matches_pytorch(rng, torch):
    x = rng.uniform(-2, 2, (4, 5))
    ours, (g,) = run_float32(lambda t: ops.clip(t, -1.0, 0.5), x)
    theirs, (h,) = torch_run(torch, lambda t: torch.clamp(t, -1.0, 0.5), x)
    np.testing.assert_allclose(ours, theirs)
    np.testing.assert_allclose(g, h)


def test_maximum_splits_ties_like_pytorch(torch):
    a, b = np.array([1.0, 2.0, 3.0]), np.array([1.0, 1.0, 4.0])
    _, ours = run_float32(ops.maximum, a, b)
    _, theirs = torch_run(torch, torch.maximum, a, b)
    for g, h in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(g, h)
    np.testing.assert_allclose(ours[0], [0.5, 1.0, 0.0])


def test_where_routes_gradients(rng):
    cond = np.array([[True, False, True]])
    a, b = rng.standard_normal((2, 3)), rng.standard_normal((2, 3))
    out, (ga, gb) = run_float32(lambda x, y: ops.where(cond, x, y), a, b)
    np.testing.assert_allclose(out, np.where(cond, a, b).astype(np.float32))
    np.testing.assert_allclose(ga, np.broadcast_to(cond, (2, 3)).astype(np.float32))
    np.testing.assert_allclose(gb, 1 - ga)
    assert_gradcheck(lambda x, y: ops.where(Tensor(cond), x, y), a, b)


def test_where_takes_the_dtype_of_its_tensor_not_of_a_tensor_condition():
    x = Tensor(np.array([1.0, -2.0, 3.0], np.float32), requires_grad=True)
    y = ops.where(Tensor(np.array([True, False, True])), x, 0)
    assert y.dtype == np.float32
    np.testing.assert_array_equal(y.numpy(), [1.0, 0.0, 3.0])
    y.sum().backward()
    np.testing.assert_array_equal(x.grad, [1.0, 0.0, 1.0])


# name -> (glassnet fn, NumPy reference, how many operands)
LOGIC = {
    "equal": (ops.equal, np.equal, 2),
    "greater_equal": (ops.greater_equal, np.greater_equal, 2),
    "logical_and": (ops.logical_and, np.logical_and, 2),
    "logical_or": (ops.logical_or, np.logical_or, 2),
    "logical_not": (ops.logical_not, np.logical_not, 1),
}


@pytest.mark.parametrize("name", LOGIC)
def test_logic_matches_numpy_with_broadcasting_and_passes_no_gradient(name, rng):
    fn, ref, arity = LOGIC[name]
    a = rng.integers(0, 2, (2, 3, 4)).astype(np.float32)
    b = rng.integers(0, 2, (3, 1)).astype(np.float32)
    operands = (a, b)[:arity]
    tensors = [Tensor(v, requires_grad=True) for v in operands]
    out = fn(*tensors)
    assert out.dtype == bool and not out.requires_grad
    np.testing.assert_array_equal(out.numpy(), ref(*operands))
    masked = ops.where(out, tensors[0], 0.0)  # a mask from them gates the first operand
    masked.sum().backward()
    np.testing.assert_array_equal(tensors[0].grad, np.broadcast_to(ref(*operands), a.shape))
    assert arity == 1 or tensors[1].grad is None


def test_masks_are_ops_that_a_replay_records():
    """The mask and the where that reads it are both ops, the mask an input of the where, so a
    replayed step recomputes the mask from each batch instead of keeping the first one."""
    from glassnet.autograd import record_ops

    x = Tensor(np.array([[0.0, 2.0, 0.0]], np.float32), requires_grad=True)
    with record_ops() as record:
        keep = ops.logical_not(ops.equal(x, 0.0))
        ops.where(keep, x, -1.0)
    assert [a.fn.__name__ for a in record] == ["EqualOp", "LogicalNotOp", "WhereOp"]
    assert record[1].inputs[0] is record[0].output and record[2].inputs[2] is keep


def test_cast_between_floats_is_differentiable(rng):
    x = rng.standard_normal((3, 4))
    out, (g,) = run_float32(lambda t: ops.cast(ops.cast(t, "float64"), "float32"), x)
    np.testing.assert_array_equal(out, x.astype(np.float32))
    np.testing.assert_array_equal(g, np.ones((3, 4), np.float32))
    assert_gradcheck(lambda t: ops.cast(t, np.float64) * t, x)


def test_cast_to_integers_and_bools_is_a_step_with_no_gradient():
    x = Tensor(np.array([0.0, 3.0, 5.0], np.float32), requires_grad=True)
    ids = ops.cast(x, "int64")
    assert ids.dtype == np.int64 and not ids.requires_grad
    np.testing.assert_array_equal(ids.numpy(), [0, 3, 5])
    back = ops.cast(ops.cast(x, bool), "float32")
    np.testing.assert_array_equal(back.numpy(), [0.0, 1.0, 1.0])
    assert not back.requires_grad
    with pytest.raises(TypeError, match="'floaty' is not a dtype"):
        ops.cast(x, "floaty")


def test_pow_gradient_with_respect_to_the_exponent():
    assert_gradcheck(ops.pow, np.array([0.5, 1.5, 2.0]), np.array([2.0, -1.0, 0.5]))


finite = st.floats(-3, 3, allow_nan=False, width=32)


@settings(max_examples=30, deadline=None)
@given(data=st.data(), shapes=hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=4))
def test_broadcasting_property(data, shapes):
    """Any two broadcastable shapes: the result has NumPy's shape, grads have the input shapes
    and equal the broadcast-and-sum of the upstream gradient."""
    sa, sb = shapes.input_shapes
    a = data.draw(hnp.arrays(np.float32, sa, elements=finite))
    b = data.draw(hnp.arrays(np.float32, sb, elements=finite))
    ta, tb = Tensor(a, requires_grad=True), Tensor(b, requires_grad=True)
    out = ta * 2.0 + tb
    assert out.shape == shapes.result_shape
    out.sum().backward()
    assert ta.grad.shape == sa and tb.grad.shape == sb
    n = int(np.prod(shapes.result_shape))
    np.testing.assert_allclose(ta.grad, np.full(sa, 2.0 * n / max(a.size, 1)), rtol=1e-6)
    np.testing.assert_allclose(tb.grad, np.full(sb, n / max(b.size, 1)), rtol=1e-6)


# ------------------------------------------------------------------ keras.ops-style helpers
def test_square_cast_and_not_equal():
    """square is a·a (gradient 2a); cast keeps the gradient between floats only; not_equal is
    a bool op with none (both ops, so a replayed step recomputes them)."""
    x = np.array([[-1.5, 0.0], [2.0, 3.0]])
    assert_gradcheck(ops.square, x)
    t = Tensor(x, requires_grad=True)
    (ops.cast(t, "float32") * 2.0).sum().backward()
    assert t.grad.dtype == np.float64 and t.grad.tolist() == [[2.0, 2.0], [2.0, 2.0]]
    np.testing.assert_array_equal(ops.square(Tensor(x)).numpy(), x**2)
    ids = ops.cast(Tensor(x, requires_grad=True), "int32")
    assert ids.dtype == np.int32 and ids.numpy().tolist() == [[-1, 0], [2, 3]]
    mask = ops.not_equal(Tensor(x, requires_grad=True), 0)
    assert mask.dtype == bool and mask.numpy().tolist() == [[True, False], [True, True]]
    t = Tensor(x, requires_grad=True)
    (t * ops.cast(ops.not_equal(t, 0), "float64")).sum().backward()
    np.testing.assert_array_equal(t.grad, [[1, 0], [1, 1]])  # no gradient through the mask
    with pytest.raises(TypeError, match="cast: 'floaty' is not a dtype"):
        ops.cast(Tensor(x), "floaty")
