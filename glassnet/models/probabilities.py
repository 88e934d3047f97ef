"""Class probabilities from a classifier's outputs, decided once for every caller.

A classifier ends either in softmax (its outputs already are probabilities) or in plain scores,
logits, that a softmax turns into probabilities. Looking at the numbers cannot tell the two
apart: logits that happen to be non-negative and sum to 1 look exactly like probabilities. The
model's own structure can, so ``probabilities(outputs, model)`` reads it from the model's last
layer, and only looks at the values when the structure does not say (no model given, or a
subclassed model whose ``call`` is its own). ``glassnet predict``, ``glassnet evaluate``,
``glassnet serve`` and ``inspect.explain`` all use it, so they give the same answer for the same
model and photo.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from glassnet import activations
from glassnet.layers import Activation, Conv2D, Dense, Dropout, LeakyReLU, ReLU, Softmax
from glassnet.layers.layer import Layer
from glassnet.models.functional import Functional
from glassnet.models.sequential import Sequential

__all__ = ["output_activation", "probabilities"]

#: Activations whose outputs are probabilities: softmax a distribution over the classes,
#: sigmoid each unit's own probability (one unit: the usual yes/no classifier).
_PROBABILITY_ACTIVATIONS = ("softmax", "sigmoid")
#: Layers that pass their input through unchanged at inference, so the one before decides.
_PASS_THROUGH = (Dropout,)


def _last_layer(model: Layer) -> Layer | None:
    """The layer that computes ``model``'s output, looking inside nested ``Sequential`` stacks
    and one-output functional graphs, and past layers that pass values through at inference
    (in a stack); None for an empty stack."""
    layer: Layer | None = model
    while isinstance(layer, (Sequential, Functional)):
        if isinstance(layer, Functional):
            outputs = layer.outputs
            if len(outputs) != 1:
                break  # several outputs: no one activation says what the model outputs
            layer = outputs[0].layer
            continue
        steps = [step for step in layer.layers if not isinstance(step, _PASS_THROUGH)]
        layer = steps[-1] if steps else None
    return layer


def output_activation(model: Layer) -> str | None:
    """The name of the activation that produces ``model``'s output (``"softmax"``, ``"relu"``,
    ``"linear"``, ...), read from its last layer; None when the structure does not say."""
    layer = _last_layer(model)
    if isinstance(layer, Softmax):
        return "softmax"
    if isinstance(layer, ReLU):
        return "relu"
    if isinstance(layer, LeakyReLU):
        return "leaky_relu"
    if isinstance(layer, (Dense, Conv2D, Activation)):
        try:
            return activations.serialize(layer.activation)
        except ValueError:  # a custom function: its outputs could be anything
            return None
    return None


def _softmax_rows(scores: np.ndarray) -> np.ndarray:
    shifted = np.exp(scores - scores.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def _rows_look_like_probabilities(outputs: np.ndarray) -> np.ndarray:
    """Per row: non-negative and summing to 1 (the fallback when the structure cannot tell)."""
    return np.all(outputs >= 0, axis=1) & (np.abs(outputs.sum(axis=1) - 1.0) < 1e-3)


def probabilities(outputs: Any, model: Layer | None = None) -> np.ndarray:
    """Class probabilities ``(N, K)`` (float64) for a batch of classifier outputs ``(N, K)``:
    the outputs as they are when ``model`` ends in softmax or sigmoid, else their softmax.

    Without a model, or when its structure does not say (see ``output_activation``), each row
    is taken as probabilities when it is non-negative and sums to 1, so that a row's answer never
    depends on the other rows of its batch. Raises ``ValueError`` for outputs that are not 2-D.
    """
    outputs = np.asarray(outputs, dtype=np.float64)
    if outputs.ndim != 2:
        raise ValueError(
            f"probabilities: expected outputs of shape (batch, classes). Received shape "
            f"{outputs.shape}: the model does not output one score per class."
        )
    kind = output_activation(model) if model is not None else None
    if kind is not None:
        return outputs if kind in _PROBABILITY_ACTIVATIONS else _softmax_rows(outputs)
    keep = _rows_look_like_probabilities(outputs)
    return np.where(keep[:, None], outputs, _softmax_rows(outputs))
