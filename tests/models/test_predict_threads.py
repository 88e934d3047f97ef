"""predict on every core: slices of a large batch run side by side on threads, one BLAS thread
each, and must give exactly what running them in order gives — or run in order when that is
not safe."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import threadpoolctl

import glassnet as gn
from glassnet import layers as L
from glassnet import parallel
from glassnet.layers.observers import observe_calls
from glassnet.models import training

needs_blas = pytest.mark.skipif(parallel._blas() is None, reason="no BLAS threadpoolctl can steer")


class Watch(L.Layer):
    """Doubles its input and notes, per call, the thread, the rows and the BLAS thread count
    (Python that must run on every call, so not replayed)."""

    replayable = False

    def __init__(self, fail_on: float | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.fail_on, self.calls = fail_on, []
        self._lock = threading.Lock()

    def call(self, x, training=False):
        with self._lock:
            self.calls.append((threading.current_thread().name, len(x), parallel.blas_threads()))
        if self.fail_on is not None and (x.numpy() == self.fail_on).any():
            raise ValueError(f"Watch: found {self.fail_on}")
        return x * 2.0

    def compute_output_shape(self, input_shape):
        return input_shape


class BuiltInWatch(Watch):
    """The same layer, filed as one of glassnet's own (safe on threads)."""


BuiltInWatch.__module__ = "glassnet.layers.test_double"


def watched(cls=BuiltInWatch, **kwargs) -> tuple[gn.Sequential, Watch]:
    watch = cls(**kwargs)
    return gn.Sequential([L.Input((256,)), L.Dense(256), watch]), watch


@pytest.fixture
def two_blas_threads():
    if parallel._blas() is None:
        pytest.skip("no BLAS threadpoolctl can steer")
    with threadpoolctl.threadpool_limits(2, user_api="blas"):
        yield


@pytest.fixture
def small_thread_slices(monkeypatch):
    """1 KiB of work is enough for a thread, 64 rows of 256 floats fill the cache slice."""
    monkeypatch.setattr(training, "_THREAD_SLICE_BYTES", 1024)
    monkeypatch.setattr(training, "_SLICE_BYTES", 64 * 256 * 4)


def _in_order(model: gn.Sequential, x: np.ndarray) -> np.ndarray:
    with gn.no_grad():
        return model(gn.Tensor(x), training=False).numpy()


def test_slices_run_on_two_threads_and_give_the_same_predictions(
    two_blas_threads, small_thread_slices
):
    gn.set_seed(0)
    model, watch = watched()
    x = np.random.default_rng(0).standard_normal((300, 256)).astype(np.float32)
    got = model.predict(x, batch_size=300)
    threads = {name for name, _, _ in watch.calls}
    assert len(threads) == 2, watch.calls
    assert [rows for _, rows, _ in watch.calls] == [50] * 6  # 5 cache slices -> 6, even
    assert {blas for _, _, blas in watch.calls} == {1}  # one BLAS thread while they run
    assert parallel.blas_threads() == 2  # and the setting back after
    np.testing.assert_allclose(got, _in_order(model, x), rtol=1e-5, atol=1e-5)


def test_an_error_in_a_slice_reaches_the_caller_and_blas_is_restored(
    two_blas_threads, small_thread_slices
):
    gn.set_seed(0)
    model, _ = watched(fail_on=-7.0)
    x = np.zeros((300, 256), np.float32)
    x[250, 3] = -7.0  # in a slice the second thread runs
    model.layers[0].kernel.data[...] = np.eye(256, dtype=np.float32)  # Dense passes x through
    with pytest.raises(ValueError, match="found -7.0"):
        model.predict(x, batch_size=300)
    assert parallel.blas_threads() == 2


@pytest.mark.parametrize("why", ["a user's layer", "a replaced call", "observing calls"])
def test_models_not_known_safe_run_their_slices_in_order(
    two_blas_threads, small_thread_slices, why
):
    gn.set_seed(0)
    model, watch = watched(Watch if why == "a user's layer" else BuiltInWatch)
    if why == "a replaced call":
        original = watch.call
        watch.call = lambda x, training=False: original(x)
    x = np.ones((300, 256), np.float32)
    if why == "observing calls":
        with observe_calls():
            model.predict(x, batch_size=300)
    else:
        model.predict(x, batch_size=300)
    assert {name for name, _, _ in watch.calls} == {threading.current_thread().name}
    assert [rows for _, rows, _ in watch.calls] == [64] * 4 + [44]  # the cache's slices


def test_small_batches_run_whole_on_the_calling_thread(two_blas_threads):
    """Below _THREAD_SLICE_BYTES of work per thread, a handoff costs more than it saves."""
    gn.set_seed(0)
    model, watch = watched()
    model.predict(np.ones((8, 256), np.float32), batch_size=8)
    assert watch.calls == [(threading.current_thread().name, 8, 2)]


def test_two_predictions_at_once_both_come_out_right(two_blas_threads, small_thread_slices):
    """A server may predict on several threads: one of them runs its slices on the cores, any
    other meanwhile in order; both answers are right and the BLAS setting ends where it was."""
    gn.set_seed(0)
    model, _ = watched()
    x = np.random.default_rng(1).standard_normal((2, 300, 256)).astype(np.float32)
    results: dict[int, np.ndarray] = {}

    def run(k: int) -> None:
        for _ in range(5):
            results[k] = model.predict(x[k], batch_size=300)

    threads = [threading.Thread(target=run, args=(k,)) for k in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for k in range(2):
        np.testing.assert_allclose(results[k], _in_order(model, x[k]), rtol=1e-5, atol=1e-5)
    assert parallel.blas_threads() == 2


@pytest.mark.parametrize(
    ("n", "rows", "workers", "expected"),
    [
        (256, 64, 2, 64),  # W4 at batch 256: the cache's 4 slices, 2 per core
        (32, 32, 2, 16),  # one cache slice, 4 MiB of work: split in two
        (8, 8, 2, 8),  # 1 MiB of work in all: not worth a thread
        (300, 64, 2, 50),  # 5 cache slices -> 6, evenly filled
        (64, 64, 4, 16),  # more cores, more slices
    ],
)
def test_rows_for_threads(n, rows, workers, expected):
    model = gn.Sequential([L.Input((32, 32, 3)), L.Conv2D(32, 3, padding="same")])
    x = gn.Tensor(np.zeros((n, 32, 32, 3), np.float32))  # largest activation: 128 KiB a sample
    assert training._rows_for_threads(model, x, rows, workers) == expected


@needs_blas
def test_cnn_predictions_on_threads_match_one_pass(monkeypatch):
    """A real CNN, sliced the way W4 is: threads change nothing in the predictions."""
    monkeypatch.setattr(training, "_SLICE_BYTES", 12 * 12 * 8 * 4 * 10)
    gn.set_seed(0)
    model = gn.Sequential(
        [L.Input((12, 12, 3)), L.Conv2D(8, 3, padding="same", activation="relu"),
         L.MaxPooling2D(2), L.Flatten(), L.Dense(4)]
    )  # fmt: skip
    x = np.random.default_rng(0).random((64, 12, 12, 3), dtype=np.float32)
    with threadpoolctl.threadpool_limits(2, user_api="blas"):
        got = model.predict(x, batch_size=64)
    np.testing.assert_allclose(got, _in_order(model, x), rtol=1e-5, atol=1e-6)


def test_evaluate_scores_on_threads_too(two_blas_threads, small_thread_slices, monkeypatch):
    """evaluate (and fit's validation) computes its outputs as predict does: same loss and
    metrics as in order, the work shared by the cores."""
    gn.set_seed(0)
    model, watch = watched()
    model.compile(gn.optimizers.SGD(0.1), "mse", metrics=["mae"])
    rng = np.random.default_rng(2)
    x, y = rng.standard_normal((2, 300, 256)).astype(np.float32)
    threaded = model.evaluate(x, y, batch_size=300, return_dict=True)
    assert len({name for name, _, _ in watch.calls}) == 2
    monkeypatch.setattr(training, "blas_threads", lambda: 1)
    watch.calls.clear()
    in_order = model.evaluate(x, y, batch_size=300, return_dict=True)
    assert len({name for name, _, _ in watch.calls}) == 1
    assert threaded.keys() == in_order.keys()
    for key in threaded:
        assert threaded[key] == pytest.approx(in_order[key], rel=1e-5)
