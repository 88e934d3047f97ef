"""LeNet-5 on MNIST: the classic convolutional network on the classic handwritten digits.

MNIST has 60,000 training and 10,000 test images of handwritten digits, 28 × 28 grey pixels.
LeNet-5 (Yann LeCun and colleagues, 1998) is built from exactly the pieces the texts describe
— convolution, max pooling, flattening, fully connected layers, softmax:

    28×28×1 -> Conv2D 5×5, 6 filters, same padding, ReLU -> 28×28×6
            -> MaxPooling 2×2                                -> 14×14×6
            -> Conv2D 5×5, 16 filters, ReLU                  -> 10×10×16
            -> MaxPooling 2×2                                -> 5×5×16
            -> Flatten                                       -> 400
            -> Dense 120, ReLU -> Dense 84, ReLU -> Dense 10, softmax

(The 1998 network used tanh-like activations and average pooling; ReLU and max pooling are
the modern choice and train faster.)

The data: the four IDX files from the MNIST page (``train-images-idx3-ubyte`` ...; gzipped is
fine) in one folder, read by ``glassnet.datasets.mnist.load_data``. Pass that folder:

    python examples/mnist_lenet.py --data path/to/mnist [--epochs 7] [--limit 10000]

``--limit`` trains on the first N training images only, for a quicker run. On the real MNIST
the default 7 epochs reach 99.01 % test accuracy (98.81 % after 5; LeCun et al. 1998
report 0.95 % error, 99.05 % accuracy), in 80–110 s on 2 CPU cores (``benchmarks/RESULTS.md``).
"""

from __future__ import annotations

import argparse
import time

import glassnet as gn
from glassnet import layers
from glassnet.datasets import mnist

DEFAULT_DATA = None  # None: ~/.glassnet/datasets, downloaded (and checksummed) if missing


def lenet5(input_shape: tuple[int, int, int] = (28, 28, 1)) -> gn.Sequential:
    """LeNet-5 for channels-last grey images; pixels arrive as 0–255 and are scaled inside."""
    return gn.Sequential(
        [
            layers.Input(input_shape),
            # Scaling inside the model: a saved model then takes raw pixels, like the files.
            layers.Rescaling(1 / 255),
            layers.Conv2D(6, 5, padding="same", activation="relu"),
            layers.MaxPooling2D(2),
            layers.Conv2D(16, 5, activation="relu"),
            layers.MaxPooling2D(2),
            layers.Flatten(),
            layers.Dense(120, activation="relu"),
            layers.Dense(84, activation="relu"),
            layers.Dense(10, activation="softmax"),
        ]
    )


def main(
    data: str | None = DEFAULT_DATA,
    epochs: int = 7,
    limit: int | None = None,
    batch_size: int = 64,
    save: str | None = None,
    seed: int = 0,
    verbose: bool = True,
) -> dict:
    """Train LeNet-5 on the MNIST files in ``data``; returns the test accuracy after each
    epoch (``accuracies``) and the last one (``accuracy``)."""
    gn.set_seed(seed)
    say = print if verbose else (lambda *args, **kwargs: None)

    (x_train, y_train), (x_test, y_test) = mnist.load_data(data)
    x_train, y_train = x_train[:limit], y_train[:limit]  # limit=None keeps them all
    # Conv2D wants (batch, height, width, channels): add the one grey channel.
    x_train, x_test = x_train[..., None], x_test[..., None]
    say(f"MNIST from {data}: {len(x_train)} training and {len(x_test)} test images")

    model = lenet5(x_train.shape[1:])
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    say(f"LeNet-5 with {model.count_params():,} parameters")

    accuracies = []
    for epoch in range(epochs):
        start = time.perf_counter()
        history = model.fit(x_train, y_train, epochs=1, batch_size=batch_size, verbose=0)
        seconds = time.perf_counter() - start
        # Score on the test images, which the model never learns from.
        _, accuracy = model.evaluate(x_test, y_test, batch_size=256)
        accuracies.append(float(accuracy))
        say(
            f"epoch {epoch + 1}/{epochs}: training loss {history.history['loss'][-1]:.4f}, "
            f"test accuracy {100 * accuracy:.2f} % ({seconds:.1f} s)"
        )
    if save:
        model.save(save)
        say(f"Saved the trained model to {save}")
    return {"accuracies": accuracies, "accuracy": accuracies[-1] if accuracies else None}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data",
        default=DEFAULT_DATA,
        help="folder with the four MNIST IDX files (default: download into ~/.glassnet/datasets)",
    )
    parser.add_argument("--epochs", type=int, default=7, help="passes over the training images")
    parser.add_argument("--limit", type=int, default=None, help="train on the first N images")
    parser.add_argument("--batch-size", type=int, default=64, help="images per gradient step")
    parser.add_argument("--save", default=None, help="save the trained model to this folder")
    parser.add_argument("--seed", type=int, default=0, help="random seed")
    args = parser.parse_args()
    try:
        main(args.data, args.epochs, args.limit, args.batch_size, args.save, args.seed)
    except OSError as err:  # no data there and no download: say so without a traceback
        parser.exit(1, f"error: {err}\n")
