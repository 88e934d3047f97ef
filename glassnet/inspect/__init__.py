"""Look inside a network: one neuron's arithmetic, filters, activations, saliency, gradient
health, which words attend to which (``attention_map``), a whole-model gradient check,
training plots and an HTML report for one photo::

    from glassnet import inspect
    print(inspect.trace(model, x, layer="hidden", unit=0))  # 0.5 × 0.1 + 0.2 = 0.25 → ReLU → 0.25
    inspect.saliency(model, photo, class_index=3, path="cat.png")
    print(inspect.gradient_report(model, x, y))  # vanishing / exploding / healthy

``docs/tour.md`` uses all of it on a real classifier.

This package sits below ``models`` in the layers of the house: it imports models, layers, ops
and data; none of them imports it.
"""

from glassnet.inspect.attention import AttentionMap, attention_map
from glassnet.inspect.gradients import (
    GradcheckModelReport,
    GradientReport,
    gradcheck_model,
    gradient_report,
)
from glassnet.inspect.plots import (
    overfitting_note,
    plot_confident_mistakes,
    plot_confusion,
    plot_history,
    read_history_csv,
)
from glassnet.inspect.report import explain
from glassnet.inspect.trace import LayerTrace, ModelTrace, NeuronTrace, trace
from glassnet.inspect.visual import ActivationImage, Saliency, activations, filters, saliency

__all__ = [
    "ActivationImage",
    "AttentionMap",
    "GradcheckModelReport",
    "GradientReport",
    "LayerTrace",
    "ModelTrace",
    "NeuronTrace",
    "Saliency",
    "activations",
    "attention_map",
    "explain",
    "filters",
    "gradcheck_model",
    "gradient_report",
    "overfitting_note",
    "plot_confident_mistakes",
    "plot_confusion",
    "plot_history",
    "read_history_csv",
    "saliency",
    "trace",
]
