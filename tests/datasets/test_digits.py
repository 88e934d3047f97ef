"""digits(): scikit-learn's bundled 8 × 8 digits, split and shaped the Keras way."""

from __future__ import annotations

import numpy as np

import glassnet as gn
from glassnet.datasets import DIGITS_CLASS_NAMES, digits


def test_shapes_dtypes_and_range():
    (x_train, y_train), (x_test, y_test) = digits()
    assert x_train.shape == (1437, 8, 8, 1) and x_train.dtype == np.uint8
    assert y_train.shape == (1437,) and y_train.dtype == np.uint8
    assert x_test.shape == (360, 8, 8, 1) and x_test.dtype == np.uint8
    assert y_test.shape == (360,) and y_test.dtype == np.uint8
    assert x_train.min() == 0 and x_train.max() == 16 and x_test.max() == 16
    assert set(np.unique(y_test)) == set(range(10))  # every digit is tested


def test_the_split_is_the_last_360_in_scikit_learns_order():
    from sklearn.datasets import load_digits

    bunch = load_digits()
    (x_train, y_train), (x_test, y_test) = digits()
    np.testing.assert_array_equal(x_train[..., 0], bunch.images[:-360])
    np.testing.assert_array_equal(x_test[..., 0], bunch.images[-360:])
    np.testing.assert_array_equal(np.concatenate([y_train, y_test]), bunch.target)
    (again, _), _ = digits()
    np.testing.assert_array_equal(again, x_train)  # fixed: no seed involved


def test_class_names_and_rescaling():
    assert DIGITS_CLASS_NAMES == tuple("0123456789")
    (x_train, _), _ = digits()
    scaled = gn.layers.Rescaling(1 / 16)(gn.Tensor(x_train[:4])).data
    assert scaled.dtype == np.float32 and scaled.min() >= 0 and scaled.max() == 1
