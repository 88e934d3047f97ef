"""Whatever changes in a model between batches shows in the very next predict, evaluate and
fit step: what ``predict`` and ``fit`` keep from earlier batches of a shape (the steps that
skip the graph) never outlives a change to the model.

Every config attribute of every layer class is set to another valid value on a warmed-up
model, and the next two batches are compared with the graph's numbers: ``model(x)`` for
predict and evaluate, and ``fit`` with ``jit_compile=False`` (the graph on every batch) for
training. So are ``trainable``, ``set_weights``, ``pop``/``add`` and a new optimizer. Each row
runs on a Sequential and on a subclassed model holding the same layer.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import glassnet as gn
from glassnet import layers as L
from glassnet.layers.layer import regularization_loss

# A penalty and a projection for each weight, and one on the outputs (Keras's arguments).
PENALTIES = {
    "kernel_regularizer": "l2",
    "bias_regularizer": "l1",
    "activity_regularizer": "l2",
    "kernel_constraint": "non_neg",
    "bias_constraint": "max_norm",
}
RECURRENT_PENALTIES = PENALTIES | {
    "recurrent_regularizer": "l1",
    "recurrent_constraint": "unit_norm",
}

# LayerNormalization's and GroupNormalization's scale and shift (BatchNormalization's, less
# the moving statistics).
NORM_WEIGHTS = {
    "beta_initializer": "ones",
    "gamma_initializer": "zeros",
    "beta_regularizer": "l2",
    "gamma_regularizer": "l1",
    "activity_regularizer": "l1",
    "beta_constraint": "non_neg",
    "gamma_constraint": "unit_norm",
}


@L.register_lambda("changes_square")
def _square(x):
    return x * x


@L.register_lambda("changes_halve")
def _halve(x):
    return x * 0.5


# Layer class -> (sample shape, constructor arguments, {config key: another valid value}).
# Every config key of every class must have a row here or a reason in STRUCTURAL, so a new
# argument cannot slip past this test.
CASES: dict[str, tuple[tuple[int, ...], dict[str, Any], dict[str, Any]]] = {
    "Dense": (
        (6,),
        {"units": 4, "activation": "relu"},
        {
            "activation": "tanh",
            "kernel_initializer": "zeros",
            "bias_initializer": "ones",
            **PENALTIES,
        },
    ),
    "Activation": ((6,), {"activation": "relu"}, {"activation": "tanh"}),
    "Masking": ((3, 2), {"mask_value": 0.0}, {"mask_value": 0.5}),
    "Conv2D": (
        (7, 7, 2),
        {"filters": 3, "kernel_size": 3, "activation": "relu"},
        {
            "strides": 2,
            "padding": "same",
            "dilation_rate": 2,
            "activation": "tanh",
            "kernel_initializer": "zeros",
            "bias_initializer": "ones",
            **PENALTIES,
        },
    ),
    "Conv3D": (
        (5, 5, 4, 2),
        {"filters": 3, "kernel_size": 2, "activation": "relu"},
        {
            "strides": 2,
            "padding": "same",
            "dilation_rate": 2,
            "activation": "tanh",
            "kernel_initializer": "zeros",
            "bias_initializer": "ones",
            **PENALTIES,
        },
    ),
    "Conv1D": (
        (8, 2),
        {"filters": 3, "kernel_size": 3, "activation": "relu"},
        {
            "strides": 2,
            "padding": "causal",
            "dilation_rate": 2,
            "activation": "tanh",
            "kernel_initializer": "zeros",
            "bias_initializer": "ones",
            **PENALTIES,
        },
    ),
    "Conv2DTranspose": (
        (4, 4, 2),
        {"filters": 3, "kernel_size": 3, "activation": "relu"},
        {
            "strides": 2,
            "padding": "same",
            "output_padding": 0,
            "dilation_rate": 2,
            "activation": "tanh",
            "kernel_initializer": "zeros",
            "bias_initializer": "ones",
            **PENALTIES,
        },
    ),
    "DepthwiseConv2D": (
        (6, 6, 2),
        {"kernel_size": 3, "activation": "relu"},
        {
            "strides": 2,
            "padding": "same",
            "dilation_rate": 2,
            "activation": "tanh",
            "depthwise_initializer": "zeros",
            "bias_initializer": "ones",
            "depthwise_regularizer": "l2",
            "bias_regularizer": "l1",
            "activity_regularizer": "l2",
            "depthwise_constraint": "non_neg",
            "bias_constraint": "max_norm",
        },
    ),
    "SeparableConv2D": (
        (6, 6, 2),
        {"filters": 3, "kernel_size": 3, "activation": "relu"},
        {
            "strides": 2,
            "padding": "same",
            "dilation_rate": 2,
            "activation": "tanh",
            "depthwise_initializer": "zeros",
            "pointwise_initializer": "zeros",
            "bias_initializer": "ones",
            "depthwise_regularizer": "l2",
            "pointwise_regularizer": "l1",
            "bias_regularizer": "l1",
            "activity_regularizer": "l2",
            "depthwise_constraint": "non_neg",
            "pointwise_constraint": "unit_norm",
            "bias_constraint": "max_norm",
        },
    ),
    "Conv1DTranspose": (
        (6, 2),
        {"filters": 3, "kernel_size": 3, "activation": "relu"},
        {
            "strides": 2,
            "padding": "same",
            "output_padding": 0,
            "dilation_rate": 2,
            "activation": "tanh",
            "kernel_initializer": "zeros",
            "bias_initializer": "ones",
            **PENALTIES,
        },
    ),
    "DepthwiseConv1D": (
        (8, 2),
        {"kernel_size": 3, "activation": "relu"},
        {
            "strides": 2,
            "padding": "same",
            "dilation_rate": 2,
            "activation": "tanh",
            "depthwise_initializer": "zeros",
            "bias_initializer": "ones",
            "depthwise_regularizer": "l2",
            "bias_regularizer": "l1",
            "activity_regularizer": "l2",
            "depthwise_constraint": "non_neg",
            "bias_constraint": "max_norm",
        },
    ),
    "SeparableConv1D": (
        (8, 2),
        {"filters": 3, "kernel_size": 3, "depth_multiplier": 2, "activation": "relu"},
        {
            "strides": 2,
            "padding": "same",
            "dilation_rate": 2,
            "activation": "tanh",
            "depthwise_initializer": "zeros",
            "pointwise_initializer": "zeros",
            "bias_initializer": "ones",
            "depthwise_regularizer": "l2",
            "pointwise_regularizer": "l1",
            "bias_regularizer": "l1",
            "activity_regularizer": "l2",
            "depthwise_constraint": "non_neg",
            "pointwise_constraint": "unit_norm",
            "bias_constraint": "max_norm",
        },
    ),
    "MaxPooling2D": ((8, 8, 2), {}, {"pool_size": 3, "strides": 1, "padding": "same"}),
    "AveragePooling2D": ((8, 8, 2), {}, {"pool_size": 3, "strides": 1, "padding": "same"}),
    "GlobalAveragePooling2D": ((4, 4, 2), {}, {"keepdims": True}),
    "GlobalMaxPooling2D": ((4, 4, 2), {}, {"keepdims": True}),
    "MaxPooling3D": ((4, 4, 4, 2), {}, {"pool_size": 3, "strides": 1, "padding": "same"}),
    "AveragePooling3D": ((4, 4, 4, 2), {}, {"pool_size": 3, "strides": 1, "padding": "same"}),
    "GlobalAveragePooling3D": ((3, 3, 2, 2), {}, {"keepdims": True}),
    "GlobalMaxPooling3D": ((3, 3, 2, 2), {}, {"keepdims": True}),
    "ZeroPadding3D": ((2, 3, 2, 2), {}, {"padding": ((0, 1), (2, 0), (1, 1))}),
    "Cropping3D": ((4, 5, 4, 2), {}, {"cropping": ((0, 1), (2, 0), (1, 0))}),
    "UpSampling3D": ((2, 2, 3, 2), {}, {"size": (1, 2, 3)}),
    "MaxPooling1D": ((8, 2), {}, {"pool_size": 3, "strides": 1, "padding": "same"}),
    "AveragePooling1D": ((8, 2), {}, {"pool_size": 3, "strides": 1, "padding": "same"}),
    "GlobalAveragePooling1D": ((4, 2), {}, {"keepdims": True}),
    "GlobalMaxPooling1D": ((4, 2), {}, {"keepdims": True}),
    "BatchNormalization": (
        (6,),
        {},
        {
            "momentum": 0.5,
            "epsilon": 0.25,
            "beta_initializer": "ones",
            "gamma_initializer": "zeros",
            "moving_mean_initializer": "ones",
            "moving_variance_initializer": "zeros",
            "beta_regularizer": "l2",
            "gamma_regularizer": "l1",
            "activity_regularizer": "l1",
            "beta_constraint": "non_neg",
            "gamma_constraint": "unit_norm",
        },
    ),
    "Dropout": (
        (6,),
        {"rate": 0.25, "seed": 1},
        {"rate": 0.5, "seed": 2, "noise_shape": (None, 1)},
    ),
    "LayerNormalization": ((3, 4), {"axis": [1, 2]}, {"epsilon": 0.25, **NORM_WEIGHTS}),
    "GroupNormalization": (
        (3, 3, 4),
        {"groups": 2},
        {"groups": 4, "epsilon": 0.25, **NORM_WEIGHTS},
    ),
    "UnitNormalization": ((3, 4), {}, {"axis": 1}),
    "SpatialDropout2D": ((4, 4, 3), {"rate": 0.25, "seed": 1}, {"rate": 0.5, "seed": 2}),
    "GaussianNoise": ((6,), {"stddev": 0.1, "seed": 1}, {"stddev": 0.3, "seed": 2}),
    "GaussianDropout": ((6,), {"rate": 0.25, "seed": 1}, {"rate": 0.5, "seed": 2}),
    "Flatten": ((3, 2), {}, {}),
    "LeakyReLU": ((6,), {"negative_slope": 0.3}, {"negative_slope": 0.05}),
    "ELU": ((6,), {}, {"alpha": 0.5}),
    "PReLU": (
        (3, 2),
        {"alpha_initializer": "ones", "shared_axes": [1]},
        {
            "alpha_initializer": "zeros",
            "alpha_regularizer": "l2",
            "alpha_constraint": "non_neg",
        },
    ),
    "ReLU": ((6,), {}, {"max_value": 0.5, "negative_slope": 0.1, "threshold": 0.2}),
    "Rescaling": ((6,), {"scale": 0.5}, {"scale": 2.0, "offset": 1.0}),
    "Normalization": ((6,), {"mean": 0.5, "variance": 2.0}, {"invert": True}),
    "Resizing": (
        (4, 4, 2),
        {"height": 3, "width": 5},
        {"height": 2, "width": 6, "interpolation": "nearest", "crop_to_aspect_ratio": True},
    ),
    "CenterCrop": ((4, 4, 2), {"height": 2, "width": 3}, {"height": 3, "width": 2}),
    "Lambda": (
        (6,),
        {"function": "changes_square"},
        {"function": "changes_halve", "output_shape": (6,)},
    ),
    "Reshape": ((6,), {"target_shape": (6,)}, {"target_shape": (3, 2)}),
    "Permute": ((3, 4), {"dims": (2, 1)}, {"dims": (1, 2)}),
    "RepeatVector": ((4,), {"n": 2}, {"n": 3}),
    "ZeroPadding2D": ((4, 4, 2), {}, {"padding": ((2, 0), (0, 2))}),
    "Cropping2D": ((4, 4, 2), {"cropping": ((1, 0), (0, 1))}, {"cropping": ((0, 1), (1, 0))}),
    "UpSampling2D": ((4, 4, 2), {}, {"size": (1, 4), "interpolation": "bilinear"}),
    "ZeroPadding1D": ((4, 2), {}, {"padding": (2, 0)}),
    "Cropping1D": ((6, 2), {}, {"cropping": (2, 0)}),
    "UpSampling1D": ((3, 2), {}, {"size": 3}),
    "Softmax": ((3, 4), {}, {"axis": 1}),
    "SimpleRNN": (
        (5, 3),
        {"units": 4},
        {
            "activation": "relu",
            "return_sequences": True,
            "go_backwards": True,
            "kernel_initializer": "ones",
            "recurrent_initializer": "zeros",
            "bias_initializer": "ones",
            **RECURRENT_PENALTIES,
        },
    ),
    "GRU": (
        (5, 3),
        {"units": 4},
        {
            "activation": "relu",
            "recurrent_activation": "tanh",
            "return_sequences": True,
            "go_backwards": True,
            "kernel_initializer": "ones",
            "recurrent_initializer": "zeros",
            "bias_initializer": "ones",
            **RECURRENT_PENALTIES,
        },
    ),
    "LSTM": (
        (5, 3),
        {"units": 4},
        {
            "activation": "relu",
            "recurrent_activation": "tanh",
            "return_sequences": True,
            "go_backwards": True,
            "unit_forget_bias": False,
            "kernel_initializer": "ones",
            "recurrent_initializer": "zeros",
            "bias_initializer": "ones",
            **RECURRENT_PENALTIES,
        },
    ),
    "RandomFlip": ((6, 6, 2), {"seed": 1}, {"mode": "vertical", "seed": 2}),
    "RandomTranslation": (
        (6, 6, 2),
        {"height_factor": 0.1, "width_factor": 0.1, "seed": 1},
        {
            "height_factor": 0.3,
            "width_factor": 0.2,
            "fill_mode": "constant",
            "interpolation": "nearest",
            "seed": 2,
            "fill_value": 1.0,
        },
    ),
    "RandomRotation": (
        (6, 6, 2),
        {"factor": 0.1, "seed": 1},
        {
            "factor": 0.3,
            "fill_mode": "constant",
            "interpolation": "nearest",
            "seed": 2,
            "fill_value": 1.0,
        },
    ),
    "RandomZoom": (
        (6, 6, 2),
        {"height_factor": 0.1, "seed": 1},
        {
            "height_factor": 0.3,
            "width_factor": 0.2,
            "fill_mode": "constant",
            "interpolation": "nearest",
            "seed": 2,
            "fill_value": 1.0,
        },
    ),
    "RandomCrop": ((6, 6, 2), {"height": 4, "width": 4, "seed": 1}, {"seed": 2}),
    "RandomResizedCrop": (
        (6, 6, 2),
        {"seed": 1},
        {"scale": (0.5, 0.9), "ratio": (0.8, 1.25), "seed": 2},
    ),
    "RandomBrightness": (
        (6, 6, 3),
        {"factor": 0.1, "seed": 1},
        {"factor": 0.3, "value_range": (0, 1), "seed": 2},
    ),
    "RandomContrast": (
        (6, 6, 3),
        {"factor": 0.1, "seed": 1},
        {"factor": 0.3, "value_range": (0, 1), "seed": 2},
    ),
    "Bidirectional": (
        (5, 3),
        {"layer": L.LSTM(4)},
        {"merge_mode": "sum"},
    ),
}

# Config keys whose change would need new weights or a new model around the layer: the
# layer's weights are made for them at build (units, filters, kernel size, ...), the output
# arity changes (return_state), or the key names the input itself. A user changes these by
# building a new layer, so they have no row.
STRUCTURAL = {
    "Dense": {"units", "use_bias"},
    "Conv2D": {"filters", "kernel_size", "use_bias"},
    "Conv1D": {"filters", "kernel_size", "use_bias"},
    "Conv3D": {"filters", "kernel_size", "use_bias"},
    "Conv2DTranspose": {"filters", "kernel_size", "use_bias"},
    "DepthwiseConv2D": {"kernel_size", "depth_multiplier", "use_bias"},
    "SeparableConv2D": {"filters", "kernel_size", "depth_multiplier", "use_bias"},
    "Conv1DTranspose": {"filters", "kernel_size", "use_bias"},
    "DepthwiseConv1D": {"kernel_size", "depth_multiplier", "use_bias"},
    "SeparableConv1D": {"filters", "kernel_size", "depth_multiplier", "use_bias"},
    "BatchNormalization": {"axis", "center", "scale"},
    "LayerNormalization": {"axis", "center", "scale", "rms_scaling"},  # rms: no beta
    "GroupNormalization": {"axis", "center", "scale"},
    "SpatialDropout2D": {"data_format"},
    # axis shapes the adapted weights; given mean and variance replace them (no weights)
    "Normalization": {
        "axis",
        "mean",
        "variance",
    },  # names the input's layout; one value in glassnet
    "SimpleRNN": {"units", "use_bias", "return_state"},
    "GRU": {"units", "use_bias", "return_state", "reset_after"},
    "LSTM": {"units", "use_bias", "return_state"},
    "RandomCrop": {"height", "width"},
    "Bidirectional": {"layer"},
    "PReLU": {"shared_axes"},
}
# Classes left out of the generic model, and why.
LEFT_OUT = {
    "InputLayer": "its config is the model's input shape: a new input is a new model",
    "Embedding": "takes integer ids (tests/layers/test_embedding.py); its keys are structural",
    "StringLookup": "takes strings, gives ids: tests/layers/test_lookup.py",
    "IntegerLookup": "takes integer codes, gives ids: tests/layers/test_lookup.py",
    "TextVectorization": "takes texts, gives ids: tests/layers/test_lookup.py",
    "CategoryEncoding": "takes integer ids: tests/layers/test_lookup.py",
    "Discretization": "gives integer bin ids, not features: tests/layers/test_lookup.py",
    "TimeDistributed": "its only key is the layer it wraps (a new layer is a new model)",
    "Add": "takes several inputs: no config beyond its name",
    "Subtract": "takes several inputs: no config beyond its name",
    "Multiply": "takes several inputs: no config beyond its name",
    "Average": "takes several inputs: no config beyond its name",
    "Maximum": "takes several inputs: no config beyond its name",
    "Minimum": "takes several inputs: no config beyond its name",
    "Functional": "a model: its config is its graph, rebuilt as a new model",
    "ActivityRegularization": "a penalty on activations keeps the graph on every training step",
    "Concatenate": "takes several inputs; covered by the subclassed row below",
    "Dot": "takes two inputs; a change of axes or normalize is covered in tests/layers/test_dot.py",
    "MultiHeadAttention": "takes two inputs; changes are covered in tests/layers/test_attention.py",
    "Attention": "takes two inputs; changes are covered in tests/layers/test_attention.py",
    "AdditiveAttention": "takes two inputs; changes are covered in tests/layers/test_attention.py",
    "Layer": "the base class",
}
# Layers whose training pass draws random numbers: two runs of fit differ by their draws, so
# only predict and evaluate are compared.
RANDOM_IN_TRAINING = {"Dropout", "SpatialDropout2D", "GaussianNoise", "GaussianDropout"} | {
    name for name in CASES if name.startswith("Random")
}


def _rows() -> list[tuple[str, str]]:
    rows = [(cls, key) for cls, (_, _, alts) in CASES.items() for key in alts]
    rows += [(cls, "trainable") for cls in ("Dense", "Conv2D", "BatchNormalization", "LSTM")]
    return rows


def _layer_classes() -> list[str]:
    return sorted(
        name
        for name in L.__all__
        if isinstance(getattr(L, name), type)
        and issubclass(getattr(L, name), L.Layer)
        and getattr(L, name).__name__ == name  # aliases (MaxPool2D, ...) are the same class
    )


def test_every_layer_class_and_config_key_has_a_row():
    for name in _layer_classes():
        if name in LEFT_OUT:
            continue
        assert name in CASES, f"{name}: add a row to CASES (or a reason to LEFT_OUT)"
        _, kwargs, alts = CASES[name]
        layer = getattr(L, name)(**kwargs)
        keys = set(layer.get_config()) - {"name", "trainable"}
        missing = keys - set(alts) - STRUCTURAL.get(name, set())
        assert not missing, f"{name}: config keys {sorted(missing)} have no row"


class _Wrapped(gn.Model):
    """A subclassed model around one layer: the layer, Flatten, a Dense head of 3 classes."""

    def __init__(self, layer: L.Layer) -> None:
        super().__init__()
        self.inner = layer
        self.flat = L.Flatten()
        self.head = L.Dense(3)

    def call(self, x, training=False):
        return self.head(self.flat(self.inner(x, training=training)))


def _model(kind: str, cls: str, kwargs: dict[str, Any]):
    shape = CASES[cls][0]
    layer = getattr(L, cls)(**kwargs)
    if kind == "sequential":
        model = gn.Sequential([L.Input(shape), layer, L.Flatten(), L.Dense(3)])
    else:
        model = _Wrapped(layer)
        model.build((None, *shape))
    model.compile(gn.optimizers.SGD(0.05), "sparse_categorical_crossentropy")
    return model, layer


def _data(shape: tuple[int, ...], seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.random((8, *shape), dtype=np.float32), rng.integers(0, 3, 8)


def _warm_up(model, x, y) -> None:
    """Two rounds of each path, so whatever they keep for this shape is built."""
    for _ in range(2):
        model.predict(x)
        model.evaluate(x, y)
        model.train_on_batch(x, y)


def _graph_outputs(model, x) -> np.ndarray:
    with gn.no_grad():
        return model(gn.Tensor(x), training=False).numpy()


def _check_against_the_graph(model, x, y, *, fit: bool) -> None:
    """predict and evaluate, twice each, give the graph's numbers; so do three fit steps
    (recorded, checked, replayed), against three with the graph on every batch from the same
    weights."""
    want = _graph_outputs(model, x)
    want_loss = model.loss(y, gn.Tensor(want))
    penalty = regularization_loss(model, activity=False)  # evaluate adds the weights'
    want_loss = float((want_loss if penalty is None else want_loss + penalty).item())
    for _ in range(2):
        np.testing.assert_array_equal(model.predict(x), want)
        assert model.evaluate(x, y) == want_loss
    if not fit:
        return
    start = model.get_weights()
    for _ in range(3):
        model.train_on_batch(x, y)
    got = model.get_weights()
    model.set_weights(start)
    model.jit_compile = False
    try:
        for _ in range(3):
            model.train_on_batch(x, y)
    finally:
        model.jit_compile = True
    for g, w in zip(got, model.get_weights(), strict=True):
        np.testing.assert_array_equal(g, w)


def _changed_value(cls: str, kwargs: dict[str, Any], key: str, value: Any) -> Any:
    """The attribute ``key`` as a layer made with ``key=value`` holds it (normalised by the
    constructor: a pair for strides, an activation function for a name)."""
    other = getattr(L, cls)(**{**kwargs, key: value})
    return getattr(other, key)


@pytest.mark.parametrize("kind", ["sequential", "subclassed"])
@pytest.mark.parametrize(("cls", "key"), _rows())
def test_a_change_between_batches_shows_in_the_next_step(kind, cls, key):
    shape, kwargs, alts = CASES[cls]
    gn.set_seed(0)
    model, layer = _model(kind, cls, kwargs)
    x, y = _data(shape)
    _warm_up(model, x, y)
    if key == "trainable":
        layer.trainable = False
    else:
        setattr(layer, key, _changed_value(cls, kwargs, key, alts[key]))
    try:
        want = _graph_outputs(model, x)
    except (ValueError, TypeError) as err:  # the new value does not fit this model's shapes
        with pytest.raises(type(err)):
            model.predict(x)
        return
    assert want.shape[0] == len(x)
    _check_against_the_graph(model, x, y, fit=cls not in RANDOM_IN_TRAINING)


def test_the_stale_activation_of_the_issue():
    """The issue's reproduction: a Dense switched from ReLU to tanh after two predicts."""
    gn.set_seed(0)
    d = L.Dense(3, activation="relu")
    model = gn.Sequential([L.Input((4,)), d])
    model.compile("sgd", "mse")
    x = np.random.default_rng(0).standard_normal((5, 4)).astype(np.float32)
    model.predict(x)
    model.predict(x)
    d.activation = gn.activations.get("tanh")
    got = model.predict(x)
    assert got.min() < 0  # tanh, not ReLU's zeros
    np.testing.assert_array_equal(got, _graph_outputs(model, x))


@pytest.mark.parametrize("kind", ["sequential", "subclassed"])
@pytest.mark.parametrize("change", ["set_weights", "new_optimizer", "head_swapped"])
def test_model_level_changes_show_in_the_next_step(kind, change):
    gn.set_seed(0)
    model, _ = _model(kind, "Dense", {"units": 4, "activation": "relu"})
    x, y = _data((6,))
    _warm_up(model, x, y)
    if change == "set_weights":
        rng = np.random.default_rng(5)
        model.set_weights(
            [rng.standard_normal(w.shape).astype(w.dtype) for w in model.get_weights()]
        )
    elif change == "new_optimizer":
        model.compile(gn.optimizers.SGD(0.5), "sparse_categorical_crossentropy")
    elif kind == "sequential":
        model.pop()
        model.add(L.Dense(3, activation="tanh"))
    else:
        model.head = L.Dense(3, activation="tanh")
    _check_against_the_graph(model, x, y, fit=True)


def test_a_concatenate_axis_change_in_a_subclassed_model():
    class TwoWays(gn.Model):
        def __init__(self) -> None:
            super().__init__()
            self.a, self.b = L.Dense(4, activation="relu"), L.Dense(4)
            self.join = L.Concatenate(axis=-1)
            self.flat, self.head = L.Flatten(), L.Dense(3)

        def call(self, x, training=False):
            return self.head(self.flat(self.join([self.a(x), self.b(x)])))

    gn.set_seed(0)
    model = TwoWays()
    model.build((None, 2, 6))
    model.compile(gn.optimizers.SGD(0.05), "sparse_categorical_crossentropy")
    x, y = _data((2, 6))
    _warm_up(model, x, y)
    model.join.axis = 1
    _check_against_the_graph(model, x, y, fit=True)


def test_jit_compile_false_sends_every_batch_through_the_graph(monkeypatch):
    """With ``compile(jit_compile=False)`` every fit and predict batch runs the layers' calls
    (and fit its graph's backward): the plain path a learner can step through."""
    gn.set_seed(0)
    model = gn.Sequential([L.Input((6,)), L.Dense(4, activation="relu"), L.Dense(3)])
    model.compile(gn.optimizers.SGD(0.05), "sparse_categorical_crossentropy", jit_compile=False)
    x, y = _data((6,))
    calls = []
    real_call = L.Layer.__call__
    monkeypatch.setattr(
        L.Layer, "__call__", lambda self, *a, **k: calls.append(self) or real_call(self, *a, **k)
    )
    dense_calls = lambda: sum(isinstance(layer, L.Dense) for layer in calls)  # noqa: E731
    model.fit(x, y, batch_size=4, epochs=3, verbose=0)
    assert dense_calls() == 2 * 6  # both Dense layers, 2 batches an epoch, 3 epochs
    calls.clear()
    for _ in range(3):
        model.predict(x)
    assert dense_calls() == 2 * 3
    model.compile(gn.optimizers.SGD(0.05), "sparse_categorical_crossentropy")  # "auto"
    calls.clear()
    model.fit(x, y, batch_size=4, epochs=3, verbose=0)
    # The first batch after compile is recorded as it goes through the graph, the second runs
    # the record and the graph and compares them, later ones replay the record alone.
    assert dense_calls() == 2 * 2
    calls.clear()
    for _ in range(3):
        model.predict(x)
    assert dense_calls() == 2 * 2  # predict too: recorded, checked, then replayed


def test_jit_compile_takes_only_keras_values():
    model = gn.Sequential([L.Input((6,)), L.Dense(3)])
    with pytest.raises(
        ValueError, match="jit_compile must be True, False or 'auto'. Received 'yes'"
    ):
        model.compile("sgd", "mse", jit_compile="yes")
