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


def _saved_graph(tmp_path, nodes, inits, input_shape=(1, 1, 1, 1)):
    """A tiny ONNX file: ``nodes`` from "x" to "y", ``inits`` name -> array."""
    h = onnx.helper
    graph = h.make_graph(
        nodes,
        "crafted",
        [h.make_tensor_value_info("x", onnx.TensorProto.FLOAT, list(input_shape))],
        [h.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [None] * len(input_shape))],
        [onnx.numpy_helper.from_array(np.asarray(v), k) for k, v in inits.items()],
    )
    path = tmp_path / "crafted.onnx"
    onnx.save(h.make_model(graph, opset_imports=[h.make_opsetid("", 17)]), str(path))
    return path


@pytest.fixture
def never_built(monkeypatch):
    """Building the imported model would allocate what the file asks for: fail instead."""

    def refuse(self, input_shape):
        raise AssertionError(f"the import went on to build {input_shape}")

    monkeypatch.setattr(OnnxGraph, "build", refuse)


def test_a_huge_pad_is_refused_before_allocating(tmp_path, never_built):
    # 1 number padded by 40,000 on each side of H and W: 6.4e9 numbers, 24 GiB of float32
    pads = np.array([0, 0, 40_000, 40_000, 0, 0, 40_000, 40_000], np.int64)
    path = _saved_graph(
        tmp_path, [onnx.helper.make_node("Pad", ["x", "pads"], ["y"], name="pad0")], {"pads": pads}
    )
    with pytest.raises(
        ValueError,
        match=r"import_onnx: Pad 'pad0' makes a tensor of shape \(None, 1, 80001, 80001\), "
        r"6,400,160,001 numbers per sample.*check the node's sizes and pads.*crafted.onnx",
    ):
        import_onnx(path)


def test_huge_conv_pads_and_many_big_tensors_are_refused_too(tmp_path, never_built):
    kernel = np.ones((1, 1, 1, 1), np.float32)
    conv = onnx.helper.make_node("Conv", ["x", "w"], ["y"], name="conv0", pads=[30_000] * 4)
    with pytest.raises(ValueError, match=r"Conv 'conv0' makes a tensor of shape"):
        import_onnx(_saved_graph(tmp_path, [conv], {"w": kernel}))
    # each tensor fits (1e8 numbers), the three together do not: the sample holds them all
    pads = np.array([0, 0, 5_000, 5_000, 0, 0, 4_999, 5_000], np.int64)
    h = onnx.helper
    chain = [
        h.make_node("Pad", ["x", "pads"], ["a"], name="pad"),
        h.make_node("Relu", ["a"], ["b"], name="relu1"),
        h.make_node("Relu", ["b"], ["y"], name="relu2"),
    ]
    with pytest.raises(
        ValueError, match=r"Relu 'relu2' makes a tensor of shape \(None, 1, 10000, 10001\)"
    ):
        import_onnx(_saved_graph(tmp_path, chain, {"pads": pads}))


def test_negative_pads_that_crop_past_nothing_are_named(tmp_path, never_built):
    # a negative total would otherwise count as room in the budget for the next tensors
    pads = np.array([0, 0, -9, 0, 0, 0, 0, 0], np.int64)
    pad = onnx.helper.make_node("Pad", ["x", "pads"], ["y"], name="crop")
    with pytest.raises(ValueError, match=r"Pad 'crop' makes a tensor of shape \(None, 1, -8, 1\)"):
        import_onnx(_saved_graph(tmp_path, [pad], {"pads": pads}))


def test_a_saved_graph_with_a_huge_pad_is_refused_when_built():
    # the node list of an OnnxGraph is its config: load_model rebuilds it from a file too
    node = {"op": "pad", "inputs": ["input"], "output": "p", "pads": [[0, 0], [9**9, 0], [0, 0]]}
    graph = OnnxGraph([node], [], input_name="input", output_name="p")
    with pytest.raises(ValueError, match=r"OnnxGraph .*pad node 'p' makes a tensor of shape"):
        graph.build((None, 2, 3))
