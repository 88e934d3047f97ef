"""GoogLeNet (Szegedy et al., 2014), the first Inception network.

An Inception block looks at its input through several windows at once — 1×1, 3×3, a larger
one and a 3×3 max-pool — in parallel branches, and stacks their outputs along the channels.
Cheap 1×1 convolutions first shrink the channels of the expensive branches, so the 22-layer
network that won ImageNet 2014 has 12 times fewer parameters than AlexNet.

The layout is torchvision's ``googlenet`` (with BatchNormalization, which the 2014 paper
predates, and without the two auxiliary classifiers, which only help training), so the
parameter count is torchvision's exactly: 6,624,904 trainable parameters at 224×224×3 with
1000 classes. Like torchvision, the "5×5" branch uses a **3×3** convolution — a slip in the
original port that torchvision kept so that its pretrained weights load; glassnet keeps it so
the two networks are the same.

Padding: every convolution and pool uses "same" padding; torchvision's k // 2 padding and its
``ceil_mode=True`` max-pools give the same sizes. With stride 2, "same" pads TensorFlow's way
(the extra pixel at the bottom and right, none at the top and left) rather than torchvision's
way, so the windows sit one pixel further down and right.
"""

from __future__ import annotations

from typing import Any

from glassnet.applications._common import (
    build_chain,
    chain_shape,
    check_top_args,
    classifier,
    pooling_layers,
    sequential,
)
from glassnet.checks import check_int_pair, check_positive_int
from glassnet.layers import (
    BatchNormalization,
    Concatenate,
    Conv2D,
    Dropout,
    GlobalAveragePooling2D,
    Input,
    MaxPooling2D,
    ReLU,
)
from glassnet.layers.layer import InputSpec, Layer, Shape
from glassnet.models import Model, Sequential
from glassnet.tensor import Tensor

__all__ = ["BasicConv2D", "GoogLeNet", "Inception"]

_IMAGES = "(batch, height, width, channels)"


class BasicConv2D(Model):
    """Convolution, BatchNormalization, ReLU: the unit every GoogLeNet layer is made of
    (torchvision's ``BasicConv2d``).

    The convolution has no bias (the normalisation's beta plays that part) and "same" padding;
    the normalisation uses epsilon 0.001, as torchvision's.

    Args:
        filters: output channels.
        kernel_size: the window, an int or a pair.
        strides: the step, an int or a pair.

    Shape:
        Input: ``(batch, height, width, channels)``.
        Output: ``(batch, ceil(height / strides), ceil(width / strides), filters)``.
    """

    trains_in_shares = True  # its call applies only its layers (Layer.trains_in_shares)
    _config_keys = ("filters", "kernel_size", "strides")

    def __init__(
        self,
        filters: int,
        kernel_size: int | tuple[int, int],
        strides: int | tuple[int, int] = 1,
        *,
        name: str | None = None,
        trainable: bool = True,
    ) -> None:
        super().__init__(name=name, trainable=trainable)
        self.filters = check_positive_int("BasicConv2D", "filters", filters)
        self.kernel_size = check_int_pair("BasicConv2D", "kernel_size", kernel_size)
        self.strides = check_int_pair("BasicConv2D", "strides", strides)
        self.conv = Conv2D(
            self.filters,
            self.kernel_size,
            strides=self.strides,
            padding="same",
            use_bias=False,
            name=f"{self.name}_conv",
        )
        # epsilon 0.001 as torchvision's BasicConv2d; momentum 0.9 = torch's default 0.1.
        self.bn = BatchNormalization(epsilon=0.001, momentum=0.9, name=f"{self.name}_bn")
        self.relu = ReLU(name=f"{self.name}_relu")
        self.input_spec = InputSpec(ndim=4, layout=_IMAGES)

    def build(self, input_shape: Shape) -> None:
        build_chain([self.conv, self.bn, self.relu], input_shape)
        self.input_spec = InputSpec(ndim=4, axes={-1: input_shape[-1]}, layout=_IMAGES)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        shape = self._check_input_shape(input_shape)
        return chain_shape([self.conv, self.bn, self.relu], shape)

    def call(self, x: Tensor, training: bool = False) -> Tensor:
        return self.relu(self.bn(self.conv(x), training=training))


class Inception(Model):
    """Four parallel branches whose outputs are stacked along the channels:

    1. a 1×1 convolution (``ch1x1`` filters);
    2. a 1×1 convolution down to ``ch3x3red`` channels, then a 3×3 one (``ch3x3``);
    3. a 1×1 convolution down to ``ch5x5red`` channels, then a 3×3 one (``ch5x5``) — a 5×5 in
       the paper, 3×3 in torchvision's GoogLeNet, kept here so the networks match;
    4. a 3×3 max-pool (stride 1), then a 1×1 convolution (``pool_proj``).

    Each convolution is a ``BasicConv2D`` (convolution, BatchNormalization, ReLU). Argument
    names are torchvision's.

    Shape:
        Input: ``(batch, height, width, channels)``.
        Output: ``(batch, height, width, ch1x1 + ch3x3 + ch5x5 + pool_proj)``.
    """

    trains_in_shares = True  # its call applies only its layers (Layer.trains_in_shares)
    _config_keys = ("ch1x1", "ch3x3red", "ch3x3", "ch5x5red", "ch5x5", "pool_proj")

    def __init__(
        self,
        ch1x1: int,
        ch3x3red: int,
        ch3x3: int,
        ch5x5red: int,
        ch5x5: int,
        pool_proj: int,
        *,
        name: str | None = None,
        trainable: bool = True,
    ) -> None:
        super().__init__(name=name, trainable=trainable)
        sizes = (ch1x1, ch3x3red, ch3x3, ch5x5red, ch5x5, pool_proj)
        for arg, value in zip(self._config_keys, sizes, strict=True):
            setattr(self, arg, check_positive_int("Inception", arg, value))
        prefix = self.name
        self.branch1 = [BasicConv2D(self.ch1x1, 1, name=f"{prefix}_branch1")]
        self.branch2 = [
            BasicConv2D(self.ch3x3red, 1, name=f"{prefix}_branch2_reduce"),
            BasicConv2D(self.ch3x3, 3, name=f"{prefix}_branch2"),
        ]
        self.branch3 = [
            BasicConv2D(self.ch5x5red, 1, name=f"{prefix}_branch3_reduce"),
            BasicConv2D(self.ch5x5, 3, name=f"{prefix}_branch3"),  # 3×3, as torchvision
        ]
        self.branch4 = [
            MaxPooling2D(3, strides=1, padding="same", name=f"{prefix}_branch4_pool"),
            BasicConv2D(self.pool_proj, 1, name=f"{prefix}_branch4"),
        ]
        self.concat = Concatenate(axis=-1, name=f"{prefix}_concat")
        self.input_spec = InputSpec(ndim=4, layout=_IMAGES)

    def _branches(self) -> list[list[Layer]]:
        return [self.branch1, self.branch2, self.branch3, self.branch4]

    def build(self, input_shape: Shape) -> None:
        # Shape arithmetic only: each branch is built for the block's input, no data flows.
        shapes = [build_chain(branch, input_shape) for branch in self._branches()]
        self.concat.build(shapes)
        self.input_spec = InputSpec(ndim=4, axes={-1: input_shape[-1]}, layout=_IMAGES)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        shape = self._check_input_shape(input_shape)
        out = chain_shape(self.branch1, shape)
        return (*out[:-1], self.ch1x1 + self.ch3x3 + self.ch5x5 + self.pool_proj)

    def call(self, x: Tensor, training: bool = False) -> Tensor:
        outputs = []
        for branch in self._branches():
            y = x
            for layer in branch:
                y = layer(y, training=training)
            outputs.append(y)
        return self.concat(outputs)


#: torchvision's Inception sizes: (ch1x1, ch3x3red, ch3x3, ch5x5red, ch5x5, pool_proj).
_INCEPTIONS = {
    "3a": (64, 96, 128, 16, 32, 32),
    "3b": (128, 128, 192, 32, 96, 64),
    "4a": (192, 96, 208, 16, 48, 64),
    "4b": (160, 112, 224, 24, 64, 64),
    "4c": (128, 128, 256, 24, 64, 64),
    "4d": (112, 144, 288, 32, 64, 64),
    "4e": (256, 160, 320, 32, 128, 128),
    "5a": (256, 160, 320, 32, 128, 128),
    "5b": (384, 192, 384, 48, 128, 128),
}


def GoogLeNet(
    input_shape: Any = (224, 224, 3),
    classes: int = 1000,
    include_top: bool = True,
    pooling: str | None = "avg",
    classifier_activation: Any = "softmax",
    dropout: float = 0.2,
    name: str = "googlenet",
) -> Sequential:
    """GoogLeNet (Inception v1): nine Inception blocks of parallel 1×1, 3×3, "5×5" and pooling
    branches (6,624,904 trainable parameters at 224×224×3 with 1000 classes).

    Szegedy et al. won ImageNet 2014 by going wide as well as deep: each block sees several
    scales at once and lets training pick, with 1×1 convolutions keeping it cheap. The "5×5"
    branches use 3×3 convolutions, as torchvision's GoogLeNet does (see the module docstring);
    there are no auxiliary classifiers.

    Args:
        input_shape: ``(height, width, channels)`` of one image. Any size works: every
            downsampling step uses "same" padding, so 32×32 images shrink to 1×1 rather than
            to nothing.
        classes: the number of categories.
        include_top: False drops dropout and classifier and ends with ``pooling``, to use the
            network as a feature extractor.
        pooling: with ``include_top=False``, "avg" (the default), "max", or None for the 4-D
            map. Ignored with ``include_top=True``.
        classifier_activation: the last layer's activation, "softmax" by default; None gives
            logits.
        dropout: the dropout rate before the classifier (torchvision's 0.2).
        name: the model's name.

    Returns:
        A built ``Sequential``: ``conv1``, ``maxpool1``, ``conv2``, ``conv3``, ``maxpool2``,
        ``inception3a``, ``inception3b``, ``maxpool3``, ``inception4a`` … ``inception4e``,
        ``maxpool4``, ``inception5a``, ``inception5b``, ``avg_pool``, ``dropout``,
        ``predictions`` (torchvision's names).

    Shape:
        Input: ``(batch, *input_shape)``. Output: ``(batch, classes)``; without the top,
        ``(batch, 1024)``, or ``(batch, ceil(H / 32), ceil(W / 32), 1024)`` with pooling=None.
    """
    where = "GoogLeNet"
    shape, classes, include_top, pooling = check_top_args(
        where, input_shape, classes, include_top, pooling, fixed=False
    )

    def pool(index: int, size: int = 3) -> MaxPooling2D:
        return MaxPooling2D(size, strides=2, padding="same", name=f"maxpool{index}")

    def inception(key: str) -> Inception:
        return Inception(*_INCEPTIONS[key], name=f"inception{key}")

    stack: list[Layer] = [
        Input(shape),
        BasicConv2D(64, 7, strides=2, name="conv1"),
        pool(1),
        BasicConv2D(64, 1, name="conv2"),
        BasicConv2D(192, 3, name="conv3"),
        pool(2),
        inception("3a"),
        inception("3b"),
        pool(3),
        *(inception(key) for key in ("4a", "4b", "4c", "4d", "4e")),
        pool(4, size=2),
        inception("5a"),
        inception("5b"),
    ]
    if include_top:
        stack += [
            GlobalAveragePooling2D(name="avg_pool"),
            Dropout(dropout, name="dropout"),
            classifier(classes, classifier_activation),
        ]
    else:
        stack += pooling_layers(pooling)
    return sequential(where, stack, name)
