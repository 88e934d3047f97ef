"""``glassnet train``: a classifier for a folder of labelled images, checkpointed every epoch,
keeping the best model, and resumable after Ctrl-C with the command it prints.

Its defaults are the from-scratch photo recipe of ``glassnet.applications.photo_recipe``
(photo_cnn on a 96-pixel random crop of photos loaded at 112, AdamW on a one-cycle schedule,
label smoothing, early stopping); this module only turns the options into those library calls."""

from __future__ import annotations

import json
import math
import os
import shlex
import sys
import time
import warnings
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import typer

from glassnet import optimizers
from glassnet.applications import photo_recipe
from glassnet.cli.errors import UserError, user_errors
from glassnet.cli.evaluation import Tta
from glassnet.cli.files import plot_history, require_directory, side_file
from glassnet.cli.transfer import (
    From,
    Preprocess,
    Unfreeze,
    UnfreezeEpochs,
    refuse_without_from,
    train_from,
)

if TYPE_CHECKING:
    from glassnet.models import Model

__all__ = ["Epochs", "Verbose", "build_classifier", "train"]

#: Options that ``glassnet demo`` shares.
Epochs = Annotated[int, typer.Option(min=1, help="Passes over the training images.")]
Verbose = Annotated[
    int, typer.Option(min=0, max=2, help="0 quiet, 1 progress bar, 2 a line per epoch.")
]

_DataDir = Annotated[
    Path,
    typer.Argument(metavar="DATA_DIR", help="A folder with one sub-folder of images per class."),
]
_Architecture = Annotated[
    str,
    typer.Option(
        "--model",
        "-m",
        help="Architecture: photo-cnn (a small VGG-style network for photos), small-cnn, "
        "lenet5, mlp, alexnet, vgg11/13/16/19, resnet18/34/50/101/152, googlenet, mobilenet-v2 "
        "(at least 32 pixels).",
    ),
]
_ImageSize = Annotated[
    int | None,
    typer.Option(
        min=1,
        help="Images are resized to this many pixels square (default 112, of which the "
        "augmentation crops 96; with --from, the "
        "network's own size).",
    ),
]
_ColorMode = Annotated[
    Literal["rgb", "grayscale", "rgba"],
    typer.Option(help="The channels the model sees (3, 1 or 4)."),
]
_BatchSize = Annotated[int, typer.Option(min=1, help="Images per gradient step.")]
_LearningRate = Annotated[
    float | None,
    typer.Option(
        min=0.0,
        help="Learning rate: the one-cycle schedule's peak (default: twice the optimizer's "
        "default, 0.002 for AdamW), or the constant rate with --schedule constant (default: "
        "the optimizer's).",
    ),
]
_Optimizer = Annotated[
    Literal[optimizers.NAMES],  # type: ignore[valid-type]  # the choices, from the one registry
    typer.Option(case_sensitive=False, help="The optimizer, by its Keras name."),
]
_ValSplit = Annotated[
    float,
    typer.Option(min=0.0, max=0.9, help="Share of the images held out to validate (0 for none)."),
]
_Augment = Annotated[
    bool,
    typer.Option(
        help="Random crops of six sevenths of the side (the centre one at inference) and "
        "left-right flips while training; with --from and --unfreeze, resized crops, flips "
        "and light brightness/contrast jitter."
    ),
]
_Schedule = Annotated[
    Literal[photo_recipe.SCHEDULES],  # type: ignore[valid-type]
    typer.Option(
        help="How the learning rate changes: one-cycle (warm up, then a cosine descent over "
        "the run) or constant."
    ),
]
_LabelSmoothing = Annotated[
    float,
    typer.Option(min=0.0, max=1.0, help="Share of the target spread over the classes (0: none)."),
]
_Patience = Annotated[
    int | None,
    typer.Option(
        min=0,
        help="Stop after this many epochs without a better validation accuracy, keeping the "
        "best weights (default: a third of the epochs, at least 5; 0 never stops early).",
    ),
]
_TimeBudget = Annotated[
    str | None,
    typer.Option(
        help="Train for about this long (90s, 20m, 1h30m): the first steps are timed and the "
        "epochs (and the schedule) planned to fit. Replaces --epochs.",
    ),
]
_Out = Annotated[
    Path | None,
    typer.Option(help="Where to save the best model (default: <DATA_DIR name>.glassnet)."),
]
_Resume = Annotated[
    bool, typer.Option(help="Continue from the last checkpoint of an interrupted run.")
]
_Seed = Annotated[int, typer.Option(min=0, help="Random seed (same seed, same run).")]
_Strict = Annotated[bool, typer.Option(help="Stop on unreadable files instead of skipping them.")]
_Distributed = Annotated[
    bool,
    typer.Option(
        help="Train data-parallel over the ranks of an MPI job: mpirun -n 4 glassnet "
        "train DATA_DIR --distributed. Only rank 0 prints and writes files."
    ),
]


# ---------------------------------------------------------------------------- the network
def build_classifier(
    name: str, input_shape: tuple[int, int, int], classes: int, augment: bool = False, seed: int = 0
) -> Model:
    """A named architecture for raw 0–255 pixels: ``[augmentation] → Rescaling(1/255) → net``.

    Preprocessing lives inside the model, so a saved model takes images exactly as
    ``load_image`` returns them. ``small-cnn`` and ``photo-cnn`` have their own ``Rescaling``
    layer first. The augmentation is ``photo_recipe.photo_augmentation``, active only while
    training: a random crop of ``photo_recipe.crop_size(size)`` pixels (the centre one at
    inference, so the network is built for that size) and a left–right flip.
    """
    import glassnet as gn
    from glassnet import applications, layers

    canonical = applications.canonical_name(name)
    gn.set_seed(seed)
    # Augmented, the network sees the recipe's random crop (the centre one at inference).
    crop = photo_recipe.crop_size(input_shape[0]) if augment else None
    seen = input_shape if crop is None else (crop, crop, input_shape[2])
    try:
        base = applications.get(canonical, seen, classes)
    except ValueError as err:
        if crop is None:
            raise
        raise ValueError(
            f"{err}\nThe photo recipe's augmentation shows the network a random {crop}×{crop} "
            f"crop of each {input_shape[0]}-pixel photo: give a larger --image-size, or "
            "--no-augment."
        ) from err
    front = photo_recipe.photo_augmentation(seed, crop) if augment else []
    if canonical not in ("small-cnn", "photo-cnn"):
        front.append(layers.Rescaling(1 / 255, name="rescaling"))
    if not front:
        return base
    # A chain's layers join the front; a graph (MobileNetV2's functional model) joins whole.
    body = base.layers if isinstance(base, gn.Sequential) else [base]
    stack = [layers.Input(input_shape), *front, *body]
    return gn.Sequential(stack, name=base.name)


def _keep_best_callback(path: Path, monitor: str) -> Any:
    """A callback saving the model to ``path`` whenever ``monitor`` (an accuracy) improves."""
    from glassnet.callbacks import Callback

    class KeepBest(Callback):
        """Save the model when the accuracy beats the best so far, or equals it with a lower
        loss: a small validation set often reaches 100 % early, and among the epochs that
        tie, the one with the lowest loss is the more confident model. On a resumed run the
        best so far comes from the restored history, so the first resumed epoch does not save
        over a better model from before the interruption."""

        def __init__(self) -> None:
            super().__init__()
            self.loss_key = "val_loss" if monitor.startswith("val_") else "loss"
            self.best = (-math.inf, -math.inf)

        def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
            past = getattr(self.model.history, "history", {})
            pairs = zip(past.get(monitor, []), past.get(self.loss_key, []), strict=False)
            self.best = max(((a, -loss) for a, loss in pairs), default=(-math.inf, -math.inf))

        def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
            logs = logs or {}
            score = (logs[monitor], -logs.get(self.loss_key, math.inf))
            if score > self.best:
                self.best = score
                self.model.save(path)

    return KeepBest()


# ---------------------------------------------------------------------------- the run
#: The options that ``--resume`` repeats, in the order the printed command gives them.
_RESUMED = (
    "data_dir model image_size color_mode epochs batch_size lr optimizer schedule "
    "label_smoothing val_split augment patience tta out seed"
).split()


@dataclass
class _Run:
    """One ``glassnet train`` run: its options (``train``'s arguments) and the files it writes
    next to the model."""

    data_dir: Path
    model: str
    image_size: int
    color_mode: str
    epochs: int
    batch_size: int
    lr: float | None
    optimizer: str
    schedule: str
    label_smoothing: float
    val_split: float
    augment: bool
    patience: int | None
    time_budget: str | None
    tta: bool
    out: Path
    seed: int
    resume: bool
    strict: bool
    verbose: int
    distributed: bool

    @property
    def checkpoints(self) -> Path:
        return Path(f"{self.out}.checkpoints")

    @property
    def history_csv(self) -> Path:
        return side_file(self.out, "history.csv")

    @property
    def curves(self) -> Path:
        return side_file(self.out, "curves.png")

    def resume_command(self) -> str:
        """The exact ``glassnet train ... --resume`` command continuing this run."""
        words = ["glassnet", "train", str(self.data_dir)]
        for option in _RESUMED[1:]:
            value = getattr(self, option)
            flag = "--" + option.replace("_", "-")
            if isinstance(value, bool):
                words.append(flag if value else flag.replace("--", "--no-", 1))
            elif value is not None:
                words += [flag, str(value)]
        words.append("--resume")
        return shlex.join(words)


def train(
    data_dir: _DataDir,
    model: _Architecture = "photo-cnn",
    image_size: _ImageSize = None,
    color_mode: _ColorMode = "rgb",
    epochs: Epochs = photo_recipe.EPOCHS,
    batch_size: _BatchSize = 32,
    lr: _LearningRate = None,
    optimizer: _Optimizer = "adamw",
    schedule: _Schedule = "one-cycle",
    label_smoothing: _LabelSmoothing = photo_recipe.LABEL_SMOOTHING,
    val_split: _ValSplit = photo_recipe.VALIDATION_SPLIT,
    augment: _Augment = True,
    patience: _Patience = None,
    time_budget: _TimeBudget = None,
    tta: Annotated[bool, Tta] = False,
    out: _Out = None,
    resume: _Resume = False,
    seed: _Seed = 0,
    strict: _Strict = False,
    verbose: Verbose = 1,
    distributed: _Distributed = False,
    from_: From = None,
    unfreeze: Unfreeze = 0,
    unfreeze_epochs: UnfreezeEpochs = 3,
    preprocess: Preprocess = "auto",
) -> None:
    """Train an image classifier on a folder of images (one sub-folder per class).

    Runs the dataset doctor first (bad files are reported and skipped), checkpoints every
    epoch, keeps the model with the best validation accuracy, and writes its training history
    (CSV) and curves (PNG) next to it. Ctrl-C stops cleanly and prints how to resume.
    With --from NETWORK, fine-tunes that pretrained network instead (glassnet.transfer).

    The defaults are a from-scratch recipe for photos: photo-cnn on 96-pixel random crops of
    photos loaded at 112, flips, AdamW on a one-cycle schedule, label smoothing 0.1 and early
    stopping. The old quick
    setup is --model small-cnn --image-size 64 --optimizer adam --schedule constant
    --label-smoothing 0 --no-augment --patience 0 --epochs 10.
    """
    import glassnet as gn

    if distributed and gn.distributed.rank() != 0:
        # Every rank runs this same command; only rank 0 speaks (errors still reach stderr).
        sys.stdout = open(os.devnull, "w")
    if out is None:
        out = Path(f"{data_dir.resolve().name or 'model'}.glassnet")
    if image_size is None and from_ is None:
        image_size = photo_recipe.IMAGE_SIZE
    arguments = locals()  # the options, named as _Run's fields
    run = _Run(**{f.name: arguments[f.name] for f in fields(_Run)})
    if from_ is not None:  # fine-tune a pretrained network (glassnet.transfer)
        train_from(run, from_, unfreeze, unfreeze_epochs, preprocess)
        return
    refuse_without_from(unfreeze, preprocess)
    try:
        with user_errors():
            net, train_ds, val_ds = _prepare(run)
            history, monitor, seconds = _fit(run, net, train_ds, val_ds)
    except KeyboardInterrupt:
        _interrupted(run)
        raise typer.Exit(130) from None
    _report_training(run, history, monitor, seconds)
    chief = not distributed or gn.distributed.rank() == 0
    if val_ds is not None and run.out.exists() and history.epoch and chief:
        with user_errors():
            _report_held_out(run, val_ds)


def _report_held_out(run: _Run, val_ds: Any) -> None:
    """The saved (best) model scored on the held-out images, as ``glassnet evaluate`` scores
    a test folder: how good it is, where it errs and on which photos."""
    from glassnet.cli.evaluation import echo_scores, predict_dataset
    from glassnet.models import load_model

    best = load_model(run.out, compile=False)
    probs, labels, paths = predict_dataset(best, val_ds, run.tta)
    how = " with test-time augmentation (flips)" if run.tta else ""
    typer.echo(f"\nThe saved model{how} on the {len(labels)} held-out images (never trained on):")
    echo_scores(best, probs, labels, paths, 5, side_file(run.out, "confusion.png"), run.out.name)


def _prepare(run: _Run) -> tuple[Model, Any, Any]:
    """The compiled network and the (train, validation or None) datasets; an unknown
    architecture fails before any image is read."""
    from glassnet import applications

    require_directory(run.data_dir)
    applications.canonical_name(run.model)
    train_ds, val_ds = _training_data(run)
    channels = {"grayscale": 1, "rgb": 3, "rgba": 4}[run.color_mode]
    shape = (run.image_size, run.image_size, channels)
    net = build_classifier(run.model, shape, len(train_ds.class_names), run.augment, run.seed)
    net.class_names = list(train_ds.class_names)
    net.preprocessing = train_ds.preprocessing
    steps = len(train_ds)
    if run.time_budget is not None:
        _plan_for_budget(run, net, train_ds, val_ds)
    _compile(run, net, run.epochs * steps)
    if run.verbose:
        net.summary(print_fn=typer.echo)
    return net, train_ds, val_ds


def _compile(run: _Run, net: Model, total_steps: int) -> None:
    """The recipe's optimizer (its schedule over ``total_steps`` updates) and loss."""
    opt = photo_recipe.photo_optimizer(run.optimizer, total_steps, run.lr, run.schedule)
    net.compile(opt, photo_recipe.photo_loss(run.label_smoothing), ["accuracy"])


def _plan_for_budget(run: _Run, net: Model, train_ds: Any, val_ds: Any) -> None:
    """Set ``run.epochs`` to what fits in ``--time-budget``, from a few timed steps."""
    from glassnet.models.budget import measure_steps, parse_duration, plan_epochs

    budget = parse_duration(run.time_budget)
    if run.resume and (run.checkpoints / "latest.json").exists():
        raise UserError(
            "--time-budget plans a run from its start and cannot continue one: resume with "
            "the command the interrupted run printed (it gives --epochs)."
        )
    _compile(run, net, run.epochs * len(train_ds))
    times = measure_steps(net, train_ds, val_ds)
    plan = plan_epochs(budget, times, len(train_ds), len(val_ds) if val_ds is not None else 0)
    run.epochs = plan.epochs
    if run.distributed:
        # Every rank must train as many epochs: rank 0's plan (timed on whole batches, so a
        # cautious one) is everyone's.
        from glassnet import distributed

        run.epochs = distributed.initialize().comm.bcast(plan.epochs, root=0)
    typer.echo(plan.describe())


def _fit(run: _Run, net: Model, train_ds: Any, val_ds: Any) -> tuple[Any, str, float]:
    """Train (from the last checkpoint with ``--resume``), saving the best model as it goes
    and the curves at the end: ``(history, the accuracy monitored, seconds)``."""
    import glassnet as gn
    from glassnet.callbacks import CSVLogger

    has_checkpoint = (run.checkpoints / "latest.json").exists()
    if run.resume and has_checkpoint:
        typer.echo(f"Resuming from the last checkpoint in {run.checkpoints}.")
    elif run.resume:
        typer.echo(f"No checkpoint in {run.checkpoints} yet: starting from the beginning.")
    elif has_checkpoint:
        typer.echo(f"Starting over ({run.checkpoints} holds an earlier run: add --resume).")
    monitor = "val_accuracy" if val_ds is not None else "accuracy"
    callbacks = [
        _keep_best_callback(run.out, monitor),
        CSVLogger(run.history_csv, append=run.resume),
    ]
    if val_ds is not None and run.patience != 0:
        callbacks.append(photo_recipe.photo_early_stopping(run.epochs, run.patience, monitor))
    start = time.perf_counter()
    history = net.fit(
        train_ds,
        validation_data=val_ds,
        epochs=run.epochs,
        verbose=run.verbose,
        callbacks=callbacks,
        checkpoint_dir=str(run.checkpoints),
        resume=run.resume,
        distributed=run.distributed,
    )
    seconds = time.perf_counter() - start
    if not run.out.exists():  # no epoch finished with a finite loss: keep what there is
        net.save(run.out)
    if history.epoch and (not run.distributed or gn.distributed.rank() == 0):
        plot_history(history, run.curves)
    return history, monitor, seconds


def _training_data(run: _Run) -> tuple[Any, Any]:
    """(train, validation or None) datasets from the folder, after printing the dataset
    doctor's report (unreadable files are listed there and skipped)."""
    from glassnet.data import DatasetWarning, image_dataset_from_directory

    common: dict[str, Any] = {
        "image_size": (run.image_size, run.image_size),
        "color_mode": run.color_mode,
        "batch_size": run.batch_size,
        "seed": run.seed,
        "strict": run.strict,
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DatasetWarning)  # the whole report is printed instead
        if run.val_split > 0:
            train_ds, val_ds = image_dataset_from_directory(
                run.data_dir, validation_split=run.val_split, subset="both", **common
            )
        else:
            train_ds, val_ds = image_dataset_from_directory(run.data_dir, **common), None
    if train_ds.report is not None:
        typer.echo(str(train_ds.report))
    return train_ds, val_ds


def _interrupted(run: _Run) -> None:
    latest = run.checkpoints / "latest.json"
    typer.echo("\nInterrupted.", err=True)
    if not latest.exists():
        typer.echo("No epoch had finished, so there is nothing to resume from.", err=True)
        return
    with open(latest) as f:
        epoch = json.load(f).get("epoch", 0) + 1
    typer.echo(f"Epoch {epoch} is saved in {run.checkpoints}. To continue, run:", err=True)
    typer.echo(f"  {run.resume_command()}", err=True)


def _report_training(run: _Run, history: Any, monitor: str, seconds: float) -> None:
    values = history.history.get(monitor, [])
    losses = history.history.get("val_loss" if monitor.startswith("val_") else "loss", [])
    epochs = [e + 1 for e in history.epoch]
    which = "validation" if monitor.startswith("val_") else "training"
    typer.echo(f"\n{len(values)} epoch(s) trained ({seconds:.1f} s in this run).")
    if history.stop_reason:
        typer.echo(history.stop_reason)
    if values and len(losses) == len(values):
        best = max(range(len(values)), key=lambda i: (values[i], -losses[i]))
        typer.echo(f"Final {which} accuracy: {values[-1]:.2%} (epoch {epochs[-1]})")
        typer.echo(
            f"Best {which} accuracy: {values[best]:.2%} (epoch {epochs[best]}, loss "
            f"{losses[best]:.4f}): the saved model."
        )
    typer.echo(f"Model: {run.out}")
    typer.echo(f"History: {run.history_csv}; curves: {run.curves}; checkpoints: {run.checkpoints}")
    typer.echo("Next steps:")
    typer.echo(f"  glassnet evaluate {run.out} TEST_DIR")
    typer.echo(f"  glassnet predict {run.out} IMAGE...")
