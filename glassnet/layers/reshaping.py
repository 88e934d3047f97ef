"""Layers that rearrange numbers without changing them: ``Flatten``, ``Reshape``, ``Permute``
and ``RepeatVector``; the image-border layers ``ZeroPadding2D``, ``Cropping2D`` and
``UpSampling2D``, which add, cut or repeat pixels (bilinear upsampling also blends them); their
1-D versions for sequences, ``ZeroPadding1D``, ``Cropping1D`` and ``UpSampling1D``; and their
3-D versions for volumes, ``ZeroPadding3D``, ``Cropping3D`` and ``UpSampling3D``."""

from __future__ import annotations

import math
from typing import Any, ClassVar

from glassnet import ops
from glassnet.checks import check_int_pair, check_int_tuple, check_positive_int, is_int
from glassnet.layers.layer import InputSpec, Layer, Shape
from glassnet.tensor import Tensor

__all__ = [
    "Cropping1D",
    "Cropping2D",
    "Cropping3D",
    "Flatten",
    "Permute",
    "RepeatVector",
    "Reshape",
    "UpSampling1D",
    "UpSampling2D",
    "UpSampling3D",
    "ZeroPadding1D",
    "ZeroPadding2D",
    "ZeroPadding3D",
]

_IMAGES = "(batch, height, width, channels)"
_SEQUENCES = "(batch, steps, features)"
_VOLUMES = "(batch, depth, height, width, channels)"
_LAYOUTS = {2: _IMAGES, 3: _VOLUMES}


class Flatten(Layer):
    """Lays each sample out as one long row of features, so a ``Dense`` layer can follow
    convolutions: a 7×7×5 feature map becomes 245 features.

    The batch axis is kept. The order is row-major over (height, width, channels), the order
    Keras uses, so Dense weights trained there line up with glassnet's.

    Shape:
        Input: ``(batch, d1, d2, ...)``. Output: ``(batch, d1·d2·...)``; ``(batch, 1)`` for a
        1-D input.
    """

    trains_in_shares = True  # see Layer.trains_in_shares

    def __init__(self, *, name: str | None = None, trainable: bool = True) -> None:
        super().__init__(name=name, trainable=trainable)
        self.input_spec = InputSpec(min_ndim=1)

    def call(self, x: Tensor, training: bool = False) -> Tensor:
        if x.ndim == 1:
            return ops.reshape(x, (x.shape[0], 1))
        return ops.flatten(x, start_dim=1)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        shape = self._check_input_shape(input_shape)
        rest = shape[1:]
        return (shape[0], None if None in rest else math.prod(rest))


class Reshape(Layer):
    """Gives each sample a new shape holding the same numbers, e.g. 784 pixels -> (28, 28, 1).

    Args:
        target_shape: the new shape of one sample (without the batch axis); one entry may be
            -1, meaning "whatever is left".

    Shape:
        Input: ``(batch, ...)``. Output: ``(batch, *target_shape)``.
    """

    trains_in_shares = True  # see Layer.trains_in_shares
    _config_keys = ("target_shape",)

    def __init__(
        self, target_shape: tuple[int, ...], *, name: str | None = None, trainable: bool = True
    ) -> None:
        super().__init__(name=name, trainable=trainable)
        if is_int(target_shape):
            target_shape = (target_shape,)
        ok = isinstance(target_shape, (tuple, list)) and all(
            is_int(d) and (d > 0 or d == -1) for d in target_shape
        )
        if not ok or list(target_shape).count(-1) > 1:
            raise ValueError(
                f"Reshape: 'target_shape' must be a tuple of positive integers with at most one "
                f"-1. Received: target_shape={target_shape!r}"
            )
        self.target_shape = tuple(int(d) for d in target_shape)
        self.input_spec = InputSpec(min_ndim=1)

    def call(self, x: Tensor, training: bool = False) -> Tensor:
        return ops.reshape(x, (x.shape[0], *self.target_shape))

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        shape = self._check_input_shape(input_shape)
        return (shape[0], *self._resolve(shape))

    def _check_input_shape(self, input_shape: Any) -> Shape:
        shape = super()._check_input_shape(input_shape)
        self._resolve(shape)
        return shape

    def _resolve(self, shape: Shape) -> tuple[int | None, ...]:
        """``target_shape`` with -1 replaced by the size it must have (None if unknown)."""
        values = None if None in shape[1:] else math.prod(shape[1:])
        known = math.prod(d for d in self.target_shape if d != -1)
        if values is None:
            return tuple(None if d == -1 else d for d in self.target_shape)
        fits = values % known == 0 if -1 in self.target_shape else values == known
        if not fits:
            raise ValueError(
                f"{self._where}: cannot reshape input shape {shape} ({values} values per sample) "
                f"into target_shape {self.target_shape}"
                f"{'' if -1 in self.target_shape else f' ({known} values)'}. The number of "
                f"values per sample must stay the same."
            )
        return tuple(values // known if d == -1 else d for d in self.target_shape)


class Permute(Layer):
    """Reorders the axes of each sample: ``Permute((2, 1))`` turns (batch, steps, features) into
    (batch, features, steps), e.g. to run a layer along the other axis.

    Args:
        dims: the new order of the sample's axes, numbered from 1 (the batch axis, 0, never
            moves): a permutation of 1..len(dims).

    Shape:
        Input: ``(batch, d1, ..., dk)``. Output: ``(batch, d_dims[0], ..., d_dims[k-1])``.
    """

    trains_in_shares = True  # see Layer.trains_in_shares
    _config_keys = ("dims",)

    def __init__(
        self, dims: tuple[int, ...], *, name: str | None = None, trainable: bool = True
    ) -> None:
        super().__init__(name=name, trainable=trainable)
        ok = isinstance(dims, (tuple, list)) and all(is_int(d) for d in dims)
        if not ok or sorted(dims) != list(range(1, len(dims) + 1)):
            raise ValueError(
                f"Permute: 'dims' must be a permutation of 1..{len(dims) if ok else 'k'}, the "
                f"sample's axes numbered from 1 (the batch axis is not included). Received: "
                f"dims={dims!r}. Example: dims=(2, 1) swaps the two axes of (steps, features)."
            )
        self.dims = tuple(int(d) for d in dims)
        self.input_spec = InputSpec(ndim=len(self.dims) + 1)

    def call(self, x: Tensor, training: bool = False) -> Tensor:
        return ops.transpose(x, (0, *self.dims))

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        shape = self._check_input_shape(input_shape)
        return (shape[0], *(shape[d] for d in self.dims))


class RepeatVector(Layer):
    """Repeats each sample's feature vector ``n`` times: (batch, features) -> (batch, n,
    features). In a sequence-to-sequence model it hands the encoder's summary to every step of
    the decoder.

    Args:
        n: how many times to repeat.

    Shape:
        Input: ``(batch, features)``. Output: ``(batch, n, features)``.
    """

    trains_in_shares = True  # see Layer.trains_in_shares
    _config_keys = ("n",)

    def __init__(self, n: int, *, name: str | None = None, trainable: bool = True) -> None:
        super().__init__(name=name, trainable=trainable)
        self.n = check_positive_int("RepeatVector", "n", n)
        self.input_spec = InputSpec(ndim=2, layout="(batch, features)")

    def call(self, x: Tensor, training: bool = False) -> Tensor:
        rows = ops.reshape(x, (x.shape[0], 1, x.shape[1]))
        # broadcast_to's backward sums the n copies' gradients back onto the one row.
        return ops.broadcast_to(rows, (x.shape[0], self.n, x.shape[1]))

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        shape = self._check_input_shape(input_shape)
        return (shape[0], self.n, shape[1])


def _border_pairs(where: str, arg: str, value: Any, rank: int = 2) -> tuple[tuple[int, int], ...]:
    """Keras's three spellings of a border as ((top, bottom), (left, right)): an int (every
    side), a pair (symmetric height, symmetric width) or a pair of pairs. With ``rank`` 3 (a
    volume) the same with three: ((front, back), (top, bottom), (left, right))."""
    if is_int(value):
        pairs: Any = ((value, value),) * rank
    elif isinstance(value, (tuple, list)) and len(value) == rank and all(map(is_int, value)):
        pairs = tuple((v, v) for v in value)
    else:
        pairs = value
    ok = (
        isinstance(pairs, (tuple, list))
        and len(pairs) == rank
        and all(
            isinstance(p, (tuple, list)) and len(p) == 2 and all(is_int(v) for v in p)
            for p in pairs
        )
    )
    if not ok:
        spellings = (
            "a pair of ints (height, width) or a pair of pairs ((top, bottom), (left, right))"
            if rank == 2
            else "a tuple of 3 ints (depth, height, width) or 3 pairs ((front, back), (top, "
            "bottom), (left, right))"
        )
        raise ValueError(
            f"{where}: '{arg}' must be an int, {spellings}. Received: {arg}={value!r}."
        )
    if min(min(p) for p in pairs) < 0:
        raise ValueError(f"{where}: '{arg}' cannot be negative. Received: {arg}={value!r}.")
    return tuple((int(lo), int(hi)) for lo, hi in pairs)


class ZeroPadding2D(Layer):
    """Adds rows and columns of zeros around each image, e.g. so a convolution with
    padding="valid" keeps the size, or to pad an odd size before a stride-2 layer.

    Args:
        padding: an int (the same on all four sides), a pair (symmetric height padding,
            symmetric width padding) or ((top, bottom), (left, right)).

    Shape:
        Input: ``(batch, height, width, channels)``.
        Output: ``(batch, top + height + bottom, left + width + right, channels)``.
    """

    trains_in_shares = True  # see Layer.trains_in_shares
    _config_keys = ("padding",)
    rank: ClassVar[int] = 2  # spatial axes: 2 for images, 3 for volumes

    def __init__(
        self,
        padding: int | tuple[int, int] | tuple[tuple[int, int], tuple[int, int]] = (1, 1),
        *,
        name: str | None = None,
        trainable: bool = True,
    ) -> None:
        super().__init__(name=name, trainable=trainable)
        self.padding = _border_pairs(type(self).__name__, "padding", padding, self.rank)
        self.input_spec = InputSpec(ndim=self.rank + 2, layout=_LAYOUTS[self.rank])

    def call(self, x: Tensor, training: bool = False) -> Tensor:
        return ops.pad(x, ((0, 0), *self.padding, (0, 0)))

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        n, *sizes, c = self._check_input_shape(input_shape)
        padded = (
            None if size is None else size + lo + hi
            for size, (lo, hi) in zip(sizes, self.padding, strict=True)
        )
        return (n, *padded, c)


class Cropping2D(Layer):
    """Cuts rows and columns off the borders of each image, e.g. to match a skip connection's
    size in a U-Net.

    Args:
        cropping: an int (the same on all four sides), a pair (symmetric height cropping,
            symmetric width cropping) or ((top, bottom), (left, right)).

    Shape:
        Input: ``(batch, height, width, channels)``.
        Output: ``(batch, height - top - bottom, width - left - right, channels)``.
    """

    trains_in_shares = True  # see Layer.trains_in_shares
    _config_keys = ("cropping",)
    rank: ClassVar[int] = 2  # spatial axes: 2 for images, 3 for volumes

    def __init__(
        self,
        cropping: int | tuple[int, int] | tuple[tuple[int, int], tuple[int, int]] = (
            (0, 0),
            (0, 0),
        ),
        *,
        name: str | None = None,
        trainable: bool = True,
    ) -> None:
        super().__init__(name=name, trainable=trainable)
        self.cropping = _border_pairs(type(self).__name__, "cropping", cropping, self.rank)
        self.input_spec = InputSpec(ndim=self.rank + 2, layout=_LAYOUTS[self.rank])

    def call(self, x: Tensor, training: bool = False) -> Tensor:
        kept = (
            slice(lo, size - hi)
            for size, (lo, hi) in zip(x.shape[1:-1], self.cropping, strict=True)
        )
        return ops.getitem(x, (slice(None), *kept))

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        n, *sizes, c = self._check_input_shape(input_shape)
        kept = (
            None if size is None else size - lo - hi
            for size, (lo, hi) in zip(sizes, self.cropping, strict=True)
        )
        return (n, *kept, c)

    def _check_input_shape(self, input_shape: Any) -> Shape:
        shape = super()._check_input_shape(input_shape)
        names = ("height", "width") if self.rank == 2 else ("depth", "height", "width")
        sides = zip(shape[1:-1], self.cropping, names, strict=True)
        for size, (lo, hi), what in sides:
            if size is not None and lo + hi >= size:
                raise ValueError(
                    f"{self._where}: cropping={self.cropping} removes {lo + hi} of the {size} "
                    f"pixels of the {what} (input shape {shape}); at least one must remain. "
                    f"Crop less or feed larger {'images' if self.rank == 2 else 'volumes'}."
                )
        return shape


class UpSampling2D(Layer):
    """Enlarges each image by whole factors: the decoder half of a U-Net or an autoencoder.

    ``interpolation="nearest"`` repeats every pixel into a size[0]×size[1] block;
    ``"bilinear"`` blends neighbouring pixels with half-pixel centres (TensorFlow's
    ``resize``, PyTorch's ``interpolate(mode="bilinear", align_corners=False)``).

    Args:
        size: the factors for height and width, an int or a pair (default 2×2).
        interpolation: "nearest" or "bilinear".

    Shape:
        Input: ``(batch, height, width, channels)``.
        Output: ``(batch, height·size[0], width·size[1], channels)``.
    """

    trains_in_shares = True  # see Layer.trains_in_shares
    _config_keys = ("size", "interpolation")

    def __init__(
        self,
        size: int | tuple[int, int] = (2, 2),
        interpolation: str = "nearest",
        *,
        name: str | None = None,
        trainable: bool = True,
    ) -> None:
        super().__init__(name=name, trainable=trainable)
        self.size = check_int_pair("UpSampling2D", "size", size)
        if interpolation not in ("nearest", "bilinear"):
            raise ValueError(
                f"UpSampling2D: 'interpolation' must be 'nearest' or 'bilinear' (Keras's "
                f"'bicubic', 'lanczos3', 'lanczos5' and 'area' are not available). Received: "
                f"interpolation={interpolation!r}."
            )
        self.interpolation = interpolation
        self.input_spec = InputSpec(ndim=4, layout=_IMAGES)

    def call(self, x: Tensor, training: bool = False) -> Tensor:
        if self.interpolation == "bilinear":
            return ops.upsample_bilinear2d(x, self.size)
        return ops.upsample_nearest2d(x, self.size)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        n, h, w, c = self._check_input_shape(input_shape)
        sh, sw = self.size
        return (n, None if h is None else h * sh, None if w is None else w * sw, c)


class ZeroPadding3D(ZeroPadding2D):
    """Adds planes of zeros around each volume (depth, height and width): ``ZeroPadding2D``
    with one more axis.

    Args:
        padding: an int (the same on all six sides), a tuple of 3 ints (symmetric depth,
            height and width padding) or ((front, back), (top, bottom), (left, right)).

    Shape:
        Input: ``(batch, depth, height, width, channels)``.
        Output: ``(batch, front + depth + back, top + height + bottom, left + width + right,
        channels)``.
    """

    rank = 3

    def __init__(
        self,
        padding: int | tuple[int, int, int] | tuple[tuple[int, int], ...] = (
            (1, 1),
            (1, 1),
            (1, 1),
        ),
        *,
        name: str | None = None,
        trainable: bool = True,
    ) -> None:
        super().__init__(padding, name=name, trainable=trainable)


class Cropping3D(Cropping2D):
    """Cuts planes off the borders of each volume (depth, height and width): ``Cropping2D``
    with one more axis.

    Args:
        cropping: an int (the same on all six sides), a tuple of 3 ints (symmetric depth,
            height and width cropping) or ((front, back), (top, bottom), (left, right)).

    Shape:
        Input: ``(batch, depth, height, width, channels)``.
        Output: ``(batch, depth - front - back, height - top - bottom, width - left - right,
        channels)``.
    """

    rank = 3

    def __init__(
        self,
        cropping: int | tuple[int, int, int] | tuple[tuple[int, int], ...] = (
            (1, 1),
            (1, 1),
            (1, 1),
        ),
        *,
        name: str | None = None,
        trainable: bool = True,
    ) -> None:
        super().__init__(cropping, name=name, trainable=trainable)


class UpSampling3D(Layer):
    """Enlarges each volume by whole factors, every voxel repeated into a size[0]×size[1]×
    size[2] block (nearest neighbour, as Keras's ``UpSampling3D``): the decoder half of a 3-D
    U-Net.

    Args:
        size: the factors for depth, height and width, an int or a tuple of 3 (default 2×2×2).

    Shape:
        Input: ``(batch, depth, height, width, channels)``.
        Output: ``(batch, depth·size[0], height·size[1], width·size[2], channels)``.
    """

    trains_in_shares = True  # see Layer.trains_in_shares
    _config_keys = ("size",)

    def __init__(
        self,
        size: int | tuple[int, int, int] = (2, 2, 2),
        *,
        name: str | None = None,
        trainable: bool = True,
    ) -> None:
        super().__init__(name=name, trainable=trainable)
        self.size = check_int_tuple("UpSampling3D", "size", size, 3)
        self.input_spec = InputSpec(ndim=5, layout=_VOLUMES)

    def call(self, x: Tensor, training: bool = False) -> Tensor:
        return ops.upsample_nearest3d(x, self.size)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        n, *sizes, c = self._check_input_shape(input_shape)
        grown = (None if d is None else d * s for d, s in zip(sizes, self.size, strict=True))
        return (n, *grown, c)


def _ends(where: str, arg: str, value: Any) -> tuple[int, int]:
    """Keras's two spellings of a 1-D border as (start, end): an int (both ends) or a pair."""
    pair = (value, value) if is_int(value) else value
    ok = isinstance(pair, (tuple, list)) and len(pair) == 2 and all(is_int(v) for v in pair)
    if not ok:
        raise ValueError(
            f"{where}: '{arg}' must be an int or a pair of ints (start, end). Received: "
            f"{arg}={value!r}."
        )
    if min(pair) < 0:
        raise ValueError(f"{where}: '{arg}' cannot be negative. Received: {arg}={value!r}.")
    return int(pair[0]), int(pair[1])


class ZeroPadding1D(Layer):
    """Adds zero time steps at the start and end of each sequence (e.g. before a convolution
    with padding="valid").

    Args:
        padding: an int (the same at both ends) or a pair (start, end).

    Shape:
        Input: ``(batch, steps, features)``. Output: ``(batch, start + steps + end, features)``.
    """

    trains_in_shares = True  # see Layer.trains_in_shares
    _config_keys = ("padding",)

    def __init__(
        self, padding: int | tuple[int, int] = 1, *, name: str | None = None, trainable: bool = True
    ) -> None:
        super().__init__(name=name, trainable=trainable)
        self.padding = _ends("ZeroPadding1D", "padding", padding)
        self.input_spec = InputSpec(ndim=3, layout=_SEQUENCES)

    def call(self, x: Tensor, training: bool = False) -> Tensor:
        return ops.pad(x, ((0, 0), self.padding, (0, 0)))

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        n, steps, f = self._check_input_shape(input_shape)
        return (n, None if steps is None else steps + sum(self.padding), f)


class Cropping1D(Layer):
    """Cuts time steps off the start and end of each sequence.

    Args:
        cropping: an int (the same at both ends) or a pair (start, end); Keras's default
            (1, 1).

    Shape:
        Input: ``(batch, steps, features)``. Output: ``(batch, steps - start - end, features)``.
    """

    trains_in_shares = True  # see Layer.trains_in_shares
    _config_keys = ("cropping",)

    def __init__(
        self,
        cropping: int | tuple[int, int] = (1, 1),
        *,
        name: str | None = None,
        trainable: bool = True,
    ) -> None:
        super().__init__(name=name, trainable=trainable)
        self.cropping = _ends("Cropping1D", "cropping", cropping)
        self.input_spec = InputSpec(ndim=3, layout=_SEQUENCES)

    def call(self, x: Tensor, training: bool = False) -> Tensor:
        start, end = self.cropping
        return ops.getitem(x, (slice(None), slice(start, x.shape[1] - end)))

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        n, steps, f = self._check_input_shape(input_shape)
        return (n, None if steps is None else steps - sum(self.cropping), f)

    def _check_input_shape(self, input_shape: Any) -> Shape:
        shape = super()._check_input_shape(input_shape)
        if shape[1] is not None and sum(self.cropping) >= shape[1]:
            raise ValueError(
                f"{self._where}: cropping={self.cropping} removes {sum(self.cropping)} of the "
                f"{shape[1]} steps (input shape {shape}); at least one must remain. Crop less "
                f"or feed longer sequences."
            )
        return shape


class UpSampling1D(Layer):
    """Repeats each time step ``size`` times: (batch, steps, features) -> (batch, steps·size,
    features). It runs ``upsample_nearest2d`` on the one-row image (batch, 1, steps, features),
    the op behind ``UpSampling2D``.

    Args:
        size: how many times to repeat each step (default 2).

    Shape:
        Input: ``(batch, steps, features)``. Output: ``(batch, steps·size, features)``.
    """

    trains_in_shares = True  # see Layer.trains_in_shares
    _config_keys = ("size",)

    def __init__(self, size: int = 2, *, name: str | None = None, trainable: bool = True) -> None:
        super().__init__(name=name, trainable=trainable)
        self.size = check_positive_int("UpSampling1D", "size", size)
        self.input_spec = InputSpec(ndim=3, layout=_SEQUENCES)

    def call(self, x: Tensor, training: bool = False) -> Tensor:
        n, steps, f = x.shape
        image = ops.reshape(x, (n, 1, steps, f))
        return ops.reshape(ops.upsample_nearest2d(image, (1, self.size)), (n, steps * self.size, f))

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        n, steps, f = self._check_input_shape(input_shape)
        return (n, None if steps is None else steps * self.size, f)
