"""ResNet (He, Zhang, Ren and Sun, 2015): very deep networks made trainable by skip connections.

Each residual block computes ``relu(F(x) + x)``: its layers only learn the *change* F to make
to their input, and the ``+ x`` path carries the signal forward and the gradient backward
unchanged, so 152 layers train as easily as 20 (plain stacks that deep train worse than
shallow ones). The layout is torchvision's ("v1.5": a block that halves the image does so in
its 3×3 convolution), so the parameter counts are torchvision's exactly:

================  ===========  =====================  ========================
model             block        blocks per stage       trainable parameters
================  ===========  =====================  ========================
``ResNet18``      BasicBlock   2, 2, 2, 2             11,689,512
``ResNet34``      BasicBlock   3, 4, 6, 3             21,797,672
``ResNet50``      Bottleneck   3, 4, 6, 3             25,557,032
``ResNet101``     Bottleneck   3, 4, 23, 3            44,549,160
``ResNet152``     Bottleneck   3, 8, 36, 3            60,192,808
================  ===========  =====================  ========================

(224×224×3 inputs, 1000 classes; like torchvision, BatchNormalization's gamma and beta count
as parameters and its moving statistics do not.)

Padding: torchvision pads its k×k convolutions and the stem's max-pool by k // 2 on every
side; glassnet uses ``padding="same"``, which gives the same output sizes. With stride 2,
"same" pads TensorFlow's way — the extra pixel goes to the bottom and right, none to the top
and left — so the windows sit one pixel lower and further right than torchvision's. That
changes nothing about the architecture, but weights ported from torchvision give slightly
different numbers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from glassnet.applications._common import ARGS, build_chain, chain_shape, image_classifier
from glassnet.checks import check_bool, check_positive_int
from glassnet.layers import (
    Add,
    BatchNormalization,
    Conv2D,
    GlobalAveragePooling2D,
    MaxPooling2D,
    ReLU,
)
from glassnet.layers.layer import InputSpec, Layer, Shape
from glassnet.models import Model, Sequential
from glassnet.tensor import Tensor

__all__ = [
    "BasicBlock",
    "Bottleneck",
    "ResNet18",
    "ResNet34",
    "ResNet50",
    "ResNet101",
    "ResNet152",
]

_IMAGES = "(batch, height, width, channels)"


def _bn(name: str) -> BatchNormalization:
    # torchvision's BatchNorm2d defaults: eps 1e-5, momentum 0.1 (keeping 0.9 of the old value).
    return BatchNormalization(epsilon=1e-5, momentum=0.9, name=name)


def _conv(filters: int, kernel_size: int, strides: int, name: str) -> Conv2D:
    # No bias: the BatchNormalization after it subtracts the mean, and its beta is the bias.
    padding = "valid" if kernel_size == 1 else "same"
    return Conv2D(filters, kernel_size, strides=strides, padding=padding, use_bias=False, name=name)


class _ResidualBlock(Model):
    """What both blocks share: arguments, the shortcut, the final addition, shape arithmetic.

    Subclasses write ``_make_layers`` (create the layers of F, and ``relu``) and ``_main_path``
    (list them in the order ``call`` applies them).
    """

    trains_in_shares = True  # its call applies only its layers (Layer.trains_in_shares)

    expansion: ClassVar[int] = 1
    _config_keys = ("filters", "strides")

    def __init__(
        self,
        filters: int,
        strides: int = 1,
        downsample: bool = False,
        *,
        name: str | None = None,
        trainable: bool = True,
    ) -> None:
        super().__init__(name=name, trainable=trainable)
        where = type(self).__name__
        self.filters = check_positive_int(where, "filters", filters)
        self.strides = check_positive_int(where, "strides", strides)
        downsample = check_bool(where, "downsample", downsample)
        self._make_layers()
        # The shortcut: the identity, or a 1×1 convolution + BN that matches F(x)'s shape.
        self.downsample: list[Layer] = []
        if downsample:
            self.downsample = [
                _conv(self.filters * self.expansion, 1, self.strides, f"{self.name}_downsample"),
                _bn(f"{self.name}_downsample_bn"),
            ]
        self.add = Add(name=f"{self.name}_add")
        self.input_spec = InputSpec(ndim=4, layout=_IMAGES)

    def _make_layers(self) -> None:
        raise NotImplementedError

    def _main_path(self) -> list[Layer]:
        raise NotImplementedError

    def call(self, x: Tensor, training: bool = False) -> Tensor:
        identity = x
        for layer in self.downsample:
            identity = layer(identity, training=training)
        out = x
        for layer in self._main_path():
            out = layer(out, training=training)
        return self.relu(self.add([out, identity]))

    def build(self, input_shape: Shape) -> None:
        channels, out = input_shape[-1], self.filters * self.expansion
        if not self.downsample and (self.strides != 1 or channels != out):
            raise ValueError(
                f"{self._where}: the identity shortcut cannot carry input shape {input_shape} to "
                f"the block's output ({out} channels, strides={self.strides}). Pass "
                f"downsample=True to add a 1×1 convolution on the shortcut."
            )
        # Shape arithmetic only: no data flows, so even ResNet-152 builds in a moment.
        main = build_chain(self._main_path(), input_shape)
        shortcut = build_chain(self.downsample, input_shape)
        self.add.build([main, shortcut])
        self.input_spec = InputSpec(ndim=4, axes={-1: channels}, layout=_IMAGES)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        shape = self._check_input_shape(input_shape)
        return chain_shape(self._main_path(), shape)

    def get_config(self) -> dict[str, Any]:
        return super().get_config() | {"downsample": bool(self.downsample)}


class BasicBlock(_ResidualBlock):
    """The residual block of ResNet-18 and -34: two 3×3 convolutions and a shortcut,
    ``relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x))``.

    Args:
        filters: the channels of both convolutions, and of the output.
        strides: the stride of the first convolution (2 halves height and width).
        downsample: put a 1×1 convolution (with ``strides``) and a BatchNormalization on the
            shortcut; needed when the block changes the shape (strides > 1, or input channels
            other than ``filters``), since ``x`` and ``F(x)`` must have the same shape to add.

    Shape:
        Input: ``(batch, height, width, channels)``.
        Output: ``(batch, ceil(height / strides), ceil(width / strides), filters)``.
    """

    expansion = 1

    def _make_layers(self) -> None:
        self.conv1 = _conv(self.filters, 3, self.strides, f"{self.name}_conv1")
        self.bn1 = _bn(f"{self.name}_bn1")
        self.relu = ReLU(name=f"{self.name}_relu")
        self.conv2 = _conv(self.filters, 3, 1, f"{self.name}_conv2")
        self.bn2 = _bn(f"{self.name}_bn2")

    def _main_path(self) -> list[Layer]:
        return [self.conv1, self.bn1, self.relu, self.conv2, self.bn2]


class Bottleneck(_ResidualBlock):
    """The residual block of ResNet-50, -101 and -152: a 1×1 convolution narrows the channels to
    ``filters``, a 3×3 convolution works at that width, and a 1×1 convolution widens them to
    ``4 · filters``; cheaper than two 3×3 convolutions at full width.

    ``relu(bn3(conv3(relu(bn2(conv2(relu(bn1(conv1(x)))))))) + shortcut(x))``, with the stride on
    the 3×3 convolution (torchvision's "ResNet v1.5"; the 2015 paper strides the first 1×1).

    Args:
        filters: the channels of the two inner convolutions; the output has 4 · filters.
        strides: the stride of the 3×3 convolution (2 halves height and width).
        downsample: put a 1×1 convolution (with ``strides``) and a BatchNormalization on the
            shortcut; needed when the block changes the shape.

    Shape:
        Input: ``(batch, height, width, channels)``.
        Output: ``(batch, ceil(height / strides), ceil(width / strides), 4 · filters)``.
    """

    expansion = 4

    def _make_layers(self) -> None:
        self.conv1 = _conv(self.filters, 1, 1, f"{self.name}_conv1")
        self.bn1 = _bn(f"{self.name}_bn1")
        self.conv2 = _conv(self.filters, 3, self.strides, f"{self.name}_conv2")
        self.bn2 = _bn(f"{self.name}_bn2")
        self.conv3 = _conv(self.filters * self.expansion, 1, 1, f"{self.name}_conv3")
        self.bn3 = _bn(f"{self.name}_bn3")
        self.relu = ReLU(name=f"{self.name}_relu")

    def _main_path(self) -> list[Layer]:
        return [
            self.conv1,
            self.bn1,
            self.relu,
            self.conv2,
            self.bn2,
            self.relu,
            self.conv3,
            self.bn3,
        ]


_DOC = """{summary}

    Args:
        input_shape: ``(height, width, channels)`` of one image. Any size works: every
            downsampling step uses "same" padding, so 32×32 (CIFAR) images shrink to 1×1
            rather than to nothing.
        {args}

    Returns:
        A built ``Sequential``: the stem ``conv1``, ``bn1``, ``relu``, ``maxpool``; blocks
        ``layer1_0``, ``layer1_1``, ... (torchvision's ``layer1.0``, ...); ``avg_pool`` and
        ``predictions``.

    Shape:
        Input: ``(batch, *input_shape)``. Output: ``(batch, classes)``; without the top,
        ``(batch, {c})``, or ``(batch, ceil(H / 32), ceil(W / 32), {c})`` with pooling=None.
    """


def _resnet(
    where: str, block: type[_ResidualBlock], repeats: tuple[int, int, int, int], summary: str
) -> Callable[..., Sequential]:
    """The constructor of a ResNet of ``repeats`` ``block`` blocks in its four stages."""

    def features() -> list[Layer]:
        # The stem: 7×7/2 convolution and 3×3/2 max-pool, a quarter of the size each way.
        stack: list[Layer] = [
            _conv(64, 7, 2, "conv1"),
            _bn("bn1"),
            ReLU(name="relu"),
            MaxPooling2D(3, strides=2, padding="same", name="maxpool"),
        ]
        channels = 64
        for stage, (filters, count) in enumerate(zip((64, 128, 256, 512), repeats, strict=True), 1):
            for index in range(count):
                strides = 2 if stage > 1 and index == 0 else 1
                downsample = strides != 1 or channels != filters * block.expansion
                stack.append(block(filters, strides, downsample, name=f"layer{stage}_{index}"))
                channels = filters * block.expansion
        return stack

    doc = _DOC.format(summary=summary, args=ARGS, c=512 * block.expansion)
    return image_classifier(where, features, lambda: [GlobalAveragePooling2D(name="avg_pool")], doc)


ResNet18 = _resnet(
    "ResNet18",
    BasicBlock,
    (2, 2, 2, 2),
    """ResNet-18: eight BasicBlocks of two 3×3 convolutions with skip connections (11,689,512
    trainable parameters at 224×224×3 with 1000 classes).

    He et al. (2015) won ImageNet by adding each block's input to its output, ``relu(F(x) + x)``:
    the gradient flows straight back through the additions, so depth stops hurting training.
    ResNet-18 is the small member of the family, quick to train on CIFAR-sized images.""",
)
ResNet34 = _resnet(
    "ResNet34",
    BasicBlock,
    (3, 4, 6, 3),
    """ResNet-34: 16 BasicBlocks with skip connections (21,797,672 trainable parameters at
    224×224×3 with 1000 classes).

    The 34-layer network of He et al. (2015), where the residual version beat its plain twin
    that the extra depth had made worse.""",
)
ResNet50 = _resnet(
    "ResNet50",
    Bottleneck,
    (3, 4, 6, 3),
    """ResNet-50: 16 Bottleneck blocks (1×1, 3×3, 1×1 convolutions) with skip connections
    (25,557,032 trainable parameters at 224×224×3 with 1000 classes).

    The workhorse of He et al. (2015): bottlenecks make a 50-layer network cost about as much
    as ResNet-34, and it remains the standard backbone for transfer learning.""",
)
ResNet101 = _resnet(
    "ResNet101",
    Bottleneck,
    (3, 4, 23, 3),
    """ResNet-101: 33 Bottleneck blocks with skip connections (44,549,160 trainable parameters
    at 224×224×3 with 1000 classes).

    He et al. (2015) showed accuracy kept improving with depth once the skip connections let
    the gradient reach every layer; ResNet-101 adds 17 blocks to ResNet-50's third stage.""",
)
ResNet152 = _resnet(
    "ResNet152",
    Bottleneck,
    (3, 8, 36, 3),
    """ResNet-152: 50 Bottleneck blocks with skip connections (60,192,808 trainable parameters
    at 224×224×3 with 1000 classes).

    The deepest network of He et al.'s 2015 ImageNet win: the skip connections carry the
    gradient back through all 152 layers, where a plain stack that deep barely trains.""",
)
