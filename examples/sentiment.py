"""Sentiment of short reviews: Embedding → LSTM → Dense, on sentences the example writes itself.

Each review is built from a template such as "the film was not very good at all". Whether it is
positive depends on the adjective *and* on a "not" a few words earlier, so a bag of words is
not enough: the model has to read in order. Words become integer ids, the ``Embedding`` turns
each id into a learned vector, and the LSTM reads the vectors one by one.

Run it:  python examples/sentiment.py  [--reviews 3000] [--epochs 6]
"""

from __future__ import annotations

import argparse

import numpy as np

import glassnet as gn
from glassnet import layers

POSITIVE = ["good", "great", "fun", "lovely", "brilliant", "moving"]
NEGATIVE = ["bad", "dull", "awful", "boring", "weak", "silly"]
SUBJECTS = ["the film", "the plot", "this movie", "the acting", "the ending", "the music"]
VERBS = ["was", "is", "seemed", "felt"]
FILLERS = ["", "very", "really", "quite"]
ENDINGS = ["", "at all", "to me", "overall"]
PAD = "<pad>"


def make_reviews(n: int, seed: int = 0) -> tuple[list[str], np.ndarray]:
    """``n`` reviews and labels (1 = positive)."""
    rng = np.random.default_rng(seed)
    texts, labels = [], []
    for _ in range(n):
        positive_word = bool(rng.integers(2))
        negated = bool(rng.integers(2))
        adjective = rng.choice(POSITIVE if positive_word else NEGATIVE)
        words = [
            rng.choice(SUBJECTS),
            rng.choice(VERBS),
            "not" if negated else "",
            rng.choice(FILLERS),
            adjective,
            rng.choice(ENDINGS),
        ]
        texts.append(" ".join(w for w in words if w))
        labels.append(int(positive_word != negated))
    return texts, np.array(labels)


def build_vocabulary() -> dict[str, int]:
    """Word -> id; id 0 is the padding."""
    words = " ".join(SUBJECTS + VERBS + FILLERS + ENDINGS + POSITIVE + NEGATIVE + ["not"])
    return {w: i for i, w in enumerate([PAD, *sorted(set(words.split()))])}


def encode(texts: list[str], vocabulary: dict[str, int], length: int) -> np.ndarray:
    """Token ids (n, length), padded with 0 at the front so every review ends at the last step."""
    ids = np.zeros((len(texts), length), dtype=np.int64)
    for row, text in enumerate(texts):
        tokens = [vocabulary[w] for w in text.split()][-length:]
        ids[row, length - len(tokens) :] = tokens
    return ids


def main(
    reviews: int = 3000, epochs: int = 6, units: int = 16, seed: int = 0, verbose: bool = True
) -> float:
    """Train on ``reviews`` generated reviews, return the accuracy on 500 new ones."""
    gn.manual_seed(seed)
    vocabulary = build_vocabulary()
    length = 10
    texts, y = make_reviews(reviews, seed)
    test_texts, y_test = make_reviews(500, seed + 1)
    x, x_test = encode(texts, vocabulary, length), encode(test_texts, vocabulary, length)
    model = gn.Sequential(
        [
            layers.Input((length,)),
            layers.Embedding(len(vocabulary), 8),
            layers.LSTM(units),
            layers.Dense(1, activation="sigmoid"),
        ]
    )
    model.compile(gn.optimizers.Adam(0.01), "binary_crossentropy", ["accuracy"])
    model.fit(x, y.astype(np.float32), epochs=epochs, batch_size=32, verbose=0)
    predicted = model.predict(x_test)[:, 0] > 0.5
    accuracy = float((predicted == y_test).mean())
    if verbose:
        for text, p in zip(test_texts[:4], model.predict(x_test[:4])[:, 0], strict=True):
            print(f"{p:.2f}  {text}")
        print(f"test accuracy: {accuracy:.2%}")
    return accuracy


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reviews", type=int, default=3000)
    parser.add_argument("--epochs", type=int, default=6)
    args = parser.parse_args()
    main(reviews=args.reviews, epochs=args.epochs)
