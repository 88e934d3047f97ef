"""MNIST's IDX reader and load_data, on tiny files each test writes itself."""

from __future__ import annotations

import gzip
import os

import numpy as np
import pytest

from glassnet.datasets import ChecksumError, DatasetDownloadError, mnist
from tests.datasets.formats import (
    idx_bytes,
    mnist_arrays,
    mnist_gz_files,
    serve,
    write,
    write_mnist,
)


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


# ------------------------------------------------------------------------------ load_data()
def cache(home):
    return home / ".glassnet" / "datasets" / "mnist"


def assert_arrays(result, arrays):
    (x_train, y_train), (x_test, y_test) = result
    for got, name in zip((x_train, y_train, x_test, y_test), mnist.FILES, strict=True):
        np.testing.assert_array_equal(got, arrays[name])


def test_load_data_downloads_into_the_data_home(server, monkeypatch, rng, offline_and_homeless):
    arrays = mnist_arrays(rng)
    serve(server, monkeypatch, mnist, mnist_gz_files(arrays), prefix="mnist/")
    assert_arrays(mnist.load_data(), arrays)
    folder = cache(offline_and_homeless)
    assert sorted(os.listdir(folder)) == sorted(f"{n}.gz" for n in mnist.FILES)
    assert len(server.requests) == 4
    assert_arrays(mnist.load_data(), arrays)  # the second time, from the folder
    assert len(server.requests) == 4


def test_load_data_downloads_only_missing_files(server, monkeypatch, rng, offline_and_homeless):
    arrays = mnist_arrays(rng)
    serve(server, monkeypatch, mnist, mnist_gz_files(arrays))
    folder = cache(offline_and_homeless)
    folder.mkdir(parents=True)
    for name in mnist.FILES[1:]:  # put by hand, uncompressed: read as they are
        write(folder / name, idx_bytes(arrays[name]))
    assert_arrays(mnist.load_data(), arrays)
    assert server.requests == ["/train-images-idx3-ubyte.gz"]


def test_load_data_follows_glassnet_data(server, monkeypatch, rng, tmp_path):
    monkeypatch.setenv("GLASSNET_DATA", str(tmp_path / "root"))
    arrays = mnist_arrays(rng)
    serve(server, monkeypatch, mnist, mnist_gz_files(arrays))
    assert_arrays(mnist.load_data(), arrays)
    assert len(os.listdir(tmp_path / "root" / "mnist")) == 4


def test_load_data_offline_names_folder_and_files(offline_and_homeless):
    with pytest.raises(DatasetDownloadError) as info:
        mnist.load_data()
    message = str(info.value)
    assert message.startswith("MNIST: could not download 'train-images-idx3-ubyte.gz'")
    assert f"'{cache(offline_and_homeless)}'" in message
    assert (
        "exactly these names: train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, "
        "t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz" in message
    )
    assert "glassnet.datasets.mnist.load_data(path=...)" in message


def test_load_data_rejects_a_corrupt_download(server, monkeypatch, rng, offline_and_homeless):
    files = mnist_gz_files(mnist_arrays(rng))
    serve(server, monkeypatch, mnist, files)
    server.files["/t10k-labels-idx1-ubyte.gz"] = files["t10k-labels-idx1-ubyte.gz"][:-1] + b"!"
    with pytest.raises(ChecksumError, match="checksum mismatch for 't10k-labels-idx1-ubyte.gz'"):
        mnist.load_data()
    # The three good files are kept; the bad one is not, so the next call fetches only it.
    assert "t10k-labels-idx1-ubyte.gz" not in os.listdir(cache(offline_and_homeless))
    assert len(os.listdir(cache(offline_and_homeless))) == 3


def test_published_checksum_table():
    assert set(mnist.CHECKSUMS) == {f"{n}.gz" for n in mnist.FILES}
    for checksum in mnist.CHECKSUMS.values():
        assert len(checksum.sha256) == 64 and len(checksum.md5) == 32 and checksum.size > 0
    assert mnist.CLASS_NAMES == tuple("0123456789")
