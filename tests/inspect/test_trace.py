"""trace: one neuron's arithmetic, with the model's own numbers."""

from __future__ import annotations

import numpy as np
import pytest

import glassnet as gn
from glassnet import inspect, layers
from glassnet.inspect.trace import _num

from .helpers import small_cnn


def test_the_texts_neuron():
    """0.5 × 0.1 + 0.2 = 0.25 → ReLU → 0.25, as the introduction writes it."""
    model = gn.Sequential([layers.Input((1,)), layers.Dense(1, activation="relu", name="n")])
    model.get_layer("n").set_weights([np.array([[0.1]]), np.array([0.2])])
    neuron = inspect.trace(model, [0.5], layer="n", unit=0)
    assert "0.5 × 0.1 + 0.2 = 0.25 → ReLU → 0.25" in str(neuron)
    assert neuron.weighted_sum == pytest.approx(0.25)
    assert neuron.output == pytest.approx(0.25)
    assert neuron.contributions.tolist() == pytest.approx([0.05])


def driving_test_model() -> gn.Sequential:
    """The driving-test example's network: 3 inputs → 2 ReLU neurons → 1 sigmoid neuron."""
    gn.set_seed(3)
    return gn.Sequential(
        [
            layers.Input((3,)),
            layers.Dense(2, activation="relu", name="hidden"),
            layers.Dense(1, activation="sigmoid", name="output"),
        ]
    )


def test_the_whole_driving_test_mlp_layer_by_layer_equals_predict():
    model = driving_test_model()
    model.get_layer("hidden").set_weights(
        [np.array([[0.5, -0.2], [0.3, 0.1], [0.8, 0.4]]), np.array([0.1, -0.1])]
    )
    person = np.array([0.2, 1.0, 0.7], dtype=np.float32)  # scaled age, sex, lessons
    whole = inspect.trace(model, person)
    hidden, output = whole.layers
    assert [n.unit for n in hidden.neurons] == [(0,), (1,)]  # small layers: every unit
    kernel, bias = (w.astype(np.float64) for w in model.get_layer("hidden").get_weights())
    expected_hidden = np.maximum(person @ kernel + bias, 0)
    for j, neuron in enumerate(hidden.neurons):
        assert neuron.inputs.tolist() == pytest.approx(person.tolist())
        assert neuron.weighted_sum == pytest.approx(person @ kernel[:, j] + bias[j], abs=1e-6)
        assert neuron.output == pytest.approx(expected_hidden[j], abs=1e-6)
        assert f"= {_num(neuron.weighted_sum)} → ReLU → {_num(neuron.output)}" in str(whole)
    (last,) = output.neurons
    predicted = model.predict(person[None])[0, 0]
    assert last.output == pytest.approx(float(predicted), abs=1e-7)
    assert last.inputs.tolist() == pytest.approx(expected_hidden.tolist(), abs=1e-6)
    assert 1 / (1 + np.exp(-last.weighted_sum)) == pytest.approx(last.output, abs=1e-6)
    assert f"→ sigmoid → {_num(predicted)}" in str(whole)
    np.testing.assert_allclose(whole.output, model.predict(person[None]))


def test_a_conv_unit_shows_its_window_and_matches_an_independent_loop(rng):
    gn.set_seed(0)
    model = gn.Sequential(
        [layers.Input((7, 6, 2)), layers.Conv2D(3, 3, strides=2, padding="same", name="c")]
    )
    x = rng.standard_normal((7, 6, 2)).astype(np.float32)
    kernel, bias = (w.astype(np.float64) for w in model.get_layer("c").get_weights())
    padded = np.pad(x, ((1, 1), (0, 1), (0, 0)))  # TensorFlow "same": 2 rows, 1 column (right)
    for row, col, f in [(0, 0, 1), (1, 2, 2), (3, 2, 0)]:
        neuron = inspect.trace(model, x, layer="c", unit=(row, col, f))
        patch = padded[2 * row : 2 * row + 3, 2 * col : 2 * col + 3]
        np.testing.assert_allclose(neuron.inputs, patch, atol=1e-7)
        assert neuron.weighted_sum == pytest.approx(
            (patch * kernel[..., f]).sum() + bias[f], abs=1e-5
        )
        assert neuron.output == pytest.approx(model.predict(x[None])[0, row, col, f], abs=1e-5)
        assert neuron.window == ((2 * row - 1, 2 * row + 1), (2 * col, 2 * col + 2))
    corner = inspect.trace(model, x, layer="c", unit=(0, 0, 1))
    assert "window: input rows -1..1, columns 0..2" in str(corner)
    assert "pixels (channel 1)" in str(corner)  # the receptive field, channel by channel


def test_a_filter_index_is_traced_where_it_responded_most(rng):
    model = small_cnn()
    x = rng.uniform(0, 1, (8, 8, 1))
    neuron = inspect.trace(model, x, layer="conv", unit=2)
    maps = inspect.trace(model, x, layer="conv").output[0, ..., 2]
    assert neuron.output == pytest.approx(maps.max())
    assert neuron.unit[2] == 2


def test_long_sums_show_the_largest_terms_and_count_the_rest(rng):
    gn.set_seed(0)
    model = gn.Sequential([layers.Input((50,)), layers.Dense(3, name="d")])
    x = rng.standard_normal(50).astype(np.float32)
    neuron = inspect.trace(model, x, layer="d", unit=1, max_terms=6)
    text = str(neuron)
    assert "[45 smaller terms:" in text
    c = neuron.contributions
    biggest = np.argsort(-np.abs(c))[:5]
    for i in biggest:
        assert f"{_num(x[i])} × " in text.replace("(", "").replace(")", "")
    hidden = np.delete(c, biggest).sum()
    assert f"[45 smaller terms: {_num(hidden)}]" in text
    assert c.sum() + neuron.bias == pytest.approx(neuron.weighted_sum)
    assert neuron.output == pytest.approx(model.predict(x[None])[0, 1], abs=1e-5)


def test_it_sees_inside_a_subclassed_model(rng):
    class TwoStep(gn.Model):
        def __init__(self):
            super().__init__()
            self.first = layers.Dense(4, activation="tanh", name="first")
            self.second = layers.Dense(2, name="second")

        def call(self, x, training=False):
            return self.second(self.first(x))

    model = TwoStep()
    model.build((None, 3))
    x = rng.standard_normal(3)
    neuron = inspect.trace(model, x[None], layer="second", unit=1)
    assert neuron.output == pytest.approx(model.predict(x[None])[0, 1], abs=1e-6)
    assert "tanh" in str(inspect.trace(model, x[None], layer="first", unit=0))


def test_mistakes_are_explained():
    model = small_cnn()
    x = np.zeros((8, 8, 1))
    with pytest.raises(ValueError, match="units 0..2"):
        inspect.trace(model, x, layer="output", unit=3)
    with pytest.raises(ValueError, match="no neurons with weights"):
        inspect.trace(model, x, layer="pool", unit=0)
    with pytest.raises(ValueError, match="no layer 'nope'"):
        inspect.trace(model, x, layer="nope")
    with pytest.raises(ValueError, match="one input"):
        inspect.trace(model, np.zeros((2, 8, 8, 1)))
