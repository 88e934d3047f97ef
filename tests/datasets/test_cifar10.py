"""CIFAR-10's binary reader, load_data, and the safe unpacking of its archive."""

from __future__ import annotations

import os

import numpy as np
import pytest

from glassnet.datasets import ChecksumError, DatasetDownloadError, cifar10
from tests.datasets.formats import (
    cifar_archive,
    cifar_batches,
    cifar_records,
    joined,
    serve,
    write_cifar,
)


def flat(result):
    (x_train, y_train), (x_test, y_test) = result
    return x_train, y_train, x_test, y_test


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


# ------------------------------------------------------------------------------ extract_archive
def test_extract_archive(tmp_path, rng):
    batches = cifar_batches(rng)
    archive = tmp_path / "cifar-10-binary.tar.gz"
    archive.write_bytes(cifar_archive(batches))
    folder = tmp_path / "out"
    folder.mkdir()
    target = cifar10.extract_archive(archive, folder)
    assert target == str(folder / "cifar-10-batches-bin")
    assert sorted(os.listdir(folder)) == ["cifar-10-batches-bin"]  # no staging folder left
    assert "batches.meta.txt" in os.listdir(target)
    for got, want in zip(flat(cifar10.load_data(folder)), joined(batches), strict=True):
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize(
    ("extra", "links", "match"),
    [
        ({"../evil": b"pwned"}, None, "is outside the destination"),
        ({"cifar-10-batches-bin/../../evil": b"pwned"}, None, "is outside the destination"),
        (None, {"cifar-10-batches-bin/readme.html": "/etc/passwd"}, "a link to an absolute path"),
        (None, {"cifar-10-batches-bin/up": "../../.."}, "would link to"),
    ],
    ids=["dot-dot", "nested-dot-dot", "absolute-symlink", "symlink-out"],
)
def test_extract_archive_refuses_members_outside(tmp_path, rng, extra, links, match):
    archive = tmp_path / "cifar-10-binary.tar.gz"
    archive.write_bytes(cifar_archive(cifar_batches(rng), extra, links=links))
    folder = tmp_path / "out"
    folder.mkdir()
    with pytest.raises(ValueError, match=f"CIFAR-10: refusing to unpack '.*tar.gz': .*{match}"):
        cifar10.extract_archive(archive, folder)
    assert not (tmp_path / "evil").exists() and not (folder / "evil").exists()
    assert os.listdir(folder) == []  # nothing unpacked, the staging folder removed


def test_extract_archive_keeps_absolute_names_inside(tmp_path, rng):
    outside = tmp_path / "abs-evil"
    archive = tmp_path / "cifar-10-binary.tar.gz"
    archive.write_bytes(cifar_archive(cifar_batches(rng), {str(outside): b"pwned"}))
    folder = tmp_path / "out"
    folder.mkdir()
    cifar10.extract_archive(archive, folder)  # "data" strips the leading "/": lands inside
    assert not outside.exists()
    assert os.listdir(folder) == ["cifar-10-batches-bin"]


def test_extract_archive_corrupt(tmp_path, rng):
    archive = tmp_path / "cifar-10-binary.tar.gz"
    archive.write_bytes(cifar_archive(cifar_batches(rng))[:-2000])
    with pytest.raises(ValueError, match="corrupt archive '.*cifar-10-binary.tar.gz'"):
        cifar10.extract_archive(archive, tmp_path)
    archive.write_bytes(b"not an archive")
    with pytest.raises(ValueError, match="corrupt archive"):
        cifar10.extract_archive(archive, tmp_path)
    assert os.listdir(tmp_path) == ["cifar-10-binary.tar.gz"]


def test_extract_archive_missing_batch(tmp_path, rng):
    batches = cifar_batches(rng)
    del batches["test_batch.bin"]
    archive = tmp_path / "cifar-10-binary.tar.gz"
    archive.write_bytes(cifar_archive(batches))
    with pytest.raises(ValueError, match=r"lacks test_batch.bin in 'cifar-10-batches-bin/'"):
        cifar10.extract_archive(archive, tmp_path)


# ------------------------------------------------------------------------------ load_data()
def cache(home):
    return home / ".glassnet" / "datasets" / "cifar10"


def test_load_data_downloads_and_unpacks(server, monkeypatch, rng, offline_and_homeless):
    batches = cifar_batches(rng)
    serve(server, monkeypatch, cifar10, {cifar10.ARCHIVE: cifar_archive(batches)}, "~kriz/")
    for got, want in zip(flat(cifar10.load_data()), joined(batches), strict=True):
        np.testing.assert_array_equal(got, want)
    assert server.requests == ["/~kriz/cifar-10-binary.tar.gz"]
    # Unpacked, and the verified archive deleted once unpacked.
    assert os.listdir(cache(offline_and_homeless)) == ["cifar-10-batches-bin"]
    cifar10.load_data()
    assert len(server.requests) == 1


def test_load_data_uses_an_archive_put_by_hand(rng, offline_and_homeless):
    batches = cifar_batches(rng)
    folder = cache(offline_and_homeless)
    folder.mkdir(parents=True)
    (folder / cifar10.ARCHIVE).write_bytes(cifar_archive(batches))
    (x_train, _), _ = cifar10.load_data()  # the mirrors are unreachable: no download
    np.testing.assert_array_equal(x_train, joined(batches)[0])
    assert sorted(os.listdir(folder)) == ["cifar-10-batches-bin", cifar10.ARCHIVE]  # kept


def test_load_data_uses_batch_files_put_by_hand(rng, offline_and_homeless):
    want = write_cifar(cache(offline_and_homeless), rng)  # loose in the folder
    for got, expected in zip(flat(cifar10.load_data()), want, strict=True):
        np.testing.assert_array_equal(got, expected)


def test_load_data_refuses_a_malicious_download(server, monkeypatch, rng, offline_and_homeless):
    archive = cifar_archive(cifar_batches(rng), {"../evil": b"pwned"})
    serve(server, monkeypatch, cifar10, {cifar10.ARCHIVE: archive})
    with pytest.raises(ValueError, match="refusing to unpack"):
        cifar10.load_data()
    assert not (cache(offline_and_homeless) / "evil").exists()
    assert not (cache(offline_and_homeless).parent / "evil").exists()
    assert not (cache(offline_and_homeless) / "cifar-10-batches-bin").exists()


def test_load_data_offline(offline_and_homeless):
    with pytest.raises(DatasetDownloadError) as info:
        cifar10.load_data()
    message = str(info.value)
    assert message.startswith("CIFAR-10: could not download 'cifar-10-binary.tar.gz'")
    assert f"put them in the folder '{cache(offline_and_homeless)}'" in message
    assert "cifar-10-binary.tar.gz (or the 'cifar-10-batches-bin' folder unpacked" in message
    assert "glassnet.datasets.cifar10.load_data(path=...)" in message


def test_load_data_checksum_mismatch(server, monkeypatch, rng, offline_and_homeless):
    serve(server, monkeypatch, cifar10, {cifar10.ARCHIVE: cifar_archive(cifar_batches(rng))})
    server.files["/cifar-10-binary.tar.gz"] = b"tampered"
    with pytest.raises(ChecksumError, match="checksum mismatch for 'cifar-10-binary.tar.gz'"):
        cifar10.load_data()
    assert os.listdir(cache(offline_and_homeless)) == []


def test_published_checksum_table():
    (checksum,) = cifar10.CHECKSUMS.values()
    assert list(cifar10.CHECKSUMS) == ["cifar-10-binary.tar.gz"]
    assert len(checksum.sha256) == 64 and len(checksum.md5) == 32
    assert checksum.size == 170_052_171
