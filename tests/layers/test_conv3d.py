"""The 3-D layers (Conv3D, MaxPooling3D, AveragePooling3D, Global{Average,Max}Pooling3D) on
volumes (batch, depth, height, width, channels): the standard layer checks, Keras's defaults
and parameter counts, float64 gradients, torch.nn.Conv3d/MaxPool3d/AvgPool3d modules, saving
and the replayed training. The ops themselves: tests/ops/test_conv3d.py."""

from __future__ import annotations

import numpy as np
import pytest

import glassnet as gn
from glassnet import Tensor
from glassnet import layers as L
from glassnet.gradcheck import gradcheck
from glassnet.models.summary import layer_macs, param_formula
from tests import reference as ref
from tests.helpers import FORWARD_TOL, GRAD_TOL
from tests.layers.layer_checks import run_layer_test


@pytest.mark.parametrize(
    ("cls", "kwargs", "input_shape", "output_shape", "weights", "params"),
    [
        (L.Conv3D, {"filters": 4, "kernel_size": 3}, (2, 5, 6, 5, 3), (2, 3, 4, 3, 4), 2,
         (3 * 3 * 3 * 3 + 1) * 4),
        (L.Conv3D, {"filters": 2, "kernel_size": (1, 3, 2), "strides": (1, 2, 3),
                    "padding": "same", "use_bias": False}, (1, 3, 5, 7, 1), (1, 3, 3, 3, 2), 1,
         3 * 2 * 2),
        (L.Conv3D, {"filters": 2, "kernel_size": 2, "dilation_rate": 2, "activation": "relu"},
         (1, 4, 5, 3, 2), (1, 2, 3, 1, 2), 2, (8 * 2 + 1) * 2),
        (L.Conv3D, {"filters": 3, "kernel_size": 3, "padding": "same"}, (1, 1, 1, 1, 1),
         (1, 1, 1, 1, 3), 2, (27 + 1) * 3),
        (L.MaxPooling3D, {}, (2, 4, 6, 4, 3), (2, 2, 3, 2, 3), 0, 0),
        (L.MaxPooling3D, {"pool_size": 3, "strides": 2, "padding": "same"}, (1, 5, 4, 3, 2),
         (1, 3, 2, 2, 2), 0, 0),
        (L.AveragePooling3D, {"pool_size": (2, 1, 3), "strides": 3}, (2, 7, 4, 6, 1),
         (2, 2, 2, 2, 1), 0, 0),
        (L.AveragePooling3D, {"padding": "same"}, (1, 1, 1, 1, 2), (1, 1, 1, 1, 2), 0, 0),
        (L.GlobalAveragePooling3D, {}, (2, 3, 4, 2, 3), (2, 3), 0, 0),
        (L.GlobalAveragePooling3D, {"keepdims": True}, (1, 1, 1, 1, 1), (1, 1, 1, 1, 1), 0, 0),
        (L.GlobalMaxPooling3D, {}, (2, 3, 4, 2, 3), (2, 3), 0, 0),
        (L.GlobalMaxPooling3D, {"keepdims": True}, (2, 2, 1, 3, 2), (2, 1, 1, 1, 2), 0, 0),
    ],
)  # fmt: skip
def test_layer_checks(cls, kwargs, input_shape, output_shape, weights, params):
    run_layer_test(
        cls,
        kwargs,
        input_shape=input_shape,
        expected_output_shape=output_shape,
        expected_num_weights=weights,
        expected_num_params=params,
    )


def test_keras_defaults_and_config():
    conv = L.Conv3D(8, 3)
    assert conv.strides == (1, 1, 1) and conv.dilation_rate == (1, 1, 1)
    assert conv.padding == "valid" and conv.use_bias and conv.activation is gn.activations.linear
    conv.build((None, 4, 4, 4, 2))
    assert conv.kernel.shape == (3, 3, 3, 2, 8) and conv.bias.shape == (8,)
    config = conv.get_config()
    assert config["name"].startswith("conv3d") and config["filters"] == 8
    assert (config["kernel_size"], config["strides"]) == ((3, 3, 3), (1, 1, 1))
    assert (config["activation"], config["kernel_initializer"]) == ("linear", "glorot_uniform")
    pool = L.MaxPooling3D()
    assert pool.pool_size == (2, 2, 2) and pool.strides == (2, 2, 2) and pool.padding == "valid"
    assert L.AveragePooling3D(3).strides == (3, 3, 3)  # strides=None means pool_size
    assert L.GlobalMaxPooling3D().keepdims is False
    assert L.Convolution3D is L.Conv3D and L.MaxPool3D is L.MaxPooling3D
    assert L.AvgPool3D is L.AveragePooling3D and L.GlobalAvgPool3D is L.GlobalAveragePooling3D
    assert L.GlobalMaxPool3D is L.GlobalMaxPooling3D
    alias = gn.layers.deserialize({"class_name": "MaxPool3D", "config": {"pool_size": 3}})
    assert type(alias) is L.MaxPooling3D and alias.pool_size == (3, 3, 3)


def test_summary_counts_kerass_parameters():
    """Keras's count for Conv3D: (kd·kh·kw·C + 1)·filters; the pools hold none."""
    model = gn.Sequential(
        [
            L.Input((8, 16, 16, 1)),
            L.Conv3D(16, 3, padding="same", activation="relu"),
            L.MaxPooling3D(),
            L.Conv3D(8, (1, 3, 3), use_bias=False),
            L.GlobalAveragePooling3D(),
            L.Dense(2),
        ]
    )
    conv, pool, conv2, _, _ = model.layers
    assert param_formula(conv) == (448, "(3·3·3·1 + 1)·16 = 448")
    assert param_formula(conv2) == (1152, "1·3·3·16·8 = 1,152")
    assert param_formula(pool) == (0, "")
    assert model.count_params() == 448 + 1152 + 8 * 2 + 2
    assert layer_macs(conv, (None, 8, 16, 16, 16)) == 8 * 16 * 16 * 16 * 27
    lines: list[str] = []
    model.summary(print_fn=lines.append)
    text = "\n".join(lines)
    assert "(3·3·3·1 + 1)·16 = 448" in text and "(None, 4, 8, 8, 16)" in text


def test_forward_matches_the_loops(rng):
    x = rng.standard_normal((2, 5, 4, 6, 2)).astype(np.float32)
    conv = L.Conv3D(3, (2, 3, 2), strides=(2, 1, 2), padding="same")
    got = conv(x).numpy()
    want = ref.conv3d(
        x.astype(np.float64),
        conv.kernel.numpy().astype(np.float64),
        conv.bias.numpy(),
        (2, 1, 2),
        "same",
    )
    np.testing.assert_allclose(got, want, **FORWARD_TOL)
    for kind, cls in (("max", L.MaxPooling3D), ("avg", L.AveragePooling3D)):
        got = cls(3, 2, "same")(x).numpy()
        np.testing.assert_allclose(got, ref.pool3d(kind, x, 3, 2, "same"), **FORWARD_TOL)


@pytest.mark.parametrize(
    ("layer", "shape"),
    [
        (lambda: L.Conv3D(2, 2, strides=2, padding="same", activation="relu"), (1, 3, 4, 3, 2)),
        (lambda: L.Conv3D(2, (2, 1, 2), dilation_rate=(1, 1, 2)), (2, 3, 2, 5, 1)),
        (lambda: L.Conv3D(3, 3, strides=(3, 1, 2)), (1, 4, 3, 5, 2)),
        (lambda: L.MaxPooling3D(2, 1, "same"), (1, 3, 3, 2, 2)),
        (lambda: L.AveragePooling3D((1, 2, 3), 2, "same"), (2, 3, 3, 4, 1)),
        (lambda: L.GlobalMaxPooling3D(), (2, 2, 3, 2, 2)),
        (lambda: L.GlobalAveragePooling3D(keepdims=True), (1, 2, 2, 3, 2)),
    ],
)
def test_gradcheck_float64(rng, layer, shape):
    layer = layer()
    # distinct values: the max pools' windows never tie
    x = rng.permutation(int(np.prod(shape))).reshape(shape) * 0.1
    layer(x.astype(np.float32))
    for w in layer.weights:  # a non-zero bias too
        w.data[...] = rng.standard_normal(w.shape)
    report = gradcheck(lambda t: layer(t), x, params=layer.parameters())
    assert report.passed, f"\n{report}"


def _torch_grads(torch, module, x, r):
    """``module`` on x (N, D, H, W, C) as (N, C, D, H, W); its output and input gradient of
    Σ out · r, back channels-last."""
    xr = torch.tensor(x.transpose(0, 4, 1, 2, 3), requires_grad=True)
    out = module(xr)
    (out * torch.tensor(r.transpose(0, 4, 1, 2, 3))).sum().backward()
    return out.detach().numpy().transpose(0, 2, 3, 4, 1), xr.grad.numpy().transpose(0, 2, 3, 4, 1)


def _run(layer, x, r):
    xt = Tensor(x, requires_grad=True)
    y = layer(xt)
    (y * Tensor(r)).sum().backward()
    return y.numpy(), xt.grad


@pytest.mark.parametrize(
    ("kwargs", "shape", "torch_padding"),
    [
        ({"kernel_size": 3}, (2, 5, 6, 4, 3), 0),
        ({"kernel_size": 3, "padding": "same"}, (1, 4, 4, 5, 2), 1),  # odd kernel, stride 1
        ({"kernel_size": 2, "strides": 3}, (2, 7, 6, 5, 1), 0),
        ({"kernel_size": 2, "dilation_rate": 2, "activation": "relu"}, (1, 5, 4, 5, 2), 0),
        ({"kernel_size": 1}, (1, 1, 1, 1, 1), 0),
    ],
)
def test_conv3d_layer_matches_torch_module(torch, rng, kwargs, shape, torch_padding):
    """Conv3D against torch.nn.Conv3d with its weights (kd, kh, kw, C, F) -> (F, C, kd, kh, kw):
    FORWARD_TOL (atol 1e-5, rtol 1e-4) and GRAD_TOL (atol 1e-4, rtol 1e-3) for the output,
    the input's and the weights' gradients."""
    x = rng.standard_normal(shape).astype(np.float32)
    conv = L.Conv3D(4, **kwargs)
    conv.build(shape)
    conv.bias.data[...] = rng.standard_normal(4)
    y = conv(x)
    r = rng.standard_normal(y.shape).astype(np.float32)
    got, got_gx = _run(conv, x, r)
    module = torch.nn.Conv3d(
        shape[-1],
        4,
        kwargs["kernel_size"],
        stride=kwargs.get("strides", 1),
        padding=torch_padding,
        dilation=kwargs.get("dilation_rate", 1),
    )
    with torch.no_grad():
        module.weight.copy_(torch.tensor(conv.kernel.numpy().transpose(4, 3, 0, 1, 2)))
        module.bias.copy_(torch.tensor(conv.bias.numpy()))
    model = torch.nn.Sequential(module, torch.nn.ReLU()) if "activation" in kwargs else module
    want, want_gx = _torch_grads(torch, model, x, r)
    np.testing.assert_allclose(got, want, **FORWARD_TOL)
    np.testing.assert_allclose(got_gx, want_gx, **GRAD_TOL)
    gw = module.weight.grad.numpy().transpose(2, 3, 4, 1, 0)
    np.testing.assert_allclose(conv.kernel.grad, gw, **GRAD_TOL)
    np.testing.assert_allclose(conv.bias.grad, module.bias.grad.numpy(), **GRAD_TOL)


@pytest.mark.parametrize(
    ("pool", "strides", "shape"),
    [(2, None, (2, 4, 6, 4, 3)), (3, 2, (1, 7, 5, 6, 2)), (2, 3, (2, 7, 7, 7, 1)),
     ((1, 2, 3), (1, 2, 2), (1, 2, 5, 7, 2)), (1, None, (1, 1, 1, 1, 1))],
)  # fmt: skip
@pytest.mark.parametrize("kind", ["max", "avg"])
def test_pool3d_layers_match_torch_modules(torch, rng, kind, pool, strides, shape):
    """MaxPooling3D / AveragePooling3D ("valid") against nn.MaxPool3d / nn.AvgPool3d:
    FORWARD_TOL and GRAD_TOL."""
    x = (rng.permutation(int(np.prod(shape))).reshape(shape) * 0.1).astype(np.float32)
    cls, module_cls = (
        (L.MaxPooling3D, torch.nn.MaxPool3d)
        if kind == "max"
        else (L.AveragePooling3D, torch.nn.AvgPool3d)
    )
    layer = cls(pool, strides)
    r = rng.standard_normal(layer(x).shape).astype(np.float32)
    got, got_gx = _run(layer, x, r)
    want, want_gx = _torch_grads(torch, module_cls(pool, strides), x, r)
    np.testing.assert_allclose(got, want, **FORWARD_TOL)
    np.testing.assert_allclose(got_gx, want_gx, **GRAD_TOL)


def _model():
    return gn.Sequential(
        [
            L.Input((4, 6, 6, 2)),
            L.Conv3D(4, 3, padding="same", activation="relu"),
            L.MaxPooling3D((1, 2, 2)),
            L.Conv3D(3, 2, strides=(1, 2, 2), padding="same", activation="tanh"),
            L.AveragePooling3D((2, 1, 1), padding="same"),
            L.Conv3D(3, 1),
            L.GlobalAveragePooling3D(),
            L.Dense(3),
        ]
    )


def test_save_and_load_give_the_same_predictions(tmp_path, rng):
    gn.set_seed(0)
    model = _model()
    x = rng.random((3, 4, 6, 6, 2), dtype=np.float32)
    model.save(tmp_path / "m.glassnet")
    loaded = gn.load_model(tmp_path / "m.glassnet")
    assert [type(a) for a in loaded.layers] == [type(b) for b in model.layers]
    assert loaded.layers[2].get_config() == model.layers[2].get_config()
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    assert loaded.count_params() == model.count_params()


def _train(jit):
    gn.set_seed(0)
    model = gn.Sequential([*_model().layers[:-2], L.GlobalMaxPooling3D(), L.Dense(3)])
    model.compile(
        gn.optimizers.SGD(0.05, momentum=0.9),
        gn.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    model.jit_compile = jit
    rng = np.random.default_rng(1)
    x = rng.random((12, 4, 6, 6, 2), dtype=np.float32)
    y = rng.integers(0, 3, 12)
    history = model.fit(x, y, batch_size=5, epochs=2, verbose=0)
    return model, history.history


def test_replay_trains_to_the_graphs_numbers():
    """fit's replay of the recorded ops gives the weights of the graph run on every batch."""
    replayed, history = _train(jit=True)
    graph, graph_history = _train(jit=False)
    assert history == graph_history
    for a, b in zip(replayed.weights, graph.weights, strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_training_reduces_the_loss():
    gn.set_seed(0)
    model = _model()
    model.compile("adam", gn.losses.SparseCategoricalCrossentropy(from_logits=True))
    rng = np.random.default_rng(2)
    x = rng.random((16, 4, 6, 6, 2), dtype=np.float32)
    y = (x[:, :2].mean(axis=(1, 2, 3, 4)) > x[:, 2:].mean(axis=(1, 2, 3, 4))).astype(int)
    history = model.fit(x, y, batch_size=8, epochs=8, verbose=0).history["loss"]
    assert history[-1] < history[0]


@pytest.mark.parametrize(
    ("make", "error", "match"),
    [
        (lambda: L.Conv3D(2, (3, 3)), TypeError,
         r"Conv3D: kernel_size must be an int or a tuple of 3 ints"),
        (lambda: L.Conv3D(2, 3, strides=0), ValueError, r"Conv3D: strides must be positive"),
        (lambda: L.Conv3D(2, 3, padding="causal"), ValueError,
         r"Conv3D: unknown padding 'causal'"),
        (lambda: L.Conv3D(2, 3, strides=2, dilation_rate=2), ValueError,
         r"Conv3D: 'strides' > 1 cannot be combined with 'dilation_rate' > 1"),
        (lambda: L.Conv3D(0, 3), ValueError, r"Conv3D: 'filters' must be a positive integer"),
        (lambda: L.MaxPooling3D((2, 2)), TypeError,
         r"MaxPooling3D: pool_size must be an int or a tuple of 3 ints"),
        (lambda: L.AveragePooling3D(2, (1, 0, 1)), ValueError,
         r"AveragePooling3D: strides must be positive"),
        (lambda: L.MaxPooling3D(padding=1), TypeError,
         r"MaxPooling3D: padding must be 'valid' or 'same'"),
        (lambda: L.GlobalMaxPooling3D(keepdims=1), TypeError,
         r"GlobalMaxPooling3D: 'keepdims' must be True or False"),
    ],
)  # fmt: skip
def test_argument_errors(make, error, match):
    with pytest.raises(error, match=match):
        make()


@pytest.mark.parametrize(
    ("layer", "shape", "match"),
    [
        (L.Conv3D(2, 3, name="c"), (1, 5, 5, 2),
         r"Conv3D 'c': expected a 5-D input.*\(batch, depth, height, width, channels\)"),
        (L.Conv3D(2, 3, name="c"), (1, 2, 5, 5, 2),
         r"Conv3D 'c': computed output size would be zero or negative: the \(3, 3, 3\) kernel "
         r"does not fit in the volume.*larger volumes"),
        (L.MaxPooling3D(name="p"), (1, 1, 4, 4, 2),
         r"MaxPooling3D 'p': computed output size would be zero or negative.*larger volumes"),
        (L.AveragePooling3D(name="a"), (1, 4, 4, 2),
         r"AveragePooling3D 'a': expected a 5-D input"),
        (L.GlobalAveragePooling3D(name="g"), (2, 4, 4, 2),
         r"GlobalAveragePooling3D 'g': expected a 5-D input"),
    ],
)  # fmt: skip
def test_impossible_inputs_raise_before_build(layer, shape, match):
    with pytest.raises(ValueError, match=match):
        layer(np.zeros(shape, np.float32))
    assert not layer.weights


def test_channel_mismatch_names_the_layer():
    conv = L.Conv3D(2, 1, name="c")
    conv(np.zeros((1, 2, 2, 2, 3), np.float32))
    with pytest.raises(ValueError, match=r"Conv3D 'c': input has 1 channel but the layer was "
                                         r"built for 3"):  # fmt: skip
        conv(np.zeros((1, 2, 2, 2, 1), np.float32))
