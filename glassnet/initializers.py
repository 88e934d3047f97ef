"""Initializers: the numbers a layer's weights start from, before any training.

Start every weight at zero and all the neurons of a layer compute the same thing and get the same
gradient, forever. Start them too large or too small and the signal explodes or fades as it goes
through many layers. The Glorot and He schemes pick random weights whose spread depends on how
many inputs (fan-in) and outputs (fan-out) each weight connects, so the variance of the
activations stays about the same from layer to layer. Names, arguments and formulas are Keras 3's.

Every initializer is called as ``init(shape, dtype="float32")`` and returns a NumPy array.
Randomness comes from ``glassnet.backend.get_rng()`` (re-seeded by ``manual_seed``) unless the
initializer was given its own ``seed``; then every call returns the same values, as in Keras 3.
"""

from __future__ import annotations

import math
import numbers
from typing import Any, ClassVar

import numpy as np

from glassnet.backend import default_float, get_rng, is_float
from glassnet.checks import check_seed

__all__ = [
    "Constant",
    "GlorotNormal",
    "GlorotUniform",
    "HeNormal",
    "HeUniform",
    "Initializer",
    "LecunNormal",
    "LecunUniform",
    "Ones",
    "Orthogonal",
    "RandomNormal",
    "RandomUniform",
    "TruncatedNormal",
    "VarianceScaling",
    "Zeros",
    "compute_fans",
    "deserialize",
    "get",
    "serialize",
]

# The standard deviation of a standard normal truncated to [-2, 2]. Dividing by it makes a
# normal truncated at two standard deviations have exactly the variance asked for (Keras).
_TRUNCATED_STD = 0.87962566103423978

#: Class name -> class, filled in automatically for every ``Initializer`` subclass.
_REGISTRY: dict[str, type[Initializer]] = {}


def compute_fans(shape: tuple[int, ...]) -> tuple[int, int]:
    """Fan-in and fan-out of a weight of ``shape``, as Keras computes them.

    A Dense kernel (in, out) has fan_in = in and fan_out = out. A Conv2D kernel
    (kh, kw, in, out) connects each output to kh·kw·in inputs, so fan_in = kh·kw·in and
    fan_out = kh·kw·out. A vector (bias-like) has fan_in = fan_out = its length.
    """
    shape = tuple(shape)
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    receptive_field = math.prod(shape[:-2])
    return shape[-2] * receptive_field, shape[-1] * receptive_field


class Initializer:
    """Base class: subclasses implement ``__call__(shape, dtype)`` and ``get_config()`` (or name
    their constructor arguments, kept in attributes of the same names, in ``_config_keys``)."""

    #: The Keras string name ("glorot_uniform"); ``get`` accepts it as well as the class name.
    name: ClassVar[str | None] = None
    _config_keys: ClassVar[tuple[str, ...]] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        _REGISTRY[cls.__name__] = cls

    def __call__(self, shape: tuple[int, ...], dtype: Any = default_float) -> np.ndarray:
        raise NotImplementedError

    def get_config(self) -> dict[str, Any]:
        """The constructor arguments (JSON-safe), so ``type(self)(**config)`` rebuilds it."""
        return {key: getattr(self, key) for key in self._config_keys}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Initializer:
        """Rebuild an initializer from ``get_config()``'s output."""
        return cls(**config)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class _Seeded(Initializer):
    """An initializer that draws random numbers, from its own seed or the engine's generator."""

    _config_keys: ClassVar[tuple[str, ...]] = ("seed",)

    def __init__(self, seed: int | None = None) -> None:
        self.seed = check_seed(type(self).__name__, seed)

    def _rng(self) -> np.random.Generator:
        # A fresh generator per call: a seeded initializer gives the same values every time.
        return get_rng() if self.seed is None else np.random.default_rng(self.seed)


class Zeros(Initializer):
    """All zeros: the default for biases (symmetry is already broken by the kernel)."""

    name = "zeros"

    def __call__(self, shape: tuple[int, ...], dtype: Any = default_float) -> np.ndarray:
        return np.zeros(_check_shape(self, shape), dtype=dtype)


class Ones(Initializer):
    """All ones: the default for BatchNormalization's scale ``gamma``."""

    name = "ones"

    def __call__(self, shape: tuple[int, ...], dtype: Any = default_float) -> np.ndarray:
        return np.ones(_check_shape(self, shape), dtype=dtype)


class Constant(Initializer):
    """Every element set to ``value``."""

    name = "constant"
    _config_keys = ("value",)

    def __init__(self, value: float = 0.0) -> None:
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise TypeError(f"Constant: 'value' must be a number. Received: value={value!r}")
        self.value = float(value)

    def __call__(self, shape: tuple[int, ...], dtype: Any = default_float) -> np.ndarray:
        return np.full(_check_shape(self, shape), self.value, dtype=dtype)


class _Normal(_Seeded):
    """What ``RandomNormal`` and ``TruncatedNormal`` share: their arguments."""

    _config_keys = ("mean", "stddev", "seed")

    def __init__(self, mean: float = 0.0, stddev: float = 0.05, seed: int | None = None) -> None:
        super().__init__(seed)
        self.mean = _number(self, "mean", mean)
        self.stddev = _number(self, "stddev", stddev, positive=True)


class RandomNormal(_Normal):
    """Independent draws from a normal distribution N(mean, stddev²), stddev 0.05 by default
    (Keras's); ``seed``: an int for values that repeat on every call, or None for the engine's
    generator."""

    name = "random_normal"

    def __call__(self, shape: tuple[int, ...], dtype: Any = default_float) -> np.ndarray:
        shape = _check_shape(self, shape, dtype)
        return np.asarray(self._rng().normal(self.mean, self.stddev, size=shape), dtype=dtype)


class TruncatedNormal(_Normal):
    """Like ``RandomNormal``, but values further than two standard deviations from the mean are
    drawn again, so no weight starts out extreme (same arguments; ``stddev`` is the one before
    truncation)."""

    name = "truncated_normal"

    def __call__(self, shape: tuple[int, ...], dtype: Any = default_float) -> np.ndarray:
        shape = _check_shape(self, shape, dtype)
        z = _truncated_standard_normal(self._rng(), shape)
        return np.asarray(self.mean + self.stddev * z, dtype=dtype)


class RandomUniform(_Seeded):
    """Independent draws from the uniform distribution on [minval, maxval).

    Args:
        minval, maxval: the bounds (Keras default ±0.05).
        seed: an int for values that repeat on every call, or None for the engine's generator.
    """

    name = "random_uniform"
    _config_keys = ("minval", "maxval", "seed")

    def __init__(
        self, minval: float = -0.05, maxval: float = 0.05, seed: int | None = None
    ) -> None:
        super().__init__(seed)
        self.minval = _number(self, "minval", minval)
        self.maxval = _number(self, "maxval", maxval)
        if self.minval >= self.maxval:
            raise ValueError(
                f"RandomUniform: 'minval' must be less than 'maxval'. "
                f"Received: minval={minval}, maxval={maxval}"
            )

    def __call__(self, shape: tuple[int, ...], dtype: Any = default_float) -> np.ndarray:
        shape = _check_shape(self, shape, dtype)
        return np.asarray(self._rng().uniform(self.minval, self.maxval, size=shape), dtype=dtype)


class VarianceScaling(_Seeded):
    """Random weights with variance ``scale / n``, n the fan-in, fan-out or their average.

    This one formula gives all of Glorot, He and LeCun (Keras 3 semantics):

    - ``distribution="truncated_normal"``: a normal truncated at two standard deviations, with
      stddev = √(scale / n) / 0.8796… so that the truncated values have variance scale / n;
    - ``"untruncated_normal"``: a plain normal with stddev √(scale / n);
    - ``"uniform"``: uniform on [−limit, limit] with limit = √(3 · scale / n).

    Args:
        scale: positive multiplier of the variance (2.0 for ReLU networks, He et al.).
        mode: "fan_in", "fan_out" or "fan_avg" (see ``compute_fans``).
        distribution: "truncated_normal" (alias "normal"), "untruncated_normal" or "uniform".
        seed: an int for values that repeat on every call, or None for the engine's generator.
    """

    name = "variance_scaling"
    _config_keys = ("scale", "mode", "distribution", "seed")
    _MODES = ("fan_in", "fan_out", "fan_avg")
    _DISTRIBUTIONS = ("truncated_normal", "untruncated_normal", "uniform")

    def __init__(
        self,
        scale: float = 1.0,
        mode: str = "fan_in",
        distribution: str = "truncated_normal",
        seed: int | None = None,
    ) -> None:
        super().__init__(seed)
        self.scale = _number(self, "scale", scale, positive=True)
        mode = mode.lower() if isinstance(mode, str) else mode
        if mode not in self._MODES:
            raise ValueError(
                f"VarianceScaling: 'mode' must be one of {', '.join(self._MODES)}. "
                f"Received: mode={mode!r}"
            )
        distribution = distribution.lower() if isinstance(distribution, str) else distribution
        if distribution == "normal":
            distribution = "truncated_normal"
        if distribution not in self._DISTRIBUTIONS:
            raise ValueError(
                f"VarianceScaling: 'distribution' must be one of "
                f"{', '.join(self._DISTRIBUTIONS)}. Received: distribution={distribution!r}"
            )
        self.mode, self.distribution = mode, distribution

    def __call__(self, shape: tuple[int, ...], dtype: Any = default_float) -> np.ndarray:
        shape = _check_shape(self, shape, dtype)
        fan_in, fan_out = compute_fans(shape)
        n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[self.mode]
        variance = self.scale / max(1.0, n)
        rng = self._rng()
        # Draw in the target precision: float64 draws for a VGG-sized kernel cost twice the time
        # and a temporary copy of hundreds of megabytes.
        draw = np.float32 if np.dtype(dtype) == np.float32 else np.float64
        if self.distribution == "uniform":
            limit = draw(math.sqrt(3.0 * variance))
            values = limit * (2 * rng.random(shape, dtype=draw) - 1)
        elif self.distribution == "untruncated_normal":
            values = draw(math.sqrt(variance)) * rng.standard_normal(shape, dtype=draw)
        else:
            stddev = draw(math.sqrt(variance) / _TRUNCATED_STD)
            values = stddev * _truncated_standard_normal(rng, shape, draw)
        return np.asarray(values, dtype=dtype)


class _Preset(VarianceScaling):
    """A ``VarianceScaling`` with fixed arguments; only the seed can be chosen."""

    _config_keys = ("seed",)
    _preset: ClassVar[tuple[float, str, str]] = (1.0, "fan_in", "truncated_normal")

    def __init__(self, seed: int | None = None) -> None:
        scale, mode, distribution = self._preset
        super().__init__(scale=scale, mode=mode, distribution=distribution, seed=seed)


class GlorotUniform(_Preset):
    """Glorot (Xavier) uniform: U[−limit, limit], limit = √(6 / (fan_in + fan_out)).

    The default kernel initializer of Dense and Conv2D: it keeps the variance of activations
    and of gradients about constant for tanh/sigmoid-like units (Glorot & Bengio, 2010).
    """

    name = "glorot_uniform"
    _preset = (1.0, "fan_avg", "uniform")


class GlorotNormal(_Preset):
    """Glorot (Xavier) normal: truncated normal with variance 2 / (fan_in + fan_out)."""

    name = "glorot_normal"
    _preset = (1.0, "fan_avg", "truncated_normal")


class HeNormal(_Preset):
    """He (Kaiming) normal: truncated normal with variance 2 / fan_in, made for ReLU networks,
    where half the units are silent and the variance would otherwise halve at every layer."""

    name = "he_normal"
    _preset = (2.0, "fan_in", "truncated_normal")


class HeUniform(_Preset):
    """He (Kaiming) uniform: U[−limit, limit], limit = √(6 / fan_in)."""

    name = "he_uniform"
    _preset = (2.0, "fan_in", "uniform")


class LecunNormal(_Preset):
    """LeCun normal: truncated normal with variance 1 / fan_in (for SELU networks)."""

    name = "lecun_normal"
    _preset = (1.0, "fan_in", "truncated_normal")


class LecunUniform(_Preset):
    """LeCun uniform: U[−limit, limit], limit = √(3 / fan_in)."""

    name = "lecun_uniform"
    _preset = (1.0, "fan_in", "uniform")


class Orthogonal(_Seeded):
    """A random orthogonal matrix (times ``gain``): Keras's default for recurrent kernels.

    Multiplying a state by an orthogonal matrix keeps its length, so repeated at every time
    step it neither explodes nor fades the way a random matrix would (Saxe et al., 2014). Drawn
    as the Q of a QR decomposition of a normal matrix, with signs fixed so Q is uniform; shapes
    with more than two axes are flattened to (product of leading axes, last axis), as in Keras.
    """

    name = "orthogonal"
    _config_keys = ("gain", "seed")

    def __init__(self, gain: float = 1.0, seed: int | None = None) -> None:
        super().__init__(seed)
        self.gain = _number(self, "gain", gain)

    def __call__(self, shape: tuple[int, ...], dtype: Any = default_float) -> np.ndarray:
        shape = _check_shape(self, shape, dtype)
        if len(shape) < 2:
            raise ValueError(
                f"Orthogonal: needs a shape with at least 2 axes. Received: shape={shape}"
            )
        rows, cols = math.prod(shape[:-1]), shape[-1]
        a = self._rng().standard_normal((max(rows, cols), min(rows, cols)))
        q, r = np.linalg.qr(a)
        q = q * np.sign(np.diag(r))  # make the decomposition unique, so Q is uniformly random
        if rows < cols:
            q = q.T
        return (self.gain * q).reshape(shape).astype(dtype)


# ------------------------------------------------------------------ lookup and serialisation
def _by_name() -> dict[str, type[Initializer]]:
    """Every accepted string: Keras's snake_case names and the class names."""
    names: dict[str, type[Initializer]] = {}
    for class_name, cls in _REGISTRY.items():
        if not class_name.startswith("_"):
            names[class_name] = cls
            if "name" in vars(cls):  # a subclass that inherits a name does not take it over
                names[cls.name] = cls
    return names


def get(identifier: Any) -> Initializer | Any:
    """The initializer named by ``identifier`` (Keras's ``initializers.get``).

    Accepts an ``Initializer`` (returned as is), a name such as ``"he_normal"`` or
    ``"HeNormal"``, a ``{"class_name": ..., "config": ...}`` dict (from ``serialize``), or any
    callable ``f(shape, dtype)`` returning an array. ``None`` gives ``None``.
    """
    if identifier is None or isinstance(identifier, Initializer):
        return identifier
    if isinstance(identifier, (str, dict)):
        return deserialize(identifier)
    if callable(identifier):
        return identifier
    raise TypeError(
        f"initializers.get: expected an Initializer, a name such as 'glorot_uniform', a config "
        f"dict or a callable. Received: {identifier!r} of type {type(identifier).__name__}"
    )


def serialize(initializer: Initializer) -> str | dict[str, Any]:
    """A JSON-safe description: the string name when the arguments are the defaults (as in
    ``"glorot_uniform"``), else ``{"class_name": "RandomNormal", "config": {...}}``."""
    if not isinstance(initializer, Initializer):
        raise ValueError(
            f"initializers.serialize: only Initializer objects can be saved. Received "
            f"{initializer!r}. Write an Initializer subclass with get_config() instead of a "
            f"plain function."
        )
    cls = type(initializer)
    config = initializer.get_config()
    if "name" in vars(cls) and _REGISTRY.get(cls.__name__) is cls:
        try:
            defaults = cls().get_config()
        except TypeError:  # a subclass with required arguments has no defaults
            defaults = None
        if config == defaults:
            return cls.name
    return {"class_name": cls.__name__, "config": config}


def deserialize(config: str | dict[str, Any]) -> Initializer:
    """Rebuild an initializer from ``serialize``'s output (a name or a class_name/config dict)."""
    known = _by_name()
    if isinstance(config, str):
        class_name, arguments = config, {}
    elif isinstance(config, dict) and "class_name" in config:
        class_name, arguments = config["class_name"], dict(config.get("config") or {})
    else:
        raise ValueError(
            f"initializers: expected a name or a {{'class_name': ..., 'config': ...}} dict. "
            f"Received: {config!r}"
        )
    if class_name not in known:
        names = sorted(name for name in known if not name[0].isupper())
        raise ValueError(
            f"Unknown initializer: {class_name!r}. Known initializers: {', '.join(names)} "
            f"(or their class names, e.g. 'GlorotUniform')."
        )
    return known[class_name].from_config(arguments)


# ------------------------------------------------------------------ helpers
def _check_shape(init: Initializer, shape: Any, dtype: Any = None) -> tuple[int, ...]:
    if isinstance(shape, numbers.Integral) and not isinstance(shape, bool):
        shape = (shape,)
    try:
        shape = tuple(shape)
    except TypeError:
        shape = None
    if shape is None or not all(
        isinstance(n, numbers.Integral) and not isinstance(n, bool) and n >= 0 for n in shape
    ):
        raise ValueError(
            f"{type(init).__name__}: shape must be a tuple of non-negative integers. "
            f"Received: shape={shape!r}"
        )
    if dtype is not None and not is_float(dtype):
        raise TypeError(
            f"{type(init).__name__}: random initial values need a floating dtype. "
            f"Received: dtype={np.dtype(dtype)}. Use dtype='float32'."
        )
    return tuple(int(n) for n in shape)


def _number(init: Initializer, name: str, value: Any, positive: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise TypeError(
            f"{type(init).__name__}: '{name}' must be a finite number. Received: {name}={value!r}"
        )
    if positive and value <= 0:
        raise ValueError(
            f"{type(init).__name__}: '{name}' must be positive. Received: {name}={value}"
        )
    return float(value)


def _truncated_standard_normal(
    rng: np.random.Generator, shape: tuple[int, ...], dtype: Any = np.float64
) -> np.ndarray:
    """Standard normal draws, each outside [−2, 2] drawn again until all are inside."""
    values = rng.standard_normal(shape, dtype=dtype)
    outside = np.abs(values) > 2.0
    while outside.any():  # about 4.6 % of draws per round, so a few rounds suffice
        values[outside] = rng.standard_normal(int(outside.sum()), dtype=dtype)
        outside = np.abs(values) > 2.0
    return values
