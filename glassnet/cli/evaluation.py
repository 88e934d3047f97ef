"""``glassnet evaluate`` and ``glassnet predict``: a saved classifier's answers, scored on a
labelled folder or given for single images, with the probabilities serve and explain give."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import numpy as np
import typer

from glassnet.cli.errors import UserError, user_error_types, user_errors
from glassnet.cli.files import (
    ModelPath,
    check_image_size,
    class_names,
    image_error,
    load_saved_model,
    require_directory,
    side_file,
)
from glassnet.data.images import model_preprocessing

if TYPE_CHECKING:
    from glassnet.models import Model

__all__ = ["Tta", "echo_scores", "evaluate", "per_class_scores", "predict", "predict_dataset"]


def _probabilities(outputs: np.ndarray, model: Model) -> np.ndarray:
    """Class probabilities ``(N, K)`` of a classifier's outputs, decided by the model's
    structure (``glassnet.models.probabilities``, as serve and explain do)."""
    from glassnet.models import probabilities

    outputs = np.asarray(outputs)
    if outputs.ndim != 2:
        raise UserError(
            f"the model outputs shape {outputs.shape[1:]} per image, not one score per class; "
            "evaluate and predict need a classifier."
        )
    return probabilities(outputs, model)


# ---------------------------------------------------------------------------- evaluate
#: ``--tta``, shared with ``glassnet train``'s held-out report.
Tta = typer.Option(
    help="Test-time augmentation: average each image's probabilities with its mirror image's."
)


def _folder_image_size(model: Model, settings: dict[str, Any], resizes: bool) -> tuple[int, int]:
    """The one size evaluate loads every image at: the stored one, else the model's input."""
    if resizes:
        return settings["image_size"]
    image_size = tuple(model.input_shape[1:3])
    if None in image_size:
        raise UserError(
            f"model '{model.name}' takes images of any size and stores no preprocessing; "
            "evaluate needs one size. Use glassnet predict, or save the model with "
            "model.preprocessing = {'image_size': [height, width]}."
        )
    return image_size


def _predict_folder(
    model: Model, data_dir: Path, batch_size: int, tta: bool = False
) -> tuple[Any, ...]:
    """(probabilities (N, K), labels (N,), file paths, doctor's report) for every readable
    image of the folder, labelled by the model's class names and loaded as in training."""
    from glassnet.data import DatasetWarning, image_dataset_from_directory

    settings, resizes = model_preprocessing(model)
    image_size = _folder_image_size(model, settings, resizes)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DatasetWarning)  # skipped files are printed instead
        ds = image_dataset_from_directory(
            data_dir,
            class_names=getattr(model, "class_names", None),
            color_mode=settings.get("color_mode", "rgb"),
            batch_size=batch_size,
            image_size=image_size,
            shuffle=False,
            interpolation=settings.get("interpolation", "bilinear"),
            crop_to_aspect_ratio=settings.get("crop_to_aspect_ratio", False),
        )
    report = ds.report
    if not resizes and report is not None and report.min_size is not None:
        if report.min_size != image_size or report.max_size != image_size:
            (h0, w0), (h1, w1) = report.min_size, report.max_size
            raise UserError(
                f"the images in '{data_dir}' are {h0}×{w0} to {h1}×{w1} pixels but model "
                f"'{model.name}' takes {image_size[0]}×{image_size[1]} and stores no "
                "preprocessing to resize with. Resize the images, or train the model with "
                "glassnet train (which stores it)."
            )
    probs, labels, paths = predict_dataset(model, ds, tta)
    if len(ds.class_names) != probs.shape[1]:
        raise UserError(
            f"'{data_dir}' has {len(ds.class_names)} class folders {ds.class_names} but model "
            f"'{model.name}' scores {probs.shape[1]} classes."
        )
    return probs, labels, paths, report


def predict_dataset(
    model: Model, ds: Any, tta: bool = False
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(probabilities (N, K), labels (N,), file paths) for every image of a labelled
    dataset, in its file order; with ``tta``, each the mean over the image and its mirror
    image (``applications.photo_recipe.predict_with_flips``)."""
    from glassnet.applications.photo_recipe import predict_with_flips

    outputs, labels = [], []
    for xb, yb in ds.in_order():
        outputs.append(predict_with_flips(model, xb) if tta else model.predict_on_batch(xb))
        labels.append(np.asarray(yb))
    probs = _probabilities(np.concatenate(outputs), model)
    return probs, np.concatenate(labels).astype(np.int64), list(ds.file_paths)


def per_class_scores(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Precision, recall, F1 and support per class from a confusion matrix (rows = true).

    Precision of class k: of the images predicted k, the share that are k (column k).
    Recall: of the images that are k, the share predicted k (row k). F1: their harmonic mean.
    A class never predicted (or absent) scores 0 rather than dividing by zero.
    """
    matrix = np.asarray(matrix, dtype=np.float64)
    tp = np.diag(matrix)
    predicted, support = matrix.sum(axis=0), matrix.sum(axis=1)
    precision = np.divide(tp, predicted, out=np.zeros_like(tp), where=predicted > 0)
    recall = np.divide(tp, support, out=np.zeros_like(tp), where=support > 0)
    total = precision + recall
    f1 = np.divide(2 * precision * recall, total, out=np.zeros_like(tp), where=total > 0)
    return precision, recall, f1, support.astype(np.int64)


def _echo_table(rows: list[list[str]], right: set[int] | None = None, indent: str = "  ") -> None:
    """Print rows as aligned columns (columns in ``right`` right-aligned)."""
    right = right or set()
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        cells = [
            cell.rjust(w) if i in right else cell.ljust(w)
            for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        ]
        typer.echo((indent + "  ".join(cells)).rstrip())


def _echo_confusion(matrix: np.ndarray, names: list[str]) -> None:
    """The confusion matrix as text: row = true class, column = predicted class (by index)."""
    k = len(names)
    header = ["", *[str(j) for j in range(k)]]
    rows = [header] + [[f"{i} {names[i]}", *[str(n) for n in matrix[i]]] for i in range(k)]
    _echo_table(rows, right=set(range(1, k + 1)))


def _echo_per_class(matrix: np.ndarray, names: list[str]) -> None:
    """Precision, recall, F1 and images of every class, and their macro average."""
    *scores, support = per_class_scores(matrix)
    typer.echo("\nPer class:")
    rows = [["class", "precision", "recall", "f1", "images"]]
    for k, name in enumerate(names):
        rows.append([name, *(f"{s[k]:.3f}" for s in scores), str(support[k])])
    rows.append(["macro avg", *(f"{s.mean():.3f}" for s in scores), str(int(support.sum()))])
    _echo_table(rows, right={1, 2, 3, 4})


def _echo_most_confidently_wrong(
    probs: np.ndarray, labels: np.ndarray, paths: list[Any], names: list[str], worst: int
) -> None:
    """Up to ``worst`` misclassified images, surest first (or that none was misclassified)."""
    from glassnet.inspect.plots import confident_mistakes

    predicted = probs.argmax(axis=1)
    wrong = np.flatnonzero(predicted != labels)
    if worst and len(wrong):
        order = confident_mistakes(probs, labels, worst)
        typer.echo(f"\nMost confidently wrong ({len(order)} of {len(wrong)}):")
        rows = [["image", "true", "predicted", "probability"]]
        for i in order:
            p = predicted[i]
            rows.append([str(paths[i]), names[labels[i]], names[p], f"{probs[i, p]:.3f}"])
        _echo_table(rows, right={3})
    elif not len(wrong):
        typer.echo("\nNo image was misclassified.")


def evaluate(
    model_path: ModelPath,
    data_dir: Annotated[
        Path,
        typer.Argument(
            metavar="DATA_DIR", help="Labelled images: one sub-folder per class, as in training."
        ),
    ],
    batch_size: Annotated[int, typer.Option(min=1, help="Images per forward pass.")] = 64,
    worst: Annotated[
        int, typer.Option(min=0, help="How many of the most confidently wrong images to list.")
    ] = 5,
    plot: Annotated[
        Path | None,
        typer.Option(help="Confusion matrix PNG (default: <model name>.confusion.png)."),
    ] = None,
    tta: Annotated[bool, Tta] = False,
) -> None:
    """Score a saved model on labelled images: accuracy with its 95 % confidence interval,
    per-class precision, recall and F1, the confusion matrix (text and PNG) and the most
    confidently wrong images."""
    with user_errors():
        require_directory(data_dir)
        net = load_saved_model(model_path)
        probs, labels, paths, report = _predict_folder(net, data_dir, batch_size, tta)
        if report is not None and report.skipped_files:
            typer.echo(f"Skipped {len(report.skipped_files)} unreadable file(s):")
            for path, reason in report.skipped_files:
                typer.echo(f"  {path}: {reason}")
        plot = plot or side_file(model_path, "confusion.png")
        echo_scores(net, probs, labels, paths, worst, plot, model_path.name)


def echo_scores(
    net: Model,
    probs: np.ndarray,
    labels: np.ndarray,
    paths: list[Any],
    worst: int,
    plot: Path,
    title: str,
) -> None:
    """How good the classifier is on labelled images, honestly: accuracy with its 95 %
    confidence interval (small test sets have wide ones), per-class precision, recall and
    F1, the confusion matrix (text, and a PNG at ``plot``) and the most confidently wrong
    images. ``glassnet evaluate`` and the end of ``glassnet train`` print it."""
    import glassnet as gn
    from glassnet.inspect.plots import plot_confusion  # matplotlib only when drawing

    names = class_names(net, probs.shape[1])
    predicted = probs.argmax(axis=1)
    matrix = gn.metrics.confusion_matrix(labels, predicted, num_classes=len(names))
    correct, total = int(np.sum(predicted == labels)), len(labels)
    low, high = gn.metrics.accuracy_interval(correct, total)
    plot_confusion(matrix, names, plot, f"{title}\naccuracy {correct / total:.2%}")
    typer.echo(
        f"Accuracy: {correct / total:.2%} ({correct}/{total}); 95% confidence interval "
        f"{low:.1%} to {high:.1%} (Wilson: more images narrow it)"
    )
    _echo_per_class(matrix, names)
    typer.echo("\nConfusion matrix (row = true class, column = predicted class):")
    _echo_confusion(matrix, names)
    typer.echo(f"Saved as {plot}")
    _echo_most_confidently_wrong(probs, labels, paths, names, worst)


# ---------------------------------------------------------------------------- predict
def _classify(net: Model, images: list[Path], top_k: int) -> list[dict[str, Any]]:
    """One entry per image: its top ``top_k`` classes with probabilities, or the error that
    kept it from being read (the other images are still classified)."""
    from glassnet.data import load_image

    with user_errors():
        settings, resizes = model_preprocessing(net)
    results: list[dict[str, Any]] = []
    loaded: list[tuple[int, np.ndarray]] = []
    for path in images:
        try:
            image = load_image(path, **settings)
            if not resizes:
                check_image_size(image, net, path)
        except user_error_types() as err:
            results.append({"image": str(path), "error": image_error(path, err)})
            continue
        results.append({"image": str(path)})
        loaded.append((len(results) - 1, image))
    if loaded:
        with user_errors():
            outputs = net.predict(np.stack([image for _, image in loaded]))
            probs = _probabilities(outputs, net)
        names = class_names(net, probs.shape[1])
        k = min(top_k, probs.shape[1])
        for (index, _), row in zip(loaded, probs, strict=True):
            best = np.argsort(-row, kind="stable")[:k]
            results[index]["predictions"] = [
                {"class": names[c], "probability": round(float(row[c]), 6)} for c in best
            ]
    return results


def predict(
    model_path: ModelPath,
    images: Annotated[list[Path], typer.Argument(metavar="IMAGE", help="Image files.")],
    top_k: Annotated[int, typer.Option(min=1, help="How many classes to show per image.")] = 3,
    json_output: Annotated[
        bool, typer.Option("--json", help="Print a JSON list (one entry per image).")
    ] = False,
) -> None:
    """Classify images with a saved model: the top classes with their probabilities.

    Images are loaded as in training (size, colour mode), from the model's stored settings.
    An image that cannot be read is reported on stderr (and as an entry with an "error" key in
    --json); the other images are still classified, and the exit status is then 1.
    """
    with user_errors():
        net = load_saved_model(model_path)
    results = _classify(net, images, top_k)
    if json_output:
        typer.echo(json.dumps(results, indent=2))
    else:
        for r in results:
            if "predictions" in r:
                guesses = ", ".join(
                    f"{p['class']} {p['probability']:.1%}" for p in r["predictions"]
                )
                typer.echo(f"{r['image']}: {guesses}")
    failed = [r for r in results if "error" in r]
    for r in failed:
        typer.echo(f"Error: {r['error']}", err=True)
    if failed:
        raise typer.Exit(1)
