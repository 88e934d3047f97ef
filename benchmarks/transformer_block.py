"""A transformer encoder block, in glassnet and in torch.nn: workload T1.

glassnet has no ``MultiHeadAttention`` layer yet, so ``SelfAttention`` writes multi-head
self-attention from existing layers and ops, the same computation Keras's layer does: Dense
projections to queries, keys and values, ``softmax(q · kᵀ / √d)`` per head, the weighted sum of
the values, and a Dense output projection. The block is the pre-norm encoder of most modern
transformers: ``x + attention(norm(x))``, then ``x + mlp(norm(x))``; a classifier head
averages over the sequence.

The summary counts the multiply-accumulates of layers, so compare's GFLOP/s column for T1
leaves out the two products inside the attention (q · kᵀ and weights · v, 2 · 64² · 128 per
sample, about 8 % of the block's work): read its ms/step and the ratio rather.
"""

from __future__ import annotations

import math

import numpy as np

import glassnet as gn
from glassnet import layers as L
from glassnet import ops

SEQUENCE, WIDTH, HEADS, HIDDEN, CLASSES = 64, 128, 4, 512, 10


class SelfAttention(L.Layer):
    """Multi-head self-attention on ``(batch, sequence, width)``, ``heads`` heads of
    ``width // heads`` features; output ``(batch, sequence, width)``."""

    def __init__(self, heads: int, *, name: str | None = None) -> None:
        super().__init__(name=name)
        self.heads = heads

    def build(self, input_shape: tuple) -> None:
        width = input_shape[-1]
        self.query, self.key, self.value, self.out = (
            L.Dense(width, name=f"{self.name}_{part}") for part in ("query", "key", "value", "out")
        )
        for dense in (self.query, self.key, self.value, self.out):
            dense.build(tuple(input_shape))
        super().build(input_shape)

    def call(self, x: gn.Tensor, training: bool = False) -> gn.Tensor:
        batch, steps, width = x.shape
        depth = width // self.heads

        def split(t: gn.Tensor) -> gn.Tensor:  # (b, s, w) -> (b, heads, s, depth)
            return ops.transpose(ops.reshape(t, batch, steps, self.heads, depth), 0, 2, 1, 3)

        q, k, v = split(self.query(x)), split(self.key(x)), split(self.value(x))
        scores = ops.matmul(q, ops.transpose(k, 0, 1, 3, 2)) * (1.0 / math.sqrt(depth))
        heads = ops.matmul(ops.softmax(scores, axis=-1), v)
        return self.out(ops.reshape(ops.transpose(heads, 0, 2, 1, 3), batch, steps, width))

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        return tuple(input_shape)


def glassnet_model() -> gn.Model:
    inputs = L.Input((SEQUENCE, WIDTH))
    x = L.add([inputs, SelfAttention(HEADS, name="attention")(L.LayerNormalization()(inputs))])
    h = L.Dense(HIDDEN, activation="relu")(L.LayerNormalization()(x))
    x = L.add([x, L.Dense(WIDTH)(h)])
    logits = L.Dense(CLASSES)(L.GlobalAveragePooling1D()(x))
    return gn.Model(inputs, logits, name="transformer_block")


def torch_model(model: gn.Model) -> object:
    """The same block in torch.nn, with glassnet's weights copied in (Linear weights are
    Dense kernels transposed; LayerNorm takes Keras's epsilon)."""
    import torch
    from torch import nn

    def linear(dense: L.Dense) -> nn.Linear:
        module = nn.Linear(*dense.kernel.shape)
        with torch.no_grad():
            module.weight.copy_(torch.from_numpy(np.ascontiguousarray(dense.kernel.numpy().T)))
            module.bias.copy_(torch.from_numpy(dense.bias.numpy()))
        return module

    def norm(layer: L.LayerNormalization) -> nn.LayerNorm:
        module = nn.LayerNorm(WIDTH, eps=layer.epsilon)
        with torch.no_grad():
            module.weight.copy_(torch.from_numpy(layer.gamma.numpy()))
            module.bias.copy_(torch.from_numpy(layer.beta.numpy()))
        return module

    norms = [la for la in model.layers if isinstance(la, L.LayerNormalization)]
    denses = [la for la in model.layers if isinstance(la, L.Dense)]
    attention = next(la for la in model.layers if isinstance(la, SelfAttention))

    class Block(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.norm1, self.norm2 = norm(norms[0]), norm(norms[1])
            self.q, self.k, self.v, self.o = (
                linear(d) for d in (attention.query, attention.key, attention.value, attention.out)
            )
            self.up, self.down, self.head = (linear(d) for d in denses)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            b, s, w = x.shape
            d = w // HEADS

            def split(t: torch.Tensor) -> torch.Tensor:
                return t.reshape(b, s, HEADS, d).transpose(1, 2)

            y = self.norm1(x)
            q, k, v = split(self.q(y)), split(self.k(y)), split(self.v(y))
            scores = q @ k.transpose(-1, -2) * (1.0 / math.sqrt(d))
            heads = (scores.softmax(-1) @ v).transpose(1, 2).reshape(b, s, w)
            x = x + self.o(heads)
            x = x + self.down(torch.relu(self.up(self.norm2(x))))
            return self.head(x.mean(dim=1))

    return Block()
