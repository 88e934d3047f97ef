"""Initializers (glassnet/initializers.py): Keras 3 formulas, fans, truncation, seeds, lookup."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from glassnet import initializers
from glassnet.backend import manual_seed
from glassnet.initializers import compute_fans

TRUNCATED_STD = 0.87962566103423978  # std of a standard normal cut at ±2

# name -> (class, scale, mode, distribution) of Keras 3's VarianceScaling presets
PRESETS = {
    "glorot_uniform": (initializers.GlorotUniform, 1.0, "fan_avg", "uniform"),
    "glorot_normal": (initializers.GlorotNormal, 1.0, "fan_avg", "truncated_normal"),
    "he_normal": (initializers.HeNormal, 2.0, "fan_in", "truncated_normal"),
    "he_uniform": (initializers.HeUniform, 2.0, "fan_in", "uniform"),
    "lecun_normal": (initializers.LecunNormal, 1.0, "fan_in", "truncated_normal"),
    "lecun_uniform": (initializers.LecunUniform, 1.0, "fan_in", "uniform"),
}
ALL_NAMES = [
    *PRESETS,
    "zeros",
    "ones",
    "constant",
    "random_normal",
    "random_uniform",
    "truncated_normal",
    "variance_scaling",
]


@pytest.mark.parametrize("name", ALL_NAMES)
@pytest.mark.parametrize("shape", [(3,), (4, 5), (3, 3, 2, 8), ()])
def test_shape_and_dtype(name, shape):
    values = initializers.get(name)(shape)
    assert isinstance(values, np.ndarray)
    assert values.shape == shape and values.dtype == np.float32
    assert np.all(np.isfinite(values))


def test_float64_on_request():
    assert initializers.get("he_normal")((3, 3), dtype=np.float64).dtype == np.float64


def test_keras_fans():
    assert compute_fans((784, 10)) == (784, 10)
    assert compute_fans((3, 3, 16, 32)) == (3 * 3 * 16, 3 * 3 * 32)  # conv kernel (kh, kw, in, out)
    assert compute_fans((5, 2, 1, 4)) == (10, 40)
    assert compute_fans((7,)) == (7, 7)
    assert compute_fans(()) == (1, 1)


def _expected_std(scale, mode, shape):
    fan_in, fan_out = compute_fans(shape)
    n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[mode]
    return math.sqrt(scale / n)


@pytest.mark.parametrize("name", list(PRESETS))
@pytest.mark.parametrize("shape", [(400, 300), (3, 3, 64, 128)])
def test_variance_scaling_presets_match_the_keras_formula(name, shape):
    cls, scale, mode, distribution = PRESETS[name]
    values = cls(seed=0)(shape).astype(np.float64)
    std = _expected_std(scale, mode, shape)
    assert abs(values.mean()) < 0.02 * std
    assert values.std() == pytest.approx(std, rel=0.02)  # within 2 % on ≥ 74k samples
    if distribution == "uniform":
        limit = math.sqrt(3) * std  # U[-limit, limit] has std limit/√3
        assert np.abs(values).max() <= limit
        assert np.abs(values).max() > 0.99 * limit
    else:
        bound = 2 * std / TRUNCATED_STD  # truncated at two standard deviations of the normal
        assert np.abs(values).max() <= bound * (1 + 1e-6)
        assert np.abs(values).max() > 0.98 * bound


def test_glorot_uniform_limit_for_dense_and_conv():
    values = initializers.GlorotUniform(seed=1)((784, 10))
    assert np.abs(values).max() <= math.sqrt(6 / (784 + 10))
    conv = initializers.GlorotUniform(seed=1)((3, 3, 3, 64))
    assert np.abs(conv).max() <= math.sqrt(6 / (27 + 576))


def test_he_normal_conv_kernel_uses_kh_kw_in_as_fan_in():
    values = initializers.HeNormal(seed=2)((3, 3, 128, 64))
    assert values.std() == pytest.approx(math.sqrt(2 / (3 * 3 * 128)), rel=0.02)


def test_variance_scaling_options():
    shape = (500, 200)
    plain = initializers.VarianceScaling(2.0, "fan_out", "untruncated_normal", seed=0)(shape)
    assert plain.std() == pytest.approx(math.sqrt(2 / 200), rel=0.02)
    assert np.abs(plain).max() > 3 * math.sqrt(2 / 200)  # really not truncated
    normal = initializers.VarianceScaling(distribution="normal", seed=0)
    assert normal.distribution == "truncated_normal"  # Keras's alias


def test_random_and_constant_initializers():
    shape = (300, 300)
    normal = initializers.RandomNormal(mean=1.0, stddev=0.5, seed=0)(shape)
    assert normal.mean() == pytest.approx(1.0, abs=0.01) and normal.std() == pytest.approx(
        0.5, rel=0.02
    )
    uniform = initializers.RandomUniform(-0.2, 0.6, seed=0)(shape)
    assert uniform.min() >= -0.2 and uniform.max() < 0.6
    assert uniform.mean() == pytest.approx(0.2, abs=0.01)
    truncated = initializers.TruncatedNormal(0.0, 0.1, seed=0)(shape)
    assert np.abs(truncated).max() <= 0.2 * (1 + 1e-6)
    assert truncated.std() == pytest.approx(0.1 * TRUNCATED_STD, rel=0.02)
    assert initializers.RandomNormal().stddev == 0.05  # Keras defaults
    assert (initializers.RandomUniform().minval, initializers.RandomUniform().maxval) == (
        -0.05,
        0.05,
    )
    np.testing.assert_array_equal(initializers.Zeros()((2, 3)), np.zeros((2, 3)))
    np.testing.assert_array_equal(initializers.Ones()((2,)), np.ones(2))
    np.testing.assert_array_equal(
        initializers.Constant(0.7)((2, 2)), np.full((2, 2), 0.7, np.float32)
    )


def test_seeded_initializers_repeat_and_differ_by_seed():
    a = initializers.HeNormal(seed=5)((4, 6))
    b = initializers.HeNormal(seed=5)((4, 6))
    np.testing.assert_array_equal(a, b)
    init = initializers.GlorotUniform(seed=5)
    np.testing.assert_array_equal(init((4, 6)), init((4, 6)))  # Keras 3: same values every call
    assert not np.array_equal(a, initializers.HeNormal(seed=6)((4, 6)))


def test_unseeded_initializers_follow_manual_seed():
    manual_seed(123)
    first = [initializers.get(name)((3, 4)) for name in ("glorot_uniform", "he_normal")]
    manual_seed(123)
    second = [initializers.get(name)((3, 4)) for name in ("glorot_uniform", "he_normal")]
    for a, b in zip(first, second, strict=True):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(first[0], initializers.get("glorot_uniform")((3, 4)))


def test_get_accepts_names_classes_instances_dicts_and_callables():
    assert isinstance(initializers.get("he_normal"), initializers.HeNormal)
    assert isinstance(initializers.get("HeNormal"), initializers.HeNormal)
    init = initializers.Constant(2.0)
    assert initializers.get(init) is init
    assert initializers.get(None) is None

    def fn(shape, dtype):
        return np.zeros(shape, dtype)

    assert initializers.get(fn) is fn
    rebuilt = initializers.get({"class_name": "RandomNormal", "config": {"stddev": 0.3}})
    assert isinstance(rebuilt, initializers.RandomNormal) and rebuilt.stddev == 0.3


def test_unknown_names_list_the_known_ones():
    with pytest.raises(
        ValueError,
        match=r"Unknown initializer: 'xavier'. Known initializers: .*glorot_uniform.*he_normal",
    ):
        initializers.get("xavier")
    with pytest.raises(TypeError, match="initializers.get: expected an Initializer"):
        initializers.get(3)
    with pytest.raises(ValueError, match="expected a name or a"):
        initializers.deserialize({"config": {}})


@pytest.mark.parametrize(
    "init",
    [
        initializers.GlorotUniform(),
        initializers.HeNormal(seed=3),
        initializers.RandomNormal(0.0, 0.2),
        initializers.RandomUniform(-1.0, 1.0, seed=1),
        initializers.TruncatedNormal(0.5, 0.1, seed=2),
        initializers.Constant(3.0),
        initializers.Zeros(),
        initializers.VarianceScaling(0.5, "fan_avg", "uniform"),
    ],
)
def test_serialize_round_trip(init):
    text = json.dumps(initializers.serialize(init))
    clone = initializers.deserialize(json.loads(text))
    assert type(clone) is type(init) and clone.get_config() == init.get_config()
    assert type(init).__name__ in repr(init)


def test_serialize_uses_the_short_name_for_defaults_only():
    assert initializers.serialize(initializers.GlorotUniform()) == "glorot_uniform"
    assert initializers.serialize(initializers.Zeros()) == "zeros"
    assert initializers.serialize(initializers.HeNormal(seed=1)) == {
        "class_name": "HeNormal",
        "config": {"seed": 1},
    }
    with pytest.raises(ValueError, match="only Initializer objects can be saved"):
        initializers.serialize(lambda shape, dtype: np.zeros(shape))


def test_user_subclass_registers_and_keeps_its_class():
    class Halves(initializers.GlorotUniform):  # inherits the name "glorot_uniform"
        def __call__(self, shape, dtype=np.float32):
            return np.full(shape, 0.5, dtype)

    payload = initializers.serialize(Halves())
    assert payload == {"class_name": "Halves", "config": {"seed": None}}
    assert type(initializers.deserialize(payload)) is Halves
    assert type(initializers.get("glorot_uniform")) is initializers.GlorotUniform


@pytest.mark.parametrize(
    ("make", "error", "match"),
    [
        (
            lambda: initializers.GlorotUniform(seed=1.5),
            TypeError,
            "GlorotUniform: 'seed' must be a non-negative integer",
        ),
        (
            lambda: initializers.RandomNormal(stddev=0),
            ValueError,
            "RandomNormal: 'stddev' must be positive",
        ),
        (lambda: initializers.RandomNormal(mean="0"), TypeError, "'mean' must be a finite number"),
        (
            lambda: initializers.RandomUniform(1.0, 1.0),
            ValueError,
            "'minval' must be less than 'maxval'",
        ),
        (
            lambda: initializers.VarianceScaling(mode="fan"),
            ValueError,
            "'mode' must be one of fan_in",
        ),
        (
            lambda: initializers.VarianceScaling(distribution="cauchy"),
            ValueError,
            "'distribution' must be one of",
        ),
        (lambda: initializers.VarianceScaling(scale=-1.0), ValueError, "'scale' must be positive"),
        (lambda: initializers.Constant("1"), TypeError, "Constant: 'value' must be a number"),
        (
            lambda: initializers.Zeros()((2, -1)),
            ValueError,
            r"Zeros: shape must be a tuple of non-negative",
        ),
        (
            lambda: initializers.HeNormal()((2, 2), dtype=np.int32),
            TypeError,
            "need a floating dtype",
        ),
    ],
)
def test_errors(make, error, match):
    with pytest.raises(error, match=match):
        make()


def test_shape_forms():
    assert initializers.Zeros()(3).shape == (3,)
    assert initializers.Ones()([2, np.int64(2)]).shape == (2, 2)
    with pytest.raises(ValueError, match="shape must be a tuple of non-negative integers"):
        initializers.Zeros()(None)


def test_base_class_and_subclasses_with_required_arguments():
    with pytest.raises(NotImplementedError):
        initializers.Initializer()((2,))

    class Filled(initializers.Initializer):
        def __init__(self, value):
            self.value = value

        def __call__(self, shape, dtype=np.float32):
            return np.full(shape, self.value, dtype)

        def get_config(self):
            return {"value": self.value}

    payload = initializers.serialize(Filled(4.0))
    assert payload == {"class_name": "Filled", "config": {"value": 4.0}}
    assert initializers.deserialize(payload)((2,)).tolist() == [4.0, 4.0]
