"""Learning-rate schedules: the step size as a function of the optimizer's step count (Keras 3's).

A large learning rate makes fast progress early on; a smaller one later lets the weights settle
into a minimum instead of bouncing around it. A schedule is that plan written down: pass one
as any optimizer's ``learning_rate`` and, before every update, the optimizer asks it for the
rate at its step count ``iterations`` (0 for the first update, as in Keras)::

    >>> schedule = ExponentialDecay(0.1, decay_steps=1000, decay_rate=0.5)
    >>> model.compile(optimizers.SGD(learning_rate=schedule), "mse")
    >>> model.optimizer.learning_rate      # the rate the next update will use
    0.1

Steps count updates (batches), not epochs. For a rate that changes once per epoch, give the
schedule to ``callbacks.LearningRateScheduler`` instead, which calls it with the epoch number.

Names, arguments, defaults and formulas are Keras 3's (``keras.optimizers.schedules``), and so
is the saved form, ``{"class_name": "CosineDecay", "config": {...}}`` (``serialize``): a model
saved with a scheduled optimizer comes back with the same schedule, continuing from the saved
step count. A schedule of your own subclasses ``LearningRateSchedule``, defines
``__call__(step)`` and, to be saved, ``get_config()``.
"""

from __future__ import annotations

import bisect
import inspect
import math
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from glassnet.checks import (
    NONNEGATIVE,
    POSITIVE,
    UNIT,
    check_name,
    check_range,
    check_steps,
    is_real,
)

__all__ = [
    "CosineDecay",
    "ExponentialDecay",
    "InverseTimeDecay",
    "LearningRateSchedule",
    "PiecewiseConstantDecay",
    "PolynomialDecay",
    "deserialize",
    "one_cycle",
    "serialize",
]


class LearningRateSchedule:
    """Base class: a learning rate that depends on the optimizer's step count.

    Override ``__call__(step)`` to return the rate (a float ≥ 0) for update number ``step``
    (0, 1, 2, …), and ``get_config()`` to return the constructor's arguments as a JSON-safe
    dict, which ``model.save`` needs and ``from_config`` turns back into the schedule.

    Example:
        >>> class Halving(LearningRateSchedule):
        ...     def __init__(self, rate: float, every: int) -> None:
        ...         self.rate, self.every = rate, every
        ...     def __call__(self, step: int) -> float:
        ...         return self.rate * 0.5 ** (step // self.every)
        ...     def get_config(self) -> dict:
        ...         return {"rate": self.rate, "every": self.every}
    """

    #: A built-in schedule's constructor arguments, kept in attributes of the same names.
    _config_keys: ClassVar[tuple[str, ...]] = ()

    def __call__(self, step: int) -> float:
        """The learning rate for update number ``step`` (counted from 0)."""
        raise NotImplementedError(
            f"Learning-rate schedule '{type(self).__name__}' must override __call__(self, step)."
        )

    def get_config(self) -> dict[str, Any]:
        """The constructor's arguments as a JSON-safe dict (what ``model.save`` writes)."""
        if not self._config_keys:
            raise NotImplementedError(
                f"Learning-rate schedule '{type(self).__name__}' must override get_config() "
                f"to be saved: return the constructor's arguments as a dict."
            )
        return {key: getattr(self, key) for key in self._config_keys}

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> LearningRateSchedule:
        """Rebuild a schedule from ``get_config()`` output: ``cls(**config)``."""
        if not isinstance(config, Mapping):
            raise TypeError(
                f"{cls.__name__}.from_config: expected a dict of constructor arguments. "
                f"Received: {type(config).__name__}."
            )
        parameters = inspect.signature(cls.__init__).parameters
        if not any(p.kind is p.VAR_KEYWORD for p in parameters.values()):
            accepted = set(parameters) - {"self"}
            unknown = sorted(set(config) - accepted)
            if unknown:
                raise ValueError(
                    f"{cls.__name__}.from_config: unknown key(s) {unknown}. "
                    f"Accepted: {sorted(accepted)}."
                )
        return cls(**config)

    def __repr__(self) -> str:
        try:
            config = self.get_config()
        except NotImplementedError:
            return f"<{type(self).__name__} learning-rate schedule>"
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in config.items())})"


def _step(owner: str, step: Any) -> float:
    """The step count as a float, refusing what cannot be one."""
    if not is_real(step) or not step >= 0:
        raise ValueError(
            f"{owner}: the step must be a number >= 0 (the optimizer's iterations count). "
            f"Received: step={step!r}."
        )
    return float(step)


def _init(owner: str, value: Any) -> float:
    return check_range(owner, "initial_learning_rate", value, NONNEGATIVE)


class _StepwiseDecay:
    """What ``ExponentialDecay`` and ``InverseTimeDecay`` share: the same arguments, checked
    alike, and the step counted in periods of ``decay_steps`` (whole ones with ``staircase``).

    A mixin, not a ``LearningRateSchedule``, so ``deserialize`` never offers it as a schedule.
    """

    _config_keys = ("initial_learning_rate", "decay_steps", "decay_rate", "staircase", "name")

    def _set_arguments(
        self,
        initial_learning_rate: float,
        decay_steps: int,
        decay_rate: float,
        decay_rate_rule: tuple[str, Any],
        staircase: bool,
        name: str,
    ) -> None:
        owner = type(self).__name__
        self.initial_learning_rate = _init(owner, initial_learning_rate)
        self.decay_steps = check_steps(owner, "decay_steps", decay_steps, POSITIVE)
        self.decay_rate = check_range(owner, "decay_rate", decay_rate, decay_rate_rule)
        self.staircase = _bool(owner, "staircase", staircase)
        self.name = check_name(owner, name)

    def _periods(self, step: int) -> float:
        p = _step(type(self).__name__, step) / self.decay_steps
        return math.floor(p) if self.staircase else p


# ----------------------------------------------------------------------------- decays
class ExponentialDecay(_StepwiseDecay, LearningRateSchedule):
    """Multiply the rate by ``decay_rate`` every ``decay_steps`` updates, smoothly or in stairs.

    ::

        lr(step) = initial_learning_rate · decay_rate ^ (step / decay_steps)
        lr(step) = initial_learning_rate · decay_rate ^ ⌊step / decay_steps⌋   (staircase=True)

    Args:
        initial_learning_rate: the rate at step 0, a number ≥ 0.
        decay_steps: steps over which the rate is multiplied once by ``decay_rate`` (> 0).
        decay_rate: the factor per ``decay_steps``, > 0 (below 1 to decay).
        staircase: drop the rate in steps at multiples of ``decay_steps`` instead of smoothly.
        name: a name for configs (Keras's, default ``"ExponentialDecay"``).
    """

    def __init__(
        self,
        initial_learning_rate: float,
        decay_steps: int,
        decay_rate: float,
        staircase: bool = False,
        name: str = "ExponentialDecay",
    ) -> None:
        self._set_arguments(
            initial_learning_rate, decay_steps, decay_rate, POSITIVE, staircase, name
        )

    def __call__(self, step: int) -> float:
        p = self._periods(step)
        try:
            return self.initial_learning_rate * self.decay_rate**p
        except OverflowError:  # a growing rate (decay_rate > 1) far along: the optimizer says so
            return math.inf


class InverseTimeDecay(_StepwiseDecay, LearningRateSchedule):
    """Divide the initial rate by a denominator that grows linearly with the step (1/t decay).

    ::

        lr(step) = initial_learning_rate / (1 + decay_rate · step / decay_steps)
        lr(step) = initial_learning_rate / (1 + decay_rate · ⌊step / decay_steps⌋)  (staircase)

    Args:
        initial_learning_rate: the rate at step 0, a number ≥ 0.
        decay_steps: the step scale, > 0.
        decay_rate: how fast the denominator grows, ≥ 0.
        staircase: grow the denominator in steps at multiples of ``decay_steps``.
        name: a name for configs (default ``"InverseTimeDecay"``).
    """

    def __init__(
        self,
        initial_learning_rate: float,
        decay_steps: int,
        decay_rate: float,
        staircase: bool = False,
        name: str = "InverseTimeDecay",
    ) -> None:
        self._set_arguments(
            initial_learning_rate, decay_steps, decay_rate, NONNEGATIVE, staircase, name
        )

    def __call__(self, step: int) -> float:
        return self.initial_learning_rate / (1 + self.decay_rate * self._periods(step))


class PolynomialDecay(LearningRateSchedule):
    """Go from ``initial_learning_rate`` to ``end_learning_rate`` along (1 − t)^power in
    ``decay_steps`` steps, then stay there (or, with ``cycle``, decay again over a longer span).

    ::

        s = min(step, decay_steps)                                     (cycle=False)
        D = decay_steps · ⌈step / decay_steps⌉  (1 at step 0), s = step  (cycle=True)
        lr(step) = (initial − end) · (1 − s / D) ^ power + end     (D = decay_steps unless cycle)

    Args:
        initial_learning_rate: the rate at step 0, a number ≥ 0.
        decay_steps: steps to reach ``end_learning_rate``, > 0.
        end_learning_rate: the final rate, ≥ 0 (Keras's default 0.0001).
        power: the polynomial's power, > 0 (1 is a straight line).
        cycle: after ``decay_steps``, restart from a lower rate over the next multiple.
        name: a name for configs (default ``"PolynomialDecay"``).
    """

    _config_keys = (
        "initial_learning_rate",
        "decay_steps",
        "end_learning_rate",
        "power",
        "cycle",
        "name",
    )

    def __init__(
        self,
        initial_learning_rate: float,
        decay_steps: int,
        end_learning_rate: float = 0.0001,
        power: float = 1.0,
        cycle: bool = False,
        name: str = "PolynomialDecay",
    ) -> None:
        owner = type(self).__name__
        self.initial_learning_rate = _init(owner, initial_learning_rate)
        self.decay_steps = check_steps(owner, "decay_steps", decay_steps, POSITIVE)
        self.end_learning_rate = check_range(
            owner, "end_learning_rate", end_learning_rate, NONNEGATIVE
        )
        self.power = check_range(owner, "power", power, POSITIVE)
        self.cycle = _bool(owner, "cycle", cycle)
        self.name = check_name(owner, name)

    def __call__(self, step: int) -> float:
        s = _step(type(self).__name__, step)
        decay_steps = self.decay_steps
        if self.cycle:
            decay_steps = decay_steps * (1 if s == 0 else math.ceil(s / decay_steps))
        else:
            s = min(s, decay_steps)
        span = self.initial_learning_rate - self.end_learning_rate
        return span * (1 - s / decay_steps) ** self.power + self.end_learning_rate


class CosineDecay(LearningRateSchedule):
    """Half a cosine wave from the start rate down to ``alpha`` times it, after an optional
    linear warm-up (Loshchilov & Hutter, 2017; warm-up: Goyal et al., 2017).

    Without warm-up (``warmup_target=None``) the decay starts from ``initial_learning_rate``.
    With it, the rate first climbs in a straight line from ``initial_learning_rate`` to
    ``warmup_target`` over ``warmup_steps`` steps, then decays from ``warmup_target``::

        decay(s, start) = start · ((1 − alpha) · ½(1 + cos(π · min(s, decay_steps) / decay_steps))
                                   + alpha)
        lr(step) = decay(step, initial_learning_rate)                     (warmup_target=None)
        lr(step) = initial + (warmup_target − initial) · step / warmup_steps  (step < warmup_steps)
        lr(step) = decay(step − warmup_steps, warmup_target)                (afterwards)

    This is Keras 3's ``CosineDecay``. The per-epoch cosine callback glassnet used to call
    ``callbacks.CosineDecay(initial, epochs, min_learning_rate)`` is this schedule given to
    ``callbacks.LearningRateScheduler``:
    ``LearningRateScheduler(CosineDecay(initial, decay_steps=epochs, alpha=min / initial))``.

    Args:
        initial_learning_rate: the rate at step 0, a number ≥ 0.
        decay_steps: steps of the cosine decay, > 0.
        alpha: the final rate as a fraction of the start rate, in [0, 1].
        name: a name for configs (default ``"CosineDecay"``).
        warmup_target: the rate the warm-up climbs to, ≥ 0; None for no warm-up.
        warmup_steps: steps of the warm-up, ≥ 0. Keras ignores it when ``warmup_target`` is
            None; here that raises, as the warm-up would silently not happen.
    """

    _config_keys = (
        "initial_learning_rate",
        "decay_steps",
        "alpha",
        "name",
        "warmup_target",
        "warmup_steps",
    )

    def __init__(
        self,
        initial_learning_rate: float,
        decay_steps: int,
        alpha: float = 0.0,
        name: str = "CosineDecay",
        warmup_target: float | None = None,
        warmup_steps: int = 0,
    ) -> None:
        owner = type(self).__name__
        self.initial_learning_rate = _init(owner, initial_learning_rate)
        self.decay_steps = check_steps(owner, "decay_steps", decay_steps, POSITIVE)
        self.alpha = check_range(owner, "alpha", alpha, UNIT)
        self.name = check_name(owner, name)
        self.warmup_target = check_range(owner, "warmup_target", warmup_target, NONNEGATIVE, True)
        self.warmup_steps = check_steps(owner, "warmup_steps", warmup_steps, NONNEGATIVE)
        if self.warmup_target is None and self.warmup_steps > 0:
            raise ValueError(
                f"{owner}: warmup_steps={warmup_steps!r} needs 'warmup_target', the rate to "
                f"warm up to (from initial_learning_rate). Set warmup_target, or warmup_steps=0."
            )

    def _decay(self, step: float, start: float) -> float:
        cosine = 0.5 * (1 + math.cos(math.pi * min(step, self.decay_steps) / self.decay_steps))
        return start * ((1 - self.alpha) * cosine + self.alpha)

    def __call__(self, step: int) -> float:
        s = _step(type(self).__name__, step)
        if self.warmup_target is None:
            return self._decay(s, self.initial_learning_rate)
        if s < self.warmup_steps:
            climb = self.warmup_target - self.initial_learning_rate
            return self.initial_learning_rate + climb * s / self.warmup_steps
        return self._decay(s - self.warmup_steps, self.warmup_target)


def one_cycle(
    max_learning_rate: float,
    total_steps: int,
    warmup_share: float = 0.25,
    start_divisor: float = 25.0,
    end_divisor: float = 1e4,
) -> CosineDecay:
    """The one-cycle policy (Smith, 2018; fast.ai's ``fit_one_cycle``) as a ``CosineDecay``
    with warm-up: the rate climbs from ``max_learning_rate / start_divisor`` to
    ``max_learning_rate`` over the first ``warmup_share`` of ``total_steps``, then falls along
    half a cosine to ``max_learning_rate / (start_divisor · end_divisor)`` at the last step.

    A low start lets batch normalization's statistics and Adam's averages settle; the high
    middle explores; the long low tail lets the weights settle into a minimum. PyTorch's
    ``OneCycleLR`` has the same shape, except that its warm-up is a quarter cosine where this
    one (Keras's ``CosineDecay`` warm-up) is a straight line. Saved and loaded as the
    ``CosineDecay`` it is.

    Args:
        max_learning_rate: the peak rate, > 0.
        total_steps: the updates of the whole run (epochs × batches per epoch), > 0.
        warmup_share: the share of the steps spent climbing, in [0, 1).
        start_divisor: the start rate is the peak divided by this, >= 1.
        end_divisor: the final rate is the start rate divided by this, >= 1.

    Returns:
        A ``CosineDecay`` whose ``__call__(step)`` gives the rate of update ``step``.
    """
    owner = "one_cycle"
    peak = check_range(owner, "max_learning_rate", max_learning_rate, POSITIVE)
    total = check_steps(owner, "total_steps", total_steps, POSITIVE)
    share = check_range(owner, "warmup_share", warmup_share, ("in [0, 1)", lambda v: 0 <= v < 1))
    start = check_range(owner, "start_divisor", start_divisor, (">= 1", lambda v: v >= 1))
    end = check_range(owner, "end_divisor", end_divisor, (">= 1", lambda v: v >= 1))
    warmup = round(share * total)
    return CosineDecay(
        initial_learning_rate=peak / start,
        decay_steps=max(total - warmup, 1),
        alpha=1.0 / (start * end),
        warmup_target=peak,
        warmup_steps=warmup,
    )


class PiecewiseConstantDecay(LearningRateSchedule):
    """A constant rate between given step counts: ``values[i]`` up to ``boundaries[i]``.

    ::

        lr(step) = values[0]    for step ≤ boundaries[0]
                   values[i]    for boundaries[i−1] < step ≤ boundaries[i]
                   values[-1]   for step > boundaries[-1]

    Args:
        boundaries: step counts, strictly increasing.
        values: the rates (numbers ≥ 0), one more than ``boundaries``.
        name: a name for configs (Keras's default ``"PiecewiseConstant"``).

    Example:
        >>> PiecewiseConstantDecay([1000, 2000], [0.1, 0.01, 0.001])  # 0.1 until step 1000
    """

    _config_keys = ("boundaries", "values", "name")

    def __init__(
        self,
        boundaries: Sequence[int],
        values: Sequence[float],
        name: str = "PiecewiseConstant",
    ) -> None:
        owner = type(self).__name__
        for arg, seq in (("boundaries", boundaries), ("values", values)):
            if isinstance(seq, (str, bytes)) or not isinstance(seq, Sequence):
                raise TypeError(
                    f"{owner}: '{arg}' must be a list of numbers. Received: {arg}={seq!r}."
                )
        if len(values) != len(boundaries) + 1:
            raise ValueError(
                f"{owner}: 'values' must have one more entry than 'boundaries' (the rate "
                f"before the first boundary, between each pair, and after the last). Received "
                f"{len(boundaries)} boundaries {list(boundaries)!r} and {len(values)} values "
                f"{list(values)!r}. Give {len(boundaries) + 1} values, or "
                f"{max(len(values) - 1, 0)} boundaries."
            )
        self.boundaries = [
            check_steps(owner, f"boundaries[{i}]", b, NONNEGATIVE) for i, b in enumerate(boundaries)
        ]
        for i in range(1, len(self.boundaries)):
            if not self.boundaries[i] > self.boundaries[i - 1]:
                raise ValueError(
                    f"{owner}: 'boundaries' must increase strictly, but boundaries[{i}]="
                    f"{self.boundaries[i]!r} follows {self.boundaries[i - 1]!r}. Received: "
                    f"boundaries={list(boundaries)!r}. Sort them (and 'values' to match)."
                )
        self.values = [
            check_range(owner, f"values[{i}]", v, NONNEGATIVE) for i, v in enumerate(values)
        ]
        self.name = check_name(owner, name)

    def __call__(self, step: int) -> float:
        s = _step(type(self).__name__, step)
        return self.values[bisect.bisect_left(self.boundaries, s)]


def _bool(owner: str, name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{owner}: '{name}' must be True or False. Received: {name}={value!r}")
    return value


# ----------------------------------------------------------------------------- saving
def serialize(schedule: LearningRateSchedule) -> dict[str, Any]:
    """``{"class_name": ..., "config": schedule.get_config()}``, Keras's saved form."""
    if not isinstance(schedule, LearningRateSchedule):
        raise TypeError(
            f"schedules.serialize: expected a LearningRateSchedule. Received: {schedule!r} of "
            f"type {type(schedule).__name__}."
        )
    return {"class_name": type(schedule).__name__, "config": schedule.get_config()}


def _subclasses(cls: type) -> list[type]:
    out = []
    for sub in cls.__subclasses__():
        out += [sub, *_subclasses(sub)]
    return out


def deserialize(
    config: Mapping[str, Any], custom_objects: Mapping[str, type] | None = None
) -> LearningRateSchedule:
    """The schedule ``serialize`` described: its class is looked up in ``custom_objects``,
    then among the built-in schedules, then among the ``LearningRateSchedule`` subclasses
    defined in the running program (as ``load_model`` finds layers)."""
    if not (isinstance(config, Mapping) and {"class_name", "config"} <= set(config)):
        raise ValueError(
            "schedules.deserialize: expected {'class_name': ..., 'config': {...}} as written "
            f"by schedules.serialize. Received: {config!r}."
        )
    name = config["class_name"]
    cls = (custom_objects or {}).get(name)
    if cls is None:
        candidates = [c for c in _subclasses(LearningRateSchedule) if c.__name__ == name]
        builtin = [c for c in candidates if c.__module__ == __name__]
        if builtin or len(candidates) == 1:
            cls = (builtin or candidates)[0]
        elif candidates:
            raise ValueError(
                f"schedules.deserialize: several LearningRateSchedule classes are named "
                f"{name!r} ({', '.join(c.__module__ for c in candidates)}). Pass "
                f"custom_objects={{{name!r}: TheClass}} to choose."
            )
    if not (isinstance(cls, type) and issubclass(cls, LearningRateSchedule)):
        known = ", ".join(sorted(c.__name__ for c in _subclasses(LearningRateSchedule)))
        raise ValueError(
            f"schedules.deserialize: unknown learning-rate schedule {name!r}. Known: {known}. "
            f"A schedule of your own must be defined (imported) before loading, or passed as "
            f"custom_objects={{{name!r}: TheClass}}."
        )
    return cls.from_config(config["config"])
