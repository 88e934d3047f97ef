"""Optimizers: how a gradient becomes a change of the weights (gradient descent and its heirs).

Training repeats three moves: compute the loss, ``loss.backward()`` to fill every parameter's
``.grad``, then ``optimizer.step()`` to move each parameter a little against its gradient.
Plain gradient descent takes the step θ ← θ − η·g; the optimizers here keep a running memory per
parameter (a momentum buffer, running averages of g and g²) so the step is smoother and better
scaled than the raw gradient.

Names, arguments and defaults are Keras 3's (``SGD(learning_rate=0.01, momentum=0.9)``,
``Adam(beta_1=..., epsilon=1e-7)``); ``step()``/``zero_grad()`` and the update formulas are
PyTorch's, so N steps here match N steps of ``torch.optim`` up to float32 rounding. Weight decay
is Keras's *decoupled* kind for every optimizer (see ``Optimizer``). Each class docstring says
where Keras's own formula differs.

Example:
    >>> opt = Adam(learning_rate=1e-3, params=model.parameters())
    >>> for x, y in batches:
    ...     loss = loss_fn(model(x), y)
    ...     opt.zero_grad()
    ...     loss.backward()
    ...     opt.step()
"""

from __future__ import annotations

import inspect
import math
import numbers
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar

import numpy as np

from glassnet.backend import get_array_module, is_float
from glassnet.checks import check_bool
from glassnet.tensor import Tensor, no_grad

__all__ = ["SGD", "Adam", "AdamW", "Optimizer", "RMSprop", "get"]


# ----------------------------------------------------------------------------- validation
#: The ranges the arguments are checked against: (how a message states it, the test).
_NONNEGATIVE = ("a number >= 0", lambda v: v >= 0)
_POSITIVE = ("a number > 0", lambda v: v > 0)
_UNIT_OPEN = ("in [0, 1)", lambda v: 0 <= v < 1)
_UNIT = ("in [0, 1]", lambda v: 0 <= v <= 1)
_CLIPS = ("clipnorm", "clipvalue", "global_clipnorm")


def _check_range(
    owner: str, name: str, value: Any, rule: tuple[str, Any], optional: bool = False
) -> float | None:
    """``value`` as a float if it passes ``rule`` (None passes where ``optional``); else a
    TypeError (not a real number) or a ValueError stating the range."""
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        hint = " Learning-rate schedules are set from a callback: optimizer.learning_rate = x."
        raise TypeError(
            f"{owner}: '{name}' must be a real number. Received: {name}={value!r} "
            f"(type {type(value).__name__}).{hint if name == 'learning_rate' else ''}"
        )
    if not (math.isfinite(value) and rule[1](value)):
        raise ValueError(f"{owner}: '{name}' must be {rule[0]}. Received: {name}={value!r}")
    return float(value)


def _l2_norm(array: Any) -> float:
    # linalg.norm ravels and takes one BLAS dot product: no float64 copy of the gradient.
    return float(get_array_module(array).linalg.norm(array))


def _label(i: int, p: Tensor) -> str:
    """How an error names parameter ``i``: its position, and its name where it has one."""
    return f"params[{i}]" + (f" '{p.name}'" if p.name else "")


# ----------------------------------------------------------------------------- base class
class Optimizer:
    """Base class: holds the parameters, their per-parameter state, clipping and weight decay.

    A subclass names its state slots (``_slot_names``) and writes ``update_step``, the maths of
    one update for one parameter, in place. ``step()`` does the rest: skips parameters that are
    frozen or got no gradient, clips gradients, applies weight decay, counts ``iterations``.

    Weight decay is *decoupled* (Keras 3, and PyTorch's ``AdamW``): before each update
    θ ← θ − η·λ·θ, i.e. ``param *= 1 - learning_rate * weight_decay``. PyTorch's ``SGD``,
    ``Adam`` and ``RMSprop`` instead add an L2 term to the gradient, g ← g + λ·θ, which then
    passes through the momentum buffer and (for Adam/RMSprop) is divided by √v, so parameters
    with large gradients are barely decayed. The two agree only for SGD without momentum.

    Args:
        learning_rate: the step size η, a float ≥ 0. Settable between steps
            (``opt.learning_rate = 0.01``); schedules and callbacks do exactly that.
        params: iterable of Tensors to update (e.g. ``model.parameters()``); or call
            ``build(params)`` later, as ``model.compile`` does.
        weight_decay: λ for decoupled weight decay, or None for none.
        clipnorm: c; each gradient whose L2 norm exceeds c is rescaled, g ← g·c/‖g‖ (Keras's
            ``clip_by_norm``; PyTorch's ``clip_grad_norm_`` on one tensor divides by
            ‖g‖ + 1e-6 instead, a relative difference of 1e-6/‖g‖).
        clipvalue: clip each gradient element to [−clipvalue, clipvalue].
        global_clipnorm: c; when the joint norm ‖(g₁, …, gₙ)‖ of all gradients exceeds c, every
            gradient is scaled by c/‖(g₁, …, gₙ)‖ (PyTorch's ``clip_grad_norm_`` over all, up to
            its 1e-6). At most one clip option may be set: Keras refuses only clipnorm with
            global_clipnorm and silently ignores clipvalue next to either; we refuse all pairs.
            Clipping works on copies; ``p.grad`` is never modified.
        name: a name for messages and configs; defaults to the lowercase class name.

    State: ``state_dict()`` returns every number the optimizer remembers (``iterations``, the
    current ``learning_rate`` and per-parameter slots such as ``"0.momentum"``) for checkpoints.
    """

    def __init__(
        self,
        learning_rate: float,
        *,
        params: Iterable[Tensor] | None = None,
        weight_decay: float | None = None,
        clipnorm: float | None = None,
        clipvalue: float | None = None,
        global_clipnorm: float | None = None,
        name: str | None = None,
    ) -> None:
        owner = type(self).__name__
        if name is not None and not isinstance(name, str):
            raise TypeError(f"{owner}: 'name' must be a string. Received: name={name!r}")
        self.name = name if name is not None else owner.lower()
        self.learning_rate = learning_rate
        self.weight_decay = _check_range(owner, "weight_decay", weight_decay, _NONNEGATIVE, True)
        self.clipnorm = _check_range(owner, "clipnorm", clipnorm, _POSITIVE, True)
        self.clipvalue = _check_range(owner, "clipvalue", clipvalue, _POSITIVE, True)
        self.global_clipnorm = _check_range(
            owner, "global_clipnorm", global_clipnorm, _POSITIVE, True
        )
        chosen = [f"{k}={getattr(self, k)!r}" for k in _CLIPS if getattr(self, k) is not None]
        if len(chosen) > 1:
            # An option that would silently do nothing (Keras ignores clipvalue next to a norm
            # clip) is a trap, so every combination is refused.
            raise ValueError(
                f"{owner}: only one of 'clipnorm', 'clipvalue' and 'global_clipnorm' can be "
                f"set. Received: {', '.join(chosen)}. Keep the one you mean."
            )
        self._iterations = 0
        self._params: list[Tensor] | None = None
        self._state: list[dict[str, Any]] = []
        if params is not None:
            self.build(params)

    # ------------------------------------------------------------------ properties
    @property
    def learning_rate(self) -> float:
        """The step size η used by the next ``step()`` (a float; set it to change it)."""
        return self._learning_rate

    @learning_rate.setter
    def learning_rate(self, value: float) -> None:
        owner = type(self).__name__
        self._learning_rate = _check_range(owner, "learning_rate", value, _NONNEGATIVE)

    @property
    def iterations(self) -> int:
        """How many times ``step()`` has run (restored by ``load_state_dict``)."""
        return self._iterations

    @property
    def built(self) -> bool:
        """Whether parameters are attached (``params=`` or ``build()``)."""
        return self._params is not None

    @property
    def params(self) -> list[Tensor]:
        """The attached parameters, in the order their state is numbered (empty if unbuilt)."""
        return [] if self._params is None else list(self._params)

    # ------------------------------------------------------------------ parameters and state
    def build(self, params: Iterable[Tensor]) -> None:
        """Attach the parameters to update and create their state (zeros, in their dtype).

        Calling it again with the same parameters does nothing, so ``model.compile`` may call it
        on an optimizer that was given ``params=``.
        """
        params = self._check_params(params)
        if self._params is not None:
            if len(params) == len(self._params) and all(
                a is b for a, b in zip(params, self._params, strict=True)
            ):
                return
            raise RuntimeError(
                f"{type(self).__name__}: already built for {len(self._params)} parameters; "
                f"build() was called again with different parameters ({len(params)}). Create a "
                f"new optimizer for a new set of parameters."
            )
        self._params = params
        self._state = [self._init_state(p) for p in params]

    def _check_params(self, params: Any) -> list[Tensor]:
        owner = type(self).__name__
        if isinstance(params, Tensor) or not isinstance(params, Iterable):
            raise TypeError(
                f"{owner}: 'params' must be an iterable of Tensors (e.g. model.parameters() or "
                f"[w, b]). Received: {type(params).__name__}."
            )
        params = list(params)
        problems = [
            f"params[{i}] is a {type(p).__name__}, not a Tensor"
            for i, p in enumerate(params)
            if not isinstance(p, Tensor)
        ]
        problems += [
            f"params[{i}] has dtype {p.dtype}; only floating-point tensors can be trained"
            for i, p in enumerate(params)
            if isinstance(p, Tensor) and not is_float(p.dtype)
        ]
        if problems:
            raise TypeError(f"{owner}: bad parameters:\n    " + "\n    ".join(problems))
        if not params:
            raise ValueError(f"{owner}: got an empty parameter list. Pass the model's parameters.")
        seen: dict[int, int] = {}
        for i, p in enumerate(params):
            if id(p) in seen:
                raise ValueError(
                    f"{owner}: params[{i}] is the same Tensor as params[{seen[id(p)]}]; each "
                    f"parameter may appear only once (it would be updated twice per step)."
                )
            seen[id(p)] = i
        return params

    def _slot_names(self) -> tuple[str, ...]:
        """Names of the per-parameter state arrays (each shaped and typed like the parameter)."""
        return ()

    def _init_state(self, param: Tensor) -> dict[str, Any]:
        xp = get_array_module(param.data)
        return {name: xp.zeros_like(param.data) for name in self._slot_names()}

    # ------------------------------------------------------------------ the update
    def update_step(self, grad: Any, param: Any, state: dict[str, Any]) -> None:
        """Update the array ``param`` in place from its gradient ``grad`` and its ``state``.

        ``grad`` must not be modified (it may be the user's ``p.grad``).
        """
        raise NotImplementedError

    def step(self) -> None:
        """Update every trainable parameter that has a gradient, in place, under ``no_grad``.

        Parameters with ``requires_grad=False`` or ``grad is None`` are left untouched (and
        their state, such as Adam's step count, does not advance).
        """
        owner = type(self).__name__
        if self._params is None:
            raise RuntimeError(
                f"{owner}: no parameters to update. Pass params=model.parameters() to the "
                f"constructor or call build(params) (model.compile does this) before step()."
            )
        work: list[tuple[Tensor, dict[str, Any]]] = []
        grads: list[Any] = []
        for i, (p, state) in enumerate(zip(self._params, self._state, strict=True)):
            if not p.requires_grad or p.grad is None:
                continue
            grad = p.grad.data if isinstance(p.grad, Tensor) else p.grad
            if grad.shape != p.shape:
                raise ValueError(
                    f"{owner}: the gradient of {_label(i, p)} has shape {grad.shape} but the "
                    f"parameter has shape {p.shape}. Gradients must match their parameter."
                )
            if not getattr(getattr(p.data, "flags", None), "writeable", True):
                raise RuntimeError(
                    f"{owner}: {_label(i, p)} holds a read-only array (memory-mapped, or a "
                    f"broadcast view), which cannot be updated in place. Give it a copy: "
                    f"p.data = p.data.copy()."
                )
            work.append((p, state))
            grads.append(grad.astype(p.dtype, copy=False))
        grads = self._clip(grads)
        lr = self._learning_rate
        with no_grad():
            for (p, state), g in zip(work, grads, strict=True):
                if self.weight_decay:
                    p.data *= 1.0 - lr * self.weight_decay
                self.update_step(g, p.data, state)
        self._iterations += 1

    def _clip(self, grads: list[Any]) -> list[Any]:
        """Clipped copies of the gradients (the originals are never modified)."""
        if self.clipvalue is not None:
            v = self.clipvalue
            return [get_array_module(g).clip(g, -v, v) for g in grads]
        if self.clipnorm is not None:
            c = self.clipnorm
            norms = [_l2_norm(g) for g in grads]
            return [g * (c / n) if n > c else g for g, n in zip(grads, norms, strict=True)]
        if self.global_clipnorm is not None and grads:
            c = self.global_clipnorm
            total = math.sqrt(sum(_l2_norm(g) ** 2 for g in grads))
            if total > c:
                return [g * (c / total) for g in grads]
        return grads

    def zero_grad(self) -> None:
        """Forget every parameter's gradient (``.grad = None``), as PyTorch's default does."""
        for p in self._params or ():
            p.grad = None

    # ------------------------------------------------------------------ checkpoints
    def state_dict(self) -> dict[str, Any]:
        """Everything the optimizer remembers, as a flat ``name -> array`` dict of copies.

        Keys: ``"iterations"``, ``"learning_rate"`` (callbacks change it, so a resumed run
        needs it, as Keras keeps it in a variable) and ``"<index>.<slot>"`` for each parameter,
        numbered in ``params`` order (``"0.momentum"``, ``"1.m"``, ``"1.v"``).
        """
        out: dict[str, Any] = {
            "iterations": np.array(self._iterations, dtype=np.int64),
            "learning_rate": np.array(self._learning_rate, dtype=np.float64),
        }
        for i, state in enumerate(self._state):
            for slot, array in state.items():
                out[f"{i}.{slot}"] = array.copy()
        return out

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore ``state_dict()`` output; every key and shape must match (strict).

        All problems are collected and reported together; nothing is changed unless all pass.
        """
        owner = type(self).__name__
        if not isinstance(state, Mapping):
            raise TypeError(
                f"{owner}.load_state_dict: expected a dict of name -> array. "
                f"Received: {type(state).__name__}."
            )
        if self._params is None:
            raise RuntimeError(
                f"{owner}.load_state_dict: the optimizer has no parameters yet, so it cannot "
                f"check the state's shapes. Pass params= or call build(params) first."
            )
        expected: dict[str, tuple[tuple[int, ...], Any]] = {
            "iterations": ((), np.int64),
            "learning_rate": ((), np.float64),
        }
        for i, slots in enumerate(self._state):
            for slot, array in slots.items():
                expected[f"{i}.{slot}"] = (array.shape, array.dtype)
        problems = [
            f"missing key '{k}' (expected shape {shape})"
            for k, (shape, _) in expected.items()
            if k not in state
        ]
        problems += [f"unexpected key '{k}'" for k in state if k not in expected]
        values: dict[str, Any] = {}
        for key, (shape, dtype) in expected.items():
            if key not in state:
                continue
            value = state[key]
            got_shape = tuple(getattr(value, "shape", np.shape(value)))
            got_dtype = getattr(value, "dtype", np.asarray(value).dtype)
            if got_shape != tuple(shape):
                problems.append(f"'{key}': shape {got_shape} does not match expected {shape}")
            elif not np.issubdtype(got_dtype, np.integer if dtype == np.int64 else np.number):
                problems.append(f"'{key}': dtype {got_dtype} cannot hold this state")
            elif key == "learning_rate" and not 0 <= float(value) < math.inf:
                problems.append(f"'{key}': must be a finite number >= 0, got {float(value)}")
            elif np.issubdtype(got_dtype, np.integer) and int(value) < 0 and not shape:
                problems.append(f"'{key}': must be >= 0, got {int(value)}")
            else:
                values[key] = value
        if problems:
            raise ValueError(
                f"Error(s) in loading state_dict for {owner} '{self.name}':\n    "
                + "\n    ".join(problems)
                + "\nWas it saved for another model, or with other settings (e.g. momentum=0 "
                "has no momentum buffers, amsgrad=True adds 'v_max')?"
            )
        self._iterations = int(values.pop("iterations"))
        self._learning_rate = float(values.pop("learning_rate"))
        for key, value in values.items():
            index, slot = key.split(".", 1)
            target = self._state[int(index)][slot]
            xp = get_array_module(target)
            target[...] = xp.asarray(value, dtype=target.dtype)

    # ------------------------------------------------------------------ configs
    #: A subclass's own constructor arguments, kept in attributes of the same names.
    _config_keys: ClassVar[tuple[str, ...]] = ()

    def get_config(self) -> dict[str, Any]:
        """Constructor arguments as a JSON-safe dict (parameters and state are not included)."""
        keys = ("weight_decay", *_CLIPS, *self._config_keys)
        return {"name": self.name, "learning_rate": self._learning_rate} | {
            key: getattr(self, key) for key in keys
        }

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Optimizer:
        """Rebuild an optimizer from ``get_config()`` output (unbuilt: attach params after)."""
        accepted = set(inspect.signature(cls.__init__).parameters) - {"self", "params"}
        unknown = sorted(set(config) - accepted)
        if unknown:
            raise ValueError(
                f"{cls.__name__}.from_config: unknown key(s) {unknown}. "
                f"Accepted: {sorted(accepted)}."
            )
        return cls(**config)

    def __repr__(self) -> str:
        config = self.get_config()
        args = ", ".join(f"{k}={v!r}" for k, v in config.items() if v is not None)
        return f"{type(self).__name__}({args})"


# ----------------------------------------------------------------------------- SGD
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
        learning_rate: η, default 0.01 (Keras's; PyTorch's default is 0.001).
        momentum: μ in [0, 1], default 0.
        nesterov: use Nesterov momentum (needs momentum > 0).
        **kwargs: ``params``, ``weight_decay``, clipping and ``name``; see ``Optimizer``.

    State per parameter: ``momentum`` (b), only when momentum > 0.
    """

    _config_keys = ("momentum", "nesterov")

    def __init__(
        self,
        learning_rate: float = 0.01,
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
        self.momentum = _check_range(owner, "momentum", momentum, _UNIT)
        self.nesterov = check_bool(owner, "nesterov", nesterov)
        if self.nesterov and self.momentum == 0:
            raise ValueError(
                f"{owner}: nesterov=True needs momentum > 0. Received: momentum={momentum!r}. "
                f"Set momentum (e.g. 0.9) or nesterov=False."
            )
        super().__init__(
            learning_rate,
            params=params,
            weight_decay=weight_decay,
            clipnorm=clipnorm,
            clipvalue=clipvalue,
            global_clipnorm=global_clipnorm,
            name=name,
        )

    def _slot_names(self) -> tuple[str, ...]:
        return ("momentum",) if self.momentum > 0 else ()

    def update_step(self, grad: Any, param: Any, state: dict[str, Any]) -> None:
        lr = self._learning_rate
        if self.momentum == 0:
            param -= lr * grad
            return
        buf = state["momentum"]
        buf *= self.momentum
        buf += grad
        update = grad + self.momentum * buf if self.nesterov else buf
        param -= lr * update


# ----------------------------------------------------------------------------- Adam
class Adam(Optimizer):
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
        learning_rate: η, default 0.001.
        beta_1: β₁ in [0, 1), decay of the gradient average, default 0.9.
        beta_2: β₂ in [0, 1), decay of the squared-gradient average, default 0.999.
        epsilon: ε > 0, keeps the division finite, default 1e-7.
        amsgrad: use the running maximum of v (AMSGrad).
        **kwargs: ``params``, ``weight_decay``, clipping and ``name``; see ``Optimizer``.

    State per parameter: ``m``, ``v``, ``v_max`` (amsgrad only), ``step`` (t, an int64).
    """

    _config_keys = ("beta_1", "beta_2", "epsilon", "amsgrad")

    def __init__(
        self,
        learning_rate: float = 0.001,
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
        owner = type(self).__name__
        self.beta_1 = _check_range(owner, "beta_1", beta_1, _UNIT_OPEN)
        self.beta_2 = _check_range(owner, "beta_2", beta_2, _UNIT_OPEN)
        self.epsilon = _check_range(owner, "epsilon", epsilon, _POSITIVE)
        self.amsgrad = check_bool(owner, "amsgrad", amsgrad)
        super().__init__(
            learning_rate,
            params=params,
            weight_decay=weight_decay,
            clipnorm=clipnorm,
            clipvalue=clipvalue,
            global_clipnorm=global_clipnorm,
            name=name,
        )

    def _slot_names(self) -> tuple[str, ...]:
        return ("m", "v", "v_max") if self.amsgrad else ("m", "v")

    def _init_state(self, param: Tensor) -> dict[str, Any]:
        state = super()._init_state(param)
        state["step"] = np.zeros((), dtype=np.int64)  # a host counter, also under CuPy
        return state

    def update_step(self, grad: Any, param: Any, state: dict[str, Any]) -> None:
        xp = get_array_module(param)
        m, v = state["m"], state["v"]
        state["step"] += 1
        t = int(state["step"])
        b1, b2 = self.beta_1, self.beta_2
        m += (1 - b1) * (grad - m)  # = β₁·m + (1 − β₁)·g, written as torch's lerp
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
        denom *= self._learning_rate / bias_correction1
        param -= denom


class AdamW(Adam):
    """Adam with decoupled weight decay on by default (Loshchilov & Hutter, 2019).

    Each step first shrinks every weight towards zero, θ ← θ − η·λ·θ, then takes the ``Adam``
    step. Decoupling the decay from the gradient keeps it the same for every weight, instead
    of being divided by √v̂ like an L2 penalty in Adam's gradient; this regularises better.
    The update is PyTorch's ``AdamW`` exactly (apart from ε's default, 1e-7 as in Keras).

    Args:
        learning_rate: η, default 0.001.
        weight_decay: λ ≥ 0, default 0.004 (Keras's; PyTorch's default is 0.01).
        beta_1, beta_2, epsilon, amsgrad: as in ``Adam``.
        **kwargs: ``params``, clipping and ``name``; see ``Optimizer``.
    """

    def __init__(
        self,
        learning_rate: float = 0.001,
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
        super().__init__(
            learning_rate,
            beta_1,
            beta_2,
            epsilon,
            amsgrad,
            params=params,
            weight_decay=weight_decay,
            clipnorm=clipnorm,
            clipvalue=clipvalue,
            global_clipnorm=global_clipnorm,
            name=name,
        )


# ----------------------------------------------------------------------------- RMSprop
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
        learning_rate: η, default 0.001.
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
        learning_rate: float = 0.001,
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
        self.rho = _check_range(owner, "rho", rho, _UNIT_OPEN)
        self.momentum = _check_range(owner, "momentum", momentum, _UNIT)
        self.epsilon = _check_range(owner, "epsilon", epsilon, _POSITIVE)
        self.centered = check_bool(owner, "centered", centered)
        super().__init__(
            learning_rate,
            params=params,
            weight_decay=weight_decay,
            clipnorm=clipnorm,
            clipvalue=clipvalue,
            global_clipnorm=global_clipnorm,
            name=name,
        )

    def _slot_names(self) -> tuple[str, ...]:
        names = ("square_avg",)
        if self.momentum > 0:
            names += ("momentum",)
        if self.centered:
            names += ("grad_avg",)
        return names

    def update_step(self, grad: Any, param: Any, state: dict[str, Any]) -> None:
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
            param -= self._learning_rate * buf
        else:
            denom *= self._learning_rate
            param -= denom


# ----------------------------------------------------------------------------- lookup
_BY_NAME: dict[str, type[Optimizer]] = {
    "adam": Adam,
    "adamw": AdamW,
    "rmsprop": RMSprop,
    "sgd": SGD,
}


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
