"""fit's training steps without a graph (Layer.training_step, Loss.training_step): after a
shape's first batch, a Sequential of Dense and Flatten layers trains on arrays, to the same
numbers as through the graph, and falls back to the graph wherever that is not so."""

from __future__ import annotations

import numpy as np
import pytest

import glassnet as gn
from glassnet import layers as L
from glassnet.layers.observers import observe_calls
from glassnet.models import training


def _mlp(bias=True, last="linear"):
    return gn.Sequential(
        [
            L.Input((4, 5, 2)),
            L.Flatten(),
            L.Dense(16, activation="relu"),
            L.Dense(8, use_bias=bias),
            L.Dense(3, activation=last),
        ]
    )


def _data(n=50, classes=3, seed=1):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, 4, 5, 2)).astype(np.float32), rng.integers(0, classes, n)


class _Taken:
    """What each train_step did: ``record`` holds True where it took the steps without a
    graph; setting ``graph = True`` sends every step through the graph (the reference)."""

    def __init__(self) -> None:
        self.record: list[bool] = []
        self.graph = False


@pytest.fixture
def taken(monkeypatch):
    real, seen = training.train_without_graph, _Taken()

    def spy(*args):
        try:
            result = None if seen.graph else real(*args)
        except Exception:
            seen.record.append(True)  # it raised on the way without a graph
            raise
        seen.record.append(result is not None)
        return result

    monkeypatch.setattr(training, "train_without_graph", spy)
    return seen


def _fit(taken, graph, make, compile_args, y_of=lambda y: y, epochs=3):
    taken.graph = graph
    gn.set_seed(0)
    model = make()
    model.compile(*compile_args())
    x, y = _data()
    if y_of == "sequence":  # (N, 4, 5) inputs, a class id per position: labels (N, 4)
        x, y = x[..., 0], np.random.default_rng(2).integers(0, 3, (len(x), 4))
        y_of = None
    history = model.fit(x, y if y_of is None else y_of(y), batch_size=16, epochs=epochs, verbose=0)
    return [w.numpy() for w in model.weights], history.history


SPARSE = gn.losses.SparseCategoricalCrossentropy
CASES = {
    "sparse CE, SGD momentum": (
        _mlp,
        lambda: (gn.optimizers.SGD(0.1, momentum=0.9), SPARSE(from_logits=True), ["accuracy"]),
        lambda y: y,
    ),
    "sparse CE, Adam, no bias": (
        lambda: _mlp(bias=False),
        lambda: (gn.optimizers.Adam(), SPARSE(from_logits=True)),
        lambda y: y,
    ),
    "categorical CE (its own graph)": (
        _mlp,
        lambda: (gn.optimizers.SGD(0.1), gn.losses.CategoricalCrossentropy(from_logits=True)),
        lambda y: np.eye(3, dtype=np.float32)[y],
    ),
    "MSE (its own graph)": (
        _mlp,
        lambda: (gn.optimizers.RMSprop(), "mse"),
        lambda y: np.eye(3, dtype=np.float32)[y],
    ),
}


CASES["sparse CE over a sequence axis"] = (
    lambda: gn.Sequential([L.Input((4, 5)), L.Dense(6, activation="relu"), L.Dense(3)]),
    lambda: (gn.optimizers.SGD(0.1, momentum=0.9), SPARSE(from_logits=True)),
    "sequence",
)


@pytest.mark.parametrize("case", CASES)
def test_later_batches_train_without_the_graph_to_the_same_numbers(taken, case):
    make, compile_args, y_of = CASES[case]
    fast, fast_history = _fit(taken, False, make, compile_args, y_of)
    # 50 samples in batches of 16: 4 batches an epoch; only the very first takes the graph
    assert taken.record == [False] + [True] * 11
    slow, slow_history = _fit(taken, True, make, compile_args, y_of)
    assert fast_history == slow_history
    for a, b in zip(fast, slow, strict=True):
        np.testing.assert_array_equal(a, b)


def test_gradients_equal_the_graphs_bit_for_bit():
    gn.set_seed(3)
    model = _mlp()
    model.compile(gn.optimizers.SGD(0.1), SPARSE(from_logits=True))
    x, y = _data(20)
    model.train_step(x, y)  # the shape's checked first batch
    x2, y2 = _data(20, seed=5)
    loss = model.loss(y2, model(gn.Tensor(x2), training=True))
    model.zero_grad()
    loss.backward()
    expected = [w.grad.copy() for w in model.weights]
    model.zero_grad()
    value, _, backward = training.train_without_graph(model, gn.Tensor(x2), y2)
    backward()
    assert value == float(loss.item())
    for w, g in zip(model.weights, expected, strict=True):
        np.testing.assert_array_equal(w.grad, g)
        assert w.grad.flags.owndata


def test_each_new_sample_shape_goes_through_the_graph_first(taken):
    gn.set_seed(0)
    model = gn.Sequential([L.Flatten(), L.Dense(4, activation="relu"), L.Dense(2)])
    model.compile(gn.optimizers.SGD(0.1), SPARSE(from_logits=True))
    for shape in [(3, 2), (3, 2), (6,), (6,), (3, 2)]:
        x = np.ones((5, *shape), np.float32)
        model.train_step(x, np.zeros(5, np.int64))
    assert taken.record == [False, True, False, True, False]


def _fallback_models():
    def custom_call():
        class Mine(gn.Sequential):
            def call(self, x, training=False):
                return super().call(x, training=training) * 1.0

        return Mine([L.Input((6,)), L.Dense(4), L.Dense(3)])

    class MyDense(L.Dense):
        def call(self, x, training=False):
            return super().call(x, training=training) + 0.0

    return {
        "dropout": lambda: gn.Sequential([L.Input((6,)), L.Dense(4), L.Dropout(0.5), L.Dense(3)]),
        "tanh": lambda: gn.Sequential([L.Input((6,)), L.Dense(4, activation="tanh"), L.Dense(3)]),
        "softmax output": lambda: gn.Sequential([L.Input((6,)), L.Dense(3, activation="softmax")]),
        "a Dense with its own call": lambda: gn.Sequential([L.Input((6,)), MyDense(3)]),
        "a Sequential with its own call": custom_call,
    }


@pytest.mark.parametrize("name", list(_fallback_models()))
def test_models_the_steps_cannot_run_keep_the_graph(taken, name):
    model = _fallback_models()[name]()
    loss = SPARSE(from_logits=name != "softmax output")
    model.compile(gn.optimizers.SGD(0.1), loss)
    x, y = np.ones((8, 6), np.float32), np.zeros(8, np.int64)
    for _ in range(3):
        model.train_step(x, y)
    assert taken.record == [False] * 3


def test_observed_calls_keep_the_graph(taken):
    model = _mlp()
    model.compile(gn.optimizers.SGD(0.1), SPARSE(from_logits=True))
    x, y = _data(8)
    model.train_step(x, y)
    with observe_calls() as calls:
        model.train_step(x, y)
    assert taken.record == [False, False]
    names = [type(layer).__name__ for layer, *_ in calls]
    assert names == ["Flatten", "Dense", "Dense", "Dense", "Sequential"]


@pytest.mark.parametrize(
    "labels, error, match",
    [
        (np.full(8, 3), ValueError, r"class id out of range.*\[0, 2\]"),
        (np.zeros(8, np.float32), TypeError, "integer class ids"),
        (np.zeros((8, 3), np.int64), ValueError, "wrong shape"),
        (np.zeros(0, np.int64), ValueError, r"y_pred is empty.*\(0, 3\)"),
    ],
)
def test_bad_labels_or_an_empty_later_batch_get_the_same_message(taken, labels, error, match):
    model = _mlp()
    model.compile(gn.optimizers.SGD(0.1), SPARSE(from_logits=True))
    x, y = _data(8)
    model.train_step(x, y)
    before = [w.numpy().copy() for w in model.weights]
    with pytest.raises(error, match=match):
        model.train_step(x[: len(labels)], labels)
    assert taken.record == [False, True]
    for w, b in zip(model.weights, before, strict=True):
        np.testing.assert_array_equal(w.numpy(), b)


def test_a_non_finite_loss_stops_before_any_update(taken):
    model = _mlp()
    model.compile(gn.optimizers.SGD(0.1), SPARSE(from_logits=True))
    x, y = _data(8)
    model.train_step(x, y)
    before = [w.numpy().copy() for w in model.weights]
    x[0, 0, 0, 0] = np.nan
    assert np.isnan(model.train_step(x, y))
    assert taken.record == [False, True]
    for w, b in zip(model.weights, before, strict=True):
        np.testing.assert_array_equal(w.numpy(), b)


def test_a_layer_frozen_after_the_steps_were_built_is_left_alone(taken):
    model = _mlp()
    model.compile(gn.optimizers.SGD(0.1, momentum=0.9), SPARSE(from_logits=True))
    x, y = _data(8)
    model.train_step(x, y)
    model.train_step(x, y)  # builds the steps
    first = model.layers[1]
    first.trainable = False
    frozen = first.kernel.numpy().copy()
    model.train_step(x, y)
    assert taken.record == [False, True, False]  # freezing is a change: the graph again
    np.testing.assert_array_equal(first.kernel.numpy(), frozen)
    assert first.kernel.grad is None
    model.layers[1].trainable = True
    # and when no weight at all wants a gradient, the graph says so, as it did before
    for layer in model.layers:
        layer.trainable = False
    with pytest.raises(RuntimeError, match="does not require grad"):
        model.train_step(x, y)
