"""MobileNetV2: Keras's parameter count, the same numbers as a torch twin, training, saving.

The torch network below is written from the paper and Keras's source (``keras.applications.
mobilenet_v2``) in plain ``torch.nn`` (torchvision is not a dependency), channels-first, with
module names that are Keras's layer names, so glassnet's weights copy across by name. It pads
every 3×3 convolution TensorFlow's "same" way, computed from the sizes; glassnet's network
writes the stride-2 depthwise convolutions as Keras does, a ``ZeroPadding2D`` then "valid", so
the two agree only if that padding is right (odd sizes test the other case).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import glassnet
from glassnet import applications
from glassnet.applications import MobileNetV2

#: (filters, stride, expansion) of the 17 blocks, from the paper's Table 2.
PAPER_BLOCKS = [(16, 1, 1)] + [
    (filters, stride if index == 0 else 1, 6)
    for filters, repeats, stride in [
        (24, 2, 2),
        (32, 3, 2),
        (64, 4, 2),
        (96, 3, 1),
        (160, 3, 2),
        (320, 1, 1),
    ]
    for index in range(repeats)
]


def divisible(value: float, divisor: int = 8) -> int:
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * value else rounded


def torch_mobilenet_v2(torch, alpha: float, classes: int):
    """Keras's MobileNetV2 in torch.nn, NCHW, modules named like Keras's layers."""
    nn, F = torch.nn, torch.nn.functional

    def same(x, kernel: int, stride: int):
        def pads(size: int) -> tuple[int, int]:
            total = max((math.ceil(size / stride) - 1) * stride + kernel - size, 0)
            return total // 2, total - total // 2

        (top, bottom), (left, right) = pads(x.shape[2]), pads(x.shape[3])
        return F.pad(x, (left, right, top, bottom))

    def bn(channels: int):
        return nn.BatchNorm2d(channels, eps=1e-3, momentum=0.001)

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            m = nn.ModuleDict()
            channels = divisible(32 * alpha)
            m["Conv1"] = nn.Conv2d(3, channels, 3, 2, bias=False)
            m["bn_Conv1"] = bn(channels)
            self.blocks = []
            for index, (filters, stride, expansion) in enumerate(PAPER_BLOCKS):
                out, hidden = divisible(int(filters * alpha)), channels * expansion
                prefix = f"block_{index}_" if index else "expanded_conv_"
                if index:
                    m[prefix + "expand"] = nn.Conv2d(channels, hidden, 1, bias=False)
                    m[prefix + "expand_BN"] = bn(hidden)
                m[prefix + "depthwise"] = nn.Conv2d(
                    hidden, hidden, 3, stride, groups=hidden, bias=False
                )
                m[prefix + "depthwise_BN"] = bn(hidden)
                m[prefix + "project"] = nn.Conv2d(hidden, out, 1, bias=False)
                m[prefix + "project_BN"] = bn(out)
                skip = stride == 1 and channels == out
                self.blocks.append((prefix, index > 0, stride, skip))
                channels = out
            last = divisible(1280 * alpha) if alpha > 1 else 1280
            m["Conv_1"] = nn.Conv2d(channels, last, 1, bias=False)
            m["Conv_1_bn"] = bn(last)
            m["predictions"] = nn.Linear(last, classes)
            self.m = m

        def forward(self, x):
            m = self.m
            x = F.relu6(m["bn_Conv1"](m["Conv1"](same(x, 3, 2))))
            for prefix, expand, stride, skip in self.blocks:
                y = x
                if expand:
                    y = F.relu6(m[prefix + "expand_BN"](m[prefix + "expand"](y)))
                y = m[prefix + "depthwise"](same(y, 3, stride))
                y = F.relu6(m[prefix + "depthwise_BN"](y))
                y = m[prefix + "project_BN"](m[prefix + "project"](y))
                x = x + y if skip else y
            x = F.relu6(m["Conv_1_bn"](m["Conv_1"](x)))
            return m["predictions"](x.mean(dim=(2, 3)))

    return Net()


def copy_to_torch(model, net, torch, rng):
    """Randomise BN's statistics and scales (so they matter), then copy every weight across."""
    rename = {
        "kernel": "weight",
        "bias": "bias",
        "gamma": "weight",
        "beta": "bias",
        "moving_mean": "running_mean",
        "moving_variance": "running_var",
    }
    state, pairs = {}, []
    for layer in model.layers:
        for key, w in layer.named_weights():
            if key in ("gamma", "moving_variance"):
                w.data[...] = rng.uniform(0.5, 1.5, w.shape)
            elif key in ("beta", "moving_mean"):
                w.data[...] = rng.normal(0.0, 0.1, w.shape)
            value = w.numpy()
            if value.ndim == 4:
                # (kh, kw, in, out) -> (out, in, kh, kw); depthwise (kh, kw, C, 1) -> (C, 1, kh, kw)
                depthwise = type(layer).__name__ == "DepthwiseConv2D"
                value = value.transpose((2, 3, 0, 1) if depthwise else (3, 2, 0, 1))
            elif value.ndim == 2:
                value = value.T
            target = f"m.{layer.name}.{rename[key]}"
            state[target] = torch.from_numpy(np.ascontiguousarray(value))
            pairs.append((w, target, layer))
    missing, unexpected = net.load_state_dict(state, strict=False)
    assert not unexpected and all(k.endswith("num_batches_tracked") for k in missing)
    return pairs


def nchw(torch, x):
    return torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))


# ---------------------------------------------------------------------------- architecture
def test_parameter_count_is_keras_published_one():
    model = MobileNetV2()
    assert model.input_shape == (None, 224, 224, 3) and model.output_shape == (None, 1000)
    assert model.count_params() == 3_538_984  # Keras's "Total params"
    assert sum(int(w.size) for w in model.trainable_weights) == 3_504_872
    assert model.name == "mobilenetv2_1_00_224"
    names = [layer.name for layer in model.layers]
    for name in ("Conv1", "bn_Conv1", "expanded_conv_depthwise", "block_1_expand", "block_1_pad"):
        assert name in names
    assert names[-3:] == ["out_relu", "global_average_pooling2d", "predictions"]
    assert sum(name.endswith("_add") for name in names) == 10  # the skip connections
    lines: list[str] = []
    model.summary(print_fn=lines.append)
    assert "Total params: 3,538,984" in "\n".join(lines)


def test_width_multiplier_and_headless_shapes():
    # The headless network of TensorFlow's transfer-learning tutorial: its printed total.
    assert MobileNetV2(input_shape=(160, 160, 3), include_top=False).count_params() == 2_257_984
    small = MobileNetV2(input_shape=(96, 96, 3), alpha=0.35, include_top=False)
    assert small.output_shape == (None, 3, 3, 1280) and small.get_layer("Conv1").filters == 16
    wide = MobileNetV2(alpha=1.4, include_top=False, pooling="avg")
    assert wide.output_shape == (None, 1792)
    assert wide.input_shape == (None, None, None, 3)  # no top: any image size
    assert MobileNetV2(include_top=False, pooling="max").output_shape == (None, 1280)
    # Padding before the stride-2 depthwise convolutions, Keras's correct_pad: one pixel less
    # on top (left) for an even height (width). Conv1 makes 33×35 into 17×18.
    odd = MobileNetV2(input_shape=(33, 35, 3), include_top=False)
    assert odd.get_layer("block_1_pad").padding == ((1, 1), (0, 1))
    even = MobileNetV2(input_shape=(32, 32, 3), include_top=False)
    assert even.get_layer("block_1_pad").padding == ((0, 1), (0, 1))
    assert even.output_shape == (None, 1, 1, 1280)


def test_registry_and_summary_names():
    assert applications.canonical_name("MobileNet-V2") == "mobilenetv2"
    model = applications.get("mobilenet_v2", input_shape=(32, 32, 3), classes=4)
    assert model.output_shape == (None, 4)
    assert "mobilenetv2" in applications.names()


@pytest.mark.parametrize(
    ("call", "error", "phrase"),
    [
        (lambda: MobileNetV2(weights="imagenet"), ValueError, "load_weights"),
        (lambda: MobileNetV2(alpha=0), ValueError, "alpha"),
        (lambda: MobileNetV2(alpha="wide"), TypeError, "alpha"),
        (lambda: MobileNetV2(input_shape=(16, 16, 3)), ValueError, "at least 32×32"),
        (lambda: MobileNetV2(input_shape=(32, 32)), ValueError, "input_shape"),
        (lambda: MobileNetV2(classes=0), ValueError, "classes"),
        (lambda: MobileNetV2(include_top=False, pooling="mean"), ValueError, "pooling"),
    ],
)
def test_argument_errors(call, error, phrase):
    with pytest.raises(error, match=phrase) as info:
        call()
    assert "MobileNetV2" in str(info.value)


# ---------------------------------------------------------------------------- parity with torch
@pytest.mark.parametrize(("alpha", "shape"), [(0.35, (64, 64, 3)), (0.5, (67, 65, 3))])
def test_matches_torch_network(alpha, shape, rng):
    """The same weights in the torch twin give the same outputs, in inference and in training
    (batch statistics), and the same gradient for every weight.

    The gradients are taken in inference mode: in training mode BatchNormalization, applied 52
    times over a few pixels per channel, amplifies float32 rounding in the first layers'
    gradients until torch in float32 strays from torch in float64 by parts in a hundred (BN's
    own training gradient is checked in the layer's tests)."""
    torch = pytest.importorskip("torch")
    glassnet.set_seed(0)  # the same weights whichever tests ran before
    model = MobileNetV2(input_shape=shape, alpha=alpha, classes=7, classifier_activation=None)
    net = torch_mobilenet_v2(torch, alpha, 7)
    pairs = copy_to_torch(model, net, torch, rng)
    x = rng.random((4, *shape), dtype=np.float32)

    # Training: batch statistics.
    net.train()
    with torch.no_grad():
        theirs = net(nchw(torch, x)).numpy()
    ours = model(glassnet.Tensor(x), training=True).numpy()
    np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-4)

    # Inference: the moving statistics, and the gradient of every trainable weight.
    copy_to_torch(model, net, torch, rng)  # again: torch's training pass moved its statistics
    net.eval()
    coefficients = rng.normal(size=(4, 7)).astype(np.float32)
    out_torch = net(nchw(torch, x))
    (out_torch * torch.from_numpy(coefficients)).sum().backward()
    out = model(glassnet.Tensor(x), training=False)
    np.testing.assert_allclose(out.numpy(), out_torch.detach().numpy(), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(model.predict(x), out.numpy(), rtol=1e-5, atol=1e-5)
    (out * glassnet.Tensor(coefficients)).sum().backward()
    grads = {name: p.grad for name, p in net.named_parameters()}
    scale = max(float(g.abs().max()) for g in grads.values() if g is not None)
    checked = 0
    for w, target, layer in pairs:
        if not w.requires_grad:
            continue  # moving statistics
        grad = grads[target].numpy()
        ours = w.grad
        if ours.ndim == 4:
            depthwise = type(layer).__name__ == "DepthwiseConv2D"
            ours = ours.transpose((2, 3, 0, 1) if depthwise else (3, 2, 0, 1))
        elif ours.ndim == 2:
            ours = ours.T
        np.testing.assert_allclose(ours, grad, rtol=1e-3, atol=1e-5 * scale, err_msg=target)
        checked += 1
    assert checked == len(model.trainable_weights)


# ---------------------------------------------------------------------------- training
def _train(jit: bool):
    glassnet.set_seed(0)
    model = MobileNetV2(input_shape=(32, 32, 3), alpha=0.35, classes=3)
    model.compile(glassnet.optimizers.Adam(0.001), "sparse_categorical_crossentropy")
    model.jit_compile = jit
    rng = np.random.default_rng(1)
    x = rng.random((16, 32, 32, 3), dtype=np.float32)
    y = rng.integers(0, 3, 16)
    x[y == 1, :16] += 1.0  # something to learn: a bright top half, a bright left half
    x[y == 2, :, :16] += 1.0
    history = model.fit(x, y, batch_size=16, epochs=10, verbose=0)
    return model, history.history["loss"]


def test_tiny_mobilenet_trains_and_replay_matches_graph():
    model, losses = _train(jit=True)
    assert losses[-1] < 0.25 * losses[0], losses
    graph, graph_losses = _train(jit=False)
    np.testing.assert_array_equal(losses, graph_losses)
    for a, b in zip(model.get_weights(), graph.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


# ---------------------------------------------------------------------------- saving
def test_save_load_round_trip(tmp_path, rng):
    model = MobileNetV2(input_shape=(32, 32, 3), alpha=0.35, classes=3)
    model.compile("sgd", "sparse_categorical_crossentropy")
    x = rng.random((4, 32, 32, 3), dtype=np.float32)
    model.train_on_batch(x, np.array([0, 1, 2, 0]))  # moving statistics move
    model.save(tmp_path / "model")
    loaded = glassnet.load_model(tmp_path / "model")
    assert loaded.name == model.name and len(loaded.layers) == len(model.layers)
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    # Weights of one's own: save_weights / load_weights into a fresh network.
    model.save_weights(tmp_path / "mine.safetensors")
    fresh = MobileNetV2(input_shape=(32, 32, 3), alpha=0.35, classes=3)
    fresh.load_weights(tmp_path / "mine.safetensors")
    np.testing.assert_array_equal(fresh.predict(x), model.predict(x))


# ---------------------------------------------------------------------------- the command line
def test_command_line_summary_and_classifier():
    from typer.testing import CliRunner

    from glassnet.cli import app, build_classifier

    result = CliRunner().invoke(app, ["summary", "mobilenetv2"])
    assert result.exit_code == 0, result.output
    assert "Total params: 3,538,984" in result.output and "block_16_project" in result.output
    # glassnet train's network: Rescaling in front of the whole functional model, which sees
    # the recipe's crop of six sevenths of the side (33 of 38: at least MobileNetV2's 32).
    model = build_classifier("mobilenet-v2", (38, 38, 3), 2, augment=True)
    kinds = [type(layer).__name__ for layer in model.layers]
    assert kinds[-2:] == ["Rescaling", "Functional"]
    x = np.full((2, 38, 38, 3), 255.0, np.float32)
    assert model.predict(x).shape == (2, 2)


def test_glassnet_train_with_mobilenet_v2_saves_a_loadable_model(tmp_path):
    from typer.testing import CliRunner

    from glassnet.cli import app
    from tests.test_cli import draw_shapes

    root = draw_shapes(tmp_path / "shapes", per_class=12)
    out = tmp_path / "shapes.glassnet"
    result = CliRunner().invoke(
        app,
        [
            *("train", str(root), "--model", "mobilenet-v2", "--image-size", "38"),
            *("--epochs", "1", "--batch-size", "8", "--out", str(out), "--verbose", "0"),
        ],
    )
    assert result.exit_code == 0, result.output
    model = glassnet.load_model(out)
    assert model.layers[-1].get_layer("block_16_project").filters == 320
    assert model.predict(np.zeros((1, 38, 38, 3), np.float32)).shape == (1, 2)


# ---------------------------------------------------------------------------- ONNX
def test_onnx_export_matches_onnxruntime(tmp_path, rng):
    ort = pytest.importorskip("onnxruntime")
    model = MobileNetV2(input_shape=(32, 32, 3), alpha=0.35, classes=5)
    for layer in model.layers:  # statistics that matter
        for key, w in layer.named_weights():
            if key in ("gamma", "moving_variance"):
                w.data[...] = rng.uniform(0.5, 1.5, w.shape)
            elif key in ("beta", "moving_mean"):
                w.data[...] = rng.normal(0.0, 0.1, w.shape)
    glassnet.export_onnx(model, tmp_path / "mobilenet.onnx")
    session = ort.InferenceSession(str(tmp_path / "mobilenet.onnx"))
    x = rng.random((2, 32, 32, 3), dtype=np.float32)
    (theirs,) = session.run(None, {session.get_inputs()[0].name: x})
    np.testing.assert_allclose(theirs, model.predict(x), rtol=1e-4, atol=1e-5)
    # And back: every ReLU6 is one Clip, which imports as a capped ReLU.
    onnx = pytest.importorskip("onnx")
    kinds = [node.op_type for node in onnx.load(tmp_path / "mobilenet.onnx").graph.node]
    assert kinds.count("Clip") == 35 and "Min" not in kinds
    back = glassnet.import_onnx(tmp_path / "mobilenet.onnx")
    caps = [la for la in back.layers if type(la).__name__ in ("ReLU", "Activation")]
    assert len(caps) == 35  # after Conv1, each expand (16) and depthwise (17), and Conv_1
    np.testing.assert_allclose(back.predict(x), model.predict(x), rtol=1e-4, atol=1e-5)
