"""Standard datasets read from their original files, with NumPy only (nothing is ever unpickled).

Keras's layout: each ``load_data`` returns ``((x_train, y_train), (x_test, y_test))`` as uint8
arrays, images channels-last.

- ``digits()``: scikit-learn's 1,797 handwritten 8 × 8 digits, embedded (no download);
  images ``(N, 8, 8, 1)`` with values 0–16.
- ``mnist.load_data(path=None)``: MNIST, from its four IDX files.
- ``fashion_mnist.load_data(path=None)``: Fashion-MNIST, the same format (``CLASS_NAMES``).
- ``cifar10.load_data(path=None)``: CIFAR-10, its binary version (never the pickled one).

With a ``path``, the files are read from that folder. Without one, they are kept in
``~/.glassnet/datasets/<mnist|fashion_mnist|cifar10>/``; set the environment variable
``GLASSNET_DATA`` to use another root folder. Missing files are downloaded there from the
canonical addresses (each module's ``MIRRORS``), checked against the published checksums
(``CHECKSUMS``), and renamed into place only once verified. Without a network,
``DatasetDownloadError`` names the exact folder and file names to put there by hand.
"""

from glassnet.datasets import cifar10, fashion_mnist, mnist
from glassnet.datasets._digits import CLASS_NAMES as DIGITS_CLASS_NAMES
from glassnet.datasets._digits import digits
from glassnet.datasets._download import (
    ENV_VAR,
    ChecksumError,
    DatasetDownloadError,
    data_home,
)

__all__ = [
    "DIGITS_CLASS_NAMES",
    "ENV_VAR",
    "ChecksumError",
    "DatasetDownloadError",
    "cifar10",
    "data_home",
    "digits",
    "fashion_mnist",
    "mnist",
]
