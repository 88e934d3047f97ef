"""Would a compiled kernel pay for itself? LeNet-5's first convolution in numba against NumPy.

The performance issue asks, before any target is given up on NumPy, for one op to be measured
as a compiled kernel from a well-kept library. The op chosen is the one where glassnet's NumPy
path is weakest: LeNet-5's first layer (1 input channel, 6 filters of 5×5, "same", batch 64,
28×28). Its im2col matrix is 25× the image and its GEMMs have 6 columns, far from what BLAS is
built for (≈ 30 GFLOP/s against ≈ 150 on square matrices).

Timed, interleaved in one process (each kernel alternated with its NumPy twin, 2 threads for
both: BLAS through threadpoolctl, numba's ``prange`` through ``numba.set_num_threads``):

- forward with bias and ReLU: glassnet's path (pad, im2col, GEMM, ``add_to_rows``, ReLU) against
  a direct convolution that accumulates each output row over the 25 taps;
- the weight gradient dW = colsᵀ·dY against a direct sum over pixels per tap and filter.

numba is not a project dependency (``pip install numba``); the first run also reports the
compile time, which every user of a JIT-compiled engine would pay once per machine.

    python -m benchmarks.numba_conv              # table to stdout
    python -m benchmarks.numba_conv --write      # + benchmarks/RESULTS.md

Run by hand, never by the test suite.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable

import numpy as np

from benchmarks.machine import describe_machine, limit_threads, write_results
from glassnet.ops import _conv_kernels as conv_kernels
from glassnet.ops import conv as conv_ops
from glassnet.ops.activation import relu_
from glassnet.tensor import add_to_rows

THREADS = 2
BATCH, SIZE, KERNEL, FILTERS = 64, 28, 5, 6
PADS = ((2, 2), (2, 2))


def numba_kernels() -> tuple[Callable, Callable]:
    """The two kernels, compiled (``cache=True``: later runs load them from __pycache__)."""
    from numba import njit, prange

    @njit(parallel=True, fastmath=True, cache=True)
    def forward(xpad, w, b, ho, wo):  # numba infers the types
        n = xpad.shape[0]
        kh, kw, _, f = w.shape
        y = np.empty((n, ho, wo, f), np.float32)
        for image in prange(n):
            row = np.empty((f, wo), np.float32)  # one output row, filter by filter
            for h in range(ho):
                for k in range(f):
                    for x in range(wo):
                        row[k, x] = b[k]
                    for i in range(kh):
                        for j in range(kw):
                            tap = w[i, j, 0, k]
                            for x in range(wo):
                                row[k, x] += tap * xpad[image, h + i, x + j, 0]
                for x in range(wo):
                    for k in range(f):
                        v = row[k, x]
                        y[image, h, x, k] = v if v > 0 else 0.0
        return y

    @njit(parallel=True, fastmath=True, cache=True)
    def weight_grad(xpad, gy, kh, kw):
        n, ho, wo, f = gy.shape
        parts = np.zeros((n, kh, kw, f), np.float32)
        for image in prange(n):
            g = np.empty((f, ho, wo), np.float32)  # this image's dY, filter-major
            for h in range(ho):
                for x in range(wo):
                    for k in range(f):
                        g[k, h, x] = gy[image, h, x, k]
            for i in range(kh):
                for j in range(kw):
                    for k in range(f):
                        total = np.float32(0.0)
                        for h in range(ho):
                            for x in range(wo):
                                total += xpad[image, h + i, x + j, 0] * g[k, h, x]
                        parts[image, i, j, k] = total
        return parts.sum(axis=0).reshape(kh, kw, 1, f)

    return forward, weight_grad


def _columns(xpad: np.ndarray) -> np.ndarray:
    """The column matrix as glassnet's ConvOp builds it (one plane per tap for one channel)."""
    windows = conv_ops.im2col_view(xpad, (KERNEL, KERNEL), (1, 1), (1, 1), (SIZE, SIZE))
    return conv_kernels.columns(windows)


def numpy_forward(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> np.ndarray:
    """glassnet's path for this layer: pad, im2col (one plane per tap), GEMM, bias, ReLU."""
    xpad = conv_ops.pad_images(x, PADS)
    y = _columns(xpad) @ w.reshape(-1, 6)
    add_to_rows(y, b)
    relu_(y)
    return y.reshape(BATCH, SIZE, SIZE, FILTERS)


def numpy_weight_grad(x: np.ndarray, gy: np.ndarray) -> np.ndarray:
    """glassnet's dW for this layer: colsᵀ·dY."""
    cols = _columns(conv_ops.pad_images(x, PADS))
    return (cols.T @ gy.reshape(-1, FILTERS)).reshape(KERNEL, KERNEL, 1, FILTERS)


def interleaved(a: Callable[[], object], b: Callable[[], object], pairs: int) -> list[float]:
    """Median ms of ``a`` and ``b`` and the median of b/a over pairs run back to back, in
    alternating order (a noisy minute slows both)."""
    for _ in range(10):
        a(), b()
    ta, tb = [], []
    for i in range(pairs):
        for fn, times in ((a, ta), (b, tb)) if i % 2 == 0 else ((b, tb), (a, ta)):
            start = time.perf_counter()
            fn()
            times.append((time.perf_counter() - start) * 1000)
    ratios = [y / x for x, y in zip(ta, tb, strict=True)]
    return [statistics.median(ta), statistics.median(tb), statistics.median(ratios)]


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pairs", type=int, default=300, help="timed pairs per comparison")
    parser.add_argument("--write", action="store_true", help="append to benchmarks/RESULTS.md")
    args = parser.parse_args(argv)
    try:
        import numba
    except ImportError:
        sys.exit("numba is not installed: pip install numba")
    limit_threads(THREADS, torch=False)
    numba.set_num_threads(THREADS)

    rng = np.random.default_rng(0)
    x = rng.random((BATCH, SIZE, SIZE, 1), dtype=np.float32)
    w = rng.standard_normal((KERNEL, KERNEL, 1, FILTERS)).astype(np.float32)
    b = rng.standard_normal(FILTERS).astype(np.float32)
    gy = rng.standard_normal((BATCH, SIZE, SIZE, FILTERS)).astype(np.float32)

    start = time.perf_counter()
    forward, weight_grad = numba_kernels()
    xpad = conv_ops.pad_images(x, PADS)
    y, gw = forward(xpad, w, b, SIZE, SIZE), weight_grad(xpad, gy, KERNEL, KERNEL)
    compile_s = time.perf_counter() - start
    np.testing.assert_allclose(y, numpy_forward(x, w, b), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(gw, numpy_weight_grad(x, gy), rtol=1e-3, atol=1e-2)

    rows = {
        "forward + bias + ReLU": interleaved(
            lambda: numpy_forward(x, w, b),
            lambda: forward(conv_ops.pad_images(x, PADS), w, b, SIZE, SIZE),
            args.pairs,
        ),
        "weight gradient": interleaved(
            lambda: numpy_weight_grad(x, gy),
            lambda: weight_grad(conv_ops.pad_images(x, PADS), gy, KERNEL, KERNEL),
            args.pairs,
        ),
    }
    lines = [
        f"LeNet-5 conv 1 (batch {BATCH}, {SIZE}×{SIZE}×1, {FILTERS} filters of "
        f"{KERNEL}×{KERNEL}), numba {numba.__version__}, {args.pairs} interleaved pairs",
        "",
        "| op | NumPy (glassnet) ms | numba ms | numba / NumPy |",
        "|---|---|---|---|",
    ]
    for name, (ms_numpy, ms_numba, ratio) in rows.items():
        lines.append(f"| {name} | {ms_numpy:.2f} | {ms_numba:.2f} | **{ratio:.2f}×** |")
    lines.append(
        f"\nCompiling (or, when cached, loading) both kernels took {compile_s:.1f} s in this run."
    )
    body = "\n".join(lines)
    print(body)
    if args.write:
        write_results(
            "A compiled kernel for LeNet-5's first convolution: numba against NumPy",
            describe_machine(THREADS) + "\n\n" + body,
            "python -m benchmarks.numba_conv --write",
        )
    return body


if __name__ == "__main__":
    main()
