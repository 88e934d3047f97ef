"""A transformer encoder block, in glassnet and in torch.nn: workload T1.

glassnet's block is made of its own layers: ``MultiHeadAttention`` (Keras's layout: query, key
and value kernels of shape (width, heads, width / heads), an output kernel (heads, width /
heads, width)), ``LayerNormalization``, ``Dense`` and ``add``. The block is the pre-norm encoder
of most modern transformers: ``x + attention(norm(x))``, then ``x + mlp(norm(x))``; a
classifier head averages over the sequence. The torch twin computes the same function with the
same weights, the attention written out in torch.nn the way the layer computes it.

The summary counts the multiply-accumulates of layers, so compare's GFLOP/s column for T1
may leave out the two products inside the attention (q · kᵀ and weights · v, 2 · 64² · 128 per
sample, about 8 % of the block's work): read its ms/step and the ratio rather.
"""

from __future__ import annotations

import math

import numpy as np

import glassnet as gn
from glassnet import layers as L

SEQUENCE, WIDTH, HEADS, HIDDEN, CLASSES = 64, 128, 4, 512, 10


def glassnet_model() -> gn.Model:
    inputs = L.Input((SEQUENCE, WIDTH))
    y = L.LayerNormalization()(inputs)
    x = L.add([inputs, L.MultiHeadAttention(HEADS, WIDTH // HEADS, name="attention")(y, y)])
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
    attention = model.get_layer("attention")

    def projection(kernel: gn.Tensor, bias: gn.Tensor) -> nn.Linear:
        """A Linear from a (width, heads, depth) kernel: the heads side by side."""
        module = nn.Linear(WIDTH, WIDTH)
        with torch.no_grad():
            module.weight.copy_(torch.from_numpy(kernel.numpy().reshape(WIDTH, WIDTH).T.copy()))
            module.bias.copy_(torch.from_numpy(bias.numpy().reshape(WIDTH)))
        return module

    class Block(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.norm1, self.norm2 = norm(norms[0]), norm(norms[1])
            self.q, self.k, self.v = (
                projection(getattr(attention, f"{p}_kernel"), getattr(attention, f"{p}_bias"))
                for p in ("query", "key", "value")
            )
            self.o = nn.Linear(WIDTH, WIDTH)
            with torch.no_grad():  # (heads, depth, width): the heads' outputs concatenated
                out = attention.output_kernel.numpy().reshape(WIDTH, WIDTH)
                self.o.weight.copy_(torch.from_numpy(out.T.copy()))
                self.o.bias.copy_(torch.from_numpy(attention.output_bias.numpy()))
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
