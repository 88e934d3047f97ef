"""``glassnet check``: the dataset doctor on a folder of labelled images, before training."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from glassnet.cli.errors import UserError, user_errors
from glassnet.cli.files import require_directory

__all__ = ["check"]


def check(
    data_dir: Annotated[
        Path, typer.Argument(metavar="DATA_DIR", help="A folder with one sub-folder per class.")
    ],
    strict: Annotated[
        bool,
        typer.Option(help="Unreadable files are errors (exit 1), as in glassnet train --strict."),
    ] = False,
    val_split: Annotated[
        float | None,
        typer.Option(
            min=0.0, max=0.9, help="Also look for duplicates across this validation split."
        ),
    ] = None,
    seed: Annotated[int, typer.Option(min=0, help="Seed of the validation split.")] = 0,
) -> None:
    """Run the dataset doctor on an image folder: images per class, sizes, corrupt and
    non-image files, empty classes, imbalance and duplicates, before you train on it.

    Exits with 1 when the folder cannot be trained on (or, with --strict, holds unreadable
    files); files that training would merely skip are reported and the exit status is 0.
    """
    from glassnet.data import DatasetError, check_directory

    with user_errors():
        require_directory(data_dir)
        try:
            report = check_directory(
                data_dir, validation_split=val_split or None, seed=seed, strict=strict
            )
        except DatasetError as err:
            if err.report is None:
                raise
            typer.echo(str(err.report))
            raise UserError(
                f"'{data_dir}' cannot be used for training: {len(err.report.errors)} error(s), "
                "listed above."
            ) from None
        typer.echo(str(report))
