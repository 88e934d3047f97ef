"""docs/keras.md cannot drift: every glassnet name it lists exists, every Keras 3 name it says
glassnet leaves out is really absent (adding one fails here until the table says so), every
public glassnet name of the Keras-facing modules is in it, and its counts are the table's."""

from __future__ import annotations

import importlib
import pathlib
import re
from typing import Any

import pytest

import glassnet

DOC = pathlib.Path(__file__).resolve().parent.parent / "docs" / "keras.md"
#: | `keras.layers.Dense` | `glassnet.layers.Dense` | note |   (glassnet "—": left out)
KERAS_ROW = re.compile(r"^\| `(keras(?:\.\w+)+)` \| (.+?) \| (.*?) \|$")
#: | `glassnet.callbacks.StopAtThreshold` | note |   (glassnet's own, no Keras twin)
OWN_ROW = re.compile(r"^\| `(glassnet(?:\.\w+)+)` \| (.+?) \|$")
PATH = re.compile(r"`(glassnet(?:\.\w+)+)`")
#: The modules whose public names a Keras user meets.
MODULES = (
    "layers",
    "losses",
    "metrics",
    "optimizers",
    "optimizers.schedules",
    "callbacks",
    "regularizers",
    "constraints",
    "initializers",
    "activations",
    "utils",
    "models",
)
#: Lookup helpers every module has (Keras has them too, as ``keras.<module>.get``).
HELPERS = {"get", "serialize", "deserialize"}


def _lines() -> list[str]:
    return DOC.read_text().splitlines()


def keras_rows() -> list[tuple[str, str, str]]:
    return [m.groups() for line in _lines() if (m := KERAS_ROW.match(line))]


def own_rows() -> list[tuple[str, str]]:
    return [m.groups() for line in _lines() if (m := OWN_ROW.match(line))]


def resolve(path: str) -> Any:
    """The object a dotted glassnet path names, or None. Attributes that models set in
    ``__init__`` (``stop_training``) are looked up on a fresh instance."""
    parts = path.split(".")
    obj: Any = glassnet
    for i, part in enumerate(parts[1:], start=1):
        if hasattr(obj, part):
            obj = getattr(obj, part)
            continue
        try:
            obj = importlib.import_module(".".join(parts[: i + 1]))
            continue
        except ImportError:
            pass
        if isinstance(obj, type) and issubclass(obj, glassnet.Model):
            instance = glassnet.Sequential() if obj is glassnet.Model else obj()
            if hasattr(instance, part):
                obj = getattr(instance, part)
                continue
        return None
    return obj


def _public(mod: Any) -> list[str]:
    """A module's ``__all__``, or else the classes and functions it defines itself."""
    if hasattr(mod, "__all__"):
        return list(mod.__all__)
    return [
        name
        for name, value in vars(mod).items()
        if not name.startswith("_")
        and callable(value)
        and getattr(value, "__module__", None) == mod.__name__
    ]


def test_the_table_is_there_and_parsed():
    rows = keras_rows()
    assert len(rows) > 250 and own_rows()
    keras_names = [k for k, _, _ in rows]
    assert len(keras_names) == len(set(keras_names)), "a Keras name is listed twice"


@pytest.mark.parametrize(("keras", "cell", "note"), keras_rows(), ids=lambda v: str(v)[:60])
def test_each_row_says_the_truth(keras, cell, note):
    if cell.strip() == "—":
        assert note.strip(), f"{keras}: say why glassnet leaves it out"
        same = "glassnet" + keras[len("keras") :]
        assert resolve(same) is None, f"{same} exists now: update docs/keras.md"
        return
    paths = PATH.findall(cell)
    assert paths, f"{keras}: the glassnet cell must name glassnet paths in backticks or be —"
    for path in paths:
        assert resolve(path) is not None, f"{keras}: {path} does not exist"


def test_every_public_name_a_keras_user_meets_is_in_the_table():
    listed = {path for _, cell, _ in keras_rows() for path in PATH.findall(cell)}
    listed |= {path for path, _ in own_rows()}
    missing = []
    for module in MODULES:
        mod = importlib.import_module(f"glassnet.{module}")
        for name in _public(mod):
            if name in HELPERS or name == "schedules":
                continue
            if f"glassnet.{module}.{name}" not in listed:
                missing.append(f"glassnet.{module}.{name}")
    assert not missing, f"add these to docs/keras.md: {missing}"


def test_the_counts_are_the_tables():
    rows = keras_rows()
    have = sum(1 for _, cell, _ in rows if cell.strip() != "—")
    text = DOC.read_text()
    match = re.search(r"glassnet has \*\*(\d+)\*\* of the \*\*(\d+)\*\* Keras 3 names", text)
    assert match, "the summary sentence is missing"
    assert (int(match.group(1)), int(match.group(2))) == (have, len(rows))
