"""Training half a batch per core: the step's loss, gradients, metrics and weights must equal
those of the whole batch in order, and models where that would not hold run in order."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import threadpoolctl

import glassnet as gn
from glassnet import backend
from glassnet import layers as L
from glassnet.models import training


@pytest.fixture
def two_blas_threads(monkeypatch):
    if backend._blas() is None:
        pytest.skip("no BLAS threadpoolctl can steer")
    monkeypatch.setattr(training, "_THREAD_TRAIN_BYTES", 1024)  # small models qualify
    with threadpoolctl.threadpool_limits(2, user_api="blas"):
        yield


def cnn(*extra: L.Layer, loss: object = "sparse_categorical_crossentropy") -> gn.Sequential:
    gn.set_seed(0)
    model = gn.Sequential(
        [L.Input((10, 10, 3)), L.Conv2D(6, 3, padding="same", activation="relu"),
         L.MaxPooling2D(2), *extra, L.Flatten(), L.Dense(4)]
    )  # fmt: skip
    model.compile(gn.optimizers.SGD(0.1, momentum=0.9), loss, metrics=["accuracy"])
    return model


def data(n: int = 37, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, 10, 10, 3)).astype(np.float32), rng.integers(0, 4, n)


def shares_seen(monkeypatch) -> list[int]:
    """Spy on split_over_cores: how many shares each training step ran."""
    seen: list[int] = []
    real = training.split_over_cores

    def spy(work, n):
        results = real(work, n)
        seen.append(len(results))
        return results

    monkeypatch.setattr(training, "split_over_cores", spy)
    return seen


def test_a_step_on_two_cores_equals_the_whole_batch_in_order(two_blas_threads, monkeypatch):
    x, y = data()
    threaded, in_order = cnn(), cnn()
    seen = shares_seen(monkeypatch)
    for _ in range(3):  # momentum carries the combined gradients into later steps
        loss_threaded = threaded.train_step(x, y)
        with threadpoolctl.threadpool_limits(1, user_api="blas"):
            loss_in_order = in_order.train_step(x, y)
        assert loss_threaded == pytest.approx(loss_in_order, rel=1e-5)
    assert seen == [2, 2, 2]  # 37 samples: shares of 19 and 18, weighted by size
    for a, b in zip(threaded.get_weights(), in_order.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
    assert threaded.compiled_metrics[0].result() == in_order.compiled_metrics[0].result()
    for weight in threaded.trainable_weights:  # the combined gradient is what .grad holds
        assert weight.grad is not None and weight.grad.shape == weight.shape


def test_fit_on_two_cores_learns_like_in_order(two_blas_threads):
    x, y = data(64, seed=1)
    threaded, in_order = cnn(), cnn()
    h1 = threaded.fit(x, y, batch_size=32, epochs=3, shuffle=False, verbose=0)
    with threadpoolctl.threadpool_limits(1, user_api="blas"):
        h2 = in_order.fit(x, y, batch_size=32, epochs=3, shuffle=False, verbose=0)
    np.testing.assert_allclose(h1.history["loss"], h2.history["loss"], rtol=1e-4)
    assert h1.history["loss"][-1] < h1.history["loss"][0]


@pytest.mark.parametrize(
    "why",
    ["Dropout draws random numbers", "BatchNormalization needs the whole batch",
     "a loss of the user's", "a layer of the user's", "the batch is too small"],
)  # fmt: skip
def test_steps_that_would_change_run_in_order(two_blas_threads, monkeypatch, why):
    class Halved(gn.losses.Loss):  # a user's loss might not be a mean over the batch
        def call(self, y_true, y_pred):
            return gn.losses.SparseCategoricalCrossentropy()(y_true, y_pred) * 0.5

    class Same(L.Layer):
        def call(self, x, training=False):
            return x

    extra = {
        "Dropout draws random numbers": [L.Dropout(0.5)],
        "BatchNormalization needs the whole batch": [L.BatchNormalization()],
        "a layer of the user's": [Same()],
    }.get(why, [])
    model = cnn(
        *extra,
        loss=Halved() if why == "a loss of the user's" else "sparse_categorical_crossentropy",
    )
    x, y = data(2 if why == "the batch is too small" else 37)
    if why == "the batch is too small":
        monkeypatch.setattr(training, "_THREAD_TRAIN_BYTES", 10**9)
    seen = shares_seen(monkeypatch)
    assert np.isfinite(model.train_step(x, y))
    assert seen == []


def test_a_step_whose_cores_are_taken_runs_whole_and_right(two_blas_threads):
    """Another thread holding the cores (a parallel predict) leaves one share: the whole batch,
    whose gradients are the step's as they are."""
    x, y = data()
    held, in_order = cnn(), cnn()
    with backend.blas_on_one_thread():
        loss_held = held.train_step(x, y)
    with threadpoolctl.threadpool_limits(1, user_api="blas"):
        loss_in_order = in_order.train_step(x, y)
    assert loss_held == pytest.approx(loss_in_order, rel=1e-6)
    for a, b in zip(held.get_weights(), in_order.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)


def test_a_nan_loss_on_two_cores_stops_before_any_update(two_blas_threads, monkeypatch):
    model = cnn()
    x, y = data()
    x[30, 0, 0, 0] = np.nan  # in the second share
    before = [w.copy() for w in model.get_weights()]
    seen = shares_seen(monkeypatch)
    assert not np.isfinite(model.train_step(x, y))
    assert seen == [2]
    for a, b in zip(model.get_weights(), before, strict=True):
        np.testing.assert_array_equal(a, b)


def test_mismatched_targets_are_reported_for_the_whole_batch(two_blas_threads, monkeypatch):
    """Cut in shares, a wrong number of targets would be reported with the shares' sizes;
    the step runs in order instead, so the error names the batch the user passed."""
    model = cnn()
    x, y = data()
    seen = shares_seen(monkeypatch)
    with pytest.raises(ValueError) as threaded:
        model.train_step(x, y[:-5])
    assert seen == []
    with threadpoolctl.threadpool_limits(1, user_api="blas"), pytest.raises(ValueError) as plain:
        model.train_step(x, y[:-5])
    assert str(threaded.value) == str(plain.value)
    assert "(37, 4)" in str(threaded.value)  # the whole batch's outputs, not a share's


def test_gradients_into_keeps_each_threads_gradients_apart():
    """Two threads differentiate through the same weight at once, each into its own dict;
    .grad stays untouched, and a weight used twice gets both uses added."""
    w = gn.Tensor(np.array([1.0, 2.0], np.float32), requires_grad=True)
    sinks: dict[int, dict] = {}

    def work(k: int) -> None:
        with gn.tensor.gradients_into({}) as sink:
            ((w * float(k + 1)) + w).sum().backward()
        sinks[k] = sink

    threads = [threading.Thread(target=work, args=(k,)) for k in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert w.grad is None
    np.testing.assert_array_equal(sinks[0][id(w)], [2.0, 2.0])  # 1 + 1
    np.testing.assert_array_equal(sinks[1][id(w)], [3.0, 3.0])  # 2 + 1
    (w * 3.0).sum().backward()  # outside the block: .grad as always
    np.testing.assert_array_equal(w.grad, [3.0, 3.0])
