"""MobileNetV2 in plain torch.nn with Keras's layout: the PyTorch side of workload M1.

torchvision is not installed on these machines, and its MobileNetV2 pads and rounds a little
differently from Keras's, so the network is written out here, NCHW, with module names that
are Keras's layer names; ``from_glassnet`` copies a glassnet ``MobileNetV2``'s weights in by
name. Every 3×3 convolution pads TensorFlow's "same" way (the odd pixel at the bottom/right),
which is what Keras's ``ZeroPadding2D`` + "valid" does before the stride-2 ones.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

#: (filters, stride, expansion) of the 17 inverted residual blocks.
BLOCKS = [(16, 1, 1)] + [
    (filters, stride if index == 0 else 1, 6)
    for filters, repeats, stride in [
        (24, 2, 2), (32, 3, 2), (64, 4, 2), (96, 3, 1), (160, 3, 2), (320, 1, 1)
    ]
    for index in range(repeats)
]  # fmt: skip


def _divisible(value: float, divisor: int = 8) -> int:
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * value else rounded


def _same(x: torch.Tensor, kernel: int, stride: int) -> torch.Tensor:
    def pads(size: int) -> tuple[int, int]:
        total = max((math.ceil(size / stride) - 1) * stride + kernel - size, 0)
        return total // 2, total - total // 2

    (top, bottom), (left, right) = pads(x.shape[2]), pads(x.shape[3])
    return F.pad(x, (left, right, top, bottom))


class MobileNetV2(nn.Module):
    def __init__(self, alpha: float = 1.0, classes: int = 1000) -> None:
        super().__init__()

        def bn(channels: int) -> nn.BatchNorm2d:
            return nn.BatchNorm2d(channels, eps=1e-3, momentum=0.001)

        m = nn.ModuleDict()
        channels = _divisible(32 * alpha)
        m["Conv1"], m["bn_Conv1"] = nn.Conv2d(3, channels, 3, 2, bias=False), bn(channels)
        self.blocks = []
        for index, (filters, stride, expansion) in enumerate(BLOCKS):
            out, hidden = _divisible(int(filters * alpha)), channels * expansion
            p = f"block_{index}_" if index else "expanded_conv_"
            if index:
                m[p + "expand"], m[p + "expand_BN"] = (
                    nn.Conv2d(channels, hidden, 1, bias=False), bn(hidden)
                )  # fmt: skip
            m[p + "depthwise"] = nn.Conv2d(hidden, hidden, 3, stride, groups=hidden, bias=False)
            m[p + "depthwise_BN"] = bn(hidden)
            m[p + "project"], m[p + "project_BN"] = nn.Conv2d(hidden, out, 1, bias=False), bn(out)
            self.blocks.append((p, index > 0, stride, stride == 1 and channels == out))
            channels = out
        last = _divisible(1280 * alpha) if alpha > 1 else 1280
        m["Conv_1"], m["Conv_1_bn"] = nn.Conv2d(channels, last, 1, bias=False), bn(last)
        m["predictions"] = nn.Linear(last, classes)
        self.m = m

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        m = self.m
        x = F.relu6(m["bn_Conv1"](m["Conv1"](_same(x, 3, 2))))
        for p, expand, stride, skip in self.blocks:
            y = F.relu6(m[p + "expand_BN"](m[p + "expand"](x))) if expand else x
            y = F.relu6(m[p + "depthwise_BN"](m[p + "depthwise"](_same(y, 3, stride))))
            y = m[p + "project_BN"](m[p + "project"](y))
            x = x + y if skip else y
        x = F.relu6(m["Conv_1_bn"](m["Conv_1"](x)))
        return m["predictions"](x.mean(dim=(2, 3)))


_RENAME = {
    "kernel": "weight",
    "bias": "bias",
    "gamma": "weight",
    "beta": "bias",
    "moving_mean": "running_mean",
    "moving_variance": "running_var",
}


def from_glassnet(model: object, alpha: float = 1.0) -> MobileNetV2:
    """The torch twin of a glassnet ``MobileNetV2`` (with the top), its weights copied."""
    net = MobileNetV2(alpha, model.output_shape[-1])
    state = {}
    for layer in model.layers:
        for key, w in layer.named_weights():
            value = w.numpy()
            if value.ndim == 4:  # (kh, kw, in, out) -> (out, in, kh, kw); depthwise (C, 1, ...)
                depthwise = type(layer).__name__ == "DepthwiseConv2D"
                value = value.transpose((2, 3, 0, 1) if depthwise else (3, 2, 0, 1))
            elif value.ndim == 2:
                value = value.T
            state[f"m.{layer.name}.{_RENAME[key]}"] = torch.from_numpy(np.ascontiguousarray(value))
    missing, unexpected = net.load_state_dict(state, strict=False)
    if unexpected or any(not k.endswith("num_batches_tracked") for k in missing):
        raise ValueError(f"weights do not match: missing {missing}, unexpected {unexpected}")
    return net
