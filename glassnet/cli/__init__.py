"""The ``glassnet`` command: train, evaluate, inspect and use image classifiers from a shell.

::

    glassnet demo                              # a CNN on the bundled 8×8 digits, in seconds
    glassnet check photos/                     # the dataset doctor: corrupt files, empty classes
    glassnet train photos/ --out cats.glassnet # train, keep the best model, write the curves
    glassnet evaluate cats.glassnet test/      # accuracy, per-class scores, confusion matrix
    glassnet predict cats.glassnet a.jpg b.jpg # top-3 classes per image (--json for scripts)
    glassnet summary vgg16                     # the summary table of a saved model or a network
    glassnet explain cats.glassnet a.jpg       # an HTML report: saliency, activations, filters

Every command is a typed function; typer turns its signature and docstring into the command
line and its ``--help``. Exit codes: 0 success; 1 a problem with the user's files or values,
reported as one ``Error: ...`` line on stderr without a traceback; 2 a usage error (unknown
option, missing argument), reported by typer; 130 training interrupted with Ctrl-C (the last
finished epoch is saved and the command to resume is printed).

The commands live in one module per group: ``demo``, ``data`` (check), ``training`` (train,
resume), ``evaluation`` (evaluate, predict) and ``models`` (summary, explain, export, serve);
``errors`` and ``files`` hold what they share. This module joins them into one ``app``.
"""

from __future__ import annotations

import typer

from glassnet.cli import data, demo, evaluation, models, training
from glassnet.cli.demo import digits_cnn
from glassnet.cli.errors import UserError
from glassnet.cli.evaluation import per_class_scores
from glassnet.cli.training import build_classifier

__all__ = [
    "UserError",
    "app",
    "build_classifier",
    "digits_cnn",
    "main",
    "per_class_scores",
]

app = typer.Typer(
    help="glassnet: deep learning you can see through. Train, inspect and save networks.",
    no_args_is_help=True,
    add_completion=False,
)

# The order here is the order of ``glassnet --help``.
for command in (
    demo.demo,
    data.check,
    training.train,
    evaluation.evaluate,
    evaluation.predict,
    models.summary,
    models.explain,
    models.export,
    models.serve,
):
    app.command()(command)
del command


@app.command()
def version() -> None:
    """Print glassnet's version."""
    from glassnet import __version__

    typer.echo(__version__)


def main() -> None:
    """Entry point of the ``glassnet`` console script."""
    app()
