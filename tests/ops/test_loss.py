"""Loss functions: NumPy formulas, finite differences, PyTorch parity, stability, dtypes, errors."""

from __future__ import annotations

import numpy as np
import pytest

from glassnet import Tensor, ops
from tests.helpers import FORWARD_TOL, GRAD_TOL, assert_gradcheck, run_float32, torch_run

EPS = 1e-7


# ------------------------------------------------------------------ independent references
def _log_softmax(z, axis=-1):
    z = z - z.max(axis=axis, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=axis, keepdims=True))


def _onehot(ids, k):
    return np.eye(k)[ids]


def ref_mse(y, p):
    return np.mean((p - y) ** 2)


def ref_mae(y, p):
    return np.mean(np.abs(p - y))


def ref_bce(y, p):
    p = np.clip(p, EPS, 1 - EPS)
    return -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))


def ref_bce_logits(y, z):
    s = 1 / (1 + np.exp(-z))
    return -np.mean(y * np.log(s) + (1 - y) * np.log(1 - s))


def ref_cce(y, p, axis=-1):
    p = np.clip(p / p.sum(axis=axis, keepdims=True), EPS, 1 - EPS)
    return -np.mean(np.sum(y * np.log(p), axis=axis))


def ref_cce_logits(y, z, axis=-1):
    return -np.mean(np.sum(y * _log_softmax(z, axis), axis=axis))


# ------------------------------------------------------------------ data
def _probs(rng, shape):
    """Probabilities inside (0.05, 0.95): away from the clip, so finite differences apply."""
    return rng.uniform(0.05, 0.95, shape)


def _soft_rows(rng, n, k):
    w = rng.uniform(0.1, 1.0, (n, k))
    return w / w.sum(axis=1, keepdims=True)


def _cases(rng):
    """name -> (loss of y_pred, y_pred, reference value): one table for every check."""
    y_reg, p_reg = rng.normal(size=(4, 3)), rng.normal(size=(4, 3))
    p_reg = np.where(np.abs(p_reg - y_reg) < 0.05, y_reg + 0.3, p_reg)  # |.| kink for MAE
    y_bin = (rng.random((5, 1)) > 0.5).astype(np.float64)
    p_bin, z_bin = _probs(rng, (5, 1)), rng.normal(0, 3, (5, 2))
    y_soft_bin = rng.random((5, 2))
    ids = np.array([0, 3, 1, 3, 2])
    p_cat, z_cat = _probs(rng, (5, 4)), rng.normal(0, 3, (5, 4))
    soft = _soft_rows(rng, 5, 4)
    p_3d, y_3d = _probs(rng, (2, 4, 3)), _soft_rows(rng, 6, 4).reshape(2, 3, 4).transpose(0, 2, 1)
    return {
        "mse": (lambda p: ops.mean_squared_error(y_reg, p), p_reg, ref_mse(y_reg, p_reg)),
        "mse_1d": (
            lambda p: ops.mean_squared_error(y_reg[:, 0], p),
            p_reg[:, :1],  # (N,) targets with (N, 1) predictions, as Keras allows
            ref_mse(y_reg[:, :1], p_reg[:, :1]),
        ),
        "mae": (lambda p: ops.mean_absolute_error(y_reg, p), p_reg, ref_mae(y_reg, p_reg)),
        "bce": (lambda p: ops.binary_crossentropy(y_bin, p), p_bin, ref_bce(y_bin, p_bin)),
        "bce_logits": (
            lambda z: ops.binary_crossentropy(y_soft_bin, z, from_logits=True),
            z_bin,
            ref_bce_logits(y_soft_bin, z_bin),
        ),
        "cce": (
            lambda p: ops.categorical_crossentropy(_onehot(ids, 4), p),
            p_cat,  # rows do not sum to 1: Keras rescales them first
            ref_cce(_onehot(ids, 4), p_cat),
        ),
        "cce_soft": (
            lambda p: ops.categorical_crossentropy(soft, p),
            p_cat,
            ref_cce(soft, p_cat),
        ),
        "cce_axis1": (
            lambda p: ops.categorical_crossentropy(y_3d, p, axis=1),
            p_3d,
            ref_cce(y_3d, p_3d, axis=1),
        ),
        "cce_logits": (
            lambda z: ops.categorical_crossentropy(soft, z, from_logits=True),
            z_cat,
            ref_cce_logits(soft, z_cat),
        ),
        "cce_logits_axis1": (
            lambda z: ops.categorical_crossentropy(y_3d, z, from_logits=True, axis=1),
            p_3d * 6,
            ref_cce_logits(y_3d, p_3d * 6, axis=1),
        ),
        "sparse": (
            lambda p: ops.sparse_categorical_crossentropy(ids, p),
            p_cat,
            ref_cce(_onehot(ids, 4), p_cat),
        ),
        "sparse_logits": (
            lambda z: ops.sparse_categorical_crossentropy(ids[:, None], z, from_logits=True),
            z_cat,
            ref_cce_logits(_onehot(ids, 4), z_cat),
        ),
        "sparse_logits_axis0": (
            lambda z: ops.sparse_categorical_crossentropy(ids, z.T, from_logits=True, axis=0),
            z_cat,
            ref_cce_logits(_onehot(ids, 4), z_cat),
        ),
        "softmax_ce_ids": (
            lambda z: ops.softmax_cross_entropy(z, ids),
            z_cat,
            ref_cce_logits(_onehot(ids, 4), z_cat),
        ),
        "softmax_ce_soft": (
            lambda z: ops.softmax_cross_entropy(z, soft),
            z_cat,
            ref_cce_logits(soft, z_cat),
        ),
        "softmax_ce_batch_of_1": (
            lambda z: ops.softmax_cross_entropy(z, np.array([2])),
            z_cat[:1],
            ref_cce_logits(_onehot([2], 4), z_cat[:1]),
        ),
    }


CASE_NAMES = list(_cases(np.random.default_rng(0)))


@pytest.mark.parametrize("name", CASE_NAMES)
def test_forward_matches_numpy_formula(name, rng):
    fn, y_pred, want = _cases(rng)[name]
    out = fn(Tensor(y_pred))
    assert out.shape == () and out.dtype == np.float64
    np.testing.assert_allclose(out.item(), want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", CASE_NAMES)
def test_gradient_matches_finite_differences(name, rng):
    fn, y_pred, _ = _cases(rng)[name]
    assert_gradcheck(fn, y_pred)


@pytest.mark.parametrize("name", CASE_NAMES)
def test_float32_stays_float32_and_matches(name, rng):
    fn, y_pred, want = _cases(rng)[name]
    out, (grad,) = run_float32(fn, y_pred)  # asserts float32 output and gradient
    assert grad is not None
    np.testing.assert_allclose(out, want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", CASE_NAMES)
def test_float64_stays_float64(name, rng):
    fn, y_pred, _ = _cases(rng)[name]
    p = Tensor(y_pred, requires_grad=True)
    fn(p).backward()
    assert p.grad.dtype == np.float64 and p.grad.shape == p.shape


def test_keras_documentation_examples():
    # The numbers printed in Keras's docstrings for these losses.
    y_pred = Tensor([[0.05, 0.95, 0.0], [0.1, 0.8, 0.1]])
    cce = ops.categorical_crossentropy(np.array([[0, 1, 0], [0, 0, 1]]), y_pred)
    np.testing.assert_allclose(cce.item(), (0.0513 + 2.3026) / 2, atol=1e-3)
    sparse = ops.sparse_categorical_crossentropy(np.array([1, 2]), y_pred)
    np.testing.assert_allclose(sparse.item(), (0.0513 + 2.3026) / 2, atol=1e-3)
    bce = ops.binary_crossentropy(np.array([[0, 1], [0, 0]]), Tensor([[0.6, 0.4], [0.4, 0.6]]))
    np.testing.assert_allclose(bce.item(), (0.916 + 0.714) / 2, atol=1e-3)


def test_y_true_is_never_differentiated(rng):
    y = Tensor(rng.random((3, 4)), requires_grad=True)
    p = Tensor(rng.random((3, 4)), requires_grad=True)
    for loss in (ops.mean_squared_error, ops.binary_crossentropy, ops.categorical_crossentropy):
        loss(y, p).backward()
    ops.softmax_cross_entropy(p, y).backward()
    assert y.grad is None and p.grad is not None


def test_softmax_cross_entropy_backward_is_softmax_minus_onehot(rng):
    z = rng.normal(size=(6, 5))
    ids = rng.integers(0, 5, 6)
    t = Tensor(z, requires_grad=True)
    loss = ops.softmax_cross_entropy(t, ids)
    loss.backward(retain_graph=True)
    softmax = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    want = (softmax - _onehot(ids, 5)) / 6
    np.testing.assert_allclose(t.grad, want, rtol=1e-12, atol=1e-15)
    loss.backward()  # a second pass sees the same saved softmax (not edited in place)
    np.testing.assert_allclose(t.grad, 2 * want, rtol=1e-12, atol=1e-15)


def test_sparse_and_categorical_agree_on_logits_and_probs(rng):
    z = rng.normal(size=(7, 3))
    ids = rng.integers(0, 3, 7)
    for from_logits, y_pred in ((True, z), (False, np.exp(z))):
        a = ops.sparse_categorical_crossentropy(ids, Tensor(y_pred), from_logits)
        b = ops.categorical_crossentropy(_onehot(ids, 3), Tensor(y_pred), from_logits)
        np.testing.assert_allclose(a.item(), b.item(), rtol=1e-12)


def test_fused_logits_path_is_used(rng):
    z = Tensor(rng.normal(size=(4, 3)), requires_grad=True)
    ids = np.array([0, 1, 2, 0])
    assert ops.softmax_cross_entropy(z, ids).grad_fn.__name__ == "SoftmaxCrossEntropyOp"
    cce = ops.categorical_crossentropy(_onehot(ids, 3), z, from_logits=True)
    assert cce.grad_fn.__name__ == "SoftmaxCrossEntropyOp"
    scce = ops.sparse_categorical_crossentropy(ids, z, from_logits=True)
    assert scce.grad_fn.__name__ == "SoftmaxCrossEntropyOp"
    bce = ops.binary_crossentropy(np.ones((4, 3)), z, from_logits=True)
    assert bce.grad_fn.__name__ == "SigmoidCrossEntropyOp"


# ------------------------------------------------------------------ PyTorch parity
def _torch_cases(rng, torch):
    F = torch.nn.functional
    y, p = rng.normal(size=(6, 3)), rng.normal(size=(6, 3))
    y_bin, p_bin, z = rng.random((6, 3)), _probs(rng, (6, 3)), rng.normal(0, 3, (6, 4))
    ids = rng.integers(0, 4, 6)
    soft = _soft_rows(rng, 6, 4)
    t = torch.tensor
    return {
        "mse": (lambda q: ops.mean_squared_error(y, q), lambda q: F.mse_loss(q, t(y).float()), p),
        "l1": (lambda q: ops.mean_absolute_error(y, q), lambda q: F.l1_loss(q, t(y).float()), p),
        "bce": (
            lambda q: ops.binary_crossentropy(y_bin, q),
            lambda q: F.binary_cross_entropy(q, t(y_bin).float()),
            p_bin,
        ),
        "bce_logits": (
            lambda q: ops.binary_crossentropy(y_bin, q, from_logits=True),
            lambda q: F.binary_cross_entropy_with_logits(q, t(y_bin).float()),
            z[:, :3],
        ),
        "ce_int_labels": (
            lambda q: ops.softmax_cross_entropy(q, ids),
            lambda q: F.cross_entropy(q, t(ids)),
            z,
        ),
        "ce_prob_targets": (
            lambda q: ops.softmax_cross_entropy(q, soft),
            lambda q: F.cross_entropy(q, t(soft).float()),
            z,
        ),
        "sparse_logits": (
            lambda q: ops.sparse_categorical_crossentropy(ids, q, from_logits=True),
            lambda q: F.cross_entropy(q, t(ids)),
            z,
        ),
        "categorical_logits": (
            lambda q: ops.categorical_crossentropy(soft, q, from_logits=True),
            lambda q: F.cross_entropy(q, t(soft).float()),
            z,
        ),
    }


@pytest.mark.parametrize(
    "name",
    [
        "mse",
        "l1",
        "bce",
        "bce_logits",
        "ce_int_labels",
        "ce_prob_targets",
        "sparse_logits",
        "categorical_logits",
    ],
)
def test_matches_pytorch(name, rng, torch):
    # float32 on both sides; FORWARD_TOL (atol 1e-5, rtol 1e-4), GRAD_TOL (atol 1e-4, rtol 1e-3)
    ours_fn, torch_fn, x = _torch_cases(rng, torch)[name]
    ours, (g,) = run_float32(ours_fn, x)
    theirs, (h,) = torch_run(torch, torch_fn, x)
    np.testing.assert_allclose(ours, theirs, **FORWARD_TOL)
    np.testing.assert_allclose(g, h, **GRAD_TOL)


# ------------------------------------------------------------------ stability
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softmax_cross_entropy_is_stable_for_huge_logits(dtype):
    z = np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 5e3]], dtype=dtype)
    t = Tensor(z, requires_grad=True)
    loss = ops.softmax_cross_entropy(t, np.array([1, 1]))
    loss.backward()
    # row 0 picks a class 2e4 below the winner; row 1 picks the winner (loss 0)
    np.testing.assert_allclose(loss.item(), 1e4, rtol=1e-6)
    np.testing.assert_allclose(t.grad, [[0.5, -0.5, 0.0], [0.0, 0.0, 0.0]], atol=1e-7)
    soft = np.array([[0.5, 0.5, 0.0], [0.0, 0.0, 1.0]])
    t.grad = None
    loss = ops.softmax_cross_entropy(t, soft)
    loss.backward()
    np.testing.assert_allclose(loss.item(), (0.5 * 2e4 + 5e3) / 2, rtol=1e-6)
    np.testing.assert_allclose(t.grad, [[0.25, -0.25, 0.0], [0.0, 0.5, -0.5]], atol=1e-7)
    assert t.grad.dtype == dtype


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_binary_crossentropy_from_logits_is_stable_for_huge_logits(dtype):
    z = Tensor(np.array([1e4, -1e4, 1e4, -1e4], dtype=dtype), requires_grad=True)
    loss = ops.binary_crossentropy(np.array([1.0, 0.0, 0.0, 1.0]), z, from_logits=True)
    loss.backward()
    np.testing.assert_allclose(loss.item(), 5e3, rtol=1e-6)  # two right (0), two wrong (1e4)
    np.testing.assert_allclose(z.grad, [0.0, 0.0, 0.25, -0.25], atol=1e-7)
    assert z.grad.dtype == dtype


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_probabilities_of_exactly_zero_and_one_give_finite_loss(dtype):
    p = Tensor(np.array([[0.0], [1.0], [0.0], [1.0]], dtype=dtype), requires_grad=True)
    loss = ops.binary_crossentropy(np.array([0, 1, 1, 0]), p)
    loss.backward()
    assert np.isfinite(loss.item()) and np.all(np.isfinite(p.grad))
    # two right answers cost ~0, two confident wrong ones cost about −log(1e-7) each
    np.testing.assert_allclose(loss.item(), -2 * np.log(1e-7) / 4, rtol=2e-2)
    q = Tensor(np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]], dtype=dtype), requires_grad=True)
    for loss in (
        ops.categorical_crossentropy(np.eye(3)[[1, 2]], q),
        ops.sparse_categorical_crossentropy(np.array([1, 2]), q),
    ):
        loss.backward()
        assert np.isfinite(loss.item()) and np.all(np.isfinite(q.grad))
        np.testing.assert_allclose(loss.item(), -np.log(1e-7) / 2, rtol=1e-3)


# ------------------------------------------------------------------ errors
def test_shape_mismatch_names_both_shapes():
    with pytest.raises(ValueError, match=r"mean_squared_error: .*y_true \(4, 3\) and y_pred"):
        ops.mean_squared_error(np.zeros((4, 3)), Tensor(np.zeros((4, 2))))
    with pytest.raises(ValueError, match=r"binary_crossentropy: .*same shape"):
        ops.binary_crossentropy(np.zeros(5), Tensor(np.zeros((4, 1))))


@pytest.mark.parametrize("y_shape", [(32,), (32, 1)])
def test_categorical_with_class_ids_suggests_sparse(y_shape):
    with pytest.raises(ValueError, match=r"\(32, 10\).*sparse_categorical_crossentropy.*one-hot"):
        ops.categorical_crossentropy(np.zeros(y_shape, dtype=int), Tensor(np.zeros((32, 10))))


def test_sparse_rejects_float_labels():
    with pytest.raises(TypeError, match=r"integer class ids.*float64.*categorical_crossentropy"):
        ops.sparse_categorical_crossentropy(np.eye(10)[:4], Tensor(np.ones((4, 10))))


@pytest.mark.parametrize(("bad", "match"), [(10, r"max=10"), (-1, r"min=-1")])
def test_sparse_rejects_out_of_range_ids(bad, match):
    ids = np.array([0, 1, bad])
    shapes = r"\(y_true \(3,\), y_pred \(3, 10\)\)"
    with pytest.raises(
        ValueError, match=rf"out of range. Expected ids in \[0, 9\].*{shapes}.*{match}"
    ):
        ops.sparse_categorical_crossentropy(ids, Tensor(np.ones((3, 10))), from_logits=True)
    with pytest.raises(ValueError, match=rf"\(labels \(3,\), logits \(3, 10\)\).*{match}"):
        ops.softmax_cross_entropy(Tensor(np.ones((3, 10))), ids)


def test_sparse_rejects_boolean_labels():
    with pytest.raises(TypeError, match=r"integer class ids.*bool"):
        ops.sparse_categorical_crossentropy(np.array([True, False]), Tensor(np.ones((2, 2))))


def test_sparse_rejects_one_hot_integer_labels():
    with pytest.raises(ValueError, match=r"one class id per sample.*categorical_crossentropy"):
        ops.sparse_categorical_crossentropy(np.eye(4, dtype=int), Tensor(np.ones((4, 4))))


def test_softmax_cross_entropy_argument_errors():
    z = Tensor(np.zeros((4, 3)))
    with pytest.raises(ValueError, match=r"Expected shape \(N, K\), received \(2, 4, 3\)"):
        ops.softmax_cross_entropy(Tensor(np.zeros((2, 4, 3))), np.zeros(8, dtype=int))
    with pytest.raises(ValueError, match=r"class ids, one per row.*as floats"):
        ops.softmax_cross_entropy(z, np.eye(3, dtype=int)[[0, 1, 2, 0]])
    with pytest.raises(ValueError, match=r"float rows of shape \(4, 3\), received float64"):
        ops.softmax_cross_entropy(z, np.zeros((4, 2)))


def test_prediction_errors():
    with pytest.raises(TypeError, match=r"mean_absolute_error: y_pred must be floating point"):
        ops.mean_absolute_error(np.zeros(3), Tensor(np.zeros(3, dtype=np.int64)))
    with pytest.raises(ValueError, match=r"binary_crossentropy: y_pred is empty"):
        ops.binary_crossentropy(np.zeros((0, 1)), Tensor(np.zeros((0, 1))))
    with pytest.raises(ValueError, match=r"axis is out of range.*received axis=2"):
        ops.categorical_crossentropy(np.zeros((2, 3)), Tensor(np.ones((2, 3))), axis=2)


def test_losses_on_softmax_and_sigmoid_outputs_use_the_logits():
    """Probabilities straight from softmax/sigmoid: the loss works from the logits, so a
    confidently wrong answer still gets its full gradient (clipping at 1e-7 would zero it)."""
    from glassnet import Tensor, ops

    z = Tensor(np.array([[30.0, 0.0, -30.0]], np.float32), requires_grad=True)
    loss = ops.sparse_categorical_crossentropy(np.array([2]), ops.softmax(z))
    np.testing.assert_allclose(loss.item(), 60.0, rtol=1e-5)  # exact, not −log(1e-7) ≈ 16.1
    loss.backward()
    np.testing.assert_allclose(z.grad, [[1.0, 0.0, -1.0]], atol=1e-6)
    z.zero_grad()
    onehot = np.array([[0.0, 0.0, 1.0]], np.float32)
    ops.categorical_crossentropy(onehot, ops.softmax(z)).backward()
    np.testing.assert_allclose(z.grad, [[1.0, 0.0, -1.0]], atol=1e-6)
    s = Tensor(np.array([[40.0]], np.float32), requires_grad=True)
    bce = ops.binary_crossentropy(np.array([[0.0]], np.float32), ops.sigmoid(s))
    np.testing.assert_allclose(bce.item(), 40.0, rtol=1e-5)
    bce.backward()
    np.testing.assert_allclose(s.grad, [[1.0]], atol=1e-6)
    # Anything computed from the probabilities afterwards is a plain probability again.
    p = ops.softmax(z) * 1.0
    assert p._logits is None
