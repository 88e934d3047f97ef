"""Small files in the datasets' real formats, written here independently of the readers."""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import tarfile

import numpy as np

from glassnet.datasets import cifar10
from glassnet.datasets._download import Checksum

# ------------------------------------------------------------------------------ IDX
IDX_CODES = {"uint8": 0x08, "int8": 0x09, "int16": 0x0B, "int32": 0x0C, "float32": 0x0D}


def idx_bytes(array: np.ndarray) -> bytes:
    """An IDX file's bytes, written independently of the reader: magic, sizes, big-endian data."""
    header = bytes([0, 0, IDX_CODES[array.dtype.name], array.ndim])
    header += b"".join(int(n).to_bytes(4, "big") for n in array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


def write(path, data: bytes, gz: bool = False) -> str:
    path = os.fspath(path) + (".gz" if gz else "")
    with (gzip.open if gz else open)(path, "wb") as f:
        f.write(data)
    return path


def mnist_arrays(rng, n_train=6, n_test=4, size=28) -> dict[str, np.ndarray]:
    """The four MNIST arrays with random contents, keyed by file name (without .gz)."""
    return {
        "train-images-idx3-ubyte": rng.integers(0, 256, (n_train, size, size), dtype=np.uint8),
        "train-labels-idx1-ubyte": rng.integers(0, 10, n_train, dtype=np.uint8),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, size, size), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": rng.integers(0, 10, n_test, dtype=np.uint8),
    }


def write_mnist(folder, rng, n_train=6, n_test=4, gz=False, size=28):
    """The four MNIST files with random contents; returns the arrays written."""
    arrays = mnist_arrays(rng, n_train, n_test, size)
    for name, array in arrays.items():
        write(folder / name, idx_bytes(array), gz=gz)
    return arrays


def mnist_gz_files(arrays: dict[str, np.ndarray]) -> dict[str, bytes]:
    """The ``.gz`` files as a server would deliver them: file name → bytes."""
    return {f"{name}.gz": gzip.compress(idx_bytes(a)) for name, a in arrays.items()}


# ------------------------------------------------------------------------------ CIFAR-10
def cifar_records(images: np.ndarray, labels: np.ndarray) -> bytes:
    """CIFAR-10 binary records: label byte, then the R, G and B planes of each image."""
    planes = images.transpose(0, 3, 1, 2).reshape(len(images), -1)  # (N, 3·32·32)
    return np.concatenate([labels[:, None].astype(np.uint8), planes], axis=1).tobytes()


def cifar_batches(rng, per_file=3) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Random (images, labels) for each of the six batch files, keyed by file name."""
    return {
        name: (
            rng.integers(0, 256, (per_file, 32, 32, 3), dtype=np.uint8),
            rng.integers(0, 10, per_file, dtype=np.uint8),
        )
        for name in (*cifar10.TRAIN_FILES, cifar10.TEST_FILE)
    }


def joined(batches):
    """(x_train, y_train, x_test, y_test) as load_data should return them."""
    parts = list(batches.values())
    x_train = np.concatenate([p[0] for p in parts[:5]])
    y_train = np.concatenate([p[1] for p in parts[:5]])
    return x_train, y_train, *parts[5]


def write_cifar(folder, rng, per_file=3):
    """All six batch files with random images; returns (x_train, y_train, x_test, y_test)."""
    folder.mkdir(parents=True, exist_ok=True)
    batches = cifar_batches(rng, per_file)
    for name, (images, labels) in batches.items():
        (folder / name).write_bytes(cifar_records(images, labels))
    return joined(batches)


def tar_gz(members: dict[str, bytes], links: dict[str, str] | None = None) -> bytes:
    """A .tar.gz holding ``members`` (name → bytes) and symbolic ``links`` (name → target).

    tarfile writes any member name it is given, ``../evil`` included, as a hostile archive would.
    """
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for name, target in (links or {}).items():
            info = tarfile.TarInfo(name)
            info.type = tarfile.SYMTYPE
            info.linkname = target
            tar.addfile(info)
    return buffer.getvalue()


def cifar_archive(batches, extra: dict[str, bytes] | None = None, **kwargs) -> bytes:
    """cifar-10-binary.tar.gz's layout: the batches under cifar-10-batches-bin/."""
    members = {
        f"cifar-10-batches-bin/{name}": cifar_records(images, labels)
        for name, (images, labels) in batches.items()
    }
    members["cifar-10-batches-bin/batches.meta.txt"] = "\n".join(cifar10.CLASS_NAMES).encode()
    return tar_gz(members | (extra or {}), **kwargs)


# ------------------------------------------------------------------------------ checksums
def checksum_of(data: bytes, md5: bool = True) -> Checksum:
    """The checksum a table would publish for ``data``."""
    return Checksum(
        sha256=hashlib.sha256(data).hexdigest(),
        md5=hashlib.md5(data).hexdigest() if md5 else None,
        size=len(data),
    )


def serve(server, monkeypatch, module, files: dict[str, bytes], prefix: str = "") -> None:
    """Serve ``files`` (name → bytes) from the local server as ``module``'s only mirror, with a
    checksum table made for them."""
    for name, data in files.items():
        server.files[f"/{prefix}{name}"] = data
    monkeypatch.setattr(module, "MIRRORS", (server.url + prefix,))
    monkeypatch.setattr(module, "CHECKSUMS", {n: checksum_of(d) for n, d in files.items()})
