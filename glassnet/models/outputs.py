"""What ``compile`` asks of each output: its loss, the loss's weight and its metrics.

A model may return one Tensor or a list of them (several outputs, Keras's multi-output
models). ``compile`` takes, for ``loss``, ``loss_weights`` and ``metrics``, one entry for every
output, a list with one entry per output, or a dict keyed by output name. Output names come
from ``model.output_names`` where the model has them (a functional model), else they are
``output_1``, ``output_2``, ... (Keras's names for a subclassed model). The training loss is
the weighted sum of the outputs' losses; with several outputs each output's (weighted) loss is
also logged as ``<output name>_loss`` and its metrics as ``<output name>_<metric>``, as in Keras.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from glassnet import losses as losses_module
from glassnet import metrics as metrics_module
from glassnet.tensor import Tensor


def as_list(outputs: Any) -> list[Any]:
    """A model's outputs (or targets, or weights) as a list: one entry per output (a dict's
    values in order: a functional model's outputs by name)."""
    if isinstance(outputs, dict):
        return list(outputs.values())
    if isinstance(outputs, (list, tuple)):
        return list(outputs)
    return [outputs]


def output_names(model: Any, count: int) -> list[str]:
    """The names of a model's ``count`` outputs: ``model.output_names`` where it has as many,
    else ``output_1``, ``output_2``, ... (a single output is simply ``output``)."""
    names = getattr(model, "output_names", None)
    if names is not None and len(names) == count:
        return [str(name) for name in names]
    return ["output"] if count == 1 else [f"output_{i + 1}" for i in range(count)]


def per_output(spec: Any, names: list[str], what: str, fill: Any = None) -> list[Any]:
    """``spec`` as one entry per output: a dict is read by output name (``fill`` where an
    output has none), a list must have one entry per output, anything else serves all."""
    if isinstance(spec, dict):
        unknown = [key for key in spec if key not in names]
        if unknown:
            raise ValueError(
                f"{what}: no output named {unknown[0]!r}. The model's outputs are "
                f"{names}; key the dict by those names."
            )
        return [spec.get(name, fill) for name in names]
    if isinstance(spec, (list, tuple)):
        if len(spec) != len(names):
            raise ValueError(
                f"{what} has {len(spec)} entries but the model has {len(names)} outputs "
                f"({', '.join(names)}). Give one entry per output, or a dict keyed by output "
                "name."
            )
        return list(spec)
    return [spec] * len(names)


def structured(data: Any, names: list[str], what: str) -> list[Any]:
    """Targets or sample weights given for the outputs ``names`` (one array for a single
    output, a list or a dict for several) as one entry per output."""
    if len(names) == 1 and not isinstance(data, dict):
        if isinstance(data, (list, tuple)) and len(data) == 1:
            return list(data)
        return [data]
    if not isinstance(data, (list, tuple, dict)):
        if what == "sample_weight":
            return [data] * len(names)  # Keras: one weight per sample serves every output
        raise ValueError(
            f"{what}: the model has {len(names)} outputs ({', '.join(names)}) but one array "
            f"was given. Give a list of {len(names)} arrays, or a dict keyed by output name."
        )
    return per_output(data, names, what)


@dataclass
class OutputPlan:
    """compile's choices laid out for a model with the outputs ``names``: a loss (None: not
    trained), a weight and metrics for each, and the metrics in one list with the index of the
    output each one scores."""

    names: list[str]
    losses: list[losses_module.Loss | None]
    weights: list[float]
    metrics: list[metrics_module.Metric]
    metric_outputs: list[int]


def plan(model: Any, count: int, loss: Any, loss_weights: Any, metrics: Any) -> OutputPlan:
    """Lay out ``compile``'s ``loss``, ``loss_weights`` and ``metrics`` over ``count`` outputs
    (see the module docstring); errors name the argument and what the model has."""
    names = output_names(model, count)
    per_loss = per_output(loss, names, "compile: loss")
    per_loss = [None if item is None else losses_module.get(item) for item in per_loss]
    given = 1.0 if loss_weights is None else loss_weights
    weights = per_output(given, names, "compile: loss_weights", fill=1.0)
    weights = [_weight(w, name) for w, name in zip(weights, names, strict=True)]
    if isinstance(metrics, (str, metrics_module.Metric)):
        metrics = [metrics]
    listed = isinstance(metrics, (list, tuple)) and len(metrics) > 0
    nested = isinstance(metrics, dict) or (
        listed and all(isinstance(m, (list, tuple)) or m is None for m in metrics)
    )
    if nested:
        per_metrics = per_output(metrics, names, "compile: metrics")
    else:  # a flat list scores every output
        per_metrics = [list(metrics or [])] * count
    found, where = [], []
    for i, (items, name) in enumerate(zip(per_metrics, names, strict=True)):
        if isinstance(items, (str, metrics_module.Metric)):
            items = [items]
        loss_name = per_loss[i].name if per_loss[i] is not None else None
        for item in items or []:
            metric = metrics_module.get(item, loss_name)
            if count > 1:
                if found and any(m is metric for m in found):
                    metric = type(metric).from_config(metric.get_config())
                metric.name = f"{name}_{metric.name}"
            found.append(metric)
            where.append(i)
    return OutputPlan(names, per_loss, weights, found, where)


def _weight(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(
            f"compile: loss_weights for output {name!r} must be a number. Received {value!r}."
        )
    return float(value)


def loss_terms(
    plan_: OutputPlan, y_true: list[Any], y_pred: list[Tensor], sample_weight: list[Any]
) -> list[Tensor | None]:
    """Each output's loss times its weight (None for an output without a loss): the terms
    whose sum is the training loss."""
    terms: list[Tensor | None] = []
    for loss, weight, yt, yp, sw in zip(
        plan_.losses, plan_.weights, y_true, y_pred, sample_weight, strict=True
    ):
        if loss is None:
            terms.append(None)
            continue
        value = loss(yt, yp, sample_weight=sw)
        terms.append(value if weight == 1.0 else value * weight)
    return terms
