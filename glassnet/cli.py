"""The ``glassnet`` command: ``glassnet demo`` trains a small convolutional network end to end.

Every command is a typed function; typer turns its signature and docstring into the command
line and its ``--help``.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import numpy as np
import typer

app = typer.Typer(
    help="glassnet: deep learning you can see through. Train, inspect and save networks.",
    no_args_is_help=True,
    add_completion=False,
)


def digits_cnn(seed: int = 0):  # type: ignore[no-untyped-def]
    """A small CNN for 8×8 grayscale digits: two convolutions, pooling, two dense layers."""
    import glassnet as gn
    from glassnet import layers

    gn.set_seed(seed)
    return gn.Sequential(
        [
            layers.Input((8, 8, 1)),
            layers.Rescaling(1 / 16),  # pixel values 0..16 -> 0..1, saved with the model
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


@app.command()
def demo(
    epochs: Annotated[int, typer.Option(min=1, help="Passes over the training images.")] = 8,
    out: Annotated[Path, typer.Option(help="Where to save the trained model.")] = Path(
        "digits.glassnet"
    ),
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same run).")] = 0,
    verbose: Annotated[int, typer.Option(help="0 quiet, 1 progress bar, 2 a line per epoch.")] = 1,
) -> None:
    """Train a CNN on the handwritten digits bundled with scikit-learn (1,797 8×8 images, no
    download), report its test accuracy and confusion matrix, and save it."""
    from sklearn.datasets import load_digits

    import glassnet as gn

    digits = load_digits()
    x = digits.images[..., None].astype(np.float32)  # (1797, 8, 8, 1), values 0..16
    y = digits.target
    order = np.random.default_rng(seed).permutation(len(x))
    test, train = order[:360], order[360:]
    model = digits_cnn(seed)
    model.class_names = [str(d) for d in range(10)]
    model.summary()
    model.compile(gn.optimizers.Adam(0.003), "sparse_categorical_crossentropy", ["accuracy"])
    start = time.perf_counter()
    model.fit(
        x[train], y[train], epochs=epochs, batch_size=32, validation_split=0.1, verbose=verbose
    )
    seconds = time.perf_counter() - start
    loss, accuracy = model.evaluate(x[test], y[test])
    typer.echo(
        f"\nTrained in {seconds:.1f} s. On 360 digits it never saw: accuracy {accuracy:.2%}, "
        f"loss {loss:.4f}"
    )
    predictions = model.predict(x[test])
    matrix = gn.metrics.confusion_matrix(y[test], predictions, num_classes=10)
    typer.echo("Confusion matrix (row = true digit, column = predicted):")
    typer.echo("     " + " ".join(f"{d:>3}" for d in range(10)))
    for d, row in enumerate(matrix):
        typer.echo(f"  {d}: " + " ".join(f"{n:>3}" for n in row))
    model.save(out)
    typer.echo(f"Saved the model to {out} (config.json + weights.safetensors).")
    typer.echo(f"Load it in Python with glassnet.load_model({str(out)!r}),")
    typer.echo(f"or look at it with: glassnet summary {out}")


@app.command()
def summary(model: Annotated[Path, typer.Argument(help="A saved model folder or .zip.")]) -> None:
    """Print a saved model's layers, shapes, parameter formulas and sizes."""
    import glassnet as gn

    try:
        loaded = gn.load_model(model, compile=False)
    except (OSError, ValueError) as err:
        typer.echo(f"Error: {err}", err=True)
        raise typer.Exit(1) from err
    loaded.summary()


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
