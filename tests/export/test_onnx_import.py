"""ONNX import: glassnet round trips, PyTorch interoperability and clear errors."""

from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

import glassnet  # noqa: E402
from glassnet import applications, layers  # noqa: E402
from glassnet.export.onnx import export  # noqa: E402
from glassnet.export.onnx_import import OnnxGraph, import_onnx  # noqa: E402
from glassnet.models import Sequential  # noqa: E402


def _round_trip(model, tmp_path):
    model.class_names = [f"c{i}" for i in range(10)]
    path = tmp_path / "m.onnx"
    export(model, path)
    imported = import_onnx(path)
    x = np.random.default_rng(0).normal(size=(7, *model.input_shape[1:])).astype(np.float32)
    np.testing.assert_allclose(imported.predict(x), model.predict(x), atol=1e-5, rtol=0)
    assert imported.class_names == model.class_names
    return imported, x


def test_chain_round_trip_is_sequential(tmp_path):
    model = applications.small_cnn((32, 32, 3), classes=3)
    imported, _ = _round_trip(model, tmp_path)
    assert isinstance(imported, Sequential)


def test_resnet_round_trip_saves_and_trains(tmp_path):
    model = applications.ResNet18((32, 32, 3), classes=4, classifier_activation=None)
    imported, x = _round_trip(model, tmp_path)
    assert isinstance(imported, OnnxGraph)
    imported.save(str(tmp_path / "m.glassnet"))
    again = glassnet.load_model(str(tmp_path / "m.glassnet"))
    np.testing.assert_allclose(again.predict(x), imported.predict(x), atol=1e-6, rtol=0)
    imported.compile("sgd", "mse")
    loss = imported.train_on_batch(x, np.zeros((7, 4), np.float32))
    assert np.isfinite(loss)


def test_googlenet_round_trip(tmp_path):
    _round_trip(applications.GoogLeNet((32, 32, 3), classes=5), tmp_path)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_pytorch_cnn_imports(tmp_path):
    torch = pytest.importorskip("torch")
    nn = torch.nn
    torch.manual_seed(0)
    net = nn.Sequential(
        nn.Conv2d(3, 8, 3, stride=2, padding=1),  # PyTorch's symmetric pads: Pad + valid conv
        nn.BatchNorm2d(8),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(8, 8, 3, padding=1),
        nn.ReLU(),
        nn.AvgPool2d(3, stride=1, padding=1),  # count_include_pad=True
        nn.Flatten(),
        nn.Linear(8 * 4 * 4, 16),
        nn.Tanh(),
        nn.Dropout(0.3),
        nn.Linear(16, 3),
        nn.Softmax(dim=1),
    )
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    x = torch.randn(16, 3, 16, 16)
    y = torch.randint(0, 3, (16,))
    for _ in range(3):  # a few steps, so BN statistics and weights are not the initial ones
        opt.zero_grad()
        nn.functional.nll_loss(torch.log(net(x)), y).backward()
        opt.step()
    net.eval()
    path = tmp_path / "torch.onnx"
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
    model = import_onnx(path)
    for batch in (1, 7):
        xb = torch.randn(batch, 3, 16, 16)
        with torch.no_grad():
            expected = net(xb).numpy()
        got = model.predict(xb.numpy().transpose(0, 2, 3, 1))  # glassnet is channels-last
        np.testing.assert_allclose(got, expected, atol=1e-4, rtol=0)


def test_unsupported_ops_listed_in_one_error(tmp_path):
    h = onnx.helper
    nodes = [
        h.make_node("Relu", ["x"], ["a"]),
        h.make_node("Cos", ["a"], ["b"]),
        h.make_node("Sin", ["b"], ["y"]),
    ]
    graph = h.make_graph(
        nodes,
        "g",
        [h.make_tensor_value_info("x", onnx.TensorProto.FLOAT, ["N", 4])],
        [h.make_tensor_value_info("y", onnx.TensorProto.FLOAT, ["N", 4])],
    )
    path = tmp_path / "trig.onnx"
    onnx.save(h.make_model(graph, opset_imports=[h.make_opsetid("", 17)]), str(path))
    with pytest.raises(ValueError, match=r"Cos, Sin") as err:
        import_onnx(path)
    assert "trig.onnx" in str(err.value) and "Conv" in str(err.value)


def test_corrupt_file_names_it(tmp_path):
    path = tmp_path / "broken.onnx"
    path.write_bytes(b"\x08\x07this is not protobuf\xff\xff")
    with pytest.raises(ValueError, match="broken.onnx"):
        import_onnx(path)
    with pytest.raises(FileNotFoundError, match="missing.onnx"):
        import_onnx(tmp_path / "missing.onnx")


def test_imported_dense_graph_without_images(tmp_path):
    model = Sequential([layers.Input((6,)), layers.Dense(4, activation="relu"), layers.Dense(2)])
    imported, _ = _round_trip(model, tmp_path)
    assert isinstance(imported, Sequential)
