"""The check the ONNX tests share: the exported graph passes onnx's full checker and
onnxruntime gives glassnet's ``predict`` at batch sizes 1 and 7."""

from __future__ import annotations

from typing import Any

import numpy as np

from glassnet.export.onnx import to_onnx


def check_onnx_parity(model: Any, atol: float = 1e-4) -> Any:
    """Export ``model``, run it in onnxruntime on random inputs and compare with glassnet;
    returns the ``ModelProto``. Callers skip first where onnx or onnxruntime is missing."""
    import onnx
    import onnxruntime as ort

    proto = to_onnx(model)
    onnx.checker.check_model(proto, full_check=True)
    session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(1)
    for batch in (1, 7):
        x = rng.normal(size=(batch, *model.input_shape[1:])).astype(np.float32)
        expected = model.predict(x)
        got = session.run(None, {"input": x})[0]
        assert got.shape == expected.shape
        np.testing.assert_allclose(got, expected, atol=atol, rtol=0)
    return proto
