"""The dataset doctor: look at every file of an image folder before training on it.

Training on a folder of photos fails in dull ways: one corrupt JPEG stops it after an hour, an
empty class folder crashes the loader, a class with 30 images among classes of 3,000 is never
predicted, the same photo sits in both the training and the validation share and flatters the
accuracy. ``check_directory`` (``glassnet check DATA_DIR``, and run by
``image_dataset_from_directory`` before it loads anything) finds these up front:

* images per class, with the imbalance between the largest and the smallest class;
* image sizes (min / median / max) and colour modes and formats seen;
* corrupt or truncated files (every image is opened and fully decoded, in parallel);
* files that are not images by content (a ``.jpg`` that is a web page), and files without an
  image extension (ignored, like Keras does);
* empty class folders, a single class, images lying outside any class folder;
* exact duplicates (same bytes, by SHA-256): within a class, across classes (conflicting
  labels), and across the training/validation split the loader would make with the same
  ``validation_split`` and ``seed``.

Findings come in three grades: ``errors`` stop training (``DatasetError``), ``problems`` are
wrong data that training works around (unreadable files are skipped), ``warnings`` deserve a
look.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import secrets
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import PIL

from glassnet.data import images
from glassnet.data.cache import cache_folder
from glassnet.data.directory import (
    DatasetError,
    DirectoryIndex,
    check_split_args,
    index_directory,
    split_indices,
)

__all__ = ["IMBALANCE_THRESHOLD", "DatasetReport", "check_directory"]

#: A dataset is flagged as imbalanced when its largest class has more than this many times the
#: images of its smallest.
IMBALANCE_THRESHOLD = 3.0

_SHOW = 20  # findings of one kind printed before "... and N more"
_MEMO_VERSION = 1


@dataclass(repr=False)
class DatasetReport:
    """What the dataset doctor found in one image folder.

    ``str(report)`` is a readable report with a bar per class. Sizes are ``(height, width)``,
    per axis. Paths are as listed from ``directory``.
    """

    directory: str
    class_names: list[str] | None
    counts: dict[str, int]  # readable images per class
    num_files: int  # files with an image extension
    usable_files: list[str]
    corrupt_files: list[tuple[str, str]]  # (path, reason): broken, truncated, empty, too large
    non_image_files: list[tuple[str, str]]  # (path, reason): an image extension, other content
    ignored_files: list[str]  # no image extension: never loaded
    loose_images: list[str]  # images directly in the folder, outside the class folders
    empty_classes: list[str]
    imbalance_ratio: float | None  # largest / smallest non-empty class
    min_size: tuple[int, int] | None
    median_size: tuple[int, int] | None
    max_size: tuple[int, int] | None
    modes: dict[str, int]  # Pillow modes as stored: "RGB", "L", "P", "RGBA", "I;16", ...
    formats: dict[str, int]  # "JPEG", "PNG", ...
    duplicates: list[tuple[str, ...]]  # groups of files with identical bytes
    duplicates_across_classes: list[tuple[str, ...]]
    duplicates_across_split: list[tuple[str, ...]]
    validation_split: float | None = None
    seed: int | None = None
    num_training: int | None = None  # readable images in each subset of the split
    num_validation: int | None = None
    errors: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def num_usable(self) -> int:
        return len(self.usable_files)

    @property
    def skipped_files(self) -> list[tuple[str, str]]:
        """Every image-named file the loader skips: corrupt ones, then non-images."""
        return self.corrupt_files + self.non_image_files

    @property
    def imbalanced(self) -> bool:
        return self.imbalance_ratio is not None and self.imbalance_ratio > IMBALANCE_THRESHOLD

    @property
    def ok(self) -> bool:
        """No errors: training can start (problems and warnings may remain)."""
        return not self.errors

    def __repr__(self) -> str:
        return (
            f"DatasetReport('{self.directory}', {self.num_usable:,} of {self.num_files:,} images "
            f"readable, {len(self.errors)} errors, {len(self.problems)} problems, "
            f"{len(self.warnings)} warnings)"
        )

    def __str__(self) -> str:
        classes = "" if self.class_names is None else f", {len(self.class_names)} classes"
        lines = [f"Dataset check: {self.directory} ({self.num_files:,} image files{classes})"]
        if self.counts:
            width = max(len(name) for name in self.counts)
            most = max(self.counts.values()) or 1
            for name, count in self.counts.items():
                bar = "█" * round(30 * count / most) if count else ""
                lines.append(f"  {name:<{width}}  {bar or '·':<30} {count:>7,}")
        skipped = len(self.skipped_files)
        lines.append(
            f"Readable images: {self.num_usable:,} of {self.num_files:,}"
            + (f" ({skipped:,} skipped)" if skipped else "")
        )
        if self.min_size is not None:
            (h0, w0), (h1, w1), (h2, w2) = self.min_size, self.median_size, self.max_size
            sizes = f"min {h0}×{w0}, median {h1}×{w1}, max {h2}×{w2}"
            lines.append(f"Image sizes (height×width): {sizes}")
            lines.append(f"Modes: {_tally(self.modes)}; formats: {_tally(self.formats)}")
        if self.imbalance_ratio is not None:
            flag = " (imbalanced)" if self.imbalanced else ""
            lines.append(f"Largest/smallest class: {self.imbalance_ratio:.1f}×{flag}")
        if self.validation_split:
            lines.append(
                f"Validation split {self.validation_split} (seed {self.seed}): "
                f"{self.num_training:,} training, {self.num_validation:,} validation"
            )
        for title, items in (
            ("Errors (training cannot start)", self.errors),
            ("Problems", self.problems),
            ("Warnings", self.warnings),
        ):
            if items:
                lines += [f"{title}: {len(items)}", *_listed(items)]
        if not (self.errors or self.problems or self.warnings):
            lines.append("No problems found.")
        return "\n".join(lines)


def check_directory(
    directory: Any,
    validation_split: float | None = None,
    seed: int | None = None,
    strict: bool = False,
    class_names: list[str] | None = None,
    *,
    cache: Any = None,
) -> DatasetReport:
    """Run the dataset doctor on a folder with one sub-folder of images per class.

    Every image is opened and fully decoded (in parallel threads; JPEGs at 1/8 scale, which
    still reads every byte) and hashed. See the module docstring for what is checked.

    Args:
        directory: the folder.
        validation_split, seed: the split ``image_dataset_from_directory`` would make with the
            same values, to find duplicates shared by training and validation images.
        strict: unreadable files are errors instead of problems.
        class_names: check only these class folders, in this order (as the loader would).
        cache: None, True (``~/.glassnet/cache``) or a folder: remember each file's result
            there, keyed by its size and modification time, so a second check of a big folder
            only opens new or changed files. The loader's ``cache=`` uses the same memo.

    Returns:
        The ``DatasetReport`` (``print(report)`` for the readable version).

    Raises:
        DatasetError: the folder cannot be trained on — missing, no class folders, every class
            folder empty, a single class, no readable image, or (``strict``) unreadable files.
            The message lists every such error; ``err.report`` holds the full report.
    """
    what = "check_directory"
    check_split_args(validation_split, None, seed, what, needs_subset=False)
    index = index_directory(directory, "inferred", class_names, what)
    report = run_checks(
        index,
        validation_split=validation_split,
        seed=seed,
        strict=strict,
        require_two_classes=class_names is None,
        what=what,
        cache_folder=cache_folder(cache, what),
    )
    if report.errors:
        raise DatasetError(error_message(report, what), report=report)
    return report


def error_message(report: DatasetReport, what: str) -> str:
    """Every error in one message (collect, then raise), naming the folder."""
    lines = [f"{what}: the image folder '{report.directory}' cannot be used for training:"]
    lines += [f"  - {e}" for e in report.errors]
    if report.skipped_files:
        lines += ["Unreadable files:", *_listed([f"{p}: {r}" for p, r in report.skipped_files])]
    return "\n".join(lines)


# ---------------------------------------------------------------------------- the checks
def inspect_file(path: str) -> dict[str, Any]:
    """Read, hash and fully decode one file: ``{"path", "sha256", "kind", ...}`` where kind is
    ``"ok"`` (with width, height, mode, format) or an ``ImageLoadError`` kind (with reason)."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as err:
        return {"path": path, "kind": "corrupt", "reason": f"cannot read the file ({err})"}
    result: dict[str, Any] = {"path": path, "sha256": hashlib.sha256(data).hexdigest()}
    try:
        result.update(images.inspect_image(io.BytesIO(data)), kind="ok")
    except images.ImageLoadError as err:
        result.update(kind=err.kind, reason=err.reason)
    return result


def inspect_files(
    paths: list[str], workers: int | None = None, memo: str | None = None
) -> list[dict[str, Any]]:
    """``inspect_file`` for every path, in parallel threads (Pillow and hashlib release the
    global interpreter lock), results in the order of ``paths``.

    ``memo``: a JSON file remembering each file's result with its size and modification time,
    so that checking the same folder again only opens the files that changed.
    """
    known = _read_memo(memo) if memo else {}
    results: list[Any] = [None] * len(paths)
    stamps: list[Any] = [None] * len(paths)
    todo = []
    for i, path in enumerate(paths):
        try:
            st = os.stat(path)
            stamps[i] = [st.st_size, st.st_mtime_ns]
        except OSError:
            pass
        entry = known.get(os.path.abspath(path))
        if (
            stamps[i] is not None
            and isinstance(entry, dict)
            and entry.get("stamp") == stamps[i]
            and isinstance(entry.get("result"), dict)
        ):
            results[i] = {**entry["result"], "path": path}
        else:
            todo.append(i)
    if todo:
        workers = min(workers or min(32, (os.cpu_count() or 1) + 4), len(todo))
        with ThreadPoolExecutor(workers, thread_name_prefix="glassnet-check") as ex:
            for i, result in zip(todo, ex.map(inspect_file, [paths[i] for i in todo]), strict=True):
                results[i] = result
    if memo and todo:
        # "too_large" depends on PIL.Image.MAX_IMAGE_PIXELS at the time, so it is not kept.
        remembered = {
            os.path.abspath(path): {"stamp": stamp, "result": {**r, "path": None}}
            for path, stamp, r in zip(paths, stamps, results, strict=True)
            if stamp is not None and r["kind"] != "too_large"
        }
        _write_memo(memo, {**known, **remembered})
    return results


def _read_memo(memo: str) -> dict[str, Any]:
    try:
        with open(memo, encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("version") != _memo_version():
        return {}
    files = data.get("files")
    return files if isinstance(files, dict) else {}


def _write_memo(memo: str, files: dict[str, Any]) -> None:
    """Atomically (temporary file, then rename); a memo that cannot be written costs only
    speed, so failures are ignored."""
    tmp = f"{memo}.{os.getpid()}-{secrets.token_hex(4)}.tmp"
    try:
        os.makedirs(os.path.dirname(memo) or ".", exist_ok=True)
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump({"version": _memo_version(), "files": files}, f)
        os.replace(tmp, memo)
    except OSError:
        with contextlib.suppress(OSError):
            os.remove(tmp)


def _memo_version() -> str:
    # Another Pillow may decode differently (and accept or refuse other files).
    return f"{_MEMO_VERSION}/pillow-{PIL.__version__}"


def memo_path(cache_folder: str, directory: str) -> str:
    """Where the doctor remembers its results for ``directory`` inside a cache folder."""
    key = hashlib.sha256(os.path.abspath(directory).encode()).hexdigest()[:16]
    return os.path.join(cache_folder, f"check-{key}.json")


def run_checks(
    index: DirectoryIndex,
    *,
    validation_split: float | None = None,
    seed: int | None = None,
    strict: bool = False,
    require_two_classes: bool = True,
    what: str = "check_directory",
    workers: int | None = None,
    cache_folder: str | None = None,
) -> DatasetReport:
    """The doctor on an indexed folder; errors are listed in the report, not raised. With a
    ``cache_folder``, per-file results are remembered there (see ``inspect_files``)."""
    folder = index.directory
    memo = memo_path(cache_folder, folder) if cache_folder else None
    results = inspect_files(index.paths, workers, memo)
    ok = [r for r in results if r["kind"] == "ok"]
    corrupt = [(r["path"], r["reason"]) for r in results if r["kind"] not in ("ok", "not_image")]
    non_image = [(r["path"], r["reason"]) for r in results if r["kind"] == "not_image"]
    label_of = dict(zip(index.paths, index.labels, strict=True)) if index.labels is not None else {}
    names = index.class_names if index.inferred else None

    counts: dict[str, int] = {}
    if names is not None:
        per_class = Counter(int(label_of[r["path"]]) for r in ok)
        counts = {name: per_class.get(i, 0) for i, name in enumerate(names)}
    empty = [name for name, count in counts.items() if count == 0]
    nonzero = [c for c in counts.values() if c]
    ratio = max(nonzero) / min(nonzero) if len(nonzero) >= 2 else None

    sizes = np.array([(r["height"], r["width"]) for r in ok], dtype=np.int64).reshape(-1, 2)
    stats = [None, None, None]
    if len(sizes):
        median = np.median(sizes, axis=0)
        stats = [
            tuple(int(v) for v in sizes.min(axis=0)),
            tuple(round(float(v)) for v in median),
            tuple(int(v) for v in sizes.max(axis=0)),
        ]

    groups = defaultdict(list)
    for r in ok:
        groups[r["sha256"]].append(r["path"])
    duplicates = [tuple(g) for g in groups.values() if len(g) > 1]
    across_classes = [g for g in duplicates if label_of and len({int(label_of[p]) for p in g}) > 1]
    report = DatasetReport(
        directory=folder,
        class_names=names,
        counts=counts,
        num_files=len(index.paths),
        usable_files=[r["path"] for r in ok],
        corrupt_files=corrupt,
        non_image_files=non_image,
        ignored_files=list(index.ignored_files),
        loose_images=list(index.loose_images),
        empty_classes=empty,
        imbalance_ratio=ratio,
        min_size=stats[0],
        median_size=stats[1],
        max_size=stats[2],
        modes=dict(Counter(r["mode"] for r in ok).most_common()),
        formats=dict(Counter(r["format"] for r in ok).most_common()),
        duplicates=duplicates,
        duplicates_across_classes=across_classes,
        duplicates_across_split=[],
        validation_split=validation_split,
        seed=seed,
    )
    if validation_split:
        _check_split(report, index, label_of)
    _grade(report, index, label_of, require_two_classes, strict)
    return report


def _check_split(report: DatasetReport, index: DirectoryIndex, label_of: dict) -> None:
    """The loader's split (same rule, same seed): subset sizes, classes missing from a subset,
    duplicates with copies on both sides."""
    training, validation = split_indices(len(index.paths), report.validation_split, report.seed)
    usable = set(report.usable_files)
    subsets = (("training", training), ("validation", validation))
    side = {index.paths[i]: name for name, positions in subsets for i in positions}
    report.num_training = sum(1 for i in training if index.paths[i] in usable)
    report.num_validation = sum(1 for i in validation if index.paths[i] in usable)
    report.duplicates_across_split = [g for g in report.duplicates if len({side[p] for p in g}) > 1]
    if report.class_names is None:
        return
    for name, positions in subsets:
        present = {int(label_of[index.paths[i]]) for i in positions if index.paths[i] in usable}
        for label, class_name in enumerate(report.class_names):
            if report.counts[class_name] and label not in present:
                report.warnings.append(
                    f"class '{class_name}' has no images in the {name} subset "
                    f"(validation_split={report.validation_split}, seed={report.seed}); "
                    "add images or use a larger validation_split."
                )


def _grade(
    report: DatasetReport,
    index: DirectoryIndex,
    label_of: dict[str, Any],
    require_two_classes: bool,
    strict: bool,
) -> None:
    """Sort the findings into errors, problems and warnings, as sentences."""
    folder, names = report.directory, report.class_names
    errors, problems, warnings = report.errors, report.problems, report.warnings
    extensions = "/".join(e.lstrip(".") for e in images.IMAGE_EXTENSIONS)
    # --- errors: training cannot start
    if report.num_files == 0:
        if names:
            errors.append(
                f"all {len(names)} class folder(s) are empty (no {extensions} files): "
                + ", ".join(f"'{index.class_folders[n]}'" for n in names)
            )
        else:
            errors.append(f"no image files ({extensions}) in '{folder}'.")
    elif report.num_usable == 0:
        errors.append(
            f"none of the {report.num_files:,} image files in '{folder}' could be read "
            "(all corrupt or not images)."
        )
    elif require_two_classes and names is not None:
        with_images = [n for n in names if report.counts[n]]
        if len(names) == 1:
            errors.append(
                f"'{folder}' has a single class folder ('{names[0]}'): a classifier needs at "
                "least two. Add a sub-folder of images for each other class."
            )
        elif len(with_images) == 1:
            others = ", ".join(f"'{n}'" for n in names if n != with_images[0])
            errors.append(
                f"only one class of '{folder}' has readable images ('{with_images[0]}'; "
                f"{others} empty): a classifier needs at least two classes with images."
            )
    if strict and report.skipped_files:
        errors.append(
            f"{len(report.skipped_files)} unreadable image file(s) (strict=True); fix or remove "
            "them, or pass strict=False to skip them."
        )
    # --- problems: wrong data that training works around
    problems += [f"corrupt: {p}: {r}" for p, r in report.corrupt_files]
    problems += [f"not an image: {p}: {r}" for p, r in report.non_image_files]
    if report.num_files:
        for name in report.empty_classes:
            problems.append(
                f"empty class folder '{index.class_folders[name]}': class '{name}' keeps its "
                "label but the model never sees an example of it."
            )
    for group in report.duplicates_across_classes:
        where = ", ".join(f"{p} ({names[int(label_of[p])]})" for p in group)
        problems.append(f"the same image is in different classes (conflicting labels): {where}")
    # --- warnings: worth a look
    if report.imbalanced:
        big = max(report.counts, key=report.counts.get)
        small = min((n for n in report.counts if report.counts[n]), key=report.counts.get)
        warnings.append(
            f"class imbalance: '{big}' has {report.counts[big]:,} images, '{small}' only "
            f"{report.counts[small]:,} ({report.imbalance_ratio:.1f}×, above "
            f"{IMBALANCE_THRESHOLD:g}×). A model can score well by rarely predicting '{small}'; "
            "collect more of it or watch per-class accuracy."
        )
    crossing = set(report.duplicates_across_split)
    for group in report.duplicates_across_split:
        warnings.append(
            "duplicate across the training/validation split (validation accuracy will be "
            "optimistic): " + ", ".join(group)
        )
    conflicting = set(report.duplicates_across_classes)
    for group in report.duplicates:
        if group not in crossing and group not in conflicting:
            warnings.append("duplicate images (identical bytes): " + ", ".join(group))
    if report.loose_images:
        warnings.append(
            f"{len(report.loose_images)} image(s) directly in '{folder}' are outside the class "
            f"folders and ignored, e.g. {report.loose_images[0]}"
        )
    if report.ignored_files:
        shown = ", ".join(report.ignored_files[:3])
        more = f" and {len(report.ignored_files) - 3} more" if len(report.ignored_files) > 3 else ""
        warnings.append(
            f"{len(report.ignored_files)} file(s) without an image extension ({extensions}) "
            f"ignored: {shown}{more}"
        )


def _listed(items: list[str]) -> list[str]:
    """The first ``_SHOW`` items as indented bullets, then how many more there are."""
    more = [f"  ... and {len(items) - _SHOW} more"] if len(items) > _SHOW else []
    return [f"  - {item}" for item in items[:_SHOW]] + more


def _tally(counter: dict[str, int]) -> str:
    return ", ".join(f"{key} {count:,}" for key, count in counter.items()) or "-"
