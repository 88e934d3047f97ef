"""Training to a time budget (glassnet/models/budget.py): reading durations, planning epochs
from timings given by the test (no clock is read), and timing steps without changing the
model, its optimizer or any random generator."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import glassnet as gn
from glassnet import layers
from glassnet.models.budget import EpochPlan, StepTimes, measure_steps, parse_duration, plan_epochs


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90s", 90),
        ("20m", 1200),
        ("1h30m", 5400),
        ("1h 30m 15s", 5415),
        ("1.5h", 5400),
        ("600", 600),
        (" 2M ", 120),
    ],
)
def test_parse_duration(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "soon", "m20", "20x", "0s", "-5m", "1h-30m", "5mm"])
def test_parse_duration_refuses_what_it_cannot_read(text):
    with pytest.raises(ValueError, match=r"cannot read the duration .* e\.g\. 90s, 20m, 1h30m"):
        parse_duration(text)


def test_plan_fits_whole_epochs_in_what_is_left():
    # 50 steps of 0.5 s and 13 validation batches of 0.2 s: 27.6 s an epoch.
    times = StepTimes(train_step=0.5, val_batch=0.2, spent=10.0)
    plan = plan_epochs(1200, times, train_steps=50, val_batches=13)
    assert plan.epoch_seconds == pytest.approx(27.6)
    # (1200 · 0.95 − 10) / 27.6 = 40.9…
    assert plan == EpochPlan(40, pytest.approx(27.6), 1200, True)
    assert plan_epochs(1200, times, 50, 13, margin=0.0).epochs == 43  # 1190 / 27.6 = 43.1
    text = plan.describe()
    assert "Time budget 20m:" in text and "27.6 s" in text and "40 epoch(s) are planned" in text
    assert "18m24s of training" in text  # 40 · 27.6 s


def test_plan_without_validation_and_when_nothing_fits():
    times = StepTimes(train_step=2.0, val_batch=0.0, spent=1.0)
    assert plan_epochs(95, times, train_steps=10).epochs == 4  # (95 · 0.95 − 1) / 20 = 4.46
    short = plan_epochs(30, times, train_steps=100)
    assert short.epochs == 1 and not short.fits
    assert "Even one epoch exceeds the budget" in short.describe()


def _model_and_data(rng):
    gn.set_seed(0)
    model = gn.Sequential(
        [
            layers.Input((6, 6, 1)),
            layers.RandomFlip("horizontal", seed=3),
            layers.Conv2D(2, 3),
            layers.BatchNormalization(),
            layers.Flatten(),
            layers.Dropout(0.5, seed=4),
            layers.Dense(2, activation="softmax"),
        ]
    )
    model.compile(gn.optimizers.AdamW(learning_rate=0.1), "sparse_categorical_crossentropy")
    x = rng.normal(size=(40, 6, 6, 1)).astype(np.float32)
    y = rng.integers(0, 2, 40)
    batches = [(x[i : i + 8], y[i : i + 8]) for i in range(0, 40, 8)]
    return model, x, y, batches


def test_measure_steps_times_real_steps_then_puts_everything_back(rng):
    model, x, y, batches = _model_and_data(rng)
    before = {k: np.array(v) for k, v in model.state_dict().items()}
    flip_state = model.layers[0]._rng.bit_generator.state
    ticks = itertools.count(0.0, 0.5)  # each clock reading 0.5 s after the last
    times = measure_steps(model, batches, batches[:2], steps=3, clock=lambda: next(ticks))
    # Readings: the start; begin and 5 steps (2 untimed); begin and 2 validation batches
    # (both untimed: the last one's time counts); the end: 10 intervals of 0.5 s.
    assert times.train_step == pytest.approx(0.5) and times.val_batch == pytest.approx(0.5)
    assert times.spent == pytest.approx(0.5 * 10)
    for key, value in model.state_dict().items():
        np.testing.assert_array_equal(value, before[key], err_msg=key)
    assert model.optimizer.iterations == 0
    assert model.layers[0]._rng.bit_generator.state == flip_state
    # Training afterwards is exactly the training without the measurement.
    model.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    fresh, *_ = _model_and_data(np.random.default_rng(0))
    fresh.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    for key, value in fresh.state_dict().items():
        np.testing.assert_array_equal(model.state_dict()[key], value, err_msg=key)


def test_measure_steps_skips_the_warm_up_batches(rng):
    """The recording batch and the checking batch are slower than the rest: not timed."""
    model, _, _, batches = _model_and_data(rng)
    readings = iter([0.0, 0.0, 10.0, 15.0, 16.0, 17.0, 18.0, 18.0])
    times = measure_steps(model, batches, None, steps=3, clock=lambda: next(readings))
    assert times.train_step == pytest.approx(1.0) and times.val_batch == 0.0
    ticks = itertools.count(0.0, 2.0)
    times = measure_steps(model, batches[:1], None, clock=lambda: next(ticks))
    assert times.train_step == pytest.approx(2.0)  # one batch only: its own time
