"""A small CNN on CIFAR-10: colour photos of planes, cars, birds, cats ... in 10 classes.

CIFAR-10 has 50,000 training and 10,000 test photos of 32 × 32 pixels with 3 colour channels
(the texts' "red, green and blue" numbers from 0 to 255). The network stacks the texts'
building blocks twice — two 3×3 convolutions, then a 2×2 max pool — and ends with fully
connected layers (the benchmark's "W3" network):

    32×32×3 -> Rescaling(1/255)
            -> Conv2D 3×3, 32, ReLU -> Conv2D 3×3, 32, ReLU -> MaxPooling 2×2   -> 16×16×32
            -> Conv2D 3×3, 64, ReLU -> Conv2D 3×3, 64, ReLU -> MaxPooling 2×2   -> 8×8×64
            -> Flatten -> Dense 256, ReLU -> Dense 10, softmax

All convolutions use "same" padding, so only the pools shrink the image.

The data: the binary version of CIFAR-10 (``cifar-10-binary.tar.gz``, unpacked), read by
``glassnet.datasets.cifar10.load_data``. Pass the ``cifar-10-batches-bin`` folder or its parent:

    python examples/cifar10_cnn.py --data path/to/cifar-10-batches-bin [--epochs 10]
                                   [--limit 5000]

One epoch over all 50,000 photos takes minutes on a laptop CPU; ``--limit`` trains on fewer.
"""

from __future__ import annotations

import argparse
import time

import glassnet as gn
from glassnet import layers
from glassnet.datasets import cifar10

DEFAULT_DATA = None  # None: ~/.glassnet/datasets, downloaded (and checksummed) if missing


def small_cnn(input_shape: tuple[int, int, int] = (32, 32, 3)) -> gn.Sequential:
    """The W3 network; raw 0–255 pixels go in, 10 class probabilities come out."""
    return gn.Sequential(
        [
            layers.Input(input_shape),
            layers.Rescaling(1 / 255),  # inside the model, so a saved model takes raw pixels
            layers.Conv2D(32, 3, padding="same", activation="relu"),
            layers.Conv2D(32, 3, padding="same", activation="relu"),
            layers.MaxPooling2D(2),
            layers.Conv2D(64, 3, padding="same", activation="relu"),
            layers.Conv2D(64, 3, padding="same", activation="relu"),
            layers.MaxPooling2D(2),
            layers.Flatten(),
            layers.Dense(256, activation="relu"),
            layers.Dense(10, activation="softmax"),
        ]
    )


def main(
    data: str | None = DEFAULT_DATA,
    epochs: int = 10,
    limit: int | None = None,
    batch_size: int = 64,
    save: str | None = None,
    seed: int = 0,
    verbose: bool = True,
) -> dict:
    """Train the CNN on the CIFAR-10 files in ``data``; returns the test accuracy after each
    epoch (``accuracies``) and the last one (``accuracy``)."""
    gn.set_seed(seed)
    say = print if verbose else (lambda *args, **kwargs: None)

    (x_train, y_train), (x_test, y_test) = cifar10.load_data(data)
    x_train, y_train = x_train[:limit], y_train[:limit]  # limit=None keeps them all
    say(f"CIFAR-10 from {data}: {len(x_train)} training and {len(x_test)} test photos")

    model = small_cnn(x_train.shape[1:])
    model.class_names = list(cifar10.CLASS_NAMES)  # saved with the model, for predictions
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    say(f"CNN with {model.count_params():,} parameters")

    accuracies = []
    for epoch in range(epochs):
        start = time.perf_counter()
        history = model.fit(x_train, y_train, epochs=1, batch_size=batch_size, verbose=0)
        seconds = time.perf_counter() - start
        _, accuracy = model.evaluate(x_test, y_test, batch_size=256)  # never learnt from
        accuracies.append(float(accuracy))
        say(
            f"epoch {epoch + 1}/{epochs}: training loss {history.history['loss'][-1]:.4f}, "
            f"test accuracy {100 * accuracy:.2f} % ({seconds:.1f} s)"
        )
    if verbose and len(x_test):
        guesses = model.predict(x_test[:8]).argmax(axis=1)
        pairs = ", ".join(
            f"{cifar10.CLASS_NAMES[g]} ({cifar10.CLASS_NAMES[t]})"
            for g, t in zip(guesses, y_test[:8], strict=True)
        )
        print(f"First test photos, guess (truth): {pairs}")
    if save:
        model.save(save)
        say(f"Saved the trained model to {save}")
    return {"accuracies": accuracies, "accuracy": accuracies[-1] if accuracies else None}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data",
        default=DEFAULT_DATA,
        help="cifar-10-batches-bin folder, or the folder holding it (default: download)",
    )
    parser.add_argument("--epochs", type=int, default=10, help="passes over the training photos")
    parser.add_argument("--limit", type=int, default=None, help="train on the first N photos")
    parser.add_argument("--batch-size", type=int, default=64, help="photos per gradient step")
    parser.add_argument("--save", default=None, help="save the trained model to this folder")
    parser.add_argument("--seed", type=int, default=0, help="random seed")
    args = parser.parse_args()
    try:
        main(args.data, args.epochs, args.limit, args.batch_size, args.save, args.seed)
    except OSError as err:  # no data there and no download: say so without a traceback
        parser.exit(1, f"error: {err}\n")
