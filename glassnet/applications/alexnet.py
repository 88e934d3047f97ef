"""AlexNet (Krizhevsky, Sutskever and Hinton, 2012): the network that started deep learning's
run on images.

It won ImageNet 2012 by a wide margin, trained on two GPUs with ReLU activations, dropout and
data augmentation — the first large convolutional network to show what GPUs and big data could
do. The layout is torchvision's single-GPU version (64-192-384-256-256 filters), so the
parameter count is torchvision's exactly: 61,100,840 trainable parameters at 224×224×3 with 1000
classes.
"""

from __future__ import annotations

from glassnet.applications._common import ARGS, image_classifier
from glassnet.layers import Conv2D, Dense, Dropout, Flatten, MaxPooling2D
from glassnet.layers.layer import Layer

__all__ = ["AlexNet"]


def _conv(filters: int, size: int, index: int, strides: int = 1) -> Conv2D:
    return Conv2D(
        filters, size, strides=strides, padding="same", activation="relu", name=f"conv{index}"
    )


def _pool(index: int) -> MaxPooling2D:
    return MaxPooling2D(3, strides=2, name=f"pool{index}")  # overlapping windows, as in 2012


def _features() -> list[Layer]:
    return [
        _conv(64, 11, 1, strides=4),
        _pool(1),
        _conv(192, 5, 2),
        _pool(2),
        _conv(384, 3, 3),
        _conv(256, 3, 4),
        _conv(256, 3, 5),
        _pool(5),
    ]


def _top() -> list[Layer]:
    # torchvision's classifier: Dropout(0.5), Linear, ReLU, Dropout, Linear, ReLU, Linear.
    return [
        Flatten(name="flatten"),
        Dropout(0.5, name="dropout1"),
        Dense(4096, activation="relu", name="fc1"),
        Dropout(0.5, name="dropout2"),
        Dense(4096, activation="relu", name="fc2"),
    ]


AlexNet = image_classifier(
    "AlexNet",
    _features,
    _top,
    f"""AlexNet: five convolutions (11×11 stride 4, 5×5, then three 3×3) with three max-pools,
    and three Dense layers with dropout; 61,100,840 trainable parameters at 224×224×3 with 1000
    classes.

    The first big GPU-trained CNN (ImageNet 2012). Differences from torchvision, none of which
    changes a parameter count: the first convolution pads "same" (TensorFlow's way) instead of
    2 pixels, giving 56×56 instead of 55×55 — the max-pool after it brings both to 27×27, and
    every later size is torchvision's. torchvision then averages to 6×6
    (``AdaptiveAvgPool2d``), an identity at 224×224; glassnet flattens whatever is left, so
    other input sizes give a first Dense layer of another size. Inputs need at least 57×57
    pixels: smaller ones shrink to nothing before the last max-pool, and building the model
    raises an error naming the pooling layer that fails.

    Args:
        input_shape: ``(height, width, channels)`` of one image, at least 57×57 (height and
            width may be None, for any size, only with ``include_top=False``).
        {ARGS}

    Returns:
        A built ``Sequential``: ``conv1``, ``pool1``, ``conv2``, ``pool2``, ``conv3`` …
        ``conv5``, ``pool5``, ``flatten``, ``dropout1``, ``fc1``, ``dropout2``, ``fc2``,
        ``predictions``.

    Shape:
        Input: ``(batch, *input_shape)``. Output: ``(batch, classes)``; without the top,
        ``(batch, 256)``, or the ``(batch, 6, 6, 256)`` map (at 224×224) with pooling=None.
    """,
    min_size=57,
    fixed=True,
)
