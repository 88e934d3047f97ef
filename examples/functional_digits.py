"""One network, two questions: which digit is it, and is it even? The functional API.

A ``Sequential`` model is a chain. Many networks are not: ResNet adds a block's input back to
its output, a ticket classifier reads a title and a body, a self-driving net predicts a
steering angle *and* a speed. Keras's functional API writes any such graph by calling layers
on tensors:

    pixels ─ Dense(64) ─ Dense(64) ─ add ─┬─ Dense(10, softmax)  "digit"
                 └──────────────────────┘ └─ Dense(1, sigmoid)   "even"

``Input`` gives a symbolic tensor (a shape, no numbers); each layer called on it records the
call; ``Model(inputs, outputs)`` runs those layers, in that wiring, on real data. Two outputs
mean two losses: ``compile`` takes one per output (by name), ``loss_weights`` says what each
counts for in the total, and ``fit`` reports each output's loss and accuracy.

The data is scikit-learn's bundled digits (1,797 images of 8 × 8 grey pixels); a quarter is
kept aside as a test set.

Run it:  python examples/functional_digits.py  [--epochs 30]
"""

from __future__ import annotations

import argparse

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

import glassnet as gn
from glassnet import layers


def build() -> gn.Model:
    """The two-headed network: a shared trunk with a skip connection, then one head each."""
    pixels = gn.Input((64,), name="pixels")
    hidden = layers.Dense(64, activation="relu", name="hidden")(pixels)
    refined = layers.Dense(64, activation="relu", name="refined")(hidden)
    trunk = layers.add([hidden, refined])  # the skip: the second layer learns a correction
    digit = layers.Dense(10, activation="softmax", name="digit")(trunk)
    even = layers.Dense(1, activation="sigmoid", name="even")(trunk)
    return gn.Model(pixels, {"digit": digit, "even": even}, name="two_questions")


def main(epochs: int = 30, seed: int = 0, verbose: bool = True) -> dict:
    """Train both heads together; returns each head's test accuracy and the model."""
    gn.utils.set_random_seed(seed)
    data = load_digits()
    x = data.data.astype(np.float32) / 16.0
    x_train, x_test, y_train, y_test = train_test_split(
        x, data.target, test_size=0.25, random_state=seed, stratify=data.target
    )
    targets = {"digit": y_train, "even": (y_train % 2 == 0).astype(np.float32)}

    model = build()
    model.compile(
        gn.optimizers.Adam(0.003),
        loss={"digit": "sparse_categorical_crossentropy", "even": "binary_crossentropy"},
        loss_weights={"digit": 1.0, "even": 0.5},  # the digit is the main question
        metrics={"digit": ["accuracy"], "even": ["accuracy"]},
    )
    if verbose:
        model.summary()  # the "Connected to" column shows the graph
    model.fit(x_train, targets, batch_size=32, epochs=epochs, verbose=0)

    predicted = model.predict(x_test)  # a dict, by output name
    digit_accuracy = float(np.mean(predicted["digit"].argmax(axis=1) == y_test))
    even_accuracy = float(np.mean((predicted["even"][:, 0] > 0.5) == (y_test % 2 == 0)))
    # The trunk alone, as a feature extractor: the same layers and weights, a new output.
    features = gn.Model(model.input, model.get_layer("hidden").output)
    if verbose:
        print(f"Test accuracy, which digit: {digit_accuracy:.2%}")
        print(f"Test accuracy, even or odd: {even_accuracy:.2%}")
        print(
            f"The hidden layer's 64 features of the first test image: {features(x_test[:1]).shape}"
        )
    return {"digit_accuracy": digit_accuracy, "even_accuracy": even_accuracy, "model": model}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=30)
    main(parser.parse_args().epochs)
