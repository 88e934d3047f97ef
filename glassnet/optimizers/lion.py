"""Lion: every weight moves by ±η, the sign of a mix of momentum and gradient."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from glassnet.backend import get_array_module
from glassnet.checks import UNIT_LEFT_OPEN, UNIT_OPEN, check_range
from glassnet.optimizers.base import Optimizer, passed_on
from glassnet.optimizers.schedules import LearningRateSchedule
from glassnet.tensor import Tensor

__all__ = ["Lion"]


class Lion(Optimizer):
    """Lion ("EvoLved Sign Momentum"): step by the sign of an interpolation of the momentum
    and the gradient (Chen et al., 2023).

    Found by a program search over update rules, Lion keeps a single running average m and
    moves every weight by exactly η per step, in the direction of sign(c) below. As every
    weight moves the same distance, Lion wants a learning rate several times smaller than
    Adam's, and a weight decay larger by the same factor (the paper's advice, repeated by
    Keras). With g the gradient (the paper's Algorithm 2 and Keras's formula)::

        c = β₁·m + (1 − β₁)·g
        θ ← θ − η·sign(c)
        m ← β₂·m + (1 − β₂)·g

    β₁ sets how much of the momentum enters this step's direction, β₂ how slowly the
    momentum forgets. ``weight_decay`` is decoupled, θ ← θ − η·λ·θ before the update, which
    together make the paper's θ ← θ − η·(sign(c) + λ·θ). There is no ``torch.optim.Lion``.

    Args:
        learning_rate: η (a float or a schedule), default 0.001.
        beta_1: β₁ in (0, 1], default 0.9. At 0 the step would be sign(g), plain sign
            descent, so 0 is refused (as in Keras).
        beta_2: β₂ in [0, 1), default 0.99. At 1 the momentum would stay zero, which is
            sign descent again.
        **kwargs: ``params``, ``weight_decay``, clipping and ``name``; see ``Optimizer``.

    State per parameter: ``momentum`` (m).
    """

    _config_keys = ("beta_1", "beta_2")

    def __init__(
        self,
        learning_rate: float | LearningRateSchedule = 0.001,
        beta_1: float = 0.9,
        beta_2: float = 0.99,
        *,
        params: Iterable[Tensor] | None = None,
        weight_decay: float | None = None,
        clipnorm: float | None = None,
        clipvalue: float | None = None,
        global_clipnorm: float | None = None,
        name: str | None = None,
    ) -> None:
        owner = type(self).__name__
        self.beta_1 = check_range(owner, "beta_1", beta_1, UNIT_LEFT_OPEN)
        self.beta_2 = check_range(owner, "beta_2", beta_2, UNIT_OPEN)
        super().__init__(learning_rate, **passed_on(locals()))

    def _slot_names(self) -> tuple[str, ...]:
        return ("momentum",)

    def update_step(
        self, grad: Any, param: Any, state: dict[str, Any], learning_rate: float
    ) -> None:
        xp = get_array_module(param)
        m = state["momentum"]
        direction = m * self.beta_1
        direction += grad * (1 - self.beta_1)
        xp.sign(direction, out=direction)
        direction *= learning_rate
        param -= direction
        m *= self.beta_2
        m += grad * (1 - self.beta_2)
