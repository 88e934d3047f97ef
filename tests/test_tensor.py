"""Tensor and autograd mechanics: construction, dtype policy, backward, accumulation, freeing."""

from __future__ import annotations

import sys

import numpy as np
import pytest

import glassnet as gn
from glassnet import Tensor, no_grad
from glassnet.tensor import unbroadcast


def test_construction_follows_the_dtype_policy():
    assert Tensor([1.0, 2.0]).dtype == np.float32
    assert Tensor(3.5).dtype == np.float32
    assert Tensor(np.float64(2.0)).dtype == np.float32
    assert Tensor(np.zeros(3, np.float64)).dtype == np.float64  # arrays keep their dtype
    assert Tensor([1, 2]).dtype.kind == "i"
    assert Tensor(np.ones(2), dtype="float32").dtype == np.float32


def test_attributes_and_conversions():
    t = Tensor(np.arange(6, dtype=np.float32).reshape(2, 3), requires_grad=True)
    assert t.shape == (2, 3) and t.ndim == 2 and t.size == 6 and len(t) == 2
    assert isinstance(t.numpy(), np.ndarray) and t.numpy() is t.data
    assert Tensor([4.0]).item() == 4.0
    assert t.is_leaf and t.grad_fn is None
    y = t * 2
    assert not y.is_leaf and y.grad_fn.__name__ == "MulOp"
    assert "grad_fn=MulOp" in repr(y) and "requires_grad=True" in repr(t)


def test_item_on_many_elements_says_what_to_do():
    with pytest.raises(ValueError, match=r"only one-element tensors.*shape \(2,\)"):
        Tensor([1.0, 2.0]).item()


def test_integer_tensor_cannot_require_grad():
    with pytest.raises(TypeError, match="only floating-point tensors can require gradients"):
        Tensor([1, 2], requires_grad=True)


def test_backward_of_the_texts_neuron():
    # one neuron: input 0.5, weight 0.1, bias 0.2 -> 0.25; d/dw = input, d/db = 1
    w = Tensor([0.1], requires_grad=True)
    b = Tensor([0.2], requires_grad=True)
    y = (w * 0.5 + b).relu()
    np.testing.assert_allclose(y.numpy(), [0.25], rtol=1e-6)
    y.sum().backward()
    np.testing.assert_allclose(w.grad, [0.5])
    np.testing.assert_allclose(b.grad, [1.0])


def test_gradients_accumulate_until_zeroed():
    x = Tensor([1.0, 2.0], requires_grad=True)
    (x * 3).sum().backward()
    (x * 3).sum().backward()
    np.testing.assert_allclose(x.grad, [6.0, 6.0])
    x.zero_grad()
    assert x.grad is None


def test_shared_subexpression_gets_summed_gradient():
    x = Tensor([2.0], requires_grad=True)
    y = x * x  # used twice below
    z = y + y * x
    z.sum().backward()
    # z = x^2 + x^3 -> 2x + 3x^2 = 4 + 12
    np.testing.assert_allclose(x.grad, [16.0])


def test_backward_on_non_scalar_needs_a_gradient():
    x = Tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match=r"only for a one-element tensor.*shape \(2,\)"):
        (x * 2).backward()
    (x * 2).backward(np.array([1.0, 10.0], np.float32))
    np.testing.assert_allclose(x.grad, [2.0, 20.0])


def test_backward_with_wrong_gradient_shape():
    x = Tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(ValueError, match=r"grad has shape \(3,\) but the tensor has shape \(2,\)"):
        (x * 2).backward(np.ones(3, np.float32))


def test_backward_without_graph_explains():
    with pytest.raises(RuntimeError, match="does not require grad"):
        Tensor([1.0]).backward()


def test_graph_is_freed_after_backward_unless_retained():
    x = Tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()  # second pass allowed because the first retained the graph
    np.testing.assert_allclose(x.grad, [4.0, 8.0])
    assert y._ctx.freed and y._ctx.saved == () and y._ctx.parents == ()
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        y.backward()


def test_no_grad_records_nothing():
    x = Tensor([1.0], requires_grad=True)
    with no_grad():
        y = x * 2
        assert not gn.is_grad_enabled()
        with gn.enable_grad():
            assert (x * 2).requires_grad
    assert gn.is_grad_enabled()
    assert not y.requires_grad and y._ctx is None


def test_detach_cuts_the_graph():
    x = Tensor([3.0], requires_grad=True)
    y = (x * x).detach() * x
    y.sum().backward()
    np.testing.assert_allclose(x.grad, [9.0])  # only the outer factor is differentiated


def test_retain_grad_keeps_intermediate_gradients():
    x = Tensor([1.0, 2.0], requires_grad=True)
    h = (x * 3).retain_grad()
    (h * h).sum().backward()
    np.testing.assert_allclose(h.grad, [6.0, 12.0])


def test_leaf_grad_is_a_private_writable_copy():
    x = Tensor([1.0, 2.0], requires_grad=True)
    y = Tensor([1.0, 2.0], requires_grad=True)
    (x + y).sum().backward()  # AddOp hands the same array to both inputs
    x.grad *= 10
    np.testing.assert_allclose(y.grad, [1.0, 1.0])


def test_deep_graph_does_not_hit_the_recursion_limit():
    depth = sys.getrecursionlimit() * 3
    x = Tensor(np.ones(4, np.float32), requires_grad=True)
    h = x
    for _ in range(depth):
        h = h * 1.0 + 0.0
    h.sum().backward()
    np.testing.assert_allclose(x.grad, np.ones(4))


def test_unbroadcast_sums_over_broadcast_axes():
    g = np.ones((2, 3, 4), np.float32)
    assert unbroadcast(g, (3, 1)).shape == (3, 1)
    np.testing.assert_allclose(unbroadcast(g, (3, 1)), np.full((3, 1), 8.0))
    np.testing.assert_allclose(unbroadcast(g, ()), 24.0)
    with pytest.raises(RuntimeError, match="cannot be reduced"):
        unbroadcast(g, (5, 4))


def test_comparisons_return_bool_tensors_without_grad():
    x = Tensor([1.0, 2.0, 3.0], requires_grad=True)
    m = x > 1.5
    assert m.dtype == np.bool_ and not m.requires_grad
    np.testing.assert_array_equal((x == 2.0).numpy(), [False, True, False])
    np.testing.assert_array_equal((x <= Tensor([1.0, 1.0, 3.0])).numpy(), [True, False, True])


def test_numpy_array_on_the_left_dispatches_to_tensor():
    x = Tensor([1.0, 2.0], requires_grad=True)
    y = np.array([3.0, 4.0], np.float32) * x
    assert isinstance(y, Tensor)
    y.sum().backward()
    np.testing.assert_allclose(x.grad, [3.0, 4.0])


def test_python_numbers_do_not_upcast():
    x = Tensor(np.ones(3, np.float32), requires_grad=True)
    for y in (x * 2, 2 * x, x + 1.5, x**2, 1 / x, x - np.float64(1.0), x / 3):
        assert y.dtype == np.float32


def test_requires_grad_toggle_and_astype():
    x = Tensor([1.0])
    assert x.requires_grad_().requires_grad
    assert x.astype(np.float64).dtype == np.float64
    with pytest.raises(TypeError, match="cannot require gradients"):
        Tensor([1]).requires_grad_()


def test_float64_arrays_follow_a_float32_tensor():
    x = Tensor(np.ones(3, np.float32), requires_grad=True)
    y = x * np.array([1.0, 2.0, 3.0])  # float64 NumPy array
    assert y.dtype == np.float32
    y.sum().backward()
    assert x.grad.dtype == np.float32


def test_manual_seed_reseeds_the_shared_generator_in_place():
    from glassnet.backend import get_rng, manual_seed

    kept = get_rng()
    manual_seed(7)
    a = kept.random()
    manual_seed(7)
    assert get_rng().random() == a


def test_long_rows_are_as_long_as_the_rows_allow():
    """Rows of F numbers are grouped into long rows of about the asked length where there are
    two of those, else of about 1,024 numbers (the shorter grouping the callers check)."""
    from glassnet.tensor import _rows_per_long_row

    assert _rows_per_long_row(100_000, 16, 16384) == 1024  # two rows of 16,384 numbers fit
    assert _rows_per_long_row(2047, 16, 16384) == 64  # they do not: 1,024 numbers
    assert _rows_per_long_row(5000, 6, 2048) == 341
    assert _rows_per_long_row(10, 4096, 16384) == 4  # wide rows: a few of them
    assert _rows_per_long_row(3, 5000, 2048) == 1


@pytest.mark.parametrize(
    "shape", [(1, 4), (7, 3), (5000, 6), (4097, 1), (3000, 37), (0, 5), (4, 0), (700, 2)]
)
def test_sum_rows_is_the_column_sum(shape):
    """The fast column sum used for bias gradients equals a float64 sum, for any row count
    (a multiple of its row grouping or not) and for empty arrays."""
    from glassnet.tensor import sum_rows

    a = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    got = sum_rows(a)
    assert got.shape == (shape[1],) and got.dtype == np.float32
    np.testing.assert_allclose(got, a.astype(np.float64).sum(axis=0), rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(sum_rows(np.asfortranarray(a)), a.sum(axis=0), rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize(
    "shape",
    # the last two make the longest rows (about 8,192 numbers) with a tail of rows left over
    [(1, 4), (7, 3), (5000, 6), (4097, 1), (3000, 37), (1500, 37), (0, 5), (11111, 6), (23000, 3)],
)
def test_add_to_rows_adds_the_vector_to_every_row(shape):
    from glassnet.tensor import add_to_rows

    rng = np.random.default_rng(1)
    a = rng.standard_normal(shape).astype(np.float32)
    v = rng.standard_normal(shape[1]).astype(np.float32)
    want = a + v
    assert add_to_rows(a, v) is a
    np.testing.assert_array_equal(a, want)
    f = np.asfortranarray(want - v)
    np.testing.assert_allclose(add_to_rows(f, v), want, rtol=1e-6, atol=1e-6)


def test_leaf_gradients_never_alias_each_other_or_shared_arrays():
    """A fresh weight gradient is stored without a copy, but a gradient that two leaves (or a
    retained non-leaf) share is copied, so editing one .grad never changes another."""
    a = Tensor(np.ones(3, dtype=np.float32), requires_grad=True)
    b = Tensor(np.ones(3, dtype=np.float32), requires_grad=True)
    (a + b).sum().backward()  # AddOp hands the same gradient array to both inputs
    assert not np.shares_memory(a.grad.data if isinstance(a.grad, Tensor) else a.grad, _arr(b))
    _arr(a)[:] = 5
    np.testing.assert_array_equal(_arr(b), np.ones(3))

    x = Tensor(np.ones((2, 3), dtype=np.float32), requires_grad=True)
    hidden = x * 2
    hidden.retain_grad()
    hidden.sum().backward()
    assert not np.shares_memory(_arr(x), _arr(hidden))


def _arr(t: Tensor) -> np.ndarray:
    return t.grad.data if isinstance(t.grad, Tensor) else t.grad
