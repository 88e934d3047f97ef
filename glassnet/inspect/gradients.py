"""Is the network learning? Per-layer gradient sizes, dead ReLUs, and a whole-model gradient
check.

The texts warn that sigmoid "will cause the vanishing gradient problem": each sigmoid
multiplies the backward signal by at most 0.25, so after ten of them the first layer's
gradients are thousands of times smaller than the last layer's and it barely learns.
``gradient_report`` measures exactly that on a real batch and says it in words.
``gradcheck_model`` compares backpropagation with finite differences, layer by layer.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from glassnet import losses as losses_module
from glassnet.gradcheck import gradcheck
from glassnet.inspect._record import leaf_layers, record_calls
from glassnet.inspect.trace import activation_name
from glassnet.layers.layer import Layer
from glassnet.tensor import Tensor

__all__ = ["GradcheckModelReport", "GradientReport", "gradcheck_model", "gradient_report"]

#: First-layer gradients this many times smaller than the last layer's count as vanishing.
VANISHING_RATIO = 100.0
#: A layer gradient norm above this counts as exploding.
EXPLODING_NORM = 1e3


def _loss_for(model: Layer, y: np.ndarray, outputs: Tensor, loss: Any) -> losses_module.Loss:
    """The loss to differentiate: the given one, the model's compiled one, or a guess from the
    targets (integer labels with several outputs: sparse categorical cross-entropy; else MSE)."""
    if loss is not None:
        return losses_module.get(loss)
    if getattr(model, "loss", None) is not None:
        return model.loss
    classes = outputs.ndim == 2 and outputs.shape[1] > 1
    if np.issubdtype(y.dtype, np.integer) and classes:
        return losses_module.get("sparse_categorical_crossentropy")
    return losses_module.get("mse")


def _targets(y: Any) -> np.ndarray:
    y = np.asarray(y.data if isinstance(y, Tensor) else y)
    return y.astype(np.float32) if y.dtype == np.float64 else y


def _own_trainable(layer: Layer) -> list[Tensor]:
    weights = [layer.__dict__.get(name) for name in layer._weight_trainable]
    return [w for w in weights if isinstance(w, Tensor) and w.requires_grad]


def _is_relu(layer: Layer) -> bool:
    return type(layer).__name__ == "ReLU" or activation_name(layer) == "relu"


@dataclass
class LayerGradients:
    """One layer's numbers: the norm of its weights' gradient, of the gradient arriving at
    its output, and the share of its ReLU units that output 0 for every sample (dead)."""

    layer: str
    kind: str
    weight_grad_norm: float
    output_grad_norm: float | None
    dead_relu_share: float | None


@dataclass
class GradientReport:
    """Per-layer gradient norms, dead ReLUs and a verdict: "vanishing", "exploding" or
    "healthy". ``ratio`` is last-layer norm / first-layer norm (of weight gradients)."""

    layers: list[LayerGradients]
    loss: float
    ratio: float
    verdict: str
    explanation: str
    notes: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        lines = [
            f"{'layer':<22}{'type':<12}{'|dL/dW|':>11}{'|dL/dout|':>11}{'dead ReLU':>11}",
        ]
        for r in self.layers:
            dead = "-" if r.dead_relu_share is None else f"{r.dead_relu_share:.0%}"
            out = "-" if r.output_grad_norm is None else f"{r.output_grad_norm:.3g}"
            lines.append(f"{r.layer:<22}{r.kind:<12}{r.weight_grad_norm:>11.3g}{out:>11}{dead:>11}")
        lines.append(f"loss {self.loss:.4g}; verdict: {self.verdict}. {self.explanation}")
        lines += self.notes
        return "\n".join(lines)


def gradient_report(model: Layer, x: Any, y: Any, loss: Any = None) -> GradientReport:
    """Backpropagate one batch and report how big each layer's gradients are.

    Args:
        model: a built model. x, y: a batch of inputs and targets.
        loss: a loss or its name; by default the compiled loss, else guessed from ``y``.

    Returns:
        A ``GradientReport``; ``print`` it for the table and the verdict. The model's weight
        gradients are cleared afterwards (the report does not train it).
    """
    inputs = Tensor(np.asarray(x.data if isinstance(x, Tensor) else x, np.float32))
    targets = _targets(y)
    with record_calls(model) as calls:
        outputs = model(inputs, training=False)
    for call in calls:
        if call.output.requires_grad:
            call.output.retain_grad()
    loss_fn = _loss_for(model, targets, outputs, loss)
    for w in model.weights:
        w.grad = None
    value = loss_fn(targets, outputs)
    value.backward()
    rows = []
    for call in calls:
        weights = _own_trainable(call.layer)
        if not weights:
            continue
        squares = [np.square(w.grad, dtype=np.float64).sum() for w in weights if w.grad is not None]
        norm = math.sqrt(sum(float(s) for s in squares))
        grad = call.output.grad
        out_norm = None if grad is None else float(np.linalg.norm(np.asarray(grad, np.float64)))
        dead = None
        if _is_relu(call.layer):
            out = np.asarray(call.output.data)
            alive = (out > 0).reshape(-1, out.shape[-1]).any(axis=0)
            dead = float(1 - alive.mean())
        rows.append(
            LayerGradients(call.layer.name, type(call.layer).__name__, norm, out_norm, dead)
        )
    for w in model.weights:
        w.grad = None
    return _verdict(rows, float(value.data))


def _verdict(rows: list[LayerGradients], loss: float) -> GradientReport:
    if not rows:
        raise ValueError("gradient_report: the model has no trainable weights to report on.")
    norms = [r.weight_grad_norm for r in rows]
    first, last = norms[0], norms[-1]
    ratio = last / first if first > 0 else math.inf
    if not all(math.isfinite(n) for n in norms) or max(norms) > EXPLODING_NORM:
        verdict = "exploding"
        text = (
            f"gradients reach {max(norms):.3g}: one update step would throw the weights far. "
            "Lower the learning rate, normalise the inputs, or clip gradients."
        )
    elif ratio >= VANISHING_RATIO:
        verdict = "vanishing"
        text = (
            f"the first layer's gradients are {ratio:,.0f}× smaller than the last layer's, so "
            "the first layers barely learn. Use ReLU with He initialisation, fewer layers, "
            "batch normalisation or residual connections."
        )
    else:
        verdict = "healthy"
        text = f"gradients keep their size through the network (last/first = {ratio:.3g})."
    notes = [
        f"'{r.layer}': {r.dead_relu_share:.0%} of its ReLU units output 0 for every sample "
        "(dead: they get no gradient). A lower learning rate or leaky_relu can help."
        for r in rows
        if r.dead_relu_share is not None and r.dead_relu_share >= 0.5
    ]
    return GradientReport(rows, loss, ratio, verdict, text, notes)


@dataclass
class GradcheckModelReport:
    """One row per layer with weights (plus the input): backprop vs finite differences."""

    rows: list[tuple[str, str, float, float, bool]]

    @property
    def passed(self) -> bool:
        """True when every layer's gradients matched finite differences."""
        return all(row[4] for row in self.rows)

    def __bool__(self) -> bool:
        return self.passed

    def __str__(self) -> str:
        lines = [f"{'layer':<22}{'weights':<36}{'max abs err':>12}{'max rel err':>12}  result"]
        for name, weights, abs_err, rel_err, ok in self.rows:
            lines.append(
                f"{name:<22}{weights:<36}{abs_err:>12.2e}{rel_err:>12.2e}  "
                f"{'pass' if ok else 'FAIL'}"
            )
        verdict = "every layer passed" if self.passed else "some layers FAILED"
        return "\n".join([*lines, f"Gradient check: {verdict}."])


def gradcheck_model(
    model: Layer,
    x: Any,
    y: Any,
    loss: Any = None,
    max_elements: int = 256,
    directions: int = 4,
) -> GradcheckModelReport:
    """Check the whole model's backpropagation against finite differences, layer by layer.

    The weights are switched to float64 for the check (and restored after), the model runs in
    inference mode (Dropout off, BatchNormalization on its moving statistics), and each
    layer's weights go through ``glassnet.gradcheck`` with the loss of ``(x, y)`` as the
    function. Weights with more than ``max_elements`` numbers are checked along
    ``directions`` random directions.
    """
    targets = np.asarray(y.data if isinstance(y, Tensor) else y)
    x64 = np.asarray(x.data if isinstance(x, Tensor) else x, np.float64)
    saved = [(w, w.data, w.requires_grad, w.grad) for w in model.weights]
    try:
        for w in model.weights:
            w.data = w.data.astype(np.float64)
        probe = model(Tensor(x64), training=False)
        loss_fn = _loss_for(model, targets, probe, loss)

        def fn(*inputs: Tensor) -> Tensor:
            data = inputs[0] if inputs else Tensor(x64)
            return loss_fn(targets, model(data, training=False))

        rows = []
        report = gradcheck(fn, x64, max_elements=max_elements, directions=directions)
        rows.append(_row("input", report))
        for _, layer in leaf_layers(model):
            weights = _own_trainable(layer)
            if not weights:
                continue
            report = gradcheck(fn, params=weights, max_elements=max_elements, directions=directions)
            rows.append(_row(layer.name, report, layer))
    finally:
        for w, data, requires_grad, grad in saved:
            w.data, w.requires_grad, w.grad = data, requires_grad, grad
    return GradcheckModelReport(rows)


def _row(name: str, report: Any, layer: Layer | None = None) -> tuple:
    checks = report.checks
    if layer is None:
        what = "input " + str(checks[0].shape)
    else:
        what = ", ".join(f"{c.name.split('/')[-1]} {c.shape}" for c in checks)
    worst = max(c.max_abs_error for c in checks), max(c.max_rel_error for c in checks)
    return (name, what, *worst, report.passed)
