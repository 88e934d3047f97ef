"""ONNX export and import of the 3-D layers: Conv/MaxPool/AveragePool/GlobalAveragePool/
GlobalMaxPool (Pad/Slice/Resize for the border layers) on 5-D (N, C, D, H, W) tensors.
onnxruntime gives glassnet's numbers (atol 1e-4) at batch sizes 1 and 7, glassnet's own files
import back as the same layers with the same predictions, and PyTorch's Conv3d/MaxPool3d/
AvgPool3d/Upsample import with PyTorch's numbers (atol 1e-4)."""

from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

import glassnet as gn  # noqa: E402
from glassnet import layers as L  # noqa: E402
from glassnet.export.onnx import export  # noqa: E402
from glassnet.export.onnx_import import import_onnx  # noqa: E402
from tests.export.parity import check_onnx_parity  # noqa: E402

MODELS = {
    "conv-pool-chain": (
        (5, 10, 9, 2),
        lambda: [
            L.Conv3D(4, 3, strides=(1, 2, 2), padding="same", activation="relu"),
            L.MaxPooling3D(2, padding="same"),
            L.Conv3D(3, 2, dilation_rate=(1, 2, 1), padding="same", use_bias=False),
            L.AveragePooling3D((1, 2, 1), padding="same"),
            L.Conv3D(3, (2, 1, 1)),
            L.GlobalAveragePooling3D(),
            L.Dense(3),
        ],
    ),
    "valid-stride-beyond-kernel": (
        (7, 7, 6, 1),
        lambda: [
            L.Conv3D(2, 2, strides=3, activation="tanh"),
            L.MaxPooling3D(1),
            L.AveragePooling3D(2),
            L.Flatten(),
            L.Dense(2),
        ],
    ),
    "one-voxel": (
        (1, 1, 1, 1),
        lambda: [
            L.Conv3D(3, 3, padding="same"),
            L.MaxPooling3D(3, padding="same"),
            L.GlobalMaxPooling3D(keepdims=True),
            L.Flatten(),
        ],
    ),
    "borders": (
        (3, 4, 5, 2),
        lambda: [
            L.ZeroPadding3D(((0, 1), (2, 0), (1, 1))),
            L.Conv3D(3, 2, activation="relu"),
            L.UpSampling3D((1, 2, 3)),
            L.Cropping3D(((1, 0), (0, 2), (1, 1))),
            L.MaxPooling3D((1, 2, 2)),
            L.Flatten(),
            L.Dense(2),
        ],
    ),
    # the layers that read the layout of a channels-first value, on volumes
    "norms-on-volumes": (
        (4, 6, 6, 2),
        lambda: [
            L.Conv3D(4, 3, padding="same"),
            L.BatchNormalization(),
            L.PReLU(),
            L.GroupNormalization(groups=2),
            L.UnitNormalization(),
            L.GlobalMaxPooling3D(),
        ],
    ),
}


def _model(name):
    gn.set_seed(0)
    shape, make = MODELS[name]
    model = gn.Sequential([L.Input(shape), *make()])
    rng = np.random.default_rng(3)
    for layer in model.layers:  # statistics and slopes that are not the identity
        for weight in ("moving_mean", "moving_variance", "alpha", "bias"):
            if getattr(layer, weight, None) is not None:
                values = rng.uniform(0.5, 1.5, getattr(layer, weight).shape)
                getattr(layer, weight).data[...] = values
    return model


@pytest.mark.parametrize("name", sorted(MODELS))
def test_export_matches_onnxruntime(name):
    proto = check_onnx_parity(_model(name))
    inputs = {i.name: len(i.type.tensor_type.shape.dim) for i in proto.graph.input}
    assert inputs == {"input": 5}
    kinds = {n.op_type for n in proto.graph.node}
    assert "Conv" in kinds


@pytest.mark.parametrize("name", sorted(MODELS))
def test_round_trip_imports_the_same_layers(tmp_path, name):
    model = _model(name)
    export(model, tmp_path / "m.onnx")
    imported = import_onnx(tmp_path / "m.onnx")
    x = np.random.default_rng(2).normal(size=(5, *model.input_shape[1:])).astype(np.float32)
    np.testing.assert_allclose(imported.predict(x), model.predict(x), atol=1e-5, rtol=0)
    if name in ("norms-on-volumes", "borders"):  # GroupNormalization, UnitNormalization,
        parts = imported.parts  # padding and cropping come back as nodes of an OnnxGraph
    else:
        assert isinstance(imported, gn.Sequential)  # no transposes or pads around the convs
        parts = imported.layers
    kinds = {type(layer).__name__ for layer in parts}
    want = {type(layer).__name__ for layer in model.layers if "3D" in type(layer).__name__}
    assert want - {"ZeroPadding3D", "Cropping3D"} <= kinds
    convs = [layer for layer in parts if isinstance(layer, L.Conv3D)]
    originals = [layer for layer in model.layers if isinstance(layer, L.Conv3D)]
    for got, want in zip(convs, originals, strict=True):
        assert (got.kernel_size, got.strides, got.padding, got.dilation_rate) == (
            want.kernel_size,
            want.strides,
            want.padding,
            want.dilation_rate,
        )
        np.testing.assert_array_equal(got.kernel.numpy(), want.kernel.numpy())


def test_functional_volumes_with_a_skip_and_a_concatenation_match_onnxruntime(tmp_path):
    """Add and Concatenate of channels-first volumes (the channel axis renumbered)."""
    gn.set_seed(0)
    inputs = L.Input((4, 5, 6, 2))
    x = L.Conv3D(3, 3, padding="same", activation="relu")(inputs)
    y = L.Conv3D(3, 1)(x)
    joined = L.Concatenate()([L.Add()([x, y]), inputs])
    outputs = L.Dense(2)(L.GlobalAveragePooling3D()(L.Conv3D(2, 2, strides=2)(joined)))
    model = gn.Model(inputs, outputs)
    check_onnx_parity(model)
    export(model, tmp_path / "m.onnx")
    imported = import_onnx(tmp_path / "m.onnx")
    x = np.random.default_rng(2).normal(size=(3, 4, 5, 6, 2)).astype(np.float32)
    np.testing.assert_allclose(imported.predict(x), model.predict(x), atol=1e-5, rtol=0)


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
def test_pytorch_conv3d_and_pools_import(tmp_path):
    """A PyTorch volume network (N, C, D, H, W) imports as Conv3D and the 3-D pools taking
    (N, D, H, W, C), with PyTorch's numbers (atol 1e-4)."""
    torch = pytest.importorskip("torch")
    nn = torch.nn
    torch.manual_seed(0)
    net = nn.Sequential(
        nn.Conv3d(2, 4, 3, padding=1),  # symmetric pads: "same"
        nn.ReLU(),
        nn.MaxPool3d(2),
        nn.Conv3d(4, 3, (1, 3, 3), padding=(0, 2, 1), dilation=(1, 2, 1)),  # a pad node
        nn.AvgPool3d(3, stride=2, padding=1),  # zeros counted in the mean: pad, then average
        nn.Conv3d(3, 5, 1, stride=(1, 2, 1)),
        nn.AdaptiveAvgPool3d(1),  # GlobalAveragePool
        nn.Flatten(),
        nn.Linear(5, 3),
    )
    x = torch.randn(7, 2, 6, 8, 10)
    model = _torch_import(tmp_path, torch, net, x)
    parts = model.parts if hasattr(model, "parts") else model.layers
    kinds = [type(p).__name__ for p in parts]
    assert kinds.count("Conv3D") == 3 and "MaxPooling3D" in kinds
    assert "GlobalAveragePooling3D" in kinds
    with torch.no_grad():
        expected = net(x).numpy()
    got = model.predict(x.numpy().transpose(0, 2, 3, 4, 1))  # glassnet takes NDHWC
    np.testing.assert_allclose(got, expected, atol=1e-4, rtol=0)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_pytorch_volume_upsampling_imports(tmp_path):
    """nn.Upsample(nearest) on volumes: UpSampling3D. (PyTorch exports F.pad as a computed
    Pad, ConstantOfShape and Cast, which glassnet does not import, for images too.)"""
    torch = pytest.importorskip("torch")
    nn = torch.nn
    torch.manual_seed(0)
    net = nn.Sequential(
        nn.Conv3d(2, 3, 2),
        nn.Upsample(scale_factor=(1, 2, 2), mode="nearest"),
        nn.Conv3d(3, 2, 3, padding=1),
    )
    x = torch.randn(3, 2, 3, 4, 5)
    model = _torch_import(tmp_path, torch, net, x)
    parts = model.parts if hasattr(model, "parts") else model.layers
    assert "UpSampling3D" in [type(p).__name__ for p in parts]
    with torch.no_grad():
        expected = net(x).numpy()
    # the output keeps the ONNX graph's (N, C, D, H, W)
    got = model.predict(x.numpy().transpose(0, 2, 3, 4, 1))
    np.testing.assert_allclose(got, expected, atol=1e-4, rtol=0)


def test_grouped_3d_convolution_is_refused_by_name(tmp_path):
    h = onnx.helper
    w = onnx.numpy_helper.from_array(np.zeros((4, 2, 3, 3, 3), np.float32), "w")
    graph = h.make_graph(
        [h.make_node("Conv", ["x", "w"], ["y"], name="grouped3d", group=2)],
        "g",
        [h.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1, 4, 5, 5, 5])],
        [h.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1, 4, 3, 3, 3])],
        initializer=[w],
    )
    path = tmp_path / "g.onnx"
    onnx.save(h.make_model(graph, opset_imports=[h.make_opsetid("", 17)]), path)
    with pytest.raises(ValueError, match=r"Conv 'grouped3d' \(3-D\) has group=2"):
        import_onnx(path)


def test_a_pool_kernel_of_the_wrong_rank_is_refused_by_name(tmp_path):
    h = onnx.helper
    graph = h.make_graph(
        [h.make_node("MaxPool", ["x"], ["y"], name="flat", kernel_shape=[2, 2])],
        "g",
        [h.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1, 2, 4, 4, 4])],
        [h.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1, 2, 3, 3])],
    )
    path = tmp_path / "g.onnx"
    onnx.save(h.make_model(graph, opset_imports=[h.make_opsetid("", 17)]), path)
    with pytest.raises(ValueError, match=r"MaxPool 'flat' has a 2-D kernel for a 5-D input"):
        import_onnx(path)
