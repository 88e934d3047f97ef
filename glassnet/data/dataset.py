"""Image folders as streams of batches: ``image_dataset_from_directory`` and ``ImageDataset``.

A folder of 20,000 photos does not fit in memory once decoded (at 224×224 RGB in float32 that
is 12 GB), so an ``ImageDataset`` keeps only the *file names* and decodes each batch when it is
needed. While the model trains on one batch, a small pool of threads decodes the next few:
Pillow releases Python's global interpreter lock while it decodes and resizes, so the threads
really run in parallel with NumPy's own work. At most ``workers + 1`` batches are being decoded
or waiting, plus the one the model holds.

Optionally (``cache=``) the first complete epoch writes the decoded images to a memory-mapped
``.npy`` file, and later epochs read them from there (``glassnet/data/cache.py``).
"""

from __future__ import annotations

import math
import os
import warnings
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import numpy as np

from glassnet.backend import get_rng
from glassnet.data import doctor, images
from glassnet.data.cache import DecodedCache, cache_folder
from glassnet.data.directory import (
    DatasetError,
    DatasetWarning,
    check_split_args,
    index_directory,
    split_indices,
)

__all__ = ["ImageDataset", "image_dataset_from_directory"]

LABEL_MODES = ("int", "categorical", "binary", None)
_WHAT = "image_dataset_from_directory"
_SHOW = 20  # findings listed in the loader's warning


class ImageDataset:
    """Batches of ``(images, labels)`` decoded from files on demand, reshuffled every epoch.

    Iterating gives one epoch of ``(x, y)`` pairs: ``x`` float32 ``(B, height, width,
    channels)`` with pixels 0–255, ``y`` per ``label_mode`` (None when there are no labels —
    ``model.predict(ds)`` takes it too). ``len(ds)`` is the number of batches. Pass it straight
    to ``model.fit(ds)``.

    Usually made by ``image_dataset_from_directory``; build one directly for files labelled some
    other way (a CSV, say).

    Args:
        file_paths: the image files.
        labels: an integer class id per file, or None.
        class_names: the name of each class id.
        label_mode: ``"int"`` (int64 ids), ``"categorical"`` (one-hot float32),
            ``"binary"`` (float32 ``(B, 1)``, two classes) or None (no labels).
        color_mode, image_size, interpolation, crop_to_aspect_ratio: how each file is loaded
            (``load_image``'s arguments).
        batch_size: images per batch (the last batch may be smaller).
        shuffle: visit the files in a new random order every epoch.
        seed: makes the orders repeat from run to run; None follows ``glassnet.set_seed``.
        cache: None, True (a folder under ``~/.glassnet/cache``) or a folder: keep decoded
            images on disk after the first complete epoch.
        workers: decoding threads (0 decodes in the caller's thread, one batch at a time).
        name: what the dataset is (``"training"``, ``"validation"``), for messages.

    Attributes:
        class_names, file_paths, labels (int64 ids or None), num_samples, image_size,
        color_mode, batch_size, label_mode, preprocessing (the dict a model stores so that
        prediction and serving load images identically), report (the doctor's
        ``DatasetReport`` when it ran).
    """

    def __init__(
        self,
        file_paths: list[str],
        labels: Any = None,
        class_names: list[str] | None = None,
        *,
        label_mode: str | None = "int",
        color_mode: str = "rgb",
        batch_size: int = 32,
        image_size: tuple[int, int] = (64, 64),
        shuffle: bool = True,
        seed: int | None = None,
        interpolation: str = "bilinear",
        crop_to_aspect_ratio: bool = False,
        cache: Any = None,
        workers: int = 2,
        name: str | None = None,
        report: Any = None,
    ) -> None:
        what = "ImageDataset"
        size, self.color_mode, self._resample = images.check_preprocessing(
            what, image_size, color_mode, interpolation
        )
        self.image_size: tuple[int, int] = size
        self.interpolation = interpolation
        self.crop_to_aspect_ratio = bool(crop_to_aspect_ratio)
        _check_common(what, label_mode, batch_size, workers)
        self.file_paths = [os.fspath(p) for p in file_paths]
        if not self.file_paths:
            raise ValueError(f"{what}: 'file_paths' is empty; a dataset needs at least one image.")
        self.labels = None if labels is None else np.asarray(labels, dtype=np.int64)
        if self.labels is not None and self.labels.shape != (len(self.file_paths),):
            raise ValueError(
                f"{what}: got {len(self.file_paths)} files but labels of shape "
                f"{self.labels.shape}. Give one integer label per file."
            )
        if label_mode is not None and self.labels is None:
            raise ValueError(
                f"{what}: label_mode={label_mode!r} needs labels. Pass labels, or "
                "label_mode=None for images only."
            )
        self.class_names = None if class_names is None else list(class_names)
        num_classes = len(self.class_names) if self.class_names is not None else None
        if self.labels is not None and num_classes is not None and len(self.labels):
            if self.labels.max() >= num_classes or self.labels.min() < 0:
                raise ValueError(
                    f"{what}: labels run from {self.labels.min()} to {self.labels.max()} but "
                    f"there are {num_classes} class names."
                )
        if label_mode == "binary" and num_classes != 2:
            raise ValueError(
                f"{what}: label_mode='binary' needs exactly 2 classes. Received: "
                f"class_names={self.class_names}. Use label_mode='int' or 'categorical'."
            )
        if label_mode == "categorical" and num_classes is None:
            raise ValueError(f"{what}: label_mode='categorical' needs class_names.")
        self.label_mode, self.batch_size, self.shuffle = label_mode, batch_size, bool(shuffle)
        self.seed, self.workers, self.name, self.report = seed, workers, name, report
        # Two generators from one seed: a run with seed=s sees the same orders every time.
        self._rng = None if seed is None else np.random.default_rng([seed, 1])
        self._cache = self._make_cache(cache)

    # ------------------------------------------------------------------ facts
    @property
    def num_samples(self) -> int:
        return len(self.file_paths)

    @property
    def num_classes(self) -> int | None:
        return None if self.class_names is None else len(self.class_names)

    @property
    def preprocessing(self) -> dict[str, Any]:
        """How every image is loaded, JSON-safe: ``load_image(path, **ds.preprocessing)``."""
        return {
            "image_size": list(self.image_size),
            "color_mode": self.color_mode,
            "crop_to_aspect_ratio": self.crop_to_aspect_ratio,
            "interpolation": self.interpolation,
        }

    @property
    def channels(self) -> int:
        return images.COLOR_MODES[self.color_mode]

    def __len__(self) -> int:
        return math.ceil(self.num_samples / self.batch_size)

    def __repr__(self) -> str:
        classes = "" if self.class_names is None else f", {len(self.class_names)} classes"
        name = f"{self.name}: " if self.name else ""
        return (
            f"ImageDataset({name}{self.num_samples:,} images{classes}, "
            f"batch_size={self.batch_size}, image_size={self.image_size}, "
            f"color_mode={self.color_mode!r}, {len(self)} batches)"
        )

    # ------------------------------------------------------------------ iteration
    def __iter__(self) -> Iterator[tuple[np.ndarray, np.ndarray | None]]:
        """One epoch. The order is drawn now; decoding starts at the first ``next()``."""
        n = self.num_samples
        return self._epoch(
            (self._rng or get_rng()).permutation(n) if self.shuffle else np.arange(n)
        )

    def in_order(self) -> Iterator[tuple[np.ndarray, np.ndarray | None]]:
        """One pass in ``file_paths`` order, never shuffled: batch ``i`` holds files
        ``i·batch_size`` onwards, so predictions line up with the paths (for evaluating)."""
        return self._epoch(np.arange(self.num_samples))

    def _epoch(self, order: np.ndarray) -> Iterator[tuple[np.ndarray, np.ndarray | None]]:
        cached = self._cache.load() if self._cache is not None else None
        writer = self._cache.start() if self._cache is not None and cached is None else None
        chunks = [order[i : i + self.batch_size] for i in range(0, len(order), self.batch_size)]
        pool = None
        if self.workers > 0:
            pool = ThreadPoolExecutor(self.workers, thread_name_prefix="glassnet-data")
        pending: deque[Future] = deque()
        submitted, complete = 0, False
        try:
            for chunk in chunks:
                if pool is None:
                    x = self._load_batch(chunk, cached, writer)
                else:
                    # Keep workers + 1 batches ahead: enough to hide decoding, bounded memory.
                    while submitted < len(chunks) and len(pending) <= self.workers:
                        job = pool.submit(self._load_batch, chunks[submitted], cached, writer)
                        pending.append(job)
                        submitted += 1
                    x = pending.popleft().result()
                yield x, self._targets(chunk)
            complete = True
        finally:
            # Runs on a normal end, an error, and when the loop is abandoned (break, garbage
            # collection, .close()): queued batches are cancelled, running ones finish, and no
            # thread outlives the epoch.
            if pool is not None:
                pool.shutdown(wait=True, cancel_futures=True)
            if writer is not None and complete:
                writer.commit()
            elif writer is not None:
                writer.abort()

    def _load_batch(self, chunk: np.ndarray, cached: Any, writer: Any) -> np.ndarray:
        h, w = self.image_size
        x = np.empty((len(chunk), h, w, self.channels), dtype=np.float32)
        for j, i in enumerate(chunk):
            if cached is not None:
                x[j] = cached[i]
                continue
            pixels = images.decode_image(
                self.file_paths[i],
                self.image_size,
                self.color_mode,
                self.crop_to_aspect_ratio,
                self._resample,
            )
            x[j] = pixels
            if writer is not None:
                writer.rows[i] = pixels
        return x

    def _targets(self, chunk: np.ndarray) -> np.ndarray | None:
        if self.label_mode is None:
            return None
        ids = self.labels[chunk]
        if self.label_mode == "int":
            return ids
        if self.label_mode == "binary":
            return ids.astype(np.float32)[:, None]
        return np.eye(len(self.class_names), dtype=np.float32)[ids]

    # ------------------------------------------------------------------ smaller pieces
    def take(self, num_batches: int) -> ImageDataset:
        """A dataset of the first ``num_batches`` batches' files (in ``file_paths`` order), with
        the same settings and no cache — for a quick look or a smoke test."""
        if not isinstance(num_batches, int) or num_batches < 1:
            raise ValueError(
                f"ImageDataset.take: 'num_batches' must be a positive integer. "
                f"Received: {num_batches!r}"
            )
        keep = num_batches * self.batch_size
        labels = None if self.labels is None else self.labels[:keep]
        return ImageDataset(
            self.file_paths[:keep],
            labels,
            self.class_names,
            label_mode=self.label_mode,
            batch_size=self.batch_size,
            shuffle=self.shuffle,
            seed=self.seed,
            workers=self.workers,
            name=self.name,
            **self.preprocessing,
        )

    def as_arrays(self) -> tuple[np.ndarray, np.ndarray | None]:
        """Decode every image into one array: ``(x, y)`` in ``file_paths`` order (no shuffle).

        Memory: ``num_samples × height × width × channels × 4`` bytes for ``x`` (float32) —
        1,000 images at 64×64 RGB take 49 MB, 20,000 at 224×224 take 12 GB. Use it for small
        datasets (tests, a test set, plotting); stream large ones by iterating instead.
        """
        h, w = self.image_size
        x = np.empty((self.num_samples, h, w, self.channels), dtype=np.float32)
        start = 0
        for xb, _ in self.in_order():
            x[start : start + len(xb)] = xb
            start += len(xb)
        return x, self._targets(np.arange(self.num_samples))

    def _make_cache(self, cache: Any) -> DecodedCache | None:
        folder = cache_folder(cache, "ImageDataset")
        if folder is None:
            return None
        h, w = self.image_size
        identity = {
            "folder": os.path.abspath(os.path.commonpath(self.file_paths)),
            "name": self.name,
            "seed": self.seed,
        }
        shape = (self.num_samples, h, w, self.channels)
        return DecodedCache(folder, identity, self.file_paths, self.preprocessing, shape)


def _check_common(what: str, label_mode: Any, batch_size: Any, workers: Any) -> None:
    if label_mode not in LABEL_MODES:
        raise ValueError(
            f"{what}: 'label_mode' must be 'int', 'categorical', 'binary' or None. "
            f"Received: label_mode={label_mode!r}"
        )
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(
            f"{what}: 'batch_size' must be a positive integer. Received: batch_size={batch_size!r}"
        )
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 0:
        raise ValueError(
            f"{what}: 'workers' must be a non-negative integer (0 decodes in the calling "
            f"thread). Received: workers={workers!r}"
        )


def _refuse_empty_classes(index: Any) -> None:
    """Raise naming every class folder that holds no image, if any does."""
    names = index.class_names or []
    counts = np.bincount(index.labels, minlength=len(names)) if names else []
    pairs = zip(names, counts, strict=True)
    empty = [index.class_folders[name] for name, count in pairs if count == 0]
    if empty:
        raise DatasetError(
            f"{_WHAT}: class folder(s) with no images: "
            + ", ".join(f"'{folder}'" for folder in empty)
            + ". Add images to each, or remove the folder (run `glassnet check` on "
            f"'{index.directory}' for a full report)."
        )


def image_dataset_from_directory(
    directory: Any,
    labels: Any = "inferred",
    label_mode: str | None = "int",
    class_names: list[str] | None = None,
    color_mode: str = "rgb",
    batch_size: int = 32,
    image_size: tuple[int, int] = (64, 64),
    shuffle: bool = True,
    seed: int | None = None,
    validation_split: float | None = None,
    subset: str | None = None,
    interpolation: str = "bilinear",
    crop_to_aspect_ratio: bool = False,
    cache: Any = None,
    workers: int = 2,
    check: bool = True,
    strict: bool = False,
) -> ImageDataset | tuple[ImageDataset, ImageDataset]:
    """Batches of images and labels from a folder with one sub-folder per class (Keras's
    function of the same name).

    ::

        photos/
          cats/  001.jpg 002.png ...
          dogs/  001.jpg sub/002.jpg ...

    Class names are the sub-folder names sorted (``["cats", "dogs"]``); an image's label is its
    class's position in that list. Images stream from disk in batches (see ``ImageDataset``).
    Before anything is loaded, the dataset doctor (``check_directory``) opens every file:
    corrupt, truncated and non-image files are skipped with a ``DatasetWarning`` naming them,
    and a folder that cannot be trained on raises ``DatasetError``.

    Args:
        directory: the folder.
        labels: ``"inferred"`` (from sub-folders), None (all images under the folder, no
            labels), or a list of integer labels, one per image file in sorted path order.
        label_mode: ``"int"``, ``"categorical"``, ``"binary"`` or None (see ``ImageDataset``).
        class_names: the class folders to use, in this order (default: all, sorted).
        color_mode: ``"rgb"``, ``"grayscale"`` or ``"rgba"``.
        batch_size: images per batch.
        image_size: ``(height, width)`` every image is resized to.
        shuffle: shuffle the files, and reshuffle them every epoch.
        seed: the random seed of the split and of the shuffles. Required with
            ``validation_split``; pass the same seed when loading each subset.
        validation_split: the share of images held out for validation (0 < split < 1).
        subset: ``"training"``, ``"validation"`` or ``"both"`` (returns both, as a tuple).
        interpolation: the resize filter (``load_image``).
        crop_to_aspect_ratio: crop to the target aspect ratio instead of stretching.
        cache: None, True (a folder under ``~/.glassnet/cache``) or a folder: keep decoded
            images on disk after the first complete epoch (a stale cache is never reused).
        workers: decoding threads per dataset (0: decode in the training thread).
        check: run the dataset doctor first (recommended; it decodes every file once).
        strict: treat corrupt or non-image files as errors instead of skipping them.

    Returns:
        An ``ImageDataset``, or ``(training, validation)`` with ``subset="both"``.

    Raises:
        DatasetError: the folder is missing, has no class folders, only empty ones, a single
            class, or no readable image; or (``strict=True``) holds unreadable files.
        ValueError: invalid arguments, e.g. a split without a seed.

    Example::

        train, val = image_dataset_from_directory(
            "photos", validation_split=0.2, subset="both", seed=123, image_size=(64, 64)
        )
        model.fit(train, validation_data=val, epochs=10)
    """
    size, color_mode, _ = images.check_preprocessing(_WHAT, image_size, color_mode, interpolation)
    _check_common(_WHAT, label_mode, batch_size, workers)
    check_split_args(validation_split, subset, seed, _WHAT)
    folder_for_cache = cache_folder(cache, _WHAT)
    index = index_directory(directory, labels, class_names, _WHAT)
    if label_mode == "binary" and index.class_names is not None and len(index.class_names) != 2:
        raise ValueError(
            f"{_WHAT}: label_mode='binary' needs exactly 2 classes, but '{index.directory}' has "
            f"{len(index.class_names)}: {index.class_names}. Use label_mode='int' or "
            "'categorical'."
        )
    n = len(index.paths)
    parts: dict[str | None, np.ndarray] = {}
    if validation_split:
        parts["training"], parts["validation"] = split_indices(n, validation_split, seed)
        if n and len(parts["validation"]) == 0:
            _refuse_empty_classes(index)  # the likelier culprit, named first (as the doctor does)
            raise DatasetError(
                f"{_WHAT}: validation_split={validation_split} of {n} images in "
                f"'{index.directory}' leaves no validation images. Use a larger split or add "
                "images."
            )
    else:
        rng = get_rng() if seed is None else np.random.default_rng(seed)
        parts[None] = rng.permutation(n) if shuffle else np.arange(n)
    report, skipped = None, set()
    if check:
        report = doctor.run_checks(
            index,
            validation_split=validation_split,
            seed=seed,
            strict=strict,
            require_two_classes=label_mode is not None and index.inferred and class_names is None,
            what=_WHAT,
            cache_folder=folder_for_cache,
        )
        if report.errors:
            raise DatasetError(doctor.error_message(report, _WHAT), report=report)
        skipped = {path for path, _ in report.skipped_files}
        _warn_findings(report)
    elif not index.paths:
        raise DatasetError(f"{_WHAT}: no images (.png, .jpg, ...) found in '{index.directory}'.")
    wanted = ["training", "validation"] if subset == "both" else [subset]
    datasets = []
    for part in wanted:
        positions = parts[part]
        if not shuffle:
            positions = np.sort(positions)
        positions = [i for i in positions if index.paths[i] not in skipped]
        if not positions:
            raise DatasetError(
                f"{_WHAT}: {f'the {part} subset of ' if part else ''}'{index.directory}' has "
                "no readable images. Add images or change validation_split."
            )
        datasets.append(
            ImageDataset(
                [index.paths[i] for i in positions],
                None if index.labels is None else index.labels[positions],
                index.class_names,
                label_mode=label_mode if index.labels is not None else None,
                color_mode=color_mode,
                batch_size=batch_size,
                image_size=size,
                shuffle=shuffle,
                seed=seed,
                interpolation=interpolation,
                crop_to_aspect_ratio=crop_to_aspect_ratio,
                cache=cache,
                workers=workers,
                name=part,
                report=report,
            )
        )
    return tuple(datasets) if subset == "both" else datasets[0]


def _warn_findings(report: Any) -> None:
    """One ``DatasetWarning`` with the doctor's findings that affect training (skipped files
    first); silent when the folder is clean."""
    lines = report.problems + report.warnings
    if not lines:
        return
    skipped = len(report.skipped_files)
    head = f"dataset check of '{report.directory}': "
    head += f"skipped {skipped} unreadable file(s); " if skipped else ""
    head += f"{len(lines)} finding(s) (run `glassnet check` for the full report):"
    shown = lines[:_SHOW] + ([f"... and {len(lines) - _SHOW} more"] if len(lines) > _SHOW else [])
    warnings.warn("\n  - ".join([head, *shown]), DatasetWarning, stacklevel=3)
