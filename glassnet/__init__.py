"""glassnet: a deep-learning framework written from first principles on NumPy.

Tensor level (PyTorch's names): ``Tensor``, ``no_grad``, ``ops`` (the functional API).
Model level (Keras's names): ``layers``, ``optimizers``, ``initializers``.
"""

from glassnet import ops
from glassnet.autograd import Context, Function
from glassnet.tensor import Tensor, enable_grad, is_grad_enabled, no_grad

__version__ = "0.1.0"

__all__ = [
    "Context",
    "Function",
    "Tensor",
    "__version__",
    "enable_grad",
    "is_grad_enabled",
    "no_grad",
    "ops",
]
