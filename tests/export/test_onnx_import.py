"""ONNX import: glassnet round trips, PyTorch interoperability and clear errors."""

from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
onnxruntime = pytest.importorskip("onnxruntime")

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


def test_a_saved_graph_with_a_huge_product_or_mask_is_refused_when_built():
    # (1, 60000, 1) · (1, 1, 60000) is 3.6e9 numbers, from inputs of 60,000 each
    column = {"op": "reshape", "inputs": ["input"], "output": "c", "shape": [60_000, 1]}
    row = {"op": "reshape", "inputs": ["input"], "output": "r", "shape": [1, 60_000]}
    for op in ("matmul", "and"):
        node = {"op": op, "inputs": ["c", "r"], "output": "big"}
        graph = OnnxGraph([column, row, node], [], input_name="input", output_name="big")
        with pytest.raises(ValueError, match=rf"OnnxGraph .*{op} node 'big' makes a tensor"):
            graph.build((None, 60_000))


@pytest.mark.parametrize("opset", [17, 18])
def test_activations_round_trip(tmp_path, opset):
    names = ["silu", "elu", "selu", "softplus", "softsign", "mish", "relu6"]
    names += ["hard_sigmoid", "hard_silu", "exponential"]
    x = np.random.default_rng(0).normal(0, 3, (7, 6)).astype(np.float32)
    for name in names:
        model = Sequential([layers.Input((6,)), layers.Dense(8, activation=name)])
        export(model, tmp_path / "m.onnx", opset=opset)
        imported = import_onnx(tmp_path / "m.onnx")
        np.testing.assert_allclose(imported.predict(x), model.predict(x), atol=1e-5, rtol=1e-6)
        # swish (and mish before opset 18) is x · gate(x) in ONNX: one Activation again
        assert isinstance(imported, Sequential), name
        assert len(imported.layers) == 2, name  # Dense, then the activation as one layer
        if name in ("silu", "mish"):
            assert imported.layers[1].get_config()["activation"] == name


def test_elu_and_prelu_round_trip_with_their_layout(tmp_path):
    model = Sequential(
        [
            layers.Input((6, 5, 3)),
            layers.Conv2D(4, 3, padding="same"),
            layers.PReLU(alpha_initializer="random_uniform", shared_axes=[1, 2]),
            layers.ELU(0.4),
            layers.PReLU(alpha_initializer="random_uniform"),
            layers.Flatten(),
            layers.Dense(5),
            layers.PReLU(alpha_initializer="random_uniform"),
        ]
    )
    imported, _ = _round_trip(model, tmp_path)
    assert isinstance(imported, Sequential)
    prelus = [layer for layer in imported.layers if isinstance(layer, layers.PReLU)]
    assert [p.shared_axes for p in prelus] == [[1, 2], None, None]
    assert [tuple(p.alpha.shape) for p in prelus] == [(1, 1, 4), (6, 5, 4), (5,)]
    (elu,) = [layer for layer in imported.layers if isinstance(layer, layers.ELU)]
    assert elu.alpha == pytest.approx(0.4)


TORCH_ACTIVATIONS = {  # name -> (the module after a Conv2d, the one after a Linear)
    "PReLU": lambda nn: (nn.PReLU(4), nn.PReLU()),  # one alpha per channel; one in all
    "ELU": lambda nn: (nn.ELU(0.5), nn.ELU()),
    "SELU": lambda nn: (nn.SELU(), nn.SELU()),
    "Softplus": lambda nn: (nn.Softplus(), nn.Softplus()),
    "Hardsigmoid": lambda nn: (nn.Hardsigmoid(), nn.Hardsigmoid()),  # HardSigmoid(1/6, 1/2)
    "Hardswish": lambda nn: (nn.Hardswish(), nn.Hardswish()),
    "ReLU6": lambda nn: (nn.ReLU6(), nn.ReLU6()),  # Clip(0, 6), its bounds Constant nodes
    "Mish": lambda nn: (nn.Mish(), nn.Mish()),  # x · tanh(softplus(x)): three ops
    "SiLU": lambda nn: (nn.SiLU(), nn.SiLU()),  # x · sigmoid(x)
}


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.parametrize("name", list(TORCH_ACTIVATIONS))
def test_pytorch_activations_import(tmp_path, name):
    """A PyTorch activation after a convolution (NCHW there, held NHWC here) and after a
    Linear layer, exported by torch.onnx: the imported model gives PyTorch's numbers.
    (PyTorch writes Softsign as Abs, Add and Div, which glassnet does not import.)"""
    torch = pytest.importorskip("torch")
    nn = torch.nn
    torch.manual_seed(0)
    after_conv, after_linear = TORCH_ACTIVATIONS[name](nn)
    net = nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1), after_conv, nn.Flatten(), nn.Linear(4 * 5 * 6, 8)
    )
    net.append(after_linear)
    with torch.no_grad():
        for module in (after_conv, after_linear):
            if isinstance(module, nn.PReLU):
                module.weight.uniform_(0.05, 0.5)
    net.eval()
    x = torch.randn(7, 3, 5, 6) * 3
    path = tmp_path / "act.onnx"
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
    with torch.no_grad():
        expected = net(x).numpy()
    got = model.predict(x.numpy().transpose(0, 2, 3, 1))
    np.testing.assert_allclose(got, expected, atol=1e-4, rtol=0)


@pytest.mark.parametrize(
    ("node", "inits", "match"),
    [
        (
            onnx.helper.make_node("HardSigmoid", ["x"], ["y"], name="hs"),  # ONNX's 0.2·x + 0.5
            {},
            r"HardSigmoid 'hs' with alpha=0.2 is not glassnet's hard_sigmoid \(alpha=0.166667\)",
        ),
        (
            onnx.helper.make_node("Selu", ["x"], ["y"], name="s", gamma=2.0),
            {},
            r"Selu 's' with gamma=2 is not glassnet's selu",
        ),
        (
            onnx.helper.make_node("Clip", ["x", "lo", "hi"], ["y"], name="c"),
            {"lo": np.float32(-1.0), "hi": np.float32(1.0)},
            r"Clip 'c' from -1.0 to 1.0: only Clip\(x, 0, cap\), a capped ReLU, is imported",
        ),
        (
            onnx.helper.make_node("PRelu", ["x", "slope"], ["y"], name="p"),
            {"slope": np.ones((2, 1, 1, 1), np.float32)},
            r"PRelu 'p' needs a constant slope that broadcasts over the batch",
        ),
    ],
)
def test_activations_glassnet_does_not_have_are_named(tmp_path, node, inits, match):
    path = _saved_graph(tmp_path, [node], inits, input_shape=(2, 1, 1, 1))
    with pytest.raises(ValueError, match=match):
        import_onnx(path)


def test_clip_from_zero_imports_as_a_capped_relu(tmp_path):
    node = onnx.helper.make_node("Clip", ["x", "lo", "hi"], ["y"])
    path = _saved_graph(tmp_path, [node], {"lo": np.float32(0.0), "hi": np.float32(2.5)}, (1, 4))
    model = import_onnx(path)
    (layer,) = model.layers
    assert isinstance(layer, layers.ReLU) and layer.max_value == 2.5
    x = np.array([[-1.0, 1.0, 2.0, 4.0]], np.float32)
    np.testing.assert_array_equal(model.predict(x), [[0.0, 1.0, 2.0, 2.5]])


def test_a_gate_read_elsewhere_stays_a_product(tmp_path):
    """x · Sigmoid(x) is one silu only when nothing else reads the Sigmoid."""
    h = onnx.helper
    nodes = [
        h.make_node("Sigmoid", ["x"], ["s"]),
        h.make_node("Mul", ["x", "s"], ["p"]),
        h.make_node("Add", ["p", "s"], ["y"]),
    ]
    path = _saved_graph(tmp_path, nodes, {}, (1, 5))
    model = import_onnx(path)
    assert isinstance(model, OnnxGraph)
    x = np.linspace(-4, 4, 10, dtype=np.float32).reshape(2, 5)
    s = 1 / (1 + np.exp(-x))
    np.testing.assert_allclose(model.predict(x), x * s + s, rtol=1e-6)
    fused = _saved_graph(tmp_path, [*nodes[:2], h.make_node("Relu", ["p"], ["y"])], {}, (1, 5))
    model = import_onnx(fused)
    assert [layer.get_config().get("activation") for layer in model.layers] == ["silu", "relu"]
    np.testing.assert_allclose(model.predict(x), np.maximum(x * s, 0), rtol=1e-6)


def _ints(*values):
    return np.array(values, np.int64)


def test_mask_and_index_ops_import_like_onnxruntime(tmp_path):
    """Gather by constant indices, Unsqueeze/Squeeze, Cast, Equal/Not/Or, Where, a 4-D
    MatMul and ReduceSum, as any exporter may write them: onnxruntime's numbers, and the
    gradient reaches the input through the picks."""
    h = onnx.helper
    nodes = [
        h.make_node("Relu", ["x"], ["r"]),
        h.make_node("Gather", ["r", "picks"], ["g"], axis=2),  # (N, 3, 3)
        h.make_node("Unsqueeze", ["g", "last"], ["u"]),  # (N, 3, 3, 1)
        h.make_node("Squeeze", ["u", "three"], ["s"]),
        h.make_node("Cast", ["s"], ["d"], to=onnx.TensorProto.DOUBLE),
        h.make_node("Cast", ["d"], ["f"], to=onnx.TensorProto.FLOAT),
        h.make_node("Equal", ["f", "zero"], ["z"]),
        h.make_node("Not", ["z"], ["nz"]),
        h.make_node("Or", ["nz", "columns"], ["keep"]),
        h.make_node("Where", ["keep", "f", "minus"], ["w"]),
        h.make_node("Unsqueeze", ["w", "one"], ["w4"]),  # (N, 1, 3, 3)
        h.make_node("Transpose", ["w4"], ["w4t"], perm=[0, 1, 3, 2]),
        h.make_node("MatMul", ["w4", "w4t"], ["p"]),
        h.make_node("ReduceSum", ["p", "one"], ["y"], keepdims=0),
    ]
    inits = {
        "picks": _ints(3, 0, 3),
        "last": _ints(-1),
        "three": _ints(3),
        "one": _ints(1),
        "zero": np.zeros((), np.float32),
        "columns": np.array([[False, True, False]]),
        "minus": np.full((), -1.0, np.float32),
    }
    path = _saved_graph(tmp_path, nodes, inits, input_shape=("N", 3, 4))
    imported = import_onnx(path)
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(0)
    for batch in (1, 5):
        x = rng.normal(size=(batch, 3, 4)).astype(np.float32)
        expected = session.run(None, {"x": x})[0]
        np.testing.assert_allclose(imported.predict(x), expected, atol=1e-5, rtol=0)
    x = glassnet.Tensor(rng.normal(size=(2, 3, 4)).astype(np.float32), requires_grad=True)
    imported(x).sum().backward()
    assert np.abs(x.grad[:, :, [0, 3]]).max() > 0 and not x.grad[:, :, 1:3].any()


@pytest.mark.parametrize(
    "nodes, inits, message",
    [
        (
            [onnx.helper.make_node("Unsqueeze", ["x", "axes"], ["y"], name="u0")],
            {"axes": _ints(0)},
            r"Unsqueeze 'u0' on axis 0 of a tensor: glassnet keeps the batch on axis 0",
        ),
        (
            [onnx.helper.make_node("Squeeze", ["x", "axes"], ["y"], name="s2")],
            {"axes": _ints(2)},
            r"Squeeze 's2' of axes \[2\] of shape \(None, 3, 4\): only axes of length 1",
        ),
        (
            [
                onnx.helper.make_node("Cast", ["x"], ["ids"], to=onnx.TensorProto.INT64),
                onnx.helper.make_node("Gather", ["x", "ids"], ["y"], name="g", axis=1),
            ],
            {},
            r"Gather 'g' is imported as an Embedding .* other than the batch's \(axis=1\)",
        ),
        (
            [onnx.helper.make_node("Gather", ["x", "rows"], ["y"], name="g0")],
            {"rows": _ints(0)},
            r"Gather 'g0' .*\(axis=0\)",
        ),
        (
            [
                onnx.helper.make_node("Unsqueeze", ["x", "axes"], ["x4"]),
                onnx.helper.make_node("MatMul", ["x", "x4"], ["y"], name="mm"),
            ],
            {"axes": _ints(1)},
            r"MatMul 'mm' of two tensors .* same rank. Received shapes \(None, 3, 4\) and "
            r"\(None, 1, 3, 4\)",
        ),
        (
            [onnx.helper.make_node("Where", ["mask", "x", "x"], ["y"], name="w")],
            {"mask": np.ones((1, 1, 3, 4), bool)},
            r"Where 'w' broadcasts a tensor .* with constants of more axes, which would move "
            r"its batch off axis 0",
        ),
        (
            [onnx.helper.make_node("Where", ["mask", "x", "x"], ["y"], name="w5")],
            {"mask": np.ones((1, 5), bool)},
            r"Where 'w5': shapes \[\(1, 5\), \(None, 3, 4\), \(None, 3, 4\)\] do not broadcast",
        ),
        (
            [
                onnx.helper.make_node("Cast", ["x"], ["axes"], to=onnx.TensorProto.INT64),
                onnx.helper.make_node("Unsqueeze", ["x", "axes"], ["y"], name="u"),
            ],
            {},
            r"Unsqueeze 'u' needs constant axes",
        ),
    ],
)
def test_mask_and_index_ops_out_of_reach_are_named(tmp_path, nodes, inits, message):
    path = _saved_graph(tmp_path, nodes, inits, input_shape=("N", 3, 4))
    with pytest.raises(ValueError, match=message):
        import_onnx(path)
