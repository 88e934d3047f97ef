"""ONNX export and import of Conv1D, Conv2DTranspose, DepthwiseConv2D and SeparableConv2D:
onnxruntime gives glassnet's numbers (atol 1e-4) at batch sizes 1 and 7, glassnet's own files
import back as the same layers, and PyTorch's Conv1d, ConvTranspose2d and grouped Conv2d
import with PyTorch's numbers."""

from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

import glassnet as gn  # noqa: E402
from glassnet import layers as L  # noqa: E402
from glassnet.export.onnx import export, to_onnx  # noqa: E402
from glassnet.export.onnx_import import import_onnx  # noqa: E402

MODELS = {
    "conv1d": (
        (10, 3),
        lambda: [
            L.Conv1D(4, 3, padding="causal", dilation_rate=2, activation="relu"),
            L.Conv1D(4, 2, strides=2, padding="same"),
            L.Conv1D(2, 3, use_bias=False),
            L.Flatten(),
            L.Dense(3),
        ],
    ),
    "sequences": (
        (9, 3),
        lambda: [
            L.Conv1DTranspose(4, 3, strides=2, padding="same", output_padding=1),
            L.DepthwiseConv1D(3, depth_multiplier=2, padding="same", activation="relu"),
            L.SeparableConv1D(3, 2, strides=2, depth_multiplier=2),
            L.Conv1DTranspose(2, 2, strides=3, use_bias=False, activation="tanh"),
            L.DepthwiseConv1D(2, use_bias=False),
            L.SeparableConv1D(2, 3, dilation_rate=2, padding="same", use_bias=False),
        ],
    ),
    "transpose-same": ((4, 5, 3), lambda: [L.Conv2DTranspose(4, 3, strides=2, padding="same")]),
    "transpose-valid": ((4, 5, 3), lambda: [L.Conv2DTranspose(4, (3, 2), strides=2)]),
    "transpose-stride-beyond-kernel": ((3, 3, 2), lambda: [L.Conv2DTranspose(2, 2, strides=3)]),
    "transpose-even-kernel-same": (
        (4, 4, 2),
        lambda: [L.Conv2DTranspose(3, 4, strides=2, padding="same", activation="tanh")],
    ),
    "transpose-output-padding": (
        (4, 5, 3),
        lambda: [
            L.Conv2DTranspose(4, 5, strides=2, padding="same", output_padding=1),
            L.Conv2DTranspose(2, (2, 3), strides=(2, 3), output_padding=(1, 2), use_bias=False),
        ],
    ),
    "transpose-dilated": (
        (4, 4, 2),
        lambda: [L.Conv2DTranspose(3, 3, padding="same", dilation_rate=2)],
    ),
    "depthwise-separable": (
        (7, 6, 3),
        lambda: [
            L.DepthwiseConv2D(3, strides=2, padding="same", depth_multiplier=2, activation="relu"),
            L.SeparableConv2D(5, 3, padding="same", depth_multiplier=3, dilation_rate=2),
            L.DepthwiseConv2D(2, use_bias=False),
            L.SeparableConv2D(2, 1, use_bias=False, activation="relu"),
            L.Flatten(),
            L.Dense(3),
        ],
    ),
}


def _model(name):
    shape, make = MODELS[name]
    gn.set_seed(0)
    model = gn.Sequential([L.Input(shape), *make()])
    rng = np.random.default_rng(0)
    for w in model.weights:  # biases too, so they are really exported
        w.data[...] = 0.5 * rng.standard_normal(w.shape)
    return model


@pytest.mark.parametrize("name", sorted(MODELS))
def test_export_matches_onnxruntime(name):
    model = _model(name)
    proto = to_onnx(model)
    onnx.checker.check_model(proto, full_check=True)
    session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(1)
    for batch in (1, 7):
        x = rng.normal(size=(batch, *model.input_shape[1:])).astype(np.float32)
        expected = model.predict(x)
        got = session.run(None, {"input": x})[0]
        assert got.shape == expected.shape
        np.testing.assert_allclose(got, expected, atol=1e-4, rtol=0)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_round_trip_imports_the_same_layers(tmp_path, name):
    model = _model(name)
    export(model, tmp_path / "m.onnx")
    imported = import_onnx(tmp_path / "m.onnx")
    x = np.random.default_rng(2).normal(size=(5, *model.input_shape[1:])).astype(np.float32)
    np.testing.assert_allclose(imported.predict(x), model.predict(x), atol=1e-5, rtol=0)
    assert isinstance(imported, gn.Sequential)  # no transposes or pads left around the convs
    kinds = {type(layer).__name__ for layer in imported.layers}
    # SeparableConv2D comes back as its two steps, DepthwiseConv2D and a 1×1 Conv2D (1-D alike)
    want = {type(layer).__name__ for layer in model.layers}
    want -= {"SeparableConv2D", "SeparableConv1D"}
    assert want <= kinds


def _torch_import(tmp_path, torch, net, x):
    path = tmp_path / "torch.onnx"
    net.eval()
    torch.onnx.export(
        net,
        (x[:1],),
        str(path),
        opset_version=17,
        input_names=["x"],
        output_names=["y"],
        dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}},
        dynamo=False,
    )
    return import_onnx(path)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_pytorch_conv1d_imports(tmp_path):
    """PyTorch's (N, C, L) sequences stay (N, C, L) at the model's input and output."""
    torch = pytest.importorskip("torch")
    nn = torch.nn
    torch.manual_seed(0)
    net = nn.Sequential(
        nn.Conv1d(3, 5, 3, padding=1),  # symmetric pads: "same"
        nn.ReLU(),
        nn.Conv1d(5, 4, 3, padding=3, dilation=2),  # other pads: a pad node
        nn.Conv1d(4, 2, 2, stride=2),
        nn.Conv1d(2, 4, 3, padding=1, groups=2),  # depthwise: DepthwiseConv1D
        nn.ConvTranspose1d(4, 3, 3, stride=2, padding=1, output_padding=1),  # a crop: a slice
        nn.ConvTranspose1d(3, 2, 2, stride=2),  # Keras's "valid"
    )
    x = torch.randn(7, 3, 12)
    model = _torch_import(tmp_path, torch, net, x)
    kinds = [type(p).__name__ for p in model.parts]
    assert kinds.count("Conv1D") == 3 and kinds.count("Conv1DTranspose") == 2
    assert "DepthwiseConv1D" in kinds
    with torch.no_grad():
        expected = net(x).numpy()
    np.testing.assert_allclose(model.predict(x.numpy()), expected, atol=1e-4, rtol=0)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_pytorch_transposed_and_depthwise_convolutions_import(tmp_path):
    torch = pytest.importorskip("torch")
    nn = torch.nn
    torch.manual_seed(0)
    net = nn.Sequential(
        nn.Conv2d(3, 6, 3, padding=1, groups=3),  # depthwise, 2 filters per channel
        nn.ReLU(),
        nn.ConvTranspose2d(6, 4, 3, stride=2, padding=1, output_padding=1),  # a crop Keras lacks
        nn.ConvTranspose2d(4, 2, 2, stride=2),  # Keras's "valid"
    )
    x = torch.randn(7, 3, 5, 6)
    model = _torch_import(tmp_path, torch, net, x)
    parts = model.parts if hasattr(model, "parts") else model.layers
    assert [type(p).__name__ for p in parts if "Conv" in type(p).__name__] == [
        "DepthwiseConv2D",
        "Conv2DTranspose",
        "Conv2DTranspose",
    ]
    with torch.no_grad():
        expected = net(x).numpy()
    # glassnet takes the images channels-last; the output keeps the ONNX graph's (N, C, H, W)
    got = model.predict(x.numpy().transpose(0, 2, 3, 1))
    np.testing.assert_allclose(got, expected, atol=1e-4, rtol=0)


def test_grouped_convolution_is_refused_by_name(tmp_path):
    h = onnx.helper
    w = onnx.numpy_helper.from_array(np.zeros((4, 2, 3, 3), np.float32), "w")
    graph = h.make_graph(
        [h.make_node("Conv", ["x", "w"], ["y"], name="grouped", group=2)],
        "g",
        [h.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1, 4, 5, 5])],
        [h.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1, 4, 3, 3])],
        initializer=[w],
    )
    path = tmp_path / "g.onnx"
    onnx.save(h.make_model(graph, opset_imports=[h.make_opsetid("", 17)]), path)
    with pytest.raises(ValueError, match="Conv 'grouped' needs a constant 3-D, 4-D or 5-D kernel"):
        import_onnx(path)
