"""Downloading the standard datasets: where they go, checksums, an atomic write.

Files go to ``~/.glassnet/datasets/<dataset>/`` (``mnist``, ``fashion_mnist``, ``cifar10``), or
to ``$GLASSNET_DATA/<dataset>/`` when the environment variable ``GLASSNET_DATA`` is set.

A download is written to a hidden temporary file in that same folder while its SHA-256 (and MD5,
where that is what is published) is computed, and renamed into place with ``os.replace`` only
after the digests match the published ones. So a failed, corrupt or interrupted download never
leaves a file that looks complete: the temporary file is deleted, and the next call starts
again. Without a network the error names the addresses tried, the folder, and the exact file
names to put there by hand.

Only files that are missing are downloaded. Files already in the folder (for instance put there
by hand) are read as they are: the readers check their structure, and a checksum would reject
copies that are byte-for-byte different but hold the same data (Debian's Fashion-MNIST package
re-writes the gzip headers, for example).
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import os
import sys
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass

__all__ = [
    "ENV_VAR",
    "Checksum",
    "ChecksumError",
    "DatasetDownloadError",
    "data_home",
    "dataset_folder",
    "download",
]

ENV_VAR = "GLASSNET_DATA"
DEFAULT_HOME = os.path.join("~", ".glassnet", "datasets")
TIMEOUT = 30.0  # seconds a server may stay silent before the next address is tried
CHUNK = 1 << 16
USER_AGENT = "glassnet-datasets (Python urllib)"


@dataclass(frozen=True)
class Checksum:
    """The published identity of one file: its SHA-256, and its MD5 and size where published.

    Every digest given must match; ``size`` makes the message clearer when a file is cut short.
    """

    sha256: str
    md5: str | None = None
    size: int | None = None

    def digests(self) -> dict[str, str]:
        return {"sha256": self.sha256} | ({"md5": self.md5} if self.md5 else {})


class DatasetDownloadError(OSError):
    """A dataset file could not be downloaded: no network, a server error, a broken connection.

    The message names every address tried and why it failed, the folder and the exact file names
    to put there by hand, and how to pass ``path=`` instead.
    """


class ChecksumError(DatasetDownloadError):
    """A downloaded file does not match its published checksum. It was deleted, not kept."""


def data_home() -> str:
    """The folder that holds one sub-folder per dataset: ``$GLASSNET_DATA`` if set, else
    ``~/.glassnet/datasets``."""
    root = os.environ.get(ENV_VAR) or DEFAULT_HOME
    return os.path.abspath(os.path.expanduser(root))


def dataset_folder(name: str) -> str:
    """Where the files of dataset ``name`` (``"mnist"``, ``"cifar10"`` ...) are kept."""
    return os.path.join(data_home(), name)


# ------------------------------------------------------------------------------ failures
class _Failure(Exception):
    """One address that did not deliver the file; ``str()`` says why, for the final message."""


class _Mismatch(_Failure):
    pass


def _reason(err: BaseException) -> str:
    """A short, human reason for a network error (urllib nests the interesting part)."""
    import urllib.error

    if isinstance(err, urllib.error.HTTPError):
        return f"HTTP {err.code} {err.reason}"
    if isinstance(err, urllib.error.URLError):
        if not isinstance(err.reason, BaseException):
            return str(err.reason)
        err = err.reason
    if isinstance(err, TimeoutError):
        return f"no answer within {TIMEOUT:g} s (timed out)"
    return f"{type(err).__name__}: {err}"


# ------------------------------------------------------------------------------ progress
def _console():
    """The console progress goes to (standard error); a function so tests can swap it."""
    from rich.console import Console

    return Console(stderr=True)


@contextlib.contextmanager
def _progress(label: str, url: str, total: int | None) -> Iterator[Callable[[int], None]]:
    """Yield ``advance(n_bytes)``: a rich progress bar on a terminal, one line otherwise."""
    console = _console()
    if not console.is_terminal:
        print(f"{label}: downloading {url}", file=sys.stderr)
        yield lambda n: None
        return
    from rich import progress as rp

    columns = (
        rp.TextColumn("{task.description}"),
        rp.BarColumn(),
        rp.DownloadColumn(),
        rp.TransferSpeedColumn(),
        rp.TimeRemainingColumn(),
    )
    with rp.Progress(*columns, console=console) as progress:
        task = progress.add_task(label, total=total)
        yield lambda n: progress.advance(task, n)


# ------------------------------------------------------------------------------ one address
def _fetch(url: str, out, checksum: Checksum, label: str) -> tuple[int, dict[str, str]]:
    """Stream ``url`` into the open file ``out``; return (bytes received, digests).

    Network trouble raises ``_Failure``; trouble writing the local file propagates as it is.
    """
    import urllib.request

    hashers = {name: hashlib.new(name) for name in checksum.digests()}
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    try:
        response = urllib.request.urlopen(request, timeout=TIMEOUT)
    except (OSError, http.client.HTTPException, ValueError) as err:
        raise _Failure(_reason(err)) from err
    with response:
        length = response.headers.get("Content-Length", "")
        announced = int(length) if length.isdigit() else None
        received = 0
        with _progress(label, url, announced or checksum.size) as advance:
            while True:
                try:
                    chunk = response.read(CHUNK)
                except (OSError, http.client.HTTPException) as err:
                    raise _Failure(
                        f"the connection broke after {received:,} bytes ({_reason(err)})"
                    ) from err
                if not chunk:
                    break
                if checksum.size is not None and received + len(chunk) > checksum.size:
                    # Not the published file: stop before a wrong answer can fill the disk.
                    raise _Mismatch(
                        f"'{url}' delivers more than the published {checksum.size:,} bytes of "
                        "this file; the download was stopped and deleted"
                    )
                out.write(chunk)
                for hasher in hashers.values():
                    hasher.update(chunk)
                received += len(chunk)
                advance(len(chunk))
    # http.client ends a body that stops short of its Content-Length without an error.
    if announced is not None and received < announced:
        raise _Failure(f"the connection closed after {received:,} of {announced:,} bytes")
    return received, {name: hasher.hexdigest() for name, hasher in hashers.items()}


def _download_one(url: str, target: str, checksum: Checksum, label: str) -> None:
    """Download ``url`` to ``target`` through a temporary file, renamed only once verified."""
    folder, name = os.path.split(target)
    part = os.path.join(folder, f".{name}.{uuid.uuid4().hex[:8]}.part")
    try:
        with open(part, "xb") as out:
            received, actual = _fetch(url, out, checksum, label)
            out.flush()
            os.fsync(out.fileno())
        wrong = [alg for alg, want in checksum.digests().items() if actual[alg] != want.lower()]
        if wrong:
            expected = ", ".join(f"{alg}={checksum.digests()[alg]}" for alg in wrong)
            got = ", ".join(f"{alg}={actual[alg]}" for alg in wrong)
            size = f"; expected {checksum.size:,}" if checksum.size else ""
            raise _Mismatch(
                f"checksum mismatch for '{name}': expected {expected}, received {got} "
                f"({received:,} bytes{size}); the download was deleted"
            )
        os.replace(part, target)
    finally:
        # Whatever went wrong (an error, a mismatch, Ctrl-C), no partial file is left behind.
        with contextlib.suppress(FileNotFoundError):
            os.remove(part)


# ------------------------------------------------------------------------------ the public helper
def download(
    title: str,
    folder: str,
    names: Sequence[str],
    mirrors: Sequence[str],
    checksums: Mapping[str, Checksum],
    *,
    by_hand: Sequence[str],
    loader: str,
) -> list[str]:
    """Download each of ``names`` into ``folder``, trying ``mirror + name`` for each mirror in
    turn; verify each against ``checksums[name]``.

    Args:
        title: the dataset's name in messages, e.g. ``"Fashion-MNIST"``.
        folder: where the files go (created if needed).
        names: the files to download.
        mirrors: base addresses ending in ``/``, first choice first.
        checksums: the published checksum of every name.
        by_hand: what to tell a user without a network to put in ``folder``.
        loader: the function to call with ``path=``, e.g. ``"mnist.load_data"``.

    Returns:
        The paths of the downloaded files.

    Raises:
        ChecksumError: some address delivered a file with the wrong checksum (deleted).
        DatasetDownloadError: no address delivered the file (no network, server errors).
    """
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as err:
        raise DatasetDownloadError(
            f"{title}: cannot create the folder '{folder}' for the download ({err}). Set "
            f"{ENV_VAR} to a folder you can write to, or pass the folder that holds the files: "
            f"{loader}(path=...)."
        ) from err
    paths = []
    for name in names:
        target = os.path.join(folder, name)
        failures: list[tuple[str, _Failure]] = []
        for mirror in mirrors:
            url = mirror + name
            try:
                _download_one(url, target, checksums[name], f"{title} {name}")
            except _Failure as failure:
                failures.append((url, failure))
                continue
            paths.append(target)
            break
        else:
            raise _error(title, folder, name, failures, by_hand, loader, mirrors)
    return paths


def _error(title, folder, name, failures, by_hand, loader, mirrors) -> DatasetDownloadError:
    tried = "\n".join(f"  - {url}: {failure}" for url, failure in failures)
    sources = " or ".join(mirrors)
    root = os.environ.get(ENV_VAR)
    where = (
        f"(The folder comes from {ENV_VAR}={root}.)"
        if root
        else f"Set {ENV_VAR} to keep datasets somewhere other than {DEFAULT_HOME}."
    )
    manual = (
        f"Without a network here, download the files on a machine that has one (from "
        f"{sources}) and put them in the folder '{folder}' with exactly these names: "
        f"{', '.join(by_hand)}.\nOr pass the folder that holds them: {loader}(path=...). {where}"
    )
    if any(isinstance(failure, _Mismatch) for _, failure in failures):
        return ChecksumError(
            f"{title}: the download of '{name}' does not match its published checksum, so "
            f"nothing was kept. Tried:\n{tried}\nTry again later; if it persists, the server "
            f"delivers a different file.\n{manual}"
        )
    return DatasetDownloadError(
        f"{title}: could not download '{name}' (no network, or the server is down). "
        f"Tried:\n{tried}\n{manual}"
    )
