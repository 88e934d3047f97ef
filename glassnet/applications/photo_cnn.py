"""A residual network for your own photos, trained from scratch: the default of ``glassnet train``.

A stem (3×3 convolution, batch normalization, ReLU, 2×2 max-pooling) and four stages of one
ResNet ``BasicBlock`` each — two 3×3 convolutions with a skip connection — doubling the filters
from 32 to 256 while halving the image, then global average pooling, dropout and one Dense
layer. It is ResNet-18's design at half its width and half its depth (one block per stage
instead of two), with a gentler stem (a 3×3 convolution at full size instead of a 7×7 one with
stride 2) that keeps the detail of small images; sized for a few thousand photos at 96–128
pixels on a laptop's CPU. The skip connections let it train quickly from scratch, and global
average pooling keeps the classifier independent of the image size.

Its convolutions pad the way PyTorch does (``padding="torch"``: k // 2 on every side), so a
``torch.nn`` twin with the same weights computes the same numbers (``benchmarks/photos.py``
builds one).
"""

from __future__ import annotations

from typing import Any

from glassnet.applications._common import check_classes, check_image_shape, classifier, sequential
from glassnet.applications.resnet import BasicBlock
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
    """A small ResNet for photos: ``Rescaling(1/255)``, a stem, one residual stage per entry of
    ``filters``, global average pooling, dropout and a Dense classifier.

    The stem is Conv2D 3×3 ("same", no bias) → BatchNormalization → ReLU → MaxPooling2D 2,
    with ``filters[0]`` filters. Each stage is one ``BasicBlock``
    (``relu(bn(conv(relu(bn(conv(x))))) + shortcut(x))``): the first keeps the size, each
    later one halves it with a stride-2 convolution and widens the shortcut with a 1×1
    convolution. Batch normalization is PyTorch's (momentum 0.1 in its convention, 0.9 in
    Keras's; epsilon 1e-5), as in ``ResNet18``.

    Args:
        input_shape: ``(height, width, channels)`` of one image, raw pixels 0–255, at least
            2×2; height and width may be None (any size).
        classes: the number of categories.
        filters: the filters of each stage, in order (the stem has the first stage's).
        dropout: the dropout rate before the classifier (0 for none).
        classifier_activation: the last layer's activation, "softmax" by default; None gives
            logits.
        name: the model's name.

    Returns:
        A built ``Sequential``: ``rescaling``, ``stem_conv``, ``stem_bn``, ``stem_relu``,
        ``stem_pool``, ``stage1`` … ``stage4`` (``BasicBlock``\\ s), ``avg_pool``,
        ``dropout``, ``predictions``.

    Shape:
        Input: ``(batch, *input_shape)``. Output: ``(batch, classes)``.
    """
    where = "photo_cnn"
    shape = check_image_shape(where, input_shape)
    classes = check_classes(where, classes)
    filters = tuple(filters) if isinstance(filters, (tuple, list)) else (filters,)
    if not filters or not all(isinstance(f, int) and f > 0 for f in filters):
        raise ValueError(
            f"{where}: 'filters' must be a non-empty list of positive integers, one per stage. "
            f"Received: filters={filters!r}"
        )
    stack: list[Layer] = [
        Input(shape),
        Rescaling(1 / 255, name="rescaling"),
        Conv2D(filters[0], 3, padding="same", use_bias=False, name="stem_conv"),
        BatchNormalization(epsilon=1e-5, momentum=0.9, name="stem_bn"),
        ReLU(name="stem_relu"),
        MaxPooling2D(2, name="stem_pool"),
    ]
    channels = filters[0]
    for stage, n in enumerate(filters, 1):
        strides = 1 if stage == 1 else 2
        downsample = strides != 1 or channels != n
        stack.append(BasicBlock(n, strides, downsample, padding="torch", name=f"stage{stage}"))
        channels = n
    stack.append(GlobalAveragePooling2D(name="avg_pool"))
    if dropout:
        stack.append(Dropout(dropout, name="dropout"))
    stack.append(classifier(classes, classifier_activation))
    return sequential(where, stack, name, min_size=2)
