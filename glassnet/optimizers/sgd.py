"""Stochastic gradient descent with (Nesterov) momentum: ``SGD``."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from glassnet.checks import UNIT, check_bool, check_range
from glassnet.optimizers.base import Optimizer, passed_on
from glassnet.optimizers.schedules import LearningRateSchedule
from glassnet.tensor import Tensor

__all__ = ["SGD"]


class SGD(Optimizer):
    """Stochastic gradient descent, optionally with (Nesterov) momentum.

    Plain gradient descent steps against the gradient. Momentum keeps a running sum of past
    gradients, so steps build up along directions that agree from batch to batch and cancel
    along directions that oscillate. With g the gradient, b the momentum buffer (zeros at the
    start) and μ the momentum (PyTorch's formula)::

        b ← μ·b + g
        θ ← θ − η·b               (nesterov=False)
        θ ← θ − η·(g + μ·b)       (nesterov=True: look ahead along the momentum)
        θ ← θ − η·g               (momentum=0, no buffer kept)

    Differences from Keras: Keras keeps a velocity that already includes η (v ← μ·v − η·g,
    θ ← θ + v). With a constant learning rate the two are identical; after the learning rate
    changes, here the new η scales the whole buffer at once, in Keras only new gradients.
    Keras accepts ``nesterov=True`` with ``momentum=0`` (and does plain SGD); this raises.
    PyTorch's ``dampening`` is not offered (it is 0). ``weight_decay`` is decoupled
    (θ ← θ − η·λ·θ first, see ``Optimizer``): equal to PyTorch's L2 ``weight_decay`` without
    momentum, different with it.

    Args:
        learning_rate: η (a float or a schedule), default 0.01 (Keras's; PyTorch's is 0.001).
        momentum: μ in [0, 1], default 0.
        nesterov: use Nesterov momentum (needs momentum > 0).
        **kwargs: ``params``, ``weight_decay``, clipping and ``name``; see ``Optimizer``.

    State per parameter: ``momentum`` (b), only when momentum > 0.
    """

    _config_keys = ("momentum", "nesterov")

    def __init__(
        self,
        learning_rate: float | LearningRateSchedule = 0.01,
        momentum: float = 0.0,
        nesterov: bool = False,
        *,
        params: Iterable[Tensor] | None = None,
        weight_decay: float | None = None,
        clipnorm: float | None = None,
        clipvalue: float | None = None,
        global_clipnorm: float | None = None,
        name: str | None = None,
    ) -> None:
        owner = type(self).__name__
        self.momentum = check_range(owner, "momentum", momentum, UNIT)
        self.nesterov = check_bool(owner, "nesterov", nesterov)
        if self.nesterov and self.momentum == 0:
            raise ValueError(
                f"{owner}: nesterov=True needs momentum > 0. Received: momentum={momentum!r}. "
                f"Set momentum (e.g. 0.9) or nesterov=False."
            )
        super().__init__(learning_rate, **passed_on(locals()))

    def _slot_names(self) -> tuple[str, ...]:
        return ("momentum",) if self.momentum > 0 else ()

    def update_step(
        self, grad: Any, param: Any, state: dict[str, Any], learning_rate: float
    ) -> None:
        lr = learning_rate
        if self.momentum == 0:
            param -= lr * grad
            return
        buf = state["momentum"]
        buf *= self.momentum
        buf += grad
        update = grad + self.momentum * buf if self.nesterov else buf
        param -= lr * update
