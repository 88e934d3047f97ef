"""A small convolutional classifier for your own photos: the default of ``glassnet train``.

Three blocks of 3×3 convolution + batch normalization + ReLU + 2×2 max-pooling, doubling the
filters each time (16, 32, 64), then global average pooling, dropout and one Dense layer. It
takes raw 0–255 pixels (``Rescaling(1/255)`` comes first) and any image size of at least 8×8:
global average pooling makes the classifier independent of the size. With 3 channels and 2
classes it has 24,050 parameters at any image size, and trains on a few hundred 64×64 photos in
seconds on a CPU.
"""

from __future__ import annotations

from typing import Any

from glassnet.applications._common import (
    check_classes,
    check_image_shape,
    classifier,
    sequential,
)
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

__all__ = ["small_cnn"]


def small_cnn(
    input_shape: Any = (64, 64, 3),
    classes: int = 2,
    filters: Any = (16, 32, 64),
    dropout: float = 0.2,
    classifier_activation: Any = "softmax",
    name: str = "small_cnn",
) -> Sequential:
    """A small image classifier: ``Rescaling(1/255)``, one conv block per entry of ``filters``
    (Conv2D 3×3 "same" → BatchNormalization → ReLU → MaxPooling2D 2), global average pooling,
    dropout and a Dense classifier.

    Batch normalization lets it train quickly with Adam's default learning rate. Its running
    statistics use momentum 0.8 rather than Keras's 0.99 (or PyTorch's 0.9): a few hundred
    photos give only about ten steps per epoch, and with 0.99 (or even 0.9) the running mean and
    variance trail the fast-changing early weights by dozens of steps, so the model scores at
    chance in inference mode for the first epochs while it already trains well. The statistics
    of a convolution average over every pixel of the batch, so a short memory costs little
    noise. Global average pooling
    (one number per feature map) keeps the parameter count small and independent of the image
    size, so 32×32 and 128×128 images use the same network.

    Args:
        input_shape: ``(height, width, channels)`` of one image, raw pixels 0–255, at least
            ``2 ** len(filters)`` pixels on each side; height and width may be None (any size).
        classes: the number of categories.
        filters: the number of filters of each block, in order.
        dropout: the dropout rate before the classifier (0 for none).
        classifier_activation: the last layer's activation, "softmax" by default; None gives
            logits.
        name: the model's name.

    Returns:
        A built ``Sequential``: ``rescaling``, ``conv1``, ``bn1``, ``relu1``, ``pool1``, ...,
        ``avg_pool``, ``dropout``, ``predictions``.

    Shape:
        Input: ``(batch, *input_shape)``. Output: ``(batch, classes)``.
    """
    where = "small_cnn"
    shape = check_image_shape(where, input_shape)
    classes = check_classes(where, classes)
    filters = tuple(filters)
    if not filters or not all(isinstance(f, int) and f > 0 for f in filters):
        raise ValueError(
            f"{where}: 'filters' must be a non-empty list of positive integers, one per block. "
            f"Received: filters={filters!r}"
        )
    stack: list[Layer] = [Input(shape), Rescaling(1 / 255, name="rescaling")]
    for block, n in enumerate(filters, 1):
        stack += [
            Conv2D(n, 3, padding="same", use_bias=False, name=f"conv{block}"),
            BatchNormalization(momentum=0.8, name=f"bn{block}"),
            ReLU(name=f"relu{block}"),
            MaxPooling2D(2, name=f"pool{block}"),
        ]
    stack.append(GlobalAveragePooling2D(name="avg_pool"))
    if dropout:
        stack.append(Dropout(dropout, name="dropout"))
    stack.append(classifier(classes, classifier_activation))
    return sequential(where, stack, name, min_size=2 ** len(filters))
