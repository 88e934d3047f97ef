"""ONNX export and import of Normalization (Sub, Div), Resizing (Resize) and CenterCrop
(Slice): onnxruntime gives glassnet's numbers (1e-4, batch sizes 1 and 7), the files import
back. The vocabulary layers have their own tests (test_onnx_vocabulary.py)."""

from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

import glassnet as gn  # noqa: E402
from glassnet import layers as L  # noqa: E402
from glassnet.export.onnx import export  # noqa: E402
from glassnet.export.onnx_import import import_onnx  # noqa: E402
from tests.export.parity import check_onnx_parity  # noqa: E402

_check = check_onnx_parity


def _images():
    """Adapted statistics per channel, resizes down, up and to another aspect ratio, both
    crops (plain and the smaller-image fallback)."""
    norm = L.Normalization()
    norm.adapt(np.random.default_rng(0).normal(3.0, 2.0, (20, 5, 7, 2)))
    return gn.Sequential(
        [
            L.Input((5, 7, 2)),
            norm,
            L.Conv2D(3, 3, padding="same"),
            L.Resizing(3, 4),
            L.Resizing(8, 11, "nearest"),
            L.Resizing(4, 4, crop_to_aspect_ratio=True),
            L.CenterCrop(6, 5),
            L.CenterCrop(3, 2),
            L.Resizing(7, 3, "nearest"),
            L.Normalization(axis=(1, 3), mean=np.arange(21.0).reshape(7, 3), variance=2.0),
        ]
    )


def _features():
    """Given statistics over all axes, per feature, and the inverse."""
    return gn.Sequential(
        [
            L.Input((6,)),
            L.Normalization(axis=None, mean=2.0, variance=3.0),
            L.Dense(3),
            L.Normalization(mean=[1.0, -2.0, 0.5], variance=[4.0, 0.25, 1.0], invert=True),
        ]
    )


@pytest.mark.parametrize("make", [_images, _features])
def test_models_match_onnxruntime(make):
    proto = _check(make())
    ops = {n.op_type for n in proto.graph.node}
    assert {"Sub", "Div"} <= ops
    if make is _images:
        assert {"Resize", "Slice"} <= ops


@pytest.mark.parametrize("make", [_images, _features])
def test_files_import_back(tmp_path, make):
    model = make()
    export(model, tmp_path / "m.onnx")
    imported = import_onnx(tmp_path / "m.onnx")
    x = np.random.default_rng(0).normal(size=(7, *model.input_shape[1:])).astype(np.float32)
    np.testing.assert_allclose(imported.predict(x), model.predict(x), atol=1e-4, rtol=0)
    if make is _images:
        kinds = [type(layer).__name__ for _, layer in imported.named_layers()]
        assert kinds.count("Resizing") == 5  # four Resizing and the small-image CenterCrop
