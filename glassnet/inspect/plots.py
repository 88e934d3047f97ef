"""Plots of training and evaluation: learning curves (with an overfitting note), the confusion
matrix and the most confidently wrong images. Standalone ``Figure`` objects, saved as PNG;
pyplot's global state and GUI backends are never touched, so these work in a server or a test.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path
from typing import Any

import numpy as np

from glassnet.inspect.visual import DPI, HEADER, grid_shape, new_figure, save_figure, unit_range

__all__ = [
    "overfitting_note",
    "plot_confident_mistakes",
    "plot_confusion",
    "plot_history",
    "read_history_csv",
]

PathLike = str | os.PathLike[str]


def read_history_csv(path: PathLike) -> dict[str, list[float]]:
    """The per-epoch columns of a ``history.csv`` written by ``CSVLogger`` (the ``epoch``
    column dropped)."""
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        raise ValueError(f"history file '{path}' has no epochs. Train for at least one epoch.")
    keys = [k for k in rows[0] if k != "epoch"]
    return {k: [float(row[k]) for row in rows if row.get(k) not in (None, "")] for k in keys}


def _as_history(history: Any) -> dict[str, list[float]]:
    if isinstance(history, (str, os.PathLike)):
        return read_history_csv(history)
    return dict(getattr(history, "history", history))


def overfitting_note(history: Any, patience: int = 2) -> str | None:
    """A sentence when validation loss has risen for ``patience`` epochs since its best while
    training loss kept falling (the model is learning its training data by heart), else None."""
    logs = _as_history(history)
    loss, val = logs.get("loss"), logs.get("val_loss")
    if not loss or not val or len(val) < patience + 1:
        return None
    best = int(np.argmin(val))
    rising = len(val) - 1 - best >= patience and val[-1] > val[best]
    if rising and loss[-1] < loss[best]:
        return (
            f"Overfitting: validation loss was lowest at epoch {best + 1} ({val[best]:.4g}) and "
            f"has risen to {val[-1]:.4g} while training loss kept falling ({loss[best]:.4g} → "
            f"{loss[-1]:.4g}). Stop earlier (EarlyStopping), augment, or add dropout."
        )
    return None


def plot_history(history: Any, path: PathLike = "curves.png") -> Path:
    """Save the training curves: one panel per quantity (loss, accuracy, ...), training vs
    validation, with the overfitting note under them when it applies.

    Args:
        history: a ``History``, its ``history`` dict, or a ``history.csv`` path.

    Returns:
        The PNG's path: 480 px wide per panel, 400 px high.
    """
    from matplotlib.ticker import MaxNLocator  # matplotlib loads when a plot is drawn

    logs = _as_history(history)
    names = [k for k in logs if not k.startswith("val_") and k != "learning_rate"]
    if not names:
        raise ValueError("plot_history: the history holds no values to plot.")
    width, height = 480 * len(names), 400
    fig = new_figure(width, height)
    note = overfitting_note(logs)
    for k, name in enumerate(names):
        ax = fig.add_axes((k / len(names) + 0.09 / len(names), 0.25, 0.82 / len(names), 0.62))
        epochs = np.arange(1, len(logs[name]) + 1)
        ax.plot(epochs, logs[name], marker="o", label=f"training {name}")
        if f"val_{name}" in logs:
            val = logs[f"val_{name}"]
            ax.plot(np.arange(1, len(val) + 1), val, marker="o", label=f"validation {name}")
        if note and "val_loss" in logs:  # where validation loss was best
            best = int(np.argmin(logs["val_loss"])) + 1
            label = f"best val_loss (epoch {best})"
            ax.axvline(best, color="#a04000", ls="--", lw=0.8, label=label)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("epoch")
        ax.set_title(name)
        ax.legend(fontsize=8)
    text = note or "No sign of overfitting: validation loss has not risen while training loss fell."
    if "val_loss" not in logs:
        text = "No validation data: overfitting cannot be judged."
    fig.text(0.01, 0.03, text, fontsize=8, wrap=True, color="#a04000" if note else "#333333")
    return save_figure(fig, path)


def plot_confusion(
    matrix: Any, class_names: list[str], path: PathLike, title: str = "Confusion matrix"
) -> Path:
    """Save the confusion matrix (row = true class, column = predicted, counts in the cells)."""
    matrix = np.asarray(matrix)
    k = len(class_names)
    size = int(min(max(4.0, 2.5 + 0.45 * k), 16) * DPI)
    fig = new_figure(size, size)
    ax = fig.add_axes((0.2, 0.2, 0.75, 0.68))
    ax.imshow(matrix, cmap="Blues")
    ax.set_xticks(range(k), class_names, rotation=45, ha="right")
    ax.set_yticks(range(k), class_names)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_title(title)
    if k <= 30:
        high = matrix.max() / 2 if matrix.size else 0
        for i in range(k):
            for j in range(k):
                color = "white" if matrix[i, j] > high else "black"
                ax.text(j, i, str(matrix[i, j]), ha="center", va="center", color=color)
    return save_figure(fig, path)


def confident_mistakes(probs: Any, labels: Any, k: int = 8) -> np.ndarray:
    """Indices of the ``k`` wrong predictions made with the highest probability, surest first."""
    probs, labels = np.asarray(probs), np.asarray(labels)
    predicted = probs.argmax(axis=1)
    wrong = np.flatnonzero(predicted != labels)
    confidence = probs[wrong, predicted[wrong]]
    return wrong[np.argsort(-confidence, kind="stable")][:k]


def plot_confident_mistakes(
    images: Any,
    labels: Any,
    probs: Any,
    class_names: list[str],
    path: PathLike,
    k: int = 8,
    cell: int = 128,
) -> Path | None:
    """Save the ``k`` most confidently wrong images, each titled "true → predicted (p)".

    Returns None (and writes nothing) when no image was misclassified.
    """
    order = confident_mistakes(probs, labels, k)
    if not len(order):
        return None
    images, probs, labels = np.asarray(images), np.asarray(probs), np.asarray(labels)
    rows, cols = grid_shape(len(order))
    width, height = cols * cell, rows * (cell + 20) + HEADER
    fig = new_figure(width, height)
    fig.text(0.5, 1 - (HEADER / 2) / height, "Most confidently wrong", ha="center", va="center")
    for n, i in enumerate(order):
        r, c = divmod(n, cols)
        image = unit_range(images[i])
        image = image[..., 0] if image.ndim == 3 and image.shape[-1] == 1 else image
        bottom = (rows - 1 - r) * (cell + 20) / height
        gap = 4  # pixels between images
        ax = fig.add_axes(
            ((c * cell + gap) / width, bottom, (cell - 2 * gap) / width, (cell - gap) / height)
        )
        ax.imshow(image, cmap="gray", interpolation="nearest")
        ax.set_axis_off()
        p = probs[i].argmax()
        label = f"{class_names[labels[i]]} → {class_names[p]} ({probs[i, p]:.2f})"
        centre, top = (c + 0.5) * cell / width, bottom + (cell + 10) / height
        fig.text(centre, top, label, ha="center", va="center", fontsize=8)
    return save_figure(fig, path)
