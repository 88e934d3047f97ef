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


def several(data: Any) -> bool:
    """Whether ``data`` holds several arrays (a model's several inputs, targets or sample
    weights): a list or tuple of arrays or Tensors, or a dict of them. A nested list of
    numbers is one array."""
    if isinstance(data, dict):
        return True
    return (
        isinstance(data, (list, tuple))
        and len(data) > 0
        and all(isinstance(item, (np.ndarray, Tensor)) for item in data)
    )


def is_shape(shape: Any) -> bool:
    """Whether ``shape`` is one shape (sizes and None), not a list of shapes (several inputs);
    anything else counts as one, and the layer says what is wrong with it."""
    if not isinstance(shape, (list, tuple)):
        return True
    return all(n is None or isinstance(n, (int, np.integer)) for n in shape)


def zero_sample(input_shape: Any) -> Any:
    """One zero sample (batch 1 where the batch is None) for ``input_shape``, or a list of
    them for a list of shapes: what building or tracing a model runs through it."""
    if not is_shape(input_shape):
        return [zero_sample(shape) for shape in input_shape]
    return Tensor(np.zeros(tuple(1 if n is None else n for n in input_shape), np.float32))


def map_arrays(data: Any, fn: Callable[[Any], Any]) -> Any:
    """``fn`` applied to each array of ``data`` (one array, or several: a list or a dict)."""
    if isinstance(data, dict):
        return {key: fn(value) for key, value in data.items()}
    if several(data):
        return [fn(item) for item in data]
    return fn(data)


def as_input(x: Any) -> Any:
    """A batch of inputs as a float32 Tensor (images arrive as uint8, tables as float64);
    several inputs as a list of them."""
    if several(x):
        return map_arrays(x, as_input)
    if isinstance(x, Tensor):
        return x
    x = np.asarray(x)
    if x.dtype.kind in "USO":  # texts, for StringLookup or TextVectorization: no numbers
        return Tensor(x.astype(object))
    return Tensor(x if x.dtype == default_float else x.astype(default_float))


def as_target(y: Any) -> Any:
    """Targets as an array: float64 becomes float32, integer class ids stay integers;
    several targets as a list (or dict) of them."""
    if several(y):
        return map_arrays(y, as_target)
    y = y.numpy() if isinstance(y, Tensor) else np.asarray(y)
    return y.astype(default_float) if y.dtype == np.float64 else y


def num_samples(x: Any) -> int:
    """How many samples a batch holds (the first input's rows, for several inputs)."""
    if isinstance(x, dict):
        return len(next(iter(x.values())))
    return len(x[0]) if several(x) else len(x)


def unpack(data: Any) -> tuple[Any, Any, Any]:
    """A batch as Keras's ``(x, y, sample_weight)``, from ``(x, y)``, ``(x, y, w)`` or ``x``."""
    if isinstance(data, tuple) and len(data) in (2, 3):
        return (*data, None) if len(data) == 2 else data
    return data, None, None


def class_weights(y: Any, class_weight: dict[Any, float], what: str = "fit") -> np.ndarray:
    """Keras's ``class_weight``: one weight per sample, the weight of its class, from integer
    labels (N,) or (N, 1) or one-hot rows (N, classes).

    Shape: y (N,), (N, 1) or (N, K) -> (N,) float32.
    """
    if several(y):
        raise ValueError(
            f"{what}: class_weight needs a model with one output. For several outputs pass "
            "sample_weight, one array per output."
        )
    labels = np.asarray(y.numpy() if isinstance(y, Tensor) else y)
    if labels.ndim == 2 and labels.shape[1] > 1:
        labels = labels.argmax(axis=1)  # one-hot rows
    labels = labels.reshape(len(labels), -1)[:, 0] if labels.ndim > 1 else labels
    table = {int(k): float(v) for k, v in class_weight.items()}
    classes = np.unique(labels)
    missing = [c for c in classes.tolist() if int(c) != c or int(c) not in table]
    if missing:
        raise ValueError(
            f"{what}: class {missing[0]!r} appears in y but not in class_weight (which has "
            f"classes {sorted(table)}). Give every class a weight."
        )
    lookup = np.vectorize(table.__getitem__, otypes=[np.float32])
    return lookup(labels.astype(np.int64)) if labels.size else np.zeros(0, np.float32)


def _arrays(data: Any, what: str) -> Any:
    return None if data is None else map_arrays(data, lambda a: _as_array(a, what))


def _check_lengths(what: str, **named: Any) -> int:
    """The number of samples every array of ``named`` (x, y, sample_weight; each one array
    or several) holds; an error naming the first array whose length differs."""
    found: list[tuple[str, int]] = []
    for name, data in named.items():
        if isinstance(data, dict):
            found += [(f"{name}[{key!r}]", len(a)) for key, a in data.items()]
        elif isinstance(data, list):
            found += [(f"{name}[{i}]", len(a)) for i, a in enumerate(data)]
        elif data is not None:
            found.append((name, len(data)))
    first, n = found[0]
    for label, length in found[1:]:
        if length != n:
            raise ValueError(
                f"{what}: {first} has {n} samples but {label} has {length}. Every input, "
                "target and sample weight needs one row per sample."
            )
    return n


class ArrayBatches:
    """Batches of (x, y) — (x, y, sample_weight) when weights are given — from in-memory
    arrays, reshuffled every epoch when ``shuffle``. x, y and the weights may each be several
    arrays (a list or a dict: a model's several inputs or outputs), cut alike.

    Iterating gives one epoch. ``len()`` is the number of batches.
    """

    def __init__(
        self,
        x: Any,
        y: Any,
        batch_size: int,
        shuffle: bool,
        what: str = "fit",
        sample_weight: Any = None,
    ):
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(
                f"{what}: 'batch_size' must be a positive integer. Received: {batch_size}"
            )
        self.x, self.y = _arrays(x, what), _arrays(y, what)
        self.sample_weight = _arrays(sample_weight, what)
        self.n = _check_lengths(what, x=self.x, y=self.y, sample_weight=self.sample_weight)
        if self.n == 0:
            raise ValueError(f"{what}: x holds no samples. Pass at least one sample.")
        self.batch_size, self.shuffle = batch_size, shuffle

    def __len__(self) -> int:
        return math.ceil(self.n / self.batch_size)

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        n = self.n
        order = get_rng().permutation(n) if self.shuffle else None
        for start in range(0, n, self.batch_size):
            if order is None:
                idx: Any = slice(start, start + self.batch_size)  # a view, no copy
            else:
                idx = np.sort(order[start : start + self.batch_size])
            batch = _rows(idx, self.x, self.y, self.sample_weight)
            yield batch if self.sample_weight is not None else batch[:2]


class ClassWeighted:
    """Batches of (x, y) from an iterable, each given the sample weights of ``class_weight``
    (``class_weights``): Keras's class weights for data that streams."""

    def __init__(self, batches: Batches, class_weight: dict[Any, float]) -> None:
        self.batches, self.class_weight = batches, class_weight

    def __iter__(self) -> Iterator[tuple[Any, Any, Any]]:
        for data in self.batches:
            x, y, _ = unpack(data)
            yield x, y, class_weights(y, self.class_weight)


class _SizedClassWeighted(ClassWeighted):
    def __len__(self) -> int:
        return len(self.batches)  # type: ignore[arg-type]


def class_weighted(batches: Batches, class_weight: dict[Any, float]) -> ClassWeighted:
    """``ClassWeighted`` batches, with a length where ``batches`` has one (for progress)."""
    sized = hasattr(batches, "__len__")
    return (_SizedClassWeighted if sized else ClassWeighted)(batches, class_weight)


def _batch_list(x: Any) -> bool:
    """Whether ``x`` is a list of (x, y) or (x, y, sample_weight) batches, each x an array
    (or a list or dict of arrays), rather than the arrays of a model's several inputs."""
    return (
        isinstance(x, list)
        and len(x) > 0
        and all(
            isinstance(b, tuple)
            and len(b) in (2, 3)
            and isinstance(b[0], (np.ndarray, Tensor, list, dict))
            for b in x
        )
    )


def make_batches(
    x: Any, y: Any, batch_size: int, shuffle: bool, what: str, sample_weight: Any = None
) -> Batches:
    """Arrays become ``ArrayBatches``; an iterable of (x, y) or (x, y, sample_weight) batches
    is used as it is (a list of such tuples too: a dataset held in memory)."""
    is_arrays = isinstance(x, (np.ndarray, Tensor, list, tuple, dict)) and not _batch_list(x)
    if y is None and x is not None and not is_arrays:
        if not hasattr(x, "__iter__"):
            raise TypeError(f"{what}: x must be an array or an iterable of (x, y) batches.")
        if sample_weight is not None:
            raise ValueError(
                f"{what}: sample_weight goes with arrays x and y; for batches that stream, "
                "yield (x, y, sample_weight) from the iterable."
            )
        return x
    if y is None and what != "predict":
        raise ValueError(f"{what}: y is missing. Pass the targets (labels) for x.")
    return ArrayBatches(x, y, batch_size, shuffle, what, sample_weight)


def split_validation(
    x: Any, y: Any, validation_split: float, sample_weight: Any = None
) -> tuple[tuple[Any, Any, Any], tuple[Any, Any, Any]]:
    """Keras's rule: the LAST ``validation_split`` share of the samples, before shuffling.
    Returns ``(x, y, sample_weight)`` to train on and to validate on (weights may be None)."""
    if not 0.0 <= validation_split < 1.0:
        raise ValueError(
            "fit: 'validation_split' must be in [0, 1). "
            f"Received: validation_split={validation_split}"
        )
    x, y, sample_weight = _arrays(x, "fit"), _arrays(y, "fit"), _arrays(sample_weight, "fit")
    n = _check_lengths("fit", x=x, y=y, sample_weight=sample_weight)
    n_val = int(n * validation_split)
    if n_val == 0:
        raise ValueError(
            f"fit: validation_split={validation_split} of {n} samples leaves no validation "
            "samples. Use a larger split or more data."
        )
    cut = n - n_val

    return _rows(slice(None, cut), x, y, sample_weight), _rows(
        slice(cut, None), x, y, sample_weight
    )


def _rows(rows: Any, *data: Any) -> tuple[Any, ...]:
    """The samples ``rows`` of each of ``data`` (one array, several, or None)."""
    return tuple(None if d is None else map_arrays(d, lambda a: a[rows]) for d in data)


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


def _infer(model: Any, x: Any) -> Any:
    """The model's inference outputs for the array batch ``x`` (a list for several inputs;
    a list of outputs for several): replayed from the ops recorded
    on an earlier batch of its shape (``replay.predict``), except with ``jit_compile=False``,
    while a watcher sees every call (``observing_calls``) or off NumPy."""
    arrays = x if isinstance(x, list) else [x]
    if not model.jit_compile or observing_calls() or get_array_module(*arrays) is not np:
        out = model([Tensor(a) for a in x] if isinstance(x, list) else Tensor(x), training=False)
        return replay._numpy(out)
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
    outputs: list[Any] = []
    total = len(batches) if hasattr(batches, "__len__") else None
    with PredictProgress(verbose, total) as progress, no_grad():
        for xb, *_ in batches:
            xb = as_input(model._ordered(xb))  # a dict by input name: in input order
            if isinstance(xb, Tensor):
                outputs += predict_slices(model, xb)
            else:  # several inputs: the batch whole
                outputs.append(_infer(model, [t.data for t in xb]))
            progress.advance(num_samples(xb))
    if len(outputs) == 1 and isinstance(outputs[0], np.ndarray) and outputs[0].flags.owndata:
        return outputs[0]  # one fresh array (never a view of the input): no copy needed
    return concatenate(outputs)


def concatenate(pieces: list[Any]) -> Any:
    """Batches of outputs joined along the samples: arrays into one, lists (several outputs)
    output by output, dicts (outputs by name) name by name."""
    if pieces and isinstance(pieces[0], dict):
        return {key: np.concatenate([p[key] for p in pieces], axis=0) for key in pieces[0]}
    if pieces and isinstance(pieces[0], list):
        return [np.concatenate(parts, axis=0) for parts in zip(*pieces, strict=True)]
    return np.concatenate(pieces, axis=0)


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
