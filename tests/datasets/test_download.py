"""Downloads against a real HTTP server on 127.0.0.1: verified, atomic, and clear when offline."""

from __future__ import annotations

import contextlib
import io
import os
import socket
import urllib.error

import pytest

from glassnet.datasets import ChecksumError, DatasetDownloadError, _download, data_home
from glassnet.datasets._download import Checksum, download
from tests.datasets.conftest import closed_port_url
from tests.datasets.formats import checksum_of

PAYLOAD = bytes(range(256)) * 40  # 10,240 bytes: several chunks once CHUNK is made small


def fetch(folder, mirrors, checksums, names=("a.bin",)):
    return download(
        "Test",
        os.fspath(folder),
        list(names),
        mirrors,
        checksums,
        by_hand=["a.bin", "b.bin"],
        loader="test.load_data",
    )


def leftovers(folder) -> list[str]:
    return sorted(os.listdir(folder)) if os.path.isdir(folder) else []


# ------------------------------------------------------------------------------ where files go
def test_data_home_defaults_to_home(offline_and_homeless):
    assert data_home() == os.path.join(offline_and_homeless, ".glassnet", "datasets")


def test_data_home_follows_the_environment_variable(tmp_path, monkeypatch):
    monkeypatch.setenv("GLASSNET_DATA", str(tmp_path / "elsewhere"))
    assert data_home() == str(tmp_path / "elsewhere")
    monkeypatch.setenv("GLASSNET_DATA", "~/data")  # ~ is expanded
    assert data_home() == os.path.join(os.environ["HOME"], "data")


# ------------------------------------------------------------------------------ success
def test_download_verifies_and_renames_into_place(tmp_path, server, monkeypatch):
    monkeypatch.setattr(_download, "CHUNK", 1000)
    server.files["/a.bin"] = PAYLOAD
    folder = tmp_path / "new" / "folder"  # created on demand
    paths = fetch(folder, [server.url], {"a.bin": checksum_of(PAYLOAD)})
    assert paths == [str(folder / "a.bin")]
    assert (folder / "a.bin").read_bytes() == PAYLOAD
    assert leftovers(folder) == ["a.bin"]  # the temporary file was renamed, not copied
    assert server.requests == ["/a.bin"]


def test_download_never_shows_a_final_name_before_verification(tmp_path, server, monkeypatch):
    """While bytes arrive they go to a hidden .part file beside the target; the target's name
    appears only after the checksum matched (os.replace)."""
    server.files["/a.bin"] = PAYLOAD
    monkeypatch.setattr(_download, "CHUNK", 1000)
    seen = []

    @contextlib.contextmanager
    def spying_progress(label, url, total):
        yield lambda n: seen.append(leftovers(tmp_path))

    monkeypatch.setattr(_download, "_progress", spying_progress)
    fetch(tmp_path, [server.url], {"a.bin": checksum_of(PAYLOAD)})
    assert len(seen) == 11
    for names in seen:
        assert "a.bin" not in names
        assert len(names) == 1 and names[0].startswith(".a.bin.") and names[0].endswith(".part")
    assert leftovers(tmp_path) == ["a.bin"]


def test_download_falls_back_to_the_next_mirror(tmp_path, server):
    server.files["/second/a.bin"] = PAYLOAD
    mirrors = [server.url + "first/", server.url + "second/"]
    fetch(tmp_path, mirrors, {"a.bin": checksum_of(PAYLOAD)})
    assert server.requests == ["/first/a.bin", "/second/a.bin"]  # 404, then found
    assert (tmp_path / "a.bin").read_bytes() == PAYLOAD


def test_download_sha256_only(tmp_path, server):
    server.files["/a.bin"] = PAYLOAD
    fetch(tmp_path, [server.url], {"a.bin": checksum_of(PAYLOAD, md5=False)})
    assert (tmp_path / "a.bin").read_bytes() == PAYLOAD


# ------------------------------------------------------------------------------ progress
def test_progress_bar_on_a_terminal(tmp_path, server, monkeypatch):
    from rich.console import Console

    output = io.StringIO()
    monkeypatch.setattr(
        _download, "_console", lambda: Console(file=output, force_terminal=True, width=100)
    )
    server.files["/a.bin"] = PAYLOAD
    fetch(tmp_path, [server.url], {"a.bin": checksum_of(PAYLOAD)})
    text = output.getvalue()
    assert "Test a.bin" in text and "10.2" in text  # the label and the size (10.2 kB)


def test_one_line_when_not_a_terminal(tmp_path, server, capsys):
    server.files["/a.bin"] = PAYLOAD
    fetch(tmp_path, [server.url], {"a.bin": checksum_of(PAYLOAD)})
    captured = capsys.readouterr()
    assert captured.out == ""  # standard output is left to the program
    assert f"Test a.bin: downloading {server.url}a.bin" in captured.err


# ------------------------------------------------------------------------------ failures
@pytest.mark.parametrize("wrong", ["sha256", "md5"])
def test_checksum_mismatch_keeps_nothing(tmp_path, server, wrong):
    server.files["/a.bin"] = PAYLOAD
    good = checksum_of(PAYLOAD)
    bad = Checksum(
        sha256="0" * 64 if wrong == "sha256" else good.sha256,
        md5="0" * 32 if wrong == "md5" else good.md5,
        size=good.size,
    )
    with pytest.raises(ChecksumError) as info:
        fetch(tmp_path, [server.url], {"a.bin": bad})
    message = str(info.value)
    assert isinstance(info.value, DatasetDownloadError) and isinstance(info.value, OSError)
    assert "checksum mismatch for 'a.bin'" in message
    assert f"expected {wrong}={getattr(bad, wrong)}" in message
    assert f"received {wrong}={getattr(good, wrong)}" in message
    assert "10,240 bytes" in message and "the download was deleted" in message
    assert leftovers(tmp_path) == []  # neither the file nor its temporary


def test_oversized_download_is_stopped(tmp_path, server, monkeypatch):
    monkeypatch.setattr(_download, "CHUNK", 1000)
    server.files["/a.bin"] = PAYLOAD
    small = Checksum(sha256="0" * 64, size=2500)
    with pytest.raises(ChecksumError, match="delivers more than the published 2,500 bytes"):
        fetch(tmp_path, [server.url], {"a.bin": small})
    assert leftovers(tmp_path) == []


def test_checksum_mismatch_then_good_mirror(tmp_path, server):
    server.files["/bad/a.bin"] = b"an HTML error page"
    server.files["/good/a.bin"] = PAYLOAD
    fetch(tmp_path, [server.url + "bad/", server.url + "good/"], {"a.bin": checksum_of(PAYLOAD)})
    assert leftovers(tmp_path) == ["a.bin"]


def test_server_down_says_where_to_put_the_files(tmp_path):
    dead = closed_port_url()
    folder = tmp_path / "data" / "test"
    with pytest.raises(DatasetDownloadError) as info:
        fetch(folder, [dead, dead + "mirror/"], {"a.bin": checksum_of(PAYLOAD)})
    message = str(info.value)
    assert not isinstance(info.value, ChecksumError)
    assert message.startswith("Test: could not download 'a.bin' (no network")
    assert f"  - {dead}a.bin: ConnectionRefusedError" in message
    assert f"  - {dead}mirror/a.bin: ConnectionRefusedError" in message
    assert f"put them in the folder '{folder}' with exactly these names: a.bin, b.bin" in message
    assert "test.load_data(path=...)" in message and "GLASSNET_DATA" in message
    assert leftovers(folder) == []


def test_offline_message_names_the_environment_variable(tmp_path, monkeypatch):
    monkeypatch.setenv("GLASSNET_DATA", str(tmp_path))
    with pytest.raises(DatasetDownloadError, match=f"comes from GLASSNET_DATA={tmp_path}"):
        fetch(tmp_path / "test", [closed_port_url()], {"a.bin": checksum_of(PAYLOAD)})


def test_http_error_is_reported(tmp_path, server):
    with pytest.raises(DatasetDownloadError, match=r"a.bin: HTTP 404 Not Found"):
        fetch(tmp_path, [server.url], {"a.bin": checksum_of(PAYLOAD)})


def test_interrupted_download_leaves_no_file(tmp_path, server):
    server.files["/a.bin"] = PAYLOAD
    server.cut["/a.bin"] = 3000  # announces 10,240 bytes, sends 3,000, closes
    with pytest.raises(DatasetDownloadError) as info:
        fetch(tmp_path, [server.url], {"a.bin": checksum_of(PAYLOAD)})
    assert "the connection closed after 3,000 of 10,240 bytes" in str(info.value)
    assert not isinstance(info.value, ChecksumError)
    assert leftovers(tmp_path) == []


def test_silent_server_times_out(tmp_path, monkeypatch):
    monkeypatch.setattr(_download, "TIMEOUT", 0.2)
    with socket.socket() as listener:  # accepts connections (backlog) but never answers
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        url = f"http://127.0.0.1:{listener.getsockname()[1]}/"
        with pytest.raises(DatasetDownloadError, match=r"no answer within 0.2 s \(timed out\)"):
            fetch(tmp_path, [url], {"a.bin": checksum_of(PAYLOAD)})
    assert leftovers(tmp_path) == []


def test_ctrl_c_during_download_leaves_no_file(tmp_path, server, monkeypatch):
    server.files["/a.bin"] = PAYLOAD

    @contextlib.contextmanager
    def interrupted(label, url, total):
        def advance(n):
            raise KeyboardInterrupt

        yield advance

    monkeypatch.setattr(_download, "_progress", interrupted)
    with pytest.raises(KeyboardInterrupt):
        fetch(tmp_path, [server.url], {"a.bin": checksum_of(PAYLOAD)})
    assert leftovers(tmp_path) == []


def test_folder_that_cannot_be_created(tmp_path):
    (tmp_path / "file").write_bytes(b"")
    with pytest.raises(DatasetDownloadError, match=r"cannot create the folder '.*file/sub'"):
        fetch(tmp_path / "file" / "sub", [closed_port_url()], {"a.bin": checksum_of(PAYLOAD)})


def test_dns_failure_reason():
    err = urllib.error.URLError(socket.gaierror(-2, "Name or service not known"))
    assert _download._reason(err) == "gaierror: [Errno -2] Name or service not known"
    assert _download._reason(urllib.error.URLError("unknown url type: x")) == (
        "unknown url type: x"
    )
