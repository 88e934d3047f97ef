"""ONNX export: ``export(model, "cats.onnx")`` writes a glassnet model as an ONNX graph that
onnxruntime (or any ONNX runtime) can run without glassnet.

How it works (onnx_chainer's design): a registry of converters keyed by layer class. Each
converter receives the layer and the ONNX value feeding it, and emits ONNX nodes and
initializers (weights) with ``onnx.helper`` and ``onnx.numpy_helper``. Container models
(``Sequential`` and the blocks of ``glassnet.applications``) have converters that walk their
sub-layers in the order and wiring of their ``call``.

Layout: glassnet is channels-last (N, H, W, C); ONNX ``Conv``/``MaxPool``/``BatchNormalization``
are channels-first (N, C, H, W). The graph's input stays NHWC, exactly what ``model.predict``
takes; each value remembers its layout, and a ``Transpose`` is inserted only where a layer needs
the other one (once after the input, once before ``Flatten``/``Dense`` so the flattened feature
order is glassnet's and the Dense weights stay right). Kernels become (out, in, kh, kw).
"same" padding is TensorFlow's (the odd pixel bottom/right), so it is written as explicit
``pads`` computed from the known image size; only the batch axis is symbolic (``"N"``).
"""

from __future__ import annotations

import inspect
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from glassnet import activations
from glassnet.applications import BasicBlock, BasicConv2D, Bottleneck, Inception
from glassnet.layers import (
    ELU,
    Activation,
    ActivityRegularization,
    Add,
    Average,
    AveragePooling1D,
    AveragePooling2D,
    AveragePooling3D,
    BatchNormalization,
    Concatenate,
    Conv1D,
    Conv1DTranspose,
    Conv2D,
    Conv2DTranspose,
    Conv3D,
    Cropping1D,
    Cropping2D,
    Cropping3D,
    Dense,
    DepthwiseConv1D,
    DepthwiseConv2D,
    Dot,
    Dropout,
    Flatten,
    GaussianDropout,
    GaussianNoise,
    GlobalAveragePooling1D,
    GlobalAveragePooling2D,
    GlobalAveragePooling3D,
    GlobalMaxPooling1D,
    GlobalMaxPooling2D,
    GlobalMaxPooling3D,
    GroupNormalization,
    InputLayer,
    LayerNormalization,
    LeakyReLU,
    Maximum,
    MaxPooling1D,
    MaxPooling2D,
    MaxPooling3D,
    Minimum,
    Multiply,
    Permute,
    PReLU,
    RandomBrightness,
    RandomContrast,
    RandomCrop,
    RandomFlip,
    RandomResizedCrop,
    RandomRotation,
    RandomTranslation,
    RandomZoom,
    ReLU,
    RepeatVector,
    Rescaling,
    Reshape,
    SeparableConv1D,
    SeparableConv2D,
    Softmax,
    SpatialDropout2D,
    Subtract,
    UnitNormalization,
    UpSampling1D,
    UpSampling2D,
    UpSampling3D,
    ZeroPadding1D,
    ZeroPadding2D,
    ZeroPadding3D,
)
from glassnet.layers.layer import Layer
from glassnet.layers.lookup import TextVectorization
from glassnet.layers.preprocessing import (
    CenterCrop,
    Normalization,
    Resizing,
    _centred_window,
)
from glassnet.models import Functional, Model, Sequential
from glassnet.ops.activation import SELU_ALPHA, SELU_SCALE
from glassnet.ops.conv import conv1d_pads, resolve_padding
from glassnet.ops.conv_transpose import conv_transpose_crop

__all__ = ["DEFAULT_OPSET", "export", "register_converter", "supported_layers"]

#: The ONNX opset written by default (ONNX 1.12+, onnxruntime 1.12+ run it).
DEFAULT_OPSET = 17
#: The opset of a model holding a TextVectorization (StringSplit, StringConcat: ONNX 1.15+).
TEXT_OPSET = 20

NHWC, NCHW = "nhwc", "nchw"
#: The ranks of the images (N, H, W, C) and volumes (N, D, H, W, C) held channels-first.
_SPATIAL_RANKS = (4, 5)


def _to_first(ndim: int) -> list[int]:
    """The Transpose perm from channels-last to channels-first: [0, 3, 1, 2] for an image,
    [0, 4, 1, 2, 3] for a volume. Glassnet's axis a is ONNX axis ``_to_first(ndim).index(a)``."""
    return [0, ndim - 1, *range(1, ndim - 1)]


def _to_last(ndim: int) -> list[int]:
    """The Transpose perm from channels-first back to channels-last: [0, 2, 3, 1], ..."""
    return [0, *range(2, ndim), 1]


def _onnx() -> Any:
    try:
        import onnx
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError(
            "ONNX export needs the 'onnx' package: pip install 'glassnet[onnx]' (or pip install "
            "onnx onnxruntime)."
        ) from err
    return onnx


@dataclass(frozen=True)
class Value:
    """One ONNX tensor: its name, its glassnet shape (channels-last, batch None) and the layout
    it has in the ONNX graph (``"nhwc"``: glassnet's own axis order; ``"nchw"``: a 4-D image
    or a 5-D volume transposed to channels-first). ``mask``: the name of a bool (batch, steps)
    padding mask riding with a sequence (``Embedding(mask_zero=True)``), as ``_keras_mask``
    rides with a Tensor, or None. ``dtype``: "float32", or "int64"/"string" for the ids and
    tokens of the vocabulary layers (``onnx_text``)."""

    name: str
    shape: tuple[int | None, ...]
    layout: str = NHWC
    mask: str | None = None
    dtype: str = "float32"


class Graph:
    """What the converters write into: nodes, initializers and fresh names."""

    def __init__(self, opset: int = DEFAULT_OPSET) -> None:
        self.onnx = _onnx()
        # The version written: newer ops where it has them (Mish, opset 18), and reductions
        # take their axes as an input from opset 18.
        self.opset = opset
        self.nodes: list[Any] = []
        self.initializers: list[Any] = []
        self._names: dict[str, int] = {}
        self._used: set[str] = set()
        self._transposed: dict[tuple[str, str], Value] = {}

    def name(self, hint: str) -> str:
        """A unique tensor/node name starting with ``hint`` (unique also where a layer's own
        name looks numbered: "norm_1" is never both the second "norm" and a layer "norm_1")."""
        n = self._names.get(hint, 0)
        name = hint if n == 0 else f"{hint}_{n}"
        while name in self._used:
            n += 1
            name = f"{hint}_{n}"
        self._names[hint] = n + 1
        self._used.add(name)
        return name

    def weight(self, hint: str, array: Any) -> str:
        """Add an initializer (float32 unless integer) and return its name."""
        array = np.asarray(array)
        if array.dtype.kind == "f":
            array = array.astype(np.float32)
        name = self.name(hint)
        self.initializers.append(self.onnx.numpy_helper.from_array(array, name))
        return name

    def node(self, op: str, inputs: list[str], hint: str, **attrs: Any) -> str:
        """Add one node with one output and return the output's name."""
        out = self.name(hint)
        self.nodes.append(
            self.onnx.helper.make_node(op, inputs, [out], name=self.name(f"{hint}/{op}"), **attrs)
        )
        return out

    def layout(self, value: Value, layout: str) -> Value:
        """``value`` in ``layout``: a Transpose when an image (4-D) or a volume (5-D) value has
        the other one (cached, so a value is transposed at most once each way)."""
        ndim = len(value.shape)
        if ndim not in _SPATIAL_RANKS or value.layout == layout:
            return value
        key = (value.name, layout)
        if key not in self._transposed:
            perm = _to_first(ndim) if layout == NCHW else _to_last(ndim)
            out = self.node("Transpose", [value.name], f"{value.name}_{layout}", perm=perm)
            self._transposed[key] = Value(out, value.shape, layout)
        return self._transposed[key]


Converter = Callable[[Graph, Any, Any], Value]
_CONVERTERS: dict[type, Converter] = {}


def register_converter(*classes: type) -> Callable[[Converter], Converter]:
    """Register ``fn(graph, layer, value) -> Value`` as the ONNX converter of ``classes``
    (exact classes: a subclass with its own ``call`` needs its own converter)."""

    def decorate(fn: Converter) -> Converter:
        for cls in classes:
            _CONVERTERS[cls] = fn
        return fn

    return decorate


def supported_layers() -> list[str]:
    """The class names the exporter can convert, sorted."""
    return sorted({cls.__name__ for cls in _CONVERTERS})


def convert_layer(
    graph: Graph, layer: Layer, value: Any, flags: dict[str, Any] | None = None
) -> Value:
    """Emit ``layer`` applied to ``value`` (a Value, or a list for Add/Concatenate); ``flags``:
    the constant keyword arguments of its call (``use_causal_mask``), given to converters that
    take them. A layer with ``supports_masking`` passes its first input's mask on, as it does
    on Tensors."""
    fn = _CONVERTERS.get(type(layer))
    if fn is None:
        kind = type(layer).__name__
        extra = (
            " A Model subclass with its own call() cannot be traced; build the network from "
            "Sequential and the supported layers and blocks, or register a converter with "
            "glassnet.export.onnx.register_converter."
            if isinstance(layer, Model)
            else ""
        )
        raise ValueError(
            f"ONNX export: layer '{layer.name}' ({kind}) is not supported; supported: "
            f"{', '.join(supported_layers())}.{extra}"
        )
    out = fn(graph, layer, value, **flags) if flags else fn(graph, layer, value)
    if getattr(layer, "supports_masking", False) and isinstance(out, Value) and out.mask is None:
        first = value[0] if isinstance(value, list) else value
        if isinstance(first, Value) and first.mask is not None and len(out.shape) >= 2:
            out = replace(out, mask=first.mask)
    return out


def _out_shape(layer: Layer, value: Value) -> tuple[int | None, ...]:
    return tuple(layer.compute_output_shape(value.shape))


def _pads(value: Value, kernel: Any, strides: Any, padding: str, dilation: Any) -> list[int]:
    """ONNX's [top, left, bottom, right] for a window over the image ``value`` (a volume's
    [front, top, left, back, bottom, right]): every axis's begin, then every axis's end."""
    pads = resolve_padding(value.shape[1:-1], kernel, strides, padding, dilation)
    return [before for before, _ in pads] + [after for _, after in pads]


# --------------------------------------------------------------------------- activations
def _activation(graph: Graph, fn: Any, value: Value, hint: str) -> Value:
    """Apply an activation function (by its registered name) to ``value``."""
    try:
        name = activations.serialize(fn)
    except (TypeError, ValueError):
        name = getattr(fn, "__name__", repr(fn))
    simple = {
        "relu": "Relu",
        "sigmoid": "Sigmoid",
        "tanh": "Tanh",
        "elu": "Elu",  # alpha 1.0 is ONNX's default too
        "softplus": "Softplus",
        "softsign": "Softsign",
        "hard_silu": "HardSwish",  # x·max(0, min(1, x/6 + 1/2)): Keras 3's hard SiLU
        "exponential": "Exp",
    }
    if name == "linear":
        return value
    if name in simple:
        return Value(graph.node(simple[name], [value.name], hint), value.shape, value.layout)
    if name in ("softmax", "log_softmax"):
        value = graph.layout(value, NHWC)
        op = "Softmax" if name == "softmax" else "LogSoftmax"
        return Value(graph.node(op, [value.name], hint, axis=-1), value.shape, NHWC)
    if name == "leaky_relu":  # ops.leaky_relu's default slope
        out = graph.node("LeakyRelu", [value.name], hint, alpha=0.2)
        return Value(out, value.shape, value.layout)
    if name == "gelu":  # exact: x · (1 + erf(x / √2)) / 2
        scaled = graph.node("Mul", [value.name, graph.weight("rsqrt2", np.float32(0.5**0.5))], hint)
        erf = graph.node("Erf", [scaled], hint)
        one = graph.node("Add", [erf, graph.weight("one", np.float32(1.0))], hint)
        half = graph.node("Mul", [one, graph.weight("half", np.float32(0.5))], hint)
        return Value(graph.node("Mul", [value.name, half], hint), value.shape, value.layout)
    if name in ("silu", "mish"):  # x · Sigmoid(x); x · Tanh(Softplus(x)) before opset 18
        if name == "mish" and graph.opset >= 18:
            return Value(graph.node("Mish", [value.name], hint), value.shape, value.layout)
        if name == "silu":
            gate = graph.node("Sigmoid", [value.name], hint)
        else:
            gate = graph.node("Tanh", [graph.node("Softplus", [value.name], hint)], hint)
        return Value(graph.node("Mul", [value.name, gate], hint), value.shape, value.layout)
    if name == "selu":  # Keras's constants (ONNX's defaults are the same, rounded to float32)
        out = graph.node("Selu", [value.name], hint, alpha=SELU_ALPHA, gamma=SELU_SCALE)
        return Value(out, value.shape, value.layout)
    if name == "hard_sigmoid":  # Keras 3's clip(x/6 + 1/2, 0, 1), not ONNX's default 0.2·x
        out = graph.node("HardSigmoid", [value.name], hint, alpha=1 / 6, beta=0.5)
        return Value(out, value.shape, value.layout)
    if name == "relu6":
        low, high = graph.weight("zero", np.float32(0.0)), graph.weight("six", np.float32(6.0))
        out = graph.node("Clip", [value.name, low, high], hint)
        return Value(out, value.shape, value.layout)
    raise ValueError(f"ONNX export: activation {name!r} is not supported.")


# --------------------------------------------------------------------------- layers
@register_converter(InputLayer, Dropout, ActivityRegularization)
@register_converter(RandomFlip, RandomRotation, RandomTranslation, RandomZoom)
@register_converter(RandomBrightness, RandomContrast, RandomResizedCrop)
@register_converter(SpatialDropout2D, GaussianNoise, GaussianDropout)
def _identity(graph: Graph, layer: Layer, value: Value) -> Value:
    """Nothing to do at inference: Input, the dropouts, the noise and augmentation layers."""
    return value


@register_converter(RandomCrop)
def _random_crop(graph: Graph, layer: RandomCrop, value: Value) -> Value:
    """At inference RandomCrop cuts the centre window: a Slice of height and width."""
    _, h, w, _ = value.shape
    if (h, w) == (layer.height, layer.width):
        return value
    if h is None or w is None or h < layer.height or w < layer.width:
        raise ValueError(
            f"ONNX export: layer '{layer.name}' (RandomCrop) needs a known input at least "
            f"{layer.height}×{layer.width}; received shape {value.shape} (the resize fallback "
            f"is not exported)."
        )
    top, left = (h - layer.height) // 2, (w - layer.width) // 2
    axes = [1, 2] if value.layout == NHWC else [2, 3]
    inputs = [
        value.name,
        graph.weight(f"{layer.name}_starts", np.array([top, left], np.int64)),
        graph.weight(f"{layer.name}_ends", np.array([top + layer.height, left + layer.width])),
        graph.weight(f"{layer.name}_axes", np.array(axes, np.int64)),
    ]
    out = graph.node("Slice", inputs, layer.name)
    return Value(out, _out_shape(layer, value), value.layout)


@register_converter(Dense)
def _dense(graph: Graph, layer: Dense, value: Value) -> Value:
    """x · kernel + bias: Gemm for 2-D inputs, MatMul (+ Add) for more axes."""
    value = graph.layout(value, NHWC)
    kernel = graph.weight(f"{layer.name}_kernel", layer.kernel.data)
    inputs = [value.name, kernel]
    if layer.bias is not None:
        inputs.append(graph.weight(f"{layer.name}_bias", layer.bias.data))
    if len(value.shape) == 2:
        out = graph.node("Gemm", inputs, layer.name)
    else:
        out = graph.node("MatMul", inputs[:2], layer.name)
        if layer.bias is not None:
            out = graph.node("Add", [out, inputs[2]], layer.name)
    result = Value(out, _out_shape(layer, value), NHWC)
    return _activation(graph, layer.activation, result, f"{layer.name}_act")


@register_converter(Conv2D, Conv3D)
def _conv2d(graph: Graph, layer: Any, value: Value) -> Value:
    """Conv with the kernel as (out, in, kh, kw) — (out, in, kd, kh, kw) for Conv3D — and
    explicit (TensorFlow "same") pads."""
    value = graph.layout(value, NCHW)
    pads = _pads(value, layer.kernel_size, layer.strides, layer.padding, layer.dilation_rate)
    rank = layer.rank
    kernel = np.transpose(np.asarray(layer.kernel.data), (rank + 1, rank, *range(rank)))
    inputs = [value.name, graph.weight(f"{layer.name}_kernel", kernel)]
    if layer.bias is not None:
        inputs.append(graph.weight(f"{layer.name}_bias", layer.bias.data))
    out = graph.node(
        "Conv",
        inputs,
        layer.name,
        kernel_shape=list(layer.kernel_size),
        strides=list(layer.strides),
        dilations=list(layer.dilation_rate),
        pads=pads,
    )
    result = Value(out, _out_shape(layer, value), NCHW)
    return _activation(graph, layer.activation, result, f"{layer.name}_act")


@register_converter(Conv1D)
def _conv1d(graph: Graph, layer: Conv1D, value: Value) -> Value:
    """A 1-D Conv (kernel (out, in, k)) between two Transposes: ONNX's sequences are (N, C, L),
    glassnet's (N, L, C); "same" and "causal" become explicit [left, right] pads."""
    k, s, d = layer.kernel_size[0], layer.strides[0], layer.dilation_rate[0]
    pads = list(conv1d_pads(value.shape[1], k, s, layer.padding, d))
    ncl = graph.node("Transpose", [value.name], f"{layer.name}_ncl", perm=[0, 2, 1])
    kernel = np.transpose(np.asarray(layer.kernel.data), (2, 1, 0))
    inputs = [ncl, graph.weight(f"{layer.name}_kernel", kernel)]
    if layer.bias is not None:
        inputs.append(graph.weight(f"{layer.name}_bias", layer.bias.data))
    out = graph.node(
        "Conv", inputs, layer.name, kernel_shape=[k], strides=[s], dilations=[d], pads=pads
    )
    out = graph.node("Transpose", [out], f"{layer.name}_nlc", perm=[0, 2, 1])
    result = Value(out, _out_shape(layer, value), NHWC)
    return _activation(graph, layer.activation, result, f"{layer.name}_act")


@register_converter(Conv2DTranspose)
def _conv2d_transpose(graph: Graph, layer: Conv2DTranspose, value: Value) -> Value:
    """ConvTranspose with the kernel as (in, out, kh, kw). ONNX's output is the canvas less
    ``pads`` plus ``output_padding`` rows: Keras's crop at the start is the first pad, what
    the canvas has beyond the output the second, and rows past the canvas output_padding."""
    value = graph.layout(value, NCHW)
    shape = _out_shape(layer, value)
    begin, end, extra = [], [], []
    for a in (0, 1):
        size, k, s = value.shape[1 + a], layer.kernel_size[a], layer.strides[a]
        d = layer.dilation_rate[a]
        canvas = (size - 1) * s + (k - 1) * d + 1
        crop = conv_transpose_crop(size, shape[1 + a], k, s, layer.padding, d)
        begin.append(crop)
        end.append(max(0, canvas - crop - shape[1 + a]))
        extra.append(max(0, shape[1 + a] + crop - canvas))
    kernel = np.transpose(np.asarray(layer.kernel.data), (3, 2, 0, 1))
    inputs = [value.name, graph.weight(f"{layer.name}_kernel", kernel)]
    if layer.bias is not None:
        inputs.append(graph.weight(f"{layer.name}_bias", layer.bias.data))
    out = graph.node(
        "ConvTranspose",
        inputs,
        layer.name,
        kernel_shape=list(layer.kernel_size),
        strides=list(layer.strides),
        dilations=list(layer.dilation_rate),
        pads=begin + end,
        output_padding=extra,
    )
    result = Value(out, shape, NCHW)
    return _activation(graph, layer.activation, result, f"{layer.name}_act")


def _depthwise(graph: Graph, layer: Any, value: Value, kernel: Any, bias: Any, hint: str) -> str:
    """A Conv with group = channels: kernel (kh, kw, C, m) as (C·m, 1, kh, kw), output channel
    c·m + j as in Keras. ``value`` is NCHW."""
    kh, kw, c, m = kernel.shape
    weight = np.asarray(kernel).reshape(kh, kw, c * m).transpose(2, 0, 1)[:, None]
    inputs = [value.name, graph.weight(f"{hint}_kernel", weight)]
    if bias is not None:
        inputs.append(graph.weight(f"{hint}_bias", bias))
    return graph.node(
        "Conv",
        inputs,
        hint,
        kernel_shape=list(layer.kernel_size),
        strides=list(layer.strides),
        dilations=list(layer.dilation_rate),
        pads=_pads(value, layer.kernel_size, layer.strides, layer.padding, layer.dilation_rate),
        group=c,
    )


@register_converter(DepthwiseConv2D)
def _depthwise_conv2d(graph: Graph, layer: DepthwiseConv2D, value: Value) -> Value:
    value = graph.layout(value, NCHW)
    bias = None if layer.bias is None else layer.bias.data
    out = _depthwise(graph, layer, value, layer.kernel.data, bias, layer.name)
    result = Value(out, _out_shape(layer, value), NCHW)
    return _activation(graph, layer.activation, result, f"{layer.name}_act")


@register_converter(SeparableConv2D)
def _separable_conv2d(graph: Graph, layer: SeparableConv2D, value: Value) -> Value:
    """The depthwise Conv (group = channels), then a 1×1 Conv with the bias."""
    value = graph.layout(value, NCHW)
    hint = f"{layer.name}_depthwise"
    spatial = _depthwise(graph, layer, value, layer.depthwise_kernel.data, None, hint)
    kernel = np.transpose(np.asarray(layer.pointwise_kernel.data), (3, 2, 0, 1))
    inputs = [spatial, graph.weight(f"{layer.name}_pointwise_kernel", kernel)]
    if layer.bias is not None:
        inputs.append(graph.weight(f"{layer.name}_bias", layer.bias.data))
    out = graph.node("Conv", inputs, layer.name, kernel_shape=[1, 1])
    result = Value(out, _out_shape(layer, value), NCHW)
    return _activation(graph, layer.activation, result, f"{layer.name}_act")


def _in_sequence_order(
    graph: Graph, layer: Any, value: Value, convs: Callable[[str], str]
) -> Value:
    """Apply ``convs`` (ONNX (N, C, L) in, out) to glassnet's (N, L, C) ``value`` between two
    Transposes, then the layer's activation."""
    ncl = graph.node("Transpose", [value.name], f"{layer.name}_ncl", perm=[0, 2, 1])
    out = graph.node("Transpose", [convs(ncl)], f"{layer.name}_nlc", perm=[0, 2, 1])
    result = Value(out, _out_shape(layer, value), NHWC)
    return _activation(graph, layer.activation, result, f"{layer.name}_act")


def _depthwise1d(graph: Graph, layer: Any, value: Value, kernel: Any, bias: Any, hint: str) -> Any:
    """A 1-D Conv with group = channels: kernel (k, C, m) as (C·m, 1, k)."""
    k, c, m = kernel.shape
    s, d = layer.strides[0], layer.dilation_rate[0]
    pads = list(conv1d_pads(value.shape[1], k, s, layer.padding, d))
    weight = np.asarray(kernel).reshape(k, c * m).T[:, None]

    def conv(ncl: str) -> str:
        inputs = [ncl, graph.weight(f"{hint}_kernel", weight)]
        if bias is not None:
            inputs.append(graph.weight(f"{hint}_bias", bias))
        return graph.node(
            "Conv", inputs, hint, kernel_shape=[k], strides=[s], dilations=[d], pads=pads, group=c
        )

    return conv


@register_converter(DepthwiseConv1D)
def _depthwise_conv1d(graph: Graph, layer: DepthwiseConv1D, value: Value) -> Value:
    bias = None if layer.bias is None else layer.bias.data
    conv = _depthwise1d(graph, layer, value, layer.kernel.data, bias, layer.name)
    return _in_sequence_order(graph, layer, value, conv)


@register_converter(SeparableConv1D)
def _separable_conv1d(graph: Graph, layer: SeparableConv1D, value: Value) -> Value:
    """The depthwise 1-D Conv, then a 1-wide Conv with the bias."""
    depthwise = _depthwise1d(
        graph, layer, value, layer.depthwise_kernel.data, None, f"{layer.name}_depthwise"
    )

    def convs(ncl: str) -> str:
        kernel = np.transpose(np.asarray(layer.pointwise_kernel.data), (2, 1, 0))
        inputs = [depthwise(ncl), graph.weight(f"{layer.name}_pointwise_kernel", kernel)]
        if layer.bias is not None:
            inputs.append(graph.weight(f"{layer.name}_bias", layer.bias.data))
        return graph.node("Conv", inputs, layer.name, kernel_shape=[1])

    return _in_sequence_order(graph, layer, value, convs)


@register_converter(Conv1DTranspose)
def _conv1d_transpose(graph: Graph, layer: Conv1DTranspose, value: Value) -> Value:
    """A 1-D ConvTranspose (kernel (in, out, k)), pads and output_padding as Conv2DTranspose's."""
    size, k, s, d = value.shape[1], layer.kernel_size[0], layer.strides[0], layer.dilation_rate[0]
    out = _out_shape(layer, value)[1]
    canvas = (size - 1) * s + (k - 1) * d + 1
    crop = conv_transpose_crop(size, out, k, s, layer.padding, d)

    def conv(ncl: str) -> str:
        kernel = np.transpose(np.asarray(layer.kernel.data), (2, 1, 0))
        inputs = [ncl, graph.weight(f"{layer.name}_kernel", kernel)]
        if layer.bias is not None:
            inputs.append(graph.weight(f"{layer.name}_bias", layer.bias.data))
        return graph.node(
            "ConvTranspose",
            inputs,
            layer.name,
            kernel_shape=[k],
            strides=[s],
            dilations=[d],
            pads=[crop, max(0, canvas - crop - out)],
            output_padding=[max(0, out + crop - canvas)],
        )

    return _in_sequence_order(graph, layer, value, conv)


@register_converter(MaxPooling2D, AveragePooling2D, MaxPooling3D, AveragePooling3D)
def _pool2d(graph: Graph, layer: Any, value: Value) -> Value:
    """MaxPool (padding never wins: ONNX ignores padded cells) or AveragePool over the real
    cells only (``count_include_pad=0``, Keras's "same"), over images or volumes."""
    value = graph.layout(value, NCHW)
    average = isinstance(layer, (AveragePooling2D, AveragePooling3D))
    out = graph.node(
        "AveragePool" if average else "MaxPool",
        [value.name],
        layer.name,
        kernel_shape=list(layer.pool_size),
        strides=list(layer.strides),
        pads=_pads(value, layer.pool_size, layer.strides, layer.padding, 1),
        **({"count_include_pad": 0} if average else {}),
    )
    return Value(out, _out_shape(layer, value), NCHW)


@register_converter(
    GlobalAveragePooling2D, GlobalMaxPooling2D, GlobalAveragePooling3D, GlobalMaxPooling3D
)
def _global_pool(graph: Graph, layer: Any, value: Value) -> Value:
    value = graph.layout(value, NCHW)
    average = isinstance(layer, (GlobalAveragePooling2D, GlobalAveragePooling3D))
    op = "GlobalAveragePool" if average else "GlobalMaxPool"
    out = graph.node(op, [value.name], layer.name)  # (N, C, 1, 1), a volume's (N, C, 1, 1, 1)
    shape = _out_shape(layer, value)
    if layer.keepdims:
        return Value(out, shape, NCHW)
    return Value(graph.node("Flatten", [out], f"{layer.name}_flat", axis=1), shape, NHWC)


@register_converter(BatchNormalization)
def _batch_norm(graph: Graph, layer: BatchNormalization, value: Value) -> Value:
    """Inference form: (x − moving_mean) / √(moving_var + ε) · γ + β, channels on axis 1 for
    images and (N, C) rows; a Mul and an Add on the last axis otherwise."""
    channels = value.shape[-1]
    gamma = np.ones(channels) if layer.gamma is None else np.asarray(layer.gamma.data)
    beta = np.zeros(channels) if layer.beta is None else np.asarray(layer.beta.data)
    mean, var = np.asarray(layer.moving_mean.data), np.asarray(layer.moving_variance.data)
    if len(value.shape) in (2, *_SPATIAL_RANKS):
        value = graph.layout(value, NCHW)
        inputs = [value.name] + [
            graph.weight(f"{layer.name}_{n}", a)
            for n, a in (("gamma", gamma), ("beta", beta), ("mean", mean), ("var", var))
        ]
        out = graph.node("BatchNormalization", inputs, layer.name, epsilon=layer.epsilon)
        return Value(out, value.shape, value.layout)
    scale = (gamma / np.sqrt(var.astype(np.float64) + layer.epsilon)).astype(np.float32)
    shift = (beta - mean * scale).astype(np.float32)
    out = graph.node("Mul", [value.name, graph.weight(f"{layer.name}_scale", scale)], layer.name)
    out = graph.node("Add", [out, graph.weight(f"{layer.name}_shift", shift)], layer.name)
    return Value(out, value.shape, value.layout)


def _reduce(graph: Graph, op: str, x: str, axes: list[int], hint: str) -> str:
    """``op`` (ReduceMean, ReduceL2, ...) over ``axes``, kept as axes of length 1: the axes
    are an attribute up to opset 17 and an input from opset 18."""
    if graph.opset < 18:
        return graph.node(op, [x], hint, axes=axes, keepdims=1)
    return graph.node(op, [x, graph.weight(f"{hint}_axes", np.array(axes, np.int64))], hint)


def _standardize(
    graph: Graph, x: str, axes: list[int], epsilon: float, hint: str, centre: bool = True
) -> str:
    """(x − mean)/√(variance + ε) over ``axes``, as ONNX nodes (``ops.normalization``'s
    ``_standardize``); x/√(variance + ε) with ``centre=False`` (Keras's ``rms_scaling``)."""
    centred = graph.node("Sub", [x, _reduce(graph, "ReduceMean", x, axes, f"{hint}_mean")], hint)
    square = graph.node("Mul", [centred, centred], f"{hint}_square")
    var = _reduce(graph, "ReduceMean", square, axes, f"{hint}_var")
    eps = graph.weight(f"{hint}_epsilon", np.array(epsilon, np.float32))
    std = graph.node("Sqrt", [graph.node("Add", [var, eps], f"{hint}_var_eps")], f"{hint}_std")
    return graph.node("Div", [centred if centre else x, std], hint)


def _scale_shift(graph: Graph, layer: Any, x: str, shape: tuple[int, ...]) -> str:
    """x · γ + β with the layer's weights reshaped to ``shape`` (broadcast over the rest)."""
    for name, op in (("gamma", "Mul"), ("beta", "Add")):
        weight = getattr(layer, name)
        if weight is not None:
            array = np.asarray(weight.data).reshape(shape)
            x = graph.node(
                op, [x, graph.weight(f"{layer.name}_{name}", array)], f"{layer.name}_{op}"
            )
    return x


@register_converter(LayerNormalization)
def _layer_norm(graph: Graph, layer: LayerNormalization, value: Value) -> Value:
    """ONNX's LayerNormalization (opset 17) when the normalised axes are the last ones, as
    usual; otherwise (or with ``rms_scaling``) the same maths as ReduceMean, Sub, Div nodes.
    In glassnet's axis order."""
    value = graph.layout(value, NHWC)
    ndim = len(value.shape)
    items = layer.axis if isinstance(layer.axis, list) else [layer.axis]
    axes = sorted(a % ndim for a in items)
    param = tuple(value.shape[a] if a in axes else 1 for a in range(ndim))
    if axes == list(range(axes[0], ndim)) and not layer.rms_scaling:
        shape = value.shape[axes[0] :]
        ones, zeros = np.ones(shape, np.float32), np.zeros(shape, np.float32)
        gamma = ones if layer.gamma is None else np.asarray(layer.gamma.data).reshape(shape)
        beta = zeros if layer.beta is None else np.asarray(layer.beta.data).reshape(shape)
        inputs = [
            value.name,
            graph.weight(f"{layer.name}_gamma", gamma),
            graph.weight(f"{layer.name}_beta", beta),
        ]
        attrs = {"axis": axes[0], "epsilon": layer.epsilon}
        out = graph.node("LayerNormalization", inputs, layer.name, **attrs)
        return Value(out, value.shape, NHWC)
    out = _standardize(graph, value.name, axes, layer.epsilon, layer.name, not layer.rms_scaling)
    return Value(_scale_shift(graph, layer, out, param), value.shape, NHWC)


@register_converter(GroupNormalization)
def _group_norm(graph: Graph, layer: GroupNormalization, value: Value) -> Value:
    """Channels first (images and volumes stay channels-first, other ranks are transposed
    there and back), then
    Reshape to (N, groups, rest), standardise over the last axis, Reshape back, and scale and
    shift per channel: the ops any runtime has (ONNX's GroupNormalization op changed its
    meaning between opsets 18 and 21)."""
    ndim, channels = len(value.shape), value.shape[-1]
    groups = layer._groups(channels)
    to_first = _to_first(ndim)
    if ndim in _SPATIAL_RANKS:
        value = graph.layout(value, NCHW)
        x = value.name
    elif ndim == 2:
        x = value.name
    else:
        x = graph.node("Transpose", [value.name], f"{layer.name}_cf", perm=to_first)
    first_shape = [value.shape[a] for a in to_first][1:]  # (C, spatial...)
    size = int(np.prod(first_shape)) // groups  # the batch axis is the one left to Reshape
    grouped = graph.weight(f"{layer.name}_grouped", np.array([-1, groups, size], np.int64))
    x = graph.node("Reshape", [x, grouped], f"{layer.name}_groups")
    x = _standardize(graph, x, [2], layer.epsilon, f"{layer.name}_norm")
    back = graph.weight(f"{layer.name}_shape", np.array([-1, *first_shape], np.int64))
    x = graph.node("Reshape", [x, back], f"{layer.name}_ungrouped")
    x = _scale_shift(graph, layer, x, (channels, *[1] * (ndim - 2)))
    if ndim in (2, *_SPATIAL_RANKS):
        return Value(x, value.shape, NHWC if ndim == 2 else NCHW)
    return Value(graph.node("Transpose", [x], layer.name, perm=_to_last(ndim)), value.shape, NHWC)


@register_converter(UnitNormalization)
def _unit_norm(graph: Graph, layer: UnitNormalization, value: Value) -> Value:
    """x / max(‖x‖₂, 1e-6) over the layer's axes: ReduceL2, Max, Div (in the value's own
    layout: glassnet's axes are renumbered for an NCHW image)."""
    ndim = len(value.shape)
    items = layer.axis if isinstance(layer.axis, list) else [layer.axis]
    axes = [a % ndim for a in items]
    if value.layout == NCHW:
        axes = [_to_first(ndim).index(a) for a in axes]
    norm = _reduce(graph, "ReduceL2", value.name, sorted(axes), f"{layer.name}_norm")
    eps = graph.weight(f"{layer.name}_epsilon", np.array(1e-6, np.float32))
    norm = graph.node("Max", [norm, eps], f"{layer.name}_norm_eps")
    return Value(graph.node("Div", [value.name, norm], layer.name), value.shape, value.layout)


@register_converter(Flatten)
def _flatten(graph: Graph, layer: Flatten, value: Value) -> Value:
    """Back to NHWC first, so the features come in glassnet's (height, width, channels) order."""
    value = graph.layout(value, NHWC)
    shape = _out_shape(layer, value)
    if len(value.shape) == 1:
        axes = graph.weight("axes_1", np.array([1], np.int64))
        return Value(graph.node("Unsqueeze", [value.name, axes], layer.name), shape)
    return Value(graph.node("Flatten", [value.name], layer.name, axis=1), shape)


@register_converter(Reshape)
def _reshape(graph: Graph, layer: Reshape, value: Value) -> Value:
    value = graph.layout(value, NHWC)
    target = graph.weight(f"{layer.name}_shape", np.array([0, *layer.target_shape], np.int64))
    return Value(graph.node("Reshape", [value.name, target], layer.name), _out_shape(layer, value))


def _int64(graph: Graph, hint: str, values: Any) -> str:
    """An int64 initializer (the shapes, pads, axes and repeats ONNX takes as inputs)."""
    return graph.weight(hint, np.array(values, np.int64))


def _hw_axes(value: Value) -> list[int]:
    """The ONNX axes of height and width in ``value``'s layout (of depth, height and width
    for a volume)."""
    ndim = len(value.shape)
    return list(range(2, ndim)) if value.layout == NCHW else list(range(1, ndim - 1))


@register_converter(ZeroPadding2D, ZeroPadding3D)
def _zero_padding(graph: Graph, layer: Any, value: Value) -> Value:
    """Pad (constant 0) with the begins of every axis, then the ends, in the value's layout."""
    begins, ends = [0] * len(value.shape), [0] * len(value.shape)
    for axis, (lo, hi) in zip(_hw_axes(value), layer.padding, strict=True):
        begins[axis], ends[axis] = lo, hi
    pads = _int64(graph, f"{layer.name}_pads", begins + ends)
    out = graph.node("Pad", [value.name, pads], layer.name)
    return Value(out, _out_shape(layer, value), value.layout)


@register_converter(Cropping2D, Cropping3D)
def _cropping(graph: Graph, layer: Any, value: Value) -> Value:
    """A Slice of height and width (and depth)."""
    sizes = value.shape[1:-1]
    inputs = [
        value.name,
        _int64(graph, f"{layer.name}_starts", [lo for lo, _ in layer.cropping]),
        _int64(
            graph,
            f"{layer.name}_ends",
            [n - hi for n, (_, hi) in zip(sizes, layer.cropping, strict=True)],
        ),
        _int64(graph, f"{layer.name}_axes", _hw_axes(value)),
    ]
    out = graph.node("Slice", inputs, layer.name)
    return Value(out, _out_shape(layer, value), value.layout)


@register_converter(UpSampling2D, UpSampling3D)
def _upsampling(graph: Graph, layer: Any, value: Value) -> Value:
    """Resize by whole factors on the channels-first image (or volume): nearest with
    "asymmetric" coordinates and floor (output pixel i reads input i // size: each pixel
    repeated), or linear with "half_pixel" coordinates (glassnet's and TensorFlow's
    bilinear; UpSampling3D is nearest only)."""
    value = graph.layout(value, NCHW)
    scales = graph.weight(f"{layer.name}_scales", np.array([1, 1, *layer.size], np.float32))
    if getattr(layer, "interpolation", "nearest") == "nearest":
        attrs = {
            "mode": "nearest",
            "coordinate_transformation_mode": "asymmetric",
            "nearest_mode": "floor",
        }
    else:
        attrs = {"mode": "linear", "coordinate_transformation_mode": "half_pixel"}
    out = graph.node("Resize", [value.name, "", scales], layer.name, **attrs)
    return Value(out, _out_shape(layer, value), NCHW)


@register_converter(ZeroPadding1D)
def _zero_padding1d(graph: Graph, layer: ZeroPadding1D, value: Value) -> Value:
    start, end = layer.padding
    pads = _int64(graph, f"{layer.name}_pads", [0, start, 0, 0, end, 0])
    return Value(graph.node("Pad", [value.name, pads], layer.name), _out_shape(layer, value))


@register_converter(Cropping1D)
def _cropping1d(graph: Graph, layer: Cropping1D, value: Value) -> Value:
    start, end = layer.cropping
    inputs = [
        value.name,
        _int64(graph, f"{layer.name}_starts", [start]),
        _int64(graph, f"{layer.name}_ends", [value.shape[1] - end]),
        _int64(graph, f"{layer.name}_axes", [1]),
    ]
    return Value(graph.node("Slice", inputs, layer.name), _out_shape(layer, value))


@register_converter(UpSampling1D)
def _upsampling1d(graph: Graph, layer: UpSampling1D, value: Value) -> Value:
    """A nearest Resize of the one-row image by (1, size), the view the layer repeats."""
    image = graph.layout(_as_row_image(graph, layer, value), NCHW)
    scales = graph.weight(f"{layer.name}_scales", np.array([1, 1, 1, layer.size], np.float32))
    out = graph.node(
        "Resize",
        [image.name, "", scales],
        f"{layer.name}_resize",
        mode="nearest",
        coordinate_transformation_mode="asymmetric",
        nearest_mode="floor",
    )
    shape = _out_shape(layer, value)
    return _as_sequence(graph, layer, Value(out, (None, 1, *shape[1:]), NCHW), shape)


@register_converter(Permute)
def _permute(graph: Graph, layer: Permute, value: Value) -> Value:
    value = graph.layout(value, NHWC)
    out = graph.node("Transpose", [value.name], layer.name, perm=[0, *layer.dims])
    return Value(out, _out_shape(layer, value), NHWC)


@register_converter(RepeatVector)
def _repeat_vector(graph: Graph, layer: RepeatVector, value: Value) -> Value:
    """(N, F) -> (N, 1, F) by Reshape, then Tile n times along the new axis."""
    rows = graph.node(
        "Reshape", [value.name, _int64(graph, f"{layer.name}_rows", [-1, 1, value.shape[1]])],
        layer.name,
    )  # fmt: skip
    repeats = _int64(graph, f"{layer.name}_repeats", [1, layer.n, 1])
    return Value(graph.node("Tile", [rows, repeats], layer.name), _out_shape(layer, value))


def _as_row_image(graph: Graph, layer: Layer, value: Value) -> Value:
    """(N, steps, F) as the one-row image (N, 1, steps, F), as the 1-D layers pool it."""
    _, steps, features = value.shape
    shape = _int64(graph, f"{layer.name}_as_image", [-1, 1, steps, features])
    out = graph.node("Reshape", [value.name, shape], f"{layer.name}_image")
    return Value(out, (None, 1, steps, features), NHWC)


def _as_sequence(graph: Graph, layer: Layer, value: Value, shape: tuple) -> Value:
    """Back from a pooled image (any layout) to glassnet's ``shape``, by Reshape."""
    value = graph.layout(value, NHWC)
    target = _int64(graph, f"{layer.name}_shape", [-1, *shape[1:]])
    return Value(graph.node("Reshape", [value.name, target], layer.name), shape)


@register_converter(MaxPooling1D, AveragePooling1D)
def _pool1d(graph: Graph, layer: Any, value: Value) -> Value:
    """MaxPool or AveragePool (real steps only) with 1×pool_size windows on a one-row image,
    the same view the layer pools."""
    image = graph.layout(_as_row_image(graph, layer, value), NCHW)
    window, step = [1, layer.pool_size[0]], [1, layer.strides[0]]
    average = isinstance(layer, AveragePooling1D)
    out = graph.node(
        "AveragePool" if average else "MaxPool",
        [image.name],
        f"{layer.name}_pool",
        kernel_shape=window,
        strides=step,
        pads=_pads(image, window, step, layer.padding, 1),
        **({"count_include_pad": 0} if average else {}),
    )
    shape = _out_shape(layer, value)
    return _as_sequence(graph, layer, Value(out, (None, 1, *shape[1:]), NCHW), shape)


@register_converter(GlobalAveragePooling1D, GlobalMaxPooling1D)
def _global_pool1d(graph: Graph, layer: Any, value: Value) -> Value:
    """GlobalAveragePool or GlobalMaxPool of the one-row image, then (N, F) or (N, 1, F). An
    average over a masked sequence is ReduceSum(x·m) / max(ReduceSum(m), 1), as the layer's."""
    if isinstance(layer, GlobalAveragePooling1D) and value.mask is not None:
        return _masked_average1d(graph, layer, graph.layout(value, NHWC))
    image = graph.layout(_as_row_image(graph, layer, value), NCHW)
    average = isinstance(layer, GlobalAveragePooling1D)
    op = "GlobalAveragePool" if average else "GlobalMaxPool"
    out = graph.node(op, [image.name], f"{layer.name}_pool")  # (N, F, 1, 1)
    shape = _out_shape(layer, value)
    return _as_sequence(graph, layer, Value(out, (None, 1, 1, value.shape[2]), NCHW), shape)


def _masked_average1d(graph: Graph, layer: Any, value: Value) -> Value:
    hint = f"{layer.name}_masked"
    weights = graph.node("Cast", [value.mask], hint, to=graph.onnx.TensorProto.FLOAT)  # (N, T)
    count = graph.node("ReduceSum", [weights, _int64(graph, hint, [1])], hint, keepdims=1)
    count = graph.node("Max", [count, graph.weight(f"{hint}_one", np.float32(1))], hint)
    weights = graph.node("Div", [weights, count], hint)
    weights = graph.node("Unsqueeze", [weights, _int64(graph, hint, [2])], hint)  # (N, T, 1)
    product = graph.node("Mul", [value.name, weights], hint)
    keep = 1 if layer.keepdims else 0
    axes = _int64(graph, hint, [1])
    out = graph.node("ReduceSum", [product, axes], layer.name, keepdims=keep)
    return Value(out, _out_shape(layer, value), NHWC)


@register_converter(Dot)
def _dot(graph: Graph, layer: Dot, values: list[Value]) -> Value:
    """The layer's own plan: (L2-normalise,) move the summed axes into place, fold the other
    axes, one batched MatMul, unfold. Normalising is x / sqrt(max(ReduceSum(x·x), 1e-14))."""
    a, b = (graph.layout(v, NHWC) for v in values)
    ax, bx = layer._axes_for((len(a.shape), len(b.shape)))
    names = []
    for v, axis, last in ((a, ax, True), (b, bx, False)):
        name = v.name
        if layer.normalize:
            axes = _int64(graph, f"{layer.name}_axis", [axis])
            hint = f"{layer.name}_normalize"
            squares = graph.node("Mul", [name, name], hint)
            total = graph.node("ReduceSum", [squares, axes], hint, keepdims=1)
            eps = graph.weight(f"{layer.name}_eps", np.float32(1e-14))
            norm = graph.node("Sqrt", [graph.node("Max", [total, eps], hint)], hint)
            name = graph.node("Div", [name, norm], hint)
        rest = [i for i in range(1, len(v.shape)) if i != axis]
        perm = [0, *rest, axis] if last else [0, axis, *rest]
        if perm != list(range(len(v.shape))):
            name = graph.node("Transpose", [name], f"{layer.name}_move", perm=perm)
        size = int(np.prod([v.shape[i] for i in rest]))
        fold = [0, size, v.shape[axis]] if last else [0, v.shape[axis], size]
        names.append(
            graph.node(
                "Reshape", [name, _int64(graph, f"{layer.name}_fold", fold)], f"{layer.name}_fold"
            )
        )
    out = graph.node("MatMul", names, f"{layer.name}_matmul")
    shape = tuple(layer.compute_output_shape([a.shape, b.shape]))
    target = _int64(graph, f"{layer.name}_shape", [0, *shape[1:]])
    return Value(graph.node("Reshape", [out, target], layer.name), shape)


@register_converter(Activation)
def _activation_layer(graph: Graph, layer: Activation, value: Value) -> Value:
    return _activation(graph, layer.activation, value, layer.name)


@register_converter(ReLU)
def _relu(graph: Graph, layer: ReLU, value: Value) -> Value:
    """max(0, x), or Keras's general form with threshold, negative slope and cap. A plain
    capped ReLU (``ReLU(6.0)``, MobileNet's) is one Clip(x, 0, cap), which runtimes fuse and
    ``import_onnx`` reads back."""
    if layer.negative_slope == 0.0 and layer.threshold == 0.0 and layer.max_value is not None:
        low = graph.weight(f"{layer.name}_min", np.float32(0.0))
        high = graph.weight(f"{layer.name}_max", np.float32(layer.max_value))
        out = graph.node("Clip", [value.name, low, high], layer.name)
        return Value(out, value.shape, value.layout)
    if layer.negative_slope == 0.0 and layer.threshold == 0.0:
        out = graph.node("Relu", [value.name], layer.name)
    else:
        t = graph.weight(f"{layer.name}_threshold", np.float32(layer.threshold))
        slope = graph.weight(f"{layer.name}_slope", np.float32(layer.negative_slope))
        keep = graph.node("GreaterOrEqual", [value.name, t], layer.name)
        shifted = graph.node("Sub", [value.name, t], layer.name)
        below = graph.node("Mul", [shifted, slope], layer.name)
        out = graph.node("Where", [keep, value.name, below], layer.name)
    if layer.max_value is not None:
        cap = graph.weight(f"{layer.name}_max", np.float32(layer.max_value))
        out = graph.node("Min", [out, cap], layer.name)
    return Value(out, value.shape, value.layout)


@register_converter(LeakyReLU)
def _leaky_relu(graph: Graph, layer: LeakyReLU, value: Value) -> Value:
    out = graph.node("LeakyRelu", [value.name], layer.name, alpha=layer.negative_slope)
    return Value(out, value.shape, value.layout)


@register_converter(ELU)
def _elu(graph: Graph, layer: ELU, value: Value) -> Value:
    out = graph.node("Elu", [value.name], layer.name, alpha=layer.alpha)
    return Value(out, value.shape, value.layout)


@register_converter(PReLU)
def _prelu(graph: Graph, layer: PReLU, value: Value) -> Value:
    """PRelu with alpha as its slope, (H, W, C) -> (C, H, W) when the image (or volume) is
    channels-first
    (broadcast against the batch axis, as the layer's own alpha is)."""
    alpha = np.asarray(layer.alpha.data)
    if value.layout == NCHW:
        alpha = np.moveaxis(alpha, -1, 0)
    slope = graph.weight(f"{layer.name}_alpha", alpha)
    return Value(graph.node("PRelu", [value.name, slope], layer.name), value.shape, value.layout)


@register_converter(Softmax)
def _softmax(graph: Graph, layer: Softmax, value: Value) -> Value:
    value = graph.layout(value, NHWC)
    return Value(graph.node("Softmax", [value.name], layer.name, axis=layer.axis), value.shape)


@register_converter(Rescaling)
def _rescaling(graph: Graph, layer: Rescaling, value: Value) -> Value:
    scale = graph.weight(f"{layer.name}_scale", np.float32(layer.scale))
    out = graph.node("Mul", [value.name, scale], layer.name)
    if layer.offset != 0.0:
        offset = graph.weight(f"{layer.name}_offset", np.float32(layer.offset))
        out = graph.node("Add", [out, offset], layer.name)
    return Value(out, value.shape, value.layout)


@register_converter(Normalization)
def _normalization(graph: Graph, layer: Normalization, value: Value) -> Value:
    """(x − mean) / max(sqrt(variance), 1e-7) as Sub and Div by constants (invert: Mul, Add),
    on the channels-last value the statistics are shaped for."""
    value = graph.layout(value, NHWC)
    mean, std = layer._statistics()  # shaped to broadcast, batch axis 1
    mean_name = graph.weight(f"{layer.name}_mean", mean)
    std_name = graph.weight(f"{layer.name}_std", std)
    if layer.invert:
        out = graph.node(
            "Add", [graph.node("Mul", [value.name, std_name], layer.name), mean_name], layer.name
        )
    else:
        out = graph.node(
            "Div", [graph.node("Sub", [value.name, mean_name], layer.name), std_name], layer.name
        )
    return Value(out, value.shape, NHWC)


def _crop_hw(
    graph: Graph, layer: Layer, value: Value, top: int, left: int, h: int, w: int
) -> Value:
    """A Slice of height and width, in the value's layout."""
    _, _, _, c = value.shape
    inputs = [
        value.name,
        _int64(graph, f"{layer.name}_starts", [top, left]),
        _int64(graph, f"{layer.name}_ends", [top + h, left + w]),
        _int64(graph, f"{layer.name}_axes", _hw_axes(value)),
    ]
    out = graph.node("Slice", inputs, layer.name)
    return Value(out, (value.shape[0], h, w, c), value.layout)


def _resize_to(graph: Graph, layer: Layer, value: Value, size: tuple[int, int], how: str) -> Value:
    """Resize the channels-first image to ``size`` with half-pixel centres: "linear" with
    "half_pixel" (bilinear), or "nearest" with "half_pixel" and round_prefer_ceil, which reads
    input round_up((i + 0.5)/scale − 0.5) = ⌊(i + 0.5)/scale⌋ (TensorFlow's nearest). Given
    as scales (the batch size is not known, so sizes cannot be), each nudged up to the next
    float32 where needed, so that ONNX's ⌊in · scale⌋ is the size wanted."""
    value = graph.layout(value, NCHW)
    _, h, w, _ = value.shape
    scales = []
    for new, old in zip(size, (h, w), strict=True):
        scale = np.float32(new / old)
        while np.floor(old * float(scale)) < new:  # in float64, as shape inference does
            scale = np.nextafter(scale, np.float32(np.inf))
        scales.append(scale)
    name = graph.weight(f"{layer.name}_scales", np.array([1, 1, *scales], np.float32))
    if how == "nearest":
        attrs = {
            "mode": "nearest",
            "coordinate_transformation_mode": "half_pixel",
            "nearest_mode": "round_prefer_ceil",
        }
    else:
        attrs = {"mode": "linear", "coordinate_transformation_mode": "half_pixel"}
    out = graph.node("Resize", [value.name, "", name], layer.name, **attrs)
    return Value(out, (value.shape[0], *size, value.shape[3]), NCHW)


def _known_hw(layer: Layer, value: Value) -> tuple[int, int]:
    _, h, w, _ = value.shape
    if h is None or w is None:
        raise ValueError(
            f"ONNX export: layer '{layer.name}' ({type(layer).__name__}) needs the input's "
            f"height and width; received shape {value.shape}."
        )
    return h, w


@register_converter(Resizing)
def _resizing(graph: Graph, layer: Resizing, value: Value) -> Value:
    """A Resize (after a Slice for crop_to_aspect_ratio)."""
    h, w = _known_hw(layer, value)
    if layer.crop_to_aspect_ratio:
        top, left, ch, cw = _centred_window(h, w, layer.height, layer.width)
        if (ch, cw) != (h, w):
            value = _crop_hw(graph, layer, value, top, left, ch, cw)
            h, w = ch, cw
    if (h, w) == (layer.height, layer.width):
        return value
    return _resize_to(graph, layer, value, (layer.height, layer.width), layer.interpolation)


@register_converter(CenterCrop)
def _center_crop(graph: Graph, layer: CenterCrop, value: Value) -> Value:
    """A Slice of the centre (for an image smaller than the target: the centred window of the
    target's proportions, then a bilinear Resize)."""
    h, w = _known_hw(layer, value)
    if h < layer.height or w < layer.width:
        top, left, ch, cw = _centred_window(h, w, layer.height, layer.width)
        value = _crop_hw(graph, layer, value, top, left, ch, cw)
        return _resize_to(graph, layer, value, (layer.height, layer.width), "bilinear")
    if (h, w) == (layer.height, layer.width):
        return value
    top, left = (h - layer.height) // 2, (w - layer.width) // 2
    return _crop_hw(graph, layer, value, top, left, layer.height, layer.width)


#: Each element-wise merge layer's ONNX op (Add and Sub are binary, the others variadic).
_MERGE_OPS = {Add: "Add", Subtract: "Sub", Multiply: "Mul", Maximum: "Max", Minimum: "Min"}


@register_converter(Add, Subtract, Multiply, Maximum, Minimum, Average)
def _merge(graph: Graph, layer: Any, values: list[Value]) -> Value:
    """A chain of binary ops in the layer's order (Average: their sum, times 1/n), every input
    brought to the first one's layout."""
    layout = values[0].layout
    values = [graph.layout(v, layout) for v in values]
    op = _MERGE_OPS.get(type(layer), "Add")
    out = values[0].name
    for v in values[1:]:
        out = graph.node(op, [out, v.name], layer.name)
    if isinstance(layer, Average):
        scale = graph.weight(f"{layer.name}_scale", np.float32(1 / len(values)))
        out = graph.node("Mul", [out, scale], layer.name)
    shape = layer.compute_output_shape([v.shape for v in values])
    return Value(out, tuple(shape), layout)


@register_converter(Concatenate)
def _concatenate(graph: Graph, layer: Concatenate, values: list[Value]) -> Value:
    """Concat along the glassnet axis, renumbered when the images are channels-first."""
    layout = values[0].layout
    values = [graph.layout(v, layout) for v in values]
    rank = len(values[0].shape)
    axis = layer.axis % rank
    if layout == NCHW:
        axis = _to_first(rank).index(axis)
    out = graph.node("Concat", [v.name for v in values], layer.name, axis=axis)
    shape = layer.compute_output_shape([v.shape for v in values])
    return Value(out, tuple(shape), layout)


# --------------------------------------------------------------------------- containers
@register_converter(Functional)
def _functional(graph: Graph, model: Functional, value: Any) -> Any:
    """Every call in the graph's order, wired as the model's ``call`` wires it."""
    inputs = value if isinstance(value, list) else [value]

    def convert(layer: Layer, args: Any, kwargs: dict[str, Any]) -> Any:
        fn = _CONVERTERS.get(type(layer))
        taken = inspect.signature(fn).parameters if fn is not None else {}
        tensors = [
            k for k, v in kwargs.items() if isinstance(v, (Value, list, tuple)) and k not in taken
        ]
        if tensors:
            raise ValueError(
                f"ONNX export: layer '{layer.name}' is called with {', '.join(tensors)} from "
                "other layers (a recurrent layer's initial_state); its converter writes the "
                "layer called on its inputs alone."
            )
        return convert_layer(graph, layer, args, kwargs)

    return model.run_graph(inputs, convert)


@register_converter(Sequential)
def _sequential(graph: Graph, model: Sequential, value: Value) -> Value:
    """Each layer on the output of the one before (nested Sequential models included)."""
    return _chain(graph, model.layers, value)


def _chain(graph: Graph, layers: list[Layer], value: Value) -> Value:
    for layer in layers:
        value = convert_layer(graph, layer, value)
    return value


@register_converter(BasicBlock, Bottleneck)
def _residual(graph: Graph, block: Any, value: Value) -> Value:
    """``relu(main_path(x) + shortcut(x))``, as the blocks' ``call``."""
    identity = _chain(graph, block.downsample, value)
    out = _chain(graph, block._main_path(), value)
    return convert_layer(graph, block.relu, convert_layer(graph, block.add, [out, identity]))


@register_converter(BasicConv2D)
def _basic_conv(graph: Graph, block: BasicConv2D, value: Value) -> Value:
    return _chain(graph, [block.conv, block.bn, block.relu], value)


@register_converter(Inception)
def _inception(graph: Graph, block: Inception, value: Value) -> Value:
    outputs = [_chain(graph, branch, value) for branch in block._branches()]
    return convert_layer(graph, block.concat, outputs)


# --------------------------------------------------------------------------- the model
def _input_shapes(model: Layer, input_shape: Any) -> list[tuple[int | None, ...]]:
    """The shape of each of the model's inputs, batch first (a list of one for one input)."""
    if input_shape is not None:
        several = bool(input_shape) and isinstance(input_shape[0], (tuple, list))
        return [(None, *tuple(s)) for s in (input_shape if several else [input_shape])]
    shape = getattr(model, "input_shape", None)
    if shape is None:
        raise ValueError(
            f"ONNX export: model '{model.name}' is not built, so its input shape is unknown. "
            f"Start it with Input(shape), call it on data once, or pass input_shape=(H, W, C)."
        )
    return [(None, *tuple(s)[1:]) for s in (shape if isinstance(shape, list) else [shape])]


def _names(model: Layer, kind: str, count: int) -> list[str]:
    """ "input"/"output" for a model with one; the input layers' or outputs' names otherwise."""
    return [kind] if count == 1 else list(getattr(model, f"{kind}_names"))


#: The ai.onnx.ml version written where LabelEncoder is used (its keys and values as lists).
ML_OPSET = 3
_ONNX_TYPES = {"float32": "FLOAT", "int64": "INT64", "string": "STRING"}


def _input_dtypes(model: Layer, count: int) -> list[str]:
    """The dtype of each of the model's inputs, as ``Value.dtype``: "string" for
    ``Input(dtype="string")``, "int64" for integer inputs, else "float32"."""
    if isinstance(model, Functional):
        found = [getattr(t, "dtype", "float32") for t in model.inputs]
    else:
        first = getattr(model, "_input_layer", None)
        found = [getattr(first, "dtype", "float32")] * count
    kinds = {"O": "string", "U": "string", "i": "int64", "u": "int64"}
    return [kinds.get(np.dtype(d).kind, "float32") for d in found]


def _value_info(onnx: Any, name: str, value: Value, batch_name: str) -> Any:
    elem = getattr(onnx.TensorProto, _ONNX_TYPES[value.dtype])
    return onnx.helper.make_tensor_value_info(name, elem, [batch_name, *value.shape[1:]])


def _domains(nodes: list[Any]) -> list[str]:
    """The operator domains other than the standard one that ``nodes`` use, sorted."""
    return sorted({n.domain for n in nodes} - {"", "ai.onnx"})


def to_onnx(
    model: Layer,
    *,
    opset: int = DEFAULT_OPSET,
    input_shape: tuple[int, ...] | None = None,
    batch_name: str = "N",
) -> Any:
    """The ``onnx.ModelProto`` of ``model`` (see ``export``), checked by ``onnx.checker``."""
    onnx = _onnx()
    helper = onnx.helper
    if opset < DEFAULT_OPSET:
        raise ValueError(f"ONNX export: opset {opset} is too old; use {DEFAULT_OPSET} or newer.")
    shapes = _input_shapes(model, input_shape)
    for shape in shapes:
        if any(d is None for d in shape[1:]):
            raise ValueError(
                f"ONNX export: every axis but the batch must have a known size (convolution "
                f"pads are computed from it). Received input shape {shape}."
            )
    if opset < TEXT_OPSET and any(
        isinstance(x, TextVectorization) for _, x in model.named_layers()
    ):
        opset = TEXT_OPSET  # StringSplit, StringConcat
    graph = Graph(opset)
    names = _names(model, "input", len(shapes))
    dtypes = _input_dtypes(model, len(shapes))
    sources = [
        Value(graph.name(n), s, NHWC, dtype=d)
        for n, s, d in zip(names, shapes, dtypes, strict=True)
    ]
    several = isinstance(model, Functional) and len(model.outputs) > 1
    out_names = [graph.name(n) for n in _names(model, "output", 2 if several else 1)]
    out = convert_layer(graph, model, sources[0] if len(sources) == 1 else sources)
    outs = [graph.layout(v, NHWC) for v in (out if isinstance(out, list) else [out])]
    ends = []
    for name, value in zip(out_names, outs, strict=True):
        graph.nodes.append(helper.make_node("Identity", [value.name], [name], name=name))
        ends.append(_value_info(onnx, name, value, batch_name))
    starts = [_value_info(onnx, v.name, v, batch_name) for v in sources]
    onnx_graph = helper.make_graph(
        graph.nodes, model.name, starts, ends, initializer=graph.initializers
    )
    from glassnet import __version__

    proto = helper.make_model(
        onnx_graph,
        producer_name="glassnet",
        producer_version=__version__,
        opset_imports=[
            helper.make_opsetid("", opset),
            *(helper.make_opsetid(d, ML_OPSET) for d in _domains(graph.nodes)),
        ],
    )
    # The oldest IR version that carries this opset, so older runtimes can load the file too.
    proto.ir_version = helper.find_min_ir_version_for(list(proto.opset_import))
    metadata = {
        "class_names": json.dumps(getattr(model, "class_names", None)),
        "preprocessing": json.dumps(getattr(model, "preprocessing", None)),
        "input_layout": json.dumps("NHWC"),
        "glassnet_model": json.dumps(type(model).__name__),
    }
    helper.set_model_props(proto, metadata)
    if any(v.dtype != "float32" for v in sources):
        _output_types(onnx, proto, [v.name for v in outs])
    onnx.checker.check_model(proto)
    return proto


def _output_types(onnx: Any, proto: Any, values: list[str]) -> None:
    """Declare each output with the element type ONNX infers for the value it shows: ids
    (int64) or tokens (strings) that a shape layer (Reshape, Flatten) passed on after a
    vocabulary layer, whose converter wrote a float32 Value."""
    inferred = onnx.shape_inference.infer_shapes(proto)
    types = {v.name: v.type.tensor_type.elem_type for v in inferred.graph.value_info}
    for output, value in zip(proto.graph.output, values, strict=True):
        if types.get(value):
            output.type.tensor_type.elem_type = types[value]


def export(
    model: Layer,
    path: str | os.PathLike[str],
    *,
    opset: int = DEFAULT_OPSET,
    input_shape: tuple[int, ...] | None = None,
) -> Any:
    """Write ``model`` to ``path`` as an ONNX file and return the ``onnx.ModelProto``.

    The graph takes the same input as ``model.predict`` — float32 ``(N, H, W, C)``, any batch
    size N; strings or int64 codes for a model starting with a vocabulary layer
    (``Input(shape, dtype="string")``, ``onnx_text``) — and gives the same output. Class
    names and preprocessing are stored as JSON in the model's ``metadata_props`` (keys
    ``class_names``, ``preprocessing``, ``input_layout``).

    Args:
        model: a built glassnet model made of supported layers (``supported_layers()``).
        path: the file to write, e.g. ``"cats.onnx"`` (written to a temporary file, then
            renamed).
        opset: the ONNX opset version (17 or newer; 20 at least for a TextVectorization).
        input_shape: the shape of one sample, for a model that is not built yet.

    Raises:
        ValueError: naming an unsupported layer and listing the supported ones, or a
            vocabulary layer's option that no ONNX operator reproduces (``onnx_text``).
    """
    proto = to_onnx(model, opset=opset, input_shape=input_shape)
    path = os.fspath(path)
    tmp = f"{path}.tmp"
    with open(tmp, "wb") as f:
        f.write(proto.SerializeToString())
    os.replace(tmp, path)
    return proto
