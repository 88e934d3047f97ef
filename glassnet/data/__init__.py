"""Data for training: image folders streamed in batches, and the dataset doctor.

* ``image_dataset_from_directory(directory, ...)`` — Keras's function: one sub-folder per
  class, batches of ``(images, labels)`` decoded on demand by background threads, optionally
  cached on disk (``glassnet/data/dataset.py``).
* ``load_image(path, ...)`` — the one function that turns an image file into model input, used
  by training, ``glassnet predict`` and the server alike (``glassnet/data/images.py``).
* ``check_directory(directory)`` — the dataset doctor behind ``glassnet check``: corrupt files,
  empty classes, imbalance, duplicates (``glassnet/data/doctor.py``).
"""

from glassnet.data.dataset import ImageDataset, image_dataset_from_directory
from glassnet.data.directory import DatasetError, DatasetWarning
from glassnet.data.doctor import DatasetReport, check_directory
from glassnet.data.images import (
    IMAGE_EXTENSIONS,
    ImageLoadError,
    ImageTooLargeError,
    load_image,
)

__all__ = [
    "IMAGE_EXTENSIONS",
    "DatasetError",
    "DatasetReport",
    "DatasetWarning",
    "ImageDataset",
    "ImageLoadError",
    "ImageTooLargeError",
    "check_directory",
    "image_dataset_from_directory",
    "load_image",
]
