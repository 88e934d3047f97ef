"""ONNX export and import of LayerNormalization, GroupNormalization, UnitNormalization and the
noise layers (identity at inference): onnx.checker, onnxruntime parity (atol 1e-4) at batch
sizes 1 and 7, at opsets 17 and 18 (reductions take their axes differently), and the import
back giving the same predictions."""

from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from glassnet import layers as L  # noqa: E402
from glassnet.export.onnx import to_onnx  # noqa: E402
from glassnet.export.onnx_import import import_onnx  # noqa: E402
from glassnet.models import Sequential  # noqa: E402


def _randomize(model, rng):
    """Scales and shifts away from ones and zeros, so they are really exported."""
    for w in model.weights:
        w.data[...] = rng.normal(0.5, 0.5, w.shape)


def _session(model, opset):
    proto = to_onnx(model, opset=opset)
    onnx.checker.check_model(proto, full_check=True)
    return proto, ort.InferenceSession(
        proto.SerializeToString(), providers=["CPUExecutionProvider"]
    )


def _inputs(model, rng):
    return [
        (2 * rng.normal(size=(batch, *model.input_shape[1:])) + 1).astype(np.float32)
        for batch in (1, 7)
    ]


def _models():
    return {
        "images": Sequential(
            [
                L.Input((6, 5, 4)),
                L.GaussianNoise(0.3),
                L.Conv2D(6, 3, padding="same"),  # NCHW in ONNX from here
                L.SpatialDropout2D(0.5),
                L.GroupNormalization(groups=3),  # on NCHW
                L.UnitNormalization(axis=[1, 2]),  # axes renumbered for NCHW
                L.LayerNormalization(),  # ONNX LayerNormalization, last axis
                L.GaussianDropout(0.4),
                L.LayerNormalization(axis=[1, 2, 3]),
                L.LayerNormalization(axis=1, rms_scaling=True),  # not trailing: decomposed
                L.GroupNormalization(groups=-1, center=False),
                L.Flatten(),
                L.UnitNormalization(),
                L.Dense(3),
            ]
        ),
        "sequences": Sequential(
            [
                L.Input((5, 6)),
                L.GroupNormalization(groups=2),  # 3-D: transposed to channels-first and back
                L.LayerNormalization(axis=[1, 2], scale=False),
                L.UnitNormalization(axis=1),
                L.Reshape((30,)),
                L.GroupNormalization(groups=5),  # 2-D
                L.LayerNormalization(center=False),
            ]
        ),
    }


@pytest.mark.parametrize("opset", [17, 18])
@pytest.mark.parametrize("name", ["images", "sequences"])
def test_matches_onnxruntime(name, opset):
    rng = np.random.default_rng(0)
    model = _models()[name]
    _randomize(model, rng)
    _, session = _session(model, opset)
    for x in _inputs(model, rng):
        np.testing.assert_allclose(session.run(None, {"input": x})[0], model.predict(x), atol=1e-4)


def test_trailing_layer_norm_is_onnxs_own_op():
    model = Sequential([L.Input((4, 6)), L.LayerNormalization(epsilon=0.01)])
    proto, _ = _session(model, 17)
    (node,) = [n for n in proto.graph.node if n.op_type == "LayerNormalization"]
    attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
    assert attrs["axis"] == 2 and attrs["epsilon"] == pytest.approx(0.01)


@pytest.mark.parametrize("opset", [17, 18])
@pytest.mark.parametrize("name", ["images", "sequences"])
def test_import_round_trip(name, opset, tmp_path):
    """ONNX's LayerNormalization comes back as the layer; the decomposed norms as the
    reductions and arithmetic they were written as."""
    rng = np.random.default_rng(1)
    model = _models()[name]
    _randomize(model, rng)
    proto = to_onnx(model, opset=opset)
    path = tmp_path / "norms.onnx"
    path.write_bytes(proto.SerializeToString())
    back = import_onnx(path)
    for x in _inputs(model, rng):
        np.testing.assert_allclose(back.predict(x), model.predict(x), atol=1e-4)
    kinds = {type(layer).__name__ for _, layer in back.named_layers()}
    assert "LayerNormalization" in kinds


@pytest.mark.parametrize("axis", [1, 2, -1])
def test_import_of_a_channels_first_layer_norm(axis, tmp_path):
    """An NCHW graph's LayerNormalization (PyTorch's nn.LayerNorm exports so): over (C, H, W)
    the image stays channels-last and the weights are permuted; over fewer axes it is
    normalised in ONNX's own axis order."""
    helper, rng = onnx.helper, np.random.default_rng(3)
    shape = (3, 4, 5)
    normalized = shape[axis % 4 - 1 :]
    scale = rng.normal(1, 0.5, normalized).astype(np.float32)
    bias = rng.normal(0, 0.5, normalized).astype(np.float32)
    node = helper.make_node(
        "LayerNormalization", ["x", "scale", "bias"], ["y"], axis=axis, epsilon=1e-3
    )
    graph = helper.make_graph(
        [node],
        "ln",
        [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, ["N", *shape])],
        [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, ["N", *shape])],
        initializer=[
            onnx.numpy_helper.from_array(scale, "scale"),
            onnx.numpy_helper.from_array(bias, "bias"),
        ],
    )
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    path = tmp_path / "ln.onnx"
    path.write_bytes(proto.SerializeToString())
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    x = rng.normal(size=(2, *shape)).astype(np.float32)
    want = session.run(None, {"x": x})[0]
    model = import_onnx(path)
    got = model.predict(x.transpose(0, 2, 3, 1))  # NHWC in; the graph's own NCHW out
    np.testing.assert_allclose(got, want, atol=1e-4)
    kinds = [type(layer).__name__ for _, layer in model.named_layers()]
    assert "LayerNormalization" in kinds
