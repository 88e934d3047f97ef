"""compile/fit/evaluate/predict: the training loop, its stopping rules and its errors."""

from __future__ import annotations

import numpy as np
import pytest

import glassnet as gn
from glassnet import callbacks as cb
from glassnet import layers as L


def blobs(n: int = 120, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Three well-separated clusters in 2-D: an easy, fast classification problem."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 3
    centres = np.array([[2.0, 0.0], [-2.0, 2.0], [0.0, -2.5]])
    return (centres[y] + 0.5 * rng.standard_normal((n, 2))).astype(np.float32), y


def mlp(seed: int = 0) -> gn.Sequential:
    gn.set_seed(seed)
    return gn.Sequential(
        [L.Input((2,)), L.Dense(16, activation="relu"), L.Dense(3, activation="softmax")]
    )


def test_fit_learns_and_history_records_every_epoch():
    x, y = blobs()
    model = mlp()
    model.compile(gn.optimizers.Adam(0.02), "sparse_categorical_crossentropy", ["accuracy"])
    history = model.fit(x, y, epochs=15, batch_size=16, validation_split=0.25, verbose=0)
    assert set(history.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert len(history.history["loss"]) == 15 and history.epoch == list(range(15))
    assert history.history["loss"][-1] < history.history["loss"][0] / 3
    assert history.history["val_accuracy"][-1] >= 0.95
    _, accuracy = model.evaluate(x, y)
    assert accuracy >= 0.95
    assert model.evaluate(x, y, return_dict=True)["accuracy"] == accuracy
    probs = model.predict(x, batch_size=7)
    assert probs.shape == (120, 3) and probs.dtype == np.float32
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)


def test_compile_accepts_objects_and_keras_strings():
    x, y = blobs(30)
    model = mlp()
    model.compile(
        optimizer=gn.optimizers.SGD(0.1, momentum=0.9),
        loss=gn.losses.SparseCategoricalCrossentropy(),
        metrics=[gn.metrics.SparseCategoricalAccuracy()],
    )
    assert model.metrics_names == ["loss", "accuracy"]
    model.fit(x, y, epochs=2, verbose=0)
    for name in ("sgd", "adam", "rmsprop", "adamw"):
        model.compile(name, "sparse_categorical_crossentropy")
        model.fit(x, y, epochs=1, verbose=0)
    onehot = np.eye(3, dtype=np.float32)[y]
    model.compile("adam", "categorical_crossentropy", metrics=["accuracy"])
    assert isinstance(model.compiled_metrics[0], gn.metrics.CategoricalAccuracy)
    model.fit(x, onehot, epochs=1, verbose=0)
    regression = gn.Sequential([L.Input((2,)), L.Dense(1)])
    regression.compile("sgd", "mse", metrics=["mae"])
    regression.fit(x, x[:, :1] * 2, epochs=1, verbose=0)


def test_set_seed_makes_training_bit_for_bit_reproducible():
    x, y = blobs()
    runs = []
    for _ in range(2):
        model = mlp(seed=42)
        model.compile("adam", "sparse_categorical_crossentropy")
        model.fit(x, y, epochs=3, batch_size=8, verbose=0)
        runs.append(model.get_weights())
    for a, b in zip(*runs, strict=True):
        np.testing.assert_array_equal(a, b)


class Stream:
    """Data that arrives in (x, y) batches, as a loader for photos on disk would give it."""

    def __init__(self, x, y, size):
        self.x, self.y, self.size = x, y, size

    def __len__(self):
        return -(-len(self.x) // self.size)

    def __iter__(self):
        for i in range(0, len(self.x), self.size):
            yield self.x[i : i + self.size], self.y[i : i + self.size]


def test_validation_data_and_streamed_batches():
    x, y = blobs()
    model = mlp()
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    batches = Stream(x, y, 20)
    history = model.fit(batches, epochs=3, validation_data=(x[:30], y[:30]), verbose=0)
    assert "val_accuracy" in history.history
    assert model.evaluate(batches) == pytest.approx(model.evaluate(x, y))
    np.testing.assert_allclose(model.predict(batches), model.predict(x), rtol=1e-6)


def test_a_list_of_batches_is_a_dataset():
    """A list of (x, y) batch tuples (a dataset in memory, e.g. each batch mapped through a
    TextVectorization) trains, validates and evaluates as the arrays would; a list of arrays
    is still a model's several inputs."""
    x, y = blobs()
    model = mlp()
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    ds = [(x[i : i + 20], y[i : i + 20]) for i in range(0, 120, 20)]
    history = model.fit(ds, epochs=3, validation_data=ds[:2], verbose=0)
    assert len(history.history["loss"]) == 3 and "val_accuracy" in history.history
    assert model.evaluate(ds) == pytest.approx(model.evaluate(x, y))
    np.testing.assert_allclose(model.predict(ds), model.predict(x), rtol=1e-6)
    with pytest.raises(ValueError, match="y is missing"):
        model.fit([x], epochs=1, verbose=0)


def test_streamed_batches_may_give_the_inputs_as_a_dict_by_name():
    """A dataset of ({name: column}, y) batches, as tf.data gives a structured-data model:
    the dict is put in the model's input order for each batch, in fit, evaluate and predict."""
    x, y = blobs()
    a, b = gn.Input((1,), name="a"), gn.Input((1,), name="b")
    hidden = L.Dense(16, activation="relu")(L.concatenate([a, b]))
    model = gn.Model([a, b], L.Dense(3, activation="softmax")(hidden))
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    ds = [
        ({"b": x[i : i + 20, 1:], "a": x[i : i + 20, :1]}, y[i : i + 20]) for i in range(0, 120, 20)
    ]
    history = model.fit(ds, epochs=20, validation_data=ds[:2], verbose=0)
    assert history.history["accuracy"][-1] > 0.9
    arrays = [x[:, :1], x[:, 1:]]
    assert model.evaluate(ds) == pytest.approx(model.evaluate(arrays, y))
    np.testing.assert_allclose(model.predict(ds), model.predict(arrays), rtol=1e-6)


def test_stop_at_threshold_ends_training_when_the_error_is_small_enough():
    x, y = blobs()
    model = mlp()
    model.compile("adam", "sparse_categorical_crossentropy")
    history = model.fit(
        x, y, epochs=200, batch_size=16, verbose=0, callbacks=[cb.StopAtThreshold("loss", 0.2)]
    )
    assert len(history.epoch) < 200 and history.history["loss"][-1] <= 0.2
    assert "reached the threshold" in history.stop_reason


def test_early_stopping_restores_the_best_weights():
    x, y = blobs()
    model = mlp()
    model.compile(gn.optimizers.SGD(0.5), "sparse_categorical_crossentropy")
    stopper = cb.EarlyStopping("val_loss", patience=1, restore_best_weights=True)
    history = model.fit(
        x, y, epochs=60, validation_split=0.3, verbose=0, callbacks=[stopper], shuffle=False
    )
    if stopper.stopped_epoch is not None:
        best = min(history.history["val_loss"])
        xv, yv = x[84:], y[84:]
        assert model.evaluate(xv, yv) == pytest.approx(best, rel=1e-5)


def test_nan_loss_stops_with_a_message_and_keeps_finite_weights():
    x, y = blobs()
    x[70] = np.nan  # one poisoned sample: its batch's loss is NaN
    model = mlp()
    model.compile("sgd", "sparse_categorical_crossentropy")
    with pytest.warns(
        gn.models.NonFiniteLossWarning, match=r"epoch 1, batch 5 of 8.*smaller learning rate"
    ):
        history = model.fit(x, y, epochs=3, batch_size=16, shuffle=False, verbose=0)
    assert "loss became nan" in history.stop_reason and history.epoch == []
    assert all(np.isfinite(w).all() for w in model.get_weights())


def test_exploding_learning_rate_is_caught():
    x, y = blobs()
    model = gn.Sequential([L.Input((2,)), L.Dense(8, activation="relu"), L.Dense(1)])
    model.compile(gn.optimizers.SGD(1e4), "mse")  # far too large: the weights blow up
    with pytest.warns(gn.models.NonFiniteLossWarning, match="Try a smaller learning rate"):
        history = model.fit(x, y.astype(np.float32), epochs=50, verbose=0)
    assert len(history.epoch) < 50
    assert all(np.isfinite(w).all() for w in model.get_weights())


def test_train_test_predict_on_batch():
    x, y = blobs(32)
    model = mlp()
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    loss, acc = model.train_on_batch(x, y)
    assert np.isfinite(loss) and 0 <= acc <= 1
    assert set(model.test_on_batch(x, y, return_dict=True)) == {"loss", "accuracy"}
    assert model.predict_on_batch(x).shape == (32, 3)
    assert not model.layers[0].training  # back in inference mode


def test_verbose_prints_one_line_per_epoch(capsys):
    x, y = blobs(30)
    model = mlp()
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, y, epochs=2, verbose=1)
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2 and lines[1].startswith("Epoch 2/2") and "accuracy" in lines[1]
    model.fit(x, y, epochs=1, verbose=0)
    assert capsys.readouterr().out == ""


def test_user_errors_name_the_problem():
    x, y = blobs(30)
    model = mlp()
    with pytest.raises(RuntimeError, match=r"not compiled. Call model.compile"):
        model.fit(x, y)
    with pytest.raises(ValueError, match="'loss' is required"):
        model.compile("adam")
    model.compile("adam", "sparse_categorical_crossentropy")
    with pytest.raises(ValueError, match="x has 30 samples but y has 29"):
        model.fit(x, y[:-1], verbose=0)
    with pytest.raises(ValueError, match="y is missing"):
        model.fit(x, verbose=0)
    with pytest.raises(ValueError, match="'batch_size' must be a positive integer"):
        model.fit(x, y, batch_size=0, verbose=0)
    with pytest.raises(ValueError, match=r"'validation_split' must be in \[0, 1\)"):
        model.fit(x, y, validation_split=1.5, verbose=0)
    with pytest.raises(ValueError, match="leaves no validation samples"):
        model.fit(x[:3], y[:3], validation_split=0.2, verbose=0)
    with pytest.raises(ValueError, match="x holds no samples"):
        model.predict(np.zeros((0, 2), np.float32))
    with pytest.raises(ValueError, match=r"expects input shape \(None, 2\).*received \(2,\)"):
        model.predict(np.zeros(2, np.float32))
    with pytest.raises(ValueError, match="Unknown loss 'crossentropy'"):
        model.compile("adam", "crossentropy")
    with pytest.raises(ValueError, match="resume=True needs checkpoint_dir"):
        model.fit(x, y, resume=True, verbose=0)


def test_frozen_layers_do_not_change_and_count_as_non_trainable():
    x, y = blobs()
    model = mlp()
    model.compile("adam", "sparse_categorical_crossentropy")
    first = model.layers[0]
    first.trainable = False
    before = first.get_weights()
    model.fit(x, y, epochs=2, verbose=0)
    for a, b in zip(before, first.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    assert sum(w.size for w in model.non_trainable_weights) == 2 * 16 + 16
    first.trainable = True  # unfreezing needs no recompile
    model.fit(x, y, epochs=1, verbose=0)
    assert not np.array_equal(before[0], first.get_weights()[0])


def test_a_new_head_learns_without_recompiling_and_keeps_the_base_state():
    x, y = blobs()
    model = mlp()
    model.compile("adam", "sparse_categorical_crossentropy")
    model.fit(x, y, epochs=1, verbose=0)
    base_state = model.optimizer.state_dict()["0.m"].copy()
    model.pop()
    model.add(L.Dense(3, activation="softmax"))
    before = model.layers[-1].get_weights()
    model.fit(x, y, epochs=2, verbose=0)
    assert not np.array_equal(before[0], model.layers[-1].get_weights()[0])
    assert model.optimizer.iterations > 0
    assert not np.array_equal(base_state, model.optimizer.state_dict()["0.m"])


def test_get_layer_by_name_or_index():
    model = mlp()
    first = model.layers[0]
    assert model.get_layer(first.name) is first and model.get_layer(index=-1) is model.layers[-1]
    with pytest.raises(ValueError, match="no layer named 'nope'"):
        model.get_layer("nope")


def test_loaded_names_are_not_handed_out_again(tmp_path):
    gn.Sequential([L.Input((4,)), L.Dense(3, name="dense_7"), L.Dense(2)]).save(tmp_path / "m")
    model = gn.load_model(tmp_path / "m")
    model.pop()
    model.add(L.Dense(5))  # an automatic name must not clash with the loaded ones
    assert len({layer.name for layer in model.layers}) == 2
    assert L.Dense(1).name not in {"dense_7"}


def test_predict_runs_a_large_batch_in_cache_sized_slices(monkeypatch):
    """A batch whose activations outgrow the cache goes through the network a slice at a time:
    the same predictions as the whole batch at once, in the same order."""
    from glassnet.models import training

    gn.set_seed(0)
    model = gn.Sequential(
        [L.Input((12, 12, 3)), L.Conv2D(8, 3, padding="same", activation="relu"), L.Flatten(),
         L.Dense(4)]
    )  # fmt: skip
    assert model.largest_activation((12, 12, 3)) == 12 * 12 * 8
    x = np.random.default_rng(0).random((100, 12, 12, 3), dtype=np.float32)
    monkeypatch.setattr(training, "_SLICE_BYTES", 12 * 12 * 8 * 4 * 24)  # 24 samples a slice
    assert training.inference_rows(model, gn.Tensor(x)) == 24
    monkeypatch.setattr(training, "_cores_for", lambda x: 1)  # slices in order, on this thread
    seen = []
    infer = training._infer  # each slice's pass, replayed or through call
    monkeypatch.setattr(training, "_infer", lambda m, x: seen.append(len(x)) or infer(m, x))
    sliced = model.predict(x, batch_size=100)
    assert seen == [24, 24, 24, 24, 4]
    with gn.no_grad():
        whole = model(gn.Tensor(x)).numpy()
    np.testing.assert_allclose(sliced, whole, rtol=1e-5, atol=1e-6)
    seen.clear()
    model.predict(x[:16], batch_size=16)  # small batches run whole
    assert seen == [16]


def test_subclassed_models_predict_whole_batches():
    """A subclassed model cannot tell its activation sizes without running: no slicing."""

    class Twice(gn.Model):
        def __init__(self) -> None:
            super().__init__()
            self.dense = L.Dense(3)

        def call(self, x, training=False):
            return self.dense(x) * 2

    model = Twice()
    assert model.largest_activation((5,)) is None
    x = np.ones((300, 5), np.float32)
    from glassnet.models import training

    assert training.inference_rows(model, gn.Tensor(x)) == 300
    assert model.predict(x, batch_size=300).shape == (300, 3)


def test_predict_never_returns_a_view_of_the_input():
    """A model that only reshapes returns a view of its input; predict must still hand back an
    array of its own, so editing the predictions cannot edit the data."""
    model = gn.Sequential([L.Input((2, 3)), L.Flatten()])
    x = np.arange(24, dtype=np.float32).reshape(4, 2, 3)
    out = model.predict(x, batch_size=4)
    assert not np.shares_memory(out, x)
    out[:] = -1
    assert x[0, 0, 0] == 0


def test_predict_verbose_reports_progress(capsys):
    """predict(verbose=...) is not ignored: 2 (or 1 off a terminal) prints one summary line
    with the samples and batches done; 0 prints nothing."""
    model = mlp()
    x, _ = blobs(50)
    model.predict(x, batch_size=8, verbose=0)
    assert capsys.readouterr().out == ""
    for verbose in (1, 2):
        model.predict(x, batch_size=8, verbose=verbose)
        line = capsys.readouterr().out
        assert line.startswith("predict: 50 samples in 7 batches") and line.endswith("s\n")


def test_predict_progress_bar_on_a_terminal():
    """On a terminal, verbose=1 draws rich's bar and counts every batch."""
    import io

    from glassnet.callbacks import PredictProgress

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    out = Terminal()
    with PredictProgress(1, total=3, stream=out) as progress:
        for _ in range(3):
            progress.advance(4)
    assert progress._progress is not None and progress.batches == 3 and progress.samples == 12
    assert "predict" in out.getvalue() and "3/3" in out.getvalue()


def test_largest_activation_follows_the_stack():
    """predict asks once per batch, so the answer is remembered — but not past a change of
    input shape or of the layers."""
    model = gn.Sequential([L.Input((4,)), L.Dense(8)])
    assert model.largest_activation((4,)) == 8
    assert model.largest_activation((4,)) == 8
    model.add(L.Dense(100))
    assert model.largest_activation((4,)) == 100
    assert gn.Sequential([L.Flatten()]).largest_activation((5, 6)) == 30
