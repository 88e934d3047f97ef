"""The user's files as the commands meet them: saved models, the images they take, folders of
labelled images, and the files written next to a model."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import numpy as np
import typer

from glassnet.cli.errors import UserError

if TYPE_CHECKING:
    from glassnet.models import Model

__all__ = [
    "ModelPath",
    "check_image_size",
    "class_names",
    "image_error",
    "load_saved_model",
    "plot_history",
    "require_directory",
    "side_file",
]

#: The MODEL argument of the commands that use a saved model.
ModelPath = Annotated[Path, typer.Argument(metavar="MODEL", help="A saved model.")]


def side_file(model_path: Path, suffix: str) -> Path:
    """A file next to the model named after it: ``cats.glassnet`` -> ``cats.<suffix>``."""
    stem = model_path.name
    for ending in (".glassnet", ".zip"):
        if stem.endswith(ending) and len(stem) > len(ending):
            stem = stem[: -len(ending)]
            break
    return model_path.parent / f"{stem}.{suffix}"


def plot_history(history: Any, path: Path) -> None:
    """Save the training curves (loss and accuracy per epoch, training vs validation), with a
    note when validation loss rises while training loss falls (overfitting)."""
    from glassnet.inspect.plots import plot_history as draw  # matplotlib only when drawing

    draw(history, path)  # a standalone Figure: no GUI backend, nothing left open


def load_saved_model(model_path: Path) -> Model:
    """A saved model for inference, or a ``UserError``/``ValueError`` naming the path."""
    import glassnet as gn

    if not model_path.exists():
        raise UserError(f"model '{model_path}' does not exist. Check the path.")
    return gn.load_model(model_path, compile=False)


def class_names(model: Model, classes: int) -> list[str]:
    """The model's class names when it stores one per class, else the class indices."""
    names = getattr(model, "class_names", None)
    return [str(n) for n in (names if names and len(names) == classes else range(classes))]


def check_image_size(image: np.ndarray, model: Model, path: Any) -> None:
    """Raise a ``UserError`` when ``image`` is not the size ``model`` takes (for a model that
    stores no preprocessing to resize with)."""
    expected = tuple(model.input_shape[1:3])
    if None not in expected and tuple(image.shape[:2]) != expected:
        h, w = image.shape[:2]
        raise UserError(
            f"image '{path}' is {h}×{w} pixels but model '{model.name}' takes "
            f"{expected[0]}×{expected[1]} and stores no preprocessing to resize with. Resize "
            "the images, or train the model with glassnet train (which stores it)."
        )


def image_error(path: Path, err: BaseException) -> str:
    """The message for an image that cannot be used, naming ``path`` once."""
    message = str(err)
    return message if str(path) in message else f"cannot read image '{path}': {message}"


def require_directory(path: Path, what: str = "data folder") -> None:
    """Raise a ``UserError`` unless ``path`` is an existing folder."""
    if not path.exists():
        raise UserError(f"{what} '{path}' does not exist. Check the path.")
    if not path.is_dir():
        raise UserError(
            f"{what} '{path}' is not a folder. Give a folder with one sub-folder per class."
        )
