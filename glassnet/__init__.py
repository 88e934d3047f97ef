"""glassnet: a deep-learning framework written from first principles on NumPy.

Tensor level (PyTorch's names): ``Tensor``, ``no_grad``, ``ops`` (the functional API),
``gradcheck``. Model level (Keras's names): ``Sequential``, ``Model``, ``layers``,
``optimizers``, ``losses``, ``metrics``, ``callbacks``, ``regularizers``, ``constraints``,
``utils``, ``load_model``. Fine-tuning a pretrained network: ``transfer``.
"""

from glassnet import (
    activations,
    applications,
    callbacks,
    constraints,
    data,
    datasets,
    distributed,
    export,
    initializers,
    layers,
    losses,
    memory,  # keeps freed memory for the next step, on import (see its docstring)
    metrics,
    ops,
    optimizers,
    parallel,
    regularizers,
    transfer,
    utils,
)
from glassnet.autograd import Context, Function
from glassnet.backend import manual_seed
from glassnet.export import export_onnx, import_onnx
from glassnet.gradcheck import gradcheck
from glassnet.layers import Input, clear_session
from glassnet.models import Model, Sequential, load_model
from glassnet.tensor import Tensor, enable_grad, is_grad_enabled, no_grad

__version__ = "0.1.0"


def set_seed(seed: int) -> None:
    """Seed every random choice glassnet makes (initial weights, shuffling, dropout), so a CPU
    training run can be repeated bit for bit."""
    manual_seed(seed)


__all__ = [
    "Context",
    "Function",
    "Input",
    "Model",
    "Sequential",
    "Tensor",
    "__version__",
    "activations",
    "applications",
    "callbacks",
    "clear_session",
    "constraints",
    "data",
    "datasets",
    "distributed",
    "enable_grad",
    "export",
    "export_onnx",
    "gradcheck",
    "import_onnx",
    "initializers",
    "is_grad_enabled",
    "layers",
    "load_model",
    "losses",
    "manual_seed",
    "metrics",
    "no_grad",
    "ops",
    "optimizers",
    "regularizers",
    "set_seed",
    "transfer",
    "utils",
]
