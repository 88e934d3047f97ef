"""small_cnn, the default network of ``glassnet train``: counts, shapes, errors, saving."""

from __future__ import annotations

import numpy as np
import pytest

import glassnet as gn
from glassnet.applications import small_cnn
from glassnet.layers import BatchNormalization, Rescaling


@pytest.mark.parametrize("size", [8, 32, 64, 100])
def test_any_image_size_gives_the_same_parameters(size, rng):
    model = small_cnn((size, size, 3), classes=2)
    # conv 3·3·3·16 + 3·3·16·32 + 3·3·32·64 (no biases), BN 4·(16+32+64), dense (64+1)·2
    assert model.count_params() == 432 + 4_608 + 18_432 + 4 * 112 + 130 == 24_050
    x = rng.uniform(0, 255, (2, size, size, 3)).astype(np.float32)
    y = model.predict(x)
    assert y.shape == (2, 2) and y.dtype == np.float32
    assert np.allclose(y.sum(axis=1), 1, atol=1e-5)


def test_images_of_any_size_with_none(rng):
    model = small_cnn((None, None, 3), classes=2)
    for shape in [(1, 16, 16, 3), (2, 20, 48, 3)]:
        x = rng.uniform(0, 255, shape).astype(np.float32)
        assert model.predict(x).shape == (shape[0], 2)


def test_layout_takes_raw_pixels():
    model = small_cnn((32, 32, 1), classes=5, filters=(8, 16))
    assert isinstance(model.layers[0], Rescaling) and model.layers[0].scale == 1 / 255
    norms = [layer for layer in model.layers if isinstance(layer, BatchNormalization)]
    assert [bn.momentum for bn in norms] == [0.8, 0.8]
    assert model.compute_output_shape((None, 32, 32, 1)) == (None, 5)
    assert model.layers[-1].name == "predictions"


def test_learns_bright_versus_dark_images(rng):
    gn.set_seed(0)
    x = rng.uniform(0, 100, (64, 16, 16, 3)).astype(np.float32)
    y = np.arange(64) % 2
    x[y == 1] += 150  # class 1 is bright
    model = small_cnn((16, 16, 3), classes=2)
    model.compile("adam", "sparse_categorical_crossentropy", ["accuracy"])
    model.fit(x, y, epochs=8, batch_size=16, verbose=0)
    _, accuracy = model.evaluate(x, y)
    assert accuracy == 1.0


def test_save_load_round_trip(tmp_path, rng):
    model = small_cnn((16, 16, 3), classes=3)
    x = rng.uniform(0, 255, (2, 16, 16, 3)).astype(np.float32)
    model.save(tmp_path / "m.glassnet")
    again = gn.load_model(tmp_path / "m.glassnet")
    assert np.allclose(again.predict(x), model.predict(x), atol=1e-6)


@pytest.mark.parametrize(
    ("kwargs", "phrase"),
    [
        ({"input_shape": (32, 32)}, "input_shape"),
        ({"classes": 0}, "'classes' must be a positive integer"),
        ({"filters": ()}, "'filters' must be a non-empty list"),
        ({"filters": (16, -1)}, "'filters' must be a non-empty list"),
        ({"input_shape": (4, 4, 3)}, "at least 8×8"),
    ],
)
def test_argument_errors(kwargs, phrase):
    with pytest.raises(ValueError, match=phrase):
        small_cnn(**kwargs)
