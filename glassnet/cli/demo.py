"""``glassnet demo``: a CNN trained on the handwritten digits bundled with glassnet, in seconds."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import numpy as np
import typer

from glassnet.cli.errors import user_errors
from glassnet.cli.files import plot_history, side_file
from glassnet.cli.training import Epochs, Verbose

if TYPE_CHECKING:
    from glassnet.models import Sequential

__all__ = ["demo", "digits_cnn"]


def digits_cnn(seed: int = 0) -> Sequential:
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
    x_train, x_test = (x.astype(np.float32) * scale for x in (x_train, x_test))
    return x_train, y_train.astype(np.int64), x_test, y_test.astype(np.int64)


def _compiled_digits_cnn(seed: int) -> Sequential:
    """``digits_cnn`` with its class names and how to load its images, compiled for training."""
    import glassnet as gn

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
    return model


def demo(
    epochs: Epochs = 8,
    out: Annotated[Path, typer.Option(help="Where to save the trained model.")] = Path(
        "digits.glassnet"
    ),
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same run).")] = 0,
    verbose: Verbose = 1,
) -> None:
    """Train a CNN on the handwritten digits bundled with glassnet (8×8 pixels, no download),
    report its test accuracy and confusion matrix, and save it with its training curves."""
    import glassnet as gn

    with user_errors():
        x_train, y_train, x_test, y_test = _digits()
        model = _compiled_digits_cnn(seed)
        start = time.perf_counter()
        history = model.fit(
            x_train, y_train, epochs=epochs, batch_size=32, validation_split=0.1, verbose=verbose
        )
        seconds = time.perf_counter() - start
        loss, accuracy = model.evaluate(x_test, y_test)
        typer.echo(
            f"\nTrained in {seconds:.1f} s. On {len(x_test)} digits it never saw: accuracy "
            f"{accuracy:.2%}, loss {loss:.4f}"
        )
        predictions = model.predict(x_test)
        _echo_confusion(gn.metrics.confusion_matrix(y_test, predictions, num_classes=10))
        model.save(out)
        curves = side_file(out, "curves.png")
        plot_history(history, curves)
        sample = side_file(out, "sample.png")
        _save_digit(x_test[0], sample)
    typer.echo(f"Saved the model to {out} (config.json + weights.safetensors)")
    typer.echo(f"and its training curves to {curves}.")
    typer.echo(f"\nA test digit (a {y_test[0]}) is in {sample}, 8×8 pixels, white ink on black.")
    typer.echo("Next steps:")
    typer.echo(f"  glassnet predict {out} {sample}    # the model's top 3 guesses")
    typer.echo(f"  glassnet summary {out}")
    typer.echo(f"  glassnet serve {out}    # a web page and REST API")
    typer.echo(f"  in Python: glassnet.load_model({str(out)!r})")


def _echo_confusion(matrix: np.ndarray) -> None:
    """The digits' confusion matrix as text: row = true digit, column = predicted."""
    typer.echo("Confusion matrix (row = true digit, column = predicted):")
    typer.echo("     " + " ".join(f"{d:>3}" for d in range(10)))
    for d, row in enumerate(matrix):
        typer.echo(f"  {d}: " + " ".join(f"{n:>3}" for n in row))


def _save_digit(image: np.ndarray, path: Path) -> None:
    from PIL import Image

    pixels = np.clip(np.rint(image[..., 0]), 0, 255).astype(np.uint8)
    Image.fromarray(pixels).save(path)  # uint8 (H, W): 8-bit grayscale
