"""Count with a recurrent network: read a sequence of 0s and 1s, answer how many 1s it holds.

A Dense network sees a whole input at once; a recurrent layer reads it one step at a time and
keeps a running state, so "add one when you see a 1" is something it can learn. The answer
(0 … length) is a class, so the last layer is a softmax and the score is plain accuracy.

Run it:  python examples/sequence_sum.py  [--samples 4000] [--epochs 12] [--cell gru]
"""

from __future__ import annotations

import argparse

import numpy as np

import glassnet as gn
from glassnet import layers


def make_sequences(n: int, length: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` random bit sequences (n, length, 1) and their sums (n,), the class to predict."""
    rng = np.random.default_rng(seed)
    bits = rng.integers(0, 2, (n, length))
    return bits[..., None].astype(np.float32), bits.sum(axis=1)


def main(
    samples: int = 4000,
    length: int = 10,
    units: int = 24,
    epochs: int = 12,
    cell: str = "gru",
    seed: int = 0,
    verbose: bool = True,
) -> float:
    """Train on ``samples`` sequences, return the accuracy on 1,000 new ones."""
    gn.manual_seed(seed)
    x, y = make_sequences(samples, length, seed)
    x_test, y_test = make_sequences(1000, length, seed + 1)
    recurrent = {"gru": layers.GRU, "lstm": layers.LSTM, "simple_rnn": layers.SimpleRNN}[cell]
    model = gn.Sequential(
        [
            layers.Input((length, 1)),
            recurrent(units),
            layers.Dense(length + 1, activation="softmax"),
        ]
    )
    model.compile(gn.optimizers.Adam(0.01), "sparse_categorical_crossentropy", ["accuracy"])
    model.fit(x, y, epochs=epochs, batch_size=32, verbose=0)
    accuracy = float((model.predict(x_test).argmax(axis=1) == y_test).mean())
    if verbose:
        model.summary()
        print(f"test accuracy: {accuracy:.2%}")
    return accuracy


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=4000)
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--cell", choices=["gru", "lstm", "simple_rnn"], default="gru")
    args = parser.parse_args()
    main(samples=args.samples, epochs=args.epochs, cell=args.cell)
