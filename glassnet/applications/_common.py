"""Pieces shared by the architectures: argument checks, the classifier head, shape chaining."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from glassnet.checks import check_bool, is_int
from glassnet.layers import Dense, GlobalAveragePooling2D, GlobalMaxPooling2D, Input
from glassnet.layers.layer import Layer, Shape
from glassnet.models import Sequential

_POOLINGS = ("avg", "max", None)


def is_size(value: Any) -> bool:
    """Whether ``value`` is a positive Python or NumPy integer."""
    return is_int(value) and value > 0


def check_image_shape(where: str, input_shape: Any) -> tuple[int | None, int | None, int]:
    """``input_shape`` as ``(height, width, channels)``: sizes may be None (any), channels not."""
    ok = (
        isinstance(input_shape, (tuple, list))
        and len(input_shape) == 3
        and all(d is None or is_size(d) for d in input_shape[:2])
        and is_size(input_shape[2])
    )
    if not ok:
        raise ValueError(
            f"{where}: 'input_shape' must be (height, width, channels) of one image, "
            f"channels-last, with positive integers (height and width may be None for any "
            f"size), e.g. input_shape=(224, 224, 3). Received: input_shape={input_shape!r}"
        )
    return tuple(None if d is None else int(d) for d in input_shape)  # type: ignore[return-value]


def check_fixed_size(where: str, shape: tuple[int | None, ...], has_top: bool = True) -> None:
    """Flatten + Dense need to know how many features there are: a fixed height and width."""
    if None in shape[:2]:
        hint = ", or pass include_top=False to accept any size" if has_top else ""
        raise ValueError(
            f"{where}: the classifier (Flatten then Dense) needs a fixed image size. Received: "
            f"input_shape={shape}. Give the height and width{hint}."
        )


def check_classes(where: str, classes: Any) -> int:
    if not is_size(classes):
        raise ValueError(
            f"{where}: 'classes' must be a positive integer, the number of categories. "
            f"Received: classes={classes!r}"
        )
    return int(classes)


def check_pooling(where: str, pooling: Any) -> str | None:
    if pooling not in _POOLINGS:
        raise ValueError(
            f"{where}: 'pooling' must be 'avg', 'max' or None (keep the 4-D feature map). "
            f"Received: pooling={pooling!r}"
        )
    return pooling


def check_top_args(
    where: str, input_shape: Any, classes: Any, include_top: Any, pooling: Any, fixed: bool
) -> tuple[tuple[int | None, int | None, int], int, bool, str | None]:
    """The checked ``(shape, classes, include_top, pooling)`` of a Keras-style constructor;
    ``fixed``: its classifier flattens, so with the top the image size must be fixed."""
    shape = check_image_shape(where, input_shape)
    include_top = check_bool(where, "include_top", include_top)
    pooling = check_pooling(where, pooling)
    if include_top:
        classes = check_classes(where, classes)
        if fixed:
            check_fixed_size(where, shape)
    return shape, classes, include_top, pooling


def pooling_layers(pooling: str | None) -> list[Layer]:
    """The feature-extractor ending for ``include_top=False``: a global pool, or nothing."""
    if pooling == "avg":
        return [GlobalAveragePooling2D(name="avg_pool")]
    if pooling == "max":
        return [GlobalMaxPooling2D(name="max_pool")]
    return []


def classifier(classes: int, activation: Any) -> Dense:
    """The last layer: one neuron per class, softmax by default (None for raw logits)."""
    return Dense(classes, activation=activation, name="predictions")


def build_chain(layers: Iterable[Layer], input_shape: Shape) -> Shape:
    """Build each layer for the shape the one before produces, by arithmetic (no data flows);
    return the last output shape. What ``Sequential.build`` does, for a block's inner path."""
    shape = tuple(input_shape)
    for layer in layers:
        if not layer.built:
            layer.build(shape)
        shape = tuple(layer.compute_output_shape(shape))
    return shape


def chain_shape(layers: Iterable[Layer], input_shape: Shape) -> Shape:
    """The output shape of ``layers`` applied in order, by arithmetic alone."""
    shape = tuple(input_shape)
    for layer in layers:
        shape = tuple(layer.compute_output_shape(shape))
    return shape


def sequential(where: str, stack: list[Layer], name: str, min_size: int = 1) -> Sequential:
    """``Sequential(stack)``, built; when the shape check fails because the images are smaller
    than the network's ``min_size`` (its pooling shrinks them to nothing), say so first."""
    try:
        return Sequential(stack, name=name)
    except ValueError as err:
        hw = stack[0].shape[1:3] if stack else ()
        if any(d is not None and d < min_size for d in hw):
            raise ValueError(
                f"{where}: input_shape {tuple(stack[0].shape[1:])} is too small; {where} needs "
                f"images of at least {min_size}×{min_size} pixels.\n{err}"
            ) from err
        raise


#: The docstring of every ``image_classifier``'s arguments after ``input_shape``.
ARGS = """classes: the number of categories (the size of the last layer).
        include_top: False drops the classifier and ends with ``pooling``, to use the network
            as a feature extractor (transfer learning).
        pooling: with ``include_top=False``, "avg" (global average pooling, the default),
            "max", or None for the last 4-D feature map. Ignored with ``include_top=True``.
        classifier_activation: the last layer's activation, "softmax" by default; None gives
            raw scores (logits).
        name: the model's name."""


def image_classifier(
    where: str,
    features: Callable[[], list[Layer]],
    top: Callable[[], list[Layer]],
    doc: str,
    min_size: int = 1,
    fixed: bool = False,
) -> Callable[..., Sequential]:
    """The Keras-style constructor ``where(input_shape=(224, 224, 3), classes=1000,
    include_top=True, pooling="avg", classifier_activation="softmax", name=where.lower())`` of
    the network ``features()``, then ``top()`` and the classifier, or with ``include_top=False``
    the global ``pooling``; ``doc`` is its docstring, ``min_size`` and ``fixed`` as in
    ``sequential`` and ``check_top_args``."""

    def constructor(
        input_shape: Any = (224, 224, 3),
        classes: int = 1000,
        include_top: bool = True,
        pooling: str | None = "avg",
        classifier_activation: Any = "softmax",
        name: str = where.lower(),
    ) -> Sequential:
        shape, classes, include_top, pooling = check_top_args(
            where, input_shape, classes, include_top, pooling, fixed
        )
        stack: list[Layer] = [Input(shape), *features()]
        if include_top:
            stack += [*top(), classifier(classes, classifier_activation)]
        else:
            stack += pooling_layers(pooling)
        return sequential(where, stack, name, min_size)

    constructor.__name__ = constructor.__qualname__ = where
    constructor.__module__ = features.__module__
    constructor.__doc__ = doc
    return constructor
