"""Conv1D, Conv2DTranspose, DepthwiseConv2D and SeparableConv2D (glassnet/layers/
convolutional.py): the standard layer checks with Keras's parameter counts, float64 gradients,
PyTorch twins of the whole layer, argument errors, saving and fit's replay."""

from __future__ import annotations

import numpy as np
import pytest

import glassnet as gn
from glassnet import Tensor, layers
from glassnet.gradcheck import gradcheck
from glassnet.models.summary import layer_macs, param_formula
from tests import reference as ref
from tests.helpers import FORWARD_TOL, GRAD_TOL
from tests.layers.layer_checks import run_layer_test

L = layers


@pytest.mark.parametrize(
    ("cls", "kwargs", "input_shape", "output_shape", "weights", "params"),
    [
        (L.Conv1D, {"filters": 4, "kernel_size": 3}, (2, 9, 3), (2, 7, 4), 2, 3 * 3 * 4 + 4),
        (
            L.Conv1D,
            {"filters": 2, "kernel_size": 2, "padding": "causal"},
            (1, 5, 1),
            (1, 5, 2),
            2,
            6,
        ),
        (
            L.Conv1D,
            {"filters": 3, "kernel_size": (3,), "strides": 2, "padding": "same"},
            (2, 7, 2),
            (2, 4, 3),
            2,
            21,
        ),
        (
            L.Conv1D,
            {"filters": 2, "kernel_size": 3, "dilation_rate": 2, "use_bias": False},
            (1, 9, 2),
            (1, 5, 2),
            1,
            12,
        ),
        (
            L.Conv2DTranspose,
            {"filters": 4, "kernel_size": 3},
            (2, 4, 5, 3),
            (2, 6, 7, 4),
            2,
            3 * 3 * 4 * 3 + 4,
        ),
        (
            L.Conv2DTranspose,
            {"filters": 2, "kernel_size": 3, "strides": 2, "padding": "same"},
            (1, 3, 4, 2),
            (1, 6, 8, 2),
            2,
            38,
        ),
        (
            L.Conv2DTranspose,
            {"filters": 2, "kernel_size": 2, "strides": 3},
            (1, 2, 2, 1),
            (1, 6, 6, 2),
            2,
            10,
        ),
        (
            L.Conv2DTranspose,
            {"filters": 1, "kernel_size": 3, "strides": 2, "output_padding": 1, "use_bias": False},
            (1, 3, 3, 2),
            (1, 8, 8, 1),
            1,
            18,
        ),
        (L.DepthwiseConv2D, {"kernel_size": 3}, (2, 6, 6, 3), (2, 4, 4, 3), 2, 3 * 3 * 3 + 3),
        (
            L.DepthwiseConv2D,
            {"kernel_size": 3, "depth_multiplier": 2, "padding": "same", "strides": 2},
            (1, 5, 5, 2),
            (1, 3, 3, 4),
            2,
            3 * 3 * 2 * 2 + 4,
        ),
        (
            L.DepthwiseConv2D,
            {"kernel_size": 1, "use_bias": False},
            (1, 1, 1, 1),
            (1, 1, 1, 1),
            1,
            1,
        ),
        (
            L.SeparableConv2D,
            {"filters": 4, "kernel_size": 3},
            (2, 6, 6, 3),
            (2, 4, 4, 4),
            3,
            3 * 3 * 3 + 3 * 4 + 4,
        ),
        (
            L.SeparableConv2D,
            {
                "filters": 2,
                "kernel_size": 3,
                "depth_multiplier": 2,
                "padding": "same",
                "dilation_rate": 2,
            },
            (1, 6, 5, 2),
            (1, 6, 5, 2),
            3,
            3 * 3 * 2 * 2 + 4 * 2 + 2,
        ),
        (
            L.Conv1DTranspose,
            {"filters": 3, "kernel_size": 3},
            (2, 5, 2),
            (2, 7, 3),
            2,
            3 * 3 * 2 + 3,
        ),
        (
            L.Conv1DTranspose,
            {"filters": 2, "kernel_size": 2, "strides": 3, "output_padding": 2, "padding": "same"},
            (1, 4, 1),
            (1, 11, 2),  # (4 − 1)·3 + 2 − 2·(2 // 2) + 2
            2,
            6,
        ),
        (
            L.DepthwiseConv1D,
            {"kernel_size": 3, "depth_multiplier": 2},
            (2, 6, 3),
            (2, 4, 6),
            2,
            3 * 3 * 2 + 6,
        ),
        (
            L.DepthwiseConv1D,
            {"kernel_size": 2, "strides": 2, "padding": "same", "use_bias": False},
            (1, 1, 2),
            (1, 1, 2),
            1,
            4,
        ),
        (
            L.SeparableConv1D,
            {"filters": 4, "kernel_size": 3, "dilation_rate": 2},
            (2, 8, 3),
            (2, 4, 4),
            3,
            3 * 3 + 3 * 4 + 4,
        ),
    ],
)
def test_layer_checks(cls, kwargs, input_shape, output_shape, weights, params):
    run_layer_test(
        cls,
        kwargs,
        input_shape=input_shape,
        expected_output_shape=output_shape,
        expected_num_weights=weights,
        expected_num_trainable_weights=weights,
        expected_num_params=params,
    )


def test_weight_layouts_are_keras():
    conv1d = L.Conv1D(8, 5)
    conv1d.build((None, 20, 3))
    assert conv1d.kernel.shape == (5, 3, 8) and conv1d.kernel_size == (5,)
    up = L.Conv2DTranspose(8, (3, 2))
    up.build((None, 4, 4, 3))
    assert up.kernel.shape == (3, 2, 8, 3) and up.bias.shape == (8,)
    dw = L.DepthwiseConv2D(3, depth_multiplier=2)
    dw.build((None, 8, 8, 5))
    assert dw.kernel.shape == (3, 3, 5, 2) and dw.bias.shape == (10,)
    sep = L.SeparableConv2D(7, 3, depth_multiplier=2)
    sep.build((None, 8, 8, 5))
    assert sep.depthwise_kernel.shape == (3, 3, 5, 2)
    assert sep.pointwise_kernel.shape == (1, 1, 10, 7) and sep.bias.shape == (7,)


def test_summary_formulas_are_kerass():
    model = gn.Sequential(
        [
            L.Input((8, 8, 4)),
            L.Conv2DTranspose(6, 3, strides=2),
            L.DepthwiseConv2D(3, depth_multiplier=2),
            L.SeparableConv2D(5, 3, depth_multiplier=3),
        ]
    )
    up, dw, sep = model.layers
    assert param_formula(up) == (3 * 3 * 6 * 4 + 6, "3·3·6·4 + 6 = 222")
    assert param_formula(dw) == (3 * 3 * 6 * 2 + 12, "3·3·6·2 + 6·2 = 120")
    assert param_formula(sep) == (3 * 3 * 12 * 3 + 36 * 5 + 5, "3·3·12·3 + 12·3·5 + 5 = 509")
    conv1d = L.Conv1D(4, 3)
    conv1d.build((None, 10, 2))
    assert param_formula(conv1d) == (28, "(3·2 + 1)·4 = 28")
    # multiply-accumulates per sample: each input pixel times the whole transposed kernel; a
    # depthwise output number is kh·kw products; separable adds C·m per pointwise output
    assert layer_macs(up, (None, 17, 17, 6)) == 8 * 8 * 3 * 3 * 6 * 4
    assert layer_macs(dw, (None, 15, 15, 12)) == 15 * 15 * 12 * 3 * 3
    assert layer_macs(sep, (None, 13, 13, 5)) == 13 * 13 * 36 * (3 * 3 + 5)
    assert layer_macs(conv1d, (None, 8, 4)) == 8 * 4 * 3 * 2


@pytest.mark.parametrize(
    ("layer", "shape"),
    [
        (lambda: L.Conv1D(2, 3, strides=2, padding="same"), (1, 6, 2)),
        (lambda: L.Conv1D(2, 2, padding="causal", dilation_rate=2), (2, 5, 1)),
        (lambda: L.Conv2DTranspose(2, 3, strides=2, padding="same"), (1, 3, 2, 2)),
        (lambda: L.Conv2DTranspose(2, 2, strides=2, output_padding=1), (1, 2, 3, 1)),
        (lambda: L.DepthwiseConv2D(3, depth_multiplier=2, padding="same"), (1, 4, 3, 2)),
        (lambda: L.SeparableConv2D(3, 2, strides=2, depth_multiplier=2), (1, 5, 4, 2)),
        (lambda: L.Conv1DTranspose(2, 3, strides=2, padding="same", output_padding=1), (1, 3, 2)),
        (lambda: L.DepthwiseConv1D(2, depth_multiplier=2, dilation_rate=2), (2, 5, 2)),
        (lambda: L.SeparableConv1D(3, 3, strides=2, padding="same", depth_multiplier=2), (1, 6, 2)),
    ],
)
def test_gradcheck_float64(rng, layer, shape):
    layer = layer()
    x = rng.standard_normal(shape)
    layer(x.astype(np.float32))
    for w in layer.weights:  # a non-zero bias too
        w.data[...] = rng.standard_normal(w.shape)
    report = gradcheck(lambda t: layer(t), x, params=layer.parameters())
    assert report.passed, f"\n{report}"


def _torch_grads(torch, module, x, r):
    xr = torch.tensor(x.transpose(0, 3, 1, 2), requires_grad=True)
    out = module(xr)
    (out * torch.tensor(r.transpose(0, 3, 1, 2))).sum().backward()
    return out.detach().numpy().transpose(0, 2, 3, 1), xr.grad.numpy().transpose(0, 2, 3, 1)


def _ours(layer, x, r):
    xt = Tensor(x, requires_grad=True)
    y = layer(xt)
    (y * r).sum().backward()
    return y.numpy(), xt.grad


def test_separable_conv2d_layer_matches_torch(torch, rng):
    """Depthwise (groups=C, Keras's channel order) then pointwise 1×1, "same" pads explicit;
    tolerances FORWARD_TOL (atol 1e-5, rtol 1e-4) and GRAD_TOL (atol 1e-4, rtol 1e-3)."""
    sep = L.SeparableConv2D(4, 3, strides=2, padding="same", depth_multiplier=2)
    x = rng.standard_normal((2, 7, 6, 3)).astype(np.float32)
    sep(x)
    sep.set_weights([rng.standard_normal(w.shape).astype(np.float32) for w in sep.get_weights()])
    r = rng.standard_normal(sep.compute_output_shape(x.shape)).astype(np.float32)
    y, gx = _ours(sep, x, r)

    nn = torch.nn
    (top, bottom), (left, right) = ref.explicit_pads((7, 6), (3, 3), (2, 2), "same")
    depthwise = nn.Conv2d(3, 6, 3, stride=2, groups=3, bias=False)
    pointwise = nn.Conv2d(6, 4, 1)
    with torch.no_grad():
        dk = sep.depthwise_kernel.numpy()  # (3, 3, C, m) -> (C·m, 1, 3, 3)
        depthwise.weight.copy_(torch.tensor(dk.reshape(3, 3, 6).transpose(2, 0, 1)[:, None]))
        pointwise.weight.copy_(torch.tensor(sep.pointwise_kernel.numpy().transpose(3, 2, 0, 1)))
        pointwise.bias.copy_(torch.tensor(sep.bias.numpy()))
    model = nn.Sequential(nn.ZeroPad2d((left, right, top, bottom)), depthwise, pointwise)
    want, want_gx = _torch_grads(torch, model, x, r)
    np.testing.assert_allclose(y, want, **FORWARD_TOL)
    np.testing.assert_allclose(gx, want_gx, **GRAD_TOL)
    gdw = depthwise.weight.grad.numpy()[:, 0].transpose(1, 2, 0).reshape(3, 3, 3, 2)
    np.testing.assert_allclose(sep.depthwise_kernel.grad, gdw, **GRAD_TOL)
    gpw = pointwise.weight.grad.numpy().transpose(2, 3, 1, 0)
    np.testing.assert_allclose(sep.pointwise_kernel.grad, gpw, **GRAD_TOL)
    np.testing.assert_allclose(sep.bias.grad, pointwise.bias.grad.numpy(), **GRAD_TOL)


def test_conv2d_transpose_layer_matches_torch_module(torch, rng):
    """nn.ConvTranspose2d(stride 2, padding 1, output_padding 1) is Keras's "same" for a 3×3
    kernel: input·2 out. Tolerances FORWARD_TOL and GRAD_TOL."""
    up = L.Conv2DTranspose(4, 3, strides=2, padding="same", activation="relu")
    x = rng.standard_normal((2, 4, 5, 3)).astype(np.float32)
    up(x)
    up.set_weights([rng.standard_normal(w.shape).astype(np.float32) for w in up.get_weights()])
    r = rng.standard_normal((2, 8, 10, 4)).astype(np.float32)
    y, gx = _ours(up, x, r)
    module = torch.nn.ConvTranspose2d(3, 4, 3, stride=2, padding=0, output_padding=1)
    with torch.no_grad():  # Keras (kh, kw, F, C) -> torch (C, F, kh, kw)
        module.weight.copy_(torch.tensor(up.kernel.numpy().transpose(3, 2, 0, 1)))
        module.bias.copy_(torch.tensor(up.bias.numpy()))
    # Keras's "same" keeps canvas rows 0..2H−1 (crop 0 at the top for k=3, s=2)
    model = torch.nn.Sequential(module, torch.nn.ReLU())
    want, want_gx = _torch_grads(torch, lambda t: model(t)[:, :, :8, :10], x, r)
    np.testing.assert_allclose(y, want, **FORWARD_TOL)
    np.testing.assert_allclose(gx, want_gx, **GRAD_TOL)
    np.testing.assert_allclose(
        up.kernel.grad, module.weight.grad.numpy().transpose(2, 3, 1, 0), **GRAD_TOL
    )
    np.testing.assert_allclose(up.bias.grad, module.bias.grad.numpy(), **GRAD_TOL)


@pytest.mark.parametrize(
    ("cls", "kwargs", "error", "match"),
    [
        (
            L.Conv1D,
            {"filters": 0, "kernel_size": 3},
            ValueError,
            "Conv1D: 'filters' must be a positive integer",
        ),
        (
            L.Conv1D,
            {"filters": 2, "kernel_size": (3, 3)},
            TypeError,
            r"Conv1D: kernel_size must be an int or a tuple of one int.*kernel_size=\(3, 3\)",
        ),
        (
            L.Conv1D,
            {"filters": 2, "kernel_size": 3, "padding": "full"},
            ValueError,
            "Conv1D: unknown padding 'full'. Expected 'valid', 'same' or 'causal'",
        ),
        (
            L.Conv1D,
            {"filters": 2, "kernel_size": 3, "strides": 2, "dilation_rate": 2},
            ValueError,
            "Conv1D: 'strides' > 1 cannot be combined",
        ),
        (
            L.Conv2DTranspose,
            {"filters": 2, "kernel_size": 3, "output_padding": 1},
            ValueError,
            r"Conv2DTranspose: output_padding must be smaller than strides.*"
            r"output_padding=1, strides=\(1, 1\)",
        ),
        (
            L.Conv2DTranspose,
            {"filters": 2, "kernel_size": 3, "strides": 2, "output_padding": -1},
            ValueError,
            "Conv2DTranspose: output_padding must be None",
        ),
        (
            L.Conv2DTranspose,
            {"filters": 2, "kernel_size": 3, "padding": "causal"},
            ValueError,
            "Conv2DTranspose: unknown padding 'causal'",
        ),
        (
            L.DepthwiseConv2D,
            {"kernel_size": 3, "depth_multiplier": 0},
            ValueError,
            "DepthwiseConv2D: 'depth_multiplier' must be a positive integer",
        ),
        (
            L.DepthwiseConv2D,
            {"kernel_size": 3, "depthwise_regularizer": "nope"},
            ValueError,
            "bad depthwise_regularizer",
        ),
        (
            L.SeparableConv2D,
            {"filters": 2, "kernel_size": 0},
            ValueError,
            "SeparableConv2D: kernel_size must be positive",
        ),
        (
            L.SeparableConv2D,
            {"filters": 2, "kernel_size": 3, "pointwise_constraint": "nope"},
            ValueError,
            "bad pointwise_constraint",
        ),
        (
            L.Conv1DTranspose,
            {"filters": 2, "kernel_size": 3, "strides": 2, "output_padding": 2},
            ValueError,
            "Conv1DTranspose: output_padding must be None or an int ≥ 0 smaller than strides",
        ),
        (
            L.DepthwiseConv1D,
            {"kernel_size": 3, "padding": "causal"},
            ValueError,
            "DepthwiseConv1D: unknown padding 'causal'",
        ),
        (
            L.DepthwiseConv1D,
            {"kernel_size": (3, 3)},
            TypeError,
            "DepthwiseConv1D: kernel_size must be an int or a tuple of one",
        ),
        (
            L.SeparableConv1D,
            {"filters": 2, "kernel_size": 3, "strides": 2, "dilation_rate": 2},
            ValueError,
            r"SeparableConv1D: 'strides' > 1 cannot be combined.*Received: strides=2, "
            r"dilation_rate=2$",
        ),
        (
            L.DepthwiseConv1D,
            {"kernel_size": 3, "strides": 2, "dilation_rate": 2},
            ValueError,
            r"DepthwiseConv1D: 'strides' > 1 cannot be combined.*Received: strides=2, "
            r"dilation_rate=2$",
        ),
    ],
)
def test_argument_errors(cls, kwargs, error, match):
    with pytest.raises(error, match=match):
        cls(**kwargs)


@pytest.mark.parametrize(
    ("layer", "built_for", "bad"),
    [
        (lambda: L.Conv1D(2, 3, name="c"), (None, 9, 3), (1, 9, 2)),
        (lambda: L.Conv2DTranspose(2, 3, name="c"), (None, 4, 4, 3), (1, 4, 4, 1)),
        (lambda: L.DepthwiseConv2D(3, name="c"), (None, 6, 6, 3), (1, 6, 6, 2)),
        (lambda: L.SeparableConv2D(2, 3, name="c"), (None, 6, 6, 3), (1, 6, 6, 4)),
        (lambda: L.Conv1DTranspose(2, 3, name="c"), (None, 4, 3), (1, 4, 1)),
        (lambda: L.DepthwiseConv1D(3, name="c"), (None, 6, 3), (1, 6, 2)),
        (lambda: L.SeparableConv1D(2, 3, name="c"), (None, 6, 3), (1, 6, 5)),
    ],
)
def test_channel_mismatch_names_the_layer(layer, built_for, bad):
    layer = layer()
    layer.build(built_for)
    kind = type(layer).__name__
    got = bad[-1]
    message = rf"{kind} 'c': input has {got} channels? but the layer was built for 3"
    with pytest.raises(ValueError, match=message):
        layer(np.zeros(bad, np.float32))


@pytest.mark.parametrize(
    ("layer", "shape", "match"),
    [
        (
            lambda: L.Conv1D(2, 5, name="c"),
            (1, 4, 2),
            r"Conv1D 'c': computed output size would be zero",
        ),
        (
            lambda: L.DepthwiseConv2D(3, name="c"),
            (1, 2, 5, 1),
            r"DepthwiseConv2D 'c': computed output size",
        ),
        (
            lambda: L.SeparableConv2D(2, 3, dilation_rate=2, name="c"),
            (1, 4, 4, 1),
            r"SeparableConv2D 'c': computed output size",
        ),
        (
            lambda: L.Conv2DTranspose(2, 2, padding="same", output_padding=0, name="c"),
            (1, 1, 1, 1),
            r"Conv2DTranspose 'c': the output would be \(0, 0\)",
        ),
        (lambda: L.Conv1D(2, 3, name="c"), (9, 3), r"Conv1D 'c': expected a 3-D input"),
    ],
)
def test_impossible_inputs_raise_before_build(layer, shape, match):
    layer = layer()
    with pytest.raises(ValueError, match=match):
        layer(np.zeros(shape, np.float32))
    assert not layer.built


def test_one_pixel_and_one_step_inputs():
    assert L.Conv1D(2, 1)(np.ones((1, 1, 1), np.float32)).shape == (1, 1, 2)
    assert L.Conv1D(2, 3, padding="causal")(np.ones((1, 1, 1), np.float32)).shape == (1, 1, 2)
    assert L.Conv2DTranspose(2, 3, strides=2)(np.ones((1, 1, 1, 1), np.float32)).shape == (
        1,
        3,
        3,
        2,
    )
    assert L.DepthwiseConv2D(3, padding="same")(np.ones((1, 1, 1, 2), np.float32)).shape == (
        1,
        1,
        1,
        2,
    )


def test_depthwise_regularizer_changed_after_build_reaches_the_kernel():
    dw = L.DepthwiseConv2D(3, depthwise_regularizer="l2")
    dw(np.ones((1, 5, 5, 2), np.float32))
    assert dw._weight_regularizers["kernel"] is dw.depthwise_regularizer
    dw.depthwise_regularizer = None
    assert "kernel" not in dw._weight_regularizers
    dw.depthwise_constraint = "non_neg"
    assert dw.kernel.constraint is dw.depthwise_constraint is not None


def _model():
    return gn.Sequential(
        [
            L.Input((10, 3)),
            L.Conv1D(4, 3, padding="causal", activation="relu"),
            L.Conv1D(4, 2, strides=2),
            L.Reshape((1, 5, 4)),
            L.Conv2DTranspose(3, 3, strides=2, padding="same", activation="tanh"),
            L.DepthwiseConv2D(3, depth_multiplier=2, padding="same"),
            L.SeparableConv2D(4, 2, activation="relu"),
            L.Reshape((9, 4)),
            L.Conv1DTranspose(3, 2, strides=2, padding="same", output_padding=1),
            L.DepthwiseConv1D(3, depth_multiplier=2, padding="same", activation="tanh"),
            L.SeparableConv1D(3, 3, strides=2),
            L.Flatten(),
            L.Dense(3),
        ]
    )


def test_save_and_load_give_the_same_predictions(tmp_path, rng):
    gn.set_seed(0)
    model = _model()
    x = rng.random((3, 10, 3), dtype=np.float32)
    model.save(tmp_path / "m.glassnet")
    loaded = gn.load_model(tmp_path / "m.glassnet")
    assert [type(a) for a in loaded.layers] == [type(b) for b in model.layers]
    assert loaded.layers[3].get_config() == model.layers[3].get_config()
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))


def _train(jit):
    gn.set_seed(0)
    model = _model()
    model.compile(
        gn.optimizers.SGD(0.05, momentum=0.9),
        gn.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    model.jit_compile = jit
    rng = np.random.default_rng(1)
    x = rng.random((20, 10, 3), dtype=np.float32)
    y = rng.integers(0, 3, 20)
    history = model.fit(x, y, batch_size=8, epochs=3, verbose=0)
    return model, history.history


def test_replay_trains_to_the_graphs_numbers():
    """fit's replay of the recorded ops gives the weights of the graph run on every batch."""
    replayed, history = _train(jit=True)
    graph, graph_history = _train(jit=False)
    assert history == graph_history
    for a, b in zip(replayed.weights, graph.weights, strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
