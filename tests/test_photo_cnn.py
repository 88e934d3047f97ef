"""photo_cnn, the default network of ``glassnet train``: counts, shapes, training, saving,
ONNX, errors. (Its PyTorch twin is checked in test_benchmark_scripts.py.)"""

from __future__ import annotations

import numpy as np
import pytest

import glassnet as gn
from glassnet import applications
from glassnet.applications import photo_cnn
from glassnet.layers import BatchNormalization, Conv2D, MaxPooling2D, Rescaling


def test_parameter_count_is_the_same_at_any_image_size(rng):
    # each block: two 3·3 convolutions (c→n, n→n, no bias) and two BN of 4·n; Dense (256 + 1)·2
    def block(c, n):
        return 9 * c * n + 9 * n * n + 2 * 4 * n

    expected = block(3, 32) + block(32, 64) + block(64, 128) + block(128, 256) + 514
    assert expected == 1_175_650
    for size in (16, 37, 96):
        model = photo_cnn((size, size, 3), classes=2)
        assert model.count_params() == expected
        x = rng.uniform(0, 255, (2, size, size, 3)).astype(np.float32)
        y = model.predict(x)
        assert y.shape == (2, 2) and y.dtype == np.float32
        assert np.allclose(y.sum(axis=1), 1, atol=1e-5)


def test_layout_takes_raw_pixels_in_four_double_convolution_blocks():
    model = photo_cnn((96, 96, 3), classes=5)
    assert isinstance(model.layers[0], Rescaling) and model.layers[0].scale == 1 / 255
    names = [layer.name for layer in model.layers]
    assert names[1:8] == [
        "block1_conv1", "block1_bn1", "block1_relu1",
        "block1_conv2", "block1_bn2", "block1_relu2", "block1_pool",
    ]  # fmt: skip
    convs = [layer for layer in model.layers if isinstance(layer, Conv2D)]
    assert [c.filters for c in convs] == [32, 32, 64, 64, 128, 128, 256, 256]
    assert {(c.kernel_size, c.padding, c.use_bias) for c in convs} == {((3, 3), "same", False)}
    norms = [layer for layer in model.layers if isinstance(layer, BatchNormalization)]
    assert {(bn.epsilon, bn.momentum) for bn in norms} == {(1e-5, 0.9)}  # PyTorch's
    pools = [layer for layer in model.layers if isinstance(layer, MaxPooling2D)]
    assert len(pools) == 4
    assert model.compute_output_shape((None, 96, 96, 3)) == (None, 5)
    assert model.layers[-1].name == "predictions" and model.layers[-2].name == "dropout"


def test_any_size_with_none_and_a_narrower_network(rng):
    model = photo_cnn((None, None, 1), classes=3, filters=(8, 16), dropout=0)
    assert "dropout" not in [layer.name for layer in model.layers]
    for shape in [(1, 16, 16, 1), (2, 20, 48, 1)]:
        x = rng.uniform(0, 255, shape).astype(np.float32)
        assert model.predict(x).shape == (shape[0], 3)


def test_learns_bright_versus_dark_images(rng):
    gn.set_seed(0)
    x = rng.uniform(0, 100, (64, 16, 16, 3)).astype(np.float32)
    y = np.arange(64) % 2
    x[y == 1] += 150  # class 1 is bright
    model = photo_cnn((16, 16, 3), classes=2, filters=(8, 16))
    model.compile("adam", "sparse_categorical_crossentropy", ["accuracy"])
    before = model.evaluate(x, y)[0]
    model.fit(x, y, epochs=6, batch_size=16, verbose=0)
    loss, accuracy = model.evaluate(x, y)
    assert loss < before and accuracy == 1.0


def test_save_load_round_trip_and_registry(tmp_path, rng):
    model = applications.get("Photo_CNN", input_shape=(24, 24, 3), classes=3)
    assert applications.canonical_name("photo-cnn") == "photo-cnn" and model.name == "photo_cnn"
    x = rng.uniform(0, 255, (2, 24, 24, 3)).astype(np.float32)
    model.save(tmp_path / "m.glassnet")
    again = gn.load_model(tmp_path / "m.glassnet")
    np.testing.assert_allclose(again.predict(x), model.predict(x), atol=1e-6)


def test_onnx_export_matches_onnxruntime():
    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    from tests.export.parity import check_onnx_parity

    check_onnx_parity(photo_cnn((40, 40, 3), classes=4, classifier_activation=None))


@pytest.mark.parametrize(
    ("kwargs", "phrase"),
    [
        ({"input_shape": (32, 32)}, "input_shape"),
        ({"classes": 0}, "'classes' must be a positive integer"),
        ({"filters": ()}, "'filters' must be a non-empty list"),
        ({"filters": (16, 0)}, "'filters' must be a non-empty list"),
        ({"input_shape": (8, 8, 3)}, "at least 16×16"),
    ],
)
def test_argument_errors(kwargs, phrase):
    with pytest.raises(ValueError, match=phrase):
        photo_cnn(**kwargs)
