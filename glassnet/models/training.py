"""The training loop behind ``fit``, ``evaluate`` and ``predict``: epochs, batches, logs.

One epoch visits every training sample once, in batches. For each batch: a forward pass, the
loss, ``loss.backward()`` for the gradients, ``optimizer.step()`` to move the weights. After the
epoch, the validation data is scored without learning from it. Callbacks watch and steer.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Protocol

import numpy as np

from glassnet.backend import default_float, get_array_module, get_rng
from glassnet.callbacks import PredictProgress
from glassnet.layers.observers import observing_calls
from glassnet.models import replay
from glassnet.parallel import blas_threads, split_over_cores
from glassnet.tensor import Tensor, no_grad


class NonFiniteLossWarning(UserWarning):
    """Training stopped because the loss became NaN or infinite."""


Batches = Iterable[tuple[Any, Any]]


def _as_array(data: Any, what: str) -> np.ndarray:
    if isinstance(data, Tensor):
        return data.numpy()
    if isinstance(data, np.ndarray):
        return data
    if isinstance(data, (list, tuple)):
        return np.asarray(data)
    raise TypeError(
        f"{what}: expected a NumPy array, a Tensor or a list, received {type(data).__name__}. "
        "For data that does not fit in memory pass an iterable of (x, y) batches as x."
    )


def as_input(x: Any) -> Tensor:
    """A batch of inputs as a float32 Tensor (images arrive as uint8, tables as float64)."""
    if isinstance(x, Tensor):
        return x
    x = np.asarray(x)
    return Tensor(x if x.dtype == default_float else x.astype(default_float))


def as_target(y: Any) -> Any:
    """Targets as an array: float64 becomes float32, integer class ids stay integers."""
    y = y.numpy() if isinstance(y, Tensor) else np.asarray(y)
    return y.astype(default_float) if y.dtype == np.float64 else y


class ArrayBatches:
    """Batches of (x, y) from in-memory arrays, reshuffled every epoch when ``shuffle``.

    Iterating gives one epoch. ``len()`` is the number of batches.
    """

    def __init__(self, x: Any, y: Any, batch_size: int, shuffle: bool, what: str = "fit"):
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(
                f"{what}: 'batch_size' must be a positive integer. Received: {batch_size}"
            )
        self.x = _as_array(x, what)
        self.y = None if y is None else _as_array(y, what)
        if self.y is not None and len(self.x) != len(self.y):
            raise ValueError(
                f"{what}: x has {len(self.x)} samples but y has {len(self.y)}. Give one label per "
                "sample."
            )
        if len(self.x) == 0:
            raise ValueError(f"{what}: x holds no samples. Pass at least one sample.")
        self.batch_size, self.shuffle = batch_size, shuffle

    def __len__(self) -> int:
        return math.ceil(len(self.x) / self.batch_size)

    def __iter__(self) -> Iterator[tuple[np.ndarray, np.ndarray | None]]:
        n = len(self.x)
        order = get_rng().permutation(n) if self.shuffle else None
        for start in range(0, n, self.batch_size):
            if order is None:
                idx: Any = slice(start, start + self.batch_size)  # a view, no copy
            else:
                idx = np.sort(order[start : start + self.batch_size])
            yield self.x[idx], (None if self.y is None else self.y[idx])


def make_batches(x: Any, y: Any, batch_size: int, shuffle: bool, what: str) -> Batches:
    """Arrays become ``ArrayBatches``; an iterable of (x, y) batches is used as it is."""
    if y is None and x is not None and not isinstance(x, (np.ndarray, Tensor, list, tuple)):
        if not hasattr(x, "__iter__"):
            raise TypeError(f"{what}: x must be an array or an iterable of (x, y) batches.")
        return x
    if y is None and what != "predict":
        raise ValueError(f"{what}: y is missing. Pass the targets (labels) for x.")
    return ArrayBatches(x, y, batch_size, shuffle, what)


def split_validation(x: Any, y: Any, validation_split: float) -> tuple[Any, Any, Any, Any]:
    """Keras's rule: the LAST ``validation_split`` share of the samples, before shuffling."""
    if not 0.0 <= validation_split < 1.0:
        raise ValueError(
            "fit: 'validation_split' must be in [0, 1). "
            f"Received: validation_split={validation_split}"
        )
    x, y = _as_array(x, "fit"), _as_array(y, "fit")
    n_val = int(len(x) * validation_split)
    if n_val == 0:
        raise ValueError(
            f"fit: validation_split={validation_split} of {len(x)} samples leaves no validation "
            "samples. Use a larger split or more data."
        )
    cut = len(x) - n_val
    return x[:cut], y[:cut], x[cut:], y[cut:]


def non_finite_message(loss: float, epoch: int, batch: int, steps: Any, lr: float) -> str:
    """The message a user sees when the loss explodes, with what to try."""
    return (
        f"fit: the loss became {loss} at epoch {epoch + 1}, batch {batch + 1}"
        f"{f' of {steps}' if steps else ''}. Training stopped; the model keeps the last weights "
        f"that gave a finite loss. Try a smaller learning rate (it is {lr:g}), scaling the inputs "
        "(e.g. Rescaling(1/255) for images), or gradient clipping (clipnorm=1.0)."
    )


def warn_non_finite(message: str) -> None:
    """Tell the user training stopped on a NaN/inf loss (a warning: fit still returns History)."""
    warnings.warn(message, NonFiniteLossWarning, stacklevel=4)


# A slice of a batch whose largest activation fits in about this many bytes stays in the CPU's
# cache from one layer to the next (see ``inference_rows``).
_SLICE_BYTES = 8 << 20
_MIN_SLICE = 16
# Slices run side by side on the cores only when each has at least this much work (measured
# by its largest activation): below it, handing work to a thread costs more than it saves.
_THREAD_SLICE_BYTES = 1 << 20


def inference_rows(model: Any, x: Tensor) -> int:
    """How many samples of the batch ``x`` predict runs through the network at once.

    A whole batch of 256 CIFAR images makes every convolution write 33 MB, more than the
    cache holds, so each layer reads its input back from memory. Inference treats each sample
    on its own, so a slice whose largest activation fits in ~8 MiB gives the same numbers with
    the activations still in cache (W4 at batch 256: see docs/engine.md, "Speed"). Models that
    cannot tell their activation sizes (``largest_activation`` is None) run the batch whole.
    """
    n = len(x)
    if n <= _MIN_SLICE:
        return n
    largest = model.largest_activation(tuple(x.shape[1:]))
    if not largest:
        return n
    return max(_MIN_SLICE, min(n, _SLICE_BYTES // (largest * x.dtype.itemsize)))


def _cores_for(x: Tensor) -> int:
    """How many cores a batch could be shared between: the BLAS's threads, for a NumPy batch
    of more than one sample (1 otherwise)."""
    return blas_threads() if len(x) > 1 and get_array_module(x.data) is np else 1


def _safe_on_threads(model: Any) -> bool:
    """Whether slices of a batch may run through ``model`` on several threads at once: only a
    built model of glassnet's own layers, which keep no state at inference. A layer of the
    user's (or a ``call`` replaced on an instance) might keep some, and an unbuilt layer would
    create its weights on two threads at once: such models run their slices in order."""
    for _, layer in model.named_layers():
        if not type(layer).__module__.startswith("glassnet.") or "call" in vars(layer):
            return False
        if not layer.built:
            return False
    return not observing_calls()


def predict_slices(model: Any, x: Tensor) -> list[np.ndarray]:
    """The model's outputs for the batch ``x``, as a list of arrays to concatenate, computed in
    inference mode a slice at a time (``inference_rows``).

    With slices to spare and more than one core, the slices run side by side, one share per
    core, each core's matrix products on one BLAS thread (``parallel.split_over_cores``): the
    work between the products (copies, bias, ReLU, pooling) then runs on every core too,
    instead of on one while the other waits. Predictions are those of the whole batch at once,
    in the same order.
    """
    n = len(x)
    rows = inference_rows(model, x)
    workers = _cores_for(x)
    if workers > 1:
        threaded = _rows_for_threads(model, x, rows, workers)
        if threaded < n and _safe_on_threads(model):  # the cheap test first: small models
            rows = threaded  # and batches skip walking the layers
        else:
            workers = 1
    if rows >= n:
        return [_infer(model, x.data)]
    pieces = [x.data[start : start + rows] for start in range(0, n, rows)]
    if workers < 2:
        return [_infer(model, piece) for piece in pieces]

    def share(part: slice) -> list[np.ndarray]:
        with no_grad():  # the no-grad switch is per thread
            return [_infer(model, p) for p in pieces[part]]

    return [out for outs in split_over_cores(share, len(pieces)) for out in outs]


def _infer(model: Any, x: Any) -> np.ndarray:
    """The model's inference outputs for the array batch ``x``: replayed from the ops recorded
    on an earlier batch of its shape (``replay.predict``), except with ``jit_compile=False``,
    while a watcher sees every call (``observing_calls``) or off NumPy."""
    if not model.jit_compile or observing_calls() or get_array_module(x) is not np:
        return model(Tensor(x), training=False).numpy()
    return replay.predict(model, x)


def _rows_for_threads(model: Any, x: Tensor, rows: int, workers: int) -> int:
    """Slice size for ``workers`` threads: as many slices as the cache needs (``rows`` each),
    and at least one per thread where each still has ``_THREAD_SLICE_BYTES`` of work; their
    number then rounded up to a multiple of ``workers``, the samples shared out evenly."""
    n, largest = len(x), model.largest_activation(tuple(x.shape[1:]))
    if not largest:
        return rows
    work = n * largest * x.dtype.itemsize
    pieces = max(-(-n // rows), min(workers, work // _THREAD_SLICE_BYTES, n))
    if pieces > 1:
        pieces = -(-pieces // workers) * workers
    return -(-n // max(pieces, 1))


def predict_batches(model: Any, batches: Batches, verbose: int = 0) -> np.ndarray:
    """Run the model on every batch in inference mode and concatenate the outputs; a large
    batch goes through the network in cache-sized slices, on every core
    (``predict_slices``). ``verbose`` shows progress (``callbacks.PredictProgress``)."""
    outputs = []
    total = len(batches) if hasattr(batches, "__len__") else None
    with PredictProgress(verbose, total) as progress, no_grad():
        for xb, _ in batches:
            xb = as_input(xb)
            outputs += predict_slices(model, xb)
            progress.advance(len(xb))
    if len(outputs) == 1 and outputs[0].flags.owndata:
        return outputs[0]  # one fresh array (never a view of the input): no copy needed
    return np.concatenate(outputs, axis=0)


class DataParallel(Protocol):
    """What ``fit(distributed=True)`` needs from a data-parallel backend (``glassnet.distributed``
    provides the MPI one). Every rank runs the same program on its own share of each batch."""

    rank: int
    size: int

    def prepare(self, data: Any) -> None:
        """Give every rank rank 0's random state, so all shuffle the data identically."""

    def start(self, model: Any) -> None:
        """Copy rank 0's weights (and optimizer state) to every rank, before the first step."""

    def shard(self, batches: Batches) -> Batches:
        """This rank's slice of every global batch."""

    def sum(self, values: np.ndarray) -> np.ndarray:
        """The element-wise sum of ``values`` over all ranks."""

    def average_gradients(self, params: list[Tensor]) -> None:
        """Replace each gradient by its sample-weighted average over the ranks."""

    def abort(self, error: BaseException) -> None:
        """Show ``error`` and stop every rank (never hang waiting for a dead one)."""


_data_parallel: Callable[[], DataParallel] | None = None


def register_data_parallel(factory: Callable[[], DataParallel]) -> None:
    """Let ``fit(distributed=True)`` use ``factory()``; ``glassnet.distributed`` registers the
    MPI backend this way, so models need not import the layer above them."""
    global _data_parallel
    _data_parallel = factory


def data_parallel() -> DataParallel:
    """The registered data-parallel backend, or an error saying what to install."""
    if _data_parallel is None:
        raise RuntimeError(
            "fit(distributed=True) needs glassnet.distributed and MPI. Install them with "
            "pip install 'glassnet[distributed]' and launch with mpirun -n 4 python script.py."
        )
    return _data_parallel()
