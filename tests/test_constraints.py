"""Constraints (glassnet/constraints.py): Keras 3's projections against NumPy formulas, lookup by
name and config, and ``Optimizer.step`` applying them after each update, in ``fit`` and in a
hand-written loop."""

from __future__ import annotations

import numpy as np
import pytest

import glassnet as gn
from glassnet import constraints
from glassnet import layers as L

EPS = 1e-7  # Keras's backend.epsilon()


def _norms(w, axis):
    axis = tuple(axis) if isinstance(axis, list) else axis
    return np.sqrt((w.astype(np.float64) ** 2).sum(axis=axis, keepdims=True))


@pytest.fixture
def w():
    return (np.random.default_rng(0).standard_normal((3, 3, 2, 4)) * 2).astype(np.float32)


@pytest.mark.parametrize("axis", [0, 3, [0, 1, 2]])
def test_max_norm(w, axis):
    got = constraints.MaxNorm(1.5, axis=axis)(w)
    n = _norms(w, axis)
    assert got.shape == w.shape and got.dtype == np.float32
    np.testing.assert_allclose(got, w * (np.clip(n, 0, 1.5) / (EPS + n)), rtol=1e-6)
    assert _norms(got, axis).max() <= 1.5 + 1e-5
    small = w * 0.01  # inside the ball: left (all but) alone
    np.testing.assert_allclose(constraints.MaxNorm(1.5, axis=axis)(small), small, rtol=1e-5)


def test_non_neg(w):
    got = constraints.NonNeg()(w)
    np.testing.assert_array_equal(got, np.where(w >= 0, w, 0))
    assert got.dtype == np.float32


@pytest.mark.parametrize("axis", [0, -1, [0, 1, 2]])
def test_unit_norm(w, axis):
    got = constraints.UnitNorm(axis=axis)(w)
    np.testing.assert_allclose(got, w / (EPS + _norms(w, axis)), rtol=1e-6)
    np.testing.assert_allclose(_norms(got, axis), 1.0, rtol=1e-5)


@pytest.mark.parametrize("rate", [1.0, 0.5])
def test_min_max_norm(w, rate):
    got = constraints.MinMaxNorm(0.5, 2.0, rate=rate, axis=[0, 1, 2])(w)
    n = _norms(w, [0, 1, 2])
    desired = rate * np.clip(n, 0.5, 2.0) + (1 - rate) * n
    np.testing.assert_allclose(got, w * (desired / (EPS + n)), rtol=1e-6)


def test_keras_defaults_and_names():
    assert constraints.MaxNorm().get_config() == {"max_value": 2.0, "axis": 0}
    assert constraints.UnitNorm().get_config() == {"axis": 0}
    assert constraints.MinMaxNorm().get_config() == {
        "min_value": 0.0,
        "max_value": 1.0,
        "rate": 1.0,
        "axis": 0,
    }
    for name, cls in [
        ("max_norm", constraints.MaxNorm),
        ("non_neg", constraints.NonNeg),
        ("unit_norm", constraints.UnitNorm),
        ("min_max_norm", constraints.MinMaxNorm),
        ("MaxNorm", constraints.MaxNorm),
    ]:
        assert type(constraints.get(name)) is cls
    config = constraints.serialize(constraints.MaxNorm(3, axis=[0, 1, 2]))
    assert config == {"class_name": "MaxNorm", "config": {"max_value": 3.0, "axis": [0, 1, 2]}}
    assert constraints.get(config).axis == [0, 1, 2]
    assert constraints.get(None) is None and constraints.serialize(None) is None


def test_errors_name_the_culprit():
    with pytest.raises(ValueError, match=r"Unknown constraint: 'maxnorm'\. Known .*max_norm"):
        constraints.get("maxnorm")
    with pytest.raises(TypeError, match="MaxNorm: 'axis' must be an integer or a list"):
        constraints.MaxNorm(axis="rows")
    with pytest.raises(ValueError, match="MinMaxNorm: 'rate' must be in"):
        constraints.MinMaxNorm(rate=2)
    with pytest.raises(ValueError, match="MinMaxNorm: 'max_value' must be in"):
        constraints.MinMaxNorm(min_value=2.0, max_value=1.0)
    with pytest.raises(TypeError, match="expected a Constraint, a name"):
        constraints.get(abs)


def test_optimizer_step_projects_after_the_update():
    """A hand-written PyTorch-style loop: step() applies the weight's constraint after SGD."""
    w = gn.Tensor(np.array([[3.0, -1.0], [4.0, 2.0]], np.float32), requires_grad=True)
    w.constraint = constraints.MaxNorm(1.0)
    opt = gn.optimizers.SGD(0.1, params=[w])
    before = w.numpy().copy()
    (w * w).sum().backward()
    opt.step()
    stepped = before - 0.1 * 2 * before
    n = np.sqrt((stepped.astype(np.float64) ** 2).sum(axis=0, keepdims=True))
    np.testing.assert_allclose(w.numpy(), stepped * (np.clip(n, 0, 1) / (EPS + n)), rtol=1e-6)


@pytest.mark.parametrize("jit_compile", [True, False])
def test_constrained_weights_after_fit_satisfy_their_constraints(jit_compile):
    gn.set_seed(0)
    model = gn.Sequential(
        [
            L.Input((6, 6, 2)),
            L.Conv2D(4, 3, kernel_constraint=constraints.MaxNorm(0.5, axis=[0, 1, 2])),
            L.Flatten(),
            L.Dense(5, kernel_constraint="unit_norm", bias_constraint="non_neg"),
            L.BatchNormalization(gamma_constraint=constraints.MinMaxNorm(0.1, 0.2)),
            L.Dense(3),
        ]
    )
    model.compile(gn.optimizers.SGD(0.5), "sparse_categorical_crossentropy")
    model.jit_compile = jit_compile
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((32, 6, 6, 2)).astype(np.float32) * 3, rng.integers(0, 3, 32)
    model.fit(x, y, batch_size=8, epochs=2, verbose=0)
    conv, _, dense, norm, _ = model.layers
    assert _norms(conv.kernel.numpy(), [0, 1, 2]).max() <= 0.5 + 1e-5
    np.testing.assert_allclose(_norms(dense.kernel.numpy(), 0), 1.0, rtol=1e-5)
    assert dense.bias.numpy().min() >= 0
    assert 0.1 - 1e-5 <= _norms(norm.gamma.numpy(), 0).item() <= 0.2 + 1e-5
