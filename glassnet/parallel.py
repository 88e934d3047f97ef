"""Work on every core: the BLAS's thread count, the engine's worker threads, and shares of a
batch that run side by side (``split_over_cores``) and exchange what crosses the batch
(``Share``: batch statistics, random draws).

``predict`` runs slices of a large batch this way (``models.training``) and ``fit`` replays
a step's tape half a batch per core (``models.replay``); each core's matrix products then
run on one BLAS thread.
"""

from __future__ import annotations

import contextlib
import functools
import os
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import Any


# ------------------------------------------------------------------ BLAS threads
@functools.cache
def _blas() -> Any:
    """threadpoolctl's handle on the BLAS libraries loaded in this process (NumPy's), or None
    where there is none it can steer. Found once, since scanning the loaded libraries is slow
    next to a batch-1 step."""
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:  # pragma: no cover - threadpoolctl is a dependency
        return None
    controller = ThreadpoolController().select(user_api="blas")
    return controller if controller.lib_controllers else None


def blas_threads() -> int:
    """How many threads NumPy's matrix products use now (1 where the BLAS cannot be asked).

    Set it as for any NumPy program: ``OPENBLAS_NUM_THREADS`` / ``OMP_NUM_THREADS`` before
    starting Python, or ``threadpoolctl.threadpool_limits`` at run time.
    """
    blas = _blas()
    if blas is None:
        return 1
    return max((lib.num_threads or 1) for lib in blas.lib_controllers)


_one_thread_lock = threading.Lock()


@contextlib.contextmanager
def blas_on_one_thread() -> Iterator[bool]:
    """Run the block with NumPy's BLAS on one thread, then put its setting back; yields whether
    that took.

    For code that runs several matrix products side by side on threads of its own (``predict``
    running slices of a batch on every core): a BLAS that also split each product over the
    cores would have threads fighting for them. The setting is process-wide (for OpenBLAS's
    own thread pool), so one block at a time holds it: a second thread arriving meanwhile
    yields False and should run its work in order, as it would without this.
    """
    blas = _blas()
    if blas is None or not _one_thread_lock.acquire(blocking=False):
        yield False
        return
    try:
        with blas.limit(limits=1, user_api="blas"):
            # threadpoolctl lets one thread steer OpenBLAS's shared pool; if another one
            # (e.g. a threadpool_limits call elsewhere) holds it, the limit did not take.
            yield all(lib.num_threads == 1 for lib in blas.lib_controllers)
    finally:
        _one_thread_lock.release()


def one_blas_thread_here() -> None:
    """Set one BLAS thread for the calling thread, where the BLAS keeps one setting per thread
    (OpenMP builds); elsewhere nothing changes. For worker threads of ``blas_on_one_thread``
    blocks: an OpenMP build would give each of them a full set of threads of its own."""
    blas = _blas()
    for lib in blas.lib_controllers if blas is not None else ():
        if getattr(lib, "threading_layer", None) == "openmp":
            lib.set_num_threads(1)


_pool: tuple[int, ThreadPoolExecutor] | None = None  # (its size, the threads)
_pool_lock = threading.Lock()


class Share:
    """One thread's part of a batch cut by ``split_over_cores(..., linked=True)``: which rows of
    the whole batch it holds, and a way to exchange values with the other shares.

    Nearly every op treats each sample on its own, so a share computes exactly its rows of the
    whole batch's result. The few that look across the batch — batch normalization's
    statistics, dropout's random draws — are handed the share as an argument (``share=``) and
    use it to get the whole batch's numbers. Every share must make the same exchanges in the
    same order, as shares replaying the same tape do.
    """

    def __init__(self, index: int, rows: slice, total: int, group: _ShareGroup) -> None:
        self.index, self.rows, self.total = index, rows, total
        self._group, self._turn = group, 0

    def gather(self, value: Any) -> list[Any]:
        """Every share's ``value``, in share order, once all have given theirs (a barrier)."""
        # Two sets of slots, used in turn: a share may start the next exchange while a slower
        # one still reads this one, but never two ahead (it would wait at the barrier).
        slots = self._group.slots[self._turn % 2]
        self._turn += 1
        slots[self.index] = value
        self._group.barrier.wait()
        return list(slots)

    def from_first(self, make: Callable[[], Any]) -> Any:
        """``make()`` run by the first share only and handed to all: random numbers drawn for
        the whole batch in one call, the same ones a batch in order would draw."""
        return self.gather(make() if self.index == 0 else None)[0]


class _ShareGroup:
    """What the shares of one ``split_over_cores`` call have in common."""

    def __init__(self, count: int) -> None:
        self.barrier = threading.Barrier(count)
        self.slots: tuple[list[Any], list[Any]] = ([None] * count, [None] * count)


def split_over_cores(work: Callable[..., Any], n: int, linked: bool = False) -> list[Any]:
    """``work`` over the items ``0..n``, cut into one contiguous share per BLAS thread and run
    side by side (this thread takes the first share), the BLAS on one thread meanwhile;
    returns the shares' results in order.

    Why: between its matrix products a network spends a third of its time in NumPy's copies
    and element-wise passes, which run on one core while the BLAS's other threads wait;
    independent shares (``predict``'s slices of a batch) keep every core busy with all of it.
    With ``linked``, the items are the samples of one batch and each thread runs
    ``work(rows, share)``, its ``Share`` given explicitly, through which ops that need the
    whole batch exchange numbers (``share`` is None where the batch runs whole).

    Runs the whole batch as one share in this thread instead where there is one BLAS thread, one
    item, or another block already holding the BLAS setting (``blas_on_one_thread``), so
    nested calls run in order. Keep the whole job inside: OpenBLAS's own threads spin for a
    while after each product, so switching back and forth between one and several BLAS
    threads op by op leaves them competing with these for the cores.
    """
    whole = (slice(0, n), None) if linked else (slice(0, n),)
    workers = min(blas_threads(), n)
    if workers < 2:
        return [work(*whole)]
    with blas_on_one_thread() as took:
        if not took:
            return [work(*whole)]
        shares = share_rows(n, workers)
        group = _ShareGroup(len(shares)) if linked else None

        def run(index: int, rows: slice) -> Any:
            if index:
                one_blas_thread_here()
            if group is None:
                return work(rows)
            try:
                return work(rows, Share(index, rows, n, group))
            except BaseException:
                group.barrier.abort()  # a share waiting for this one's numbers gives up
                raise

        pool = _threads(len(shares) - 1)
        others = [pool.submit(run, index, rows) for index, rows in enumerate(shares[1:], 1)]
        try:
            first = run(0, shares[0])
        except BaseException as error:
            wait(others)  # the BLAS setting is restored only after them
            raise _first_cause(error, others) from None
        wait(others)
        failed = next((f.exception() for f in others if f.exception() is not None), None)
        if failed is not None:
            raise _first_cause(failed, others) from None
        return [first] + [future.result() for future in others]


def share_rows(n: int, workers: int) -> list[slice]:
    """The rows of each share when ``n`` items are cut for ``workers`` threads: contiguous,
    as even as can be, the larger ones first."""
    per_share = -(-n // workers)
    return [slice(k, min(k + per_share, n)) for k in range(0, n, per_share)]


def _first_cause(error: BaseException, others: list[Future]) -> BaseException:
    """The error to report from shares that failed: a share that gave up waiting for a failed
    one (a broken barrier) only echoes it, so the failed one's own error wins."""
    if not isinstance(error, threading.BrokenBarrierError):
        return error
    causes = [f.exception() for f in others if f.exception() is not None]
    return next((e for e in causes if not isinstance(e, threading.BrokenBarrierError)), error)


def _forget_threads() -> None:
    """In a child process made by fork: the parent's worker threads do not exist there, and a
    pool that thinks they do would wait for them forever. Start afresh."""
    global _pool, _pool_lock, _one_thread_lock
    _pool, _pool_lock, _one_thread_lock = None, threading.Lock(), threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_threads)


def _threads(count: int) -> ThreadPoolExecutor:
    """The engine's worker threads, at least ``count`` of them (made on first use)."""
    global _pool
    with _pool_lock:
        if _pool is None or _pool[0] < count:
            old, _pool = _pool, (count, ThreadPoolExecutor(count, "glassnet-worker"))
            if old is not None:
                old[1].shutdown(wait=False)
        return _pool[1]
