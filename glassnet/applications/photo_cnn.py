"""A convolutional network for your own photos, trained from scratch: ``glassnet train``'s default.

Four blocks of two 3×3 convolutions (each followed by batch normalization and ReLU) and a 2×2
max-pooling, doubling the filters from 32 to 256 while halving the image, then global average
pooling, dropout and one Dense layer: VGG's design, narrow and short, with batch
normalization so that it trains in a few epochs from scratch. The first block works at the
photo's full size, where the fine detail of fur, eyes and ears is; global average pooling
keeps the classifier independent of the image size. Sized for a few thousand photos at
around 100 pixels on a laptop's CPU (``benchmarks/photos.py`` measures it).

Its convolutions pad "same" (one pixel on every side for 3×3), as PyTorch's ``padding=1``
does, so a ``torch.nn`` twin with the same weights computes the same numbers
(``benchmarks/photos.py`` builds one).
"""

from __future__ import annotations

from typing import Any

from glassnet.applications._common import check_classes, check_image_shape, classifier, sequential
from glassnet.layers import (
    BatchNormalization,
    Conv2D,
    Dropout,
    GlobalAveragePooling2D,
    Input,
    MaxPooling2D,
    ReLU,
    Rescaling,
)
from glassnet.layers.layer import Layer
from glassnet.models import Sequential

__all__ = ["photo_cnn"]


def photo_cnn(
    input_shape: Any = (96, 96, 3),
    classes: int = 2,
    filters: Any = (32, 64, 128, 256),
    dropout: float = 0.2,
    classifier_activation: Any = "softmax",
    name: str = "photo_cnn",
) -> Sequential:
    """A small convolutional network for photos: ``Rescaling(1/255)``, one block per entry of
    ``filters``, global average pooling, dropout and a Dense classifier.

    Each block is Conv2D 3×3 ("same", no bias) → BatchNormalization → ReLU, twice, then
    MaxPooling2D 2, named ``block{i}_conv1``, ``block{i}_bn1``, ``block{i}_relu1``, ...,
    ``block{i}_pool``. Batch normalization is PyTorch's (momentum 0.1 in its convention, 0.9 in
    Keras's; epsilon 1e-5): with a few hundred steps per run, Keras's 0.99 would leave the
    moving statistics that inference uses far behind the weights.

    Args:
        input_shape: ``(height, width, channels)`` of one image, raw pixels 0–255, at least
            2^len(filters) on each side; height and width may be None (any size).
        classes: the number of categories.
        filters: the filters of each block, in order.
        dropout: the dropout rate before the classifier (0 for none).
        classifier_activation: the last layer's activation, "softmax" by default; None gives
            logits.
        name: the model's name.

    Returns:
        A built ``Sequential``: ``rescaling``, the blocks' layers, ``avg_pool``, ``dropout``,
        ``predictions``.

    Shape:
        Input: ``(batch, *input_shape)``. Output: ``(batch, classes)``.
    """
    where = "photo_cnn"
    shape = check_image_shape(where, input_shape)
    classes = check_classes(where, classes)
    filters = tuple(filters) if isinstance(filters, (tuple, list)) else (filters,)
    if not filters or not all(isinstance(f, int) and f > 0 for f in filters):
        raise ValueError(
            f"{where}: 'filters' must be a non-empty list of positive integers, one per block. "
            f"Received: filters={filters!r}"
        )
    stack: list[Layer] = [Input(shape), Rescaling(1 / 255, name="rescaling")]
    for block, n in enumerate(filters, 1):
        for conv in (1, 2):
            stack += [
                Conv2D(n, 3, padding="same", use_bias=False, name=f"block{block}_conv{conv}"),
                BatchNormalization(epsilon=1e-5, momentum=0.9, name=f"block{block}_bn{conv}"),
                ReLU(name=f"block{block}_relu{conv}"),
            ]
        stack.append(MaxPooling2D(2, name=f"block{block}_pool"))
    stack.append(GlobalAveragePooling2D(name="avg_pool"))
    if dropout:
        stack.append(Dropout(dropout, name="dropout"))
    stack.append(classifier(classes, classifier_activation))
    return sequential(where, stack, name, min_size=2 ** len(filters))
