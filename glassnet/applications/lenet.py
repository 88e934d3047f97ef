"""LeNet-5 (LeCun, Bottou, Bengio and Haffner, 1998): the convolutional network that read
handwritten digits on bank cheques, the ancestor of every network in this package."""

from __future__ import annotations

from typing import Any

from glassnet.applications._common import (
    check_classes,
    check_fixed_size,
    check_image_shape,
    classifier,
    sequential,
)
from glassnet.layers import Conv2D, Dense, Flatten, Input, MaxPooling2D
from glassnet.models import Sequential

__all__ = ["LeNet5"]


def LeNet5(
    input_shape: Any = (28, 28, 1),
    classes: int = 10,
    classifier_activation: Any = "softmax",
    name: str = "lenet5",
) -> Sequential:
    """LeNet-5: two convolution + max-pool stages and three Dense layers; 61,706 parameters for
    28×28×1 images and 10 classes.

    LeCun et al. (1998) showed that convolutions with shared weights, learned end to end by
    backpropagation, recognise digits better than hand-made features. This is the modern form
    used by benchmarks: ReLU instead of tanh and max- instead of average pooling, and "same"
    padding in the first convolution so 28×28 MNIST digits play the part of the paper's padded
    32×32 ones: conv 5×5×6 "same" + ReLU, max-pool 2, conv 5×5×16 "valid" + ReLU, max-pool 2,
    Flatten (5·5·16 = 400), Dense 120 + ReLU, Dense 84 + ReLU, Dense ``classes``.

    Args:
        input_shape: ``(height, width, channels)`` of one image, at least 12×12.
        classes: the number of categories.
        classifier_activation: the last layer's activation, "softmax" by default; None gives
            logits.
        name: the model's name.

    Returns:
        A built ``Sequential``: ``conv1``, ``pool1``, ``conv2``, ``pool2``, ``flatten``,
        ``fc1``, ``fc2``, ``predictions``.

    Shape:
        Input: ``(batch, *input_shape)``. Output: ``(batch, classes)``.
    """
    where = "LeNet5"
    shape = check_image_shape(where, input_shape)
    classes = check_classes(where, classes)
    check_fixed_size(where, shape, has_top=False)
    stack = [
        Input(shape),
        Conv2D(6, 5, padding="same", activation="relu", name="conv1"),
        MaxPooling2D(2, name="pool1"),
        Conv2D(16, 5, padding="valid", activation="relu", name="conv2"),
        MaxPooling2D(2, name="pool2"),
        Flatten(name="flatten"),
        Dense(120, activation="relu", name="fc1"),
        Dense(84, activation="relu", name="fc2"),
        classifier(classes, classifier_activation),
    ]
    return sequential(where, stack, name, min_size=12)
