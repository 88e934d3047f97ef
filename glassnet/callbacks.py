"""Callbacks: code that runs at fixed moments of training (Keras's hooks and names).

``fit`` calls each callback at the start and end of training, of every epoch and of every batch,
passing a ``logs`` dict (``{"loss": 0.31, "accuracy": 0.9, "val_loss": ...}``). Callbacks watch
(History, the progress bar, CSVLogger), save (ModelCheckpoint), steer (LearningRateScheduler,
ReduceLROnPlateau) or stop training by setting ``model.stop_training = True`` — the texts' two
stopping rules are "the epochs are done" and "the error is small enough" (StopAtThreshold),
plus "it stopped improving" (EarlyStopping).
"""

from __future__ import annotations

import csv
import inspect
import math
import os
import sys
import time
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from glassnet.checks import check_number, is_int
from glassnet.metrics import monitor_mode
from glassnet.optimizers.schedules import LearningRateSchedule


class Callback:
    """Base class: override any ``on_*`` method. ``self.model`` is set by ``fit``."""

    #: True for callbacks that write files or print: in a distributed run they run on rank 0 only.
    chief_only = False

    def __init__(self) -> None:
        self.model: Any = None
        self.params: dict[str, Any] = {}

    def set_model(self, model: Any) -> None:
        """Attach the model being trained."""
        self.model = model

    def set_params(self, params: dict[str, Any]) -> None:
        """Receive ``fit``'s settings: epochs, steps (batches per epoch), verbose."""
        self.params = params

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        """Called once before the first epoch."""

    def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
        """Called once after the last epoch (also when training stopped early)."""

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        """Called before each epoch (``epoch`` counts from 0)."""

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        """Called after each epoch with its averaged training and validation logs."""

    def on_train_batch_begin(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        """Called before each training batch."""

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        """Called after each training batch with the running averages so far."""

    def on_test_begin(self, logs: dict[str, Any] | None = None) -> None:
        """Called before evaluation (also validation inside ``fit``)."""

    def on_test_end(self, logs: dict[str, Any] | None = None) -> None:
        """Called after evaluation."""

    def on_test_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        """Called after each evaluation batch."""


class CallbackList(Callback):
    """Several callbacks called in order, as one: each ``on_*`` hook calls every callback's."""

    def __init__(self, callbacks: Iterable[Callback] = ()) -> None:
        super().__init__()
        self.callbacks = list(callbacks)

    def set_model(self, model: Any) -> None:
        super().set_model(model)
        for cb in self.callbacks:
            cb.set_model(model)

    def set_params(self, params: dict[str, Any]) -> None:
        super().set_params(params)
        for cb in self.callbacks:
            cb.set_params(params)


def _forward(hook: str) -> Callable[..., None]:
    def method(self: CallbackList, *args: Any, **kwargs: Any) -> None:
        for cb in self.callbacks:
            getattr(cb, hook)(*args, **kwargs)

    method.__name__, method.__qualname__ = hook, f"CallbackList.{hook}"
    return method


for _hook in [name for name in vars(Callback) if name.startswith("on_")]:
    setattr(CallbackList, _hook, _forward(_hook))


class History(Callback):
    """Records every epoch's logs: ``history.history["loss"]`` is the loss per epoch.

    ``fit`` returns it. ``plot()`` draws the learning curves with matplotlib when installed.
    """

    def __init__(self) -> None:
        super().__init__()
        self.history: dict[str, list[float]] = {}
        self.epoch: list[int] = []
        self.stop_reason: str | None = None

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self.epoch.append(epoch)
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(float(value))

    def plot(self, path: str | os.PathLike[str] | None = None) -> Any:
        """Draw loss (and metrics) per epoch, training vs validation; save to ``path`` if given.

        Returns the matplotlib figure. Needs matplotlib (``pip install matplotlib``).
        """
        names = [k for k in self.history if not k.startswith("val_") and k != "learning_rate"]
        size = (5 * len(names), 3.5)
        if path is not None:  # a file: no GUI backend and no global pyplot state is touched
            from matplotlib.figure import Figure

            fig = Figure(figsize=size)
            axes = fig.subplots(1, len(names), squeeze=False)
        else:
            import matplotlib.pyplot as plt

            fig, axes = plt.subplots(1, len(names), figsize=size, squeeze=False)
        epochs = [e + 1 for e in self.epoch]
        for ax, name in zip(axes[0], names, strict=True):
            ax.plot(epochs, self.history[name], marker="o", label=f"training {name}")
            if f"val_{name}" in self.history:
                ax.plot(epochs, self.history[f"val_{name}"], marker="o", label=f"validation {name}")
            ax.set_xlabel("epoch")
            ax.set_title(name)
            ax.legend()
        fig.tight_layout()
        if path is not None:
            fig.savefig(path)
        return fig


def _format_logs(logs: dict[str, Any]) -> str:
    return " - ".join(f"{k}: {v:.4g}" for k, v in logs.items() if isinstance(v, (int, float)))


def _is_terminal(stream: Any) -> bool:
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def _rich_bar(stream: Any, title: str, *fields: str) -> Any:
    """A rich progress bar on ``stream``: title, bar, done/total, time left, then ``fields``
    (text columns such as ``"{task.fields[logs]}"``)."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    columns = [TextColumn(title), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn()]
    columns += [TextColumn(field) for field in fields]
    return Progress(*columns, console=Console(file=stream), transient=False)


class ProgressBar(Callback):
    """A progress bar per epoch (rich): batches done, ETA, running loss and metrics.

    Args:
        verbose: 0 silent; 1 a live bar on a terminal and one line per epoch otherwise (logs,
            CI); 2 one line per epoch always.
        stream: where to write (default ``sys.stdout``).
    """

    def __init__(self, verbose: int = 1, stream: Any = None) -> None:
        super().__init__()
        self.verbose = verbose
        self.stream = stream
        self._progress: Any = None
        self._task: Any = None
        self._epoch_start = 0.0

    @property
    def _out(self) -> Any:
        return self.stream if self.stream is not None else sys.stdout

    def _live(self) -> bool:
        return self.verbose == 1 and _is_terminal(self._out)

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self._epoch_start = time.perf_counter()
        self._epoch = epoch
        if self.verbose and self._live():
            title = f"Epoch {epoch + 1}/{self.params.get('epochs', '?')}"
            self._progress = _rich_bar(self._out, title, "{task.fields[logs]}")
            self._progress.start()
            self._task = self._progress.add_task("train", total=self.params.get("steps"), logs="")

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        if self._progress is not None:
            self._progress.update(self._task, completed=batch + 1, logs=_format_logs(logs or {}))

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        seconds = time.perf_counter() - self._epoch_start
        if self._progress is not None:
            self._progress.update(self._task, logs=_format_logs(logs or {}))
            self._progress.stop()
            self._progress = None
            self._out.write(f"  {seconds:.1f}s\n")
        elif self.verbose:
            epochs = self.params.get("epochs", "?")
            line = f"Epoch {epoch + 1}/{epochs} - {seconds:.1f}s - {_format_logs(logs or {})}"
            self._out.write(line + "\n")
        self._out.flush()

    def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None


class PredictProgress:
    """Progress of ``predict`` over many batches, as ``ProgressBar`` shows an epoch.

    ``verbose`` 1: a live bar (batches done, ETA) on a terminal, one summary line otherwise;
    2: the summary line only; 0: nothing. Use as a context manager and call ``advance(n)``
    after each batch of n samples.
    """

    def __init__(self, verbose: int, total: int | None, stream: Any = None) -> None:
        self.verbose, self.total = verbose, total
        self._out = stream if stream is not None else sys.stdout
        self._progress: Any = None
        self._task: Any = None
        self.batches = self.samples = 0

    def __enter__(self) -> PredictProgress:
        self._start = time.perf_counter()
        if self.verbose == 1 and _is_terminal(self._out):
            self._progress = _rich_bar(self._out, "predict")
            self._progress.start()
            self._task = self._progress.add_task("predict", total=self.total)
        return self

    def advance(self, samples: int) -> None:
        self.batches += 1
        self.samples += samples
        if self._progress is not None:
            self._progress.update(self._task, completed=self.batches)

    def __exit__(self, *exc: Any) -> None:
        if self._progress is not None:
            self._progress.stop()
        if self.verbose and exc[0] is None:
            seconds = time.perf_counter() - self._start
            self._out.write(
                f"predict: {self.samples:,} samples in {self.batches:,} batches, {seconds:.1f}s\n"
            )
            self._out.flush()


def _monitor_mode(owner: str, monitor: str, mode: str) -> str:
    """``mode`` ("min" or "max"), with "auto" decided by ``metrics.monitor_mode(monitor)``."""
    if mode not in ("auto", "min", "max"):
        raise ValueError(f"{owner}: mode must be 'auto', 'min' or 'max'. Received: mode={mode!r}")
    return monitor_mode(monitor) if mode == "auto" else mode


def _beats(mode: str, value: float, reference: float, min_delta: float = 0.0) -> bool:
    """Whether ``value`` is better than ``reference`` by more than ``min_delta`` in ``mode``."""
    if mode == "min":
        return value < reference - min_delta
    return value > reference + min_delta


def _monitored(owner: str, monitor: str, logs: dict[str, Any] | None, hint: str = "") -> Any:
    """``logs[monitor]``, or a KeyError that lists the keys there are."""
    value = (logs or {}).get(monitor)
    if value is None:
        known = ", ".join(logs or {})
        raise KeyError(f"{owner}: monitor {monitor!r} is not in the logs ({known}).{hint}")
    return value


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved by ``min_delta`` for ``patience`` epochs.

    Args:
        monitor: a log key, e.g. ``"val_loss"`` or ``"val_accuracy"``.
        min_delta: the smallest change that counts as an improvement.
        patience: epochs without improvement before stopping.
        verbose: 1 prints a line when it stops (and when it restores the best weights).
        mode: "min", "max" or "auto" (max for accuracy-like names).
        baseline: stop unless the monitored value beats this.
        restore_best_weights: put back the weights of the best epoch when stopping.
        start_from_epoch: epochs of warm-up before counting.
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        min_delta: float = 0.0,
        patience: int = 0,
        verbose: int = 0,
        mode: str = "auto",
        baseline: float | None = None,
        restore_best_weights: bool = False,
        start_from_epoch: int = 0,
    ) -> None:
        super().__init__()
        self.verbose = verbose
        if patience < 0:
            raise ValueError(f"EarlyStopping: 'patience' must be >= 0. Received: {patience}")
        self.monitor = monitor
        self.min_delta = abs(min_delta)
        self.patience = patience
        self.mode = _monitor_mode("EarlyStopping", monitor, mode)
        self.baseline = baseline
        self.restore_best_weights = restore_best_weights
        self.start_from_epoch = start_from_epoch
        self.stopped_epoch: int | None = None

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        self.wait = 0
        self.best = math.inf if self.mode == "min" else -math.inf
        self.best_weights: list[np.ndarray] | None = None
        self.best_epoch = 0
        self.stopped_epoch = None

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        hint = " Pass validation data for val_* keys, or monitor one of these."
        value = _monitored("EarlyStopping", self.monitor, logs, hint)
        if epoch < self.start_from_epoch:
            return
        if self.restore_best_weights and self.best_weights is None:
            self.best_weights = self.model.get_weights()
        self.wait += 1
        if _beats(self.mode, value, self.best, self.min_delta):
            self.best, self.best_epoch = value, epoch
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            # The count restarts only when the value beats both the best so far and the baseline.
            if self.baseline is None or _beats(self.mode, value, self.baseline, self.min_delta):
                self.wait = 0
                return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True
            self.model.stop_reason = (
                f"EarlyStopping: {self.monitor} did not improve for {self.wait} epochs "
                f"(best {self.best:.4g} at epoch {self.best_epoch + 1})."
            )
            restore = self.restore_best_weights and self.best_weights is not None
            if restore:
                self.model.set_weights(self.best_weights)
            if self.verbose:
                print(f"Epoch {epoch + 1}: early stopping. {self.model.stop_reason}")
                if restore:
                    print(f"Restoring model weights from the best epoch: {self.best_epoch + 1}.")


class StopAtThreshold(Callback):
    """Stop as soon as ``monitor`` reaches ``threshold``: "the error is small enough".

    Args:
        monitor: a log key, e.g. ``"loss"``, ``"val_loss"`` or ``"accuracy"``.
        threshold: for a loss, stop when it is at or below this; for an accuracy, at or above.
        mode: "min" (stop at ≤ threshold), "max" (stop at ≥), or "auto" from the name.
        check: "epoch" (after each epoch, default) or "batch" (after each training batch).
    """

    def __init__(
        self,
        monitor: str = "loss",
        threshold: float = 0.01,
        mode: str = "auto",
        check: str = "epoch",
    ) -> None:
        super().__init__()
        if check not in ("epoch", "batch"):
            raise ValueError(
                f"StopAtThreshold: check must be 'epoch' or 'batch'. Received: {check!r}"
            )
        if check == "batch" and monitor.startswith("val_"):
            raise ValueError(
                "StopAtThreshold: validation metrics exist only per epoch; use check='epoch'."
            )
        self.monitor, self.threshold, self.check = monitor, float(threshold), check
        self.mode = _monitor_mode("StopAtThreshold", monitor, mode)

    def _reached(self, logs: dict[str, Any] | None) -> bool:
        value = _monitored("StopAtThreshold", self.monitor, logs)
        return value <= self.threshold if self.mode == "min" else value >= self.threshold

    def _stop(self, where: str, logs: dict[str, Any] | None) -> None:
        self.model.stop_training = True
        self.model.stop_reason = (
            f"StopAtThreshold: {self.monitor} = {(logs or {})[self.monitor]:.4g} reached the "
            f"threshold {self.threshold:g} {where}."
        )

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        if self.check == "batch" and self._reached(logs):
            self._stop(f"at batch {batch + 1}", logs)

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        if self.check == "epoch" and self._reached(logs):
            self._stop(f"after epoch {epoch + 1}", logs)


class TerminateOnNaN(Callback):
    """Stop training as soon as a batch's loss is NaN or infinite.

    ``fit`` already does this by itself (keeping the last good weights); the callback exists
    for Keras users who add it explicitly, and for loops other than ``fit``.
    """

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(loss):
            self.model.stop_training = True
            self.model.stop_reason = f"TerminateOnNaN: loss became {loss} at batch {batch + 1}."


class ModelCheckpoint(Callback):
    """Save the model (or only its weights) after every epoch, or only when it improved.

    Args:
        filepath: where to save; may contain ``{epoch:02d}`` and log keys like ``{val_loss:.3f}``.
        monitor, mode: the value that decides "best" when ``save_best_only``.
        save_best_only: keep only the best model so far.
        save_weights_only: write ``model.save_weights`` instead of the whole model.
    """

    chief_only = True  # in a distributed run only rank 0 writes files

    def __init__(
        self,
        filepath: str | os.PathLike[str],
        monitor: str = "val_loss",
        save_best_only: bool = False,
        save_weights_only: bool = False,
        mode: str = "auto",
        verbose: int = 0,
    ) -> None:
        super().__init__()
        self.filepath = os.fspath(filepath)
        self.monitor = monitor
        self.save_best_only = save_best_only
        self.save_weights_only = save_weights_only
        self.mode = _monitor_mode("ModelCheckpoint", monitor, mode)
        self.verbose = verbose
        self.best = math.inf if self.mode == "min" else -math.inf

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        # A resumed run starts from the best value already reached, so its first epoch does
        # not overwrite a better model saved before the interruption.
        earlier = getattr(getattr(self.model, "history", None), "history", {}).get(self.monitor)
        if earlier:
            self.best = min(earlier) if self.mode == "min" else max(earlier)

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        logs = logs or {}
        if self.save_best_only:
            hint = " Pass validation data or pick another monitor."
            value = _monitored("ModelCheckpoint", self.monitor, logs, hint)
            if not _beats(self.mode, value, self.best):
                return
            self.best = value
        try:
            path = self.filepath.format(epoch=epoch + 1, **logs)
        except KeyError as err:
            raise KeyError(
                f"ModelCheckpoint: filepath {self.filepath!r} names {err} which is not in the "
                f"logs ({', '.join(logs)})."
            ) from err
        if self.save_weights_only:
            self.model.save_weights(path)
        else:
            self.model.save(path)
        if self.verbose:
            print(f"Epoch {epoch + 1}: saved model to {path}")


class CSVLogger(Callback):
    """Append each epoch's logs as a row of a CSV file (opens in any spreadsheet).

    Args:
        filename: the CSV path.
        separator: the column separator.
        append: add to an existing file instead of starting a new one.
    """

    chief_only = True

    def __init__(
        self, filename: str | os.PathLike[str], separator: str = ",", append: bool = False
    ):
        super().__init__()
        self.filename, self.separator, self.append = os.fspath(filename), separator, append
        self._keys: list[str] | None = None

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        self._keys = None
        if self.append and os.path.exists(self.filename):
            with open(self.filename, newline="") as f:
                header = next(csv.reader(f, delimiter=self.separator), None)
            self._keys = header[1:] if header else None
        elif os.path.exists(self.filename):
            os.remove(self.filename)

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        logs = logs or {}
        new_file = self._keys is None
        if new_file:
            self._keys = list(logs)
        with open(self.filename, "a", newline="") as f:
            writer = csv.writer(f, delimiter=self.separator)
            if new_file:
                writer.writerow(["epoch", *self._keys])
            writer.writerow([epoch, *(logs.get(k, "") for k in self._keys)])


class LearningRateScheduler(Callback):
    """Set the optimizer's learning rate at the start of every epoch from ``schedule``.

    Args:
        schedule: ``schedule(epoch, lr) -> new_lr`` (epoch counts from 0), e.g. ``StepDecay``
            below or any function; or, as in Keras, a one-argument ``schedule(epoch)``, such
            as a ``glassnet.optimizers.schedules`` object, which is then stepped per epoch:
            ``LearningRateScheduler(schedules.CosineDecay(0.1, decay_steps=epochs))`` decays
            the rate along a cosine from 0.1 at the first epoch to 0 at epoch ``epochs``.
        verbose: print the new rate each epoch.

    An optimizer whose ``learning_rate`` is itself a schedule sets its rate every step, so the
    two would fight; training then stops at the first epoch with a TypeError (Keras refuses
    this too). Keep one: the schedule per step, or a number and this callback per epoch.
    """

    def __init__(
        self, schedule: Callable[[int, float], float] | Callable[[int], float], verbose: int = 0
    ) -> None:
        super().__init__()
        self.schedule, self.verbose = schedule, verbose
        self._takes_lr = _takes_lr(schedule)

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        optimizer = self.model.optimizer
        _refuse_a_schedule(
            "LearningRateScheduler",
            optimizer,
            "Keep one: drop the callback, or compile with a number as learning_rate (and give "
            "the schedule to this callback to step it per epoch).",
        )
        if self._takes_lr:
            lr = float(self.schedule(epoch, float(optimizer.learning_rate)))
        else:
            lr = float(self.schedule(epoch))
        if not math.isfinite(lr) or lr < 0:
            raise ValueError(
                f"LearningRateScheduler: the schedule returned {lr} for epoch {epoch}; a "
                "learning rate must be a finite number >= 0."
            )
        optimizer.learning_rate = lr
        if self.verbose:
            print(f"Epoch {epoch + 1}: learning rate = {lr:.6g}")

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        if logs is not None:
            logs["learning_rate"] = float(self.model.optimizer.learning_rate)


def _refuse_a_schedule(owner: str, optimizer: Any, what_to_do: str) -> None:
    """A TypeError naming the schedule when ``optimizer``'s learning rate comes from one: the
    schedule sets the rate before every step, so a callback setting it would fight it."""
    scheduled = getattr(optimizer, "learning_rate_schedule", None)
    if scheduled is not None:
        raise TypeError(
            f"{owner}: the optimizer's learning_rate is already a schedule "
            f"({type(scheduled).__name__}), which sets the rate before every step; this "
            f"callback would fight it every epoch (Keras refuses this too). {what_to_do}"
        )


class ReduceLROnPlateau(Callback):
    """Multiply the learning rate by ``factor`` when ``monitor`` has not improved for
    ``patience`` epochs: a plateau often means the steps are too big to go further down.

    Keras 3's callback, argument for argument. After each epoch the rate in use is written to
    the logs as ``learning_rate`` (so ``History`` records it). An epoch improves when the
    value beats the best so far by more than ``min_delta``; after ``patience`` epochs without
    one the rate becomes ``max(lr * factor, min_lr)`` (nothing happens once it is at
    ``min_lr``). Counting as Keras does, the ``cooldown - 1`` epochs after a drop count no
    waiting (so ``cooldown=1`` changes nothing).

    Args:
        monitor: the log key to watch, e.g. ``"val_loss"`` or ``"val_accuracy"``.
        factor: what the rate is multiplied by, in [0, 1).
        patience: epochs without improvement before the rate drops.
        verbose: 1 prints a line when the rate drops.
        mode: "min", "max", or "auto" (``metrics.monitor_mode``: max for accuracy-like names).
        min_delta: the smallest change that counts as an improvement.
        cooldown: epochs after a drop during which no waiting is counted.
        min_lr: the rate never goes below this.

    The optimizer's ``learning_rate`` must be a number: a schedule object sets the rate
    before every step, so training stops at its start with a TypeError naming the schedule.
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        factor: float = 0.1,
        patience: int = 10,
        verbose: int = 0,
        mode: str = "auto",
        min_delta: float = 1e-4,
        cooldown: int = 0,
        min_lr: float = 0.0,
    ) -> None:
        super().__init__()
        owner = "ReduceLROnPlateau"
        self.monitor = monitor
        self.factor = check_number(owner, "factor", factor, 0.0, 1.0, high_open=True)
        self.patience = _count(owner, "patience", patience)
        self.verbose = verbose
        self.mode = _monitor_mode(owner, monitor, mode)
        self.min_delta = abs(check_number(owner, "min_delta", min_delta))
        self.cooldown = _count(owner, "cooldown", cooldown)
        self.min_lr = check_number(owner, "min_lr", min_lr, 0.0)
        self._reset()

    def _reset(self) -> None:
        self.wait = 0
        self.cooldown_counter = 0
        self.best = math.inf if self.mode == "min" else -math.inf

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        _refuse_a_schedule(
            "ReduceLROnPlateau",
            self.model.optimizer,
            "Keep one: drop the callback, or compile with a number as learning_rate.",
        )
        self._reset()

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        logs = logs if logs is not None else {}
        optimizer = self.model.optimizer
        logs["learning_rate"] = float(optimizer.learning_rate)
        hint = " Pass validation data for val_* keys, or monitor one of these."
        value = _monitored("ReduceLROnPlateau", self.monitor, logs, hint)
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.wait = 0
        if _beats(self.mode, value, self.best, self.min_delta):
            self.best, self.wait = value, 0
            return
        if self.cooldown_counter > 0:
            return
        self.wait += 1
        old = float(optimizer.learning_rate)
        if self.wait >= self.patience and old > self.min_lr:
            new = max(old * self.factor, self.min_lr)
            optimizer.learning_rate = new
            self.cooldown_counter, self.wait = self.cooldown, 0
            if self.verbose:
                print(f"Epoch {epoch + 1}: ReduceLROnPlateau reducing learning rate to {new:.6g}.")


def _count(owner: str, name: str, value: Any) -> int:
    """``value`` as an int >= 0 (a number of epochs)."""
    if not is_int(value) or value < 0:
        raise ValueError(f"{owner}: '{name}' must be an integer >= 0. Received: {name}={value!r}")
    return int(value)


def _takes_lr(schedule: Any) -> bool:
    """Whether ``schedule`` is called as ``schedule(epoch, lr)`` (else ``schedule(epoch)``)."""
    if isinstance(schedule, LearningRateSchedule):
        return False
    if not callable(schedule):
        raise TypeError(
            f"LearningRateScheduler: 'schedule' must be a function schedule(epoch, lr) -> "
            f"new_lr, or schedule(epoch), or a LearningRateSchedule. Received: {schedule!r}."
        )
    try:
        signature = inspect.signature(schedule)
    except (TypeError, ValueError):  # no signature to read (some builtins): Keras's form
        return True
    for args in ((0, 0.1), (0,)):
        try:
            signature.bind(*args)
        except TypeError:
            continue
        return len(args) == 2
    raise TypeError(
        f"LearningRateScheduler: 'schedule' must accept (epoch, lr) or (epoch). Received: "
        f"{schedule!r} with signature {signature}."
    )


class StepDecay:
    """lr = initial · factor^⌊epoch / every⌋: drop the rate by ``factor`` every ``every`` epochs."""

    def __init__(self, initial_learning_rate: float, factor: float = 0.5, every: int = 10) -> None:
        if every < 1 or not 0 < factor <= 1:
            raise ValueError(
                f"StepDecay: need every >= 1 and 0 < factor <= 1. Received every={every}, "
                f"factor={factor}."
            )
        self.initial, self.factor, self.every = initial_learning_rate, factor, every

    def __call__(self, epoch: int, lr: float | None = None) -> float:
        return self.initial * self.factor ** (epoch // self.every)

    def __repr__(self) -> str:
        return f"StepDecay({self.initial}, factor={self.factor}, every={self.every})"


def __getattr__(name: str) -> Any:
    # The per-epoch CosineDecay that lived here had Keras's schedule's name but other
    # arguments (epochs, min_learning_rate) and meaning (per epoch): an alias would silently
    # change what old code does, so it is gone, with directions instead of a bare error.
    if name == "CosineDecay":
        raise AttributeError(
            "glassnet.callbacks.CosineDecay was removed: CosineDecay is Keras's per-step "
            "schedule, glassnet.optimizers.schedules.CosineDecay (pass it as the optimizer's "
            "learning_rate). For the old per-epoch decay from `initial` to `min` over `epochs`, "
            "use LearningRateScheduler(schedules.CosineDecay(initial, decay_steps=epochs, "
            "alpha=min / initial))."
        )
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
