"""The dataset readers, on tiny files each test writes itself (never the real downloads)."""

from __future__ import annotations

import gzip
import os

import numpy as np
import pytest

from glassnet.datasets import cifar10, mnist

# ------------------------------------------------------------------------------ IDX helpers
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


def write_mnist(folder, rng, n_train=6, n_test=4, gz=False, size=28):
    """The four MNIST files with random contents; returns the arrays written."""
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (n_train, size, size), dtype=np.uint8),
        "train-labels-idx1-ubyte": rng.integers(0, 10, n_train, dtype=np.uint8),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, size, size), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": rng.integers(0, 10, n_test, dtype=np.uint8),
    }
    for name, array in arrays.items():
        write(folder / name, idx_bytes(array), gz=gz)
    return arrays


# ------------------------------------------------------------------------------ read_idx
@pytest.mark.parametrize("dtype", ["uint8", "int8", "int16", "int32", "float32"])
@pytest.mark.parametrize("gz", [False, True])
def test_read_idx_round_trip(tmp_path, rng, dtype, gz):
    array = (rng.standard_normal((3, 4, 5)) * 50).astype(dtype)
    path = write(tmp_path / "a-idx3", idx_bytes(array), gz=gz)
    out = mnist.read_idx(path)
    assert out.shape == (3, 4, 5)
    assert out.dtype == np.dtype(dtype)  # native byte order, not big-endian
    assert out.dtype.isnative
    np.testing.assert_array_equal(out, array)
    out[0, 0, 0] = 1  # a fresh array the caller may change


def test_read_idx_one_axis(tmp_path):
    path = write(tmp_path / "labels", idx_bytes(np.arange(7, dtype=np.uint8)))
    np.testing.assert_array_equal(mnist.read_idx(path), np.arange(7))


def test_read_idx_accepts_pathlike(tmp_path):
    write(tmp_path / "labels", idx_bytes(np.arange(3, dtype=np.uint8)))
    assert mnist.read_idx(tmp_path / "labels").shape == (3,)


GOOD = idx_bytes(np.arange(24, dtype=np.uint8).reshape(2, 3, 4))


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (b"\x00\x00", "holds 2 bytes, fewer than the 4-byte magic"),
        (b"PK\x03\x04" + GOOD[4:], "expected the magic number to start with bytes 00 00"),
        (b"\x00\x00\x07\x03" + GOOD[4:], "unknown IDX data type code 0x07"),
        (b"\x00\x00\x08\x00", "0 axes"),
        (GOOD[:10], "ends inside its header"),
        (GOOD[:-1], r"promises shape \(2, 3, 4\) of uint8 \(24 bytes.*holds 23.*truncated"),
        (GOOD + b"\x00", "holds 25. The file is longer than its header says"),
    ],
)
def test_read_idx_rejects_corrupt_files(tmp_path, data, match):
    path = write(tmp_path / "bad-idx3-ubyte", data)
    with pytest.raises(ValueError, match=match) as info:
        mnist.read_idx(path)
    assert "bad-idx3-ubyte" in str(info.value)  # the message names the file


def test_read_idx_spots_gzip_without_gz_name(tmp_path):
    path = write(tmp_path / "train-images-idx3-ubyte", gzip.compress(GOOD))
    with pytest.raises(ValueError, match="gzip-compressed: name it with a .gz ending"):
        mnist.read_idx(path)


@pytest.mark.parametrize(
    "data",
    [b"not gzip at all", gzip.compress(GOOD)[:-12]],  # foreign bytes; a cut-short download
    ids=["not-gzip", "truncated-gzip"],
)
def test_read_idx_rejects_corrupt_gzip(tmp_path, data):
    path = write(tmp_path / "train-images-idx3-ubyte.gz", data)
    with pytest.raises(ValueError, match=r"corrupt gzip file '.*train-images-idx3-ubyte\.gz'"):
        mnist.read_idx(path)


def test_read_idx_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        mnist.read_idx(tmp_path / "nothing-here")


# ------------------------------------------------------------------------------ mnist.load_data
@pytest.mark.parametrize("gz", [False, True])
def test_mnist_load_data(tmp_path, rng, gz):
    arrays = write_mnist(tmp_path, rng, gz=gz)
    (x_train, y_train), (x_test, y_test) = mnist.load_data(tmp_path)
    assert x_train.shape == (6, 28, 28) and x_train.dtype == np.uint8
    assert y_train.shape == (6,) and y_train.dtype == np.uint8
    assert x_test.shape == (4, 28, 28) and y_test.shape == (4,)
    for got, name in zip((x_train, y_train, x_test, y_test), mnist.FILES, strict=True):
        np.testing.assert_array_equal(got, arrays[name])


def test_mnist_load_data_mixed_and_dotted_names(tmp_path, rng):
    arrays = write_mnist(tmp_path, rng)
    # One file gzipped, one renamed the way some unpackers do (train-images.idx3-ubyte).
    os.remove(tmp_path / "t10k-images-idx3-ubyte")
    write(tmp_path / "t10k-images-idx3-ubyte", idx_bytes(arrays["t10k-images-idx3-ubyte"]), True)
    os.rename(tmp_path / "train-labels-idx1-ubyte", tmp_path / "train-labels.idx1-ubyte")
    (_, y_train), (x_test, _) = mnist.load_data(str(tmp_path))
    np.testing.assert_array_equal(y_train, arrays["train-labels-idx1-ubyte"])
    np.testing.assert_array_equal(x_test, arrays["t10k-images-idx3-ubyte"])


def test_mnist_missing_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"folder '.*nowhere' does not exist.*t10k"):
        mnist.load_data(tmp_path / "nowhere")


def test_mnist_missing_files_are_named(tmp_path, rng):
    write_mnist(tmp_path, rng)
    os.remove(tmp_path / "t10k-labels-idx1-ubyte")
    os.remove(tmp_path / "train-images-idx3-ubyte")
    with pytest.raises(FileNotFoundError) as info:
        mnist.load_data(tmp_path)
    message = str(info.value)
    assert "missing train-images-idx3-ubyte, t10k-labels-idx1-ubyte" in message
    assert str(tmp_path) in message
    assert "it holds: t10k-images-idx3-ubyte, train-labels-idx1-ubyte" in message


def test_mnist_empty_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="it holds: nothing"):
        mnist.load_data(tmp_path)


def test_mnist_labels_count_must_match_images(tmp_path, rng):
    write_mnist(tmp_path, rng)
    write(tmp_path / "t10k-labels-idx1-ubyte", idx_bytes(np.zeros(3, np.uint8)))
    with pytest.raises(ValueError, match="holds 4 images but .*t10k-labels.* holds 3 labels"):
        mnist.load_data(tmp_path)


def test_mnist_swapped_files(tmp_path, rng):
    arrays = write_mnist(tmp_path, rng)
    write(tmp_path / "train-images-idx3-ubyte", idx_bytes(arrays["train-labels-idx1-ubyte"]))
    with pytest.raises(ValueError, match="should hold uint8 images .*Were the image and label"):
        mnist.load_data(tmp_path)
    write(tmp_path / "train-images-idx3-ubyte", idx_bytes(arrays["train-images-idx3-ubyte"]))
    write(tmp_path / "train-labels-idx1-ubyte", idx_bytes(arrays["train-images-idx3-ubyte"]))
    with pytest.raises(ValueError, match="should hold uint8 labels of shape"):
        mnist.load_data(tmp_path)


def test_mnist_corrupt_file_is_named(tmp_path, rng):
    write_mnist(tmp_path, rng)
    path = tmp_path / "t10k-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:-5])
    with pytest.raises(ValueError, match=r"t10k-images-idx3-ubyte'.*truncated"):
        mnist.load_data(tmp_path)


# ------------------------------------------------------------------------------ CIFAR-10
def cifar_records(images: np.ndarray, labels: np.ndarray) -> bytes:
    """CIFAR-10 binary records: label byte, then the R, G and B planes of each image."""
    planes = images.transpose(0, 3, 1, 2).reshape(len(images), -1)  # (N, 3·32·32)
    return np.concatenate([labels[:, None].astype(np.uint8), planes], axis=1).tobytes()


def write_cifar(folder, rng, per_file=3):
    """All six batch files with random images; returns (x_train, y_train, x_test, y_test)."""
    folder.mkdir(parents=True, exist_ok=True)
    parts = []
    for name in (*cifar10.TRAIN_FILES, cifar10.TEST_FILE):
        images = rng.integers(0, 256, (per_file, 32, 32, 3), dtype=np.uint8)
        labels = rng.integers(0, 10, per_file, dtype=np.uint8)
        (folder / name).write_bytes(cifar_records(images, labels))
        parts.append((images, labels))
    x_train = np.concatenate([p[0] for p in parts[:5]])
    y_train = np.concatenate([p[1] for p in parts[:5]])
    return x_train, y_train, *parts[5]


def test_cifar_record_layout(tmp_path):
    # One hand-made record: label 7, red plane all 10, green 20, blue a ramp 0..1023 % 256.
    blue = (np.arange(1024) % 256).astype(np.uint8)
    record = bytes([7]) + bytes([10]) * 1024 + bytes([20]) * 1024 + blue.tobytes()
    path = tmp_path / "one.bin"
    path.write_bytes(record)
    images, labels = cifar10.read_batch(path)
    assert images.shape == (1, 32, 32, 3) and images.dtype == np.uint8
    assert images.flags.c_contiguous
    assert labels.tolist() == [7] and labels.dtype == np.uint8
    assert (images[0, :, :, 0] == 10).all() and (images[0, :, :, 1] == 20).all()
    np.testing.assert_array_equal(images[0, :, :, 2], blue.reshape(32, 32))  # row by row


@pytest.mark.parametrize("parent", [False, True])
def test_cifar_load_data(tmp_path, rng, parent):
    folder = tmp_path / "cifar-10-batches-bin"
    x_train, y_train, x_test, y_test = write_cifar(folder, rng)
    (a, b), (c, d) = cifar10.load_data(tmp_path if parent else folder)
    assert a.shape == (15, 32, 32, 3) and a.dtype == np.uint8
    assert b.shape == (15,) and c.shape == (3, 32, 32, 3) and d.shape == (3,)
    for got, want in zip((a, b, c, d), (x_train, y_train, x_test, y_test), strict=True):
        np.testing.assert_array_equal(got, want)


def test_cifar_missing_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="'.*nowhere' does not exist"):
        cifar10.load_data(tmp_path / "nowhere")


def test_cifar_archive_not_unpacked(tmp_path):
    archive = tmp_path / "cifar-10-binary.tar.gz"
    archive.write_bytes(b"")
    with pytest.raises(FileNotFoundError, match="Unpack the archive first"):
        cifar10.load_data(archive)


def test_cifar_missing_batches_are_named(tmp_path, rng):
    write_cifar(tmp_path, rng)
    os.remove(tmp_path / "data_batch_3.bin")
    os.remove(tmp_path / "test_batch.bin")
    with pytest.raises(FileNotFoundError, match="missing data_batch_3.bin, test_batch.bin in"):
        cifar10.load_data(tmp_path)


def test_cifar_empty_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"missing all batch files \(data_batch_1.bin"):
        cifar10.load_data(tmp_path)


def test_cifar_refuses_python_version(tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    (folder / "data_batch_1").write_bytes(b"\x80\x04pickle")
    for path in (tmp_path, folder):
        with pytest.raises(FileNotFoundError, match="Python version .*never loads"):
            cifar10.load_data(path)


@pytest.mark.parametrize(
    ("size", "match"),
    [
        (0, "holds 0 bytes"),
        (3073 * 2 - 1, "holds 6145 bytes, which is not a whole, non-zero number of 3073-byte"),
        (3074 * 2, "looks like CIFAR-100"),
    ],
)
def test_cifar_rejects_bad_sizes(tmp_path, size, match):
    path = tmp_path / "data_batch_1.bin"
    path.write_bytes(bytes(size))
    with pytest.raises(ValueError, match=match) as info:
        cifar10.read_batch(path)
    assert "data_batch_1.bin" in str(info.value)


def test_cifar_rejects_bad_label(tmp_path, rng):
    images = rng.integers(0, 256, (3, 32, 32, 3), dtype=np.uint8)
    path = tmp_path / "test_batch.bin"
    path.write_bytes(cifar_records(images, np.array([1, 12, 10], np.uint8)))
    with pytest.raises(ValueError, match="record 1 has label byte 12.*2 records are out of range"):
        cifar10.read_batch(path)


def test_cifar_corrupt_batch_in_load_data(tmp_path, rng):
    write_cifar(tmp_path, rng)
    path = tmp_path / "data_batch_5.bin"
    path.write_bytes(path.read_bytes()[:-1])
    with pytest.raises(ValueError, match="data_batch_5.bin' holds 9218 bytes"):
        cifar10.load_data(tmp_path)
