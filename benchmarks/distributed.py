"""Data-parallel training over MPI: samples/s for 1 and 2 ranks, bytes per step, and a projection.

    python -m benchmarks.distributed [--write]

Trains the CIFAR CNN of ``benchmarks.compare`` (W3) with ``fit(distributed=True)`` on random
32×32×3 data, global batch 64, each rank with one BLAS thread, under ``mpirun -n 1`` and
``mpirun -n 2`` on this 2-core machine. Reports the median step time, samples/s, the bytes each
rank contributes to the one Allreduce per step, and a projection for N machines:

    step(N) = compute(1 rank, 64 samples) / N + allreduce(N)
    allreduce(N) = 2·(N − 1)/N · bytes / bandwidth + 2·(N − 1) · latency   (ring all-reduce)

with a stated network (default 10 Gbit/s, 20 µs): the compute time is measured here, the
network is an assumption, both are printed.

Run by hand, never by the test suite.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time

from benchmarks.machine import describe_machine, write_results

STEPS, WARMUP, BATCH = 30, 5, 64


def worker() -> None:
    """One rank's run (launched by mpirun): prints JSON with the step times on rank 0."""
    import numpy as np

    import glassnet as gn
    from benchmarks.compare import cifar_model
    from glassnet.callbacks import Callback

    gn.set_seed(0)
    model = cifar_model()
    model.compile(gn.optimizers.SGD(0.01, momentum=0.9), "sparse_categorical_crossentropy")
    rng = np.random.default_rng(0)
    x = rng.random((BATCH * (STEPS + WARMUP), 32, 32, 3), dtype=np.float32)
    y = rng.integers(0, 10, len(x))

    class Clock(Callback):
        def on_train_begin(self, logs=None):
            self.times, self.last = [], None

        def on_train_batch_end(self, batch, logs=None):
            now = time.perf_counter()
            if self.last is not None and batch > WARMUP:
                self.times.append(now - self.last)
            self.last = now

    clock = Clock()
    model.fit(x, y, batch_size=BATCH, epochs=1, verbose=0, distributed=True, callbacks=[clock])
    parallel = model._parallel
    if gn.distributed.rank() == 0:
        print(
            json.dumps(
                {
                    "step_s": statistics.median(clock.times),
                    "bytes": parallel.bytes_per_step if parallel else 0,
                    "params": int(sum(w.size for w in model.trainable_weights)),
                }
            )
        )


def run(ranks: int) -> dict:
    env = {
        **os.environ,
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "OMPI_ALLOW_RUN_AS_ROOT": "1",
        "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1",
    }
    command = [shutil.which("mpirun") or "mpirun", "--oversubscribe", "-n", str(ranks)]
    command += [sys.executable, "-m", "benchmarks.distributed", "--worker"]
    out = subprocess.run(command, env=env, capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--gbit", type=float, default=10.0, help="assumed network, Gbit/s")
    parser.add_argument("--latency-us", type=float, default=20.0, help="assumed latency, µs")
    parser.add_argument("--write", action="store_true", help="append to benchmarks/RESULTS.md")
    args = parser.parse_args(argv)
    if args.worker:
        worker()
        return ""
    one, two = run(1), run(2)
    nbytes = two["bytes"]
    bandwidth = args.gbit * 1e9 / 8
    compute = one["step_s"]
    lines = [
        f"CIFAR CNN (W3), {one['params']:,} parameters, global batch {BATCH}, one BLAS thread "
        "per rank.",
        "",
        "| ranks | ms/step | samples/s | speed-up | bytes per rank per step (Allreduce) |",
        "|---|---|---|---|---|",
        f"| 1 | {compute * 1000:.1f} | {BATCH / compute:,.0f} | 1.00× | 0 |",
        f"| 2 | {two['step_s'] * 1000:.1f} | {BATCH / two['step_s']:,.0f} "
        f"| {compute / two['step_s']:.2f}× | {nbytes:,} ({nbytes / 2**20:.2f} MiB) |",
        "",
        f"Projection for N machines (one rank each), measured compute {compute * 1000:.1f} ms per "
        f"64 samples, assumed network {args.gbit:g} Gbit/s and {args.latency_us:g} µs:",
        "",
        "| machines | compute ms | all-reduce ms | samples/s | efficiency |",
        "|---|---|---|---|---|",
    ]
    for n in (1, 2, 4, 8, 16, 32):
        comm = 0.0 if n == 1 else 2 * (n - 1) / n * nbytes / bandwidth
        comm += 0.0 if n == 1 else 2 * (n - 1) * args.latency_us * 1e-6
        step = compute / n + comm
        lines.append(
            f"| {n} | {compute / n * 1000:.1f} | {comm * 1000:.2f} | {BATCH / step:,.0f} "
            f"| {compute / n / step:.0%} |"
        )
    text = "\n".join(lines)
    print(text)
    if args.write:
        command = "python -m benchmarks.distributed " + " ".join(
            sys.argv[1:] if argv is None else argv
        )
        body = f"{describe_machine(1)}\n\n{text}"
        write_results("Data-parallel training over MPI", body, command)
    return text


if __name__ == "__main__":
    main()
