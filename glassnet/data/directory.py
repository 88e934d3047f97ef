"""Reading an image folder's layout: which files, which classes, and the validation split.

Keras's conventions: one sub-folder per class, class names sorted alphabetically, a class's
label is its position in that list, and images may sit in nested folders inside a class folder
(symbolic links to folders are not followed). Names starting with ``.`` (and macOS's
``__MACOSX`` zip leftovers) are ignored everywhere.

The loader and the dataset doctor both use ``index_directory`` and ``split_indices``, so the
doctor's "this duplicate crosses the train/validation split" is about the very split the
loader makes.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from glassnet.checks import is_int
from glassnet.data.images import IMAGE_EXTENSIONS

__all__ = [
    "DatasetError",
    "DatasetWarning",
    "DirectoryIndex",
    "check_split_args",
    "index_directory",
    "split_indices",
]


class DatasetError(ValueError):
    """An image folder that cannot be trained on: missing, no classes, no usable images...

    Attributes:
        report: the ``DatasetReport`` when the dataset doctor found the problem, else None.
    """

    def __init__(self, message: str, report: Any = None) -> None:
        super().__init__(message)
        self.report = report


class DatasetWarning(UserWarning):
    """Something in an image folder deserves a look: skipped files, duplicates, imbalance."""


@dataclass
class DirectoryIndex:
    """The files of an image folder, in the sorted order every split is computed on.

    ``labels[i]`` is the class id of ``paths[i]`` (None when there are no labels).
    """

    directory: str
    paths: list[str]
    labels: np.ndarray | None
    class_names: list[str] | None
    class_folders: dict[str, str] = field(default_factory=dict)  # class name → folder
    ignored_files: list[str] = field(default_factory=list)  # no image extension
    loose_images: list[str] = field(default_factory=list)  # images outside any class folder
    inferred: bool = True  # labels come from folders


def is_hidden(name: str) -> bool:
    return name.startswith(".") or name == "__MACOSX"


def is_image_file(name: str) -> bool:
    return name.lower().endswith(IMAGE_EXTENSIONS)


def _walk(folder: str) -> tuple[list[str], list[str]]:
    """(image files, other files) under ``folder``, in Keras's order: folders sorted by path,
    files sorted by name within each."""
    found = []
    for root, dirs, files in os.walk(folder, followlinks=False):
        dirs[:] = [d for d in dirs if not is_hidden(d)]
        found.append((root, sorted(f for f in files if not is_hidden(f))))
    images, others = [], []
    for root, files in sorted(found, key=lambda item: item[0]):
        for name in files:
            (images if is_image_file(name) else others).append(os.path.join(root, name))
    return images, others


def _check_folder(directory: Any, what: str) -> str:
    try:
        path = os.fspath(directory)
    except TypeError:
        raise TypeError(
            f"{what}: 'directory' must be a path (str or pathlib.Path). "
            f"Received: {type(directory).__name__}"
        ) from None
    if not os.path.exists(path):
        raise DatasetError(
            f"{what}: the image folder '{path}' does not exist. Check the path; it should hold "
            "one sub-folder of images per class."
        )
    if not os.path.isdir(path):
        raise DatasetError(
            f"{what}: '{path}' is a file, not a folder. Pass the folder that holds one "
            "sub-folder of images per class."
        )
    return path


def index_directory(
    directory: Any,
    labels: Any = "inferred",
    class_names: Any = None,
    what: str = "image_dataset_from_directory",
) -> DirectoryIndex:
    """List the images of ``directory`` with their labels.

    Args:
        directory: the folder.
        labels: ``"inferred"`` (a class per sub-folder), None (every image under the folder,
            no labels) or a list of integer labels, one per image in sorted path order.
        class_names: with ``"inferred"``, the class folders to use, in this order (a subset of
            the sub-folders); None for all, sorted.

    Raises:
        DatasetError: the folder is missing or has no class folders.
        ValueError: inconsistent arguments (Keras's rules).
    """
    path = _check_folder(directory, what)
    if labels == "inferred":
        return _index_classes(path, class_names, what)
    if class_names is not None:
        raise ValueError(
            f"{what}: 'class_names' can only be given with labels='inferred' (class names come "
            f"from folder names). Received: labels={_short(labels)}, class_names={class_names!r}"
        )
    images, others = _walk(path)
    if labels is None:
        return DirectoryIndex(path, images, None, None, ignored_files=others, inferred=False)
    if isinstance(labels, (str, bytes)) or not hasattr(labels, "__len__"):
        raise ValueError(
            f"{what}: 'labels' must be 'inferred', None, or a list of integer labels (one per "
            f"image file, in sorted path order). Received: labels={_short(labels)}"
        )
    given = np.asarray(labels)
    if given.ndim != 1 or not np.issubdtype(given.dtype, np.integer) or (given < 0).any():
        raise ValueError(
            f"{what}: 'labels' must be a list of non-negative integers, one per image file. "
            f"Received: labels={_short(labels)}"
        )
    if len(given) != len(images):
        raise ValueError(
            f"{what}: 'labels' has {len(given)} entries but '{path}' holds {len(images)} image "
            "files. Give one label per image file, in sorted path order."
        )
    names = [str(n) for n in range(int(given.max()) + 1)] if len(given) else []
    return DirectoryIndex(
        path, images, given.astype(np.int64), names, ignored_files=others, inferred=False
    )


def _index_classes(path: str, class_names: Any, what: str) -> DirectoryIndex:
    with os.scandir(path) as entries:
        entries = sorted(entries, key=lambda e: e.name)
        folders = [e.name for e in entries if e.is_dir() and not is_hidden(e.name)]
        top_files = [e.path for e in entries if not e.is_dir() and not is_hidden(e.name)]
    loose = [f for f in top_files if is_image_file(f)]
    if not folders:
        hint = ""
        if loose:
            hint = (
                f" It holds {len(loose)} image(s) directly; to load them without labels pass "
                "labels=None, to train put them in class folders."
            )
        raise DatasetError(
            f"{what}: no class folders in '{path}'. Put each class's images in a sub-folder "
            f"named after the class, e.g. '{os.path.join(path, 'cats', '1.jpg')}' and "
            f"'{os.path.join(path, 'dogs', '1.jpg')}'.{hint}"
        )
    if class_names is not None:
        if isinstance(class_names, str) or not all(isinstance(c, str) for c in class_names):
            raise ValueError(
                f"{what}: 'class_names' must be a list of folder names. "
                f"Received: class_names={class_names!r}"
            )
        class_names = list(class_names)
        missing = [c for c in class_names if c not in folders]
        if missing or len(set(class_names)) != len(class_names) or not class_names:
            raise ValueError(
                f"{what}: 'class_names' must name distinct sub-folders of '{path}'. "
                f"Expected some of {folders}, received: class_names={class_names}"
                + (f" (no folder for {missing})" if missing else "")
            )
        chosen = class_names
    else:
        chosen = folders
    paths, labels, others = [], [], [f for f in top_files if not is_image_file(f)]
    for label, name in enumerate(chosen):
        images, other = _walk(os.path.join(path, name))
        paths += images
        labels += [label] * len(images)
        others += other
    return DirectoryIndex(
        directory=path,
        paths=paths,
        labels=np.asarray(labels, dtype=np.int64),
        class_names=list(chosen),
        class_folders={name: os.path.join(path, name) for name in chosen},
        ignored_files=others,
        loose_images=loose,
    )


def check_split_args(
    validation_split: Any, subset: Any, seed: Any, what: str, needs_subset: bool = True
) -> None:
    """Keras's rules for ``validation_split``/``subset``/``seed``, with one change: a split
    always needs a seed (even with ``shuffle=False``), because the split is always drawn at
    random — Keras's unshuffled split takes the last files, i.e. whole last classes."""
    if validation_split is not None:
        if isinstance(validation_split, bool) or not isinstance(
            validation_split, (int, float, np.floating)
        ):
            raise TypeError(
                f"{what}: 'validation_split' must be a number between 0 and 1. "
                f"Received: validation_split={validation_split!r}"
            )
        if not 0 < validation_split < 1:
            raise ValueError(
                f"{what}: 'validation_split' must be between 0 and 1 (exclusive). "
                f"Received: validation_split={validation_split}"
            )
    if subset not in (None, "training", "validation", "both"):
        raise ValueError(
            f"{what}: 'subset' must be 'training', 'validation', 'both' or None. "
            f"Received: subset={subset!r}"
        )
    if needs_subset and bool(validation_split) != (subset is not None):
        raise ValueError(
            f"{what}: 'subset' and 'validation_split' go together: pass both (e.g. "
            "validation_split=0.2, subset='both') or neither. "
            f"Received: validation_split={validation_split}, subset={subset!r}"
        )
    if validation_split and seed is None:
        raise ValueError(
            f"{what}: validation_split={validation_split} needs a 'seed' (e.g. seed=123), so "
            "that the training and validation subsets come from the same shuffle and never "
            "overlap. Pass the same seed whenever you load either subset."
        )
    if seed is not None and not (is_int(seed) and seed >= 0):
        raise ValueError(f"{what}: 'seed' must be a non-negative integer. Received: seed={seed!r}")


def split_indices(n: int, validation_split: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The one split rule: shuffle positions ``0..n-1`` with ``seed``; the last
    ``int(validation_split * n)`` are validation (Keras's count), the rest training.

    Returned in shuffled order. Positions index the *sorted* file list of ``index_directory``,
    including files that later turn out unreadable, so the split of every good file stays the
    same whether or not the doctor ran, and when a file is fixed.
    """
    order = np.random.default_rng(seed).permutation(n)
    n_val = int(validation_split * n)
    return order[: n - n_val], order[n - n_val :]


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
