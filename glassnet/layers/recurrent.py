"""Recurrent layers (``SimpleRNN``, ``LSTM``, ``GRU``), ``Bidirectional``, ``TimeDistributed``
and ``Embedding``, with Keras's names, arguments, weight layouts and parameter counts.

A recurrent layer reads a sequence ``(batch, time, features)`` one step at a time, carrying a
state from step to step. It computes every step's input projection ``x·W + b`` in one matrix
product, then runs the loop in a fused op (``glassnet/ops/recurrent.py``, where each cell's
gate maths is written out in ``lstm_step`` & co.) whose backward pass is backpropagation
through time.

Weights (Keras's layout, gates side by side on the last axis):

=========  ===================  =======================  ==================================
layer      kernel               recurrent_kernel         bias
=========  ===================  =======================  ==================================
SimpleRNN  (in, units)          (units, units)           (units,)
LSTM       (in, 4·units) i,f,c,o (units, 4·units)        (4·units,)
GRU        (in, 3·units) z,r,h  (units, 3·units)         (2, 3·units): input and recurrent
                                                         ((3·units,) with reset_after=False)
=========  ===================  =======================  ==================================
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from glassnet import initializers, ops
from glassnet.backend import default_float, get_array_module
from glassnet.checks import check_bool, check_positive_int
from glassnet.layers.layer import InputSpec, Layer, Shape
from glassnet.layers.node import KerasTensor, call_symbolic, is_symbolic
from glassnet.layers.serialization import deserialize, serialize
from glassnet.ops.recurrent import RECURRENT_ACTIVATIONS
from glassnet.tensor import Tensor

__all__ = ["GRU", "LSTM", "Bidirectional", "Embedding", "SimpleRNN", "TimeDistributed"]

_EVERY_STEP = slice(None)
_REVERSE_TIME = (slice(None), slice(None, None, -1))


def _check_activation(where: str, arg: str, value: Any) -> str:
    name = "linear" if value is None else value
    if not isinstance(name, str) or name.lower() not in RECURRENT_ACTIVATIONS:
        raise ValueError(
            f"{where}: '{arg}' must be one of {', '.join(RECURRENT_ACTIVATIONS)} or None. "
            f"Received: {arg}={value!r}"
        )
    return name.lower()


class _RNN(Layer):
    """What SimpleRNN, LSTM and GRU share: arguments, states, output shapes and config.

    Subclasses set ``_gates`` (weights per unit: 1, 4, 3) and ``_num_states`` and write
    ``build`` and ``_run(x, states) -> (sequence, final_states)``.
    """

    _gates: ClassVar[int] = 1
    _num_states: ClassVar[int] = 1
    #: The states handed to one call (``initial_state=``) are that call's input, not config.
    run_state = Layer.run_state | {"_initial_state", "_mask"}

    def __init__(
        self,
        units: int,
        activation: Any = "tanh",
        use_bias: bool = True,
        kernel_initializer: Any = "glorot_uniform",
        recurrent_initializer: Any = "orthogonal",
        bias_initializer: Any = "zeros",
        kernel_regularizer: Any = None,
        recurrent_regularizer: Any = None,
        bias_regularizer: Any = None,
        activity_regularizer: Any = None,
        kernel_constraint: Any = None,
        recurrent_constraint: Any = None,
        bias_constraint: Any = None,
        return_sequences: bool = False,
        return_state: bool = False,
        go_backwards: bool = False,
        *,
        name: str | None = None,
        trainable: bool = True,
    ) -> None:
        super().__init__(name=name, trainable=trainable, activity_regularizer=activity_regularizer)
        where = type(self).__name__
        self.units = check_positive_int(where, "units", units)
        self.activation = _check_activation(where, "activation", activation)
        self.use_bias = check_bool(where, "use_bias", use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.recurrent_initializer = initializers.get(recurrent_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self._keep_weight_options(
            kernel_regularizer=kernel_regularizer,
            recurrent_regularizer=recurrent_regularizer,
            bias_regularizer=bias_regularizer,
            kernel_constraint=kernel_constraint,
            recurrent_constraint=recurrent_constraint,
            bias_constraint=bias_constraint,
        )
        self.return_sequences = check_bool(where, "return_sequences", return_sequences)
        self.return_state = check_bool(where, "return_state", return_state)
        self.go_backwards = check_bool(where, "go_backwards", go_backwards)
        self.input_spec = InputSpec(ndim=3, layout="(batch, time, features)")
        self._initial_state: tuple[Tensor, ...] | None = None
        self._mask: Any = None

    # ---------------------------------------------------------------- weights
    def _build_weights(self, input_shape: Shape, bias_shape: tuple[int, ...], bias_init: Any):
        features = input_shape[-1]
        if features is None:
            raise ValueError(
                f"{self._where}: the last input axis (features) must be known to create the "
                f"kernel. Received input shape {input_shape}."
            )
        k = self._gates * self.units
        self.kernel = self.add_weight(
            "kernel",
            (features, k),
            self.kernel_initializer,
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
        )
        self.recurrent_kernel = self.add_weight(
            "recurrent_kernel",
            (self.units, k),
            self.recurrent_initializer,
            regularizer=self.recurrent_regularizer,
            constraint=self.recurrent_constraint,
        )
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight(
                "bias",
                bias_shape,
                bias_init,
                regularizer=self.bias_regularizer,
                constraint=self.bias_constraint,
            )
        self.input_spec = InputSpec(ndim=3, axes={-1: features}, layout="(batch, time, features)")

    def build(self, input_shape: Shape) -> None:
        self._build_weights(input_shape, (self._gates * self.units,), self.bias_initializer)

    # ---------------------------------------------------------------- the forward pass
    def __call__(
        self,
        inputs: Any,
        training: bool | None = None,
        *,
        initial_state: Any = None,
        mask: Any = None,
    ) -> Any:
        """Run the layer on ``inputs`` (batch, time, features), starting from ``initial_state``
        (a list of ``(batch, units)`` states: ``[h]``, or ``[h, c]`` for LSTM; zeros if None).

        ``mask`` (batch, time), True at real steps, or else the mask the input carries
        (``Embedding(mask_zero=True)``'s): a masked step keeps the state, so padding changes
        nothing (Keras's recurrent layers). With ``return_sequences`` the output carries it on.
        """
        if is_symbolic([inputs, initial_state, mask]):  # a functional graph: record the call
            kwargs = {"initial_state": initial_state}
            return call_symbolic(self, inputs, kwargs if mask is None else {**kwargs, "mask": mask})
        self._initial_state = self._states_from(initial_state)
        self._mask = mask if mask is not None else getattr(inputs, "_keras_mask", None)
        try:
            out = super().__call__(inputs, training=training)
        finally:
            self._initial_state, self._mask = None, None
        return out

    def _states_from(self, initial_state: Any) -> tuple[Tensor, ...] | None:
        if initial_state is None:
            return None
        if isinstance(initial_state, (Tensor, np.ndarray)):
            initial_state = [initial_state]
        states = list(initial_state)
        if len(states) != self._num_states:
            raise ValueError(
                f"{self._where}: expected {self._num_states} initial state(s) "
                f"({'[h, c]' if self._num_states == 2 else '[h]'}), received {len(states)}."
            )
        return tuple(
            s if isinstance(s, Tensor) else Tensor(np.asarray(s, default_float)) for s in states
        )

    def call(self, x: Tensor, training: bool = False) -> Any:
        mask = self._mask
        if mask is not None and not isinstance(mask, Tensor):
            mask = Tensor(np.asarray(mask, dtype=bool))
        if self.go_backwards:
            x = ops.getitem(x, _REVERSE_TIME)  # Keras returns the outputs in reversed order too
            mask = None if mask is None else ops.getitem(mask, _REVERSE_TIME[:2])
        states = self._initial_state or (None,) * self._num_states
        for state in states:
            if state is not None and tuple(state.shape) != (x.shape[0], self.units):
                raise ValueError(
                    f"{self._where}: an initial state must have shape (batch, units) = "
                    f"{(x.shape[0], self.units)}. Received {tuple(state.shape)}."
                )
        sequence, final_states = self._run(x, states, mask)
        output = sequence if self.return_sequences else ops.getitem(sequence, (_EVERY_STEP, -1))
        if self.return_sequences and mask is not None:
            output._keras_mask = mask  # the steps stay where they were: so does the padding
        return [output, *final_states] if self.return_state else output

    def _run(self, x: Tensor, states: tuple, mask: Any) -> tuple[Tensor, list[Tensor]]:
        raise NotImplementedError

    def compute_output_shape(self, input_shape: Shape) -> Any:
        batch, steps, _ = self._check_input_shape(input_shape)
        output = (batch, steps, self.units) if self.return_sequences else (batch, self.units)
        if self.return_state:
            return [output] + [(batch, self.units)] * self._num_states
        return output

    # ---------------------------------------------------------------- description
    def summary_formula(self) -> str:
        """The parameter count written out, with Keras's formula."""
        u, i = self.units, self.kernel.shape[0]
        per_gate = f"{u}·({u} + {i})"
        bias = f" + {self._bias_per_gate()}" if self.use_bias else ""
        if self._gates == 1:
            return f"{per_gate}{bias}"
        return f"{self._gates}·({per_gate}{bias})"

    def summary_macs(self, input_shape: Any) -> int:
        """Multiply-accumulates for one sample: at each of the T steps, every gate multiplies
        the input by its kernel and the previous state by its recurrent kernel."""
        steps = input_shape[1] or 1
        u, i = self.units, self.kernel.shape[0]
        return steps * self._gates * u * (i + u)

    def _bias_per_gate(self) -> str:
        return f"{self.units}"

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(
            {
                "units": self.units,
                "activation": self.activation,
                "use_bias": self.use_bias,
                "kernel_initializer": initializers.serialize(self.kernel_initializer),
                "recurrent_initializer": initializers.serialize(self.recurrent_initializer),
                "bias_initializer": initializers.serialize(self.bias_initializer),
                "return_sequences": self.return_sequences,
                "return_state": self.return_state,
                "go_backwards": self.go_backwards,
            }
        )
        return config


class SimpleRNN(_RNN):
    """A fully connected recurrent layer: ``h_t = activation(x_t·kernel + h_{t−1}·U + bias)``.

    Args:
        units: size of the state (and of the output).
        activation: "tanh" (default), "sigmoid", "relu" or None.
        use_bias, kernel_initializer, recurrent_initializer, bias_initializer: as Keras.
        kernel_regularizer, recurrent_regularizer, bias_regularizer: penalties on the weights
            added to the training loss (see ``regularizers``); activity_regularizer: one on the
            outputs.
        kernel_constraint, recurrent_constraint, bias_constraint: projections applied after
            each update (see ``constraints``).
        return_sequences: output every step's state (batch, time, units), not only the last.
        return_state: also return the final state: ``[output, h]``.
        go_backwards: read the sequence from its end (outputs come in reversed order).

    Call it as ``layer(x)`` or ``layer(x, initial_state=[h0])``.

    Shape:
        Input ``(batch, time, features)``. Output ``(batch, units)``, or
        ``(batch, time, units)`` with ``return_sequences``.
    """

    def _run(self, x: Tensor, states: tuple, mask: Any) -> tuple[Tensor, list[Tensor]]:
        sequence = ops.simple_rnn(
            x, self.kernel, self.recurrent_kernel, self.bias, states[0], self.activation, mask
        )
        return sequence, [ops.getitem(sequence, (_EVERY_STEP, -1))]


class LSTM(_RNN):
    """Long short-term memory: a cell state ``c`` that gates write to, keep and show, so that
    gradients can travel far back in time (Hochreiter & Schmidhuber, 1997).

    The gate maths is written out in ``glassnet.ops.recurrent.lstm_step``.

    Args:
        units, activation, use_bias, initializers, regularizers, constraints,
            return_sequences, return_state, go_backwards: as ``SimpleRNN``.
        recurrent_activation: the gates' activation, "sigmoid" by default.
        unit_forget_bias: start the forget gate's bias at 1, so the cell remembers at first
            (Jozefowicz et al., 2015; Keras's default).

    Call it as ``layer(x)`` or ``layer(x, initial_state=[h0, c0])``; with ``return_state`` it
    returns ``[output, h, c]``.

    Shape:
        Input ``(batch, time, features)``. Output ``(batch, units)``, or
        ``(batch, time, units)`` with ``return_sequences``. Parameters 4·(units·(units + in) +
        units).

    Example:
        >>> lstm = LSTM(32, return_sequences=True)
        >>> lstm(np.zeros((8, 20, 5))).shape
        (8, 20, 32)
    """

    _gates = 4
    _num_states = 2
    _config_keys = ("recurrent_activation", "unit_forget_bias")

    def __init__(
        self,
        units: int,
        activation: Any = "tanh",
        recurrent_activation: Any = "sigmoid",
        use_bias: bool = True,
        kernel_initializer: Any = "glorot_uniform",
        recurrent_initializer: Any = "orthogonal",
        bias_initializer: Any = "zeros",
        unit_forget_bias: bool = True,
        kernel_regularizer: Any = None,
        recurrent_regularizer: Any = None,
        bias_regularizer: Any = None,
        activity_regularizer: Any = None,
        kernel_constraint: Any = None,
        recurrent_constraint: Any = None,
        bias_constraint: Any = None,
        return_sequences: bool = False,
        return_state: bool = False,
        go_backwards: bool = False,
        *,
        name: str | None = None,
        trainable: bool = True,
    ) -> None:
        super().__init__(
            units,
            activation,
            use_bias,
            kernel_initializer,
            recurrent_initializer,
            bias_initializer,
            kernel_regularizer,
            recurrent_regularizer,
            bias_regularizer,
            activity_regularizer,
            kernel_constraint,
            recurrent_constraint,
            bias_constraint,
            return_sequences,
            return_state,
            go_backwards,
            name=name,
            trainable=trainable,
        )
        self.recurrent_activation = _check_activation(
            "LSTM", "recurrent_activation", recurrent_activation
        )
        self.unit_forget_bias = check_bool("LSTM", "unit_forget_bias", unit_forget_bias)

    def build(self, input_shape: Shape) -> None:
        u, init = self.units, self.bias_initializer

        def bias_init(shape: tuple[int, ...], dtype: Any = default_float) -> np.ndarray:
            bias = np.asarray(init(shape, dtype=dtype), dtype=dtype)
            if self.unit_forget_bias:  # Keras: [init(u), ones(u), init(2u)] for i, f, c, o
                bias[u : 2 * u] = 1
            return bias

        self._build_weights(input_shape, (4 * u,), bias_init)

    def _run(self, x: Tensor, states: tuple, mask: Any) -> tuple[Tensor, list[Tensor]]:
        h_seq, c_seq = ops.lstm(
            x,
            self.kernel,
            self.recurrent_kernel,
            self.bias,
            states[0],
            states[1],
            self.activation,
            self.recurrent_activation,
            mask,
        )
        last = (_EVERY_STEP, -1)
        finals = [ops.getitem(h_seq, last), ops.getitem(c_seq, last)] if self.return_state else []
        return h_seq, finals


class GRU(_RNN):
    """Gated recurrent unit: an update gate mixes the old state with a candidate, a reset gate
    decides how much of the old state the candidate sees (Cho et al., 2014).

    With ``reset_after=True`` (Keras 3's default, as cuDNN and PyTorch) the reset gate
    multiplies ``h·U_h + b`` after the product, which needs a second bias row; with
    ``reset_after=False`` (Keras 2's GRU, the original paper's) it scales the old state before
    the product, ``(r·h)·U_h``, and there is one bias row. The gate maths is written out in
    ``glassnet.ops.recurrent.gru_step`` and ``gru_step_reset_before``.

    Args:
        as ``LSTM`` (without ``unit_forget_bias``), plus ``reset_after``.

    Shape:
        Input ``(batch, time, features)``. Output ``(batch, units)``, or
        ``(batch, time, units)`` with ``return_sequences``. Weights kernel (in, 3·units),
        recurrent_kernel (units, 3·units), bias (2, 3·units) (reset_after=False: (3·units,)).
        Parameters 3·(units·(units + in) + 2·units) (reset_after=False:
        3·(units·(units + in) + units)).
    """

    _gates = 3
    _config_keys = ("recurrent_activation", "reset_after")

    def __init__(
        self,
        units: int,
        activation: Any = "tanh",
        recurrent_activation: Any = "sigmoid",
        use_bias: bool = True,
        kernel_initializer: Any = "glorot_uniform",
        recurrent_initializer: Any = "orthogonal",
        bias_initializer: Any = "zeros",
        kernel_regularizer: Any = None,
        recurrent_regularizer: Any = None,
        bias_regularizer: Any = None,
        activity_regularizer: Any = None,
        kernel_constraint: Any = None,
        recurrent_constraint: Any = None,
        bias_constraint: Any = None,
        return_sequences: bool = False,
        return_state: bool = False,
        go_backwards: bool = False,
        reset_after: bool = True,
        *,
        name: str | None = None,
        trainable: bool = True,
    ) -> None:
        super().__init__(
            units,
            activation,
            use_bias,
            kernel_initializer,
            recurrent_initializer,
            bias_initializer,
            kernel_regularizer,
            recurrent_regularizer,
            bias_regularizer,
            activity_regularizer,
            kernel_constraint,
            recurrent_constraint,
            bias_constraint,
            return_sequences,
            return_state,
            go_backwards,
            name=name,
            trainable=trainable,
        )
        self.recurrent_activation = _check_activation(
            "GRU", "recurrent_activation", recurrent_activation
        )
        self.reset_after = check_bool("GRU", "reset_after", reset_after)

    def build(self, input_shape: Shape) -> None:
        u3 = 3 * self.units
        self._build_weights(
            input_shape, (2, u3) if self.reset_after else (u3,), self.bias_initializer
        )

    def _run(self, x: Tensor, states: tuple, mask: Any) -> tuple[Tensor, list[Tensor]]:
        sequence = ops.gru(
            x,
            self.kernel,
            self.recurrent_kernel,
            self.bias,
            states[0],
            self.activation,
            self.recurrent_activation,
            self.reset_after,
            mask,
        )
        return sequence, [ops.getitem(sequence, (_EVERY_STEP, -1))]

    def _bias_per_gate(self) -> str:
        return f"2·{self.units}" if self.reset_after else f"{self.units}"


_MERGE_MODES = ("concat", "sum", "mul", "ave")


class Bidirectional(Layer):
    """Runs a recurrent layer over the sequence forwards and a copy of it backwards, and merges
    the two outputs, so every step's output sees both its past and its future.

    Like Keras 3, ``layer`` is a template: the wrapper creates ``forward_layer`` and
    ``backward_layer`` (``go_backwards`` flipped) from its config. With ``return_sequences`` the
    backward outputs are put back in time order before merging.

    Args:
        layer: a ``SimpleRNN``, ``LSTM`` or ``GRU``.
        merge_mode: "concat" (default), "sum", "mul" or "ave".

    Call it as ``layer(x)`` or ``layer(x, initial_state=[*forward_states, *backward_states])``
    (``[h_f, h_b]``, or ``[h_f, c_f, h_b, c_b]`` for LSTM). With ``return_state`` on the
    wrapped layer it returns, as Keras, ``[output, *forward_states, *backward_states]``: the
    final states of each direction (the backward one's after reading the first step).

    Shape:
        Output as the wrapped layer's, with 2·units features for "concat".
    """

    run_state = Layer.run_state | {"_initial_state"}  # one call's states, as in _RNN

    def __init__(
        self,
        layer: _RNN,
        merge_mode: str = "concat",
        *,
        name: str | None = None,
        trainable: bool = True,
    ) -> None:
        super().__init__(name=name, trainable=trainable)
        if not isinstance(layer, _RNN):
            raise TypeError(
                f"Bidirectional: 'layer' must be a SimpleRNN, LSTM or GRU. Received: "
                f"{type(layer).__name__}"
            )
        if merge_mode not in _MERGE_MODES:
            raise ValueError(
                f"Bidirectional: 'merge_mode' must be one of {', '.join(_MERGE_MODES)}. "
                f"Received: merge_mode={merge_mode!r}"
            )
        self.merge_mode = merge_mode
        self.layer_config = serialize(layer)
        forward = dict(self.layer_config["config"], name=f"forward_{layer.name}")
        backward = dict(forward, name=f"backward_{layer.name}", go_backwards=not layer.go_backwards)
        cls = self.layer_config["class_name"]
        self.forward_layer = deserialize({"class_name": cls, "config": forward})
        self.backward_layer = deserialize({"class_name": cls, "config": backward})
        self.return_sequences = layer.return_sequences
        self.return_state = layer.return_state
        self._initial_state: tuple[Any, Any] | None = None

    def build(self, input_shape: Shape) -> None:
        self.forward_layer.build(input_shape)
        self.backward_layer.build(input_shape)

    def __call__(
        self, inputs: Any, training: bool | None = None, *, initial_state: Any = None
    ) -> Any:
        """Run both directions on ``inputs``; ``initial_state`` is the forward layer's states
        followed by the backward layer's (zeros if None)."""
        if is_symbolic([inputs, initial_state]):  # a functional graph: record the call
            return call_symbolic(self, inputs, {"initial_state": initial_state})
        if initial_state is not None:
            if isinstance(initial_state, (Tensor, np.ndarray)):
                initial_state = [initial_state]
            states = list(initial_state)
            n = self.forward_layer._num_states
            if len(states) != 2 * n:
                raise ValueError(
                    f"{self._where}: expected {2 * n} initial states (the forward layer's "
                    f"{n}, then the backward layer's {n}), received {len(states)}."
                )
            self._initial_state = (states[:n], states[n:])
        try:
            return super().__call__(inputs, training=training)
        finally:
            self._initial_state = None

    def call(self, x: Tensor, training: bool = False) -> Any:
        fwd_init, bwd_init = self._initial_state or (None, None)
        y_fwd = self.forward_layer(x, training=training, initial_state=fwd_init)
        y_bwd = self.backward_layer(x, training=training, initial_state=bwd_init)
        states: list[Tensor] = []
        if self.return_state:
            (y_fwd, *fwd_states), (y_bwd, *bwd_states) = y_fwd, y_bwd
            states = [*fwd_states, *bwd_states]
        if self.return_sequences:
            y_bwd = ops.getitem(y_bwd, _REVERSE_TIME)
        if self.merge_mode == "concat":
            y = ops.concat([y_fwd, y_bwd], axis=-1)
        elif self.merge_mode == "sum":
            y = y_fwd + y_bwd
        elif self.merge_mode == "mul":
            y = y_fwd * y_bwd
        else:
            y = (y_fwd + y_bwd) * 0.5
        return [y, *states] if self.return_state else y

    def compute_output_shape(self, input_shape: Shape) -> Any:
        shape = self.forward_layer.compute_output_shape(input_shape)
        states: list[Any] = []
        if self.return_state:
            shape, *states = shape
        shape = tuple(shape)
        if self.merge_mode == "concat":
            shape = (*shape[:-1], 2 * shape[-1])
        return [shape, *states, *states] if self.return_state else shape

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update({"layer": self.layer_config, "merge_mode": self.merge_mode})
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Bidirectional:
        config = dict(config)
        config["layer"] = deserialize(config["layer"])
        return cls(**config)


class TimeDistributed(Layer):
    """Applies the same layer to every time step: ``(batch, time, ...)`` is folded to
    ``(batch·time, ...)``, run through ``layer`` once, and unfolded.

    Args:
        layer: any layer that takes ``(batch, ...)``, e.g. ``Dense``.

    Shape:
        Input ``(batch, time, ...)``. Output ``(batch, time, *layer's output[1:])``.
    """

    def __init__(self, layer: Layer, *, name: str | None = None, trainable: bool = True) -> None:
        super().__init__(name=name, trainable=trainable)
        if not isinstance(layer, Layer):
            raise TypeError(
                f"TimeDistributed: 'layer' must be a Layer. Received: {type(layer).__name__}"
            )
        self.layer = layer
        self.input_spec = InputSpec(min_ndim=3, layout="(batch, time, ...)")

    def build(self, input_shape: Shape) -> None:
        if not self.layer.built:
            self.layer.build((None, *input_shape[2:]))

    def call(self, x: Tensor, training: bool = False) -> Tensor:
        batch, steps = x.shape[:2]
        y = self.layer(ops.reshape(x, (batch * steps, *x.shape[2:])), training=training)
        return ops.reshape(y, (batch, steps, *y.shape[1:]))

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        shape = self._check_input_shape(input_shape)
        inner = self.layer.compute_output_shape((None, *shape[2:]))
        return (shape[0], shape[1], *inner[1:])

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config["layer"] = serialize(self.layer)
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> TimeDistributed:
        config = dict(config)
        config["layer"] = deserialize(config["layer"])
        return cls(**config)


class Embedding(Layer):
    """Turns integer tokens into learned vectors: row ``i`` of the table is token ``i``'s vector.

    Looking up a row is the same as multiplying a one-hot vector by the table, so the gradient
    of each row is the sum of the gradients of every position where that token appeared (a
    scatter-add, done by ``getitem``'s backward with ``np.add.at``).

    Integer arrays stay integers (the layer does not turn them into float32, unlike other
    layers); float inputs, as ``fit``/``predict`` pass them, must hold whole numbers.

    Args:
        input_dim: vocabulary size; tokens are 0 … input_dim − 1.
        output_dim: length of each vector.
        embeddings_initializer: how the table starts (Keras: uniform in [−0.05, 0.05]).
        embeddings_regularizer: a penalty on the table added to the training loss (see
            ``regularizers``); activity_regularizer: one on the outputs.
        embeddings_constraint: a projection applied after each update (see ``constraints``).
        mask_zero: id 0 is padding: the output carries a mask, True at every other id
            (``compute_mask``), which the recurrent layers (a masked step keeps the state),
            ``MultiHeadAttention``, ``Attention``, ``AdditiveAttention`` and
            ``GlobalAveragePooling1D`` honour and the layers with
            ``supports_masking`` (Dense, Dropout, Activation, LayerNormalization, the merges)
            pass on. Token 0 then means nothing but padding.

    Shape:
        Input ``(batch, ...)`` of token ids. Output ``(batch, ..., output_dim)``.
        Weight ``embeddings (input_dim, output_dim)``.
    """

    trains_in_shares = True  # see Layer.trains_in_shares

    def __init__(
        self,
        input_dim: int,
        output_dim: int,
        embeddings_initializer: Any = "random_uniform",
        embeddings_regularizer: Any = None,
        embeddings_constraint: Any = None,
        activity_regularizer: Any = None,
        mask_zero: bool = False,
        *,
        name: str | None = None,
        trainable: bool = True,
    ) -> None:
        super().__init__(name=name, trainable=trainable, activity_regularizer=activity_regularizer)
        self.mask_zero = check_bool("Embedding", "mask_zero", mask_zero)
        self.input_dim = check_positive_int("Embedding", "input_dim", input_dim)
        self.output_dim = check_positive_int("Embedding", "output_dim", output_dim)
        self.embeddings_initializer = initializers.get(embeddings_initializer)
        self._keep_weight_options(
            embeddings_regularizer=embeddings_regularizer,
            embeddings_constraint=embeddings_constraint,
        )
        self.input_spec = InputSpec(min_ndim=1)

    def __call__(self, inputs: Any, training: bool | None = None) -> Any:
        if not isinstance(inputs, (Tensor, KerasTensor)):
            array = np.asarray(inputs)
            if array.dtype.kind in "iu":  # keep token ids exact; the base would make float32
                inputs = Tensor(array)
        return super().__call__(inputs, training=training)

    def build(self, input_shape: Shape) -> None:
        self.embeddings = self.add_weight(
            "embeddings",
            (self.input_dim, self.output_dim),
            self.embeddings_initializer,
            regularizer=self.embeddings_regularizer,
            constraint=self.embeddings_constraint,
        )

    def call(self, x: Tensor, training: bool = False) -> Tensor:
        ids = x.data
        xp = get_array_module(ids)
        if ids.dtype.kind == "f":
            if ids.size and bool(xp.any(ids != xp.round(ids))):
                raise ValueError(
                    f"{self._where}: token ids must be whole numbers. Received a float input "
                    f"with fractional values. Pass integer token ids."
                )
        elif ids.dtype.kind not in "iu":
            raise TypeError(
                f"{self._where}: expected integer token ids. Received dtype {ids.dtype}."
            )
        if ids.size and (int(ids.min()) < 0 or int(ids.max()) >= self.input_dim):
            bad = int(ids.min()) if int(ids.min()) < 0 else int(ids.max())
            raise ValueError(
                f"{self._where}: token id {bad} is out of range: expected 0 <= id < "
                f"input_dim={self.input_dim}. Enlarge input_dim or fix the tokenizer."
            )
        # The ids go into the op as an input, so a replayed step looks up each batch's own.
        out = ops.embedding_lookup(self.embeddings, x)
        out._keras_mask = self.compute_mask(x)
        return out

    def compute_mask(self, inputs: Any, mask: Any = None) -> Tensor | None:
        """With ``mask_zero``, True where the token id is not 0 (an op on the ids, so a
        replayed step computes it from each batch), else None. Shape: the ids'."""
        if not self.mask_zero:
            return None
        return ops.token_mask(inputs if isinstance(inputs, Tensor) else Tensor(inputs), pad=0)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        shape = self._check_input_shape(input_shape)
        return (*shape, self.output_dim)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(
            {
                "input_dim": self.input_dim,
                "output_dim": self.output_dim,
                "embeddings_initializer": initializers.serialize(self.embeddings_initializer),
                "mask_zero": self.mask_zero,
            }
        )
        return config
