"""The backend: its process-level setting (glibc keeps freed memory for the next training step),
its pixel-at-a-time copy, and its control of the BLAS threads."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from collections.abc import Callable

import numpy as np
import pytest
import threadpoolctl

from glassnet import parallel
from glassnet.backend import copy_by_pixel
from glassnet.memory import keep_freed_memory, release_freed_memory

glibc = pytest.mark.skipif(
    platform.system() != "Linux" or platform.libc_ver()[0] != "glibc", reason="glibc only"
)


@glibc
def test_keep_freed_memory_sets_and_restores_glibc_thresholds():
    assert keep_freed_memory(False) is True  # glibc's defaults back
    assert keep_freed_memory(True) is True


@glibc
def test_release_freed_memory_hands_kept_memory_back():
    def resident_mib() -> float:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20

    keep_freed_memory(True)
    blocks = [np.ones(1 << 17) for _ in range(200)]  # 200 MiB of 1 MiB blocks, on the heap
    del blocks  # freed, but kept by the allocator
    kept = resident_mib()
    assert release_freed_memory() is True
    assert resident_mib() < kept - 100


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
        "import glassnet\n"
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


# ------------------------------------------------------------------ BLAS threads
needs_blas = pytest.mark.skipif(
    parallel._blas() is None, reason="no BLAS that threadpoolctl can steer"
)


@needs_blas
def test_blas_on_one_thread_sets_one_and_puts_the_setting_back():
    with threadpoolctl.threadpool_limits(2, user_api="blas"):
        assert parallel.blas_threads() == 2
        with parallel.blas_on_one_thread() as took:
            assert took is True
            assert parallel.blas_threads() == 1
        assert parallel.blas_threads() == 2


@needs_blas
def test_blas_on_one_thread_restores_after_an_error():
    with threadpoolctl.threadpool_limits(2, user_api="blas"):
        with pytest.raises(RuntimeError), parallel.blas_on_one_thread():
            raise RuntimeError("boom")
        assert parallel.blas_threads() == 2


@needs_blas
def test_a_second_block_meanwhile_is_refused_and_changes_nothing():
    """One block holds the process-wide setting at a time: a second one (from another thread,
    or nested) yields False, and leaving it must not restore anything early."""
    with threadpoolctl.threadpool_limits(2, user_api="blas"):
        with parallel.blas_on_one_thread() as first:
            with parallel.blas_on_one_thread() as second:
                assert (first, second) == (True, False)
            assert parallel.blas_threads() == 1  # still the first block's setting
        assert parallel.blas_threads() == 2


def test_without_a_blas_to_steer_nothing_changes(monkeypatch):
    monkeypatch.setattr(parallel, "_blas", lambda: None)
    assert parallel.blas_threads() == 1
    with parallel.blas_on_one_thread() as took:
        assert took is False
    parallel.one_blas_thread_here()  # nothing to do, no error


class _FakeLib:
    def __init__(self, layer: str) -> None:
        self.threading_layer, self.calls = layer, []

    def set_num_threads(self, n: int) -> None:
        self.calls.append(n)


class _FakeBlas:
    def __init__(self, *libs: _FakeLib) -> None:
        self.lib_controllers = list(libs)


def test_one_blas_thread_here_only_touches_per_thread_settings(monkeypatch):
    """OpenMP builds keep one thread count per calling thread, so a worker must set its own;
    OpenBLAS's pthreads pool is shared and steered by blas_on_one_thread alone."""
    openmp, pthreads = _FakeLib("openmp"), _FakeLib("pthreads")
    monkeypatch.setattr(parallel, "_blas", lambda: _FakeBlas(openmp, pthreads))
    parallel.one_blas_thread_here()
    assert openmp.calls == [1]
    assert pthreads.calls == []


def _record_shares(log: list) -> Callable[[slice], list[int]]:
    import threading

    def work(share: slice) -> list[int]:
        log.append((threading.current_thread().name, share, parallel.blas_threads()))
        return list(range(share.start, share.stop))

    return work


@needs_blas
def test_split_over_cores_runs_contiguous_shares_side_by_side():
    import threading

    log: list = []
    with threadpoolctl.threadpool_limits(2, user_api="blas"):
        results = parallel.split_over_cores(_record_shares(log), 7)
        assert parallel.blas_threads() == 2
    assert results == [[0, 1, 2, 3], [4, 5, 6]]  # in order, each item once
    threads = {name for name, _, _ in log}
    assert len(threads) == 2
    assert threading.current_thread().name in threads  # the caller takes a share itself
    assert {blas for _, _, blas in log} == {1}


@needs_blas
def test_split_over_cores_runs_in_order_when_it_cannot_pay():
    log: list = []
    with threadpoolctl.threadpool_limits(1, user_api="blas"):
        assert parallel.split_over_cores(_record_shares(log), 5) == [[0, 1, 2, 3, 4]]
    with threadpoolctl.threadpool_limits(2, user_api="blas"):
        assert parallel.split_over_cores(_record_shares(log), 1) == [[0]]
        with parallel.blas_on_one_thread():  # held elsewhere, e.g. an outer split
            assert parallel.split_over_cores(_record_shares(log), 4) == [[0, 1, 2, 3]]
    assert len({name for name, _, _ in log}) == 1


@needs_blas
def test_split_over_cores_passes_errors_on_and_restores_the_blas():
    def work(share: slice) -> None:
        if share.start > 0:
            raise ValueError("second share failed")

    with threadpoolctl.threadpool_limits(2, user_api="blas"):
        with pytest.raises(ValueError, match="second share"):
            parallel.split_over_cores(work, 4)
        assert parallel.blas_threads() == 2


@needs_blas
@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork only")
def test_a_forked_child_gets_threads_of_its_own():
    """The parent's worker threads do not survive fork; a child using the parent's pool would
    wait for them forever. The child must start its own (and finish)."""
    import multiprocessing

    with threadpoolctl.threadpool_limits(2, user_api="blas"):
        assert len(parallel.split_over_cores(_record_shares([]), 4)) == 2  # the parent's pool

        def child() -> None:
            results = parallel.split_over_cores(_record_shares([]), 4)
            os._exit(0 if results == [[0, 1], [2, 3]] else 1)

        process = multiprocessing.get_context("fork").Process(target=child)
        process.start()
        process.join(timeout=60)
        if process.is_alive():
            process.kill()
            pytest.fail("the forked child hung on the parent's worker threads")
        assert process.exitcode == 0
