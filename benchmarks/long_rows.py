"""How long should the "long rows" of ``tensor.rows_with`` and ``tensor.sum_rows`` be?

Per-channel arithmetic on channels-last activations (a bias add, batch normalization's scale
and shift, their gradients' column sums) works on (P, C) rows of C numbers. NumPy steps C
numbers at a time there, so both helpers view k consecutive rows as one row of k·C numbers.
This script times, for the activations of the photo classifier's (P1's) and the CIFAR CNN's
layers, an element-wise multiply by a per-channel vector and a column sum over long rows of
several lengths, against NumPy's plain call, in interleaved pairs, on one thread: the
lengths the helpers use (``_SUM_ROW``, ``_UFUNC_ROW``) are read off this table.

    python -m benchmarks.long_rows              # table to stdout
    python -m benchmarks.long_rows --write      # + benchmarks/RESULTS.md

Run by hand, never by the test suite.
"""

from __future__ import annotations

import argparse
import functools

import numpy as np

from benchmarks.machine import describe_machine, limit_threads, write_results
from benchmarks.numba_conv import interleaved

# (positions P, channels C): P1's three batch-normalised layers at a share of 16 images, then
# the CIFAR CNN's two widths at a share of 32.
SHAPES = ((16 * 64 * 64, 16), (16 * 32 * 32, 32), (16 * 16 * 16, 64), (32 * 32 * 32, 32))
LENGTHS = (1024, 2048, 4096, 8192, 16384)


def _multiply(rows: np.ndarray, v: np.ndarray, out: np.ndarray, length: int):
    """``out = rows * v`` with k = length // C rows per long row (0: NumPy's own call)."""
    if not length:
        return lambda: np.multiply(rows, v, out=out)
    k = max(1, length // rows.shape[1])
    head = len(rows) - len(rows) % k
    a, o = rows[:head].reshape(-1, k * rows.shape[1]), out[:head].reshape(-1, k * rows.shape[1])
    repeated = np.tile(v, k)
    return lambda: np.multiply(a, repeated, out=o)


def _column_sum(rows: np.ndarray, length: int):
    """``rows.sum(axis=0)`` over long rows of about ``length`` numbers (0: NumPy's own)."""
    if not length:
        return lambda: rows.sum(axis=0)
    k = max(1, length // rows.shape[1])
    head = len(rows) - len(rows) % k
    a = rows[:head].reshape(-1, k * rows.shape[1])
    return lambda: a.sum(axis=0)


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pairs", type=int, default=200, help="timed pairs per comparison")
    parser.add_argument("--write", action="store_true", help="append to benchmarks/RESULTS.md")
    args = parser.parse_args(argv)
    limit_threads(1, torch=False)
    rng = np.random.default_rng(0)
    heads = " | ".join(f"{n:,}" for n in LENGTHS)
    lines = [
        "ms per call, one thread: NumPy's own call, then long rows of about that many numbers "
        "(medians of interleaved pairs; each long-row time is paired with NumPy's).",
        "",
        f"| P × C | operation | NumPy | {heads} |",
        "|---|---|---|" + "---|" * len(LENGTHS),
    ]
    for p, c in SHAPES:
        rows = rng.standard_normal((p, c)).astype(np.float32)
        v = rng.standard_normal(c).astype(np.float32)
        out = np.empty_like(rows)
        for name, make in (
            ("x · v", functools.partial(_multiply, rows, v, out)),
            ("column sum", functools.partial(_column_sum, rows)),
        ):
            plain = make(0)
            cells, base = [], []
            for length in LENGTHS:
                t_plain, t_long, _ = interleaved(plain, make(length), args.pairs)
                base.append(t_plain)
                cells.append(f"{t_long:.3f}")
            lines.append(f"| {p:,} × {c} | {name} | {np.median(base):.3f} | {' | '.join(cells)} |")
    table = "\n".join(lines)
    print(describe_machine(1))
    print(table)
    if args.write:
        body = f"{describe_machine(1)}\n\n{table}\n"
        write_results(
            "Long rows for per-channel arithmetic", body, "python -m benchmarks.long_rows"
        )
    return table


if __name__ == "__main__":
    main()
