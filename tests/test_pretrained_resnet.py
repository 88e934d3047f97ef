"""ResNets with torchvision's weights: a torchvision ResNet written in plain torch.nn (torchvision
itself is not a dependency), its state_dict saved with safetensors and loaded into glassnet,
must give torch's numbers."""

from __future__ import annotations

import numpy as np
import pytest

import glassnet as gn

torch = pytest.importorskip("torch")
nn = torch.nn
save_file = pytest.importorskip("safetensors.torch").save_file


# torchvision.models.resnet, with its module names so the state_dict keys match.
class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, inplanes, planes, stride=1, downsample=None):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        return self.relu(self.bn2(self.conv2(out)) + identity)


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, inplanes, planes, stride=1, downsample=None):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, planes * 4, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * 4)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        return self.relu(self.bn3(self.conv3(out)) + identity)


class ResNet(nn.Module):
    def __init__(self, block, layers, num_classes=1000):
        super().__init__()
        self.inplanes = 64
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        self.layer1 = self._make_layer(block, 64, layers[0])
        self.layer2 = self._make_layer(block, 128, layers[1], 2)
        self.layer3 = self._make_layer(block, 256, layers[2], 2)
        self.layer4 = self._make_layer(block, 512, layers[3], 2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(512 * block.expansion, num_classes)

    def _make_layer(self, block, planes, blocks, stride=1):
        downsample = None
        if stride != 1 or self.inplanes != planes * block.expansion:
            downsample = nn.Sequential(
                nn.Conv2d(self.inplanes, planes * block.expansion, 1, stride, bias=False),
                nn.BatchNorm2d(planes * block.expansion),
            )
        layers = [block(self.inplanes, planes, stride, downsample)]
        self.inplanes = planes * block.expansion
        layers += [block(self.inplanes, planes) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def features(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return torch.flatten(self.avgpool(x), 1)

    def forward(self, x):
        return self.fc(self.features(x))


def _torch_resnet(block, layers, seed=0, classes=1000):
    """A torchvision ResNet in eval mode with random weights and random BN statistics."""
    torch.manual_seed(seed)
    net = ResNet(block, layers, classes)
    with torch.no_grad():
        for module in net.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.weight.uniform_(0.5, 1.5)
                module.bias.uniform_(-0.2, 0.2)
                module.running_mean.uniform_(-0.2, 0.2)
                module.running_var.uniform_(0.5, 2.0)
    return net.eval()


@pytest.fixture(scope="module")
def resnet18(tmp_path_factory):
    net = _torch_resnet(BasicBlock, (2, 2, 2, 2))
    path = tmp_path_factory.mktemp("weights") / "resnet18.safetensors"
    save_file(net.state_dict(), str(path))
    return net, path


def _images(seed=1, n=2, size=64):
    return np.random.default_rng(seed).standard_normal((n, size, size, 3)).astype(np.float32)


def _torch_out(net, images, features=False):
    with torch.no_grad():
        x = torch.from_numpy(images.transpose(0, 3, 1, 2).copy())
        return (net.features(x) if features else net(x)).numpy()


def _close(ours, theirs):
    scale = max(1.0, float(np.abs(theirs).max()))
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-4 * scale)


def test_resnet18_logits_match_torchvision(resnet18):
    net, path = resnet18
    images = _images()
    model = gn.applications.ResNet18(
        weights=path, input_shape=(64, 64, 3), classifier_activation=None
    )
    _close(model.predict(images), _torch_out(net, images))


def test_resnet18_features_match_torchvision(resnet18):
    net, path = resnet18
    images = _images(seed=2)
    model = gn.applications.ResNet18(weights=str(path), input_shape=(64, 64, 3), include_top=False)
    _close(model.predict(images), _torch_out(net, images, features=True))


def test_same_padding_differs_but_keeps_parameter_counts(resnet18):
    # Why padding="torch" exists: TensorFlow's "same" with stride 2 shifts the windows.
    same = gn.applications.ResNet18(input_shape=(64, 64, 3), classifier_activation=None)
    ported = gn.applications.ResNet18(weights=resnet18[1], input_shape=(64, 64, 3))
    assert same.count_params() == ported.count_params()
    with pytest.raises(ValueError, match="padding='torch'"):
        gn.applications.ResNet18(weights=resnet18[1], padding="same")


def test_resnet50_logits_match_torchvision(tmp_path):
    net = _torch_resnet(Bottleneck, (3, 4, 6, 3), classes=10)
    path = tmp_path / "resnet50.safetensors"
    save_file(net.state_dict(), str(path))
    images = _images(seed=3, n=1, size=32)
    model = gn.applications.ResNet50(
        weights=path, input_shape=(32, 32, 3), classes=10, classifier_activation=None
    )
    _close(model.predict(images), _torch_out(net, images))


def _resave(path, tmp_path, change):
    state = dict(_torch_resnet(BasicBlock, (2, 2, 2, 2)).state_dict())
    change(state)
    out = tmp_path / "changed.safetensors"
    save_file(state, str(out))
    return out


def test_missing_and_unexpected_keys_are_named_with_the_file(resnet18, tmp_path):
    def change(state):
        state.pop("layer3.1.bn2.running_var")
        state["layer9.weight"] = torch.zeros(2)

    path = _resave(resnet18[1], tmp_path, change)
    with pytest.raises(ValueError) as info:
        gn.applications.ResNet18(weights=path, input_shape=(64, 64, 3))
    message = str(info.value)
    assert "changed.safetensors" in message
    assert 'Missing key(s): "layer3.1.bn2.running_var"' in message
    assert 'Unexpected key(s): "layer9.weight"' in message


def test_wrong_shape_is_named(resnet18, tmp_path):
    def change(state):
        state["layer1.0.conv1.weight"] = torch.zeros(64, 64, 5, 5)

    path = _resave(resnet18[1], tmp_path, change)
    with pytest.raises(ValueError, match=r"size mismatch for layer1\.0\.conv1\.weight"):
        gn.applications.ResNet18(weights=path, input_shape=(64, 64, 3))


def test_other_classes_need_include_top_false(resnet18):
    with pytest.raises(ValueError, match="1000 classes.*classes=10.*include_top=False"):
        gn.applications.ResNet18(weights=resnet18[1], classes=10, input_shape=(64, 64, 3))
    # Without the top the file's fc is skipped, so any classes works.
    gn.applications.ResNet18(
        weights=resnet18[1], classes=10, include_top=False, input_shape=(64, 64, 3)
    )


def test_not_a_safetensors_file(tmp_path):
    path = tmp_path / "resnet18.pth"
    path.write_bytes(b"\x80\x04PK not safetensors at all")
    with pytest.raises(ValueError, match=r"resnet18\.pth.*safetensors"):
        gn.applications.ResNet18(weights=path, input_shape=(64, 64, 3))
    with pytest.raises(FileNotFoundError, match="nowhere"):
        gn.applications.ResNet18(weights=tmp_path / "nowhere.safetensors")


def test_a_crafted_header_allocates_nothing(tmp_path):
    # A header claiming a huge tensor the file does not hold is refused before any data.
    import json
    import struct

    header = json.dumps(
        {"conv1.weight": {"dtype": "F32", "shape": [2**20, 2**20], "data_offsets": [0, 2**42]}}
    ).encode()
    path = tmp_path / "huge.safetensors"
    path.write_bytes(struct.pack("<Q", len(header)) + header)
    with pytest.raises(ValueError, match="huge.safetensors"):
        gn.applications.ResNet18(weights=path, input_shape=(64, 64, 3))


def test_blocks_round_trip_their_padding():
    block = gn.applications.BasicBlock(64, 2, True, padding="torch")
    assert block.get_config()["padding"] == "torch"
    again = gn.applications.BasicBlock.from_config(block.get_config())
    assert again.padding == "torch"
    with pytest.raises(ValueError, match="'same'.*'torch'"):
        gn.applications.BasicBlock(64, padding="valid")


# ------------------------------------------------------------------ from an ONNX export
def _export(net, path, size=32):
    """torch's ONNX export in eval mode (the TorchScript exporter: it folds BatchNorms)."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # dynamo=False is the legacy path
        torch.onnx.export(net, (torch.randn(1, 3, size, size),), str(path), dynamo=False)
    return path


@pytest.fixture(scope="module")
def resnet18_onnx(tmp_path_factory):
    net = _torch_resnet(BasicBlock, (2, 2, 2, 2), seed=4, classes=10)
    return net, _export(net, tmp_path_factory.mktemp("onnx") / "resnet18.onnx")


def test_resnet18_from_onnx_matches_torch(resnet18_onnx):
    # The exporter folded every BatchNorm into its convolution: same numbers all the same.
    net, path = resnet18_onnx
    images = _images(seed=5, size=32)
    model = gn.applications.ResNet18(
        weights=path, input_shape=(32, 32, 3), classes=10, classifier_activation=None
    )
    _close(model.predict(images), _torch_out(net, images))
    backbone = gn.applications.ResNet18(weights=path, input_shape=(32, 32, 3), include_top=False)
    _close(backbone.predict(images), _torch_out(net, images, features=True))


def test_resnet50_from_onnx_matches_torch(tmp_path):
    net = _torch_resnet(Bottleneck, (3, 4, 6, 3), seed=6, classes=10)
    path = _export(net, tmp_path / "resnet50.onnx")
    images = _images(seed=7, n=1, size=32)
    model = gn.applications.ResNet50(
        weights=path, input_shape=(32, 32, 3), classes=10, classifier_activation=None
    )
    _close(model.predict(images), _torch_out(net, images))


def test_onnx_of_another_depth_or_network_is_refused(resnet18_onnx, tmp_path):
    with pytest.raises(ValueError, match="20 convolutions.*resnet34 has 36"):
        gn.applications.ResNet34(weights=resnet18_onnx[1], input_shape=(32, 32, 3))
    with pytest.raises(ValueError, match="10 classes.*classes=1000.*include_top=False"):
        gn.applications.ResNet18(weights=resnet18_onnx[1], input_shape=(32, 32, 3))
    plain = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Flatten(), nn.LazyLinear(2))
    plain(torch.zeros(1, 3, 32, 32))
    path = _export(plain.eval(), tmp_path / "plain.onnx")
    with pytest.raises(ValueError, match=r"plain\.onnx.*does not look like.*torchvision ResNet"):
        gn.applications.ResNet18(weights=path, input_shape=(32, 32, 3))
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"not a protobuf at all")
    with pytest.raises(ValueError, match=r"broken\.onnx.*not a valid ONNX model"):
        gn.applications.ResNet18(weights=broken, input_shape=(32, 32, 3))
    with pytest.raises(FileNotFoundError, match="nowhere.onnx"):
        gn.applications.ResNet18(weights=tmp_path / "nowhere.onnx")
