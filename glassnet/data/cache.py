"""An on-disk cache of decoded images, so only the first epoch pays for JPEG decoding.

The first complete pass over a dataset writes every decoded, resized image (uint8) into one
``.npy`` file opened with ``np.lib.format.open_memmap`` — under a temporary name, renamed into
place only when every row is written, so a half-written cache is never read. Later epochs (and
later runs) read rows from the memory map; the operating system keeps the hot pages in RAM and
the process holds only the batches it is using.

The file name is ``<dataset>-<key>.npy``. ``<key>`` hashes the file list in dataset order with
each file's size and modification time, and the preprocessing settings: change, add or remove a
photo, or change ``image_size``, and the key changes, so a stale cache is never reused.
``<dataset>`` hashes the folder, the subset and the settings; when a new cache of the same
dataset is complete, the stale ones are deleted. Files are plain arrays, read with
``allow_pickle=False``.

Size on disk: ``N × height × width × channels`` bytes (20,000 images at 64×64 RGB: 246 MB).
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import secrets
import shutil
import warnings
from typing import Any

import numpy as np

from glassnet.data.directory import DatasetWarning

__all__ = ["DecodedCache", "cache_folder", "default_cache_folder"]


def default_cache_folder() -> str:
    """``$GLASSNET_CACHE_DIR``, else ``~/.glassnet/cache``."""
    return os.environ.get("GLASSNET_CACHE_DIR") or os.path.join(
        os.path.expanduser("~"), ".glassnet", "cache"
    )


def cache_folder(cache: Any, what: str) -> str | None:
    """The folder a ``cache=`` argument names: None/False → None, True → the default."""
    if cache is None or cache is False:
        return None
    if cache is True:
        return default_cache_folder()
    if isinstance(cache, (str, os.PathLike)):
        return os.fspath(cache)
    raise TypeError(
        f"{what}: 'cache' must be None, True or a folder path. Received: cache={cache!r}"
    )


def _digest(payload: Any) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


class DecodedCache:
    """The cache file of one dataset: ``load`` a complete one, or ``start`` writing one.

    Args:
        folder: where cache files live (created if needed).
        identity: what makes this dataset this dataset (folder, subset, settings) — JSON-safe.
        paths: the dataset's files, in dataset order (row ``i`` is ``paths[i]``).
        preprocessing: the settings the rows were decoded with.
        shape: ``(N, height, width, channels)``.
    """

    def __init__(
        self,
        folder: str,
        identity: Any,
        paths: list[str],
        preprocessing: dict[str, Any],
        shape: tuple[int, ...],
    ) -> None:
        self.folder, self.shape = os.fspath(folder), tuple(shape)
        stats = []
        for path in paths:
            st = os.stat(path)
            stats.append([os.path.abspath(path), st.st_size, st.st_mtime_ns])
        self.prefix = "images-" + _digest([identity, preprocessing])[:16]
        key = _digest({"version": 1, "files": stats, "preprocessing": preprocessing})[:24]
        self.path = os.path.join(self.folder, f"{self.prefix}-{key}.npy")

    def load(self) -> np.ndarray | None:
        """The complete cache as a read-only memory map, or None when there is none (or it
        is unreadable or the wrong shape, which is warned about and then rebuilt)."""
        if not os.path.exists(self.path):
            return None
        try:
            rows = np.load(self.path, mmap_mode="r", allow_pickle=False)
        except (OSError, ValueError) as err:
            self._warn(f"the image cache '{self.path}' is unreadable ({err}); rebuilding it")
            return None
        if rows.shape != self.shape or rows.dtype != np.uint8:
            self._warn(
                f"the image cache '{self.path}' holds {rows.shape} {rows.dtype}, expected "
                f"{self.shape} uint8; rebuilding it"
            )
            return None
        return rows

    def start(self) -> CacheWriter | None:
        """A writer for a new cache file, or None (with a warning) when the folder cannot be
        written or the disk is too full: training then simply runs without a cache."""
        needed = int(np.prod(self.shape, dtype=np.int64))
        try:
            os.makedirs(self.folder, exist_ok=True)
            free = shutil.disk_usage(self.folder).free
            if free < needed + 64 * 2**20:
                self._warn(
                    f"not caching decoded images: they need {needed / 2**20:,.0f} MiB and "
                    f"'{self.folder}' has {free / 2**20:,.0f} MiB free"
                )
                return None
            return CacheWriter(self, needed)
        except OSError as err:
            self._warn(f"not caching decoded images: cannot write to '{self.folder}' ({err})")
            return None

    def _warn(self, message: str) -> None:
        warnings.warn(message + ".", DatasetWarning, stacklevel=4)


class CacheWriter:
    """Rows written by the decoding threads into a temporary ``.npy``; ``commit`` renames it
    into place once a whole pass wrote every row, ``abort`` deletes it."""

    def __init__(self, cache: DecodedCache, nbytes: int) -> None:
        self.cache = cache
        self.tmp = f"{cache.path}.{os.getpid()}-{secrets.token_hex(4)}.tmp"
        self.rows: np.ndarray | None = np.lib.format.open_memmap(
            self.tmp, mode="w+", dtype=np.uint8, shape=cache.shape
        )

    def commit(self) -> None:
        rows, self.rows = self.rows, None
        try:
            rows.flush()
            del rows  # unmap before the rename
            os.replace(self.tmp, self.cache.path)
        except OSError as err:
            self.abort()
            self.cache._warn(f"could not complete the image cache '{self.cache.path}' ({err})")
            return
        pattern = os.path.join(glob.escape(self.cache.folder), f"{self.cache.prefix}-*.npy")
        for stale in glob.glob(pattern):
            if stale != self.cache.path:
                try:
                    os.remove(stale)
                except OSError:
                    pass  # another process may be using it; it is only disk space

    def abort(self) -> None:
        self.rows = None
        try:
            os.remove(self.tmp)
        except OSError:
            pass
