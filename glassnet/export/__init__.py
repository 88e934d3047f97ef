"""Export and import: ONNX, the exchange format every runtime reads.

- ``model.export("cats.onnx")`` (Keras's name) or ``glassnet.export_onnx(model, "cats.onnx")``:
  write a model as an ONNX graph.
- ``glassnet.import_onnx("model.onnx")``: build a glassnet model from one.

Both need the ``onnx`` package (``pip install 'glassnet[onnx]'``); it is imported only when
they are called.

``Model.export`` is attached here, the way ``glassnet/ops/methods.py`` gives ``Tensor`` its
operators: models sit above export in the layers of the house and must not import it.
"""

from typing import Any

from glassnet.export import (
    onnx_attention,  # registers the attention layers' converters
    onnx_graph,  # registers the converter of imported graphs (OnnxGraph)
    onnx_recurrent,  # registers the recurrent layers' converters
    onnx_text,  # registers the vocabulary layers' converters
)
from glassnet.export.onnx import export as export_onnx
from glassnet.export.onnx import register_converter, supported_layers
from glassnet.export.onnx_import import import_onnx
from glassnet.models import Model

__all__ = ["export_onnx", "import_onnx", "register_converter", "supported_layers"]


def _export(self: Model, filepath: str, format: str = "onnx", **kwargs: Any) -> Any:
    """Save the model for other runtimes: ``model.export("cats.onnx")`` writes an ONNX graph
    (channels-last input, symbolic batch, class names and preprocessing in its metadata)."""
    if format != "onnx":
        raise ValueError(
            f"export: unknown format {format!r}. Supported formats: 'onnx'. Use model.save() "
            "for glassnet's own format."
        )
    return export_onnx(self, filepath, **kwargs)


Model.export = _export
