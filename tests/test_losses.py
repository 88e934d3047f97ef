"""Loss objects: Keras names and strings, settings, serialisation, values from the ops."""

from __future__ import annotations

import numpy as np
import pytest

from glassnet import Tensor, losses


def test_strings_resolve_to_keras_classes():
    assert isinstance(losses.get("mse"), losses.MeanSquaredError)
    assert isinstance(losses.get("MAE"), losses.MeanAbsoluteError)
    assert isinstance(losses.get("binary_crossentropy"), losses.BinaryCrossentropy)
    assert isinstance(losses.get("categorical_crossentropy"), losses.CategoricalCrossentropy)
    assert isinstance(
        losses.get("sparse_categorical_crossentropy"), losses.SparseCategoricalCrossentropy
    )
    assert isinstance(losses.get("MeanSquaredError"), losses.MeanSquaredError)
    obj = losses.BinaryCrossentropy(from_logits=True)
    assert losses.get(obj) is obj
    with pytest.raises(ValueError, match="Unknown loss 'hinge'. Known names: binary_crossentropy"):
        losses.get("hinge")


def test_serialize_round_trip():
    loss = losses.SparseCategoricalCrossentropy(from_logits=True)
    again = losses.deserialize(losses.serialize(loss))
    assert type(again) is type(loss) and again.from_logits
    with pytest.raises(ValueError, match="Unknown loss class 'Evil'"):
        losses.deserialize({"class_name": "Evil", "config": {}})


def test_values_match_the_formulas():
    y_true = np.array([[1.0], [2.0]], np.float32)
    y_pred = Tensor(np.array([[1.5], [1.0]], np.float32), requires_grad=True)
    assert losses.get("mse")(y_true, y_pred).item() == pytest.approx((0.25 + 1.0) / 2)
    assert losses.get("mae")(y_true, y_pred).item() == pytest.approx(0.75)
    logits = Tensor(np.array([[2.0, 0.0, -1.0]], np.float32))
    p = np.exp([2.0, 0.0, -1.0]) / np.exp([2.0, 0.0, -1.0]).sum()
    loss = losses.SparseCategoricalCrossentropy(from_logits=True)(np.array([0]), logits)
    assert loss.item() == pytest.approx(-np.log(p[0]), rel=1e-5)
    assert "from_logits=True" in repr(losses.BinaryCrossentropy(from_logits=True))
