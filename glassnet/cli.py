"""The ``glassnet`` command: train, evaluate, inspect and use image classifiers from a shell.

::

    glassnet demo                              # a CNN on the bundled 8×8 digits, in seconds
    glassnet check photos/                     # the dataset doctor: corrupt files, empty classes
    glassnet train photos/ --out cats.glassnet # train, keep the best model, write the curves
    glassnet evaluate cats.glassnet test/      # accuracy, per-class scores, confusion matrix
    glassnet predict cats.glassnet a.jpg b.jpg # top-3 classes per image (--json for scripts)
    glassnet summary vgg16                     # the summary table of a saved model or a network
    glassnet explain cats.glassnet a.jpg       # an HTML report: saliency, activations, filters

Every command is a typed function; typer turns its signature and docstring into the command
line and its ``--help``. Exit codes: 0 success; 1 a problem with the user's files or values,
reported as one ``Error: ...`` line on stderr without a traceback; 2 a usage error (unknown
option, missing argument), reported by typer; 130 training interrupted with Ctrl-C (the last
finished epoch is saved and the command to resume is printed).
"""

from __future__ import annotations

import json
import math
import os
import shlex
import sys
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import numpy as np
import typer

if TYPE_CHECKING:
    from glassnet.models import Model

app = typer.Typer(
    help="glassnet: deep learning you can see through. Train, inspect and save networks.",
    no_args_is_help=True,
    add_completion=False,
)


# ---------------------------------------------------------------------------- errors
class UserError(Exception):
    """A problem the user can fix (a path, a value): one line on stderr, exit status 1."""


def _user_error_types() -> tuple[type[BaseException], ...]:
    """The exceptions glassnet raises for bad files and values (not for bugs)."""
    types: list[type[BaseException]] = [UserError, ValueError, OSError]
    try:
        from glassnet.data import DatasetError

        types.append(DatasetError)
    except ImportError:  # pragma: no cover - the data package ships with glassnet
        pass
    return tuple(types)


@contextmanager
def _user_errors() -> Iterator[None]:
    """Turn glassnet's errors about the user's files and values into ``Error: ...`` + exit 1.

    Messages are glassnet's own (they name the file and say what to do); a traceback would only
    hide them. Messages of several lines (e.g. every mismatched weight) are kept whole.
    """
    try:
        yield
    except typer.Exit:
        raise
    except _user_error_types() as err:
        message = str(err) or type(err).__name__
        typer.echo(f"Error: {message}", err=True)
        raise typer.Exit(1) from None


# ---------------------------------------------------------------------------- architectures
def _augmentation_layers(seed: int) -> list[Any]:
    """The ``--augment`` layers: mild random flips, rotations and zooms, active only while
    training (inference mode passes images through unchanged)."""
    from glassnet import layers

    return [
        layers.RandomFlip("horizontal", seed=seed),
        layers.RandomRotation(0.05, seed=seed + 1),
        layers.RandomZoom(0.1, seed=seed + 2),
    ]


def build_classifier(
    name: str, input_shape: tuple[int, int, int], classes: int, augment: bool = False, seed: int = 0
) -> Model:
    """A named architecture for raw 0–255 pixels: ``[augmentation] → Rescaling(1/255) → net``.

    Preprocessing lives inside the model, so a saved model takes images exactly as
    ``load_image`` returns them. ``small-cnn`` has its own ``Rescaling`` layer first.
    """
    import glassnet as gn
    from glassnet import applications, layers

    canonical = applications.canonical_name(name)
    gn.set_seed(seed)
    base = applications.get(canonical, input_shape, classes)
    front = _augmentation_layers(seed) if augment else []
    if canonical != "small-cnn":
        front.append(layers.Rescaling(1 / 255, name="rescaling"))
    if not front:
        return base
    stack = [layers.Input(input_shape), *front, *base.layers]
    return gn.Sequential(stack, name=base.name)


# ---------------------------------------------------------------------------- helpers
def _echo_table(rows: list[list[str]], right: set[int] | None = None, indent: str = "  ") -> None:
    """Print rows as aligned columns (columns in ``right`` right-aligned)."""
    right = right or set()
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        cells = [
            cell.rjust(w) if i in right else cell.ljust(w)
            for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        ]
        typer.echo((indent + "  ".join(cells)).rstrip())


def _echo_confusion(matrix: np.ndarray, class_names: list[str]) -> None:
    """The confusion matrix as text: row = true class, column = predicted class (by index)."""
    k = len(class_names)
    header = ["", *[str(j) for j in range(k)]]
    rows = [header] + [[f"{i} {class_names[i]}", *[str(n) for n in matrix[i]]] for i in range(k)]
    _echo_table(rows, right=set(range(1, k + 1)))


def _plot_confusion(matrix: np.ndarray, class_names: list[str], path: Path, title: str) -> None:
    """Draw the confusion matrix (counts written in the cells) and save it as a PNG."""
    from glassnet.inspect.plots import plot_confusion

    plot_confusion(matrix, class_names, path, title)


def _plot_history(history: Any, path: Path) -> None:
    """Save the training curves (loss and accuracy per epoch, training vs validation), with a
    note when validation loss rises while training loss falls (overfitting)."""
    from glassnet.inspect.plots import plot_history

    plot_history(history, path)  # a standalone Figure: no GUI backend, nothing left open


def _side_file(model_path: Path, suffix: str) -> Path:
    """A file next to the model named after it: ``cats.glassnet`` -> ``cats.<suffix>``."""
    stem = model_path.name
    for ending in (".glassnet", ".zip"):
        if stem.endswith(ending) and len(stem) > len(ending):
            stem = stem[: -len(ending)]
            break
    return model_path.parent / f"{stem}.{suffix}"


def _load(model_path: Path) -> Model:
    """A saved model for inference, or a ``UserError``/``ValueError`` naming the path."""
    import glassnet as gn

    if not model_path.exists():
        raise UserError(f"model '{model_path}' does not exist. Check the path.")
    return gn.load_model(model_path, compile=False)


def _probabilities(outputs: np.ndarray, model: Model) -> np.ndarray:
    """Class probabilities ``(N, K)`` of a classifier's outputs, decided by the model's
    structure (``glassnet.models.probabilities``, as serve and explain do)."""
    from glassnet.models import probabilities

    outputs = np.asarray(outputs)
    if outputs.ndim != 2:
        raise UserError(
            f"the model outputs shape {outputs.shape[1:]} per image, not one score per class; "
            "evaluate and predict need a classifier."
        )
    return probabilities(outputs, model)


def _class_names(model: Model, classes: int) -> list[str]:
    names = getattr(model, "class_names", None)
    if names and len(names) == classes:
        return [str(n) for n in names]
    return [str(i) for i in range(classes)]


_COLOR_MODES = {1: "grayscale", 3: "rgb", 4: "rgba"}


def _preprocessing(model: Model) -> tuple[dict[str, Any], bool]:
    """How to load images for ``model``: ``(keyword arguments of load_image, resizes)``.

    A model trained by ``glassnet train`` stores them (``model.preprocessing``), so images are
    loaded exactly as in training. Any other model gets its input shape's colour mode and no
    resizing (``resizes`` False): images of another size are an error, not silently stretched.
    """
    stored = getattr(model, "preprocessing", None)
    if stored:
        settings = dict(stored)
        if settings.get("image_size") is not None:
            settings["image_size"] = tuple(settings["image_size"])
        return settings, settings.get("image_size") is not None
    shape = getattr(model, "input_shape", None)
    if shape is None or len(shape) != 4 or shape[3] not in _COLOR_MODES:
        raise UserError(
            f"model '{model.name}' takes input shape {shape}, not images (height, width, 1, 3 "
            "or 4 channels)."
        )
    return {"color_mode": _COLOR_MODES[shape[3]]}, False


def _check_image_size(image: np.ndarray, model: Model, path: Any) -> None:
    expected = tuple(model.input_shape[1:3])
    if None not in expected and tuple(image.shape[:2]) != expected:
        h, w = image.shape[:2]
        raise UserError(
            f"image '{path}' is {h}×{w} pixels but model '{model.name}' takes "
            f"{expected[0]}×{expected[1]} and stores no preprocessing to resize with. Resize "
            "the images, or train the model with glassnet train (which stores it)."
        )


def _require_directory(path: Path, what: str = "data folder") -> None:
    if not path.exists():
        raise UserError(f"{what} '{path}' does not exist. Check the path.")
    if not path.is_dir():
        raise UserError(
            f"{what} '{path}' is not a folder. Give a folder with one sub-folder per class."
        )


# ---------------------------------------------------------------------------- demo
def digits_cnn(seed: int = 0):  # type: ignore[no-untyped-def]
    """A small CNN for 8×8 grayscale digits: two convolutions, pooling, two dense layers."""
    import glassnet as gn
    from glassnet import layers

    gn.set_seed(seed)
    return gn.Sequential(
        [
            layers.Input((8, 8, 1)),
            layers.Rescaling(1 / 255),  # pixel values 0..255 -> 0..1, saved with the model
            layers.Conv2D(16, 3, padding="same", activation="relu"),
            layers.MaxPooling2D(2),
            layers.Conv2D(32, 3, padding="same", activation="relu"),
            layers.Flatten(),
            layers.Dense(64, activation="relu"),
            layers.Dropout(0.2),
            layers.Dense(10, activation="softmax"),
        ],
        name="digits_cnn",
    )


def _digits() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The bundled 8×8 digits as 0–255 float32 images (white ink on black, like a PNG of them)
    and int64 labels: ``x_train, y_train, x_test, y_test`` (1,437 and 360 images)."""
    from glassnet.datasets import digits

    (x_train, y_train), (x_test, y_test) = digits()
    scale = np.float32(255 / 16)  # scikit-learn's ink levels 0..16 -> pixel values 0..255
    return (
        x_train.astype(np.float32) * scale,
        y_train.astype(np.int64),
        x_test.astype(np.float32) * scale,
        y_test.astype(np.int64),
    )


@app.command()
def demo(
    epochs: Annotated[int, typer.Option(min=1, help="Passes over the training images.")] = 8,
    out: Annotated[Path, typer.Option(help="Where to save the trained model.")] = Path(
        "digits.glassnet"
    ),
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same run).")] = 0,
    verbose: Annotated[
        int, typer.Option(min=0, max=2, help="0 quiet, 1 progress bar, 2 a line per epoch.")
    ] = 1,
) -> None:
    """Train a CNN on the handwritten digits bundled with glassnet (8×8 pixels, no download),
    report its test accuracy and confusion matrix, and save it with its training curves."""
    import glassnet as gn

    with _user_errors():
        x_train, y_train, x_test, y_test = _digits()
        model = digits_cnn(seed)
        model.class_names = [str(d) for d in range(10)]
        model.preprocessing = {  # what glassnet predict and the server load images with
            "image_size": [8, 8],
            "color_mode": "grayscale",
            "crop_to_aspect_ratio": False,
            "interpolation": "bilinear",
        }
        model.summary(print_fn=typer.echo)
        model.compile(gn.optimizers.Adam(0.003), "sparse_categorical_crossentropy", ["accuracy"])
        start = time.perf_counter()
        history = model.fit(
            x_train, y_train, epochs=epochs, batch_size=32, validation_split=0.1, verbose=verbose
        )
        seconds = time.perf_counter() - start
        loss, accuracy = model.evaluate(x_test, y_test)
        n = len(x_test)
        typer.echo(
            f"\nTrained in {seconds:.1f} s. On {n} digits it never saw: accuracy "
            f"{accuracy:.2%}, loss {loss:.4f}"
        )
        predictions = model.predict(x_test)
        matrix = gn.metrics.confusion_matrix(y_test, predictions, num_classes=10)
        typer.echo("Confusion matrix (row = true digit, column = predicted):")
        typer.echo("     " + " ".join(f"{d:>3}" for d in range(10)))
        for d, row in enumerate(matrix):
            typer.echo(f"  {d}: " + " ".join(f"{n:>3}" for n in row))
        model.save(out)
        curves = _side_file(out, "curves.png")
        _plot_history(history, curves)
        sample = _side_file(out, "sample.png")
        _save_digit(x_test[0], sample)
    typer.echo(f"Saved the model to {out} (config.json + weights.safetensors)")
    typer.echo(f"and its training curves to {curves}.")
    typer.echo(f"\nA test digit (a {y_test[0]}) is in {sample}, 8×8 pixels, white ink on black.")
    typer.echo("Next steps:")
    typer.echo(f"  glassnet predict {out} {sample}    # the model's top 3 guesses")
    typer.echo(f"  glassnet summary {out}")
    typer.echo(f"  glassnet serve {out}    # a web page and REST API")
    typer.echo(f"  in Python: glassnet.load_model({str(out)!r})")


def _save_digit(image: np.ndarray, path: Path) -> None:
    from PIL import Image

    pixels = np.clip(np.rint(image[..., 0]), 0, 255).astype(np.uint8)
    Image.fromarray(pixels).save(path)  # uint8 (H, W): 8-bit grayscale


# ---------------------------------------------------------------------------- check
@app.command()
def check(
    data_dir: Annotated[
        Path, typer.Argument(metavar="DATA_DIR", help="A folder with one sub-folder per class.")
    ],
    strict: Annotated[
        bool,
        typer.Option(help="Unreadable files are errors (exit 1), as in glassnet train --strict."),
    ] = False,
    val_split: Annotated[
        float | None,
        typer.Option(
            min=0.0, max=0.9, help="Also look for duplicates across this validation split."
        ),
    ] = None,
    seed: Annotated[int, typer.Option(min=0, help="Seed of the validation split.")] = 0,
) -> None:
    """Run the dataset doctor on an image folder: images per class, sizes, corrupt and
    non-image files, empty classes, imbalance and duplicates, before you train on it.

    Exits with 1 when the folder cannot be trained on (or, with --strict, holds unreadable
    files); files that training would merely skip are reported and the exit status is 0.
    """
    from glassnet.data import DatasetError, check_directory

    with _user_errors():
        _require_directory(data_dir)
        try:
            report = check_directory(
                data_dir, validation_split=val_split or None, seed=seed, strict=strict
            )
        except DatasetError as err:
            if err.report is None:
                raise
            typer.echo(str(err.report))
            raise UserError(
                f"'{data_dir}' cannot be used for training: {len(err.report.errors)} error(s), "
                "listed above."
            ) from None
        typer.echo(str(report))


def _keep_best(path: Path, monitor: str) -> Any:
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


def _resume_command(argv: dict[str, Any]) -> str:
    """The exact ``glassnet train ... --resume`` command continuing this run."""
    words = ["glassnet", "train", str(argv.pop("data_dir"))]
    for option, value in argv.items():
        flag = "--" + option.replace("_", "-")
        if isinstance(value, bool):
            if value:
                words.append(flag)
        elif value is not None:
            words += [flag, str(value)]
    words.append("--resume")
    return shlex.join(words)


@app.command()
def train(
    data_dir: Annotated[
        Path,
        typer.Argument(
            metavar="DATA_DIR", help="A folder with one sub-folder of images per class."
        ),
    ],
    model: Annotated[
        str,
        typer.Option(
            "--model",
            "-m",
            help="Architecture: small-cnn, lenet5, mlp, alexnet, vgg11/13/16/19, "
            "resnet18/34/50/101/152, googlenet.",
        ),
    ] = "small-cnn",
    image_size: Annotated[
        int, typer.Option(min=1, help="Images are resized to this many pixels square.")
    ] = 64,
    color_mode: Annotated[
        Literal["rgb", "grayscale", "rgba"],
        typer.Option(help="The channels the model sees (3, 1 or 4)."),
    ] = "rgb",
    epochs: Annotated[int, typer.Option(min=1, help="Passes over the training images.")] = 10,
    batch_size: Annotated[int, typer.Option(min=1, help="Images per gradient step.")] = 32,
    lr: Annotated[
        float | None,
        typer.Option(min=0.0, help="Learning rate (default: the optimizer's, 0.001 for Adam)."),
    ] = None,
    optimizer: Annotated[
        Literal["adam", "adamw", "sgd", "rmsprop"], typer.Option(help="The optimizer.")
    ] = "adam",
    val_split: Annotated[
        float,
        typer.Option(
            min=0.0, max=0.9, help="Share of the images held out to validate (0 for none)."
        ),
    ] = 0.2,
    augment: Annotated[
        bool, typer.Option(help="Random flips, rotations and zooms while training.")
    ] = False,
    out: Annotated[
        Path | None,
        typer.Option(help="Where to save the best model (default: <DATA_DIR name>.glassnet)."),
    ] = None,
    resume: Annotated[
        bool, typer.Option(help="Continue from the last checkpoint of an interrupted run.")
    ] = False,
    seed: Annotated[int, typer.Option(min=0, help="Random seed (same seed, same run).")] = 0,
    strict: Annotated[
        bool, typer.Option(help="Stop on unreadable files instead of skipping them.")
    ] = False,
    verbose: Annotated[
        int, typer.Option(min=0, max=2, help="0 quiet, 1 progress bar, 2 a line per epoch.")
    ] = 1,
    distributed: Annotated[
        bool,
        typer.Option(
            help="Train data-parallel over the ranks of an MPI job: mpirun -n 4 glassnet "
            "train DATA_DIR --distributed. Only rank 0 prints and writes files."
        ),
    ] = False,
) -> None:
    """Train an image classifier on a folder of images (one sub-folder per class).

    Runs the dataset doctor first (bad files are reported and skipped), checkpoints every
    epoch, keeps the model with the best validation accuracy, and writes its training history
    (CSV) and curves (PNG) next to it. Ctrl-C stops cleanly and prints how to resume.
    """
    import glassnet as gn
    from glassnet import applications
    from glassnet.callbacks import CSVLogger

    if distributed and gn.distributed.rank() != 0:
        # Every rank runs this same command; only rank 0 speaks (errors still reach stderr).
        sys.stdout = open(os.devnull, "w")
    if out is None:
        out = Path(f"{data_dir.resolve().name or 'model'}.glassnet")
    settings = {
        "data_dir": data_dir,
        "model": model,
        "image_size": image_size,
        "color_mode": color_mode,
        "epochs": epochs,
        "batch_size": batch_size,
        "lr": lr,
        "optimizer": optimizer,
        "val_split": val_split,
        "augment": augment,
        "out": out,
        "seed": seed,
    }
    checkpoints = Path(f"{out}.checkpoints")
    history_csv = _side_file(out, "history.csv")
    curves = _side_file(out, "curves.png")
    try:
        with _user_errors():
            _require_directory(data_dir)
            applications.canonical_name(model)  # an unknown name fails before any image is read
            train_ds, val_ds = _training_data(
                data_dir, image_size, color_mode, batch_size, val_split, seed, strict
            )
            channels = {"grayscale": 1, "rgb": 3, "rgba": 4}[color_mode]
            shape = (image_size, image_size, channels)
            net = build_classifier(model, shape, len(train_ds.class_names), augment, seed)
            net.class_names = list(train_ds.class_names)
            net.preprocessing = train_ds.preprocessing
            opt = gn.optimizers.get(optimizer)
            if lr is not None:
                opt.learning_rate = lr
            net.compile(opt, "sparse_categorical_crossentropy", ["accuracy"])
            if verbose:
                net.summary(print_fn=typer.echo)
            has_checkpoint = (checkpoints / "latest.json").exists()
            if resume and has_checkpoint:
                typer.echo(f"Resuming from the last checkpoint in {checkpoints}.")
            elif resume:
                typer.echo(f"No checkpoint in {checkpoints} yet: starting from the beginning.")
            elif has_checkpoint:
                typer.echo(f"Starting over ({checkpoints} holds an earlier run: add --resume).")
            monitor = "val_accuracy" if val_ds is not None else "accuracy"
            start = time.perf_counter()
            history = net.fit(
                train_ds,
                validation_data=val_ds,
                epochs=epochs,
                verbose=verbose,
                callbacks=[_keep_best(out, monitor), CSVLogger(history_csv, append=resume)],
                checkpoint_dir=str(checkpoints),
                resume=resume,
                distributed=distributed,
            )
            seconds = time.perf_counter() - start
            if not out.exists():  # no epoch finished with a finite loss: keep what there is
                net.save(out)
            if history.epoch and (not distributed or gn.distributed.rank() == 0):
                _plot_history(history, curves)
    except KeyboardInterrupt:
        _interrupted(checkpoints, settings)
        raise typer.Exit(130) from None
    _report_training(history, monitor, seconds, out, history_csv, curves, checkpoints)


def _training_data(
    data_dir: Path,
    image_size: int,
    color_mode: str,
    batch_size: int,
    val_split: float,
    seed: int,
    strict: bool,
) -> tuple[Any, Any]:
    """(train, validation or None) datasets from the folder, after printing the dataset
    doctor's report (unreadable files are listed there and skipped)."""
    from glassnet.data import DatasetWarning, image_dataset_from_directory

    common: dict[str, Any] = {
        "image_size": (image_size, image_size),
        "color_mode": color_mode,
        "batch_size": batch_size,
        "seed": seed,
        "strict": strict,
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DatasetWarning)  # the whole report is printed instead
        if val_split > 0:
            train_ds, val_ds = image_dataset_from_directory(
                data_dir, validation_split=val_split, subset="both", **common
            )
        else:
            train_ds, val_ds = image_dataset_from_directory(data_dir, **common), None
    if train_ds.report is not None:
        typer.echo(str(train_ds.report))
    return train_ds, val_ds


def _interrupted(checkpoints: Path, settings: dict[str, Any]) -> None:
    latest = checkpoints / "latest.json"
    typer.echo("\nInterrupted.", err=True)
    if not latest.exists():
        typer.echo("No epoch had finished, so there is nothing to resume from.", err=True)
        return
    with open(latest) as f:
        epoch = json.load(f).get("epoch", 0) + 1
    typer.echo(f"Epoch {epoch} is saved in {checkpoints}. To continue, run:", err=True)
    typer.echo(f"  {_resume_command(dict(settings))}", err=True)


def _report_training(
    history: Any,
    monitor: str,
    seconds: float,
    out: Path,
    history_csv: Path,
    curves: Path,
    checkpoints: Path,
) -> None:
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
    typer.echo(f"Model: {out}")
    typer.echo(f"History: {history_csv}; curves: {curves}; checkpoints: {checkpoints}")
    typer.echo("Next steps:")
    typer.echo(f"  glassnet evaluate {out} TEST_DIR")
    typer.echo(f"  glassnet predict {out} IMAGE...")


# ---------------------------------------------------------------------------- evaluate
def _predict_folder(model: Model, data_dir: Path, batch_size: int) -> tuple[Any, ...]:
    """(probabilities (N, K), labels (N,), file paths, doctor's report) for every readable
    image of the folder, labelled by the model's class names and loaded as in training."""
    from glassnet.data import DatasetWarning, image_dataset_from_directory

    settings, resizes = _preprocessing(model)
    if resizes:
        image_size = settings["image_size"]
    else:
        image_size = tuple(model.input_shape[1:3])
        if None in image_size:
            raise UserError(
                f"model '{model.name}' takes images of any size and stores no preprocessing; "
                "evaluate needs one size. Use glassnet predict, or save the model with "
                "model.preprocessing = {'image_size': [height, width]}."
            )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DatasetWarning)  # skipped files are printed instead
        ds = image_dataset_from_directory(
            data_dir,
            class_names=getattr(model, "class_names", None),
            color_mode=settings.get("color_mode", "rgb"),
            batch_size=batch_size,
            image_size=image_size,
            shuffle=False,
            interpolation=settings.get("interpolation", "bilinear"),
            crop_to_aspect_ratio=settings.get("crop_to_aspect_ratio", False),
        )
    report = ds.report
    if not resizes and report is not None and report.min_size is not None:
        if report.min_size != image_size or report.max_size != image_size:
            (h0, w0), (h1, w1) = report.min_size, report.max_size
            raise UserError(
                f"the images in '{data_dir}' are {h0}×{w0} to {h1}×{w1} pixels but model "
                f"'{model.name}' takes {image_size[0]}×{image_size[1]} and stores no "
                "preprocessing to resize with. Resize the images, or train the model with "
                "glassnet train (which stores it)."
            )
    outputs, labels = [], []
    for xb, yb in ds:
        outputs.append(model.predict_on_batch(xb))
        labels.append(np.asarray(yb))
    probs = _probabilities(np.concatenate(outputs), model)
    if len(ds.class_names) != probs.shape[1]:
        raise UserError(
            f"'{data_dir}' has {len(ds.class_names)} class folders {ds.class_names} but model "
            f"'{model.name}' scores {probs.shape[1]} classes."
        )
    return probs, np.concatenate(labels).astype(np.int64), list(ds.file_paths), report


def per_class_scores(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Precision, recall, F1 and support per class from a confusion matrix (rows = true).

    Precision of class k: of the images predicted k, the share that are k (column k).
    Recall: of the images that are k, the share predicted k (row k). F1: their harmonic mean.
    A class never predicted (or absent) scores 0 rather than dividing by zero.
    """
    matrix = np.asarray(matrix, dtype=np.float64)
    tp = np.diag(matrix)
    predicted, support = matrix.sum(axis=0), matrix.sum(axis=1)
    precision = np.divide(tp, predicted, out=np.zeros_like(tp), where=predicted > 0)
    recall = np.divide(tp, support, out=np.zeros_like(tp), where=support > 0)
    total = precision + recall
    f1 = np.divide(2 * precision * recall, total, out=np.zeros_like(tp), where=total > 0)
    return precision, recall, f1, support.astype(np.int64)


@app.command()
def evaluate(
    model_path: Annotated[Path, typer.Argument(metavar="MODEL", help="A saved model.")],
    data_dir: Annotated[
        Path,
        typer.Argument(
            metavar="DATA_DIR", help="Labelled images: one sub-folder per class, as in training."
        ),
    ],
    batch_size: Annotated[int, typer.Option(min=1, help="Images per forward pass.")] = 64,
    worst: Annotated[
        int, typer.Option(min=0, help="How many of the most confidently wrong images to list.")
    ] = 5,
    plot: Annotated[
        Path | None,
        typer.Option(help="Confusion matrix PNG (default: <model name>.confusion.png)."),
    ] = None,
) -> None:
    """Score a saved model on labelled images: accuracy, per-class precision, recall and F1,
    the confusion matrix (text and PNG) and the most confidently wrong images."""
    import glassnet as gn

    with _user_errors():
        _require_directory(data_dir)
        net = _load(model_path)
        probs, labels, paths, report = _predict_folder(net, data_dir, batch_size)
        class_names = _class_names(net, probs.shape[1])
        predicted = probs.argmax(axis=1)
        matrix = gn.metrics.confusion_matrix(labels, predicted, num_classes=len(class_names))
        accuracy = float(np.mean(predicted == labels))
        plot = plot or _side_file(model_path, "confusion.png")
        _plot_confusion(matrix, class_names, plot, f"{model_path.name}\naccuracy {accuracy:.2%}")
    if report is not None and report.skipped_files:
        typer.echo(f"Skipped {len(report.skipped_files)} unreadable file(s):")
        for path, reason in report.skipped_files:
            typer.echo(f"  {path}: {reason}")
    typer.echo(f"Accuracy: {accuracy:.2%} ({int(np.sum(predicted == labels))}/{len(labels)})")
    precision, recall, f1, support = per_class_scores(matrix)
    typer.echo("\nPer class:")
    rows = [["class", "precision", "recall", "f1", "images"]]
    for k, name in enumerate(class_names):
        rows.append(
            [name, f"{precision[k]:.3f}", f"{recall[k]:.3f}", f"{f1[k]:.3f}", str(support[k])]
        )
    rows.append(
        [
            "macro avg",
            f"{precision.mean():.3f}",
            f"{recall.mean():.3f}",
            f"{f1.mean():.3f}",
            str(int(support.sum())),
        ]
    )
    _echo_table(rows, right={1, 2, 3, 4})
    typer.echo("\nConfusion matrix (row = true class, column = predicted class):")
    _echo_confusion(matrix, class_names)
    typer.echo(f"Saved as {plot}")
    wrong = np.flatnonzero(predicted != labels)
    if worst and len(wrong):
        confidence = probs[wrong, predicted[wrong]]
        order = wrong[np.argsort(-confidence, kind="stable")][:worst]
        typer.echo(f"\nMost confidently wrong ({len(order)} of {len(wrong)}):")
        rows = [["image", "true", "predicted", "probability"]]
        for i in order:
            rows.append(
                [
                    str(paths[i]),
                    class_names[labels[i]],
                    class_names[predicted[i]],
                    f"{probs[i, predicted[i]]:.3f}",
                ]
            )
        _echo_table(rows, right={3})
    elif not len(wrong):
        typer.echo("\nNo image was misclassified.")


# ---------------------------------------------------------------------------- predict
@app.command()
def predict(
    model_path: Annotated[Path, typer.Argument(metavar="MODEL", help="A saved model.")],
    images: Annotated[list[Path], typer.Argument(metavar="IMAGE", help="Image files.")],
    top_k: Annotated[int, typer.Option(min=1, help="How many classes to show per image.")] = 3,
    json_output: Annotated[
        bool, typer.Option("--json", help="Print a JSON list (one entry per image).")
    ] = False,
) -> None:
    """Classify images with a saved model: the top classes with their probabilities.

    Images are loaded as in training (size, colour mode), from the model's stored settings.
    An image that cannot be read is reported on stderr (and as an entry with an "error" key in
    --json); the other images are still classified, and the exit status is then 1.
    """
    from glassnet.data import load_image

    with _user_errors():
        net = _load(model_path)
        settings, resizes = _preprocessing(net)
    results: list[dict[str, Any]] = []
    loaded: list[tuple[int, np.ndarray]] = []
    for path in images:
        try:
            image = load_image(path, **settings)
            if not resizes:
                _check_image_size(image, net, path)
        except _user_error_types() as err:
            results.append({"image": str(path), "error": _image_error(path, err)})
            continue
        results.append({"image": str(path)})
        loaded.append((len(results) - 1, image))
    if loaded:
        with _user_errors():
            outputs = net.predict(np.stack([image for _, image in loaded]))
            probs = _probabilities(outputs, net)
        names = _class_names(net, probs.shape[1])
        k = min(top_k, probs.shape[1])
        for (index, _), row in zip(loaded, probs, strict=True):
            best = np.argsort(-row, kind="stable")[:k]
            results[index]["predictions"] = [
                {"class": names[c], "probability": round(float(row[c]), 6)} for c in best
            ]
    if json_output:
        typer.echo(json.dumps(results, indent=2))
    else:
        for r in results:
            if "predictions" in r:
                guesses = ", ".join(
                    f"{p['class']} {p['probability']:.1%}" for p in r["predictions"]
                )
                typer.echo(f"{r['image']}: {guesses}")
    failed = [r for r in results if "error" in r]
    for r in failed:
        typer.echo(f"Error: {r['error']}", err=True)
    if failed:
        raise typer.Exit(1)


def _image_error(path: Path, err: BaseException) -> str:
    message = str(err)
    return message if str(path) in message else f"cannot read image '{path}': {message}"


# ---------------------------------------------------------------------------- summary
def _parse_shape(text: str) -> tuple[int, ...]:
    try:
        shape = tuple(int(part) for part in text.replace("x", ",").split(",") if part.strip())
    except ValueError:
        shape = ()
    if not shape or any(d <= 0 for d in shape):
        raise UserError(
            f"--input-shape must be positive integers separated by commas, e.g. 224,224,3. "
            f"Received: {text!r}"
        )
    return shape


@app.command()
def summary(
    model: Annotated[
        str,
        typer.Argument(
            metavar="MODEL|ARCHITECTURE",
            help="A saved model folder or .zip, or an architecture name such as vgg16.",
        ),
    ],
    input_shape: Annotated[
        str, typer.Option(help="For an architecture: one image's height,width,channels.")
    ] = "224,224,3",
    classes: Annotated[int, typer.Option(min=1, help="For an architecture: classes.")] = 1000,
) -> None:
    """Print a model's layers, output shapes, parameter formulas, sizes and MACs: of a saved
    model, or of a named architecture (glassnet summary resnet50 --input-shape 32,32,3)."""
    import glassnet as gn
    from glassnet import applications

    with _user_errors():
        if os.path.exists(model):
            net = gn.load_model(model, compile=False)
        else:
            try:
                name = applications.canonical_name(model)
            except ValueError:
                raise UserError(
                    f"'{model}' does not exist as a file and is not a known architecture. Known "
                    f"architectures: {', '.join(applications.names())}."
                ) from None
            net = applications.get(name, _parse_shape(input_shape), classes)
    net.summary(print_fn=typer.echo)


@app.command()
def explain(
    model_path: Annotated[Path, typer.Argument(metavar="MODEL", help="A saved model.")],
    image: Annotated[Path, typer.Argument(metavar="IMAGE", help="The photo to explain.")],
    out: Annotated[Path, typer.Option(help="Folder for report.html and its pictures.")] = Path(
        "report"
    ),
    top_k: Annotated[int, typer.Option(min=1, help="How many classes to list.")] = 3,
) -> None:
    """Write an HTML report on why the model classified IMAGE as it did: top classes, the
    saliency map, every layer's activations, the first-layer filters and the summary. Open
    report.html in a browser; no server is needed."""
    from glassnet.data import load_image
    from glassnet.inspect import explain as write_report

    with _user_errors():
        net = _load(model_path)
        settings, resizes = _preprocessing(net)
        pixels = load_image(image, **settings)
        if not resizes:
            _check_image_size(pixels, net, image)
        page = write_report(net, pixels, out, top_k=top_k, title=image.name)
    typer.echo(f"Report: {page}")


@app.command()
def export(
    model_path: Annotated[Path, typer.Argument(metavar="MODEL", help="A saved model.")],
    fmt: Annotated[str, typer.Option("--format", help="The file format: onnx.")] = "onnx",
    out: Annotated[
        Path | None, typer.Option(help="The file to write (default: MODEL's name + .onnx).")
    ] = None,
) -> None:
    """Export a saved model to run without glassnet: an ONNX file for onnxruntime (Python,
    C++, C#, JavaScript, phones), with class names and preprocessing in its metadata."""
    with _user_errors():
        if fmt.lower() != "onnx":
            raise UserError(f"unknown --format {fmt!r}; supported formats: onnx.")
        try:
            from glassnet.export.onnx import export as export_onnx
        except ImportError as err:
            raise UserError(f"{err}") from None
        net = _load(model_path)
        target = out if out is not None else _side_file(model_path, "onnx")
        try:
            export_onnx(net, target)
        except ImportError as err:
            raise UserError(f"{err}") from None
    typer.echo(f"Wrote {target}")


@app.command()
def serve(
    model_path: Annotated[Path, typer.Argument(metavar="MODEL", help="A saved model.")],
    host: Annotated[
        str, typer.Option(help="Address to listen on (0.0.0.0 to be reachable from others).")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port to listen on.")] = 8000,
    workers: Annotated[
        int, typer.Option(min=1, help="Worker processes, each with its own copy of the model.")
    ] = 1,
    max_upload_mb: Annotated[
        float, typer.Option(min=0.001, help="Largest upload accepted, in MiB (larger: 413).")
    ] = 10.0,
    batch_window_ms: Annotated[
        float,
        typer.Option(
            min=0, help="Gather predictions arriving within this many ms into one batch (0: off)."
        ),
    ] = 0.0,
) -> None:
    """Serve a saved model: a web page at http://HOST:PORT/ to upload or photograph an image
    and see the top classes and what the network saw, and a JSON API (POST /predict,
    POST /predict/batch, GET /model, GET /health; documentation at /docs). Ctrl-C stops it."""
    with _user_errors():
        try:
            from glassnet.serve import load_for_serving, run
        except ImportError as err:
            raise UserError(
                f"glassnet serve needs FastAPI, uvicorn and python-multipart ({err}). Install "
                "them with: pip install 'glassnet[serve]'"
            ) from None
        served = load_for_serving(model_path)  # report a bad model as one line, before binding
    typer.echo(
        f"Serving '{served.name}' ({len(served.class_names)} classes) at http://{host}:{port}/ "
        f"(API docs at /docs). Ctrl-C stops it."
    )
    del served
    run(
        model_path,
        host=host,
        port=port,
        workers=workers,
        max_upload_mb=max_upload_mb,
        batch_window_ms=batch_window_ms,
    )


@app.command()
def version() -> None:
    """Print glassnet's version."""
    from glassnet import __version__

    typer.echo(__version__)


def main() -> None:
    """Entry point of the ``glassnet`` console script."""
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
