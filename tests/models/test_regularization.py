"""Regularizers and constraints in a model: ``model.losses``, the penalties in the loss that
``fit`` lowers and reports, the same numbers whether a step runs through the graph, replays
its tape or replays a share per core, gradients against finite differences and PyTorch, and
save/load keeping them."""

from __future__ import annotations

import numpy as np
import pytest
import threadpoolctl

import glassnet as gn
from glassnet import constraints, parallel, regularizers
from glassnet import layers as L
from glassnet.layers.layer import regularization_loss
from glassnet.models import replay


def _cnn() -> gn.Sequential:
    return gn.Sequential(
        [
            L.Input((10, 10, 3)),
            L.Conv2D(6, 3, padding="same", activation="relu", kernel_regularizer="l2"),
            L.MaxPooling2D(2),
            L.BatchNormalization(gamma_regularizer=regularizers.L1(0.02)),
            L.Flatten(),
            L.Dense(
                8,
                activation="relu",
                kernel_regularizer=regularizers.L1L2(0.001, 0.01),
                bias_regularizer="l1",
                kernel_constraint=constraints.MaxNorm(1.0),
            ),
            L.Dense(4, kernel_regularizer=regularizers.L2(0.05)),
        ]
    )


def _data(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, 10, 10, 3)).astype(np.float32), rng.integers(0, 4, n)


def _compiled(jit: bool, make=_cnn) -> gn.Sequential:
    gn.set_seed(0)
    model = make()
    model.compile(gn.optimizers.SGD(0.05, momentum=0.9), "sparse_categorical_crossentropy")
    model.jit_compile = jit
    return model


@pytest.fixture
def replays(monkeypatch):
    """How many steps replayed a tape (whole or in shares) instead of running the graph."""
    count = []
    for name in ("_replayed", "_replayed_in_shares", "_verified"):
        real = getattr(replay, name)

        def spy(*args, _real=real, _sign=-1 if name == "_verified" else 1):
            count.append(_sign)  # the check of a new tape runs it too: not counted
            return _real(*args)

        monkeypatch.setattr(replay, name, spy)

    class Count:
        def __len__(self) -> int:
            return sum(count)

    return Count()


def test_model_losses_lists_each_penalty_from_the_current_weights():
    model = _compiled(True)
    assert len(model.losses) == 5  # conv kernel, gamma, dense kernel and bias, head kernel
    conv, _, norm, _, dense, head = model.layers
    want = [
        0.01 * (conv.kernel.numpy().astype(np.float64) ** 2).sum(),
        0.02 * np.abs(norm.gamma.numpy()).sum(),
        0.001 * np.abs(dense.kernel.numpy()).sum() + 0.01 * (dense.kernel.numpy() ** 2).sum(),
        0.01 * np.abs(dense.bias.numpy()).sum(),
        0.05 * (head.kernel.numpy().astype(np.float64) ** 2).sum(),
    ]
    np.testing.assert_allclose([p.item() for p in model.losses], want, rtol=1e-5)
    head.kernel.data[...] = 1.0
    assert model.losses[-1].item() == pytest.approx(0.05 * head.kernel.size)
    head.trainable = False  # Keras: only trainable weights are penalised
    assert len(model.losses) == 4


def test_fit_lowers_and_reports_the_loss_with_its_penalties():
    model = _compiled(True)
    x, y = _data(16)
    data_loss = model.loss(y, model(gn.Tensor(x), training=True)).item()
    penalty = regularization_loss(model).item()
    assert penalty > 0.01
    gn.set_seed(0)
    model = _compiled(True)
    assert model.train_on_batch(x, y) == pytest.approx(data_loss + penalty, rel=1e-6)
    # evaluate reports the weights' penalties too, as Keras does
    want = model.loss(y, model(gn.Tensor(x))).item() + regularization_loss(model).item()
    assert model.evaluate(x, y) == pytest.approx(want, rel=1e-6)


def test_replayed_fit_is_the_graphs_bit_for_bit(replays):
    x, y = _data(40)
    graph = _compiled(False)
    graph_history = graph.fit(x, y, batch_size=16, epochs=3, shuffle=False, verbose=0)
    assert not len(replays)
    model = _compiled(True)
    history = model.fit(x, y, batch_size=16, epochs=3, shuffle=False, verbose=0)
    # Shapes 16 and 8: each records one batch and checks one; the other 5 of 9 replay.
    assert len(replays) == 5
    assert history.history == graph_history.history
    for ours, theirs in zip(model.weights, graph.weights, strict=True):
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


def test_a_regularizer_changed_between_batches_counts_from_the_next_step():
    x, y = _data(16)
    models = [_compiled(True), _compiled(False)]
    for model in models:
        for _ in range(3):
            model.train_on_batch(x, y)
        model.layers[-1].kernel_regularizer = regularizers.L2(3.0)
        model.layers[-1].bias_constraint = "non_neg"
        for _ in range(3):
            model.train_on_batch(x, y)
    for ours, theirs in zip(*(m.weights for m in models), strict=True):
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    assert models[0].layers[-1].bias.numpy().min() >= 0


def test_an_activity_regularizer_keeps_the_graph_and_adds_its_penalty(replays):
    def make():
        return gn.Sequential(
            [
                L.Input((10, 10, 3)),
                L.Flatten(),
                L.Dense(8, activation="relu", activity_regularizer=regularizers.L2(0.01)),
                L.Dense(4, kernel_regularizer="l2"),
            ]
        )

    x, y = _data(24)
    model, graph = _compiled(True, make), _compiled(False, make)
    outputs = model.layers[1](model.layers[0](gn.Tensor(x)))
    activity = 0.01 * (outputs.numpy().astype(np.float64) ** 2).sum()
    assert len(model.losses) == 2 and model.losses[0].item() == pytest.approx(activity, 1e-5)
    h1 = model.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)
    h2 = graph.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)
    assert not len(replays) and all(e.tape is None for e in model._replays.values())
    assert h1.history == h2.history
    for ours, theirs in zip(model.weights, graph.weights, strict=True):
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    model.layers[1].activity_regularizer = None  # its last penalty goes with it
    assert len(model.losses) == 1


@pytest.fixture
def two_blas_threads(monkeypatch):
    if parallel._blas() is None:
        pytest.skip("no BLAS threadpoolctl can steer")
    monkeypatch.setattr(replay, "_SHARE_BYTES", 1024)  # small models qualify
    with threadpoolctl.threadpool_limits(2, user_api="blas"):
        yield


def test_a_batch_split_over_cores_adds_the_penalty_once(two_blas_threads, monkeypatch):
    """A share's loss is a mean over its rows; the penalty belongs to the whole batch once,
    not once per share: fit in shares matches the graph on every batch."""
    shares = []
    real = replay.split_over_cores
    monkeypatch.setattr(
        replay, "split_over_cores", lambda *a, **k: shares.append(1) or real(*a, **k)
    )
    x, y = _data(74)
    model, graph = _compiled(True), _compiled(False)
    losses, graph_losses = [], []
    for _ in range(6):
        losses.append(model.train_on_batch(x, y))
        with threadpoolctl.threadpool_limits(1, user_api="blas"):
            graph_losses.append(graph.train_on_batch(x, y))
    assert len(shares) == 4  # steps 3 to 6 replay in shares (1 records, 2 checks)
    np.testing.assert_allclose(losses, graph_losses, rtol=1e-6)
    for ours, theirs in zip(model.weights, graph.weights, strict=True):
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-5, atol=1e-6)


def test_regularized_dense_gradient_matches_finite_differences():
    layer = L.Dense(3, kernel_regularizer=regularizers.L1L2(0.3, 0.2), bias_regularizer="l2")
    x = np.random.default_rng(0).standard_normal((4, 5))
    layer(x.astype(np.float32))
    layer.kernel.data[np.abs(layer.kernel.data) < 0.05] = 0.3  # away from |w|'s kink

    def fn(t):
        return gn.ops.sum(layer(t)) + regularization_loss(layer)

    report = gn.gradcheck(fn, x, params=layer.parameters())
    assert report.passed, report


def test_sgd_with_l2_matches_torch_with_the_penalty_written_out():
    torch = pytest.importorskip("torch")
    gn.set_seed(0)
    model = gn.Sequential(
        [L.Input((5,)), L.Dense(4, activation="tanh", kernel_regularizer=regularizers.L2(0.1)),
         L.Dense(2, bias_regularizer=regularizers.L1(0.05))]
    )  # fmt: skip
    model.compile(gn.optimizers.SGD(0.1), "mse")
    w1, b1, w2, b2 = (torch.tensor(w, requires_grad=True) for w in model.get_weights())
    opt = torch.optim.SGD([w1, b1, w2, b2], lr=0.1)
    rng = np.random.default_rng(0)
    for _ in range(5):
        x = rng.standard_normal((8, 5)).astype(np.float32)
        y = rng.standard_normal((8, 2)).astype(np.float32)
        ours = model.train_on_batch(x, y)
        opt.zero_grad()
        out = torch.tanh(torch.from_numpy(x) @ w1 + b1) @ w2 + b2
        loss = ((out - torch.from_numpy(y)) ** 2).mean()
        loss = loss + 0.1 * (w1**2).sum() + 0.05 * b2.abs().sum()
        loss.backward()
        opt.step()
        assert ours == pytest.approx(loss.item(), rel=1e-5)
        for a, b in zip(model.get_weights(), (w1, b1, w2, b2), strict=True):
            np.testing.assert_allclose(a, b.detach().numpy(), rtol=1e-5, atol=1e-6)


def test_save_and_load_keep_regularizers_and_constraints(tmp_path):
    model = _compiled(True)
    model.layers[4].activity_regularizer = "l1"
    x, y = _data(8)
    model.fit(x, y, epochs=1, verbose=0)
    model.save(tmp_path / "m.glassnet")
    loaded = gn.load_model(tmp_path / "m.glassnet")
    for ours, theirs in zip(model.layers, loaded.layers, strict=True):
        assert ours.get_config() == theirs.get_config()
    dense = loaded.layers[4]
    assert isinstance(dense.kernel_regularizer, regularizers.L1L2)
    assert dense.kernel_regularizer.get_config() == {"l1": 0.001, "l2": 0.01}
    assert isinstance(dense.kernel.constraint, constraints.MaxNorm)
    assert isinstance(dense.activity_regularizer, regularizers.L1)
    model(gn.Tensor(x)), loaded(gn.Tensor(x))  # the activity penalties of this batch
    np.testing.assert_allclose(
        [p.item() for p in loaded.losses], [p.item() for p in model.losses], rtol=1e-6
    )


def test_a_user_layer_without_the_argument_still_saves_its_activity_regularizer():
    class Double(L.Layer):
        def call(self, x):
            return x * 2.0

    layer = Double(name="double")
    layer.activity_regularizer = regularizers.L2(0.5)
    config = layer.get_config()
    assert config["activity_regularizer"] == {"class_name": "L2", "config": {"l2": 0.5}}
    again = Double.from_config(config)
    assert again.activity_regularizer.l2 == 0.5
    again(np.ones((2, 3), np.float32))
    assert again.losses[0].item() == pytest.approx(0.5 * 4 * 6)


@pytest.mark.parametrize(
    "cls, kwargs, weights, x",
    [
        (L.Dense, {"units": 3}, ["kernel", "bias"], np.ones((2, 4))),
        (L.Conv2D, {"filters": 2, "kernel_size": 3}, ["kernel", "bias"], np.ones((1, 5, 5, 2))),
        (L.BatchNormalization, {}, ["gamma", "beta"], np.ones((2, 4))),
        (L.Embedding, {"input_dim": 5, "output_dim": 3}, ["embeddings"], np.array([[1, 4]])),
        (L.SimpleRNN, {"units": 3}, ["kernel", "recurrent", "bias"], np.ones((2, 4, 3))),
        (L.LSTM, {"units": 3}, ["kernel", "recurrent", "bias"], np.ones((2, 4, 3))),
        (L.GRU, {"units": 3}, ["kernel", "recurrent", "bias"], np.ones((2, 4, 3))),
    ],
    ids=lambda v: v.__name__ if isinstance(v, type) else "",
)
def test_every_layer_with_weights_takes_the_keras_arguments(cls, kwargs, weights, x):
    options = {f"{w}_regularizer": regularizers.L2(0.5) for w in weights}
    options |= {f"{w}_constraint": constraints.NonNeg() for w in weights}
    layer = cls(**kwargs, **options, activity_regularizer="l1")
    layer(x)
    assert len(layer.losses) == len(weights) + 1
    for w in weights:
        weight = getattr(layer, w if hasattr(layer, w) else f"{w}_kernel")
        assert isinstance(weight.constraint, constraints.NonNeg)
    config = layer.get_config()
    assert config[f"{weights[0]}_regularizer"] == {"class_name": "L2", "config": {"l2": 0.5}}
    assert config["activity_regularizer"] == {"class_name": "L1", "config": {"l1": 0.01}}
    again = L.deserialize(L.serialize(layer))
    assert again.get_config() == config
