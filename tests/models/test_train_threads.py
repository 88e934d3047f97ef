"""Training half a batch per core (``models.replay`` replays a share of each batch on each
core): the step's loss, gradients, metrics and weights must equal those of the whole batch in
order, and models where that would not hold run in order."""

from __future__ import annotations

import numpy as np
import pytest
import threadpoolctl

import glassnet as gn
from glassnet import layers as L
from glassnet import parallel
from glassnet.models import replay
from glassnet.ops.dropout import DropoutOp
from glassnet.ops.normalization import BatchNormOp


@pytest.fixture
def two_blas_threads(monkeypatch):
    if parallel._blas() is None:
        pytest.skip("no BLAS threadpoolctl can steer")
    monkeypatch.setattr(replay, "_SHARE_BYTES", 1024)  # small models qualify
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
    """Spy on split_over_cores: how many shares each step that split its batch ran (the
    first two batches of a shape go through the graph: one records the tape, one checks it)."""
    seen: list[int] = []
    real = replay.split_over_cores

    def spy(work, n, linked=False):
        assert linked  # training's shares exchange the whole batch's numbers
        results = real(work, n, linked)
        seen.append(len(results))
        return results

    monkeypatch.setattr(replay, "split_over_cores", spy)
    return seen


def train_both(threaded, in_order, x, y, steps: int, rel: float) -> None:
    """``steps`` training steps of each model, ``threaded`` on two cores and ``in_order`` on
    one BLAS thread (the whole batch in order), with equal losses at every step."""
    for _ in range(steps):
        loss_threaded = threaded.train_step(x, y)
        with threadpoolctl.threadpool_limits(1, user_api="blas"):
            loss_in_order = in_order.train_step(x, y)
        assert loss_threaded == pytest.approx(loss_in_order, rel=rel)


def in_float64(model: gn.Sequential) -> gn.Sequential:
    """The model with float64 weights: "equal" can then be told from float32's rounding."""
    for weight in model.weights:
        weight.data = weight.data.astype(np.float64)
    return model


def test_a_step_on_two_cores_equals_the_whole_batch_in_order(two_blas_threads, monkeypatch):
    x, y = data()
    threaded, in_order = cnn(), cnn()
    seen = shares_seen(monkeypatch)
    train_both(threaded, in_order, x, y, 5, rel=1e-5)  # momentum carries the gradients on
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


def test_batch_norm_and_dropout_on_two_cores_equal_the_whole_batch_in_order(
    two_blas_threads, monkeypatch
):
    """The shares exchange what looks across the batch: BatchNormalization normalises with the
    whole batch's statistics (forward and backward) and updates its moving averages once,
    and Dropout's mask is the one the whole batch would draw. 37 samples: shares of 19 and
    18, so unequal shares must combine exactly too. In float64, so that "exactly" can be
    told from float32's rounding, which normalization magnifies."""

    def model() -> gn.Sequential:
        return in_float64(cnn(L.BatchNormalization(momentum=0.5), L.ReLU(), L.Dropout(0.5, seed=3)))

    x, y = data()
    x = gn.Tensor(x.astype(np.float64))  # a Tensor keeps its dtype (an array becomes float32)
    threaded, in_order = model(), model()
    seen = shares_seen(monkeypatch)
    train_both(threaded, in_order, x, y, 5, rel=1e-12)
    assert seen == [2, 2, 2]
    bn_threaded, bn_in_order = threaded.layers[2], in_order.layers[2]
    for stat in ("moving_mean", "moving_variance"):
        np.testing.assert_allclose(getattr(bn_threaded, stat).numpy(),
                                   getattr(bn_in_order, stat).numpy(), rtol=1e-12)  # fmt: skip
    for a, b in zip(threaded.get_weights(), in_order.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)
    # and not by chance: with each share's own statistics and masks the weights would differ
    for op in (BatchNormOp, DropoutOp):
        monkeypatch.setattr(op, "across_batch", False)  # the shares are not handed to them
    apart, whole = model(), model()
    for _ in range(3):
        apart.train_step(x, y)
    with threadpoolctl.threadpool_limits(1, user_api="blas"):
        for _ in range(3):
            whole.train_step(x, y)
    assert not np.allclose(apart.get_weights()[0], whole.get_weights()[0], rtol=1e-6)


def test_augmentations_on_two_cores_draw_what_the_whole_batch_would(two_blas_threads, monkeypatch):
    """Each image of a share gets the random flip, shift, turn, zoom, crop, brightness and
    contrast it would get in the whole batch in order: the first share draws for all."""

    def model() -> gn.Sequential:
        gn.set_seed(0)
        m = gn.Sequential(
            [L.Input((12, 12, 3)), L.RandomFlip(seed=1), L.RandomTranslation(0.2, 0.2, seed=2),
             L.RandomRotation(0.1, seed=3), L.RandomZoom(0.2, seed=4), L.RandomCrop(10, 10, seed=5),
             L.RandomBrightness(0.2, seed=6), L.RandomContrast(0.2, seed=7),
             L.Conv2D(6, 3, padding="same", activation="relu"), L.Flatten(), L.Dense(4)]
        )  # fmt: skip
        m.compile(
            gn.optimizers.SGD(0.01), gn.losses.SparseCategoricalCrossentropy(from_logits=True)
        )
        return in_float64(m)

    rng = np.random.default_rng(0)
    x = gn.Tensor(rng.standard_normal((37, 12, 12, 3)))  # float64: "equal" up to 1e-12
    y = rng.integers(0, 4, 37)
    threaded, in_order = model(), model()
    seen = shares_seen(monkeypatch)
    train_both(threaded, in_order, x, y, 4, rel=1e-12)
    assert seen == [2, 2]
    for a, b in zip(threaded.get_weights(), in_order.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)


def test_an_error_in_one_share_is_reported_not_the_other_shares_wait(two_blas_threads):
    """A share that fails before an exchange must not leave the other one waiting for its
    numbers forever: the other gives up, and the caller sees the failing share's own error."""

    def work(rows: slice, share: parallel.Share) -> int:
        if share.index == 1:
            raise ValueError("share 1 failed")
        share.gather(rows.start)  # would wait for share 1 forever
        return 0

    with pytest.raises(ValueError, match="share 1 failed"):
        parallel.split_over_cores(work, 8, linked=True)


def test_linked_shares_exchange_values_in_share_order(two_blas_threads):
    def work(rows: slice, share: parallel.Share) -> tuple:
        firsts = [share.gather(rows.start) for _ in range(3)]  # the slots are reused in turn
        drawn = share.from_first(lambda: np.arange(share.total) * 10)
        return share.index, share.rows, share.total, firsts, drawn[share.rows].tolist()

    results = parallel.split_over_cores(work, 5, linked=True)
    assert [r[:3] for r in results] == [(0, slice(0, 3), 5), (1, slice(3, 5), 5)]
    assert all(r[3] == [[0, 3]] * 3 for r in results)
    assert [r[4] for r in results] == [[0, 10, 20], [30, 40]]
    # in order (one BLAS thread), the one share is the whole batch, and no Share is needed
    with threadpoolctl.threadpool_limits(1, user_api="blas"):
        assert parallel.split_over_cores(lambda *args: args, 5, linked=True) == [
            (slice(0, 5), None)
        ]


@pytest.mark.parametrize(
    "why",
    ["a loss of the user's", "a layer of the user's", "the batch is too small"],
)  # fmt: skip
def test_steps_that_would_change_run_in_order(two_blas_threads, monkeypatch, why):
    class Halved(gn.losses.Loss):  # a user's loss might not be a mean over the batch
        def call(self, y_true, y_pred):
            return gn.losses.SparseCategoricalCrossentropy()(y_true, y_pred) * 0.5

    class Same(L.Layer):
        def call(self, x, training=False):
            return x

    extra = {"a layer of the user's": [Same()]}.get(why, [])
    model = cnn(
        *extra,
        loss=Halved() if why == "a loss of the user's" else "sparse_categorical_crossentropy",
    )
    x, y = data(2 if why == "the batch is too small" else 37)
    if why == "the batch is too small":
        monkeypatch.setattr(replay, "_SHARE_BYTES", 10**9)
    seen = shares_seen(monkeypatch)
    for _ in range(4):
        assert np.isfinite(model.train_step(x, y))
    assert seen == []


def test_a_step_whose_cores_are_taken_runs_whole_and_right(two_blas_threads):
    """Another thread holding the cores (a parallel predict) leaves one share: the whole batch,
    whose gradients are the step's as they are."""
    x, y = data()
    held, in_order = cnn(), cnn()
    for _ in range(3):
        with parallel.blas_on_one_thread():
            loss_held = held.train_step(x, y)
        with threadpoolctl.threadpool_limits(1, user_api="blas"):
            loss_in_order = in_order.train_step(x, y)
        assert loss_held == pytest.approx(loss_in_order, rel=1e-6)
    for a, b in zip(held.get_weights(), in_order.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)


def test_a_replayed_step_whose_cores_are_taken_meanwhile_runs_whole(two_blas_threads, monkeypatch):
    """Another thread holding the cores (a parallel predict) while the step has two BLAS
    threads: the shares run as one, the whole batch in order, through the whole batch's tape."""
    x, y = data()
    held, in_order = cnn(), cnn()
    for _ in range(3):  # the third step replays in shares
        held.train_step(x, y)
    with threadpoolctl.threadpool_limits(1, user_api="blas"):
        for _ in range(3):
            in_order.train_step(x, y)
    seen = shares_seen(monkeypatch)
    with parallel._one_thread_lock:  # as a predict on another thread would hold it
        loss_held = held.train_step(x, y)
    assert seen == [1]
    with threadpoolctl.threadpool_limits(1, user_api="blas"):
        loss_in_order = in_order.train_step(x, y)
    assert loss_held == pytest.approx(loss_in_order, rel=1e-5)


def test_a_nan_loss_on_two_cores_stops_before_any_update(two_blas_threads, monkeypatch):
    model = cnn()
    x, y = data()
    for _ in range(2):  # the graph records the tape, then checks it
        model.train_step(x, y)
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
    for _ in range(3):  # shares from the third step on
        model.train_step(x, y)
    seen = shares_seen(monkeypatch)
    with pytest.raises(ValueError) as threaded:
        model.train_step(x, y[:-5])
    assert seen == []
    with threadpoolctl.threadpool_limits(1, user_api="blas"), pytest.raises(ValueError) as plain:
        model.train_step(x, y[:-5])
    assert str(threaded.value) == str(plain.value)
    assert "(37, 4)" in str(threaded.value)  # the whole batch's outputs, not a share's


def test_a_loss_that_sums_over_the_batch_runs_in_order(two_blas_threads, monkeypatch):
    """Cosine similarity along axis 0 compares each output column across the samples: the
    shares' losses would not add up to the batch's, so the step keeps the whole batch."""
    model = cnn(loss=gn.losses.CosineSimilarity(axis=0))
    x, labels = data()
    y = np.eye(4, dtype=np.float32)[labels]
    seen = shares_seen(monkeypatch)
    for _ in range(4):
        assert np.isfinite(model.train_step(x, y))
    assert seen == []
    model.compile(gn.optimizers.SGD(0.1), gn.losses.CosineSimilarity(axis=-1))
    for _ in range(4):
        model.train_step(x, y)
    assert seen == [2, 2]  # along each sample's outputs it is a mean over samples: shares


def test_a_share_that_cannot_be_recorded_leaves_the_batch_replaying_in_order(
    two_blas_threads, monkeypatch
):
    """Recording a share's tape runs the graph on half the batch; if that fails, the whole
    batch (which ran) keeps replaying in order instead of the step raising."""
    model = cnn()
    x, y = data()
    for _ in range(2):  # the graph records the tape, then checks it
        model.train_step(x, y)

    def refuse():
        raise RuntimeError("no recording of a share")

    monkeypatch.setattr(replay, "record_ops", refuse)
    seen = shares_seen(monkeypatch)
    for _ in range(2):
        assert np.isfinite(model.train_step(x, y))
    assert seen == []


@pytest.mark.parametrize("kind", ["multi_head", "dot", "additive"])
def test_attention_with_padding_and_dropout_on_two_cores_equals_the_whole_batch(
    two_blas_threads, monkeypatch, kind
):
    """A transformer-style model trains a share per core: attention treats each sample on
    its own (its padding mask too) and its dropout draws the whole batch's mask. Float64."""

    def model() -> gn.Model:
        gn.set_seed(0)
        inputs = gn.Input((6,), dtype="int64")
        x = L.Embedding(12, 8, mask_zero=True)(inputs)
        if kind == "multi_head":
            att = L.MultiHeadAttention(2, 4, dropout=0.3, seed=1)(x, x, use_causal_mask=True)
        elif kind == "dot":
            att = L.Attention(use_scale=True, dropout=0.3, seed=1)([x, x])
        else:
            att = L.AdditiveAttention(dropout=0.3, seed=1)([x, x])
        x = L.LayerNormalization()(x + att)
        net = gn.Model(inputs, L.Dense(3)(L.GlobalAveragePooling1D()(x)))
        net.compile(gn.optimizers.SGD(0.1, momentum=0.9), "sparse_categorical_crossentropy")
        return in_float64(net)

    rng = np.random.default_rng(2)
    ids = rng.integers(1, 12, (37, 6))
    ids[:, 3:] *= rng.integers(0, 2, (37, 3))  # padding at the end of some samples
    y = rng.integers(0, 3, 37)
    threaded, in_order = model(), model()
    seen = shares_seen(monkeypatch)
    train_both(threaded, in_order, ids, y, 5, rel=1e-12)
    assert seen == [2, 2, 2]
    for a, b in zip(threaded.get_weights(), in_order.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)
