"""VGG (Simonyan and Zisserman, 2014): depth from nothing but stacks of 3×3 convolutions.

Two 3×3 convolutions see a 5×5 window and three see 7×7, with fewer weights and more
non-linearities than one large filter; VGG showed that going deeper this simple way, 11 to 19
weight layers, keeps improving accuracy. Five blocks of convolutions, each ending in a 2×2
max-pool that halves the image, feed three fully connected layers. The layout and the
classifier (with its dropout) are torchvision's, so the parameter counts are torchvision's
exactly at 224×224×3 with 1000 classes: VGG11 132,863,336, VGG13 133,047,848, VGG16
138,357,544, VGG19 143,667,240 (most of them in the first Dense layer, 7·7·512·4096).

Other input sizes: torchvision averages the last feature map to 7×7 (``AdaptiveAvgPool2d``),
an identity at 224×224. glassnet flattens whatever size the convolutions leave instead, so at
32×32 the classifier sees 1×1×512 = 512 features and the first Dense layer is 64 times
smaller. Inputs need at least 32×32 pixels (five halvings); smaller ones raise the shape error
of the pooling layer that would produce nothing.
"""

from __future__ import annotations

from collections.abc import Callable

from glassnet.applications._common import ARGS, image_classifier
from glassnet.layers import Conv2D, Dense, Dropout, Flatten, MaxPooling2D
from glassnet.layers.layer import Layer
from glassnet.models import Sequential

__all__ = ["VGG11", "VGG13", "VGG16", "VGG19"]

_FILTERS = (64, 128, 256, 512, 512)

_DOC = """{summary}

    Args:
        input_shape: ``(height, width, channels)`` of one image, at least 32×32 (height and
            width may be None, for any size, only with ``include_top=False``).
        {args}

    Returns:
        A built ``Sequential`` with Keras's layer names: ``block1_conv1``, ``block1_pool``, ...,
        ``flatten``, ``fc1``, ``dropout1``, ``fc2``, ``dropout2``, ``predictions``.

    Shape:
        Input: ``(batch, *input_shape)``. Output: ``(batch, classes)``; without the top,
        ``(batch, 512)``, or ``(batch, H // 32, W // 32, 512)`` with pooling=None.
    """


def _top() -> list[Layer]:
    # torchvision's classifier: Linear, ReLU, Dropout(0.5), Linear, ReLU, Dropout, Linear.
    return [
        Flatten(name="flatten"),
        Dense(4096, activation="relu", name="fc1"),
        Dropout(0.5, name="dropout1"),
        Dense(4096, activation="relu", name="fc2"),
        Dropout(0.5, name="dropout2"),
    ]


def _vgg(
    where: str, convs_per_block: tuple[int, int, int, int, int], summary: str
) -> Callable[..., Sequential]:
    """The constructor of a VGG with ``convs_per_block`` 3×3 convolutions in its five blocks."""

    def features() -> list[Layer]:
        stack: list[Layer] = []
        for block, (filters, count) in enumerate(zip(_FILTERS, convs_per_block, strict=True), 1):
            for index in range(1, count + 1):
                name = f"block{block}_conv{index}"
                stack.append(Conv2D(filters, 3, padding="same", activation="relu", name=name))
            stack.append(MaxPooling2D(2, strides=2, name=f"block{block}_pool"))
        return stack

    doc = _DOC.format(summary=summary, args=ARGS)
    return image_classifier(where, features, _top, doc, min_size=32, fixed=True)


VGG11 = _vgg(
    "VGG11",
    (1, 1, 2, 2, 2),
    """VGG-11 ("configuration A"): 8 convolutions of 3×3 in five blocks (1, 1, 2, 2, 2) and
    three Dense layers; 132,863,336 trainable parameters at 224×224×3 with 1000 classes.

    The shallowest network of Simonyan and Zisserman's 2014 depth study (see the module
    docstring for other input sizes).""",
)
VGG13 = _vgg(
    "VGG13",
    (2, 2, 2, 2, 2),
    """VGG-13 ("configuration B"): 10 convolutions of 3×3, two in each of five blocks, and three
    Dense layers; 133,047,848 trainable parameters at 224×224×3 with 1000 classes.

    From Simonyan and Zisserman's 2014 depth study (see the module docstring for other input
    sizes).""",
)
VGG16 = _vgg(
    "VGG16",
    (2, 2, 3, 3, 3),
    """VGG-16 ("configuration D"): 13 convolutions of 3×3 in five blocks (2, 2, 3, 3, 3) and
    three Dense layers; 138,357,544 trainable parameters at 224×224×3 with 1000 classes.

    Runner-up of ImageNet 2014 and the best-known VGG: its uniform stacks of 3×3 filters made it
    the standard feature extractor for years (see the module docstring for other input sizes).""",
)
VGG19 = _vgg(
    "VGG19",
    (2, 2, 4, 4, 4),
    """VGG-19 ("configuration E"): 16 convolutions of 3×3 in five blocks (2, 2, 4, 4, 4) and
    three Dense layers; 143,667,240 trainable parameters at 224×224×3 with 1000 classes.

    The deepest network of Simonyan and Zisserman's 2014 study, where accuracy stopped improving
    with depth (see the module docstring for other input sizes).""",
)
