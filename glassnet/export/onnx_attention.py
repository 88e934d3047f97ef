"""ONNX converters of the attention layers: ``MultiHeadAttention``, ``Attention`` and
``AdditiveAttention``, written as the layers compute them, from MatMul, Transpose, Reshape,
Softmax and Where.

Masks become one bool (batch or 1, queries, keys) tensor: the padding mask a sequence carries
(``Value.mask``, from ``Embedding(mask_zero=True)``) as rows and columns, and the causal lower
triangle as a constant (so a causal layer needs a known sequence length). Masks that are the
model's inputs (``attention_mask=``, ``query_mask=``, ``mask=[query_mask, value_mask]``) are
0/1 floats cast to bool. Masked logits get −10⁹ added, as in the layers.
``return_attention_scores`` adds the softmax weights as a second output.

``import_onnx`` reads these graphs back as the general ops they are made of: each projection
(MatMul by a constant, then Add) becomes a ``Dense`` layer, the rest batched ``matmul``,
``where``, mask (``equal``, ``and``, ``not``, ``cast``) and reshape nodes of an ``OnnxGraph``.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from glassnet.export.onnx import NHWC, Graph, Value, _int64, register_converter
from glassnet.layers.attention import AdditiveAttention, Attention, MultiHeadAttention
from glassnet.ops.attention import LARGE_NEGATIVE


def _bool(graph: Graph, hint: str, mask: Value | None) -> str | None:
    """A mask input (0/1 floats, as every graph input is) as a bool tensor, or None."""
    if mask is None:
        return None
    return graph.node("Cast", [mask.name], f"{hint}_mask", to=graph.onnx.TensorProto.BOOL)


def _with_mask(graph: Graph, hint: str, value: Value, mask: Value | None) -> Value:
    """``value`` with the mask given for it in the call (else the one it carries)."""
    return value if mask is None else replace(value, mask=_bool(graph, hint, mask))


def _mask(
    graph: Graph,
    hint: str,
    query: Value,
    key: Value,
    causal: bool,
    rows: bool = True,
    pairs: str | None = None,
) -> str | None:
    """The (N or 1, Tq, Tk) bool mask of the pairs that may attend, or None; ``pairs``: a
    bool (N, Tq, Tk) ``attention_mask``."""
    masks = [] if pairs is None else [pairs]
    tq, tk = query.shape[1], key.shape[1]
    if causal:
        if tq is None or tk is None:
            raise ValueError(
                f"ONNX export: layer '{hint}' uses a causal mask, which needs a known sequence "
                f"length; the input shapes are {query.shape} and {key.shape}. Give Input a "
                "fixed length."
            )
        masks.append(graph.weight(f"{hint}_causal", np.tril(np.ones((tq, tk), bool))[None]))
    if rows and query.mask is not None:
        masks.append(graph.node("Unsqueeze", [query.mask, _int64(graph, hint, [2])], hint))
    if key.mask is not None:
        masks.append(graph.node("Unsqueeze", [key.mask, _int64(graph, hint, [1])], hint))
    if not masks:
        return None
    mask = masks[0]
    for other in masks[1:]:
        mask = graph.node("And", [mask, other], f"{hint}_mask")
    return mask


def _masked_softmax(graph: Graph, hint: str, logits: str, mask: str | None) -> str:
    """Softmax over the last axis with the masked logits lowered by 1e9."""
    if mask is None:
        return graph.node("Softmax", [logits], f"{hint}_softmax", axis=-1)
    lowered = graph.node(
        "Add", [logits, graph.weight(f"{hint}_neg", np.float32(LARGE_NEGATIVE))], hint
    )
    logits = graph.node("Where", [mask, logits, lowered], hint)
    return graph.node("Softmax", [logits], f"{hint}_softmax", axis=-1)


def _project(
    graph: Graph, layer: MultiHeadAttention, part: str, value: Value, perm: list[int]
) -> str:
    """x (N, T, dim) · kernel (dim, H·size) + bias, as (N, T, H, size), transposed by perm."""
    kernel = getattr(layer, f"{part}_kernel").numpy()
    dim, heads, size = kernel.shape
    hint = f"{layer.name}_{part}"
    out = graph.node(
        "MatMul", [value.name, graph.weight(hint, kernel.reshape(dim, heads * size))], hint
    )
    bias = getattr(layer, f"{part}_bias")
    if bias is not None:
        out = graph.node("Add", [out, graph.weight(f"{hint}_bias", bias.numpy().reshape(-1))], hint)
    out = graph.node("Reshape", [out, _int64(graph, hint, [0, 0, heads, size])], hint)
    return graph.node("Transpose", [out], hint, perm=perm)


@register_converter(MultiHeadAttention)
def _multi_head_attention(
    graph: Graph,
    layer: MultiHeadAttention,
    values: list[Value],
    use_causal_mask: bool = False,
    return_attention_scores: bool = False,
    attention_mask: Value | None = None,
    query_mask: Value | None = None,
    value_mask: Value | None = None,
    key_mask: Value | None = None,
) -> Value | list[Value]:
    """Q, K, V projected head by head, softmax((Q/√d)·Kᵀ, masked)·V, heads folded back, and
    the output projection: the layer's own steps."""
    name = layer.name
    query, value = (graph.layout(v, NHWC) for v in values[:2])
    key = graph.layout(values[2], NHWC) if len(values) > 2 else value
    query = _with_mask(graph, name, query, query_mask)
    value = _with_mask(graph, name, value, value_mask)
    if len(values) > 2:
        key = _with_mask(graph, name, key, key_mask)
    q = _project(graph, layer, "query", query, [0, 2, 1, 3])  # (N, H, Tq, K)
    q = graph.node(
        "Mul", [q, graph.weight(f"{name}_scale", np.float32(1 / np.sqrt(layer.key_dim)))], name
    )
    k = _project(graph, layer, "key", key, [0, 2, 3, 1])  # (N, H, K, Tk)
    v = _project(graph, layer, "value", value, [0, 2, 1, 3])  # (N, H, Tk, Dv)
    logits = graph.node("MatMul", [q, k], f"{name}_logits")
    columns = value.mask  # Keras: the value's mask, and the key's where a key is given
    if len(values) > 2 and key.mask is not None:
        both = key.mask if columns is None else graph.node("And", [columns, key.mask], name)
        columns = both
    pairs = _bool(graph, name, attention_mask)
    key = Value(key.name, key.shape, mask=columns)
    mask = _mask(graph, name, query, key, use_causal_mask, pairs=pairs)
    if mask is not None:
        mask = graph.node("Unsqueeze", [mask, _int64(graph, name, [1])], f"{name}_mask")
    weights = _masked_softmax(graph, name, logits, mask)
    context = graph.node("MatMul", [weights, v], f"{name}_context")  # (N, H, Tq, Dv)
    context = graph.node("Transpose", [context], name, perm=[0, 2, 1, 3])
    heads = layer.num_heads * layer.value_dim
    context = graph.node("Reshape", [context, _int64(graph, name, [0, 0, heads])], name)
    kernel = layer.output_kernel.numpy().reshape(heads, -1)
    out = graph.node("MatMul", [context, graph.weight(f"{name}_output", kernel)], name)
    if layer.output_bias is not None:
        out = graph.node(
            "Add", [out, graph.weight(f"{name}_output_bias", layer.output_bias.numpy())], name
        )
    shape = tuple(layer.compute_output_shape([val.shape for val in values]))
    result = Value(out, shape, NHWC, query.mask)
    if not return_attention_scores:
        return result
    scores = (shape[0], layer.num_heads, query.shape[1], key.shape[1])
    return [result, Value(weights, scores, NHWC)]


@register_converter(Attention, AdditiveAttention)
def _dense_attention(
    graph: Graph,
    layer: Any,
    values: list[Value],
    use_causal_mask: bool = False,
    return_attention_scores: bool = False,
    mask: list[Value | None] | None = None,
) -> Value | list[Value]:
    """Scores (dot product, or Σ scale·tanh(q + k)), the masked softmax over the keys, the
    weighted values, and padded query steps set to 0."""
    name = layer.name
    query, value = (graph.layout(v, NHWC) for v in values[:2])
    key = graph.layout(values[2], NHWC) if len(values) > 2 else value
    given = mask or [None, None]
    query = _with_mask(graph, name, query, given[0])
    value = _with_mask(graph, name, value, given[1])
    concat = isinstance(layer, AdditiveAttention) or layer.score_mode == "concat"
    if not concat:
        kt = graph.node("Transpose", [key.name], name, perm=[0, 2, 1])
        scores = graph.node("MatMul", [query.name, kt], f"{name}_scores")
        if layer.scale is not None:
            scores = graph.node(
                "Mul", [scores, graph.weight(f"{name}_scale", layer.scale.numpy())], name
            )
    else:
        q = graph.node("Unsqueeze", [query.name, _int64(graph, name, [2])], name)
        k = graph.node("Unsqueeze", [key.name, _int64(graph, name, [1])], name)
        pairs = graph.node("Add", [q, k], name)  # (N, Tq, Tk, dim)
        additive = isinstance(layer, AdditiveAttention)
        if layer.scale is not None and not additive:
            pairs = graph.node(
                "Mul", [pairs, graph.weight(f"{name}_scale", layer.scale.numpy())], name
            )
        pairs = graph.node("Tanh", [pairs], name)
        if layer.scale is not None and additive:
            pairs = graph.node(
                "Mul", [pairs, graph.weight(f"{name}_scale", layer.scale.numpy())], name
            )
        scores = graph.node("ReduceSum", [pairs, _int64(graph, name, [-1])], name, keepdims=0)
        if not additive:
            weight = graph.weight(f"{name}_concat", layer.concat_score_weight.numpy())
            scores = graph.node("Mul", [scores, weight], name)
    key_mask = Value(key.name, key.shape, mask=value.mask)
    pairs = _mask(graph, name, query, key_mask, use_causal_mask, rows=False)
    weights = _masked_softmax(graph, name, scores, pairs)
    out = graph.node("MatMul", [weights, value.name], name)
    if query.mask is not None:
        rows = graph.node("Cast", [query.mask], name, to=graph.onnx.TensorProto.FLOAT)
        rows = graph.node("Unsqueeze", [rows, _int64(graph, name, [2])], name)
        out = graph.node("Mul", [out, rows], name)
    shape = tuple(layer.compute_output_shape([val.shape for val in values]))
    result = Value(out, shape, NHWC, query.mask)
    if not return_attention_scores:
        return result
    return [result, Value(weights, (shape[0], query.shape[1], key.shape[1]), NHWC)]
