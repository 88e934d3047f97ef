"""predict's replay (models.replay.predict): the first batch of a shape goes through ``call``
and is recorded, the second is checked against ``call``, later ones replay the ops on arrays.
The predictions must be those of ``call``, whatever the layers, and every way a user can
change a model must show."""

from __future__ import annotations

import numpy as np
import pytest

import glassnet as gn
from glassnet import layers as L
from glassnet.layers.observers import observe_calls
from glassnet.ops.conv import ConvOp


def _random_weights(model: gn.Model) -> gn.Model:
    """Every weight random (biases and batch-norm statistics too: zeros would hide a replay
    that drops them), positive so that variances stay valid."""
    rng = np.random.default_rng(2)
    model.set_weights([rng.uniform(0.5, 1.5, w.shape).astype(w.dtype) for w in model.get_weights()])
    return model


def _called(model: gn.Model, x: np.ndarray) -> np.ndarray:
    with gn.no_grad():
        return model(gn.Tensor(x), training=False).numpy()


def _replayed(model: gn.Model) -> bool:
    return any(e.verified for e in model.__dict__.get("_inference_replays", {}).values())


STACKS = {
    "conv relu, max pool, dense": lambda: [
        L.Conv2D(4, 3, padding="same", activation="relu"), L.MaxPooling2D(2), L.Flatten(),
        L.Dense(5, activation="relu"), L.Dense(3)],
    "other activations, average pool, same padding": lambda: [
        L.Conv2D(4, 3, strides=2, activation="tanh"), L.AveragePooling2D(2, padding="same"),
        L.Conv2D(3, 1, activation="sigmoid"), L.Flatten(), L.Dense(3, activation="softmax")],
    "gelu, dropout, activation layers": lambda: [
        L.Conv2D(4, 3, dilation_rate=2, activation="gelu", use_bias=False), L.Dropout(0.5),
        L.ReLU(), L.ReLU(negative_slope=0.1), L.Activation("tanh"), L.Flatten(), L.Dense(2)],
    "linear conv, an overlapping max pool; a bias-free conv, a max pool": lambda: [
        L.Conv2D(4, 3, padding="same"), L.MaxPooling2D(3, strides=2, padding="same"),
        L.Conv2D(3, 2, activation="relu", use_bias=False), L.MaxPooling2D(2), L.Flatten()],
    "rescaling, batch norm, global pooling, a nested Sequential": lambda: [
        L.Rescaling(1 / 255, offset=-0.5), L.Conv2D(4, 3, padding="same"),
        L.BatchNormalization(), gn.Sequential([L.ReLU(), L.MaxPooling2D(2, strides=1)]),
        L.LeakyReLU(), L.GlobalAveragePooling2D(), L.Dense(3, activation="softmax")],
}  # fmt: skip


@pytest.mark.parametrize("stack", STACKS)
def test_replayed_predictions_are_calls(stack):
    gn.set_seed(0)
    model = _random_weights(gn.Sequential([L.Input((9, 9, 2)), *STACKS[stack]()]))
    x = np.random.default_rng(1).standard_normal((3, 9, 9, 2)).astype(np.float32)
    first = model.predict(x)  # through call, recorded
    np.testing.assert_array_equal(first, _called(model, x))
    np.testing.assert_array_equal(model.predict(x), first)  # the record checked against call
    assert _replayed(model)
    np.testing.assert_array_equal(model.predict(x), first)  # replayed
    np.testing.assert_allclose(model.predict(x[:1]), first[:1], rtol=1e-5, atol=1e-6)


def test_a_replayed_predict_builds_no_graph(monkeypatch):
    gn.set_seed(0)
    model = gn.Sequential([L.Input((6, 6, 1)), *STACKS["conv relu, max pool, dense"]()])
    x = np.ones((1, 6, 6, 1), np.float32)
    model.predict(x, batch_size=1)
    model.predict(x, batch_size=1)
    applied: list[int] = []
    real = ConvOp.apply.__func__

    def spy(cls, *args, **kwargs):
        applied.append(1)
        return real(cls, *args, **kwargs)

    monkeypatch.setattr(ConvOp, "apply", classmethod(spy))
    model.predict(x, batch_size=1)
    assert applied == []  # the convolution's forward ran on arrays, without a Tensor or a node
    model(gn.Tensor(x))
    assert applied == [1]


def test_replay_follows_new_weights_and_a_new_shape_is_checked_again():
    gn.set_seed(0)
    model = _random_weights(gn.Sequential(
        [L.Input((None, None, 1)), L.Conv2D(2, 3, activation="relu"), L.GlobalMaxPooling2D(),
         L.Dense(2)]
    ))  # fmt: skip
    x = np.random.default_rng(0).random((2, 7, 7, 1), dtype=np.float32)
    for _ in range(3):
        model.predict(x)
    model.set_weights([w * 2 for w in model.get_weights()])  # in place: the tape reads them
    np.testing.assert_allclose(model.predict(x), _called(model, x), rtol=1e-6)
    with pytest.raises(ValueError, match="zero or negative|too small|kernel"):
        model.predict(np.ones((1, 2, 2, 1), np.float32))  # a new shape goes through call


def test_integer_images_give_calls_numbers():
    gn.set_seed(0)
    model = _random_weights(
        gn.Sequential([L.Input((6, 6, 3)), L.Rescaling(1 / 255), L.Conv2D(2, 3), L.Flatten()])
    )
    images = np.random.default_rng(0).integers(0, 256, (2, 6, 6, 3), dtype=np.uint8)
    expected = _called(model, images.astype(np.float32))
    for _ in range(3):
        np.testing.assert_allclose(model.predict(images), expected, rtol=1e-6)


def test_a_layer_that_rewrites_call_is_replayed_as_written():
    class Doubled(L.Conv2D):
        def call(self, x, training=False):
            return super().call(x, training) * 2.0

    gn.set_seed(0)
    model = _random_weights(gn.Sequential([L.Input((5, 5, 1)), Doubled(2, 3), L.Flatten()]))
    x = np.ones((1, 5, 5, 1), np.float32)
    inner = L.Conv2D(2, 3)
    inner.build((None, 5, 5, 1))
    inner.set_weights(model.layers[0].get_weights())
    expected = 2.0 * _called(gn.Sequential([L.Input((5, 5, 1)), inner, L.Flatten()]), x)
    for _ in range(3):
        np.testing.assert_allclose(model.predict(x), expected, rtol=1e-6)
    assert _replayed(model)


def test_a_subclassed_model_is_replayed():
    class Branches(gn.Model):
        def __init__(self) -> None:
            super().__init__()
            self.a, self.b = L.Dense(4, activation="relu"), L.Dense(4, activation="tanh")
            self.head = L.Dense(2)

        def call(self, x, training=False):
            return self.head(self.a(x) * self.b(x) + x[:, :4])

    gn.set_seed(0)
    model = Branches()
    model.build((None, 6))
    x = np.random.default_rng(0).standard_normal((5, 6)).astype(np.float32)
    for _ in range(3):
        np.testing.assert_array_equal(model.predict(x), _called(model, x))
    assert _replayed(model)


def test_observe_calls_still_sees_every_layer():
    gn.set_seed(0)
    model = gn.Sequential([L.Input((6, 6, 1)), *STACKS["conv relu, max pool, dense"]()])
    x = np.ones((1, 6, 6, 1), np.float32)
    for _ in range(3):
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
    for _ in range(3):
        model.predict(x)
    inner.pop()
    inner.add(L.Dense(5))
    np.testing.assert_allclose(model.predict(x), _called(model, x), rtol=1e-6)
    assert model.predict(x).shape == (2, 5)


def test_a_layer_that_reads_its_data_keeps_call():
    class CentreOnFirst(L.Layer):
        def call(self, x, training=False):
            return x - float(x.data[0, 0])  # a number read off the data, outside any op

    model = gn.Sequential([L.Input((3,)), CentreOnFirst()])
    rng = np.random.default_rng(0)
    for _ in range(4):
        x = rng.random((2, 3), dtype=np.float32)
        np.testing.assert_array_equal(model.predict(x), x - x[0, 0])
    assert not _replayed(model)


def test_a_conv_and_the_max_pool_after_it_replay_as_one_op():
    """Bias and ReLU commute with a max, so the inference tape pools first and adds them to a
    quarter of the numbers (ops.fused.ConvMaxPoolOp): the very numbers of call, negative
    biases zeroing whole windows included; a conv read by anything else stays alone."""
    gn.set_seed(0)
    model = gn.Sequential([L.Input((8, 8, 2)), *STACKS["conv relu, max pool, dense"]()])
    weights = model.get_weights()
    weights[1] = np.array([-3.0, -1.0, 0.0, 1.0], np.float32)  # the conv's bias
    model.set_weights(weights)
    x = np.random.default_rng(3).standard_normal((4, 8, 8, 2)).astype(np.float32)
    for _ in range(3):
        got = model.predict(x)
    (entry,) = model._inference_replays.values()
    assert [op.fn.__name__ for op in entry.tape.ops][:2] == ["ConvMaxPoolOp", "ReshapeOp"]
    assert (got != 0).any()
    np.testing.assert_array_equal(got, _called(model, x))


@pytest.mark.parametrize("relu", [True, False], ids=["with ReLU", "without"])
def test_a_conv_and_its_batch_normalization_replay_as_one_op(relu):
    """At inference a convolution, the batch normalization of its output and the ReLU after
    it replay as ops.fused.ConvBatchNormOp, normalizing and rectifying the convolution's
    output in place: the very numbers of call. One without scale and centre fuses too."""
    gn.set_seed(0)
    block = [L.Conv2D(4, 3, padding="same", use_bias=False), L.BatchNormalization()]
    block += [L.ReLU()] if relu else []
    model = gn.Sequential(
        [
            L.Input((8, 8, 2)),
            *block,
            L.Conv2D(3, 1),
            L.BatchNormalization(center=False, scale=False),
            L.GlobalAveragePooling2D(),
        ]
    )
    rng = np.random.default_rng(4)
    for layer in model.layers:  # statistics and weights far from the defaults
        if isinstance(layer, L.BatchNormalization):
            layer.moving_mean.data[...] = rng.normal(size=layer.moving_mean.shape)
            layer.moving_variance.data[...] = rng.uniform(0.5, 2.0, layer.moving_variance.shape)
            if layer.gamma is not None:
                layer.gamma.data[...] = rng.uniform(0.5, 2.0, layer.gamma.shape)
                layer.beta.data[...] = rng.normal(size=layer.beta.shape)
    x = rng.standard_normal((5, 8, 8, 2)).astype(np.float32)
    for _ in range(3):
        got = model.predict(x)
    (entry,) = model._inference_replays.values()
    assert entry.verified
    names = [op.fn.__name__ for op in entry.tape.ops]
    assert names == ["ConvBatchNormOp", "ConvBatchNormOp", "GlobalAvgPoolOp"]
    assert entry.tape.ops[0].attrs["relu"] is relu
    np.testing.assert_array_equal(got, _called(model, x))
    if relu:
        assert (got != 0).any()
