"""fit's replay (models.replay): later batches of a shape run the ops recorded from the first,
and train to exactly the numbers of the graph on every batch (``jit_compile=False``), for
the benchmark networks, a recurrent model and a subclassed residual one, over 3 epochs."""

from __future__ import annotations

import numpy as np
import pytest

import glassnet as gn
from glassnet import layers as L
from glassnet.autograd import record_ops
from glassnet.models import replay

SPARSE = gn.losses.SparseCategoricalCrossentropy


def _mlp():  # W1
    return gn.Sequential(
        [L.Input((20,)), L.Dense(16, activation="relu"), L.Dense(8, activation="relu"), L.Dense(3)]
    )


def _lenet():  # W2
    return gn.applications.LeNet5(input_shape=(28, 28, 1), classes=3, classifier_activation=None)


def _cifar():  # W3, narrower
    return gn.Sequential(
        [
            L.Input((16, 16, 3)),
            L.Conv2D(8, 3, padding="same", activation="relu"),
            L.Conv2D(8, 3, padding="same", activation="relu"),
            L.MaxPooling2D(2),
            L.Conv2D(16, 3, padding="same", activation="relu"),
            L.MaxPooling2D(2),
            L.Flatten(),
            L.Dense(16, activation="relu"),
            L.Dense(3),
        ]
    )


def _photo():  # P1: conv, batch norm, pooling, dropout
    return gn.applications.small_cnn((32, 32, 3), classes=3, classifier_activation=None)


def _augmented():  # every random augmentation draws inside an op (ops.draws): it replays
    return gn.Sequential(
        [L.Input((12, 12, 3)), L.RandomFlip(seed=1), L.RandomTranslation(0.2, 0.2, seed=2),
         L.RandomRotation(0.1), L.RandomZoom(0.2, seed=4), L.RandomCrop(10, 10, seed=5),
         L.RandomBrightness(0.2, seed=6), L.RandomContrast(0.2),
         L.Conv2D(4, 3, activation="relu"), L.Flatten(), L.Dense(3)]
    )  # fmt: skip


def _lstm():
    return gn.Sequential(
        [L.Input((7, 4)), L.LSTM(6, return_sequences=True), L.GRU(5), L.Dropout(0.2), L.Dense(3)]
    )


class _Residual(gn.Model):
    """A subclassed residual model: the skip connection adds a block's input to its output."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = L.Conv2D(6, 3, padding="same", activation="relu")
        self.conv = L.Conv2D(6, 3, padding="same")
        self.norm = L.BatchNormalization()
        self.pool, self.flat, self.head = L.GlobalAveragePooling2D(), L.Flatten(), L.Dense(3)

    def call(self, x, training=False):
        h = self.stem(x)
        h = gn.ops.relu(h + self.norm(self.conv(h), training=training))
        return self.head(self.flat(self.pool(h)))


def _residual():
    model = _Residual()
    model.build((None, 8, 8, 2))
    return model


def _softmax_head():  # the default photo classifier: probabilities out, the loss reads logits
    return gn.applications.small_cnn((16, 16, 3), classes=3)


def _sigmoid_head():
    inputs = gn.Input((6,))
    return gn.Model(inputs, L.Dense(1, activation="sigmoid")(L.Dense(8, activation="relu")(inputs)))


def _thresholded_relu():  # the ReLU's mask comes from each batch (an op), not the first one
    inputs = gn.Input((6,))
    hidden = L.ReLU(negative_slope=0.1, threshold=0.5)(L.Dense(8)(inputs))
    return gn.Model(inputs, L.Dense(3)(hidden))


NETWORKS = {
    "W1-mlp": (_mlp, (20,), "sgd_momentum"),
    "W2-lenet": (_lenet, (28, 28, 1), "adam"),
    "W3-cifar": (_cifar, (16, 16, 3), "sgd_momentum"),
    "P1-photo": (_photo, (32, 32, 3), "adam"),
    "augmented": (_augmented, (12, 12, 3), "sgd_momentum"),
    "lstm-gru": (_lstm, (7, 4), "adam"),
    "subclassed-residual": (_residual, (8, 8, 2), "sgd_momentum"),
    "softmax-head": (_softmax_head, (16, 16, 3), "adam"),
    "sigmoid-head": (_sigmoid_head, (6,), "sgd_momentum"),
    "relu-threshold": (_thresholded_relu, (6,), "sgd_momentum"),
}
#: Heads that end in a softmax or sigmoid: the cross-entropy reads the logits behind them.
LOSSES = {"softmax-head": SPARSE(), "sigmoid-head": gn.losses.BinaryCrossentropy()}


def _optimizer(name):
    return gn.optimizers.SGD(0.05, momentum=0.9) if name == "sgd_momentum" else "adam"


def _train(name, jit, epochs=3):
    make, shape, optimizer = NETWORKS[name]
    gn.set_seed(0)
    model = make()
    loss = LOSSES.get(name, SPARSE(from_logits=True))
    model.compile(_optimizer(optimizer), loss, metrics=["accuracy"])
    model.jit_compile = jit
    rng = np.random.default_rng(1)
    x = rng.random((20, *shape), dtype=np.float32)
    y = rng.integers(0, 2 if name == "sigmoid-head" else 3, 20)
    history = model.fit(x, y, batch_size=8, epochs=epochs, verbose=0)  # batches of 8, 8 and 4
    return model, history.history, x


@pytest.fixture
def replays(monkeypatch):
    """How many steps ran the tape alone (the check of a new tape runs it too: not counted)."""
    count = []
    for name in ("_replayed", "_verified"):
        real = getattr(replay, name)

        def spy(*args, _real=real, _sign=1 if name == "_replayed" else -1):
            count.append(_sign)
            return _real(*args)

        monkeypatch.setattr(replay, name, spy)

    class Count:
        def __len__(self) -> int:
            return sum(count)

    return Count()


@pytest.mark.parametrize("name", list(NETWORKS))
def test_replayed_training_is_the_graphs_bit_for_bit(name, replays):
    graph_model, graph_history, x = _train(name, jit=False)
    assert not len(replays)
    model, history, _ = _train(name, jit=True)
    # Per shape (8 and 4 samples), the first batch records, the second checks, the rest replay:
    # of 9 batches, 9 - 2 - 2 = 5 replay alone.
    assert len(replays) == 5
    assert history == graph_history
    for ours, theirs in zip(model.weights, graph_model.weights, strict=True):
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    np.testing.assert_array_equal(model.predict(x), graph_model.predict(x))


def test_a_layer_that_looks_at_its_data_keeps_the_graph(replays):
    """A user's layer whose Python depends on the batch's values (here: an op's constant made
    from them) cannot be replayed: the second batch's check sees the difference."""

    class CentreOnFirst(L.Layer):
        def call(self, x, training=False):
            return x - float(x.data[0, 0])  # a number read off the data, outside any op

    def train(jit):
        gn.set_seed(0)
        model = gn.Sequential([L.Input((4,)), CentreOnFirst(), L.Dense(3)])
        model.compile(gn.optimizers.SGD(0.1), SPARSE(from_logits=True))
        model.jit_compile = jit
        rng = np.random.default_rng(2)
        x, y = rng.random((24, 4), dtype=np.float32), rng.integers(0, 3, 24)
        model.fit(x, y, batch_size=6, epochs=2, verbose=0, shuffle=False)
        return model

    ours, graph = train(True), train(False)
    assert not len(replays)
    assert all(entry.tape is None for entry in ours._replays.values())
    for a, b in zip(ours.weights, graph.weights, strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_each_op_records_its_function_inputs_and_attributes():
    x = gn.Tensor(np.ones((2, 3), np.float32), requires_grad=True)
    with record_ops() as ops:
        y = gn.ops.relu(x * 2.0)
    assert [op.fn.__name__ for op in ops] == ["MulOp", "ReLUOp"]
    assert ops[0].inputs[0] is x and ops[1].inputs[0] is ops[0].output
    assert ops[1].output is y and all(op.grad_enabled for op in ops)
    with record_ops() as outer:
        with record_ops() as inner:
            gn.ops.relu(x)
        gn.ops.relu(x)
    assert len(inner) == 1 and len(outer) == 1


def _replaying_mlp():
    """An MLP past its first three steps on one batch (recorded, checked, replayed)."""
    gn.set_seed(0)
    model = _mlp()
    model.compile(gn.optimizers.SGD(0.1), SPARSE(from_logits=True))
    rng = np.random.default_rng(0)
    x, y = rng.random((8, 20), dtype=np.float32), rng.integers(0, 3, 8)
    for _ in range(3):
        model.train_step(x, y)
    assert next(iter(model._replays.values())).verified
    return model, x, y


def test_a_nan_loss_stops_a_replayed_fit_before_any_update():
    model, x, y = _replaying_mlp()
    before = [w.numpy().copy() for w in model.weights]
    x[0, 0] = np.nan
    assert np.isnan(model.train_step(x, y))
    for w, b in zip(model.weights, before, strict=True):
        np.testing.assert_array_equal(w.numpy(), b)


@pytest.mark.parametrize(
    ("labels", "error", "message"),
    [
        (np.array([0, 1, 2, 3, 0, 1, 2, 0]), ValueError, "out of range"),
        (np.full(8, 0.5), TypeError, "integer class ids"),
    ],
)
def test_a_replayed_step_still_checks_the_labels(labels, error, message):
    model, x, _ = _replaying_mlp()
    with pytest.raises(error, match=message):
        model.train_step(x, labels)
