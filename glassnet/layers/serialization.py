"""Layers as JSON-safe configs and back: ``serialize``, ``deserialize`` and ``get``.

A saved layer is ``{"class_name": "Dense", "config": {...}}``: its class's registered name
(``glassnet/layers/registry.py``) and its constructor arguments (``Layer.get_config``).
Loading looks the name up in the registry and calls ``from_config``; nothing from the file is
evaluated, so a model file cannot run code.
"""

from __future__ import annotations

from typing import Any

from glassnet.layers.layer import Layer
from glassnet.layers.registry import lookup, saved_name

__all__ = ["deserialize", "get", "serialize"]


def get(identifier: str | type[Layer]) -> type[Layer]:
    """The layer class registered under ``identifier`` (``get("Dense") is Dense``)."""
    if isinstance(identifier, type) and issubclass(identifier, Layer):
        return identifier
    return lookup(identifier)


def serialize(layer: Layer) -> dict[str, Any]:
    """``{"class_name": "Dense", "config": layer.get_config()}``: JSON-safe, no code."""
    if not isinstance(layer, Layer):
        raise TypeError(f"layers.serialize: expected a Layer. Received: {type(layer).__name__}")
    return {"class_name": saved_name(type(layer)), "config": layer.get_config()}


def deserialize(config: dict[str, Any]) -> Layer:
    """Rebuild an (unbuilt) layer from ``serialize``'s output, looking its class up in the
    registry; nothing is evaluated.

    The config may come from a stranger's file, so its shape is checked first, and a class
    that cannot be built from it raises a ``ValueError`` naming the class (not a ``TypeError``
    from deep inside its constructor).
    """
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(
            f"layers.deserialize: expected a dict with 'class_name' and 'config'. "
            f"Received: {_short(config)}"
        )
    class_name, arguments = config["class_name"], config.get("config") or {}
    if not isinstance(class_name, str):
        raise ValueError(
            f"layers.deserialize: 'class_name' must be a string. Received: {_short(class_name)}"
        )
    if not isinstance(arguments, dict):
        raise ValueError(
            f"layers.deserialize: the 'config' of {class_name} must be a dict of its "
            f"constructor arguments. Received: {_short(arguments)}"
        )
    cls = get(class_name)
    try:
        return cls.from_config(dict(arguments))
    except (TypeError, KeyError, IndexError, AttributeError, OverflowError) as err:
        # ValueErrors already name the layer; these come from arguments of the wrong kind.
        raise ValueError(
            f"layers.deserialize: {class_name} cannot be built from its config "
            f"({type(err).__name__}: {err})."
        ) from err


def _short(value: Any) -> str:
    """``repr(value)``, cut to a line: a stranger's config may be megabytes."""
    text = repr(value)
    return text if len(text) <= 200 else f"{text[:197]}..."
