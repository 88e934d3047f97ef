"""Training to a time budget: how many epochs fit in "20 minutes" on this machine.

A learning-rate schedule such as one-cycle must know the run's length before it starts, but
a user knows how long they can wait, not how many epochs that is. ``measure_steps`` times a
few real training steps (and validation batches) of the model on its data, then puts the
weights, the optimizer and every random generator back as they were; ``plan_epochs`` turns
those timings into the number of whole epochs that fit in the time left. ``glassnet train
--time-budget 20m`` does both, then trains that many epochs with the schedule stretched over
them. ``parse_duration`` reads "90s", "20m", "1h30m".
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from glassnet.models import checkpoint

__all__ = ["EpochPlan", "StepTimes", "measure_steps", "parse_duration", "plan_epochs"]

_UNITS = {"h": 3600.0, "m": 60.0, "s": 1.0}
_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*([hms])")


def parse_duration(text: str) -> float:
    """Seconds in a duration such as ``"90s"``, ``"20m"``, ``"1h30m"``, ``"1.5h"`` or a bare
    number of seconds (``"600"``); raises ``ValueError`` naming the text otherwise."""
    spoken = str(text).strip().lower().replace(" ", "")
    if re.fullmatch(r"\d+(?:\.\d+)?", spoken):
        seconds = float(spoken)
    elif spoken and _DURATION.sub("", spoken) == "":
        seconds = sum(float(n) * _UNITS[unit] for n, unit in _DURATION.findall(spoken))
    else:
        seconds = math.nan
    if not seconds > 0:
        raise ValueError(
            f"cannot read the duration {text!r}. Write a positive number of hours, minutes "
            f"and/or seconds, e.g. 90s, 20m, 1h30m or 1.5h (a bare number means seconds)."
        )
    return seconds


@dataclass(frozen=True)
class StepTimes:
    """Measured seconds per training step and per validation batch (0.0 without validation),
    and the seconds the measuring itself took."""

    train_step: float
    val_batch: float
    spent: float


@dataclass(frozen=True)
class EpochPlan:
    """What ``plan_epochs`` decided: ``epochs`` whole epochs of ``epoch_seconds`` each
    (estimated) in the ``budget_seconds`` given."""

    epochs: int
    epoch_seconds: float
    budget_seconds: float
    fits: bool

    def describe(self) -> str:
        """One sentence for the user: the plan and the estimate behind it."""
        text = (
            f"Time budget {_clock(self.budget_seconds)}: one epoch takes about "
            f"{self.epoch_seconds:.1f} s here, so {self.epochs} epoch(s) are planned "
            f"(about {_clock(self.epochs * self.epoch_seconds)} of training), with the "
            f"learning-rate schedule stretched over them."
        )
        if not self.fits:
            text += " Even one epoch exceeds the budget: one epoch is trained anyway."
        return text


def _clock(seconds: float) -> str:
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return (
        "".join(
            f"{value}{unit}" for value, unit in ((hours, "h"), (minutes, "m"), (secs, "s")) if value
        )
        or f"{seconds:.1f}s"
    )


def plan_epochs(
    budget_seconds: float,
    times: StepTimes,
    train_steps: int,
    val_batches: int = 0,
    margin: float = 0.05,
) -> EpochPlan:
    """The whole epochs of ``train_steps`` steps and ``val_batches`` validation batches that
    fit in what is left of ``budget_seconds`` once ``times.spent`` is taken off, keeping a
    ``margin`` (a share of the budget) for saving checkpoints and the odd slow step.

    Pure arithmetic on the measured ``times``, so it can be tested with any timings. At least
    one epoch is planned; ``fits`` says whether that one fits.
    """
    epoch = train_steps * times.train_step + val_batches * times.val_batch
    left = budget_seconds * (1.0 - margin) - times.spent
    whole = math.floor(left / epoch) if epoch > 0 else 1
    return EpochPlan(max(whole, 1), epoch, budget_seconds, whole >= 1)


def measure_steps(
    model: Any,
    train_batches: Iterable[Any],
    val_batches: Iterable[Any] | None = None,
    steps: int = 3,
    clock: Callable[[], float] = time.perf_counter,
) -> StepTimes:
    """Time ``steps`` training steps of the compiled ``model`` on ``train_batches``, and as
    many validation batches, then restore the weights, the optimizer's state and every random
    generator (the model's and the data's), so training afterwards starts exactly where it
    would have without this.

    The first ``WARMUP`` batches of each kind are run but not timed: the first records the
    step for replay and the second checks the replay against the graph (``models.replay``),
    both slower than every later batch. Each timed step includes fetching its batch, as in
    ``fit``. With fewer batches than that, the last one's time is used.
    """
    weights = {k: np.array(v) for k, v in model.state_dict().items()}
    generators = checkpoint._generators(model, train_batches)
    states = {name: g.bit_generator.state for name, g in generators.items()}
    optimizer = model.optimizer
    model._build_optimizer()
    saved_optimizer = {k: np.array(v) for k, v in optimizer.state_dict().items()}
    start = clock()
    try:
        train_step = _time_batches(model.train_on_batch, train_batches, steps, clock)
        val_batch = 0.0
        if val_batches is not None:
            val_batch = _time_batches(model.test_on_batch, val_batches, steps, clock)
    finally:
        model.load_state_dict(weights)
        optimizer.load_state_dict(saved_optimizer)
        for name, g in generators.items():
            g.bit_generator.state = states[name]
    return StepTimes(train_step, val_batch, clock() - start)


#: Batches run before the timing starts (recording the replay, then checking it).
WARMUP = 2


def _time_batches(
    step: Callable[..., Any], batches: Iterable[Any], count: int, clock: Callable[[], float]
) -> float:
    """Mean seconds of ``step(x, y)`` (fetching the batch included) over ``count`` batches
    after ``WARMUP`` untimed ones; the last one's time where there are no more batches."""
    durations = []
    begin = clock()
    for x, y, *_ in batches:
        step(x, y)
        now = clock()
        durations.append(now - begin)
        begin = now
        if len(durations) >= WARMUP + count:
            break
    if not durations:
        return 0.0
    timed = durations[WARMUP:] or durations[-1:]
    return sum(timed) / len(timed)
