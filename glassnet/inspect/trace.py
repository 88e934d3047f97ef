"""Trace one neuron's arithmetic for one real input, written the way the texts write it.

A neuron multiplies each input by its weight, adds the bias and applies its activation:
``0.5 × 0.1 + 0.2 = 0.25 → ReLU → 0.25``. ``trace`` runs the model on a real input, picks a
neuron and prints exactly that, with the model's own numbers; for a Conv2D unit it also shows
where the filter window sits and which pixels it sees. Long sums (a neuron with 784 inputs)
show the largest contributions and say how many smaller terms were folded together.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from glassnet import activations as activations_module
from glassnet.inspect._record import Call, as_batch, record_calls
from glassnet.layers.layer import Layer
from glassnet.ops.conv import resolve_padding
from glassnet.tensor import Tensor, no_grad

__all__ = ["LayerTrace", "ModelTrace", "NeuronTrace", "RecurrentStep", "RecurrentTrace", "trace"]


def _num(value: float) -> str:
    """A number as the texts write it: up to 4 significant digits, no float noise."""
    text = f"{float(value):.4g}"
    return "0" if text == "-0" else text


def _factor(value: float) -> str:
    text = _num(value)
    return f"({text})" if text.startswith("-") else text


def activation_name(layer: Layer) -> str:
    """The name of a layer's activation (``"relu"``), ``"linear"`` when it has none."""
    fn = getattr(layer, "activation", None)
    if fn is None:
        return "linear"
    try:
        return activations_module.serialize(fn)
    except ValueError:
        return getattr(fn, "__name__", type(fn).__name__)


_PRETTY = {"relu": "ReLU", "sigmoid": "sigmoid", "tanh": "tanh", "softmax": "softmax"}


@dataclass
class NeuronTrace:
    """One neuron's forward pass for one input: every term of its weighted sum, the bias, the
    sum, the activation and the output (the same number the model computed).

    ``unit`` is ``(j,)`` for a Dense unit and ``(row, col, filter)`` for a Conv2D unit, whose
    ``window`` gives the input rows and columns the filter covered (padding counts as 0).
    """

    layer: str
    kind: str
    unit: tuple[int, ...]
    inputs: np.ndarray
    weights: np.ndarray
    bias: float
    weighted_sum: float
    activation: str
    output: float
    window: tuple[tuple[int, int], tuple[int, int]] | None = None
    max_terms: int = 6

    @property
    def contributions(self) -> np.ndarray:
        """input × weight for every term, same shape as ``inputs``."""
        return self.inputs * self.weights

    def sum_text(self) -> str:
        """``0.5 × 0.1 + 0.2 = 0.25 → ReLU → 0.25``, abbreviated when there are many terms."""
        x, w = self.inputs.reshape(-1), self.weights.reshape(-1)
        c = x * w
        if len(c) <= self.max_terms:
            shown, hidden = list(range(len(c))), []
        else:
            order = np.argsort(-np.abs(c), kind="stable")
            shown = sorted(order[: self.max_terms - 1].tolist())
            hidden = order[self.max_terms - 1 :]
        terms = [f"{_factor(x[i])} × {_factor(w[i])}" for i in shown]
        if len(hidden):
            terms.append(f"[{len(hidden)} smaller terms: {_num(c[hidden].sum())}]")
        text = " + ".join(terms)
        if self.bias != 0 or not terms:
            text += f" + {_factor(self.bias)}"
        text += f" = {_num(self.weighted_sum)}"
        if self.activation != "linear":
            name = _PRETTY.get(self.activation, self.activation)
            if self.activation == "softmax":
                name += " (over all the layer's sums)"
            text += f" → {name} → {_num(self.output)}"
        return text

    def __str__(self) -> str:
        lines = [f"{self.kind} '{self.layer}', {_where(self)}"]
        if self.window is not None:
            (r0, r1), (c0, c1) = self.window
            kh, kw, cin = self.inputs.shape
            lines.append(
                f"  window: input rows {r0}..{r1}, columns {c0}..{c1} ({kh}×{kw}×{cin} pixels; "
                f"outside the image counts as 0)"
            )
            if cin <= 3:
                lines += _grids(self.inputs, self.weights)
            lines.append(f"  dot product: {self.sum_text()}")
        else:
            n = self.inputs.size
            lines.append(f"  {n} input{'s' if n != 1 else ''} × weights, + bias: {self.sum_text()}")
        return "\n".join(lines)


def _grids(pixels: np.ndarray, weights: np.ndarray) -> list[str]:
    """The receptive field and the filter side by side, one pair of grids per channel."""
    lines = []
    kh, kw, cin = pixels.shape
    width = 8 * kw
    for ch in range(cin):
        lines.append(f"  {'pixels (channel ' + str(ch) + ')':<{width}}    weights")
        for r in range(kh):
            left = "".join(f"{v:8.3f}" for v in pixels[r, :, ch])
            right = "".join(f"{v:8.3f}" for v in weights[r, :, ch])
            lines.append(f"  {left:<{width}}  × {right}")
    return lines


@dataclass
class LayerTrace:
    """What one layer did to the input: its shapes and, for Dense/Conv2D, traced neurons."""

    layer: str
    kind: str
    input_shape: tuple[int, ...]
    output_shape: tuple[int, ...]
    output: np.ndarray
    neurons: list[NeuronTrace] = field(default_factory=list)
    note: str = ""

    def __str__(self) -> str:
        head = f"{self.kind} '{self.layer}': {self.input_shape[1:]} → {self.output_shape[1:]}"
        if self.note:
            head += f"  ({self.note})"
        parts = [head]
        for neuron in self.neurons:
            parts.append(f"  {_where(neuron)}")
            parts += ["  " + line for line in str(neuron).splitlines()[1:]]
        return "\n".join(parts)


def _where(neuron: NeuronTrace) -> str:
    if neuron.kind == "Conv2D":
        row, col, f = neuron.unit
        return f"filter {f} at output row {row}, column {col}:"
    return f"unit {neuron.unit[0]}:"


@dataclass
class ModelTrace:
    """The whole forward pass, layer by layer; ``output`` equals ``model.predict(x)``."""

    layers: list[LayerTrace]
    output: np.ndarray

    def __str__(self) -> str:
        out = np.array2string(self.output[0], precision=4, separator=", ")
        return "\n".join([*map(str, self.layers), f"Output: {out}"])


def _dense_neuron(call: Call, j: int, max_terms: int) -> NeuronTrace:
    layer = call.layer
    x = np.asarray(call.input.data, np.float64).reshape(-1, layer.kernel.shape[0])[0]
    w = np.asarray(layer.kernel.data, np.float64)[:, j]
    b = float(layer.bias.data[j]) if getattr(layer, "bias", None) is not None else 0.0
    out = np.asarray(call.output.data).reshape(-1, layer.kernel.shape[1])[0]
    return NeuronTrace(
        layer=layer.name,
        kind=type(layer).__name__,
        unit=(j,),
        inputs=x,
        weights=w,
        bias=b,
        weighted_sum=float(x @ w + b),
        activation=activation_name(layer),
        output=float(out[j]),
        max_terms=max_terms,
    )


def _conv_neuron(call: Call, unit: tuple[int, int, int], max_terms: int) -> NeuronTrace:
    layer = call.layer
    x = np.asarray(call.input.data, np.float64)[0]  # (H, W, C)
    kernel = np.asarray(layer.kernel.data, np.float64)
    kh, kw = kernel.shape[:2]
    row, col, f = unit
    (top, bottom), (left, right) = resolve_padding(
        x.shape[:2], (kh, kw), layer.strides, layer.padding, layer.dilation_rate
    )
    padded = np.pad(x, ((top, bottom), (left, right), (0, 0)))
    sh, sw = layer.strides
    dh, dw = layer.dilation_rate
    r0, c0 = row * sh, col * sw  # top-left corner in the padded image
    patch = padded[r0 : r0 + (kh - 1) * dh + 1 : dh, c0 : c0 + (kw - 1) * dw + 1 : dw, :]
    w = kernel[..., f]
    b = float(layer.bias.data[f]) if getattr(layer, "bias", None) is not None else 0.0
    window = ((r0 - top, r0 - top + (kh - 1) * dh), (c0 - left, c0 - left + (kw - 1) * dw))
    return NeuronTrace(
        layer=layer.name,
        kind="Conv2D",
        unit=(row, col, f),
        inputs=patch,
        weights=w,
        bias=b,
        weighted_sum=float((patch * w).sum() + b),
        activation=activation_name(layer),
        output=float(np.asarray(call.output.data)[0, row, col, f]),
        window=window,
        max_terms=max_terms,
    )


def is_dense(layer: Layer) -> bool:
    """Whether ``layer`` is a built ``Dense``: a 2-D kernel, one weight per (input, unit)."""
    kernel = layer.__dict__.get("kernel")
    return isinstance(kernel, Tensor) and kernel.ndim == 2 and type(layer).__name__ == "Dense"


def is_conv(layer: Layer) -> bool:
    """Whether ``layer`` is a built 2-D convolution: a 4-D kernel and strides."""
    kernel = layer.__dict__.get("kernel")
    return isinstance(kernel, Tensor) and kernel.ndim == 4 and hasattr(layer, "strides")


def _check_unit(layer: Layer, unit: Any, n: int, what: str = "units") -> None:
    """Refuse ``unit`` unless it is an integer in [0, n)."""
    if not isinstance(unit, (int, np.integer)) or not 0 <= unit < n:
        raise ValueError(
            f"trace: {type(layer).__name__} '{layer.name}' has {what} 0..{n - 1}. Received: "
            f"unit={unit!r}"
        )


def _neuron(call: Call, unit: Any, max_terms: int) -> NeuronTrace:
    out = np.asarray(call.output.data)
    if is_dense(call.layer):
        units = call.layer.kernel.shape[1]
        j = int(np.argmax(out.reshape(-1, units)[0])) if unit is None else unit
        _check_unit(call.layer, j, units)
        return _dense_neuron(call, int(j), max_terms)
    filters = out.shape[-1]
    if unit is None:  # the most active position of the most active filter
        unit = tuple(int(i) for i in np.unravel_index(np.argmax(out[0]), out.shape[1:]))
    elif isinstance(unit, (int, np.integer)):  # a filter: where it responded most
        _check_unit(call.layer, unit, filters, "filters")
        r, c = np.unravel_index(np.argmax(out[0, ..., unit]), out.shape[1:3])
        unit = (int(r), int(c), int(unit))
    ok = isinstance(unit, tuple) and len(unit) == 3
    if not ok or not all(0 <= u < n for u, n in zip(unit, out.shape[1:], strict=True)):
        raise ValueError(
            f"trace: a Conv2D unit is a filter index or (row, col, filter) inside the output "
            f"{out.shape[1:]} of '{call.layer.name}'. Received: unit={unit!r}"
        )
    return _conv_neuron(call, unit, max_terms)


def _layer_trace(call: Call, units: Any, max_terms: int, max_units: int) -> LayerTrace:
    layer = call.layer
    in_shape = tuple(call.input.shape) if isinstance(call.input, Tensor) else ()
    out = np.asarray(call.output.data)
    result = LayerTrace(layer.name, type(layer).__name__, in_shape, out.shape, out)
    if is_dense(layer):
        n = layer.kernel.shape[1]
        if units is None and n <= max_units:
            units = list(range(n))
        elif units is None:
            units = [None]
            result.note = f"{n} units; showing the most active one"
        result.neurons = [_neuron(call, u, max_terms) for u in units]
    elif is_conv(layer):
        result.note = "showing the strongest response" if units is None else ""
        result.neurons = [_neuron(call, u, max_terms) for u in (units or [None])]
    else:
        result.note = _describe(layer)
    return result


def _describe(layer: Layer) -> str:
    kind = type(layer).__name__
    notes = {
        "Flatten": "the numbers laid out in one row",
        "InputLayer": "the input as given",
        "Dropout": "inactive when predicting",
        "Rescaling": f"× {_num(getattr(layer, 'scale', float('nan')))}",
        "MaxPooling2D": "the largest value of each window",
        "AveragePooling2D": "the mean of each window",
        "ReLU": "max(0, x) for each number",
        "Softmax": "exp, then divided by the total",
    }
    if kind == "Activation":
        return f"{activation_name(layer)} of each number"
    return notes.get(kind, "")


# --------------------------------------------------------------------------- recurrent units
_GATE_SYMBOL = {"sigmoid": "σ", "tanh": "tanh", "relu": "ReLU", "linear": ""}


def _apply(name: str, text: str) -> str:
    """``σ(text)``, or ``text`` for a linear activation."""
    symbol = _GATE_SYMBOL.get(name, name)
    return f"{symbol}({text})" if symbol else f"({text})"


@dataclass
class RecurrentStep:
    """One time step of one recurrent unit: ``t`` counts the steps in reading order, ``x_index``
    is the input step read (``T − 1 − t`` with ``go_backwards``); ``gates`` holds each gate's
    value for the unit (and ``pre`` their inputs before the activation); ``state`` is
    ``h_t[k]`` and ``cell`` the LSTM's ``c_t[k]``."""

    t: int
    x_index: int
    pre: dict[str, float]
    gates: dict[str, float]
    state: float
    cell: float | None
    text: str


@dataclass
class RecurrentTrace:
    """One unit of a SimpleRNN, LSTM or GRU over a whole sequence: per step its gate values and
    state update, computed with the layer's own weights. ``states[t]`` equals the layer's
    ``h_t[unit]`` (its output sequence, in the order it returns it) and ``output`` the unit's
    value in the layer's output (its last state)."""

    layer: str
    kind: str
    unit: int
    formula: list[str]
    steps: list[RecurrentStep]
    output: float

    @property
    def states(self) -> np.ndarray:
        """h_t[unit] at every step, in reading order (the layer's returned sequence order)."""
        return np.array([s.state for s in self.steps])

    @property
    def cells(self) -> np.ndarray | None:
        """c_t[unit] at every step (LSTM), else None."""
        if not self.steps or self.steps[0].cell is None:
            return None
        return np.array([s.cell for s in self.steps])

    def __str__(self) -> str:
        lines = [f"{self.kind} '{self.layer}', unit {self.unit}, over {len(self.steps)} steps:"]
        lines += [f"  {line}" for line in self.formula]
        for step in self.steps:
            lines.append(f"  t={step.t} (x[{step.x_index}]): {step.text}")
        lines.append(f"  output: {_num(self.output)}")
        return "\n".join(lines)


def _is_recurrent(layer: Layer) -> bool:
    return type(layer).__name__ in ("SimpleRNN", "LSTM", "GRU") and hasattr(layer, "units")


def _recurrent_unit(call: Call, unit: Any) -> RecurrentTrace:
    """Re-run the layer's recurrence in float64 on its recorded input (zero initial states, as
    a model's forward pass), keeping every gate of unit ``unit``."""
    from glassnet.ops.recurrent import apply_activation

    layer = call.layer
    n = layer.units
    _check_unit(layer, unit, n)
    k, kind = int(unit), type(layer).__name__
    x = np.asarray(call.input.data, np.float64)[0]  # (T, features)
    order = range(x.shape[0])[::-1] if layer.go_backwards else range(x.shape[0])
    W = np.asarray(layer.kernel.data, np.float64)
    U = np.asarray(layer.recurrent_kernel.data, np.float64)
    gates = W.shape[1] // n
    bias = (
        np.zeros((2, gates * n)) if layer.bias is None else np.asarray(layer.bias.data, np.float64)
    )
    if bias.ndim == 1:
        bias = np.stack([bias, np.zeros_like(bias)])  # the GRU's recurrent bias row, or none
    act = layer.activation
    ract = getattr(layer, "recurrent_activation", act)
    h, c = np.zeros(n), np.zeros(n)
    cols = [g * n + k for g in range(gates)]
    records: list[RecurrentStep] = []
    for t, i in enumerate(order):
        xw = x[i] @ W + bias[0]  # every gate's input part, all units
        hu = h @ U + bias[1]  # every gate's recurrent part, all units
        a = [float(xw[col]) for col in cols]
        r_ = [float(hu[col]) for col in cols]
        if kind == "SimpleRNN":
            h_new = apply_activation(act, xw + hu)
            pre = {"h": a[0] + r_[0]}
            values = {"h": float(h_new[k])}
            text = (
                f"h[{k}] = {_apply(act, f'{_num(a[0])} + {_factor(r_[0])}')} = "
                f"{_apply(act, _num(pre['h']))} = {_num(values['h'])}"
            )
            cell = None
        elif kind == "LSTM":
            z = xw + hu
            i_g, f_g, o_g = (apply_activation(ract, z[g * n : (g + 1) * n]) for g in (0, 1, 3))
            g_g = apply_activation(act, z[2 * n : 3 * n])
            c_new = f_g * c + i_g * g_g
            h_new = o_g * apply_activation(act, c_new)
            pre = {name: a[g] + r_[g] for g, name in enumerate("ifco")}
            values = {"i": i_g[k], "f": f_g[k], "c~": g_g[k], "o": o_g[k]}
            values = {key: float(v) for key, v in values.items()}
            parts = [
                f"{name} = {_apply(fn, f'{_num(a[g])} + {_factor(r_[g])}')} = {_num(values[name])}"
                for g, (name, fn) in enumerate([("i", ract), ("f", ract), ("c~", act), ("o", ract)])
            ]
            cell = float(c_new[k])
            text = (
                f"{', '.join(parts)}; c[{k}] = f·c + i·c~ = {_factor(values['f'])} × "
                f"{_factor(c[k])} + {_factor(values['i'])} × {_factor(values['c~'])} = "
                f"{_num(cell)}; h[{k}] = o·{_apply(act, 'c')} = {_factor(values['o'])} × "
                f"{_apply(act, _num(cell))} = {_num(h_new[k])}"
            )
            c = c_new
        else:  # GRU
            z_g = apply_activation(ract, xw[:n] + hu[:n])
            r_g = apply_activation(ract, xw[n : 2 * n] + hu[n : 2 * n])
            if layer.reset_after:  # r multiplies h·U_h + rb_h
                cand_rec = r_g[k] * r_[2]
                rec_text = f"{_factor(float(r_g[k]))} × {_factor(r_[2])}"
                hh = apply_activation(act, xw[2 * n :] + r_g * hu[2 * n :])
            else:  # r multiplies h before U_h
                cand_rec = float((r_g * h) @ U[:, 2 * n + k])
                rec_text = f"(r·h)·U_h = {_num(cand_rec)}"
                hh = apply_activation(act, xw[2 * n :] + (r_g * h) @ U[:, 2 * n :])
            h_new = z_g * h + (1 - z_g) * hh
            pre = {"z": a[0] + r_[0], "r": a[1] + r_[1], "h~": a[2] + cand_rec}
            values = {"z": float(z_g[k]), "r": float(r_g[k]), "h~": float(hh[k])}
            cell = None
            text = (
                f"z = {_apply(ract, f'{_num(a[0])} + {_factor(r_[0])}')} = {_num(values['z'])}, "
                f"r = {_apply(ract, f'{_num(a[1])} + {_factor(r_[1])}')} = {_num(values['r'])}, "
                f"h~ = {_apply(act, f'{_num(a[2])} + {rec_text}')} = {_num(values['h~'])}; "
                f"h[{k}] = z·h + (1 − z)·h~ = {_factor(values['z'])} × {_factor(h[k])} + "
                f"{_factor(1 - values['z'])} × {_factor(values['h~'])} = {_num(h_new[k])}"
            )
        h = h_new
        records.append(RecurrentStep(t, i, pre, values, float(h[k]), cell, text))
    out = call.output[0] if isinstance(call.output, (list, tuple)) else call.output
    out = np.asarray(out.data)
    output = float(out[0, -1, k] if out.ndim == 3 else out[0, k])
    return RecurrentTrace(layer.name, kind, k, _recurrent_formula(layer, k), records, output)


def _recurrent_formula(layer: Layer, k: int) -> list[str]:
    """The unit's update, written once, with what each number in the steps stands for."""
    kind = type(layer).__name__
    act = _apply(layer.activation, "…")
    ract = _apply(getattr(layer, "recurrent_activation", "sigmoid"), "…")
    lines = [
        f"each gate: act(input part + recurrent part), i.e. x_t·W + b and h_{{t−1}}·U in that "
        f"gate's column for unit {k}"
    ]
    if layer.go_backwards:
        lines.append("go_backwards: reads x from the last step to the first; states in that order")
    if kind == "SimpleRNN":
        lines.append(
            f"h_t[{k}] = {act.replace('…', f'x_t·W[:, {k}] + h_{{t−1}}·U[:, {k}] + b[{k}]')}"
        )
    elif kind == "LSTM":
        lines += [
            f"i, f, o = {ract} gates; c~ = {act} candidate (Keras gate order i, f, c, o)",
            f"c_t[{k}] = f·c_{{t−1}}[{k}] + i·c~;  h_t[{k}] = o·{act.replace('…', f'c_t[{k}]')}",
        ]
    else:
        where = "r·(h_{t−1}·U_h + rb_h)" if layer.reset_after else "(r ⊙ h_{t−1})·U_h, all units"
        lines += [
            f"z, r = {ract} gates; h~ = {act} candidate with the recurrent part {where}",
            f"h_t[{k}] = z·h_{{t−1}}[{k}] + (1 − z)·h~",
        ]
    return lines


def trace(
    model: Layer,
    x: Any,
    layer: str | int | Layer | None = None,
    unit: Any = None,
    max_terms: int = 6,
    max_units: int = 4,
) -> NeuronTrace | LayerTrace | ModelTrace:
    """Run ``model`` on one input and show the arithmetic of its neurons, with its own numbers.

    Args:
        model: a built model (or layer).
        x: one input, with or without the batch axis of one.
        layer: the layer to look at (name, position among the model's leaf layers, or the
            layer itself); None traces the whole model, layer by layer.
        unit: for Dense, the unit index; for Conv2D, ``(row, col, filter)`` or a filter index
            (traced where it responded most). None: every unit of a small Dense layer (up to
            ``max_units``), else the most active unit.
            For SimpleRNN, LSTM and GRU, the unit index: its state over time, per step its
            gates and state update (a ``RecurrentTrace``; zero initial states).
        max_terms: weighted sums with more terms show the largest ``max_terms - 1`` and fold
            the rest into one bracketed term.

    Returns:
        A ``NeuronTrace`` (layer and unit given), a ``LayerTrace`` (layer given) or a
        ``ModelTrace`` (neither). ``print`` it; its fields hold the numbers.

    Example (a Dense layer "hidden" with weight 0.1 and bias 0.2, as in the texts)::

        print(trace(model, [0.5], layer="hidden", unit=0))
        # Dense 'hidden', unit 0:
        #   1 input × weights, + bias: 0.5 × 0.1 + 0.2 = 0.25 → ReLU → 0.25
    """
    batch = as_batch(model, x, "trace")
    with no_grad(), record_calls(model) as calls:
        output = model(Tensor(batch), training=False)
    if layer is None:
        if unit is not None:
            raise ValueError("trace: 'unit' needs 'layer' (which layer the unit belongs to).")
        return ModelTrace(
            [_layer_trace(c, None, max_terms, max_units) for c in calls],
            np.asarray(output.data),
        )
    call = _find_call(calls, layer)
    if unit is None:
        return _layer_trace(call, None, max_terms, max_units)
    if _is_recurrent(call.layer):
        return _recurrent_unit(call, unit)
    if not (is_dense(call.layer) or is_conv(call.layer)):
        raise ValueError(
            f"trace: '{call.layer.name}' ({type(call.layer).__name__}) has no neurons with "
            f"weights; units can be traced in Dense and Conv2D layers."
        )
    return _neuron(call, unit, max_terms)


def _find_call(calls: list[Call], layer: str | int | Layer) -> Call:
    for i, call in enumerate(calls):
        if layer is call.layer or layer in (call.layer.name, call.path) or layer == i:
            return call
    names = ", ".join(c.layer.name for c in calls)
    raise ValueError(f"trace: no layer {layer!r} ran in this model. Layers: {names}.")
