"""The C allocator's settings: freed memory kept for the next training step.

glassnet turns this on when it is imported (``glassnet/__init__.py``);
``GLASSNET_KEEP_FREED_MEMORY=0`` in the environment keeps the C library's defaults.
"""

from __future__ import annotations

import functools
import os
from typing import Any

# glibc's mallopt parameters (malloc.h): M_TRIM_THRESHOLD -1, M_MMAP_THRESHOLD -3.
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3


def keep_freed_memory(enabled: bool = True) -> bool:
    """Let the C allocator keep freed blocks of up to 32 MiB for reuse instead of handing them
    back to the operating system (glibc on Linux; elsewhere nothing happens).

    Why: every training step allocates the same temporaries (columns, gradients) and frees
    them. By default glibc serves blocks above 128 KiB with fresh ``mmap`` pages and trims the
    heap as soon as it shrinks, so each step pays page faults to get that memory zeroed and
    mapped again — on LeNet-5 at batch 64, half of the step. Kept, the next step reuses it. The
    cost is that up to 256 MiB of freed memory may stay in the process. glassnet turns this on
    when imported; ``GLASSNET_KEEP_FREED_MEMORY=0`` in the environment keeps the defaults, and
    ``keep_freed_memory(False)`` restores glibc's defaults. Returns True if the setting took.
    """
    import ctypes

    libc = _glibc()
    if libc is None:
        return False
    mallopt = libc.mallopt
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    # glibc's defaults: 128 KiB for both (the mmap threshold then adapts by itself).
    mmap, trim = (32 << 20, 256 << 20) if enabled else (128 << 10, 128 << 10)
    return bool(mallopt(_M_MMAP_THRESHOLD, mmap)) and bool(mallopt(_M_TRIM_THRESHOLD, trim))


def release_freed_memory() -> bool:
    """Hand the freed memory the allocator keeps back to the operating system, once (glibc's
    ``malloc_trim``; elsewhere nothing happens). Returns True if any went back.

    For when the work moves to other threads, each with its own allocator arena: what one
    thread kept for its next step would otherwise stay unused beside what the others keep
    (``fit`` moving from whole batches to a share per core, ``models.replay``).
    """
    libc = _glibc()
    return libc is not None and bool(libc.malloc_trim(0))


@functools.cache
def _glibc() -> Any:
    """The C library through ctypes where it is glibc (which has mallopt and malloc_trim),
    else None."""
    import ctypes
    import ctypes.util
    import platform

    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.mallopt, libc.malloc_trim  # noqa: B018 - both must exist
    except (OSError, AttributeError):  # pragma: no cover - a libc without them
        return None
    return libc


if os.environ.get("GLASSNET_KEEP_FREED_MEMORY", "1") != "0":
    keep_freed_memory()
