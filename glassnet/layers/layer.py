"""The ``Layer`` base class: a building block that owns weights and turns inputs into outputs.

A layer's life has three steps, with Keras's names:

1. ``__init__(hyperparameters)`` checks the arguments and stores them. It creates no weights,
   because their shapes depend on the input: a ``Dense(10)`` needs 784·10 weights after a
   28×28 image and 512·10 after another ``Dense(512)``.
2. ``build(input_shape)`` creates the weights with ``add_weight``. The first call does it,
   when the input shape is known (Keras's lazy build; Chainer's ``in_size=None``).
3. ``call(x, training)`` is the maths, a few lines that delegate to ``glassnet.ops``.
   ``compute_output_shape(input_shape)`` is the same thing done with shapes only, so a model can
   check a whole stack of layers before any data flows.

Inside, it works like PyTorch's ``nn.Module``: assigning a layer (or a list of layers) to an
attribute registers it as a sub-layer, so ``weights``, ``state_dict()``, ``train()``/``eval()``
and ``zero_grad()`` reach the whole tree. ``get_config()``/``from_config()`` and a registry of
class names let a model be saved as JSON and rebuilt without executing anything from the file.

Beside this file, and below it (they never import it at run time): ``registry.py`` files every
subclass under its names, ``observers.py`` holds the functions told of every call
(``watch_calls``, ``observe_calls``), ``node.py`` the functional API's symbolic tensors: a
layer called on one records the call instead of computing. ``serialization.py``
(``serialize``, ``deserialize``, ``get``) is above it.
"""

from __future__ import annotations

import functools
import inspect
import json
import re
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, NamedTuple

import numpy as np

from glassnet import constraints, initializers, regularizers
from glassnet.backend import as_array, default_float, get_array_module
from glassnet.checks import check_bool, is_int
from glassnet.layers.node import KerasTensor, call_symbolic, is_symbolic
from glassnet.layers.observers import call_observers
from glassnet.layers.registry import register
from glassnet.tensor import Tensor, no_grad

__all__ = [
    "IncompatibleKeys",
    "InputSpec",
    "Layer",
    "clear_session",
    "regularization_loss",
]

Shape = tuple[int | None, ...]

#: How many layers got each automatic name so far ("dense" -> 2 means dense, dense_1 exist).
_NAME_COUNTS: dict[str, int] = {}
#: The ``training`` value passed explicitly to an enclosing layer call, if any.
_call_state = threading.local()

# Every attribute set on a layer or model (a new activation, strides, a replaced weight,
# ``trainable``, a new optimizer) moves this count on. What ``predict`` and ``fit`` keep from
# earlier batches of a shape is keyed on it, so nothing kept outlives a change to any model.
# A class's ``run_state`` names the attributes that say how it is being run rather than what
# it computes (``training``, flipped by train() and eval() around every fit): they do not count.
_changes = 0


def changes() -> int:
    """How many attribute changes layers have seen so far in this process: equal counts mean
    no layer was changed in between."""
    return _changes


def clear_session() -> None:
    """Reset automatic layer names, so the next ``Dense`` is called "dense" again (Keras's
    ``clear_session``). Existing layers keep their names."""
    _NAME_COUNTS.clear()


@dataclass
class InputSpec:
    """What a layer accepts: a number of axes and some axes pinned to a size.

    Args:
        ndim: exact number of axes, or None. min_ndim: at least this many axes, or None.
        axes: {axis: size}, e.g. ``{-1: 512}`` for a Dense layer built for 512 features.
        layout: names of the axes for error messages, e.g. "(batch, height, width, channels)".
    """

    ndim: int | None = None
    min_ndim: int | None = None
    axes: dict[int, int] = field(default_factory=dict)
    layout: str = ""


class IncompatibleKeys(NamedTuple):
    """What ``load_state_dict`` returns: the keys it could not match (PyTorch's namedtuple)."""

    missing_keys: list[str]
    unexpected_keys: list[str]


#: Checks ``Layer.add_weight`` runs before a weight's array exists, each given (layer, name,
#: shape): ``load_model`` checks a stranger's file this way (``models.saving``), so a config
#: asking for a huge weight is refused before anything is allocated.
weight_checks: list[Callable[[Layer, str, Any], None]] = []


class Layer:
    """Base class of every layer (and, later, of models): weights, a build step and maths.

    Subclasses write ``__init__`` (check and store hyperparameters, call
    ``super().__init__(name=name, trainable=trainable)`` first), ``build(input_shape)`` (create
    weights with ``add_weight``), ``call(x, training=False)`` and ``compute_output_shape``, plus
    ``get_config`` when ``__init__`` takes arguments.

    Args:
        name: a unique name; by default the class name in snake_case, numbered: "dense",
            "dense_1", ... (reset by ``clear_session()``).
        trainable: False freezes the layer: its weights get no gradients and optimizers skip
            them.
        activity_regularizer: a penalty on the layer's outputs (``glassnet.regularizers``),
            added to the training loss (``losses``); None for none.

    Example:
        >>> class Scale(Layer):
        ...     def build(self, input_shape):
        ...         self.factor = self.add_weight("factor", (input_shape[-1],), "ones")
        ...     def call(self, x, training=False):
        ...         return x * self.factor
        >>> Scale()(np.ones((2, 3))).shape
        (2, 3)
    """

    #: True for layers called on a list of tensors (``Add()([x, y])``).
    _multi_input: ClassVar[bool] = False
    _call_takes_training: ClassVar[bool] = True
    #: Keras's ``call(self, inputs, mask=None)``: the layer is given its input's padding mask.
    _call_takes_mask: ClassVar[bool] = False
    #: False keeps a model holding this layer on the graph for every batch: for a layer whose
    #: Python must run on every call (it checks or prints its data, counts its calls), since
    #: ``fit`` and ``predict`` otherwise replay only the ops it applied (``models.replay``).
    replayable: ClassVar[bool] = True
    #: True where ``fit`` may replay a share of a large batch on each core (``models.replay``):
    #: the ops the layer's ``call`` applies (its own, not its sub-layers') treat each sample on
    #: its own, or look across the batch only through ops that take the ``share``
    #: (``Function.across_batch``: batch statistics, random draws).
    trains_in_shares: ClassVar[bool] = False
    #: Attributes that say how the layer is being run, not what it computes: setting them
    #: does not count as a change (``changes``).
    run_state: ClassVar[frozenset[str]] = frozenset({"training"})
    #: Whether the layer passes its (first) input's padding mask, ``_keras_mask``, on to its
    #: output (Keras's ``supports_masking``); layers that use the mask set it themselves.
    supports_masking: ClassVar[bool] = False
    #: Constructor arguments that ``get_config`` reads back from the attributes of the same
    #: names (plain JSON values; a subclass's own ``get_config`` adds any others).
    _config_keys: ClassVar[tuple[str, ...]] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        register(cls)
        # Wrap build so that however it is called (by __call__, by a model, or by hand) the
        # input is checked first and `built`/`input_shape` are recorded after, as Keras does.
        build = vars(cls).get("build")
        if build is not None and not getattr(build, "_records_build", False):
            cls.build = _recording_build(build)
        parameters = inspect.signature(cls.call).parameters
        cls._call_takes_training = "training" in parameters
        cls._call_takes_mask = "mask" in parameters

    def __new__(cls, *args: Any, **kwargs: Any) -> Layer:
        self = super().__new__(cls)
        # Remember the constructor arguments: get_config() of a subclass that does not write its
        # own returns them, so user layers can be saved without extra code (Keras 3 does this).
        object.__setattr__(self, "_init_arguments", _bind_arguments(cls, self, args, kwargs))
        return self

    def __init__(
        self, name: str | None = None, trainable: bool = True, activity_regularizer: Any = None
    ) -> None:
        object.__setattr__(self, "_tracked", {})  # first: __setattr__ relies on it
        self._weight_trainable: dict[str, bool] = {}  # weight name -> created trainable?
        self._weight_regularizers: dict[str, regularizers.Regularizer] = {}
        self._weight_options: tuple[str, ...] = ()  # see _keep_weight_options
        self.name = _auto_name(type(self)) if name is None else _check_name(self, name)
        self.activity_regularizer = activity_regularizer
        self._trainable = check_bool(type(self).__name__, "trainable", trainable)
        self.built = False
        self.training = False
        self.input_shape: Shape | list[Shape] | None = None
        self.input_spec: InputSpec | None = None

    # ---------------------------------------------------------------- attribute tracking
    def __setattr__(self, name: str, value: Any) -> None:
        tracked = self.__dict__.get("_tracked")
        if tracked is None:
            if _holds_layers(value):
                raise RuntimeError(
                    f"{type(self).__name__}: call super().__init__() at the start of __init__, "
                    f"before assigning sub-layers (here '{name}')."
                )
            object.__setattr__(self, name, value)
            return
        weight_names = self.__dict__.get("_weight_trainable", ())
        if name in weight_names and not isinstance(value, (Tensor, type(None))):
            raise TypeError(
                f"{self._where}: '{name}' is a weight and must stay a Tensor. Received "
                f"{type(value).__name__}. Use set_weights() or load_state_dict() to change "
                f"its values."
            )
        if name in self.__dict__.get("_weight_options", ()):
            value = self._set_weight_option(name, value)
        unnamed = self.__dict__.get("_unnamed_weights")
        if unnamed and isinstance(value, Tensor) and id(value) in unnamed:
            if name not in weight_names:  # self.w = self.add_weight(shape=...): now it is "w"
                self._rename_weight(unnamed.pop(id(value)), name)
        # Layers, and containers that hold (or may later hold) layers, are sub-layers.
        if _holds_layers(value):
            tracked[name] = None
        else:
            tracked.pop(name, None)
        object.__setattr__(self, name, value)
        if name not in self.run_state:
            global _changes
            _changes += 1

    def __delattr__(self, name: str) -> None:
        self.__dict__.get("_tracked", {}).pop(name, None)
        self.__dict__.get("_weight_trainable", {}).pop(name, None)
        self.__dict__.get("_weight_regularizers", {}).pop(name, None)
        object.__delattr__(self, name)
        global _changes
        _changes += 1

    def named_children(self) -> Iterator[tuple[str, Layer]]:
        """The direct sub-layers with their attribute names (``"conv"``, ``"blocks.0"``)."""
        for attr in list(self._tracked):
            value = self.__dict__.get(attr)
            if isinstance(value, Layer):
                yield attr, value
                continue
            items = value.items() if isinstance(value, dict) else enumerate(value or ())
            for key, item in items:
                if isinstance(item, Layer):
                    yield f"{attr}.{key}", item

    def children(self) -> list[Layer]:
        """The direct sub-layers."""
        return [layer for _, layer in self.named_children()]

    def named_layers(self, prefix: str = "") -> Iterator[tuple[str, Layer]]:
        """This layer (path ``prefix``) and every sub-layer below it with its dotted path, each
        once, parents before children (PyTorch's ``named_modules``)."""
        seen: set[int] = set()
        stack: list[tuple[str, Layer]] = [(prefix, self)]
        while stack:
            path, layer = stack.pop()
            if id(layer) in seen:
                continue
            seen.add(id(layer))
            yield path, layer
            kids = [(f"{path}.{key}" if path else key, kid) for key, kid in layer.named_children()]
            stack.extend(reversed(kids))

    # ---------------------------------------------------------------- weights
    def add_weight(
        self,
        name: str | None = None,
        shape: Sequence[int] | None = None,
        initializer: Any = "glorot_uniform",
        trainable: bool = True,
        dtype: Any = None,
        regularizer: Any = None,
        constraint: Any = None,
    ) -> Tensor:
        """Create a weight, store it as attribute ``name`` and register it (in creation order).

        Keras 3 writes ``self.w = self.add_weight(shape=(3, 4), initializer="zeros")``: without
        a name, the weight takes the name of the attribute it is first assigned to ("w"), as a
        PyTorch ``Parameter`` does (until then, or if never assigned, "variable").

        Args:
            name: attribute name, by Keras convention "kernel", "bias", "gamma", "beta",
                "moving_mean", "moving_variance"; None: named by its attribute.
            shape: the weight's shape.
            initializer: an initializer or its name (see ``glassnet.initializers``).
            trainable: False for state that is updated but not trained (moving statistics).
            dtype: the dtype, float32 by default.
            regularizer: a penalty on the weight added to the training loss (``losses``), as
                a ``glassnet.regularizers`` object or name; None for none.
            constraint: a projection applied after each optimizer update
                (``glassnet.constraints``, kept as ``weight.constraint``); None for none.

        Returns:
            The new ``Tensor`` (``requires_grad`` when trainable and the layer is trainable).
        """
        if shape is None and not isinstance(name, (str, type(None))):
            name, shape = None, name  # Keras 3's order: add_weight((3, 4), ...)
        unnamed = name is None
        if unnamed:
            name = next(
                n
                for n in (
                    f"variable_{i}" if i else "variable" for i in range(len(self.__dict__) + 1)
                )
                if n not in self.__dict__ and not hasattr(type(self), n)
            )
        if shape is None:
            raise TypeError(f"{self._where}: add_weight needs a shape, e.g. shape=(3, 4).")
        for check in weight_checks:  # before the array exists (models.saving's load)
            check(self, name, shape)
        if not isinstance(name, str) or not name.isidentifier():
            raise ValueError(
                f"{self._where}: weight names must be Python identifiers. Received: name={name!r}"
            )
        if name in self._weight_trainable or hasattr(type(self), name):
            raise ValueError(
                f"{self._where}: cannot add weight '{name}': the layer already has an attribute "
                f"of that name. Choose another name."
            )
        shape = _as_shape(self, shape)
        if None in shape:
            raise ValueError(
                f"{self._where}: weight '{name}' needs a fully known shape. Received: "
                f"shape={shape}. Build the layer with a known input size."
            )
        init = initializers.get(initializer)
        if init is None:
            raise ValueError(f"{self._where}: weight '{name}' needs an initializer, got None.")
        dtype = default_float if dtype is None else dtype
        value = np.asarray(init(shape, dtype=dtype), dtype=dtype)
        if value.shape != shape:
            raise ValueError(
                f"{self._where}: the initializer of weight '{name}' returned shape "
                f"{value.shape}. Expected {shape}."
            )
        trainable = check_bool(self._where, "trainable", trainable)
        regularizer = self._option(f"regularizer of weight '{name}'", regularizers, regularizer)
        constraint = self._option(f"constraint of weight '{name}'", constraints, constraint)
        weight = Tensor(
            value, requires_grad=trainable and self._trainable, name=f"{self.name}/{name}"
        )
        weight.constraint = constraint
        if regularizer is not None:
            self._weight_regularizers[name] = regularizer
        self._weight_trainable[name] = trainable
        setattr(self, name, weight)
        if unnamed:
            self.__dict__.setdefault("_unnamed_weights", {})[id(weight)] = name
        return weight

    def _rename_weight(self, old: str, new: str) -> None:
        """Register the weight ``old`` under ``new``, in its place in the creation order."""
        weight = self.__dict__.pop(old)
        trainable = self._weight_trainable
        self.__dict__["_weight_trainable"] = {
            (new if k == old else k): v for k, v in trainable.items()
        }
        regularizers_ = self.__dict__.get("_weight_regularizers", {})
        if old in regularizers_:
            regularizers_[new] = regularizers_.pop(old)
        weight.name = f"{self.name}/{new}"

    def named_weights(self) -> Iterator[tuple[str, Tensor]]:
        """Every weight of this layer and its sub-layers with its state-dict key, each once:
        own weights in creation order, then each sub-layer's (Keras's ``weights`` order)."""
        seen: set[int] = set()
        for path, layer in self.named_layers():
            for name in layer._weight_trainable:
                weight = layer.__dict__.get(name)
                if weight is None or id(weight) in seen:
                    continue
                seen.add(id(weight))
                yield (f"{path}.{name}" if path else name), weight

    # ---------------------------------------------------------------- penalties
    @property
    def activity_regularizer(self) -> regularizers.Regularizer | None:
        """The penalty on this layer's outputs, added to the training loss; None for none."""
        return self.__dict__.get("_activity_regularizer")

    @activity_regularizer.setter
    def activity_regularizer(self, value: Any) -> None:
        self._activity_regularizer = self._option("activity_regularizer", regularizers, value)
        self.__dict__.pop("_activity_losses", None)  # the old regularizer's, now stale

    @property
    def losses(self) -> list[Tensor]:
        """The scalar penalties of this layer and its sub-layers (Keras's ``losses``): each
        regularized trainable weight's, from its current values, each activity
        regularizer's and each ``add_loss`` term, from the latest call. ``fit`` adds their sum
        to the loss it lowers."""
        return self._penalties(weights=True, activity=True)

    def add_loss(self, loss: Any) -> None:
        """Add a scalar term to the training loss from inside ``call`` (Keras's ``add_loss``):
        a VAE's KL divergence, an activity penalty computed by hand. The terms of a call
        replace the previous call's; ``losses`` lists them and ``fit`` adds them to the loss.

        Shape: loss () (a Tensor, so that its gradient reaches the weights it came from).
        """
        if not isinstance(loss, Tensor):
            loss = Tensor(as_array(loss, default_float))
        if loss.size != 1:
            raise ValueError(
                f"{self._where}: add_loss takes a scalar (one number); received a tensor of "
                f"shape {tuple(loss.shape)}. Reduce it first, e.g. ops.mean(x)."
            )
        added = self.__dict__.get("_added_losses")
        if added is None:  # a new kind of penalized layer: the cached list is stale
            global _changes
            _changes += 1
            added = self.__dict__["_added_losses"] = []
        added.append(loss.reshape(()))

    def _penalties(self, weights: bool, activity: bool) -> list[Tensor]:
        found: list[Tensor] = []
        for layer in self._penalized_layers():
            if activity:
                found += layer.__dict__.get("_activity_losses", ())
                found += layer.__dict__.get("_added_losses", ())
            if not weights:
                continue
            for name, regularizer in layer.__dict__.get("_weight_regularizers", {}).items():
                weight = layer.__dict__.get(name)
                if weight is not None and weight.requires_grad:
                    found.append(regularizer(weight))
        return found

    def _penalized_layers(self) -> list[Layer]:
        """The layers in this tree with a regularizer, found once per state of the layers
        (``changes``): ``fit`` asks on every step, and most models have none."""
        cached = self.__dict__.get("_penalized")
        if cached is None or cached[0] != _changes:
            layers = [
                layer
                for _, layer in self.named_layers()
                if layer.__dict__.get("_weight_regularizers")
                or layer.__dict__.get("_activity_regularizer") is not None
                or "_added_losses" in layer.__dict__
            ]
            cached = self.__dict__["_penalized"] = (_changes, layers)
        return cached[1]

    def _option(self, what: str, module: Any, value: Any) -> Any:
        """``module.get(value)`` (a regularizer or constraint), its error naming this layer."""
        try:
            return module.get(value)
        except (TypeError, ValueError) as err:
            raise type(err)(f"{self._where}: bad {what}. {err}") from None

    def _keep_weight_options(self, **options: Any) -> None:
        """Store ``kernel_regularizer=``, ``bias_constraint=``... (Keras's arguments, named
        ``<weight>_regularizer`` or ``<weight>_constraint``) as checked attributes of the same
        names, which ``get_config`` saves; ``build`` hands them to ``add_weight``."""
        self._weight_options = (*self._weight_options, *options)
        for key, value in options.items():
            setattr(self, key, value)  # checked by _set_weight_option

    def _set_weight_option(self, key: str, value: Any) -> Any:
        """``value`` as the regularizer or constraint ``key``, handed on to its weight
        (``kernel_regularizer`` to ``kernel``, ``recurrent_constraint`` to
        ``recurrent_kernel``) where that exists already: a change after build counts from the
        next step, as any other change to a layer does."""
        kind = "regularizer" if key.endswith("_regularizer") else "constraint"
        value = self._option(key, regularizers if kind == "regularizer" else constraints, value)
        prefix = key.removesuffix(f"_{kind}")
        names = [
            n
            for n in (prefix, f"{prefix}_kernel")
            if n in self._weight_trainable and self.__dict__.get(n) is not None
        ]
        for name in names[:1]:
            if kind == "constraint":
                self.__dict__[name].constraint = value
            elif value is None:
                self._weight_regularizers.pop(name, None)
            else:
                self._weight_regularizers[name] = value
        return value

    @property
    def weights(self) -> list[Tensor]:
        """All weights, trainable or not, of this layer and its sub-layers."""
        return [w for _, w in self.named_weights()]

    @property
    def trainable_weights(self) -> list[Tensor]:
        """The weights that training updates: those that require gradients."""
        return [w for w in self.weights if w.requires_grad]

    @property
    def non_trainable_weights(self) -> list[Tensor]:
        """The weights training leaves alone: moving statistics and frozen weights."""
        return [w for w in self.weights if not w.requires_grad]

    # Keras 3 calls weights "variables": the same lists under its other names.
    variables = weights
    trainable_variables = trainable_weights
    non_trainable_variables = non_trainable_weights

    def parameters(self) -> list[Tensor]:
        """The trainable weights (PyTorch's name): what an optimizer should update."""
        return self.trainable_weights

    def named_parameters(self) -> list[tuple[str, Tensor]]:
        """``(key, weight)`` for each trainable weight, keys as in ``state_dict()``."""
        return [(key, w) for key, w in self.named_weights() if w.requires_grad]

    @property
    def trainable(self) -> bool:
        """Whether training updates this layer. Setting it applies to all sub-layers; False
        freezes every weight, True unfreezes the weights that were created trainable."""
        return self._trainable

    @trainable.setter
    def trainable(self, value: bool) -> None:
        value = check_bool(self._where, "trainable", value)
        for _, layer in self.named_layers():
            layer.__dict__["_trainable"] = value
            for name, created_trainable in layer._weight_trainable.items():
                weight = layer.__dict__.get(name)
                if weight is not None:
                    weight.requires_grad = value and created_trainable

    def count_params(self) -> int:
        """The number of numbers in all weights (trainable or not)."""
        self._require_built("count_params()")
        return sum(int(w.size) for w in self.weights)

    def get_weights(self) -> list[np.ndarray]:
        """Copies of all weights as NumPy arrays, in ``weights`` order (Keras)."""
        return [np.array(w.numpy(), copy=True) for w in self.weights]

    def set_weights(self, weights: Sequence[Any]) -> None:
        """Copy ``weights`` (arrays in ``get_weights()`` order) into the layer's weights.

        Every count and shape is checked before anything is copied; all problems are reported
        at once. Values are copied in place, so optimizers holding the weights see them.
        """
        self._require_built("set_weights()")
        named = list(self.named_weights())
        weights = list(weights)
        expected = ", ".join(f"{key} {tuple(w.shape)}" for key, w in named)
        if len(weights) != len(named):
            raise ValueError(
                f"{self._where}: set_weights() received {len(weights)} arrays but the layer has "
                f"{len(named)} weights ({expected}). Pass one array per weight, in that order."
            )
        arrays = [_as_numpy(value) for value in weights]
        problems = [
            f"weight '{key}' has shape {tuple(w.shape)} but received an array of shape {a.shape}"
            for (key, w), a in zip(named, arrays, strict=True)
            if a.shape != w.shape
        ]
        if problems:
            raise ValueError(
                f"{self._where}: set_weights() cannot use these arrays:\n    "
                + "\n    ".join(problems)
            )
        for (_, w), a in zip(named, arrays, strict=True):
            _copy_into(w, a)

    def state_dict(self) -> dict[str, np.ndarray]:
        """Every weight, non-trainable included, as a copy under its dotted key (``"kernel"``,
        ``"block.conv.bias"``): what a checkpoint stores."""
        return {key: np.array(w.numpy(), copy=True) for key, w in self.named_weights()}

    def load_state_dict(self, state_dict: dict[str, Any], strict: bool = True) -> IncompatibleKeys:
        """Copy arrays from ``state_dict`` into the weights with the same keys.

        With ``strict=True`` every key must match both ways. Shapes must always match. All
        problems are collected and reported in one error, and nothing is copied unless there
        are none (PyTorch's "Error(s) in loading state_dict").

        Returns:
            ``(missing_keys, unexpected_keys)``.
        """
        own = dict(self.named_weights())
        missing = [key for key in own if key not in state_dict]
        unexpected = [key for key in state_dict if key not in own]
        errors = []
        if strict and missing:
            errors.append("Missing key(s) in state_dict: " + ", ".join(f'"{k}"' for k in missing))
        if strict and unexpected:
            keys = ", ".join(f'"{k}"' for k in unexpected)
            errors.append(f"Unexpected key(s) in state_dict: {keys}")
        arrays = {key: _as_numpy(value) for key, value in state_dict.items() if key in own}
        for key, array in arrays.items():
            if array.shape != own[key].shape:
                errors.append(
                    f"size mismatch for {key}: copying a weight with shape {array.shape} from "
                    f"the state dict, the shape in the current layer is {tuple(own[key].shape)}"
                )
        if errors:
            if self._unbuilt_layers():
                errors.append(
                    "(the layer is not built, so it has no weights yet: call build(input_shape) "
                    "or call it on a batch first)"
                )
            raise ValueError(
                f"Error(s) in loading state_dict for {self._where}:\n\t" + "\n\t".join(errors)
            )
        for key, array in arrays.items():
            _copy_into(own[key], array)
        return IncompatibleKeys(missing, unexpected)

    def zero_grad(self) -> None:
        """Forget the gradients of all weights (set ``.grad`` to None), before the next step."""
        for w in self.weights:
            w.grad = None

    # ---------------------------------------------------------------- modes
    def train(self, mode: bool = True) -> Layer:
        """Put this layer and all sub-layers in training mode (Dropout drops, BatchNormalization
        uses batch statistics); ``train(False)`` is ``eval()``. Returns ``self``."""
        for _, layer in self.named_layers():
            layer.training = bool(mode)
        return self

    def eval(self) -> Layer:
        """Put this layer and all sub-layers in inference mode. Returns ``self``."""
        return self.train(False)

    # ---------------------------------------------------------------- the forward pass
    def __call__(self, inputs: Any, training: bool | None = None) -> Any:
        """Run the layer: convert the input, check its shape, build on first use, then ``call``.

        Args:
            inputs: a Tensor, NumPy array or nested list (converted to a float32 Tensor;
                Tensors keep their dtype), or a list of them for layers such as ``Add``.
            training: True or False to force a mode (it then also applies to sub-layers called
                inside); None uses the layer's own mode (``train()``/``eval()``, default False).
        """
        if not self._multi_input and _takes_a_structure(self, inputs):
            self.__dict__["_multi_input"] = True  # the input's structure, not a config change
        if is_symbolic(inputs):  # Input(...) tensors: record the call (layers/node.py)
            return call_symbolic(self, inputs)
        if self._multi_input:
            if not isinstance(inputs, (list, tuple)):
                raise TypeError(
                    f"{self._where}: expects a list of inputs, e.g. {type(self).__name__}()"
                    f"([x, y]). Received a single {type(inputs).__name__}."
                )
            x: Any = [_to_tensor(self, item) for item in inputs]
            shape: Any = [tuple(t.shape) for t in x]
        else:
            x = _to_tensor(self, inputs)
            shape = tuple(x.shape)
        if not self.built:
            self.build(shape)  # checks the input first (see _recording_build)
        else:
            # A layer sees the same shape batch after batch: check each new (shape, spec) once.
            # At batch 1 the checks would cost about as much as a small layer's arithmetic.
            seen = self.__dict__.get("_checked_shape")
            if seen is None or seen[0] != shape or seen[1] is not self.input_spec:
                self._check_input_shape(shape)
                self.__dict__["_checked_shape"] = (shape, self.input_spec)
        if "_added_losses" in self.__dict__:
            self.__dict__["_added_losses"].clear()  # add_loss: each call brings its own terms
        outer = getattr(_call_state, "training", None)
        explicit = outer if training is None else bool(training)
        mode = self.training if explicit is None else explicit
        _call_state.training = explicit
        try:
            out = self._run_call(x, mode)
        finally:
            _call_state.training = outer
        if type(self).compute_mask is not Layer.compute_mask:  # the layer says what it masks
            _set_masks(self, x, out)
        elif self.supports_masking:
            _pass_mask_on(x, out)
        regularizer = self.__dict__.get("_activity_regularizer")
        if regularizer is not None:  # Keras: a penalty on each output, kept until the next call
            outs = out if isinstance(out, (list, tuple)) else [out]
            self.__dict__["_activity_losses"] = [regularizer(o) for o in outs]
        for observer in call_observers:
            observer(self, x, out)
        return out

    @property
    def input(self) -> Any:
        """The symbolic input of this layer's first call in a functional graph (a
        ``KerasTensor``, or a list for layers such as ``Add``)."""
        return self._first_node("input").inputs

    @property
    def output(self) -> Any:
        """The symbolic output of this layer's first call in a functional graph: the
        feature-extractor idiom ``Model(model.input, model.get_layer("conv3").output)``."""
        outputs = self._first_node("output").outputs
        return outputs[0] if len(outputs) == 1 else outputs

    def _first_node(self, what: str) -> Any:
        nodes = self.__dict__.get("_inbound_nodes")
        if not nodes:
            raise AttributeError(
                f"{self._where} has no {what} yet: it has not been called on a symbolic input. "
                f"Call it on keras.Input(...) (or on another layer's output) first."
            )
        return nodes[0]

    def _run_call(self, x: Any, training: bool) -> Any:
        # User layers may write call(self, x) without a training argument, and with a mask
        # argument, which gets the input's padding mask (Keras: the first input's, or a list).
        kwargs: dict[str, Any] = {"training": training} if self._call_takes_training else {}
        if self._call_takes_mask:
            masks = [getattr(t, "_keras_mask", None) for t in (x if self._multi_input else [x])]
            kwargs["mask"] = masks if self._multi_input else masks[0]
        return self.call(x, **kwargs)

    def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
        """The padding mask of the output, given the inputs and their mask (a list of masks
        for a layer with several inputs), as Keras's ``compute_mask``: the input's where the
        layer ``supports_masking``, else None. A layer that moves or splits steps writes its
        own (a list for several outputs); the output then carries it (``_keras_mask``)."""
        return mask if self.supports_masking else None

    def build(self, input_shape: Shape) -> None:
        """Create the weights for inputs of ``input_shape`` (batch first, may be None).

        Runs once, on the first call. The base version creates none.
        """

    def call(self, inputs: Any, training: bool = False) -> Any:
        """The layer's maths on Tensors. Subclasses must write it."""
        raise NotImplementedError(f"{type(self).__name__} must implement call(x, training).")

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        """The output shape for ``input_shape`` (batch may be None), by arithmetic alone.

        Built-in layers compute it; this fallback for user layers builds the layer and runs
        ``call`` on a batch of one zero input, keeping the batch axis as given. Unknown sizes
        (a sequence's ``None`` steps) are tried as 2 and then 3: an output size that follows
        them is unknown (None) too.
        """
        shape = self._check_input_shape(input_shape)
        if not self.built:
            self.build(shape)
        shapes = shape if self._multi_input else [shape]
        if not any(None in s[1:] for s in shapes):
            return (shapes[0][0], *self._probe(shapes, 1)[1:])
        try:
            first, second = self._probe(shapes, 2), self._probe(shapes, 3)
        except Exception as error:
            raise ValueError(
                f"{self._where}: cannot infer the output shape for input shape {input_shape} "
                f"with unknown sizes (trying them as 2 and 3 failed: {error}). Implement "
                f"compute_output_shape() for this layer."
            ) from None
        if len(first) != len(second):
            raise ValueError(
                f"{self._where}: the output's rank follows the unknown sizes of input shape "
                f"{input_shape}. Implement compute_output_shape() for this layer."
            )
        sizes = zip(first[1:], second[1:], strict=True)
        return (shapes[0][0], *(a if a == b else None for a, b in sizes))

    def _probe(self, shapes: list[Any], unknown: int) -> tuple[int, ...]:
        """The output shape of ``call`` on one zero sample, ``unknown`` standing for None."""
        zeros = [
            Tensor(np.zeros((1, *(unknown if d is None else d for d in s[1:])), default_float))
            for s in shapes
        ]
        if self._call_takes_mask:  # a call that needs a mask sees every step as real
            for z in zeros:
                z._keras_mask = Tensor(np.ones(z.shape[:2], dtype=bool)) if z.ndim > 1 else None
        with no_grad():  # inference mode for the whole tree: no statistics are updated
            out = self(zeros if self._multi_input else zeros[0], training=False)
        return tuple(out.shape)

    # ---------------------------------------------------------------- input checks
    @property
    def _where(self) -> str:
        """How errors name this layer: ``Dense 'dense_1'``."""
        return f"{type(self).__name__} '{self.__dict__.get('name', '?')}'"

    def _check_input_shape(self, input_shape: Any) -> Any:
        """Check a shape against ``input_spec`` and return it as a tuple (a list of tuples for
        multi-input layers). Layers override it for extra checks (kernel fits the image...)."""
        if self._multi_input:
            if not isinstance(input_shape, (list, tuple)) or not all(
                isinstance(s, (list, tuple)) for s in input_shape
            ):
                raise ValueError(
                    f"{self._where}: expects a list of input shapes, one per input. "
                    f"Received: {input_shape!r}"
                )
            return [_as_shape(self, s) for s in input_shape]
        shape = _as_shape(self, input_shape)
        spec = self.input_spec
        if spec is None:
            return shape
        if (spec.ndim is not None and len(shape) != spec.ndim) or (
            spec.min_ndim is not None and len(shape) < spec.min_ndim
        ):
            wanted = (
                f"a {spec.ndim}-D" if spec.ndim is not None else f"an at least {spec.min_ndim}-D"
            )
            fewer = len(shape) < (spec.ndim or spec.min_ndim or 0)
            hint = "Add the missing axes (a batch axis: x[None])." if fewer else "Reshape it."
            layout = f" {spec.layout}" if spec.layout else ""
            raise ValueError(
                f"{self._where}: expected {wanted} input{layout}, received input shape "
                f"{shape}. {hint}"
            )
        for axis, size in spec.axes.items():
            if shape[axis] is not None and shape[axis] != size:
                raise ValueError(self._axis_mismatch_message(shape, axis, size))
        return shape

    def _axis_mismatch_message(self, shape: Shape, axis: int, expected: int) -> str:
        """The error for an input whose ``axis`` is not the size the layer was built for."""
        return (
            f"{self._where}: input axis {axis} must be {expected}, as when the layer was built "
            f"(input shape {self.input_shape}). Received input shape {shape}."
        )

    def _require_built(self, what: str) -> None:
        unbuilt = self._unbuilt_layers()
        if unbuilt:
            raise ValueError(
                f"{self._where}: {what} needs the weights, but {', '.join(unbuilt)} "
                f"{'is' if len(unbuilt) == 1 else 'are'} not built yet. Call the layer on a "
                f"batch of data, or call build(input_shape), e.g. build((None, 784)), first."
            )

    def _unbuilt_layers(self) -> list[str]:
        """Names of layers in the tree that create weights in build() and have not yet."""
        return [
            f"'{layer.name}'"
            for _, layer in self.named_layers()
            if not layer.built and type(layer).build is not Layer.build
        ]

    # ---------------------------------------------------------------- configuration
    def get_config(self) -> dict[str, Any]:
        """The constructor arguments as a JSON-safe dict, so ``from_config`` can rebuild the
        layer (without its weights). Subclasses extend ``super().get_config()``."""
        config: dict[str, Any] = {"name": self.name, "trainable": self.trainable}
        for key in self._weight_options:
            module = regularizers if key.endswith("_regularizer") else constraints
            config[key] = module.serialize(getattr(self, key))
        if self.activity_regularizer is not None or "activity_regularizer" in self._signature():
            config["activity_regularizer"] = regularizers.serialize(self.activity_regularizer)
        if self._config_keys or type(self).get_config is not Layer.get_config:
            return config | {key: getattr(self, key) for key in self._config_keys}
        # A user subclass without its own get_config: use the remembered constructor arguments.
        arguments = self._init_arguments
        if arguments is not None:
            arguments = {k: v for k, v in arguments.items() if k not in config}
        if arguments is None or not _is_json_safe(arguments):
            raise NotImplementedError(
                f"{self._where}: cannot save the constructor arguments of "
                f"{type(self).__name__} automatically (they are not plain JSON values). "
                f"Implement get_config() returning them."
            )
        config.update(arguments)
        return config

    @classmethod
    def _signature(cls) -> Any:
        return inspect.signature(cls.__init__).parameters

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Layer:
        """A new, unbuilt layer from ``get_config()``'s output.

        ``name``, ``trainable`` and ``activity_regularizer`` are set after construction when
        ``__init__`` does not take them, so a user layer with a short signature still loads.
        """
        config = dict(config)
        params = cls._signature()
        open_kwargs = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
        later = {
            key: config.pop(key)
            for key in ("name", "trainable", "activity_regularizer")
            if key in config and key not in params and not open_kwargs
        }
        layer = cls(**config)
        if "name" in later:
            layer.name = _check_name(layer, later["name"])
        if "trainable" in later:
            layer.trainable = later["trainable"]
        if "activity_regularizer" in later:
            layer.activity_regularizer = later["activity_regularizer"]
        return layer

    def extra_repr(self) -> str:
        """The text inside ``Dense(...)`` when printed: arguments that differ from the defaults,
        then the name. Override it to show something else."""
        try:
            config = self.get_config()
        except NotImplementedError:
            config = {}
        defaults = inspect.signature(type(self).__init__).parameters
        parts = []
        for key, value in config.items():
            if key in ("name", "trainable"):
                continue
            param = defaults.get(key)
            if param is not None and _same_as_default(value, param.default):
                continue
            parts.append(f"{key}={value!r}")
        if not self.trainable:
            parts.append("trainable=False")
        parts.append(f"name={self.name!r}")
        return ", ".join(parts)

    def __repr__(self) -> str:
        children = list(self.named_children())
        if not children:
            return f"{type(self).__name__}({self.extra_repr()})"
        lines = [line for line in self.extra_repr().split("\n") if line]
        lines += [f"({key}): " + repr(child).replace("\n", "\n  ") for key, child in children]
        return f"{type(self).__name__}(\n  " + "\n  ".join(lines) + "\n)"


def regularization_loss(layer: Layer, weights: bool = True, activity: bool = True) -> Tensor | None:
    """The sum of ``layer.losses`` as one scalar Tensor, or None where there are none: what
    ``fit`` adds to the loss of each batch, once for the whole batch. ``weights`` and
    ``activity`` choose the weights' penalties and the outputs' (from the latest call)."""
    penalties = layer._penalties(weights, activity)
    if not penalties:
        return None
    total = penalties[0]
    for penalty in penalties[1:]:
        total = total + penalty
    return total


# ------------------------------------------------------------------ helpers
def _recording_build(build: Callable[..., None]) -> Callable[..., None]:
    @functools.wraps(build)
    def wrapper(self: Layer, input_shape: Any, *args: Any, **kwargs: Any) -> None:
        shape = self._check_input_shape(input_shape)
        build(self, shape, *args, **kwargs)
        if self._multi_input:
            self.input_shape = [_batch_none(s) for s in shape]
        else:
            self.input_shape = _batch_none(shape)
        self.built = True

    wrapper._records_build = True  # type: ignore[attr-defined]
    return wrapper


Layer.build = _recording_build(Layer.build)  # type: ignore[method-assign]


@functools.lru_cache(maxsize=1024)
def snake_case(name: str) -> str:
    """Keras's to_snake_case: "Conv2D" -> "conv2d", "BatchNormalization" ->
    "batch_normalization", "ReLU" -> "re_lu"."""
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    name = re.sub("([a-z])([A-Z])", r"\1_\2", name)
    return name.lower()


def _auto_name(cls: type) -> str:
    prefix = snake_case(cls.__name__)
    count = _NAME_COUNTS.get(prefix, 0)
    _NAME_COUNTS[prefix] = count + 1
    return prefix if count == 0 else f"{prefix}_{count}"


def _check_name(layer: Layer, name: Any) -> str:
    if not isinstance(name, str) or not name or "." in name or "/" in name:
        raise ValueError(
            f"{type(layer).__name__}: 'name' must be a non-empty string without '.' or '/' "
            f"(they separate state-dict keys). Received: name={name!r}"
        )
    # A name given by hand (or loaded from a saved model) is never handed out again by the
    # automatic naming: after loading "dense" and "dense_1", a new Dense() is "dense_2".
    match = re.fullmatch(r"(.+?)(?:_(\d+))?", name)
    prefix, number = match.group(1), int(match.group(2) or 0)
    _NAME_COUNTS[prefix] = max(_NAME_COUNTS.get(prefix, 0), number + 1)
    return name


def _bind_arguments(cls: type, self: Any, args: tuple, kwargs: dict) -> dict[str, Any] | None:
    """The arguments a constructor was called with, by parameter name (None if not bindable)."""
    try:
        bound = inspect.signature(cls.__init__).bind(self, *args, **kwargs)
    except TypeError:
        return None
    arguments: dict[str, Any] = {}
    for name, value in list(bound.arguments.items())[1:]:
        kind = inspect.signature(cls.__init__).parameters[name].kind
        if kind is inspect.Parameter.VAR_KEYWORD:
            arguments.update(value)
        elif kind is inspect.Parameter.VAR_POSITIONAL:
            if value:
                return None
        else:
            arguments[name] = value
    return arguments


def _is_json_safe(value: Any) -> bool:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return False
    return True


def _same_as_default(value: Any, default: Any) -> bool:
    if default is inspect.Parameter.empty:
        return False
    if default is None and value == "linear":  # activation=None is saved as "linear" (Keras)
        return True
    try:
        return bool(value == default)
    except (TypeError, ValueError):
        return False


def _holds_layers(value: Any) -> bool:
    """A layer, or a list/tuple/dict holding one (an empty list or dict may be filled later)."""
    if isinstance(value, Layer):
        return True
    if isinstance(value, (list, dict)) and not value:
        return True
    if isinstance(value, dict):
        return any(isinstance(v, Layer) for v in value.values())
    return isinstance(value, (list, tuple)) and any(isinstance(v, Layer) for v in value)


def _as_shape(layer: Layer, shape: Any) -> Shape:
    """``shape`` as a tuple of non-negative ints or None, or a clear error."""
    if is_int(shape):
        shape = (shape,)
    if not isinstance(shape, (tuple, list)) or not all(
        d is None or (is_int(d) and d >= 0) for d in shape
    ):
        raise ValueError(
            f"{layer._where}: a shape must be a tuple of non-negative integers or None (for an "
            f"unknown size such as the batch). Received: {shape!r}"
        )
    return tuple(None if d is None else int(d) for d in shape)


def _batch_none(shape: Shape) -> Shape:
    return (None, *shape[1:]) if shape else shape


def _pass_mask_on(inputs: Any, out: Any) -> None:
    """Give ``out`` the first input's ``_keras_mask`` unless the layer set one itself."""
    if not isinstance(out, Tensor) or out._keras_mask is not None:
        return
    for x in inputs if isinstance(inputs, list) else [inputs]:
        if isinstance(x, Tensor) and x._keras_mask is not None:
            if tuple(x._keras_mask.shape) == tuple(out.shape[: x._keras_mask.ndim]):
                out._keras_mask = x._keras_mask
            return


def _set_masks(layer: Layer, x: Any, out: Any) -> None:
    """Put ``layer.compute_mask``'s result on the output(s), unless ``call`` set masks."""
    outs = out if isinstance(out, (list, tuple)) else [out]
    if any(isinstance(o, Tensor) and o._keras_mask is not None for o in outs):
        return
    masks_in = [getattr(t, "_keras_mask", None) for t in (x if layer._multi_input else [x])]
    mask = layer.compute_mask(x, masks_in if layer._multi_input else masks_in[0])
    masks = mask if isinstance(out, (list, tuple)) and isinstance(mask, (list, tuple)) else [mask]
    for o, m in zip(outs, masks, strict=False):
        if isinstance(o, Tensor) and m is not None:
            o._keras_mask = m if isinstance(m, Tensor) else Tensor(np.asarray(m, dtype=bool))


def _takes_a_structure(layer: Layer, inputs: Any) -> bool:
    """Whether a layer written outside glassnet is called with a list or tuple of tensors
    (Keras's ``Sampling()((z_mean, z_log_var))``): its ``call`` then gets them as a list.
    glassnet's own layers say so themselves (``_multi_input``)."""
    return (
        not type(layer).__module__.startswith("glassnet.")
        and isinstance(inputs, (list, tuple))
        and len(inputs) > 0
        and all(isinstance(item, (Tensor, np.ndarray, KerasTensor)) for item in inputs)
    )


def _to_tensor(layer: Layer, value: Any) -> Tensor:
    """Tensors pass through (keeping float64 for gradient checks); anything else becomes a
    float32 Tensor, so uint8 images and Python lists just work."""
    if isinstance(value, Tensor):
        return value
    try:
        return Tensor(as_array(value, default_float))
    except (TypeError, ValueError) as error:
        raise TypeError(
            f"{layer._where}: expected a Tensor or an array of numbers. Received "
            f"{type(value).__name__} ({error})."
        ) from None


def _as_numpy(value: Any) -> np.ndarray:
    return value.numpy() if isinstance(value, Tensor) else np.asarray(value)


def _copy_into(weight: Tensor, array: np.ndarray) -> None:
    """Overwrite a weight's values in place (same array object, so optimizers keep tracking)."""
    weight.data[...] = get_array_module(weight.data).asarray(array, dtype=weight.dtype)
