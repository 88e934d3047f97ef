"""Optimizers: N steps against torch.optim (Lion and Nadam also against NumPy transcriptions
of their paper's and Keras's formulas), by-hand updates, state round trips, errors."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np
import pytest

from glassnet import Tensor, ops, optimizers
from glassnet.optimizers import (
    SGD,
    Adadelta,
    Adagrad,
    Adam,
    Adamax,
    AdamW,
    Lion,
    Nadam,
    Optimizer,
    RMSprop,
    get,
)

# Parameters after every one of 20 steps, ours vs torch.optim, float32. Both sides compute
# their own gradients, so the tolerance covers gradient rounding as well as the update; the
# largest difference seen is 1.8e-7 (a few float32 ulps of weights around 0.1-1).
PARITY_TOL = {"rtol": 1e-6, "atol": 5e-7}
# clip_grad_norm_ scales by c/(‖g‖ + 1e-6), Keras (and we) by c/‖g‖: a relative difference of
# 1e-6/‖g‖ per step (‖g‖ ≈ 0.04 here) that momentum accumulates; 3.5e-6 at most here.
CLIPNORM_TOL = {"rtol": 1e-4, "atol": 1e-5}
STEPS = 20


# ----------------------------------------------------------------------------- a tiny problem
def _init_weights(rng: np.random.Generator) -> list[np.ndarray]:
    shapes = [(3, 4), (4,), (4, 2), (2,)]
    return [(0.5 * rng.standard_normal(s)).astype(np.float32) for s in shapes]


def _data(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    x = rng.standard_normal((16, 3)).astype(np.float32)
    y = rng.standard_normal((16, 2)).astype(np.float32)
    return x, y


def _loss(params: list[Tensor], x: np.ndarray, y: np.ndarray) -> Tensor:
    w1, b1, w2, b2 = params
    hidden = ops.linear(Tensor(x), w1, b1).relu()
    pred = ops.linear(hidden, w2, b2)
    return ((pred - Tensor(y)) ** 2).mean()


def _torch_loss(torch: Any, params: list[Any], x: np.ndarray, y: np.ndarray) -> Any:
    w1, b1, w2, b2 = params
    pred = torch.relu(torch.from_numpy(x) @ w1 + b1) @ w2 + b2
    return ((pred - torch.from_numpy(y)) ** 2).mean()


def _train_step(opt: Optimizer, params: list[Tensor], x: np.ndarray, y: np.ndarray) -> None:
    opt.zero_grad()
    _loss(params, x, y).backward()
    opt.step()


def _leaves(arrays: list[np.ndarray]) -> list[Tensor]:
    return [Tensor(a.copy(), requires_grad=True) for a in arrays]


# ----------------------------------------------------------------------------- torch parity
def _decay(lr: float, wd: float) -> Callable[[Any, list[Any]], None]:
    def before(torch: Any, params: list[Any]) -> None:
        for p in params:
            p.mul_(1 - lr * wd)  # decoupled decay, applied by hand to torch's plain SGD

    return before


def _clip_each(c: float) -> Callable[[Any, list[Any]], None]:
    def before(torch: Any, params: list[Any]) -> None:
        for p in params:
            torch.nn.utils.clip_grad_norm_([p], c)

    return before


def _clip_global(c: float) -> Callable[[Any, list[Any]], None]:
    def before(torch: Any, params: list[Any]) -> None:
        torch.nn.utils.clip_grad_norm_(params, c)

    return before


def _clip_value(v: float) -> Callable[[Any, list[Any]], None]:
    def before(torch: Any, params: list[Any]) -> None:
        torch.nn.utils.clip_grad_value_(params, v)

    return before


class Case(NamedTuple):
    ours: Callable[[list[Tensor]], Optimizer]
    torch: Callable[[Any, list[Any]], Any]
    before_step: Callable[[Any, list[Any]], None] | None = None  # torch-side decay or clipping
    lr_change: tuple[int, float] | None = None  # (step, new learning rate)
    tol: dict[str, float] = PARITY_TOL


PARITY_CASES: dict[str, Case] = {
    "sgd": Case(
        lambda p: SGD(0.1, params=p),
        lambda t, p: t.optim.SGD(p, lr=0.1),
    ),
    "sgd-momentum": Case(
        lambda p: SGD(0.05, momentum=0.9, params=p),
        lambda t, p: t.optim.SGD(p, lr=0.05, momentum=0.9),
        lr_change=(10, 0.01),  # torch's buffer excludes lr: the new lr scales all of it
    ),
    "sgd-nesterov": Case(
        lambda p: SGD(0.05, momentum=0.9, nesterov=True, params=p),
        lambda t, p: t.optim.SGD(p, lr=0.05, momentum=0.9, nesterov=True),
    ),
    "sgd-decoupled-wd": Case(
        lambda p: SGD(0.05, momentum=0.9, weight_decay=0.1, params=p),
        lambda t, p: t.optim.SGD(p, lr=0.05, momentum=0.9),
        _decay(0.05, 0.1),
    ),
    "adam": Case(
        lambda p: Adam(0.01, params=p),
        lambda t, p: t.optim.Adam(p, lr=0.01, eps=1e-7),
        lr_change=(10, 0.003),
    ),
    "adam-amsgrad": Case(
        lambda p: Adam(0.01, beta_1=0.8, beta_2=0.99, amsgrad=True, params=p),
        lambda t, p: t.optim.Adam(p, lr=0.01, betas=(0.8, 0.99), eps=1e-7, amsgrad=True),
    ),
    "adam-decoupled-wd": Case(
        lambda p: Adam(0.01, weight_decay=0.05, params=p),
        lambda t, p: t.optim.AdamW(p, lr=0.01, eps=1e-7, weight_decay=0.05),
    ),
    "adamw": Case(
        lambda p: AdamW(0.01, weight_decay=0.1, epsilon=1e-8, params=p),
        lambda t, p: t.optim.AdamW(p, lr=0.01, weight_decay=0.1, eps=1e-8),
    ),
    "rmsprop": Case(
        lambda p: RMSprop(0.01, params=p),
        lambda t, p: t.optim.RMSprop(p, lr=0.01, alpha=0.9, eps=1e-7),
    ),
    "rmsprop-centered-momentum": Case(
        lambda p: RMSprop(0.005, rho=0.8, momentum=0.9, centered=True, params=p),
        lambda t, p: t.optim.RMSprop(p, lr=0.005, alpha=0.8, eps=1e-7, momentum=0.9, centered=True),
        lr_change=(10, 0.001),
    ),
    # Adagrad: torch's initial accumulator defaults to 0, Keras's (ours) to 0.1.
    "adagrad": Case(
        lambda p: Adagrad(0.05, params=p),
        lambda t, p: t.optim.Adagrad(p, lr=0.05, initial_accumulator_value=0.1, eps=1e-7),
        lr_change=(10, 0.01),
    ),
    "adagrad-zero-start-decoupled-wd": Case(
        lambda p: Adagrad(0.05, initial_accumulator_value=0.0, weight_decay=0.1, params=p),
        lambda t, p: t.optim.Adagrad(p, lr=0.05, eps=1e-7),
        _decay(0.05, 0.1),
    ),
    # Adadelta at Keras's lr=0.001 barely moves in 20 steps; lr=1 is the paper's.
    "adadelta": Case(
        lambda p: Adadelta(1.0, params=p),
        lambda t, p: t.optim.Adadelta(p, lr=1.0, rho=0.95, eps=1e-7),
        lr_change=(10, 0.5),
    ),
    "adadelta-decoupled-wd": Case(
        lambda p: Adadelta(1.0, rho=0.9, epsilon=1e-6, weight_decay=0.05, params=p),
        lambda t, p: t.optim.Adadelta(p, lr=1.0, rho=0.9, eps=1e-6),
        _decay(1.0, 0.05),
    ),
    "adamax": Case(
        lambda p: Adamax(0.01, params=p),
        lambda t, p: t.optim.Adamax(p, lr=0.01, eps=1e-7),
        lr_change=(10, 0.003),
    ),
    "adamax-decoupled-wd": Case(
        lambda p: Adamax(0.01, beta_1=0.8, beta_2=0.99, weight_decay=0.1, params=p),
        lambda t, p: t.optim.Adamax(p, lr=0.01, betas=(0.8, 0.99), eps=1e-7),
        _decay(0.01, 0.1),
    ),
    # Keras's Nadam warms its momentum up with 0.96^t: torch's NAdam with momentum_decay=1
    # (its default 0.004 gives 0.96^(0.004·t)); test_nadam_matches_keras checks Keras's formula.
    "nadam": Case(
        lambda p: Nadam(0.01, params=p),
        lambda t, p: t.optim.NAdam(p, lr=0.01, eps=1e-7, momentum_decay=1.0),
        lr_change=(10, 0.003),
    ),
    "nadam-decoupled-wd": Case(
        lambda p: Nadam(0.01, beta_2=0.99, weight_decay=0.1, params=p),
        lambda t, p: t.optim.NAdam(
            p,
            lr=0.01,
            betas=(0.9, 0.99),
            eps=1e-7,
            momentum_decay=1.0,
            weight_decay=0.1,
            decoupled_weight_decay=True,
        ),
    ),
    "clipnorm": Case(
        lambda p: SGD(0.1, momentum=0.9, clipnorm=0.05, params=p),
        lambda t, p: t.optim.SGD(p, lr=0.1, momentum=0.9),
        _clip_each(0.05),
        tol=CLIPNORM_TOL,
    ),
    "global_clipnorm": Case(
        lambda p: Adam(0.01, global_clipnorm=0.1, params=p),
        lambda t, p: t.optim.Adam(p, lr=0.01, eps=1e-7),
        _clip_global(0.1),
    ),
    "clipvalue": Case(
        lambda p: SGD(0.1, clipvalue=0.02, params=p),
        lambda t, p: t.optim.SGD(p, lr=0.1),
        _clip_value(0.02),
    ),
}


@pytest.mark.parametrize("case", list(PARITY_CASES))
def test_matches_torch_optim_every_step(case: str, torch: Any, rng: np.random.Generator) -> None:
    make_ours, make_torch, before_step, lr_change, tol = PARITY_CASES[case]
    init = _init_weights(rng)
    x, y = _data(rng)
    ours = _leaves(init)
    theirs = [torch.tensor(w.copy(), requires_grad=True) for w in init]
    opt, topt = make_ours(ours), make_torch(torch, theirs)
    for step in range(STEPS):
        if lr_change is not None and step == lr_change[0]:
            opt.learning_rate = lr_change[1]
            for group in topt.param_groups:
                group["lr"] = lr_change[1]
        _train_step(opt, ours, x, y)
        topt.zero_grad()
        _torch_loss(torch, theirs, x, y).backward()
        if before_step is not None:
            with torch.no_grad():
                before_step(torch, theirs)
        topt.step()
        for i, (a, b) in enumerate(zip(ours, theirs, strict=True)):
            assert a.dtype == np.float32
            np.testing.assert_allclose(
                a.numpy(), b.detach().numpy(), **tol, err_msg=f"{case}: step {step}, p{i}"
            )
    assert opt.iterations == STEPS
    # The run must have moved the weights, or the comparison proves nothing.
    assert not np.allclose(ours[0].numpy(), init[0], atol=1e-3)


# ----------------------------------------------------------------------------- by the formula
def _against_reference(
    opt: Optimizer,
    ours: list[Tensor],
    init: list[np.ndarray],
    reference: Callable[[int, list[np.ndarray], list[np.ndarray]], None],
    x: np.ndarray,
    y: np.ndarray,
) -> None:
    """STEPS steps of ``opt`` beside ``reference(step, params, grads)``, a NumPy update in
    place, each on its own trajectory (each side's gradients from its own weights)."""
    theirs = [w.copy() for w in init]
    for step in range(STEPS):
        _train_step(opt, ours, x, y)
        leaves = _leaves(theirs)
        _loss(leaves, x, y).backward()
        reference(step, theirs, [p.grad for p in leaves])
        for i, (a, b) in enumerate(zip(ours, theirs, strict=True)):
            assert a.dtype == b.dtype == np.float32
            np.testing.assert_allclose(a.numpy(), b, **PARITY_TOL, err_msg=f"step {step}, p{i}")
    assert not np.allclose(ours[0].numpy(), init[0], atol=1e-3)


def _keras_nadam(
    init: list[np.ndarray], lr: float, b1: float, b2: float, eps: float, wd: float | None
) -> Callable[[int, list[np.ndarray], list[np.ndarray]], None]:
    """Keras 3's Nadam (keras/src/optimizers/nadam.py) in NumPy, float32 like Keras, with its
    global step count (``iterations``) and its decoupled weight decay applied first."""
    m = [np.zeros_like(w) for w in init]
    v = [np.zeros_like(w) for w in init]
    u_product = np.float32(1.0)

    def update(iterations: int, params: list[np.ndarray], grads: list[np.ndarray]) -> None:
        nonlocal u_product
        local_step, next_step = iterations + 1, iterations + 2
        u_product = np.float32(u_product * b1 * (1.0 - 0.5 * 0.96**local_step))
        u_t = b1 * (1.0 - 0.5 * 0.96**local_step)
        u_t_1 = b1 * (1.0 - 0.5 * 0.96**next_step)
        u_product_t_1 = u_product * u_t_1
        for i, (w, g) in enumerate(zip(params, grads, strict=True)):
            if wd:
                w -= w * wd * lr
            m[i] += (g - m[i]) * (1 - b1)
            v[i] += (g * g - v[i]) * (1 - b2)
            m_hat = u_t_1 * m[i] / (1 - u_product_t_1) + (1 - u_t) * g / (1 - u_product)
            v_hat = v[i] / (1 - b2**local_step)
            w -= m_hat * lr / (np.sqrt(v_hat) + eps)

    return update


@pytest.mark.parametrize("wd", [None, 0.1])
def test_nadam_matches_keras_formula(wd: float | None, rng: np.random.Generator) -> None:
    init = _init_weights(rng)
    x, y = _data(rng)
    ours = _leaves(init)
    opt = Nadam(0.01, beta_2=0.99, weight_decay=wd, params=ours)
    _against_reference(opt, ours, init, _keras_nadam(init, 0.01, 0.9, 0.99, 1e-7, wd), x, y)


def test_nadam_momentum_warms_up_as_in_keras_not_torch_default() -> None:
    # One step on a fresh state: m = (1 − β₁)·g, v = (1 − β₂)·g², √v̂ = |g|, so the step is
    # η·sign(g)·[μ₂·(1 − β₁)/(1 − μ₁·μ₂) + (1 − μ₁)/(1 − μ₁)] with μₜ = β₁(1 − ½·0.96ᵗ).
    b1 = 0.9
    mu1, mu2 = b1 * (1 - 0.5 * 0.96), b1 * (1 - 0.5 * 0.96**2)
    expected = 0.1 * (mu2 * (1 - b1) / (1 - mu1 * mu2) + 1.0)
    p = Tensor(np.zeros(1, dtype=np.float64), requires_grad=True)
    p.grad = np.array([-3.0])
    Nadam(0.1, epsilon=1e-12, params=[p]).step()
    np.testing.assert_allclose(p.numpy(), [expected], rtol=1e-9)


def _lion_paper(
    init: list[np.ndarray], lr: float, b1: float, b2: float, wd: float
) -> Callable[[int, list[np.ndarray], list[np.ndarray]], None]:
    """Algorithm 2 of Chen et al. (2023), "Symbolic Discovery of Optimization Algorithms"."""
    momentum = [np.zeros_like(w) for w in init]

    def update(step: int, params: list[np.ndarray], grads: list[np.ndarray]) -> None:
        for w, g, m in zip(params, grads, momentum, strict=True):
            c = b1 * m + (1 - b1) * g  # interpolate
            w -= lr * (np.sign(c) + wd * w)  # sign update with decoupled weight decay
            m *= b2  # then the momentum
            m += (1 - b2) * g

    return update


@pytest.mark.parametrize("wd", [0.0, 0.5])
def test_lion_matches_the_paper(wd: float, rng: np.random.Generator) -> None:
    init = _init_weights(rng)
    x, y = _data(rng)
    ours = _leaves(init)
    opt = Lion(0.003, beta_1=0.9, beta_2=0.99, weight_decay=wd or None, params=ours)
    _against_reference(opt, ours, init, _lion_paper(init, 0.003, 0.9, 0.99, wd), x, y)


def test_lion_moves_every_weight_by_the_learning_rate() -> None:
    p = Tensor(np.array([0.0, 1.0, -1.0], dtype=np.float32), requires_grad=True)
    p.grad = np.array([1e-6, -50.0, 0.0], dtype=np.float32)
    Lion(0.01, params=[p]).step()
    np.testing.assert_allclose(p.numpy(), [-0.01, 1.01, -1.0], rtol=1e-6)  # sign(0) = 0


def test_adagrad_two_steps_by_hand() -> None:
    # s = 0.1 + g² then + g²; steps η·g/√s
    p = Tensor(np.array([1.0], dtype=np.float64), requires_grad=True)
    opt = Adagrad(0.1, epsilon=1e-12, params=[p])
    for _ in range(2):
        p.grad = np.array([0.3])
        opt.step()
    want = 1.0 - 0.1 * 0.3 / np.sqrt(0.19) - 0.1 * 0.3 / np.sqrt(0.28)
    np.testing.assert_allclose(p.numpy(), [want], rtol=1e-9)
    np.testing.assert_allclose(opt.state_dict()["0.accumulator"], [0.28], rtol=1e-12)


@pytest.mark.parametrize(
    ("cls", "defaults"),
    [
        (Adagrad, {"learning_rate": 0.001, "initial_accumulator_value": 0.1, "epsilon": 1e-7}),
        (Adadelta, {"learning_rate": 0.001, "rho": 0.95, "epsilon": 1e-7}),
        (Adamax, {"learning_rate": 0.001, "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-7}),
        (Nadam, {"learning_rate": 0.001, "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-7}),
        (Lion, {"learning_rate": 0.001, "beta_1": 0.9, "beta_2": 0.99}),
    ],
)
def test_keras_defaults_and_names(cls: type[Optimizer], defaults: dict[str, float]) -> None:
    config = cls().get_config()
    assert config["name"] == cls.__name__.lower()
    assert config["weight_decay"] is None
    assert {k: config[k] for k in defaults} == defaults


# ----------------------------------------------------------------------------- by hand
def test_sgd_one_step_by_hand() -> None:
    p = Tensor(np.array([1.0, -2.0, 0.5], dtype=np.float32), requires_grad=True)
    p.grad = np.array([0.5, 0.25, -1.0], dtype=np.float32)
    SGD(0.1, params=[p]).step()
    np.testing.assert_allclose(p.numpy(), [0.95, -2.025, 0.6], rtol=1e-6)


def test_sgd_momentum_two_steps_by_hand() -> None:
    # b1 = g, θ1 = θ0 − η·g; b2 = μ·g + g, θ2 = θ1 − η·(1 + μ)·g
    p = Tensor(np.array([1.0, -1.0], dtype=np.float32), requires_grad=True)
    opt = SGD(0.1, momentum=0.5, params=[p])
    for _ in range(2):
        p.grad = np.array([2.0, 4.0], dtype=np.float32)
        opt.step()
    np.testing.assert_allclose(p.numpy(), [1.0 - 0.2 - 0.3, -1.0 - 0.4 - 0.6], rtol=1e-6)
    np.testing.assert_allclose(opt.state_dict()["0.momentum"], [3.0, 6.0], rtol=1e-6)


def test_adam_first_step_moves_every_weight_by_about_the_learning_rate() -> None:
    # At t = 1, m̂ = g and √v̂ = |g|, so the step is η·g/(|g| + ε) ≈ η·sign(g) whatever |g|.
    p = Tensor(np.zeros(3, dtype=np.float32), requires_grad=True)
    p.grad = np.array([1e-3, -50.0, 2.0], dtype=np.float32)
    Adam(0.01, params=[p]).step()
    np.testing.assert_allclose(p.numpy(), [-0.01, 0.01, -0.01], rtol=1e-3)


def test_learning_rate_change_takes_effect_between_steps() -> None:
    p = Tensor(np.array([1.0], dtype=np.float32), requires_grad=True)
    opt = SGD(0.1, params=[p])
    p.grad = np.array([1.0], dtype=np.float32)
    opt.step()
    opt.learning_rate = 0.01
    assert opt.learning_rate == 0.01
    opt.step()
    np.testing.assert_allclose(p.numpy(), [1.0 - 0.1 - 0.01], rtol=1e-6)


def test_iterations_count_steps() -> None:
    p = Tensor(np.ones(2, dtype=np.float32), requires_grad=True)
    opt = Adam(params=[p])
    assert opt.iterations == 0
    for _ in range(3):
        p.grad = np.ones(2, dtype=np.float32)
        opt.step()
    assert opt.iterations == 3
    assert int(opt.state_dict()["0.step"]) == 3


# ----------------------------------------------------------------------------- clipping
@pytest.mark.parametrize(
    ("clip", "expected"),
    [
        ({"clipvalue": 1.0}, [[-1.0, 1.0], [-1.0]]),
        ({"clipnorm": 1.0}, [[-0.6, 0.8], [-1.0]]),  # each gradient rescaled to norm 1
        ({"clipnorm": 20.0}, [[-3.0, 4.0], [-12.0]]),  # both norms below 20: unchanged
        ({"global_clipnorm": 13.0}, [[-3.0, 4.0], [-12.0]]),  # joint norm √(5² + 12²) = 13
        ({"global_clipnorm": 1.3}, [[-0.3, 0.4], [-1.2]]),  # all scaled by 1.3/13
    ],
    ids=["clipvalue", "clipnorm", "clipnorm-below", "global-at", "global-above"],
)
def test_clipping_by_hand(clip: dict[str, float], expected: list[list[float]]) -> None:
    grads = [np.array([3.0, -4.0], dtype=np.float32), np.array([12.0], dtype=np.float32)]
    params = [Tensor(np.zeros(g.shape, dtype=np.float32), requires_grad=True) for g in grads]
    for p, g in zip(params, grads, strict=True):
        p.grad = g
    SGD(1.0, params=params, **clip).step()
    for p, want in zip(params, expected, strict=True):
        np.testing.assert_allclose(p.numpy(), want, rtol=1e-6)
    for p, g in zip(params, grads, strict=True):
        assert p.grad is g  # clipping worked on copies
    np.testing.assert_array_equal(params[1].grad, [12.0])


@pytest.mark.parametrize(
    "clip", [{}, {"clipvalue": 0.1}, {"clipnorm": 0.1}, {"global_clipnorm": 0.1}]
)
def test_step_never_modifies_the_gradient(clip: dict[str, float], rng: np.random.Generator) -> None:
    params = _leaves(_init_weights(rng))
    x, y = _data(rng)
    opt = Adam(0.01, weight_decay=0.1, params=params, **clip)
    _loss(params, x, y).backward()
    before = [(p.grad, p.grad.copy()) for p in params]
    opt.step()
    for p, (grad, copy) in zip(params, before, strict=True):
        assert p.grad is grad
        np.testing.assert_array_equal(grad, copy)


# ----------------------------------------------------------------------------- dtypes, skipping
ALL_KINDS = [
    lambda p: SGD(0.1, momentum=0.9, nesterov=True, weight_decay=0.01, clipnorm=1.0, params=p),
    lambda p: Adam(0.01, amsgrad=True, weight_decay=0.01, global_clipnorm=1.0, params=p),
    lambda p: AdamW(0.01, clipvalue=0.5, params=p),
    lambda p: RMSprop(0.01, momentum=0.5, centered=True, weight_decay=0.01, params=p),
    lambda p: Adagrad(0.1, weight_decay=0.01, clipnorm=1.0, params=p),
    lambda p: Adadelta(1.0, weight_decay=0.01, global_clipnorm=1.0, params=p),
    lambda p: Adamax(0.01, weight_decay=0.01, clipvalue=0.5, params=p),
    lambda p: Nadam(0.01, weight_decay=0.01, clipnorm=1.0, params=p),
    lambda p: Lion(0.001, weight_decay=0.1, global_clipnorm=1.0, params=p),
]
KIND_IDS = ["sgd", "adam", "adamw", "rmsprop", "adagrad", "adadelta", "adamax", "nadam", "lion"]


@pytest.mark.parametrize("make", ALL_KINDS, ids=KIND_IDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_params_and_state_keep_their_dtype(make: Any, dtype: Any, rng: np.random.Generator) -> None:
    params = [Tensor(w.astype(dtype), requires_grad=True) for w in _init_weights(rng)]
    data = [p.data for p in params]
    opt = make(params)
    for _ in range(3):
        for p in params:
            # float64 gradients on float32 weights must not upcast the weights or the state.
            p.grad = rng.standard_normal(p.shape)
        opt.step()
    for p, array in zip(params, data, strict=True):
        assert p.data is array  # updated in place
        assert p.dtype == dtype
    for key, value in opt.state_dict().items():
        if key.endswith(".step") or key == "iterations":
            assert value.dtype == np.int64
        elif key != "learning_rate":
            assert value.dtype == dtype, key  # Nadam's scalar mu_product included


def test_zero_grad_sets_grads_to_none(rng: np.random.Generator) -> None:
    params = _leaves(_init_weights(rng))
    x, y = _data(rng)
    opt = SGD(params=params)
    _loss(params, x, y).backward()
    assert all(p.grad is not None for p in params)
    opt.zero_grad()
    assert all(p.grad is None for p in params)


@pytest.mark.parametrize("make", ALL_KINDS, ids=KIND_IDS)
def test_params_without_grad_or_frozen_are_untouched(make: Any) -> None:
    active = Tensor(np.ones(3, dtype=np.float32), requires_grad=True)
    no_grad = Tensor(np.ones(3, dtype=np.float32), requires_grad=True)
    frozen = Tensor(np.ones(3, dtype=np.float32), requires_grad=True)
    opt = make([active, no_grad, frozen])
    initial = opt.state_dict()  # not all zeros: Adagrad starts at 0.1, Nadam's Π at 1
    frozen.requires_grad = False
    for _ in range(2):
        active.grad = np.full(3, 0.5, dtype=np.float32)
        frozen.grad = np.full(3, 0.5, dtype=np.float32)
        opt.step()
    assert not np.allclose(active.numpy(), 1.0)
    np.testing.assert_array_equal(no_grad.numpy(), np.ones(3))
    np.testing.assert_array_equal(frozen.numpy(), np.ones(3))
    state = opt.state_dict()
    for key, value in state.items():
        if key.startswith(("1.", "2.")):
            np.testing.assert_array_equal(value, initial[key], f"{key}: a skipped parameter")


# ----------------------------------------------------------------------------- checkpoints
RESUMABLE = [
    lambda p: SGD(0.05, momentum=0.9, nesterov=True, weight_decay=0.01, params=p),
    lambda p: Adam(0.01, amsgrad=True, global_clipnorm=0.5, params=p),
    lambda p: AdamW(0.01, params=p),
    lambda p: RMSprop(0.01, momentum=0.9, centered=True, params=p),
    lambda p: Adagrad(0.05, initial_accumulator_value=0.2, params=p),
    lambda p: Adadelta(1.0, rho=0.9, params=p),
    lambda p: Adamax(0.01, weight_decay=0.01, params=p),
    lambda p: Nadam(0.01, clipvalue=0.5, params=p),
    lambda p: Lion(0.001, beta_1=0.95, weight_decay=0.1, params=p),
]


@pytest.mark.parametrize("make", RESUMABLE, ids=KIND_IDS)
def test_state_dict_resume_equals_never_stopping(make: Any, rng: np.random.Generator) -> None:
    x, y = _data(rng)
    params = _leaves(_init_weights(rng))
    opt = make(params)
    for step in range(5):
        if step == 3:
            opt.learning_rate = 0.003  # a callback's change must survive the checkpoint
        _train_step(opt, params, x, y)
    saved = json.loads(json.dumps({k: v.tolist() for k, v in opt.state_dict().items()}))
    resumed = _leaves([p.numpy() for p in params])
    opt2 = make(resumed)
    opt2.load_state_dict({k: np.asarray(v) for k, v in saved.items()})
    assert opt2.iterations == 5
    assert opt2.learning_rate == 0.003
    for _ in range(5):
        _train_step(opt, params, x, y)
        _train_step(opt2, resumed, x, y)
    for a, b in zip(params, resumed, strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert opt2.iterations == 10


def test_state_dict_keys_and_copies() -> None:
    w = Tensor(np.ones((2, 3), dtype=np.float32), requires_grad=True)
    b = Tensor(np.ones(3, dtype=np.float32), requires_grad=True)
    opt = Adam(params=[w, b], amsgrad=True)
    state = opt.state_dict()
    slots = ("m", "v", "v_max", "step")
    assert set(state) == {"iterations", "learning_rate"} | {
        f"{i}.{s}" for i in range(2) for s in slots
    }
    assert state["0.m"].shape == (2, 3)
    w.grad = np.ones((2, 3), dtype=np.float32)
    opt.step()
    assert not np.any(state["0.m"])  # the dict holds copies, not the live buffers
    assert set(SGD(params=[w]).state_dict()) == {"iterations", "learning_rate"}


def test_load_state_dict_lists_every_problem() -> None:
    w = Tensor(np.ones((2, 3), dtype=np.float32), requires_grad=True)
    b = Tensor(np.ones(3, dtype=np.float32), requires_grad=True)
    opt = SGD(0.1, momentum=0.9, params=[w, b])
    state = opt.state_dict()
    state["0.momentum"] = np.zeros((3, 2), dtype=np.float32)
    del state["1.momentum"]
    state["2.momentum"] = np.zeros(3, dtype=np.float32)
    state["iterations"] = np.array(-1)
    before = opt.state_dict()
    with pytest.raises(ValueError, match="Error\\(s\\) in loading state_dict for SGD") as info:
        opt.load_state_dict(state)
    message = str(info.value)
    assert re.search(r"'0\.momentum': shape \(3, 2\) does not match expected \(2, 3\)", message)
    assert "missing key '1.momentum'" in message
    assert "unexpected key '2.momentum'" in message
    assert "'iterations': must be >= 0" in message
    after = opt.state_dict()
    for key in before:  # nothing was loaded
        np.testing.assert_array_equal(after[key], before[key])


def test_load_state_dict_needs_params_and_a_dict() -> None:
    with pytest.raises(RuntimeError, match="no parameters yet"):
        Adam().load_state_dict({"iterations": np.array(0)})
    opt = Adam(params=[Tensor(np.ones(2, dtype=np.float32), requires_grad=True)])
    with pytest.raises(TypeError, match="expected a dict"):
        opt.load_state_dict([1, 2])


# ----------------------------------------------------------------------------- get / config
def test_get_by_name_and_instance() -> None:
    assert type(get("adam")) is Adam
    assert type(get("RMSprop")) is RMSprop
    assert type(get("SGD")) is SGD
    assert type(get("AdamW")) is AdamW
    assert get("sgd").learning_rate == 0.01  # Keras defaults
    keras_names = {
        "adagrad": Adagrad,
        "adadelta": Adadelta,
        "adamax": Adamax,
        "nadam": Nadam,
        "lion": Lion,
        "Nadam": Nadam,
    }
    for name, cls in keras_names.items():
        assert type(get(name)) is cls
    opt = Adam(0.5)
    assert get(opt) is opt


def test_get_unknown_lists_known_names() -> None:
    with pytest.raises(
        ValueError, match=r"unknown optimizer 'nope'\. Known names: 'adadelta', 'adagrad', 'adam'"
    ):
        get("nope")
    with pytest.raises(TypeError, match="expected a name"):
        get(3)


@pytest.mark.parametrize(
    "opt",
    [
        SGD(0.2, momentum=0.5, nesterov=True, clipnorm=1.0, name="my_sgd"),
        Adam(beta_1=0.8, amsgrad=True, weight_decay=0.01),
        AdamW(0.01, weight_decay=0.1, global_clipnorm=2.0),
        RMSprop(rho=0.95, momentum=0.1, centered=True, clipvalue=0.5),
        Adagrad(0.01, initial_accumulator_value=0.0, epsilon=1e-6, weight_decay=0.1),
        Adadelta(1.0, rho=0.9, epsilon=1e-6, clipnorm=2.0, name="ada"),
        Adamax(beta_1=0.8, beta_2=0.99, epsilon=1e-8, global_clipnorm=1.0),
        Nadam(0.002, beta_1=0.95, weight_decay=0.004),
        Lion(3e-4, beta_1=0.95, beta_2=0.98, weight_decay=0.5),
    ],
    ids=KIND_IDS,
)
def test_config_round_trip(opt: Optimizer) -> None:
    config = json.loads(json.dumps(opt.get_config()))
    clone = type(opt).from_config(config)
    assert clone.get_config() == opt.get_config()
    assert repr(clone) == repr(opt)
    assert not clone.built


def test_from_config_rejects_unknown_keys() -> None:
    with pytest.raises(ValueError, match=r"unknown key\(s\) \['rho'\]"):
        Adam.from_config({"learning_rate": 0.1, "rho": 0.9})


# ----------------------------------------------------------------------------- errors
@pytest.mark.parametrize(
    ("make", "error", "match"),
    [
        (lambda: SGD(-0.1), ValueError, r"SGD: 'learning_rate' must be a number >= 0\. "
         r"Received: learning_rate=-0.1"),
        (lambda: SGD(float("inf")), ValueError, "'learning_rate' must be a number >= 0"),
        (lambda: Adam("fast"), TypeError, "'learning_rate' must be a real number"),
        (lambda: SGD(momentum=1.5), ValueError,
         r"SGD: 'momentum' must be in \[0, 1\]\. Received: momentum=1.5"),
        (lambda: SGD(momentum=-0.1), ValueError, r"'momentum' must be in \[0, 1\]"),
        (lambda: SGD(nesterov=True), ValueError, "nesterov=True needs momentum > 0"),
        (lambda: SGD(momentum=0.9, nesterov="yes"), TypeError, "'nesterov' must be True or"),
        (lambda: Adam(beta_1=1.0), ValueError, r"Adam: 'beta_1' must be in \[0, 1\)"),
        (lambda: Adam(beta_2=-0.5), ValueError, r"'beta_2' must be in \[0, 1\)"),
        (lambda: Adam(epsilon=0.0), ValueError, "'epsilon' must be a number > 0"),
        (lambda: Adam(epsilon=float("nan")), ValueError, "'epsilon' must be a number > 0"),
        (lambda: Adam(amsgrad=None), TypeError, "'amsgrad' must be True or False"),
        (lambda: Adam(weight_decay=-1), ValueError, "'weight_decay' must be a number >= 0"),
        (lambda: AdamW(weight_decay=None), ValueError, "AdamW: 'weight_decay' must be"),
        (lambda: RMSprop(rho=1.0), ValueError, r"RMSprop: 'rho' must be in \[0, 1\)"),
        (lambda: RMSprop(momentum=2), ValueError, r"'momentum' must be in \[0, 1\]"),
        (lambda: RMSprop(centered=1), TypeError, "'centered' must be True or False"),
        (lambda: SGD(clipnorm=0), ValueError, "'clipnorm' must be a number > 0"),
        (lambda: SGD(clipvalue=-1.0), ValueError, "'clipvalue' must be a number > 0"),
        (lambda: SGD(clipnorm=1.0, global_clipnorm=1.0), ValueError,
         "only one of 'clipnorm', 'clipvalue' and 'global_clipnorm'"),
        (lambda: Adam(clipvalue=1.0, clipnorm=1.0), ValueError, "Received: clipnorm=1.0, "),
        (lambda: SGD(name=3), TypeError, "'name' must be a string"),
        (lambda: Adagrad(-0.1), ValueError, r"Adagrad: 'learning_rate' must be a number >= 0\. "
         r"Received: learning_rate=-0.1"),
        (lambda: Adagrad(initial_accumulator_value=-1), ValueError,
         r"Adagrad: 'initial_accumulator_value' must be a number >= 0\. Received: "),
        (lambda: Adagrad(epsilon=0), ValueError, r"Adagrad: 'epsilon' must be a number > 0"),
        (lambda: Adadelta(rho=1.5), ValueError,
         r"Adadelta: 'rho' must be in \[0, 1\)\. Received: rho=1.5"),
        (lambda: Adadelta(rho=-0.1), ValueError, r"Adadelta: 'rho' must be in \[0, 1\)"),
        (lambda: Adadelta(rho="0.9"), TypeError, "Adadelta: 'rho' must be a real number"),
        (lambda: Adamax(beta_1=1.0), ValueError, r"Adamax: 'beta_1' must be in \[0, 1\)"),
        (lambda: Adamax(beta_2=2), ValueError, r"Adamax: 'beta_2' must be in \[0, 1\)"),
        (lambda: Nadam(beta_1=-0.1), ValueError, r"Nadam: 'beta_1' must be in \[0, 1\)"),
        (lambda: Nadam(epsilon=-1e-7), ValueError, "Nadam: 'epsilon' must be a number > 0"),
        (lambda: Lion(beta_1=0), ValueError,
         r"Lion: 'beta_1' must be in \(0, 1\]\. Received: beta_1=0"),
        (lambda: Lion(beta_2=1.0), ValueError, r"Lion: 'beta_2' must be in \[0, 1\)"),
        (lambda: Lion(weight_decay=-0.1), ValueError, "Lion: 'weight_decay' must be a number"),
        (lambda: Lion(clipnorm=1.0, clipvalue=1.0), ValueError, "only one of 'clipnorm'"),
    ],
)  # fmt: skip
def test_invalid_arguments(make: Any, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        make()


def test_learning_rate_setter_validates() -> None:
    opt = SGD()
    with pytest.raises(ValueError, match="Received: learning_rate=-1"):
        opt.learning_rate = -1
    assert opt.learning_rate == 0.01


def test_bad_params() -> None:
    w = Tensor(np.ones(2, dtype=np.float32), requires_grad=True)
    with pytest.raises(TypeError, match=r"params\[1\] is a str, not a Tensor"):
        SGD(params=[w, "w"])
    with pytest.raises(TypeError, match="iterable of Tensors"):
        SGD(params=w)
    with pytest.raises(TypeError, match=r"params\[0\] has dtype int64"):
        SGD(params=[Tensor(np.arange(3))])
    with pytest.raises(ValueError, match="empty parameter list"):
        SGD(params=[])
    with pytest.raises(ValueError, match=r"params\[1\] is the same Tensor as params\[0\]"):
        SGD(params=[w, w])


def test_build_once() -> None:
    w = Tensor(np.ones(2, dtype=np.float32), requires_grad=True)
    opt = SGD(params=[w])
    opt.build([w])  # what model.compile does: harmless when the same
    assert opt.built
    assert opt.params == [w]
    with pytest.raises(RuntimeError, match="already built for 1 parameters"):
        opt.build([w, Tensor(np.ones(2, dtype=np.float32), requires_grad=True)])


def test_step_without_params_says_how_to_attach_them() -> None:
    with pytest.raises(RuntimeError, match=r"no parameters to update\. Pass params="):
        Adam().step()


def test_step_rejects_a_gradient_of_the_wrong_shape() -> None:
    w = Tensor(np.ones(2, dtype=np.float32), requires_grad=True, name="kernel")
    opt = SGD(params=[w])
    w.grad = np.ones(3, dtype=np.float32)
    with pytest.raises(ValueError, match=r"params\[0\] 'kernel' has shape \(3,\)"):
        opt.step()
    np.testing.assert_array_equal(w.numpy(), [1.0, 1.0])


def test_step_rejects_read_only_parameters() -> None:
    w = Tensor(np.broadcast_to(np.float32(1.0), (3,)), requires_grad=True)
    w.grad = np.ones(3, dtype=np.float32)
    with pytest.raises(RuntimeError, match=r"params\[0\] holds a read-only array"):
        SGD(params=[w]).step()


# ----------------------------------------------------------------------------- with a model
@pytest.mark.parametrize("name", ["adagrad", "adadelta", "adamax", "nadam", "lion"])
def test_model_save_keeps_the_state_of_the_keras_optimizers(name: str, tmp_path: Any) -> None:
    import glassnet as gn

    gn.set_seed(0)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((24, 3)).astype(np.float32)
    y = rng.standard_normal((24, 2)).astype(np.float32)
    model = gn.Sequential([gn.Input((3,)), gn.layers.Dense(2, activation="tanh")])
    model.compile(name, "mse")
    model.fit(x, y, epochs=2, batch_size=8, verbose=0)
    model.save(tmp_path / "with")
    model.save(tmp_path / "without", include_optimizer=False)
    loaded = gn.load_model(tmp_path / "with")
    assert type(loaded.optimizer) is type(model.optimizer)
    assert loaded.optimizer.get_config() == model.optimizer.get_config()
    saved = model.optimizer.state_dict()
    assert saved["iterations"] == 6 and set(loaded.optimizer.state_dict()) == set(saved)
    for key, value in loaded.optimizer.state_dict().items():
        np.testing.assert_array_equal(value, saved[key], err_msg=key)
    for m in (model, loaded):
        m.fit(x, y, epochs=1, batch_size=8, shuffle=False, verbose=0)
    np.testing.assert_allclose(loaded.predict(x), model.predict(x), rtol=1e-5, atol=1e-6)
    fresh = gn.load_model(tmp_path / "without")
    assert type(fresh.optimizer) is type(model.optimizer) and fresh.optimizer.iterations == 0


# ------------------------------------------------------------------ Keras 3's apply
@pytest.mark.parametrize("make", [
    lambda: optimizers.Adam(optimizers.schedules.ExponentialDecay(0.1, 2, 0.5), clipnorm=0.3),
    lambda: optimizers.SGD(0.1, momentum=0.9, weight_decay=0.01, global_clipnorm=0.5),
])  # fmt: skip
def test_apply_moves_the_weights_as_step_does(make, rng):
    start = [rng.normal(size=(3, 2)).astype(np.float32), rng.normal(size=2).astype(np.float32)]
    grads = [[rng.normal(size=w.shape).astype(np.float32) for w in start] for _ in range(4)]
    by_step = [Tensor(w.copy(), requires_grad=True) for w in start]
    by_apply = [Tensor(w.copy(), requires_grad=True) for w in start]
    by_pairs = [Tensor(w.copy(), requires_grad=True) for w in start]
    stepper, applier, pairer = make(), make(), make()
    stepper.build(by_step)
    for g in grads:
        for p, gi in zip(by_step, g, strict=True):
            p.grad = gi
        stepper.step()
        applier.apply([Tensor(gi) for gi in g], by_apply)  # Tensors or arrays
        pairer.apply_gradients(zip(g, by_pairs, strict=True))
    for a, b, c in zip(by_step, by_apply, by_pairs, strict=True):
        np.testing.assert_array_equal(a.data, b.data)
        np.testing.assert_array_equal(a.data, c.data)
    assert applier.iterations == stepper.iterations == 4


def test_apply_to_some_variables_skips_none_and_names_mistakes(rng):
    a, b = Tensor(np.ones(2), requires_grad=True), Tensor(np.ones(3), requires_grad=True)
    opt = optimizers.SGD(0.5)
    opt.build([a, b])
    opt.apply([np.ones(3)], [b])
    opt.apply([None, np.ones(3)], [a, b])
    np.testing.assert_array_equal(a.data, [1.0, 1.0])
    np.testing.assert_array_equal(b.data, [0.0, 0.0, 0.0])
    with pytest.raises(ValueError, match="1 gradients for 2 variables"):
        opt.apply([np.ones(2)], [a, b])
    stranger = Tensor(np.ones(2), requires_grad=True)
    with pytest.raises(ValueError, match=r"variables\[0\] is not one of the 2 parameters"):
        opt.apply([np.ones(2)], [stranger])
    with pytest.raises(RuntimeError, match="no variables given and none attached"):
        optimizers.SGD().apply([np.ones(2)])
