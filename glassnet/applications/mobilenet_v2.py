"""MobileNetV2 (Sandler, Howard, Zhu, Zhmoginov and Chen, 2018): an image classifier for phones.

Its building block is the *inverted residual*: a 1×1 convolution widens the channels six times,
a 3×3 *depthwise* convolution filters each channel on its own (a ninth of the cost of a full
3×3 convolution per channel pair), and a 1×1 convolution projects back down to a narrow
bottleneck, with no activation after it (a ReLU there would throw information away in so few
channels). When the block keeps the shape, its input is added to its output, as in ResNet, but
between the narrow ends rather than the wide middle. ``alpha`` scales every width.

The layout, the layer names and the padding are Keras's exactly (``keras.applications.
MobileNetV2``), written with the functional API: at 224×224×3 with 1000 classes and
``alpha=1.0`` it has 3,538,984 parameters, 3,504,872 of them trainable (the rest are
BatchNormalization's moving statistics), Keras's published count.
"""

from __future__ import annotations

from typing import Any

from glassnet.applications._common import check_classes, check_image_shape, check_pooling
from glassnet.checks import check_bool, check_number
from glassnet.layers import (
    Add,
    BatchNormalization,
    Conv2D,
    Dense,
    DepthwiseConv2D,
    GlobalAveragePooling2D,
    GlobalMaxPooling2D,
    Input,
    ReLU,
    ZeroPadding2D,
)
from glassnet.layers.node import KerasTensor
from glassnet.models import Model

__all__ = ["MobileNetV2"]

#: (filters, stride, expansion) of blocks 0 to 16, Keras's table.
_BLOCKS = (
    (16, 1, 1),
    (24, 2, 6),
    (24, 1, 6),
    (32, 2, 6),
    (32, 1, 6),
    (32, 1, 6),
    (64, 2, 6),
    (64, 1, 6),
    (64, 1, 6),
    (64, 1, 6),
    (96, 1, 6),
    (96, 1, 6),
    (96, 1, 6),
    (160, 2, 6),
    (160, 1, 6),
    (160, 1, 6),
    (320, 1, 6),
)


def _make_divisible(value: float, divisor: int = 8, min_value: int | None = None) -> int:
    """``value`` rounded to the nearest multiple of ``divisor`` (at least ``min_value``), but
    never more than 10% below it: Keras's (and the paper's) rule for channel counts."""
    if min_value is None:
        min_value = divisor
    rounded = max(min_value, int(value + divisor / 2) // divisor * divisor)
    if rounded < 0.9 * value:
        rounded += divisor
    return rounded


def _correct_pad(size: tuple[int | None, int | None], kernel: int = 3) -> tuple:
    """Keras's ``imagenet_utils.correct_pad``: the zero padding before a stride-2 "valid"
    convolution, one pixel less on the top (left) when the height (width) is even."""
    adjust = (1, 1) if size[0] is None else (1 - size[0] % 2, 1 - size[1] % 2)
    half = kernel // 2
    return ((half - adjust[0], half), (half - adjust[1], half))


def _bn(name: str) -> BatchNormalization:
    return BatchNormalization(epsilon=1e-3, momentum=0.999, name=name)


def _inverted_res_block(
    x: KerasTensor, expansion: int, stride: int, alpha: float, filters: int, block_id: int
) -> KerasTensor:
    """One inverted residual block, Keras's ``_inverted_res_block``: expand (1×1), depthwise
    (3×3), project (1×1), and the skip addition when the shape is kept."""
    inputs = x
    in_channels = int(x.shape[-1])
    pointwise_filters = _make_divisible(int(filters * alpha), 8)
    prefix = f"block_{block_id}_"
    if block_id:
        x = Conv2D(
            expansion * in_channels, 1, padding="same", use_bias=False, name=f"{prefix}expand"
        )(x)
        x = _bn(f"{prefix}expand_BN")(x)
        x = ReLU(6.0, name=f"{prefix}expand_relu")(x)
    else:
        prefix = "expanded_conv_"
    if stride == 2:
        x = ZeroPadding2D(_correct_pad(x.shape[1:3]), name=f"{prefix}pad")(x)
    x = DepthwiseConv2D(
        3,
        strides=stride,
        use_bias=False,
        padding="same" if stride == 1 else "valid",
        name=f"{prefix}depthwise",
    )(x)
    x = _bn(f"{prefix}depthwise_BN")(x)
    x = ReLU(6.0, name=f"{prefix}depthwise_relu")(x)
    x = Conv2D(pointwise_filters, 1, padding="same", use_bias=False, name=f"{prefix}project")(x)
    x = _bn(f"{prefix}project_BN")(x)
    if in_channels == pointwise_filters and stride == 1:
        return Add(name=f"{prefix}add")([inputs, x])
    return x


def _input_shape(input_shape: Any, include_top: bool) -> tuple[int | None, int | None, int]:
    where = "MobileNetV2"
    if input_shape is None:
        # Keras's default: 224×224×3 with the classifier, any size without it.
        return (224, 224, 3) if include_top else (None, None, 3)
    shape = check_image_shape(where, input_shape)
    if any(d is not None and d < 32 for d in shape[:2]):
        raise ValueError(
            f"{where}: input_shape {shape} is too small; MobileNetV2 halves the image five "
            f"times and needs images of at least 32×32 pixels (Keras's minimum)."
        )
    return shape


def MobileNetV2(
    input_shape: tuple[int | None, int | None, int] | None = None,
    alpha: float = 1.0,
    include_top: bool = True,
    weights: str | None = None,
    classes: int = 1000,
    classifier_activation: Any = "softmax",
    pooling: str | None = None,
    name: str | None = None,
) -> Model:
    """MobileNetV2: 17 inverted residual blocks of depthwise convolutions, Keras's layout
    (3,538,984 parameters at 224×224×3 with 1000 classes and ``alpha=1.0``).

    Sandler et al. (2018) made a network small and fast enough for a phone: each block widens
    its channels with a 1×1 convolution, filters them one channel at a time with a 3×3
    depthwise convolution, and projects them back down, adding the block's input when the
    shape is kept. Layer names are Keras's (``Conv1``, ``block_1_expand``, ``block_1_pad``,
    ``block_1_depthwise``, ..., ``Conv_1``, ``predictions``), so a Keras user finds them.

    Args:
        input_shape: ``(height, width, channels)`` of one image, at least 32×32. None gives
            224×224×3 with the classifier and ``(None, None, 3)`` (any size) without it.
        alpha: the width multiplier: every layer gets ``alpha`` times its channels, rounded to
            a multiple of 8 (0.35, 0.5, 0.75, 1.0, 1.3 and 1.4 are the paper's values).
        include_top: False drops the classifier and ends with ``pooling``, to use the network
            as a feature extractor (transfer learning).
        weights: must be None (random initialization); glassnet downloads no pretrained
            weights. Load your own with ``model.load_weights(path)``.
        classes: the number of categories (the size of the last layer).
        classifier_activation: the last layer's activation, "softmax" by default; None gives
            raw scores (logits).
        pooling: with ``include_top=False``, None for the last 4-D feature map (Keras's
            default), "avg" or "max" for a global pool. Ignored with ``include_top=True``.
        name: the model's name; by default Keras's ``mobilenetv2_{alpha:.2f}_{height}`` with
            ``_`` for the dot (``mobilenetv2_1_00_224``).

    Returns:
        A built functional ``Model``.

    Shape:
        Input: ``(batch, *input_shape)``. Output: ``(batch, classes)``; without the top,
        ``(batch, H/32, W/32, 1280)`` (rounded up), or ``(batch, 1280)`` with a pooling
        (``1280 · alpha`` rounded to a multiple of 8 when ``alpha > 1``).
    """
    where = "MobileNetV2"
    if weights is not None:
        raise ValueError(
            f"{where}: glassnet includes no pretrained weights and downloads nothing; pass "
            f"weights=None (random initialization). Received: weights={weights!r}. To use "
            f"weights of your own, build the model with weights=None, then call "
            f"model.load_weights(path) on a file saved by model.save_weights(path)."
        )
    include_top = check_bool(where, "include_top", include_top)
    alpha = check_number(where, "alpha", alpha, 0.0, low_open=True)
    pooling = check_pooling(where, pooling)
    if include_top:
        classes = check_classes(where, classes)
    shape = _input_shape(input_shape, include_top)
    if name is None:
        # Keras's name, with "_" for "." (a dot would split state-dict keys).
        rows = shape[0] if shape[0] is not None else 224
        name = f"mobilenetv2_{alpha:0.2f}_{rows}".replace(".", "_")

    inputs = Input(shape)
    first_filters = _make_divisible(32 * alpha, 8)
    x = Conv2D(first_filters, 3, strides=2, padding="same", use_bias=False, name="Conv1")(inputs)
    x = _bn("bn_Conv1")(x)
    x = ReLU(6.0, name="Conv1_relu")(x)
    for block_id, (filters, stride, expansion) in enumerate(_BLOCKS):
        x = _inverted_res_block(x, expansion, stride, alpha, filters, block_id)
    last_filters = _make_divisible(1280 * alpha, 8) if alpha > 1.0 else 1280
    x = Conv2D(last_filters, 1, use_bias=False, name="Conv_1")(x)
    x = _bn("Conv_1_bn")(x)
    x = ReLU(6.0, name="out_relu")(x)
    if include_top:
        x = GlobalAveragePooling2D(name="global_average_pooling2d")(x)
        x = Dense(classes, activation=classifier_activation, name="predictions")(x)
    elif pooling == "avg":
        x = GlobalAveragePooling2D(name="global_average_pooling2d")(x)
    elif pooling == "max":
        x = GlobalMaxPooling2D(name="global_max_pooling2d")(x)
    return Model(inputs, x, name=name)
