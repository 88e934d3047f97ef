"""ONNX export and import of ZeroPadding2D, Cropping2D, UpSampling2D, their 1-D versions,
Permute, RepeatVector, the 1-D pools and Dot: onnxruntime gives glassnet's numbers (1e-4,
batch sizes 1 and 7), the files import back, and PyTorch's Upsample imports as UpSampling2D."""

from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

import glassnet as gn  # noqa: E402
from glassnet import layers as L  # noqa: E402
from glassnet.export.onnx import export  # noqa: E402
from glassnet.export.onnx_import import import_onnx  # noqa: E402
from tests.export.parity import check_onnx_parity  # noqa: E402

_check = check_onnx_parity


def _images():
    return gn.Sequential(
        [
            L.Input((6, 5, 2)),
            L.ZeroPadding2D(((1, 0), (0, 2))),
            L.Conv2D(3, 3),  # NCHW from here: the layers below pad, crop and resize it so
            L.ZeroPadding2D(1),
            L.UpSampling2D((2, 3)),
            L.Cropping2D(((1, 2), (0, 1))),
            L.UpSampling2D(2, interpolation="bilinear"),
            L.Permute((2, 1, 3)),
            L.UpSampling2D((3, 1), interpolation="bilinear"),
            L.Cropping2D(1),
        ]
    )


def _sequences():
    return gn.Sequential(
        [
            L.Input((9, 4)),
            L.ZeroPadding1D((1, 2)),
            L.Cropping1D((2, 1)),
            L.UpSampling1D(3),
            L.MaxPooling1D(2, padding="same"),
            L.AveragePooling1D(3, 1, "same"),
            L.MaxPooling1D(3, 1),
            L.AveragePooling1D(),
            L.Permute((2, 1)),
            L.GlobalMaxPooling1D(keepdims=True),
            L.Permute((2, 1)),
            L.GlobalAveragePooling1D(),
            L.RepeatVector(3),
            L.GlobalMaxPooling1D(),
        ]
    )


def _dots():
    x = gn.Input((5, 4))
    h = L.Dense(4)(x)
    products = [
        L.Dot(axes=2)([x, h]),  # (5, 5)
        L.Dot(axes=1, normalize=True)([x, h]),  # (4, 4)
        L.Dot(axes=(1, 2))([L.Permute((2, 1))(x), h]),  # (5, 5)
        L.Dot(axes=-1)([L.GlobalAveragePooling1D()(x), L.GlobalMaxPooling1D()(h)]),  # (1,)
    ]
    return gn.Model(x, L.Concatenate()([L.Flatten()(p) for p in products]))


@pytest.mark.parametrize("make", [_images, _sequences, _dots])
def test_models_match_onnxruntime(make):
    _check(make())


def test_resize_says_which_pixels_it_reads():
    """Nearest repeats pixels: ONNX's "asymmetric" coordinates with floor (its default
    "half_pixel" with round_prefer_floor would pick the same ones, but says less); bilinear is
    "half_pixel", the convention of glassnet, TensorFlow and PyTorch's align_corners=False."""
    model = gn.Sequential(
        [L.Input((3, 3, 1)), L.UpSampling2D(3), L.UpSampling2D(2, interpolation="bilinear")]
    )
    proto = _check(model)
    resizes = [n for n in proto.graph.node if n.op_type == "Resize"]
    attrs = [{a.name: onnx.helper.get_attribute_value(a) for a in n.attribute} for n in resizes]
    assert attrs[0]["mode"] == b"nearest" and attrs[0]["nearest_mode"] == b"floor"
    assert attrs[0]["coordinate_transformation_mode"] == b"asymmetric"
    assert attrs[1]["mode"] == b"linear"
    assert attrs[1]["coordinate_transformation_mode"] == b"half_pixel"


@pytest.mark.parametrize(
    ("make", "kinds"),
    [
        (_images, {"UpSampling2D", "Conv2D"}),
        (_sequences, {"MaxPooling2D", "AveragePooling2D", "RepeatVector", "UpSampling2D"}),
    ],
)
def test_files_import_back(tmp_path, make, kinds):
    model = make()
    export(model, tmp_path / "m.onnx")
    imported = import_onnx(tmp_path / "m.onnx")
    x = np.random.default_rng(0).normal(size=(7, *model.input_shape[1:])).astype(np.float32)
    np.testing.assert_allclose(imported.predict(x), model.predict(x), atol=1e-5, rtol=0)
    found = {type(layer).__name__ for _, layer in imported.named_layers()}
    assert kinds <= found


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.parametrize("mode", ["nearest", "bilinear"])
def test_pytorch_upsample_imports_as_upsampling2d(tmp_path, mode):
    torch = pytest.importorskip("torch")
    nn = torch.nn
    torch.manual_seed(0)
    extra = {} if mode == "nearest" else {"align_corners": False}
    net = nn.Sequential(
        nn.Conv2d(2, 3, 3, padding=1), nn.Upsample(scale_factor=(2, 3), mode=mode, **extra)
    ).eval()
    path = tmp_path / "torch.onnx"
    torch.onnx.export(
        net,
        (torch.randn(1, 2, 5, 4),),
        str(path),
        opset_version=17,
        input_names=["x"],
        output_names=["y"],
        dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}},
        dynamo=False,
    )
    model = import_onnx(path)
    ups = [layer for _, layer in model.named_layers() if isinstance(layer, L.UpSampling2D)]
    assert [(u.size, u.interpolation) for u in ups] == [((2, 3), mode)]
    xb = torch.randn(3, 2, 5, 4)
    with torch.no_grad():
        expected = net(xb).numpy()
    got = model.predict(xb.numpy().transpose(0, 2, 3, 1))  # the output stays ONNX's NCHW
    np.testing.assert_allclose(got, expected, atol=1e-4, rtol=0)


def _resize_file(tmp_path, attrs, scales=None, sizes=None):
    """A one-node file resizing an NCHW (N, 2, 3, 3) input by ``scales`` or to ``sizes``."""
    h = onnx.helper
    if sizes is None:
        inits = [onnx.numpy_helper.from_array(np.array(scales, np.float32), "scales")]
        node = h.make_node("Resize", ["x", "", "scales"], ["y"], **attrs)
    else:
        inits = [onnx.numpy_helper.from_array(np.array(sizes, np.int64), "sizes")]
        node = h.make_node("Resize", ["x", "", "", "sizes"], ["y"], **attrs)
    graph = h.make_graph(
        [node],
        "g",
        [h.make_tensor_value_info("x", onnx.TensorProto.FLOAT, ["N", 2, 3, 3])],
        [h.make_tensor_value_info("y", onnx.TensorProto.FLOAT, ["N", 2, None, None])],
        initializer=inits,
    )
    path = tmp_path / "resize.onnx"
    onnx.save(h.make_model(graph, opset_imports=[h.make_opsetid("", 17)]), str(path))
    return path


@pytest.mark.parametrize(
    ("attrs", "scales"),
    [
        ({"mode": "linear", "coordinate_transformation_mode": "align_corners"}, [1, 1, 2, 2]),
        ({"mode": "nearest", "coordinate_transformation_mode": "asymmetric"}, [1, 1, 2, 2]),
        ({"mode": "nearest"}, [1, 1, 1.5, 2]),
        ({"mode": "cubic"}, [1, 1, 2, 2]),
    ],
)
def test_resizes_upsampling2d_cannot_do_are_refused(tmp_path, attrs, scales):
    path = _resize_file(tmp_path, attrs, scales)
    with pytest.raises(ValueError, match=r"Resize .* must enlarge height and width by whole"):
        import_onnx(path)


@pytest.mark.parametrize(
    ("attrs", "scales", "sizes"),
    [
        ({"mode": "nearest"}, [1, 1, 2, 3], None),
        ({"mode": "linear"}, None, [2, 2, 6, 9]),  # sizes instead of scales
    ],
)
def test_plain_half_pixel_resizes_import(tmp_path, attrs, scales, sizes):
    path = _resize_file(tmp_path, attrs, scales, sizes)
    model = import_onnx(path)
    x = np.random.default_rng(0).normal(size=(2, 2, 3, 3)).astype(np.float32)  # NCHW
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    want = session.run(None, {"x": x})[0]
    np.testing.assert_allclose(model.predict(x.transpose(0, 2, 3, 1)), want, atol=1e-6)


def test_reshape_files_import_back(tmp_path):
    """glassnet writes Reshape's batch as 0 ("copy the input's"): that is any batch."""
    model = gn.Sequential([L.Input((6,)), L.Reshape((2, 3)), L.Dense(2), L.Reshape((-1,))])
    export(model, tmp_path / "m.onnx")
    imported = import_onnx(tmp_path / "m.onnx")
    x = np.random.default_rng(0).normal(size=(3, 6)).astype(np.float32)
    np.testing.assert_allclose(imported.predict(x), model.predict(x), atol=1e-6, rtol=0)


def test_dot_products_import_back_as_dot_layers(tmp_path):
    """Each exported Dot is one MatMul of two tensors: it comes back as Dot(axes=(2, 1))
    between the same transposes and reshapes."""
    x = gn.Input((5, 4))
    h = L.Dense(4)(x)
    products = [
        L.Dot(axes=2)([x, h]),
        L.Dot(axes=1)([x, h]),
        L.Dot(axes=-1)([L.GlobalAveragePooling1D()(x), L.GlobalMaxPooling1D()(h)]),
    ]
    model = gn.Model(x, L.Concatenate()([L.Flatten()(p) for p in products]))
    export(model, tmp_path / "m.onnx")
    imported = import_onnx(tmp_path / "m.onnx")
    xs = np.random.default_rng(0).normal(size=(3, 5, 4)).astype(np.float32)
    np.testing.assert_allclose(imported.predict(xs), model.predict(xs), atol=1e-5, rtol=0)
    dots = [p for p in imported.parts if isinstance(p, L.Dot)]
    assert len(dots) == 3 and all(d.axes == (2, 1) for d in dots)


def test_normalized_dot_imports_back(tmp_path):
    """Dot(normalize=True) divides by the L2 norms, exported with ReduceSum: it comes back as
    the same Dot layers with reduce_sum, sqrt and div nodes before them."""
    model = _dots()
    export(model, tmp_path / "m.onnx")
    imported = import_onnx(tmp_path / "m.onnx")
    xs = np.random.default_rng(0).normal(size=(3, 5, 4)).astype(np.float32)
    np.testing.assert_allclose(imported.predict(xs), model.predict(xs), atol=1e-5, rtol=0)
    assert "reduce_sum" in {node["op"] for node in imported.nodes}
