"""Optimizers: how a gradient becomes a change of the weights (gradient descent and its heirs).

Training repeats three moves: compute the loss, ``loss.backward()`` to fill every parameter's
``.grad``, then ``optimizer.step()`` to move each parameter a little against its gradient.
Plain gradient descent takes the step θ ← θ − η·g; the optimizers here keep a running memory per
parameter (a momentum buffer, running averages of g and g²) so the step is smoother and better
scaled than the raw gradient.

The optimizers are Keras 3's: ``SGD``, ``Adam``, ``AdamW``, ``RMSprop``, ``Adagrad``,
``Adadelta``, ``Adamax``, ``Nadam`` and ``Lion``, with Keras's names, arguments and defaults
(``SGD(learning_rate=0.01, momentum=0.9)``, ``Adam(beta_1=..., epsilon=1e-7)``) and Keras's
names for ``model.compile`` (``"adam"``, ``"nadam"``, ...; see ``get``). ``step()``,
``zero_grad()`` and the update formulas are PyTorch's, so N steps here match N steps of
``torch.optim`` up to float32 rounding; where Keras's formula differs, the class docstring says
so, and for ``Nadam`` (whose momentum schedule differs a lot between the two) and ``Lion``
(which PyTorch lacks) the formula is Keras's. Weight decay is Keras's *decoupled* kind for every
optimizer (see ``Optimizer``). The learning rate may be a number or a schedule from
``glassnet.optimizers.schedules`` (``ExponentialDecay``, ``CosineDecay``, ...), stepped per
update as in Keras.

Modules: ``base`` (the ``Optimizer`` class), ``sgd``, ``adam`` (Adam, AdamW, Adamax, Nadam),
``adagrad`` (Adagrad, RMSprop, Adadelta), ``lion`` and ``schedules``.

Example:
    >>> opt = Adam(learning_rate=1e-3, params=model.parameters())
    >>> for x, y in batches:
    ...     loss = loss_fn(model(x), y)
    ...     opt.zero_grad()
    ...     loss.backward()
    ...     opt.step()
"""

from __future__ import annotations

from glassnet.optimizers import schedules
from glassnet.optimizers.adagrad import Adadelta, Adagrad, RMSprop
from glassnet.optimizers.adam import Adam, Adamax, AdamW, Nadam
from glassnet.optimizers.base import Optimizer
from glassnet.optimizers.lion import Lion
from glassnet.optimizers.sgd import SGD

__all__ = [
    "NAMES",
    "SGD",
    "Adadelta",
    "Adagrad",
    "Adam",
    "AdamW",
    "Adamax",
    "Lion",
    "Nadam",
    "Optimizer",
    "RMSprop",
    "get",
    "schedules",
]


# ----------------------------------------------------------------------------- lookup
#: Keras's string names (``model.compile(optimizer="nadam")``), each with Keras's defaults.
_BY_NAME: dict[str, type[Optimizer]] = {
    "adadelta": Adadelta,
    "adagrad": Adagrad,
    "adam": Adam,
    "adamax": Adamax,
    "adamw": AdamW,
    "lion": Lion,
    "nadam": Nadam,
    "rmsprop": RMSprop,
    "sgd": SGD,
}
#: Every name ``get`` (and so ``model.compile``) accepts, for menus such as the CLI's --optimizer.
NAMES: tuple[str, ...] = tuple(_BY_NAME)


def get(identifier: str | Optimizer) -> Optimizer:
    """An optimizer from a name (``"adam"``, ``"SGD"``; case-insensitive, Keras defaults) or an
    ``Optimizer`` instance, returned as is. Used by ``model.compile(optimizer=...)``."""
    if isinstance(identifier, Optimizer):
        return identifier
    known = ", ".join(repr(k) for k in _BY_NAME)
    if isinstance(identifier, str):
        cls = _BY_NAME.get(identifier.lower())
        if cls is None:
            raise ValueError(
                f"optimizers.get: unknown optimizer {identifier!r}. Known names: {known} "
                f"(case-insensitive), or pass an Optimizer instance."
            )
        return cls()
    raise TypeError(
        f"optimizers.get: expected a name ({known}) or an Optimizer instance. "
        f"Received: {identifier!r} of type {type(identifier).__name__}."
    )
