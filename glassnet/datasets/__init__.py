"""Standard datasets read from their original files, with NumPy only (never pickle).

Keras's layout: ``glassnet.datasets.mnist.load_data(path)`` and
``glassnet.datasets.cifar10.load_data(path)`` return ``((x_train, y_train), (x_test, y_test))``
as uint8 arrays, images channels-last. The files must already be on disk: pass their folder.
"""

from glassnet.datasets import cifar10, mnist

__all__ = ["cifar10", "mnist"]
