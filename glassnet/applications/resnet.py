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
different numbers. ``padding="torch"`` pads torchvision's way instead: a ``ZeroPadding2D`` of
k // 2 on every side before each strided k×k convolution and the max-pool, which then use
"valid"; the parameters and their order are the same.

Pretrained weights: ``weights=PATH`` loads a torchvision ResNet ``state_dict`` saved as
safetensors (never pickle) and builds with ``padding="torch"``, so the outputs are
torchvision's. With PyTorch and torchvision installed, export them once::

    import torch, torchvision
    from safetensors.torch import save_file
    save_file(torchvision.models.resnet18(weights="DEFAULT").state_dict(), "resnet18.safetensors")

then ``glassnet.applications.ResNet18(weights="resnet18.safetensors")``. An ONNX export works
too, ``ResNet18(weights="resnet18.onnx")`` (made with ``torch.onnx.export(torchvision.models.
resnet18(weights="DEFAULT").eval(), torch.randn(1, 3, 224, 224), "resnet18.onnx",
dynamo=False)``): the exporter folds each BatchNorm into its convolution, so glassnet copies
the folded kernels and sets each BatchNormalization to add the folded bias and pass values
through otherwise; the outputs are the same. Every key, shape and
dtype is checked against the model from the file's header before any data is read, and all
problems are reported in one error. torchvision's networks expect RGB pixels in [0, 1]
normalised with ImageNet's mean and std; put that in front of the model::

    model = gn.Sequential([
        gn.layers.Input((224, 224, 3)),
        gn.layers.Rescaling(1 / 255),  # pixels 0..255 → 0..1
        gn.layers.Normalization(mean=[0.485, 0.456, 0.406],
                                variance=[0.229**2, 0.224**2, 0.225**2]),
        gn.applications.ResNet18(weights="resnet18.safetensors"),
    ])

For your own classes, load with ``include_top=False`` (the file's ``fc`` is skipped) and add
a ``Dense(classes)`` head.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np

from glassnet.applications._common import ARGS, build_chain, chain_shape, image_classifier
from glassnet.checks import check_bool, check_positive_int
from glassnet.layers import (
    Add,
    BatchNormalization,
    Conv2D,
    Dense,
    GlobalAveragePooling2D,
    MaxPooling2D,
    ReLU,
    ZeroPadding2D,
)
from glassnet.layers.layer import InputSpec, Layer, Shape, _copy_into
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


_PADDINGS = ("same", "torch")


def _check_padding(where: str, padding: Any) -> str:
    if padding not in _PADDINGS:
        raise ValueError(
            f"{where}: 'padding' must be 'same' (TensorFlow's, the default) or 'torch' "
            f"(k // 2 on every side, as torchvision; needed for its weights). "
            f"Received: padding={padding!r}"
        )
    return padding


def _conv(
    filters: int, kernel_size: int, strides: int, name: str, padding: str = "same"
) -> list[Layer]:
    """A k×k convolution without bias (the BatchNormalization after it subtracts the mean, and
    its beta is the bias), padded the ``padding`` way: "same" is one layer; "torch" puts a
    ``ZeroPadding2D`` of k // 2 on every side before a "valid" convolution (Conv2D takes only
    "same" or "valid"). With stride 1 both pad alike; with stride 2 "same" pads bottom/right."""
    if kernel_size == 1 or padding == "same":
        mode = "valid" if kernel_size == 1 else "same"
        return [
            Conv2D(filters, kernel_size, strides=strides, padding=mode, use_bias=False, name=name)
        ]
    return [
        ZeroPadding2D(kernel_size // 2, name=f"{name}_pad"),
        Conv2D(filters, kernel_size, strides=strides, padding="valid", use_bias=False, name=name),
    ]


class _ResidualBlock(Model):
    """What both blocks share: arguments, the shortcut, the final addition, shape arithmetic.

    Subclasses write ``_make_layers`` (create the layers of F, and ``relu``) and ``_main_path``
    (list them in the order ``call`` applies them).
    """

    trains_in_shares = True  # its call applies only its layers (Layer.trains_in_shares)

    expansion: ClassVar[int] = 1
    _config_keys = ("filters", "strides", "padding")

    def __init__(
        self,
        filters: int,
        strides: int = 1,
        downsample: bool = False,
        *,
        padding: str = "same",
        name: str | None = None,
        trainable: bool = True,
    ) -> None:
        super().__init__(name=name, trainable=trainable)
        where = type(self).__name__
        self.filters = check_positive_int(where, "filters", filters)
        self.strides = check_positive_int(where, "strides", strides)
        self.padding = _check_padding(where, padding)
        downsample = check_bool(where, "downsample", downsample)
        # With padding="torch", the strided 3×3 convolution's ZeroPadding2D (else None).
        self.pad: Layer | None = None
        self._make_layers()
        # The shortcut: the identity, or a 1×1 convolution + BN that matches F(x)'s shape.
        self.downsample: list[Layer] = []
        if downsample:
            self.downsample = [
                *_conv(self.filters * self.expansion, 1, self.strides, f"{self.name}_downsample"),
                _bn(f"{self.name}_downsample_bn"),
            ]
        self.add = Add(name=f"{self.name}_add")
        self.input_spec = InputSpec(ndim=4, layout=_IMAGES)

    def _make_layers(self) -> None:
        raise NotImplementedError

    def _conv3x3(self, filters: int, strides: int, name: str) -> Conv2D:
        """The 3×3 convolution; with torch padding and stride 2 its ZeroPadding2D is ``pad``
        (stride 1 "same" already pads 1 on every side, as torchvision does)."""
        mode = self.padding if strides > 1 else "same"
        *pad, conv = _conv(filters, 3, strides, name, mode)
        if pad:
            self.pad = pad[0]
        return conv

    def _padded(self, layers: list[Layer], conv: Layer) -> list[Layer]:
        """``layers`` with ``pad`` (if any) put before ``conv``."""
        if self.pad is None:
            return layers
        at = layers.index(conv)
        return [*layers[:at], self.pad, *layers[at:]]

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
        self.conv1 = self._conv3x3(self.filters, self.strides, f"{self.name}_conv1")
        self.bn1 = _bn(f"{self.name}_bn1")
        self.relu = ReLU(name=f"{self.name}_relu")
        self.conv2 = self._conv3x3(self.filters, 1, f"{self.name}_conv2")
        self.bn2 = _bn(f"{self.name}_bn2")

    def _main_path(self) -> list[Layer]:
        return self._padded([self.conv1, self.bn1, self.relu, self.conv2, self.bn2], self.conv1)


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
        (self.conv1,) = _conv(self.filters, 1, 1, f"{self.name}_conv1")
        self.bn1 = _bn(f"{self.name}_bn1")
        self.conv2 = self._conv3x3(self.filters, self.strides, f"{self.name}_conv2")
        self.bn2 = _bn(f"{self.name}_bn2")
        (self.conv3,) = _conv(self.filters * self.expansion, 1, 1, f"{self.name}_conv3")
        self.bn3 = _bn(f"{self.name}_bn3")
        self.relu = ReLU(name=f"{self.name}_relu")

    def _main_path(self) -> list[Layer]:
        layers = [
            self.conv1,
            self.bn1,
            self.relu,
            self.conv2,
            self.bn2,
            self.relu,
            self.conv3,
            self.bn3,
        ]
        return self._padded(layers, self.conv2)


# ------------------------------------------------------------------ torchvision's weights
#: safetensors dtypes accepted for weights (converted to float32).
_FLOAT_DTYPES = {"F16": "float16", "F32": "float32", "F64": "float64"}
#: torchvision's BatchNorm2d names → glassnet's BatchNormalization weights.
_BN_NAMES = {
    "weight": "gamma",
    "bias": "beta",
    "running_mean": "moving_mean",
    "running_var": "moving_variance",
}


def _torchvision_keys(model: Sequential) -> dict[str, tuple[Tensor, tuple[int, ...]]]:
    """Each torchvision state-dict key of ``model`` → (the glassnet weight, the axes that turn
    torch's array into glassnet's: OIHW → HWIO for kernels, (out, in) → (in, out) for Dense)."""
    keys: dict[str, tuple[Tensor, tuple[int, ...]]] = {}

    def add(prefix: str, layer: Layer) -> None:
        if isinstance(layer, Conv2D):
            keys[f"{prefix}.weight"] = (layer.kernel, (2, 3, 1, 0))
        elif isinstance(layer, BatchNormalization):
            for torch_name, name in _BN_NAMES.items():
                keys[f"{prefix}.{torch_name}"] = (getattr(layer, name), (0,))
        elif isinstance(layer, Dense):
            keys[f"{prefix}.weight"] = (layer.kernel, (1, 0))
            keys[f"{prefix}.bias"] = (layer.bias, (0,))

    for layer in model.layers:
        if isinstance(layer, _ResidualBlock):
            prefix = layer.name.replace("_", ".")  # layer1_0 → layer1.0
            for attr in ("conv1", "bn1", "conv2", "bn2", "conv3", "bn3"):
                if hasattr(layer, attr):
                    add(f"{prefix}.{attr}", getattr(layer, attr))
            for index, sub in enumerate(layer.downsample):
                add(f"{prefix}.downsample.{index}", sub)
        elif layer.name == "predictions":
            add("fc", layer)
        else:
            add(layer.name, layer)
    return keys


def _load_torchvision(
    where: str, model: Sequential, path: str | os.PathLike[str], include_top: bool
) -> None:
    """Copy torchvision ResNet weights at ``path`` into ``model``: a ``state_dict`` saved as
    safetensors, or the model exported to ONNX (a path ending in ``.onnx``).

    Every key, dtype and shape is checked against the model before anything is copied, and all
    problems are reported together. Never unpickles: both formats hold only arrays.
    """
    expected = _torchvision_keys(model)
    if os.fspath(path).lower().endswith(".onnx"):
        arrays = _read_onnx(where, model, path, include_top)
        header = {key: ("F32", tuple(array.shape)) for key, array in arrays.items()}
        _refuse_mismatches(where, path, expected, header, include_top)
    else:
        arrays = _read_safetensors(where, path, expected, include_top)
    for key, (weight, axes) in expected.items():
        _copy_into(weight, np.asarray(arrays[key], dtype=np.float32).transpose(axes))


def _read_safetensors(
    where: str,
    path: str | os.PathLike[str],
    expected: dict[str, tuple[Tensor, tuple[int, ...]]],
    include_top: bool,
) -> dict[str, np.ndarray]:
    """The arrays of a torchvision ``state_dict`` saved as safetensors, by key.

    Only the header (names, dtypes, shapes) is read until every key, dtype and shape matches
    the model, so a crafted file can make glassnet allocate no more than the model's own
    weights.
    """
    try:
        # Imported here: only loading weights needs it.
        from safetensors import safe_open

        handle = safe_open(os.fspath(path), framework="np")
    except FileNotFoundError:
        raise FileNotFoundError(f"{where}: weights file '{path}' does not exist.") from None
    except Exception as err:  # safetensors raises its own SafetensorError, or OSError
        raise ValueError(
            f"{where}: cannot read '{path}' as a safetensors file ({err}). Expected a "
            f"torchvision ResNet state_dict saved with safetensors.torch.save_file, or its "
            f"ONNX export (a path ending in .onnx)."
        ) from None
    with handle as file:
        header = {}
        for key in file.keys():
            if key.endswith("num_batches_tracked"):
                continue  # BatchNorm2d's step counter: glassnet's momentum needs no count
            if not include_top and key.startswith("fc."):
                continue
            part = file.get_slice(key)
            header[key] = (part.get_dtype(), tuple(part.get_shape()))
        _refuse_mismatches(where, path, expected, header, include_top)
        return {key: file.get_tensor(key) for key in expected}


def _refuse_mismatches(
    where: str,
    path: str | os.PathLike[str],
    expected: dict[str, tuple[Tensor, tuple[int, ...]]],
    header: dict[str, tuple[str, tuple[int, ...]]],
    include_top: bool,
) -> None:
    """Raise one ValueError listing whatever keeps ``header`` (the file's key → dtype, shape)
    from filling ``expected``; a classifier for another number of classes is said once, with
    the way out, instead of as two size mismatches."""
    problems = _compare(expected, header)
    fc = header.get("fc.weight")
    if include_top and fc is not None and len(fc[1]) == 2:
        classes = expected["fc.weight"][0].shape[1]
        if fc[1][0] != classes:
            problems = [p for p in problems if not p.startswith("size mismatch for fc.")]
            problems.insert(
                0,
                f"the file's classifier has {fc[1][0]} classes (fc.weight {fc[1]}) but "
                f"classes={classes}. To classify your own {classes} classes, pass "
                f"include_top=False and add a head, e.g. Dense({classes}), to train.",
            )
    if problems:
        raise ValueError(
            f"{where}: cannot load torchvision weights from '{path}':\n\t" + "\n\t".join(problems)
        )


def _conv_pairs(model: Sequential) -> list[tuple[str, str]]:
    """The (convolution, BatchNormalization) torchvision key prefixes of ``model``, in the
    order ``_onnx_convs`` finds them in a graph: the stem, then each block's main path and its
    shortcut."""
    pairs = [("conv1", "bn1")]
    for layer in model.layers:
        if isinstance(layer, _ResidualBlock):
            prefix = layer.name.replace("_", ".")
            for i in range(1, 4):
                if hasattr(layer, f"conv{i}"):
                    pairs.append((f"{prefix}.conv{i}", f"{prefix}.bn{i}"))
            if layer.downsample:
                pairs.append((f"{prefix}.downsample.0", f"{prefix}.downsample.1"))
    return pairs


def _read_onnx(
    where: str, model: Sequential, path: str | os.PathLike[str], include_top: bool
) -> dict[str, np.ndarray]:
    """torchvision state-dict arrays recovered from an ONNX export of its ResNet.

    PyTorch's exporter in eval mode folds each BatchNorm into the convolution before it (the
    kernel scaled, a bias added), so the file has no BatchNorm of its own to copy. glassnet
    keeps its ResNet's layers and sets each BatchNormalization to add the folded bias and
    otherwise pass values through (gamma 1, mean 0, variance 1 - epsilon): the same numbers as
    the folded graph, and the same model as with a ``state_dict``, so it saves, exports and
    fine-tunes alike. A graph that kept its BatchNormalization nodes has them copied as they
    are. The convolutions are matched by walking the graph (stem, then for each block the
    path with the convolutions and the shortcut), not by their names, which exporters change.
    """
    try:
        import onnx
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError(f"{where}: reading ONNX weights needs 'onnx': pip install onnx") from err
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{where}: weights file '{path}' does not exist.")
    try:
        proto = onnx.load(os.fspath(path))
        onnx.checker.check_model(proto)
    except Exception as err:  # DecodeError, ValidationError, ...: all mean "not a good file"
        raise ValueError(
            f"{where}: '{path}' is not a valid ONNX model ({type(err).__name__}: {err})."
        ) from None
    graph = proto.graph
    consts = {init.name: onnx.numpy_helper.to_array(init) for init in graph.initializer}
    for node in graph.node:
        if node.op_type == "Constant" and node.attribute[0].name == "value":
            consts[node.output[0]] = onnx.numpy_helper.to_array(node.attribute[0].t)
    convs, gemm = _onnx_convs(where, path, graph, consts)
    pairs = _conv_pairs(model)
    if len(convs) != len(pairs):
        raise ValueError(
            f"{where}: '{path}' is not an export of this ResNet: its graph has {len(convs)} "
            f"convolutions, {model.name} has {len(pairs)}. Export the same depth "
            f"(torchvision.models.{model.name}), or build the network the file holds."
        )
    arrays: dict[str, np.ndarray] = {}
    for (conv, bn), (node, norm) in zip(pairs, convs, strict=True):
        kernel = consts[node.input[1]]
        bias = consts[node.input[2]] if len(node.input) > 2 and node.input[2] else None
        arrays[f"{conv}.weight"] = kernel
        channels = kernel.shape[0]
        if norm is None:  # folded: the BatchNormalization adds the bias, nothing else
            epsilon = 1e-5
            gamma, beta = np.ones(channels, np.float32), np.zeros(channels, np.float32)
            mean = np.zeros(channels, np.float32)
            variance = np.full(channels, 1 - epsilon, np.float32)
        else:
            gamma, beta, mean, variance = (consts[name] for name in norm.input[1:5])
            attrs = {a.name: onnx.helper.get_attribute_value(a) for a in norm.attribute}
            epsilon = float(attrs.get("epsilon", 1e-5))
        if bias is not None:
            beta, mean = (beta, mean - bias) if norm is not None else (beta + bias, mean)
        arrays.update(
            {
                f"{bn}.weight": gamma,
                f"{bn}.bias": beta,
                f"{bn}.running_mean": mean,
                f"{bn}.running_var": variance,
            }
        )
        _set_epsilon(model, bn, epsilon)
    if include_top and gemm is not None:
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in gemm.attribute}
        weight = consts[gemm.input[1]] * attrs.get("alpha", 1.0)
        arrays["fc.weight"] = weight if attrs.get("transB", 0) else weight.T
        arrays["fc.bias"] = consts[gemm.input[2]] * attrs.get("beta", 1.0)
    return arrays


def _set_epsilon(model: Sequential, bn: str, epsilon: float) -> None:
    """Give the BatchNormalization at torchvision key prefix ``bn`` the file's epsilon."""
    parts = bn.split(".")
    if len(parts) == 1:
        model.get_layer(bn).epsilon = epsilon
        return
    block = model.get_layer(f"{parts[0]}_{parts[1]}")
    layer = block.downsample[1] if parts[2] == "downsample" else getattr(block, parts[2])
    layer.epsilon = epsilon


def _onnx_convs(where: str, path: Any, graph: Any, consts: dict[str, Any]) -> tuple[list, Any]:
    """The Conv nodes of an exported ResNet, each with the BatchNormalization node right after
    it (or None where the exporter folded it), in ``_conv_pairs``'s order; and the final Gemm
    (the ``fc``), or None."""
    readers: dict[str, list[Any]] = {}
    for node in graph.node:
        for name in node.input:
            readers.setdefault(name, []).append(node)

    def fail(what: str) -> ValueError:
        return ValueError(
            f"{where}: '{path}' does not look like an ONNX export of a torchvision ResNet "
            f"({what}). Export torchvision.models.resnetNN(...).eval() with torch.onnx.export, "
            f"or import other networks with glassnet.export.import_onnx."
        )

    def follow(node: Any, stop: str) -> tuple[list[tuple[Any, Any]], Any]:
        """The convolutions on the single path from ``node`` to the first ``stop`` node."""
        convs: list[tuple[Any, Any]] = []
        while node.op_type != stop:
            if node.op_type == "Conv":
                convs.append((node, None))
            elif node.op_type == "BatchNormalization" and convs and convs[-1][1] is None:
                convs[-1] = (convs[-1][0], node)
            elif node.op_type not in ("Relu", "Identity"):
                raise fail(f"unexpected {node.op_type} node '{node.name}'")
            following = readers.get(node.output[0], [])
            if len(following) != 1:
                raise fail(f"'{node.name}' feeds {len(following)} nodes where one was expected")
            node = following[0]
        return convs, node

    inputs = [i.name for i in graph.input if i.name not in consts]
    first = readers.get(inputs[0], []) if len(inputs) == 1 else []
    if len(first) != 1 or first[0].op_type != "Conv":
        raise fail("its input does not go straight into one convolution")
    convs, pool = follow(first[0], "MaxPool")
    tensor = pool.output[0]
    while True:  # one residual block per turn: relu(main path + shortcut)
        nodes = readers.get(tensor, [])
        starts = [n for n in nodes if n.op_type == "Conv"]
        if not starts:
            break
        paths = [follow(start, "Add") for start in starts]
        adds = {id(add) for _, add in paths}
        add = paths[0][1]
        if len(adds) != 1 or len(paths) > 2 or (len(paths) == 1 and add not in nodes):
            raise fail(f"the block after '{tensor}' is not a main path plus a shortcut")
        paths.sort(key=lambda p: -len(p[0]))  # the main path first, then the 1×1 shortcut
        for found, _ in paths:
            convs += found
        after = readers.get(add.output[0], [])
        if len(after) != 1 or after[0].op_type != "Relu":
            raise fail(f"'{add.name}' is not followed by one Relu")
        tensor = after[0].output[0]
    gemms = [n for n in graph.node if n.op_type == "Gemm"]
    return convs, gemms[-1] if gemms else None


def _compare(
    expected: dict[str, tuple[Tensor, tuple[int, ...]]],
    header: dict[str, tuple[str, tuple[int, ...]]],
) -> list[str]:
    """What keeps the file's arrays (``header``: key → dtype, shape) from filling ``expected``,
    in torch's words and shapes, as ``load_state_dict(strict=True)`` reports it."""
    problems = []
    missing = [key for key in expected if key not in header]
    unexpected = [key for key in header if key not in expected]
    if missing:
        problems.append("Missing key(s): " + ", ".join(f'"{k}"' for k in missing))
    if unexpected:
        problems.append("Unexpected key(s): " + ", ".join(f'"{k}"' for k in unexpected))
    for key, (dtype, shape) in header.items():
        if key not in expected:
            continue
        weight, axes = expected[key]
        want = tuple(weight.shape[axes.index(i)] for i in range(len(axes)))
        if shape != want:
            problems.append(
                f"size mismatch for {key}: the file has shape {shape}, the model needs {want}"
            )
        elif dtype not in _FLOAT_DTYPES:
            problems.append(
                f"{key} has dtype {dtype}; expected float32, float16 or float64 "
                f"(convert with .float() before saving)"
            )
    return problems


_DOC = """{summary}

    Args:
        input_shape: ``(height, width, channels)`` of one image. Any size works: every
            downsampling step pads, so 32×32 (CIFAR) images shrink to 1×1 rather than to
            nothing.
        {args}
        weights: None (random initial weights), the path of a ``.safetensors`` file
            holding a torchvision ResNet ``state_dict`` (keys ``conv1.weight``,
            ``layer1.0.bn1.running_mean``, ..., ``fc.weight``), or of an ``.onnx`` export of
            that ResNet (BatchNorms folded or not): every key and shape must match; with
            ``include_top=False`` its ``fc`` is skipped.
        padding: "same" (TensorFlow's, the default without weights) or "torch" (k // 2 on
            every side, as torchvision; the default with weights, and the only one they take).

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

    def features(padding: str) -> list[Layer]:
        # The stem: 7×7/2 convolution and 3×3/2 max-pool, a quarter of the size each way.
        stack: list[Layer] = [*_conv(64, 7, 2, "conv1", padding), _bn("bn1"), ReLU(name="relu")]
        if padding == "torch":
            # torchvision pads the max-pool by 1 with -inf. It follows a ReLU, so every value
            # is >= 0 and a zero border changes no window's maximum: zeros then "valid" is
            # exactly torchvision's result.
            stack += [
                ZeroPadding2D(1, name="maxpool_pad"),
                MaxPooling2D(3, strides=2, padding="valid", name="maxpool"),
            ]
        else:
            stack.append(MaxPooling2D(3, strides=2, padding="same", name="maxpool"))
        channels = 64
        for stage, (filters, count) in enumerate(zip((64, 128, 256, 512), repeats, strict=True), 1):
            for index in range(count):
                strides = 2 if stage > 1 and index == 0 else 1
                downsample = strides != 1 or channels != filters * block.expansion
                stack.append(
                    block(
                        filters, strides, downsample, padding=padding, name=f"layer{stage}_{index}"
                    )
                )
                channels = filters * block.expansion
        return stack

    doc = _DOC.format(summary=summary, args=ARGS, c=512 * block.expansion)
    top = lambda: [GlobalAveragePooling2D(name="avg_pool")]  # noqa: E731
    builders = {
        padding: image_classifier(where, lambda padding=padding: features(padding), top, doc)
        for padding in _PADDINGS
    }

    def constructor(
        input_shape: Any = (224, 224, 3),
        classes: int = 1000,
        include_top: bool = True,
        pooling: str | None = "avg",
        classifier_activation: Any = "softmax",
        name: str = where.lower(),
        *,
        weights: str | os.PathLike[str] | None = None,
        padding: str | None = None,
    ) -> Sequential:
        if padding is None:
            padding = "same" if weights is None else "torch"
        padding = _check_padding(where, padding)
        if weights is not None and padding != "torch":
            raise ValueError(
                f"{where}: torchvision's weights need padding='torch' (its windows sit one pixel "
                f"off TensorFlow's 'same'). Received: padding={padding!r} with weights."
            )
        model = builders[padding](
            input_shape, classes, include_top, pooling, classifier_activation, name
        )
        if weights is not None:
            _load_torchvision(where, model, weights, include_top)
        return model

    constructor.__name__ = constructor.__qualname__ = where
    constructor.__module__ = __name__
    constructor.__doc__ = doc
    return constructor


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
