"""Metrics: running averages over batches, Keras's 'accuracy' resolution, confusion matrix."""

from __future__ import annotations

import numpy as np
import pytest

from glassnet import Tensor, metrics


def test_sparse_accuracy_accumulates_over_batches():
    m = metrics.SparseCategoricalAccuracy()
    m.update_state(np.array([0, 1]), np.array([[0.9, 0.1], [0.8, 0.2]]))  # 1 of 2
    m.update_state(np.array([1]), Tensor(np.array([[0.1, 0.9]], np.float32)))  # 1 of 1
    assert m.result() == pytest.approx(2 / 3)
    m.reset_state()
    assert m.result() == 0.0


def test_accuracy_variants():
    cat = metrics.CategoricalAccuracy()
    cat.update_state(np.eye(3), np.array([[0.5, 0.2, 0.3], [0.1, 0.2, 0.7], [0, 0, 1.0]]))
    assert cat.result() == pytest.approx(2 / 3)
    binary = metrics.BinaryAccuracy()
    binary.update_state(np.array([[1], [0], [1], [0]]), np.array([[0.7], [0.4], [0.2], [0.6]]))
    assert binary.result() == 0.5


def test_accuracy_string_follows_the_loss_like_keras():
    assert isinstance(metrics.get("accuracy"), metrics.SparseCategoricalAccuracy)
    assert isinstance(metrics.get("acc", "binary_crossentropy"), metrics.BinaryAccuracy)
    assert isinstance(
        metrics.get("accuracy", "categorical_crossentropy"), metrics.CategoricalAccuracy
    )
    assert isinstance(
        metrics.get("accuracy", "sparse_categorical_crossentropy"),
        metrics.SparseCategoricalAccuracy,
    )
    mae = metrics.get("mae")
    mae.update_state(np.array([1.0, 2.0]), np.array([1.5, 1.0]))
    assert mae.result() == pytest.approx(0.75) and mae.name == "mae"
    with pytest.raises(ValueError, match="Unknown metric 'f1'. Known names: accuracy"):
        metrics.get("f1")


def test_mean_is_weighted_by_samples():
    m = metrics.Mean()
    m.update_state(1.0, sample_weight=3)
    m.update_state(3.0, sample_weight=1)
    assert m.result() == pytest.approx(1.5)


def test_confusion_matrix():
    cm = metrics.confusion_matrix(
        [0, 1, 2, 2], np.array([[1, 0, 0], [0, 0, 1], [0, 0, 1], [0, 1, 0]])
    )
    np.testing.assert_array_equal(cm, [[1, 0, 0], [0, 0, 1], [0, 1, 1]])
    assert metrics.confusion_matrix([0, 1], [1, 1], num_classes=3).shape == (3, 3)
