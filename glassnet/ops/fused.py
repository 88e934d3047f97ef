"""Ops fused for inference: two ops' forwards as one, where doing both at once saves work.

``models.replay`` swaps a recorded pair for its fused op when it plans an inference tape; the
tape is then checked against the model's ``call`` bit for bit like any other, so a fusion is
only ever a faster way to the same numbers. Nothing here has a backward: training tapes keep
every op as recorded.
"""

from __future__ import annotations

from typing import Any

from glassnet.autograd import Context, Function
from glassnet.ops.activation import relu_
from glassnet.ops.conv import ConvOp
from glassnet.ops.normalization import batch_norm_inference
from glassnet.ops.pooling import MaxPoolOp
from glassnet.tensor import add_to_rows

__all__ = ["ConvBatchNormOp", "ConvMaxPoolOp"]


class ConvMaxPoolOp(Function):
    """A convolution (bias, optional ReLU) and the max pooling of its output, with the bias
    and ReLU applied after the pool: both act on each channel alone and never decrease, so
    they commute with a max exactly, and they then touch a quarter of the numbers for 2×2
    windows. Each half is the op's own forward.

    Shape: x (N, H, W, C), w (kh, kw, C, F), b (F,) or None -> (N, Ho', Wo', F) pooled.
    """

    @staticmethod
    def forward(ctx: Context, x: Any, w: Any, b: Any, *, conv: dict, pool: dict) -> Any:
        """``conv``: ConvOp's attributes (stride, pads, dilation, relu); ``pool``:
        MaxPoolOp's (pool, stride, pads)."""
        plain = {**conv, "relu": False}  # ReLU comes after the pool
        y = ConvOp.forward(Context(ConvOp, (), (False,) * 3), x, w, None, **plain)
        pooled = MaxPoolOp.forward(Context(MaxPoolOp, (), (False,)), y, **pool)
        rows = pooled.reshape(-1, pooled.shape[-1])
        if b is not None:
            add_to_rows(rows, b)
        if conv.get("relu", False):
            relu_(rows)
        return pooled

    @staticmethod
    def backward(ctx: Context, grad: Any) -> Any:
        raise NotImplementedError("ConvMaxPoolOp is for inference tapes only")


class ConvBatchNormOp(Function):
    """A convolution and the inference-mode batch normalization of its output (ResNets'
    Conv2D → BatchNormalization), optionally followed by a ReLU: the normalization's scale and
    shift (``batch_norm_inference``) and the ReLU are applied in place on the convolution's
    fresh output, so the pair makes one new array instead of three (four with the ReLU). The
    same arithmetic in the same order as the separate ops, so the same numbers.

    Shape: x (N, H, W, C), w (kh, kw, C, F), b (F,) or None, gamma and beta (F,) or None,
    running_mean and running_var (F,) -> (N, Ho, Wo, F).
    """

    @staticmethod
    def forward(
        ctx: Context,
        x: Any,
        w: Any,
        b: Any,
        gamma: Any,
        beta: Any,
        running_mean: Any,
        running_var: Any,
        *,
        conv: dict,
        epsilon: float,
        relu: bool,
    ) -> Any:
        """``conv``: ConvOp's attributes; ``epsilon``: the normalization's; ``relu``: whether a
        ReLU follows."""
        y = ConvOp.forward(Context(ConvOp, (), (False,) * 3), x, w, b, **conv)
        batch_norm_inference(y, gamma, beta, running_mean, running_var, epsilon, out=y)
        if relu:
            relu_(y)
        return y

    @staticmethod
    def backward(ctx: Context, grad: Any) -> Any:
        raise NotImplementedError("ConvBatchNormOp is for inference tapes only")
