"""ONNX import: ``import_onnx("model.onnx")`` builds a glassnet model, weights included, from an
ONNX graph (exported by glassnet, PyTorch, Keras, ...).

The result is made of registered glassnet layers, so it trains, summarises, saves and serves
like any other model: a plain chain becomes a ``Sequential``; anything else (skip connections,
branches, a transpose in the middle) becomes an ``OnnxGraph``, a ``Model`` whose config is the
node list (JSON) and whose weights live in ordinary sub-layers (``Conv2D``, ``Dense``, ...).

Layout: glassnet stays channels-last inside. An ONNX image tensor (N, C, H, W) is held as
(N, H, W, C) (a volume (N, C, D, H, W) as (N, D, H, W, C), for ``Conv3D`` and the 3-D pools)
and every operator is translated for that layout (Conv kernels become
(kh, kw, in, out), Concat/Softmax/Slice axes are renumbered, constants are permuted), so
convolutions run at glassnet's native speed with no transposes around each of them. A graph
whose 4-D input is NCHW (PyTorch's) therefore takes NHWC images in glassnet, as every glassnet
model does: ``model.predict(x_nchw.transpose(0, 2, 3, 1))``. The one place a transpose is kept
is a ``Flatten`` (or ``Reshape``) of a channels-first feature map larger than 1×1, since the
Dense weights after it expect PyTorch's (C, H, W) feature order: one Transpose of that map per
image, small next to the convolutions.

Attention (glassnet's own ``MultiHeadAttention``, ``Attention``, ``AdditiveAttention`` exports)
comes back as the general ops it is written in: each projection (MatMul by a constant, then
Add) a ``Dense`` layer, the heads' products ``matmul`` nodes, the masks ``equal``/``not``/
``and``/``cast`` nodes read by ``where``, all glassnet ops, so the model trains and a replayed
step recomputes the masks. A node whose inputs are all constants (the causal triangle
unsqueezed) is computed once, at import.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
from collections import Counter
from typing import Any

import numpy as np

from glassnet import ops
from glassnet.export.onnx_text import layer_groups, read_layer
from glassnet.layers import (
    ELU,
    Activation,
    Add,
    AveragePooling2D,
    AveragePooling3D,
    BatchNormalization,
    Concatenate,
    Conv1D,
    Conv1DTranspose,
    Conv2D,
    Conv2DTranspose,
    Conv3D,
    Dense,
    DepthwiseConv1D,
    DepthwiseConv2D,
    Dot,
    Embedding,
    Flatten,
    GlobalAveragePooling2D,
    GlobalAveragePooling3D,
    GlobalMaxPooling2D,
    GlobalMaxPooling3D,
    Input,
    Layer,
    LayerNormalization,
    LeakyReLU,
    MaxPooling2D,
    MaxPooling3D,
    PReLU,
    ReLU,
    RepeatVector,
    Rescaling,
    Reshape,
    Resizing,
    Softmax,
    UpSampling2D,
    UpSampling3D,
    deserialize,
    serialize,
)
from glassnet.models import Model, Sequential
from glassnet.models.saving import MAX_INPUT_VALUES
from glassnet.ops.activation import SELU_ALPHA, SELU_SCALE
from glassnet.ops.conv import conv1d_pads, resolve_padding
from glassnet.ops.conv_transpose import conv_transpose_crop, conv_transpose_output_length
from glassnet.ops.pooling import AvgPoolOp, MaxPoolOp
from glassnet.tensor import Tensor

__all__ = ["SUPPORTED_OPS", "OnnxGraph", "import_onnx"]

_CL3 = [0, 2, 1]  # a sequence: ONNX (N, C, L) held as glassnet's (N, L, C), and back
_HELD_RANKS = (4, 5)  # images (N, C, H, W) and volumes (N, C, D, H, W), held channels-last


def _to_last(ndim: int) -> list[int]:
    """Stored (channels-last) axis j holds ONNX axis ``_to_last(ndim)[j]``: [0, 2, 3, 1] for an
    image, [0, 2, 3, 4, 1] for a volume (also the Transpose perm NCHW -> NHWC)."""
    return [0, *range(2, ndim), 1]


def _to_first(ndim: int) -> list[int]:
    """ONNX axis a is stored at axis ``_to_first(ndim)[a]``: [0, 3, 1, 2] for an image, [0, 4,
    1, 2, 3] for a volume (also the Transpose perm NHWC -> NCHW)."""
    return [0, ndim - 1, *range(1, ndim - 1)]


#: Numbers the tensors of one sample may hold, each and all together (the cap ``load_model``
#: puts on a model's input, ``saving.MAX_INPUT_VALUES``). Importing runs a zero sample through
#: the graph and keeps every tensor of it, so a file of a few bytes with one Pad of 40,000
#: would otherwise ask for tens of GiB; sizes are checked from the shapes, before allocating.
MAX_IMPORT_VALUES = MAX_INPUT_VALUES

SUPPORTED_OPS = (
    "Add And AveragePool BatchNormalization Cast Clip Concat Constant Conv ConvTranspose Div "
    "Dropout Elu Equal Exp Flatten Gather Gemm GlobalAveragePool GlobalMaxPool HardSigmoid "
    "HardSwish Identity LayerNormalization LeakyRelu MatMul Max MaxPool Mish Mul Not Or PRelu "
    "Pad ReduceL2 ReduceMean ReduceSum Relu Reshape Resize Selu Sigmoid Slice Softmax "
    "Softplus Softsign Sqrt Squeeze Sub Tanh Tile Transpose Unsqueeze Where"
).split()


class OnnxGraph(Model):
    """A network imported from ONNX that is not a plain chain: runs ``nodes`` in order.

    Each node is a JSON object ``{"op", "inputs", "output", ...attributes}``; ``op`` is
    ``"layer"`` (apply ``parts[index]``, a glassnet layer holding the weights), or one of the
    weightless operations ``transpose``, ``pad``, ``reshape``, ``slice``, ``gather``, ``add``,
    ``sub``, ``mul``, ``div``, ``max``, ``sqrt``, ``matmul`` (batched over the leading axes),
    ``where``, ``equal``, ``and``, ``or``, ``not``, ``cast``, ``reduce_mean``, ``reduce_l2``,
    ``reduce_sum``, ``max_pool``, ``avg_pool``, ``identity``, each one glassnet op. Small
    constants are stored in ``constants`` (name -> nested list; bool masks stay bool, the rest
    is float32). Tensors are channels-last (see the module docstring).

    Args:
        nodes: the node list. parts: the layers, in index order. constants: name -> values.
        input_name, output_name: the graph's input and output tensor names.
    """

    def __init__(
        self,
        nodes: list[dict[str, Any]],
        parts: list[Layer],
        constants: dict[str, Any] | None = None,
        input_name: str = "input",
        output_name: str = "output",
        *,
        name: str | None = None,
        trainable: bool = True,
    ) -> None:
        super().__init__(name=name, trainable=trainable)
        self.nodes = [dict(n) for n in nodes]
        self.parts = list(parts)
        self.constants = {k: _constant(v) for k, v in (constants or {}).items()}
        self.input_name, self.output_name = input_name, output_name

    def call(self, x: Tensor, training: bool = False) -> Tensor:
        env: dict[str, Any] = {self.input_name: x}
        env.update({k: Tensor(v) for k, v in self.constants.items()})
        for node in self.nodes:
            args = [env[name] for name in node["inputs"]]
            env[node["output"]] = _run(self, node, args, training)
        return env[self.output_name]

    def get_config(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "trainable": self.trainable,
            "nodes": self.nodes,
            "parts": [serialize(layer) for layer in self.parts],
            "constants": {k: v.tolist() for k, v in self.constants.items()},
            "input_name": self.input_name,
            "output_name": self.output_name,
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> OnnxGraph:
        config = dict(config)
        config["parts"] = [deserialize(item) for item in config.get("parts", [])]
        return cls(**config)


def _constant(values: Any) -> np.ndarray:
    """A stored constant as an array: a bool mask (the causal triangle) stays bool, anything
    else is float32."""
    array = np.asarray(values)
    return array if array.dtype == bool else array.astype(np.float32)


#: The weightless node ops that are one glassnet op of all their inputs, by node op.
_NODE_OPS = {
    "add": ops.add,
    "sub": ops.sub,
    "mul": ops.mul,
    "div": ops.div,
    "max": ops.maximum,
    "matmul": ops.matmul,
    "where": ops.where,
    "equal": ops.equal,
    "and": ops.logical_and,
    "or": ops.logical_or,
    "not": ops.logical_not,
    "sqrt": ops.sqrt,
}


def _run(graph: OnnxGraph, node: dict[str, Any], args: list[Any], training: bool) -> Any:
    op = node["op"]
    if op == "layer":
        layer = graph.parts[node["index"]]
        return layer(args if node.get("multi") else args[0], training=training)
    x = args[0]
    if op == "identity":
        return x
    if op == "transpose":
        return ops.transpose(x, tuple(node["perm"]))
    if op == "pad":
        pads = tuple(tuple(p) for p in node["pads"])
        if len(pads) == x.ndim:
            padded = [n + sum(p) for n, p in zip(x.shape[1:], pads[1:], strict=True)]
            _check_size(f"OnnxGraph '{graph.name}': pad node {node['output']!r}", padded)
        return ops.pad(x, pads, value=node.get("value", 0.0))
    if op == "reshape":
        return ops.reshape(x, (x.shape[0], *node["shape"]))
    if op == "slice":
        return ops.getitem(x, tuple(slice(*s) for s in node["slices"]))
    if op == "gather":  # constant indices along a sample's axis
        where = (slice(None),) * node["axis"] + (np.asarray(node["indices"], np.int64),)
        return ops.getitem(x, where)
    if op in ("add", "sub", "mul", "div", "max", "where", "equal", "and", "or"):
        shape = np.broadcast_shapes(*(a.shape for a in args))
        _check_size(f"OnnxGraph '{graph.name}': {op} node {node['output']!r}", shape[1:])
    if op == "matmul":
        shape = (
            *np.broadcast_shapes(x.shape[:-2], args[1].shape[:-2]),
            x.shape[-2],
            args[1].shape[-1],
        )
        _check_size(f"OnnxGraph '{graph.name}': matmul node {node['output']!r}", shape[1:])
    if op in _NODE_OPS:
        return _NODE_OPS[op](*args)
    if op == "cast":
        return ops.cast(x, node["dtype"])
    if op == "reduce_sum":
        return ops.sum(x, axis=tuple(node["axes"]), keepdims=bool(node["keepdims"]))
    if op == "reduce_mean":
        return ops.mean(x, axis=tuple(node["axes"]), keepdims=bool(node["keepdims"]))
    if op == "reduce_l2":
        return ops.sqrt(ops.sum(x * x, axis=tuple(node["axes"]), keepdims=bool(node["keepdims"])))
    if op in ("max_pool", "avg_pool"):
        pads = tuple(tuple(p) for p in node["pads"])
        cls = MaxPoolOp if op == "max_pool" else AvgPoolOp
        return cls.apply(x, pool=tuple(node["pool"]), stride=tuple(node["stride"]), pads=pads)
    raise ValueError(f"OnnxGraph '{graph.name}': unknown node op {op!r}.")


def _check_size(where: str, dims: Any, budget: int = MAX_IMPORT_VALUES) -> int:
    """The number of values in ``dims`` (one sample's; None counts as 1), or a ValueError
    naming ``where`` when it is beyond ``budget``."""
    if any(d is not None and d < 0 for d in dims):
        raise ValueError(
            f"{where} makes a tensor of shape {tuple(dims)}, with a negative size: check the "
            f"node's pads (negative pads crop, which glassnet does not import: use a Slice)."
        )
    count = math.prod(int(d) for d in dims if d is not None)
    if count > budget:
        raise ValueError(
            f"{where} makes a tensor of shape {tuple(dims)}, {count:,} numbers per sample, "
            f"taking the model past the {MAX_IMPORT_VALUES:,} numbers per sample glassnet "
            f"imports. Refused before allocating it: check the node's sizes and pads; if the "
            f"model is genuine, export it for a smaller input."
        )
    return count


# --------------------------------------------------------------------------- conversion
class _Tensor:
    """An ONNX tensor as the converter sees it: the glassnet name, the stored shape and whether
    it is a channels-first ONNX image held channels-last (``cl``)."""

    def __init__(self, name: str, shape: tuple[int | None, ...], cl: bool = False) -> None:
        self.name, self.shape, self.cl = name, tuple(shape), cl

    @property
    def onnx_shape(self) -> tuple[int | None, ...]:
        if not self.cl:
            return self.shape
        perm = _to_first(len(self.shape))
        return tuple(self.shape[perm[a]] for a in range(len(self.shape)))


class _Builder:
    def __init__(self, onnx: Any, proto: Any) -> None:
        self.nodes: list[dict[str, Any]] = []
        self.parts: list[Layer] = []
        self.weights: list[dict[str, np.ndarray]] = []
        self.consts: dict[str, np.ndarray] = {}  # ONNX constants (initializers, Constant)
        self.used_consts: dict[str, np.ndarray] = {}  # those the graph needs at run time
        self.values: dict[str, _Tensor] = {}
        self._count = 0
        self.node: Any = None  # the ONNX node being converted, for messages
        self.onnx = onnx
        self.values_left = MAX_IMPORT_VALUES  # what the zero sample run by build may hold
        # how many nodes (and graph outputs) read each ONNX tensor
        self.uses = Counter(name for n in proto.graph.node for name in n.input)
        self.uses.update(out.name for out in proto.graph.output)
        for init in proto.graph.initializer:
            self.consts[init.name] = self.array(onnx, init, f"initializer '{init.name}'")

    def array(self, onnx: Any, tensor: Any, where: str) -> np.ndarray:
        """An ONNX TensorProto as an array, its size checked from its dims first."""
        _check_size(f"import_onnx: {where}", tensor.dims)
        return onnx.numpy_helper.to_array(tensor)

    def claim(self, t: _Tensor) -> None:
        """Count the tensor ``t`` against the budget, or refuse it naming the ONNX node."""
        where = "the graph's input"
        if self.node is not None:
            where = f"{self.node.op_type} '{self.node.name or self.node.output[0]}'"
        self.values_left -= _check_size(f"import_onnx: {where}", t.onnx_shape, self.values_left)

    def uses_of(self, name: str) -> int:
        """How many ONNX nodes read the tensor held under the glassnet ``name``."""
        return sum(self.uses[k] for k, t in self.values.items() if t.name == name)

    def fresh(self, hint: str) -> str:
        self._count += 1
        return f"{hint}:{self._count}"

    def emit(
        self, op: str, inputs: list[_Tensor], shape: Any, cl: bool, /, **attrs: Any
    ) -> _Tensor:
        out = _Tensor(self.fresh(op if op != "layer" else type(attrs["layer"]).__name__), shape, cl)
        self.claim(out)
        node: dict[str, Any] = {"op": op, "inputs": [t.name for t in inputs], "output": out.name}
        if op == "layer":
            layer, weights = attrs.pop("layer"), attrs.pop("weights", {})
            node["index"] = len(self.parts)
            self.parts.append(layer)
            self.weights.append(weights)
        node.update(attrs)
        self.nodes.append(node)
        return out

    def layer(self, layer: Layer, inputs: list[_Tensor], cl: bool, **weights: Any) -> _Tensor:
        shapes = [t.shape for t in inputs]
        shape = layer.compute_output_shape(shapes if len(inputs) > 1 else shapes[0])
        multi = {"multi": True} if getattr(layer, "_multi_input", False) else {}
        return self.emit("layer", inputs, tuple(shape), cl, layer=layer, weights=weights, **multi)

    def plain(self, t: _Tensor) -> _Tensor:
        """``t`` in ONNX's own axis order."""
        if not t.cl:
            return t
        return self.emit("transpose", [t], t.onnx_shape, False, perm=_to_first(len(t.shape)))

    def channels_last(self, t: _Tensor) -> _Tensor:
        """A 4-D ONNX image (or a 5-D volume) ``t`` held channels-last."""
        if t.cl:
            return t
        if len(t.shape) not in _HELD_RANKS:
            raise ValueError(
                f"import_onnx: expected a 4-D image or a 5-D volume tensor, got shape {t.shape}."
            )
        perm = _to_last(len(t.shape))
        return self.emit("transpose", [t], tuple(t.shape[a] for a in perm), True, perm=perm)

    def const(self, name: str) -> np.ndarray | None:
        return self.consts.get(name)

    def constant(self, value: Any) -> _Tensor:
        """The ONNX constant ``value`` as a tensor of the graph (stored in the model's
        ``constants``: bool stays bool, the rest becomes float32), in ONNX's own axis order."""
        name = self.fresh("const")
        self.used_consts[name] = _constant(value)
        return _Tensor(name, np.shape(value))

    def tensors(self, ins: list[Any]) -> list[_Tensor]:
        """``ins`` (tensors and constants) as tensors of the graph in ONNX's axis order."""
        return [self.plain(t) if isinstance(t, _Tensor) else self.constant(t) for t in ins]


def _attrs(onnx: Any, node: Any) -> dict[str, Any]:
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def _pads_hw(attrs: dict[str, Any], rank: int = 2) -> tuple[tuple[int, int], ...]:
    """ONNX's pads [x1_begin, x2_begin, ..., x1_end, ...] as one (begin, end) pair per spatial
    axis: ((top, bottom), (left, right)) for an image, the depth's pair first for a volume."""
    if attrs.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET", b"VALID", "VALID"):
        raise ValueError("import_onnx: auto_pad SAME_UPPER/SAME_LOWER is not supported.")
    p = list(attrs.get("pads", [0] * (2 * rank)))
    return tuple((int(p[a]), int(p[a + rank])) for a in range(rank))


def _padding_mode(pads: Any, hw: Any, k: Any, s: Any, d: Any) -> str | None:
    """ "valid" or "same" when the explicit pads are exactly that, else None."""
    if all(pair == (0, 0) for pair in pads):
        return "valid"
    if resolve_padding(hw, k, s, "same", d) == tuple(pads):
        return "same"
    return None


def _pad_hw(b: _Builder, x: _Tensor, pads: Any) -> _Tensor:
    """The channels-last image ``x`` padded with ((top, bottom), (left, right)) zeros (a
    volume with its ((front, back), ...) as well)."""
    sizes = [n + sum(p) for n, p in zip(x.shape[1:-1], pads, strict=True)]
    pairs = [[0, 0], *(list(p) for p in pads), [0, 0]]
    return b.emit("pad", [x], (x.shape[0], *sizes, x.shape[-1]), True, pads=pairs)


def _conv(b: _Builder, node: Any, attrs: dict[str, Any], ins: list[_Tensor]) -> _Tensor:
    w = b.const(node.input[1])
    bias = b.const(node.input[2]) if len(node.input) > 2 and node.input[2] else None
    group = int(attrs.get("group", 1))
    if w is not None and w.ndim == 3:
        return _conv1d(b, node, attrs, ins[0], w, bias, group)
    if w is not None and w.ndim == 5:
        return _conv3d(b, node, attrs, b.channels_last(ins[0]), w, bias, group)
    x = b.channels_last(ins[0])
    depthwise = w is not None and w.ndim == 4 and group == x.shape[3] and w.shape[1] == 1
    if w is None or w.ndim != 4 or (group != 1 and not depthwise):
        raise ValueError(
            f"import_onnx: Conv '{node.name}' needs a constant 3-D, 4-D or 5-D kernel and group=1, "
            f"or group = channels with one input channel per group (depthwise); other grouped "
            f"convolutions are not supported."
        )
    k = tuple(int(v) for v in w.shape[2:])
    s = tuple(int(v) for v in attrs.get("strides", [1, 1]))
    d = tuple(int(v) for v in attrs.get("dilations", [1, 1]))
    pads = _pads_hw(attrs)
    mode = _padding_mode(pads, x.shape[1:3], k, s, d)
    if mode is None:
        x = _pad_hw(b, x, pads)
        mode = "valid"
    use_bias = bias is not None
    if depthwise:  # (C·m, 1, kh, kw) -> (kh, kw, C, m): output channel c·m + j in both
        c = int(x.shape[3])
        m = int(w.shape[0]) // c
        layer: Layer = DepthwiseConv2D(
            k, strides=s, padding=mode, depth_multiplier=m, dilation_rate=d, use_bias=use_bias
        )
        weights = {"kernel": w[:, 0].transpose(1, 2, 0).reshape(*k, c, m)}
    else:
        layer = Conv2D(
            int(w.shape[0]), k, strides=s, padding=mode, dilation_rate=d, use_bias=use_bias
        )
        weights = {"kernel": np.transpose(w, (2, 3, 1, 0))}
    if bias is not None:
        weights["bias"] = bias
    return b.layer(layer, [x], True, **weights)


def _conv3d(
    b: _Builder, node: Any, attrs: dict[str, Any], x: _Tensor, w: Any, bias: Any, group: int
) -> _Tensor:
    """A 3-D Conv on an ONNX (N, C, D, H, W) volume held (N, D, H, W, C): a ``Conv3D`` with the
    kernel (F, C, kd, kh, kw) as Keras's (kd, kh, kw, C, F); pads that are not "valid" or
    "same" become a pad node before it."""
    if group != 1:
        raise ValueError(
            f"import_onnx: Conv '{node.name}' (3-D) has group={group}: only group=1 is "
            f"supported for volumes (Conv3D has no groups)."
        )
    k = tuple(int(v) for v in w.shape[2:])
    s = tuple(int(v) for v in attrs.get("strides", [1, 1, 1]))
    d = tuple(int(v) for v in attrs.get("dilations", [1, 1, 1]))
    pads = _pads_hw(attrs, rank=3)
    mode = _padding_mode(pads, x.shape[1:4], k, s, d)
    if mode is None:
        x = _pad_hw(b, x, pads)
        mode = "valid"
    layer = Conv3D(
        int(w.shape[0]), k, strides=s, padding=mode, dilation_rate=d, use_bias=bias is not None
    )
    weights = {"kernel": np.transpose(w, (2, 3, 4, 1, 0))}
    if bias is not None:
        weights["bias"] = bias
    return b.layer(layer, [x], True, **weights)


def _held(b: _Builder, node: Any, x: _Tensor) -> _Tensor:
    """The ONNX (N, C, L) sequence ``x`` held as (N, L, C), as the 1-D layers take it."""
    if len(x.shape) != 3:
        raise ValueError(f"import_onnx: {node.op_type} '{node.name}' (1-D) needs a 3-D input.")
    if x.cl:
        return x
    return b.emit("transpose", [x], tuple(x.shape[a] for a in _CL3), True, perm=_CL3)


def _conv1d(
    b: _Builder, node: Any, attrs: dict[str, Any], x: _Tensor, w: Any, bias: Any, group: int
) -> _Tensor:
    """A 1-D Conv on an ONNX (N, C, L) sequence: a ``Conv1D`` (``DepthwiseConv1D`` for group =
    channels) on it held as (N, L, C) (a Transpose(0, 2, 1) before it is only a relabelling, so
    glassnet's own exports import without transposes); pads that are not "valid", "same" or
    "causal" become a pad node."""
    x = _held(b, node, x)
    channels = int(x.shape[2])
    depthwise = group != 1
    if depthwise and (group != channels or w.shape[1] != 1):
        raise ValueError(
            f"import_onnx: Conv '{node.name}' has group={group}: only group=1 or group = "
            f"channels ({channels}) with one input channel per group (depthwise) is supported."
        )
    if attrs.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET", b"VALID", "VALID"):
        raise ValueError("import_onnx: auto_pad SAME_UPPER/SAME_LOWER is not supported.")
    k, s, d = (
        int(w.shape[2]),
        int(attrs.get("strides", [1])[0]),
        int(attrs.get("dilations", [1])[0]),
    )
    pads = tuple(int(v) for v in attrs.get("pads", [0, 0]))
    modes = ("valid", "causal") if x.shape[1] is None else ("valid", "same", "causal")
    modes = modes[:-1] if depthwise else modes  # DepthwiseConv1D has no "causal"
    mode = next((m for m in modes if conv1d_pads(x.shape[1], k, s, m, d) == pads), None)
    if mode is None:
        shape = (x.shape[0], x.shape[1] + sum(pads), x.shape[2])
        x = b.emit("pad", [x], shape, True, pads=[[0, 0], list(pads), [0, 0]])
        mode = "valid"
    use_bias = bias is not None
    if depthwise:  # (C·m, 1, k) -> (k, C, m): output channel c·m + j in both
        m = int(w.shape[0]) // channels
        layer: Layer = DepthwiseConv1D(
            k, strides=s, padding=mode, depth_multiplier=m, dilation_rate=d, use_bias=use_bias
        )
        weights = {"kernel": w[:, 0].T.reshape(k, channels, m)}
    else:
        layer = Conv1D(
            int(w.shape[0]), k, strides=s, padding=mode, dilation_rate=d, use_bias=use_bias
        )
        weights = {"kernel": np.transpose(w, (2, 1, 0))}
    if bias is not None:
        weights["bias"] = bias
    return b.layer(layer, [x], True, **weights)


def _conv_transpose(b: _Builder, node: Any, attrs: dict[str, Any], ins: list[_Tensor]) -> _Tensor:
    """ConvTranspose as a ``Conv2DTranspose``: with Keras's "valid" or "same" where the ONNX
    sizes and crop are one of those (glassnet's own exports), else as "valid" with the whole
    canvas (output_padding for rows past it) and a slice for the crop (PyTorch's symmetric
    ``padding``)."""
    w = b.const(node.input[1])
    bias = b.const(node.input[2]) if len(node.input) > 2 and node.input[2] else None
    if w is None or w.ndim not in (3, 4) or attrs.get("group", 1) != 1 or "output_shape" in attrs:
        raise ValueError(
            f"import_onnx: ConvTranspose '{node.name}' needs a constant 3-D or 4-D kernel, "
            f"group=1 and no output_shape attribute."
        )
    if w.ndim == 3:
        return _conv_transpose1d(b, node, attrs, _held(b, node, ins[0]), w, bias)
    x = b.channels_last(ins[0])
    k = tuple(int(v) for v in w.shape[2:])
    s = tuple(int(v) for v in attrs.get("strides", [1, 1]))
    d = tuple(int(v) for v in attrs.get("dilations", [1, 1]))
    extra = tuple(int(v) for v in attrs.get("output_padding", [0, 0]))
    (top, bottom), (left, right) = _pads_hw(attrs)
    begin, end = (top, left), (bottom, right)
    canvas = [(x.shape[1 + a] - 1) * s[a] + (k[a] - 1) * d[a] + 1 for a in (0, 1)]
    out = [canvas[a] + extra[a] - begin[a] - end[a] for a in (0, 1)]

    def keras_fits(padding: str, output_padding: Any) -> bool:
        op = output_padding or (None, None)
        return all(
            conv_transpose_output_length(x.shape[1 + a], k[a], s[a], padding, op[a], d[a]) == out[a]
            and conv_transpose_crop(x.shape[1 + a], out[a], k[a], s[a], padding, d[a]) == begin[a]
            for a in (0, 1)
        )

    choices = [(p, op) for p in ("valid", "same") for op in (None, extra)]
    padding, output_padding = next(
        ((p, op) for p, op in choices if keras_fits(p, op)), (None, None)
    )
    crop = padding is None
    if crop:  # the whole canvas, then the window ONNX keeps
        padding = "valid"
        output_padding = tuple(max(0, begin[a] + out[a] - canvas[a]) for a in (0, 1))
    layer = Conv2DTranspose(
        int(w.shape[1]),
        k,
        strides=s,
        padding=padding,
        output_padding=output_padding,
        dilation_rate=d,
        use_bias=bias is not None,
    )
    weights = {"kernel": np.transpose(w, (2, 3, 1, 0))}
    if bias is not None:
        weights["bias"] = bias
    y = b.layer(layer, [x], True, **weights)
    if not crop:
        return y
    slices = [
        [None, None, None],
        [begin[0], begin[0] + out[0], 1],
        [begin[1], begin[1] + out[1], 1],
        [None, None, None],
    ]
    return b.emit("slice", [y], (y.shape[0], *out, y.shape[3]), True, slices=slices)


def _keras_transpose(size: int, out: int, begin: int, k: int, s: int, d: int, extra: int) -> Any:
    """The (padding, output_padding) of Keras whose output has ``out`` pixels from canvas
    pixel ``begin`` on, or None."""
    for padding in ("valid", "same"):
        for op in (None, extra):
            length = conv_transpose_output_length(size, k, s, padding, op, d)
            if length == out and conv_transpose_crop(size, out, k, s, padding, d) == begin:
                return padding, op
    return None


def _conv_transpose1d(
    b: _Builder, node: Any, attrs: dict[str, Any], x: _Tensor, w: Any, bias: Any
) -> _Tensor:
    """A 1-D ConvTranspose as a ``Conv1DTranspose`` on the sequence held (N, L, C), chosen as
    the 2-D one is (``_conv_transpose``)."""
    k, size = int(w.shape[2]), int(x.shape[1])
    s, d = int(attrs.get("strides", [1])[0]), int(attrs.get("dilations", [1])[0])
    extra = int(attrs.get("output_padding", [0])[0])
    begin, end = (int(v) for v in attrs.get("pads", [0, 0]))
    canvas = (size - 1) * s + (k - 1) * d + 1
    out = canvas + extra - begin - end
    keras = _keras_transpose(size, out, begin, k, s, d, extra)
    padding, output_padding = keras or ("valid", max(0, begin + out - canvas))
    layer = Conv1DTranspose(
        int(w.shape[1]),
        k,
        strides=s,
        padding=padding,
        output_padding=output_padding,
        dilation_rate=d,
        use_bias=bias is not None,
    )
    weights = {"kernel": np.transpose(w, (2, 1, 0))}
    if bias is not None:
        weights["bias"] = bias
    y = b.layer(layer, [x], True, **weights)
    if keras is not None:
        return y
    slices = [[None, None, None], [begin, begin + out, 1], [None, None, None]]
    return b.emit("slice", [y], (y.shape[0], out, y.shape[2]), True, slices=slices)


def _pool(b: _Builder, node: Any, attrs: dict[str, Any], ins: list[_Tensor]) -> _Tensor:
    """MaxPool / AveragePool over an image or a volume: a pooling layer where the pads are
    Keras's "valid" or "same", else the op on explicit pads (a node)."""
    x = b.channels_last(ins[0])
    k = tuple(int(v) for v in attrs["kernel_shape"])
    rank = len(k)
    if attrs.get("ceil_mode", 0) or any(v != 1 for v in attrs.get("dilations", [1] * rank)):
        raise ValueError(f"import_onnx: {node.op_type} with ceil_mode or dilations: unsupported.")
    if rank != len(x.shape) - 2:
        raise ValueError(
            f"import_onnx: {node.op_type} '{node.name}' has a {rank}-D kernel for a "
            f"{len(x.shape)}-D input."
        )
    s = tuple(int(v) for v in attrs.get("strides", [1] * rank))
    pads = _pads_hw(attrs, rank)
    is_max = node.op_type == "MaxPool"
    include_pad = not is_max and attrs.get("count_include_pad", 0) == 1
    mode = _padding_mode(pads, x.shape[1:-1], k, s, (1,) * rank)
    if mode == "valid" or (mode == "same" and not include_pad):
        classes = (
            (MaxPooling2D, AveragePooling2D) if rank == 2 else (MaxPooling3D, AveragePooling3D)
        )
        layer = classes[0 if is_max else 1](k, strides=s, padding=mode)
        return b.layer(layer, [x], True)
    if include_pad:  # zeros count in the mean: pad first, then average valid windows
        x = _pad_hw(b, x, pads)
        pads = ((0, 0),) * rank
    out_hw = tuple((x.shape[1 + i] + sum(pads[i]) - k[i]) // s[i] + 1 for i in range(rank))
    op = "max_pool" if is_max else "avg_pool"
    shape = (x.shape[0], *out_hw, x.shape[-1])
    return b.emit(op, [x], shape, True, pool=list(k), stride=list(s), pads=[list(p) for p in pads])


def _elementwise(b: _Builder, node: Any, attrs: dict[str, Any], ins: list[Any]) -> _Tensor:
    """Add/Sub/Mul/Div of two tensors, or of a tensor and a constant (then permuted to the
    tensor's layout); a scalar Mul/Add becomes a ``Rescaling`` layer."""
    op = node.op_type.lower()
    tensors = [t for t in ins if isinstance(t, _Tensor)]
    if op == "mul" and len(tensors) == 2:
        gated = _gated(b, node)
        if gated is not None:
            return gated
    if len(tensors) == 2:
        a, c = tensors
        c = b.channels_last(c) if a.cl else b.plain(c)
        if op == "add" and a.shape == c.shape:
            return b.layer(Add(), [a, c], a.cl)
        known = [tuple(d or 1 for d in t.shape) for t in (a, c)]  # the batch axis is None
        shape = tuple(np.broadcast_shapes(*known))
        return b.emit(op, [a, c], (None, *shape[1:]), a.cl)
    (x,) = tensors
    const = next(np.asarray(v, np.float32) for v in ins if not isinstance(v, _Tensor))
    if const.size == 1 and op in ("mul", "add", "sub", "div") and ins[0] is x:
        v = float(const.reshape(()))
        affine = {"mul": (v, 0.0), "add": (1.0, v), "sub": (1.0, -v), "div": (1 / v, 0.0)}
        scale, offset = affine[op]
        return b.layer(Rescaling(scale, offset), [x], x.cl)
    if op == "add":
        dense = _bias_of(b, x, const)
        if dense is not None:
            return dense
    if x.cl:
        ndim = len(x.shape)
        const = np.transpose(
            const.reshape((1,) * (ndim - const.ndim) + const.shape), _to_last(ndim)
        )
    name = b.fresh("const")
    b.used_consts[name] = const
    c = _Tensor(name, const.shape)
    pair = [x, c] if ins[0] is x else [c, x]
    shape = tuple(np.broadcast_shapes(tuple(d or 1 for d in x.shape), const.shape))
    return b.emit(op, pair, (None, *shape[1:]), x.cl)


def _bias_of(b: _Builder, x: _Tensor, bias: np.ndarray) -> _Tensor | None:
    """x + bias where x is the output of the last Dense emitted, without a bias and read by
    nothing else (MatMul then Add: how a projection of a sequence is written, by glassnet's
    attention exporters and PyTorch's Linear alike): that Dense again with ``bias`` as its
    own, so the bias trains with the kernel; None otherwise."""
    last = b.nodes[-1] if b.nodes else None
    if last is None or last["op"] != "layer" or last["output"] != x.name or x.cl:
        return None
    dense = b.parts[last["index"]]
    units = getattr(dense, "units", None)
    if type(dense) is not Dense or dense.use_bias or b.uses_of(x.name) != 1:
        return None
    if bias.size != units or bias.shape[-1:] != (units,) or bias.ndim > len(x.shape):
        return None
    kernel = b.weights[-1]["kernel"]
    source = _Tensor(last["inputs"][0], (*x.shape[:-1], kernel.shape[0]))  # Dense's input
    del b.nodes[-1], b.parts[-1], b.weights[-1]
    layer = Dense(units, use_bias=True)
    return b.layer(layer, [source], False, kernel=kernel, bias=bias.reshape(units))


#: x · gate(x) activations: the activations that make the gate from x, in the order applied.
_GATES = {"silu": ("sigmoid",), "mish": ("softplus", "tanh")}


def _gated(b: _Builder, node: Any) -> _Tensor | None:
    """Mul(x, gate(x)) as one ``Activation``: swish (x · Sigmoid(x), how PyTorch and glassnet
    write SiLU) or Mish (x · Tanh(Softplus(x)) before opset 18). The gate's layers are the
    last ones emitted and read by nothing else, so they are taken back; None otherwise."""
    for gate, x in (node.input, reversed(node.input)):
        if gate not in b.values or x not in b.values:
            continue
        source, out = b.values[x], b.values[gate]
        for name, chain in _GATES.items():
            steps = len(chain)
            emitted = b.nodes[-steps:] if len(b.nodes) >= steps else []
            wanted = [source.name] + [n["output"] for n in emitted[:-1]]
            fits = (
                len(emitted) == steps
                and emitted[-1]["output"] == out.name
                and all(
                    n["op"] == "layer"
                    and n["inputs"] == [want]
                    and isinstance(b.parts[n["index"]], Activation)
                    and b.parts[n["index"]].get_config()["activation"] == kind
                    and b.uses_of(n["output"]) == 1
                    for n, want, kind in zip(emitted, wanted, chain, strict=True)
                )
            )
            if fits:
                del b.nodes[-steps:], b.parts[-steps:], b.weights[-steps:]
                return b.layer(Activation(name), [source], source.cl)
    return None


def _flatten(b: _Builder, node: Any, attrs: dict[str, Any], ins: list[_Tensor]) -> _Tensor:
    x = ins[0]
    if attrs.get("axis", 1) != 1:
        raise ValueError(f"import_onnx: Flatten '{node.name}' with axis != 1 is not supported.")
    if x.cl and not _one_pixel(x):  # (C, H, W) order, as in ONNX
        x = b.plain(x)
    return b.layer(Flatten(), [x], False)


def _one_pixel(x: _Tensor) -> bool:
    """Whether the held image (or volume) ``x`` is 1×1 (1×1×1): then its channels-last and
    channels-first orders flatten alike."""
    return all(size == 1 for size in x.shape[1:-1])


def _reshape(b: _Builder, node: Any, attrs: dict[str, Any], ins: list[_Tensor]) -> _Tensor:
    x = ins[0]
    target = b.const(node.input[1])
    if target is None:
        raise ValueError(f"import_onnx: Reshape '{node.name}' needs a constant shape.")
    if x.cl and not _one_pixel(x):
        x = b.plain(x)
    onnx_shape = x.onnx_shape
    # 0 copies the input's size there; the batch's (None) is then whatever the batch is: -1
    copied = [-1 if d is None else int(d) for d in onnx_shape]
    target = [copied[i] if v == 0 else int(v) for i, v in enumerate(target)]
    if target[0] not in (-1,) and target[0] != onnx_shape[0] and onnx_shape[0] is not None:
        raise ValueError(f"import_onnx: Reshape '{node.name}' must keep the batch axis.")
    if len(target) > 1 and target[0] == -1 and -1 not in target[1:]:
        target = target[1:]
    elif target[0] in (-1, onnx_shape[0]) or onnx_shape[0] is None:
        target = target[1:]
    return b.layer(Reshape(tuple(target)), [x], False)


def _gemm(b: _Builder, node: Any, attrs: dict[str, Any], ins: list[_Tensor]) -> _Tensor:
    if node.op_type == "MatMul" and len(ins) == 2:
        return _batched_matmul(b, node, ins)
    x = b.plain(ins[0])
    w = b.const(node.input[1])
    if w is None or attrs.get("transA", 0):
        raise ValueError(f"import_onnx: {node.op_type} '{node.name}' needs constant weights.")
    kernel = (w.T if attrs.get("transB", 0) else w) * attrs.get("alpha", 1.0)
    bias = None
    if node.op_type == "Gemm" and len(node.input) > 2 and node.input[2]:
        bias = np.broadcast_to(b.const(node.input[2]) * attrs.get("beta", 1.0), kernel.shape[1:])
    layer = Dense(int(kernel.shape[1]), use_bias=bias is not None)
    weights = {"kernel": kernel} if bias is None else {"kernel": kernel, "bias": bias}
    return b.layer(layer, [x], False, **weights)


def _batched_matmul(b: _Builder, node: Any, ins: list[_Tensor]) -> _Tensor:
    """MatMul of two tensors of the same rank: (batch, ..., p, k) · (batch, ..., k, q), batched
    over the leading axes (attention's heads). Two (batch, p, k) and (batch, k, q) tensors are
    ``Dot(axes=(2, 1))``, the layer glassnet's exporter writes it for; any other rank is a
    ``matmul`` node."""
    x, y = (b.plain(t) for t in ins)
    if len(x.shape) != len(y.shape) or len(x.shape) < 3 or x.shape[-1] != y.shape[-2]:
        raise ValueError(
            f"import_onnx: MatMul '{node.name}' of two tensors is imported as a batched product "
            f"of (batch, ..., p, k) and (batch, ..., k, q) tensors of the same rank. Received "
            f"shapes {x.shape} and {y.shape}."
        )
    if len(x.shape) == 3:
        return b.layer(Dot(axes=(2, 1)), [x, y], False)
    known = [tuple(d or 1 for d in t.shape[:-2]) for t in (x, y)]
    lead = np.broadcast_shapes(*known)[1:]
    return b.emit("matmul", [x, y], (None, *lead, x.shape[-2], y.shape[-1]), False)


def _batch_norm(b: _Builder, node: Any, attrs: dict[str, Any], ins: list[_Tensor]) -> _Tensor:
    x = b.channels_last(ins[0]) if len(ins[0].shape) in _HELD_RANKS else ins[0]
    gamma, beta, mean, var = (b.const(n) for n in node.input[1:5])
    layer = BatchNormalization(epsilon=float(attrs.get("epsilon", 1e-5)))
    weights = {"gamma": gamma, "beta": beta, "moving_mean": mean, "moving_variance": var}
    return b.layer(layer, [x], x.cl, **weights)


def _reduce(b: _Builder, node: Any, attrs: dict[str, Any], ins: list[_Tensor]) -> _Tensor:
    """ReduceMean / ReduceL2 / ReduceSum over constant axes (an attribute before opset 18, an
    input from it), never the batch axis; the axes renumbered where an image is held
    channels-last."""
    x = ins[0]
    axes = attrs.get("axes")
    if axes is None and len(node.input) > 1 and node.input[1]:
        axes = b.const(node.input[1])
    n = len(x.shape)
    axes = list(range(n)) if axes is None else sorted(int(a) % n for a in np.ravel(axes))
    if 0 in axes or attrs.get("noop_with_empty_axes", 0):
        raise ValueError(
            f"import_onnx: {node.op_type} '{node.name}' must reduce constant axes other than "
            "the batch axis."
        )
    keepdims = int(attrs.get("keepdims", 1))
    if x.cl and not keepdims:  # the axes left keep ONNX's order
        x = b.plain(x)
    axes = sorted(_to_first(n)[a] for a in axes) if x.cl else axes
    shape = [1 if a in axes else d for a, d in enumerate(x.shape)]
    shape = shape if keepdims else [d for a, d in enumerate(shape) if a not in axes]
    op = {"ReduceMean": "reduce_mean", "ReduceL2": "reduce_l2", "ReduceSum": "reduce_sum"}
    return b.emit(op[node.op_type], [x], tuple(shape), x.cl, axes=axes, keepdims=keepdims)


def _layer_norm(b: _Builder, node: Any, attrs: dict[str, Any], ins: list[_Tensor]) -> _Tensor:
    """ONNX LayerNormalization (over the axes from ``axis`` on) as a ``LayerNormalization``
    layer; an image held channels-last keeps its layout when the axes are all but the batch."""
    x = ins[0]
    n = len(x.shape)
    first = int(attrs.get("axis", -1)) % n
    if first == 0 or (len(node.output) > 1 and any(node.output[1:])):
        raise ValueError(
            f"import_onnx: LayerNormalization '{node.name}' must normalise each sample (axis "
            "> 0) and have one output."
        )
    if x.cl and first != 1:
        x = b.plain(x)
    onnx_shape = x.onnx_shape
    shape = tuple(onnx_shape[first:])
    scale = b.const(node.input[1])
    bias = b.const(node.input[2]) if len(node.input) > 2 and node.input[2] else None
    if scale is None or (len(node.input) > 2 and node.input[2] and bias is None):
        raise ValueError(f"import_onnx: LayerNormalization '{node.name}' needs constant weights.")
    weights = {"gamma": np.broadcast_to(scale, shape)}
    if bias is not None:
        weights["beta"] = np.broadcast_to(bias, shape)
    if x.cl:  # (C, H, W) weights for the stored (H, W, C)
        weights = {k: np.moveaxis(v, 0, -1) for k, v in weights.items()}
    axes = list(range(first, n))
    layer = LayerNormalization(
        axis=-1 if axes == [n - 1] else axes,
        epsilon=float(attrs.get("epsilon", 1e-5)),
        center=bias is not None,
    )
    return b.layer(layer, [x], x.cl, **{k: np.ascontiguousarray(v) for k, v in weights.items()})


def _transpose(b: _Builder, node: Any, attrs: dict[str, Any], ins: list[_Tensor]) -> _Tensor:
    x = ins[0]
    perm = list(attrs.get("perm", reversed(range(len(x.shape)))))
    if len(x.shape) == 3 and perm == _CL3:  # (N, L, C) <-> (N, C, L): held as it is
        return _Tensor(x.name, x.shape, not x.cl)
    n = len(x.shape)
    if n in _HELD_RANKS and not x.cl and perm == _to_first(n):  # NHWC -> NCHW: hold as is
        return _Tensor(x.name, x.shape, True)
    if x.cl and perm == _to_last(n):  # NCHW -> NHWC: already stored so
        return _Tensor(x.name, x.shape, False)
    x = b.plain(x)
    shape = tuple(x.shape[p] for p in perm)
    return b.emit("transpose", [x], shape, False, perm=perm)


def _axis(axis: int, x: _Tensor) -> int:
    """ONNX axis ``axis`` of ``x`` as the glassnet layer's ``axis`` argument (the last is -1)."""
    axis = int(axis) % len(x.shape)
    axis = _to_first(len(x.shape))[axis] if x.cl else axis
    return -1 if axis == len(x.shape) - 1 else axis


def _softmax(b: _Builder, node: Any, attrs: dict[str, Any], ins: list[_Tensor]) -> _Tensor:
    return b.layer(Softmax(axis=_axis(attrs.get("axis", -1), ins[0])), ins[:1], ins[0].cl)


def _concat(b: _Builder, node: Any, attrs: dict[str, Any], ins: list[_Tensor]) -> _Tensor:
    xs = [b.channels_last(t) if ins[0].cl else b.plain(t) for t in ins]
    return b.layer(Concatenate(axis=_axis(attrs["axis"], xs[0])), xs, xs[0].cl)


def _pad(b: _Builder, node: Any, attrs: dict[str, Any], ins: list[_Tensor]) -> _Tensor:
    x = ins[0]
    pads = b.const(node.input[1])
    mode = attrs.get("mode", b"constant")
    if pads is None or mode not in (b"constant", "constant") or len(node.input) > 3:
        raise ValueError(f"import_onnx: Pad '{node.name}' must be constant-mode, constant pads.")
    value = float(b.const(node.input[2])) if len(node.input) > 2 and node.input[2] else 0.0
    n = len(x.shape)
    pairs = [[int(pads[i]), int(pads[i + n])] for i in range(n)]
    if x.cl:
        pairs = [pairs[a] for a in _to_last(n)]
    shape = tuple(None if d is None else d + sum(p) for d, p in zip(x.shape, pairs, strict=True))
    return b.emit("pad", [x], shape, x.cl, pads=pairs, value=value)


def _slice(b: _Builder, node: Any, attrs: dict[str, Any], ins: list[_Tensor]) -> _Tensor:
    x = ins[0]
    starts, ends = b.const(node.input[1]), b.const(node.input[2])
    n = len(x.shape)
    axes = b.const(node.input[3]) if len(node.input) > 3 and node.input[3] else np.arange(n)
    steps = b.const(node.input[4]) if len(node.input) > 4 and node.input[4] else None
    if starts is None or ends is None or axes is None:
        raise ValueError(f"import_onnx: Slice '{node.name}' needs constant starts/ends/axes.")
    slices: list[list[Any]] = [[None, None, None] for _ in range(n)]
    shape = list(x.shape)
    for i, axis in enumerate(int(a) % n for a in axes):
        stored = _to_first(n)[axis] if x.cl else axis
        step = 1 if steps is None else int(steps[i])
        size = x.shape[stored]
        start, end = int(starts[i]), int(ends[i])
        if size is not None:
            start, end, step = slice(start, end, step).indices(size)
            shape[stored] = len(range(start, end, step))
        slices[stored] = [start, end, step]
    return b.emit("slice", [x], tuple(shape), x.cl, slices=slices)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _resize(b: _Builder, node: Any, attrs: dict[str, Any], ins: list[_Tensor]) -> _Tensor:
    """An image enlarged by whole factors: ``UpSampling2D``, nearest (each pixel repeated:
    "asymmetric" coordinates with floor, or "half_pixel", which picks the same pixels for
    whole factors) or bilinear ("linear" with "half_pixel" coordinates); a volume by whole
    factors, nearest: ``UpSampling3D``."""
    x = b.channels_last(ins[0])
    ndim = len(x.shape)
    inputs = list(node.input) + [""] * (4 - len(node.input))
    scales = b.const(inputs[2]) if inputs[2] else None
    if scales is None or scales.size == 0:
        sizes = b.const(inputs[3]) if inputs[3] else None
        onnx_shape = x.onnx_shape
        if sizes is not None and sizes.size == ndim and None not in onnx_shape[1:]:
            scales = np.array([1, *(s / d for s, d in zip(sizes[1:], onnx_shape[1:], strict=True))])
    mode = _text(attrs.get("mode", "nearest"))
    coordinates = _text(attrs.get("coordinate_transformation_mode", "half_pixel"))
    nearest = _text(attrs.get("nearest_mode", "round_prefer_floor"))
    factors = None if scales is None or scales.size != ndim else [float(v) for v in scales]
    whole = (
        factors is not None
        and factors[:2] == [1.0, 1.0]
        and all(f >= 1 and f == int(f) for f in factors[2:])
    )
    if whole and mode == "nearest" and (coordinates, nearest) in (
        ("asymmetric", "floor"), ("half_pixel", "round_prefer_floor"),
        ("half_pixel", "round_prefer_ceil"), ("pytorch_half_pixel", "round_prefer_floor"),
    ):  # fmt: skip
        interpolation = "nearest"
    elif whole and mode == "linear" and coordinates in ("half_pixel", "pytorch_half_pixel"):
        interpolation = "bilinear"
    elif ndim == 5:
        raise ValueError(
            f"import_onnx: Resize '{node.name}' of a volume must enlarge depth, height and "
            f"width by whole factors, nearest, as UpSampling3D does. Received mode={mode!r}, "
            f"coordinate_transformation_mode={coordinates!r}, nearest_mode={nearest!r}, "
            f"scales {factors}."
        )
    else:
        resized = _resizing(x, inputs, scales, factors, mode, coordinates, nearest, b)
        if resized is not None:
            return resized
        raise ValueError(
            f"import_onnx: Resize '{node.name}' must enlarge height and width by whole factors "
            f"(nearest, or linear with half-pixel coordinates), as UpSampling2D does, or resize "
            f"them with half-pixel centres, linear or TensorFlow's nearest, as Resizing does. "
            f"Received mode={mode!r}, coordinate_transformation_mode={coordinates!r}, nearest_"
            f"mode={nearest!r}, scales {factors}."
        )
    size = tuple(int(f) for f in factors[2:])
    if ndim == 5:
        if interpolation != "nearest":
            raise ValueError(
                f"import_onnx: Resize '{node.name}' of a volume is linear; UpSampling3D repeats "
                f"voxels (nearest) only."
            )
        return b.layer(UpSampling3D(size), [x], True)
    return b.layer(UpSampling2D(size, interpolation=interpolation), [x], True)


def _resizing(
    x: _Tensor,
    inputs: list[str],
    scales: Any,
    factors: Any,
    mode: str,
    coordinates: str,
    nearest: str,
    b: _Builder,
) -> _Tensor | None:
    """Any other size with half-pixel centres: a ``Resizing`` layer, bilinear ("linear" with
    "half_pixel") or nearest (TensorFlow's ⌊(i + 0.5)/scale⌋: "half_pixel" with
    round_prefer_ceil, or "tf_half_pixel_for_nn" with floor); None for anything else."""
    if mode == "linear" and coordinates == "half_pixel":
        interpolation = "bilinear"
    elif mode == "nearest" and (coordinates, nearest) in (
        ("half_pixel", "round_prefer_ceil"), ("tf_half_pixel_for_nn", "floor"),
    ):  # fmt: skip
        interpolation = "nearest"
    else:
        return None
    _, h, w, _ = x.shape
    sizes = b.const(inputs[3]) if inputs[3] else None
    if sizes is not None and sizes.size == 4:
        height, width = int(sizes[2]), int(sizes[3])
    elif factors is not None and factors[:2] == [1.0, 1.0] and None not in (h, w):
        height, width = int(np.floor(h * factors[2])), int(np.floor(w * factors[3]))
    else:
        return None
    if height < 1 or width < 1:
        return None
    return b.layer(Resizing(height, width, interpolation=interpolation), [x], True)


def _tile(b: _Builder, node: Any, attrs: dict[str, Any], ins: list[_Tensor]) -> _Tensor:
    """(N, 1, F) tiled n times along axis 1: ``RepeatVector(n)`` on the (N, F) rows."""
    x = b.plain(ins[0])
    repeats = b.const(node.input[1])
    if (
        repeats is None
        or len(x.shape) != 3
        or x.shape[1] != 1
        or [int(r) for r in repeats][::2] != [1, 1]
    ):
        raise ValueError(
            f"import_onnx: Tile '{node.name}' is imported as RepeatVector: it must repeat a "
            f"(batch, 1, features) tensor along axis 1 only. Received shape {x.shape}, repeats "
            f"{None if repeats is None else repeats.tolist()}."
        )
    rows = b.layer(Reshape((x.shape[2],)), [x], False)
    return b.layer(RepeatVector(int(repeats[1])), [rows], False)


def _simple(layer_factory: Any) -> Any:
    def convert(b: _Builder, node: Any, attrs: dict[str, Any], ins: list[_Tensor]) -> _Tensor:
        return b.layer(layer_factory(attrs), [ins[0]], ins[0].cl)

    return convert


def _fixed(name: str, **expected: tuple[float, float]) -> Any:
    """A converter to ``Activation(name)`` for an op whose attributes must have the values
    ``expected`` gives as ``key=(value, ONNX's default)`` (within float32 rounding) for the op
    to be Keras's function."""

    def convert(b: _Builder, node: Any, attrs: dict[str, Any], ins: list[_Tensor]) -> _Tensor:
        for key, (want, default) in expected.items():
            got = float(attrs.get(key, default))
            if abs(got - want) > 1e-6 * max(1.0, abs(want)):
                raise ValueError(
                    f"import_onnx: {node.op_type} '{node.name}' with {key}={got:g} is not "
                    f"glassnet's {name} ({key}={want:g}); only that one is imported."
                )
        return b.layer(Activation(name), [ins[0]], ins[0].cl)

    return convert


def _clip(b: _Builder, node: Any, attrs: dict[str, Any], ins: list[_Tensor]) -> _Tensor:
    """Clip(x, 0, cap): ReLU capped at ``cap`` (``relu6`` for 6); other lower bounds are not
    imported."""

    def bound(i: int, key: str) -> float | None:
        if len(node.input) > i and node.input[i]:
            value = b.const(node.input[i])
            if value is None:
                raise ValueError(f"import_onnx: Clip '{node.name}' needs constant bounds.")
            return float(np.asarray(value).reshape(()))
        return None if key not in attrs else float(attrs[key])  # opset < 11: attributes

    low, high = bound(1, "min"), bound(2, "max")
    if low != 0.0 or high is None or high < 0:
        raise ValueError(
            f"import_onnx: Clip '{node.name}' from {low} to {high}: only Clip(x, 0, cap), a "
            f"capped ReLU, is imported."
        )
    layer = Activation("relu6") if high == 6.0 else ReLU(max_value=high)
    return b.layer(layer, [ins[0]], ins[0].cl)


def _prelu(b: _Builder, node: Any, attrs: dict[str, Any], ins: list[_Tensor]) -> _Tensor:
    """PRelu(x, slope) as a PReLU layer: the slope, broadcast to one sample's ONNX shape, held
    channels-last like x, with the axes where it has size 1 shared."""
    x = ins[0]
    slope = b.const(node.input[1])
    rank = len(x.shape)
    if slope is None or slope.ndim > rank or (slope.ndim == rank and slope.shape[0] != 1):
        raise ValueError(
            f"import_onnx: PRelu '{node.name}' needs a constant slope that broadcasts over the "
            f"batch (one per feature or channel)."
        )
    alpha = np.asarray(slope, np.float32).reshape((1,) * (rank - slope.ndim) + slope.shape)[0]
    if x.cl:  # (C, H, W) -> (H, W, C), as the image is held
        alpha = np.moveaxis(alpha, 0, -1)
    shared = [
        axis + 1
        for axis, (size, n) in enumerate(zip(alpha.shape, x.shape[1:], strict=True))
        if size == 1 and n != 1
    ]
    layer = PReLU(shared_axes=shared or None)
    return b.layer(layer, [x], x.cl, alpha=alpha)


def _global_pool(b: _Builder, node: Any, attrs: dict[str, Any], ins: list[_Tensor]) -> _Tensor:
    x = b.channels_last(ins[0])
    average = node.op_type == "GlobalAveragePool"
    if len(x.shape) == 5:
        cls: type[Layer] = GlobalAveragePooling3D if average else GlobalMaxPooling3D
    else:
        cls = GlobalAveragePooling2D if average else GlobalMaxPooling2D
    return b.layer(cls(keepdims=True), [x], True)


def _identity(b: _Builder, node: Any, attrs: dict[str, Any], ins: list[_Tensor]) -> _Tensor:
    return ins[0]


def _axes(b: _Builder, node: Any, attrs: dict[str, Any]) -> list[int] | None:
    """The constant ``axes`` of an Unsqueeze or Squeeze (an input from opset 13, before it an
    attribute), or None when none are given."""
    axes = attrs.get("axes")
    if axes is None and len(node.input) > 1 and node.input[1]:
        axes = b.const(node.input[1])
        if axes is None:
            raise ValueError(f"import_onnx: {node.op_type} '{node.name}' needs constant axes.")
    return None if axes is None else [int(a) for a in np.ravel(axes)]


def _sample_axes(node: Any, axes: list[int], rank: int) -> list[int]:
    """``axes`` counted in a tensor of ``rank`` axes, sorted; never the batch axis."""
    axes = sorted(a % rank for a in axes)
    if 0 in axes:
        raise ValueError(
            f"import_onnx: {node.op_type} '{node.name}' on axis 0 of a tensor: glassnet keeps "
            f"the batch on axis 0, so only the axes of each sample may be added or removed."
        )
    return axes


def _unsqueeze(b: _Builder, node: Any, attrs: dict[str, Any], ins: list[_Tensor]) -> _Tensor:
    """Unsqueeze: length-1 axes inserted, a ``reshape`` node (``ops.reshape``)."""
    x = b.plain(ins[0])
    axes = _axes(b, node, attrs) or []
    rank = len(x.shape) + len(axes)
    axes = _sample_axes(node, axes, rank)
    rest = iter(x.shape)
    shape = tuple(1 if a in axes else next(rest) for a in range(rank))
    return b.emit("reshape", [x], shape, False, shape=list(shape[1:]))


def _squeeze(b: _Builder, node: Any, attrs: dict[str, Any], ins: list[_Tensor]) -> _Tensor:
    """Squeeze: length-1 axes (those named, else every one of a sample) removed, a
    ``reshape`` node."""
    x = b.plain(ins[0])
    axes = _axes(b, node, attrs)
    if axes is None:
        axes = [a for a, d in enumerate(x.shape) if a > 0 and d == 1]
    axes = _sample_axes(node, axes, len(x.shape))
    if any(x.shape[a] != 1 for a in axes):
        raise ValueError(
            f"import_onnx: Squeeze '{node.name}' of axes {axes} of shape {x.shape}: only "
            f"axes of length 1 can be removed."
        )
    shape = tuple(d for a, d in enumerate(x.shape) if a not in axes)
    return b.emit("reshape", [x], shape, False, shape=list(shape[1:]))


def _broadcast(b: _Builder, node: Any, ins: list[Any]) -> tuple[list[_Tensor], tuple]:
    """``ins`` (tensors and constants) as graph tensors in ONNX's axis order, and the shape
    they broadcast to (the batch None)."""
    tensors = b.tensors(ins)
    known = [tuple(d or 1 for d in t.shape) for t in tensors]
    rank = max(len(t.shape) for t in tensors)
    if any(t.shape[:1] == (None,) and len(t.shape) < rank for t in tensors):
        raise ValueError(
            f"import_onnx: {node.op_type} '{node.name}' broadcasts a tensor of shape "
            f"{[t.shape for t in tensors]} with constants of more axes, which would move its "
            f"batch off axis 0."
        )
    try:
        shape = np.broadcast_shapes(*known)
    except ValueError:
        shapes = [t.shape for t in tensors]
        raise ValueError(
            f"import_onnx: {node.op_type} '{node.name}': shapes {shapes} do not broadcast."
        ) from None
    return tensors, (None, *shape[1:])


def _logic(b: _Builder, node: Any, attrs: dict[str, Any], ins: list[Any]) -> _Tensor:
    """Where, Equal, And, Or, Not: one glassnet op (``ops.where``, ``ops.equal``,
    ``ops.logical_and``, ...) of tensors and constants, broadcast as in NumPy."""
    tensors, shape = _broadcast(b, node, ins)
    op = {"Where": "where", "Equal": "equal", "And": "and", "Or": "or", "Not": "not"}
    return b.emit(op[node.op_type], tensors, shape, False)


def _cast(b: _Builder, node: Any, attrs: dict[str, Any], ins: list[_Tensor]) -> _Tensor:
    """Cast as ``ops.cast``: between floats the identity (gradients pass), to ids or masks a
    step."""
    import onnx

    dtype = np.dtype(onnx.helper.tensor_dtype_to_np_dtype(int(attrs["to"])))
    x = ins[0]
    return b.emit("cast", [x], x.shape, x.cl, dtype=dtype.name)


def _uncast(b: _Builder, ids: _Tensor) -> _Tensor:
    """The ids before a Cast made just for the lookup (an Embedding takes float or integer
    ids alike), so that a text model stays a plain chain of layers."""
    last = b.nodes[-1] if b.nodes else None
    if last is None or last["op"] != "cast" or last["output"] != ids.name:
        return ids
    if b.uses_of(ids.name) != 1:
        return ids
    source = next((t for t in b.values.values() if t.name == last["inputs"][0]), None)
    if source is None:
        return ids
    b.nodes.pop()
    return source


def _gather(b: _Builder, node: Any, attrs: dict[str, Any], ins: list[_Tensor]) -> _Tensor:
    """Gather of rows of a constant table by ids (axis 0): an ``Embedding`` layer holding the
    table, so it trains; Gather of a tensor by constant indices along a sample's axis: a
    ``gather`` node (``ops.getitem``)."""
    table, indices = b.const(node.input[0]), b.const(node.input[1])
    axis = int(attrs.get("axis", 0))
    if table is not None and table.ndim == 2 and axis == 0 and indices is None:
        ids = _uncast(b, b.plain(ins[0]))
        layer = Embedding(int(table.shape[0]), int(table.shape[1]))
        return b.layer(layer, [ids], False, embeddings=table)
    if table is None and indices is not None:
        x = b.plain(ins[0])
        axis %= len(x.shape)
        if axis > 0:
            shape = (*x.shape[:axis], *indices.shape, *x.shape[axis + 1 :])
            gathered = indices.astype(np.int64).tolist()
            return b.emit("gather", [x], shape, False, axis=axis, indices=gathered)
    raise ValueError(
        f"import_onnx: Gather '{node.name}' is imported as an Embedding (a constant 2-D table "
        f"indexed by ids on axis 0) or as indexing a tensor by constant indices along an axis "
        f"other than the batch's (axis={axis})."
    )


_OPS = {
    "Conv": _conv,
    "ConvTranspose": _conv_transpose,
    "MaxPool": _pool,
    "AveragePool": _pool,
    "GlobalAveragePool": _global_pool,
    "GlobalMaxPool": _global_pool,
    "Gemm": _gemm,
    "MatMul": _gemm,
    "Add": _elementwise,
    "Sub": _elementwise,
    "Mul": _elementwise,
    "Div": _elementwise,
    "Relu": _simple(lambda a: Activation("relu")),
    "Sigmoid": _simple(lambda a: Activation("sigmoid")),
    "Tanh": _simple(lambda a: Activation("tanh")),
    "LeakyRelu": _simple(lambda a: LeakyReLU(float(a.get("alpha", 0.01)))),
    "Elu": _simple(lambda a: ELU(float(a.get("alpha", 1.0)))),
    # ONNX's Selu defaults are Keras's constants in float32; its HardSigmoid's are Keras 2's
    "Selu": _fixed("selu", alpha=(SELU_ALPHA, SELU_ALPHA), gamma=(SELU_SCALE, SELU_SCALE)),
    "HardSigmoid": _fixed("hard_sigmoid", alpha=(1 / 6, 0.2), beta=(0.5, 0.5)),
    "HardSwish": _simple(lambda a: Activation("hard_silu")),
    "Softplus": _simple(lambda a: Activation("softplus")),
    "Softsign": _simple(lambda a: Activation("softsign")),
    "Mish": _simple(lambda a: Activation("mish")),
    "Exp": _simple(lambda a: Activation("exponential")),
    "PRelu": _prelu,
    "Clip": _clip,
    "Softmax": _softmax,
    "BatchNormalization": _batch_norm,
    "Flatten": _flatten,
    "Reshape": _reshape,
    "Transpose": _transpose,
    "Max": _elementwise,
    "Sqrt": lambda b, node, attrs, ins: b.emit("sqrt", ins[:1], ins[0].shape, ins[0].cl),
    "ReduceMean": _reduce,
    "ReduceL2": _reduce,
    "ReduceSum": _reduce,
    "LayerNormalization": _layer_norm,
    "Dropout": _identity,
    "Identity": _identity,
    "Concat": _concat,
    "Pad": _pad,
    "Slice": _slice,
    "Resize": _resize,
    "Tile": _tile,
    "Unsqueeze": _unsqueeze,
    "Squeeze": _squeeze,
    "Where": _logic,
    "Equal": _logic,
    "And": _logic,
    "Or": _logic,
    "Not": _logic,
    "Cast": _cast,
    "Gather": _gather,
}


def _load(path: str) -> Any:
    try:
        import onnx
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError("import_onnx needs the 'onnx' package: pip install onnx") from err
    if not os.path.isfile(path):
        raise FileNotFoundError(f"import_onnx: no such file: '{path}'")
    try:
        proto = onnx.load(path)
        onnx.checker.check_model(proto)
        proto = onnx.shape_inference.infer_shapes(proto)
    except Exception as err:  # DecodeError, ValidationError, ...: all mean "not a good file"
        raise ValueError(
            f"import_onnx: '{path}' is not a valid ONNX model ({type(err).__name__}: {err})"
        ) from err
    return onnx, proto


def import_onnx(path: str | os.PathLike[str]) -> Model:
    """Build a glassnet model (weights included) from the ONNX file at ``path``.

    A chain of layers becomes a ``Sequential``; any other graph an ``OnnxGraph``. Images are
    channels-last in glassnet: a graph whose input is NCHW (PyTorch) takes NHWC arrays here.
    The vocabulary layers glassnet exported (``onnx_text``) come back as themselves, and the
    model then takes strings (or int64 codes) as its ONNX graph did.
    Class names and preprocessing stored by glassnet's exporter are restored.

    Raises:
        ValueError: naming the file when it is not valid ONNX, listing every operator of
            the graph that is not supported (``SUPPORTED_OPS``), or naming the node whose
            tensor would take one sample past ``MAX_IMPORT_VALUES`` numbers (checked from the
            shapes, before anything that large is allocated).
    """
    path = os.fspath(path)
    onnx, proto = _load(path)
    graph = proto.graph
    groups = layer_groups(graph.node)  # the vocabulary layers glassnet wrote
    grouped = {id(n) for nodes in groups.values() for n in nodes}
    rest = [n for n in graph.node if id(n) not in grouped]
    unsupported = sorted({n.op_type for n in rest} - {*_OPS, "Constant"})
    if unsupported:
        raise ValueError(
            f"import_onnx: '{path}' uses operators glassnet cannot import: "
            f"{', '.join(unsupported)}. Supported: {', '.join(SUPPORTED_OPS)}."
        )
    inits = {i.name for i in graph.initializer}
    inputs = [i for i in graph.input if i.name not in inits]
    if len(inputs) != 1 or len(graph.output) != 1:
        raise ValueError(f"import_onnx: '{path}': only graphs with one input and one output.")
    source = inputs[0]
    dims = [
        d.dim_value if d.HasField("dim_value") else None for d in source.type.tensor_type.shape.dim
    ]
    if any(d is None for d in dims[1:]):
        raise ValueError(f"import_onnx: '{path}': input sizes {dims} must be fixed but the batch.")
    consumers = [n for n in graph.node if source.name in n.input]
    meta = {p.key: p.value for p in proto.metadata_props}
    # glassnet's own exports say their input is NHWC; otherwise an input that only feeds
    # Transpose(0, 3, 1, 2) nodes is NHWC too (Keras/tf2onnx style); else NCHW. The same for
    # volumes: NDHWC, or NCDHW (PyTorch's).
    to_first = _to_first(len(dims))
    nhwc_input = meta.get("input_layout") == json.dumps("NHWC") or all(
        n.op_type == "Transpose" and list(_attrs(onnx, n).get("perm", [])) == to_first
        for n in consumers
    )
    nhwc_input = nhwc_input and len(dims) in _HELD_RANKS
    dtype = _dtype(onnx, source.type.tensor_type.elem_type)
    if len(dims) in _HELD_RANKS and not nhwc_input:  # NCHW: glassnet feeds it NHWC
        start = _Tensor("input", (None, *dims[2:], dims[1]), cl=True)
    else:
        start = _Tensor("input", (None, *dims[1:]), cl=False)
    try:
        b = _Builder(onnx, proto)
        b.values[source.name] = start
        b.claim(start)
        opset = next((o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")), 0)
        types = {v.name: v.type.tensor_type.elem_type for v in [*graph.input, *graph.value_info]}
        for index, node in enumerate(graph.node):
            b.node = node
            if id(node) in grouped:
                if index in groups:  # a vocabulary layer: its nodes become the layer
                    nodes, x = groups[index], b.values[node.input[0]]
                    kind = _dtype(onnx, types.get(node.input[0], onnx.TensorProto.FLOAT))
                    layer = read_layer(onnx, nodes, b.consts, x.shape, kind, opset)
                    b.values[nodes[-1].output[0]] = b.layer(layer, [x], False)
                continue
            attrs = _attrs(onnx, node)
            if node.op_type == "Constant":
                b.consts[node.output[0]] = b.array(onnx, attrs["value"], f"Constant '{node.name}'")
                continue
            if all(name in b.consts for name in node.input if name):
                _fold(b, onnx, proto, node)
                continue
            ins: list[Any] = []
            for name in node.input:
                if name in b.values:
                    ins.append(b.values[name])
                elif name in b.consts:
                    ins.append(b.consts[name])
            if node.op_type not in _TAKE_CONSTANTS:
                ins = [t for t in ins if isinstance(t, _Tensor)]
            if node.op_type not in ("Conv", "ConvTranspose", "Transpose"):  # read held sequences
                ins = [b.plain(t) if _held_sequence(t) else t for t in ins]
            b.values[node.output[0]] = _OPS[node.op_type](b, node, attrs, ins)
    except ValueError as err:
        raise ValueError(f"{err} (in '{path}')") from err
    out = b.plain(b.values[graph.output[0].name])
    model = _assemble(b, start, out, dtype)
    for key in ("class_names", "preprocessing"):
        with contextlib.suppress(KeyError, json.JSONDecodeError):
            setattr(model, key, json.loads(meta[key]))
    return model


#: The ops whose converters take their constant inputs in place, among the tensors.
_TAKE_CONSTANTS = ("Add", "Sub", "Mul", "Div", "Max", "Where", "Equal", "And", "Or", "Not")


def _fold(b: _Builder, onnx: Any, proto: Any, node: Any) -> None:
    """A node whose inputs are all constants (the causal mask unsqueezed, a shape computed
    from constants) computed once, at import, by onnx's reference implementation of the op;
    its outputs are constants. The size ONNX's shape inference gives them is checked first."""
    from onnx.reference import ReferenceEvaluator

    known = {v.name: v for v in proto.graph.value_info}
    for name in node.output:
        dims = known[name].type.tensor_type.shape.dim if name in known else []
        _check_size(f"import_onnx: {node.op_type} '{node.name or name}'", [
            d.dim_value if d.HasField("dim_value") else None for d in dims])  # fmt: skip
    feeds = {name: b.consts[name] for name in node.input if name}
    results = ReferenceEvaluator(node).run(None, feeds)
    for name, value in zip(node.output, results, strict=True):
        _check_size(f"import_onnx: {node.op_type} '{node.name or name}'", np.shape(value))
        b.consts[name] = np.asarray(value)


def _held_sequence(t: Any) -> bool:
    """Whether ``t`` is a 3-D ONNX sequence held channels-last (after a 1-D Conv)."""
    return isinstance(t, _Tensor) and t.cl and len(t.shape) == 3


def _dtype(onnx: Any, elem_type: int) -> str:
    """An ONNX element type as ``Input``'s dtype: "string", "int64" or "float32"."""
    names = {onnx.TensorProto.STRING: "string", onnx.TensorProto.INT64: "int64"}
    return names.get(elem_type, "float32")


def _assemble(b: _Builder, start: _Tensor, out: _Tensor, dtype: str = "float32") -> Model:
    """A Sequential for a plain chain of layers, an OnnxGraph otherwise; built, weights set.
    A graph taking strings or ids starts with its vocabulary layer: the layer, then the rest
    (an OnnxGraph built on the layer's numbers)."""
    input_shape = start.shape[1:]
    chain = bool(b.nodes) and all(n["op"] == "layer" and not n.get("multi") for n in b.nodes)
    previous = start.name
    for node in b.nodes if chain else []:
        chain = chain and node["inputs"] == [previous]
        previous = node["output"]
    first = b.nodes[0] if b.nodes else {}
    if chain and previous == out.name:
        model: Model = Sequential([Input(input_shape, dtype=dtype), *b.parts])
    elif dtype != "float32" and first.get("op") == "layer" and first["inputs"] == [start.name]:
        head = b.parts[first["index"]]
        rest = [dict(n, index=n["index"] - 1) if n["op"] == "layer" else n for n in b.nodes[1:]]
        if any(n["op"] == "layer" and n["index"] < 0 for n in rest) or start.name in {
            name for n in rest for name in n["inputs"]
        }:
            raise ValueError("import_onnx: the graph's input feeds more than its first layer.")
        shape = head.compute_output_shape((None, *input_shape))
        tail = OnnxGraph(
            rest,
            b.parts[1:],
            {k: v.tolist() for k, v in b.used_consts.items()},
            input_name=first["output"],
            output_name=out.name,
        )
        tail.build(tuple(shape))
        model = Sequential([Input(input_shape, dtype=dtype), head, tail])
    else:
        nodes = list(b.nodes)
        if out.name == start.name or not nodes:
            nodes.append({"op": "identity", "inputs": [start.name], "output": "output"})
            out = _Tensor("output", out.shape)
        model = OnnxGraph(
            nodes,
            b.parts,
            {k: v.tolist() for k, v in b.used_consts.items()},
            input_name=start.name,
            output_name=out.name,
        )
        model.build((None, *input_shape))
    for layer, weights in zip(b.parts, b.weights, strict=True):
        for attr, array in weights.items():
            target = getattr(layer, attr)
            target.data[...] = np.asarray(array, dtype=target.data.dtype).reshape(target.shape)
    return model
