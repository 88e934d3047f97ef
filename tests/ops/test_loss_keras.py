"""Keras's other losses (Huber, log-cosh, Poisson, hinge, KL divergence, cosine similarity):
NumPy formulas, finite differences, PyTorch parity, edge values, dtypes, errors."""

from __future__ import annotations

import numpy as np
import pytest

from glassnet import Tensor, ops
from tests.helpers import FORWARD_TOL, GRAD_TOL, assert_gradcheck, run_float32, torch_run

EPS = 1e-7  # Keras's backend.epsilon()


# ------------------------------------------------------------------ independent references
# Written from the formulas in Keras's documentation, in float64.
def ref_huber(y, p, delta=1.0):
    d = np.asarray(p, np.float64) - y
    a = np.abs(d)
    return np.mean(np.where(a <= delta, 0.5 * d**2, delta * a - 0.5 * delta**2))


def ref_log_cosh(y, p):
    d = np.asarray(p, np.float64) - y
    return np.mean(np.logaddexp(d, -d) - np.log(2.0))  # log((e^d + e^−d) / 2)


def ref_poisson(y, p):
    p = np.asarray(p, np.float64)
    return np.mean(p - y * np.log(p + EPS))


def ref_hinge(y, p):
    y = np.asarray(y, np.float64)
    if np.all((y == 0) | (y == 1)):
        y = 2 * y - 1
    return np.mean(np.maximum(1 - y * p, 0))


def ref_kld(y, p):
    t, q = np.clip(y, EPS, 1), np.clip(np.asarray(p, np.float64), EPS, 1)
    return np.mean(np.sum(t * np.log(t / q), axis=-1))


def ref_cosine(y, p, axis=-1):
    def unit(v):
        return v / np.maximum(np.linalg.norm(v, axis=axis, keepdims=True), EPS)

    return -np.mean(np.sum(unit(np.asarray(y, np.float64)) * unit(p), axis=axis))


# ------------------------------------------------------------------ data
def _away_from(values, kinks, gap=0.05):
    """Nudge values off the kinks, where finite differences of a max or |.| do not apply."""
    for k in kinks:
        values = np.where(np.abs(values - k) < gap, k + 2 * gap, values)
    return values


def _cases(rng):
    """name -> (loss of y_pred, y_pred, reference value): one table for every check."""
    y_reg = rng.normal(size=(4, 3))
    p_reg = y_reg + _away_from(rng.normal(0, 2, (4, 3)), [-1, 1, -0.5, 0.5, -3, 3])
    counts = rng.integers(0, 5, (6, 2)).astype(np.float64)
    rates = rng.uniform(0.2, 4.0, (6, 2))
    y_pm1 = np.where(rng.random((6, 2)) > 0.5, 1.0, -1.0)
    y_01 = (y_pm1 + 1) / 2
    scores = _away_from(rng.normal(0, 1.5, (6, 2)), [-1, 1])  # margins 1 − y·s away from 0
    soft = rng.uniform(0.1, 1.0, (5, 4))
    soft /= soft.sum(axis=1, keepdims=True)
    probs = rng.uniform(0.05, 0.95, (5, 4))  # inside (ε, 1): the clip is inactive
    onehot = np.eye(4)[[0, 3, 1, 3, 2]]
    soft_3d = rng.uniform(0.1, 1.0, (2, 3, 4))
    probs_3d = rng.uniform(0.05, 0.95, (2, 3, 4))
    vec_y, vec_p = rng.normal(size=(5, 4)), rng.normal(size=(5, 4))
    vec_3d_y, vec_3d_p = rng.normal(size=(2, 3, 4)), rng.normal(size=(2, 3, 4))
    return {
        "huber": (lambda p: ops.huber(y_reg, p), p_reg, ref_huber(y_reg, p_reg)),
        "huber_delta_0.5": (
            lambda p: ops.huber(y_reg, p, delta=0.5),
            p_reg,
            ref_huber(y_reg, p_reg, 0.5),
        ),
        "huber_delta_3": (
            lambda p: ops.huber(y_reg, p, delta=3),
            p_reg,
            ref_huber(y_reg, p_reg, 3.0),
        ),
        "huber_1d": (
            lambda p: ops.huber(y_reg[:, 0], p),
            p_reg[:, :1],  # (N,) targets with (N, 1) predictions, as Keras allows
            ref_huber(y_reg[:, :1], p_reg[:, :1]),
        ),
        "log_cosh": (lambda p: ops.log_cosh(y_reg, p), p_reg, ref_log_cosh(y_reg, p_reg)),
        "poisson": (lambda p: ops.poisson(counts, p), rates, ref_poisson(counts, rates)),
        "hinge_pm1": (lambda p: ops.hinge(y_pm1, p), scores, ref_hinge(y_pm1, scores)),
        "hinge_01": (lambda p: ops.hinge(y_01, p), scores, ref_hinge(y_01, scores)),
        "kld": (lambda p: ops.kl_divergence(soft, p), probs, ref_kld(soft, probs)),
        "kld_onehot": (lambda p: ops.kl_divergence(onehot, p), probs, ref_kld(onehot, probs)),
        "kld_3d": (
            lambda p: ops.kl_divergence(soft_3d, p),
            probs_3d,
            ref_kld(soft_3d, probs_3d),
        ),
        "cosine": (
            lambda p: ops.cosine_similarity(vec_y, p),
            vec_p,
            ref_cosine(vec_y, vec_p),
        ),
        "cosine_axis0": (
            lambda p: ops.cosine_similarity(vec_y, p, axis=0),
            vec_p,
            ref_cosine(vec_y, vec_p, axis=0),
        ),
        "cosine_3d_axis1": (
            lambda p: ops.cosine_similarity(vec_3d_y, p, axis=1),
            vec_3d_p,
            ref_cosine(vec_3d_y, vec_3d_p, axis=1),
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
    y_true = np.array([[0.0, 1.0], [0.0, 0.0]])
    y_pred = Tensor([[0.6, 0.4], [0.4, 0.6]])
    np.testing.assert_allclose(ops.huber(y_true, y_pred).item(), 0.155, atol=1e-3)
    np.testing.assert_allclose(ops.kl_divergence(y_true, y_pred).item(), 0.458, atol=1e-3)
    np.testing.assert_allclose(ops.hinge(y_true, y_pred).item(), 1.3, atol=1e-3)
    ones = Tensor([[1.0, 1.0], [0.0, 0.0]])
    np.testing.assert_allclose(ops.log_cosh(y_true, ones).item(), 0.108, atol=1e-3)
    np.testing.assert_allclose(ops.poisson(y_true, ones).item(), 0.5, atol=1e-3)
    cos = ops.cosine_similarity(np.array([[0.0, 1.0], [1.0, 1.0]]), Tensor([[1.0, 0.0], [1, 1]]))
    np.testing.assert_allclose(cos.item(), -0.5, atol=1e-3)
    # Per sample [-0, -1, 1]: orthogonal, the same direction, opposite directions.
    cos = ops.cosine_similarity(
        np.array([[0.0, 1.0], [1.0, 1.0], [1.0, 1.0]]), Tensor([[1.0, 0.0], [1, 1], [-1, -1]])
    )
    np.testing.assert_allclose(cos.item(), 0.0, atol=1e-7)


def test_y_true_is_never_differentiated(rng):
    y = Tensor(rng.uniform(0.1, 0.9, (3, 4)), requires_grad=True)
    p = Tensor(rng.uniform(0.1, 0.9, (3, 4)), requires_grad=True)
    for loss in (
        ops.huber,
        ops.log_cosh,
        ops.poisson,
        ops.hinge,
        ops.kl_divergence,
        ops.cosine_similarity,
    ):
        loss(y, p).backward()
    assert y.grad is None and p.grad is not None


# ------------------------------------------------------------------ PyTorch parity
def _torch_cases(rng, torch):
    F = torch.nn.functional
    y, p = rng.normal(size=(6, 3)), rng.normal(0, 2, (6, 3))
    soft = rng.uniform(0.1, 1.0, (6, 4))
    soft /= soft.sum(axis=1, keepdims=True)
    probs = rng.uniform(0.05, 0.95, (6, 4))
    counts, rates = rng.integers(0, 5, (6, 3)).astype(np.float64), rng.uniform(0.2, 4, (6, 3))
    t = torch.tensor
    return {
        "huber": (
            lambda q: ops.huber(y, q),
            lambda q: F.huber_loss(q, t(y).float()),
            p,
        ),
        "huber_delta_0.7": (
            lambda q: ops.huber(y, q, delta=0.7),
            lambda q: F.huber_loss(q, t(y).float(), delta=0.7),
            p,
        ),
        # kl_div takes log-probabilities and computes target·(log target − input);
        # 'batchmean' sums each row and averages over the batch, as Keras does.
        "kl_divergence": (
            lambda q: ops.kl_divergence(soft, q),
            lambda q: F.kl_div(torch.log(q), t(soft).float(), reduction="batchmean"),
            probs,
        ),
        # Keras's loss is −cos (minimising it maximises the similarity).
        "cosine_similarity": (
            lambda q: ops.cosine_similarity(y, q),
            lambda q: -F.cosine_similarity(q, t(y).float(), dim=-1).mean(),
            p,
        ),
        "cosine_similarity_axis0": (
            lambda q: ops.cosine_similarity(y, q, axis=0),
            lambda q: -F.cosine_similarity(q, t(y).float(), dim=0).mean(),
            p,
        ),
        # log_input=False: q is the rate itself; eps=1e-7 is Keras's (PyTorch's default 1e-8).
        "poisson": (
            lambda q: ops.poisson(counts, q),
            lambda q: F.poisson_nll_loss(q, t(counts).float(), log_input=False, eps=1e-7),
            rates,
        ),
    }


@pytest.mark.parametrize(
    "name",
    [
        "huber",
        "huber_delta_0.7",
        "kl_divergence",
        "cosine_similarity",
        "cosine_similarity_axis0",
        "poisson",
    ],
)
def test_matches_pytorch(name, rng, torch):
    # float32 on both sides; FORWARD_TOL (atol 1e-5, rtol 1e-4), GRAD_TOL (atol 1e-4, rtol 1e-3)
    ours_fn, torch_fn, x = _torch_cases(rng, torch)[name]
    ours, (g,) = run_float32(ours_fn, x)
    theirs, (h,) = torch_run(torch, torch_fn, x)
    np.testing.assert_allclose(ours, theirs, **FORWARD_TOL)
    np.testing.assert_allclose(g, h, **GRAD_TOL)


# ------------------------------------------------------------------ edge values
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_huber_is_finite_for_huge_errors(dtype):
    # 0.5·d² would overflow float32 for d = 1e20; the loss is linear out there.
    p = Tensor(np.array([1e20, -1e20, 0.5, -3.0], dtype=dtype), requires_grad=True)
    loss = ops.huber(np.zeros(4), p, delta=2.0)
    loss.backward()
    want = (2 * (1e20 - 1) * 2 + 0.125 + 2 * (3 - 1)) / 4
    np.testing.assert_allclose(loss.item(), want, rtol=1e-6)
    np.testing.assert_allclose(p.grad, [0.5, -0.5, 0.125, -0.5], rtol=1e-6)
    assert loss.dtype == dtype and p.grad.dtype == dtype


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_log_cosh_is_finite_for_huge_errors(dtype):
    # cosh overflows float32 beyond |d| ≈ 89; log cosh d = |d| − log 2 out there.
    d = np.array([1e4, -1e4, 200.0, -90.0], dtype=dtype)
    p = Tensor(d, requires_grad=True)
    loss = ops.log_cosh(np.zeros(4), p)
    loss.backward()
    np.testing.assert_allclose(loss.item(), np.mean(np.abs(d.astype(np.float64)) - np.log(2)))
    np.testing.assert_allclose(p.grad, [0.25, -0.25, 0.25, -0.25], rtol=1e-6)
    assert loss.dtype == dtype and p.grad.dtype == dtype


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_log_cosh_is_accurate_for_tiny_errors(dtype):
    # log cosh d = d²/2 − d⁴/12 + …: no cancellation of log 2 against log 2 near d = 0.
    d = np.array([1e-3, -2e-4, 3e-6], dtype=dtype)
    loss = ops.log_cosh(np.zeros(3), Tensor(d)).item()
    d64 = d.astype(np.float64)
    np.testing.assert_allclose(loss, np.mean(d64**2 / 2 - d64**4 / 12), rtol=1e-5)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_kl_divergence_with_zeros_is_finite(dtype):
    # Zeros in y_true contribute ε·log(ε/p) ≈ 0; a zero in y_pred is clipped to ε.
    y = np.array([[0.0, 1.0, 0.0], [0.5, 0.5, 0.0]])
    p = Tensor(np.array([[0.2, 0.0, 0.8], [0.5, 0.5, 0.0]], dtype=dtype), requires_grad=True)
    loss = ops.kl_divergence(y, p)
    loss.backward()
    np.testing.assert_allclose(loss.item(), ref_kld(y, p.numpy()), rtol=1e-5)
    np.testing.assert_allclose(loss.item(), -np.log(EPS) / 2, rtol=1e-3)  # the confident miss
    assert np.all(np.isfinite(p.grad)) and p.grad.dtype == dtype
    assert p.grad[0, 1] == 0  # below ε the clip holds the value: no gradient (Keras's too)
    np.testing.assert_allclose(p.grad[1, :2], [-0.5, -0.5], rtol=1e-5)  # −t/(p·M), M = 2
    same = ops.kl_divergence(y[1:], Tensor(y[1:].astype(dtype)))
    np.testing.assert_allclose(same.item(), 0.0, atol=1e-6)  # KL(p ‖ p) = 0


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_poisson_with_zeros_is_finite(dtype):
    y = np.array([0.0, 2.0, 0.0, 1.0])
    p = Tensor(np.array([0.0, 0.0, 1.5, 1.0], dtype=dtype), requires_grad=True)
    loss = ops.poisson(y, p)
    loss.backward()
    np.testing.assert_allclose(loss.item(), ref_poisson(y, p.numpy()), rtol=1e-5)
    assert np.all(np.isfinite(p.grad)) and p.grad.dtype == dtype
    want = (1 - y / (p.numpy().astype(np.float64) + EPS)) / 4
    np.testing.assert_allclose(p.grad, want, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_hinge_reads_0_1_labels_as_minus_1_1(dtype):
    p = np.array([[0.3], [-2.0], [1.5], [-0.2]], dtype=dtype)
    pm1 = np.array([[1.0], [-1.0], [-1.0], [1.0]])
    a = ops.hinge(pm1, Tensor(p)).item()
    b = ops.hinge((pm1 + 1) / 2, Tensor(p)).item()
    np.testing.assert_allclose(a, (0.7 + 0 + 2.5 + 1.2) / 4, rtol=1e-6)
    assert a == b
    # Labels that are not all 0/1 are used as they are (Keras's rule): 0 then means "no label".
    mixed = np.array([[1.0], [-1.0], [0.0], [1.0]])
    np.testing.assert_allclose(
        ops.hinge(mixed, Tensor(p)).item(), (0.7 + 0 + 1 + 1.2) / 4, rtol=1e-6
    )
    t = Tensor(p, requires_grad=True)
    ops.hinge(pm1[:, 0], t).backward()  # (N,) labels with (N, 1) scores
    np.testing.assert_allclose(t.grad, [[-0.25], [0.0], [0.25], [-0.25]])
    assert t.grad.dtype == dtype


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cosine_similarity_of_zero_vectors_is_zero(dtype):
    y = np.array([[0.0, 0.0, 0.0], [1.0, 2.0, 2.0], [3.0, 0.0, 4.0]])
    p = Tensor(np.array([[1.0, -1.0, 2.0], [0.0, 0.0, 0.0], [6.0, 0.0, 8.0]], dtype), True)
    loss = ops.cosine_similarity(y, p)
    loss.backward()
    np.testing.assert_allclose(loss.item(), -1 / 3, rtol=1e-6)  # rows: 0, 0, −1
    assert np.all(np.isfinite(p.grad)) and p.grad.dtype == dtype
    np.testing.assert_allclose(p.grad[0], 0.0)  # a zero target pulls nowhere
    np.testing.assert_allclose(p.grad[2], 0.0, atol=1e-7)  # aligned: a maximum of cos
    # Only the direction counts: scaling the predictions leaves the loss as it was.
    scaled = ops.cosine_similarity(y, Tensor(p.numpy() * 1e3)).item()
    np.testing.assert_allclose(scaled, loss.item(), rtol=1e-6)


# ------------------------------------------------------------------ errors
@pytest.mark.parametrize(
    "name", ["huber", "log_cosh", "poisson", "hinge", "kl_divergence", "cosine_similarity"]
)
def test_shape_mismatch_names_both_shapes(name):
    with pytest.raises(ValueError, match=rf"{name}: .*same shape.*y_true \(4, 3\) and y_pred"):
        getattr(ops, name)(np.zeros((4, 3)), Tensor(np.ones((4, 2))))


@pytest.mark.parametrize("name", ["huber", "hinge", "kl_divergence", "cosine_similarity"])
def test_integer_predictions_are_refused(name):
    with pytest.raises(TypeError, match=rf"{name}: y_pred must be floating point"):
        getattr(ops, name)(np.zeros(3), Tensor(np.zeros(3, dtype=np.int64)))


@pytest.mark.parametrize("delta", [-1, 0, 0.0, float("inf"), float("nan")])
def test_huber_rejects_a_delta_that_is_not_positive(delta):
    with pytest.raises(ValueError, match=r"huber: delta must be positive. Expected 0 < delta"):
        ops.huber(np.zeros(3), Tensor(np.ones(3)), delta=delta)


@pytest.mark.parametrize("delta", ["1.0", True, None, [1.0]])
def test_huber_rejects_a_delta_that_is_not_a_number(delta):
    with pytest.raises(TypeError, match=r"huber: delta must be a number.*received delta="):
        ops.huber(np.zeros(3), Tensor(np.ones(3)), delta=delta)


def test_cosine_similarity_axis_errors():
    with pytest.raises(ValueError, match=r"axis is out of range.*received axis=2.*components"):
        ops.cosine_similarity(np.zeros((2, 3)), Tensor(np.ones((2, 3))), axis=2)
    with pytest.raises(TypeError, match=r"cosine_similarity: axis must be an integer.*\(0, 1\)"):
        ops.cosine_similarity(np.zeros((2, 3)), Tensor(np.ones((2, 3))), axis=(0, 1))


def test_poisson_rejects_negative_rates():
    with pytest.raises(ValueError, match=r"poisson: y_pred must hold rates >= 0.*min=-0.5"):
        ops.poisson(np.ones(3), Tensor(np.array([1.0, -0.5, 2.0])))
