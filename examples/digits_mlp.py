"""Recognise handwritten digits with a small fully connected network, in a few seconds.

The texts' image-recognition story at its smallest: each image is a grid of pixels, the
pixels are the inputs, and layers of neurons learn which patterns of pixels mean "3" or "7".
The data is scikit-learn's bundled digits: 1,797 images of 8 × 8 grey pixels (values 0–16),
labelled 0–9. We keep a quarter of them aside as a test set the network never learns from,
so the accuracy we print is on unseen handwriting.

The network (a "multi-layer perceptron"):

    64 pixels -> Dense(256, relu) -> Dropout(0.3) -> Dense(10, softmax) -> 10 probabilities

Run it:  python examples/digits_mlp.py  [--epochs 40] [--hidden 256]
"""

from __future__ import annotations

import argparse

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

import glassnet as gn


def load(seed: int = 0) -> tuple[np.ndarray, ...]:
    """Digits as (x_train, x_test, y_train, y_test): pixels scaled to 0–1, 25 % held out."""
    digits = load_digits()
    x = digits.data.astype(np.float32) / 16.0  # (1797, 64): each image as a row of 64 pixels
    # stratify: each digit keeps the same share in the training and the test set.
    return train_test_split(
        x, digits.target, test_size=0.25, random_state=seed, stratify=digits.target
    )


def main(epochs: int = 40, hidden: int = 256, seed: int = 0, verbose: bool = True) -> dict:
    """Train the MLP; returns the test accuracy and loss, and the per-epoch history."""
    gn.set_seed(seed)  # the same starting weights and batch order every run
    x_train, x_test, y_train, y_test = load(seed)

    model = gn.Sequential(
        [
            gn.layers.Input((64,)),
            gn.layers.Dense(hidden, activation="relu"),  # the hidden layer: learnt features
            # While training, Dropout silences a random 30 % of the hidden neurons at each step,
            # so no neuron can lean on one particular other: it helps the network generalise
            # from only 1,347 training images. At test time it does nothing.
            gn.layers.Dropout(0.3),
            gn.layers.Dense(10, activation="softmax"),  # one probability per digit
        ]
    )
    # sparse_categorical_crossentropy: the labels are digits 0–9, not one-hot rows.
    model.compile(
        gn.optimizers.Adam(learning_rate=0.003),
        "sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    history = model.fit(
        x_train,
        y_train,
        epochs=epochs,
        batch_size=32,
        validation_data=(x_test, y_test),
        verbose=2 if verbose else 0,
    )
    loss, accuracy = model.evaluate(x_test, y_test)

    if verbose:
        predictions = model.predict(x_test).argmax(axis=1)
        wrong = np.flatnonzero(predictions != y_test)
        print()
        print(
            f"Test accuracy: {100 * accuracy:.2f} % ({len(y_test) - len(wrong)} of "
            f"{len(y_test)} unseen images right), test loss {loss:.4f}"
        )
        print(f"Parameters: {model.count_params():,} (64*{hidden} + {hidden} + {hidden}*10 + 10)")
        if len(wrong):
            mistakes = ", ".join(f"{y_test[i]} read as {predictions[i]}" for i in wrong[:8])
            print(f"Some mistakes: {mistakes}")
    return {"accuracy": float(accuracy), "loss": float(loss), "history": history.history}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=40, help="passes over the training data")
    parser.add_argument("--hidden", type=int, default=256, help="neurons in the hidden layer")
    parser.add_argument("--seed", type=int, default=0, help="random seed for split and weights")
    args = parser.parse_args()
    main(epochs=args.epochs, hidden=args.hidden, seed=args.seed)
