"""Differentiable functions on tensors: the lowercase functional API (PyTorch's ``F``).

Each op is a ``Function`` subclass (``glassnet/autograd.py``) whose forward and backward are
plain NumPy, plus a lowercase wrapper here that checks its arguments. Layers call these.
"""

from glassnet.ops import methods as _methods
from glassnet.ops.activation import (
    elu,
    gelu,
    hard_sigmoid,
    hard_silu,
    leaky_relu,
    log_softmax,
    mish,
    prelu,
    relu,
    relu6,
    selu,
    sigmoid,
    silu,
    softmax,
    softplus,
    softsign,
    tanh,
)
from glassnet.ops.attention import *
from glassnet.ops.conv import *
from glassnet.ops.conv_transpose import *
from glassnet.ops.creation import arange, ones, zeros
from glassnet.ops.depthwise_conv import *
from glassnet.ops.dropout import *
from glassnet.ops.elementwise import (
    abs,
    add,
    cast,
    clip,
    div,
    equal,
    exp,
    greater_equal,
    log,
    logical_and,
    logical_not,
    logical_or,
    maximum,
    minimum,
    mul,
    neg,
    not_equal,
    pow,
    sqrt,
    square,
    sub,
    where,
)
from glassnet.ops.image import affine_sample, gather_pixels
from glassnet.ops.linalg import linear, matmul
from glassnet.ops.loss import *
from glassnet.ops.normalization import *
from glassnet.ops.pooling import *
from glassnet.ops.recurrent import gru, lstm, simple_rnn
from glassnet.ops.reduce import max, mean, min, sum
from glassnet.ops.shape import (
    broadcast_to,
    concat,
    embedding_lookup,
    expand_dims,
    flatten,
    getitem,
    pad,
    reshape,
    squeeze,
    stack,
    transpose,
)
from glassnet.ops.upsampling import upsample_bilinear2d, upsample_nearest2d, upsample_nearest3d
