"""photo_cnn, the default network of ``glassnet train``: counts, shapes, training, saving,
ONNX, errors. (Its PyTorch twin is checked in test_benchmark_scripts.py.)"""

from __future__ import annotations

import numpy as np
import pytest

import glassnet as gn
from glassnet import applications
from glassnet.applications import BasicBlock, photo_cnn
from glassnet.layers import BatchNormalization, Rescaling


def test_parameter_count_is_the_same_at_any_image_size(rng):
    # stem 3·3·3·32 + BN 4·32; stage1 2·(3·3·32·32) + 2·BN 4·32; stage k>1: 3·3·c·2c + 3·3·2c·2c
    # + shortcut c·2c + 3 BN 4·2c; Dense (256 + 1)·2
    def stage(c, n):
        return 9 * c * n + 9 * n * n + c * n + 3 * 4 * n

    expected = 864 + 128 + 2 * 9216 + 2 * 128 + stage(32, 64) + stage(64, 128)
    expected += stage(128, 256) + 514
    assert expected == 1_229_794
    for size in (8, 37, 96):
        model = photo_cnn((size, size, 3), classes=2)
        assert model.count_params() == expected
        x = rng.uniform(0, 255, (2, size, size, 3)).astype(np.float32)
        y = model.predict(x)
        assert y.shape == (2, 2) and y.dtype == np.float32
        assert np.allclose(y.sum(axis=1), 1, atol=1e-5)


def test_layout_takes_raw_pixels_and_pads_like_torch():
    model = photo_cnn((96, 96, 3), classes=5)
    assert isinstance(model.layers[0], Rescaling) and model.layers[0].scale == 1 / 255
    names = [layer.name for layer in model.layers]
    assert names[1:5] == ["stem_conv", "stem_bn", "stem_relu", "stem_pool"]
    blocks = [layer for layer in model.layers if isinstance(layer, BasicBlock)]
    assert [(b.filters, b.strides, b.padding) for b in blocks] == [
        (32, 1, "torch"),
        (64, 2, "torch"),
        (128, 2, "torch"),
        (256, 2, "torch"),
    ]
    assert [bool(b.downsample) for b in blocks] == [False, True, True, True]
    norms = [
        layer
        for top in model.layers
        for _, layer in top.named_layers()
        if isinstance(layer, BatchNormalization)
    ]
    assert {(bn.epsilon, bn.momentum) for bn in norms} == {(1e-5, 0.9)}  # PyTorch's
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
        ({"input_shape": (1, 1, 3)}, "at least 2×2"),
    ],
)
def test_argument_errors(kwargs, phrase):
    with pytest.raises(ValueError, match=phrase):
        photo_cnn(**kwargs)
