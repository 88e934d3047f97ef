"""How the commands report a problem the user can fix: one ``Error: ...`` line, exit status 1."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import typer

__all__ = ["UserError", "user_error_types", "user_errors"]


class UserError(Exception):
    """A problem the user can fix (a path, a value): one line on stderr, exit status 1."""


def user_error_types() -> tuple[type[BaseException], ...]:
    """The exceptions glassnet raises for bad files and values (not for bugs); ``DatasetError``
    is a ``ValueError``."""
    return (UserError, ValueError, OSError)


@contextmanager
def user_errors() -> Iterator[None]:
    """Turn glassnet's errors about the user's files and values into ``Error: ...`` + exit 1.

    Messages are glassnet's own (they name the file and say what to do); a traceback would only
    hide them. Messages of several lines (e.g. every mismatched weight) are kept whole.
    """
    try:
        yield
    except typer.Exit:
        raise
    except user_error_types() as err:
        message = str(err) or type(err).__name__
        typer.echo(f"Error: {message}", err=True)
        raise typer.Exit(1) from None
