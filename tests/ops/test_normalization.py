"""Batch normalization: NumPy formula, running statistics, finite differences, PyTorch parity."""

from __future__ import annotations

import numpy as np
import pytest

from glassnet import Tensor, no_grad, ops
from tests.helpers import FORWARD_TOL, GRAD_TOL, assert_gradcheck, run_float32

SHAPES = [(6, 3), (1, 4), (2, 3, 4, 5)]  # (N, C), a batch of one, (N, H, W, C)


def ref_batch_norm(x, gamma, beta, mean, var, epsilon=1e-3):
    y = (x - mean) / np.sqrt(var + epsilon)
    if gamma is not None:
        y = y * gamma
    if beta is not None:
        y = y + beta
    return y


def _axes(x):
    return tuple(range(x.ndim - 1))


def _data(rng, shape):
    c = shape[-1]
    x = rng.normal(2.0, 3.0, shape)
    return x, rng.uniform(0.5, 2.0, c), rng.normal(size=c), rng.normal(size=c), rng.uniform(1, 2, c)


def _stats(mean, var, dtype=np.float64):
    return Tensor(np.array(mean, dtype=dtype)), Tensor(np.array(var, dtype=dtype))


# ------------------------------------------------------------------ the inference kernel
@pytest.mark.parametrize("affine", ["both", "gamma only", "beta only", "neither"])
@pytest.mark.parametrize("shape", [*SHAPES, (3, 40, 40, 8)])  # the last takes long rows
def test_inference_without_gradients_runs_the_folded_kernel_with_the_formulas_numbers(
    shape, affine, rng
):
    """Inference under no_grad folds γ, β, μ, σ² into a scale and a shift
    (batch_norm_inference); float64 gives the formula's numbers, float32 within an ulp or two
    of the textbook path that runs when gradients are wanted; written in place with out=x."""
    x, gamma, beta, mean, var = _data(rng, shape)
    gamma = gamma if affine in ("both", "gamma only") else None
    beta = beta if affine in ("both", "beta only") else None
    with no_grad():
        y = ops.batch_norm(Tensor(x), gamma, beta, *_stats(mean, var), training=False)
    want = ref_batch_norm(x, gamma, beta, mean, var)
    np.testing.assert_allclose(y.numpy(), want, rtol=1e-12, atol=1e-12)
    kernel = ops.normalization.batch_norm_inference(x, gamma, beta, mean, var, 1e-3)
    np.testing.assert_array_equal(kernel, y.numpy())
    x32 = x.astype(np.float32)
    folded = ops.normalization.batch_norm_inference(
        x32, *(None if a is None else a.astype(np.float32) for a in (gamma, beta)),
        mean.astype(np.float32), var.astype(np.float32), 1e-3,
    )  # fmt: skip
    textbook = ops.batch_norm(
        Tensor(x32, requires_grad=True), gamma, beta, *_stats(mean, var, np.float32),
        training=False,
    )  # fmt: skip
    np.testing.assert_allclose(folded, textbook.numpy(), rtol=1e-6, atol=1e-5)
    in_place = x32.copy()
    out = ops.normalization.batch_norm_inference(
        in_place, *(None if a is None else a.astype(np.float32) for a in (gamma, beta)),
        mean.astype(np.float32), var.astype(np.float32), 1e-3, out=in_place,
    )  # fmt: skip
    np.testing.assert_array_equal(in_place, folded)
    assert np.shares_memory(out, in_place)


# ------------------------------------------------------------------ forward and running stats
@pytest.mark.parametrize("shape", SHAPES)
def test_training_normalises_with_batch_stats_and_updates_running_stats(shape, rng):
    x, gamma, beta, rm0, rv0 = _data(rng, shape)
    rm, rv = _stats(rm0, rv0)
    out = ops.batch_norm(Tensor(x), Tensor(gamma), Tensor(beta), rm, rv, training=True)
    mean, var = x.mean(axis=_axes(x)), x.var(axis=_axes(x))
    assert out.shape == x.shape and out.dtype == np.float64
    np.testing.assert_allclose(out.data, ref_batch_norm(x, gamma, beta, mean, var), atol=1e-12)
    # Keras: running = running * momentum + batch_stat * (1 - momentum), biased variance
    np.testing.assert_allclose(rm.data, rm0 * 0.99 + mean * 0.01, rtol=1e-12)
    np.testing.assert_allclose(rv.data, rv0 * 0.99 + var * 0.01, rtol=1e-12)


@pytest.mark.parametrize("shape", SHAPES)
def test_inference_uses_running_stats_and_leaves_them(shape, rng):
    x, gamma, beta, rm0, rv0 = _data(rng, shape)
    rm, rv = _stats(rm0, rv0)
    out = ops.batch_norm(Tensor(x), Tensor(gamma), Tensor(beta), rm, rv, training=False)
    np.testing.assert_allclose(out.data, ref_batch_norm(x, gamma, beta, rm0, rv0), atol=1e-12)
    np.testing.assert_array_equal(rm.data, rm0)
    np.testing.assert_array_equal(rv.data, rv0)


def test_running_stats_converge_to_data_stats(rng):
    x = rng.normal(5.0, 2.0, (256, 3))
    rm, rv = _stats(np.zeros(3), np.ones(3))
    for _ in range(40):
        ops.batch_norm(Tensor(x), None, None, rm, rv, training=True, momentum=0.8)
    np.testing.assert_allclose(rm.data, x.mean(axis=0), rtol=1e-3)
    np.testing.assert_allclose(rv.data, x.var(axis=0), rtol=1e-3)


def test_without_gamma_and_beta_and_custom_epsilon(rng):
    x = rng.normal(size=(5, 2))
    rm, rv = _stats(np.zeros(2), np.ones(2))
    out = ops.batch_norm(Tensor(x), None, None, rm, rv, training=True, epsilon=1e-5)
    want = ref_batch_norm(x, None, None, x.mean(0), x.var(0), 1e-5)
    np.testing.assert_allclose(out.data, want, atol=1e-12)
    np.testing.assert_allclose(out.data.mean(0), 0, atol=1e-12)


def test_non_contiguous_input(rng):
    x = rng.normal(size=(3, 8)).T  # a transposed view: (8, 3)
    rm, rv = _stats(np.zeros(3), np.ones(3))
    out = ops.batch_norm(Tensor(x), None, None, rm, rv, training=True)
    np.testing.assert_allclose(out.data, ref_batch_norm(x, None, None, x.mean(0), x.var(0)))


def test_training_under_no_grad_still_updates_stats(rng):
    x = Tensor(rng.normal(size=(4, 2)), requires_grad=True)
    rm, rv = _stats(np.zeros(2), np.ones(2))
    with no_grad():
        out = ops.batch_norm(x, None, None, rm, rv, training=True)
    assert out.grad_fn is None
    np.testing.assert_allclose(rm.data, 0.01 * x.data.mean(0))


# ------------------------------------------------------------------ gradients
@pytest.mark.parametrize("shape", [(5, 3), (2, 3, 2, 3)])
@pytest.mark.parametrize("training", [True, False])
def test_gradient_matches_finite_differences(shape, training, rng):
    x, gamma, beta, rm0, rv0 = _data(rng, shape)

    def fn(x, gamma, beta):
        rm, rv = _stats(rm0, rv0)  # fresh buffers: every evaluation sees the same state
        return ops.batch_norm(x, gamma, beta, rm, rv, training=training)

    assert_gradcheck(fn, x, gamma, beta)


def test_gradient_without_gamma_and_beta(rng):
    x = rng.normal(size=(4, 3))
    stats = np.zeros(3), np.ones(3)
    assert_gradcheck(lambda t: ops.batch_norm(t, None, None, *_stats(*stats), training=True), x)


def test_training_gradient_sums_to_zero_per_channel(rng):
    # x ↦ x − mean(x) removes any per-channel shift, so a shift of x changes nothing:
    # the gradient of any loss w.r.t. x sums to zero over each channel.
    x = Tensor(rng.normal(size=(6, 4)), requires_grad=True)
    out = ops.batch_norm(x, Tensor(np.ones(4)), None, *_stats(np.zeros(4), np.ones(4)), True)
    (out * Tensor(rng.normal(size=(6, 4)))).sum().backward()
    np.testing.assert_allclose(x.grad.sum(axis=0), 0, atol=1e-12)


# ------------------------------------------------------------------ dtypes
@pytest.mark.parametrize("training", [True, False])
def test_float32_stays_float32(training, rng):
    x, gamma, beta, rm0, rv0 = _data(rng, (2, 3, 3, 4))
    rm, rv = _stats(rm0, rv0, np.float32)

    def fn(x, g, b):
        return ops.batch_norm(x, g, b, rm, rv, training=training) * Tensor(np.float32(np.pi))

    out, grads = run_float32(fn, x, gamma, beta)  # checks float32 output and gradients
    assert all(g is not None for g in grads)
    assert rm.dtype == np.float32 and rv.dtype == np.float32
    mean, var = (x.mean(_axes(x)), x.var(_axes(x))) if training else (rm0, rv0)
    np.testing.assert_allclose(
        out, np.pi * ref_batch_norm(x, gamma, beta, mean, var), rtol=1e-5, atol=1e-5
    )


def test_float64_stays_float64(rng):
    x, gamma, beta, rm0, rv0 = _data(rng, (4, 3))
    tensors = [Tensor(a, requires_grad=True) for a in (x, gamma, beta)]
    out = ops.batch_norm(*tensors, *_stats(rm0, rv0), training=True)
    (out * out).sum().backward()
    assert out.dtype == np.float64
    assert all(t.grad.dtype == np.float64 for t in tensors)


# ------------------------------------------------------------------ PyTorch parity
@pytest.mark.parametrize("training", [True, False])
def test_matches_pytorch_nchw(training, rng, torch):
    # float32; FORWARD_TOL (atol 1e-5, rtol 1e-4) for outputs and running stats, GRAD_TOL
    # (atol 1e-4, rtol 1e-3) for gradients. Keras momentum 0.9 == torch momentum 0.1.
    x, gamma, beta, rm0, rv0 = (a.astype(np.float32) for a in _data(rng, (4, 3, 5, 2)))
    weights = rng.normal(size=x.shape).astype(np.float32)  # out.sum() has zero x-gradient
    ts = [torch.tensor(a, requires_grad=True) for a in (x, gamma, beta)]
    t_rm, t_rv = torch.tensor(rm0), torch.tensor(rv0)
    t_out = torch.nn.functional.batch_norm(
        ts[0].permute(0, 3, 1, 2), t_rm, t_rv, ts[1], ts[2], training, 0.1, 1e-3
    ).permute(0, 2, 3, 1)
    (t_out * torch.tensor(weights)).sum().backward()

    ours = [Tensor(a, requires_grad=True) for a in (x, gamma, beta)]
    rm, rv = _stats(rm0, rv0, np.float32)
    out = ops.batch_norm(*ours, rm, rv, training=training, momentum=0.9)
    (out * Tensor(weights)).sum().backward()

    np.testing.assert_allclose(out.data, t_out.detach().numpy(), **FORWARD_TOL)
    for t, o in zip(ts, ours, strict=True):
        np.testing.assert_allclose(o.grad, t.grad.numpy(), **GRAD_TOL)
    np.testing.assert_allclose(rm.data, t_rm.numpy(), **FORWARD_TOL)
    # torch folds in the unbiased variance (÷ (M − 1)); recover the batch variance from its
    # update and re-bias it (× (M − 1)/M) before comparing with ours.
    m = x.size // x.shape[-1]
    t_var = (t_rv.numpy() - 0.9 * rv0) / 0.1 * (m - 1) / m if training else rv0
    np.testing.assert_allclose(rv.data, 0.9 * rv0 + 0.1 * t_var, **FORWARD_TOL)


# ------------------------------------------------------------------ errors
def test_argument_errors(rng):
    x = Tensor(rng.normal(size=(4, 3)))
    stats = _stats(np.zeros(3), np.ones(3))
    with pytest.raises(ValueError, match=r"batch_norm: gamma .* Expected shape \(3,\).*\(4,\)"):
        ops.batch_norm(x, Tensor(np.ones(4)), None, *stats, training=True)
    with pytest.raises(ValueError, match=r"batch_norm: running_var .* received \(2,\)"):
        ops.batch_norm(x, None, None, stats[0], Tensor(np.ones(2)), training=True)
    with pytest.raises(TypeError, match=r"batch_norm: running_mean must be a floating Tensor"):
        ops.batch_norm(x, None, None, [0.0, 0.0, 0.0], stats[1], training=True)
    with pytest.raises(ValueError, match=r"channels last. Expected shape \(N, C\).*\(3,\)"):
        ops.batch_norm(Tensor(np.ones(3)), None, None, *stats, training=True)
    with pytest.raises(ValueError, match=r"momentum=1.5"):
        ops.batch_norm(x, None, None, *stats, training=True, momentum=1.5)
    with pytest.raises(ValueError, match=r"epsilon > 0, received epsilon=0"):
        ops.batch_norm(x, None, None, *stats, training=True, epsilon=0)


# ------------------------------------------------------------------ a share of the batch per core
def test_shares_far_apart_normalise_and_differentiate_as_the_whole_batch(rng):
    """Trained a share of the batch per thread, each share subtracts its own mean and keeps
    those deviations; the per-channel corrections by δ = μ − m must give the whole batch's
    output and gradients even where the shares' means lie far apart (here 0 and 50, σ = 1)."""
    import threadpoolctl

    from glassnet import parallel
    from glassnet.ops.normalization import BatchNormOp

    if parallel._blas() is None:
        pytest.skip("no BLAS threadpoolctl can steer")
    x = rng.normal(0.0, 1.0, (6, 5, 4, 3))
    x[3:] += 50.0  # the second share's mean
    g = rng.standard_normal(x.shape)
    gamma, beta = rng.uniform(0.5, 2.0, 3), rng.normal(size=3)

    def run(rows: slice, share: object) -> tuple:
        params = [Tensor(a.copy(), requires_grad=True) for a in (x[rows], gamma, beta)]
        stats = _stats(np.zeros(3), np.ones(3))
        y = BatchNormOp.apply(
            *params, *stats, epsilon=1e-3, momentum=0.5, training=True, share=share
        )
        y.backward(g[rows])
        return y.numpy(), *(np.asarray(p.grad) for p in params), stats[0].numpy()

    whole = run(slice(0, 6), None)
    with threadpoolctl.threadpool_limits(2, user_api="blas"):
        shares = parallel.split_over_cores(run, 6, linked=True)
    assert len(shares) == 2
    y, gx = (np.concatenate([part[k] for part in shares]) for k in (0, 1))
    g_gamma, g_beta = (sum(part[k] for part in shares) for k in (2, 3))
    for got, want in zip((y, gx, g_gamma, g_beta, shares[0][4]), whole, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-10)
    assert abs(whole[0][:3].mean() - whole[0][3:].mean()) > 1.0  # the shares' outputs differ


def test_training_gradient_where_the_mean_dwarfs_the_spread(rng):
    """float32 activations of mean 1000 and spread 0.05 (an ulp at 1000 is 6e-5). The output
    is as good as float32's mean of them allows (about 1e-3 of its size, for any form), but
    the gradients, taken from the deviations x − μ, stay within 5e-4 of their size: written
    from x itself, Σ g·x̂ = (Σ g·x − μ·Σ g)/σ would lose all its digits to cancellation."""
    x64 = rng.normal(1000.0, 0.05, (4, 6, 6, 2))
    x32 = x64.astype(np.float32)
    x64 = x32.astype(np.float64)  # the same numbers in both
    g = rng.standard_normal(x64.shape)
    gamma, beta = rng.uniform(0.5, 2.0, 2), rng.normal(size=2)
    outs = []
    for dtype in (np.float32, np.float64):
        params = [Tensor(a.astype(dtype), requires_grad=True) for a in (x64, gamma, beta)]
        y = ops.batch_norm(params[0], params[1], params[2], *_stats(np.zeros(2), np.ones(2), dtype),
                           training=True)  # fmt: skip
        y.backward(g.astype(dtype))
        outs.append([y.numpy(), *(np.asarray(p.grad) for p in params)])
    for got, want, tol in zip(*outs, (2e-3, 5e-4, 5e-4, 5e-4), strict=True):
        np.testing.assert_allclose(got, want, rtol=0, atol=tol * np.abs(want).max())


@pytest.mark.parametrize("training", [True, False], ids=["training", "inference"])
def test_float64_parameters_promote_a_float32_batch_alike_in_training_and_inference(training, rng):
    """x float32 with γ and β float64: the output takes x·γ + β's dtype, float64, whether the
    op trains, differentiates at inference, or runs the folded inference kernel."""
    x = Tensor(rng.standard_normal((4, 3, 3, 2)).astype(np.float32), requires_grad=True)
    gamma, beta = Tensor(rng.uniform(0.5, 2.0, 2)), Tensor(rng.normal(size=2))
    y = ops.batch_norm(x, gamma, beta, *_stats(np.zeros(2), np.ones(2), np.float32), training)
    with no_grad():
        folded = ops.batch_norm(x, gamma, beta, *_stats(np.zeros(2), np.ones(2), np.float32),
                                training=False)  # fmt: skip
    assert y.dtype == np.float64 and folded.dtype == np.float64
    y.backward(np.ones(y.shape))
    assert x.grad.shape == x.shape
