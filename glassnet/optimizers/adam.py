"""Adam and its relatives: ``Adam``, ``AdamW``, ``Adamax`` (infinity norm) and ``Nadam``
(Nesterov momentum). Each keeps a running average of the gradient, m, and divides it by a
running measure of the gradient's size, so every weight gets its own step size.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from glassnet.backend import get_array_module
from glassnet.checks import POSITIVE, UNIT_OPEN, check_bool, check_range
from glassnet.optimizers.base import Optimizer, passed_on
from glassnet.optimizers.schedules import LearningRateSchedule
from glassnet.tensor import Tensor

__all__ = ["Adam", "AdamW", "Adamax", "Nadam"]


class _AdamFamily(Optimizer):
    """What ``Adam``, ``Adamax`` and ``Nadam`` share: β₁, β₂ and ε (checked, kept under their
    names), a step count t per parameter, and the gradient average m ← β₁·m + (1 − β₁)·g.

    Its constructor is Adamax's and Nadam's, whose arguments are the same; ``Adam`` adds
    ``amsgrad``. Each subclass names its slots (``m`` first) and writes ``update_step``.
    """

    _config_keys = ("beta_1", "beta_2", "epsilon")

    def __init__(
        self,
        learning_rate: float | LearningRateSchedule = 0.001,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
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
        self.beta_1 = check_range(owner, "beta_1", beta_1, UNIT_OPEN)
        self.beta_2 = check_range(owner, "beta_2", beta_2, UNIT_OPEN)
        self.epsilon = check_range(owner, "epsilon", epsilon, POSITIVE)
        super().__init__(learning_rate, **passed_on(locals()))

    def _init_state(self, param: Tensor) -> dict[str, Any]:
        state = super()._init_state(param)
        state["step"] = np.zeros((), dtype=np.int64)  # a host counter, also under CuPy
        return state

    def _count_and_average(self, grad: Any, state: dict[str, Any]) -> int:
        """Count this update of the parameter and move its ``m`` towards ``grad``; returns t."""
        state["step"] += 1
        m = state["m"]
        m += (1 - self.beta_1) * (grad - m)  # = β₁·m + (1 − β₁)·g, written as torch's lerp
        return int(state["step"])


class Adam(_AdamFamily):
    """Adam: momentum on the gradient, divided by a running estimate of its size.

    Each parameter gets its own step size: the average gradient m divided by the root of the
    average squared gradient v, so a weight with large, noisy gradients takes smaller steps
    and one with small, consistent gradients larger ones. Both averages start at zero, which
    biases them towards zero early on; dividing by 1 − βᵗ corrects this. At step t (counted per
    parameter) with gradient g (PyTorch's formula)::

        m ← β₁·m + (1 − β₁)·g
        v ← β₂·v + (1 − β₂)·g²
        m̂ = m / (1 − β₁ᵗ)      v̂ = v / (1 − β₂ᵗ)
        θ ← θ − η · m̂ / (√v̂ + ε)

    With ``amsgrad=True`` v is replaced by its running maximum v_max ← max(v_max, v), so the
    effective step size never grows again (Reddi et al., 2018).

    Differences from Keras: Keras adds ε to √v before bias correction,
    θ ← θ − η·√(1 − β₂ᵗ)/(1 − β₁ᵗ) · m/(√v + ε), i.e. its ε acts as ε/√(1 − β₂ᵗ) here (the
    paper's "ε̂"); the two differ only while √v̂ is as small as ε. Keras counts t globally
    (``iterations``); here, as in PyTorch, each parameter counts its own updates, which differs
    only for parameters that sometimes get no gradient. The default ε is Keras's 1e-7
    (PyTorch's is 1e-8). ``weight_decay`` is decoupled (θ ← θ − η·λ·θ before the update, see
    ``Optimizer``), so ``Adam(weight_decay=λ)`` equals PyTorch's ``AdamW(weight_decay=λ)``, not
    PyTorch's ``Adam(weight_decay=λ)``, whose L2 term is divided by √v̂ like the gradient.

    Args:
        learning_rate: η (a float or a schedule), default 0.001.
        beta_1: β₁ in [0, 1), decay of the gradient average, default 0.9.
        beta_2: β₂ in [0, 1), decay of the squared-gradient average, default 0.999.
        epsilon: ε > 0, keeps the division finite, default 1e-7.
        amsgrad: use the running maximum of v (AMSGrad).
        **kwargs: ``params``, ``weight_decay``, clipping and ``name``; see ``Optimizer``.

    State per parameter: ``m``, ``v``, ``v_max`` (amsgrad only), ``step`` (t, an int64).
    """

    _config_keys = (*_AdamFamily._config_keys, "amsgrad")

    def __init__(
        self,
        learning_rate: float | LearningRateSchedule = 0.001,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-7,
        amsgrad: bool = False,
        *,
        params: Iterable[Tensor] | None = None,
        weight_decay: float | None = None,
        clipnorm: float | None = None,
        clipvalue: float | None = None,
        global_clipnorm: float | None = None,
        name: str | None = None,
    ) -> None:
        self.amsgrad = check_bool(type(self).__name__, "amsgrad", amsgrad)
        super().__init__(learning_rate, beta_1, beta_2, epsilon, **passed_on(locals()))

    def _slot_names(self) -> tuple[str, ...]:
        return ("m", "v", "v_max") if self.amsgrad else ("m", "v")

    def update_step(
        self, grad: Any, param: Any, state: dict[str, Any], learning_rate: float
    ) -> None:
        xp = get_array_module(param)
        t = self._count_and_average(grad, state)
        m, v = state["m"], state["v"]
        b1, b2 = self.beta_1, self.beta_2
        v *= b2
        v += (1 - b2) * grad * grad
        if self.amsgrad:
            xp.maximum(state["v_max"], v, out=state["v_max"])
            v = state["v_max"]
        bias_correction1 = 1 - b1**t
        bias_correction2 = 1 - b2**t
        # √v̂ + ε = √v / √(1 − β₂ᵗ) + ε, built in one scratch array, then m/(...) in place.
        denom = xp.sqrt(v)
        denom /= bias_correction2**0.5
        denom += self.epsilon
        xp.divide(m, denom, out=denom)
        denom *= learning_rate / bias_correction1
        param -= denom


class AdamW(Adam):
    """Adam with decoupled weight decay on by default (Loshchilov & Hutter, 2019).

    Each step first shrinks every weight towards zero, θ ← θ − η·λ·θ, then takes the ``Adam``
    step. Decoupling the decay from the gradient keeps it the same for every weight, instead
    of being divided by √v̂ like an L2 penalty in Adam's gradient; this regularises better.
    The update is PyTorch's ``AdamW`` exactly (apart from ε's default, 1e-7 as in Keras).

    Args:
        learning_rate: η (a float or a schedule), default 0.001.
        weight_decay: λ ≥ 0, default 0.004 (Keras's; PyTorch's default is 0.01).
        beta_1, beta_2, epsilon, amsgrad: as in ``Adam``.
        **kwargs: ``params``, clipping and ``name``; see ``Optimizer``.
    """

    def __init__(
        self,
        learning_rate: float | LearningRateSchedule = 0.001,
        weight_decay: float = 0.004,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-7,
        amsgrad: bool = False,
        *,
        params: Iterable[Tensor] | None = None,
        clipnorm: float | None = None,
        clipvalue: float | None = None,
        global_clipnorm: float | None = None,
        name: str | None = None,
    ) -> None:
        if weight_decay is None:
            raise ValueError(
                "AdamW: 'weight_decay' must be a number >= 0. Received: weight_decay=None. "
                "Use Adam for no weight decay."
            )
        super().__init__(learning_rate, beta_1, beta_2, epsilon, amsgrad, **passed_on(locals()))


class Adamax(_AdamFamily):
    """Adamax: Adam with the infinity norm, dividing by a decaying maximum of |g|.

    Adam divides the gradient average by the root of the average squared gradient; Adamax
    (Kingma & Ba, 2015, section 7.1) divides it by u, the largest recent gradient magnitude,
    each older one discounted by β₂ per step. The step then needs no square root and its size
    is bounded by the learning rate. At step t (counted per parameter) with gradient g
    (PyTorch's formula)::

        m ← β₁·m + (1 − β₁)·g
        u ← max(β₂·u, |g| + ε)
        θ ← θ − η/(1 − β₁ᵗ) · m/u

    Differences from Keras: Keras keeps u ← max(β₂·u, |g|) and divides by u + ε, which
    differs from here only while |g| is as small as ε; it counts t globally (``iterations``),
    which differs only for parameters that sometimes get no gradient. Defaults are Keras's
    (η = 0.001, ε = 1e-7; PyTorch's are 0.002 and 1e-8). ``weight_decay`` is decoupled
    (θ ← θ − η·λ·θ first, see ``Optimizer``), unlike PyTorch's L2 ``weight_decay``.

    Args:
        learning_rate: η (a float or a schedule), default 0.001.
        beta_1: β₁ in [0, 1), decay of the gradient average, default 0.9.
        beta_2: β₂ in [0, 1), decay of the infinity norm, default 0.999.
        epsilon: ε > 0, keeps the division finite, default 1e-7.
        **kwargs: ``params``, ``weight_decay``, clipping and ``name``; see ``Optimizer``.

    State per parameter: ``m``, ``u``, ``step`` (t, an int64).
    """

    def _slot_names(self) -> tuple[str, ...]:
        return ("m", "u")

    def update_step(
        self, grad: Any, param: Any, state: dict[str, Any], learning_rate: float
    ) -> None:
        xp = get_array_module(param)
        t = self._count_and_average(grad, state)
        m, u = state["m"], state["u"]
        u *= self.beta_2
        bound = xp.abs(grad)
        bound += self.epsilon
        xp.maximum(u, bound, out=u)
        xp.divide(m, u, out=bound)  # bound now holds m/u
        bound *= learning_rate / (1 - self.beta_1**t)
        param -= bound


class Nadam(_AdamFamily):
    """Nadam: Adam with Nesterov momentum (Dozat, 2016).

    Nesterov momentum looks ahead: the step uses the momentum as it will be after this update
    instead of as it was. Nadam builds this into Adam, with a momentum coefficient μₜ that
    warms up from β₁/2 towards β₁ over the first steps. At step t (counted per parameter)
    with gradient g (Keras's formula)::

        μₜ = β₁·(1 − ½·0.96ᵗ)            Πₜ = μ₁·μ₂·…·μₜ
        m ← β₁·m + (1 − β₁)·g
        v ← β₂·v + (1 − β₂)·g²
        m̂ = μₜ₊₁·m / (1 − Πₜ·μₜ₊₁) + (1 − μₜ)·g / (1 − Πₜ)
        v̂ = v / (1 − β₂ᵗ)
        θ ← θ − η · m̂ / (√v̂ + ε)

    Differences from PyTorch: ``torch.optim.NAdam`` warms μₜ up with 0.96^(ψ·t), where
    ψ = ``momentum_decay`` is 0.004 by default, so there μₜ stays well below β₁ for thousands
    of steps; Keras's formula (used here) is PyTorch's with ``momentum_decay=1``. Differences
    from Keras: Keras counts t globally (``iterations``), here each parameter counts its own
    updates, which differs only for parameters that sometimes get no gradient.
    ``weight_decay`` is decoupled (θ ← θ − η·λ·θ first, see ``Optimizer``), as PyTorch's
    ``NAdam(decoupled_weight_decay=True)``. Defaults are Keras's (ε = 1e-7).

    Args:
        learning_rate: η (a float or a schedule), default 0.001.
        beta_1: β₁ in [0, 1), decay of the gradient average, default 0.9.
        beta_2: β₂ in [0, 1), decay of the squared-gradient average, default 0.999.
        epsilon: ε > 0, keeps the division finite, default 1e-7.
        **kwargs: ``params``, ``weight_decay``, clipping and ``name``; see ``Optimizer``.

    State per parameter: ``m``, ``v``, ``step`` (t, an int64) and ``mu_product`` (Πₜ, a
    scalar in the parameter's dtype, as Keras and PyTorch keep it).
    """

    def _slot_names(self) -> tuple[str, ...]:
        return ("m", "v")

    def _init_state(self, param: Tensor) -> dict[str, Any]:
        state = super()._init_state(param)
        state["mu_product"] = np.ones((), dtype=param.dtype)  # a host scalar, also under CuPy
        return state

    def update_step(
        self, grad: Any, param: Any, state: dict[str, Any], learning_rate: float
    ) -> None:
        xp = get_array_module(param)
        t = self._count_and_average(grad, state)
        m, v = state["m"], state["v"]
        b1, b2 = self.beta_1, self.beta_2
        mu = b1 * (1 - 0.5 * 0.96**t)
        mu_next = b1 * (1 - 0.5 * 0.96 ** (t + 1))
        state["mu_product"] *= mu
        mu_product = float(state["mu_product"])
        v *= b2
        v += (1 - b2) * grad * grad
        denom = v / (1 - b2**t)
        xp.sqrt(denom, out=denom)
        denom += self.epsilon
        # Two steps, as PyTorch takes them: the gradient's share, then the momentum's.
        share = xp.divide(grad, denom)
        share *= learning_rate * (1 - mu) / (1 - mu_product)
        param -= share
        xp.divide(m, denom, out=share)
        share *= learning_rate * mu_next / (1 - mu_product * mu_next)
        param -= share
