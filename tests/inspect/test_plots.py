"""Training curves with an overfitting note, confusion matrix, most confidently wrong images."""

from __future__ import annotations

import csv

import numpy as np

from glassnet import inspect
from glassnet.callbacks import History
from glassnet.inspect.plots import confident_mistakes
from glassnet.inspect.visual import HEADER, grid_shape

from .helpers import png_size_and_spread

OVERFIT = {
    "loss": [1.0, 0.6, 0.4, 0.3, 0.2],
    "accuracy": [0.5, 0.7, 0.8, 0.85, 0.9],
    "val_loss": [1.1, 0.7, 0.65, 0.75, 0.9],
    "val_accuracy": [0.5, 0.65, 0.7, 0.68, 0.66],
}


def test_overfitting_is_noted_when_validation_loss_rises_while_training_loss_falls():
    note = inspect.overfitting_note(OVERFIT)
    assert note is not None
    assert "lowest at epoch 3 (0.65)" in note and "risen to 0.9" in note
    healthy = {"loss": [1.0, 0.5, 0.3], "val_loss": [1.1, 0.6, 0.4]}
    assert inspect.overfitting_note(healthy) is None
    one_bump = {"loss": [1.0, 0.5, 0.3], "val_loss": [1.1, 0.6, 0.65]}
    assert inspect.overfitting_note(one_bump) is None  # one epoch up is noise, not a trend


def test_curves_from_a_history_and_from_history_csv_are_the_same_picture(tmp_path):
    history = History()
    for epoch in range(5):
        history.on_epoch_end(epoch, {k: v[epoch] for k, v in OVERFIT.items()})
    from_history = inspect.plot_history(history, tmp_path / "a.png")
    with open(tmp_path / "history.csv", "w", newline="") as f:  # CSVLogger's layout
        writer = csv.writer(f)
        writer.writerow(["epoch", *OVERFIT])
        for epoch in range(5):
            writer.writerow([epoch, *(v[epoch] for v in OVERFIT.values())])
    assert inspect.read_history_csv(tmp_path / "history.csv") == OVERFIT
    from_csv = inspect.plot_history(tmp_path / "history.csv", tmp_path / "b.png")
    size, spread = png_size_and_spread(from_history)
    assert size == (2 * 480, 400) and spread > 5  # a loss panel and an accuracy panel
    assert from_csv.read_bytes() == from_history.read_bytes()


def test_confusion_matrix_png(tmp_path):
    matrix = np.array([[5, 1, 0], [0, 6, 2], [1, 0, 7]])
    path = inspect.plot_confusion(matrix, ["cat", "dog", "human"], tmp_path / "c.png")
    size, spread = png_size_and_spread(path)
    assert size == (400, 400) and spread > 5


def test_most_confidently_wrong_images(tmp_path, rng):
    images = rng.uniform(0, 255, (6, 8, 8, 1))
    labels = np.array([0, 1, 2, 0, 1, 2])
    probs = np.array(
        [
            [0.9, 0.05, 0.05],  # right
            [0.6, 0.3, 0.1],  # wrong, 0.6
            [0.05, 0.9, 0.05],  # wrong, 0.9
            [0.2, 0.1, 0.7],  # wrong, 0.7
            [0.1, 0.8, 0.1],  # right
            [0.1, 0.1, 0.8],  # right
        ]
    )
    assert confident_mistakes(probs, labels).tolist() == [2, 3, 1]
    path = inspect.plot_confident_mistakes(images, labels, probs, list("abc"), tmp_path / "w.png")
    rows, cols = grid_shape(3)
    size, spread = png_size_and_spread(path)
    assert size == (cols * 128, rows * 148 + HEADER) and spread > 5
    right = probs.argmax(axis=1)
    assert (
        inspect.plot_confident_mistakes(images, right, probs, list("abc"), tmp_path / "n.png")
        is None
    )
