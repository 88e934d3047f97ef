"""CIFAR-10 from its binary version: 60,000 colour photos of 32 × 32 pixels in 10 classes.

``load_data(path)`` reads the folder ``cifar-10-batches-bin`` (from ``cifar-10-binary.tar.gz``)::

    data_batch_1.bin ... data_batch_5.bin   50,000 training images, 10,000 per file
    test_batch.bin                          10,000 test images

Each file is a plain run of records of 3,073 bytes: one label byte (0–9), then the 1,024 red
values, the 1,024 green values and the 1,024 blue values of the image, each plane row by row.
Only this binary version is read. The "python version" of CIFAR-10 is a set of pickles, and
unpickling a file can run any code in it, so glassnet never loads it.

``load_data()`` without a path uses ``~/.glassnet/datasets/cifar10/`` (or
``$GLASSNET_DATA/cifar10/``): if ``cifar-10-batches-bin`` is not there yet, it downloads
``cifar-10-binary.tar.gz`` (checked against its published checksum; an archive put there by
hand is used as it is) and unpacks it with ``extract_archive``, which refuses any member that
would land outside the folder.
"""

from __future__ import annotations

import gzip
import os
import shutil
import tarfile
import tempfile
import zlib

import numpy as np

from glassnet.datasets._download import Checksum, dataset_folder, download

__all__ = [
    "ARCHIVE",
    "CHECKSUMS",
    "CLASS_NAMES",
    "MIRRORS",
    "TEST_FILE",
    "TRAIN_FILES",
    "extract_archive",
    "load_data",
    "read_batch",
]

CLASS_NAMES = tuple("airplane automobile bird cat deer dog frog horse ship truck".split())
TRAIN_FILES = tuple(f"data_batch_{i}.bin" for i in range(1, 6))
TEST_FILE = "test_batch.bin"
_FILES = (*TRAIN_FILES, TEST_FILE)
FOLDER = "cifar-10-batches-bin"
ARCHIVE = "cifar-10-binary.tar.gz"

# The dataset authors' page, https://www.cs.toronto.edu/~kriz/cifar.html.
MIRRORS = ("https://www.cs.toronto.edu/~kriz/",)
# MD5: the CIFAR page itself ("CIFAR-10 binary version (suitable for C programs)"). SHA-256 and
# size: TensorFlow Datasets, tensorflow_datasets/url_checksums/cifar10.txt (it downloads this
# same binary archive).
CHECKSUMS = {
    ARCHIVE: Checksum(
        sha256="c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd",
        md5="c32a1d4ab5d03f1284b67883e8d87530",
        size=170_052_171,
    )
}

HEIGHT = WIDTH = 32
CHANNELS = 3
RECORD = 1 + CHANNELS * HEIGHT * WIDTH  # 3,073 bytes: the label, then the R, G and B planes


def read_batch(path: str | os.PathLike[str]) -> tuple[np.ndarray, np.ndarray]:
    """Read one CIFAR-10 binary batch file.

    Args:
        path: a file such as ``cifar-10-batches-bin/data_batch_1.bin``.

    Returns:
        ``(images, labels)``: uint8 ``(N, 32, 32, 3)`` channels-last (the layout glassnet uses)
        and uint8 ``(N,)`` with the class index 0–9 (see ``CLASS_NAMES``).

    Raises:
        ValueError: the file is empty, its size is not a whole number of 3,073-byte records,
            or a label byte is not 0–9.
    """
    path = os.fspath(path)
    with open(path, "rb") as f:
        data = f.read()
    if len(data) == 0 or len(data) % RECORD:
        hint = "The file is truncated or is not a CIFAR-10 binary batch; download it again."
        if data and len(data) % (RECORD + 1) == 0:
            hint = (
                "Its size fits 3,074-byte records: it looks like CIFAR-100, whose records carry "
                "two label bytes. This reader is for CIFAR-10."
            )
        raise ValueError(
            f"CIFAR-10: '{path}' holds {len(data)} bytes, which is not a whole, non-zero number "
            f"of {RECORD}-byte records (1 label byte + 3 × 32 × 32 pixel bytes). {hint}"
        )
    records = np.frombuffer(data, dtype=np.uint8).reshape(-1, RECORD)
    labels = records[:, 0].copy()
    bad = np.flatnonzero(labels >= len(CLASS_NAMES))
    if bad.size:
        raise ValueError(
            f"CIFAR-10: '{path}': record {int(bad[0])} has label byte {int(labels[bad[0]])}, "
            f"but labels must be 0–9 ({bad.size} records are out of range). The file is corrupt "
            "or not a CIFAR-10 binary batch; download it again."
        )
    # Each record stores the image channel by channel (3, 32, 32); glassnet's images are
    # channels-last (32, 32, 3), so move the channel axis to the end and make it contiguous.
    planes = records[:, 1:].reshape(-1, CHANNELS, HEIGHT, WIDTH)
    images = np.ascontiguousarray(planes.transpose(0, 2, 3, 1))
    return images, labels


def _missing(folder: str) -> list[str]:
    """The batch files that ``folder`` lacks."""
    return [n for n in _FILES if not os.path.isfile(os.path.join(folder, n))]


def _batches_folder(path: str) -> str:
    """``path`` itself if it holds the batch files, else its ``cifar-10-batches-bin`` folder."""
    inner = os.path.join(path, FOLDER)
    if len(_missing(path)) == len(_FILES) and os.path.isdir(inner):
        return inner
    return path


def load_data(
    path: str | os.PathLike[str] | None = None,
) -> tuple[tuple[np.ndarray, np.ndarray], ...]:
    """Load CIFAR-10 from its binary files, downloading and unpacking them if needed.

    Args:
        path: the ``cifar-10-batches-bin`` folder, or the folder that contains it. ``None``
            (the default): ``~/.glassnet/datasets/cifar10/`` (``$GLASSNET_DATA/cifar10/`` if
            that variable is set), where ``cifar-10-binary.tar.gz`` is first downloaded from
            ``MIRRORS``, checked against ``CHECKSUMS`` and unpacked, unless it already holds
            ``cifar-10-batches-bin`` (the archive is deleted once unpacked).

    Returns:
        ``((x_train, y_train), (x_test, y_test))``: images uint8 ``(50000, 32, 32, 3)`` and
        ``(10000, 32, 32, 3)``, channels-last, values 0–255; labels uint8 ``(N,)``, the class
        index into ``CLASS_NAMES``. (Keras gives labels the shape ``(N, 1)``; a flat vector is
        what ``sparse_categorical_crossentropy`` and indexing want.)

    Raises:
        FileNotFoundError: the folder or a batch file is missing.
        ValueError: a batch file or the archive is corrupt, or the archive holds a member
            that would be written outside its folder.
        glassnet.datasets.DatasetDownloadError: ``path=None`` and the archive could not be
            downloaded (the message says where to put it by hand); ``ChecksumError``, a
            subclass, when the download does not match its published checksum.

    Example:
        >>> (x_train, y_train), (x_test, y_test) = load_data("data")  # holds cifar-10-batches-bin
        >>> x_train.shape, CLASS_NAMES[y_train[0]]
        ((50000, 32, 32, 3), 'frog')
    """
    given = os.fspath(path) if path is not None else _cached()
    if not os.path.isdir(given):
        hint = ""
        if given.endswith((".tar.gz", ".tgz")):
            hint = " Unpack the archive first (tar xzf) and pass the folder it creates."
        raise FileNotFoundError(
            f"CIFAR-10: the folder '{given}' does not exist (or is not a folder). Pass the "
            f"'{FOLDER}' folder or the folder that contains it.{hint}"
        )
    folder = _batches_folder(given)
    missing = _missing(folder)
    if missing:
        hint = "Download cifar-10-binary.tar.gz (the binary version) and unpack it there."
        if os.path.isfile(os.path.join(folder, "data_batch_1")) or os.path.isdir(
            os.path.join(given, "cifar-10-batches-py")
        ):
            hint = (
                "This looks like the Python version (pickled batches), which glassnet never loads "
                "because unpickling can run code. " + hint
            )
        what = ", ".join(missing)
        if len(missing) == len(_FILES):
            what = "all batch files (data_batch_1.bin ... data_batch_5.bin, test_batch.bin)"
        raise FileNotFoundError(f"CIFAR-10: missing {what} in '{folder}'. {hint}")
    train = [read_batch(os.path.join(folder, n)) for n in TRAIN_FILES]
    x_train = np.concatenate([images for images, _ in train])
    y_train = np.concatenate([labels for _, labels in train])
    x_test, y_test = read_batch(os.path.join(folder, TEST_FILE))
    return (x_train, y_train), (x_test, y_test)


def _cached() -> str:
    """The cifar10 folder under the data home, after downloading and unpacking if needed."""
    folder = dataset_folder("cifar10")
    for where in (os.path.join(folder, FOLDER), folder):  # unpacked, or the files put loose
        if not _missing(where):
            return folder
    archive = os.path.join(folder, ARCHIVE)
    downloaded = not os.path.isfile(archive)
    if downloaded:
        download(
            "CIFAR-10",
            folder,
            [ARCHIVE],
            MIRRORS,
            CHECKSUMS,
            by_hand=[ARCHIVE + f" (or the '{FOLDER}' folder unpacked from it)"],
            loader="glassnet.datasets.cifar10.load_data",
        )
    extract_archive(archive, folder)
    if downloaded:
        os.remove(archive)  # unpacked and verified; keeping it would double the disk space
    return folder


def extract_archive(archive: str | os.PathLike[str], folder: str | os.PathLike[str]) -> str:
    """Unpack ``cifar-10-binary.tar.gz`` into ``folder``, safely; return the batches folder.

    The archive is unpacked into a temporary folder beside the target with tarfile's ``"data"``
    filter, which refuses members that would land outside it (``../evil``, absolute paths,
    links pointing out, device files). Only then is each file of ``cifar-10-batches-bin``
    moved into ``folder/cifar-10-batches-bin`` with ``os.replace``, so an interrupted unpack
    never leaves a batch file that looks complete.

    Raises:
        ValueError: the archive is corrupt, holds an unsafe member, or lacks a batch file.
    """
    archive, folder = os.fspath(archive), os.fspath(folder)
    staging = tempfile.mkdtemp(prefix=".cifar-10-unpack-", dir=folder)
    try:
        try:
            with tarfile.open(archive, "r:gz") as tar:
                tar.extractall(staging, filter="data")
        except tarfile.FilterError as err:
            raise ValueError(
                f"CIFAR-10: refusing to unpack '{archive}': {err}. The official archive never "
                "holds such a member, so this file is not it; delete it and download again."
            ) from err
        except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile) as err:
            raise ValueError(
                f"CIFAR-10: corrupt archive '{archive}' ({type(err).__name__}: {err}). It is "
                "probably cut short; delete it and download it again."
            ) from err
        unpacked = os.path.join(staging, FOLDER)
        missing = _missing(unpacked)
        if missing:
            raise ValueError(
                f"CIFAR-10: the archive '{archive}' lacks {', '.join(missing)} in '{FOLDER}/'. "
                "Expected cifar-10-binary.tar.gz, the binary version; delete it and download "
                "it again."
            )
        target = os.path.join(folder, FOLDER)
        os.makedirs(target, exist_ok=True)
        for entry in os.scandir(unpacked):
            if entry.is_file(follow_symlinks=False):
                os.replace(entry.path, os.path.join(target, entry.name))
        return target
    finally:
        shutil.rmtree(staging, ignore_errors=True)
