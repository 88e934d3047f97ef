"""Data augmentation layers: random flips, shifts, crops, rotations, zooms, brightness, contrast.

A network trained on the same 50,000 photos every epoch can end up memorising their pixels.
Put these layers at the start of a model and, during ``fit``, every image is flipped, shifted,
turned or lit a little differently each time it is seen: the model sees a slightly different
photo each epoch, so it learns the cat, not the pixels. At inference (``predict``, ``evaluate``)
they do nothing, so the saved model takes the real photo as it is.

Example::

    model = gn.Sequential([
        layers.Input((32, 32, 3)),
        layers.RandomFlip("horizontal"),        # a cat facing left or right
        layers.RandomTranslation(0.1, 0.1),     # moved by up to 10% of the size
        layers.RandomRotation(0.05),            # turned by up to ±18°
        layers.Rescaling(1 / 255),
        layers.Conv2D(32, 3, activation="relu"),
        ...
    ])

How they behave (Keras 3's names, arguments and meaning, channels-last images):

* Active only when called with ``training=True`` (``fit`` does that); otherwise the input
  comes back unchanged, the very same Tensor. ``RandomCrop`` is the one exception: at inference
  it crops the centre, so the output shape is the same in both modes.
* Each image of the batch gets its own random draw.
* ``seed=None`` draws from the engine's generator (``glassnet.backend.manual_seed`` makes a run
  repeatable); an integer gives the layer its own ``numpy.random.Generator`` (kept in
  ``self._rng``, which training checkpoints save and restore).
* Input: a batch ``(batch, height, width, channels)`` of floats in any range. Integer tensors
  become float32; float32 stays float32 and float64 stays float64.

Geometry: the layers build one inverse affine matrix per image and share one sampler,
``glassnet.ops.image.affine_sample`` (its module explains the maths and the fill modes).
Every random number is drawn inside an op (``glassnet.ops.draws``), so a replayed training
step (``models.replay``) draws afresh for each batch, as the layer's Python would.

Differences from Keras 3 (each deliberate, each a fix of a Keras quirk or a simplification):

* ``RandomFlip("horizontal_and_vertical")`` tosses one coin per axis (four outcomes, like Keras
  2 and ``tf.image``); Keras 3's code reuses one coin for both axes, so an image is either
  untouched or turned 180°.
* ``RandomCrop`` picks a crop position per image (Keras: one per batch); crops at random
  whenever the image is at least the target size (Keras needs it strictly larger in both
  axes); and at inference cuts the centre window at the original scale. Keras 3's code returns
  the input unchanged at inference (keras-team/keras#21868); its docstring promises the largest
  centred window of the target's aspect ratio resized to the target, which would show objects
  at another scale than the training crops did. Images smaller than the target take that
  Keras fallback in both modes: the largest centred window with the target's aspect ratio,
  resized bilinearly.
* ``RandomContrast(0.2)`` draws its factor from [0.8, 1.2] as Keras documents (Keras 3's code
  draws from [1.0, 1.2]); it clips only when given ``value_range`` (Keras 3 clips to (0, 255)
  by default, which would wreck standardised inputs with negative values).
* ``fill_mode="wrap"`` blends the last and first pixels within half a pixel of the border, as
  Keras's NumPy/JAX backends do; the TensorFlow kernel repeats the last pixel there.
  ``"reflect"`` is a true reflection (Keras's torch backend substitutes "mirror").
* Only batches (4-D); Keras also takes one 3-D image. Add the batch axis: ``image[None]``.
"""

from __future__ import annotations

import functools
import math
import numbers
from typing import Any

import numpy as np

from glassnet.backend import default_float, get_array_module, get_rng, is_float
from glassnet.checks import check_number, check_positive_int, check_seed
from glassnet.layers.layer import InputSpec, Layer, Shape
from glassnet.ops import clip
from glassnet.ops.draws import per_sample_draws
from glassnet.ops.image import affine_sample
from glassnet.tensor import Tensor

__all__ = [
    "RandomBrightness",
    "RandomContrast",
    "RandomCrop",
    "RandomFlip",
    "RandomResizedCrop",
    "RandomRotation",
    "RandomTranslation",
    "RandomZoom",
]

_IMAGES = "(batch, height, width, channels)"
FILL_MODES = ("reflect", "wrap", "constant", "nearest")
INTERPOLATIONS = ("bilinear", "nearest")
FLIP_MODES = ("horizontal_and_vertical", "horizontal", "vertical")


# ------------------------------------------------------------------ argument checks


def _check_choice(where: str, arg: str, value: Any, choices: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in choices:
        options = ", ".join(repr(c) for c in choices)
        raise (ValueError if isinstance(value, str) else TypeError)(
            f"{where}: '{arg}' must be one of {options}. Received: {arg}={value!r}"
        )
    return value


def _is_real(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)


def _check_factor(
    where: str, arg: str, value: Any, low: float, high: float, meaning: str
) -> tuple[float | tuple[float, float], tuple[float, float]]:
    """A number f (the range (-|f|, |f|)) or a pair (lower, upper), every number in [low, high].

    Returns the value to store in the config and the (lower, upper) range to draw from.
    """
    pair = isinstance(value, (tuple, list))
    items = tuple(value) if pair else (value,)
    wanted = (
        f"{where}: '{arg}' must be a number or a pair (lower, upper) of numbers in "
        f"[{low}, {high}] ({meaning})"
    )
    if (pair and len(items) != 2) or not all(_is_real(v) for v in items):
        raise TypeError(f"{wanted}. Received: {arg}={value!r}")
    if not all(low <= v <= high for v in items):
        raise ValueError(f"{wanted}. Received: {arg}={value!r}")
    if pair:
        lower, upper = sorted(float(v) for v in items)
        return (float(items[0]), float(items[1])), (lower, upper)
    magnitude = abs(float(value))
    return float(value), (max(-magnitude, low), magnitude)


def _check_value_range(where: str, value: Any) -> tuple[float, float]:
    items = tuple(value) if isinstance(value, (tuple, list)) else ()
    if len(items) != 2 or not all(_is_real(v) for v in items) or items[0] == items[1]:
        raise ValueError(
            f"{where}: 'value_range' must be a pair (low, high) of two different finite "
            f"numbers, the range of the input values, e.g. (0, 255) or (0, 1). "
            f"Received: value_range={value!r}"
        )
    low, high = sorted(float(v) for v in items)
    return low, high


def _as_float(x: Tensor) -> Tensor:
    """Integer images become float32 (Keras outputs floats); float tensors pass through."""
    return x if is_float(x.dtype) else x.astype(default_float)


# ------------------------------------------------------------------ the common base
class _ImageAugmentation(Layer):
    """Shared by every augmentation layer: the seed and generator, the 4-D input check, the
    training switch (``_augment`` in training, the input itself otherwise) and the config."""

    trains_in_shares = True  # see Layer.trains_in_shares

    def __init__(self, seed: Any, *, name: str | None, trainable: bool) -> None:
        super().__init__(name=name, trainable=trainable)
        self.seed = check_seed(type(self).__name__, seed)
        # Its own generator when seeded (checkpoints save every Generator attribute).
        self._rng = None if self.seed is None else np.random.default_rng(self.seed)
        self.input_spec = InputSpec(ndim=4, layout=_IMAGES)

    def call(self, x: Tensor, training: bool = False) -> Tensor:
        x = _as_float(x)
        if not training:
            return x
        return self._augment(x, self._generator())

    def _augment(self, x: Tensor, rng: np.random.Generator) -> Tensor:
        raise NotImplementedError

    def _generator(self) -> np.random.Generator:
        """This layer's generator, or the engine's."""
        return self._rng if self._rng is not None else get_rng()

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return self._check_input_shape(input_shape)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(self._arguments())
        return config

    def _arguments(self) -> dict[str, Any]:
        return {"seed": self.seed}


class _AffineAugmentation(_ImageAugmentation):
    """Translation, rotation and zoom: one random inverse affine matrix per image, then
    ``affine_sample``. Subclasses write ``_matrices``."""

    def __init__(
        self,
        fill_mode: Any,
        interpolation: Any,
        seed: Any,
        fill_value: Any,
        *,
        name: str | None,
        trainable: bool,
    ) -> None:
        super().__init__(seed, name=name, trainable=trainable)
        where = type(self).__name__
        self.fill_mode = _check_choice(where, "fill_mode", fill_mode, FILL_MODES)
        self.interpolation = _check_choice(where, "interpolation", interpolation, INTERPOLATIONS)
        self.fill_value = check_number(where, "fill_value", fill_value)

    def _augment(self, x: Tensor, rng: np.random.Generator) -> Tensor:
        return _resample(x, self._matrices, rng, None, self.interpolation, self.fill_mode,
                         self.fill_value)  # fmt: skip

    def _matrices(
        self, rng: np.random.Generator, batch: int, height: int, width: int
    ) -> np.ndarray:
        raise NotImplementedError

    def _arguments(self) -> dict[str, Any]:
        return {
            "fill_mode": self.fill_mode,
            "interpolation": self.interpolation,
            "seed": self.seed,
            "fill_value": self.fill_value,
        }


def _resample(
    x: Tensor,
    matrices: Any,
    rng: np.random.Generator,
    output_size: tuple[int, int] | None = None,
    interpolation: str = "nearest",
    fill_mode: str = "nearest",
    fill_value: float = 0.0,
) -> Tensor:
    """x resampled through one random inverse affine matrix per image, drawn inside an op
    (``matrices(rng, batch, height, width)`` -> (B, 2, 3))."""
    batch, height, width, _ = x.shape
    draw = functools.partial(matrices, height=height, width=width)
    drawn = per_sample_draws(draw, rng, batch)
    return affine_sample(x, drawn, output_size, interpolation, fill_mode, fill_value)


def _affine_rows(a: Any, b: Any, batch: int) -> np.ndarray:
    """Stack per-image rows [a0, a1, a2] and [b0, b1, b2] (scalars broadcast) as (B, 2, 3)."""
    rows = [np.broadcast_to(np.asarray(v, dtype=np.float64), (batch,)) for v in (*a, *b)]
    return np.stack(rows, axis=-1).reshape(batch, 2, 3)


# ------------------------------------------------------------------ the layers
class RandomFlip(_ImageAugmentation):
    """In training, mirrors each image left–right and/or upside down, each with probability ½.

    A cat facing left is still a cat facing right: flipping doubles the photos the model sees
    for free. Use ``"horizontal"`` for photos (the sky stays up) and the default for images
    with no up or down (microscopy, satellite tiles).

    Args:
        mode: ``"horizontal"`` (left–right), ``"vertical"`` (upside down) or
            ``"horizontal_and_vertical"`` (a separate coin for each axis).
        seed: an int for the layer's own generator, or None for the engine's.

    Shape:
        (batch, height, width, channels) -> the same.
    """

    def __init__(
        self,
        mode: str = "horizontal_and_vertical",
        seed: int | None = None,
        *,
        name: str | None = None,
        trainable: bool = True,
    ) -> None:
        super().__init__(seed, name=name, trainable=trainable)
        self.mode = _check_choice("RandomFlip", "mode", mode, FLIP_MODES)

    def _augment(self, x: Tensor, rng: np.random.Generator) -> Tensor:
        return _resample(x, self._matrices, rng)

    def _matrices(
        self, rng: np.random.Generator, batch: int, height: int, width: int
    ) -> np.ndarray:
        """Per image, x' = −x + (width − 1) where the coin says flip left–right, else x' = x;
        likewise for rows. Whole pixels, so the nearest-pixel sampler copies them exactly."""
        sx = sy = np.ones(batch)
        if self.mode != "vertical":
            sx = np.where(rng.random(batch) < 0.5, -1.0, 1.0)
        if self.mode != "horizontal":
            sy = np.where(rng.random(batch) < 0.5, -1.0, 1.0)
        return _affine_rows((sx, 0.0, (1 - sx) / 2 * (width - 1)),
                            (0.0, sy, (1 - sy) / 2 * (height - 1)), batch)  # fmt: skip

    def _arguments(self) -> dict[str, Any]:
        return {"mode": self.mode, "seed": self.seed}


class RandomTranslation(_AffineAugmentation):
    """In training, shifts each image by a random fraction of its height and width.

    An object is the same object wherever it sits in the frame; random shifts stop the model
    from relying on where things usually are in the training photos.

    Args:
        height_factor: a fraction f of the height (shift by up to ±f·height) or a pair
            (lower, upper), each in [-1, 1]. Negative moves the image up, positive down.
        width_factor: the same for the width. Negative moves left, positive right.
        fill_mode: how to fill the uncovered border: "reflect", "wrap", "constant", "nearest".
        interpolation: "bilinear" (blend the 4 neighbours) or "nearest".
        seed: an int for the layer's own generator, or None for the engine's.
        fill_value: the value used by ``fill_mode="constant"``.

    Shape:
        (batch, height, width, channels) -> the same.
    """

    def __init__(
        self,
        height_factor: float | tuple[float, float],
        width_factor: float | tuple[float, float],
        fill_mode: str = "reflect",
        interpolation: str = "bilinear",
        seed: int | None = None,
        fill_value: float = 0.0,
        *,
        name: str | None = None,
        trainable: bool = True,
    ) -> None:
        super().__init__(fill_mode, interpolation, seed, fill_value, name=name, trainable=trainable)
        meaning = "fractions of the image size"
        self.height_factor, self._height_range = _check_factor(
            "RandomTranslation", "height_factor", height_factor, -1.0, 1.0, meaning
        )
        self.width_factor, self._width_range = _check_factor(
            "RandomTranslation", "width_factor", width_factor, -1.0, 1.0, meaning
        )

    def _matrices(
        self, rng: np.random.Generator, batch: int, height: int, width: int
    ) -> np.ndarray:
        dy = rng.uniform(*self._height_range, size=batch) * height
        dx = rng.uniform(*self._width_range, size=batch) * width
        # Output pixel (x, y) shows input point (x − dx, y − dy): the content moves by (dx, dy).
        return _affine_rows((1.0, 0.0, -dx), (0.0, 1.0, -dy), batch)

    def _arguments(self) -> dict[str, Any]:
        factors = {"height_factor": self.height_factor, "width_factor": self.width_factor}
        return {**factors, **super()._arguments()}


class RandomRotation(_AffineAugmentation):
    """In training, turns each image about its centre by a random angle.

    Photos are rarely perfectly level; small random turns teach the model that a tilted cat is
    still a cat.

    Args:
        factor: a fraction f of a full turn (2π), rotating by up to ±f·360°, or a pair
            (lower, upper), each in [-1, 1]. Positive turns counter-clockwise. ``0.25``
            allows any angle in [−90°, 90°].
        fill_mode: how to fill the corners: "reflect", "wrap", "constant", "nearest".
        interpolation: "bilinear" or "nearest".
        seed: an int for the layer's own generator, or None for the engine's.
        fill_value: the value used by ``fill_mode="constant"``.

    Shape:
        (batch, height, width, channels) -> the same.
    """

    def __init__(
        self,
        factor: float | tuple[float, float],
        fill_mode: str = "reflect",
        interpolation: str = "bilinear",
        seed: int | None = None,
        fill_value: float = 0.0,
        *,
        name: str | None = None,
        trainable: bool = True,
    ) -> None:
        super().__init__(fill_mode, interpolation, seed, fill_value, name=name, trainable=trainable)
        self.factor, self._range = _check_factor(
            "RandomRotation", "factor", factor, -1.0, 1.0, "fractions of a full turn"
        )

    def _matrices(
        self, rng: np.random.Generator, batch: int, height: int, width: int
    ) -> np.ndarray:
        angle = rng.uniform(*self._range, size=batch) * (2 * math.pi)
        cos, sin = np.cos(angle), np.sin(angle)
        cx, cy = (width - 1) / 2, (height - 1) / 2
        # Rotate the sampling grid about the centre; with rows growing downwards, a positive
        # angle here shows the picture turned counter-clockwise.
        return _affine_rows(
            (cos, -sin, cx - cx * cos + cy * sin), (sin, cos, cy - cx * sin - cy * cos), batch
        )

    def _arguments(self) -> dict[str, Any]:
        return {"factor": self.factor, **super()._arguments()}


class RandomZoom(_AffineAugmentation):
    """In training, zooms each image in or out about its centre by a random amount.

    The same object is photographed from nearer or further away; random zoom teaches the model
    that size alone does not decide the class.

    Args:
        height_factor: a fraction f (zoom by a random amount in [−f, f]) or a pair
            (lower, upper), each in [-1, 1]. Negative zooms in (the image looks bigger),
            positive zooms out: a factor z shows (1 + z)× the height.
        width_factor: the same for the width, or None to zoom both axes by the same amount
            (keeping the aspect ratio).
        fill_mode: how to fill the border when zooming out: "reflect", "wrap", "constant",
            "nearest".
        interpolation: "bilinear" or "nearest".
        seed: an int for the layer's own generator, or None for the engine's.
        fill_value: the value used by ``fill_mode="constant"``.

    Shape:
        (batch, height, width, channels) -> the same.
    """

    def __init__(
        self,
        height_factor: float | tuple[float, float],
        width_factor: float | tuple[float, float] | None = None,
        fill_mode: str = "reflect",
        interpolation: str = "bilinear",
        seed: int | None = None,
        fill_value: float = 0.0,
        *,
        name: str | None = None,
        trainable: bool = True,
    ) -> None:
        super().__init__(fill_mode, interpolation, seed, fill_value, name=name, trainable=trainable)
        meaning = "negative zooms in, positive zooms out"
        self.height_factor, self._height_range = _check_factor(
            "RandomZoom", "height_factor", height_factor, -1.0, 1.0, meaning
        )
        self.width_factor, self._width_range = None, None
        if width_factor is not None:
            self.width_factor, self._width_range = _check_factor(
                "RandomZoom", "width_factor", width_factor, -1.0, 1.0, meaning
            )

    def _matrices(
        self, rng: np.random.Generator, batch: int, height: int, width: int
    ) -> np.ndarray:
        zoom_y = 1.0 + rng.uniform(*self._height_range, size=batch)
        zoom_x = zoom_y
        if self._width_range is not None:
            zoom_x = 1.0 + rng.uniform(*self._width_range, size=batch)
        # Output pixel x shows input point cx + zoom·(x − cx): zoom > 1 takes in more (zoom out).
        cx, cy = (width - 1) / 2, (height - 1) / 2
        return _affine_rows(
            (zoom_x, 0.0, cx * (1 - zoom_x)), (0.0, zoom_y, cy * (1 - zoom_y)), batch
        )

    def _arguments(self) -> dict[str, Any]:
        factors = {"height_factor": self.height_factor, "width_factor": self.width_factor}
        return {**factors, **super()._arguments()}


class RandomCrop(_ImageAugmentation):
    """Cuts a ``height`` × ``width`` window out of each image: at a random place in training,
    from the centre at inference.

    Training on random windows of slightly larger images (CIFAR's classic recipe: pad 32×32 to
    40×40, crop 32×32) shows every object at many positions. The output has the target size in
    both modes, so the layers after it always get the same shape.

    An image smaller than the target in either axis (in either mode) is handled as Keras does:
    the largest centred window with the target's aspect ratio is resized to the target,
    bilinearly.

    Args:
        height, width: the size of the output images, positive integers.
        seed: an int for the layer's own generator, or None for the engine's.

    Shape:
        (batch, H, W, channels) -> (batch, height, width, channels).
    """

    def __init__(
        self,
        height: int,
        width: int,
        seed: int | None = None,
        *,
        name: str | None = None,
        trainable: bool = True,
    ) -> None:
        super().__init__(seed, name=name, trainable=trainable)
        self.height = check_positive_int("RandomCrop", "height", height)
        self.width = check_positive_int("RandomCrop", "width", width)

    def call(self, x: Tensor, training: bool = False) -> Tensor:
        x = _as_float(x)
        _, in_h, in_w, _ = x.shape
        if (in_h, in_w) == (self.height, self.width):
            return x
        if in_h < self.height or in_w < self.width:
            return self._resize_centre(x)
        if not training:
            top, left = (in_h - self.height) // 2, (in_w - self.width) // 2
            return x[:, top : top + self.height, left : left + self.width]
        return self._augment(x, self._generator())

    def _augment(self, x: Tensor, rng: np.random.Generator) -> Tensor:
        return _resample(x, self._matrices, rng, (self.height, self.width))

    def _matrices(
        self, rng: np.random.Generator, batch: int, height: int, width: int
    ) -> np.ndarray:
        """Per image a window's top-left corner, drawn anywhere the window fits: a shift by
        whole pixels."""
        tops = rng.integers(0, height - self.height + 1, size=batch)
        lefts = rng.integers(0, width - self.width + 1, size=batch)
        return _affine_rows((1.0, 0.0, lefts), (0.0, 1.0, tops), batch)

    def _resize_centre(self, x: Tensor) -> Tensor:
        """Keras's fallback: the largest centred window with the target aspect ratio, resized
        bilinearly with half-pixel centres and clamped edges (TF's ``resize``)."""
        batch, in_h, in_w, _ = x.shape
        crop_h = max(min(in_h, int(in_w * self.height / self.width)), 1)
        crop_w = max(min(in_w, int(in_h * self.width / self.height)), 1)
        top, left = (in_h - crop_h) // 2, (in_w - crop_w) // 2
        window = x[:, top : top + crop_h, left : left + crop_w]
        sy, sx = crop_h / self.height, crop_w / self.width
        matrices = _affine_rows((sx, 0.0, 0.5 * sx - 0.5), (0.0, sy, 0.5 * sy - 0.5), batch)
        return affine_sample(window, matrices, (self.height, self.width), "bilinear", "nearest")

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        shape = self._check_input_shape(input_shape)
        return (shape[0], self.height, self.width, shape[3])

    def _arguments(self) -> dict[str, Any]:
        return {"height": self.height, "width": self.width, "seed": self.seed}


class RandomResizedCrop(_ImageAugmentation):
    """In training, cuts a random window of random area and shape out of each image and
    stretches it back to the image's size; at inference, passes the image through unchanged.

    The standard augmentation for photos (Szegedy et al., 2015; torchvision's
    ``RandomResizedCrop``): each epoch shows every object at another scale, position and
    aspect ratio, so the model learns the object rather than where and how large it sits.
    The window covers a share of the image's area drawn uniformly from ``scale``, with a
    width/height ratio drawn log-uniformly from ``ratio`` (limited to what fits in the image),
    at a uniform random position; it is resampled bilinearly with half-pixel centres (as
    ``resize``). A glassnet extra: Keras 3 has ``RandomCrop`` and ``RandomZoom`` but no
    resized crop.

    Args:
        scale: (lower, upper) share of the image's area the window covers, in (0, 1].
            torchvision's default (0.08, 1) suits long ImageNet runs; (0.35, 1), the
            default here, crops less for the few epochs and few photos of training from
            scratch on a laptop.
        ratio: (lower, upper) width/height of the window, positive.
        seed: an int for the layer's own generator, or None for the engine's.

    Shape:
        (batch, height, width, channels) -> the same.
    """

    def __init__(
        self,
        scale: tuple[float, float] = (0.35, 1.0),
        ratio: tuple[float, float] = (3 / 4, 4 / 3),
        seed: int | None = None,
        *,
        name: str | None = None,
        trainable: bool = True,
    ) -> None:
        super().__init__(seed, name=name, trainable=trainable)
        self.scale = _check_pair("RandomResizedCrop", "scale", scale, 1.0)
        self.ratio = _check_pair("RandomResizedCrop", "ratio", ratio, math.inf)

    def _augment(self, x: Tensor, rng: np.random.Generator) -> Tensor:
        return _resample(x, self._matrices, rng, None, "bilinear", "nearest")

    def _matrices(
        self, rng: np.random.Generator, batch: int, height: int, width: int
    ) -> np.ndarray:
        """Per image a window of ``area`` share and ``aspect`` ratio, at a random corner;
        output pixel x (of width W) shows input x' = left + (x + ½)·w / W − ½."""
        area = rng.uniform(*self.scale, size=batch) * (height * width)
        log_low, log_high = math.log(self.ratio[0]), math.log(self.ratio[1])
        aspect = np.exp(rng.uniform(log_low, log_high, size=batch))
        w = np.clip(np.sqrt(area * aspect), 1.0, width)
        h = np.clip(np.sqrt(area / aspect), 1.0, height)
        left = rng.uniform(0.0, 1.0, size=batch) * (width - w)
        top = rng.uniform(0.0, 1.0, size=batch) * (height - h)
        sx, sy = w / width, h / height
        return _affine_rows(
            (sx, 0.0, left + 0.5 * sx - 0.5), (0.0, sy, top + 0.5 * sy - 0.5), batch
        )

    def _arguments(self) -> dict[str, Any]:
        return {"scale": list(self.scale), "ratio": list(self.ratio), "seed": self.seed}


def _check_pair(where: str, arg: str, value: Any, high: float) -> tuple[float, float]:
    """A pair (lower, upper) with 0 < lower <= upper <= high."""
    items = tuple(value) if isinstance(value, (tuple, list)) else ()
    ok = (
        len(items) == 2
        and all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in items)
        and 0 < items[0] <= items[1] <= high
    )
    if not ok:
        bound = "" if math.isinf(high) else f" <= {high}"
        raise ValueError(
            f"{where}: '{arg}' must be a pair (lower, upper) with 0 < lower <= upper{bound}. "
            f"Received: {arg}={value!r}"
        )
    return float(items[0]), float(items[1])


class RandomBrightness(_ImageAugmentation):
    """In training, brightens or darkens each image by a random amount, then clips to the
    valid range.

    The same scene photographed at noon or at dusk: random brightness keeps the model from
    using overall lightness as a clue.

    For each image, ``delta`` is drawn uniformly from the factor range and scaled to
    ``value_range``; the output is ``clip(x + delta · (high − low), low, high)``. A delta of
    −1 turns the image black, +1 white.

    Args:
        factor: a number f in [-1, 1] (delta in [−|f|, |f|]) or a pair (lower, upper), each in
            [-1, 1].
        value_range: (low, high), the range of the input values: (0, 255) for raw pixels,
            (0, 1) after ``Rescaling(1 / 255)``.
        seed: an int for the layer's own generator, or None for the engine's.

    Shape:
        (batch, height, width, channels) -> the same.
    """

    def __init__(
        self,
        factor: float | tuple[float, float],
        value_range: tuple[float, float] = (0, 255),
        seed: int | None = None,
        *,
        name: str | None = None,
        trainable: bool = True,
    ) -> None:
        super().__init__(seed, name=name, trainable=trainable)
        self.factor, self._range = _check_factor(
            "RandomBrightness", "factor", factor, -1.0, 1.0, "fractions of value_range"
        )
        self.value_range = _check_value_range("RandomBrightness", value_range)

    def _augment(self, x: Tensor, rng: np.random.Generator) -> Tensor:
        low, high = self.value_range
        xp, dtype = get_array_module(x.data), x.dtype

        def deltas(rng: np.random.Generator, batch: int) -> Any:
            delta = rng.uniform(*self._range, size=batch) * (high - low)
            return xp.asarray(delta.reshape(-1, 1, 1, 1), dtype=dtype)

        return clip(x + per_sample_draws(deltas, rng, x.shape[0]), low, high)

    def _arguments(self) -> dict[str, Any]:
        return {"factor": self.factor, "value_range": self.value_range, "seed": self.seed}


class RandomContrast(_ImageAugmentation):
    """In training, stretches or flattens each image's contrast by a random factor.

    Hazy or crisp, the object is the same; random contrast keeps the model from relying on
    how strong the edges of a particular photo are.

    For each image a factor c is drawn from [1 − lower, 1 + upper], and every channel moves
    away from (c > 1) or towards (c < 1) its own mean over the image:
    ``(x − mean) · c + mean``.

    Args:
        factor: a number f in [0, 1] (c in [1 − f, 1 + f]) or a pair (lower, upper) with lower
            in [0, 1] and upper ≥ 0.
        value_range: None (no clipping, fine for inputs in any range) or (low, high) to clip
            the output to, like Keras 3's argument.
        seed: an int for the layer's own generator, or None for the engine's.

    Shape:
        (batch, height, width, channels) -> the same.
    """

    def __init__(
        self,
        factor: float | tuple[float, float],
        value_range: tuple[float, float] | None = None,
        seed: int | None = None,
        *,
        name: str | None = None,
        trainable: bool = True,
    ) -> None:
        super().__init__(seed, name=name, trainable=trainable)
        self.factor, self._range = _check_contrast_factor(factor)
        self.value_range = None
        if value_range is not None:
            self.value_range = _check_value_range("RandomContrast", value_range)

    def _augment(self, x: Tensor, rng: np.random.Generator) -> Tensor:
        lower, upper = self._range
        xp, dtype = get_array_module(x.data), x.dtype

        def factors(rng: np.random.Generator, batch: int) -> Any:
            drawn = rng.uniform(1.0 - lower, 1.0 + upper, size=batch)
            return xp.asarray(drawn.reshape(-1, 1, 1, 1), dtype=dtype)

        mean = x.mean(axis=(1, 2), keepdims=True)
        out = (x - mean) * per_sample_draws(factors, rng, x.shape[0]) + mean
        if self.value_range is not None:
            out = clip(out, *self.value_range)
        return out

    def _arguments(self) -> dict[str, Any]:
        return {"factor": self.factor, "value_range": self.value_range, "seed": self.seed}


def _check_contrast_factor(value: Any) -> tuple[Any, tuple[float, float]]:
    """A number f in [0, 1] -> (f, f); a pair (lower, upper), lower in [0, 1], upper ≥ 0."""
    pair = isinstance(value, (tuple, list))
    items = tuple(value) if pair else (value,)
    wanted = (
        "RandomContrast: 'factor' must be a number in [0, 1] or a pair (lower, upper) with "
        "lower in [0, 1] and upper >= 0 (the contrast factor is drawn from "
        "[1 - lower, 1 + upper])"
    )
    if (pair and len(items) != 2) or not all(_is_real(v) for v in items):
        raise TypeError(f"{wanted}. Received: factor={value!r}")
    lower, upper = (float(items[0]), float(items[-1]))
    if not (0.0 <= lower <= 1.0 and upper >= 0.0 and (pair or upper <= 1.0)):
        raise ValueError(f"{wanted}. Received: factor={value!r}")
    return ((lower, upper) if pair else lower), (lower, upper)
