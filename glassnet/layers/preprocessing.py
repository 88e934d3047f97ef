"""Preprocessing inside the model: ``Rescaling`` turns 0–255 pixels into 0–1 inputs,
``Normalization`` standardises features with statistics learned by ``adapt``, ``Resizing`` and
``CenterCrop`` bring images to the size the network expects.

A model that holds its own preprocessing takes raw data when it is saved and served: nobody
can forget to scale, standardise or resize. ``adapt(data)`` is Keras's way of learning such a
layer's state (a mean, a vocabulary) from the training data before ``fit``; what it learns is
saved with the model as data (weights or config), never as code.
"""

from __future__ import annotations

import numbers
from collections.abc import Iterator
from typing import Any

import numpy as np

from glassnet import initializers, ops
from glassnet.backend import default_float, is_float
from glassnet.checks import check_bool, check_number, check_positive_int, is_int
from glassnet.layers.layer import InputSpec, Layer, Shape, _copy_into
from glassnet.layers.node import is_symbolic
from glassnet.ops.lookup import bucketize, encode_categories
from glassnet.ops.resize import INTERPOLATIONS, resize
from glassnet.tensor import Tensor

__all__ = [
    "CategoryEncoding",
    "CenterCrop",
    "Discretization",
    "Normalization",
    "Rescaling",
    "Resizing",
    "adapt_batches",
]

_IMAGES = "(batch, height, width, channels)"


class Rescaling(Layer):
    """Multiplies by ``scale`` and adds ``offset``: ``Rescaling(1 / 255)`` maps pixels to
    [0, 1], ``Rescaling(1 / 127.5, offset=-1)`` to [−1, 1].

    Putting it first in a model means a saved model takes raw pixels, so whoever serves it
    cannot forget the scaling.

    Args:
        scale: the factor. offset: the amount added after scaling.

    Shape:
        Output like the input (float32, also for uint8 images).
    """

    trains_in_shares = True  # see Layer.trains_in_shares
    _config_keys = ("scale", "offset")

    def __init__(
        self,
        scale: float,
        offset: float = 0.0,
        *,
        name: str | None = None,
        trainable: bool = True,
    ) -> None:
        super().__init__(name=name, trainable=trainable)
        self.scale = check_number("Rescaling", "scale", scale)
        self.offset = check_number("Rescaling", "offset", offset)

    def call(self, x: Tensor, training: bool = False) -> Tensor:
        y = x * self.scale
        return y if self.offset == 0.0 else y + self.offset

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return self._check_input_shape(input_shape)


# ------------------------------------------------------------------ adapt's data
def adapt_batches(where: str, data: Any) -> Iterator[np.ndarray]:
    """The NumPy batches of what ``adapt`` was given: an array (or Tensor, or list), or an
    iterable of batches (a glassnet dataset, a generator), each an array or an (x, y) pair of
    which x is used."""
    if isinstance(data, Tensor):
        yield data.numpy()
        return
    if isinstance(data, np.ndarray) or (isinstance(data, (list, tuple)) and _flat(data)):
        yield np.asarray(data)
        return
    try:
        batches = iter(data)
    except TypeError:
        raise TypeError(
            f"{where}.adapt: expected an array, a Tensor or an iterable of batches. Received "
            f"{type(data).__name__}."
        ) from None
    for batch in batches:
        if isinstance(batch, (tuple, list)) and len(batch) in (2, 3) and not _flat(batch):
            batch = batch[0]  # (x, y) or (x, y, sample_weight)
        yield batch.numpy() if isinstance(batch, Tensor) else np.asarray(batch)


def _flat(items: Any) -> bool:
    """A list of numbers or strings (or of such lists): data, not a list of batches."""
    return len(items) > 0 and all(
        isinstance(v, (numbers.Number, str, bytes)) or (isinstance(v, (list, tuple)) and _flat(v))
        for v in items
    )


def _not_empty(where: str, seen: int) -> None:
    if seen == 0:
        raise ValueError(f"{where}.adapt: the data holds no samples to learn from.")


# ------------------------------------------------------------------ Normalization
#: Keras's ``backend.epsilon()``: the smallest standard deviation divided by.
EPSILON = 1e-7


class Normalization(Layer):
    """Shifts and scales features to mean 0 and variance 1: ``(x − mean) / sqrt(variance)``,
    with a mean and variance per index of ``axis``, learned from data by ``adapt`` (or given).

    Features measured in metres next to ones in millions train badly together; the layer keeps
    the statistics of the training data inside the model, so a saved model takes raw features.

    Example::

        norm = layers.Normalization()
        norm.adapt(x_train)                  # per-feature mean and variance of the data
        model = Sequential([layers.Input((8,)), norm, layers.Dense(1)])

    Args:
        axis: the axis (or axes) that keeps its own statistics, -1 (the features) by default;
            every other axis is averaged over. None: one mean and one variance for all.
        mean, variance: the statistics, if known: a number or an array broadcastable to the
            kept axes. Both or neither; without them, call ``adapt(data)`` before use.
        invert: undo the normalization instead: ``mean + x · sqrt(variance)``.

    The standard deviation divided by is at least ``1e-7`` (Keras's epsilon), so a constant
    feature gives 0, not NaN. Adapted statistics are the layer's non-trainable weights
    ``mean`` and ``variance`` (saved with the weights), with ``count``, the number of values
    each was learned from (Keras's three weights); given ones are in the config.

    Shape:
        Output like the input (float).
    """

    _config_keys = ("axis", "invert")

    def __init__(
        self,
        axis: int | tuple[int, ...] | None = -1,
        mean: Any = None,
        variance: Any = None,
        invert: bool = False,
        *,
        name: str | None = None,
        trainable: bool = True,
    ) -> None:
        super().__init__(name=name, trainable=trainable)
        where = "Normalization"
        if axis is None:
            self.axis: int | tuple[int, ...] | None = None
        elif is_int(axis):
            self.axis = int(axis)
        elif isinstance(axis, (tuple, list)) and all(is_int(a) for a in axis):
            self.axis = tuple(int(a) for a in axis)
        else:
            raise TypeError(
                f"{where}: 'axis' must be an integer, a tuple of integers or None. "
                f"Received: axis={axis!r}"
            )
        if (mean is None) != (variance is None):
            raise ValueError(
                f"{where}: pass both 'mean' and 'variance', or neither (then call adapt). "
                f"Received: mean={mean!r}, variance={variance!r}"
            )
        # The given statistics (config); adapted ones become the weights ``mean``/``variance``.
        self._given_mean = _numbers(where, "mean", mean)
        self._given_variance = _numbers(where, "variance", variance)
        if variance is not None and np.any(np.asarray(self._given_variance) < 0):
            raise ValueError(f"{where}: 'variance' must not be negative. Received: {variance!r}")
        self.invert = check_bool(where, "invert", invert)

    def _keep_axes(self, ndim: int) -> tuple[int, ...]:
        if self.axis is None:
            return ()
        axes = (self.axis,) if isinstance(self.axis, int) else self.axis
        kept = []
        for a in axes:
            if not -ndim <= a < ndim or a % ndim == 0:
                raise ValueError(
                    f"{self._where}: 'axis' {a} is not a feature axis of an input with {ndim} "
                    f"axes (axis 0 is the batch). Received: axis={self.axis!r}"
                )
            kept.append(a % ndim)
        return tuple(sorted(set(kept)))

    def build(self, input_shape: Shape) -> None:
        shape = tuple(input_shape)
        keep = self._keep_axes(len(shape))
        for a in keep:
            if shape[a] is None:
                raise ValueError(
                    f"{self._where}: axis {a} keeps its own statistics, so its size must be "
                    f"known. Received input shape {shape}."
                )
        self._broadcast = tuple(shape[a] if a in keep else 1 for a in range(len(shape)))
        if self._given_mean is None:
            kept = tuple(shape[a] for a in keep)
            # NaN until adapt (or a loaded file) fills them: using the layer before is refused.
            nan = initializers.Constant(float("nan"))
            self.mean = self.add_weight("mean", kept, nan, trainable=False)
            self.variance = self.add_weight("variance", kept, nan, trainable=False)
            # How many values each statistic was learned from (Keras keeps this weight too).
            self.count = self.add_weight("count", (), "zeros", trainable=False, dtype="int64")

    def adapt(self, data: Any) -> None:
        """Learn the mean and variance of ``data`` (an array, or an iterable of batches or of
        (x, y) pairs) over every axis but ``axis``, batch by batch (Chan's pairwise update, in
        float64)."""
        if self._given_mean is not None:
            raise ValueError(
                f"{self._where}: adapt learns 'mean' and 'variance', but they were given when the "
                "layer was created. Create it without them to adapt it."
            )
        count, mean, m2 = 0, None, None
        for batch in adapt_batches(self._where, data):
            batch = batch.astype(np.float64)
            if batch.ndim == 0 or batch.shape[0] == 0:
                continue
            if not self.built:
                self.build((None, *batch.shape[1:]))
            keep = self._keep_axes(batch.ndim)
            kept = tuple(batch.shape[a] for a in keep)
            if kept != tuple(self.mean.shape):
                raise ValueError(
                    f"{self._where}.adapt: the data's kept axes {keep} have sizes {kept}, but "
                    f"the layer was built for {tuple(self.mean.shape)}. Received batch shape "
                    f"{batch.shape}."
                )
            over = tuple(a for a in range(batch.ndim) if a not in keep)
            n = batch.size // max(int(np.prod([batch.shape[a] for a in keep])), 1)
            b_mean = batch.mean(axis=over)
            b_m2 = ((batch - batch.mean(axis=over, keepdims=True)) ** 2).sum(axis=over)
            if mean is None:
                count, mean, m2 = n, b_mean, b_m2
                continue
            delta = b_mean - mean
            total = count + n
            mean = mean + delta * n / total
            m2 = m2 + b_m2 + delta**2 * count * n / total
            count = total
        _not_empty(self._where, count)
        _copy_into(self.mean, np.reshape(mean, self.mean.shape))
        _copy_into(self.variance, np.reshape(m2 / count, self.variance.shape))
        _copy_into(self.count, np.asarray(count))

    def call(self, x: Tensor, training: bool = False) -> Tensor:
        x = x if is_float(x.dtype) else x.astype(default_float)
        if self._given_mean is not None:
            mean, std = (a.astype(x.dtype) for a in self._statistics())
        else:
            if np.isnan(float(self.mean.data.reshape(-1)[:1].sum())):
                raise RuntimeError(
                    f"{self._where}: the layer has no statistics yet. Call adapt(data) on the "
                    "training data before using it, or pass mean= and variance=."
                )
            mean = ops.reshape(self.mean, self._broadcast)
            std = ops.maximum(ops.sqrt(ops.reshape(self.variance, self._broadcast)), EPSILON)
        return mean + x * std if self.invert else (x - mean) / std

    def _statistics(self) -> tuple[np.ndarray, np.ndarray]:
        """The mean and the divisor max(sqrt(variance), 1e-7) as float64 arrays shaped to
        broadcast against the input (batch axis 1): from the given numbers or the weights. A
        given array with one value per kept index is laid out along the kept axes (Keras)."""
        if self._given_mean is None:
            mean, variance = self.mean.numpy(), self.variance.numpy()
        else:
            mean, variance = self._given_mean, self._given_variance
        out = []
        for value in (mean, variance):
            array = np.asarray(value, np.float64)
            if array.ndim and array.size == int(np.prod(self._broadcast)):
                array = array.reshape(self._broadcast)
            try:
                out.append(np.broadcast_to(array, self._broadcast))
            except ValueError:
                raise ValueError(
                    f"{self._where}: a statistic of shape {array.shape} does not fit the kept "
                    f"axes {self.axis!r} of the input (statistics shape {self._broadcast})."
                ) from None
        return out[0], np.maximum(np.sqrt(out[1]), EPSILON)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return self._check_input_shape(input_shape)

    def get_config(self) -> dict[str, Any]:
        return super().get_config() | {"mean": self._given_mean, "variance": self._given_variance}

    def summary_formula(self) -> str:
        """Keras's count: a mean and a variance per kept index, and the sample count."""
        if self._given_mean is not None:
            return "0 (given statistics)"
        return f"2·{int(self.mean.size)} + 1 (mean, variance, count; not trained)"


def _numbers(where: str, arg: str, value: Any) -> float | list[Any] | None:
    """A statistic given as a number or an array: kept as a float or nested list (JSON)."""
    if value is None:
        return None
    try:
        array = np.asarray(value.numpy() if isinstance(value, Tensor) else value, np.float64)
    except (TypeError, ValueError):
        array = np.array([np.nan])
    if not np.all(np.isfinite(array)):
        raise TypeError(
            f"{where}: '{arg}' must be a finite number or an array of finite numbers. "
            f"Received: {arg}={value!r}"
        )
    return float(array) if array.ndim == 0 else array.tolist()


# ------------------------------------------------------------------ Resizing, CenterCrop
def _check_interpolation(where: str, value: Any) -> str:
    if value not in INTERPOLATIONS:
        raise ValueError(
            f"{where}: 'interpolation' must be one of {', '.join(map(repr, INTERPOLATIONS))} "
            f"(Keras's 'bicubic', 'area', 'lanczos3', 'lanczos5' are not here). "
            f"Received: interpolation={value!r}"
        )
    return value


def _centred_window(in_h: int, in_w: int, height: int, width: int) -> tuple[int, int, int, int]:
    """Keras's crop for the target's aspect ratio: the largest centred window (top, left,
    height, width) with the proportions height:width."""
    crop_h = max(min(in_h, int(in_w * height / width)), 1)
    crop_w = max(min(in_w, int(in_h * width / height)), 1)
    return (in_h - crop_h) // 2, (in_w - crop_w) // 2, crop_h, crop_w


class Resizing(Layer):
    """Resizes a batch of images to ``(height, width)``: bilinear (or nearest) interpolation
    with half-pixel centres and no antialiasing, like TensorFlow's ``resize`` under Keras.

    Puts photos of any size into the shape the network was built for, inside the model.

    Args:
        height, width: the output size.
        interpolation: "bilinear" or "nearest".
        crop_to_aspect_ratio: first cut the largest centred window with the target's aspect
            ratio, so nothing is stretched.

    Shape:
        (batch, H, W, channels) -> (batch, height, width, channels).
    """

    _config_keys = ("height", "width", "interpolation", "crop_to_aspect_ratio")

    def __init__(
        self,
        height: int,
        width: int,
        interpolation: str = "bilinear",
        crop_to_aspect_ratio: bool = False,
        *,
        name: str | None = None,
        trainable: bool = True,
    ) -> None:
        super().__init__(name=name, trainable=trainable)
        self.height = check_positive_int("Resizing", "height", height)
        self.width = check_positive_int("Resizing", "width", width)
        self.interpolation = _check_interpolation("Resizing", interpolation)
        self.crop_to_aspect_ratio = check_bool(
            "Resizing", "crop_to_aspect_ratio", crop_to_aspect_ratio
        )
        self.input_spec = InputSpec(ndim=4, layout=_IMAGES)

    def call(self, x: Tensor, training: bool = False) -> Tensor:
        x = x if is_float(x.dtype) else x.astype(default_float)
        if self.crop_to_aspect_ratio:
            top, left, h, w = _centred_window(x.shape[1], x.shape[2], self.height, self.width)
            if (h, w) != tuple(x.shape[1:3]):
                x = x[:, top : top + h, left : left + w]
        if tuple(x.shape[1:3]) == (self.height, self.width):
            return x
        return resize(x, (self.height, self.width), self.interpolation)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        shape = self._check_input_shape(input_shape)
        return (shape[0], self.height, self.width, shape[3])


class CenterCrop(Layer):
    """Cuts the central ``(height, width)`` window of each image (an image smaller than that
    is first resized, keeping its aspect ratio, as Keras does).

    Args:
        height, width: the output size.

    Shape:
        (batch, H, W, channels) -> (batch, height, width, channels).
    """

    _config_keys = ("height", "width")

    def __init__(
        self, height: int, width: int, *, name: str | None = None, trainable: bool = True
    ) -> None:
        super().__init__(name=name, trainable=trainable)
        self.height = check_positive_int("CenterCrop", "height", height)
        self.width = check_positive_int("CenterCrop", "width", width)
        self.input_spec = InputSpec(ndim=4, layout=_IMAGES)

    def call(self, x: Tensor, training: bool = False) -> Tensor:
        x = x if is_float(x.dtype) else x.astype(default_float)
        in_h, in_w = x.shape[1:3]
        if in_h < self.height or in_w < self.width:
            # Keras's smart_resize: the largest centred window of the target's proportions.
            top, left, h, w = _centred_window(in_h, in_w, self.height, self.width)
            x = x[:, top : top + h, left : left + w]
            return resize(x, (self.height, self.width), "bilinear")
        top, left = (in_h - self.height) // 2, (in_w - self.width) // 2
        if (top, left) == (0, 0) and (in_h, in_w) == (self.height, self.width):
            return x
        return x[:, top : top + self.height, left : left + self.width]

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        shape = self._check_input_shape(input_shape)
        return (shape[0], self.height, self.width, shape[3])


# ------------------------------------------------------------------ categories and bins
CATEGORY_MODES = ("multi_hot", "one_hot", "count")


class CategoryEncoding(Layer):
    """Turns integer category ids into vectors: one-hot rows, or one multi-hot or count vector
    per sample, for a ``Dense`` layer to take.

    Example::

        layers.CategoryEncoding(num_tokens=4, output_mode="one_hot")([3, 2, 0, 1])
        # [[0, 0, 0, 1], [0, 0, 1, 0], [1, 0, 0, 0], [0, 1, 0, 0]]
        layers.CategoryEncoding(num_tokens=4, output_mode="count")([[0, 1], [0, 0]])
        # [[1, 1, 0, 0], [2, 0, 0, 0]]

    Args:
        num_tokens: how many categories; every id must lie in [0, num_tokens).
        output_mode: "multi_hot" (1 for each id a sample holds), "one_hot" (one row per id)
            or "count" (how often each id appears).

    Shape:
        one_hot: (batch,) or (batch, 1) -> (batch, num_tokens). multi_hot, count:
        (batch, k) -> (batch, num_tokens); a 1-D input is one sample. float32.
    """

    _config_keys = ("num_tokens", "output_mode")

    def __init__(
        self,
        num_tokens: int,
        output_mode: str = "multi_hot",
        *,
        name: str | None = None,
        trainable: bool = True,
    ) -> None:
        super().__init__(name=name, trainable=trainable)
        self.num_tokens = check_positive_int("CategoryEncoding", "num_tokens", num_tokens)
        if output_mode not in CATEGORY_MODES:
            raise ValueError(
                f"CategoryEncoding: 'output_mode' must be one of "
                f"{', '.join(map(repr, CATEGORY_MODES))}. Received: output_mode={output_mode!r}"
            )
        self.output_mode = output_mode

    def __call__(self, inputs: Any, training: bool | None = None) -> Any:
        # Ids, not numbers to convert to float32: keep integers exact (floats must be whole).
        if not is_symbolic(inputs):
            array = inputs.data if isinstance(inputs, Tensor) else np.asarray(inputs)
            ids = _whole_numbers(self._where, array)
            if not isinstance(inputs, Tensor):  # a Tensor (a model's batch) passes as it is
                inputs = Tensor(ids)
        return super().__call__(inputs, training=training)

    def call(self, x: Tensor, training: bool = False) -> Tensor:
        return encode_categories(x, self.num_tokens, self.output_mode, where=self._where)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        shape = tuple(input_shape)
        if self.output_mode == "one_hot" and len(shape) > 1 and shape[-1] == 1:
            shape = shape[:-1]
        if self.output_mode == "one_hot":
            return (*shape, self.num_tokens)
        return (*shape[:-1], self.num_tokens) if len(shape) > 1 else (self.num_tokens,)


def _whole_numbers(where: str, array: Any) -> np.ndarray:
    """Integer ids as int64; floats only when whole (fit gives float32 batches)."""
    array = np.asarray(array)
    if array.dtype.kind in "iu":
        return array.astype(np.int64)
    if array.dtype.kind == "f" and np.all(np.isfinite(array)) and np.all(np.mod(array, 1) == 0):
        return array.astype(np.int64)
    raise TypeError(
        f"{where}: expected integer category ids. Received an array of {array.dtype}"
        + (" with fractions." if array.dtype.kind == "f" else ".")
    )


class Discretization(Layer):
    """Puts numbers into bins: the output is the index of the bin each value falls in, bin i
    being [boundaries[i−1], boundaries[i]) (below the first boundary: 0).

    Example::

        layers.Discretization(bin_boundaries=[0.0, 1.0, 2.0])([[-1.5, 1.0, 3.4, 0.5]])
        # [[0, 2, 3, 1]]
        d = layers.Discretization(num_bins=4)
        d.adapt([[-1.5, 1.0, 3.4, 0.5], [0.0, 3.0, 1.3, 0.0]])   # quartiles as boundaries

    Args:
        bin_boundaries: the sorted boundaries, if known.
        num_bins: with ``adapt``: how many bins; the boundaries become the data's quantiles at
            1/num_bins, 2/num_bins, ... (exact, NumPy's linear interpolation; Keras
            approximates them with a streaming summary, within ``epsilon``). An adapted
            layer's config holds both, the learned boundaries and their number of bins.

    Shape:
        Like the input, int64 bin indices. No gradient flows back (a step function).
    """

    _config_keys = ("bin_boundaries", "num_bins")

    def __init__(
        self,
        bin_boundaries: Any = None,
        num_bins: int | None = None,
        *,
        name: str | None = None,
        trainable: bool = True,
    ) -> None:
        super().__init__(name=name, trainable=trainable)
        where = "Discretization"
        if bin_boundaries is None and num_bins is None:
            raise ValueError(
                f"{where}: pass 'bin_boundaries', or 'num_bins' and then call adapt. Received "
                "neither."
            )
        if num_bins is not None:
            num_bins = check_positive_int(where, "num_bins", num_bins)
        self.num_bins = num_bins
        self.bin_boundaries = None if bin_boundaries is None else _boundaries(where, bin_boundaries)
        # Both: an adapted layer's config (its learned boundaries), which must agree.
        if num_bins is not None and self.bin_boundaries is not None:
            if len(self.bin_boundaries) != num_bins - 1:
                raise ValueError(
                    f"{where}: {num_bins} bins have {num_bins - 1} boundaries; received "
                    f"{len(self.bin_boundaries)}. Pass either 'bin_boundaries' or 'num_bins'."
                )

    def adapt(self, data: Any) -> None:
        """Set the boundaries to the quantiles of ``data`` (an array, or an iterable of batches
        or (x, y) pairs) at 1/num_bins, 2/num_bins, ..., (num_bins − 1)/num_bins."""
        if self.num_bins is None:
            raise ValueError(
                f"{self._where}: adapt learns the boundaries for 'num_bins' bins, but the "
                "boundaries were given. Create the layer with num_bins=... to adapt it."
            )
        values = [np.asarray(b, np.float64).reshape(-1) for b in adapt_batches(self._where, data)]
        flat = np.concatenate(values) if values else np.zeros(0)
        _not_empty(self._where, flat.size)
        quantiles = np.quantile(flat, np.arange(1, self.num_bins) / self.num_bins)
        self.bin_boundaries = [float(q) for q in quantiles]

    def call(self, x: Tensor, training: bool = False) -> Tensor:
        if self.bin_boundaries is None:
            raise RuntimeError(
                f"{self._where}: the layer has no bin boundaries yet. Call adapt(data) first, "
                "or pass bin_boundaries=[...]."
            )
        return bucketize(x, tuple(self.bin_boundaries))

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return self._check_input_shape(input_shape)


def _boundaries(where: str, value: Any) -> list[float]:
    try:
        edges = np.asarray(value, np.float64)
    except (TypeError, ValueError):
        edges = np.array([np.nan])
    if edges.ndim != 1 or not np.all(np.isfinite(edges)) or np.any(np.diff(edges) < 0):
        raise ValueError(
            f"{where}: 'bin_boundaries' must be a sorted list of finite numbers. "
            f"Received: bin_boundaries={value!r}"
        )
    return [float(e) for e in edges]
