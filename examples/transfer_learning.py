"""Start from a previously trained model: reuse a network trained on digits 0–4 for 5–9.

The texts say weights start "either randomly or from a previously trained model". This is the
second way, called transfer learning or fine-tuning:

1. Train a small convolutional network on one task: recognise the digits 0–4.
2. Save it to disk and load it back, as you would a model somebody else trained.
3. Freeze its convolutional base (``layer.trainable = False``): the filters it learnt — edge
   and stroke detectors — are kept exactly as they are.
4. Replace its head: ``model.pop()`` removes the last layer (5 probabilities for 0–4) and
   ``model.add(Dense(5, activation="softmax"))`` puts a fresh one in its place, for 5–9.
5. Fine-tune on a handful of images of the new digits: only the unfrozen weights learn.

Data: scikit-learn's bundled digits (8 × 8 grey images, 1,797 of them), scaled to 0–1.

Run it:  python examples/transfer_learning.py  [--per-class 10] [--save-dir base.glassnet]
"""

from __future__ import annotations

import argparse
import os
import tempfile

import numpy as np
from sklearn.datasets import load_digits

import glassnet as gn
from glassnet import layers


def load(seed: int = 0, per_class: int = 10) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The two tasks. Old: digits 0–4 (80 % to train, 20 % to test). New: digits 5–9, labelled
    0–4, with only ``per_class`` training images of each digit; the rest is for testing."""
    digits = load_digits()
    x = (digits.images / 16.0).astype(np.float32)[..., None]  # (1797, 8, 8, 1), channels-last
    y = digits.target
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(x))
    x, y = x[order], y[order]

    old = y < 5
    x_old, y_old = x[old], y[old]
    cut = int(0.8 * len(x_old))

    x_new, y_new = x[~old], y[~old] - 5  # the new head's classes 0–4 mean the digits 5–9
    # The first per_class images of each new digit are all the new task gets to learn from.
    few = np.concatenate([np.flatnonzero(y_new == k)[:per_class] for k in range(5)])
    rest = np.setdiff1d(np.arange(len(x_new)), few)
    return {
        "old_train": (x_old[:cut], y_old[:cut]),
        "old_test": (x_old[cut:], y_old[cut:]),
        "new_train": (x_new[few], y_new[few]),
        "new_test": (x_new[rest], y_new[rest]),
    }


def base_model() -> gn.Sequential:
    """A small CNN for 8 × 8 images: two conv + pool stages (the base), then the head."""
    return gn.Sequential(
        [
            layers.Input((8, 8, 1)),
            layers.Conv2D(16, 3, padding="same", activation="relu", name="conv_1"),
            layers.MaxPooling2D(2, name="pool_1"),  # 8×8 -> 4×4
            layers.Conv2D(32, 3, padding="same", activation="relu", name="conv_2"),
            layers.MaxPooling2D(2, name="pool_2"),  # 4×4 -> 2×2
            layers.Flatten(name="flatten"),  # 2·2·32 = 128 features
            layers.Dense(64, activation="relu", name="features"),
            layers.Dense(5, activation="softmax", name="head_0_to_4"),
        ]
    )


def count(weights: list) -> int:
    """How many numbers a list of weights holds."""
    return sum(int(w.size) for w in weights)


def same(before: list[np.ndarray], after: list[np.ndarray]) -> bool:
    """Whether two lists of arrays are identical, bit for bit."""
    return all(np.array_equal(a, b) for a, b in zip(before, after, strict=True))


def main(
    per_class: int = 10,
    base_epochs: int = 20,
    finetune_epochs: int = 50,
    save_dir: str | None = None,
    seed: int = 0,
    verbose: bool = True,
) -> dict:
    """Train, save, load, freeze, replace the head, fine-tune. Returns the accuracies, the
    parameter counts, the fine-tuned model and copies of the frozen weights taken before
    fine-tuning (so a caller can check they did not move)."""
    gn.set_seed(seed)
    data = load(seed, per_class)
    say = print if verbose else (lambda *args, **kwargs: None)

    # 1. The old task: digits 0–4.
    base = base_model()
    base.compile(gn.optimizers.Adam(0.003), "sparse_categorical_crossentropy", ["accuracy"])
    base.fit(*data["old_train"], epochs=base_epochs, batch_size=32, verbose=0)
    _, base_accuracy = base.evaluate(*data["old_test"])
    say(f"1. Base model trained on digits 0-4: {100 * base_accuracy:.1f} % test accuracy.")

    # 2. Save it and load it back: from here on we only use the file.
    with tempfile.TemporaryDirectory() as scratch:
        path = save_dir or os.path.join(scratch, "digits_0_to_4.glassnet")
        base.save(path)
        model = gn.load_model(path)
    say(f"2. Saved to and loaded from {save_dir or 'a temporary folder'}.")

    # 3. Freeze the convolutional base: its filters will not change any more.
    for layer in model.layers:
        if isinstance(layer, layers.Conv2D):
            layer.trainable = False
    frozen = [layer for layer in model.layers if not layer.trainable and layer.weights]
    frozen_before = {layer.name: layer.get_weights() for layer in frozen}

    # 4. Replace the head: 5 new output neurons, for the digits 5–9.
    old_head = model.pop()
    model.add(layers.Dense(5, activation="softmax", name="head_5_to_9"))
    trainable = count(model.trainable_weights)
    non_trainable = count(model.non_trainable_weights)
    say(f"3. Froze {', '.join(layer.name for layer in frozen)}; 4. replaced '{old_head.name}'.")
    say(
        f"   Parameters: {model.count_params():,} in all = {trainable:,} trainable "
        f"+ {non_trainable:,} frozen."
    )

    # 5. Fine-tune on the few images of the new digits. Compile again after changing the
    # layers, so that a fresh optimizer is handed the new head's weights.
    model.compile(gn.optimizers.Adam(0.01), "sparse_categorical_crossentropy", ["accuracy"])
    x_few, y_few = data["new_train"]
    model.fit(x_few, y_few, epochs=finetune_epochs, batch_size=10, verbose=0)
    _, accuracy = model.evaluate(*data["new_test"])
    unchanged = all(same(frozen_before[layer.name], layer.get_weights()) for layer in frozen)
    say(f"5. Fine-tuned on {len(x_few)} images of digits 5-9 ({per_class} of each):")
    say(
        f"   {100 * accuracy:.1f} % accuracy on {len(data['new_test'][1])} unseen images "
        "(guessing: 20 %)."
    )
    say(f"   Frozen weights unchanged, bit for bit: {unchanged}.")
    return {
        "base_accuracy": float(base_accuracy),
        "accuracy": float(accuracy),
        "trainable_params": trainable,
        "non_trainable_params": non_trainable,
        "total_params": model.count_params(),
        "frozen_unchanged": unchanged,
        "frozen_before": frozen_before,
        "model": model,
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-class", type=int, default=10, help="new-digit images per class")
    parser.add_argument("--base-epochs", type=int, default=20, help="epochs on digits 0-4")
    parser.add_argument("--finetune-epochs", type=int, default=50, help="epochs on digits 5-9")
    parser.add_argument("--save-dir", default=None, help="where to save the base model")
    parser.add_argument("--seed", type=int, default=0, help="random seed")
    args = parser.parse_args()
    main(args.per_class, args.base_epochs, args.finetune_epochs, args.save_dir, args.seed)
