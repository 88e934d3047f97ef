"""MNIST from its four standard IDX files: 70,000 handwritten digits, 28 × 28 grey pixels.

``load_data(path)`` reads a folder that holds the files as they are distributed (each may
still be gzipped)::

    train-images-idx3-ubyte   60,000 images     t10k-images-idx3-ubyte   10,000 images
    train-labels-idx1-ubyte   60,000 labels     t10k-labels-idx1-ubyte   10,000 labels

and returns ``((x_train, y_train), (x_test, y_test))`` as Keras's ``mnist.load_data`` does.
``load_data()`` without a path uses ``~/.glassnet/datasets/mnist/`` (or
``$GLASSNET_DATA/mnist/``) and downloads the missing ``.gz`` files there first, each checked
against its published checksum. Fashion-MNIST uses the same file names and format, so this
reader serves it too (``glassnet.datasets.fashion_mnist``).

The IDX format is tiny, so it is read here with NumPy alone (``read_idx``). A file starts with
a header of big-endian numbers: a magic number ``0x00 0x00 <type code> <number of axes>``,
then one 4-byte size per axis; the values follow, row-major, with nothing after them.
"""

from __future__ import annotations

import gzip
import os
import zlib

import numpy as np

from glassnet.datasets._download import Checksum, dataset_folder, download

__all__ = ["CHECKSUMS", "CLASS_NAMES", "FILES", "MIRRORS", "load_data", "read_idx"]

# The IDX type code (third byte of the magic number) → the big-endian NumPy dtype it means.
IDX_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}

# The four files, in the order load_data returns them.
FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)

CLASS_NAMES = tuple(str(digit) for digit in range(10))

# Where the gzipped files are downloaded from, first choice first: the PyTorch (ossci) copy of
# Yann LeCun's files, which torchvision tries first; the copy TensorFlow Datasets uses; and
# LeCun's own page (plain HTTP, and at times refusing downloads). All hold the same bytes.
MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)
# MD5: torchvision, torchvision/datasets/mnist.py (MNIST.resources). SHA-256 and size:
# TensorFlow Datasets, tensorflow_datasets/url_checksums/mnist.txt.
CHECKSUMS = {
    "train-images-idx3-ubyte.gz": Checksum(
        sha256="440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
        md5="f68b3c2dcbeaaa9fbdd348bbdeb94873",
        size=9_912_422,
    ),
    "train-labels-idx1-ubyte.gz": Checksum(
        sha256="3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
        md5="d53e105ee54ea40749a09fcbcd1e9432",
        size=28_881,
    ),
    "t10k-images-idx3-ubyte.gz": Checksum(
        sha256="8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
        md5="9fb629c4189551a2d022fa330f9573f3",
        size=1_648_877,
    ),
    "t10k-labels-idx1-ubyte.gz": Checksum(
        sha256="f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
        md5="ec29112dd5afa0611ce80d1b7f02629c",
        size=4_542,
    ),
}

_GZIP_MAGIC = b"\x1f\x8b"


def _read_bytes(path: str) -> bytes:
    """The file's bytes, decompressed when its name ends in ``.gz``."""
    if not path.endswith(".gz"):
        with open(path, "rb") as f:
            return f.read()
    try:
        with gzip.open(path, "rb") as f:
            return f.read()
    except (OSError, EOFError, zlib.error) as err:  # BadGzipFile is an OSError
        raise ValueError(
            f"corrupt gzip file '{path}': {err}. The download was probably cut short; "
            "download it again (or give the uncompressed file, without .gz)."
        ) from err


def read_idx(path: str | os.PathLike[str]) -> np.ndarray:
    """Read one IDX file (``.gz`` or not) into a NumPy array of the shape its header gives.

    Every part of the header is checked, and the number of bytes must match the shape exactly,
    so a truncated or foreign file is reported instead of silently misread.

    Args:
        path: the file, e.g. ``"mnist/train-images-idx3-ubyte.gz"``.

    Returns:
        A writable array in native byte order: uint8 ``(N, 28, 28)`` for MNIST images,
        uint8 ``(N,)`` for labels.

    Raises:
        ValueError: the file is not a valid IDX file (the message names it and says why).
    """
    path = os.fspath(path)
    data = _read_bytes(path)
    if len(data) < 4:
        raise ValueError(
            f"'{path}' is not an IDX file: it holds {len(data)} bytes, fewer than the 4-byte "
            "magic number every IDX file starts with. Download the file again."
        )
    if data[:2] != b"\x00\x00":
        hint = "Check that this is one of the MNIST IDX files and download it again."
        if data[:2] == _GZIP_MAGIC:
            hint = "It is gzip-compressed: name it with a .gz ending, or unpack it with gunzip."
        raise ValueError(
            f"'{path}' is not an IDX file: expected the magic number to start with bytes "
            f"00 00, received {data[:2].hex(' ')}. {hint}"
        )
    code, ndim = data[2], data[3]
    if code not in IDX_DTYPES:
        known = ", ".join(f"0x{c:02X} ({d.name})" for c, d in IDX_DTYPES.items())
        raise ValueError(
            f"'{path}': unknown IDX data type code 0x{code:02X} in the magic number. Expected "
            f"one of {known}. The file is corrupt or not an IDX file; download it again."
        )
    if ndim == 0:
        raise ValueError(
            f"'{path}': the IDX header says the data has 0 axes; expected at least 1. The file "
            "is corrupt; download it again."
        )
    header = 4 + 4 * ndim
    if len(data) < header:
        raise ValueError(
            f"'{path}': the file ends inside its header ({len(data)} bytes, but {ndim} axis "
            f"sizes need {header}). The file is truncated; download it again."
        )
    shape = tuple(int(n) for n in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    dtype = IDX_DTYPES[code]
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    received = len(data) - header
    if received != expected:
        what = "truncated" if received < expected else "longer than its header says"
        raise ValueError(
            f"'{path}': the header promises shape {shape} of {dtype.name} ({expected} bytes of "
            f"data) but the file holds {received}. The file is {what}; download it again."
        )
    array = np.frombuffer(data, dtype=dtype, offset=header).reshape(shape)
    # astype copies into a fresh, writable array in the machine's own byte order.
    return array.astype(dtype.newbyteorder("="))


def _find(folder: str, name: str) -> str | None:
    """The path of ``name`` in ``folder``: plain or gzipped, with ``-idx`` or ``.idx`` (some
    unpackers rename ``train-images-idx3-ubyte`` to ``train-images.idx3-ubyte``)."""
    for stem in (name, name.replace("-idx", ".idx")):
        for candidate in (stem, stem + ".gz"):
            path = os.path.join(folder, candidate)
            if os.path.isfile(path):
                return path
    return None


def load_data(
    path: str | os.PathLike[str] | None = None,
) -> tuple[tuple[np.ndarray, np.ndarray], ...]:
    """Load MNIST from a folder holding its four IDX files, downloading them if needed.

    Args:
        path: the folder with ``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
            ``t10k-images-idx3-ubyte`` and ``t10k-labels-idx1-ubyte`` (each may end in ``.gz``).
            ``None`` (the default): ``~/.glassnet/datasets/mnist/`` (``$GLASSNET_DATA/mnist/``
            if that variable is set), where missing files are first downloaded from
            ``MIRRORS`` and checked against ``CHECKSUMS``.

    Returns:
        ``((x_train, y_train), (x_test, y_test))``: images uint8 ``(N, 28, 28)`` with values
        0–255, labels uint8 ``(N,)`` with the digit 0–9 — as Keras returns them.

    Raises:
        FileNotFoundError: the folder, or one of the files, is missing.
        ValueError: a file is corrupt, or images and labels do not fit together.
        glassnet.datasets.DatasetDownloadError: ``path=None``, a file is missing and could not
            be downloaded (the message says where to put it by hand); ``ChecksumError``, a
            subclass, when the download does not match its published checksum.

    Example:
        >>> (x_train, y_train), (x_test, y_test) = load_data("data/mnist")
        >>> x_train.shape, y_train[:5]
        ((60000, 28, 28), array([5, 0, 4, 1, 9], dtype=uint8))
    """
    if path is None:
        path = cached_folder("mnist", "MNIST", MIRRORS, CHECKSUMS)
    return load_folder(path, "MNIST", "the MNIST page")


def cached_folder(key: str, title: str, mirrors, checksums) -> str:
    """The folder of dataset ``key`` (its module's name) under the data home, after
    downloading the files it lacks."""
    folder = dataset_folder(key)
    missing = [n for n in FILES if not os.path.isdir(folder) or _find(folder, n) is None]
    if missing:
        download(
            title,
            folder,
            [n + ".gz" for n in missing],
            mirrors,
            checksums,
            by_hand=[n + ".gz" for n in FILES],
            loader=f"glassnet.datasets.{key}.load_data",
        )
    return folder


def load_folder(path, title: str, source: str) -> tuple[tuple[np.ndarray, np.ndarray], ...]:
    """Read the four IDX files of an MNIST-format dataset; ``title`` starts every message."""
    folder = os.fspath(path)
    if not os.path.isdir(folder):
        raise FileNotFoundError(
            f"{title}: the folder '{folder}' does not exist (or is not a folder). Pass the "
            f"folder that holds {', '.join(FILES)} (each may end in .gz), or no path to "
            "download them."
        )
    paths = [_find(folder, name) for name in FILES]
    missing = [name for name, found in zip(FILES, paths, strict=True) if found is None]
    if missing:
        present = sorted(os.listdir(folder))
        raise FileNotFoundError(
            f"{title}: missing {', '.join(missing)} in '{folder}' (each may end in .gz). The "
            f"folder needs all of {', '.join(FILES)}; it holds: "
            f"{', '.join(present[:10]) or 'nothing'}{' ...' if len(present) > 10 else ''}. "
            f"Download the four files from {source} into that folder, or call load_data() "
            "without a path to download them."
        )
    x_train, y_train, x_test, y_test = (read_idx(p) for p in paths)
    _check_pair(x_train, y_train, paths[0], paths[1], title)
    _check_pair(x_test, y_test, paths[2], paths[3], title)
    return (x_train, y_train), (x_test, y_test)


def _check_pair(images, labels, image_path: str, label_path: str, title: str) -> None:
    """Images must be (N, rows, cols) and labels (N,), both uint8, with the same N."""
    if images.ndim != 3 or images.dtype != np.uint8:
        raise ValueError(
            f"{title}: '{image_path}' should hold uint8 images of shape (N, rows, cols); it holds "
            f"{images.dtype} of shape {images.shape}. Were the image and label files swapped?"
        )
    if labels.ndim != 1 or labels.dtype != np.uint8:
        raise ValueError(
            f"{title}: '{label_path}' should hold uint8 labels of shape (N,); it holds "
            f"{labels.dtype} of shape {labels.shape}. Were the image and label files swapped?"
        )
    if len(images) != len(labels):
        raise ValueError(
            f"{title}: '{image_path}' holds {len(images)} images but '{label_path}' holds "
            f"{len(labels)} labels; expected one label per image. One of the files is from "
            "another dataset or incomplete; download both again."
        )
