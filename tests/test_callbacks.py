"""Callbacks driven by hand with a stand-in model, so each rule is tested on its own."""

from __future__ import annotations

import csv
import io
import math

import numpy as np
import pytest

import glassnet as gn
from glassnet import callbacks as cb
from glassnet import layers as L
from glassnet.optimizers import SGD
from glassnet.optimizers.schedules import CosineDecay, ExponentialDecay


class StandInModel:
    """Just what callbacks touch: weights, an optimizer, stop_training, save."""

    def __init__(self):
        self.weights = [np.zeros(2, np.float32)]
        self.stop_training = False
        self.stop_reason = None
        self.optimizer = type("Opt", (), {"learning_rate": 0.1})()
        self.saved = []

    def get_weights(self):
        return [w.copy() for w in self.weights]

    def set_weights(self, weights):
        self.weights = [w.copy() for w in weights]

    def save(self, path):
        self.saved.append(("model", path))

    def save_weights(self, path):
        self.saved.append(("weights", path))


def drive(callback, values, key="val_loss", model=None):
    """Run epochs whose logs[key] take ``values``; the weights record the epoch index."""
    model = model or StandInModel()
    callback.set_model(model)
    callback.set_params({"epochs": len(values), "steps": 1})
    callback.on_train_begin()
    epochs = 0
    for epoch, value in enumerate(values):
        callback.on_epoch_begin(epoch)
        model.weights = [np.full(2, epoch, np.float32)]
        callback.on_epoch_end(epoch, {key: value})
        epochs += 1
        if model.stop_training:
            break
    callback.on_train_end()
    return model, epochs


def test_early_stopping_waits_patience_epochs_and_restores_the_best():
    es = cb.EarlyStopping(monitor="val_loss", patience=2, restore_best_weights=True)
    model, epochs = drive(es, [1.0, 0.5, 0.6, 0.7, 0.1])
    assert epochs == 4 and es.stopped_epoch == 3
    np.testing.assert_array_equal(model.weights[0], [1, 1])  # epoch 1 had the best val_loss
    assert "did not improve for 2 epochs" in model.stop_reason


def test_early_stopping_min_delta_and_max_mode():
    es = cb.EarlyStopping(monitor="val_accuracy", min_delta=0.05, patience=0)
    _, epochs = drive(es, [0.5, 0.52, 0.9], key="val_accuracy")
    assert epochs == 2  # +0.02 is not an improvement of at least 0.05
    assert es.mode == "max"


def test_early_stopping_names_a_missing_monitor():
    es = cb.EarlyStopping(monitor="val_loss")
    with pytest.raises(KeyError, match="monitor 'val_loss' is not in the logs \\(loss\\)"):
        drive(es, [1.0], key="loss")


def test_stop_at_threshold_is_the_texts_second_stopping_rule():
    stop = cb.StopAtThreshold(monitor="loss", threshold=0.01)
    model, epochs = drive(stop, [0.5, 0.1, 0.009, 0.001], key="loss")
    assert epochs == 3 and "reached the threshold 0.01 after epoch 3" in model.stop_reason
    acc = cb.StopAtThreshold(monitor="accuracy", threshold=0.9)
    _, epochs = drive(acc, [0.5, 0.95], key="accuracy")
    assert epochs == 2


def test_stop_at_threshold_per_batch():
    stop = cb.StopAtThreshold(monitor="loss", threshold=0.5, check="batch")
    model = StandInModel()
    stop.set_model(model)
    stop.on_train_batch_end(0, {"loss": 0.7})
    assert not model.stop_training
    stop.on_train_batch_end(1, {"loss": 0.4})
    assert model.stop_training and "at batch 2" in model.stop_reason
    with pytest.raises(ValueError, match="validation metrics exist only per epoch"):
        cb.StopAtThreshold(monitor="val_loss", check="batch")


def test_terminate_on_nan():
    t = cb.TerminateOnNaN()
    model = StandInModel()
    t.set_model(model)
    t.on_train_batch_end(0, {"loss": 1.0})
    assert not model.stop_training
    t.on_train_batch_end(1, {"loss": math.nan})
    assert model.stop_training


def test_history_records_each_epoch():
    h = cb.History()
    drive(h, [3.0, 2.0], key="loss")
    assert h.history == {"loss": [3.0, 2.0]} and h.epoch == [0, 1]


def test_history_plot_writes_a_png(tmp_path):
    pytest.importorskip("matplotlib")
    h = cb.History()
    h.on_epoch_end(0, {"loss": 1.0, "val_loss": 1.2})
    h.on_epoch_end(1, {"loss": 0.5, "val_loss": 0.8})
    h.plot(tmp_path / "curves.png")
    assert (tmp_path / "curves.png").read_bytes()[:4] == b"\x89PNG"


def test_model_checkpoint_formats_names_and_keeps_only_the_best():
    ck = cb.ModelCheckpoint("ck-{epoch:02d}-{val_loss:.2f}.glassnet", save_best_only=True)
    model, _ = drive(ck, [1.0, 2.0, 0.5])
    assert model.saved == [("model", "ck-01-1.00.glassnet"), ("model", "ck-03-0.50.glassnet")]
    weights_only = cb.ModelCheckpoint("w.safetensors", save_weights_only=True)
    model, _ = drive(weights_only, [1.0, 2.0])
    assert model.saved == [("weights", "w.safetensors")] * 2
    with pytest.raises(KeyError, match="names 'acc'"):
        drive(cb.ModelCheckpoint("{acc}.glassnet"), [1.0])


def test_csv_logger_writes_one_row_per_epoch(tmp_path):
    path = tmp_path / "log.csv"
    logger = cb.CSVLogger(path)
    drive(logger, [0.5, 0.25], key="loss")
    rows = list(csv.reader(path.open()))
    assert rows == [["epoch", "loss"], ["0", "0.5"], ["1", "0.25"]]
    drive(cb.CSVLogger(path, append=True), [0.1], key="loss")
    assert list(csv.reader(path.open()))[-1] == ["0", "0.1"]


def test_learning_rate_scheduler_and_schedules():
    step = cb.StepDecay(1.0, factor=0.5, every=2)
    assert [step(e) for e in range(5)] == [1.0, 1.0, 0.5, 0.5, 0.25]
    sched = cb.LearningRateScheduler(step)
    model = StandInModel()
    sched.set_model(model)
    logs = {}
    for epoch in range(3):
        sched.on_epoch_begin(epoch)
        sched.on_epoch_end(epoch, logs)
    assert model.optimizer.learning_rate == 0.5 and logs["learning_rate"] == 0.5
    bad = cb.LearningRateScheduler(lambda epoch, lr: -1.0)
    bad.set_model(model)
    with pytest.raises(ValueError, match="returned -1.0 for epoch 0"):
        bad.on_epoch_begin(0)
    with pytest.raises(ValueError, match="need every >= 1"):
        cb.StepDecay(1.0, every=0)


def run_scheduler(scheduler, epochs):
    model = StandInModel()
    scheduler.set_model(model)
    rates = []
    for epoch in range(epochs):
        scheduler.on_epoch_begin(epoch)
        rates.append(model.optimizer.learning_rate)
    return rates


def test_learning_rate_scheduler_steps_a_keras_schedule_per_epoch():
    # What callbacks.CosineDecay(0.1, epochs=4, min_learning_rate=0.01) used to do: the
    # schedule is called with the epoch, as Keras's LearningRateScheduler does.
    cosine = CosineDecay(0.1, decay_steps=4, alpha=0.01 / 0.1)
    rates = run_scheduler(cb.LearningRateScheduler(cosine), 6)
    want = [0.01 + 0.09 * 0.5 * (1 + math.cos(math.pi * min(e, 4) / 4)) for e in range(6)]
    assert rates == pytest.approx(want, rel=1e-12)
    assert rates[0] == pytest.approx(0.1) and rates[4] == rates[5] == pytest.approx(0.01)
    # a one-argument function works too (Keras's older form), and a two-argument one gets lr
    assert run_scheduler(cb.LearningRateScheduler(lambda epoch: 0.1 / (epoch + 1)), 2) == [
        0.1,
        0.05,
    ]
    assert run_scheduler(cb.LearningRateScheduler(lambda epoch, lr: lr * 0.5), 2) == [0.05, 0.025]
    with pytest.raises(TypeError, match="must be a function schedule"):
        cb.LearningRateScheduler(0.1)
    with pytest.raises(TypeError, match=r"must accept \(epoch, lr\) or \(epoch\)"):
        cb.LearningRateScheduler(lambda: 0.1)


def test_learning_rate_scheduler_refuses_an_optimizer_with_a_schedule():
    model = StandInModel()
    model.optimizer = SGD(ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5))
    sched = cb.LearningRateScheduler(cb.StepDecay(0.1))
    sched.set_model(model)
    with pytest.raises(TypeError, match=r"already a schedule \(ExponentialDecay\).*Keep one"):
        sched.on_epoch_begin(0)


def test_the_per_epoch_cosine_callback_is_gone_with_directions():
    # callbacks.CosineDecay took (initial, epochs, min_learning_rate) per epoch; Keras's
    # CosineDecay is a per-step schedule with other arguments, so no alias could be safe.
    with pytest.raises(AttributeError, match=r"optimizers\.schedules\.CosineDecay.*alpha=min"):
        cb.CosineDecay  # noqa: B018
    with pytest.raises(AttributeError, match="has no attribute 'Nope'"):
        cb.Nope  # noqa: B018


def test_progress_bar_prints_one_line_per_epoch_off_a_terminal():
    out = io.StringIO()
    bar = cb.ProgressBar(verbose=1, stream=out)
    drive(bar, [0.5, 0.25], key="loss")
    lines = out.getvalue().splitlines()
    assert len(lines) == 2 and lines[0].startswith("Epoch 1/2") and "loss: 0.5" in lines[0]
    quiet = io.StringIO()
    drive(cb.ProgressBar(verbose=0, stream=quiet), [0.5], key="loss")
    assert quiet.getvalue() == ""


def test_progress_bar_draws_a_live_bar_on_a_terminal():
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    out = Terminal()
    bar = cb.ProgressBar(verbose=1, stream=out)
    bar.set_model(StandInModel())
    bar.set_params({"epochs": 1, "steps": 3})
    bar.on_epoch_begin(0)
    for b in range(3):
        bar.on_train_batch_end(b, {"loss": 1.0 / (b + 1)})
    bar.on_epoch_end(0, {"loss": 0.33})
    text = out.getvalue()
    assert "Epoch 1/1" in text and "3/3" in text and "loss: 0.33" in text


def plateau(callback, values, key="val_loss", lr=0.1):
    """Drive ``callback`` through epochs whose ``logs[key]`` take ``values``: the rate each
    epoch logged, and the rate after the last epoch."""
    model = StandInModel()
    model.optimizer.learning_rate = lr
    callback.set_model(model)
    callback.on_train_begin()
    logged = []
    for epoch, value in enumerate(values):
        logs = {key: value}
        callback.on_epoch_end(epoch, logs)
        logged.append(logs["learning_rate"])
    return logged, model.optimizer.learning_rate


def test_reduce_lr_on_plateau_waits_cools_down_and_stops_at_min_lr():
    reduce = cb.ReduceLROnPlateau(factor=0.5, patience=2, cooldown=2, min_lr=0.02)
    values = [1.0, 0.9] + [0.95] * 11 + [0.5]
    logged, final = plateau(reduce, values)
    # e0, e1 improve; e2, e3 do not: the rate halves after e3 (logged from e4 on). Cooldown
    # 2: e4 counts nothing, e5 and e6 wait, halve after e6. Again after e9, to
    # max(0.0125, min_lr). At min_lr it stays (e12); e13 improves.
    want = [0.1] * 4 + [0.05] * 3 + [0.025] * 3 + [0.02] * 4
    assert logged == pytest.approx(want, rel=1e-12)
    assert final == 0.02 and reduce.best == 0.5 and reduce.wait == 0


def test_reduce_lr_on_plateau_without_cooldown_and_with_min_delta_in_max_mode():
    reduce = cb.ReduceLROnPlateau(monitor="val_accuracy", patience=1, min_delta=0.01)
    assert reduce.mode == "max"
    # 0.505 beats 0.5 by less than min_delta: no improvement; nor does 0.51 beat it by more.
    logged, final = plateau(reduce, [0.5, 0.505, 0.51, 0.6, 0.6], key="val_accuracy")
    assert logged == pytest.approx([0.1, 0.1, 0.01, 0.001, 0.001], rel=1e-12)
    assert final == pytest.approx(1e-4, rel=1e-12)
    # cooldown 1 is Keras's too: the epoch after a drop already counts, as with cooldown 0
    one, _ = plateau(cb.ReduceLROnPlateau(patience=1, cooldown=1), [1.0, 1.0, 1.0])
    zero, _ = plateau(cb.ReduceLROnPlateau(patience=1, cooldown=0), [1.0, 1.0, 1.0])
    assert one == zero == pytest.approx([0.1, 0.1, 0.01])


def test_reduce_lr_on_plateau_checks_its_arguments_and_the_monitor():
    with pytest.raises(ValueError, match=r"ReduceLROnPlateau: 'factor' must be in \[0.0, 1.0\)"):
        cb.ReduceLROnPlateau(factor=1.0)
    with pytest.raises(ValueError, match="'patience' must be an integer >= 0"):
        cb.ReduceLROnPlateau(patience=-1)
    with pytest.raises(ValueError, match="'cooldown' must be an integer >= 0"):
        cb.ReduceLROnPlateau(cooldown=1.5)
    with pytest.raises(ValueError, match="ReduceLROnPlateau: mode must be"):
        cb.ReduceLROnPlateau(mode="up")
    with pytest.raises(KeyError, match=r"monitor 'val_loss' is not in the logs \(loss"):
        plateau(cb.ReduceLROnPlateau(), [1.0], key="loss")


def test_reduce_lr_on_plateau_refuses_an_optimizer_with_a_schedule():
    model = StandInModel()
    model.optimizer = SGD(ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5))
    reduce = cb.ReduceLROnPlateau()
    reduce.set_model(model)
    with pytest.raises(TypeError, match=r"ReduceLROnPlateau: .*schedule \(ExponentialDecay\)"):
        reduce.on_train_begin()


def test_reduce_lr_on_plateau_in_a_real_fit():
    gn.set_seed(0)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((32, 4)).astype(np.float32)
    y = (x.sum(axis=1) > 0).astype(np.int64)
    model = gn.Sequential([L.Input((4,)), L.Dense(2, activation="softmax")])
    model.compile(SGD(0.1), "sparse_categorical_crossentropy", ["accuracy"])
    # min_delta larger than any change of the loss: every epoch after the first is a plateau
    reduce = cb.ReduceLROnPlateau(monitor="loss", patience=1, min_delta=100.0)
    history = model.fit(x, y, epochs=3, batch_size=8, verbose=0, callbacks=[reduce])
    assert history.history["learning_rate"] == pytest.approx([0.1, 0.1, 0.01])
    assert model.optimizer.learning_rate == pytest.approx(0.001)


@pytest.mark.parametrize(
    ("monitor", "mode"),
    [
        ("val_auc", "max"),
        ("val_f1_score", "max"),
        ("top_k_categorical_accuracy", "max"),
        ("val_precision", "max"),
        ("val_loss", "min"),
        ("mae", "min"),
    ],
)
def test_mode_auto_is_one_rule_for_every_monitoring_callback(tmp_path, monitor, mode):
    assert cb.EarlyStopping(monitor=monitor).mode == mode
    assert cb.ModelCheckpoint(tmp_path / "m", monitor=monitor).mode == mode
    assert cb.ReduceLROnPlateau(monitor=monitor).mode == mode
    assert cb.StopAtThreshold(monitor=monitor).mode == mode
