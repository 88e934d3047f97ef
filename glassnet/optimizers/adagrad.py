"""Adagrad and the optimizers that grew out of it, RMSprop and Adadelta: each divides every
gradient by the root of an accumulated sum (Adagrad) or decaying average (RMSprop, Adadelta)
of its past squares, so weights with large gradients take smaller steps.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from glassnet.backend import get_array_module
from glassnet.checks import NONNEGATIVE, POSITIVE, UNIT, UNIT_OPEN, check_bool, check_range
from glassnet.optimizers.base import Optimizer, passed_on
from glassnet.optimizers.schedules import LearningRateSchedule
from glassnet.tensor import Tensor

__all__ = ["Adadelta", "Adagrad", "RMSprop"]


class Adagrad(Optimizer):
    """Adagrad: divide each gradient by the root of the sum of all its past squares
    (Duchi et al., 2011).

    Weights whose gradients have been large get smaller steps, and rarely updated weights
    (the embedding of a rare word) keep larger ones. The sum only grows, so every step size
    shrinks as training goes on; RMSprop and Adadelta replace the sum by a decaying average.
    With g the gradient and s the accumulator (PyTorch's formula)::

        s ← s + g²          (s starts at initial_accumulator_value)
        θ ← θ − η · g / (√s + ε)

    Differences from Keras: Keras puts ε inside the root, √(s + ε), which differs from here
    only while s is as small as ε (never with the default initial_accumulator_value = 0.1).
    Defaults are Keras's (η = 0.001, initial accumulator 0.1, ε = 1e-7; PyTorch's are 0.01,
    0 and 1e-10). PyTorch's ``lr_decay`` is not offered: pass a schedule as the learning
    rate, e.g. ``schedules.InverseTimeDecay``. ``weight_decay`` is decoupled (θ ← θ − η·λ·θ
    first, see ``Optimizer``), unlike PyTorch's L2 ``weight_decay``.

    Args:
        learning_rate: η (a float or a schedule), default 0.001. Adagrad's steps shrink by
            themselves, so it usually wants a larger η than other optimizers.
        initial_accumulator_value: the starting value of s, ≥ 0, default 0.1.
        epsilon: ε > 0, keeps the division finite, default 1e-7.
        **kwargs: ``params``, ``weight_decay``, clipping and ``name``; see ``Optimizer``.

    State per parameter: ``accumulator`` (s).
    """

    _config_keys = ("initial_accumulator_value", "epsilon")

    def __init__(
        self,
        learning_rate: float | LearningRateSchedule = 0.001,
        initial_accumulator_value: float = 0.1,
        epsilon: float = 1e-7,
        *,
        params: Iterable[Tensor] | None = None,
        weight_decay: float | None = None,
        clipnorm: float | None = None,
        clipvalue: float | None = None,
        global_clipnorm: float | None = None,
        name: str | None = None,
    ) -> None:
        owner = type(self).__name__
        self.initial_accumulator_value = check_range(
            owner, "initial_accumulator_value", initial_accumulator_value, NONNEGATIVE
        )
        self.epsilon = check_range(owner, "epsilon", epsilon, POSITIVE)
        super().__init__(learning_rate, **passed_on(locals()))

    def _init_state(self, param: Tensor) -> dict[str, Any]:
        xp = get_array_module(param.data)
        return {"accumulator": xp.full_like(param.data, self.initial_accumulator_value)}

    def update_step(
        self, grad: Any, param: Any, state: dict[str, Any], learning_rate: float
    ) -> None:
        xp = get_array_module(param)
        accumulator = state["accumulator"]
        accumulator += grad * grad
        denom = xp.sqrt(accumulator)
        denom += self.epsilon
        xp.divide(grad, denom, out=denom)  # denom now holds g/(√s + ε)
        denom *= learning_rate
        param -= denom


class Adadelta(Optimizer):
    """Adadelta: per-weight steps measured in the units of the weight (Zeiler, 2012).

    Like RMSprop it divides the gradient by the root of a decaying average of g²; it also
    multiplies it by the root of a decaying average of past squared updates, so the ratio
    carries the units of the weight and η = 1 is the paper's algorithm, which has no
    learning rate at all. With ρ the decay (Keras's and PyTorch's formula, which agree)::

        v ← ρ·v + (1 − ρ)·g²
        Δ = √(d + ε) / √(v + ε) · g
        d ← ρ·d + (1 − ρ)·Δ²
        θ ← θ − η·Δ

    Defaults are Keras's (η = 0.001, ρ = 0.95, ε = 1e-7; PyTorch's are 1.0, 0.9 and 1e-6);
    Keras's documentation, like the paper, suggests η = 1.0. ``weight_decay`` is decoupled
    (θ ← θ − η·λ·θ first, see ``Optimizer``), unlike PyTorch's L2 ``weight_decay``.

    Args:
        learning_rate: η (a float or a schedule), default 0.001.
        rho: ρ in [0, 1), the decay of both averages, default 0.95.
        epsilon: ε > 0, starts the steps and keeps the division finite, default 1e-7.
        **kwargs: ``params``, ``weight_decay``, clipping and ``name``; see ``Optimizer``.

    State per parameter: ``accumulated_grad`` (v) and ``accumulated_delta_var`` (d), Keras's
    names.
    """

    _config_keys = ("rho", "epsilon")

    def __init__(
        self,
        learning_rate: float | LearningRateSchedule = 0.001,
        rho: float = 0.95,
        epsilon: float = 1e-7,
        *,
        params: Iterable[Tensor] | None = None,
        weight_decay: float | None = None,
        clipnorm: float | None = None,
        clipvalue: float | None = None,
        global_clipnorm: float | None = None,
        name: str | None = None,
    ) -> None:
        owner = type(self).__name__
        self.rho = check_range(owner, "rho", rho, UNIT_OPEN)
        self.epsilon = check_range(owner, "epsilon", epsilon, POSITIVE)
        super().__init__(learning_rate, **passed_on(locals()))

    def _slot_names(self) -> tuple[str, ...]:
        return ("accumulated_grad", "accumulated_delta_var")

    def update_step(
        self, grad: Any, param: Any, state: dict[str, Any], learning_rate: float
    ) -> None:
        xp = get_array_module(param)
        rho, eps = self.rho, self.epsilon
        square_avg, delta_avg = state["accumulated_grad"], state["accumulated_delta_var"]
        square_avg *= rho
        square_avg += (1 - rho) * grad * grad
        std = square_avg + eps
        xp.sqrt(std, out=std)
        delta = delta_avg + eps
        xp.sqrt(delta, out=delta)
        delta /= std
        delta *= grad  # Δ, in PyTorch's order: √(d + ε) / √(v + ε) · g
        delta_avg *= rho
        delta_avg += (1 - rho) * delta * delta
        delta *= learning_rate
        param -= delta


class RMSprop(Optimizer):
    """RMSprop: divide each gradient by the root of a running average of its square.

    Like Adam without the gradient average: a weight whose gradients are large gets smaller
    steps, which evens out progress across weights (Hinton's lecture notes, 2012). With ρ the
    decay and g the gradient (PyTorch's formula, ρ is PyTorch's ``alpha``)::

        v ← ρ·v + (1 − ρ)·g²
        d = √v + ε                               (centered=False)
        ḡ ← ρ·ḡ + (1 − ρ)·g;  d = √(v − ḡ²) + ε   (centered=True: divide by the variance)
        θ ← θ − η·g/d                            (momentum=0)
        b ← μ·b + g/d;  θ ← θ − η·b              (momentum μ > 0)

    Differences from Keras: Keras puts ε inside the root, d = √(v + ε) (or √(v − ḡ² + ε)), and
    its momentum buffer includes η (b ← μ·b + η·g/d, θ ← θ − b), which differs from here only
    after the learning rate changes. Centered: v − ḡ² is never negative in exact arithmetic
    but can round below zero; it is clamped at 0 here (PyTorch would produce NaN). Defaults are
    Keras's (ρ = 0.9, ε = 1e-7; PyTorch's are 0.99 and 1e-8). ``weight_decay`` is decoupled
    (see ``Optimizer``), unlike PyTorch's L2 ``weight_decay``.

    Args:
        learning_rate: η (a float or a schedule), default 0.001.
        rho: ρ in [0, 1), default 0.9.
        momentum: μ in [0, 1], default 0.
        epsilon: ε > 0, default 1e-7.
        centered: normalise by the estimated variance of g instead of its second moment.
        **kwargs: ``params``, ``weight_decay``, clipping and ``name``; see ``Optimizer``.

    State per parameter: ``square_avg`` (v), ``momentum`` (b, if μ > 0), ``grad_avg``
    (ḡ, if centered).
    """

    _config_keys = ("rho", "momentum", "epsilon", "centered")

    def __init__(
        self,
        learning_rate: float | LearningRateSchedule = 0.001,
        rho: float = 0.9,
        momentum: float = 0.0,
        epsilon: float = 1e-7,
        centered: bool = False,
        *,
        params: Iterable[Tensor] | None = None,
        weight_decay: float | None = None,
        clipnorm: float | None = None,
        clipvalue: float | None = None,
        global_clipnorm: float | None = None,
        name: str | None = None,
    ) -> None:
        owner = type(self).__name__
        self.rho = check_range(owner, "rho", rho, UNIT_OPEN)
        self.momentum = check_range(owner, "momentum", momentum, UNIT)
        self.epsilon = check_range(owner, "epsilon", epsilon, POSITIVE)
        self.centered = check_bool(owner, "centered", centered)
        super().__init__(learning_rate, **passed_on(locals()))

    def _slot_names(self) -> tuple[str, ...]:
        names = ("square_avg",)
        if self.momentum > 0:
            names += ("momentum",)
        if self.centered:
            names += ("grad_avg",)
        return names

    def update_step(
        self, grad: Any, param: Any, state: dict[str, Any], learning_rate: float
    ) -> None:
        xp = get_array_module(param)
        rho = self.rho
        square_avg = state["square_avg"]
        square_avg *= rho
        square_avg += (1 - rho) * grad * grad
        if self.centered:
            grad_avg = state["grad_avg"]
            grad_avg += (1 - rho) * (grad - grad_avg)
            denom = square_avg - grad_avg * grad_avg
            xp.maximum(denom, 0, out=denom)
            xp.sqrt(denom, out=denom)
        else:
            denom = xp.sqrt(square_avg)
        denom += self.epsilon
        xp.divide(grad, denom, out=denom)  # denom now holds g/d
        if self.momentum > 0:
            buf = state["momentum"]
            buf *= self.momentum
            buf += denom
            param -= learning_rate * buf
        else:
            denom *= learning_rate
            param -= denom
