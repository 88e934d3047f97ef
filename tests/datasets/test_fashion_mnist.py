"""Fashion-MNIST: MNIST's reader under its own name, class names and download table."""

from __future__ import annotations

import os
import struct

import numpy as np
import pytest

from glassnet.datasets import DatasetDownloadError, fashion_mnist, mnist
from tests.datasets.formats import (
    checksum_of,
    mnist_arrays,
    mnist_gz_files,
    serve,
    write_mnist,
)


def test_reads_the_idx_files(tmp_path, rng):
    arrays = write_mnist(tmp_path, rng, gz=True)
    (x_train, y_train), (x_test, y_test) = fashion_mnist.load_data(tmp_path)
    assert x_train.shape == (6, 28, 28) and x_train.dtype == np.uint8
    assert y_train.shape == (6,) and y_train.dtype == np.uint8
    assert x_test.shape == (4, 28, 28) and y_test.shape == (4,)
    for got, name in zip((x_train, y_train, x_test, y_test), fashion_mnist.FILES, strict=True):
        np.testing.assert_array_equal(got, arrays[name])


def test_messages_name_fashion_mnist(tmp_path, rng):
    with pytest.raises(FileNotFoundError, match=r"^Fashion-MNIST: the folder '.*nowhere'"):
        fashion_mnist.load_data(tmp_path / "nowhere")
    write_mnist(tmp_path, rng)
    os.remove(tmp_path / "t10k-images-idx3-ubyte")
    with pytest.raises(FileNotFoundError, match="^Fashion-MNIST: missing t10k-images-idx3-ubyte"):
        fashion_mnist.load_data(tmp_path)


def test_class_names():
    assert len(fashion_mnist.CLASS_NAMES) == 10
    assert fashion_mnist.CLASS_NAMES[:2] == ("T-shirt/top", "Trouser")
    assert fashion_mnist.CLASS_NAMES[-1] == "Ankle boot"


def test_download_end_to_end(server, monkeypatch, rng, offline_and_homeless):
    arrays = mnist_arrays(rng, n_train=5, n_test=3)
    serve(server, monkeypatch, fashion_mnist, mnist_gz_files(arrays), prefix="fashion/")
    (x_train, _), (_, y_test) = fashion_mnist.load_data()
    np.testing.assert_array_equal(x_train, arrays["train-images-idx3-ubyte"])
    np.testing.assert_array_equal(y_test, arrays["t10k-labels-idx1-ubyte"])
    folder = offline_and_homeless / ".glassnet" / "datasets" / "fashion_mnist"
    assert sorted(os.listdir(folder)) == sorted(f"{n}.gz" for n in fashion_mnist.FILES)
    assert not (offline_and_homeless / ".glassnet" / "datasets" / "mnist").exists()


def test_interrupted_download_leaves_no_file(server, monkeypatch, rng, offline_and_homeless):
    serve(server, monkeypatch, fashion_mnist, mnist_gz_files(mnist_arrays(rng)))
    server.cut["/train-images-idx3-ubyte.gz"] = 100
    with pytest.raises(DatasetDownloadError, match="connection closed after 100 of"):
        fashion_mnist.load_data()
    assert os.listdir(offline_and_homeless / ".glassnet" / "datasets" / "fashion_mnist") == []


def test_offline_error(offline_and_homeless):
    with pytest.raises(DatasetDownloadError) as info:
        fashion_mnist.load_data()
    message = str(info.value)
    assert message.startswith("Fashion-MNIST: could not download 'train-images-idx3-ubyte.gz'")
    folder = offline_and_homeless / ".glassnet" / "datasets" / "fashion_mnist"
    assert f"put them in the folder '{folder}'" in message
    assert "glassnet.datasets.fashion_mnist.load_data(path=...)" in message


def test_published_checksum_table():
    assert set(fashion_mnist.CHECKSUMS) == {f"{n}.gz" for n in fashion_mnist.FILES}
    for name, checksum in fashion_mnist.CHECKSUMS.items():
        assert len(checksum.sha256) == 64 and len(checksum.md5) == 32 and checksum.size > 0
        assert checksum != mnist.CHECKSUMS[name]


DEBIAN = "/usr/share/datasets/fashion-mnist"


@pytest.mark.skipif(not os.path.isdir(DEBIAN), reason="Debian's dataset-fashion-mnist is absent")
@pytest.mark.parametrize("name", sorted(fashion_mnist.CHECKSUMS))
def test_checksum_table_matches_the_real_files(name):
    """The table's checksums are those of the real files, checked on Debian's copies.

    Debian's packaging (strip-nondeterminism) rewrote each gzip header: the time stamp became
    the package's build time and the stored file name was dropped. The compressed data and its
    CRC are untouched, so putting the upstream header back (flag FNAME, the upstream time
    stamp, XFL 0, OS 3 = Unix, the name) must give the published bytes exactly.
    """
    data = open(os.path.join(DEBIAN, name), "rb").read()
    assert data[:4] == b"\x1f\x8b\x08\x00" and data[8:10] == b"\x00\x03"  # no FNAME
    mtime = 0x59A7E9DE if name.startswith("train") else 0x59A7E9F3  # 2017-08-31, upstream
    upstream = b"\x1f\x8b\x08\x08" + struct.pack("<I", mtime) + b"\x00\x03"
    upstream += name.removesuffix(".gz").encode() + b"\x00" + data[10:]
    assert checksum_of(upstream) == fashion_mnist.CHECKSUMS[name]
