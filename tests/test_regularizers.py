"""Regularizers (glassnet/regularizers.py): Keras 3's penalties, values against NumPy formulas,
gradients against float64 finite differences, lookup by name and config, and the errors."""

from __future__ import annotations

import numpy as np
import pytest

import glassnet as gn
from glassnet import regularizers
from glassnet.tensor import Tensor


@pytest.fixture
def w():
    return np.random.default_rng(0).standard_normal((5, 3)).astype(np.float32)


@pytest.mark.parametrize(
    "regularizer, formula",
    [
        (regularizers.L1(), lambda w: 0.01 * np.abs(w).sum()),
        (regularizers.L2(), lambda w: 0.01 * (w**2).sum()),  # no ½, as Keras
        (regularizers.L1(0.3), lambda w: 0.3 * np.abs(w).sum()),
        (regularizers.L2(0.7), lambda w: 0.7 * (w**2).sum()),
        (regularizers.L1L2(0.2, 0.5), lambda w: 0.2 * np.abs(w).sum() + 0.5 * (w**2).sum()),
        (regularizers.L1L2(l2=0.5), lambda w: 0.5 * (w**2).sum()),
        (regularizers.L1L2(), lambda w: 0.0),  # Keras's defaults: both factors 0
    ],
    ids=repr,
)
def test_penalty_is_the_numpy_formula(regularizer, formula, w):
    penalty = regularizer(Tensor(w))
    assert isinstance(penalty, Tensor) and penalty.shape == () and penalty.dtype == np.float32
    np.testing.assert_allclose(penalty.item(), formula(w.astype(np.float64)), rtol=1e-6)


def test_keras_documented_numbers():
    # Keras's docstring example: a ones((5, 5)) kernel under L1(0.01) costs 0.25, and the
    # outputs 2·ones((5, 5)) @ kernel = 10 everywhere under L2(0.01) cost 0.01·25·100 = 25
    # (Keras 3 no longer divides the activity penalty by the batch size).
    layer = gn.layers.Dense(
        5,
        kernel_initializer="ones",
        kernel_regularizer=regularizers.L1(0.01),
        activity_regularizer=regularizers.L2(0.01),
    )
    layer(np.full((5, 5), 2.0, np.float32))
    kernel_penalty, activity_penalty = sorted(p.item() for p in layer.losses)
    assert kernel_penalty == pytest.approx(0.25) and activity_penalty == pytest.approx(25.0)


@pytest.mark.parametrize(
    "regularizer", [regularizers.L1(0.3), regularizers.L1L2(0.2, 0.5)], ids=repr
)
def test_gradient_matches_finite_differences(regularizer):
    x = np.random.default_rng(1).standard_normal((4, 3))
    x[np.abs(x) < 0.05] = 0.5  # away from |x|'s kink at 0
    report = gn.gradcheck(lambda t: regularizer(t), x)
    assert report.passed, report


def test_get_accepts_names_configs_and_instances():
    assert isinstance(regularizers.get("l1"), regularizers.L1)
    assert regularizers.get("l2").l2 == 0.01
    assert isinstance(regularizers.get("l1_l2"), regularizers.L1L2)
    assert isinstance(regularizers.get("L2"), regularizers.L2)
    assert regularizers.l1_l2 is regularizers.L1L2 and regularizers.l2 is regularizers.L2
    same = regularizers.L2(0.3)
    assert regularizers.get(same) is same and regularizers.get(None) is None
    config = regularizers.serialize(regularizers.L1L2(0.1, 0.2))
    assert config == {"class_name": "L1L2", "config": {"l1": 0.1, "l2": 0.2}}
    rebuilt = regularizers.get(config)
    assert (rebuilt.l1, rebuilt.l2) == (0.1, 0.2)
    assert regularizers.serialize(None) is None


def test_unknown_name_is_named_with_the_valid_ones():
    with pytest.raises(ValueError, match=r"Unknown regularizer: 'l3'\. Known .*l1, l1_l2, l2"):
        regularizers.get("l3")
    with pytest.raises(ValueError, match="Unknown regularizer: 'os.system'"):
        regularizers.get({"class_name": "os.system", "config": {}})
    with pytest.raises(ValueError, match="L2 cannot be built from"):
        regularizers.get({"class_name": "L2", "config": {"l3": 1}})
    with pytest.raises(TypeError, match="expected a Regularizer, a name"):
        regularizers.get(lambda w: w)


def test_factors_must_be_non_negative_numbers():
    with pytest.raises(ValueError, match=r"L2: 'l2' must be in \[0.0, inf\). Received: l2=-1"):
        regularizers.L2(-1)
    with pytest.raises(TypeError, match="'l1' must be a finite number"):
        regularizers.L1("big")


def test_a_layer_names_itself_when_given_a_bad_regularizer():
    with pytest.raises(
        ValueError, match=r"Dense 'd': bad kernel_regularizer\. Unknown regularizer"
    ):
        gn.layers.Dense(2, kernel_regularizer="l3", name="d")
    with pytest.raises(TypeError, match=r"Conv2D .*bad bias_constraint"):
        gn.layers.Conv2D(2, 3, bias_constraint=3)


def test_user_regularizer_subclass_registers_and_round_trips():
    class Sum(regularizers.Regularizer):
        _config_keys = ("factor",)

        def __init__(self, factor: float = 1.0) -> None:
            self.factor = factor

        def __call__(self, x):
            return self.factor * gn.ops.sum(x)

    again = regularizers.get(regularizers.serialize(Sum(2.0)))
    assert isinstance(again, Sum) and again.factor == 2.0
    assert again(Tensor(np.ones(3, np.float32))).item() == 6.0


@pytest.mark.parametrize("mode", ["rows", "columns"])
def test_orthogonal_regularizer_is_the_mean_absolute_cosine_of_distinct_pairs(mode, w):
    vectors = w.astype(np.float64) if mode == "rows" else w.T.astype(np.float64)
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    cosines = unit @ unit.T
    n = len(unit)
    want = 0.3 * 0.5 * np.abs(cosines - np.diag(np.diag(cosines))).sum() / (n * (n - 1) / 2)
    got = regularizers.OrthogonalRegularizer(0.3, mode=mode)(Tensor(w))
    np.testing.assert_allclose(got.item(), want, rtol=1e-5)
    orthogonal = Tensor(np.eye(4, dtype=np.float32) * 3)
    assert regularizers.get("orthogonal_regularizer")(orthogonal).item() == 0.0
    report = gn.gradcheck(lambda t: regularizers.OrthogonalRegularizer(mode=mode)(t), w * 1.0)
    assert report.passed, report
    with pytest.raises(ValueError, match="OrthogonalRegularizer: the weight must be 2-D"):
        regularizers.OrthogonalRegularizer()(Tensor(np.ones(3, np.float32)))
    with pytest.raises(ValueError, match="'mode' must be 'rows' or 'columns'"):
        regularizers.OrthogonalRegularizer(mode="diagonal")


def test_activity_regularization_layer_passes_through_and_penalizes_its_input(tmp_path):
    inputs = gn.Input((4,))
    hidden = gn.layers.ActivityRegularization(l1=0.1, l2=0.5)(inputs)
    model = gn.Model(inputs, gn.layers.Dense(1)(hidden))
    x = np.arange(8.0, dtype=np.float32).reshape(2, 4)
    layer = model.layers[1]
    np.testing.assert_array_equal(layer(x).numpy(), x)
    model(x)
    (penalty,) = model.losses
    np.testing.assert_allclose(penalty.item(), 0.1 * np.abs(x).sum() + 0.5 * (x**2).sum())
    model.save(tmp_path / "m")
    clone = gn.load_model(tmp_path / "m").layers[1]
    assert (clone.l1, clone.l2) == (0.1, 0.5)
    with pytest.raises(ValueError, match="ActivityRegularization: 'l2'"):
        gn.layers.ActivityRegularization(l2=-1.0)
