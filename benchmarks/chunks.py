"""How big should a convolution's chunk of columns be? (``ops._conv_kernels._CHUNK_BYTES``)

A column matrix larger than ``_KEEP_BYTES`` is unfolded a few images at a time into one reused
buffer of about ``_CHUNK_BYTES``, with the GEMM, bias and ReLU run on each chunk while it is
in cache. This script times workloads of ``benchmarks.compare`` (glassnet's side only) under
several chunk sizes in one process, in alternating blocks of steps, so that a noisy minute
slows every size alike, and reports each size's median step against the first size's.

    python -m benchmarks.chunks --only P1 W2 W3 --kib 4096 1024
    python -m benchmarks.chunks --only P1 --kib 4096 1024 --write   # + benchmarks/RESULTS.md

Run by hand, never by the test suite.
"""

from __future__ import annotations

import argparse
import statistics
import time

from benchmarks import compare
from benchmarks.machine import describe_machine, limit_threads, write_results
from glassnet.ops import _conv_kernels as kernels

THREADS = 2  # as benchmarks.compare: a share of the batch per core


def interleaved_sizes(step: object, sizes: list[int], rounds: int, block: int) -> dict:
    """Median seconds of ``step()`` with each chunk size (bytes), over ``rounds`` rounds of a
    settling step and ``block`` timed ones per size, in alternating order."""
    times: dict[int, list[float]] = {size: [] for size in sizes}
    previous = kernels._CHUNK_BYTES
    try:
        for size in sizes:  # a first plan and buffer for every size
            kernels._CHUNK_BYTES = size
            step()
        for r in range(rounds):
            for size in sizes if r % 2 == 0 else sizes[::-1]:
                kernels._CHUNK_BYTES = size
                step()  # settle: the buffer of this size
                for _ in range(block):
                    start = time.perf_counter()
                    step()
                    times[size].append(time.perf_counter() - start)
    finally:
        kernels._CHUNK_BYTES = previous
    return {size: statistics.median(t) for size, t in times.items()}


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", nargs="+", default=["P1", "W2", "W3"], help="workloads")
    parser.add_argument("--kib", nargs="+", type=int, default=[4096, 1024], help="chunk sizes")
    parser.add_argument("--rounds", type=int, default=25, help="rounds of blocks per size")
    parser.add_argument("--block", type=int, default=4, help="timed steps per block")
    parser.add_argument("--write", action="store_true", help="append to benchmarks/RESULTS.md")
    args = parser.parse_args(argv)
    chosen = {w.name: w for w in compare.workloads()}
    sizes = [kib << 10 for kib in args.kib]
    limit_threads(THREADS, torch=False)
    heads = " | ".join(f"{kib:,} KiB" for kib in args.kib)
    lines = [
        f"glassnet's step, median ms (and against {args.kib[0]:,} KiB), "
        f"{args.rounds} rounds of {args.block} steps per size, alternating.",
        "",
        f"| workload | {heads} |",
        "|---|" + "---|" * len(sizes),
    ]
    for name in args.only:
        step, _ = compare._build_side(chosen[name], "glassnet")
        medians = interleaved_sizes(step, sizes, args.rounds, args.block)
        base = medians[sizes[0]]
        cells = [f"{medians[s] * 1e3:.2f} ({medians[s] / base:.3f}×)" for s in sizes]
        lines.append(f"| {name} | {' | '.join(cells)} |")
        print(lines[-1], flush=True)
    table = "\n".join(lines)
    print(describe_machine(THREADS))
    print(table)
    if args.write:
        body = f"{describe_machine(THREADS)}\n\n{table}\n"
        command = f"python -m benchmarks.chunks --only {' '.join(args.only)} --kib " + " ".join(
            str(k) for k in args.kib
        )
        write_results("Convolution chunk sizes", body, command)
    return table


if __name__ == "__main__":
    main()
