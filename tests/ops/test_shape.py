"""Shape ops: reshape, transpose, flatten, indexing, concat, stack, pad, squeeze."""

from __future__ import annotations

import numpy as np
import pytest

from glassnet import Tensor, ops
from tests.helpers import assert_gradcheck, run_float32, torch_run


def test_reshape_and_transpose(rng):
    x = rng.standard_normal((2, 3, 4))
    _out, (g,) = run_float32(
        lambda t: (
            ops.reshape(t, (4, -1)) * Tensor(np.arange(24.0).reshape(4, 6).astype(np.float32))
        ),
        x,
    )
    np.testing.assert_allclose(g, np.arange(24.0).reshape(2, 3, 4))
    assert_gradcheck(lambda t: ops.transpose(t, (2, 0, 1)) * np.arange(24.0).reshape(4, 2, 3), x)
    assert ops.transpose(Tensor(x)).shape == (4, 3, 2)
    assert Tensor(x).T.shape == (4, 3, 2)
    assert Tensor(x).reshape(6, 4).shape == (6, 4)
    assert Tensor(x).permute(1, 0, 2).shape == (3, 2, 4)


def test_reshape_errors_name_the_sizes():
    with pytest.raises(
        ValueError, match=r"cannot reshape a tensor of shape \(2, 3\) \(6 elements\) into \(4, -1\)"
    ):
        ops.reshape(Tensor(np.ones((2, 3))), (4, -1))
    with pytest.raises(ValueError, match="not a permutation"):
        ops.transpose(Tensor(np.ones((2, 3))), (0, 0))


def test_flatten_keeps_row_major_order():
    x = np.arange(2 * 7 * 7 * 5, dtype=np.float32).reshape(2, 7, 7, 5)
    y = ops.flatten(Tensor(x), start_dim=1)
    assert y.shape == (2, 245)
    np.testing.assert_array_equal(y.numpy(), x.reshape(2, -1))
    assert Tensor(x).flatten().shape == (490,)


@pytest.mark.parametrize(
    "index",
    [
        (slice(None), 1),
        (Ellipsis, slice(1, 3)),
        (0, slice(None, None, -1)),
        (np.array([0, 0, 1]),),  # advanced, with a repeat: gradients must add up
        (slice(None), np.array([2, 0, 2])),
        (np.array([[True, False, True, False]] * 2, dtype=bool)[:, None].repeat(3, 1),),
        (None, 1),
    ],
)
def test_getitem(index, rng):
    x = rng.standard_normal((2, 3, 4))
    out, (g,) = run_float32(lambda t: t[index], x)
    np.testing.assert_allclose(out, x.astype(np.float32)[index])
    want = np.zeros_like(x)
    np.add.at(want, index, 1.0)
    np.testing.assert_allclose(g, want)
    assert_gradcheck(lambda t: t[index], x)


def test_getitem_with_tensor_index_matches_pytorch(torch):
    x = np.arange(12.0).reshape(3, 4)
    idx = np.array([2, 0, 2])
    ours, (g,) = run_float32(lambda t: t[Tensor(idx)], x)
    theirs, (h,) = torch_run(torch, lambda t: t[torch.tensor(idx)], x)
    np.testing.assert_allclose(ours, theirs)
    np.testing.assert_allclose(g, h)


def test_concat_and_stack(rng):
    a, b = rng.standard_normal((2, 3)), rng.standard_normal((2, 5))
    out, (ga, gb) = run_float32(lambda x, y: ops.concat([x, y], axis=1), a, b)
    assert out.shape == (2, 8) and ga.shape == (2, 3) and gb.shape == (2, 5)
    assert_gradcheck(lambda x, y: ops.concat([x, y], axis=-1) * np.arange(16.0).reshape(2, 8), a, b)
    c = rng.standard_normal((2, 3))
    assert ops.stack([a, c], axis=1).shape == (2, 2, 3)
    assert_gradcheck(
        lambda x, y: ops.stack([x, y], axis=1) * np.arange(12.0).reshape(2, 2, 3), a, c
    )


def test_concat_errors():
    with pytest.raises(
        ValueError, match=r"all shapes must match except along axis 0.*\(2, 3\), \(2, 4\)"
    ):
        ops.concat([Tensor(np.ones((2, 3))), Tensor(np.ones((2, 4)))], axis=0)
    with pytest.raises(ValueError, match="need at least one tensor"):
        ops.concat([])
    with pytest.raises(ValueError, match="stack: need one or more tensors of one shape"):
        ops.stack([Tensor(np.ones(2)), Tensor(np.ones(3))])


def test_pad_forward_backward(rng, torch):
    x = rng.standard_normal((1, 3, 4, 2))
    widths = ((0, 0), (1, 2), (0, 1), (0, 0))
    out, (g,) = run_float32(lambda t: ops.pad(t, widths), x)
    np.testing.assert_allclose(out, np.pad(x.astype(np.float32), widths))
    np.testing.assert_allclose(g, np.ones_like(x))
    assert_gradcheck(lambda t: ops.pad(t, widths, value=1.5) ** 2, x)
    theirs, _ = torch_run(torch, lambda t: torch.nn.functional.pad(t, (0, 0, 0, 1, 1, 2)), x)
    np.testing.assert_allclose(out, theirs)
    assert ops.pad(Tensor(np.ones((2, 2))), 1).shape == (4, 4)
    assert ops.pad(Tensor(np.ones((2, 2))), (1, 0)).shape == (3, 3)
    with pytest.raises(ValueError, match=r"pad: pad_width must give a non-negative"):
        ops.pad(Tensor(np.ones((2, 2))), ((1, 1),))


def test_squeeze_expand_broadcast(rng):
    x = rng.standard_normal((3, 1, 2))
    assert ops.squeeze(Tensor(x)).shape == (3, 2)
    assert ops.squeeze(Tensor(x), axis=1).shape == (3, 2)
    assert ops.expand_dims(Tensor(x), 0).shape == (1, 3, 1, 2)
    with pytest.raises(ValueError, match="has length != 1"):
        ops.squeeze(Tensor(x), axis=0)
    out, (g,) = run_float32(lambda t: ops.broadcast_to(t, (4, 3, 5, 2)), x)
    assert out.shape == (4, 3, 5, 2)
    np.testing.assert_allclose(g, np.full(x.shape, 20.0))


def test_non_contiguous_inputs(rng):
    x = np.asfortranarray(rng.standard_normal((4, 3)))
    assert_gradcheck(lambda t: ops.reshape(t, (2, 6)) * np.arange(12.0).reshape(2, 6), x)
    xt = rng.standard_normal((3, 4)).T  # a transposed view
    _out, (g,) = run_float32(
        lambda t: ops.flatten(t) * Tensor(np.arange(12.0, dtype=np.float32)), xt
    )
    np.testing.assert_allclose(g, np.arange(12.0).reshape(4, 3))


def test_embedding_lookup_gradient_sums_repeated_ids():
    """Rows picked by ids given as an input (float ids are cast, as fit passes them); a row
    picked twice gets both gradients, as PyTorch's F.embedding."""
    rng = np.random.default_rng(0)
    table = rng.standard_normal((5, 3))
    ids = np.array([[0, 2, 2], [4, 0, 2]])
    assert_gradcheck(lambda t: ops.embedding_lookup(t, Tensor(ids)), table)
    out = ops.embedding_lookup(Tensor(table), Tensor(ids.astype(np.float32)))
    np.testing.assert_array_equal(out.numpy(), table[ids])
    torch = pytest.importorskip("torch")
    t = Tensor(table.astype(np.float32), requires_grad=True)
    ops.embedding_lookup(t, Tensor(ids)).sum().backward()
    pt = torch.tensor(table.astype(np.float32), requires_grad=True)
    torch.nn.functional.embedding(torch.tensor(ids), pt).sum().backward()
    np.testing.assert_allclose(t.grad, pt.grad.numpy(), atol=1e-6)
