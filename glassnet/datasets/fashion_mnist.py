"""Fashion-MNIST: 70,000 photos of clothes in 10 classes, 28 × 28 grey pixels (Zalando, 2017).

A drop-in replacement for MNIST, and harder: the same four IDX files, names, sizes and format,
so ``load_data`` reuses MNIST's reader. Labels index ``CLASS_NAMES``.

``load_data()`` without a path uses ``~/.glassnet/datasets/fashion_mnist/`` (or
``$GLASSNET_DATA/fashion_mnist/``) and downloads the missing ``.gz`` files there first, each
checked against its published checksum.
"""

from __future__ import annotations

import os

import numpy as np

from glassnet.datasets._download import Checksum
from glassnet.datasets.mnist import FILES, cached_folder, load_folder

__all__ = ["CHECKSUMS", "CLASS_NAMES", "FILES", "MIRRORS", "load_data"]

CLASS_NAMES = tuple(
    "T-shirt/top|Trouser|Pullover|Dress|Coat|Sandal|Shirt|Sneaker|Bag|Ankle boot".split("|")
)

# The official S3 address (torchvision's mirror; it serves plain HTTP only, so the checksums
# below are what vouches for the bytes), then the same files in the official GitHub repository.
MIRRORS = (
    "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
    "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
)
# MD5: torchvision, torchvision/datasets/mnist.py (FashionMNIST.resources), also in the
# Fashion-MNIST README. SHA-256: Keras, keras/src/datasets/fashion_mnist.py (FILE_HASHES), the
# same as TensorFlow Datasets' url_checksums/fashion_mnist.txt, which gives the sizes.
CHECKSUMS = {
    "train-images-idx3-ubyte.gz": Checksum(
        sha256="3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
        md5="8d4fb7e6c68d591d4c3dfef9ec88bf0d",
        size=26_421_880,
    ),
    "train-labels-idx1-ubyte.gz": Checksum(
        sha256="a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
        md5="25c81989df183df01b3e8a0aad5dffbe",
        size=29_515,
    ),
    "t10k-images-idx3-ubyte.gz": Checksum(
        sha256="346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
        md5="bef4ecab320f06d8554ea6380940ec79",
        size=4_422_102,
    ),
    "t10k-labels-idx1-ubyte.gz": Checksum(
        sha256="67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
        md5="bb300cfdad3c16e7a12a480ee83cd310",
        size=5_148,
    ),
}


def load_data(
    path: str | os.PathLike[str] | None = None,
) -> tuple[tuple[np.ndarray, np.ndarray], ...]:
    """Load Fashion-MNIST from a folder holding its four IDX files, downloading them if needed.

    As ``glassnet.datasets.mnist.load_data``: the same files, arguments and errors, with
    ``~/.glassnet/datasets/fashion_mnist/`` (``$GLASSNET_DATA/fashion_mnist/`` if that variable
    is set) as the folder for ``path=None``.

    Returns:
        ``((x_train, y_train), (x_test, y_test))``: images uint8 ``(60000, 28, 28)`` and
        ``(10000, 28, 28)`` with values 0–255, labels uint8 ``(N,)``, the index into
        ``CLASS_NAMES`` — as Keras returns them.

    Example:
        >>> (x_train, y_train), (x_test, y_test) = load_data()
        >>> x_train.shape, CLASS_NAMES[y_train[0]]
        ((60000, 28, 28), 'Ankle boot')
    """
    if path is None:
        path = cached_folder("fashion_mnist", "Fashion-MNIST", MIRRORS, CHECKSUMS)
    return load_folder(path, "Fashion-MNIST", "the Fashion-MNIST page")
