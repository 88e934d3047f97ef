"""The introductory texts' own numbers (shared/texts/), reproduced with glassnet's layers.

Each test names the text and quotes the number it checks. Where it is cheap, a real forward pass
(batch of one) confirms the shape that ``compute_output_shape`` predicts.
"""

from __future__ import annotations

import numpy as np
import pytest

from glassnet import Tensor, activations, layers, ops


def test_one_neuron_forward_propagation():
    """004: input 0.5, weight 0.1, bias 0.2 -> 0.5·0.1 + 0.2 = 0.25, and ReLU keeps 0.25."""
    neuron = layers.Dense(1, activation="relu")
    neuron.build((None, 1))
    neuron.set_weights([np.array([[0.1]]), np.array([0.2])])
    out = neuron(np.array([[0.5]]))
    assert out.shape == (1, 1)
    assert float(out.item()) == pytest.approx(0.25, rel=1e-7)
    linear = layers.Dense(1)
    linear.build((None, 1))
    linear.set_weights(neuron.get_weights())
    weighted_sum = linear(np.array([[0.5]]))
    assert float(weighted_sum.item()) == pytest.approx(0.25, rel=1e-7)
    assert float(layers.ReLU()(weighted_sum).item()) == pytest.approx(0.25, rel=1e-7)


def test_sigmoid_probabilities_of_person_a_and_b():
    """003: Sigmoid(-3) = 4.74 % and Sigmoid(2.9925) = 95.22 %."""
    z = np.array([-3.0, 2.9925], np.float32)
    output_neuron = layers.Dense(1, activation="sigmoid")  # weight 1, bias 0: sigmoid(z)
    output_neuron.build((None, 1))
    output_neuron.set_weights([np.ones((1, 1)), np.zeros(1)])
    probabilities = [
        ops.sigmoid(Tensor(z)).numpy(),
        activations.get("sigmoid")(Tensor(z)).numpy(),
        layers.Activation("sigmoid")(z[None]).numpy()[0],
        output_neuron(z[:, None]).numpy()[:, 0],
    ]
    for p in probabilities:
        assert round(100 * float(p[0]), 2) == 4.74
        assert round(100 * float(p[1]), 2) == 95.22


def test_conv_layer_of_64_3x3_filters():
    """003: 64 filters of 3×3 on 256×256×3 with stride 1: (3·3·3 + 1)·64 = 1,792 parameters and
    an output of 254×254×64; with "same" padding 256×256×64; 2×2 max pooling with stride 2
    then gives 128×128×64."""
    image = np.zeros((1, 256, 256, 3), np.float32)
    conv = layers.Conv2D(64, (3, 3), strides=1)
    assert conv.compute_output_shape((None, 256, 256, 3)) == (None, 254, 254, 64)
    assert conv(image).shape == (1, 254, 254, 64)
    assert conv.count_params() == 1792 == (3 * 3 * 3 + 1) * 64

    same = layers.Conv2D(64, (3, 3), strides=1, padding="same")
    feature_maps = same(image)
    assert feature_maps.shape == (1, 256, 256, 64) and same.count_params() == 1792
    pool = layers.MaxPooling2D(pool_size=(2, 2), strides=2)
    assert pool.compute_output_shape((None, 256, 256, 64)) == (None, 128, 128, 64)
    assert pool(feature_maps).shape == (1, 128, 128, 64)


def test_one_neuron_per_quadrant_shares_its_parameters():
    """003: one 128×128 filter with stride 128 over 256×256×3: 128·128·3 + 1 = 49,153
    parameters and a 2×2×1 output; a second (dog) filter doubles it to 98,306 parameters and
    8 outputs."""
    image = np.ones((1, 256, 256, 3), np.float32)
    cat = layers.Conv2D(1, 128, strides=128)
    assert cat(image).shape == (1, 2, 2, 1)
    assert cat.count_params() == 49_153 == 128 * 128 * 3 + 1
    cat_and_dog = layers.Conv2D(2, 128, strides=128)
    out = cat_and_dog(image)
    assert out.shape == (1, 2, 2, 2) and out.numpy().size == 8
    assert cat_and_dog.count_params() == 98_306


def test_flatten_7x7x5_gives_245_features():
    """003: "If the output of the previous layer was 7 * 7 * 5 ... 7*7*5 = 245 features"."""
    flatten = layers.Flatten()
    assert flatten.compute_output_shape((None, 7, 7, 5)) == (None, 245)
    assert flatten(np.zeros((1, 7, 7, 5))).shape == (1, 245)


def test_one_fully_connected_neuron_on_a_whole_image():
    """003: one neuron on all 256·256·3 features needs 256·256·3 + 1 = 196,609 parameters."""
    image = np.zeros((1, 256, 256, 3), np.float32)
    neuron = layers.Dense(1)
    out = neuron(layers.Flatten()(image))
    assert out.shape == (1, 1)
    assert neuron.count_params() == 196_609


def test_a_line_has_two_parameters():
    """001: the line y = mx + c has 2 parameters, m and c: a Dense(1) on one input."""
    line = layers.Dense(1)
    line.build((None, 1))
    assert line.count_params() == 2
    line.set_weights([np.array([[2.0]]), np.array([1.0])])  # m = 2, c = 1
    np.testing.assert_allclose(line(np.array([[0.0], [3.0]])).numpy(), [[1.0], [7.0]])


def test_a_40x40_rgb_image_is_4800_numbers():
    """000: a 40×40 image has 1600 pixels of 3 numbers each: 1600·3 = 4,800 inputs (the text
    writes 5400, an arithmetic slip)."""
    inp = layers.Input((40, 40, 3))
    assert layers.Flatten().compute_output_shape(inp.shape) == (None, 4800)
    assert layers.Flatten()(np.zeros((1, 40, 40, 3), np.uint8)).shape == (1, 4800)
