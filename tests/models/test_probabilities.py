"""probabilities(outputs, model): read from the model's structure, not guessed from the values."""

from __future__ import annotations

import numpy as np
import pytest

import glassnet as gn
from glassnet import layers
from glassnet.models import Model, output_activation, probabilities


def softmax(rows):
    e = np.exp(rows - rows.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def head(*last):
    return gn.Sequential([layers.Input((4,)), *last])


def graph(*heads):
    """A functional model: a hidden Dense, then one output per head (a list of layers)."""
    inputs = gn.Input((4,))
    hidden = layers.Dense(5)(inputs)
    outputs = []
    for steps in heads:
        x = hidden
        for step in steps:
            x = step(x)
        outputs.append(x)
    return gn.Model(inputs, outputs[0] if len(outputs) == 1 else outputs)


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        (head(layers.Dense(3, activation="softmax")), "softmax"),
        (head(layers.Dense(3, activation="softmax"), layers.Dropout(0.5)), "softmax"),
        (head(layers.Dense(3), layers.Softmax()), "softmax"),
        (head(layers.Dense(3), layers.Activation("sigmoid")), "sigmoid"),
        (head(layers.Dense(3)), "linear"),
        (head(layers.Dense(3, activation="relu")), "relu"),
        (head(layers.Dense(3), layers.ReLU()), "relu"),
        (gn.Sequential([layers.Input((4,)), head(layers.Dense(3, "softmax"))]), "softmax"),
        (head(layers.Dense(3), layers.BatchNormalization()), None),  # not an activation
        (head(layers.Dense(3, activation=lambda x: x)), None),  # a custom function
        (graph([layers.Dense(3, activation="softmax")]), "softmax"),  # the graph's output layer
        (graph([layers.Dense(3)]), "linear"),
        (
            graph([gn.Sequential([layers.Input((5,)), layers.Dense(3), layers.Softmax()])]),
            "softmax",
        ),
        (graph([layers.Dense(3, "softmax")], [layers.Dense(1)]), None),  # two outputs
    ],
)
def test_output_activation_reads_the_last_layer(model, expected):
    assert output_activation(model) == expected


def test_the_structure_decides_even_when_logits_look_like_probabilities():
    logits = np.array([[0.2, 0.3, 0.5], [0.0, 0.0, 1.0]])  # non-negative, rows sum to 1
    linear = head(layers.Dense(3))
    np.testing.assert_allclose(probabilities(logits, linear), softmax(logits))
    relu = head(layers.Dense(3, activation="relu"))
    np.testing.assert_allclose(probabilities(logits, relu), softmax(logits))
    ends_in_softmax = head(layers.Dense(3, activation="softmax"))
    np.testing.assert_array_equal(probabilities(logits, ends_in_softmax), logits)
    yes_no = head(layers.Dense(1, activation="sigmoid"))
    np.testing.assert_array_equal(probabilities([[0.9], [0.2]], yes_no), [[0.9], [0.2]])


def test_without_a_structure_each_row_is_judged_alone():
    """A subclassed model's call is its own: the values decide, row by row, so an image gets
    the same answer whatever else is in its batch (the server batches, predict may not)."""

    class Own(Model):
        def call(self, x, training=False):
            return x

    rows = np.array([[0.2, 0.3, 0.5], [2.0, -1.0, 0.5]])
    assert output_activation(Own()) is None
    got = probabilities(rows, Own())
    np.testing.assert_array_equal(got[0], rows[0])
    np.testing.assert_allclose(got[1], softmax(rows[1:])[0])
    np.testing.assert_array_equal(probabilities(rows[:1]), rows[:1])  # no model: the same rule
    assert got.dtype == np.float64 and got.shape == rows.shape


def test_outputs_must_be_one_score_per_class():
    with pytest.raises(ValueError, match=r"shape \(2, 3, 4\)"):
        probabilities(np.zeros((2, 3, 4)))
