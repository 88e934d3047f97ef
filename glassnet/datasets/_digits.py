"""scikit-learn's handwritten digits: 1,797 images of 8 × 8 pixels, shipped inside the library.

The embedded default data set: no download, works offline, trains in seconds. (It is the test
part of the UCI "Optical Recognition of Handwritten Digits" data; each pixel counts the dark
points in a 4 × 4 block of the original 32 × 32 bitmap, hence the values 0–16.)
"""

from __future__ import annotations

import numpy as np

__all__ = ["CLASS_NAMES", "TEST_SIZE", "digits"]

CLASS_NAMES = tuple(str(digit) for digit in range(10))
TEST_SIZE = 360  # the last 360 images: 20 %, 33 to 37 of each digit


def digits() -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """The handwritten digits bundled with scikit-learn, split into training and test images.

    The split is fixed, with no seed: the first 1,437 images train, the last 360 (``TEST_SIZE``)
    test, in scikit-learn's order. Labels index ``CLASS_NAMES`` (``"0"`` ... ``"9"``, also
    ``glassnet.datasets.DIGITS_CLASS_NAMES``).

    Returns:
        ``((x_train, y_train), (x_test, y_test))`` in Keras's layout: images uint8
        ``(1437, 8, 8, 1)`` and ``(360, 8, 8, 1)``, channels-last, with values **0–16** (not
        0–255: put ``layers.Rescaling(1 / 16)`` first in the model to get [0, 1]); labels
        uint8 ``(N,)``, the digit 0–9.

    Example:
        >>> (x_train, y_train), (x_test, y_test) = digits()
        >>> x_train.shape, x_train.max(), y_train[:5]
        ((1437, 8, 8, 1), 16, array([0, 1, 2, 3, 4], dtype=uint8))
    """
    from sklearn.datasets import load_digits

    bunch = load_digits()
    # scikit-learn gives float64 images holding whole numbers 0..16; uint8 holds them exactly.
    images = bunch.images.astype(np.uint8)[..., None]
    labels = bunch.target.astype(np.uint8)
    cut = len(images) - TEST_SIZE
    return (images[:cut], labels[:cut]), (images[cut:], labels[cut:])
