"""ONNX export: every architecture and layer type, checked by onnx.checker and compared with
onnxruntime at batch sizes 1 and 7."""

from __future__ import annotations

import json

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from glassnet import applications, layers  # noqa: E402
from glassnet.export.onnx import export, supported_layers, to_onnx  # noqa: E402
from glassnet.models import Model, Sequential  # noqa: E402
from tests.export.parity import check_onnx_parity  # noqa: E402


def _randomize_bn(model, rng):
    """Non-trivial statistics, so the inference form of BatchNormalization is really tested."""
    for _, layer in model.named_layers():
        if isinstance(layer, layers.BatchNormalization):
            c = layer.moving_mean.shape[0]
            layer.moving_mean.data[...] = rng.normal(0, 0.5, c)
            layer.moving_variance.data[...] = rng.uniform(0.5, 2.0, c)
            if layer.gamma is not None:
                layer.gamma.data[...] = rng.uniform(0.5, 1.5, c)
            if layer.beta is not None:
                layer.beta.data[...] = rng.normal(0, 0.2, c)


_check = check_onnx_parity

ARCHITECTURES = {
    "mlp": lambda: applications.mlp((20,), classes=5),
    "small_cnn": lambda: applications.small_cnn((32, 32, 3), classifier_activation=None),
    "photo_cnn": lambda: applications.photo_cnn((36, 36, 3), classifier_activation=None),
    "LeNet5": lambda: applications.LeNet5(classifier_activation=None),
    "AlexNet": lambda: applications.AlexNet((57, 57, 3), classes=10, classifier_activation=None),
    "VGG11": lambda: applications.VGG11((64, 64, 3), classes=10, classifier_activation=None),
    # the rest of the family, at the smallest sizes they take, so every architecture of
    # glassnet.applications is exported and checked, not only one of each kind
    "VGG13": lambda: applications.VGG13((32, 32, 3), classes=10, classifier_activation=None),
    "VGG16": lambda: applications.VGG16((32, 32, 3), classes=10, classifier_activation=None),
    "VGG19": lambda: applications.VGG19((32, 32, 3), classes=10, classifier_activation=None),
    "ResNet34": lambda: applications.ResNet34((32, 32, 3), classes=10, classifier_activation=None),
    "ResNet101": lambda: applications.ResNet101(
        (32, 32, 3), classes=10, classifier_activation=None
    ),
    "ResNet152": lambda: applications.ResNet152(
        (32, 32, 3), classes=10, classifier_activation=None
    ),
    "ResNet18": lambda: applications.ResNet18((32, 32, 3), classes=10, classifier_activation=None),
    "ResNet50": lambda: applications.ResNet50((32, 32, 3), classes=10, classifier_activation=None),
    # torchvision's padding (for its weights): ZeroPadding2D before the strided convolutions
    "ResNet50_torch_padding": lambda: applications.ResNet50(
        (32, 32, 3), classes=10, classifier_activation=None, padding="torch"
    ),
    "GoogLeNet": lambda: applications.GoogLeNet(
        (32, 32, 3), classes=10, classifier_activation=None
    ),
}


@pytest.mark.parametrize("name", sorted(ARCHITECTURES))
def test_architectures_match_onnxruntime(name):
    model = ARCHITECTURES[name]()
    _randomize_bn(model, np.random.default_rng(0))
    _check(model)


def test_every_layer_type_matches_onnxruntime():
    L = layers
    image = Sequential(
        [
            L.Input((13, 12, 3)),
            L.Rescaling(1 / 2.0, offset=-0.5),
            L.RandomFlip(),
            L.RandomResizedCrop(),
            L.RandomRotation(0.1),
            L.RandomTranslation(0.1, 0.1),
            L.RandomZoom(0.1),
            L.RandomBrightness(0.1),
            L.RandomContrast(0.1),
            L.RandomCrop(11, 10),  # centre crop at inference: a Slice
            L.Conv2D(4, 3, strides=2, padding="same", activation="relu"),  # odd 11 -> pads
            L.Conv2D(5, 2, padding="same", activation="tanh"),  # even kernel: asymmetric pads
            L.Conv2D(6, 3, padding="same", dilation_rate=2, activation="sigmoid"),
            L.BatchNormalization(),
            L.Conv2D(6, (3, 2), strides=(1, 2), padding="valid", use_bias=False),
            L.LeakyReLU(0.1),
            L.ReLU(max_value=2.0, negative_slope=0.1, threshold=0.2),
            L.MaxPooling2D(3, strides=1, padding="same"),
            L.AveragePooling2D(2, strides=1, padding="same"),
            L.MaxPooling2D(2),
            L.Dropout(0.5),
            L.Activation("relu"),
            L.Flatten(),
            L.Dense(12, activation="gelu"),
            L.BatchNormalization(),
            L.Reshape((3, 4)),
            L.Dense(4, activation="softmax"),  # MatMul + Add on 3-D input
            L.Reshape((12,)),
            L.Dense(5),
            L.Softmax(),
        ]
    )
    _randomize_bn(image, np.random.default_rng(2))
    _check(image)
    pools = Sequential(
        [
            L.Input((7, 9, 2)),
            L.AveragePooling2D(3, strides=2, padding="same"),
            L.GlobalMaxPooling2D(keepdims=True),
            L.Flatten(),
        ]
    )
    _check(pools)
    gap = Sequential([L.Input((6, 6, 3)), L.Conv2D(3, 1), L.GlobalAveragePooling2D()])
    _check(gap)


def test_nested_sequential_and_blocks():
    inner = Sequential([layers.Conv2D(4, 3, padding="same"), layers.ReLU()], name="inner")
    model = Sequential(
        [
            layers.Input((8, 8, 3)),
            inner,
            applications.BasicBlock(4),
            applications.BasicBlock(8, strides=2, downsample=True),
            applications.Bottleneck(2, downsample=True),
            applications.Inception(2, 2, 3, 2, 3, 2),
            layers.GlobalAveragePooling2D(),
            layers.Dense(3),
        ]
    )
    _randomize_bn(model, np.random.default_rng(3))
    _check(model)


def test_metadata_and_file(tmp_path):
    model = applications.small_cnn((16, 16, 3), classes=2)
    model.class_names = ["cat", "dog"]
    model.preprocessing = {"image_size": [16, 16], "color_mode": "rgb"}
    path = tmp_path / "cats.onnx"
    export(model, path)
    proto = onnx.load(str(path))
    meta = {p.key: json.loads(p.value) for p in proto.metadata_props}
    assert meta["class_names"] == ["cat", "dog"]
    assert meta["preprocessing"]["image_size"] == [16, 16]
    assert meta["input_layout"] == "NHWC"
    assert proto.opset_import[0].version >= 17
    dim = proto.graph.input[0].type.tensor_type.shape.dim[0]
    assert dim.dim_param == "N"  # symbolic batch


def test_unsupported_layer_names_it_and_lists_supported():
    class Mine(Model):
        def __init__(self):
            super().__init__(name="mine")
            self.dense = layers.Dense(2)

        def call(self, x, training=False):
            return self.dense(x) * 2

    model = Sequential([layers.Input((3,)), Mine()])
    with pytest.raises(ValueError) as err:
        to_onnx(model)
    message = str(err.value)
    assert "'mine' (Mine) is not supported" in message
    assert "Conv2D" in message and "Dense" in message and "BasicBlock" in message
    assert "Conv2D" in supported_layers()


def test_unbuilt_model_is_a_clear_error():
    with pytest.raises(ValueError, match="not built"):
        to_onnx(Sequential([layers.Dense(2)]))


NAMED = ["silu", "swish", "elu", "selu", "softplus", "softsign", "mish", "relu6"]
NAMED += ["hard_sigmoid", "hard_silu", "hard_swish", "exponential"]


@pytest.mark.parametrize("opset", [17, 18])  # 18: Mish is one ONNX op, before it three
def test_named_activations_match_onnxruntime(opset):
    """Each activation by name: a Dense's (on rows) and an Activation layer's after a Conv2D
    (on channels-first images in the graph), over inputs wide enough to cross every kink."""
    for name in NAMED:
        dense = Sequential([layers.Input((7,)), layers.Dense(9, activation=name)])
        conv = Sequential(
            [
                layers.Input((5, 4, 3)),
                layers.Conv2D(4, 3, padding="same"),
                layers.Activation(name),
            ]
        )
        for model in (dense, conv):
            for w in model.weights:
                w.data[...] *= 4  # outputs over about [-8, 8]: past ±3 and 6
            proto = to_onnx(model, opset=opset)
            session = ort.InferenceSession(
                proto.SerializeToString(), providers=["CPUExecutionProvider"]
            )
            x = np.random.default_rng(1).normal(size=(7, *model.input_shape[1:]))
            x = x.astype(np.float32)
            expected = model.predict(x)
            got = session.run(None, {"input": x})[0]
            # exponential's outputs reach e^20: compare relatively there
            np.testing.assert_allclose(got, expected, atol=1e-4, rtol=1e-5, err_msg=name)
        ops = {n.op_type for n in to_onnx(dense, opset=opset).graph.node}
        if name == "mish":
            assert ("Mish" in ops) == (opset >= 18)


def test_elu_and_prelu_layers_match_onnxruntime():
    rng = np.random.default_rng(4)
    model = Sequential(
        [
            layers.Input((6, 5, 3)),
            layers.Conv2D(4, 3, padding="same"),  # channels-first from here in the graph
            layers.PReLU(alpha_initializer="random_uniform", shared_axes=[1, 2]),
            layers.ELU(0.4),
            layers.PReLU(alpha_initializer="random_uniform"),  # one alpha per number
            layers.Flatten(),
            layers.PReLU(alpha_initializer="random_uniform"),
            layers.Dense(6),
            layers.Reshape((2, 3)),
            layers.PReLU(alpha_initializer="random_uniform", shared_axes=1),
            layers.ELU(),
        ]
    )
    for w in model.weights:
        w.data[...] = rng.normal(0, 0.5, w.shape)
    _check(model)
    ops = {n.op_type for n in to_onnx(model).graph.node}
    assert {"PRelu", "Elu"} <= ops
