"""The ``Optimizer`` base class: parameters, per-parameter state, clipping, weight decay, the
learning rate (a number or a schedule), checkpoints and configs. Each optimizer subclasses it
and writes only its update formula (``update_step``).
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar

import numpy as np

from glassnet.backend import get_array_module, is_float
from glassnet.checks import NONNEGATIVE, POSITIVE, check_name, check_range, is_real
from glassnet.optimizers.schedules import LearningRateSchedule, deserialize, serialize
from glassnet.tensor import Tensor, no_grad

_CLIPS = ("clipnorm", "clipvalue", "global_clipnorm")
#: ``Optimizer.__init__``'s keyword-only arguments, which every optimizer's constructor spells
#: out again (Keras's explicit signatures, which ``from_config`` reads) to hand them on.
_OPTIONS = ("params", "weight_decay", *_CLIPS, "name")


def passed_on(arguments: Mapping[str, Any]) -> dict[str, Any]:
    """The arguments an optimizer's constructor hands on to ``Optimizer.__init__``, picked out
    of its ``locals()``: ``super().__init__(learning_rate, **passed_on(locals()))``."""
    return {key: arguments[key] for key in _OPTIONS}


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
        learning_rate: the step size η: a float ≥ 0, settable between steps
            (``opt.learning_rate = 0.01``, as callbacks do), or a ``LearningRateSchedule``
            from ``glassnet.optimizers.schedules``, which the optimizer asks for η at its step
            count before every update, as Keras does (then the rate cannot be set by hand).
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
    current ``learning_rate`` and per-parameter slots such as ``"0.momentum"``) for checkpoints;
    a schedule is part of the config (``get_config``) and continues from ``iterations``.
    """

    def __init__(
        self,
        learning_rate: float | LearningRateSchedule,
        *,
        params: Iterable[Tensor] | None = None,
        weight_decay: float | None = None,
        clipnorm: float | None = None,
        clipvalue: float | None = None,
        global_clipnorm: float | None = None,
        name: str | None = None,
    ) -> None:
        owner = type(self).__name__
        self.name = check_name(owner, name) or owner.lower()
        self.learning_rate = learning_rate
        self.weight_decay = check_range(owner, "weight_decay", weight_decay, NONNEGATIVE, True)
        self.clipnorm = check_range(owner, "clipnorm", clipnorm, POSITIVE, True)
        self.clipvalue = check_range(owner, "clipvalue", clipvalue, POSITIVE, True)
        self.global_clipnorm = check_range(
            owner, "global_clipnorm", global_clipnorm, POSITIVE, True
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
        """The step size η the next ``step()`` will use, a float: the number set, or what the
        schedule gives at step ``iterations``. Assign a number (or a new schedule) to change
        it; assigning a number while a schedule is in use raises, as in Keras."""
        rate = self._learning_rate
        if not isinstance(rate, LearningRateSchedule):
            return rate
        step = self._iterations
        value = rate(step)
        if not is_real(value):
            raise TypeError(
                f"{type(self).__name__}: the learning-rate schedule {rate!r} returned "
                f"{value!r} at step {step}; __call__(step) must return a number."
            )
        if not (math.isfinite(value) and value >= 0):
            raise ValueError(
                f"{type(self).__name__}: the learning-rate schedule {rate!r} gave {value} at "
                f"step {step}; a learning rate must be a finite number >= 0. Check the "
                f"schedule's arguments."
            )
        return float(value)

    @learning_rate.setter
    def learning_rate(self, value: float | LearningRateSchedule) -> None:
        owner = type(self).__name__
        current = getattr(self, "_learning_rate", None)
        if isinstance(current, LearningRateSchedule) and not isinstance(
            value, LearningRateSchedule
        ):
            raise TypeError(
                f"{owner}: the learning rate comes from a schedule ({type(current).__name__}) "
                f"that sets it before every step, so it cannot be set to a number. Received: "
                f"learning_rate={value!r}. To set the rate by hand or from a callback, create "
                f"the optimizer with a number as learning_rate; or assign another schedule."
            )
        self._learning_rate = _check_learning_rate(owner, value)

    @property
    def learning_rate_schedule(self) -> LearningRateSchedule | None:
        """The schedule given as ``learning_rate``, or None when the rate is a number."""
        rate = self._learning_rate
        return rate if isinstance(rate, LearningRateSchedule) else None

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
    def update_step(
        self, grad: Any, param: Any, state: dict[str, Any], learning_rate: float
    ) -> None:
        """Update the array ``param`` in place from its gradient ``grad``, its ``state`` and
        this step's ``learning_rate`` (a float, the schedule's value where there is one).

        ``grad`` must not be modified (it may be the user's ``p.grad``).
        """
        raise NotImplementedError

    def step(self) -> None:
        """Update every trainable parameter that has a gradient, in place, under ``no_grad``.

        Parameters with ``requires_grad=False`` or ``grad is None`` are left untouched (and
        their state, such as Adam's step count, does not advance). A parameter with a
        ``constraint`` (``glassnet.constraints``) is projected by it after its update.
        """
        if self._params is None:
            raise RuntimeError(
                f"{type(self).__name__}: no parameters to update. Pass "
                "params=model.parameters() to the constructor or call build(params) "
                "(model.compile does this) before step()."
            )
        self._update(list(range(len(self._params))), [p.grad for p in self._params])

    def apply(self, grads: Iterable[Any], variables: Iterable[Tensor] | None = None) -> None:
        """Keras 3's update: move each of ``variables`` (default: every attached parameter)
        by its gradient in ``grads`` (Tensors or arrays; None skips one), exactly as
        ``step()`` moves them by their ``.grad``: clipping, weight decay and the learning-rate
        schedule included. An optimizer not yet attached is attached to ``variables``.
        """
        grads = list(grads)
        if variables is None:
            if self._params is None:
                raise RuntimeError(
                    f"{type(self).__name__}.apply: no variables given and none attached. "
                    "Call apply(grads, model.trainable_weights)."
                )
            variables = self._params
        variables = list(variables)
        if len(grads) != len(variables):
            raise ValueError(
                f"{type(self).__name__}.apply: {len(grads)} gradients for {len(variables)} "
                "variables. Give one gradient (or None) per variable, in the same order."
            )
        if self._params is None:
            self.build(variables)
        index = {id(p): i for i, p in enumerate(self._params)}
        missing = [i for i, v in enumerate(variables) if id(v) not in index]
        if missing:
            raise ValueError(
                f"{type(self).__name__}.apply: variables[{missing[0]}] is not one of the "
                f"{len(self._params)} parameters this optimizer was built for. Build a new "
                "optimizer for a new set of parameters."
            )
        self._update([index[id(v)] for v in variables], grads)

    def apply_gradients(self, grads_and_vars: Iterable[tuple[Any, Tensor]]) -> None:
        """``apply`` for ``(gradient, variable)`` pairs: Keras's
        ``apply_gradients(zip(grads, model.trainable_weights))``."""
        pairs = list(grads_and_vars)
        self.apply([g for g, _ in pairs], [v for _, v in pairs])

    def _update(self, which: list[int], grads: list[Any]) -> None:
        """Update the parameters numbered ``which`` by ``grads`` (one each; None skips)."""
        owner = type(self).__name__
        work: list[tuple[Tensor, dict[str, Any]]] = []
        arrays: list[Any] = []
        for i, grad in zip(which, grads, strict=True):
            p, state = self._params[i], self._state[i]
            if not p.requires_grad or grad is None:
                continue
            grad = grad.data if isinstance(grad, Tensor) else grad
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
            arrays.append(grad.astype(p.dtype, copy=False))
        arrays = self._clip(arrays)
        lr = self.learning_rate  # a schedule's value at this step, for decay and update alike
        with no_grad():
            for (p, state), g in zip(work, arrays, strict=True):
                if self.weight_decay:
                    p.data *= 1.0 - lr * self.weight_decay
                self.update_step(g, p.data, state, lr)
                if p.constraint is not None:  # Keras: the weight's projection, after the update
                    p.data[...] = p.constraint(p.data)
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
        numbered in ``params`` order (``"0.momentum"``, ``"1.m"``, ``"1.v"``). With a schedule,
        ``"learning_rate"`` records the rate at ``iterations``; loading leaves it to the
        schedule, which recomputes it from the restored ``iterations``.
        """
        out: dict[str, Any] = {
            "iterations": np.array(self._iterations, dtype=np.int64),
            "learning_rate": np.array(self.learning_rate, dtype=np.float64),
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
        rate = float(values.pop("learning_rate"))
        if not isinstance(self._learning_rate, LearningRateSchedule):
            self._learning_rate = rate
        for key, value in values.items():
            index, slot = key.split(".", 1)
            target = self._state[int(index)][slot]
            xp = get_array_module(target)
            target[...] = xp.asarray(value, dtype=target.dtype)

    # ------------------------------------------------------------------ configs
    #: A subclass's own constructor arguments, kept in attributes of the same names.
    _config_keys: ClassVar[tuple[str, ...]] = ()

    def get_config(self) -> dict[str, Any]:
        """Constructor arguments as a JSON-safe dict (parameters and state are not included).

        A schedule is written as Keras writes it, ``{"class_name": ..., "config": ...}``.
        """
        config = self._arguments()
        if isinstance(config["learning_rate"], LearningRateSchedule):
            config["learning_rate"] = serialize(config["learning_rate"])
        return config

    def _arguments(self) -> dict[str, Any]:
        """The constructor's arguments, the learning rate as given (a number or a schedule)."""
        keys = ("weight_decay", *_CLIPS, *self._config_keys)
        return {"name": self.name, "learning_rate": self._learning_rate} | {
            key: getattr(self, key) for key in keys
        }

    @classmethod
    def from_config(
        cls, config: Mapping[str, Any], custom_objects: Mapping[str, type] | None = None
    ) -> Optimizer:
        """Rebuild an optimizer from ``get_config()`` output (unbuilt: attach params after).

        ``custom_objects`` maps class names to schedule classes the lookup would not find
        (see ``schedules.deserialize``).
        """
        accepted = set(inspect.signature(cls.__init__).parameters) - {"self", "params"}
        unknown = sorted(set(config) - accepted)
        if unknown:
            raise ValueError(
                f"{cls.__name__}.from_config: unknown key(s) {unknown}. "
                f"Accepted: {sorted(accepted)}."
            )
        config = dict(config)
        if isinstance(config.get("learning_rate"), Mapping):
            config["learning_rate"] = deserialize(config["learning_rate"], custom_objects)
        return cls(**config)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self._arguments().items() if v is not None)
        return f"{type(self).__name__}({args})"


def _check_learning_rate(owner: str, value: Any) -> float | LearningRateSchedule:
    """A schedule as is, or a number checked to be >= 0; else an error saying what to pass."""
    if isinstance(value, LearningRateSchedule):
        return value
    if not is_real(value):
        hint = (
            " A function of the step must subclass glassnet.optimizers.schedules."
            "LearningRateSchedule (define __call__(step)); a per-epoch function goes to "
            "callbacks.LearningRateScheduler."
            if callable(value)
            else ""
        )
        raise TypeError(
            f"{owner}: 'learning_rate' must be a real number or a LearningRateSchedule (e.g. "
            f"glassnet.optimizers.schedules.ExponentialDecay). Received: learning_rate="
            f"{value!r} (type {type(value).__name__}).{hint}"
        )
    return check_range(owner, "learning_rate", value, NONNEGATIVE)
