"""float32 stays float32: every differentiable op, forward and backward, in one table.

The table must name every public op in ``glassnet.ops``; a new op without an entry fails
``test_every_op_is_in_the_table``, so the policy cannot silently lose coverage.
"""

from __future__ import annotations

import inspect

import numpy as np
import pytest

from glassnet import Tensor, ops

R = np.random.default_rng(0)


def _f(*shape, low=-1.0, high=1.0):
    return R.uniform(low, high, shape).astype(np.float32)


IMAGES = _f(2, 6, 6, 3)
KERNEL = _f(3, 3, 3, 4)
VOLUMES = _f(2, 4, 5, 4, 3)
LABELS = np.array([0, 2])
ONEHOT = np.eye(3, dtype=np.float32)[LABELS]

# name -> (function of float32 Tensors, the float32 arrays to make Tensors of)
TABLE = {
    "abs": (ops.abs, [_f(3)]),
    "add": (ops.add, [_f(2, 3), _f(3)]),
    "sub": (ops.sub, [_f(2, 3), _f(3)]),
    "mul": (ops.mul, [_f(2, 3), _f(3)]),
    "div": (ops.div, [_f(2, 3), _f(3, low=1, high=2)]),
    "pow": (ops.pow, [_f(3, low=0.5, high=2), _f(3)]),
    "neg": (ops.neg, [_f(3)]),
    "exp": (ops.exp, [_f(3)]),
    "log": (ops.log, [_f(3, low=0.5, high=2)]),
    "sqrt": (ops.sqrt, [_f(3, low=0.5, high=2)]),
    "square": (ops.square, [_f(3)]),
    "clip": (lambda x: ops.clip(x, -0.5, 0.5), [_f(4)]),
    "cast": (lambda x: ops.cast(x, "float32"), [_f(3)]),
    "maximum": (ops.maximum, [_f(3), _f(3)]),
    "minimum": (ops.minimum, [_f(3), _f(3)]),
    "where": (lambda a, b: ops.where(a.data > 0, a, b), [_f(3), _f(3)]),
    "sum": (lambda x: ops.sum(x, axis=1), [_f(2, 3)]),
    "mean": (lambda x: ops.mean(x, axis=0), [_f(2, 3)]),
    "max": (lambda x: ops.max(x, axis=1), [_f(2, 3)]),
    "min": (lambda x: ops.min(x), [_f(2, 3)]),
    "reshape": (lambda x: ops.reshape(x, (3, 2)), [_f(2, 3)]),
    "transpose": (ops.transpose, [_f(2, 3)]),
    "flatten": (ops.flatten, [_f(2, 3)]),
    "squeeze": (ops.squeeze, [_f(2, 1)]),
    "expand_dims": (lambda x: ops.expand_dims(x, 0), [_f(2)]),
    "broadcast_to": (lambda x: ops.broadcast_to(x, (2, 3)), [_f(3)]),
    "getitem": (lambda x: ops.getitem(x, (slice(None), 1)), [_f(2, 3)]),
    "concat": (lambda a, b: ops.concat([a, b], axis=1), [_f(2, 3), _f(2, 1)]),
    "stack": (lambda a, b: ops.stack([a, b]), [_f(2), _f(2)]),
    "pad": (lambda x: ops.pad(x, 1), [_f(2, 2)]),
    "matmul": (ops.matmul, [_f(2, 3), _f(3, 4)]),
    "linear": (ops.linear, [_f(2, 3), _f(3, 4), _f(4)]),
    "relu": (ops.relu, [_f(5)]),
    "leaky_relu": (ops.leaky_relu, [_f(5)]),
    "sigmoid": (ops.sigmoid, [_f(5)]),
    "tanh": (ops.tanh, [_f(5)]),
    "gelu": (ops.gelu, [_f(5)]),
    "silu": (ops.silu, [_f(5)]),
    "elu": (ops.elu, [_f(5)]),
    "selu": (ops.selu, [_f(5)]),
    "softplus": (ops.softplus, [_f(5)]),
    "mish": (ops.mish, [_f(5)]),
    "relu6": (ops.relu6, [_f(5, low=-1, high=7)]),
    "hard_sigmoid": (ops.hard_sigmoid, [_f(5, low=-4, high=4)]),
    "hard_silu": (ops.hard_silu, [_f(5, low=-4, high=4)]),
    "softsign": (ops.softsign, [_f(5)]),
    "prelu": (ops.prelu, [_f(2, 3), _f(3)]),
    "softmax": (ops.softmax, [_f(2, 3)]),
    "log_softmax": (ops.log_softmax, [_f(2, 3)]),
    "conv2d": (lambda x, w, b: ops.conv2d(x, w, b, padding="same"), [IMAGES, KERNEL, _f(4)]),
    "conv1d": (
        lambda x, w, b: ops.conv1d(x, w, b, padding="causal"),
        [_f(2, 7, 3), _f(3, 3, 4), _f(4)],
    ),
    "conv_transpose2d": (
        lambda x, w, b: ops.conv_transpose2d(x, w, b, stride=2, padding="same"),
        [IMAGES, _f(3, 3, 4, 3), _f(4)],
    ),
    "conv_transpose1d": (ops.conv_transpose1d, [_f(2, 7, 3), _f(3, 4, 3), _f(4)]),
    "depthwise_conv2d": (ops.depthwise_conv2d, [IMAGES, _f(3, 3, 3, 2), _f(6)]),
    "depthwise_conv1d": (ops.depthwise_conv1d, [_f(2, 7, 3), _f(3, 3, 2), _f(6)]),
    "max_pool2d": (ops.max_pool2d, [IMAGES]),
    "avg_pool2d": (lambda x: ops.avg_pool2d(x, 3, 2, "same"), [IMAGES]),
    "global_avg_pool2d": (ops.global_avg_pool2d, [IMAGES]),
    "global_max_pool2d": (ops.global_max_pool2d, [IMAGES]),
    "conv3d": (
        lambda x, w, b: ops.conv3d(x, w, b, stride=(1, 2, 1), padding="same"),
        [VOLUMES, _f(2, 3, 2, 3, 4), _f(4)],
    ),
    "max_pool3d": (ops.max_pool3d, [VOLUMES]),
    "upsample_nearest3d": (lambda x: ops.upsample_nearest3d(x, (1, 2, 3)), [VOLUMES]),
    "avg_pool3d": (lambda x: ops.avg_pool3d(x, 3, 2, "same"), [VOLUMES]),
    "global_avg_pool3d": (ops.global_avg_pool3d, [VOLUMES]),
    "global_max_pool3d": (ops.global_max_pool3d, [VOLUMES]),
    "upsample_nearest2d": (lambda x: ops.upsample_nearest2d(x, (2, 3)), [IMAGES]),
    "upsample_bilinear2d": (lambda x: ops.upsample_bilinear2d(x, (3, 2)), [IMAGES]),
    "batch_norm": (
        lambda x, g, b: ops.batch_norm(
            x, g, b, Tensor(np.zeros(3, np.float32)), Tensor(np.ones(3, np.float32)), True
        ),
        [IMAGES, _f(3), _f(3)],
    ),
    "affine_sample": (
        lambda x: ops.affine_sample(x, np.tile([[1.0, 0.2, 0.5], [0.1, 0.9, -0.3]], (2, 1, 1))),
        [IMAGES],
    ),
    "gather_pixels": (
        lambda x: ops.gather_pixels(x, np.arange(6)[::-1, None], np.arange(6)[None, :]),
        [IMAGES],
    ),
    "dropout": (lambda x: ops.dropout(x, 0.5, rng=np.random.default_rng(0)), [_f(50)]),
    "gaussian_noise": (
        lambda x: ops.gaussian_noise(x, 0.5, rng=np.random.default_rng(0)),
        [_f(50)],
    ),
    "gaussian_dropout": (
        lambda x: ops.gaussian_dropout(x, 0.3, rng=np.random.default_rng(0)),
        [_f(50)],
    ),
    "layer_norm": (lambda x, g, b: ops.layer_norm(x, g, b), [_f(2, 5), _f(5), _f(5)]),
    "group_norm": (lambda x, g, b: ops.group_norm(x, 2, g, b), [_f(2, 3, 3, 4), _f(4), _f(4)]),
    "normalize": (ops.normalize, [_f(2, 5)]),
    "mean_squared_error": (lambda p: ops.mean_squared_error(ONEHOT, p), [_f(2, 3)]),
    "mean_absolute_error": (lambda p: ops.mean_absolute_error(ONEHOT, p), [_f(2, 3)]),
    "binary_crossentropy": (
        lambda p: ops.binary_crossentropy(ONEHOT, p, from_logits=True),
        [_f(2, 3)],
    ),
    "categorical_crossentropy": (
        lambda p: ops.categorical_crossentropy(ONEHOT, p, from_logits=True),
        [_f(2, 3)],
    ),
    "sparse_categorical_crossentropy": (
        lambda p: ops.sparse_categorical_crossentropy(LABELS, p, from_logits=True),
        [_f(2, 3)],
    ),
    "softmax_cross_entropy": (lambda p: ops.softmax_cross_entropy(p, LABELS), [_f(2, 3)]),
    "huber": (lambda p: ops.huber(ONEHOT, p, delta=0.5), [_f(2, 3)]),
    "log_cosh": (lambda p: ops.log_cosh(ONEHOT, p), [_f(2, 3)]),
    "poisson": (lambda p: ops.poisson(ONEHOT, p), [_f(2, 3, low=0.1, high=2)]),
    "hinge": (lambda p: ops.hinge(ONEHOT, p), [_f(2, 3)]),
    "kl_divergence": (lambda p: ops.kl_divergence(ONEHOT, p), [_f(2, 3, low=0.1, high=0.9)]),
    "cosine_similarity": (lambda p: ops.cosine_similarity(ONEHOT, p), [_f(2, 3)]),
    "simple_rnn": (ops.simple_rnn, [_f(2, 3, 4), _f(4, 5), _f(5, 5), _f(5), _f(2, 5)]),
    "lstm": (
        lambda x, w, u, b, h, c: ops.lstm(x, w, u, b, h, c)[0],
        [_f(2, 3, 4), _f(4, 8), _f(2, 8), _f(8), _f(2, 2), _f(2, 2)],
    ),
    "gru": (ops.gru, [_f(2, 3, 4), _f(4, 6), _f(2, 6), _f(2, 6), _f(2, 2)]),
    "embedding_lookup": (
        lambda t: ops.embedding_lookup(t, Tensor(np.array([[0, 2], [2, 1]]))),
        [_f(3, 4)],
    ),
    "masked_softmax": (lambda x: ops.masked_softmax(x, _f(2, 3) > 0), [_f(2, 3)]),
    "masked_mean": (lambda x: ops.masked_mean(x, Tensor(_f(2, 3) > -0.5)), [_f(2, 3, 4)]),
}
# Ops that make masks (bool, not differentiable): checked for their dtype below.
MASKS = {
    "token_mask",
    "attention_mask",
    "step_mask",
    "equal",
    "not_equal",
    "greater_equal",
    "logical_and",
    "logical_or",
    "logical_not",
}
# Ops that make new tensors from a shape or a range (no inputs): checked below.
CREATION = {"zeros", "ones", "arange"}
SHAPE_ARITHMETIC = {
    "conv_output_shape",
    "conv1d_output_length",
    "conv_transpose_output_length",
    "pool_output_shape",
    "resolve_padding",
}


def test_every_op_is_in_the_table():
    public = {
        name
        for name, value in vars(ops).items()
        if callable(value) and not name.startswith("_") and not inspect.ismodule(value)
    }
    assert public - SHAPE_ARITHMETIC - MASKS - CREATION == set(TABLE)


def test_mask_ops_give_bool_masks():
    ids = Tensor(np.array([[3, 0], [0, 1]]))
    assert ops.token_mask(ids).dtype == np.bool_
    mask = ops.attention_mask(2, 2, query_mask=ops.token_mask(ids), causal=True)
    assert mask.dtype == np.bool_ and mask.shape == (2, 2, 2)
    x = Tensor(_f(2, 3))
    made_by = (ops.equal(x, 0), ops.not_equal(x, 0), ops.greater_equal(x, 0))
    for made in (*made_by, ops.logical_and(x, x), ops.logical_or(x, 0), ops.logical_not(x)):
        assert made.dtype == np.bool_ and made.shape == (2, 3)
    steps = ops.step_mask(Tensor(_f(2, 3, 4)))
    assert steps.dtype == np.bool_ and steps.shape == (2, 3)


def test_creation_ops_give_float32_unless_told():
    assert ops.zeros((2, 3)).dtype == ops.ones(2).dtype == np.float32
    assert ops.arange(0.0, 1.0, 0.5).dtype == np.float32
    assert ops.arange(3).dtype == np.int64


@pytest.mark.parametrize("name", sorted(TABLE))
def test_float32_in_float32_out_and_float32_gradients(name):
    fn, arrays = TABLE[name]
    tensors = [Tensor(a.copy(), requires_grad=True) for a in arrays]
    out = fn(*tensors)
    assert out.dtype == np.float32, f"{name} forward gave {out.dtype}"
    out.sum().backward()
    for t in tensors:
        assert t.grad is not None, f"{name} gave no gradient"
        assert t.grad.dtype == np.float32, f"{name} backward gave {t.grad.dtype}"
