"""Models: layers joined into a network, trained by ``fit`` and saved by ``save``."""

from glassnet.models.functional import Functional
from glassnet.models.model import Model
from glassnet.models.probabilities import output_activation, probabilities
from glassnet.models.saving import (
    load_model,
    load_weights,
    model_from_json,
    save_model,
    save_weights,
)
from glassnet.models.sequential import Sequential
from glassnet.models.training import NonFiniteLossWarning

__all__ = [
    "Functional",
    "Model",
    "NonFiniteLossWarning",
    "Sequential",
    "load_model",
    "load_weights",
    "model_from_json",
    "output_activation",
    "probabilities",
    "save_model",
    "save_weights",
]
