"""Dot and dot (glassnet/layers/merging.py): Keras's batched dot product, einsum reference,
gradcheck, PyTorch parity (bmm, cosine_similarity), errors, and changes between batches."""

from __future__ import annotations

import numpy as np
import pytest

import glassnet as gn
from glassnet import Tensor, layers
from tests.helpers import FORWARD_TOL, GRAD_TOL, assert_gradcheck
from tests.layers.layer_checks import run_layer_test

L = layers


@pytest.mark.parametrize(
    ("axes", "shapes", "output_shape"),
    [
        (1, [(2, 4), (2, 4)], (2, 1)),
        (-1, [(1, 1), (1, 1)], (1, 1)),
        ((2, 1), [(2, 3, 4), (2, 4, 5)], (2, 3, 5)),
        (1, [(2, 3, 4), (2, 3, 5)], (2, 4, 5)),
        (2, [(2, 3, 4), (2, 5, 4)], (2, 3, 5)),
        ((2, 1), [(2, 3, 4), (2, 4)], (2, 3)),
        ((1, 2), [(2, 4), (2, 3, 4)], (2, 3)),
        ((-1, 1), [(1, 2, 3, 4), (1, 4, 2)], (1, 2, 3, 2)),
    ],
)
def test_layer_checks(axes, shapes, output_shape):
    run_layer_test(L.Dot, {"axes": axes}, input_shape=shapes, expected_output_shape=output_shape)
    run_layer_test(
        L.Dot,
        {"axes": axes, "normalize": True},
        input_shape=shapes,
        expected_output_shape=output_shape,
    )


def _reference(a, b, axes, normalize):
    """Per sample, ``np.tensordot`` over the two axes (then (N, 1) if nothing remains);
    normalize as Keras 3: x / max(‖x‖, 1e-7)."""
    ax, bx = (axes, axes) if isinstance(axes, int) else axes
    ax, bx = ax % a.ndim, bx % b.ndim
    if normalize:
        a = a / np.maximum(np.linalg.norm(a, axis=ax, keepdims=True), 1e-7)
        b = b / np.maximum(np.linalg.norm(b, axis=bx, keepdims=True), 1e-7)
    out = np.stack([np.tensordot(a[i], b[i], axes=(ax - 1, bx - 1)) for i in range(len(a))])
    return out.reshape(len(a), 1) if out.ndim == 1 else out


DOTS = [
    (1, (2, 4), (2, 4)),
    ((2, 1), (2, 3, 4), (2, 4, 5)),
    (1, (2, 3, 4), (2, 3, 5)),
    ((1, 2), (1, 4), (1, 3, 4)),
    ((-1, 1), (2, 2, 3, 4), (2, 4, 2)),
]


@pytest.mark.parametrize("normalize", [False, True])
@pytest.mark.parametrize(("axes", "sa", "sb"), DOTS)
def test_forward_matches_tensordot(rng, normalize, axes, sa, sb):
    a, b = rng.standard_normal(sa), rng.standard_normal(sb)
    got = L.Dot(axes, normalize=normalize)([a, b]).numpy()
    np.testing.assert_allclose(got, _reference(a, b, axes, normalize), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("normalize", [False, True])
@pytest.mark.parametrize(("axes", "sa", "sb"), DOTS)
def test_gradcheck(rng, normalize, axes, sa, sb):
    layer = L.Dot(axes, normalize=normalize)
    assert_gradcheck(lambda a, b: layer([a, b]), rng.standard_normal(sa), rng.standard_normal(sb))


def _grads(a, b, fn):
    at, bt = Tensor(a, requires_grad=True), Tensor(b, requires_grad=True)
    y = fn(at, bt)
    r = np.random.default_rng(3).standard_normal(y.shape).astype(np.float32)
    (y * r).sum().backward()
    return y.numpy(), at.grad, bt.grad, r


def test_batched_matrix_product_matches_torch_bmm(torch, rng):
    a = rng.standard_normal((3, 4, 5)).astype(np.float32)
    b = rng.standard_normal((3, 5, 2)).astype(np.float32)
    y, ga, gb, r = _grads(a, b, lambda x, z: L.Dot((2, 1))([x, z]))
    ar, br = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
    out = torch.bmm(ar, br)
    (out * torch.tensor(r)).sum().backward()
    np.testing.assert_allclose(y, out.detach().numpy(), **FORWARD_TOL)
    np.testing.assert_allclose(ga, ar.grad.numpy(), **GRAD_TOL)
    np.testing.assert_allclose(gb, br.grad.numpy(), **GRAD_TOL)


def test_normalize_is_torch_cosine_similarity(torch, rng):
    a = rng.standard_normal((4, 6)).astype(np.float32)
    b = rng.standard_normal((4, 6)).astype(np.float32)
    y, ga, gb, r = _grads(a, b, lambda x, z: L.dot([x, z], axes=1, normalize=True))
    ar, br = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
    out = torch.nn.functional.cosine_similarity(ar, br, dim=1)[:, None]
    (out * torch.tensor(r)).sum().backward()
    np.testing.assert_allclose(y, out.detach().numpy(), **FORWARD_TOL)
    np.testing.assert_allclose(ga, ar.grad.numpy(), **GRAD_TOL)
    np.testing.assert_allclose(gb, br.grad.numpy(), **GRAD_TOL)


def test_dot_function_and_config():
    a, b = np.ones((2, 3), np.float32), np.full((2, 3), 2, np.float32)
    np.testing.assert_array_equal(L.dot([a, b], axes=1).numpy(), [[6.0], [6.0]])
    c = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    np.testing.assert_array_equal(L.dot([c, c]).numpy(), np.einsum("nik,njk->nij", c, c))
    with pytest.raises(TypeError, match="axes"):
        L.Dot()  # the layer itself has no default, as Keras
    layer = L.Dot(axes=[2, 1], normalize=True)
    assert layer.axes == (2, 1)
    config = layer.get_config()
    assert (config["axes"], config["normalize"]) == ((2, 1), True)
    assert L.Dot(1).get_config()["normalize"] is False


def test_normalize_keeps_tiny_and_zero_vectors_finite_as_keras():
    """Keras 3 divides by max(‖x‖, 1e-7): a zero vector stays zero, a tiny one is not blown
    up to unit length."""
    tiny = np.array([[3e-8, 4e-8], [0.0, 0.0]], np.float32)  # ‖x‖ = 5e-8 and 0
    unit = np.array([[1.0, 0.0], [1.0, 0.0]], np.float32)
    got = L.Dot(1, normalize=True)([tiny, unit]).numpy()
    np.testing.assert_allclose(got, [[0.3], [0.0]], rtol=1e-5)


@pytest.mark.parametrize(
    ("make", "inputs", "error", "match"),
    [
        (lambda: L.Dot("1"), None, TypeError, "Dot: 'axes' must be an int or a pair"),
        (lambda: L.Dot((1, 2, 3)), None, TypeError, r"Received: axes=\(1, 2, 3\)"),
        (lambda: L.Dot(1, normalize=1), None, TypeError, "'normalize' must be True or False"),
        (lambda: L.Dot(1, name="d"), [(2, 3)] * 3, ValueError, "Dot 'd': takes exactly 2 inputs"),
        (
            lambda: L.Dot(1, name="d"),
            [(2, 3), (2, 4)],
            ValueError,
            r"Dot 'd': the summed axes must have the same size: axis 1 of the first input is 3, "
            r"axis 1 of the second is 4",
        ),
        (lambda: L.Dot(0, name="d"), [(2, 3), (2, 3)], ValueError, "Dot 'd': axes=0 names axis 0"),
        (
            lambda: L.Dot((1, 3), name="d"),
            [(2, 3), (2, 3)],
            ValueError,
            r"axes=\(1, 3\) names axis 3",
        ),
        (lambda: L.Dot(1, name="d"), [(2,), (2,)], ValueError, "each input needs a batch axis"),
    ],
)
def test_errors_name_the_layer_and_the_culprit(make, inputs, error, match):
    with pytest.raises(error, match=match):
        layer = make()
        layer([np.ones(s, np.float32) for s in inputs])


def test_a_change_of_axes_or_normalize_between_batches_shows_in_the_next_step(rng):
    """What test_changes_between_batches does for one-input layers, on a two-input model:
    after warming up predict and fit, a new ``axes`` or ``normalize`` shows at once."""
    for key, value in (("axes", 1), ("normalize", True)):
        gn.set_seed(0)
        a_in, b_in = gn.Input((4, 4)), gn.Input((4, 4))
        dot = L.Dot(axes=2)
        out = L.Dense(3)(L.Flatten()(dot([a_in, b_in])))
        model = gn.Model([a_in, b_in], out)
        model.compile(gn.optimizers.SGD(0.05), "sparse_categorical_crossentropy")
        x = [rng.standard_normal((8, 4, 4)).astype(np.float32) for _ in range(2)]
        y = rng.integers(0, 3, 8)
        for _ in range(2):
            model.predict(x)
            model.train_on_batch(x, y)
        before = model.predict(x)
        setattr(dot, key, value)
        with gn.no_grad():
            want = model([Tensor(v) for v in x], training=False).numpy()
        got = model.predict(x)
        np.testing.assert_array_equal(got, want)
        assert not np.allclose(got, before)
        start = model.get_weights()
        model.train_on_batch(x, y)
        replayed = model.get_weights()
        model.set_weights(start)
        model.jit_compile = False
        model.train_on_batch(x, y)
        for w1, w2 in zip(replayed, model.get_weights(), strict=True):
            np.testing.assert_array_equal(w1, w2)
