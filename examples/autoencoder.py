"""Learning without labels: an autoencoder squeezes digit images through 16 numbers.

The texts split neural networks into supervised (every example comes with the right answer)
and unsupervised (no answers at all). An autoencoder is the classic unsupervised network: its
target is its own input. It must pass each 8 × 8 image (64 pixels) through a narrow middle
layer of 16 neurons — the "code" — and rebuild all 64 pixels from those 16 numbers. To do
that well it has to discover what digit images have in common (strokes, loops, where ink
usually is); nobody tells it which digit an image shows.

Data: scikit-learn's bundled handwritten digits (1,797 images, 8 × 8, values 0–16), scaled to
0–1. The labels are never used.

Run it:  python examples/autoencoder.py  [--epochs 100] [--code 16]
"""

from __future__ import annotations

import argparse

import numpy as np
from sklearn.datasets import load_digits

import glassnet as gn


def reconstruction_error(model: gn.Model, images: np.ndarray) -> float:
    """Mean squared difference between the images and the model's rebuilt images."""
    return float(np.mean((model.predict(images) - images) ** 2))


def main(
    epochs: int = 100,
    code: int = 16,
    samples: int | None = None,
    seed: int = 0,
    verbose: bool = True,
) -> dict:
    """Train the autoencoder; returns the reconstruction error on unseen images before and
    after training (and of the laziest possible answer, the average image)."""
    gn.set_seed(seed)
    images = load_digits().data.astype(np.float32) / 16.0  # (1797, 64), pixels 0–1
    rng = np.random.default_rng(seed)
    images = images[rng.permutation(len(images))][:samples]
    n_train = int(0.8 * len(images))
    train, test = images[:n_train], images[n_train:]  # judge it on images it never saw

    model = gn.Sequential(
        [
            gn.layers.Input((64,)),
            # The encoder: 64 pixels -> 16 numbers.
            gn.layers.Dense(32, activation="relu", name="encoder_1"),
            gn.layers.Dense(code, activation="relu", name="code"),
            # The decoder: 16 numbers -> 64 pixels. A sigmoid keeps every pixel in 0–1.
            gn.layers.Dense(32, activation="relu", name="decoder_1"),
            gn.layers.Dense(64, activation="sigmoid", name="pixels"),
        ]
    )
    # x is both the input and the target: that is the whole unsupervised trick.
    model.compile(gn.optimizers.Adam(learning_rate=0.003), loss="mse")
    before = reconstruction_error(model, test)
    model.fit(train, train, epochs=epochs, batch_size=32, verbose=0)
    after = reconstruction_error(model, test)
    # A yardstick: always answering with the average training image.
    baseline = float(np.mean((train.mean(axis=0) - test) ** 2))

    if verbose:
        print(f"Autoencoder 64 -> 32 -> {code} -> 32 -> 64, trained on {len(train)} images")
        print(f"without their labels, checked on {len(test)} others.")
        print(f"  reconstruction error before training: {before:.4f}")
        print(f"  reconstruction error after training:  {after:.4f}")
        print(f"  (always answering the average image:  {baseline:.4f})")
        print()
        print("One unseen image and its reconstruction (denser characters = more ink):")
        _show_side_by_side(test[0], model.predict(test[:1])[0])
    return {"before": before, "after": after, "average_image": baseline}


def _show_side_by_side(original: np.ndarray, rebuilt: np.ndarray) -> None:
    """Print two 8 × 8 images next to each other as characters."""
    shades = " .:-=+*#%@"

    def row(image: np.ndarray, r: int) -> str:
        values = np.clip(image.reshape(8, 8)[r], 0, 1)
        return "".join(shades[int(v * (len(shades) - 1))] * 2 for v in values)

    print(f"  {'original':<16}    {'rebuilt':<16}")
    for r in range(8):
        print(f"  {row(original, r)}    {row(rebuilt, r)}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=100, help="passes over the images")
    parser.add_argument("--code", type=int, default=16, help="neurons in the narrow middle")
    parser.add_argument("--seed", type=int, default=0, help="random seed")
    args = parser.parse_args()
    main(epochs=args.epochs, code=args.code, seed=args.seed)
