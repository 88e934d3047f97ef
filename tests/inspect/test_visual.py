"""filters, activations and saliency: the numbers behind the pictures, and the pictures."""

from __future__ import annotations

import numpy as np
import pytest

import glassnet as gn
from glassnet import inspect, layers
from glassnet.inspect.visual import HEADER, grid_shape

from .helpers import png_size_and_spread, small_cnn


@pytest.mark.parametrize("channels", [1, 3])
def test_filters_grid_has_one_tile_per_filter(tmp_path, channels):
    model = small_cnn(channels)
    path = inspect.filters(model, path=tmp_path / "f.png", cell=50)
    rows, cols = grid_shape(4)
    size, spread = png_size_and_spread(path)
    assert size == (cols * 50, rows * 50 + HEADER)
    assert spread > 5  # not blank


def test_filters_needs_a_conv_layer(tmp_path):
    mlp = gn.Sequential([layers.Input((4,)), layers.Dense(2)])
    with pytest.raises(ValueError, match="no built Conv2D"):
        inspect.filters(mlp, path=tmp_path / "f.png")


def test_activations_draw_maps_bars_and_sequences(tmp_path, rng):
    model = small_cnn()
    images = inspect.activations(model, rng.uniform(0, 255, (8, 8, 1)), tmp_path, cell=40)
    assert [(i.layer, i.kind) for i in images] == [
        ("conv", "feature maps"),
        ("hidden", "bars"),
        ("output", "bars"),
    ]
    rows, cols = grid_shape(4)
    expected = [(cols * 40, rows * 40 + HEADER), (640, 300), (640, 300)]
    for image, size in zip(images, expected, strict=True):
        got, spread = png_size_and_spread(image.path)
        assert got == size
        assert spread > 5


def test_sequence_outputs_become_a_time_by_unit_heatmap(tmp_path, rng):
    gn.set_seed(0)
    model = gn.Sequential([layers.Input((5, 4)), layers.Dense(6, name="per_step")])
    (image,) = inspect.activations(model, rng.standard_normal((5, 4)), tmp_path)
    assert (image.kind, image.shape) == ("heatmap", (1, 5, 6))
    size, spread = png_size_and_spread(image.path)
    assert size == (640, 320) and spread > 5


class LeftHalf(gn.Model):
    """A classifier that only ever looks at the left half of the image."""

    def __init__(self):
        super().__init__()
        self.flatten = layers.Flatten()
        self.dense = layers.Dense(3, activation="softmax")

    def call(self, x, training=False):
        return self.dense(self.flatten(x[:, :, :4, :]))


def test_saliency_of_pixels_the_model_never_sees_is_zero(tmp_path, rng):
    gn.set_seed(0)
    model = LeftHalf()
    model.build((None, 8, 8, 3))
    image = rng.uniform(0, 255, (8, 8, 3))
    result = inspect.saliency(model, image, class_index=1, path=tmp_path / "s.png")
    assert result.gradient.shape == (8, 8, 3) and result.map.shape == (8, 8)
    assert np.all(result.gradient[:, 4:] == 0)  # the right half: exactly zero
    assert np.all(result.map[:, :4] > 0)  # the left half: every pixel counts
    # The score is the class's logit: its gradient is the class's weights, pixel by pixel.
    kernel = model.dense.kernel.data
    np.testing.assert_allclose(result.gradient[:, :4].reshape(-1), kernel[:, 1], rtol=1e-5)
    assert all(w.grad is None for w in model.weights)  # explaining does not train
    size, spread = png_size_and_spread(tmp_path / "s.png")
    assert size == (768, 256 + HEADER) and spread > 5


def test_saliency_defaults_to_the_predicted_class(rng):
    model = small_cnn()
    image = rng.uniform(0, 255, (8, 8, 1))
    result = inspect.saliency(model, image)
    assert result.class_index == int(model.predict(image[None]).argmax())
    with pytest.raises(ValueError, match="class_index must be in 0..2"):
        inspect.saliency(model, image, class_index=3)
