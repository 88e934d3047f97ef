"""``glassnet train DATA_DIR --from NETWORK``: fine-tune a pretrained network (an ONNX file or a
saved glassnet model) on a folder of photos, with ``glassnet.transfer.fine_tune``; this module
only turns the command's options into its arguments and reports."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import typer

from glassnet.cli.errors import user_errors
from glassnet.cli.files import require_directory

if TYPE_CHECKING:
    from glassnet.cli.training import _Run

__all__ = ["From", "Preprocess", "Unfreeze", "UnfreezeEpochs", "refuse_without_from", "train_from"]

From = Annotated[
    Path | None,
    typer.Option(
        "--from",
        help="Fine-tune this pretrained network (an .onnx file, or a saved .glassnet model) "
        "instead of training from scratch: its classifier is replaced by one for the folder's "
        "classes, trained on features computed once.",
    ),
]
Unfreeze = Annotated[
    int,
    typer.Option(
        min=0,
        help="With --from: then train the last N blocks of the network too, on the images, at "
        "a tenth of the learning rate (0: only the new classifier).",
    ),
]
UnfreezeEpochs = Annotated[
    int, typer.Option(min=1, help="With --unfreeze: passes over the images in that phase.")
]
Preprocess = Annotated[
    Literal["auto", "imagenet", "unit", "none"],
    typer.Option(
        help="With --from: what the network expects of pixels 0-255. imagenet: /255 then "
        "ImageNet's mean/std (torchvision's networks); unit: /255; none: as they are (glassnet "
        "models hold their own). auto: imagenet for .onnx, none for .glassnet."
    ),
]

_COLOR_MODES = {1: "grayscale", 3: "rgb", 4: "rgba"}


def refuse_without_from(unfreeze: int, preprocess: str) -> None:
    """A user error when an option of ``--from`` is given without it (it would do nothing)."""
    given = [
        f for f, on in (("--unfreeze", unfreeze), ("--preprocess", preprocess != "auto")) if on
    ]
    if given:
        with user_errors():
            raise ValueError(
                f"{given[0]} applies to a pretrained network: add --from NETWORK (an .onnx "
                f"file or a saved .glassnet model), or leave out {given[0]}."
            )


def train_from(
    run: _Run, source: Path, unfreeze: int, unfreeze_epochs: int, preprocess: str
) -> None:
    """The ``--from`` run: the network, the datasets at its image size, ``fine_tune``, and the
    same held-out report as training from scratch."""
    from glassnet.cli.training import _report_held_out, _training_data
    from glassnet.transfer import fine_tune, load_pretrained

    with user_errors():
        if run.resume or run.distributed:
            flag = "--resume" if run.resume else "--distributed"
            raise ValueError(
                f"{flag} is for training from scratch. A --from run is quick to start over: "
                f"its backbone's features take one pass. Leave out {flag}."
            )
        require_directory(run.data_dir)
        network = load_pretrained(source)
        shape = tuple(network.input_shape[1:])
        if len(shape) != 3 or shape[0] != shape[1] or shape[2] not in _COLOR_MODES:
            raise ValueError(
                f"--from '{source}': the network takes inputs of shape {shape}; glassnet train "
                f"fine-tunes networks of square images with 1, 3 or 4 channels. For other "
                f"sizes use glassnet.transfer.fine_tune from Python."
            )
        if run.image_size is None:
            run.image_size = shape[0]
        elif run.image_size != shape[0]:
            raise ValueError(
                f"--from '{source}': the network takes {shape[0]}×{shape[1]} images (its input "
                f"size is fixed) but --image-size is {run.image_size}. Leave out --image-size, "
                f"or export the network for {run.image_size}×{run.image_size} images."
            )
        run.color_mode = _COLOR_MODES[shape[2]]
        if preprocess == "auto":
            preprocess = "imagenet" if source.suffix.lower() == ".onnx" else "none"
        train_ds, val_ds = _training_data(run)
        typer.echo(
            f"Fine-tuning '{source}' ({shape[0]}×{shape[1]}×{shape[2]}, preprocessing: "
            f"{preprocess}) on {len(train_ds.class_names)} classes."
        )
        with warnings.catch_warnings():
            # augmentation (on by default) acts only on images, so only with --unfreeze: the
            # frozen network's features are computed once, from the photos as they are
            warnings.filterwarnings("ignore", message=".*augment=True has no effect")
            result = fine_tune(
                network,
                train_ds,
                val_ds,
                epochs=run.epochs,
                learning_rate=1e-3 if run.lr is None else run.lr,
                unfreeze=unfreeze,
                unfreeze_epochs=unfreeze_epochs,
                preprocessing=preprocess,
                augment=run.augment,
                out=run.out,
                seed=run.seed,
                verbose=run.verbose,
            )
    _report(run, result)
    if val_ds is not None and run.out.exists():
        with user_errors():
            _report_held_out(run, val_ds)


def _report(run: _Run, result: Any) -> None:
    which = "validation" if result.monitor.startswith("val_") else "training"
    phases = ", ".join(f"{len(h.epoch)} epoch(s) {name}" for name, h in result.histories.items())
    typer.echo(f"\nTrained: {phases}.")
    if result.unfrozen:
        names = ", ".join(layer.name for layer in result.unfrozen)
        typer.echo(f"Unfrozen with the head: {names}.")
    if result.best:
        typer.echo(
            f"Best {which} accuracy: {result.best_accuracy:.2%} ({result.best}): the saved model."
        )
    typer.echo(f"Model: {run.out}")
    typer.echo("Next steps:")
    typer.echo(f"  glassnet evaluate {run.out} TEST_DIR")
    typer.echo(f"  glassnet predict {run.out} IMAGE...")
    typer.echo(f"  glassnet serve {run.out}")
