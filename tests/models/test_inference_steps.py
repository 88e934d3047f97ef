"""predict's inference steps: after the first batch of a shape has gone through ``call``, a
Sequential runs its layers' ops on arrays (``Layer.inference_step``). The predictions must be
those of ``call``, whatever the layers, and every way a user can change a model must show."""

from __future__ import annotations

import numpy as np
import pytest

import glassnet as gn
from glassnet import layers as L
from glassnet.layers.observers import observe_calls
from glassnet.ops.conv import Conv2DOp


def _random_weights(model: gn.Sequential) -> gn.Sequential:
    """Every weight random (biases and batch-norm statistics too: zeros would hide a step
    that drops them), positive so that variances stay valid."""
    rng = np.random.default_rng(2)
    model.set_weights([rng.uniform(0.5, 1.5, w.shape).astype(w.dtype) for w in model.get_weights()])
    return model


def _called(model: gn.Sequential, x: np.ndarray) -> np.ndarray:
    with gn.no_grad():
        return model(gn.Tensor(x), training=False).numpy()


STACKS = {
    "conv relu, max pool, dense": lambda: [
        L.Conv2D(4, 3, padding="same", activation="relu"), L.MaxPooling2D(2), L.Flatten(),
        L.Dense(5, activation="relu"), L.Dense(3)],
    "other activations, average pool, same padding": lambda: [
        L.Conv2D(4, 3, strides=2, activation="tanh"), L.AveragePooling2D(2, padding="same"),
        L.Conv2D(3, 1, activation="sigmoid"), L.Flatten(), L.Dense(3, activation="softmax")],
    "gelu through its Tensor op, dropout, activation layers": lambda: [
        L.Conv2D(4, 3, dilation_rate=2, activation="gelu", use_bias=False), L.Dropout(0.5),
        L.ReLU(), L.ReLU(negative_slope=0.1), L.Activation("tanh"), L.Flatten(), L.Dense(2)],
    "linear conv, then an overlapping max pool; a bias-free conv, then a max pool": lambda: [
        L.Conv2D(4, 3, padding="same"), L.MaxPooling2D(3, strides=2, padding="same"),
        L.Conv2D(3, 2, activation="relu", use_bias=False), L.MaxPooling2D(2), L.Flatten()],
    "rescaling, batch norm, global pooling, a nested Sequential": lambda: [
        L.Rescaling(1 / 255, offset=-0.5), L.Conv2D(4, 3, padding="same"),
        L.BatchNormalization(), gn.Sequential([L.ReLU(), L.MaxPooling2D(2, strides=1)]),
        L.LeakyReLU(), L.GlobalAveragePooling2D(), L.Dense(3, activation="softmax")],
}  # fmt: skip


@pytest.mark.parametrize("stack", STACKS)
def test_steps_predict_what_call_does(stack):
    gn.set_seed(0)
    model = _random_weights(gn.Sequential([L.Input((9, 9, 2)), *STACKS[stack]()]))
    x = np.random.default_rng(1).standard_normal((3, 9, 9, 2)).astype(np.float32)
    first = model.predict(x)  # through call: checks the shape, then keeps the steps
    assert "_inference" in model.__dict__
    again = model.predict(x)  # through the steps
    np.testing.assert_array_equal(first, _called(model, x))
    np.testing.assert_array_equal(again, first)
    np.testing.assert_allclose(model.predict(x[:1]), first[:1], rtol=1e-5, atol=1e-6)


def test_the_steps_skip_the_graph_and_checks(monkeypatch):
    gn.set_seed(0)
    model = gn.Sequential([L.Input((6, 6, 1)), *STACKS["conv relu, max pool, dense"]()])
    x = np.ones((1, 6, 6, 1), np.float32)
    model.predict(x, batch_size=1)
    applied: list[int] = []
    real = Conv2DOp.apply.__func__

    def spy(cls, *args, **kwargs):
        applied.append(1)
        return real(cls, *args, **kwargs)

    monkeypatch.setattr(Conv2DOp, "apply", classmethod(spy))
    model.predict(x, batch_size=1)
    assert applied == []  # the convolution ran on arrays, without a Tensor or a node
    model(gn.Tensor(x))
    assert applied == [1]


def test_the_steps_follow_new_weights_and_a_new_shape_is_checked_again():
    gn.set_seed(0)
    model = _random_weights(gn.Sequential(
        [L.Input((None, None, 1)), L.Conv2D(2, 3, activation="relu"), L.GlobalMaxPooling2D(),
         L.Dense(2)]
    ))  # fmt: skip
    x = np.random.default_rng(0).random((2, 7, 7, 1), dtype=np.float32)
    model.predict(x)
    model.set_weights([w * 2 for w in model.get_weights()])  # after the steps were kept
    np.testing.assert_allclose(model.predict(x), _called(model, x), rtol=1e-6)
    with pytest.raises(ValueError, match="zero or negative|too small|kernel"):
        model.predict(np.ones((1, 2, 2, 1), np.float32))  # a new shape goes through call


def test_integer_images_go_through_call_which_converts_them():
    gn.set_seed(0)
    model = _random_weights(
        gn.Sequential([L.Input((6, 6, 3)), L.Rescaling(1 / 255), L.Conv2D(2, 3), L.Flatten()])
    )
    images = np.random.default_rng(0).integers(0, 256, (2, 6, 6, 3), dtype=np.uint8)
    expected = _called(model, images.astype(np.float32))
    for _ in range(2):
        np.testing.assert_allclose(model.run_inference(images), expected, rtol=1e-6)


def test_a_layer_that_rewrites_call_is_still_called():
    """A subclass inherits its parent's step, but the step would skip its own call."""

    class Doubled(L.Conv2D):
        def call(self, x, training=False):
            return super().call(x, training) * 2.0

    gn.set_seed(0)
    model = _random_weights(gn.Sequential([L.Input((5, 5, 1)), Doubled(2, 3), L.Flatten()]))
    x = np.ones((1, 5, 5, 1), np.float32)
    model.predict(x)
    inner = L.Conv2D(2, 3)
    inner.build((None, 5, 5, 1))
    inner.set_weights(model.layers[0].get_weights())
    expected = 2.0 * _called(gn.Sequential([L.Input((5, 5, 1)), inner, L.Flatten()]), x)
    np.testing.assert_allclose(model.predict(x), expected, rtol=1e-6)


def test_observe_calls_still_sees_every_layer():
    gn.set_seed(0)
    model = gn.Sequential([L.Input((6, 6, 1)), *STACKS["conv relu, max pool, dense"]()])
    x = np.ones((1, 6, 6, 1), np.float32)
    model.predict(x)
    with observe_calls() as calls:
        model.predict(x)
    assert [type(layer).__name__ for layer, _, _ in calls if layer is not model] == [
        "Conv2D", "MaxPooling2D", "Flatten", "Dense", "Dense"
    ]  # fmt: skip


def test_changing_a_nested_sequential_shows_in_the_next_predict():
    gn.set_seed(0)
    inner = gn.Sequential([L.Dense(3, activation="relu"), L.Dense(2)])
    model = _random_weights(gn.Sequential([L.Input((4,)), inner]))
    x = np.random.default_rng(0).random((2, 4), dtype=np.float32)
    model.predict(x)
    model.predict(x)
    inner.pop()
    inner.add(L.Dense(5))
    np.testing.assert_allclose(model.predict(x), _called(model, x), rtol=1e-6)
    assert model.predict(x).shape == (2, 5)


def _steps(model: gn.Sequential) -> list:
    return model.__dict__["_inference"][1].__closure__[0].cell_contents


def test_a_conv_and_its_max_pool_run_as_one_step_with_bias_and_relu_after_the_pool():
    """Bias and ReLU commute with a max, so the pool runs first: one step for the pair, and
    the very numbers of call (negative biases make ReLU zero out whole windows)."""
    gn.set_seed(0)
    model = gn.Sequential([L.Input((8, 8, 2)), *STACKS["conv relu, max pool, dense"]()])
    weights = model.get_weights()
    weights[1] = np.array([-3.0, -1.0, 0.0, 1.0], np.float32)  # the conv's bias
    model.set_weights(weights)
    x = np.random.default_rng(3).standard_normal((4, 8, 8, 2)).astype(np.float32)
    model.predict(x)
    assert len(_steps(model)) == 4  # conv + pool, flatten, dense, dense
    got = model.predict(x)
    assert (got != 0).any()
    np.testing.assert_array_equal(got, _called(model, x))


@pytest.mark.parametrize("rewritten", ["conv", "pool"])
def test_no_fused_step_where_either_layer_rewrites_call(rewritten):
    """A rewritten call is honoured: the pair then runs as two layers, each as written."""

    class Halved(L.MaxPooling2D):
        def call(self, x, training=False):
            return super().call(x, training) * 0.5

    class Doubled(L.Conv2D):
        def call(self, x, training=False):
            return super().call(x, training) * 2.0

    conv = Doubled(3, 3, activation="relu") if rewritten == "conv" else L.Conv2D(3, 3)
    pool = Halved(2) if rewritten == "pool" else L.MaxPooling2D(2)
    gn.set_seed(0)
    model = _random_weights(gn.Sequential([L.Input((6, 6, 1)), conv, pool, L.Flatten()]))
    x = np.random.default_rng(0).standard_normal((2, 6, 6, 1)).astype(np.float32)
    model.predict(x)
    assert len(_steps(model)) == 3
    np.testing.assert_allclose(model.predict(x), _called(model, x), rtol=1e-6)


def test_other_activations_keep_their_order():
    """Only the bias and ReLU move after the pool: a vectorised tanh or sigmoid need not be
    exactly monotone in float32, and an average is no max."""
    conv = L.Conv2D(3, 3, activation="tanh")
    assert conv.inference_step_with((None, 6, 6, 1), L.MaxPooling2D(2)) is None
    assert L.Conv2D(3, 3).inference_step_with((None, 6, 6, 1), L.AveragePooling2D(2)) is None
