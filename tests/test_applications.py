"""The classic architectures: exact parameter counts, forward passes, training, saving.

The counts are checked twice: against torchvision's published numbers, and against the same
architectures written here in plain ``torch.nn`` (torchvision itself is not a dependency). Those
torch networks pad the way glassnet's "same" does (TensorFlow's way: the odd pixel at the
bottom/right), so with the weights copied across they must also give the same outputs — which
checks the wiring of every block, not just the number of weights.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import glassnet
from glassnet import applications
from glassnet.applications import (
    VGG11,
    VGG16,
    AlexNet,
    BasicBlock,
    BasicConv2D,
    Bottleneck,
    GoogLeNet,
    Inception,
    LeNet5,
    ResNet18,
    ResNet50,
    mlp,
)
from glassnet.layers import deserialize, serialize

IMAGENET = (224, 224, 3)

#: torchvision's trainable parameter counts at 224×224×3 with 1000 classes.
TORCHVISION_COUNTS = {
    "AlexNet": 61_100_840,
    "VGG11": 132_863_336,
    "VGG13": 133_047_848,
    "VGG16": 138_357_544,
    "VGG19": 143_667_240,
    "ResNet18": 11_689_512,
    "ResNet34": 21_797_672,
    "ResNet50": 25_557_032,
    "ResNet101": 44_549_160,
    "ResNet152": 60_192_808,
    "GoogLeNet": 6_624_904,
}


def trainable_count(model) -> int:
    return sum(int(w.size) for w in model.trainable_weights)


# ---------------------------------------------------------------------------- torch references
def torch_references(torch):
    """torchvision's architectures in plain torch.nn, named like glassnet's layers, padding
    the TensorFlow way ("same")."""
    nn, F = torch.nn, torch.nn.functional

    def same_pads(size: int, k: int, s: int) -> tuple[int, int]:
        total = max((math.ceil(size / s) - 1) * s + k - size, 0)
        return total // 2, total - total // 2

    class SameConv2d(nn.Conv2d):
        def forward(self, x):
            (kh, kw), (sh, sw) = self.kernel_size, self.stride
            top, bottom = same_pads(x.shape[2], kh, sh)
            left, right = same_pads(x.shape[3], kw, sw)
            return super().forward(F.pad(x, (left, right, top, bottom)))

    class SameMaxPool2d(nn.Module):
        def __init__(self, k: int, s: int):
            super().__init__()
            self.k, self.s = k, s

        def forward(self, x):
            top, bottom = same_pads(x.shape[2], self.k, self.s)
            left, right = same_pads(x.shape[3], self.k, self.s)
            x = F.pad(x, (left, right, top, bottom), value=-math.inf)
            return F.max_pool2d(x, self.k, self.s)

    def conv(cin, cout, k, s=1, bias=False):
        return SameConv2d(cin, cout, k, stride=s, bias=bias)

    class Head(nn.Module):
        """Global average pool (or flatten NCHW→NHWC order) then the classifier."""

        def __init__(self, layers, flatten):
            super().__init__()
            self.layers, self.flatten = nn.ModuleDict(layers), flatten

        def forward(self, x):
            if self.flatten:
                x = torch.flatten(x.permute(0, 2, 3, 1), 1)  # glassnet flattens NHWC
            else:
                x = x.mean(dim=(2, 3))
            for layer in self.layers.values():
                x = layer(x)
            return x

    class Net(nn.Module):
        def __init__(self, body, head):
            super().__init__()
            self.body, self.head = nn.ModuleDict(body), head

        def forward(self, x):
            for layer in self.body.values():
                x = layer(x)
            return self.head(x)

    class BasicBlockT(nn.Module):
        expansion = 1

        def __init__(self, cin, planes, stride, downsample):
            super().__init__()
            self.conv1, self.bn1 = conv(cin, planes, 3, stride), nn.BatchNorm2d(planes)
            self.conv2, self.bn2 = conv(planes, planes, 3), nn.BatchNorm2d(planes)
            self.downsample = downsample

        def forward(self, x):
            identity = x if self.downsample is None else self.downsample(x)
            out = F.relu(self.bn1(self.conv1(x)))
            return F.relu(self.bn2(self.conv2(out)) + identity)

    class BottleneckT(nn.Module):
        expansion = 4

        def __init__(self, cin, planes, stride, downsample):
            super().__init__()
            self.conv1, self.bn1 = conv(cin, planes, 1), nn.BatchNorm2d(planes)
            self.conv2, self.bn2 = conv(planes, planes, 3, stride), nn.BatchNorm2d(planes)
            self.conv3, self.bn3 = conv(planes, planes * 4, 1), nn.BatchNorm2d(planes * 4)
            self.downsample = downsample

        def forward(self, x):
            identity = x if self.downsample is None else self.downsample(x)
            out = F.relu(self.bn1(self.conv1(x)))
            out = F.relu(self.bn2(self.conv2(out)))
            return F.relu(self.bn3(self.conv3(out)) + identity)

    def resnet(block, repeats, classes):
        body = {"conv1": conv(3, 64, 7, 2), "bn1": nn.BatchNorm2d(64), "relu": nn.ReLU()}
        body["maxpool"] = SameMaxPool2d(3, 2)
        cin = 64
        for stage, (planes, count) in enumerate(zip((64, 128, 256, 512), repeats, strict=True), 1):
            for i in range(count):
                stride = 2 if stage > 1 and i == 0 else 1
                out = planes * block.expansion
                down = None
                if stride != 1 or cin != out:
                    down = nn.Sequential(conv(cin, out, 1, stride), nn.BatchNorm2d(out))
                body[f"layer{stage}_{i}"] = block(cin, planes, stride, down)
                cin = out
        return Net(body, Head({"predictions": nn.Linear(cin, classes)}, flatten=False))

    def vgg(convs_per_block, classes, features):
        body, cin = {}, 3
        for b, (filters, count) in enumerate(
            zip((64, 128, 256, 512, 512), convs_per_block, strict=True), 1
        ):
            for i in range(1, count + 1):
                body[f"block{b}_conv{i}"] = nn.Sequential(
                    conv(cin, filters, 3, bias=True), nn.ReLU()
                )
                cin = filters
            body[f"block{b}_pool"] = nn.MaxPool2d(2, 2)
        head = {
            "fc1": nn.Sequential(nn.Linear(512 * features, 4096), nn.ReLU()),
            "dropout1": nn.Dropout(0.5),
            "fc2": nn.Sequential(nn.Linear(4096, 4096), nn.ReLU()),
            "dropout2": nn.Dropout(0.5),
            "predictions": nn.Linear(4096, classes),
        }
        return Net(body, Head(head, flatten=True))

    def alexnet(classes, features):
        body = {
            "conv1": nn.Sequential(conv(3, 64, 11, 4, bias=True), nn.ReLU()),
            "pool1": nn.MaxPool2d(3, 2),
            "conv2": nn.Sequential(conv(64, 192, 5, bias=True), nn.ReLU()),
            "pool2": nn.MaxPool2d(3, 2),
            "conv3": nn.Sequential(conv(192, 384, 3, bias=True), nn.ReLU()),
            "conv4": nn.Sequential(conv(384, 256, 3, bias=True), nn.ReLU()),
            "conv5": nn.Sequential(conv(256, 256, 3, bias=True), nn.ReLU()),
            "pool5": nn.MaxPool2d(3, 2),
        }
        head = {
            "dropout1": nn.Dropout(0.5),
            "fc1": nn.Sequential(nn.Linear(256 * features, 4096), nn.ReLU()),
            "dropout2": nn.Dropout(0.5),
            "fc2": nn.Sequential(nn.Linear(4096, 4096), nn.ReLU()),
            "predictions": nn.Linear(4096, classes),
        }
        return Net(body, Head(head, flatten=True))

    class BasicConv2dT(nn.Module):
        def __init__(self, cin, cout, k, s=1):
            super().__init__()
            self.conv, self.bn = conv(cin, cout, k, s), nn.BatchNorm2d(cout, eps=0.001)

        def forward(self, x):
            return F.relu(self.bn(self.conv(x)))

    class InceptionT(nn.Module):
        def __init__(self, cin, ch1, ch3r, ch3, ch5r, ch5, proj):
            super().__init__()
            self.branch1 = nn.Sequential(BasicConv2dT(cin, ch1, 1))
            self.branch2 = nn.Sequential(BasicConv2dT(cin, ch3r, 1), BasicConv2dT(ch3r, ch3, 3))
            # torchvision's "5×5" branch is a 3×3 convolution.
            self.branch3 = nn.Sequential(BasicConv2dT(cin, ch5r, 1), BasicConv2dT(ch5r, ch5, 3))
            self.branch4 = nn.Sequential(SameMaxPool2d(3, 1), BasicConv2dT(cin, proj, 1))

        def forward(self, x):
            branches = (self.branch1, self.branch2, self.branch3, self.branch4)
            return torch.cat([b(x) for b in branches], 1)

    def googlenet(classes):
        body = {
            "conv1": BasicConv2dT(3, 64, 7, 2),
            "maxpool1": SameMaxPool2d(3, 2),
            "conv2": BasicConv2dT(64, 64, 1),
            "conv3": BasicConv2dT(64, 192, 3),
            "maxpool2": SameMaxPool2d(3, 2),
            "inception3a": InceptionT(192, 64, 96, 128, 16, 32, 32),
            "inception3b": InceptionT(256, 128, 128, 192, 32, 96, 64),
            "maxpool3": SameMaxPool2d(3, 2),
            "inception4a": InceptionT(480, 192, 96, 208, 16, 48, 64),
            "inception4b": InceptionT(512, 160, 112, 224, 24, 64, 64),
            "inception4c": InceptionT(512, 128, 128, 256, 24, 64, 64),
            "inception4d": InceptionT(512, 112, 144, 288, 32, 64, 64),
            "inception4e": InceptionT(528, 256, 160, 320, 32, 128, 128),
            "maxpool4": SameMaxPool2d(2, 2),
            "inception5a": InceptionT(832, 256, 160, 320, 32, 128, 128),
            "inception5b": InceptionT(832, 384, 192, 384, 48, 128, 128),
        }
        head = {"dropout": nn.Dropout(0.2), "predictions": nn.Linear(1024, classes)}
        return Net(body, Head(head, flatten=False))

    # features: the size of the last feature map (7×7 for VGG, 6×6 for AlexNet at 224×224).
    return {
        "AlexNet": lambda classes, features=36: alexnet(classes, features),
        "VGG11": lambda classes, features=49: vgg((1, 1, 2, 2, 2), classes, features),
        "VGG13": lambda classes, features=49: vgg((2, 2, 2, 2, 2), classes, features),
        "VGG16": lambda classes, features=49: vgg((2, 2, 3, 3, 3), classes, features),
        "VGG19": lambda classes, features=49: vgg((2, 2, 4, 4, 4), classes, features),
        "ResNet18": lambda classes: resnet(BasicBlockT, (2, 2, 2, 2), classes),
        "ResNet34": lambda classes: resnet(BasicBlockT, (3, 4, 6, 3), classes),
        "ResNet50": lambda classes: resnet(BottleneckT, (3, 4, 6, 3), classes),
        "ResNet101": lambda classes: resnet(BottleneckT, (3, 4, 23, 3), classes),
        "ResNet152": lambda classes: resnet(BottleneckT, (3, 8, 36, 3), classes),
        "GoogLeNet": googlenet,
    }


def named_weights(model):
    """``(layer_name.key, weight)`` for every weight: keys built from the layer names, which
    the architectures choose (torchvision's), rather than ``state_dict()``'s class-based keys."""
    for layer in model.layers:
        for key, w in layer.named_weights():
            yield f"{layer.name}.{key}", w


def torch_layout(shape: tuple[int, ...]) -> tuple[int, ...]:
    """A glassnet weight's shape in torch's layout: kernels (kh, kw, in, out) -> (out, in, kh,
    kw), Dense (in, out) -> (out, in)."""
    if len(shape) == 4:
        return (shape[3], shape[2], shape[0], shape[1])
    return tuple(reversed(shape))


# ---------------------------------------------------------------------------- counts
@pytest.fixture(scope="module")
def resnet152():
    """Built once: the count test and the 224×224 forward test share it."""
    return applications.ResNet152()


@pytest.mark.parametrize("name", sorted(TORCHVISION_COUNTS))
def test_parameter_counts_match_torchvision(name, torch, request):
    if name == "ResNet152":
        model = request.getfixturevalue("resnet152")
    else:
        model = getattr(applications, name)(input_shape=IMAGENET, classes=1000)
    assert model.built and model.input_shape == (None, *IMAGENET)
    assert trainable_count(model) == TORCHVISION_COUNTS[name]

    # The same architecture in torch.nn, on the meta device (shapes only, no memory, no init).
    with torch.device("meta"):
        reference = torch_references(torch)[name](1000)
    params = list(reference.parameters())
    assert sum(p.numel() for p in params) == TORCHVISION_COUNTS[name]
    # Not just the total: the same weights, shape by shape.
    ours = sorted(torch_layout(tuple(w.shape)) for w in model.trainable_weights)
    assert ours == sorted(tuple(p.shape) for p in params)
    # BatchNormalization's moving statistics are torch's running buffers.
    buffers = sum(b.numel() for key, b in reference.named_buffers() if "running" in key)
    assert sum(int(w.size) for w in model.non_trainable_weights) == buffers
    if name.startswith(("ResNet", "GoogLeNet")):  # no bias before BatchNormalization
        biased = [key for key, _ in named_weights(model) if key.endswith(".bias")]
        assert biased == ["predictions.bias"]


def test_small_models_counts():
    # LeNet-5: 156 + 2,416 + 48,120 + 10,164 + 850; mlp: 784·256+256 + 256·128+128 + 128·10+10.
    assert trainable_count(LeNet5()) == 61_706
    assert trainable_count(mlp((28, 28, 1))) == 235_146
    assert trainable_count(mlp(784, hidden=(), classes=10)) == 7_850


# ---------------------------------------------------------------------------- forward passes
def _check_probabilities(out, batch, classes):
    assert out.shape == (batch, classes)
    assert out.dtype == np.float32
    assert np.all(np.isfinite(out)) and np.all(out >= 0)
    np.testing.assert_allclose(out.sum(axis=1), 1.0, rtol=1e-5)


@pytest.mark.parametrize(
    ("build", "shape"),
    [
        (lambda: ResNet18(input_shape=(32, 32, 3), classes=10), (32, 32, 3)),
        (lambda: ResNet50(input_shape=(32, 32, 3), classes=10), (32, 32, 3)),
        (lambda: GoogLeNet(input_shape=(32, 32, 3), classes=10), (32, 32, 3)),
        (lambda: VGG11(input_shape=(32, 32, 3), classes=10), (32, 32, 3)),
        (lambda: AlexNet(input_shape=(64, 64, 3), classes=10), (64, 64, 3)),
        (lambda: LeNet5(input_shape=(28, 28, 1), classes=10), (28, 28, 1)),
        (lambda: mlp((28, 28, 1), classes=10), (28, 28, 1)),
    ],
    ids=["ResNet18", "ResNet50", "GoogLeNet", "VGG11", "AlexNet", "LeNet5", "mlp"],
)
def test_forward_small(build, shape, rng):
    model = build()
    assert model.compute_output_shape((None, *shape)) == (None, 10)
    out = model.predict(rng.random((3, *shape), dtype=np.float32))
    _check_probabilities(out, 3, 10)


def test_googlenet_any_size(rng):
    # "same" padding everywhere: even 8×8 images shrink to 1×1, never to nothing.
    model = GoogLeNet(input_shape=(8, 8, 3), classes=5)
    _check_probabilities(model.predict(rng.random((2, 8, 8, 3), dtype=np.float32)), 2, 5)


def test_resnet152_forward_224(resnet152, rng):
    x = rng.random((1, *IMAGENET), dtype=np.float32)
    _check_probabilities(resnet152.predict(x), 1, 1000)


def test_logits_output(rng):
    model = ResNet18(input_shape=(32, 32, 3), classes=4, classifier_activation=None)
    out = model.predict(rng.random((2, 32, 32, 3), dtype=np.float32))
    assert out.shape == (2, 4) and not np.allclose(out.sum(axis=1), 1.0)


# ---------------------------------------------------------------------------- parity with torch
def _copy_to_torch(model, reference, torch, rng):
    """Randomise BN statistics (so they matter), then copy every glassnet weight into the torch
    network whose module names mirror glassnet's keys."""
    for key, w in named_weights(model):
        if key.endswith(("moving_variance", "gamma")):
            w.data[...] = rng.uniform(0.5, 1.5, w.shape)
        elif key.endswith(("moving_mean", "beta")):
            w.data[...] = rng.normal(0.0, 0.1, w.shape)
    rename = {
        "kernel": "weight",
        "bias": "bias",
        "gamma": "weight",
        "beta": "bias",
        "moving_mean": "running_mean",
        "moving_variance": "running_var",
    }
    torch_keys = set(reference.state_dict())
    state = {}
    for key, w in named_weights(model):
        path, leaf = key.rsplit(".", 1)
        w = w.numpy()
        candidates = [f"body.{path}", f"head.layers.{path}"]
        candidates += [f"{c}.0" for c in candidates]  # a layer fused with its ReLU
        target = next(
            f"{c}.{rename[leaf]}" for c in candidates if f"{c}.{rename[leaf]}" in torch_keys
        )
        value = w.transpose(3, 2, 0, 1) if w.ndim == 4 else w.T if w.ndim == 2 else w
        state[target] = torch.from_numpy(np.ascontiguousarray(value))
    missing, unexpected = reference.load_state_dict(state, strict=False)
    assert not unexpected and all(k.endswith("num_batches_tracked") for k in missing)
    return reference.eval()


@pytest.mark.parametrize(
    ("name", "size", "kwargs"),
    [
        ("ResNet18", 32, {}),
        ("ResNet50", 32, {}),
        ("GoogLeNet", 32, {}),
        ("VGG11", 64, {"features": 4}),
        ("AlexNet", 67, {"features": 1}),
    ],
)
def test_matches_torch_network(name, size, kwargs, torch, rng):
    """The same weights in the torch.nn version give the same logits: every block is wired
    like torchvision's (padding aside, see the module docstring)."""
    model = getattr(applications, name)(
        input_shape=(size, size, 3), classes=7, classifier_activation=None
    )
    reference = _copy_to_torch(model, torch_references(torch)[name](7, **kwargs), torch, rng)
    x = rng.random((2, size, size, 3), dtype=np.float32)
    ours = model.predict(x)
    with torch.no_grad():
        theirs = reference(torch.from_numpy(x.transpose(0, 3, 1, 2).copy())).numpy()
    scale = np.abs(theirs).max()
    np.testing.assert_allclose(ours, theirs, rtol=1e-3, atol=1e-4 * scale)


# ---------------------------------------------------------------------------- training
def test_resnet18_trains_through_skip_connections(rng):
    model = ResNet18(input_shape=(32, 32, 3), classes=10)
    model.compile("sgd", "sparse_categorical_crossentropy")
    before = {key: w.numpy().copy() for key, w in named_weights(model) if w.requires_grad}
    x = rng.random((4, 32, 32, 3), dtype=np.float32)
    loss = model.train_on_batch(x, np.array([0, 1, 2, 3]))
    assert np.isfinite(loss)
    # Every weight got a gradient and moved, the stem's and the projections' included.
    for key, w in named_weights(model):
        if not w.requires_grad:
            continue
        assert w.grad is not None and np.any(w.grad != 0), key
        assert not np.array_equal(w.numpy(), before[key]), key
    assert "layer2_0.downsample.0.kernel" in before and "conv1.kernel" in before


# ---------------------------------------------------------------------------- feature extraction
def test_include_top_false():
    def output(model, shape):
        return model.compute_output_shape((None, *shape))

    small = (32, 32, 3)
    assert output(ResNet18(input_shape=small, include_top=False), small) == (None, 512)
    resnet = ResNet50(input_shape=(64, 64, 3), include_top=False, pooling=None)
    assert output(resnet, (64, 64, 3)) == (None, 2, 2, 2048)
    assert not any(layer.name in ("avg_pool", "predictions") for layer in resnet.layers)
    googlenet = GoogLeNet(input_shape=small, include_top=False, pooling="max")
    assert output(googlenet, small) == (None, 1024)
    vgg = VGG16(include_top=False, pooling=None)
    assert output(vgg, IMAGENET) == (None, 7, 7, 512)
    assert trainable_count(vgg) == 14_714_688  # the convolutions alone (Keras's VGG16 notop)
    assert output(AlexNet(include_top=False, pooling=None), IMAGENET) == (None, 6, 6, 256)


def test_include_top_false_features(rng):
    model = ResNet18(input_shape=(32, 32, 3), include_top=False)
    features = model.predict(rng.random((2, 32, 32, 3), dtype=np.float32))
    assert features.shape == (2, 512) and np.all(features >= 0)  # averages of ReLU outputs


def test_unknown_image_size(rng):
    # Fully convolutional with global pooling: height and width may be left open.
    model = ResNet18(input_shape=(None, None, 3), classes=3)
    for size in (32, 48):
        _check_probabilities(model.predict(rng.random((1, size, size, 3), dtype=np.float32)), 1, 3)


# ---------------------------------------------------------------------------- saving
@pytest.mark.parametrize("name", ["ResNet18", "GoogLeNet"])
def test_save_load_round_trip(name, tmp_path, rng):
    model = getattr(applications, name)(input_shape=(32, 32, 3), classes=10)
    model.compile("sgd", "sparse_categorical_crossentropy")
    x = rng.random((4, 32, 32, 3), dtype=np.float32)
    model.train_on_batch(x, np.array([1, 2, 3, 4]))  # moving statistics are no longer 0 and 1
    expected = model.predict(x)
    model.save(tmp_path / "model")
    loaded = glassnet.load_model(tmp_path / "model")
    assert type(loaded) is type(model) and loaded.name == model.name
    assert [type(layer) for layer in loaded.layers] == [type(layer) for layer in model.layers]
    np.testing.assert_array_equal(loaded.predict(x), expected)


@pytest.mark.parametrize(
    "make",
    [
        lambda: BasicBlock(64, name="basic"),
        lambda: BasicBlock(128, strides=2, downsample=True),
        lambda: Bottleneck(64, downsample=True),
        lambda: BasicConv2D(32, (1, 3), strides=2),
        lambda: Inception(8, 4, 8, 2, 4, 4, name="mixed"),
    ],
    ids=["BasicBlock", "BasicBlock-downsample", "Bottleneck", "BasicConv2D", "Inception"],
)
def test_block_config_round_trip(make, rng):
    block = make()
    config = serialize(block)
    clone = deserialize(config)
    assert type(clone) is type(block) and serialize(clone) == config
    x = rng.random((2, 8, 8, 64), dtype=np.float32)
    out = block(x)
    assert tuple(out.shape) == block.compute_output_shape((2, 8, 8, 64))
    clone.build((None, 8, 8, 64))
    clone.load_state_dict(block.state_dict())
    np.testing.assert_array_equal(clone(x).numpy(), out.numpy())


def test_block_shapes():
    assert BasicBlock(128, strides=2, downsample=True).compute_output_shape((None, 7, 7, 64)) == (
        None,
        4,
        4,
        128,
    )
    assert Bottleneck(64, downsample=True).compute_output_shape((None, 8, 8, 64)) == (
        None,
        8,
        8,
        256,
    )
    assert Inception(64, 96, 128, 16, 32, 32).compute_output_shape((None, 28, 28, 192)) == (
        None,
        28,
        28,
        256,
    )


# ---------------------------------------------------------------------------- errors
def test_too_small_images_name_the_layer():
    with pytest.raises(ValueError, match=r"at least 57×57(.|\n)*'pool5'"):
        AlexNet(input_shape=(32, 32, 3))
    with pytest.raises(ValueError, match=r"at least 32×32(.|\n)*'block5_pool'"):
        VGG16(input_shape=(16, 16, 3), classes=10)
    with pytest.raises(ValueError, match="at least 12×12"):
        LeNet5(input_shape=(8, 8, 1))
    AlexNet(input_shape=(57, 57, 3), classes=10)  # the smallest that fits


def test_shortcut_needs_downsample():
    with pytest.raises(ValueError, match="downsample=True"):
        BasicBlock(128, strides=2).build((None, 8, 8, 64))
    with pytest.raises(ValueError, match="downsample=True"):
        Bottleneck(64).build((None, 8, 8, 64))  # 64 in, 256 out


@pytest.mark.parametrize(
    ("call", "error", "phrase"),
    [
        (lambda: ResNet18(input_shape=(32, 32)), ValueError, "'input_shape' must be"),
        (lambda: ResNet18(input_shape=(32, 32, None)), ValueError, "'input_shape' must be"),
        (lambda: VGG11(classes=0), ValueError, "'classes' must be a positive integer"),
        (lambda: VGG11(input_shape=(None, None, 3)), ValueError, "needs a fixed image size"),
        (lambda: AlexNet(input_shape=(None, 99, 3)), ValueError, "needs a fixed image size"),
        (lambda: GoogLeNet(include_top="no"), TypeError, "'include_top' must be True or False"),
        (lambda: ResNet50(include_top=False, pooling="sum"), ValueError, "'pooling' must be"),
        (lambda: mlp((0,)), ValueError, "'input_shape' must be"),
        (lambda: mlp(784, hidden=(256, -1)), ValueError, "'hidden' must be"),
        (lambda: BasicBlock(0), ValueError, "'filters' must be a positive integer"),
        (lambda: Inception(1, 2, 3, 4, 5, 0), ValueError, "'pool_proj' must be"),
    ],
)
def test_argument_errors(call, error, phrase):
    with pytest.raises(error, match=phrase):
        call()


def test_public_api():
    assert set(applications.__all__) >= {
        "mlp",
        "LeNet5",
        "AlexNet",
        "VGG11",
        "VGG13",
        "VGG16",
        "VGG19",
        "ResNet18",
        "ResNet34",
        "ResNet50",
        "ResNet101",
        "ResNet152",
        "GoogLeNet",
    }
    for name in TORCHVISION_COUNTS:
        assert getattr(applications, name).__doc__


def test_batch_normalization_settings():
    """torchvision's: eps 1e-5 in ResNet, 0.001 in GoogLeNet's BasicConv2d; momentum 0.1 in
    torch's convention, which is 0.9 in Keras's (the share of the old moving value kept)."""

    def norms(model):
        return [
            layer
            for top in model.layers
            for _, layer in top.named_layers()
            if isinstance(layer, glassnet.layers.BatchNormalization)
        ]

    resnet = norms(ResNet18(input_shape=(32, 32, 3), classes=2))
    googlenet = norms(GoogLeNet(input_shape=(32, 32, 3), classes=2))
    assert len(resnet) == 20 and len(googlenet) == 57
    assert {(bn.epsilon, bn.momentum) for bn in resnet} == {(1e-5, 0.9)}
    assert {(bn.epsilon, bn.momentum) for bn in googlenet} == {(0.001, 0.9)}


def test_registry_builds_every_name_and_ignores_case_dashes_and_underscores():
    assert applications.names()[:3] == ["small-cnn", "lenet5", "mlp"]
    assert applications.canonical_name("ResNet_18") == "resnet18"
    assert applications.canonical_name("SMALL_CNN") == "small-cnn"
    model = applications.get("LeNet-5", input_shape=(28, 28, 1), classes=10)
    assert model.name == "lenet5" and model.count_params() == 61_706
    logits = applications.get("mlp", (8,), 3, classifier_activation=None)
    assert logits.layers[-1].get_config()["activation"] == "linear"


def test_registry_unknown_name_names_it_and_lists_the_known_ones():
    with pytest.raises(ValueError, match="unknown architecture 'inception9'") as info:
        applications.get("inception9", (32, 32, 3), 10)
    assert all(name in str(info.value) for name in applications.names())
