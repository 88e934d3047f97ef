"""``glassnet export MODEL --format onnx --out PATH``."""

from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from typer.testing import CliRunner  # noqa: E402

from glassnet import applications  # noqa: E402
from glassnet.cli import app  # noqa: E402


@pytest.fixture
def saved(tmp_path):
    model = applications.small_cnn((16, 16, 3), classes=2)
    model.class_names = ["cat", "dog"]
    path = tmp_path / "cats.glassnet"
    model.save(str(path))
    return model, path


def test_export_writes_a_checkable_file(saved, tmp_path):
    model, path = saved
    out = tmp_path / "deploy" / "cats.onnx"
    out.parent.mkdir()
    result = CliRunner().invoke(app, ["export", str(path), "--format", "onnx", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert str(out) in result.output
    onnx.checker.check_model(onnx.load(str(out)))
    x = np.random.default_rng(0).uniform(0, 255, (3, 16, 16, 3)).astype(np.float32)
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    np.testing.assert_allclose(session.run(None, {"input": x})[0], model.predict(x), atol=1e-5)


def test_export_default_path_next_to_the_model(saved, tmp_path):
    _, path = saved
    result = CliRunner().invoke(app, ["export", str(path)])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "cats.onnx").is_file()


def test_unknown_format_is_an_error(saved):
    _, path = saved
    result = CliRunner().invoke(app, ["export", str(path), "--format", "tflite"])
    assert result.exit_code in (1, 2)
    assert "tflite" in result.output and "onnx" in result.output


def test_missing_model_is_an_error(tmp_path):
    result = CliRunner().invoke(app, ["export", str(tmp_path / "nope.glassnet")])
    assert result.exit_code == 1
    assert "nope.glassnet" in result.output


def test_model_export_is_keras_s_name(tmp_path):
    pytest.importorskip("onnx")
    import glassnet as gn

    model = gn.applications.mlp((4,), hidden=(3,), classes=2)
    model.export(tmp_path / "m.onnx")
    assert (tmp_path / "m.onnx").stat().st_size > 0
    with pytest.raises(ValueError, match="unknown format 'tflite'"):
        model.export(tmp_path / "m.tflite", format="tflite")
