"""Fine-tuning a pretrained network (glassnet.transfer, ``glassnet train PHOTOS --from``): a
small ResNet-like network made in torch with random weights, exported to ONNX, must give
torch's numbers in glassnet before and after fine-tuning (the frozen backbone is untouched),
and nothing is downloaded."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

import glassnet as gn
from glassnet import layers, transfer
from glassnet.applications import photo_recipe
from glassnet.cli import app
from glassnet.export.onnx_import import OnnxGraph

torch = pytest.importorskip("torch")
nn = torch.nn
from tests.test_pretrained_resnet import BasicBlock, _close  # noqa: E402  (needs torch)
from tests.test_pretrained_resnet import _torch_out as _torch  # noqa: E402

runner = CliRunner()
SIZE = 16  # the network's input: 16×16 RGB
CLASSES = ("cat", "dog", "owl")


class TinyResNet(nn.Module):
    """torchvision's ResNet in miniature: a strided stem, a padded max-pool, two residual
    blocks (the second downsamples), global average pooling and a Linear classifier."""

    def __init__(self, classes: int = 5) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, 2, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(8)
        self.relu = nn.ReLU()
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        down = nn.Sequential(nn.Conv2d(8, 16, 1, 2, bias=False), nn.BatchNorm2d(16))
        self.layer1 = nn.Sequential(BasicBlock(8, 8), BasicBlock(8, 16, 2, down))
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(16, classes)

    def features(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        return torch.flatten(self.avgpool(self.layer1(x)), 1)

    def forward(self, x):
        return self.fc(self.features(x))


def _random_eval(net):
    torch.manual_seed(0)
    with torch.no_grad():
        for module in net.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.weight.uniform_(0.5, 1.5)
                module.bias.uniform_(-0.2, 0.2)
                module.running_mean.uniform_(-0.2, 0.2)
                module.running_var.uniform_(0.5, 2.0)
    return net.eval()


def _export(net, path, size=SIZE):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # dynamo=False: the legacy exporter
        torch.onnx.export(
            net,
            (torch.randn(1, 3, size, size),),
            str(path),
            dynamo=False,
            input_names=["x"],
            output_names=["y"],
            dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}},
        )
    return path


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    torch.manual_seed(1)
    net = _random_eval(TinyResNet())
    return net, _export(net, tmp_path_factory.mktemp("net") / "tiny.onnx")


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    """Three classes of five 20×20 photos, each class brighter in its own channel."""
    root = tmp_path_factory.mktemp("photos") / "photos"
    rng = np.random.default_rng(0)
    for k, name in enumerate(CLASSES):
        (root / name).mkdir(parents=True)
        for i in range(5):
            pixels = rng.integers(0, 160, (20, 20, 3)).astype(np.uint8)
            pixels[..., k] = rng.integers(200, 256, (20, 20))
            Image.fromarray(pixels).save(root / name / f"{i}.png")
    return root


def _datasets(photos, size=SIZE):
    return gn.data.image_dataset_from_directory(
        photos,
        image_size=(size, size),
        batch_size=4,
        validation_split=0.2,
        subset="both",
        seed=0,
    )


def _images(n=3, seed=2):
    return np.random.default_rng(seed).standard_normal((n, SIZE, SIZE, 3)).astype(np.float32)


# ---------------------------------------------------------------------------- before
def test_imported_network_and_its_backbone_match_torch(tiny):
    net, path = tiny
    images = _images()
    network = gn.import_onnx(path)
    assert isinstance(network, OnnxGraph)
    _close(network.predict(images), _torch(net, images))
    backbone = transfer.cut_head(network)
    assert backbone.compute_output_shape((None, SIZE, SIZE, 3)) == (None, 16)
    assert not any(isinstance(p, layers.Dense) for p in backbone.parts)  # the fc is gone
    _close(backbone.predict(images), _torch(net, images, features=True))


# ---------------------------------------------------------------------------- the command
def test_train_from_onnx_end_to_end(tiny, photos, tmp_path):
    net, path = tiny
    out = tmp_path / "pets.glassnet"
    args = ["train", str(photos), "--from", str(path), "--epochs", "3", "--out", str(out)]
    result = runner.invoke(app, [*args, "--verbose", "2", "--lr", "0.01"])
    assert result.exit_code == 0, result.output
    text = result.output
    assert "Fine-tuning" in text and "preprocessing: imagenet" in text
    held_out = int(15 * photo_recipe.VALIDATION_SPLIT)  # the default split of 15 photos
    assert f"Features of the {15 - held_out} training images (computed once)" in text
    assert "held-out images" in text and "Confusion matrix" in text
    assert "Most confidently wrong" in text or "No mistakes" in text

    model = gn.load_model(out)
    assert model.class_names == list(CLASSES)
    head = model.layers[-1]
    assert isinstance(head, layers.Dense) and head.units == 3
    assert model.output_shape == (None, 3)
    # The frozen backbone is untouched: torch's features, to 1e-4, after training.
    images = _images(seed=3)
    _close(model.get_layer("backbone").predict(images), _torch(net, images, features=True))
    # The front is ImageNet's: /255, then mean and std, as torchvision's networks expect.
    pixels = np.random.default_rng(4).uniform(0, 255, (2, SIZE, SIZE, 3)).astype(np.float32)
    mean, std = np.array(transfer.IMAGENET_MEAN), np.array(transfer.IMAGENET_STD)
    normalised = ((pixels / 255 - mean) / std).astype(np.float32)
    features = _torch(net, normalised, features=True)
    logits = features @ head.kernel.numpy() + head.bias.numpy()
    expected = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    _close(model.predict(pixels), expected)

    # The saved model is an ordinary one: evaluate, predict, ONNX export.
    assert runner.invoke(app, ["evaluate", str(out), str(photos)]).exit_code == 0
    predicted = runner.invoke(app, ["predict", str(out), str(photos / "owl" / "0.png")])
    assert predicted.exit_code == 0, predicted.output
    ort = pytest.importorskip("onnxruntime")
    onnx_path = tmp_path / "pets.onnx"
    gn.export_onnx(model, str(onnx_path))
    session = ort.InferenceSession(str(onnx_path))
    got = session.run(None, {session.get_inputs()[0].name: pixels})[0]
    np.testing.assert_allclose(got, model.predict(pixels), atol=1e-5)


def test_serve_takes_the_fine_tuned_model(tiny, photos, tmp_path):
    pytest.importorskip("fastapi")
    pytest.importorskip("multipart")
    pytest.importorskip("httpx2")  # Starlette's TestClient (see pyproject's test extras)
    from fastapi.testclient import TestClient

    from glassnet.serve.app import create_app

    out = tmp_path / "pets.glassnet"
    transfer.fine_tune(tiny[1], *_datasets(photos), epochs=1, out=out, verbose=0)
    with TestClient(create_app(out)) as client:
        assert client.get("/health").status_code == 200
        assert client.get("/model").json()["class_names"] == list(CLASSES)


# ---------------------------------------------------------------------------- the phases
def _count_backbone_calls(monkeypatch):
    """Record (images in the batch, training flag) for each call of the backbone on images;
    the all-zero sample that shape inference traces is not counted."""
    calls = []
    original = OnnxGraph.call

    def counted(self, x, training=False):
        if self.name == "backbone" and np.any(x.numpy() != 0):
            calls.append((x.shape[0], training))
        return original(self, x, training=training)

    monkeypatch.setattr(OnnxGraph, "call", counted)
    return calls


def test_features_are_computed_once(tiny, photos, monkeypatch):
    train_ds, val_ds = _datasets(photos)
    calls = _count_backbone_calls(monkeypatch)
    for epochs in (1, 4):
        calls.clear()
        result = transfer.fine_tune(tiny[1], train_ds, val_ds, epochs=epochs, verbose=0)
        assert len(result.histories["head"].epoch) == epochs
        # One call per batch of training and validation images, whatever the epochs, and
        # never in training mode: the head's epochs run on the cached features.
        assert len(calls) == len(train_ds) + len(val_ds)
        assert sum(n for n, _ in calls) == train_ds.num_samples + val_ds.num_samples
        assert not any(training for _, training in calls)


def test_unfreeze_trains_only_the_last_blocks(tiny, photos):
    network = gn.import_onnx(tiny[1])
    before = {id(w): w.numpy().copy() for w in network.weights}
    result = transfer.fine_tune(
        network, *_datasets(photos), epochs=1, unfreeze=1, unfreeze_epochs=2, verbose=0
    )
    assert set(result.histories) == {"head", "unfrozen"}
    blocks = transfer.backbone_blocks(result.backbone)
    assert len(blocks) == 2  # the stem with the first residual block, then the second block
    assert result.unfrozen == blocks[-1]
    opened = {id(w) for layer in blocks[-1] for w in layer.weights}
    for layer in blocks[0]:
        for w in layer.weights:
            np.testing.assert_array_equal(w.numpy(), before[id(w)])
    changed = [not np.array_equal(w.numpy(), before[id(w)]) for w in network.weights]
    moved = [c for w, c in zip(network.weights, changed, strict=True) if id(w) in opened]
    assert moved and all(moved)
    assert not any(c for w, c in zip(network.weights, changed, strict=True) if id(w) not in opened)


def _glassnet_classifier(tmp_path):
    gn.set_seed(3)
    model = gn.Sequential(
        [
            layers.Input((SIZE, SIZE, 3)),
            layers.Rescaling(1 / 255),
            layers.Conv2D(6, 3, name="conv_a"),
            layers.BatchNormalization(name="bn_a"),
            layers.ReLU(),
            layers.Conv2D(8, 3, name="conv_b"),
            layers.GlobalAveragePooling2D(),
            layers.Dropout(0.2),
            layers.Dense(10, activation="softmax", name="old_head"),
        ]
    )
    path = tmp_path / "ten.glassnet"
    model.save(path)
    return model, path


def test_train_from_a_saved_glassnet_model(photos, tmp_path):
    original, path = _glassnet_classifier(tmp_path)
    features = gn.Model(original.input, original.get_layer("old_head").input)
    out = tmp_path / "pets.glassnet"
    args = ["train", str(photos), "--from", str(path), "--epochs", "2", "--unfreeze", "1"]
    # Three photos to validate on, not the default's one: a single photo's accuracy ties at
    # once, and the saved model (the best epoch) would then be the frozen one.
    args += ["--val-split", "0.2"]
    result = runner.invoke(app, [*args, "--unfreeze-epochs", "1", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "preprocessing: none" in result.output  # the model has its own Rescaling
    assert "Unfrozen with the head: conv_b." in result.output
    model = gn.load_model(out)
    assert model.class_names == list(CLASSES) and model.layers[-1].units == 3
    backbone = model.get_layer("backbone")
    pixels = np.random.default_rng(5).uniform(0, 255, (2, SIZE, SIZE, 3)).astype(np.float32)
    # conv_a and bn_a stayed frozen; conv_b trained: the features moved, but not the rest.
    np.testing.assert_array_equal(
        backbone.get_layer("conv_a").kernel.numpy(), original.get_layer("conv_a").kernel.numpy()
    )
    assert not np.allclose(backbone.predict(pixels), features.predict(pixels))


def test_a_frozen_glassnet_backbone_keeps_its_features(photos, tmp_path):
    original, path = _glassnet_classifier(tmp_path)
    features = gn.Model(original.input, original.get_layer("old_head").input)
    pixels = np.random.default_rng(6).uniform(0, 255, (2, SIZE, SIZE, 3)).astype(np.float32)
    expected = features.predict(pixels)
    result = transfer.fine_tune(path, *_datasets(photos), epochs=2, verbose=0)
    np.testing.assert_allclose(result.backbone.predict(pixels), expected, atol=1e-6)
    assert result.model.layers[-1].units == 3


def test_cut_head_of_a_functional_model():
    inputs = layers.Input((8,))
    hidden = layers.Dense(6, activation="relu", name="hidden")(inputs)
    outputs = layers.Softmax()(layers.Dense(4, name="logits")(hidden))
    model = gn.Model(inputs, outputs)
    backbone = transfer.cut_head(model)
    x = np.random.default_rng(7).standard_normal((3, 8)).astype(np.float32)
    np.testing.assert_allclose(backbone.predict(x), model.get_layer("hidden")(x).numpy())


# ---------------------------------------------------------------------------- errors
def test_no_head_is_a_clear_error(tmp_path):
    chain = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten())
    path = _export(chain.eval(), tmp_path / "chain.onnx")
    with pytest.raises(ValueError, match=r"classifier head.*no Dense layer.*last layers.*Flatten"):
        transfer.cut_head(gn.import_onnx(path))
    graph = nn.Sequential(BasicBlock(3, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten())
    path = _export(_random_eval(graph), tmp_path / "graph.onnx")
    with pytest.raises(ValueError, match=r"classifier head.*no Gemm/MatMul.*last layers"):
        transfer.cut_head(gn.import_onnx(path))
    model = gn.Sequential([layers.Input((4,)), layers.Dense(3), layers.Reshape((3, 1))])
    with pytest.raises(ValueError, match=r"layer 'reshape.*' follows its last Dense.*Model\("):
        transfer.cut_head(model)


def test_the_command_names_what_is_wrong(tiny, photos, tmp_path):
    pth = tmp_path / "resnet18.pth"
    pth.write_bytes(b"\x80\x04 a pickle")
    result = runner.invoke(app, ["train", str(photos), "--from", str(pth)])
    assert result.exit_code == 1
    assert "neither an ONNX file" in result.output and "pickle" in result.output
    result = runner.invoke(
        app, ["train", str(photos), "--from", str(tiny[1]), "--image-size", "32"]
    )
    assert result.exit_code == 1
    assert "takes 16×16 images" in result.output and "--image-size is 32" in result.output
    result = runner.invoke(app, ["train", str(photos), "--from", str(tiny[1]), "--resume"])
    assert result.exit_code == 1 and "--resume is for training from scratch" in result.output
    result = runner.invoke(app, ["train", str(photos), "--from", str(tmp_path / "gone.onnx")])
    assert result.exit_code == 1 and "gone.onnx" in result.output


def test_python_errors(tiny, photos):
    train_ds, val_ds = _datasets(photos, size=20)
    with pytest.raises(ValueError, match=r"takes 16×16 images.*gives 20×20.*image_size=\(16, 16\)"):
        transfer.fine_tune(tiny[1], train_ds, val_ds, verbose=0)
    train_ds, val_ds = _datasets(photos)
    with pytest.raises(ValueError, match="preprocessing must be one of"):
        transfer.fine_tune(tiny[1], train_ds, preprocessing="torch", verbose=0)
    with pytest.raises(ValueError, match=r"has 2 blocks; cannot unfreeze 5"):
        transfer.unfreeze_last(transfer.cut_head(gn.import_onnx(tiny[1])), 5)
    with pytest.warns(UserWarning, match="augment=True has no effect without unfreeze"):
        transfer.fine_tune(tiny[1], train_ds, epochs=1, augment=True, verbose=0)
    with pytest.raises(ValueError, match="ImageNet's normalisation is for RGB"):
        transfer.preprocessing_layers("imagenet", channels=1)
    with pytest.raises(FileNotFoundError, match="nowhere.onnx"):
        transfer.load_pretrained(Path("nowhere.onnx"))


def test_augment_without_unfreeze_stays_quiet(tiny, photos, tmp_path):
    """Augmentation is on by default in glassnet train; a frozen run computes its features
    once from the photos as they are, without a warning on every run."""
    out = tmp_path / "pets.glassnet"
    args = ["train", str(photos), "--from", str(tiny[1]), "--augment", "--epochs", "1"]
    result = runner.invoke(app, [*args, "--out", str(out), "--verbose", "0"])
    assert result.exit_code == 0, result.output
    assert "UserWarning" not in result.output and "acts only with" not in result.output
    # The photo recipe's augmentation layers are in the model, and leave predictions alone.
    model = gn.load_model(out)
    assert isinstance(model.layers[0], layers.RandomResizedCrop)


def test_unfreeze_a_glassnet_resnet_opens_its_last_block_but_not_its_batchnorms():
    network = gn.applications.ResNet18(input_shape=(32, 32, 3), classes=4)
    backbone = transfer.cut_head(network)
    blocks = transfer.backbone_blocks(backbone)
    assert [b[0].name for b in blocks[-2:]] == ["layer4_0", "layer4_1"]
    assert [b[0].name for b in blocks[:2]] == ["conv1", "layer1_0"]  # bn1 goes with conv1
    opened = transfer.unfreeze_last(backbone, 1)
    assert [layer.name for layer in opened] == ["layer4_1"]
    block = backbone.get_layer("layer4_1")
    trainable = {id(w) for w in backbone.trainable_weights}
    assert trainable == {id(block.conv1.kernel), id(block.conv2.kernel)}  # no gamma, no beta
    assert not block.bn1.trainable and block.conv1.trainable


def test_from_options_need_from(photos):
    result = runner.invoke(app, ["train", str(photos), "--unfreeze", "2"])
    assert result.exit_code == 1 and "--unfreeze applies to a pretrained network" in result.output
