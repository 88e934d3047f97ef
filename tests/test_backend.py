"""The backend: its process-level setting (glibc keeps freed memory for the next training step)
and its pixel-at-a-time copy."""

from __future__ import annotations

import os
import platform
import subprocess
import sys

import numpy as np
import pytest

from glassnet.backend import copy_by_pixel, keep_freed_memory

glibc = pytest.mark.skipif(
    platform.system() != "Linux" or platform.libc_ver()[0] != "glibc", reason="glibc only"
)


@glibc
def test_keep_freed_memory_sets_and_restores_glibc_thresholds():
    assert keep_freed_memory(False) is True  # glibc's defaults back
    assert keep_freed_memory(True) is True


@pytest.mark.parametrize(("value", "called"), [("0", False), ("1", True)])
def test_the_environment_variable_decides_whether_import_sets_it(value, called):
    code = (
        "import ctypes, ctypes.util\n"
        "calls = []\n"
        "real = ctypes.CDLL\n"
        "class Spy:\n"
        "    def __init__(self, *a, **k): self.lib = real(*a, **k)\n"
        "    def __getattr__(self, name):\n"
        "        calls.append(name)\n"
        "        return getattr(self.lib, name)\n"
        "ctypes.CDLL = Spy\n"
        "import glassnet.backend\n"
        "print('mallopt' in calls)\n"
    )
    env = {**os.environ, "GLASSNET_KEEP_FREED_MEMORY": value}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    ).stdout.strip()
    on_glibc = platform.system() == "Linux" and platform.libc_ver()[0] == "glibc"
    assert out == str(called and on_glibc)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_copy_by_pixel_equals_assignment_for_strided_views(dtype):
    """Moving whole pixels gives what ``dst[...] = src`` gives: from a transposed tap view into
    contiguous planes, back into a strided view, and for windows that overlap (im2col)."""
    x = np.arange(4 * 6 * 8 * 5, dtype=dtype).reshape(4, 6, 8, 5)
    taps = x.reshape(4, 3, 2, 4, 2, 5).transpose(2, 4, 0, 1, 3, 5)
    planes = np.empty(taps.shape, dtype)
    copy_by_pixel(planes, taps)
    np.testing.assert_array_equal(planes, taps)
    back = np.zeros_like(x)
    copy_by_pixel(back.reshape(4, 3, 2, 4, 2, 5).transpose(2, 4, 0, 1, 3, 5), planes)
    np.testing.assert_array_equal(back, x)
    windows = np.lib.stride_tricks.sliding_window_view(x, (3, 3), axis=(1, 2))
    windows = windows.transpose(0, 1, 2, 4, 5, 3)  # (N, Ho, Wo, 3, 3, C), channels last
    cols = np.empty(windows.shape, dtype)
    copy_by_pixel(cols, windows)
    np.testing.assert_array_equal(cols, windows)


def test_copy_by_pixel_falls_back_when_channels_are_not_contiguous():
    """A last axis with a stride, a broadcast source or another dtype: a plain assignment."""
    x = np.arange(2 * 3 * 8, dtype=np.float32).reshape(2, 3, 8)
    dst = np.empty((2, 3, 4), np.float32)
    copy_by_pixel(dst, x[..., ::2])
    np.testing.assert_array_equal(dst, x[..., ::2])
    copy_by_pixel(dst, np.float32(7))
    assert (dst == 7).all()
    copy_by_pixel(dst, x[..., :4].astype(np.float64))
    np.testing.assert_array_equal(dst, x[..., :4])
