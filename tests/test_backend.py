"""The backend's process-level setting: glibc keeps freed memory for the next training step."""

from __future__ import annotations

import os
import platform
import subprocess
import sys

import pytest

from glassnet.backend import keep_freed_memory

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
