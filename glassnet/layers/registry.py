"""The registry of layer classes: class names to classes, so a saved model names its layers and
loading it looks them up, executing nothing from the file.

Every ``Layer`` subclass, a user's too, is filed here when it is defined
(``Layer.__init_subclass__`` calls ``register``), under its full path
(``"my_project.blocks.Scale"``) and its class name (``"Scale"``). ``serialize`` writes the
short name while it says which class is meant (``saved_name``); ``get`` and ``deserialize``
(``glassnet/layers/serialization.py``) read both.

This module is below ``layer.py`` in the house: it knows classes only by their names, and
``layer.py`` imports it, never the other way round.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from glassnet.layers.layer import Layer

__all__ = ["lookup", "register", "register_alias", "saved_name"]

#: Class name and full path ("module.Class") -> Layer subclass, filled in by
#: ``Layer.__init_subclass__`` for every subclass, user classes too.
_REGISTRY: dict[str, type[Layer]] = {}
#: Class names shared by several user classes -> their full names (then only those work).
_AMBIGUOUS: dict[str, set[str]] = {}


def _full_name(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def register(cls: type[Layer]) -> None:
    """File ``cls`` under its full path and, unless another class has it, its class name
    (``Layer.__init_subclass__`` files every subclass)."""
    short, full = cls.__name__, _full_name(cls)
    _REGISTRY[full] = cls
    existing = _REGISTRY.get(short)
    if existing is None or _full_name(existing) == full:  # new, or redefined (a notebook re-run)
        _REGISTRY[short] = cls
    elif not existing.__module__.startswith("glassnet."):
        # Two user classes share a name: the name alone no longer says which one is meant.
        _AMBIGUOUS.setdefault(short, {_full_name(existing)}).add(full)
    # (A user class named like a built-in one leaves the built-in its name.)


def saved_name(cls: type[Layer]) -> str:
    """The class name ``serialize`` writes: the short one when it is unambiguous."""
    short = cls.__name__
    if _REGISTRY.get(short) is cls and short not in _AMBIGUOUS:
        return short
    return _full_name(cls)


def register_alias(alias: str, cls: type[Layer]) -> None:
    """Let ``get``/``deserialize`` also find ``cls`` as ``alias`` (``"MaxPool2D"``)."""
    _REGISTRY[alias] = cls


def lookup(identifier: Any) -> type[Layer]:
    """The layer class registered under the name ``identifier``, or an error that says why none
    is (an ambiguous name, an unknown one) and lists the known names."""
    if isinstance(identifier, str) and identifier in _AMBIGUOUS:
        raise ValueError(
            f"Layer class name {identifier!r} is ambiguous: several classes have it "
            f"({', '.join(sorted(_AMBIGUOUS[identifier]))}). Use the full name."
        )
    if isinstance(identifier, str) and identifier in _REGISTRY:
        return _REGISTRY[identifier]
    known = sorted(name for name in _REGISTRY if "." not in name and not name.startswith("_"))
    raise ValueError(
        f"Unknown layer class: {identifier!r}. Known layers: {', '.join(known)}. A custom layer "
        f"must be defined (its module imported) before a model using it is loaded."
    )
